"""The fixed cost of a run (issue 15: "ten seconds before anything happens"; goal: within 2 s here).

    .venv/bin/python benchmarks/bench_fixed_cost.py [--repeats 3] [--root PATH ...] [--quick] [--json PATH]

Each command runs in a fresh process, ``repeats`` times, interleaved (so that a burst of load on a
shared machine hits every command alike); printed: the median wall time and the median CPU time
(user + system of the process and its children) of

- ``python -c "import simmodel.cli"``: what every command pays before Hydra starts;
- the fixed-cost run: one replicate at scale 0.01 without the counterfactual, the variance
  decomposition and the assumption sensitivity (the simulation itself takes about 0.1 s of it);
- the same without figures (output.plots=false): what the six fan charts cost;
- the default one-replicate run (counterfactual and decomposition on, as `simmodel run
  population.scale=0.01 replicates=1` does);

and the goal (the fixed-cost run within 2 s) met or missed. ``--root``: time another checkout of
simmodel (its own package, data and conf; the interpreter stays this one); given more than once, the
checkouts are timed interleaved, command by command, to compare before and after a change on a
machine whose load varies.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 2.0
FIXED = ["population.scale=0.01", "replicates=1", "counterfactual.enabled=false", "uncertainty.decomposition_pairs=0",
         "assumption_sensitivity.enabled=false"]


def commands(out: Path) -> dict[str, list[str]]:
    run = [sys.executable, "-m", "simmodel", "run", "output.progress=false", f"output.root={out}"]
    return {
        "import simmodel.cli": [sys.executable, "-c", "import simmodel.cli"],
        "fixed-cost run": run + FIXED,
        "fixed-cost run, no figures": run + FIXED + ["output.plots=false"],
        "default one-replicate run": run + ["population.scale=0.01", "replicates=1"],
    }


def timed(cmd: list[str], root: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh process; fails loudly if the command fails."""
    env = dict(os.environ, PYTHONPATH=str(root) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--root", type=Path, action="append",
                    help="a simmodel checkout to time (default: this one); repeat to compare checkouts, interleaved")
    ap.add_argument("--quick", action="store_true", help="one repeat of the import and the fixed-cost run only")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    roots = [r.resolve() for r in (a.root or [ROOT])]
    repeats = 1 if a.quick else a.repeats
    with tempfile.TemporaryDirectory(prefix="bench_fixed_cost_") as tmp:
        cmds = commands(Path(tmp))
        if a.quick:
            cmds = {k: v for k, v in cmds.items() if k in ("import simmodel.cli", "fixed-cost run")}
        for root in roots:
            timed(cmds["import simmodel.cli"], root)  # warm the file cache and byte-code once, untimed
        samples: dict = {(str(r), k): [] for r in roots for k in cmds}
        for _ in range(repeats):
            for name, cmd in cmds.items():
                for root in roots:
                    samples[(str(root), name)].append(timed(cmd, root))
    res: dict = {"repeats": repeats, "load_average": os.getloadavg()[0], "cpus": os.cpu_count(), "roots": {}}
    print(f"fixed cost of a run ({repeats} fresh process(es) per command, medians; load average "
          f"{res['load_average']:.1f} on {res['cpus']} CPUs; cpu: user + system of the process and its children)")
    for root in roots:
        out = res["roots"][str(root)] = {"commands": {}}
        print(f"{root}:")
        for name in cmds:
            xs = samples[(str(root), name)]
            wall = statistics.median(w for w, _ in xs)
            cpu = statistics.median(c for _, c in xs)
            out["commands"][name] = {"wall_s": wall, "cpu_s": cpu, "walls": [w for w, _ in xs]}
            print(f"  {name:<28} wall {wall:6.2f} s   cpu {cpu:6.2f} s   (walls: {', '.join(f'{w:.2f}' for w, _ in xs)})")
        fixed = out["commands"]["fixed-cost run"]["wall_s"]
        out["goal"] = {"fixed_cost_s": fixed, "goal_s": GOAL_S, "met": fixed <= GOAL_S}
        print(f"  goal: fixed-cost run within {GOAL_S:g} s: {'met' if fixed <= GOAL_S else 'MISSED'} "
              f"({fixed:.2f} s, {fixed - GOAL_S:+.2f} s)")
    if a.json:
        a.json.write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
