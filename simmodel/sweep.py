"""Sweeps: many runs, one answer. No Hydra here: ``simmodel.cli.SweepCallback`` calls these.

A sweep folder (results/run/multirun/<sweep>/) holds

- ``sweep.json``: the plan, i.e. every job's number, overrides and label, written when the sweep starts;
- one folder per job, ``<num>_<what it changed>/`` (job_folder_name), complete when its manifest is in it (see results.py),
  or holding ``FAILED.json`` when the job raised (the other jobs go on);
- ``aggregate/``: one table of every target's probability and median per job, the difference from
  the reference job (baseline) with intervals paired by common random numbers, a Markdown version,
  and one comparison figure; rebuilt at the end of every run of the sweep.

Re-running the same sweep command reuses the folder: a job whose folder is complete for the same
config and code is skipped, every other job runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import traceback
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.data import file_sha256
from simmodel.errors import SimmodelError
from simmodel.results import (MANIFEST, ResultsError, RunWriter, code_version, difference_interval,
                              median_difference_interval, package_versions, read_run, wilson_interval, write_json)

PLAN = "sweep.json"
MAX_JOBS_IN_FIGURE = 40
FAILED = "FAILED.json"
AGGREGATE = "aggregate"
# Config keys that do not change a job's results: a job is not re-run because they differ.
NEUTRAL_KEYS = ("workers", "output.progress")
# Run settings two jobs must share for replicate r of both to have the same seeds (paired differences).
PAIRING_KEYS = ("seed", "replicates", "population.scale", "calibration", "calibration_root", "uncertainty.assumptions",
                "uncertainty.behaviour", "uncertainty.estimates", "uncertainty.shocks",
                "end_year", "population.base_year", "data")


class SweepError(SimmodelError):
    """A sweep folder cannot be used as asked (another sweep's plan is in it)."""


# --- naming and planning ---------------------------------------------------------------------------

def sweep_name(overrides: list[str]) -> str:
    """A stable folder name for a sweep, from its overrides: the same command gives the same folder,
    so re-running it resumes. Settings that do not change results (workers, progress, launcher
    and other hydra.* settings) do not change the name. Example: ``scenario-3f09c1a2b4``."""
    relevant = [o for o in overrides if not o.lstrip("+~").startswith(("hydra.", "hydra/"))
                and o.lstrip("+~").split("=", 1)[0] not in NEUTRAL_KEYS]
    digest = hashlib.sha256("\n".join(relevant).encode("utf-8")).hexdigest()[:10]
    swept = [o.lstrip("+~").split("=", 1)[0].split(".")[-1] for o in relevant if _is_sweep(o)]
    stem = re.sub(r"[^A-Za-z0-9_]+", "_", "+".join(swept))[:40] or "sweep"
    return f"{stem}-{digest}"


def _is_sweep(override: str) -> bool:
    _, _, value = override.partition("=")
    return "," in value or bool(re.match(r"^\s*(range|choice|glob)\(", value))


def job_labels(jobs: list[list[str]]) -> list[str]:
    """Each job's label: the overrides in which it differs from the other jobs of the sweep."""
    keyed = [dict(o.lstrip("+~").split("=", 1) for o in job if "=" in o) for job in jobs]
    keys = list(dict.fromkeys(k for job in keyed for k in job))
    varying = [k for k in keys if len({job.get(k) for job in keyed}) > 1]
    out = []
    for job in keyed:
        parts = [f"{k}={job[k]}" for k in varying if k in job]
        out.append(" ".join(parts) or " ".join(f"{k}={v}" for k, v in job.items()) or "defaults")
    return out


def write_plan(sweep_dir: Path, jobs: list[list[str]], command: str) -> dict:
    """Record the sweep's jobs in sweep.json. A folder that holds another sweep's plan is refused:
    its job numbers would mean other configs."""
    sweep_dir = Path(sweep_dir)
    labels = job_labels(jobs)
    plan = {"command": command, "n_jobs": len(jobs),
            "jobs": [{"num": i, "overrides": list(o), "label": labels[i]} for i, o in enumerate(jobs)]}
    path = sweep_dir / PLAN
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SweepError(f"{path} is corrupt ({exc}); delete it or choose another hydra.sweep.dir") from None
        if [j.get("overrides") for j in old.get("jobs", [])] != [j["overrides"] for j in plan["jobs"]]:
            raise SweepError(f"{sweep_dir} holds another sweep (its {PLAN} lists other jobs); "
                             "choose another hydra.sweep.dir=... or delete that folder")
        plan["first_started_utc"] = old.get("first_started_utc")
    sweep_dir.mkdir(parents=True, exist_ok=True)
    plan.setdefault("first_started_utc", None)
    plan["first_started_utc"] = plan["first_started_utc"] or _now()
    plan["last_started_utc"] = _now()
    _atomic_json(path, plan)
    return plan


def read_plan(sweep_dir: Path) -> dict | None:
    path = Path(sweep_dir) / PLAN
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SweepError(f"{path} is corrupt ({exc})") from None


# --- jobs ------------------------------------------------------------------------------------------

def job_folder_name(num: int, label: str) -> str:
    """A job's folder, named by what the job changed (its label: the overrides in which it differs
    from the other jobs), so that a reader never maps ``0_baseline`` to an override by hand:
    ``scenario=baseline levers.fund_life_years=8`` -> ``0_baseline_fund_life_years-8`` (no ``=``: a
    folder name is passed back as ``results=PATH``, where Hydra would read an ``=`` as an override)."""
    parts = []
    for item in str(label).split():
        key, eq, value = item.partition("=")
        if not eq:
            parts.append(item)
        elif key == "scenario":
            parts.append(value)
        else:
            parts.append(f"{key.split('.')[-1]}-{value}")
    slug = re.sub(r"[^A-Za-z0-9_.+-]+", "_", "_".join(parts)).strip("_.")[:80] or "job"
    return f"{num}_{slug}"


def named_job_dir(job_dir: Path, num: int, label: str) -> Path:
    """The folder a job writes to. Hydra names it from hydra.sweep.subdir; conf/run.yaml sets that to
    the bare job number, and the job then writes to a sibling named by job_folder_name (Hydra's
    empty folder is removed). A folder already named otherwise (a user's subdir, or a sweep started
    before the naming) is kept as it is, so that such sweeps still resume."""
    if job_dir.name != str(num):
        return job_dir
    try:
        job_dir.rmdir()  # Hydra's empty per-job folder
    except OSError:
        pass
    return job_dir.with_name(job_folder_name(num, label))


def job_dirs(sweep_dir: Path) -> dict[int, Path]:
    """The job folders of a sweep by job number (``<num>_<what it changed>``)."""
    out = {}
    for p in Path(sweep_dir).iterdir() if Path(sweep_dir).is_dir() else []:
        m = re.match(r"^(\d+)_", p.name)
        if m and p.is_dir():
            out[int(m.group(1))] = p
    return dict(sorted(out.items()))


def job_status(job_dir: Path) -> str:
    """complete (manifest written), failed (FAILED.json) or pending (absent, empty or partial)."""
    job_dir = Path(job_dir)
    if (job_dir / MANIFEST).is_file():
        return "complete"
    if (job_dir / FAILED).is_file():
        return "failed"
    return "pending"


def comparable_config(plain: dict) -> dict:
    """A job's config without the keys that do not change its results."""
    out = json.loads(json.dumps(plain, default=str))
    for key in NEUTRAL_KEYS:
        node, *path = key.split(".")
        if not path:
            out.pop(node, None)
        elif isinstance(out.get(node), dict):
            out[node].pop(path[0], None)
    return out


def _reuse_reason(job_dir: Path, plain: dict) -> str | None:
    """None if the complete folder at job_dir holds this job's results for this config and code;
    else why it must be re-run."""
    try:
        manifest = json.loads((job_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        return f"its manifest is unreadable ({exc})"
    if comparable_config(manifest.get("config", {})) != comparable_config(plain):
        return "its config differs (a scenario file, default or override changed)"
    if manifest.get("code", {}).get("git_commit") != code_version().get("git_commit"):
        return "it was written by another version of the code"
    try:
        read_run(job_dir)
    except ResultsError as exc:
        return str(exc)
    return None


def run_job(cfg, job_dir: Path, *, num: int, overrides: list[str], command: str, label: str = "",
            echo=print, run=None) -> dict:
    """Run one job of a sweep into job_dir; never raises for a failing job (the sweep goes on).

    Skips a job whose folder is complete for the same config and code. Returns a status record:
    {"num", "label", "status": complete|skipped|failed, "path", "error"}. run: the task function
    (simmodel.run_task.run, re-exported by simmodel.tasks), imported on first use so that importing this
    module does not import the model; injectable (tests).
    """
    if run is None:
        from simmodel.run_task import run
    from simmodel.config import plain

    job_dir = named_job_dir(Path(job_dir), num, label)
    record = {"num": num, "label": label, "path": str(job_dir), "error": None}
    name = f"job {num} ({label})" if label else f"job {num}"
    replace = False
    if cfg is not None and getattr(cfg, "design", ""):
        from simmodel.analysis.design import apply_row

        try:
            apply_row(cfg)  # compare the config the point really runs with, not the scenario's
        except SimmodelError:
            pass  # the run itself reports it, as a failed job
    if cfg is not None and job_status(job_dir) == "complete":
        why = _reuse_reason(job_dir, plain(cfg))
        if why is None:
            echo(f"{name}: complete in {job_dir}, skipped")
            return {**record, "status": "skipped"}
        echo(f"{name}: re-running, {why}")
        replace = True
    # leftovers of an interrupted or failed attempt at this job
    for stale in job_dir.parent.glob(f".tmp-{job_dir.name}@*"):
        shutil.rmtree(stale, ignore_errors=True)
    (job_dir / FAILED).unlink(missing_ok=True)
    try:
        run(cfg, out_dir=job_dir, command=command, overrides=overrides, label=f"job {num} {label}".strip(), replace=replace,
            show_table=False, echo=echo)
    except Exception as exc:  # noqa: BLE001 - one job's failure must not end the sweep
        job_dir.mkdir(parents=True, exist_ok=True)
        _atomic_json(job_dir / FAILED, {
            "num": num, "label": label, "overrides": overrides, "command": command,
            "error": str(exc), "type": type(exc).__name__, "user_error": isinstance(exc, SimmodelError),
            "traceback": traceback.format_exc(), "failed_utc": _now()})
        echo(f"{name}: FAILED: {exc}")
        return {**record, "status": "failed", "error": str(exc)}
    return {**record, "status": "complete"}


def progress_line(sweep_dir: Path) -> str:
    """'sweep: 3/5 jobs done (2 complete, 1 failed)' from the folders on disk, so that it is right
    whichever process (launcher worker, Ray node, SLURM task) asks."""
    plan = read_plan(sweep_dir)
    states = [job_status(d) for d in job_dirs(sweep_dir).values()]
    done = sum(s in ("complete", "failed") for s in states)
    total = plan["n_jobs"] if plan else "?"
    return (f"sweep: {done}/{total} jobs done ({states.count('complete')} complete, {states.count('failed')} failed)"
            f" in {sweep_dir}")


# --- the aggregate ---------------------------------------------------------------------------------

@dataclasses.dataclass
class Job:
    num: int
    label: str
    path: Path
    status: str
    summary: dict | None = None
    manifest: dict | None = None
    traj: pd.DataFrame | None = None
    error: str | None = None


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def pairing_key(manifest: dict) -> tuple:
    """The run settings of a run's manifest that decide its replicates' seeds (PAIRING_KEYS), as a
    hashable tuple: two runs with equal keys can be compared replicate by replicate (paired)."""
    flat = _flat(manifest.get("config", {}))
    return tuple((k, json.dumps(v, sort_keys=True, default=str)) for k, v in sorted(flat.items())
                 if any(k == p or k.startswith(p + ".") for p in PAIRING_KEYS))


def is_reference(manifest: dict, reference: str) -> bool:
    """The reference job: the reference scenario as it stands, i.e. every lever, uncertainty,
    parameter and base-year quantity at that scenario's values. For baseline these are the
    registry's defaults (scenarios/baseline.yaml sets nothing; a test checks it), so a lever sweep
    whose values include the default (fund_life_years=8,12,20) finds its reference too."""
    cfg = manifest.get("config", {})
    unchanged = not cfg.get("params", {}).get("overrides") and not cfg.get("population", {}).get("overrides")
    if reference == "baseline":
        from simmodel.config import plain
        from simmodel.levers import Levers, Uncertainties

        return (unchanged and cfg.get("levers") == plain(Levers())
                and cfg.get("uncertainties") == plain(Uncertainties()))
    return (manifest.get("scenario") == reference and unchanged
            and not any(o.lstrip("+~").startswith(("levers.", "uncertainties.")) for o in manifest.get("overrides", [])))


def load_jobs(sweep_dir: Path) -> list[Job]:
    """Every job of the sweep's plan (or, without a plan, every job folder), with its results if complete."""
    sweep_dir = Path(sweep_dir)
    plan = read_plan(sweep_dir)
    dirs = job_dirs(sweep_dir)
    entries = plan["jobs"] if plan else [{"num": n, "label": p.name} for n, p in dirs.items()]
    jobs = []
    for e in entries:
        num = e["num"]
        path = dirs.get(num, sweep_dir / f"{num}_?")
        status = job_status(path) if num in dirs else "pending"
        job = Job(num=num, label=e.get("label", path.name), path=path, status=status)
        if status == "complete":
            try:
                job.traj, job.summary, job.manifest = read_run(path)
            except ResultsError as exc:
                job.status, job.error = "corrupt", str(exc)
        elif status == "failed":
            try:
                job.error = json.loads((path / FAILED).read_text(encoding="utf-8")).get("error")
            except (OSError, json.JSONDecodeError, UnicodeDecodeError):
                job.error = f"see {path / FAILED}"
        jobs.append(job)
    return jobs


def _target_values(job: Job) -> dict[tuple[str, str], np.ndarray]:
    """(target, year) -> the indicator's value per replicate, in replicate order."""
    wide = job.traj.pivot_table(index=["replicate", "year"], columns="indicator", values="value")
    out = {}
    for tid, by_year in job.summary["targets"].items():
        for year, t in by_year.items():
            out[(tid, year)] = wide.xs(int(year), level="year")[t["indicator"]].sort_index().to_numpy(float)
    return out


def _met(values: np.ndarray, t: dict) -> np.ndarray:
    return values > t["threshold"] if t["comparison"] == ">" else values >= t["threshold"]


# The rule for cost-effectiveness (issue 15): a change in P(met) per CNY 100 m is printed only where the
# extra fiscal cost is positive, at least MIN_COST_CHANGE_CNY_100M, and its own 95 % interval lies above
# zero; a saving, or a cost change within its replicate noise, gives a ratio that says nothing.
MIN_COST_CHANGE_CNY_100M = 1.0
COST_EFFECTIVENESS_RULE = (f"change in P(met) per CNY 100 m of extra fiscal cost, shown only where the extra cost is "
                           f"positive, at least CNY {MIN_COST_CHANGE_CNY_100M:g} x 100 m and its 95 % interval lies above "
                           f"zero; its interval is that of the change in P(met) divided by the mean extra cost")
FUND_YEAR = 2027  # the year of the fund budget and deployment shown beside the fiscal lines
COST_KEYS = ("cost", "fund_budget", "fund_deployed")


def mean_difference_interval(scenario: np.ndarray, reference: np.ndarray, *, paired: bool) -> tuple[float, float, float]:
    """mean(scenario) - mean(reference) with a 95 % t interval: on the replicate pairs' differences
    when paired (common random numbers), else Welch's. Means, unlike medians, add up: the changes of
    the levers' costs sum to the change of the total. Returns (difference, low, high)."""
    # Student's t quantile as scipy.stats.t.ppf computes it, without importing scipy.stats (0.66 s)
    from scipy.special import stdtrit

    s, r = np.asarray(scenario, float), np.asarray(reference, float)
    if s.size == 0 or r.size == 0:
        return (float("nan"),) * 3
    if paired and s.size == r.size:
        d = s - r
        m = float(d.mean())
        if d.size < 2 or np.allclose(d, m):
            return m, m, m
        half = float(stdtrit(d.size - 1, 0.975) * d.std(ddof=1) / np.sqrt(d.size))
        return m, m - half, m + half
    m = float(s.mean() - r.mean())
    vs, vr = (s.var(ddof=1) / s.size if s.size > 1 else 0.0), (r.var(ddof=1) / r.size if r.size > 1 else 0.0)
    se = float(np.sqrt(vs + vr))
    if se == 0:
        return m, m, m
    dof = (vs + vr) ** 2 / ((vs ** 2 / max(s.size - 1, 1)) + (vr ** 2 / max(r.size - 1, 1)))
    half = float(stdtrit(dof, 0.975) * se)
    return m, m - half, m + half


def _cost_values(job: Job) -> dict[str, np.ndarray]:
    """Per replicate, in replicate order: the fiscal cost of the whole projection (grants and equity,
    CNY 100 m) and the funds' budget and deployment in FUND_YEAR (CNY 100 m, crowd-in included)."""
    wide = job.traj.pivot_table(index=["replicate", "year"], columns="indicator", values="value")
    years = sorted(job.traj["year"].unique())
    sim = wide[wide.index.get_level_values("year") > years[0]]  # the base year has no flows
    out = {"cost": (sim["fiscal_cost_grants_cny_100m"] + sim["fiscal_cost_equity_cny_100m"]).groupby(level="replicate").sum()
           .sort_index().to_numpy(float)}
    for key, ind in (("fund_budget", "fund_budget_cny_100m"), ("fund_deployed", "fund_deployed_cny_100m")):
        has = ind in wide.columns and FUND_YEAR in years
        out[key] = wide.xs(FUND_YEAR, level="year")[ind].sort_index().to_numpy(float) if has else np.full(len(out["cost"]), np.nan)
    return out


def _lever_costs(job: Job) -> dict[str, np.ndarray] | None:
    """Per lever, each replicate's fiscal cost over the projection (CNY 100 m), from the run's
    fiscal.parquet; None for a run written before it existed."""
    from simmodel.results import FISCAL

    f = job.path / FISCAL
    if not f.is_file():
        return None
    df = pd.read_parquet(f)
    n = int(job.traj["replicate"].nunique())
    tot = df.groupby(["lever", "replicate"])["cny_100m"].sum()
    return {lever: tot.loc[lever].reindex(range(n), fill_value=0.0).to_numpy(float) for lever in tot.index.unique("lever")}


def cost_attribution(jobs: list[Job], ref: Job | None) -> pd.DataFrame:
    """One row per complete job and lever that costs anything in it or in the reference: the mean
    cost of the projection in both and the change with its 95 % interval (paired where the jobs share
    their seeds). The changes of a job's levers sum to the change of its total cost."""
    from simmodel.levers import specs

    spec = specs()
    rows = []
    ref_costs = _lever_costs(ref) if ref is not None else None
    for job in (j for j in jobs if j.status == "complete"):
        mine = _lever_costs(job)
        if mine is None or ref_costs is None:
            continue
        paired = pairing_key(job.manifest) == pairing_key(ref.manifest)
        for lever in sorted(set(mine) | set(ref_costs)):
            a = mine.get(lever, np.zeros_like(next(iter(mine.values()))) if mine else np.zeros(0))
            b = ref_costs.get(lever, np.zeros_like(next(iter(ref_costs.values()))) if ref_costs else np.zeros(0))
            d, lo, hi = mean_difference_interval(a, b, paired=paired)
            sp = spec.get(lever)
            rows.append({"job": job.num, "label": job.label, "lever": lever, "article": sp.article if sp else None,
                         "cost_cny_100m": float(a.mean()), "reference_cost_cny_100m": float(b.mean()),
                         "change_cny_100m": d, "change_lo": lo, "change_hi": hi, "paired": paired})
    return pd.DataFrame(rows, columns=["job", "label", "lever", "article", "cost_cny_100m", "reference_cost_cny_100m",
                                       "change_cny_100m", "change_lo", "change_hi", "paired"])


def aggregate_table(jobs: list[Job], reference: str = "baseline",
                    reference_job: Job | None = None) -> tuple[pd.DataFrame, Job | None, str]:
    """One row per complete job x target x year: P(met) with its Wilson interval, the median and
    80 % band of the indicator, fiscal cost, and the difference from the reference job with 95 %
    intervals, paired by common random numbers where the two jobs share their seeds. Also returns
    the reference job and a sentence saying how it was chosen. reference_job: use this one (a memo
    comparing two run folders)."""
    done = [j for j in jobs if j.status == "complete"]
    candidates = [j for j in done if is_reference(j.manifest, reference)]
    ref = next((j for j in candidates if j.manifest.get("scenario") == reference), candidates[0] if candidates else None)
    if reference_job is not None:
        ref = reference_job
        how = f"{reference_job.path.name}: the {reference} run with the same seeds"
    elif ref is not None:
        how = f"job {ref.num} ({ref.label}): the {reference} scenario with no lever, uncertainty or parameter changed"
    elif done:
        ref = done[0]
        how = (f"job {ref.num} ({ref.label}): no job of this sweep is the {reference} scenario unchanged, "
               f"so differences are from the first complete job")
    else:
        how = "no complete job"
    ref_values = _target_values(ref) if ref is not None else {}
    ref_costs = _cost_values(ref) if ref is not None else {}
    rows = []
    for job in done:
        values = _target_values(job)
        paired = pairing_key(job.manifest) == pairing_key(ref.manifest)
        cost = job.summary.get("fiscal_cost_total_cny_100m", {})
        costs = _cost_values(job)
        money = {}
        for key in COST_KEYS:
            money[f"{key}_cny_100m"] = float(np.nanmean(costs[key])) if np.isfinite(costs[key]).any() else float("nan")
            d, lo, hi = (mean_difference_interval(costs[key], ref_costs[key], paired=paired)
                         if np.isfinite(costs[key]).any() else (float("nan"),) * 3)
            money.update({f"diff_{key}_cny_100m": d, f"diff_{key}_lo": lo, f"diff_{key}_hi": hi})
        dcost, dcost_lo = money["diff_cost_cny_100m"], money["diff_cost_lo"]
        effective = job is not ref and dcost >= MIN_COST_CHANGE_CNY_100M and dcost_lo > 0
        for tid, by_year in job.summary["targets"].items():
            for year, t in by_year.items():
                v = values[(tid, year)]
                met = _met(v, t)
                lo, hi = wilson_interval(int(met.sum()), met.size)
                row = {"job": job.num, "label": job.label, "scenario": job.summary["scenario"]["slug"],
                       "target_id": tid, "year": int(year), "indicator": t["indicator"], "unit": t["unit"],
                       "comparison": t["comparison"], "threshold": t["threshold"],
                       "threshold_source": "seed" if t["threshold_source"] == "seed" else "assumption",
                       "n_replicates": int(met.size), "p_met": float(met.mean()), "p_met_lo": lo, "p_met_hi": hi,
                       "median": float(np.median(v)), "p10": float(np.quantile(v, 0.1)), "p90": float(np.quantile(v, 0.9)),
                       "grants_cny_100m_median": cost.get("grants", {}).get("median", float("nan")),
                       "equity_cny_100m_median": cost.get("equity", {}).get("median", float("nan")),
                       "reference_job": ref.num, "paired": paired, **money, "cost_effective": bool(effective)}
                rv = ref_values.get((tid, year))
                if rv is None or (paired and rv.size != v.size):
                    row.update({k: float("nan") for k in ("diff_p_met", "diff_p_met_lo", "diff_p_met_hi",
                                                          "diff_p_met_lo_unpaired", "diff_p_met_hi_unpaired",
                                                          "diff_median", "diff_median_lo", "diff_median_hi",
                                                          "dp_per_100m", "dp_per_100m_lo", "dp_per_100m_hi")})
                else:
                    rmet = _met(rv, t)
                    d, dlo, dhi = difference_interval(met, rmet, paired=paired)
                    _, ulo, uhi = difference_interval(met, rmet, paired=False)
                    m, mlo, mhi = median_difference_interval(v, rv, paired=paired)
                    row.update({"diff_p_met": d, "diff_p_met_lo": dlo, "diff_p_met_hi": dhi,
                                "diff_p_met_lo_unpaired": ulo, "diff_p_met_hi_unpaired": uhi,
                                "diff_median": m, "diff_median_lo": mlo, "diff_median_hi": mhi})
                # percentage points of P(met) per CNY 100 m, only where the rule allows a ratio
                k = 100.0 / dcost if effective else float("nan")
                row.update({"dp_per_100m": d * k, "dp_per_100m_lo": dlo * k, "dp_per_100m_hi": dhi * k})
                rows.append(row)
    return pd.DataFrame(rows), ref, how


def _fmt_p(p, lo, hi) -> str:
    return "–" if not np.isfinite(p) else f"{p:.2f} [{lo:.2f}, {hi:.2f}]"


def _fmt_d(d, lo, hi, digits=2) -> str:
    return "–" if not np.isfinite(d) else f"{d:+.{digits}f} [{lo:+.{digits}f}, {hi:+.{digits}f}]"


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def aggregate_markdown(table: pd.DataFrame, jobs: list[Job], how: str, plan: dict | None,
                       attribution: pd.DataFrame | None = None) -> str:
    """The aggregate as Markdown: probabilities, differences, medians, fiscal cost and where its
    changes come from, cost-effectiveness where the rule allows it, failures."""
    lines = ["# Sweep: every target per job, and the change from the reference", ""]
    if plan:
        lines += [f"Command: `{plan['command']}`", ""]
    counts = {s: sum(j.status == s for j in jobs) for s in ("complete", "failed", "pending", "corrupt")}
    lines += [f"Jobs: {len(jobs)} ({', '.join(f'{v} {k}' for k, v in counts.items() if v)}). Reference: {how}.", ""]
    if table.empty:
        return "\n".join(lines + ["No complete job: nothing to compare.", ""])
    cols = list(dict.fromkeys(zip(table["target_id"], table["year"])))
    head = "| job | label | " + " | ".join(f"{t} {y}" for t, y in cols) + " |"
    sep = "|---|---|" + "---|" * len(cols)

    def block(title: str, note: str, cell) -> list[str]:
        out = [f"## {title}", "", note, "", head, sep]
        for (num, label), grp in table.groupby(["job", "label"], sort=True):
            by = {(r.target_id, r.year): r for r in grp.itertuples()}
            out.append(f"| {num} | {_md_escape(label)} | " + " | ".join(cell(by[c]) if c in by else "–" for c in cols) + " |")
        return out + [""]

    def change(fmt):
        # the reference's own row: no change to show
        return lambda r: "reference" if r.job == r.reference_job else fmt(r)

    thr = ", ".join(f"{t} {y}: {r.comparison}{r.threshold:g} {r.unit}{' (assumption)' if r.threshold_source != 'seed' else ''}"
                    for (t, y), r in table.drop_duplicates(["target_id", "year"]).set_index(["target_id", "year"]).iterrows())
    lines += block("Probability that the target is met", f"P(met) with its 95 % Wilson interval. Thresholds: {thr}.",
                   lambda r: _fmt_p(r.p_met, r.p_met_lo, r.p_met_hi))
    paired = bool(table["paired"].all())
    lines += block("Change in P(met) from the reference",
                   "Difference with its 95 % interval (Tango's score interval), "
                   + ("paired: replicate r of every job shares its seeds (common random numbers)."
                      if paired else "paired where jobs share seed, replicates and scale, otherwise independent (column `paired`)."),
                   change(lambda r: _fmt_d(r.diff_p_met, r.diff_p_met_lo, r.diff_p_met_hi)))
    lines += block("Median of each target's indicator", "Median over replicates, with the change from the reference "
                   "and its 95 % bootstrap interval (replicates resampled in pairs).",
                   lambda r: f"{r.median:.2f}" + ("" if r.job == r.reference_job
                                                  else f" ({_fmt_d(r.diff_median, r.diff_median_lo, r.diff_median_hi)})"))
    diffs = table[table["job"] != table["reference_job"]]
    w_p = (diffs["diff_p_met_hi"] - diffs["diff_p_met_lo"]).to_numpy(float)
    w_u = (diffs["diff_p_met_hi_unpaired"] - diffs["diff_p_met_lo_unpaired"]).to_numpy(float)
    ok = np.isfinite(w_p) & np.isfinite(w_u) & (w_u > 0)
    if ok.any():
        lines += [f"Pairing: the paired intervals of the changes in P(met) are on average {np.mean(w_p[ok] / w_u[ok]):.0%} "
                  "as wide as those of independent runs of the same size.", ""]
    lines += cost_markdown(table, attribution)
    bad = [j for j in jobs if j.status != "complete"]
    if bad:
        lines += ["## Jobs without results", ""]
        lines += [f"- job {j.num} ({_md_escape(j.label)}): {j.status}" + (f": {_md_escape(j.error)}" if j.error else "")
                  for j in bad]
        lines += ["", "Re-run the same command to run them again; complete jobs are skipped.", ""]
    return "\n".join(lines)


def _money(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:,.1f}"


def _money_d(d: float, lo: float, hi: float) -> str:
    return "–" if not np.isfinite(d) else f"{d:+,.1f} [{lo:+,.1f}, {hi:+,.1f}]"


def cost_markdown(table: pd.DataFrame, attribution: pd.DataFrame | None) -> list[str]:
    """The fiscal-cost sections of the aggregate: totals and fund money per job with their changes,
    the levers each change comes from, and cost-effectiveness under COST_EFFECTIVENESS_RULE."""
    jobs = table.drop_duplicates("job").sort_values("job")
    lines = ["## Fiscal cost and fund money", "",
             "Fiscal cost: mean over replicates of the whole projection (grants and fund commitments), CNY 100 million; "
             f"fund budget and deployment: what the funds meant to invest and invested in {FUND_YEAR} (crowd-in included; "
             "not fiscal cost). Changes from the reference with their 95 % intervals (paired t intervals where the jobs "
             "share their seeds).", "",
             f"| job | label | fiscal cost | change | fund budget {FUND_YEAR} | change | fund deployed {FUND_YEAR} | change |",
             "|---|---|---|---|---|---|---|---|"]
    for r in jobs.itertuples():
        ref = r.job == r.reference_job
        cell = (lambda k: "reference") if ref else (lambda k: _money_d(getattr(r, f"diff_{k}_cny_100m"), getattr(r, f"diff_{k}_lo"),
                                                                       getattr(r, f"diff_{k}_hi")))
        lines.append(f"| {r.job} | {_md_escape(r.label)} | {_money(r.cost_cny_100m)} | {cell('cost')} | "
                     f"{_money(r.fund_budget_cny_100m)} | {cell('fund_budget')} | {_money(r.fund_deployed_cny_100m)} | "
                     f"{cell('fund_deployed')} |")
    lines.append("")
    if attribution is not None and not attribution.empty:
        lines += ["### Where each change in fiscal cost comes from", "",
                  "The change of each lever's spending over the projection (means add up to the job's change); levers "
                  "whose spending does not change are left out.", ""]
        for (num, label), grp in attribution.groupby(["job", "label"], sort=True):
            if (jobs.loc[jobs["job"] == num, "reference_job"] == num).all():
                continue
            moved = grp[(grp["change_cny_100m"].abs() >= 0.05) | (grp["change_lo"] > 0) | (grp["change_hi"] < 0)]
            items = [f"`{x.lever}`" + (f" (art. {int(x.article)})" if pd.notna(x.article) and x.article else "")
                     + f" {_money_d(x.change_cny_100m, x.change_lo, x.change_hi)}"
                     for x in moved.sort_values("change_cny_100m", key=np.abs, ascending=False).itertuples()]
            lines.append(f"- job {num} ({_md_escape(label)}): " + ("; ".join(items) if items else "no lever's spending changes"))
        lines.append("")
    lines += ["### Cost-effectiveness", "", f"Rule: {COST_EFFECTIVENESS_RULE}.", ""]
    for r in jobs.itertuples():
        if r.job == r.reference_job:
            continue
        rows = table[(table["job"] == r.job) & (table["year"] == FUND_YEAR)]
        if not r.cost_effective:
            why = ("the fiscal cost falls" if r.diff_cost_cny_100m < 0 else
                   "the extra cost is within its own noise" if r.diff_cost_lo <= 0 else "the extra cost is below the minimum")
            lines.append(f"- job {r.job} ({_md_escape(r.label)}): not shown ({why}: {_money_d(r.diff_cost_cny_100m, r.diff_cost_lo, r.diff_cost_hi)}).")
            continue
        eff = "; ".join(f"{x.target_id} {_fmt_d(x.dp_per_100m, x.dp_per_100m_lo, x.dp_per_100m_hi, 3)} pp"
                        for x in rows.itertuples())
        lines.append(f"- job {r.job} ({_md_escape(r.label)}), per CNY 100 m of extra cost ({FUND_YEAR} targets): {eff}.")
    return lines + [""]


def markdown_section(md: str, title: str) -> str:
    """One '## title' section of aggregate.md (for the terminal at the end of a sweep)."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", md, flags=re.S | re.M)
    return f"## {title}\n{m.group(1)}".rstrip() if m else ""


def aggregate(sweep_dir: Path, *, reference: str = "baseline", plots: bool = True) -> tuple[Path, list[Job]]:
    """Build (or rebuild) the sweep's aggregate/ folder: aggregate.parquet, aggregate.md,
    comparison.png, manifest.json (last). Returns its path and the jobs with their status."""
    sweep_dir = Path(sweep_dir)
    jobs = load_jobs(sweep_dir)
    plan = read_plan(sweep_dir)
    table, ref, how = aggregate_table(jobs, reference)
    attribution = cost_attribution(jobs, ref)
    writer = RunWriter(sweep_dir / AGGREGATE)
    try:
        table.to_parquet(writer.path("aggregate.parquet"), index=False)
        attribution.to_csv(writer.path("cost_by_lever.csv"), index=False)
        writer.path("aggregate.md").write_text(aggregate_markdown(table, jobs, how, plan, attribution), encoding="utf-8")
        # a figure of one row per job stops being readable beyond a few dozen (an analysis design)
        if plots and not table.empty and table["job"].nunique() <= MAX_JOBS_IN_FIGURE:
            from simmodel.report import plots as plots_mod

            plots_mod.save(plots_mod.comparison_chart(table), writer.path("comparison.png"))
        manifest = {"task": "aggregate", "sweep": str(sweep_dir), "reference": how, "created_utc": _now(),
                    "jobs": [{"num": j.num, "label": j.label, "status": j.status, "path": j.path.name,  # relative: the sweep folder may move
                              "error": j.error, "manifest_sha256": file_sha256(j.path / MANIFEST) if j.status == "complete" else None}
                             for j in jobs],
                    "packages": package_versions(), "code": code_version()}
        path = writer.commit(manifest, replace=True)
    except BaseException:
        writer.abort()
        raise
    return path, jobs


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def _atomic_json(path: Path, obj) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    write_json(tmp, obj)
    os.replace(tmp, path)
