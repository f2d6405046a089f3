"""What-if memos from results on disk, in Chinese or English. Nothing here runs the model.

A memo reads a sweep folder (its jobs) or one run folder plus a baseline run with the same seeds,
computes each target's probability and the paired change from the baseline with the sweep's own
functions (simmodel/sweep.py), takes from each run's summary.json the paired comparison with
no_new_policy (``counterfactual``: the answer to "does the policy matter?"), the variance
decomposition and the drivers (where the uncertainty comes from), and the lever registry's evidence
grade of each lever changed, and renders one Jinja2 template per language
(templates/memo_zh.md.j2, templates/memo_en.md.j2) to Markdown, then to one self-contained HTML
file (figures and, for Chinese, the subset of the CJK font its characters need embedded), and to PDF
where a converter exists. Each job is named by what it changed (its scenario and overrides, in the
memo's language); a baseline that names no scenario, job or run folder is refused. Every number in the text is formatted
here, once, so both languages print the same digits.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import html
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from markupsafe import Markup

from simmodel import sweep
from simmodel.errors import SimmodelError
from simmodel.report import labels, plots
from simmodel.results import MANIFEST, ResultsError, RunWriter, code_version, package_versions, read_run

TEMPLATES = Path(__file__).with_name("templates")


class MemoError(SimmodelError):
    """The results cannot make a memo (no complete job, no baseline with the same seeds)."""


# --- what the memo is about ------------------------------------------------------------------------

@dataclass
class Study:
    source: Path
    kind: str  # "sweep" or "run"
    jobs: list[sweep.Job]
    table: pd.DataFrame
    reference: sweep.Job
    how: str
    command: str
    baseline: str
    # how the reference was chosen: "scenario" (the baseline scenario unchanged), "job" (a job of the
    # sweep named by baseline=), "run" (a run folder named by baseline=) or "first" (the baseline is a
    # scenario but no job is it unchanged: the first complete job)
    ref_kind: str = "scenario"
    plan: dict | None = None


def scenario_slugs() -> list[str]:
    """The scenarios a baseline may name: the files scenarios/*.yaml of the project."""
    from simmodel.config import PROJECT_ROOT

    return sorted(p.stem for p in (PROJECT_ROOT / "scenarios").glob("*.yaml"))


def _refuse_baseline(baseline: str, jobs: list[sweep.Job] | None) -> MemoError:
    """One line: what was given, the closest valid name, what is allowed."""
    import difflib

    slugs = scenario_slugs()
    names = list(slugs)
    if jobs:
        names += [j.path.name for j in jobs] + [j.label for j in jobs]
    close = difflib.get_close_matches(str(baseline), names, n=1, cutoff=0.5)
    hint = f"did you mean baseline={close[0]}? " if close else ""
    allowed = f"a scenario ({', '.join(slugs)})"
    if jobs:
        nums = [j.num for j in jobs]
        allowed += (f", a job of this sweep (its number, {min(nums)}-{max(nums)}, or its folder name, e.g. "
                    f"{jobs[0].path.name})")
    return MemoError(f"baseline={baseline} is not a scenario (no scenarios/{baseline}.yaml), "
                     f"{'a job of this sweep ' if jobs else ''}or a run folder; {hint}"
                     f"allowed: {allowed} or the path of a run folder")


def _named_job(jobs: list[sweep.Job], baseline: str) -> sweep.Job | None:
    """The job of a sweep that baseline= names: its number, its folder's name or path, or its label."""
    given = Path(str(baseline))
    for j in jobs:
        if str(baseline) in (str(j.num), j.path.name, j.label):
            return j
        if given.is_dir() and given.resolve() == j.path.resolve():
            return j
    return None


def _run_folder(baseline: str) -> sweep.Job | None:
    path = Path(str(baseline))
    if not path.is_dir():
        return None
    try:
        return _job_from_run(path, 0)
    except ResultsError as exc:
        raise MemoError(f"baseline={baseline}: not a complete run folder ({exc})") from None


def load_study(results: Path, baseline: str, output_root: Path) -> Study:
    """A sweep folder, or a run folder with a baseline. The baseline is a scenario's slug (a file
    scenarios/<slug>.yaml: in a sweep, the job that is that scenario unchanged; for a run, the latest
    complete run of it under output_root/run/<slug>/ with the same seeds), a job of the sweep (its
    number, folder name or label) or a run folder's path; anything else is refused, with the closest
    valid name, before anything is written."""
    results = Path(results)
    baseline = str(baseline)
    if not results.is_dir():
        raise MemoError(f"results={results}: no such folder; give a run folder (results/run/<scenario>/<time>/) "
                        "or a sweep folder (results/run/multirun/<sweep>/)")
    if (results / sweep.PLAN).is_file() or sweep.job_dirs(results):
        jobs = sweep.load_jobs(results)
        plan = sweep.read_plan(results) or {}
        named = None if baseline in scenario_slugs() else _named_job(jobs, baseline)
        external = None
        if baseline not in scenario_slugs() and named is None:
            external = _run_folder(baseline)
            if external is None:
                raise _refuse_baseline(baseline, jobs)
        if named is not None:
            if named.status != "complete":
                raise MemoError(f"baseline={baseline}: job {named.num} ({named.label}) is {named.status}, not complete; "
                                "re-run the sweep or name another baseline")
            table, ref, how = sweep.aggregate_table(jobs, baseline, reference_job=named)
            kind = "job"
        elif external is not None:
            external.num = -1
            jobs = [external, *jobs]
            table, ref, how = sweep.aggregate_table(jobs, baseline, reference_job=external)
            kind = "run"
        else:
            table, ref, how = sweep.aggregate_table(jobs, baseline)
            kind = "scenario" if ref is not None and sweep.is_reference(ref.manifest, baseline) else "first"
        if ref is None:
            raise MemoError(f"{results}: no complete job in this sweep; re-run it (complete jobs are skipped)")
        return Study(results, "sweep", jobs, table, ref, how, plan.get("command", ""), baseline, kind, plan)
    try:
        job = _job_from_run(results, 1)
    except ResultsError as exc:
        raise MemoError(str(exc)) from None
    if baseline not in scenario_slugs() and not Path(baseline).is_dir():
        raise _refuse_baseline(baseline, None)
    base_dir = _baseline_run(job, baseline, output_root)
    if base_dir is not None:
        try:
            jobs = [_job_from_run(base_dir, 0), job]
        except ResultsError as exc:
            raise MemoError(f"baseline={baseline}: not a complete run folder ({exc})") from None
    else:
        jobs = [job]
    table, ref, how = sweep.aggregate_table(jobs, baseline, reference_job=jobs[0])
    return Study(results, "run", jobs, table, ref, how, job.manifest.get("command", ""), baseline,
                 "run" if base_dir is not None else "scenario")


def _job_from_run(path: Path, num: int) -> sweep.Job:
    traj, summary, manifest = read_run(path)
    return sweep.Job(num=num, label=f"scenario={manifest.get('scenario')}", path=Path(path), status="complete",
                     summary=summary, manifest=manifest, traj=traj)


def _baseline_run(job: sweep.Job, baseline: str, output_root: Path) -> Path | None:
    """The run to compare with: None when the run is itself the baseline."""
    if Path(baseline).is_dir():
        return Path(baseline)
    if sweep.is_reference(job.manifest, baseline):
        return None
    key = sweep.pairing_key(job.manifest)
    root = Path(output_root) / "run" / baseline
    found = sorted((p for p in root.glob("*/") if (p / MANIFEST).is_file()), key=lambda p: p.name, reverse=True)
    for p in found:
        try:
            manifest = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        if sweep.pairing_key(manifest) == key and sweep.is_reference(manifest, baseline):
            return p
    cfg = job.manifest.get("config", {})
    raise MemoError(
        f"no complete {baseline} run with the same seed, replicates and scale under {root}: run "
        f"`simmodel run scenario={baseline} seed={cfg.get('seed')} replicates={cfg.get('replicates')} "
        f"population.scale={cfg.get('population', {}).get('scale')}` first, or give baseline=PATH to a run folder, "
        f"or make the memo from a sweep that includes the baseline")


# --- what each job changed, in words ---------------------------------------------------------------

# Override keys that change the policy or the world (shown in words); any other key shown is a run
# setting a sweep varies (calibration=, seed=), printed as code.
_CHANGE_GROUPS = ("levers", "uncertainties", "params.overrides", "population.overrides")


def _overrides(job: sweep.Job, plan: dict | None) -> list[str]:
    """The overrides a job was run with: its manifest's, else the sweep plan's (a failed job)."""
    if job.manifest and job.manifest.get("overrides") is not None:
        return list(job.manifest["overrides"])
    for e in (plan or {}).get("jobs", []):
        if e.get("num") == job.num:
            return list(e.get("overrides", []))
    return []


def _split(override: str) -> tuple[str, str]:
    key, _, value = override.lstrip("+~").partition("=")
    return key.strip(), value.strip().strip("'\"")


def _typed(raw: str):
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        return float(raw)
    except ValueError:
        return raw


def _number(v) -> str:
    """A design value as a reader writes it: 8, 63500, 0.25, portfolio."""
    v = getattr(v, "value", v)
    if isinstance(v, bool) or v is None:
        return str(v)
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return str(int(v)) if float(v).is_integer() and abs(v) < 1e15 else f"{float(v):.6g}"
    return str(v)


def _same(a, b) -> bool:
    a, b = getattr(a, "value", a), getattr(b, "value", b)
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return str(a) == str(b)


def _scenario_file_value(slug: str, group: str, name: str):
    """A lever's (uncertainty's) value in a scenario as its file sets it, else the registry's default;
    None where neither is known."""
    import yaml

    from simmodel.config import PROJECT_ROOT
    from simmodel.levers import Levers, Uncertainties, defaults

    try:
        data = yaml.safe_load((PROJECT_ROOT / "scenarios" / f"{slug}.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        data = {}
    section = data.get(group) if isinstance(data, dict) else None
    if isinstance(section, dict) and name in section:
        return section[name]
    return defaults(Levers if group == "levers" else Uncertainties).get(name)


def _short_unit(lang: str, u: str) -> str:
    """A unit short enough for a job's label: no parenthesis, none for an index, weight or regime."""
    if lang == "zh":
        short = re.sub(r"（[^）]*）", "", labels.unit("zh", u))
        return "" if short.startswith(("指数", "权重", "方式")) else short
    if u.startswith(("index", "weight", "regime")):
        return ""
    return {"multiple of base plot ratio": "x the base plot ratio"}.get(u, re.sub(r"\s*\([^)]*\)", "", u))


@dataclass
class Change:
    group: str  # levers, uncertainties, params.overrides, population.overrides
    name: str
    value: object
    scenario_value: object = None  # the scenario's own value (levers, uncertainties), where known

    def name_words(self, lang: str, md: bool) -> str:
        if self.group in ("levers", "uncertainties"):
            name = labels.lever_name("zh", self.name) if lang == "zh" else labels.lever_short_en(self.name)
            return esc(name) if md else name
        if self.group == "params.overrides":
            return _param_words(lang, self.name, md)
        name = labels.assumption_name(lang, self.name)  # a base-year quantity
        if not md:
            return name
        return esc(name) if name != self.name else code(name)

    def value_words(self, lang: str, md: bool, value=None) -> str:
        """'8 years' / '8 年': the value (this change's, or the one given) with a short unit."""
        from simmodel.levers import Uncertainties, specs

        v = self.value if value is None else value
        raw = getattr(v, "value", v)
        text = labels.value_name(lang, raw) if isinstance(raw, str) else _number(raw)
        unit = ""
        if self.group in ("levers", "uncertainties"):
            spec = {**specs(), **specs(Uncertainties)}.get(self.name)
            unit = _short_unit(lang, spec.unit) if spec else ""
        sep = "" if lang == "zh" and unit.startswith("%") else " "
        return f"{esc(text) if md else text}{sep + unit if unit else ''}"

    def words(self, lang: str, md: bool) -> str:
        """'fund life 8 years' / '基金存续期 8 年' (parameters and base-year quantities by name)."""
        return f"{self.name_words(lang, md)} {self.value_words(lang, md)}"

    def scenario_words(self, lang: str) -> str:
        """The scenario's own value with its unit, e.g. '20 years' / '20 年'."""
        return self.value_words(lang, True, self.scenario_value)


def _param_words(lang: str, name: str, md: bool) -> str:
    """A behavioural parameter: its Chinese name with the code name beside it (zh), the code name (en)."""
    zh = labels.parameter_name(lang, name)
    if not md:
        return zh or name
    return f"{esc(zh)}（{code(name)}）" if zh else code(name)


@dataclass
class JobLabel:
    scenario: str
    changes: list[Change]
    extra: list[tuple[str, str]]  # run settings a sweep varies (key, value), shown as code

    def render(self, lang: str, md: bool = True) -> str:
        name = labels.scenario_name(lang, self.scenario)
        if md:
            head = esc(name) if name else (f"{code(self.scenario)}情景" if lang == "zh" else code(self.scenario))
        else:
            head = name or self.scenario
        parts = [head] + [c.words(lang, md) for c in self.changes]
        parts += [code(f"{k}={v}") if md else f"{k}={v}" for k, v in self.extra]
        return " + ".join(parts)


def _varying_keys(study_jobs: list[sweep.Job], plan: dict | None) -> set[str]:
    """The override keys whose value differs between the jobs of a sweep (the keys of its plan's
    labels, simmodel.sweep.job_labels; without a plan, found from the jobs' overrides)."""
    if plan and plan.get("jobs"):
        return {_split(part)[0] for e in plan["jobs"] for part in str(e.get("label", "")).split() if "=" in part}
    keyed = []
    for j in (j for j in study_jobs if j.num >= 0):  # not a run folder named as the baseline
        keyed.append(dict(_split(o) for o in _overrides(j, plan) if "=" in o))
    keys = {k for d in keyed for k in d}
    return {k for k in keys if len({d.get(k) for d in keyed}) > 1}


def job_label(job: sweep.Job, plan: dict | None = None, varying: set[str] = frozenset()) -> JobLabel:
    """What a job changed: its scenario, the levers, uncertainties, parameters and base-year
    quantities its overrides set (with the values it ran with), and any other setting the sweep
    varies."""
    over = [_split(o) for o in _overrides(job, plan) if "=" in o]
    cfg = (job.manifest or {}).get("config", {})
    scenario = next((v for k, v in over if k == "scenario"), None) or (job.manifest or {}).get("scenario") \
        or ((job.summary or {}).get("scenario") or {}).get("slug") or "baseline"
    changes, extra = [], []
    for key, raw in over:
        group = next((g for g in _CHANGE_GROUPS if key.startswith(g + ".")), None)
        if group is None:
            if key != "scenario" and key in varying:
                extra.append((key, raw))
            continue
        name = key[len(group) + 1:]
        node = cfg
        for part in group.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        value = node.get(name, _typed(raw)) if isinstance(node, dict) else _typed(raw)
        scen = _scenario_file_value(scenario, group, name) if group in ("levers", "uncertainties") else None
        changes.append(Change(group, name, value, scen))
    return JobLabel(scenario, changes, extra)


def job_question(job: sweep.Job, lab: JobLabel, lang: str) -> str:
    """The question a job answers: its scenario's question (file header), with the changes its
    overrides make to it. Returns Markdown."""
    scen = (job.summary or {}).get("scenario", {})
    q = scen.get("question_zh") if lang == "zh" and scen.get("question_zh") else scen.get("question", "")
    if not lab.changes:
        return esc(q)
    plain_baseline = lab.scenario == "baseline"
    items = []
    for c in lab.changes:
        words = f"{c.name_words(lang, True)}为 {c.value_words(lang, True)}" if lang == "zh" else c.words(lang, md=True)
        if c.scenario_value is None:
            items.append(words)
        elif _same(c.value, c.scenario_value):
            items.append(words + ("（与政策原文相同）" if plain_baseline else "（与该情景相同）") if lang == "zh"
                         else words + (" (as in the draft)" if plain_baseline else " (as in the scenario)"))
        else:
            was = c.scenario_words(lang)
            items.append(words + (f"（政策原文为 {was}）" if plain_baseline else f"（该情景为 {was}）") if lang == "zh"
                         else words + (f" (the draft's: {was})" if plain_baseline else f" (the scenario's: {was})"))
    if plain_baseline:
        if lang == "zh":
            return (f"如果{'、'.join(items)}，其余措施均按政策原文数字实施，2027年目标（T1-T6）和2030年参照值实现的"
                    "可能性有多大？")
        return ("How likely are the 2027 targets (T1-T6) and the 2030 proxies to be met with "
                f"{'; '.join(items)}, every other measure at the draft's own numbers?")
    if lang == "zh":
        return f"{esc(q)}本任务在该情景基础上另外设定：{'；'.join(items)}。"
    return f"{esc(q)} On top of this scenario, this job sets {'; '.join(items)}."


# --- numbers, formatted once -----------------------------------------------------------------------

def f2(x: float) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.2f}"


def signed(x: float) -> str:
    if x is None or not np.isfinite(x):
        return "–"
    return f"{x:+.2f}" if round(x, 2) != 0 else "0.00"  # no "-0.00"


def interval(lo: float, hi: float, fmt=f2) -> str:
    return f"[{fmt(lo)}, {fmt(hi)}]"


def esc(value) -> str:
    """Text that came from a file (a scenario's header, a label, an error), made inert in Markdown:
    Markdown's own characters and '<', '>' are backslash-escaped, and so is an '&' that would start
    an entity, so that it shows as written in the .md and the HTML and can never become markup. No
    HTML entity is written into the Markdown (render_html turns the escapes into entities)."""
    text = re.sub(r"([\\`*_\[\]{}|#!~<>])", r"\\\1", str(value))
    text = re.sub(r"&(?=#|[A-Za-z][A-Za-z0-9]*;)", r"\\&", text)
    return text.replace("\r", " ").replace("\n", " ")


def code(value) -> str:
    """Text shown as code (a file or folder name, a command, an identifier): a Markdown code span,
    its fence longer than any run of backticks in it."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    if not text:
        return ""
    fence = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if "`" in text else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _threshold(r: pd.Series, lang: str) -> str:
    op = "≥" if r["comparison"] == ">=" else ">"
    return f"{op}{r['threshold']:g} {labels.unit(lang, r['unit'])}"


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode("utf-8")).hexdigest()[:16]


def _lever_changes(job: sweep.Job, ref: sweep.Job, lang: str) -> list[dict]:
    from simmodel.levers import specs

    all_specs = specs()
    out = []
    for group in ("levers", "uncertainties"):
        a = ref.manifest.get("config", {}).get(group, {})
        b = job.manifest.get("config", {}).get(group, {})
        for name in b:
            if a.get(name) != b.get(name):
                s = all_specs.get(name)
                out.append({"name": esc(labels.lever_name(lang, name)), "code": name,
                            "article": getattr(s, "article", None) or "–",
                            "grade": esc(labels.grade(lang, s.grade)) if s else "–",
                            "base": _value(a.get(name), lang), "value": _value(b.get(name), lang),
                            "unit": esc(labels.unit(lang, getattr(s, "unit", ""))) if s else "",
                            "uncertainty": group == "uncertainties"})
    for group in ("params", "population"):
        a = ref.manifest.get("config", {}).get(group, {}).get("overrides", {})
        b = job.manifest.get("config", {}).get(group, {}).get("overrides", {})
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                shown = (_param_words(lang, name, True) if group == "params"
                         else Change("population.overrides", name, None).name_words(lang, True))
                out.append({"name": shown, "code": name, "article": "–", "grade": "–", "base": _value(a.get(name)),
                            "value": _value(b.get(name)), "unit": "", "uncertainty": False})
    return out


def _sig(v):
    """A design value to four significant digits (integers and regimes as they are)."""
    return float(f"{v:.4g}") if isinstance(v, float) else (v.item() if hasattr(v, "item") else v)


def _value(v, lang: str = "en") -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, str):
        return esc(labels.value_name(lang, v))
    return esc(v)


def _assumption_ends(job: sweep.Job, lang: str) -> list[dict]:
    """Base-year assumptions ordered by how far P(met) in 2027 moves between the ends of their range
    (summary.json: assumption_sensitivity, off by default since the draws carry the assumptions)."""
    s = job.summary.get("assumption_sensitivity")
    if not s:
        return []
    rows = []
    for q, d in s["quantities"].items():
        best = None
        for tid in d["low"]["targets"]:
            if "2027" not in d["low"]["targets"][tid]:
                continue
            lo = d["low"]["targets"][tid]["2027"]["p_met"]
            hi = d["high"]["targets"][tid]["2027"]["p_met"]
            if best is None or abs(hi - lo) > abs(best[2] - best[1]):
                best = (tid, lo, hi)
        if best:
            rows.append({"name": esc(labels.assumption_name(lang, q)), "code": q, "low": f"{d['low']['value']:g}",
                         "high": f"{d['high']['value']:g}", "unit": esc(labels.unit(lang, d.get("unit", ""))),
                         "target": best[0], "p_low": f2(best[1]), "p_high": f2(best[2]), "swing": abs(best[2] - best[1]),
                         "replicates": s["replicates"], "scale": f"{s['scale']:g}"})
    return sorted(rows, key=lambda r: -r["swing"])


# --- the paired comparison with no_new_policy, and where the uncertainty comes from ---------------

EITHER_WAY = ("met either way", "missed either way")  # summary.json: counterfactual.targets.*.*.verdict
DECOMPOSITION_YEAR = "2027"


def _rule_levels(rule: str) -> tuple[str, str]:
    """The P(met) levels of the "either way" rule as summary.json states it ("met (missed) either way:
    P(met) >= 0.9 (<= 0.1) under both"), printed as written there; "–" where the text has none."""
    hi = re.search(r">=\s*([0-9]*\.?[0-9]+)", rule or "")
    lo = re.search(r"<=\s*([0-9]*\.?[0-9]+)", rule or "")
    return (hi.group(1) if hi else "–", lo.group(1) if lo else "–")


def _counterfactual(job: sweep.Job) -> dict:
    """The run's paired comparison with no_new_policy (summary.json: counterfactual), or present=False
    where the folder has none (counterfactual.enabled was off, or the run predates it)."""
    cf = job.summary.get("counterfactual")
    if not cf:
        return {"present": False, "self": False, "targets": {}}
    hi, lo = _rule_levels(cf.get("rule", ""))
    return {"present": True, "self": bool(cf.get("self")), "targets": cf.get("targets", {}), "hi": hi, "lo": lo,
            "run": cf.get("run")}


def _cf_cells(c: dict | None, lang: str) -> dict:
    """One headline row's no_new_policy columns, formatted ("–" where the target has no comparison)."""
    if not c:
        return {"cf_p": "–", "cf_d": "–", "cf_d_ci": "–", "cf_median": "–", "verdict": "–", "either": None}
    v = c.get("verdict", "")
    return {"cf_p": f2(c.get("p_met")), "cf_d": signed(c.get("diff_p_met")),
            "cf_d_ci": interval(*(c.get("diff_p_met_ci95") or (None, None)), signed),
            "cf_median": f2(c.get("median")), "verdict": esc(labels.term(lang, v)),
            "either": ("met" if v == "met either way" else "missed") if v in EITHER_WAY else None}


def _sector_names(job: sweep.Job, lang: str) -> dict[str, str]:
    """Sector id -> name in the run's own sector table (its manifest's path), else the default table."""
    import csv

    from simmodel.config import DataConfig, resolve_path

    paths = [job.manifest.get("data_files", {}).get("sectors", {}).get("path"), resolve_path(DataConfig().sectors)]
    for path in paths:
        try:
            with open(path, encoding="utf-8", newline="") as fh:
                return {r["sector_id"]: r[f"name_{lang}"] for r in csv.DictReader(fh)}
        except (OSError, TypeError, KeyError, csv.Error):
            continue
    return {}


def _drawn_name(lang: str, source: str, name: str, sectors: dict[str, str]) -> str:
    """A drawn quantity in words: a base-year quantity's name, a sector's growth prior
    ("growth_prior_pct:ai"), or a parameter's code name."""
    prefix = "growth_prior_pct:"  # simmodel.ensemble.GROWTH_PREFIX (not imported: the memo never loads the model)
    if source == "assumptions":
        return esc(labels.assumption_name(lang, name))
    if name.startswith(prefix):
        sid = name[len(prefix):]
        sector = sectors.get(sid)
        if lang == "zh":
            return f"{esc(sector)}增长先验（%/年）" if sector else f"{code(sid)}增长先验（%/年）"
        return esc(f"growth prior of {sector or sid} (% per year)")
    return _param_words(lang, name, True)


def _decomposition(job: sweep.Job, lang: str, year: str = DECOMPOSITION_YEAR) -> dict:
    """Each target's share of variance in `year` that each source causes, alone or through its
    interactions (total effects), with its 95 % interval, and the overlap (the shares' sum less 1)
    (summary.json: variance_decomposition); present=False where the folder has none."""
    vd = job.summary.get("variance_decomposition")
    if not vd:
        return {"present": False}
    sources = list(vd.get("sources") or [])
    active = set(vd.get("active") or [])
    rows, notes = [], []
    for tid, by_year in vd.get("targets", {}).items():
        b = by_year.get(year)
        if not b:
            continue
        var = b.get("variance")
        varies = var is not None and bool(np.isfinite(var)) and var > 0
        cells = []
        for src in sources:
            ix = b.get("indices", {}).get(src, {})
            off = bool(ix.get("off")) or src not in active
            cells.append({"off": off, "st": f2(ix.get("st")), "ci": interval(*(ix.get("ci95") or (None, None)))})
        rows.append({"tid": esc(tid), "varies": varies, "cells": cells, "overlap": f2(b.get("overlap"))})
        if varies and b.get("note"):
            zh = labels.note_zh(b["note"]) if lang == "zh" else None
            notes.append({"tid": esc(tid), "note": esc(zh) if zh else (code(b["note"]) if lang == "zh" else esc(b["note"]))})
    return {"present": True, "year": year, "pairs": esc(vd.get("pairs", "–")), "rows": rows, "notes": notes,
            "sources": [esc(labels.source_name(lang, s)) for s in sources],
            "off": [esc(labels.source_name(lang, s)) for s in sources if s not in active]}


def _top_drivers(job: sweep.Job, lang: str, year: str = DECOMPOSITION_YEAR) -> dict:
    """The drawn quantities that go most closely with each target's value in `year` (Spearman's rho
    across replicates; summary.json: drivers); present=False where the folder has none."""
    d = job.summary.get("drivers")
    if d is None:
        return {"present": False, "rows": []}
    sectors = _sector_names(job, lang)
    rows = []
    for tid, by_year in d.items():
        for x in by_year.get(year) or []:
            rows.append({"tid": esc(tid), "name": _drawn_name(lang, x["source"], x["name"], sectors),
                         "source": esc(labels.source_name(lang, x["source"])), "rho": signed(x["rho"]),
                         "abs": abs(x["rho"]) if x["rho"] is not None and np.isfinite(x["rho"]) else -1.0})
    return {"present": True, "rows": rows, "year": year}


def _carried(summary: dict, lang: str) -> dict:
    """What each replicate draws (summary.json: uncertainty.drawn / n_drawn), or the older runs' list of
    sources in words."""
    unc = summary.get("uncertainty", {})
    drawn = unc.get("drawn")
    if not isinstance(drawn, dict):
        return {"by_source": None, "sources": [esc(labels.term(lang, x)) for x in unc.get("sources", [])]}
    n = unc.get("n_drawn", {})
    return {"by_source": [{"name": esc(labels.source_name(lang, s)), "n": esc(n[s]) if n.get(s) else None}
                          for s, on in drawn.items() if on],
            "held": [esc(labels.source_name(lang, s)) for s, on in drawn.items() if not on],
            "sources": [esc(labels.term(lang, x)) for x in unc.get("sources", [])]}


def _calibration(job: sweep.Job, lang: str = "en") -> dict:
    from simmodel.config import resolve_path

    cfg = job.manifest.get("config", {})
    name = cfg.get("calibration", "prior")
    out = {"name": code(name), "prior": name == "prior", "missing": None, "rejected": False, "weak": [],
           "j_p": "–", "n_parameters": 0}
    if name == "prior":
        return out
    path = resolve_path(cfg.get("calibration_root", "calibration/runs")) / name
    try:
        fit = json.loads((path / "fit.json").read_text(encoding="utf-8"))
        est = pd.read_csv(path / "estimates.csv")
    except (OSError, json.JSONDecodeError, pd.errors.ParserError) as exc:
        out["missing"] = code(f"{path}: {exc}")
        return out
    out.update({"loss": f"{fit['loss']:.2f}", "j_stat": f"{fit['j_stat']:.2f}", "j_df": f"{float(fit['j_df']):.3g}",
                "j_p": f"{fit['j_pvalue']:.3f}", "rejected": fit["j_pvalue"] < 0.05, "converged": fit["converged"],
                "n_moments": fit["n_moments"], "n_parameters": fit["n_parameters"],
                "weak": [_param_words(lang, n, True) for n in est.loc[est["identified"] == 0, "name"]], "path": path,
                "moments": pd.read_csv(path / "moments.csv") if (path / "moments.csv").is_file() else None})
    return out


# --- the memo --------------------------------------------------------------------------------------

def _factor_words(lang: str, name: str) -> str:
    """A factor of an analysis in words: a lever or uncertainty by its name, a behavioural parameter
    by its name and code name, anything else as code."""
    from simmodel.levers import Uncertainties, specs

    if name in specs() or name in specs(Uncertainties):
        return esc(labels.lever_name(lang, name))
    if labels.parameter_name("zh", name):
        return _param_words(lang, name, True)
    return code(name)


def _success_words(lang: str, success: str) -> str:
    """PRIM's success criterion (simmodel/analysis/run.py writes it in English)."""
    m = re.fullmatch(r"every (\d{4}) target met with probability >= ([0-9.]+)", success or "")
    if lang == "zh":
        return f"每个 {m.group(1)} 年目标的实现概率均不低于 {m.group(2)}" if m else code(success)
    return esc(success)


def load_analyses(paths: list[str], output_root: Path, lang: str) -> list[dict]:
    """What each analysis folder (``simmodel analyze``) says, for the memo to cite: the three
    factors that matter most per 2027 output (Morris, Sobol), PRIM's box, or the least-cost
    package (invert), each with its source (model or emulator) and the folder's manifest hash.
    A folder is verified against its manifest first."""
    from simmodel.levers import specs
    from simmodel.results import read_manifest

    out = []
    for given in paths:
        path = Path(given)
        if not path.is_dir():
            path = Path(output_root) / "analyze" / given
        folder = path / "analysis" if (path / "analysis").is_dir() else path
        try:
            read_manifest(folder, ("summary.json",))
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        except (ResultsError, OSError, ValueError) as exc:
            raise MemoError(f"analyses: {given}: not a complete analysis folder ({exc})") from None
        method = summary.get("method")
        a = {"method": method, "folder": code(folder.parent.name), "name": folder.parent.name,
             "source": esc(labels.term(lang, summary.get("source", ""))),
             "points": summary.get("points"), "replicates": summary.get("replicates"), "scale": summary.get("scale"),
             "manifest_sha": hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest()[:16],
             "rows": [], "package": None, "box": None}
        if method in ("morris", "sobol"):
            t = pd.read_parquet(folder / "indices.parquet")
            metric = "mu_star" if method == "morris" else "ST"
            for col in sorted(c for c in t["output"].unique() if "_2027_" in c):
                tid, _, what = col.split("_", 2)
                # a factor whose index is zero does not matter, whatever its rank
                top = t[(t["output"] == col) & (t[metric] > 0)].sort_values(metric, ascending=False).head(3)
                if top.empty:
                    continue
                a["rows"].append({"tid": tid,
                                  "name": f"{tid} {labels.target_name(lang, tid)}" if tid.startswith("T") else code(tid),
                                  "what": "p" if what.endswith("p_met") else "median",
                                  "source": esc(labels.term(lang, top["source"].iloc[0])),
                                  "top": [{"name": _factor_words(lang, r.factor), "value": f"{getattr(r, metric):.3g}"}
                                          for r in top.itertuples()]})
            a["metric"] = "mu*" if method == "morris" else "ST"
        elif method == "prim":
            p = summary.get("prim", {})
            if p.get("box"):
                a["box"] = {"coverage": f2(p["coverage"]), "density": f2(p["density"]),
                            "limits": [{"name": _factor_words(lang, k), "lo": f"{lo:.4g}", "hi": f"{hi:.4g}"}
                                       for k, (lo, hi) in p["box"].items()]}
            a["success"] = _success_words(lang, p.get("success", ""))
        elif method == "invert":
            pk, base = summary.get("package"), summary.get("baseline", {})
            all_specs = specs()
            a.update(target=esc(summary.get("target")), target_year=summary.get("target_year"),
                     p_level=f"{summary.get('p_level', 0):g}", base_cost=f"{base.get('fiscal_cost_cny_100m', 0):.1f}",
                     base_p=f2(base.get("p_met", 0)))
            if pk:
                ev = pd.read_parquet(folder / "evaluations.parquet")
                first = ev.iloc[0]
                a["package"] = {
                    "cost": f"{pk['fiscal_cost_cny_100m']:.1f}",
                    "dcost": f"{pk['fiscal_cost_cny_100m'] - base.get('fiscal_cost_cny_100m', 0):+.1f}",
                    "p": f2(pk["p_met"]), "p_ci": interval(*pk["p_met_interval"]),
                    "levers": [{"name": _factor_words(lang, k), "base": _value(_sig(first[k]), lang),
                                "value": _value(_sig(v), lang),
                                "unit": esc(labels.unit(lang, getattr(all_specs.get(k), "unit", "")))}
                               for k, v in pk["levers"].items() if not np.isclose(float(first[k]), float(v))]}
        out.append(a)
    return out


def job_labels(study: Study) -> dict[int, JobLabel]:
    """Each job's label (what it changed), by job number."""
    varying = _varying_keys(study.jobs, study.plan) if study.kind == "sweep" else set()
    return {j.num: job_label(j, study.plan, varying if j.num >= 0 else set()) for j in study.jobs}


def _distinct(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))


def _money_d(d: float, lo: float, hi: float) -> str:
    return "–" if not np.isfinite(d) else f"{d:+.1f} [{lo:+.1f}, {hi:+.1f}]"


def _money(r0, own: bool, attribution: pd.DataFrame, num: int, lang: str) -> dict:
    """A job's fiscal cost, the funds' budget and deployment (sweep.FUND_YEAR) and their changes from
    the reference with 95 % intervals, the levers the change in cost comes from, and why
    cost-effectiveness is or is not shown (sweep.COST_EFFECTIVENESS_RULE)."""
    def get(k):
        v = r0.get(k, float("nan"))
        return float(v) if v is not None else float("nan")

    out = {"cost": f"{get('cost_cny_100m'):.1f}", "fund_budget": f"{get('fund_budget_cny_100m'):.1f}",
           "fund_deployed": f"{get('fund_deployed_cny_100m'):.1f}", "dcost": "", "dbudget": "", "ddeployed": "",
           "by_lever": [], "no_effect": ""}
    if own:
        return out
    out.update(dcost=_money_d(get("diff_cost_cny_100m"), get("diff_cost_lo"), get("diff_cost_hi")),
               dbudget=_money_d(get("diff_fund_budget_cny_100m"), get("diff_fund_budget_lo"), get("diff_fund_budget_hi")),
               ddeployed=_money_d(get("diff_fund_deployed_cny_100m"), get("diff_fund_deployed_lo"), get("diff_fund_deployed_hi")))
    mine = attribution[attribution["job"] == num]
    moved = mine[(mine["change_cny_100m"].abs() >= 0.05) | (mine["change_lo"] > 0) | (mine["change_hi"] < 0)]
    out["by_lever"] = [{"lever": esc(labels.lever_name(lang, x.lever)), "code": code(x.lever),
                        "d": _money_d(x.change_cny_100m, x.change_lo, x.change_hi)}
                       for x in moved.sort_values("change_cny_100m", key=np.abs, ascending=False).head(6).itertuples()]
    if not bool(r0.get("cost_effective", False)):
        d, lo = get("diff_cost_cny_100m"), get("diff_cost_lo")
        key = "falls" if d < 0 else "noise" if lo <= 0 else "small"
        out["no_effect"] = {"zh": {"falls": "财政成本下降，节省不能折算为每亿元的效果",
                                   "noise": "财政成本增加量在其自身随机波动范围之内（95% 区间含零）",
                                   "small": f"财政成本增加不足 {sweep.MIN_COST_CHANGE_CNY_100M:g} 亿元"},
                            "en": {"falls": "the fiscal cost falls; a saving is not a cost to divide by",
                                   "noise": "the extra cost is within its own noise (its 95 % interval includes zero)",
                                   "small": f"the extra cost is below CNY {sweep.MIN_COST_CHANGE_CNY_100M:g} x 100 million"}}[lang][key]
    return out


def build_context(study: Study, lang: str, history: pd.DataFrame, fig, analyses: list[dict] | None = None) -> dict:
    """Everything the template prints. fig(name, make) takes a figure to draw (``make()`` returns the
    matplotlib Figure; write_memo draws them all at once, in forked processes, once the text is built)
    and returns its reference."""
    t = study.table
    ref = study.reference
    base_year = int(ref.summary.get("base_year", 2024))
    ref_rows = t[t["job"] == ref.num].set_index(["target_id", "year"])
    labs = job_labels(study)
    attribution = sweep.cost_attribution(study.jobs, ref)
    shown = {n: lab.render(lang) for n, lab in labs.items()}
    # two jobs that changed the same things (a sweep over a setting it does not show) keep their numbers
    dup = {n for n, v in shown.items() if list(shown.values()).count(v) > 1}
    shown = {n: (v + (f"（任务 {n}）" if lang == "zh" else f" (job {n})") if n in dup else v) for n, v in shown.items()}
    plain = {n: lab.render(lang, md=False) + (f"（任务 {n}）" if lang == "zh" else f" (job {n})") * (n in dup)
             for n, lab in labs.items()}
    scenarios = []
    for job in [j for j in study.jobs if j.status == "complete" and j.num != ref.num] or [ref]:
        rows = t[t["job"] == job.num]
        own = job.num == ref.num
        cf = _counterfactual(job)
        headline = []
        for r in rows.itertuples():
            rr = ref_rows.loc[(r.target_id, r.year)]
            cells = _cf_cells(cf["targets"].get(r.target_id, {}).get(str(r.year)), lang)
            headline.append({**cells,
                "tid": r.target_id, "year": r.year, "name": labels.target_name(lang, r.target_id),
                "threshold": _threshold(pd.Series(r._asdict()), lang), "seed": r.threshold_source == "seed",
                "p": f2(r.p_met), "p_ci": interval(r.p_met_lo, r.p_met_hi), "ref_p": f2(rr["p_met"]),
                "d": signed(r.diff_p_met), "d_ci": interval(r.diff_p_met_lo, r.diff_p_met_hi, signed),
                "median": f2(r.median), "band": interval(r.p10, r.p90), "ref_median": f2(rr["median"]),
                "dm": signed(r.diff_median), "dm_ci": interval(r.diff_median_lo, r.diff_median_hi, signed),
                "unit": labels.unit(lang, r.unit)})
        r0 = rows.iloc[0]
        money = _money(r0, own, attribution, job.num, lang)
        effect = []
        if not own and bool(r0.get("cost_effective", False)):
            # sweep.COST_EFFECTIVENESS_RULE: the extra cost is positive and above its own noise
            for r in rows[rows["year"] == sweep.FUND_YEAR].itertuples():
                lo, hi = sorted((r.dp_per_100m_lo, r.dp_per_100m_hi))
                effect.append({"tid": r.target_id, "eff": signed(r.dp_per_100m), "ci": interval(lo, hi, signed)})
        fans = []
        for tid, by_year in job.summary["targets"].items():
            ref_name = fig(f"fan_{job.num}_{tid}.png", functools.partial(plots.target_fan, job.traj, history, tid, by_year,
                                                                           base_year, lang, label=plain[job.num]))
            fans.append({"tid": tid, "name": labels.target_name(lang, tid), "img": ref_name})
        either = {w: [{"tid": h["tid"], "year": h["year"], "p": h["p"], "cf_p": h["cf_p"]} for h in headline
                      if h["either"] == w] for w in ("met", "missed")}
        drivers = _top_drivers(job, lang)
        ends = _assumption_ends(job, lang)[:5]
        strongest = max(drivers["rows"], key=lambda d: d["abs"], default=None)
        scen = job.summary.get("scenario", {})
        scenarios.append({
            "num": job.num, "label": shown[job.num], "slug": esc(scen.get("slug", "")), "folder": code(job.path.name),
            "question": job_question(job, labs[job.num], lang), "own": own,
            "levers": _lever_changes(job, ref, lang) if not own else [], "headline": headline,
            "grants": f"{r0['grants_cny_100m_median']:.1f}", "equity": f"{r0['equity_cny_100m_median']:.1f}",
            **money, "effect": effect,
            "cf": {k: v for k, v in cf.items() if k != "targets"}, "either": either,
            "compare_cf": cf["present"] and not cf["self"],
            "decomposition": _decomposition(job, lang), "drivers": drivers, "strongest": strongest,
            "ends": ends, "fans": fans, "replicates": int(r0["n_replicates"]), "paired": bool(r0["paired"])})
    figures = dict.fromkeys(("comparison", "probability", "cost", "fit"))  # None: not drawn (the template asks)
    if len(t["job"].unique()) > 1:
        # the figures' legends name each job as the text does
        tp = t.copy()
        tp["label"] = tp["job"].map(plain)
        figures["comparison"] = fig("comparison.png", functools.partial(plots.comparison_chart, tp, lang=lang))
        figures["probability"] = fig("probability.png", functools.partial(plots.probability_chart, tp, lang=lang))
        figures["cost"] = fig("cost_probability.png", functools.partial(plots.cost_probability_chart, tp, lang=lang))
    calib = _calibration(ref, lang)
    if calib.get("moments") is not None:
        figures["fit"] = fig("calibration_fit.png", functools.partial(plots.calibration_fit_chart, calib["moments"],
                                                                      lang=lang))
    calib.pop("moments", None)
    calib.pop("path", None)
    assumptions = ref.summary.get("assumptions", {})
    appendix = []
    for job in study.jobs:
        if job.status != "complete":
            continue
        m = job.manifest
        num = job.num if job.num >= 0 else ("基准" if lang == "zh" else "baseline")  # a run folder named by baseline=
        appendix.append({"num": num, "folder": code(job.path.name), "config_hash": _sha(m.get("config")),
                         "data_hash": _sha({k: v.get("sha256") for k, v in m.get("data_files", {}).items()}),
                         "code": code(" ".join(f"{k}={v}" for k, v in m.get("code", {}).items())),
                         "command": code(m.get("command", "")), "seed": m.get("seeds", {}).get("root_seed"),
                         "manifest_sha": hashlib.sha256((job.path / MANIFEST).read_bytes()).hexdigest()[:16]})
    counterfactuals = []
    for job in study.jobs:
        run = ((job.summary or {}).get("counterfactual") or {}).get("run") if job.status == "complete" else None
        if run:
            found = _counterfactual_folder(run, study)
            counterfactuals.append({"num": job.num, "folder": code(Path(run).name), "path": str(found or run),
                                    "manifest_sha": hashlib.sha256((found / MANIFEST).read_bytes()).hexdigest()[:16]
                                    if found else None})
    failed = [{"num": j.num, "label": shown[j.num], "status": labels.term(lang, j.status),
               "error": code(j.error or "")} for j in study.jobs if j.status != "complete"]
    base = labels.scenario_name(lang, study.baseline) or study.baseline
    base = esc(base) if labels.scenario_name(lang, study.baseline) else code(study.baseline)
    rlab = shown[ref.num]
    if study.ref_kind == "run":
        how = (f"基准运行 {code(ref.path.name)}（{rlab}），随机种子相同" if lang == "zh"
               else f"the baseline run {code(ref.path.name)} ({rlab}), with the same seeds")
    elif study.ref_kind == "job":
        how = (f"任务 {ref.num}（{rlab}），由 {code('baseline=' + study.baseline)} 指定" if lang == "zh"
               else f"job {ref.num} ({rlab}), named by {code('baseline=' + study.baseline)}")
    elif study.ref_kind == "scenario":
        how = (f"任务 {ref.num}（{rlab}）：未作任何调整的{base}" if lang == "zh"
               else f"job {ref.num} ({rlab}): the {base} scenario with nothing changed")
    else:
        how = (f"本批任务中没有未作调整的{base}，变化相对第一个完成的任务 {ref.num}（{rlab}）计算"
               if lang == "zh" else f"no job of this sweep is the {base} scenario unchanged, so changes are "
               f"from the first complete job, {ref.num} ({rlab})")
    others = [shown[s["num"]] for s in scenarios if not s["own"]]
    return {
        "lang": lang, "source": code(study.source.name), "kind": study.kind, "command": code(study.command),
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "title_jobs": _distinct(others) or [rlab],
        "reference": {"num": ref.num, "label": rlab, "how": how, "kind": study.ref_kind,
                      "question": job_question(ref, labs[ref.num], lang)},
        "scenarios": scenarios, "figures": figures, "calibration": calib,
        "assumed_targets": [{"tid": a["target_id"], "year": a["year"], "threshold": f"{a['threshold']:g}"}
                            for a in assumptions.get("targets", [])],
        "data_gaps": [tid for tid, spec in plots.HISTORY.items() if not spec],
        "uncertainty": _carried(ref.summary, lang),
        "appendix": appendix, "counterfactuals": counterfactuals, "failed": failed,
        "min_cost_change": f"{sweep.MIN_COST_CHANGE_CNY_100M:g}", "fund_year": sweep.FUND_YEAR, "analyses": analyses or [],
        "base_year": base_year,
    }


def _counterfactual_folder(run: str, study: Study) -> Path | None:
    """The counterfactual run folder a summary names, if it is still there. The run wrote its path
    relative to where it was started: try it as written, then below each folder above the source."""
    given = Path(run)
    candidates = [given]
    if not given.is_absolute():
        for parent in study.source.resolve().parents:
            candidates.append(parent / given)
    for c in candidates:
        if (c / MANIFEST).is_file():
            return c
    return None


def render_markdown(context: dict) -> str:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=False,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    text = env.get_template(f"memo_{context['lang']}.md.j2").render(**context)
    # block tags eat the newline after them: give headings and quotes their blank lines back
    text = re.sub(r"\n(?=#{1,6} )", "\n\n", text)
    text = re.sub(r"(\n> [^\n]*)\n(?=\S)", r"\1\n\n", text)
    return re.sub(r"\n{3,}", "\n\n", text)


_ENTITY = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
_CODE_SPAN = re.compile(r"(?<!\\)(`+)(.+?)(?<!`)\1(?!`)")


def _inert_html(markdown_text: str) -> str:
    """The Markdown with every '<' and '&' outside code spans (and every backslash-escaped '<', '>',
    '&' of esc()) written as an entity, so that Python-Markdown, which passes raw HTML through, shows
    them as text. Code spans are left alone: Python-Markdown escapes them itself."""

    def plain(text: str) -> str:
        return re.sub(r"(\\\\)|\\([<>&])|([<&])",
                      lambda m: m.group(1) or _ENTITY[m.group(2) or m.group(3)], text)

    out, pos = [], 0
    for m in _CODE_SPAN.finditer(markdown_text):
        out += [plain(markdown_text[pos:m.start()]), m.group(0)]
        pos = m.end()
    return "".join(out) + plain(markdown_text[pos:])


FONT_FAMILY = "simmodel-cjk"  # the @font-face of the CJK subset embedded in memo.html


def font_subset(text: str) -> tuple[str, bytes] | None:
    """The CJK font (simmodel/report/fonts.py) cut down to the characters of `text`, as (MIME type,
    bytes): WOFF2 where brotli is installed, else WOFF (zlib). None where no CJK font is found."""
    import io
    import logging

    from fontTools import subset
    from fontTools.ttLib import TTFont

    from simmodel.report.fonts import cjk_font_file

    path = cjk_font_file()
    if path is None:
        return None
    try:
        import brotli  # noqa: F401

        flavor = "woff2"
    except ImportError:
        flavor = "woff"
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    options = subset.Options()
    options.flavor = flavor
    options.ignore_missing_unicodes = True
    font = TTFont(str(path), lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(set(text))))
    subsetter.subset(font)
    buf = io.BytesIO()
    font.save(buf)
    return f"font/{flavor}", buf.getvalue()


def _has_cjk(text: str) -> bool:
    return bool(re.search(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef\u3000-\u303f]", text))


def render_html(markdown_text: str, lang: str, title: str, images: dict[str, bytes]) -> str:
    """One self-contained HTML file: the Markdown converted, each figure embedded as a data URI and,
    where the text has Chinese, the subset of the CJK font that draws its characters embedded as an
    @font-face, so that no system font is needed."""
    import jinja2
    import markdown

    body = markdown.markdown(_inert_html(markdown_text), extensions=["tables"], output_format="html")
    shown = html.unescape(body) + title  # text and attributes (a figure's alt text shows where it cannot)
    for name, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        body = body.replace(f'src="figures/{name}"', f'src="{uri}"')
    font_css = ""
    if _has_cjk(shown):
        sub = font_subset(shown)
        if sub is not None:
            mime, data = sub
            font_css = (f"@font-face {{ font-family: '{FONT_FAMILY}'; src: url('data:{mime};base64,"
                        f"{base64.b64encode(data).decode('ascii')}') format('{mime.split('/')[1]}'); }}")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    # body: markdown's output of text whose file-derived parts esc() and _inert_html() neutralised
    return env.get_template("memo.html.j2").render(lang="zh-CN" if lang == "zh" else "en", title=title,
                                                   body=Markup(body), font_css=Markup(font_css),
                                                   font_family=FONT_FAMILY if font_css else "")


def pdf_converter() -> tuple[str, list[str]] | None:
    """A converter from HTML to PDF on this machine, if any: weasyprint (PyPI), wkhtmltopdf or a
    headless Chromium (Debian)."""
    try:
        import weasyprint  # noqa: F401

        return ("weasyprint", [])
    except Exception:  # noqa: BLE001 - weasyprint fails at import without its system libraries
        pass
    for exe in ("weasyprint", "wkhtmltopdf", "chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(exe)
        if path:
            return (exe, [path])
    return None


def write_pdf(html_path: Path, pdf_path: Path) -> str | None:
    """Write the PDF; returns the converter's name, or None when the machine has none."""
    conv = pdf_converter()
    if conv is None:
        return None
    name, cmd = conv
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path).resolve()
    # The converter sees the CJK font file through @font-face: Chinese text needs no system font.
    printable = html_path.with_name(f".print-{html_path.name}")
    printable.write_text(html_path.read_text(encoding="utf-8").replace("<style>", "<style>\n" + _font_face(), 1),
                         encoding="utf-8")
    try:
        _convert(name, cmd, printable, pdf_path)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        err = getattr(exc, "stderr", None)
        err = err.decode("utf-8", "replace") if isinstance(err, bytes) else (err or "")
        last = next((line for line in reversed(err.splitlines()) if line.strip()), str(exc))
        raise MemoError(f"the PDF converter {name} failed: {last.strip()}") from None
    finally:
        printable.unlink(missing_ok=True)
    return name


def _font_face() -> str:
    from simmodel.report.fonts import cjk_font_file

    path = cjk_font_file()
    if path is None:
        return ""
    # as_uri() needs an absolute path: a font found through a relative path would raise ValueError
    return ("@font-face { font-family: 'Noto Sans CJK SC'; src: url('" + Path(path).resolve().as_uri() + "'); }\n")


def _convert(name: str, cmd: list[str], html_path: Path, pdf_path: Path) -> None:
    if name == "weasyprint" and not cmd:
        import weasyprint

        weasyprint.HTML(filename=str(html_path)).write_pdf(str(pdf_path))
    elif name == "weasyprint":
        subprocess.run([*cmd, str(html_path), str(pdf_path)], check=True, capture_output=True, timeout=600)
    elif name == "wkhtmltopdf":
        subprocess.run([*cmd, "--quiet", "--enable-local-file-access", str(html_path), str(pdf_path)], check=True,
                       capture_output=True, timeout=300)
    else:
        # a file URI needs an absolute path (results= and output_root are often relative)
        subprocess.run([*cmd, "--headless", "--no-sandbox", "--disable-gpu", f"--print-to-pdf={Path(pdf_path).resolve()}",
                        Path(html_path).resolve().as_uri()], check=True, capture_output=True, timeout=300)


def write_memo(results: Path, *, baseline: str = "baseline", lang: str = "zh", output_root: Path = Path("results"),
               pdf: str = "auto", history: pd.DataFrame | None = None, command: str = "",
               analyses: list[str] = ()) -> tuple[Path, dict]:
    """Build the memo folder results/memo/<source>/<lang>-<time>/ (memo.md, memo.html, memo.pdf
    where a converter exists, figures/, manifest.json last). Returns its path and a status dict."""
    labels.check_lang(lang)
    pdf = str(pdf).lower()  # the command line's true/false arrive as booleans
    if pdf not in ("auto", "true", "false"):
        raise MemoError(f"pdf = {pdf!r} is not allowed: auto (where a converter exists), true (required) or false")
    study = load_study(results, baseline, output_root)
    cited = load_analyses(list(analyses), output_root, lang)
    if history is None:
        from simmodel.config import RunConfig, resolve_path
        from simmodel.data import load_indicators

        history = load_indicators(resolve_path(RunConfig().data.indicators))
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    # the source folder's own name, made safe: a path ending in '..' or '.' has no usable name
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", study.source.resolve().name).strip(".") or "results"
    final = Path(output_root) / "memo" / name / f"{lang}-{stamp}"
    writer = RunWriter(final)
    status = {"pdf": None}
    try:
        (writer.tmp / "figures").mkdir()
        jobs: list = []  # (path, make), drawn together once the text is built

        def fig(name: str, make) -> str:
            jobs.append((writer.path(f"figures/{name}"), make))
            return f"figures/{name}"

        ctx = build_context(study, lang, history, fig, cited)
        # the figures (0.2 s each to lay out and render) in forked processes while the text renders:
        # a memo of a run with its six fan charts 4.4-4.7 -> 4.1-4.7 s in English, 5.3-5.8 -> 4.8-5.2 in
        # Chinese (alternation, two cores)
        pending = plots.save_figures(jobs)
        try:
            md = render_markdown(ctx)
            writer.path("memo.md").write_text(md, encoding="utf-8")
            pending.wait()
        except BaseException:
            pending.cancel()
            raise
        images = {Path(path).name: Path(path).read_bytes() for path in pending.paths}
        title = "政策情景分析备忘录" if lang == "zh" else "What-if memo"
        writer.path("memo.html").write_text(render_html(md, lang, f"{title}: {study.source.name}", images), encoding="utf-8")
        if pdf != "false":
            try:
                status["pdf"] = write_pdf(writer.path("memo.html"), writer.path("memo.pdf"))
            except MemoError as exc:
                if pdf == "true":
                    raise
                status["pdf_error"] = str(exc)  # pdf=auto: the memo without its PDF, and why
                writer.path("memo.pdf").unlink(missing_ok=True)
            if status["pdf"] is None and pdf == "true":
                raise MemoError("pdf=true but no HTML-to-PDF converter was found: install weasyprint "
                                "(pip) or wkhtmltopdf / chromium (apt), or use pdf=auto")
        manifest = {"task": "memo", "source": str(study.source.resolve()), "kind": study.kind, "lang": lang,
                    "baseline": baseline, "reference_job": study.reference.num, "command": command,
                    "pdf_converter": status["pdf"],
                    "analyses": [{"folder": a["name"], "method": a["method"], "manifest_sha256_16": a["manifest_sha"]}
                                 for a in cited],
                    # the no_new_policy runs the headline's comparison comes from (summary.json: counterfactual.run)
                    "counterfactuals": [{"job": c["num"], "path": c["path"], "manifest_sha256_16": c["manifest_sha"]}
                                        for c in ctx["counterfactuals"]],
                    "jobs": [{"num": j.num, "path": str(j.path.resolve()), "status": j.status,
                              "manifest_sha256": hashlib.sha256((j.path / MANIFEST).read_bytes()).hexdigest()
                              if j.status == "complete" else None} for j in study.jobs],
                    "created_utc": dt.datetime.now(dt.timezone.utc).isoformat(),
                    "packages": package_versions(), "code": code_version()}
        path = writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    return path, status
