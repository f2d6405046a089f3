"""Experiment for issue 17 (not part of simmodel, not run by the tests): the funds' screen
(simmodel.agents.funds.screen) as one compiled Numba call per kind of fund, against numpy's, on the
screens a replicate really makes, with their deals compared one by one.

Why this one: at 10 000 firms the funds' year is about a third of a replicate's fixed cost, and the
screen is most of it; numpy spends it in a dozen calls per fund and round on small arrays (ranking,
sorting, summing the tickets), which a compiled loop makes in one pass, with the same arithmetic:
the noise is the same 32-bit hash (``keyed_uniform``), scores are summed in double precision, the
tickets clipped and summed in order as numpy's cumsum does, ties broken by firm row.

The compiled screen takes the kind's 2 048 most productive candidates, sorted (numpy's argpartition
and argsort), and, fund by fund, keeps a heap of the scored eligible candidates: a candidate is
taken when its score is at least the next unscored candidate's log productivity plus 1 (no
candidate not yet scored can beat it), until the first ticket the budget refuses. A fund that
would need to look past the sorted block goes round again with a block four times as large.

Measured on 4 December 2026 (this 2-core machine; every screen of the replicates run both ways):
the deals are the same, fund by fund, ticket by ticket (0 of 360 funds' deals differ at about
10 000 firms, 0 of 240 at 1:1); at about 10 000 firms (3 replicates, 45 screens of 120 funds each,
set-up included) numpy 10.1 ms a replicate against 8.6 ms compiled (1.2x; the kernel itself 2.6 ms,
the partition of the candidates 2.9 ms, the rest the Python around it); at 1:1 (2 replicates)
numpy 39.3 ms against 86.9 ms (0.5x: the deep screens sort blocks of 32 768 candidates and then all
of them). numpy's screen, which ranks blocks above a floor without sorting the candidates, is
already near what this simple compiled form does. A compiled form of its block algorithm (a pass
over the block per fund, a partial ranking), guessed here to do better, was built later and was
slower still (``numba_fund_picks.py``: numpy's sorts use vector instructions, Numba's do not).

Numba is a dependency since 4 December 2026 (simmodel/kernels.py, whose fund_block_scores compiles
numpy's own block algorithm's scoring instead of this heap):

    .venv/bin/python benchmarks/experiments/numba_screen.py [--scale 0.0847] [--replicates 3]
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

import simmodel.agents.funds as funds_mod
import simmodel.model.funds as model_funds
from simmodel.agents.firms import ABOVE_SIZE_REVENUE_CNY_100M
from simmodel.levers import FundRegime
from simmodel.model import SimModel

_M32 = np.uint64(0xFFFFFFFF)
_FIRST = 2048  # the first sorted block of candidates


@numba.njit(cache=False)
def _keyed_uniform(key32, row):
    """keyed_uniform's 32-bit hash, in 64-bit registers masked to 32 bits after each multiply."""
    h = (np.uint64(row) * np.uint64(0x9E3779B9)) & _M32
    h ^= np.uint64(key32)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x85EBCA6B)) & _M32
    h ^= h >> np.uint64(13)
    h = (h * np.uint64(0xC2B2AE35)) & _M32
    h ^= h >> np.uint64(16)
    return np.float32(h >> np.uint64(8)) * np.float32(2.0 ** -24)


@numba.njit(cache=False)
def _heap_push(hs, hr, n, s, r):
    """Max-heap on (score, -row): the higher score first, the lower firm row among equal scores."""
    i = n
    hs[i] = s
    hr[i] = r
    while i > 0:
        p = (i - 1) // 2
        if hs[p] > hs[i] or (hs[p] == hs[i] and hr[p] < hr[i]):
            break
        hs[p], hs[i] = hs[i], hs[p]
        hr[p], hr[i] = hr[i], hr[p]
        i = p
    return n + 1


@numba.njit(cache=False)
def _heap_pop(hs, hr, n):
    s, r = hs[0], hr[0]
    n -= 1
    hs[0] = hs[n]
    hr[0] = hr[n]
    i = 0
    while True:
        a, b = 2 * i + 1, 2 * i + 2
        m = i
        if a < n and (hs[a] > hs[m] or (hs[a] == hs[m] and hr[a] < hr[m])):
            m = a
        if b < n and (hs[b] > hs[m] or (hs[b] == hs[m] and hr[b] < hr[m])):
            m = b
        if m == i:
            break
        hs[m], hs[i] = hs[i], hs[m]
        hr[m], hr[i] = hr[i], hr[m]
        i = m
    return s, r, n


@numba.njit(cache=False)
def screen_kind(order, rest_max, firm, tte, lp, revenue, keys32, budgets, caps, life_left, held_firm, held_start,
                yearly_profit, horizon, ticket_ratio, min_ticket, above_size, todo):
    """Per fund ``j`` with todo[j] (its key, budget, largest ticket, life left and held firms, sorted,
    in held_firm[held_start[j]:held_start[j + 1]]): its deals as positions in the candidates, in the
    order taken, concatenated, with each fund's start; and their tickets. ``order``: the candidates
    of highest log productivity, highest first; every other one has at most ``rest_max`` (-inf when
    order holds them all). A fund that would need to look past them is left for a call with more
    (``again``)."""
    n_funds = keys32.size
    n = order.size
    again = np.zeros(n_funds, np.bool_)
    out_pos = np.empty(1024, np.int64)
    out_ticket = np.empty(out_pos.size)
    starts = np.zeros(n_funds + 1, np.int64)
    hs = np.empty(n)
    hr = np.empty(n, np.int64)
    m = 0
    for j in range(n_funds):
        starts[j] = m
        budget = budgets[j]
        if budget <= 0 or not todo[j]:
            continue
        m0 = m
        held = held_firm[held_start[j]:held_start[j + 1]]
        spent = 0.0
        nh = 0
        k = 0  # next candidate (by falling log productivity) not yet scored
        while True:
            # score candidates until the best scored one provably beats every one not yet scored
            while k < n and (nh == 0 or hs[0] < np.float64(lp[order[k]]) + 1.0):
                i = order[k]
                k += 1
                if tte[i] > life_left[j]:
                    continue
                if yearly_profit and (tte[i] > horizon or revenue[i] < above_size):
                    continue
                if held.size:
                    h = np.searchsorted(held, firm[i])
                    if h < held.size and held[h] == firm[i]:
                        continue
                s = np.float64(lp[i]) + np.float64(_keyed_uniform(keys32[j], firm[i]))
                nh = _heap_push(hs, hr, nh, s, i)
            if k == n and (nh == 0 or hs[0] < rest_max + 1.0) and rest_max > -np.inf:
                again[j] = True  # the ones not ranked here could still beat the best scored one
                m = m0
                break
            if nh == 0:
                break
            s, i, nh = _heap_pop(hs, hr, nh)
            t = min(max(ticket_ratio * revenue[i], min_ticket), caps[j])
            if spent + t > budget:
                break
            spent += t
            if m == out_pos.size:
                out_pos = np.concatenate((out_pos, np.empty(out_pos.size, np.int64)))
                out_ticket = np.concatenate((out_ticket, np.empty(out_ticket.size)))
            out_pos[m] = i
            out_ticket[m] = t
            m += 1
    starts[n_funds] = m
    return out_pos[:m], out_ticket[:m], starts, again


def compiled_screen(funds, cand, *, year, regime, keys, budgets, crowds, max_single_share, params):
    """The arguments and result of simmodel.agents.funds.screen."""
    p = params
    lp = cand.log_productivity
    caps = np.array([max(max_single_share * fd.size_cny_100m * (1.0 + c), p.fund_min_ticket_cny_100m)
                     for fd, c in zip(funds, crowds, strict=True)])
    life_left = np.array([fd.vintage + fd.life_years - year for fd in funds], dtype=np.float32)
    held = [np.sort(fd.h_firm) for fd in funds]
    held_start = np.concatenate(([0], np.cumsum([h.size for h in held]))).astype(np.int64)
    held_firm = np.concatenate(held) if held else np.zeros(0, np.int64)
    keys32 = (np.array(keys, dtype=np.uint64) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    out = [None] * len(funds)
    todo = np.ones(len(funds), bool)
    block = _FIRST
    while todo.any():
        # the block most productive candidates, sorted; a fund that needs more goes round again with
        # a block four times as large
        if block < lp.size:
            top = np.argpartition(lp, lp.size - block - 1)
            order, rest_max = top[lp.size - block:], float(lp[top[lp.size - block - 1]])
            order = order[np.argsort(-lp[order], kind="stable")]
        else:
            order, rest_max = np.argsort(-lp, kind="stable"), -np.inf
        pos, tickets, starts, again = screen_kind(
            order, rest_max, cand.firm, cand.tte_years, lp, cand.revenue, keys32, np.array(budgets, dtype=np.float64),
            caps, life_left, held_firm, held_start, regime == FundRegime.yearly_profit,
            np.float32(p.fund_yearly_profit_horizon_years), p.fund_ticket_to_revenue, p.fund_min_ticket_cny_100m,
            ABOVE_SIZE_REVENUE_CNY_100M, todo)
        for j in np.flatnonzero(todo & ~again):
            a, b = starts[j], starts[j + 1]
            out[j] = (cand.firm[pos[a:b]], tickets[a:b], cand.tte_years[pos[a:b]].astype(np.float64))
        todo &= again
        block *= 4
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=0.0847)
    ap.add_argument("--replicates", type=int, default=3)
    args = ap.parse_args(argv)
    inputs, cfg = baseline()
    numpy_screen = funds_mod.screen
    spent = {"numpy": 0.0, "numba": 0.0}
    n_calls = [0, 0]  # screens, funds
    mismatches = []

    def both(funds, cand, **kw):
        t = time.perf_counter()
        want = numpy_screen(funds, cand, **kw)
        spent["numpy"] += time.perf_counter() - t
        t = time.perf_counter()
        got = compiled_screen(funds, cand, **kw)
        spent["numba"] += time.perf_counter() - t
        n_calls[0] += 1
        n_calls[1] += len(funds)
        for j, (a, b) in enumerate(zip(want, got, strict=True)):
            # the same deals, and the same tickets in the same order (their cumulative sums decide)
            if not (np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and np.array_equal(a[2], b[2])):
                mismatches.append((kw["year"], j, a[0].size, b[0].size))
        return want

    model_funds.screen = both
    SimModel(inputs, cfg.levers, cfg.uncertainties, scale=0.01, seed=0).run()  # compiles
    for key in spent:
        spent[key] = 0.0
    n_calls[:] = [0, 0]
    t = time.perf_counter()
    for seed in range(1, args.replicates + 1):
        SimModel(inputs, cfg.levers, cfg.uncertainties, scale=args.scale, seed=seed).run()
    wall = time.perf_counter() - t
    r = args.replicates
    print(f"scale {args.scale}, {r} replicates (set-up included), {n_calls[0] / r:.0f} screens of "
          f"{n_calls[1] / r:.0f} funds a replicate; each screen run both ways, numpy's deals kept")
    print(f"  numpy screen {1000 * spent['numpy'] / r:.2f} ms a replicate, compiled {1000 * spent['numba'] / r:.2f} ms "
          f"({spent['numpy'] / max(spent['numba'], 1e-12):.1f}x); the replicate, both screens in it, "
          f"{1000 * wall / r:.1f} ms")
    print(f"  funds whose deals differ: {len(mismatches)} of {n_calls[1]}" + (f": {mismatches[:5]}" if mismatches else ""))


if __name__ == "__main__":
    main()
