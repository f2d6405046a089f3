"""Run folders on disk: trajectories, summary, manifest, figures; written atomically.

A run folder is written under a temporary name next to its final place and renamed only when every
file is in it; the manifest, with the SHA-256 of every other file, is written last. A reader that
finds no manifest, or a file whose checksum differs, refuses the folder.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.errors import SimmodelError
from simmodel.indicators import INDICATORS, Target

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
TRAJECTORIES = "trajectories.parquet"
PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "mesa", "statsmodels", "matplotlib", "hydra-core", "omegaconf")


class ResultsError(SimmodelError):
    """A results folder is missing, incomplete or corrupt."""


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval of a binomial proportion (good at p near 0 or 1)."""
    if n == 0:
        return (float("nan"), float("nan"))
    p = successes / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    lo = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: rounding must not
    hi = 1.0 if successes == n else min(1.0, centre + half)  # put the estimate outside its interval
    return (min(lo, p), max(hi, p))


def trajectories_frame(per_replicate: list[pd.DataFrame]) -> pd.DataFrame:
    """Long table: replicate, year, indicator, value."""
    frames = []
    for r, wide in enumerate(per_replicate):
        long = wide.reset_index().melt(id_vars="year", var_name="indicator", value_name="value")
        long.insert(0, "replicate", r)
        frames.append(long)
    out = pd.concat(frames, ignore_index=True)
    out["replicate"] = out["replicate"].astype("int32")
    out["year"] = out["year"].astype("int32")
    out["indicator"] = out["indicator"].astype(str)
    return out


def _q(values: np.ndarray) -> dict[str, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return {k: float("nan") for k in ("median", "p10", "p90", "p025", "p975")}
    qs = np.quantile(v, [0.5, 0.1, 0.9, 0.025, 0.975])
    return dict(zip(("median", "p10", "p90", "p025", "p975"), (float(x) for x in qs)))


def summarise(traj: pd.DataFrame, targets: list[Target], fiscal: list[dict[str, list[float]]], years: list[int],
              lever_articles: dict[str, int], equity_levers: tuple[str, ...]) -> dict:
    """The summary.json content: target probabilities, indicator bands, fiscal cost by lever."""
    wide = traj.pivot_table(index=["replicate", "year"], columns="indicator", values="value")
    n_rep = int(traj["replicate"].nunique())
    out_targets: dict[str, dict[str, dict]] = {}
    for t in targets:
        vals = wide.xs(t.year, level="year")[t.indicator].to_numpy(float)
        met = t.met(vals)
        k = int(met.sum())
        lo, hi = wilson_interval(k, n_rep)
        out_targets.setdefault(t.target_id, {})[str(t.year)] = {
            "indicator": t.indicator, "threshold": t.threshold, "comparison": ">" if t.strict else ">=",
            "unit": t.unit, "threshold_source": t.source, "p_met": k / n_rep, "p_met_ci95": [lo, hi],
            **_q(vals), "n_replicates": n_rep,
        }
    bands: dict[str, dict[str, dict]] = {}
    for name in wide.columns:
        bands[name] = {str(y): _q(wide.xs(y, level="year")[name].to_numpy(float)) for y in sorted(traj["year"].unique())}
    levers = sorted({k for f in fiscal for k in f})
    cost: dict[str, dict] = {}
    for lever in levers:
        per = np.array([f.get(lever, [0.0] * len(years)) for f in fiscal])  # replicate x year
        total = per.sum(axis=1)
        cost[lever] = {
            "article": lever_articles.get(lever), "kind": "equity" if lever in equity_levers else "grant",
            "total_cny_100m": _q(total), "by_year_median_cny_100m": dict(zip(map(str, years), map(float, np.median(per, axis=0)))),
        }
    grants = sum(np.array([f.get(k, [0.0] * len(years)) for f in fiscal]).sum(axis=1) for k in levers if cost[k]["kind"] == "grant") if levers else np.zeros(n_rep)
    equity = sum(np.array([f.get(k, [0.0] * len(years)) for f in fiscal]).sum(axis=1) for k in levers if cost[k]["kind"] == "equity") if levers else np.zeros(n_rep)
    return {
        "targets": out_targets,
        "fiscal_cost_by_lever": cost,
        "fiscal_cost_total_cny_100m": {"grants": _q(np.asarray(grants, float) + np.zeros(n_rep)),
                                       "equity": _q(np.asarray(equity, float) + np.zeros(n_rep))},
        "indicators": bands,
        "indicator_units": {k: v[0] for k, v in INDICATORS.items()},
        "n_replicates": n_rep,
    }


def code_version() -> dict[str, str | bool]:
    """simmodel version and, inside a git checkout, the commit and whether the tree is dirty."""
    from simmodel import __version__

    root = Path(__file__).resolve().parents[1]
    out: dict[str, str | bool] = {"simmodel": __version__}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            out["git_commit"] = commit.stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                                   capture_output=True, text=True, timeout=10)
            out["git_dirty"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if hasattr(obj, "value"):
        return obj.value
    raise TypeError(f"not JSON serialisable: {type(obj)}")


def write_json(path: Path, obj) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default, allow_nan=True) + "\n", encoding="utf-8")


def new_run_dir(root: Path, task: str, slug: str) -> Path:
    """results/<task>/<scenario>/<timestamp>/ (not created), unique even within one second."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / task / slug
    path = base / stamp
    k = 2
    while path.exists() or (base / f".tmp-{path.name}").exists():
        path = base / f"{stamp}-{k}"
        k += 1
    return path


class RunWriter:
    """Collects a run's files in a temporary folder and publishes it in one rename."""

    def __init__(self, final: Path):
        self.final = Path(final)
        self.tmp = self.final.parent / f".tmp-{self.final.name}-{os.getpid()}"
        self.tmp.mkdir(parents=True, exist_ok=False)

    def path(self, name: str) -> Path:
        return self.tmp / name

    def commit(self, manifest: dict) -> Path:
        files = {p.relative_to(self.tmp).as_posix(): _sha256(p) for p in sorted(self.tmp.rglob("*")) if p.is_file()}
        manifest = {**manifest, "files": files, "complete": True}
        write_json(self.tmp / MANIFEST, manifest)  # last: its presence means the folder is complete
        if self.final.exists():
            # a folder made by Hydra's multirun for this job: only an empty one may be replaced
            if any(self.final.iterdir()):
                raise ResultsError(f"results folder {self.final} already exists and is not empty")
            self.final.rmdir()
        os.replace(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def read_run(path: Path) -> tuple[pd.DataFrame, dict, dict]:
    """Read a complete run folder (trajectories, summary, manifest), verifying checksums."""
    path = Path(path)
    man_path = path / MANIFEST
    if not man_path.is_file():
        raise ResultsError(f"{path} is not a complete results folder: {MANIFEST} is missing")
    try:
        manifest = json.loads(man_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{man_path} is corrupt ({exc})") from None
    for name, digest in manifest.get("files", {}).items():
        f = path / name
        if not f.is_file():
            raise ResultsError(f"{path}: {name} listed in the manifest is missing")
        if _sha256(f) != digest:
            raise ResultsError(f"{path}: {name} does not match its checksum in the manifest (modified or corrupt)")
    traj = pd.read_parquet(path / TRAJECTORIES)
    summary = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
    return traj, summary, manifest


def python_command() -> str:
    return " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
