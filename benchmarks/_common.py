"""What the benchmark scripts share: the inputs, population sizes in firms, per-stage timing of the
vectorised model, and a description of the machine."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
import sys
import time
import types
from collections import defaultdict
from collections.abc import Callable
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


# The parts of start_year (the big actors' yearly decisions), each the calls SimModel.start_year makes
# of one function or method: where the fixed yearly cost goes that dominates small populations.
# "other" is start_year less its parts and the firms' yearly rates (cities, fund commitments, talent
# incentives, the draws and the bookkeeping between the calls).
YEAR_PARTS = ("funds", "grants", "ladder", "markets", "talents", "projects", "zones_clusters", "ai_plus", "other")


def year_part_calls(model: SimModel) -> list[tuple[object, str, str]]:
    """(object, function or method, part) for every call of start_year that YEAR_PARTS times; the
    functions are looked up in the simulation module, so that is where they are wrapped."""
    from simmodel.model import simulation

    g = model.government
    return [(simulation, "fund_year", "funds"), (g, "award_grants", "grants"), (simulation, "climb_ladder", "ladder"),
            (g, "open_markets", "markets"), (model.talent, "recruit", "talents"), (g, "attract_projects", "projects"),
            (g, "designate_pilot_zones", "zones_clusters"), (g, "bid_national_clusters", "zones_clusters"),
            (simulation, "adopt_ai_plus", "ai_plus")]


def instrument(model: SimModel) -> tuple[dict[str, float], dict[str, float], Callable[[], None]]:
    """Wrap the model's stage methods so that their seconds add up in the first returned dict (the
    firms' yearly rates count under refresh_rates only for the call that covers every firm; the
    calls for entrants count in the stage that made them), and the parts of start_year in the second
    (YEAR_PARTS but "other"). The third undoes the wrapping of the simulation module's functions,
    which outlives the model: call it when the run is over."""
    out: dict[str, float] = defaultdict(float)
    parts: dict[str, float] = defaultdict(float)
    undo: list[tuple[object, str, object]] = []

    def wrap(obj, attr: str, key: str, only_all: bool = False, into: dict[str, float] = out) -> None:
        fn = getattr(obj, attr)

        def timed(*a, **k):
            t = time.perf_counter()
            r = fn(*a, **k)
            if not only_all or (len(a) < 2 and "sl" not in k):
                into[key] += time.perf_counter() - t
            return r

        if isinstance(obj, types.ModuleType):
            undo.append((obj, attr, fn))
        setattr(obj, attr, timed)

    for obj, attr, key, only_all in stage_methods(model):
        wrap(obj, attr, key, only_all)
    for obj, attr, key in year_part_calls(model):
        wrap(obj, attr, key, into=parts)

    def restore() -> None:
        for obj, attr, fn in reversed(undo):
            setattr(obj, attr, fn)

    return out, parts, restore


def run_timed(model: SimModel, quarters: int | None = None) -> dict:
    """Run ``quarters`` steps (all by default) and return seconds by stage (STAGES, start_year
    without the firms' rates) and by part of start_year (YEAR_PARTS), the total, the firm stages'
    part, firm-steps (firms alive at the start of each step, summed) and the years begun (start_year's
    calls). Then close the model (SimModel.close), as the ensemble's runner closes each replicate's:
    the next model of the process reuses its memory instead of faulting in fresh pages (until 6
    December the harness left each model to Python's cycle collector, and a timed run could fall
    after a collection or before one: at 100 000 firms the first four quarters took 18.6-18.9 ms
    with 1 206 page faults, 16.8 ms with none)."""
    raw, parts, restore = instrument(model)
    first = model.q
    end = model.n_quarters if quarters is None else min(model.q + quarters, model.n_quarters)
    firm_steps = 0
    total = 0.0
    try:
        while model.q < end:
            firm_steps += int(model.firms.alive.sum())
            t = time.perf_counter()
            model.step()
            total += time.perf_counter() - t
    finally:
        restore()
    firms_end, slots_end = int(model.firms.alive.sum()), model.firms.n
    model.close()
    by_stage = {k: raw.get(k, 0.0) for k in STAGES}
    by_stage["start_year"] -= by_stage["refresh_rates"]
    by_stage["age_aggregates"] = total - sum(v for k, v in by_stage.items() if k != "age_aggregates")
    year_parts = {k: parts.get(k, 0.0) for k in YEAR_PARTS}
    year_parts["other"] = by_stage["start_year"] - sum(year_parts.values())
    return {"seconds": total, "by_stage": by_stage, "year_parts": year_parts,
            "firm_stage_seconds": sum(by_stage[k] for k in FIRM_STAGES), "firm_steps": firm_steps, "quarters": end,
            "years": sum(q % 4 == 0 for q in range(first, end)), "firms_end": firms_end, "slots_end": slots_end}


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
