"""What the benchmark scripts share: the inputs, population sizes in firms, per-stage timing of the
vectorised model, and a description of the machine."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs
from simmodel.model import ModelInputs, SimModel

# Parts of a vectorised step, in order. "age_aggregates" is what step() does inline (ageing, the
# sector aggregates, bookkeeping): the step's time less every named part.
STAGES = ("start_year", "refresh_rates", "talent", "innovate", "grow", "exit", "enter", "age_aggregates", "close_year")
# The firm stages proper, which the idiomatic reference reimplements per agent; the rest (start_year
# without the firms' rates, talents, close_year) is shared code in both.
FIRM_STAGES = ("refresh_rates", "innovate", "grow", "exit", "enter", "age_aggregates")


def baseline() -> tuple[ModelInputs, RunConfig]:
    cfg = RunConfig()
    inputs, _ = load_inputs(cfg)
    return inputs, cfg


def firms_at_scale_one(inputs: ModelInputs, cfg: RunConfig) -> int:
    """Firms alive in the base year at 1:1 scale (one synthesis, seed 0)."""
    return int(SimModel(inputs, cfg.levers, cfg.uncertainties, scale=1.0, seed=0).firms.alive.sum())


def scale_for(n_firms: int, n_scale_one: int) -> float:
    """Population scale whose base year holds about ``n_firms`` firms."""
    return n_firms / n_scale_one


def stage_methods(model: SimModel) -> list[tuple[object, str, str, bool]]:
    """(object, method, stage, only_all) for every method a stage of the step is made of; only_all:
    the firms' yearly rates, which count as their own stage only when computed for every firm."""
    out = [(model, name, name, False) for name in ("start_year", "innovate", "grow", "exit", "enter", "close_year")]
    return out + [(model, "refresh_rates", "refresh_rates", True), (model.talent, "retain", "talent", False),
                  (model.talent, "release_dead", "talent", False)]


def instrument(model: SimModel) -> dict[str, float]:
    """Wrap the model's stage methods so that their seconds add up in the returned dict (the
    firms' yearly rates count under refresh_rates only for the call that covers every firm; the
    calls for entrants count in the stage that made them)."""
    out: dict[str, float] = defaultdict(float)

    def wrap(obj, attr: str, key: str, only_all: bool = False) -> None:
        fn = getattr(obj, attr)

        def timed(*a, **k):
            t = time.perf_counter()
            r = fn(*a, **k)
            if not only_all or (len(a) < 2 and "sl" not in k):
                out[key] += time.perf_counter() - t
            return r

        setattr(obj, attr, timed)

    for obj, attr, key, only_all in stage_methods(model):
        wrap(obj, attr, key, only_all)
    return out


def run_timed(model: SimModel, quarters: int | None = None) -> dict:
    """Run ``quarters`` steps (all by default) and return seconds by stage (STAGES, start_year
    without the firms' rates), the total, the firm stages' part, and firm-steps (firms alive at the
    start of each step, summed)."""
    raw = instrument(model)
    end = model.n_quarters if quarters is None else min(model.q + quarters, model.n_quarters)
    firm_steps = 0
    total = 0.0
    while model.q < end:
        firm_steps += int(model.firms.alive.sum())
        t = time.perf_counter()
        model.step()
        total += time.perf_counter() - t
    by_stage = {k: raw.get(k, 0.0) for k in STAGES}
    by_stage["start_year"] -= by_stage["refresh_rates"]
    by_stage["age_aggregates"] = total - sum(v for k, v in by_stage.items() if k != "age_aggregates")
    return {"seconds": total, "by_stage": by_stage, "firm_stage_seconds": sum(by_stage[k] for k in FIRM_STAGES),
            "firm_steps": firm_steps, "quarters": end, "firms_end": int(model.firms.alive.sum()), "slots_end": model.firms.n}


def _lscpu() -> dict[str, str]:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return {}
    return {k.strip(): v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def machine() -> dict[str, str]:
    """CPU model, cores, caches, RAM, Python and package versions, date and git commit."""
    cpu = _lscpu()
    try:
        ram_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    except (ValueError, OSError):
        ram_gb = float("nan")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        # RESULTS.md is what the benchmarks write, not code they measure
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/RESULTS.md"],
                               cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
        commit += " (with uncommitted changes)" if dirty else ""
    except (OSError, subprocess.CalledProcessError):
        commit = "unknown"
    versions = {}
    for pkg in ("numpy", "mesa", "scipy", "pandas"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "absent"
    return {
        "cpu": cpu.get("Model name", platform.processor() or platform.machine()),
        "cores": str(os.cpu_count()),
        "l2_cache": cpu.get("L2 cache", "?"), "l3_cache": cpu.get("L3 cache", "?"),
        "ram_gb": f"{ram_gb:.1f}",
        "python": platform.python_version(),
        **versions,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="minutes"),
        "commit": commit,
        "load_average_1min": f"{os.getloadavg()[0]:.2f}",
    }


def verdict(met: bool, margin: str) -> str:
    return f"{'met' if met else 'MISSED'} ({margin})"
