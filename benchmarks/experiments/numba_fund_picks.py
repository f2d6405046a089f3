"""Experiment for issue 17 (not part of simmodel, not run by the tests): each fund's ranking and
tickets in a screening round (the loop over the funds of ``simmodel.agents.funds.screen``, after the
compiled ``fund_block_scores``) as one compiled Numba call per round, against numpy's, on the rounds
a replicate really makes, with the deals compared one by one.

Why this one: ``numba_screen.py`` guessed that a compiled form of numpy's own block algorithm, a pass
over the block per fund and a partial ranking, might make the screen 2-3x faster. numpy spends the
per-fund part in about twenty calls a fund (count, partition, sort, clip, running sum, search), which
at 10 000 firms cost more in calls than in work. Two compiled forms, both ranking the positions a fund
may back by score, equal scores by position (the order of ``np.argsort(-score, kind="stable")``):

- ``select``: numpy's plan, ranking about twice the deals the budget buys at the mean ticket (the
  k highest found by ``np.partition``, then a stable sort), all of them when those do not spend it;
- ``heap``: a heap of every position the fund may back, popped until the budget refuses a ticket.

Measured on 4 December 2026 (this 2-core machine; one replicate, seed 1, the best of 5 timings of
all its rounds): the deals are the same, fund by fund and ticket by ticket, for both forms (169
funds' rankings in 77 rounds at 1:1, 120 in 45 at about 10 000 firms); but at 1:1 numpy took 10.0 ms
a replicate against 22.1 ms (``select``) and 32.1 ms (``heap``), and at 10 000 firms 2.6 against 3.2
and 4.8 ms. Half the funds' first guess of k does not spend their budget (84 of the 169 at 1:1), so
they rank all of their block, and numpy sorts and partitions with vector instructions (AVX-512 here)
where Numba's are scalar: on this machine 1 000 doubles sort in 8.7 us with numpy against 25-31 us
compiled, and a partition of 40 000 takes 38 against 246 us.
Not taken: the screen stays numpy's. (Later, for the small rankings only, the heap did pay:
``kernels.ranked_within_budget``, then every fund of a round in one call,
``kernels.ranked_group_within_budget``. This script wraps the screen as it was up to c88b347, where the
holdings were dropped by ``drop_held`` after the scores: run it on that commit.)

    .venv/bin/python benchmarks/experiments/numba_fund_picks.py [--scale 1.0 | --scale 0] [--repeats 5]

``--scale 0``: about 10 000 firms.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numba
import numpy as np
from _common import baseline, firms_at_scale_one, scale_for

import simmodel.agents.funds as funds_mod
from simmodel import kernels
from simmodel.agents.funds import rank_within_budget
from simmodel.model import SimModel


def numpy_picks(score, ok, base_ticket, budgets, caps, mean_ticket, min_ticket):
    """The per-fund loop of screen as numpy runs it (``rank_within_budget``): per fund, (deals m,
    their positions in rank order, tickets, the refused score or NaN)."""
    out = []
    for j in range(score.shape[0]):
        order, tickets, refused = rank_within_budget(score[j], ok[j], base_ticket, budgets[j], caps[j], mean_ticket,
                                                     min_ticket)
        out.append((order.size, order, tickets, math.nan if refused is None else refused))
    return out


@numba.njit(inline="always")
def _outputs(g, nb):
    """Each fund's ranked positions and tickets (a row each), deals taken, refused score; and the
    buffers of one fund's scores and positions."""
    return (np.empty((g, nb), np.intp), np.empty((g, nb), np.float64), np.zeros(g, np.int64), np.full(g, np.nan),
            np.empty(nb, np.float64), np.empty(nb, np.intp))


@numba.njit(inline="always")
def _gather_ok(score, ok, j, vals, pos):
    """Fund j's scores and positions where it may back the firm, in position order; returns how many."""
    n_ok = 0
    for b in range(score.shape[1]):
        if ok[j, b]:
            vals[n_ok] = score[j, b]
            pos[n_ok] = b
            n_ok += 1
    return n_ok


@numba.njit(inline="always")
def _book(order, tickets, j, r, position, base_ticket, min_ticket, cap, total):
    """Fund j's r-th ranked position and its ticket, clipped as numpy clips it; the new running sum."""
    ticket = min(max(base_ticket[position], min_ticket), cap)
    order[j, r] = position
    tickets[j, r] = ticket
    return total + ticket


@numba.njit(cache=False, nogil=True)
def select_picks(score, ok, base_ticket, budgets, caps, mean_ticket, min_ticket):  # pragma: no cover
    g, nb = score.shape
    order, tickets, m_out, refused, vals, pos = _outputs(g, nb)
    for j in range(g):
        n_ok = _gather_ok(score, ok, j, vals, pos)
        if n_ok == 0:
            continue
        cap, budget = caps[j], budgets[j]
        k = min(n_ok, math.ceil(2 * budget / min(mean_ticket, cap)) + 1)
        while True:
            if k < n_ok:
                t = np.partition(vals[:n_ok], n_ok - k)[n_ok - k]  # the k-th highest
                n_eq = k
                for c in range(n_ok):
                    n_eq -= vals[c] > t
                sel = np.empty(k, np.intp)
                s = 0
                for c in range(n_ok):  # those above it, then those equal to it by position
                    if vals[c] > t or (vals[c] == t and n_eq > 0):
                        if vals[c] == t:
                            n_eq -= 1
                        sel[s] = c
                        s += 1
            else:
                sel = np.arange(n_ok)
            ranked = sel[np.argsort(-vals[sel], kind="mergesort")]
            total = 0.0
            m = ranked.size
            for r in range(ranked.size):
                total = _book(order, tickets, j, r, pos[ranked[r]], base_ticket, min_ticket, cap, total)
                if total > budget:
                    m = r
                    break
            if m < ranked.size or ranked.size == n_ok:
                break
            k = n_ok
        m_out[j] = m
        if m < ranked.size:
            refused[j] = vals[ranked[m]]
    return order, tickets, m_out, refused


@numba.njit(inline="always")
def _better(vals, a, b):
    return vals[a] > vals[b] or (vals[a] == vals[b] and a < b)


@numba.njit(cache=False, nogil=True)
def _sift_down(heap, vals, j, size):  # pragma: no cover
    c = heap[j]
    while True:
        left = 2 * j + 1
        if left >= size:
            break
        m = left
        if left + 1 < size and _better(vals, heap[left + 1], heap[left]):
            m = left + 1
        if _better(vals, heap[m], c):
            heap[j] = heap[m]
            j = m
        else:
            break
    heap[j] = c


@numba.njit(cache=False, nogil=True)
def heap_picks(score, ok, base_ticket, budgets, caps, mean_ticket, min_ticket):  # pragma: no cover
    g, nb = score.shape
    order, tickets, m_out, refused, vals, pos = _outputs(g, nb)
    heap = np.arange(nb)
    for j in range(g):
        n_ok = _gather_ok(score, ok, j, vals, pos)
        heap[:n_ok] = np.arange(n_ok)
        cap, budget = caps[j], budgets[j]
        size = n_ok
        for start in range((size - 2) // 2, -1, -1):
            _sift_down(heap, vals, start, size)
        total = 0.0
        m = n_ok
        r = 0
        while size > 0:
            c = heap[0]
            size -= 1
            if size > 0:
                heap[0] = heap[size]
                _sift_down(heap, vals, 0, size)
            total = _book(order, tickets, j, r, pos[c], base_ticket, min_ticket, cap, total)
            if total > budget:
                m = r
                refused[j] = vals[c]
                break
            r += 1
        m_out[j] = m
    return order, tickets, m_out, refused


def capture_rounds(scale: float) -> list[tuple]:
    """The inputs of every round's per-fund loop in one replicate (seed 1): score, what each fund
    may back (holdings removed), base tickets, budgets, caps, mean ticket, smallest ticket."""
    rounds: list[tuple] = []
    ctx: dict = {}
    orig_screen, orig_scores, orig_held = funds_mod.screen, kernels.fund_block_scores, funds_mod.drop_held

    def screen(funds, cand, *, budgets, crowds, max_single_share, params, **kw):
        ctx.update(funds=list(funds), budgets=budgets, crowds=crowds, share=max_single_share, params=params,
                   revenue=None)
        return orig_screen(funds, cand, budgets=budgets, crowds=crowds, max_single_share=max_single_share,
                           params=params, **kw)

    def scores(lp, floor, firm, tte, revenue, *rest):
        block, score, ok = orig_scores(lp, floor, firm, tte, revenue, *rest)
        ctx.update(block=block, score=score, ok=ok, revenue=revenue)
        return block, score, ok

    def held(members, cand, block):
        out = orig_held(members, cand, block)
        p = ctx["params"]
        ok = ctx["ok"].copy()
        ok[out] = False
        group = [next(i for i, fd in enumerate(ctx["funds"]) if fd is m) for m in members]
        base = p.fund_ticket_to_revenue * ctx["revenue"][block]
        mean = max(float(base.mean()) if block.size else 0.0, p.fund_min_ticket_cny_100m)
        caps = np.array([max(ctx["share"] * ctx["funds"][i].size_cny_100m * (1.0 + ctx["crowds"][i]),
                             p.fund_min_ticket_cny_100m) for i in group])
        budgets = np.array([ctx["budgets"][i] for i in group], dtype=float)
        score = np.where(ok, ctx["score"], -np.inf)
        rounds.append((score, ok, base, budgets, caps, mean, p.fund_min_ticket_cny_100m))
        return out

    import simmodel.model.funds as model_funds
    model_funds.screen, kernels.fund_block_scores, funds_mod.drop_held = screen, scores, held
    try:
        inputs, cfg = baseline()
        SimModel(inputs, cfg.levers, cfg.uncertainties, scale=scale, seed=1).run()
    finally:
        model_funds.screen, kernels.fund_block_scores, funds_mod.drop_held = orig_screen, orig_scores, orig_held
    return rounds


def same(want: list, got: tuple) -> int:
    """How many funds' deals differ between numpy's and a compiled form's."""
    order, tickets, m, refused = got
    bad = 0
    for j, (mm, o, t, r) in enumerate(want):
        equal = (mm == m[j] and np.array_equal(o, order[j, :mm]) and np.array_equal(t, tickets[j, :mm])
                 and (r == refused[j] or (math.isnan(r) and math.isnan(refused[j]))))
        bad += not equal
    return bad


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0, help="population scale; 0: about 10 000 firms")
    ap.add_argument("--repeats", type=int, default=5, help="timings of all rounds; the best is printed")
    a = ap.parse_args(argv)
    inputs, cfg = baseline()
    scale = a.scale if a.scale > 0 else scale_for(10_000, firms_at_scale_one(inputs, cfg))
    rounds = capture_rounds(scale)
    n_funds = sum(r[0].shape[0] for r in rounds)
    print(f"scale {scale:g}: {len(rounds)} rounds, {n_funds} funds' rankings")
    forms = {"numpy": numpy_picks, "select (compiled)": select_picks, "heap (compiled)": heap_picks}
    for name, fn in forms.items():
        if fn is not numpy_picks:
            fn(*rounds[0])  # compile
            bad = sum(same(numpy_picks(*r), fn(*r)) for r in rounds)
            print(f"  {name}: {bad} of {n_funds} funds' deals differ from numpy's")
        best = math.inf
        for _ in range(a.repeats):
            t = time.perf_counter()
            for r in rounds:
                fn(*r)
            best = min(best, time.perf_counter() - t)
        print(f"  {name:18s} {best * 1e3:7.2f} ms a replicate")


if __name__ == "__main__":
    main()
