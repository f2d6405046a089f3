"""What the explorer's page shows and accepts, apart from any browser: the controls, the page's state
and its address, the commands that reproduce it, the emulator's estimate and "Save as scenario".

The page's state is a starting scenario, a language and the levers and uncertainties the user moved
away from that scenario. It lives in the page's address (``?scenario=land_tight&lang=en&
fund_life_years=8``), so a link reproduces the view. Every value that enters, from the address or a
control, goes through the lever registry (simmodel/levers.py): an unknown name or a value outside its
range is refused with the registry's message and never reaches a run. Nothing from the page names a
path: run folders are chosen here, scenario names are checked against a strict pattern.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import math
import re
import shlex
import urllib.parse
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from simmodel.errors import ConfigError, SimmodelError
from simmodel.levers import Levers, Uncertainties, check_one, defaults, specs
from simmodel.report import labels

GROUPS = {"levers": Levers, "uncertainties": Uncertainties}
# the keys of the address that are not a lever or an uncertainty
PAGE_KEYS = ("scenario", "lang")
# a saved scenario's file name: it becomes a results folder and a Hydra option, so only these
SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9_]{0,47}$")
QUESTION_MAX_CHARS = 300


@dataclass(frozen=True)
class Control:
    """One lever or uncertainty as the page shows it, in its own unit."""

    name: str
    group: str  # "levers" or "uncertainties"
    article: int  # the seed's measure (1-24); 0 for an uncertainty
    kind: str  # "int", "float" or "choice"
    low: float
    high: float
    step: float  # the slider's step: whole numbers for counts, about 1/200 of the range otherwise
    unit: str
    default: object  # the registry's value (the draft as written: the baseline scenario)
    no_new_policy: object
    grade: str
    choices: tuple[str, ...]
    source: str
    mechanism: str

    def label(self, lang: str) -> str:
        return labels.lever_name(lang, self.name)


def _step(low: float, high: float, is_int: bool) -> float:
    if is_int:
        return 1.0
    raw = (high - low) / 200
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 0.01
    return min((m * mag for m in (1, 2, 5, 10) if m * mag >= raw), default=mag)


def controls() -> list[Control]:
    """Every lever (in the seed's order) and then every uncertainty."""
    out = []
    for group, cls in GROUPS.items():
        types = {f.name: (f.type if isinstance(f.type, str) else f.type.__name__) for f in fields(cls)}
        base = defaults(cls)
        for name, s in specs(cls).items():
            value = base[name]
            kind = "choice" if s.choices else ("int" if types[name] == "int" else "float")
            out.append(Control(name, group, s.article, kind, float(s.low), float(s.high),
                               _step(float(s.low), float(s.high), kind == "int"), s.unit,
                               value.value if isinstance(value, enum.Enum) else value,
                               s.no_new_policy.value if isinstance(s.no_new_policy, enum.Enum) else s.no_new_policy,
                               s.grade, tuple(s.choices), s.source, s.mechanism))
    return out


CONTROLS = {c.name: c for c in controls()}


def by_article(lang: str) -> list[tuple[int, str, list[Control]]]:
    """The levers grouped by the seed's measure: (article, its heading, its levers)."""
    groups: dict[int, list[Control]] = {}
    for c in CONTROLS.values():
        if c.group == "levers":
            groups.setdefault(c.article, []).append(c)
    return [(a, labels.article_title(lang, a), cs) for a, cs in sorted(groups.items())]


def uncertainty_controls() -> list[Control]:
    return [c for c in CONTROLS.values() if c.group == "uncertainties"]


def check_value(name: str, value) -> object:
    """A value for a lever or uncertainty, typed and checked by the registry; raises ConfigError with
    its message (name, range, unit, article). Strings (from an address or a text box) are parsed."""
    c = CONTROLS.get(name)
    if c is None:
        import difflib

        close = difflib.get_close_matches(name, list(CONTROLS), n=1)
        raise ConfigError(f"{name!r} is not a lever or uncertainty" + (f"; did you mean {close[0]}?" if close else ""))
    if isinstance(value, str) and c.kind != "choice":
        try:
            value = float(value.strip())
        except ValueError:
            raise ConfigError(f"{name} = {value!r} is not a number; allowed range [{c.low:g}, {c.high:g}] {c.unit}") from None
    if c.kind == "int" and isinstance(value, float) and math.isfinite(value):
        if value != round(value):
            raise ConfigError(f"{name} = {value:g} is not a whole number; allowed [{c.low:g}, {c.high:g}] {c.unit}")
        value = int(round(value))
    if c.kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    check_one(name, value, specs(GROUPS[c.group])[name], "lever" if c.group == "levers" else "uncertainty")
    return value


# --- scenarios ----------------------------------------------------------------------------------


def scenario_slugs(scenario_dir: Path) -> list[str]:
    """The scenario files the page offers as starting points, baseline first."""
    slugs = sorted(p.stem for p in Path(scenario_dir).glob("*.yaml"))
    return sorted(slugs, key=lambda s: (s != "baseline", s))


def scenario_file(scenario_dir: Path, slug: str) -> Path:
    """The file of a scenario named on the page; refuses a name that is not a plain file name there."""
    if not isinstance(slug, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", slug):
        raise ConfigError(f"scenario {slug!r} is not a scenario name (letters, digits, '_' and '-')")
    path = Path(scenario_dir) / f"{slug}.yaml"
    if not path.is_file():
        raise ConfigError(f"scenario {slug!r} not found; allowed: {', '.join(scenario_slugs(scenario_dir))}")
    return path


def scenario_data(scenario_dir: Path, slug: str) -> dict:
    """A scenario file's content, checked as every scenario file is (simmodel.scenario_files.check_scenario_file)."""
    from simmodel.scenario_files import check_scenario_file

    path = scenario_file(scenario_dir, slug)
    check_scenario_file(path)
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def scenario_values(scenario_dir: Path, slug: str) -> dict[str, object]:
    """Every lever's and uncertainty's value in a scenario: the registry's, changed by the file."""
    data = scenario_data(scenario_dir, slug)
    values = {c.name: c.default for c in CONTROLS.values()}
    for group in GROUPS:
        for name, v in (data.get(group) or {}).items():
            values[name] = check_value(name, v)
    return values


def scenario_settings(scenario_dir: Path, slug: str) -> dict:
    """What a scenario file sets besides levers and uncertainties (a base year, a policy history)."""
    return {k: v for k, v in scenario_data(scenario_dir, slug).items() if k not in GROUPS}


def scenario_question(scenario_dir: Path, slug: str, lang: str) -> str:
    from simmodel.scenario_files import scenario_question

    return scenario_question(scenario_file(scenario_dir, slug).stem, lang, scenario_dir)


# --- the page's state and its address -----------------------------------------------------------


@dataclass(frozen=True)
class PageState:
    """The starting scenario, the language and the values moved away from that scenario."""

    scenario: str = "baseline"
    lang: str = "zh"
    changes: tuple[tuple[str, object], ...] = ()  # (name, value), sorted by name

    def changed(self) -> dict[str, object]:
        return dict(self.changes)

    def with_value(self, name: str, value, start: dict[str, object]) -> "PageState":
        """This state with one value set (checked); a value equal to the scenario's drops out."""
        value = check_value(name, value)
        ch = self.changed()
        if same_value(value, start[name]):
            ch.pop(name, None)
        else:
            ch[name] = value
        return dataclasses.replace(self, changes=tuple(sorted(ch.items())))


def same_value(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-12)
    return a == b


def format_value(v) -> str:
    """A value as the address and the command line write it: the shortest exact form."""
    if isinstance(v, float):
        return repr(v) if v != int(v) or abs(v) >= 1e16 else str(int(v)) + ".0"
    return str(v)


def parse_query(search: str | None, scenario_dir: Path, default_scenario: str = "baseline",
                default_lang: str = "zh") -> tuple[PageState, dict[str, object], list[str]]:
    """The state an address describes, the starting scenario's values, and one message per part of
    the address that was refused (unknown key, value out of range, unknown scenario): a bad link
    opens the page at what it could read, and says what it could not."""
    errors: list[str] = []
    pairs = urllib.parse.parse_qsl(search or "", keep_blank_values=True)
    q: dict[str, str] = {}
    for k, v in pairs:
        q[k] = v  # a key given twice: the last one counts, as on a command line
    lang = q.pop("lang", default_lang)
    if lang not in labels.LANGS:
        errors.append(f"lang={lang!r} is not a language; allowed: {', '.join(labels.LANGS)}")
        lang = default_lang
    slug = q.pop("scenario", default_scenario)
    try:
        start = scenario_values(scenario_dir, slug)
    except SimmodelError as exc:
        errors.append(str(exc))
        slug = default_scenario
        start = scenario_values(scenario_dir, slug)
    state = PageState(slug, lang)
    for name, raw in q.items():
        try:
            state = state.with_value(name, raw, start)
        except SimmodelError as exc:
            errors.append(str(exc))
    return state, start, errors


def to_query(state: PageState) -> str:
    parts = [("scenario", state.scenario), ("lang", state.lang)] + [(k, format_value(v)) for k, v in state.changes]
    return urllib.parse.urlencode(parts)


# --- runs and the commands that reproduce them ----------------------------------------------------


@dataclass(frozen=True)
class RunSettings:
    """How the page runs the model: the same for every run of a server, so runs pair."""

    scale: float = 0.1
    replicates: int = 20
    seed: int = 20250101
    decomposition_pairs: int = 8
    population: tuple[str, ...] = ()  # population.base_year=... / population.overrides.X=... of the server


def run_overrides(state: PageState, settings: RunSettings) -> list[str]:
    """The `simmodel run` overrides of a state, in a fixed order (the same state gives the same list)."""
    out = [f"scenario={state.scenario}"]
    for name, v in state.changes:
        out.append(f"{CONTROLS[name].group}.{name}={format_value(v)}")
    out += [f"population.scale={format_value(float(settings.scale))}", *settings.population, f"replicates={settings.replicates}",
            f"seed={settings.seed}",
            f"uncertainty.decomposition_pairs={settings.decomposition_pairs}"]
    return out


def run_command(state: PageState, settings: RunSettings) -> str:
    return "simmodel run " + " ".join(shlex.quote(o) for o in run_overrides(state, settings))


def memo_command(run_folder: Path | str, start_folder: Path | str | None, lang: str) -> str:
    """The memo of a run, compared with the starting scenario's run where the state differs from it."""
    cmd = f"simmodel memo results={shlex.quote(str(run_folder))} lang={lang}"
    return cmd + (f" baseline={shlex.quote(str(start_folder))}" if start_folder else "")


# --- the emulator's estimate --------------------------------------------------------------------

TARGET_IDS = ("T1", "T2", "T3", "T4", "T5", "T6")
YEARS = (2027, 2030)


@dataclass
class Estimate:
    """The emulator's P(met) per (target, year) at the state and its change from the start, or why not."""

    values: dict[tuple[str, int], dict]  # (target, year) -> {p, change, error} or {refused: reason}
    note: str = ""  # why there is no estimate at all ("" when there is one)


def _emu_value(name: str, v):
    return v.value if isinstance(v, enum.Enum) else v


def estimate(emu, state: PageState, start: dict[str, object], max_error: float,
             other_settings: dict | None = None) -> Estimate:
    """The emulator's answer for a state: its P(met) at the state's values and the change from the
    starting scenario's, each with its held-out error; an output whose held-out RMSE exceeds
    max_error is refused, and so is every output where the state leaves the emulator's ground (a
    lever it was not trained on moved, or a value outside its training range, or a starting scenario
    that sets more than levers, other_settings: its base year or policy history)."""
    if emu is None:
        return Estimate({}, "no emulator")
    trained_on = emu.settings.get("scenario")
    if trained_on and trained_on != state.scenario and other_settings:
        return Estimate({}, f"scenario {state.scenario} also sets {', '.join(sorted(other_settings))}, which the emulator "
                            f"(trained around {trained_on}) did not see")
    values = dict(start)
    values.update(state.changed())
    fixed = emu.unvaried(values)
    if fixed:
        return Estimate({}, "the emulator was not trained on " + ", ".join(fixed)
                        + ": it holds them at the values of its scenario")
    outside = emu.outside(values) + [n for n in emu.outside(start) if n not in emu.outside(values)]
    if outside:
        return Estimate({}, "outside the emulator's training range: " + ", ".join(sorted(set(outside))))
    at, ref = emu.predict(values), emu.predict(start)
    out = {}
    for tid in TARGET_IDS:
        for year in YEARS:
            key = f"{tid}_{year}_p_met"
            v = emu.validation.get(key)
            if key not in emu.outputs:  # no such target in that year (T4 and T5 are 2027 targets)
                continue
            if v is None or key not in at:
                out[(tid, year)] = {"refused": "not emulated"}
                continue
            rmse = v.get("rmse")
            if v.get("constant") is not None:
                out[(tid, year)] = {"p": float(at[key]), "change": 0.0, "error": 0.0, "constant": True}
            elif rmse is None or not math.isfinite(rmse) or rmse > max_error:
                out[(tid, year)] = {"refused": f"held-out error {rmse:.2f} > {max_error:g}" if rmse is not None
                                    and math.isfinite(rmse) else "no held-out error"}
            else:
                out[(tid, year)] = {"p": float(at[key]), "change": float(at[key] - ref[key]), "error": float(rmse)}
    return Estimate(out)


# --- Save as scenario -----------------------------------------------------------------------------


def _default_question(state: PageState, start: dict[str, object], lang: str) -> str:
    parts = []
    for name, v in state.changes:
        c = CONTROLS[name]
        was = start[name]
        if lang == "zh":
            parts.append(f"{c.label('zh')}为 {format_value(v)}（{labels.scenario_name('zh', state.scenario)}中为 {format_value(was)}）")
        else:
            parts.append(f"{c.label('en')} is {format_value(v)} ({state.scenario}: {format_value(was)})")
    if lang == "zh":
        return ("如果" + "，".join(parts) + "，会怎样？") if parts else f"{labels.scenario_name('zh', state.scenario)}会怎样？"
    return ("What if " + ", ".join(parts) + "?") if parts else f"What does {state.scenario} give?"


def _one_line(text: str) -> str:
    text = " ".join(str(text or "").split())  # no newline can end the comment and start YAML
    if len(text) > QUESTION_MAX_CHARS:
        raise ConfigError(f"the question is {len(text)} characters long; allowed at most {QUESTION_MAX_CHARS}")
    return text


def save_scenario(state: PageState, start: dict[str, object], name: str, scenario_dir: Path, *,
                  question_en: str = "", question_zh: str = "") -> Path:
    """Write the state as scenarios/<name>.yaml with its '# Question:' header, check it as every
    scenario file is checked, and return its path. Refuses a name that is not a plain lower-case
    identifier or that exists already (a saved scenario never overwrites another)."""
    from simmodel.scenario_files import check_scenario_file

    if not isinstance(name, str) or not SCENARIO_NAME.match(name):
        raise ConfigError(f"scenario name {name!r} is not allowed: lower-case letters, digits and '_', starting "
                          "with a letter, at most 48 characters")
    scenario_dir = Path(scenario_dir).resolve()
    path = scenario_dir / f"{name}.yaml"
    if path.exists():
        raise ConfigError(f"scenario {name!r} exists already ({path}); choose another name")
    q_en = _one_line(question_en) or _default_question(state, start, "en")
    q_zh = _one_line(question_zh) or _default_question(state, start, "zh")
    data = scenario_data(scenario_dir, state.scenario)
    full = dict(start)
    full.update(state.changed())
    moved_zh = "、".join(CONTROLS[n].label("zh") for n, _ in state.changes)
    name_zh = labels.scenario_name("zh", state.scenario) + (f"（调整{moved_zh}）" if moved_zh else "")
    lines = ["# @package _global_", f"# Question: {q_en}", f"# 问题: {q_zh}", f"# 名称: {name_zh}",
             f"# Command: simmodel run scenario={name}",
             f"# Saved from the explorer on {dt.date.today().isoformat()}, starting from scenario {state.scenario}."]
    for group in GROUPS:
        moved = [(n, full[n]) for n, c in CONTROLS.items() if c.group == group and not same_value(full[n], c.default)]
        if moved:
            lines.append(f"{group}:")
            for n, v in moved:
                c = CONTROLS[n]
                where = f"art. {c.article}" if c.article else "uncertainty"
                lines.append(f"  {n}: {format_value(v)}  # {where}; draft value {format_value(c.default)} {c.unit}")
    rest = {k: v for k, v in data.items() if k not in GROUPS}
    if rest:  # what the starting scenario sets besides levers (a base year, a policy history), kept
        lines.append(f"# from scenario {state.scenario}:")
        lines.append(yaml.safe_dump(rest, allow_unicode=True, sort_keys=False).rstrip())
    text = "\n".join(lines) + "\n"
    try:
        with open(path, "x", encoding="utf-8") as fh:  # "x": never over another session's file of that name
            fh.write(text)
    except FileExistsError:
        raise ConfigError(f"scenario {name!r} exists already ({path}); choose another name") from None
    try:
        check_scenario_file(path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
