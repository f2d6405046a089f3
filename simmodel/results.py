"""Run folders on disk: trajectories, summary, manifest, figures; written atomically.

A run folder is written under a temporary name next to its final place and renamed only when every
file is in it; the manifest, with the SHA-256 of every other file, is written last. A reader that
finds no manifest, or a file whose checksum differs, refuses the folder.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import json
import math
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel import interrupts
from simmodel.errors import SimmodelError
from simmodel.indicators import INDICATORS, Target

MANIFEST = "manifest.json"
SUMMARY = "summary.json"
TRAJECTORIES = "trajectories.parquet"
DRAWS = "draws.parquet"  # what each replicate drew: replicate, source, name, value
FISCAL = "fiscal.parquet"  # fiscal cost by replicate, lever and year: replicate, lever, year, cny_100m
# The layout of the folders RunWriter publishes (file names, manifest keys). A reader refuses a folder
# of another format rather than misread it. Folders written before the manifest recorded it have this
# layout, so a manifest without "format" counts as format 1.
FORMAT = 1
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


def difference_interval(scenario: np.ndarray, reference: np.ndarray, *, paired: bool,
                        z: float = 1.959963984540054) -> tuple[float, float, float]:
    """Difference of two proportions, P(scenario) - P(reference), with its 95 % interval.

    scenario, reference: booleans, one per replicate. Paired (replicate r of both runs shares its
    seeds: common random numbers): Tango's score interval for the difference of paired
    proportions (Tango 1998, Stat Med 17:891), which rests on the discordant replicates only, so a
    lever that moves few replicates gets a narrow interval. (Newcombe's hybrid method 10 was tried
    first: 88 % coverage at nominal 95 % with strongly correlated pairs; Tango's gave 93-97 %,
    tests/unit/test_sweep.py.) Not paired: Newcombe's hybrid score interval for independent
    samples (Newcombe 1998, Stat Med 17:873, method 10). Both stay inside [-1, 1] and behave at
    p = 0 or 1. Returns (difference, low, high).
    """
    s = np.asarray(scenario, bool)
    r = np.asarray(reference, bool)
    n1, n2 = s.size, r.size
    if n1 == 0 or n2 == 0:
        return (float("nan"),) * 3
    if paired:
        if n1 != n2:
            raise ValueError("paired difference needs the same number of replicates in both runs")
        return _tango_interval(float(np.sum(s & ~r)), float(np.sum(~s & r)), n1, z)
    p1, p2 = s.mean(), r.mean()
    l1, u1 = wilson_interval(int(s.sum()), n1, z)
    l2, u2 = wilson_interval(int(r.sum()), n2, z)
    diff = float(p1 - p2)
    lo = max(-1.0, diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2))
    hi = min(1.0, diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))
    return diff, float(min(lo, diff)), float(max(hi, diff))


def _tango_interval(b: float, c: float, n: int, z: float) -> tuple[float, float, float]:
    """Tango's score interval: b replicates where only the scenario meets the target, c where only
    the reference does, n pairs. Inverts the score statistic with the constrained MLE of c/n."""
    from scipy.optimize import brentq

    diff = (b - c) / n

    def score(d: float) -> float:
        a2, b2, c2 = 2 * n, -b - c + (2 * n - b + c) * d, -c * d * (1 - d)
        q = (math.sqrt(max(b2 * b2 - 4 * a2 * c2, 0.0)) - b2) / (2 * a2)
        num, var = b - c - n * d, n * (2 * q + d * (1 - d))
        return num / math.sqrt(var) if var > 0 else math.copysign(math.inf, num) if num else 0.0

    eps = 1e-12
    lo = -1.0 if diff <= -1 + eps or score(-1 + eps) <= z else brentq(lambda d: score(d) - z, -1 + eps, diff)
    hi = 1.0 if diff >= 1 - eps or score(1 - eps) >= -z else brentq(lambda d: score(d) + z, diff, 1 - eps)
    return float(diff), float(min(lo, diff)), float(max(hi, diff))


def median_difference_interval(scenario: np.ndarray, reference: np.ndarray, *, paired: bool, resamples: int = 2000,
                               seed: int = 0) -> tuple[float, float, float]:
    """median(scenario) - median(reference) with a 95 % percentile bootstrap interval.

    Paired: replicates are resampled together (replicate r of both runs), which keeps the common
    random numbers' correlation; otherwise each run is resampled on its own. Fixed seed: the same
    folders always give the same interval. Returns (difference, low, high), in the indicator's unit.
    """
    s = np.asarray(scenario, float)
    r = np.asarray(reference, float)
    if s.size == 0 or r.size == 0:
        return (float("nan"),) * 3
    rng = np.random.default_rng(seed)
    diff = float(np.median(s) - np.median(r))
    if paired:
        if s.size != r.size:
            raise ValueError("paired difference needs the same number of replicates in both runs")
        idx = rng.integers(0, s.size, (resamples, s.size))
        boot = np.median(s[idx], axis=1) - np.median(r[idx], axis=1)
    else:
        boot = (np.median(s[rng.integers(0, s.size, (resamples, s.size))], axis=1)
                - np.median(r[rng.integers(0, r.size, (resamples, r.size))], axis=1))
    lo, hi = np.quantile(boot, [0.025, 0.975])
    return diff, float(min(lo, diff)), float(max(hi, diff))


def trajectories_frame(per_replicate: list[pd.DataFrame]) -> pd.DataFrame:
    """Long table: replicate, year, indicator, value; replicate by replicate, each indicator's years
    in turn (pandas' melt of each replicate's year x indicator frame)."""
    first = per_replicate[0] if per_replicate else None
    if first is not None and first.index.name == "year" and all(
            w.columns.equals(first.columns) and w.index.equals(first.index) for w in per_replicate):
        # the replicates share their years and indicators (a run's always do): one reshape of their
        # stacked values instead of a melt each (0.086 -> 0.0015 s for 20 replicates of 7 years)
        values = np.stack([w.to_numpy() for w in per_replicate]).transpose(0, 2, 1).ravel()
        n_rep, (n_years, n_ind) = len(per_replicate), first.shape
        out = pd.DataFrame({"replicate": np.repeat(np.arange(n_rep, dtype=np.int32), n_years * n_ind),
                            "year": np.tile(first.index.to_numpy(), n_ind * n_rep).astype(np.int32),
                            "indicator": np.tile(np.repeat(first.columns.to_numpy(), n_years), n_rep),
                            "value": values})
        out["indicator"] = out["indicator"].astype(str)
        return out
    return melted_one_by_one(per_replicate)


def melted_one_by_one(per_replicate: list[pd.DataFrame]) -> pd.DataFrame:
    """trajectories_frame by a melt of each replicate's frame in turn (frames of different years or
    indicators; the tests compare the one reshape with it)."""
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


def fiscal_frame(fiscal: list[dict[str, list[float]]], years: list[int]) -> pd.DataFrame:
    """Long table of each replicate's fiscal cost: replicate, lever, year, cny_100m (CNY 100 m); the
    sweep attributes a change in cost to the levers that caused it from it, replicate by replicate."""
    rows = [(r, lever, y, float(v)) for r, f in enumerate(fiscal) for lever, per in f.items() for y, v in zip(years, per)]
    out = pd.DataFrame(rows, columns=["replicate", "lever", "year", "cny_100m"])
    return out.astype({"replicate": "int32", "year": "int32", "lever": str, "cny_100m": float})


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


def check_folder_name(name: str, what: str) -> str:
    """A name that becomes one folder under the results root: one plain path component, so that no
    scenario, run or task name can put results elsewhere ('../x', '/abs', 'a/b', '.hidden')."""
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}$", name) or ".." in name:
        raise ResultsError(f"{what} {name!r} cannot name a results folder: allowed letters, digits, '_', '-', '.', '+', "
                           "starting with a letter or digit, at most 100 characters, no '..'")
    return name


def new_run_dir(root: Path, task: str, slug: str) -> Path:
    """results/<task>/<scenario>/<timestamp>/ (not created), unique even within one second."""
    check_folder_name(task, "task")
    check_folder_name(slug, "scenario")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(root) / task / slug
    path = base / stamp
    k = 2
    while path.exists() or any(base.glob(f".tmp-{path.name}@*")):
        path = base / f"{stamp}-{k}"
        k += 1
    return path


_HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    """Whether process pid of this host runs; a zombie (ended, its parent not yet told) does not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    try:  # Linux: the state follows the command name, which may itself hold ") "
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2:][:1] not in ("Z", "X")
    except (OSError, ValueError):
        return True


def clear_stale_tmp(folder: Path, prefix: str = "", *, wait_seconds: float = 0.0) -> list[Path]:
    """Remove the temporary folders in folder that a dead process of this host left (a run killed
    with SIGKILL); those of live processes and of other hosts stay. Returns what was removed.

    wait_seconds: wait up to this long for the writers of this host's remaining folders (other than
    this process) to end, removing each folder as its writer goes: after an interrupt, for workers
    that a launcher is killing."""
    removed: list[Path] = []
    if not Path(folder).is_dir():
        return removed
    deadline = time.monotonic() + wait_seconds
    mine = str(os.getpid())
    while True:
        waiting = False
        for tmp in Path(folder).glob(f".tmp-{prefix}*@*@*"):
            _, host, pid = tmp.name.rsplit("@", 2)
            if host != _HOST or not pid.isdigit():
                continue
            if not _alive(int(pid)):
                shutil.rmtree(tmp, ignore_errors=True)
                removed.append(tmp)
            elif pid != mine:
                waiting = True
        if not waiting or time.monotonic() >= deadline:
            return removed
        time.sleep(0.05)


class RunWriter:
    """Collects a run's files in a temporary folder and publishes it in one rename."""

    def __init__(self, final: Path):
        self.final = Path(final)
        # host and pid in the name: a folder left by a killed process (SIGKILL, a lost node) can be
        # told from one still being written, even when several nodes share the results folder
        self.tmp = self.final.parent / f".tmp-{self.final.name}@{_HOST}@{os.getpid()}"
        clear_stale_tmp(self.final.parent)
        self.tmp.mkdir(parents=True, exist_ok=False)

    def path(self, name: str) -> Path:
        return self.tmp / name

    def commit(self, manifest: dict, *, replace: bool = False) -> Path:
        """Write the manifest last and publish the folder. replace=True swaps out an existing folder
        (a sweep job re-run because its config or code changed, a sweep's aggregate); the old one is
        removed only after the new one is in place. A stop signal noted meanwhile (one whose
        KeyboardInterrupt Python dropped) stops the publication here."""
        interrupts.check()
        files = {p.relative_to(self.tmp).as_posix(): _sha256(p) for p in sorted(self.tmp.rglob("*")) if p.is_file()}
        manifest = {"format": FORMAT, **manifest, "files": files, "complete": True}
        write_json(self.tmp / MANIFEST, manifest)  # last: its presence means the folder is complete
        old = None
        if self.final.exists():
            if replace:
                old = self.final.parent / f".old-{self.final.name}-{os.getpid()}"
                os.replace(self.final, old)
            elif any(self.final.iterdir()):
                # a folder made by Hydra's multirun for this job: only an empty one may be replaced
                raise ResultsError(f"results folder {self.final} already exists and is not empty")
            else:
                self.final.rmdir()
        try:
            os.replace(self.tmp, self.final)
        except OSError as exc:
            # another process published the same folder between the check above and this rename (two
            # sweep jobs computing the same paired no_new_policy run): its copy is complete, as a
            # folder appears only by a rename after its manifest is written
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not self.final.is_dir():
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
            raise ResultsError(f"results folder {self.final} was published by another process while this one "
                               "was being written") from None
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def read_manifest(path: Path, required: tuple[str, ...] = ()) -> dict:
    """The manifest of a complete folder, after checking its format and every file's checksum;
    ``required``: files the folder must hold. Raises ResultsError saying what is wrong."""
    path = Path(path)
    man_path = path / MANIFEST
    if not man_path.is_file():
        raise ResultsError(f"{path} is not a complete results folder: {MANIFEST} is missing")
    try:
        manifest = json.loads(man_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{man_path} is corrupt ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ResultsError(f"{man_path} is corrupt: expected an object with a 'files' table of checksums")
    fmt = manifest.get("format", 1)
    if fmt != FORMAT:
        raise ResultsError(f"{path} is in results format {fmt!r}; this simmodel reads format {FORMAT} only "
                           "(written by another version: use that version, or re-run to write it again)")
    missing = [name for name in required if name not in manifest["files"]]
    if missing:
        raise ResultsError(f"{path}: its manifest does not list {', '.join(missing)}; not a complete folder of this kind")
    for name, digest in manifest["files"].items():
        f = path / name
        if not f.is_file():
            raise ResultsError(f"{path}: {name} listed in the manifest is missing")
        if _sha256(f) != digest:
            raise ResultsError(f"{path}: {name} does not match its checksum in the manifest (modified or corrupt)")
    return manifest


def read_run(path: Path) -> tuple[pd.DataFrame, dict, dict]:
    """Read a complete run folder (trajectories, summary, manifest), verifying checksums."""
    path = Path(path)
    manifest = read_manifest(path, (TRAJECTORIES, SUMMARY))
    traj = pd.read_parquet(path / TRAJECTORIES)
    summary = json.loads((path / SUMMARY).read_text(encoding="utf-8"))
    return traj, summary, manifest


def python_command() -> str:
    return " ".join([Path(sys.argv[0]).name] + sys.argv[1:])
