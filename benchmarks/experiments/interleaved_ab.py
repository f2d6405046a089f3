"""Seconds per replicate (1:1 by default) of this checkout against another commit, measured in alternation: on a
machine whose speed drifts by tens of percent within minutes (a virtual machine with neighbours),
two versions timed in turn, round after round, see the same drift, where two benchmark runs an hour
apart do not.

    .venv/bin/python benchmarks/experiments/interleaved_ab.py --against COMMIT [--rounds 4] [--replicates 7]
                                                              [--scale 1.0] [--workers 1]

Each round runs, in a fresh process per version, one warm-up replicate and then ``--replicates``
replicates of the baseline at ``--scale`` (1:1 by default; 0.0847 is about 10 000 firms; seeds 1..R,
the same for both; each model closed after its run where the version has ``SimModel.close``, as the
ensemble's runner does), and prints each version's median and minimum. The versions take turns at
going first: the other version first in odd rounds, this checkout first in even ones, so that an
effect of the order (a pair's second process finding the machine warmer, or on a slower spell) does
not count for one version; until 6 December this checkout always ran second. ``--against HEAD`` times
the same code twice and shows the method's own noise: on 6 December at 1:1, 8 rounds of 9
replicates, "this checkout" was faster in 5 of 8 rounds and by 2.7 % on the median of the rounds'
medians (the second of a pair the faster in 2 of 8), so a difference of a few per cent needs more
rounds, or the rounds of a narrower measure (one stage, one call), before it is a gain. With ``--workers N``
above 1 the replicates run as ensembles on a pool of N worker processes (``run_ensemble``, pool
start and stop included): a warm-up ensemble, then three, each figure an ensemble's seconds divided
by its replicates. The summary: in how many rounds this checkout was faster, in all and by the order
of the round, and the median over the rounds of each version's median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import ROOT  # noqa: E402

_TIMER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs
from simmodel.model import SimModel
cfg = RunConfig(); inputs, _ = load_inputs(cfg)
scale, workers = float(sys.argv[3]), int(sys.argv[4])
if workers > 1:
    from simmodel.ensemble import run_ensemble
    ts = []
    for root_seed in range(4):  # the first is the warm-up
        t = time.perf_counter()
        run_ensemble(inputs, cfg.levers, cfg.uncertainties, scale=scale, root_seed=root_seed,
                     replicates=int(sys.argv[2]), workers=workers)
        ts.append((time.perf_counter() - t) / int(sys.argv[2]))
    print(json.dumps(ts[1:]))
    sys.exit(0)
def one(seed):
    m = SimModel(inputs, cfg.levers, cfg.uncertainties, scale=scale, seed=seed)
    m.run()
    getattr(m, "close", lambda: None)()  # versions before 6 December leave it to the cycle collector
one(0)
ts = []
for seed in range(1, int(sys.argv[2]) + 1):
    t = time.perf_counter()
    one(seed)
    ts.append(time.perf_counter() - t)
print(json.dumps(ts))
"""


def seconds(root: Path, replicates: int, scale: float, workers: int = 1) -> list[float]:
    out = subprocess.run([sys.executable, "-c", _TIMER, str(root), str(replicates), str(scale), str(workers)], cwd=root,
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--replicates", type=int, default=7)
    ap.add_argument("--scale", type=float, default=1.0, help="population scale (1.0: 1:1)")
    ap.add_argument("--workers", type=int, default=1, help="above 1: ensembles on a pool of this many processes")
    args = ap.parse_args(argv)
    if args.workers < 1 or args.rounds < 1 or args.replicates < 1:
        ap.error("--workers, --rounds and --replicates take 1 or more")
    commit = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    here, there = [], []
    wins = {True: 0, False: 0}  # rounds this checkout won, by whether it ran second
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", str(other), commit], cwd=ROOT, check=True, capture_output=True)
        try:
            for r in range(1, args.rounds + 1):
                second = r % 2 == 1  # this checkout runs second in odd rounds, first in even ones
                if second:
                    b = seconds(other, args.replicates, args.scale, args.workers)
                    a = seconds(ROOT, args.replicates, args.scale, args.workers)
                else:
                    a = seconds(ROOT, args.replicates, args.scale, args.workers)
                    b = seconds(other, args.replicates, args.scale, args.workers)
                here.append(statistics.median(a))
                there.append(statistics.median(b))
                wins[second] += here[-1] < there[-1]
                print(f"round {r} ({'other' if second else 'this checkout'} first): {commit} median {there[-1]:.3f} s "
                      f"(min {min(b):.3f}); this checkout median {here[-1]:.3f} s (min {min(a):.3f})", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False, capture_output=True)
    h, t = statistics.median(here), statistics.median(there)
    n_second = (args.rounds + 1) // 2
    print(f"this checkout faster in {wins[True] + wins[False]} of {args.rounds} rounds ({wins[True]} of {n_second} "
          f"run second, {wins[False]} of {args.rounds - n_second} run first); median of the rounds' medians "
          f"{h:.3f} s against {t:.3f} s ({100 * (h / t - 1):+.1f} %)")


if __name__ == "__main__":
    main()
