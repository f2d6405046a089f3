"""Regenerate the generated tables of docs/ODD.md from the code and the data.

    .venv/bin/python docs/make_tables.py           # rewrite the tables in docs/ODD.md
    .venv/bin/python docs/make_tables.py --check   # exit 1 if docs/ODD.md is out of date

Four blocks, each between ``<!-- BEGIN GENERATED: NAME -->`` and ``<!-- END GENERATED: NAME -->``:

- ``levers``: every field of ``simmodel.levers.Levers`` with its LeverSpec (first its evidence
  grade and the behavioural parameters that set its strength), the levers grouped by grade, then the
  ``Uncertainties``;
- ``parameters``: ``calibration/data/parameters.csv`` (with the distribution a replicate draws from);
- ``base_year``: the default base-year table ``calibration/data/base_year.csv`` (with the distribution a
  replicate draws from);
- ``other_base_years``: every other base-year table beside it, ``base_year_<year>.csv`` (the tables a
  replay from an earlier base year synthesises its population from; ``simmodel.data.base_year_path``),
  one table per year, in the same form.

Nothing is copied by hand: values come from the registry and the CSVs (read with simmodel's own
loaders, so a table that builds is also a table the model accepts: a base-year table through
``simmodel.data.load_base_year_table``, which also checks that it is complete and describes its year).
The "read in" columns come from scanning simmodel's source with ``ast``: the functions (or
module-level constants) that read the lever, parameter or base-year quantity. A base-year quantity is
read where the code takes it out of the base-year mapping by name (``base["NAME"]``, ``b["NAME"]``,
``base_value("NAME")``) or picks its row of the table (``row["quantity"] == "NAME"``), or by a key
held in a named module-level constant: a function that uses the constant (``MOTHER_FUNDS``, a mapping
of fund kind to quantity) and takes a base-year value by a variable key reads every quantity the
constant names, shown "via" the constant; a format constant (``SECTOR_REVENUE_FORMAT``,
``"{}_revenue_cny_100m"``) names the quantities it gives for the sector ids of ``sectors.csv``. Reports
that set the base-year table beside a replay (``simmodel.replay``) read it under other names and are
not counted: they change no simulated number. A declared ``acts_in`` that names no existing function,
or a ``strength`` name that is no parameter of ``parameters.csv``, is marked in the table and reported
on stderr.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import enum
import importlib
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simmodel import levers as levers_mod  # noqa: E402
from simmodel.config import DataConfig, resolve_path  # noqa: E402
from simmodel.data import BASE_YEAR_COLUMNS, base_year_path, load_base_year, load_base_year_table  # noqa: E402
from simmodel.params import load_param_table  # noqa: E402
from simmodel.sectors import load_sectors  # noqa: E402

ODD = ROOT / "docs" / "ODD.md"
PACKAGE = ROOT / "simmodel"
BLOCKS = ("levers", "parameters", "base_year", "other_base_years")
BASE_CONTAINERS = ("base", "b")  # names under which simmodel holds the base-year mapping
BASE_ROW_KEY = BASE_YEAR_COLUMNS[0]  # the column naming a base-year table's row ("quantity")
OTHER_BASE_TABLE = re.compile(r"^base_year_(\d{4})\.csv$")  # simmodel.data.base_year_path's sibling tables


# ---------------------------------------------------------------------------------------- source scan
def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


class _Uses(ast.NodeVisitor):
    """Collects, per enclosing function (or module-level assignment), the attribute names, string
    subscripts, string constants and ``base_value("...")`` arguments it contains; the names it uses;
    whether it takes a base-year value by a variable key; and the module's constants and imports."""

    def __init__(self, module: str):
        self.module = module
        self.stack: list[str] = []
        self.attrs: dict[str, set[str]] = defaultdict(set)
        self.subscripts: dict[str, set[str]] = defaultdict(set)
        self.strings: dict[str, set[str]] = defaultdict(set)
        self.base_calls: dict[str, set[str]] = defaultdict(set)
        self.container_subscripts: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.row_compares: dict[str, set[str]] = defaultdict(set)  # row["quantity"] == "NAME"
        self.names: dict[str, set[str]] = defaultdict(set)  # place -> names (Name ids, attributes) it uses
        self.dynamic_base: set[str] = set()  # places that take a base-year value by a variable key
        self.constants: dict[str, set[str]] = {}  # module-level constant -> the strings in its value
        self.imports: dict[str, str] = {}  # name imported into the module -> the module it comes from
        self._skip: set[int] = set()  # ids of string constants that only label a ledger entry

    def where(self) -> str:
        return ".".join([self.module, *self.stack]) if self.stack else self.module

    def _scoped(self, node: ast.AST, name: str) -> None:
        self.stack.append(name)
        self.generic_visit(node)
        self.stack.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._scoped(node, node.name)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._scoped(node, node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            for alias in node.names:
                self.imports[alias.asname or alias.name] = node.module
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if not self.stack and len(targets) == 1 and isinstance(targets[0], ast.Name):
            name = targets[0].id  # a module-level constant such as GRANT_PROGRAMMES or MOTHER_FUNDS
            if node.value is not None:
                self.constants[name] = {n.value for n in ast.walk(node.value)
                                        if isinstance(n, ast.Constant) and isinstance(n.value, str)}
            self._scoped(node, name)
        else:
            self.generic_visit(node)

    visit_AnnAssign = visit_Assign

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            if fname == "book":  # Government.book(lever, ...): bookkeeping, not where the lever acts
                self._skip.add(id(first))
            elif fname == "base_value":
                self.base_calls[first.value].add(self.where())
        elif first is not None and fname == "base_value":
            self.dynamic_base.add(self.where())
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.attrs[node.attr].add(self.where())
        self.names[self.where()].add(node.attr)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self.names[self.where()].add(node.id)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        container = node.value
        cname = (container.id if isinstance(container, ast.Name)
                 else container.attr if isinstance(container, ast.Attribute) else "")
        if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
            self.subscripts[node.slice.value].add(self.where())
            self.container_subscripts[(cname, node.slice.value)].add(self.where())
        elif cname in BASE_CONTAINERS and not isinstance(node.slice, (ast.Constant, ast.Slice)):
            self.dynamic_base.add(self.where())
        self.generic_visit(node)

    def visit_Compare(self, node: ast.Compare) -> None:
        """``row["quantity"] == "NAME"``: the code picks a base-year table's row by its name."""
        sides = [node.left, *node.comparators]
        keyed = any(isinstance(s, ast.Subscript) and isinstance(s.slice, ast.Constant) and s.slice.value == BASE_ROW_KEY
                    for s in sides)
        if keyed and any(isinstance(op, ast.Eq) for op in node.ops):
            for s in sides:
                if isinstance(s, ast.Constant) and isinstance(s.value, str):
                    self.row_compares[s.value].add(self.where())
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and id(node) not in self._skip:
            self.strings[node.value].add(self.where())


@dataclasses.dataclass
class SourceIndex:
    attrs: dict[str, set[str]]
    subscripts: dict[str, set[str]]
    strings: dict[str, set[str]]
    base_calls: dict[str, set[str]]
    container_subscripts: dict[tuple[str, str], set[str]]
    row_compares: dict[str, set[str]] = dataclasses.field(default_factory=lambda: defaultdict(set))
    names: dict[str, set[str]] = dataclasses.field(default_factory=lambda: defaultdict(set))
    dynamic_base: set[str] = dataclasses.field(default_factory=set)
    constants: dict[tuple[str, str], set[str]] = dataclasses.field(default_factory=dict)  # (module, name) -> strings
    imports: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)  # module -> {name: source module}
    module_of: dict[str, str] = dataclasses.field(default_factory=dict)  # place -> its module
    sector_ids: tuple[str, ...] = ()  # what a format constant's "{}" stands for (sectors.csv)

    def _names_quantity(self, strings: set[str], name: str) -> bool:
        """Whether a constant holding ``strings`` names the base-year quantity ``name``: as one of its
        strings, or as a format string (``"{}_revenue_cny_100m"``) filled with a sector id."""
        if name in strings:
            return True
        return any(s.count("{}") == 1 and any(s.format(i) == name for i in self.sector_ids) for s in strings)

    def _constant_of(self, place: str, used: str) -> tuple[str, str] | None:
        """The module-level constant a name used at ``place`` refers to: one of its own module, one it
        imports, else the only constant of that name."""
        module = self.module_of.get(place, "")
        if (module, used) in self.constants:
            return module, used
        source = self.imports.get(module, {}).get(used)
        if source is not None and (source, used) in self.constants:
            return source, used
        found = [key for key in self.constants if key[1] == used]
        return found[0] if len(found) == 1 else None

    def base_reads(self, name: str) -> dict[str, set[str]]:
        """Reads of a base-year quantity, place -> the constants it is read through (empty: by name):
        ``base["NAME"]``, ``b["NAME"]`` (``b = self.base``), ``base_value("NAME")``, a row picked by
        ``row["quantity"] == "NAME"``, or a variable key in a function that uses a module-level constant
        naming the quantity (``MOTHER_FUNDS``)."""
        direct = set(self.base_calls.get(name, set())) | set(self.row_compares.get(name, set()))
        for container in BASE_CONTAINERS:
            direct |= self.container_subscripts.get((container, name), set())
        out: dict[str, set[str]] = {p: set() for p in direct}
        naming = {key for key, strings in self.constants.items() if self._names_quantity(strings, name)}
        for place in self.dynamic_base - direct:
            via = {f"{key[0]}.{key[1]}" for used in self.names.get(place, set())
                   if (key := self._constant_of(place, used)) in naming}
            if via:
                out[place] = via
        return out


def scan_source(exclude: tuple[str, ...]) -> SourceIndex:
    idx = SourceIndex(defaultdict(set), defaultdict(set), defaultdict(set), defaultdict(set), defaultdict(set))
    idx.sector_ids = load_sectors(resolve_path(DataConfig().sectors)).ids
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module in exclude:
            continue
        visitor = _Uses(module)
        visitor.visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))
        for name in ("attrs", "subscripts", "strings", "base_calls", "container_subscripts", "row_compares", "names"):
            for key, places in getattr(visitor, name).items():
                getattr(idx, name)[key] |= places
        idx.dynamic_base |= visitor.dynamic_base
        idx.constants.update({(module, k): v for k, v in visitor.constants.items()})
        idx.imports[module] = dict(visitor.imports)
        for place in set(visitor.names) | visitor.dynamic_base | {p for ps in visitor.strings.values() for p in ps}:
            idx.module_of[place] = module
    return idx


def _short(place: str) -> str:
    return place.removeprefix("simmodel.")


def _places(places: set[str]) -> str:
    return "<br>".join(f"`{_short(p)}`" for p in sorted(places)) if places else "not read by the model"


def resolves(dotted: str) -> bool:
    """Whether ``package.module.Class.function`` names an existing object."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for attr in parts[i:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


# ---------------------------------------------------------------------------------------- formatting
def fmt(value) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else f"{value:.10g}"
    return str(value)


def cell(text) -> str:
    return re.sub(r"\s+", " ", str(text)).replace("|", "\\|").strip()


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- the blocks
# What each grade of a lever's effect chain means (simmodel.levers.LeverSpec.grade)
GRADE_MEANING = {
    "grounded": "each step's strength from a cited estimate",
    "assumed": "a strength with a range and its reasoning, drawn per replicate",
    "cost_only": "booked as fiscal cost; cost, no modelled effect",
}
_PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def strength_cell(spec, params: set[str], name: str, unresolved: list[str]) -> str:
    """The behavioural parameters that set how strongly the lever acts, each in code font; a name that
    looks like a parameter but is none of parameters.csv is marked (other text stays as written)."""
    if not spec.strength.strip():
        return "–"
    out = []
    for part in (s.strip() for s in spec.strength.split(",")):
        if _PARAM_NAME.match(part):
            if part in params:
                out.append(f"`{part}`")
            else:
                out.append(f"`{part}` (no such parameter)")
                unresolved.append(f"{name}: strength {part}")
        elif part:
            out.append(part)
    return ", ".join(out)


def lever_rows(cls: type, idx: SourceIndex, unresolved: list[str], *, is_lever: bool) -> list[list[str]]:
    rows = []
    defaults = levers_mod.defaults(cls)
    params = set(load_param_table(resolve_path(DataConfig().parameters)))
    for name, spec in levers_mod.specs(cls).items():
        rng = " / ".join(spec.choices) if spec.choices else f"[{fmt(spec.low)}, {fmt(spec.high)}]"
        declared = f"`{_short(spec.acts_in)}`"
        if not resolves(spec.acts_in):
            declared += " (no such function)"
            unresolved.append(f"{name}: {spec.acts_in}")
        read_in = idx.attrs.get(name, set()) | idx.subscripts.get(name, set()) | idx.strings.get(name, set())
        row = [f"`{name}`", spec.grade, strength_cell(spec, params, name, unresolved)]
        if is_lever:
            row.append(str(spec.article))
        row += [spec.unit, rng, fmt(defaults[name])]
        if is_lever:
            row.append(fmt(spec.no_new_policy))
        row += [spec.source, spec.mechanism, declared, _places(read_in)]
        rows.append(row)
    return rows


def grades_list() -> str:
    """The levers grouped by grade: one line per grade, with its meaning and its levers."""
    by_grade: dict[str, list[str]] = defaultdict(list)
    for name, spec in levers_mod.specs(levers_mod.Levers).items():
        by_grade[spec.grade].append(name)
    lines = []
    for g in levers_mod.LEVER_GRADES:
        names = by_grade.get(g, [])
        listed = ", ".join(f"`{n}`" for n in names) if names else "none"
        lines.append(f"- `{g}` ({GRADE_MEANING.get(g, '')}): {len(names)} lever(s): {listed}")
    return "\n".join(lines)


def levers_block(idx: SourceIndex, unresolved: list[str]) -> str:
    head = ["lever", "grade", "strength set by", "art.", "unit", "range", "baseline", "no_new_policy", "source",
            "mechanism", "acts_in (declared)", "read in (found in the code)"]
    uhead = ["uncertainty", "grade", "strength set by", "unit", "range", "default", "source", "mechanism",
             "acts_in (declared)", "read in (found in the code)"]
    return "\n\n".join([
        "*Generated by `docs/make_tables.py` from `simmodel/levers.py` (class `Levers`); edit the registry, "
        "then rerun the script. Paths are relative to the `simmodel` package. \"grade\" is the evidence "
        "behind the lever's effect chain and \"strength set by\" the behavioural parameters (appendix A) "
        "that set how strongly it acts; \"baseline\" is the field's default (scenario `baseline`); "
        "\"no_new_policy\" is the counterfactual value.*",
        "**Levers by grade:**",
        grades_list(),
        table(head, lever_rows(levers_mod.Levers, idx, unresolved, is_lever=True)),
        "**Uncertainties** (class `Uncertainties`; set with `uncertainties.NAME=VALUE`; nobody in the province "
        "controls them):",
        table(uhead, lever_rows(levers_mod.Uncertainties, idx, unresolved, is_lever=False)),
    ])


def parameters_block(idx: SourceIndex) -> str:
    path = resolve_path(DataConfig().parameters)
    rows = [[f"`{p.name}`", fmt(p.value), f"[{fmt(p.low)}, {fmt(p.high)}]", p.distribution, p.unit, p.kind, p.source,
             _places(idx.attrs.get(p.name, set()))]
            for p in load_param_table(path).values()]
    return "\n\n".join([
        f"*Generated by `docs/make_tables.py` from `{path.relative_to(ROOT).as_posix()}`. Override one with "
        "`params.overrides.NAME=VALUE` (within its range). \"distribution\" is how a replicate draws the "
        "parameter from its range when the behaviour draws are on (`uncertainty.behaviour`; the calibrated "
        "ones are drawn from the calibration's covariance instead): `fixed` (not drawn), `triangular` (mode at "
        "the value) or `uniform`.*",
        table(["parameter", "value", "range", "distribution", "unit", "kind", "source", "read in"], rows),
    ])


def _base_places(reads: dict[str, set[str]]) -> str:
    """The "read in" cell of a base-year quantity: each place, with the constants it reads it through."""
    if not reads:
        return "not read by the model"
    return "<br>".join(f"`{_short(p)}`" + (" (via " + ", ".join(f"`{_short(v)}`" for v in sorted(via)) + ")" if via else "")
                       for p, via in sorted(reads.items()))


def base_year_tables() -> tuple[Path, list[tuple[int, Path]]]:
    """The default base-year table and every other one beside it (``base_year_<year>.csv``), by year."""
    default = resolve_path(DataConfig().base_year)
    others = []
    for path in sorted(default.parent.glob("base_year*.csv")):
        if path.resolve() == default.resolve():
            continue
        m = OTHER_BASE_TABLE.match(path.name)
        if m is None:
            print(f"make_tables: note: {path.relative_to(ROOT)} is not a base-year table simmodel can find "
                  f"(simmodel.data.base_year_path looks for base_year_<year>.csv); left out of appendix B", file=sys.stderr)
            continue
        year = int(m.group(1))
        if base_year_path(default, year).resolve() != path.resolve():
            print(f"make_tables: note: {path.relative_to(ROOT)} is never read: {default.relative_to(ROOT)} describes "
                  f"{year} itself (simmodel.data.base_year_path); left out of appendix B", file=sys.stderr)
            continue
        others.append((year, path))
    return default, sorted(others)


def _base_table(idx: SourceIndex, path: Path, year: int) -> str:
    """One base-year table, read as a replay from ``year`` reads it (simmodel.data.load_base_year_table)."""
    base, _ = load_base_year_table(path, year)
    rows = [[f"`{q.name}`", str(q.year), fmt(q.value), f"[{fmt(q.low)}, {fmt(q.high)}]", q.distribution,
             q.unit, q.kind, q.reasoning, _base_places(idx.base_reads(q.name))] for q in base.values()]
    return table(["quantity", "year", "value", "range", "distribution", "unit", "kind", "reasoning", "read in"], rows)


def base_year_block(idx: SourceIndex) -> str:
    path, others = base_year_tables()
    year = load_base_year(path)["gdp_cny_100m"].year
    also = ", ".join(f"{y} (`{p.relative_to(ROOT).as_posix()}`)" for y, p in others)
    return "\n\n".join([
        f"### B.1 Base year {year} (the default)",
        f"*Generated by `docs/make_tables.py` from `{path.relative_to(ROOT).as_posix()}` (`data.base_year`), the table "
        f"of a run whose base year is {year}" + (f"; the other base years are in B.2 and after: {also}" if others else "")
        + ". Override one with "
        "`population.overrides.NAME=VALUE` (within its range; an override is fixed, not drawn); a quantity "
        "marked \"not read by the model\" changes nothing. \"year\" is the year of the data row (fund rows keep the "
        "year of the fund's own figure); \"read in\" names the functions that read the quantity, \"via\" the "
        "module-level constant that names it for them. \"distribution\" is how a replicate draws the "
        "quantity from its range when the assumption draws are on (`uncertainty.assumptions`; kinds "
        "`assumption`, `derived` and `inferred` are drawn, `observed` values are not): `fixed` (not drawn), "
        "`triangular` (mode at the value) or `uniform`.*",
        _base_table(idx, path, year),
    ])


def other_base_years_block(idx: SourceIndex) -> str:
    """One table per other base-year table beside the default (B.2, B.3, ...), latest year first."""
    path, others = base_year_tables()
    if not others:
        return f"*No other base-year table beside `{path.relative_to(ROOT).as_posix()}`.*"
    parts = []
    for k, (year, other) in enumerate(sorted(others, reverse=True), start=2):
        parts += [
            f"### B.{k} Base year {year}",
            f"*Generated by `docs/make_tables.py` from `{other.relative_to(ROOT).as_posix()}`, the table a run with "
            f"`population.base_year={year}` synthesises its population from (`simmodel.data.base_year_path`; "
            f"`simmodel calibrate` and `simmodel backtest` replay from it when their `population.base_year` is {year}). Columns, "
            "overrides and distributions as in B.1.*",
            _base_table(idx, path, year),
        ]
    return "\n\n".join(parts)


def render_blocks() -> tuple[dict[str, str], list[str]]:
    unresolved: list[str] = []
    lever_idx = scan_source(exclude=("simmodel.levers", "simmodel.config"))
    param_idx = scan_source(exclude=("simmodel.params",))
    base_idx = scan_source(exclude=())
    blocks = {
        "levers": levers_block(lever_idx, unresolved),
        "parameters": parameters_block(param_idx),
        "base_year": base_year_block(base_idx),
        "other_base_years": other_base_years_block(base_idx),
    }
    return blocks, unresolved


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n)(.*?)(<!-- END GENERATED: {name} -->)", re.S)


def splice(text: str, blocks: dict[str, str]) -> tuple[str, list[str]]:
    """Text with every block replaced; raises ValueError if a marker pair is missing or repeated."""
    for name in BLOCKS:
        found = len(_pattern(name).findall(text))
        if found != 1:
            raise ValueError(f"{ODD.relative_to(ROOT)}: expected one <!-- BEGIN GENERATED: {name} --> ... "
                             f"<!-- END GENERATED: {name} --> pair, found {found}")
    changed = []
    for name in BLOCKS:
        pat = _pattern(name)
        old = pat.search(text).group(2)
        new = blocks[name].rstrip("\n") + "\n"
        if old != new:
            changed.append(name)
        text = pat.sub(lambda m: m.group(1) + new + m.group(3), text)
    return text, changed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if docs/ODD.md is out of date; write nothing")
    args = ap.parse_args(argv)
    blocks, unresolved = render_blocks()
    if unresolved:
        print(f"make_tables: note: {len(unresolved)} acts_in or strength declaration(s) in simmodel/levers.py name no "
              "existing function or parameter (marked in the table):\n  " + "\n  ".join(unresolved), file=sys.stderr)
    if not ODD.is_file():
        print(f"make_tables: error: {ODD} does not exist", file=sys.stderr)
        return 1 if args.check else 2
    text = ODD.read_text(encoding="utf-8")
    try:
        new_text, changed = splice(text, blocks)
    except ValueError as exc:
        print(f"make_tables: error: {exc}", file=sys.stderr)
        return 1 if args.check else 2
    if args.check:
        if changed:
            print(f"make_tables: {ODD.relative_to(ROOT)} is out of date (tables: {', '.join(changed)}); "
                  "run .venv/bin/python docs/make_tables.py", file=sys.stderr)
            return 1
        print(f"make_tables: {ODD.relative_to(ROOT)} is up to date")
        return 0
    if changed:
        ODD.write_text(new_text, encoding="utf-8")
        print(f"make_tables: rewrote {', '.join(changed)} in {ODD.relative_to(ROOT)}")
    else:
        print(f"make_tables: {ODD.relative_to(ROOT)} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
