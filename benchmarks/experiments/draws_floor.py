"""What a faster implementation could not remove from a replicate while keeping its results
byte-identical: the time spent drawing random numbers (numpy's generators, whose streams the results
rest on) and in numpy's logarithms and exponentials (SIMD code that a compiled loop would replace by
scalar library calls with other last bits). Everything else, the passes over the firm arrays, the
gathers, sorts and the Python between them, is what fused compiled kernels could shrink.

    .venv/bin/python benchmarks/experiments/draws_floor.py [--scale 1.0] [--replicates 3]

Each generator a replicate asks for (``SimModel.rng_for``) is wrapped so that every draw is timed, and
so are np.exp, np.log, np.expm1, np.log1p, np.sqrt and np.power as the model's modules call them (the
wrapping adds its own microseconds per call, so the floor is if anything overstated). Replicates of
the baseline, seeds 1.., after one warm-up.

Measured on 4 December 2026 (this 2-core machine, 3 replicates at scale 1, 10 at 0.0847): at 1:1,
378.7 ms a replicate, of which draws 54.2 ms (uniforms 30.9, Gumbel 11.8, normals 5.2, the rest 6.3)
and logarithms and exponentials 7.9 ms: a floor of 62.1 ms, 16 % of the replicate; at about 10 000
firms, 65.5 ms a replicate and a floor of 7.7 ms (12 %). On the AMD machine on 4 December (night),
before the draws were made fewer and cheaper: 76.7 of 322.5 ms a 1:1 replicate (24 %); after
(bbd857f): 27.2 of 292.5 ms (9 %), the uniforms computed by the keyed loops not counted (they are no
generator's draws: about 0.4 ns a number, kernels.keyed_units). The warm-up replicate runs before the
wrappers: Numba's ufunc registry, loaded at the first compiled call, reads attributes of np.exp and the
others that a wrapper does not have.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from _common import baseline

from simmodel.model import SimModel

SPENT: dict[str, float] = defaultdict(float)  # seconds by what was called
COUNT: dict[str, int] = defaultdict(int)  # numbers drawn or computed


class TimedGenerator:
    """A numpy Generator whose every method call is timed into SPENT."""

    def __init__(self, g: np.random.Generator, purpose: str):
        self._g = g
        self._purpose = purpose

    def __getattr__(self, name: str):
        fn = getattr(self._g, name)
        if not callable(fn):
            return fn

        def timed(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            key = f"draw {name} ({self._purpose})"
            SPENT[key] += time.perf_counter() - t
            COUNT[key] += int(np.size(out))
            return out

        return timed


def time_ufuncs(names: tuple[str, ...]) -> None:
    """Replace np.<name> by a timed wrapper (the model's modules look them up at each call)."""
    for name in names:
        fn = getattr(np, name)

        def timed(*a, _fn=fn, _name=name, **k):
            t = time.perf_counter()
            out = _fn(*a, **k)
            SPENT["np." + _name] += time.perf_counter() - t
            COUNT["np." + _name] += int(np.size(out))
            return out

        setattr(np, name, timed)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--replicates", type=int, default=3)
    args = ap.parse_args(argv)
    inputs, cfg = baseline()
    # the warm-up, before the wrappers: Numba compiles (or loads) the kernels at their first call, and
    # its ufunc registry reads attributes of np.exp and the others that a wrapper does not have
    SimModel(inputs, cfg.levers, cfg.uncertainties, scale=args.scale, seed=0).run()
    plain = SimModel.rng_for
    SimModel.rng_for = lambda self, purpose, index: TimedGenerator(plain(self, purpose, index), purpose)
    time_ufuncs(("exp", "log", "expm1", "log1p", "sqrt", "power"))
    total = 0.0
    for seed in range(1, args.replicates + 1):
        t = time.perf_counter()
        SimModel(inputs, cfg.levers, cfg.uncertainties, scale=args.scale, seed=seed).run()
        total += time.perf_counter() - t
    n = args.replicates
    print(f"scale {args.scale}, {n} replicates of the baseline: {1000 * total / n:.1f} ms a replicate (set-up included)")
    for key, s in sorted(SPENT.items(), key=lambda kv: -kv[1]):
        print(f"  {key:22s} {1000 * s / n:8.2f} ms  {COUNT[key] / n / 1e6:8.3f} M numbers")
    floor = sum(SPENT.values())
    print(f"floor (draws, logarithms and exponentials): {1000 * floor / n:.1f} ms, {100 * floor / total:.0f} % of the replicate")


if __name__ == "__main__":
    main()
