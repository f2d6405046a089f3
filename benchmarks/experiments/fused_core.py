"""Experiment for issue 17 (not part of simmodel, not run by the tests): what the quarter's stages of
the incumbent firms (innovate, grow with the cities' land, exit) would cost as fused compiled calls
with their draws keyed, instead of the three stages' numpy draws, exponentials and compiled passes
in turn; and how much of a replicate's simulation runs inside compiled loops at all. The two missed
goals of issue 17 (time per firm-step flat within 30 % from 10 000 to 1 000 000 firms; every stage
within 5x of its memory bound) were thought to call for the step as a few compiled calls with the
draws made up front (stop 43's note); this measures that route before anyone builds it (it changes
the random stream on purpose).

Two fused forms replace the model's ``innovate``, ``grow`` and ``exit`` (the counters and the
cities' books kept as the model keeps them; talents, entry, ageing and the yearly block unchanged):

- ``FusedCoreModel``, one call (``_fused_core``): one pass over the firms for AI+ ramps, innovations
  (a keyed uniform a firm below its p_innovate_q; the step exponential by inversion of a second keyed
  uniform, where the model draws ``rng.exponential``), the quarter's log-growth and its exponential
  (the C library's: compiled code has no vector exponential here, see below), the grown revenue and
  the land requests (``kernels.land_requests``' rule); then the cities' allocation (the model's own
  ``requests_in_order`` and ``served_land``), its outcomes (``land_outcomes``' rule) and the refused
  firms' relocation by a keyed uniform (the model draws ``rng.random``); then the exits (a keyed
  uniform a firm, the model's rule);
- ``TwoCallModel``, two calls around numpy's exponential (``_core_log_growth``, ``np.exp``,
  ``_core_land_exit``), their loops written as the model's kernels write them (no branch on the
  firm's data where the compiler can vectorise), the land loops the model's own.

Printed: the simulation of a replicate (seeds 1..R) at each size, the three models in alternation,
and of it the three stages (``_common.run_timed``'s innovate + grow + exit); with ``--check`` the
models' indicators (``bench_reference.CHECKED``) over ``--replicates`` replicates at scale 0.05
against the stock model's on other seeds (``compare_samples``: Kolmogorov-Smirnov and Welch,
Bonferroni); with ``--compiled`` the time a replicate spends inside compiled loops (every function of
``simmodel.kernels`` timed at each call), in all and in the yearly block.

Measured on 6 December 2026, 00:20-00:55 (this 2-core virtual machine, AMD EPYC, 1 MB of L2 cache a
core, 32 MB of L3):

- speed (``--sizes 1000 10000 118000 --rounds 3 --reps 8``, the stock model at cd26e1b, whose single append
  of a quarter's entrants was reverted after it, in alternation no faster or slower), simulation in
  ms (of it the three stages): 1 000 firms stock 14.67 (2.11), one call 13.99 (1.49), two calls 13.64
  (1.28); 10 000 firms stock 29.05 (5.01), one call 28.85 (6.48), two calls 25.74 (3.84); 118 000
  firms (1:1) stock 144.2 (35.6), one call 177.2 (66.3), two calls 139.5 (33.9). (An earlier run, 4
  rounds of 10 against dae7361: the stages 2.20, 1.52, 1.32 ms at 1 000 firms; 4.97, 6.73, 4.11 at
  10 000; 33.9, 66.5, 34.6 at 1:1.) The one call is slower from 10 000 firms on, twice as slow at
  1:1: its pass computes a scalar exponential a firm (2.4 ns here against numpy's vectorised 0.5 ns
  for float32; Numba 0.68 has no vector maths library: with icc_rt installed it does not use one)
  and branches on each firm's data, where the model's kernels are branch-free vector loops. The two
  calls save what lay between the model's calls, 0.8-1.7 ms a replicate (35-70 us a quarter): about
  6 % of the simulation at 1 000 firms, 4 % at 10 000, 1 % at 1:1.
- ``--check --replicates 40``: both consistent in distribution with the stock model (42 tests,
  Bonferroni threshold 0.0012; the smallest p 0.030, n_startup@2030 in Welch's test; land refusals in
  2027 +11 % and +13 %, p 0.27 and 0.43).
- ``--compiled --sizes 1000 10000 30000 100000 300000 1000000 --reps 5``: inside compiled loops, ns a
  firm-step (share of the simulation): 97.8 (20 %) at 1 000 firms, 36.0 (38 %) at 10 000, 29.6 (49 %)
  at 30 000, 27.9 (60 %) at 100 000, 28.7 (67 %) at 300 000, 34.0 (72 %) at 1 000 000; the whole
  simulation 94.9 ns a firm-step at 10 000 and 42.5 at 300 000. Again at 1 000, 10 000 and 118 000
  firms (``--reps 5``): start_year without the firms' yearly rates took 7.72, 15.12 and 74.01 ms, of
  which inside compiled loops 1.43, 5.68 and 43.63 ms.

What it says of the goals: (1) if every line of Python and numpy between the compiled loops cost
nothing, the compiled work alone would take 36.0 ns a firm-step at 10 000 firms against 27.9 at
100 000: the flat-within-30 % goal allows 55 ns at 10 000 (1.3 x 42.5), so at most 15.1 ms a
replicate, of which the loops take 9.8 and numpy's proportional work (its exponentials, logarithms
and draws, about 14 ns a firm-step at 300 000) about 3.8: 1.5 ms would be left for everything else,
against the 12 ms that the calls, numpy's small operations and the agents' Python take there now.
Fusing three of the nine stages removed about 1 ms of it. (2) At 1:1 start_year's compiled loops
alone take 43.6 ms, 7.3-7.9x its memory bound (6.01 ms at ba9be9a, 5.52 at dfb8db4 in ``make bench``,
which follows the copy bandwidth measured): fewer calls cannot bring it within
5x; the big actors' decisions (the funds' screens, two rounds of selections, the ladder's pools)
would need algorithms that read the firm arrays about once a year, not once a decision. Not built:
the two calls would change every result for a few per cent of a small replicate.

    .venv/bin/python benchmarks/experiments/fused_core.py [--sizes 1000 10000 118000] [--rounds 3]
                                                          [--reps 10] [--check] [--replicates 40]
                                                          [--compiled]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from _common import firms_at_scale_one, run_timed, scale_for

from simmodel import kernels
from simmodel.agents.cities import _PASSES
from simmodel.agents.firms import ABOVE_SIZE_REVENUE_CNY_100M
from simmodel.agents.noise import row_key
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs, replicate_seeds
from simmodel.kernels import keyed_unit, requests_in_order, served_land
from simmodel.model import SimModel

# the model's two land loops as helpers that the experiment's calls compile into their own code (see _call)
land_requests_of = kernels.land_requests.__wrapped__
land_outcomes_of = kernels.land_outcomes.__wrapped__
kernels._INLINED.setdefault("land_requests_of", land_requests_of)
kernels._INLINED.setdefault("land_outcomes_of", land_outcomes_of)


def _fused_core(q, key_innovate, key_gain, key_move, key_exit, alive, p_innovate_q, p_exit_q, ai_ramp_q, ramp_gain,
                step_mean, n_innovations, log_productivity, g_annual, shock_q, revenue, sector, land_mu, city,
                land_refused, exit_q, industry_sector, priority_sector, land_per_revenue, land_per_va, va_ratio,
                plot_effect, above_size, slack, refused_share, move_prob, budget_mu, budget_q, priority_share,
                max_passes):  # pragma: no cover - compiled
    """The incumbents' quarter (see the module's docstring). Returns (innovations, land used by city,
    land refused by city, land refused in all, refusals, exits)."""
    n = alive.size
    room = 1.0 + slack
    quarter = np.float32(0.25)
    asks = np.empty(n + 1, np.intp)  # the requests' rows (one spare slot: written before the flag moves on)
    prev = np.empty(n + 1, np.float64)  # and their revenue before growth
    m = 0
    n_innov = 0
    for i in range(n):
        a = alive[i]
        ramping = ai_ramp_q[i] > 0
        ai_ramp_q[i] -= ramping
        gain = 0.0
        if a and keyed_unit(i, key_innovate) < p_innovate_q[i]:
            u = keyed_unit(i, key_gain)
            gain = -step_mean * np.log1p(-np.float64(u))
            n_innovations[i] += 1
            n_innov += 1
        if ramping:
            gain += ramp_gain
        log_productivity[i] += gain
        g = quarter * g_annual[i] + shock_q[i] + np.float32(gain)
        growth = np.exp(g) if a else np.float32(1.0)
        r = revenue[i] * np.float64(growth)
        s = sector[i]
        asks[m] = i
        prev[m] = revenue[i]
        m += a & (r >= above_size) & industry_sector[s] & (r * land_per_revenue[s] / plot_effect > land_mu[i] * room)
        revenue[i] = r
        land_refused[i] = False
    # the requests, before growth (each asks for its need with the slack, less what it holds)
    request = np.empty(m, np.float64)
    before = np.empty(m, np.float64)
    req_city = np.empty(m, np.int64)
    priority = np.empty(m, np.bool_)
    efficiency = np.empty(m, np.float64)
    for j in range(m):
        i = asks[j]
        s = sector[i]
        request[j] = revenue[i] * land_per_revenue[s] / plot_effect * room - land_mu[i]
        before[j] = prev[j]
        req_city[j] = city[i]
        priority[j] = priority_sector[s]
        efficiency[j] = log_productivity[i]
    used, refused, refused_total, n_ko, n_exits = _land_tail(
        q, key_move, key_exit, asks[:m], request, before, req_city, priority, efficiency, alive, p_exit_q, revenue,
        sector, land_mu, city, land_refused, exit_q, land_per_va, va_ratio, plot_effect, slack, refused_share, move_prob,
        budget_mu, budget_q, priority_share, max_passes)
    return n_innov, used, refused, refused_total, n_ko, n_exits


def _land_tail(q, key_move, key_exit, rows, request, before, req_city, priority, efficiency, alive, p_exit_q, revenue,
               sector, land_mu, city, land_refused, exit_q, land_per_va, va_ratio, plot_effect, slack, refused_share,
               move_prob, budget_mu, budget_q, priority_share, max_passes):  # pragma: no cover - compiled
    """What both forms do after the requests: the cities' allocation (the model's requests_in_order and
    served_land), its outcomes (land_outcomes), the refused firms' relocation by a keyed uniform, then
    the exits (a keyed uniform a firm below its p_exit_q). Returns (land used by city, refused by
    city, refused in all, refusals, exits)."""
    nc = budget_mu.size
    used = np.zeros(nc)
    refused = np.zeros(nc)
    refused_total = 0.0
    n_ko = 0
    if rows.size:
        order = requests_in_order(req_city, efficiency, priority, nc)
        granted, used = served_land(order, req_city, request, priority, budget_q, priority_share, max_passes)
        ko, refused, refused_total = land_outcomes_of(rows, granted, request, before, land_mu, revenue, land_refused,
                                                      city, sector, land_per_va, va_ratio, slack, plot_effect,
                                                      refused_share, nc)
        n_ko = ko.size
        best = 0
        for c in range(nc):  # the city with most land left, as np.argmax(budget_mu - used)
            if budget_mu[c] - used[c] > budget_mu[best] - used[best]:
                best = c
        for j in range(ko.size):
            if keyed_unit(ko[j], key_move) < move_prob:
                city[ko[j]] = best
    n_exits = 0
    for i in range(alive.size):
        die = alive[i] & (keyed_unit(i, key_exit) < p_exit_q[i])
        n_exits += die
        if die:
            alive[i] = False
            exit_q[i] = q
    return used, refused, refused_total, n_ko, n_exits


kernels._INLINED.setdefault("_land_tail", _land_tail)


def _core_log_growth(key_innovate, key_gain, alive, p_innovate_q, ai_ramp_q, ramp_gain, step_mean, n_innovations,
                     log_productivity, g_annual, shock_q, out):  # pragma: no cover - compiled
    """The first of the two calls: innovations and AI+ ramps, then the quarter's log-growth into ``out``
    (float32; 0 for dead firms), in loops without a branch on the firm's data where the compiler can
    vectorise them. Returns the innovations."""
    n = alive.size
    hit = np.empty(n + 1, np.intp)
    m = 0
    for i in range(n):
        hit[m] = i
        m += alive[i] & (keyed_unit(i, key_innovate) < p_innovate_q[i])
    quarter = np.float32(0.25)
    for i in range(n):
        ramping = ai_ramp_q[i] > 0
        ai_ramp_q[i] -= ramping
        gain = ramp_gain * np.float64(ramping)
        log_productivity[i] += gain
        out[i] = quarter * g_annual[i] + shock_q[i] + np.float32(gain)
    for j in range(m):
        i = hit[j]
        step = -step_mean * np.log1p(-np.float64(keyed_unit(i, key_gain)))
        n_innovations[i] += 1
        log_productivity[i] += step
        out[i] += np.float32(step)
    for i in range(n):
        out[i] = out[i] if alive[i] else np.float32(0.0)
    return m


def _core_land_exit(q, key_move, key_exit, alive, p_exit_q, growth, log_productivity, revenue, sector, land_mu, city,
                    land_refused, exit_q, industry_sector, priority_sector, land_per_revenue, land_per_va, va_ratio,
                    plot_effect, above_size, slack, refused_share, move_prob, budget_mu, budget_q, priority_share,
                    max_passes):  # pragma: no cover - compiled
    """The second call: the land requests of the grown firms (``growth``: exp of the log-growth), the
    cities' allocation and its outcomes, the relocations, then the exits, each loop as the model's
    kernels write them. Returns (land used by city, refused by city, refused in all, refusals, exits)."""
    rows, request, before, req_city, priority, efficiency = land_requests_of(
        revenue, growth, alive, sector, land_mu, industry_sector, land_per_revenue, plot_effect, above_size, slack, city,
        priority_sector, log_productivity, land_refused)
    return _land_tail(q, key_move, key_exit, rows, request, before, req_city, priority, efficiency, alive, p_exit_q,
                      revenue, sector, land_mu, city, land_refused, exit_q, land_per_va, va_ratio, plot_effect, slack,
                      refused_share, move_prob, budget_mu, budget_q, priority_share, max_passes)


_compiled: dict = {}


def _call(fn, *args):
    """``fn`` compiled (at its first call), with the helpers of simmodel.kernels it calls."""
    if fn not in _compiled:
        from numba import njit

        _compiled[fn] = njit(nogil=True)(kernels._with_helpers(fn, njit))
    return _compiled[fn](*args)


def fused_core(*args):
    return _call(_fused_core, *args)


class FusedCoreModel(SimModel):
    """SimModel whose innovate, grow and exit stages are one fused_core call (made in innovate)."""

    def innovate(self, q: int):
        f, p, lv, ctx = self.firms, self.params, self.levers, self.growth_ctx
        rng_i = self.rng_for("innovation", q)
        key_innovate, key_gain = row_key(rng_i), row_key(rng_i)
        key_move, key_exit = row_key(self.rng_for("land", q)), row_key(self.rng_for("exit", q))
        budget = np.array([c.budget_mu for c in self.city_agents])
        n_innov, used, refused, refused_total, n_ko, n_exits = fused_core(
            q, key_innovate, key_gain, key_move, key_exit, f.alive, f.p_innovate_q, f.p_exit_q, f.ai_ramp_q,
            p.ai_plus_productivity_gain / 4.0, p.innovation_step_mean, f.n_innovations, f.log_productivity, f.g_annual,
            f.shock_q, f.revenue, f.sector, f.land_mu, f.city, f.land_refused, f.exit_q, self.sectors.is_industry,
            self.modern_sector, self.land_per_revenue, ctx.land_per_va, ctx.va_ratio, self.plot_effect,
            ABOVE_SIZE_REVENUE_CNY_100M, p.land_capacity_slack, p.land_refused_growth_share, p.land_relocation_prob,
            budget, budget / (4 - q % 4), lv.land_priority_emerging_pct / 100.0, _PASSES)
        self._book(n_innov, used, refused, refused_total, n_ko, n_exits)

    def _book(self, n_innov: int, used: np.ndarray, refused: np.ndarray, refused_total: float, n_ko: int,
              n_exits: int) -> None:
        """The cities' books and the year's counters, as the model's grow, innovate and exit keep them."""
        allocated, refused_by_city = used.tolist(), refused.tolist()
        for c in self.city_agents:
            c.book_land(allocated[c.index], refused_by_city[c.index])
        sc = self.scale
        self.counters["n_innovations"] += n_innov / sc
        self.counters["land_refused_mu"] += refused_total / sc
        self.counters["n_land_refusals"] += n_ko / sc
        self.counters["land_allocated_mu"] += used.sum() / sc
        self.counters["n_exits"] += n_exits / sc

    def grow(self, q: int, dlogp) -> None:
        """Made by innovate (fused_core)."""

    def exit(self, q: int) -> None:
        """Made by innovate (fused_core)."""


class TwoCallModel(FusedCoreModel):
    """The same slice as two compiled calls around numpy's exponential (_core_log_growth, np.exp,
    _core_land_exit): its loops written as the model's kernels write them, to be vectorised."""

    def innovate(self, q: int):
        f, p, lv, ctx = self.firms, self.params, self.levers, self.growth_ctx
        rng_i = self.rng_for("innovation", q)
        key_innovate, key_gain = row_key(rng_i), row_key(rng_i)
        key_move, key_exit = row_key(self.rng_for("land", q)), row_key(self.rng_for("exit", q))
        g = np.empty(f.n, np.float32)
        n_innov = _call(_core_log_growth, key_innovate, key_gain, f.alive, f.p_innovate_q, f.ai_ramp_q,
                        p.ai_plus_productivity_gain / 4.0, p.innovation_step_mean, f.n_innovations, f.log_productivity,
                        f.g_annual, f.shock_q, g)
        np.exp(g, out=g)
        budget = np.array([c.budget_mu for c in self.city_agents])
        used, refused, refused_total, n_ko, n_exits = _call(
            _core_land_exit, q, key_move, key_exit, f.alive, f.p_exit_q, g, f.log_productivity, f.revenue, f.sector,
            f.land_mu, f.city, f.land_refused, f.exit_q, self.sectors.is_industry, self.modern_sector,
            self.land_per_revenue, ctx.land_per_va, ctx.va_ratio, self.plot_effect, ABOVE_SIZE_REVENUE_CNY_100M,
            p.land_capacity_slack, p.land_refused_growth_share, p.land_relocation_prob, budget, budget / (4 - q % 4),
            lv.land_priority_emerging_pct / 100.0, _PASSES)
        self._book(n_innov, used, refused, refused_total, n_ko, n_exits)


def _timed(cls, inputs, cfg, scale: float, seed: int) -> dict:
    m = cls(inputs, cfg.levers, cfg.uncertainties, scale=scale, seed=seed)
    return run_timed(m)


def speed(sizes: list[int], rounds: int, reps: int) -> None:
    cfg = RunConfig()
    inputs, _ = load_inputs(cfg)
    n_one = firms_at_scale_one(inputs, cfg)
    models = (SimModel, FusedCoreModel, TwoCallModel)
    for cls in models:  # compile and load
        cls(inputs, cfg.levers, cfg.uncertainties, scale=scale_for(1000, n_one), seed=0).run()
    print("simulation of a replicate, ms (median of the rounds' medians), and of it the incumbents' stages (innovate "
          "+ grow + exit), for the stock model, the one fused call and the two calls, in alternation")
    for n in sizes:
        sc = scale_for(n, n_one)
        got = {cls: ([], []) for cls in models}
        for _ in range(rounds):
            for cls in models:
                rs = [_timed(cls, inputs, cfg, sc, seed) for seed in range(1, reps + 1)]
                got[cls][0].append(statistics.median(r["seconds"] for r in rs))
                got[cls][1].append(statistics.median(sum(r["by_stage"][k] for k in ("innovate", "grow", "exit"))
                                                     for r in rs))
        line = []
        for cls, name in zip(models, ("stock", "one call", "two calls"), strict=True):
            sim, core = got[cls]
            line.append(f"{name} {1e3 * statistics.median(sim):7.2f} (stages {1e3 * statistics.median(core):5.2f}; "
                        f"rounds {' '.join(f'{1e3 * x:.1f}' for x in sim)})")
        print(f"  {n:>7} firms: " + ", ".join(line))


def check(replicates: int, scale: float, model: type) -> bool:
    from bench_reference import CHECKED, compare_samples

    cfg = RunConfig()
    inputs, _ = load_inputs(cfg)
    seeds = replicate_seeds(2025, 2 * replicates)
    samples = []
    for cls, part in ((SimModel, seeds[:replicates]), (model, seeds[replicates:])):
        vals: dict[str, list[float]] = {f"{k}@{y}": [] for k, y in CHECKED}
        for ss in part:
            traj = cls(inputs, cfg.levers, cfg.uncertainties, scale=scale, seed=ss).run()
            for k, y in CHECKED:
                vals[f"{k}@{y}"].append(float(traj.loc[y, k]))
        samples.append({k: np.array(v) for k, v in vals.items()})
    res = compare_samples(*samples)
    print(f"distribution check, stock against {model.__name__}: {replicates} replicates each at scale {scale}, Bonferroni threshold "
          f"{res['threshold']:.2g} over {res['n_tests']} tests")
    for r in res["rows"]:
        print(f"  {r['indicator']:44s} stock {r['mean_a']:12.4g}  fused {r['mean_b']:12.4g}  ({r['rel_diff_pct']:+6.2f} %)"
              f"  p_ks {r['p_ks']:.3f}  p_welch {r['p_welch']:.3f}{'  DIFFERS' if r['differs'] else ''}")
    print("consistent in distribution" if res["consistent"] else "NOT consistent in distribution")
    return res["consistent"]


def compiled_share(sizes: list[int], reps: int) -> None:
    """The seconds a replicate's simulation spends inside the compiled loops (every function of
    simmodel.kernels, timed at each call, less the timer's own cost per call) against its total, per
    size: what would remain of the time per firm-step if every line of Python and numpy between the
    loops cost nothing."""
    import functools

    cfg = RunConfig()
    inputs, _ = load_inputs(cfg)
    n_one = firms_at_scale_one(inputs, cfg)
    inside = [0.0, 0]

    def timed(fn):
        @functools.wraps(fn)
        def call(*args):
            t = time.perf_counter()
            try:
                return fn(*args)
            finally:
                inside[0] += time.perf_counter() - t
                inside[1] += 1
        return call

    names = [k for k, v in vars(kernels).items() if callable(v) and getattr(v, "__wrapped__", None) is not None]
    originals = {k: getattr(kernels, k) for k in names}
    empty = timed(len)
    t = time.perf_counter()
    for _ in range(100_000):
        empty(())  # the timer's cost per call (with len's)
    per_call = (time.perf_counter() - t) / 100_000
    for k in names:
        setattr(kernels, k, timed(originals[k]))
    try:
        print(f"time inside the compiled loops (the timer's {1e6 * per_call:.2f} us a call taken off), median of {reps} "
              "replicates:")
        for n in sizes:
            sc = scale_for(n, n_one)
            SimModel(inputs, cfg.levers, cfg.uncertainties, scale=sc, seed=0).run()
            rows = []
            for seed in range(1, reps + 1):
                m = SimModel(inputs, cfg.levers, cfg.uncertainties, scale=sc, seed=seed)
                yearly = [0.0, 0]  # compiled seconds and calls inside start_year, less its firms' rates
                start_year, refresh = m.start_year, m.refresh_rates

                def start_year_timed(year, start_year=start_year, yearly=yearly):
                    before = list(inside)
                    start_year(year)
                    yearly[0] += inside[0] - before[0]
                    yearly[1] += inside[1] - before[1]

                def refresh_timed(*a, refresh=refresh, yearly=yearly, **k):
                    before = list(inside)
                    refresh(*a, **k)
                    if len(a) < 2 and "sl" not in k:  # every firm's, in start_year (entrants' come in enter)
                        yearly[0] -= inside[0] - before[0]
                        yearly[1] -= inside[1] - before[1]

                m.start_year, m.refresh_rates = start_year_timed, refresh_timed
                inside[:] = [0.0, 0]
                r = run_timed(m)
                compiled = inside[0] - inside[1] * per_call
                rows.append((r["seconds"], compiled, inside[1], r["firm_steps"], r["by_stage"]["start_year"],
                             yearly[0] - yearly[1] * per_call))
            sim, compiled, calls, steps, year_s, year_c = (statistics.median(x[i] for x in rows) for i in range(6))
            print(f"  {n:>7} firms: simulation {1e3 * sim:7.2f} ms ({1e9 * sim / steps:5.1f} ns a firm-step), inside "
                  f"{calls:.0f} compiled calls {1e3 * compiled:7.2f} ms ({1e9 * compiled / steps:5.1f} ns a firm-step, "
                  f"{100 * compiled / sim:.0f} %); start_year (without the firms' rates) {1e3 * year_s:.2f} ms, "
                  f"inside compiled calls {1e3 * year_c:.2f} ms")
    finally:
        for k, v in originals.items():
            setattr(kernels, k, v)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 118_000])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--compiled", action="store_true", help="the share of the simulation inside compiled loops, by size")
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--scale", type=float, default=0.05)
    a = ap.parse_args()
    t = time.perf_counter()
    if a.compiled:
        compiled_share(a.sizes, a.reps)
    elif a.check:
        for model in (TwoCallModel, FusedCoreModel):
            check(a.replicates, a.scale, model)
    else:
        speed(a.sizes, a.rounds, a.reps)
    print(f"({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
