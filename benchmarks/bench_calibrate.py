"""Time of a full default calibration (the replay from 2020) and its number of model evaluations,
printed as figures.

    .venv/bin/python benchmarks/bench_calibrate.py [--quick] [--max-evaluations 400] [--replicates 8] [--json PATH]

Runs the calibration with the default settings of conf/calibrate.yaml into a temporary folder (the
committed runs are not touched) on all cores, and prints wall time, evaluations, seconds per
evaluation, the replicate-runs per second it sustained and whether the search stopped on its
tolerance. Goal (issue 14): a full calibration within 30 minutes on this machine (2 cores).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simmodel import tasks
from simmodel.config import CalibrateConfig

GOAL_SECONDS = 30 * 60  # issue 14: a full calibration within 30 minutes on two cores


def main(argv: list[str] | None = None) -> dict:
    defaults = CalibrateConfig()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--max-evaluations", type=int, default=defaults.max_evaluations)
    ap.add_argument("--replicates", type=int, default=defaults.replicates)
    ap.add_argument("--quick", action="store_true", help="few evaluations, two replicates at a tiny scale: checks that the script runs")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    scale = defaults.population.scale
    if args.quick:
        args.max_evaluations, args.replicates, scale = 3, 2, 0.01
    with tempfile.TemporaryDirectory() as tmp:
        cfg = CalibrateConfig(name="bench", runs_root=tmp, max_evaluations=args.max_evaluations, replicates=args.replicates,
                              population=dataclasses.replace(defaults.population, scale=scale), progress=False)
        t0 = time.perf_counter()
        path = tasks.calibrate(cfg, echo=lambda *_: None)
        wall = time.perf_counter() - t0
        fit = json.loads((path / "fit.json").read_text())
    n = fit["n_evaluations"]
    print(f"cores: {os.cpu_count()}; replicates per evaluation: {cfg.replicates} at scale {cfg.population.scale}")
    print(f"model evaluations: {n} (least squares: each iteration one evaluation and a Jacobian of "
          f"{fit['n_parameters']} more); replayed from {fit.get('base_year')}")
    print(f"wall time: {wall:.1f} s ({wall / 60:.1f} min); {wall / n:.2f} s per evaluation; "
          f"{n * cfg.replicates / wall:.1f} replicate runs per second")
    print(f"stopped on its tolerance: {fit['converged']} ({fit['optimizer_message']})")
    print(f"goal: <= 30 min -> {'met' if wall <= GOAL_SECONDS else 'MISSED'}; loss {fit['loss']:.2f}, J {fit['j_stat']:.2f} "
          f"(df {fit['j_df']:.1f}, p {fit['j_pvalue']:.3g})")
    res = {"quick": args.quick, "wall_s": wall, "evaluations": n, "replicates": cfg.replicates, "scale": cfg.population.scale,
           "converged": fit["converged"], "met": wall <= GOAL_SECONDS}
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
