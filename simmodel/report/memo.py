"""What-if memos from results on disk, in Chinese or English. Nothing here runs the model.

A memo reads a sweep folder (its jobs) or one run folder plus a baseline run with the same seeds,
computes each target's probability and the paired change from the baseline with the sweep's own
functions (simmodel/sweep.py), takes from each run's summary.json the paired comparison with
no_new_policy (``counterfactual``: the answer to "does the policy matter?"), the variance
decomposition and the drivers (where the uncertainty comes from), and the lever registry's evidence
grade of each lever changed, and renders one Jinja2 template per language
(templates/memo_zh.md.j2, templates/memo_en.md.j2) to Markdown, then to one self-contained HTML
file (figures embedded), and to PDF where a converter exists. Every number in the text is formatted
here, once, so both languages print the same digits.
"""

from __future__ import annotations

import base64
import datetime as dt
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
# Below this change in fiscal cost (CNY 100 million over the projection) cost-effectiveness is not
# reported: a ratio over a near-zero denominator says nothing.
MIN_COST_CHANGE_CNY_100M = 1.0


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


def load_study(results: Path, baseline: str, output_root: Path) -> Study:
    """A sweep folder, or a run folder with a baseline (a scenario slug: the latest complete run of
    it under output_root/run/<slug>/ with the same seeds; or a run folder's path)."""
    results = Path(results)
    if not results.is_dir():
        raise MemoError(f"results={results}: no such folder; give a run folder (results/run/<scenario>/<time>/) "
                        "or a sweep folder (results/run/multirun/<sweep>/)")
    if (results / sweep.PLAN).is_file() or sweep.job_dirs(results):
        jobs = sweep.load_jobs(results)
        table, ref, how = sweep.aggregate_table(jobs, baseline)
        if ref is None:
            raise MemoError(f"{results}: no complete job in this sweep; re-run it (complete jobs are skipped)")
        plan = sweep.read_plan(results) or {}
        return Study(results, "sweep", jobs, table, ref, how, plan.get("command", ""), baseline)
    try:
        job = _job_from_run(results, 1)
    except ResultsError as exc:
        raise MemoError(str(exc)) from None
    base_dir = _baseline_run(job, baseline, output_root)
    jobs = [_job_from_run(base_dir, 0), job] if base_dir is not None else [job]
    table, ref, how = sweep.aggregate_table(jobs, baseline, reference_job=jobs[0])
    return Study(results, "run", jobs, table, ref, how, job.manifest.get("command", ""), baseline)


def _job_from_run(path: Path, num: int) -> sweep.Job:
    traj, summary, manifest = read_run(path)
    return sweep.Job(num=num, label=f"scenario={manifest.get('scenario')}", path=Path(path), status="complete",
                     summary=summary, manifest=manifest, traj=traj)


def _baseline_run(job: sweep.Job, baseline: str, output_root: Path) -> Path | None:
    """The run to compare with: None when the run is itself the baseline."""
    if Path(baseline).is_dir():
        return Path(baseline)
    if sweep._is_reference(job.manifest, baseline):
        return None
    key = sweep._pairing_key(job.manifest)
    root = Path(output_root) / "run" / baseline
    found = sorted((p for p in root.glob("*/") if (p / MANIFEST).is_file()), key=lambda p: p.name, reverse=True)
    for p in found:
        try:
            manifest = json.loads((p / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        if sweep._pairing_key(manifest) == key and sweep._is_reference(manifest, baseline):
            return p
    cfg = job.manifest.get("config", {})
    raise MemoError(
        f"no complete {baseline} run with the same seed, replicates and scale under {root}: run "
        f"`simmodel run scenario={baseline} seed={cfg.get('seed')} replicates={cfg.get('replicates')} "
        f"population.scale={cfg.get('population', {}).get('scale')}` first, or give baseline=PATH to a run folder, "
        f"or make the memo from a sweep that includes the baseline")


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
    """Text that came from a file (a scenario's name or header, a label, an error): HTML special
    characters become entities and Markdown's own characters are backslash-escaped, so it shows
    as written in the .md and the HTML and can never become markup."""
    text = html.escape(str(value), quote=True)
    return re.sub(r"([\\`*_\[\]{}|#!~])", r"\\\1", text).replace("\n", " ")


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
                            "base": _value(a.get(name)), "value": _value(b.get(name)),
                            "unit": esc(labels.unit(lang, getattr(s, "unit", ""))) if s else "",
                            "uncertainty": group == "uncertainties"})
    for group in ("params", "population"):
        a = ref.manifest.get("config", {}).get(group, {}).get("overrides", {})
        b = job.manifest.get("config", {}).get(group, {}).get("overrides", {})
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                out.append({"name": esc(name), "code": name, "article": "–", "grade": "–", "base": _value(a.get(name)),
                            "value": _value(b.get(name)), "unit": "", "uncertainty": False})
    return out


def _sig(v):
    """A design value to four significant digits (integers and regimes as they are)."""
    return float(f"{v:.4g}") if isinstance(v, float) else (v.item() if hasattr(v, "item") else v)


def _value(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:g}"
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
        sector = sectors.get(sid, sid)
        return esc(f"{sector}增长先验（%/年）" if lang == "zh" else f"growth prior of {sector} (% per year)")
    return esc(name)


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
            notes.append({"tid": esc(tid), "note": esc(b["note"])})
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


def _calibration(job: sweep.Job) -> dict:
    from simmodel.config import resolve_path

    cfg = job.manifest.get("config", {})
    name = cfg.get("calibration", "prior")
    out = {"name": esc(name), "prior": name == "prior", "missing": None, "rejected": False, "weak": [],
           "j_p": "–", "n_parameters": 0}
    if name == "prior":
        return out
    path = resolve_path(cfg.get("calibration_root", "calibration/runs")) / name
    try:
        fit = json.loads((path / "fit.json").read_text(encoding="utf-8"))
        est = pd.read_csv(path / "estimates.csv")
    except (OSError, json.JSONDecodeError, pd.errors.ParserError) as exc:
        out["missing"] = esc(f"{path}: {exc}")
        return out
    out.update({"loss": f"{fit['loss']:.2f}", "j_stat": f"{fit['j_stat']:.2f}", "j_df": f"{float(fit['j_df']):.3g}",
                "j_p": f"{fit['j_pvalue']:.3f}", "rejected": fit["j_pvalue"] < 0.05, "converged": fit["converged"],
                "n_moments": fit["n_moments"], "n_parameters": fit["n_parameters"],
                "weak": [esc(n) for n in est.loc[est["identified"] == 0, "name"]], "path": path,
                "moments": pd.read_csv(path / "moments.csv") if (path / "moments.csv").is_file() else None})
    return out


# --- the memo --------------------------------------------------------------------------------------

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
            raise MemoError(f"memo.analyses: {given}: not a complete analysis folder ({exc})") from None
        method = summary.get("method")
        a = {"method": method, "folder": esc(folder.parent.name), "source": esc(labels.term(lang, summary.get("source", ""))),
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
                a["rows"].append({"tid": tid, "name": f"{tid} {labels.target_name(lang, tid)}" if tid.startswith("T") else esc(tid),
                                  "what": "p" if what.endswith("p_met") else "median",
                                  "source": esc(labels.term(lang, top["source"].iloc[0])),
                                  "top": [{"name": esc(labels.lever_name(lang, r.factor)), "value": f"{getattr(r, metric):.3g}"}
                                          for r in top.itertuples()]})
            a["metric"] = "mu*" if method == "morris" else "ST"
        elif method == "prim":
            p = summary.get("prim", {})
            if p.get("box"):
                a["box"] = {"coverage": f2(p["coverage"]), "density": f2(p["density"]),
                            "limits": [{"name": esc(labels.lever_name(lang, k)), "lo": f"{lo:.4g}", "hi": f"{hi:.4g}"}
                                       for k, (lo, hi) in p["box"].items()]}
            a["success"] = esc(p.get("success", ""))
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
                    "levers": [{"name": esc(labels.lever_name(lang, k)), "base": _value(_sig(first[k])), "value": _value(_sig(v)),
                                "unit": esc(labels.unit(lang, getattr(all_specs.get(k), "unit", "")))}
                               for k, v in pk["levers"].items() if not np.isclose(float(first[k]), float(v))]}
        out.append(a)
    return out


def build_context(study: Study, lang: str, history: pd.DataFrame, fig, analyses: list[dict] | None = None) -> dict:
    """Everything the template prints. fig(name, figure) saves a figure and returns its reference."""
    t = study.table
    ref = study.reference
    base_year = int(ref.summary.get("base_year", 2024))
    ref_rows = t[t["job"] == ref.num].set_index(["target_id", "year"])
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
        cost = r0["grants_cny_100m_median"] + r0["equity_cny_100m_median"]
        ref_cost = ref_rows.iloc[0]["grants_cny_100m_median"] + ref_rows.iloc[0]["equity_cny_100m_median"]
        dcost = cost - ref_cost
        effect = []
        if not own and abs(dcost) >= MIN_COST_CHANGE_CNY_100M:
            for r in rows[rows["year"] == 2027].itertuples():
                k = 100.0 / dcost  # percentage points per CNY 100 million
                lo, hi = sorted((r.diff_p_met_lo * k, r.diff_p_met_hi * k))
                effect.append({"tid": r.target_id, "eff": signed(r.diff_p_met * k), "ci": interval(lo, hi, signed)})
        fans = []
        for tid, by_year in job.summary["targets"].items():
            ref_name = fig(f"fan_{job.num}_{tid}.png", plots.target_fan(job.traj, history, tid, by_year, base_year, lang))
            fans.append({"tid": tid, "name": labels.target_name(lang, tid), "img": ref_name})
        either = {w: [{"tid": h["tid"], "year": h["year"], "p": h["p"], "cf_p": h["cf_p"]} for h in headline
                      if h["either"] == w] for w in ("met", "missed")}
        drivers = _top_drivers(job, lang)
        ends = _assumption_ends(job, lang)[:5]
        strongest = max(drivers["rows"], key=lambda d: d["abs"], default=None)
        scen = job.summary.get("scenario", {})
        scenarios.append({
            "num": job.num, "label": esc(job.label), "slug": esc(scen.get("slug", "")),
            "question": esc(scen.get("question_zh") if lang == "zh" and scen.get("question_zh") else scen.get("question", "")),
            "own": own,
            "levers": _lever_changes(job, ref, lang) if not own else [], "headline": headline,
            "grants": f"{r0['grants_cny_100m_median']:.1f}", "equity": f"{r0['equity_cny_100m_median']:.1f}",
            "cost": f"{cost:.1f}", "ref_cost": f"{ref_cost:.1f}", "dcost": f"{dcost:+.1f}", "effect": effect,
            "cf": {k: v for k, v in cf.items() if k != "targets"}, "either": either,
            "compare_cf": cf["present"] and not cf["self"],
            "decomposition": _decomposition(job, lang), "drivers": drivers, "strongest": strongest,
            "ends": ends, "fans": fans, "replicates": int(r0["n_replicates"]), "paired": bool(r0["paired"])})
    figures = dict.fromkeys(("comparison", "probability", "cost", "fit"))  # None: not drawn (the template asks)
    if len(t["job"].unique()) > 1:
        figures["comparison"] = fig("comparison.png", plots.comparison_chart(t, lang=lang))
        figures["probability"] = fig("probability.png", plots.probability_chart(t, lang=lang))
        figures["cost"] = fig("cost_probability.png", plots.cost_probability_chart(t, lang=lang))
    calib = _calibration(ref)
    if calib.get("moments") is not None:
        figures["fit"] = fig("calibration_fit.png", plots.calibration_fit_chart(calib["moments"], lang=lang))
    calib.pop("moments", None)
    calib.pop("path", None)
    assumptions = ref.summary.get("assumptions", {})
    appendix = []
    for job in study.jobs:
        if job.status != "complete":
            continue
        m = job.manifest
        appendix.append({"num": job.num, "folder": esc(job.path.name), "config_hash": _sha(m.get("config")),
                         "data_hash": _sha({k: v.get("sha256") for k, v in m.get("data_files", {}).items()}),
                         "code": esc(" ".join(f"{k}={v}" for k, v in m.get("code", {}).items())),
                         "command": esc(m.get("command", "")), "seed": m.get("seeds", {}).get("root_seed"),
                         "manifest_sha": hashlib.sha256((job.path / MANIFEST).read_bytes()).hexdigest()[:16]})
    counterfactuals = []
    for job in study.jobs:
        run = ((job.summary or {}).get("counterfactual") or {}).get("run") if job.status == "complete" else None
        if run:
            found = _counterfactual_folder(run, study)
            counterfactuals.append({"num": job.num, "folder": esc(Path(run).name), "path": str(found or run),
                                    "manifest_sha": hashlib.sha256((found / MANIFEST).read_bytes()).hexdigest()[:16]
                                    if found else None})
    failed = [{"num": j.num, "label": esc(j.label), "status": labels.term(lang, j.status), "error": esc(j.error or "")}
              for j in study.jobs if j.status != "complete"]
    if study.kind == "run":
        how = (f"基准运行 {esc(ref.path.name)}，随机种子相同" if lang == "zh"
               else f"the baseline run {esc(ref.path.name)}, with the same seeds")
    elif sweep._is_reference(ref.manifest, study.baseline):
        how = (f"任务 {ref.num}（{esc(ref.label)}）：未作任何调整的{esc(study.baseline)}情景" if lang == "zh"
               else f"job {ref.num} ({esc(ref.label)}): the {esc(study.baseline)} scenario with nothing changed")
    else:
        how = (f"本批情景中没有未作调整的{esc(study.baseline)}情景，变化相对第一个完成的任务 {ref.num}（{esc(ref.label)}）计算"
               if lang == "zh" else f"no job of this sweep is the {esc(study.baseline)} scenario unchanged, so changes are "
               f"from the first complete job, {ref.num} ({esc(ref.label)})")
    return {
        "lang": lang, "source": esc(study.source.name), "kind": study.kind, "command": esc(study.command),
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "reference": {"num": ref.num, "label": esc(ref.label), "how": how,
                      "question": esc(ref.summary.get("scenario", {}).get("question", ""))},
        "scenarios": scenarios, "figures": figures, "calibration": calib,
        "assumed_targets": [{"tid": a["target_id"], "year": a["year"], "threshold": f"{a['threshold']:g}"}
                            for a in assumptions.get("targets", [])],
        "data_gaps": [tid for tid, spec in plots.HISTORY.items() if not spec],
        "uncertainty": _carried(ref.summary, lang),
        "appendix": appendix, "counterfactuals": counterfactuals, "failed": failed,
        "min_cost_change": f"{MIN_COST_CHANGE_CNY_100M:g}", "analyses": analyses or [],
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


def render_html(markdown_text: str, lang: str, title: str, images: dict[str, bytes]) -> str:
    """One self-contained HTML file: the Markdown converted, each figure embedded as a data URI."""
    import jinja2
    import markdown

    body = markdown.markdown(markdown_text, extensions=["tables"], output_format="html")
    for name, data in images.items():
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        body = body.replace(f'src="figures/{name}"', f'src="{uri}"')
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True)
    # body: markdown's output of text whose file-derived parts esc() already neutralised
    return env.get_template("memo.html.j2").render(lang="zh-CN" if lang == "zh" else "en", title=title,
                                                   body=Markup(body))


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
    # The converter sees the CJK font file through @font-face: Chinese text needs no system font.
    printable = html_path.with_name(f".print-{html_path.name}")
    printable.write_text(html_path.read_text(encoding="utf-8").replace("<style>", "<style>\n" + _font_face(), 1),
                         encoding="utf-8")
    try:
        _convert(name, cmd, printable, pdf_path)
    finally:
        printable.unlink(missing_ok=True)
    return name


def _font_face() -> str:
    from simmodel.report.fonts import cjk_font_file

    path = cjk_font_file()
    if path is None:
        return ""
    return ("@font-face { font-family: 'Noto Sans CJK SC'; src: url('" + path.as_uri() + "'); }\n")


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
        subprocess.run([*cmd, "--headless", "--no-sandbox", "--disable-gpu", f"--print-to-pdf={pdf_path}",
                        html_path.as_uri()], check=True, capture_output=True, timeout=300)


def write_memo(results: Path, *, baseline: str = "baseline", lang: str = "zh", output_root: Path = Path("results"),
               pdf: str = "auto", history: pd.DataFrame | None = None, command: str = "",
               analyses: list[str] = ()) -> tuple[Path, dict]:
    """Build the memo folder results/memo/<source>/<lang>-<time>/ (memo.md, memo.html, memo.pdf
    where a converter exists, figures/, manifest.json last). Returns its path and a status dict."""
    labels.check_lang(lang)
    pdf = str(pdf).lower()  # the command line's true/false arrive as booleans
    if pdf not in ("auto", "true", "false"):
        raise MemoError(f"memo.pdf = {pdf!r} is not allowed: auto (where a converter exists), true (required) or false")
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
        images: dict[str, bytes] = {}

        def fig(name: str, figure) -> str:
            path = writer.path(f"figures/{name}")
            plots.save(figure, path)
            images[name] = path.read_bytes()
            return f"figures/{name}"

        ctx = build_context(study, lang, history, fig, cited)
        md = render_markdown(ctx)
        writer.path("memo.md").write_text(md, encoding="utf-8")
        title = "政策情景分析备忘录" if lang == "zh" else "What-if memo"
        writer.path("memo.html").write_text(render_html(md, lang, f"{title}: {study.source.name}", images), encoding="utf-8")
        if pdf != "false":
            status["pdf"] = write_pdf(writer.path("memo.html"), writer.path("memo.pdf"))
            if status["pdf"] is None and pdf == "true":
                raise MemoError("memo.pdf=true but no HTML-to-PDF converter was found: install weasyprint "
                                "(pip) or wkhtmltopdf / chromium (apt), or use memo.pdf=auto")
        manifest = {"task": "memo", "source": str(study.source.resolve()), "kind": study.kind, "lang": lang,
                    "baseline": baseline, "reference_job": study.reference.num, "command": command,
                    "pdf_converter": status["pdf"],
                    "analyses": [{"folder": a["folder"], "method": a["method"], "manifest_sha256_16": a["manifest_sha"]}
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
