"""Speed and memory of one replicate of the baseline (2025Q1-2030Q4), printed as figures.

    .venv/bin/python benchmarks/bench_replicate.py [--repeats 5] [--scales 0.25,0.5,1,2,4]

Prints: the number of firms at 1:1 scale, seconds per replicate (median of repeats, one process,
one core), peak resident memory of a process that runs one replicate, the share of time per stage,
and the time per firm-step at several population scales with the fitted scaling exponent of each
stage (1 = linear; the goal is nothing worse than n log n, i.e. an exponent near 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simmodel.config import RunConfig  # noqa: E402
from simmodel.ensemble import load_inputs  # noqa: E402
from simmodel.model import SimModel  # noqa: E402

STAGES = ("start_year", "innovate", "grow", "exit", "enter", "close_year")


def timed_run(inputs, cfg, scale: float, seed: int) -> tuple[float, float, dict[str, float], int, int]:
    """(init seconds, run seconds, seconds by stage, firms at start, firm-steps)."""
    t0 = time.perf_counter()
    model = SimModel(inputs, cfg.levers, cfg.uncertainties, scale=scale, seed=seed)
    t1 = time.perf_counter()
    by_stage: dict[str, float] = defaultdict(float)
    for name in STAGES:
        fn = getattr(model, name)

        def wrapper(*a, _fn=fn, _name=name, **k):
            s = time.perf_counter()
            out = _fn(*a, **k)
            by_stage[_name] += time.perf_counter() - s
            return out

        setattr(model, name, wrapper)
    n0 = int(model.firms.alive.sum())
    firm_steps = 0
    t2 = time.perf_counter()
    while model.q < model.n_quarters:
        firm_steps += int(model.firms.alive.sum())
        model.step()
    t3 = time.perf_counter()
    return t1 - t0, t3 - t2, dict(by_stage), n0, firm_steps


def peak_memory_mb(scale: float) -> float:
    """Peak RSS (MB) of a fresh process that loads inputs and runs one replicate."""
    code = (
        "import sys, resource; sys.path.insert(0, %r)\n"
        "from simmodel.config import RunConfig\nfrom simmodel.ensemble import load_inputs\nfrom simmodel.model import SimModel\n"
        "cfg = RunConfig(); inputs, _ = load_inputs(cfg)\n"
        "SimModel(inputs, cfg.levers, cfg.uncertainties, scale=%r, seed=1).run()\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n" % (str(ROOT), scale))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scales", default="0.25,0.5,1,2,4")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args()
    cfg = RunConfig()
    inputs, _ = load_inputs(cfg)
    print(f"machine: {platform.machine()} {platform.processor() or ''} cores={os.cpu_count()} python={platform.python_version()} numpy={np.__version__}")

    timed_run(inputs, cfg, 1.0, 0)  # warm-up (imports, caches)
    runs = [timed_run(inputs, cfg, 1.0, seed) for seed in range(1, args.repeats + 1)]
    init = statistics.median(r[0] for r in runs)
    run = statistics.median(r[1] for r in runs)
    n0 = runs[0][3]
    stage_tot = defaultdict(float)
    for r in runs:
        for k, v in r[2].items():
            stage_tot[k] += v
    total_stage = sum(stage_tot.values())
    mem = peak_memory_mb(1.0)
    print(f"\nbaseline at 1:1 scale, {len(inputs.cities.ids)} cities, {inputs.sectors.n} sectors, 24 quarterly steps (2025Q1-2030Q4)")
    print(f"  firms at start:            {n0}")
    print(f"  seconds per replicate:     {init + run:.3f} (synthesis and set-up {init:.3f} + simulation {run:.3f}; median of {args.repeats})")
    print(f"  peak memory (RSS, process):{mem:8.0f} MB")
    print(f"  goal: <= 1 s per replicate on one core -> {'met' if init + run <= 1.0 else 'MISSED by %.0f %%' % (100 * (init + run - 1.0))}")
    print("\nshare of simulation time by stage:")
    for k in STAGES:
        print(f"  {k:<12} {100 * stage_tot[k] / total_stage:5.1f} %")

    scales = [float(x) for x in args.scales.split(",")]
    print("\nscaling (one replicate per scale, seed 1): time per firm-step by stage")
    rows = []
    for sc in scales:
        init_s, run_s, stages, n_start, fs = timed_run(inputs, cfg, sc, 1)
        rows.append((sc, n_start, fs, init_s, run_s, stages))
        print(f"  scale {sc:>5}: firms {n_start:>8}  set-up {init_s:6.3f} s  simulation {run_s:6.3f} s  "
              f"{1e9 * run_s / fs:6.0f} ns per firm-step")
    if len(rows) >= 2:
        x = np.log([r[2] for r in rows])
        print("  fitted exponent of time vs firm-steps (1 = linear):")
        for k in STAGES + ("simulation",):
            y = np.log([r[4] if k == "simulation" else max(r[5].get(k, 0.0), 1e-9) for r in rows])
            slope = float(np.polyfit(x, y, 1)[0])
            print(f"    {k:<12} {slope:5.2f}")
    if args.json:
        args.json.write_text(json.dumps({"firms": n0, "seconds_per_replicate": init + run, "peak_rss_mb": mem,
                                         "stage_share": {k: stage_tot[k] / total_stage for k in STAGES}}, indent=2))


if __name__ == "__main__":
    main()
