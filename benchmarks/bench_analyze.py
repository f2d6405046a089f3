"""Morris screening over every lever and uncertainty at 1:1 scale, timed (issue 6: within 30 min).

    .venv/bin/python benchmarks/bench_analyze.py [--trajectories 8] [--replicates 4] [--scale 1]
                                                 [--launcher joblib|basic] [--keep RESULTS_ROOT] [--quick] [--json PATH]

Runs the real command, ``simmodel analyze method=morris`` over all 54 levers and 2 uncertainties
(57 points per trajectory), in a temporary folder, and prints: points, model evaluations (points x
replicates), wall time, evaluations per minute, seconds per point, and whether the run fits in the
goal of 30 minutes. The points are evaluated as a sweep through the launcher named: ``joblib``
runs two points at a time with one process each, which on 2 cores beats the basic launcher when
each point has few replicates (the fixed cost of a point, about a second, then runs in parallel
too).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine

GOAL_MINUTES = 30.0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trajectories", type=int, default=8)
    ap.add_argument("--replicates", type=int, default=4)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--launcher", choices=("joblib", "basic"), default="joblib")
    ap.add_argument("--quick", action="store_true", help="3 factors, 2 trajectories, scale 0.02: checks the script runs")
    ap.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the analysis (a fresh, dated folder under this results root) so its indices can be read "
                         "and cited; default: a temporary folder, removed")
    args = ap.parse_args(argv)
    cmd = [sys.executable, "-m", "simmodel", "analyze", "method=morris", f"trajectories={args.trajectories}",
           f"replicates={args.replicates}", f"population.scale={args.scale}", "name=bench"]
    if args.quick:
        cmd = [sys.executable, "-m", "simmodel", "analyze", "method=morris", "trajectories=2", "replicates=2", "population.scale=0.02",
               "factors=[fund_life_years,land_quota_mu_per_year,world_demand_shift_pct]", "name=bench"]
    if args.launcher == "joblib":
        cmd += ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]
    with tempfile.TemporaryDirectory() as tmp:
        # a fresh folder every time: an existing one would be reused point by point, timing nothing
        name = f"bench-morris-{time.strftime('%Y%m%d-%H%M%S')}"
        root = args.keep.absolute() if args.keep else Path(tmp) / "results"
        cmd = [c if c != "name=bench" else f"name={name}" for c in cmd] + [f"output_root={root}"]
        print("running:", " ".join(cmd[2:]), flush=True)
        t = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            sys.exit(f"the analysis failed:\n{proc.stderr[-3000:]}")
        folder = root / "analyze" / name
        summary = json.loads((folder / "analysis" / "summary.json").read_text())
    points, reps = summary["points"], summary["replicates"]
    evaluations = points * reps
    res = {"factors": len(summary["factors"]), "points": points, "replicates": reps, "scale": summary["scale"],
           "launcher": args.launcher, "wall_s": wall, "evaluations": evaluations,
           "evaluations_per_min": evaluations / wall * 60, "points_per_min": points / wall * 60,
           "seconds_per_point": wall / points, "goal_minutes": GOAL_MINUTES, "met": wall / 60 <= GOAL_MINUTES,
           "quick": args.quick, "machine": machine(), "kept": str(folder) if args.keep else None}
    print(f"Morris over {res['factors']} factors ({points} points) x {reps} replicates at scale {res['scale']:g}, "
          f"{args.launcher} launcher")
    print(f"  wall time            {wall / 60:.1f} min ({wall:.0f} s)")
    print(f"  model evaluations    {evaluations} (replicates), {evaluations / wall * 60:.1f} per minute")
    print(f"  points               {points / wall * 60:.1f} per minute, {wall / points:.2f} s each")
    if not args.quick:
        print(f"  goal <= {GOAL_MINUTES:g} min: {'met' if res['met'] else 'missed'} "
              f"({100 * (wall / 60 / GOAL_MINUTES - 1):+.0f} %)")
    if args.keep:
        print(f"  analysis kept in {folder}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
