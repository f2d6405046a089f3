"""Sweep throughput: replicates per minute at 1:1 scale through the real CLI and Hydra launchers.

Runs the same sweep (several scenarios, a few replicates each, one process per job) with the basic
launcher (jobs one after another) and with hydra/launcher=joblib on every core, and prints the
throughput of each and their ratio. A third line, the basic launcher with workers=0 (each job
spreads its replicates over the cores itself), shows what a single job can already use.

    .venv/bin/python benchmarks/bench_sweep.py [--quick] [--scenarios a,b,c,d] [--replicates 20] [--scale 1] [--json PATH]

Wall time includes what a user waits for: start-up, loading and synthesising the population,
writing each job's folder and the aggregate (figures off: they cost the same whatever the launcher).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def sweep(cwd: Path, scenarios: str, replicates: int, scale: float, extra: list[str]) -> float:
    args = [str(BIN / "simmodel"), "run", "-m", f"scenario={scenarios}", f"replicates={replicates}",
            f"population.scale={scale}", "seed=11", "output.progress=false", "output.plots=false",
            "assumption_sensitivity.enabled=false", *extra]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    t0 = time.perf_counter()
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        sys.exit(f"sweep failed ({' '.join(extra) or 'basic'}):\n{proc.stderr[-3000:]}")
    return wall


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", default="baseline,land_tight,subsidy_half,fund_life_8y")
    ap.add_argument("--replicates", type=int, default=20, help="replicates per job (fixed start-up costs weigh less with more)")
    ap.add_argument("--scale", type=float, default=1.0, help="population scale (1 = one agent per firm)")
    ap.add_argument("--quick", action="store_true", help="two tiny jobs: checks that the script runs")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    if args.quick:
        args.scenarios, args.replicates, args.scale = "baseline,land_tight", 2, 0.01
    n_jobs = len(args.scenarios.split(","))
    total = n_jobs * args.replicates
    cores = os.cpu_count()
    print(f"sweep throughput: {n_jobs} jobs x {args.replicates} replicates at scale {args.scale:g}; "
          f"{platform.processor() or platform.machine()}, {cores} cores, Python {platform.python_version()}")
    runs = [("basic, workers=1 (one job at a time, one core)", ["workers=1"]),
            (f"joblib, n_jobs={cores}, workers=1 (jobs side by side)", ["hydra/launcher=joblib", f"hydra.launcher.n_jobs={cores}", "workers=1"]),
            ("basic, workers=0 (one job at a time, its replicates over the cores)", ["workers=0"])]
    rates = {}
    for name, extra in runs:
        cwd = Path(tempfile.mkdtemp(prefix="bench_sweep_"))
        try:
            wall = sweep(cwd, args.scenarios, args.replicates, args.scale, extra)
        finally:
            shutil.rmtree(cwd, ignore_errors=True)
        rates[name] = total / wall * 60
        print(f"  {name:<72} {wall:7.1f} s  {rates[name]:6.1f} replicates/min")
    basic, joblib = rates[runs[0][0]], rates[runs[1][0]]
    print(f"joblib / basic: {joblib / basic:.2f}x (ideal {cores}x)")
    res = {"jobs": n_jobs, "replicates_per_job": args.replicates, "scale": args.scale, "cores": cores, "quick": args.quick,
           "replicates_per_min": rates, "joblib_over_basic": joblib / basic}
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
