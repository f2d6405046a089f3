"""Experiment for issue 17 (not part of simmodel, not run by the tests): what the yearly block
(``start_year``) of a replicate is made of, part by part: the time inside each compiled loop of
``simmodel.kernels`` and the Python and numpy between the calls. It sizes what "every stage within 5x
of its memory-bandwidth bound" would need of ``start_year``, the one stage above it.

    .venv/bin/python benchmarks/experiments/year_kernels.py [--firms 0] [--replicates 7] [--top 12]

``--firms 0`` is the 1:1 population. Every compiled loop and every part of the year
(``_common.year_part_calls``) is wrapped with a timer; a loop's time counts in the part it ran in.
The wrappers add about a microsecond a call, so the Python share is if anything overstated. After one
warm-up, replicates of the baseline, seeds 1..R; printed per part, ms a replicate: the part's time,
its loops' and the rest (Python and numpy), then its ``--top`` loops with their calls a replicate.

Measured on 6 December 2026 (this 2-core machine, AMD EPYC; 1:1, 7 replicates; the simulation's code
as at 041ba83): first with a scratch form of this script, then with it, the machine slower by some
10 % the second time (docs/performance.md). Of ``start_year``, the compiled passes over every firm
slot (the funds' candidates, the pools' bands and masks, the base scores' mean and spread and the
scores, the vouchers' weights and shares, the ladder's moves, the pool flags, the talents' weights,
the zones, the cumulative sums) 15.8 and 17.3 ms; the compiled work on the decisions' own lists (the
screens' rounds, the funds' book and deals, the selections, the ladder's R&D shares, lapses,
certifications and draws, the talents' releases, AI+'s gaps, the projects' steps) 17.2 and 19.3 ms;
the rest, Python and numpy, 20.5 and 23.4 ms. In the second run: funds 20.5 ms (loops 15.1),
grants 15.3 (12.0), ladder 11.2 (5.7), talents 4.8 (1.9), zones and clusters 2.9 (1.1), markets 2.6
(0.7), projects 1.4 (0.1), AI+ 1.4 (0.1).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import firms_at_scale_one, scale_for, year_part_calls

from simmodel import kernels
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs
from simmodel.model import SimModel, simulation


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--firms", type=int, default=0, help="firms at the start (0: the 1:1 population)")
    ap.add_argument("--replicates", type=int, default=7)
    ap.add_argument("--top", type=int, default=12, help="loops listed per part")
    a = ap.parse_args(argv)
    if a.replicates < 1 or a.firms < 0:
        ap.error("--replicates must be at least 1 and --firms at least 0")
    cfg = RunConfig()
    inputs, _ = load_inputs(cfg)
    scale = 1.0 if a.firms == 0 else scale_for(a.firms, firms_at_scale_one(inputs, cfg))
    with SimModel(inputs, cfg.levers, cfg.uncertainties, scale=scale, seed=0) as model:  # loads the loops
        model.run()

    part = ["outside"]  # the part of the year running now
    loop_s: dict[tuple[str, str], float] = defaultdict(float)
    loop_calls: Counter = Counter()
    part_s: dict[str, float] = defaultdict(float)

    def timed_loop(name: str, fn):
        def call(*args):
            t = time.perf_counter()
            try:
                return fn(*args)
            finally:
                loop_s[(part[0], name)] += time.perf_counter() - t
                loop_calls[(part[0], name)] += 1
        return call

    def timed_part(obj, attr: str, name: str) -> tuple[object, str, object]:
        fn = getattr(obj, attr)

        def call(*args, **kwargs):
            before, part[0] = part[0], name
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                part_s[name] += time.perf_counter() - t
                part[0] = before
        setattr(obj, attr, call)
        return obj, attr, fn

    # the compiled loops: the module's functions that have a Numba dispatcher (kernels.compiled)
    loops = {name: fn for name, fn in vars(kernels).items() if callable(getattr(fn, "dispatcher", None))}
    for name, fn in loops.items():
        setattr(kernels, name, timed_loop(name, fn))
    # built before the wrapping: a model's set-up raises the funds of the years before the base year
    # with the same fund_year, which is not the simulation's
    models = [SimModel(inputs, cfg.levers, cfg.uncertainties, scale=scale, seed=seed)
              for seed in range(1, a.replicates + 1)]
    undo = []
    try:
        for i, model in enumerate(models):
            # the simulation module's functions once, the model's own agents each replicate
            undo += [timed_part(obj, attr, name) for obj, attr, name in year_part_calls(model)
                     if obj is not simulation or i == 0]
            with model:
                model.run()
    finally:
        for obj, attr, fn in reversed(undo):
            setattr(obj, attr, fn)
        for name, fn in loops.items():
            setattr(kernels, name, fn)

    r = a.replicates
    print(f"start_year by part at {'1:1' if a.firms == 0 else f'{a.firms} firms'}, ms a replicate "
          f"({r} replicates): the part, its compiled loops, the rest (Python and numpy)")
    for name in sorted(part_s, key=lambda k: -part_s[k]):
        mine = {k: v for (p, k), v in loop_s.items() if p == name}
        in_loops = sum(mine.values())
        print(f"  {name:15s} {1e3 * part_s[name] / r:7.2f}  loops {1e3 * in_loops / r:7.2f}  "
              f"rest {1e3 * (part_s[name] - in_loops) / r:7.2f}")
        for k, v in sorted(mine.items(), key=lambda kv: -kv[1])[:a.top]:
            print(f"      {k:28s} {1e3 * v / r:6.2f} ms  {loop_calls[(name, k)] / r:5.1f} calls")


if __name__ == "__main__":
    main()
