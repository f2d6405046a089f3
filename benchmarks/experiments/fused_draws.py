"""Experiment for issue 17 (not part of simmodel, not run by the tests): what the quarterly
innovations and exits would cost if their uniforms were keyed draws computed by compiled code,
instead of by numpy's generators. This is the route
that would change the random stream (every result, on purpose; ``compare_versions.py`` would then
have to show the two versions agree in distribution), so it is measured here before anyone builds it.

Per quarter, on the firm arrays of a 1:1 replicate after its first quarter:

- numpy: ``np.flatnonzero(alive & (rng.random(n, float32) < p))`` for the innovations and again for
  the exits, each from its own stream, as ``innovate_firms`` and ``exit_firms`` draw them;
- the draws alone: the two ``rng.random(n, float32)`` calls (what byte-identical code cannot remove);
- keyed draws, then numpy: the same comparisons on keyed uniforms (``simmodel.agents.noise.
  keyed_uniform`` of a key per stream and quarter and the firm's row: murmur3's 32-bit finaliser),
  computed by a compiled loop that the compiler vectorises;
- fused: one compiled loop that hashes, compares and writes the rows (no vector instructions: its
  output index depends on the test).

It also checks the keyed uniforms as draws (one key, the rows of the population): their mean, a
chi-square over 256 equal bins, and the correlation of neighbouring rows.

Measured on 4 December 2026 (this 2-core machine, 122 073 slots, best of 50): numpy 0.54 ms a
quarter, of which the draws 0.41 ms (1.7 ns a float32 uniform); keyed draws then numpy 0.23 ms (the
keyed draws alone 0.10 ms, 0.4 ns a uniform); the fused loop 0.40 ms. The faster form would save
about 7.4 ms of a 1:1 replicate (24 quarters; about 3 % of its simulation, and about 2.5 of the 31.8
ns a firm-step that the firm stages took in `make bench` at 0646a67, which would move the Mesa ratio
on the firm stages from 188x to about 200x, far from the 300x of the goal). The keyed uniforms:
mean 0.5009, chi-square 238 over 256 bins (255 degrees of freedom), neighbouring rows' correlation
-0.0019. Not built then: it would change every result for a few per cent. Built on 4 December 2026
(night), with the other draws of that stop that changed the random stream (`docs/performance.md`):
the keyed uniforms and a flag a firm in one compiled loop (kernels.keyed_events), then numpy's
flatnonzero, as measured here.

    .venv/bin/python benchmarks/experiments/fused_draws.py [--repeats 50]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba
import numpy as np
from _common import baseline

from simmodel.agents.noise import keyed_uniform
from simmodel.model import SimModel


@numba.njit(inline="always")
def _fmix32(h):
    """murmur3's finaliser, each step cast back to 32 bits (Numba widens 32-bit integer arithmetic)."""
    h = np.uint32(h ^ (h >> np.uint32(16)))
    h = np.uint32(h * np.uint32(0x85EBCA6B))
    h = np.uint32(h ^ (h >> np.uint32(13)))
    h = np.uint32(h * np.uint32(0xC2B2AE35))
    return np.uint32(h ^ (h >> np.uint32(16)))


@numba.njit(cache=False, nogil=True)
def keyed_uniforms(n, key, out):  # pragma: no cover - compiled
    """keyed_uniform(key, 0..n-1) into ``out`` (float32), in a loop the compiler vectorises."""
    k = np.uint32(key)
    scale = np.float32(2.0 ** -24)
    for i in range(n):
        out[i] = np.float32(_fmix32(np.uint32(np.uint32(i) * np.uint32(0x9E3779B9)) ^ k) >> np.uint32(8)) * scale


@numba.njit(cache=False, nogil=True)
def fused(alive, p_innovate, p_exit, key_innovate, key_exit):  # pragma: no cover - compiled
    """The rows that innovate and the rows that exit this quarter, from keyed uniforms, in one loop
    (rows written without branches: the output index moves on by the test's 0 or 1)."""
    n = alive.size
    hit = np.empty(n + 1, np.intp)
    die = np.empty(n + 1, np.intp)
    n_hit = 0
    n_die = 0
    ki, ke = np.uint32(key_innovate), np.uint32(key_exit)
    scale = np.float32(2.0 ** -24)
    for i in range(n):
        row = np.uint32(np.uint32(i) * np.uint32(0x9E3779B9))
        ui = np.float32(_fmix32(row ^ ki) >> np.uint32(8)) * scale
        ue = np.float32(_fmix32(row ^ ke) >> np.uint32(8)) * scale
        hit[n_hit] = i
        n_hit += alive[i] & (ui < p_innovate[i])
        die[n_die] = i
        n_die += alive[i] & (ue < p_exit[i])
    return hit[:n_hit], die[:n_die]


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=50)
    a = ap.parse_args(argv)
    inputs, cfg = baseline()
    m = SimModel(inputs, cfg.levers, cfg.uncertainties, scale=1.0, seed=1)
    m.step()  # the first quarter: the year's rates are set
    f = m.firms
    alive, p_inn, p_exit = f.alive.copy(), f.p_innovate_q.copy(), f.p_exit_q.copy()
    n = alive.size
    rng_i, rng_e = np.random.default_rng(1), np.random.default_rng(2)

    def numpy_way():
        np.flatnonzero(alive & (rng_i.random(n, dtype=np.float32) < p_inn))
        np.flatnonzero(alive & (rng_e.random(n, dtype=np.float32) < p_exit))

    def draws_only():
        rng_i.random(n, dtype=np.float32)
        rng_e.random(n, dtype=np.float32)

    keys = (0x1234ABCD, 0x9876FEDC)
    ui, ue = np.empty(n, np.float32), np.empty(n, np.float32)

    def keyed_then_numpy():
        keyed_uniforms(n, keys[0], ui)
        keyed_uniforms(n, keys[1], ue)
        return np.flatnonzero(alive & (ui < p_inn)), np.flatnonzero(alive & (ue < p_exit))

    fused(alive, p_inn, p_exit, *keys)  # compile
    keyed_then_numpy()
    hit, die = fused(alive, p_inn, p_exit, *keys)
    same = all(np.array_equal(x, y) for x, y in zip((hit, die), keyed_then_numpy(), strict=True))
    times = {"numpy": best_of(numpy_way, a.repeats), "the draws alone": best_of(draws_only, a.repeats),
             "keyed draws, then numpy": best_of(keyed_then_numpy, a.repeats),
             "fused, one loop": best_of(lambda: fused(alive, p_inn, p_exit, *keys), a.repeats),
             "keyed draws alone": best_of(lambda: (keyed_uniforms(n, keys[0], ui), keyed_uniforms(n, keys[1], ue)),
                                          a.repeats)}
    print(f"{n} firms, a quarter's innovations and exits (best of {a.repeats}):")
    for name, t in times.items():
        print(f"  {name:24s} {t * 1e3:6.3f} ms")
    best = min(times["keyed draws, then numpy"], times["fused, one loop"])
    print(f"  over 24 quarters, the faster keyed form saves {24 * (times['numpy'] - best) * 1e3:.1f} ms a replicate")
    print(f"  the two keyed forms choose the same rows: {same}; innovations {hit.size} (expected "
          f"{p_inn[alive].sum():.0f}), exits {die.size} (expected {p_exit[alive].sum():.0f})")
    u = keyed_uniform(keys[0], np.arange(n, dtype=np.int64))
    print(f"  the compiled keyed draws are keyed_uniform's: {np.array_equal(ui, u)}")
    u = u.astype(np.float64)
    counts = np.bincount(np.minimum((u * 256).astype(np.int64), 255), minlength=256)
    expected = n / 256
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    print(f"keyed uniforms over {n} rows: mean {u.mean():.4f}, chi-square over 256 bins {chi2:.0f} (255 df), "
          f"neighbouring rows' correlation {np.corrcoef(u[:-1], u[1:])[0, 1]:+.4f}")


if __name__ == "__main__":
    main()
