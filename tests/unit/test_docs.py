"""The generated tables in docs/ODD.md match the code and data (docs/make_tables.py --check), and carry
each lever's evidence grade and strength parameters and each drawn quantity's distribution."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_odd_tables_are_current():
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "make_tables.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_odd_names_every_lever_and_parameter():
    from dataclasses import fields

    from simmodel.levers import Levers, Uncertainties
    from simmodel.params import Params

    text = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    for cls in (Levers, Uncertainties, Params):
        for f in fields(cls):
            assert f"`{f.name}`" in text or f.name in text, f.name


# --- the generated blocks, read back --------------------------------------------------------------

def _block(name: str) -> str:
    text = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    m = re.search(rf"<!-- BEGIN GENERATED: {name} -->\n(.*?)<!-- END GENERATED: {name} -->", text, re.DOTALL)
    assert m, name
    return m.group(1)


def _tables(block: str) -> list[tuple[list[str], dict[str, dict[str, str]]]]:
    """Each Markdown table of a block as (header, {first cell without backticks: {column: cell}})."""
    out, lines = [], block.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and i + 1 < len(lines) and lines[i + 1].startswith("|---"):
            header = _cells(line)
            rows = {}
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                cells = _cells(row)
                assert len(cells) == len(header), row
                rows[cells[0].strip("`")] = dict(zip(header, cells, strict=True))
            out.append((header, rows))
    return out


def _cells(line: str) -> list[str]:
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def _strength(cell: str) -> str:
    """A "strength set by" cell as the registry writes it: code font dropped; "–" is empty."""
    return "" if cell == "–" else cell.replace("`", "")


def test_odd_lever_tables_carry_each_levers_grade_and_strength():
    """Next to each lever (and uncertainty): its grade and the parameters that set its strength,
    as simmodel.levers declares them; every strength name is a parameter of parameters.csv; the list
    of levers by grade holds each lever once, under its grade."""
    from simmodel.config import DataConfig, resolve_path
    from simmodel.levers import LEVER_GRADES, Levers, Uncertainties, specs
    from simmodel.params import load_param_table

    block = _block("levers")
    (lhead, levers), (uhead, uncertainties) = _tables(block)
    assert lhead[:3] == ["lever", "grade", "strength set by"]
    assert uhead[:3] == ["uncertainty", "grade", "strength set by"]
    params = set(load_param_table(resolve_path(DataConfig().parameters)))
    for rows, cls in ((levers, Levers), (uncertainties, Uncertainties)):
        registry = specs(cls)
        assert list(rows) == list(registry)
        for name, spec in registry.items():
            assert rows[name]["grade"] == spec.grade
            assert _strength(rows[name]["strength set by"]) == ", ".join(s.strip() for s in spec.strength.split(",") if s.strip())
            assert "(no such parameter)" not in rows[name]["strength set by"], name
            for part in re.findall(r"`([a-z][a-z0-9_]*)`", rows[name]["strength set by"]):
                assert part in params, (name, part)
    assert {s.grade for s in specs(Levers).values()} <= set(LEVER_GRADES)
    assert {s.grade for s in specs(Uncertainties).values()} == {"uncertainty"}
    listed = {}
    for g, names in re.findall(r"^- `(\w+)` \([^)]*\): \d+ lever\(s\): (.*)$", block, re.MULTILINE):
        listed[g] = re.findall(r"`(\w+)`", names)
    assert list(listed) == list(LEVER_GRADES)
    for g in LEVER_GRADES:
        assert listed[g] == [n for n, s in specs(Levers).items() if s.grade == g]


def test_odd_parameter_and_base_year_tables_carry_the_distribution():
    """The parameter and base-year tables show, for every row, the distribution a replicate draws it
    from (fixed / triangular / uniform) and the kind (base year: observed, derived, inferred,
    assumption), as the loaders read them from the CSVs."""
    from simmodel.config import DataConfig, resolve_path
    from simmodel.data import BASE_YEAR_KINDS, DISTRIBUTIONS, load_base_year
    from simmodel.params import PARAM_KINDS, load_param_table

    (phead, prow), = _tables(_block("parameters"))
    assert phead[:4] == ["parameter", "value", "range", "distribution"]
    table = load_param_table(resolve_path(DataConfig().parameters))
    assert list(prow) == list(table)
    for name, p in table.items():
        assert prow[name]["distribution"] == p.distribution in DISTRIBUTIONS
        assert prow[name]["kind"] == p.kind in PARAM_KINDS
    (bhead, brow), = _tables(_block("base_year"))
    assert bhead[:5] == ["quantity", "year", "value", "range", "distribution"]
    base = load_base_year(resolve_path(DataConfig().base_year))
    assert list(brow) == list(base)
    for name, q in base.items():
        assert brow[name]["distribution"] == q.distribution in DISTRIBUTIONS
        assert brow[name]["kind"] == q.kind in BASE_YEAR_KINDS
