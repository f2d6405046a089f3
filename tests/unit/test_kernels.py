"""The compiled loops of simmodel.kernels give bit for bit what the numpy passes they replaced gave.

Each reference below is the numpy code the model ran before the kernel (in the dtypes of the firm
arrays, ``simmodel.agents.firms.FIELDS``), on random arrays with the cases that matter: dead firms,
values exactly on a threshold, firms without the rare attributes and with all of them."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from simmodel import kernels
from simmodel.agents.cities import allocate_land, request_order
from simmodel.agents.firms import TECH_SME_MAX_REVENUE_CNY_100M, FirmStage, stage_mask
from simmodel.kernels import pairwise_sum

SIZES = (0, 1, 7, 1000, 20_000)


def bits_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """Same dtype, shape and bytes (so -0.0 differs from 0.0 and NaN payloads count)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def firm_arrays(n: int, seed: int, n_sectors: int = 9) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    revenue = np.exp(rng.normal(-1.0, 1.5, n))
    revenue[rng.random(n) < 0.05] = 0.2  # exactly the above-size threshold used below
    still = rng.random(n) < 0.05  # no growth at all: these stay exactly on the threshold
    return {
        "alive": rng.random(n) < 0.9,
        "sector": np.sort(rng.integers(0, n_sectors, n)).astype(np.intp),  # stored sector by sector, as synthesised
        "revenue": revenue,
        "land_mu": rng.gamma(2.0, 5.0, n) * (rng.random(n) < 0.8),
        "g_annual": np.where(still, 0.0, rng.normal(0.05, 0.1, n)).astype(np.float32),
        "shock_q": np.where(still, 0.0, rng.laplace(0.0, 0.05, n)).astype(np.float32),
        "age_q": rng.integers(0, 300, n).astype(np.int32),
        "equity": rng.gamma(1.0, 0.5, n) * (rng.random(n) < 0.05),
        "designated": rng.random(n) < 0.02,
        "boost_until_q": np.where(rng.random(n) < 0.05, rng.integers(0, 30, n), -1).astype(np.int32),
        "boost": rng.uniform(0.0, 0.2, n),
        "n_investors": (rng.integers(1, 4, n) * (rng.random(n) < 0.05)).astype(np.int16),
        "penalty_until_q": np.where(rng.random(n) < 0.03, rng.integers(0, 30, n), -1).astype(np.int32),
        "stage": rng.integers(0, 6, n).astype(np.int8),
        "grant_rd": rng.gamma(1.0, 0.01, n) * (rng.random(n) < 0.1),
        "rd_intensity": rng.uniform(0.0, 0.08, n) * (rng.random(n) < 0.95),  # some firms spend nothing on R&D
        "talent": (rng.integers(1, 5, n) * (rng.random(n) < 0.05)).astype(np.int32),
    }


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("plot_effect", [1.15, -1.15])
def test_growth_and_land_requests_are_numpys(n, seed, plot_effect):
    # a negative plot effect makes no sense, and no industrial firm asks then; it checks that a firm
    # outside industry never asks, whatever its land test would give (the kernel's NaN for it)
    a = firm_arrays(n, seed)
    rng = np.random.default_rng(seed + 10)
    rows = np.flatnonzero(rng.random(n) < 0.05)
    log_points = rng.exponential(0.03, rows.size)
    industry = np.arange(9) % 3 != 0
    land_per_revenue = rng.uniform(0.5, 5.0, 9)
    above, slack = 0.2, 0.1

    # the numpy passes of simmodel.model.stages.grow before the kernels
    g = 0.25 * a["g_annual"]
    g += a["shock_q"]
    g[rows] += log_points.astype(np.float32)
    g *= a["alive"]
    desired = a["revenue"] * np.exp(g)
    cand = np.flatnonzero(a["alive"] & (desired >= above))
    cand = cand[industry[a["sector"][cand]]]
    need = desired[cand] * land_per_revenue[a["sector"][cand]] / plot_effect
    over = need > a["land_mu"][cand] * (1.0 + slack)

    growth = np.empty(n, np.float32)
    kernels.growth_log_points(a["g_annual"], a["shock_q"], a["alive"], rows, log_points, growth)
    np.exp(growth, out=growth)
    revenue = a["revenue"].copy()
    city = rng.integers(0, 11, n).astype(np.int8)
    priority_sector = np.arange(9) % 2 == 0
    lp = rng.normal(0.0, 0.5, n)
    refused = rng.random(n) < 0.5  # last quarter's refusals, cleared
    req, request, before, req_city, priority, efficiency = kernels.land_requests(
        revenue, growth, a["alive"], a["sector"], a["land_mu"], industry, land_per_revenue, plot_effect, above, slack,
        city, priority_sector, lp, refused)
    assert bits_equal(revenue, desired) and not refused.any()
    assert bits_equal(req, cand[over])
    assert bits_equal(request, need[over] * (1.0 + slack) - a["land_mu"][req])
    assert bits_equal(before, a["revenue"][cand[over]])
    assert bits_equal(req_city, city[req].astype(np.int64))
    assert bits_equal(priority, priority_sector[a["sector"][req]]) and bits_equal(efficiency, lp[req])
    if n >= 1000 and plot_effect > 0:
        assert 0 < req.size < cand.size  # both branches of the land test are exercised
    elif plot_effect < 0:
        assert req.size == 0


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("share_granted", [0.0, 0.5, 1.0])
def test_land_outcomes_are_numpys(n, share_granted):
    """kernels.land_outcomes: what grow_firms' numpy statements did with the cities' answers (the
    granted take their land; the refused are flagged, their revenue capped by their land or their
    revenue before growth, plus a share of the rest; the refused mu by city and in all), bit for
    bit, with none, half or every request granted, and a NaN revenue and a NaN land among the refused."""
    a = firm_arrays(n, 5)
    rng = np.random.default_rng(n)
    req = np.flatnonzero(rng.random(n) < 0.3)
    granted = rng.random(req.size) < share_granted
    request = rng.gamma(2.0, 3.0, req.size)
    before = a["revenue"][req] * rng.uniform(0.8, 1.0, req.size)
    city = rng.integers(0, 11, n).astype(np.int8)
    land_per_va, va_ratio = rng.uniform(0.5, 3.0, 9), rng.uniform(0.1, 0.5, 9)
    slack, plot_effect, share = 0.1, 1.15, 0.3
    revenue = a["revenue"].copy()
    if req.size > 3 and not granted[3]:
        revenue[req[3]] = np.nan
    land_mu, flags = a["land_mu"].copy(), np.zeros(n, np.bool_)
    if req.size > 5 and not granted[5]:
        land_mu[req[5]] = np.nan  # np.maximum keeps the NaN cap

    want_land, want_rev, want_flags = land_mu.copy(), revenue.copy(), flags.copy()
    ok, ko = req[granted], req[~granted]
    want_land[ok] += request[granted]
    want_flags[ko] = True
    cap = (want_land[ko] * (1.0 + slack) * plot_effect / (land_per_va[a["sector"][ko]] * va_ratio[a["sector"][ko]]))
    desired = want_rev[ko]
    floor = np.minimum(desired, np.maximum(cap, before[~granted]))
    want_rev[ko] = floor + share * (desired - floor)
    want_refused = np.bincount(city[ko], weights=request[~granted], minlength=11)

    got_ko, refused, total = kernels.land_outcomes(req, granted, request, before, land_mu, revenue, flags, city,
                                                   a["sector"], land_per_va, va_ratio, slack, plot_effect, share, 11)
    assert bits_equal(got_ko, ko) and bits_equal(land_mu, want_land) and bits_equal(flags, want_flags)
    assert bits_equal(revenue, want_rev) and bits_equal(refused, want_refused / 1.0)
    assert total == float(request[~granted].sum())
    if ko.size > 20:
        assert (cap < desired).any() and (cap > desired).any()  # the cap binds for some and not for others


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("tail", [False, True])
def test_sector_sums_are_bincounts_in_row_order(n, tail):
    a = firm_arrays(n, 3)
    if tail:  # entrants appended in random sectors after the base year's sorted firms
        a["sector"][n // 2:] = np.random.default_rng(4).integers(0, 9, n - n // 2)
    rev = a["revenue"] * a["alive"]
    every = np.bincount(a["sector"], weights=rev, minlength=9)
    rev *= rev >= 0.2
    above = np.bincount(a["sector"], weights=rev, minlength=9)
    got_every, got_above = kernels.sector_revenue_sums(a["alive"], a["revenue"], a["sector"], 9, 0.2)
    # divided by the scale as sector_aggregates does (bincount gives integers for no firms at all)
    assert bits_equal(got_every / 1.0, every / 1.0) and bits_equal(got_above / 1.0, above / 1.0)
    if n >= 1000:
        assert (got_above > 0).any() and (got_above < got_every).any()


def expected_growth_numpy(a, q, sector_base, size_center, slope, young_premium, equity_boost, designation_boost, logr):
    """simmodel.agents.firms.annual_growth before the kernel."""
    s = a["sector"]
    annual = sector_base[s]
    annual += slope * (logr - size_center[s])
    annual += young_premium[np.minimum(a["age_q"], young_premium.size - 1, dtype=np.intp)]
    equity = a["equity"]
    eq = np.flatnonzero(equity > 0)
    annual[eq] += equity_boost * np.minimum(equity[eq] / np.maximum(a["revenue"][eq], 1e-6), 1.0)
    annual[np.flatnonzero(a["designated"])] += designation_boost
    boosted = np.flatnonzero(a["boost_until_q"] > q)
    annual[boosted] += a["boost"][boosted]
    return annual


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("center_dtype", [np.float32, np.float64])
def test_expected_growth_is_numpys_in_numpys_precision(n, center_dtype):
    a = firm_arrays(n, 4)
    rng = np.random.default_rng(5)
    logr = np.log((a["revenue"] / 0.1).astype(np.float32))
    sector_base = rng.normal(0.05, 0.02, 9).astype(np.float32) + rng.normal(0.0, 0.01, 9)  # float32 + float64, as the model's
    size_center = rng.normal(1.0, 0.5, 9).astype(center_dtype)
    young_premium = (0.1 * np.exp2(-np.arange(241) / 16.0)).astype(np.float32)
    slope = -0.0137
    want = expected_growth_numpy(a, 12, sector_base, size_center, slope, young_premium, 0.05, 0.03, logr)
    got = kernels.expected_growth(a["sector"], logr, a["age_q"], a["equity"], a["revenue"], a["designated"],
                                  a["boost_until_q"], a["boost"], 12, sector_base, size_center,
                                  np.result_type(logr, size_center).type(slope), young_premium, 0.05, 0.03)
    assert bits_equal(got, want)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("cut", [0.0, 0.35])
@pytest.mark.parametrize("young_dtype", [np.float32, np.float64])
def test_exit_hazard_terms_are_numpys(n, cut, young_dtype):
    a = firm_arrays(n, 6)
    logr = np.log((a["revenue"] / 0.1).astype(np.float32))
    young_hazard = (1.0 + 1.5 * np.exp(-np.arange(241) / 12.0)).astype(young_dtype)
    q, base, funded, penalty, cap, small_max = 12, 0.08, 0.7, 1.6, 0.5, 1.0

    h = np.exp(-0.15 * logr)  # the size term, numpy's in both
    want = h.copy()
    want *= base
    want *= young_hazard[np.minimum(a["age_q"], young_hazard.size - 1, dtype=np.intp)]
    rows = np.flatnonzero(a["n_investors"] > 0)
    want[rows] *= funded
    rows = np.flatnonzero(a["penalty_until_q"] > q)
    want[rows] *= penalty
    if cut:
        small = stage_mask(a["stage"], FirmStage.TECH_SME, FirmStage.HIGH_TECH, FirmStage.LITTLE_GIANT) & (
            a["revenue"] < small_max)
        np.multiply(want, 1.0 - cut, out=want, where=small)
    np.minimum(want, cap, out=want)

    bits = sum(1 << int(s) for s in (FirmStage.TECH_SME, FirmStage.HIGH_TECH, FirmStage.LITTLE_GIANT))
    kernels.exit_hazard_terms(h, a["age_q"], young_hazard, a["n_investors"], a["penalty_until_q"], a["stage"],
                              a["revenue"], q, base, funded, penalty, 1.0 - cut, bits, small_max, cap)
    assert bits_equal(h, want)


@pytest.mark.parametrize("n", SIZES)
def test_innovation_hazard_terms_are_numpys(n):
    a = firm_arrays(n, 7)
    rd_reference = np.random.default_rng(8).uniform(0.001, 0.05, 9)
    additionality, elasticity, base, spill, boost = 0.6, 0.45, 0.3, 1.07, 0.04

    rd = additionality * a["grant_rd"] + a["rd_intensity"] * a["revenue"]
    ratio = (np.maximum(rd, 1e-12) / rd_reference[a["sector"]]).astype(np.float32)
    want = np.exp(np.float32(elasticity) * np.log(ratio))
    want *= base * spill
    rows = np.flatnonzero(a["talent"])
    want[rows] *= 1.0 + boost * a["talent"][rows]

    got = kernels.rd_ratio(a["grant_rd"], a["rd_intensity"], a["revenue"], a["sector"], rd_reference, additionality)
    assert bits_equal(got, ratio)
    np.log(got, out=got)
    got *= np.float32(elasticity)
    np.exp(got, out=got)
    kernels.innovation_terms(got, a["talent"], base * spill, boost)
    assert bits_equal(got, want)


def running_model(inputs, seed: int):
    """A model at 1:50 five quarters in, with fund-backed (rows 0-2), penalised (3-5) and talented
    (6-8) firms among its first rows."""
    from simmodel.levers import Levers, Uncertainties
    from simmodel.model import SimModel

    m = SimModel(inputs, Levers(), Uncertainties(), scale=0.02, seed=seed)
    for _ in range(5):
        m.step()
    f, q = m.firms, m.q
    f.n_investors[:3] = 2
    f.penalty_until_q[3:6] = q + 4
    f.talent[6:9] = 3
    return m


def test_the_rates_of_a_running_model_are_those_of_the_numpy_code(inputs):
    """The wrappers in simmodel.agents.firms pass the kernels the model's own arrays and constants in
    the precision numpy used (a float32 size slope, the spillover's product): checked on the firms of
    a model five quarters in, with a fund-backed firm, a penalised one and talents among them."""
    from simmodel.agents.firms import ALL, annual_growth, exit_hazard, innovation_hazard, log_revenue

    m = running_model(inputs, seed=2)
    f, p, ctx, q = m.firms, m.params, m.growth_ctx, m.q
    a = {name: getattr(f, name)[ALL] for name in ("sector", "age_q", "equity", "revenue", "designated", "boost_until_q",
                                                   "boost", "n_investors", "penalty_until_q", "stage", "grant_rd",
                                                   "rd_intensity", "talent")}
    logr = log_revenue(f)
    shift = np.linspace(-0.01, 0.02, m.sectors.n)
    want = expected_growth_numpy(a, q, ctx.drift_annual + shift, ctx.size_center, p.growth_size_slope, m.young_premium,
                                 p.fund_equity_growth_boost, p.designation_growth_boost, logr)
    assert bits_equal(annual_growth(f, ctx, p, q, shift, logr, m.young_premium), want)

    h = exit_hazard(f, p, q, 0.3, logr, m.young_hazard)
    want = np.exp(-p.exit_size_elasticity * logr) * np.float32(p.exit_hazard_base_annual)
    want *= m.young_hazard[np.minimum(a["age_q"], m.young_hazard.size - 1, dtype=np.intp)]
    rows = np.flatnonzero(a["n_investors"] > 0)
    want[rows] *= p.fund_funded_hazard_multiplier
    rows = np.flatnonzero(a["penalty_until_q"] > q)
    want[rows] *= p.fund_early_exit_hazard_multiplier
    small = stage_mask(a["stage"], FirmStage.TECH_SME, FirmStage.HIGH_TECH, FirmStage.LITTLE_GIANT) & (a["revenue"] < TECH_SME_MAX_REVENUE_CNY_100M)
    np.multiply(want, 1.0 - 0.3, out=want, where=small)
    assert bits_equal(h, np.minimum(want, p.exit_hazard_cap_annual))

    spill = 1.07
    rd = p.subsidy_additionality * a["grant_rd"] + a["rd_intensity"] * a["revenue"]
    ratio = (np.maximum(rd, 1e-12) / ctx.rd_reference[a["sector"]]).astype(np.float32)
    want = np.exp(np.float32(p.innovation_rd_elasticity) * np.log(ratio))
    want *= p.innovation_base_annual * spill
    rows = np.flatnonzero(a["talent"])
    want[rows] *= 1.0 + p.talent_innovation_boost * a["talent"][rows]
    assert bits_equal(innovation_hazard(f, ctx, p, spill), want)


def fresh_draws_numpy(cdf, w, u, total, need):
    """One batch of draw_without_replacement as numpy wrote it (before kernels.fresh_draws)."""
    u = u * total
    pos = cdf.searchsorted(u, side="right")
    pos = pos[pos < w.size]
    _, first = np.unique(pos, return_index=True)
    new = pos[np.sort(first)]
    new = new[w[new] > 0.0][:need]
    weight = float(w[new].sum())
    w[new] = 0.0
    return new, weight


@pytest.mark.parametrize("n, need, zeros", [(1, 1, 0), (7, 3, 2), (400, 100, 0), (400, 399, 40), (5000, 300, 500),
                                            (5000, 5000, 0)])
def test_fresh_draws_are_numpys_batch(n, need, zeros):
    """kernels.fresh_draws takes what np.unique, the first draws' sort and the masks took, in draw order,
    zeroes the same weights and sums theirs pairwise as numpy: batches with repeats, earlier draws'
    zeroed weights, uniforms that round up to the total (the position beyond the last), a batch
    stopped by ``need`` and one running out of uniforms."""
    rng = np.random.default_rng(n + need)
    w = np.exp(rng.normal(0.0, 2.0, n))
    w[rng.choice(n, zeros, replace=False)] = 0.0
    w_np = w.copy()
    cdf = np.cumsum(w_np)
    total = float(cdf[-1])
    for _ in range(3):  # three batches on one sum, as draw_without_replacement's inner loop
        u = rng.random(need + 8)
        u[:2] = np.nextafter(1.0, 0.0)  # times the total may round up to it
        got, got_weight = kernels.fresh_draws(cdf, w, u, total, need)
        want, want_weight = fresh_draws_numpy(cdf, w_np, u, total, need)
        assert np.array_equal(got, want) and got.dtype == want.dtype
        assert got_weight == want_weight
        assert bits_equal(w, w_np)
    assert (w == 0).sum() > zeros


@pytest.mark.parametrize("finance_index", [0.0, 1.0])
def test_refresh_rates_three_passes_are_numpys(inputs, finance_index):
    """model/stages/rates.py: refresh_rates' fused passes (kernels.rate_arguments, rate_exponents,
    rate_probabilities, each ufunc once over a work array's rows) give, bit for bit, what numpy gives
    from the rate functions of simmodel.agents.firms (each checked against numpy above): the growth
    rate plus the year's shock stored in single precision, the Laplace shock by inversion (the
    middle, zero and the largest float32 below 1 among the uniforms), minus the expm1 of minus a
    quarter of each hazard; every firm and a slice of them, revenue at and below the floor of its
    log, the finance cut off and on."""
    import dataclasses

    from simmodel.agents.firms import (ALL, annual_growth, exit_hazard, finance_hazard_cut, growth_scale,
                                       innovation_hazard, log_revenue)
    from simmodel.model.stages.rates import refresh_rates

    m = running_model(inputs, seed=4)
    f, p, ctx, q = m.firms, m.params, m.growth_ctx, m.q
    f.boost_until_q[12:15] = q + 1
    f.boost[12:15] = 0.05
    f.revenue[15:18] = [1e-6, 2e-7, -0.0]
    levers = dataclasses.replace(m.levers, small_firm_finance_index=finance_index)
    shift = np.linspace(-0.02, 0.01, m.sectors.n)
    rng = np.random.default_rng(8)
    for sl in (ALL, slice(f.n // 3, f.n)):
        n = f.g_annual[sl].size
        u = rng.random(n, dtype=np.float32)
        u[:3] = [0.5, 0.0, np.nextafter(np.float32(1.0), np.float32(0.0))]
        refresh_rates(f, ctx, p, levers, q=q, sector_shift=shift, spillover=1.1, macro_shock=-0.013,
                      young_premium=m.young_premium, young_hazard=m.young_hazard, shock_u=u, sl=sl)
        got = [getattr(f, name)[sl].copy() for name in ("g_annual", "shock_q", "p_innovate_q", "p_exit_q")]

        logr = log_revenue(f, sl)
        g = np.empty(n, np.float32)
        g[:] = annual_growth(f, ctx, p, q, shift, logr, m.young_premium, sl) + -0.013
        c = u - np.float32(0.5)
        e = np.log1p(-np.minimum(np.float32(2.0) * np.abs(c), np.float32(1.0 - 2.0 ** -24)))
        e *= -np.sign(c)
        shock = 0.25 * growth_scale(p, logr) * e
        lam = innovation_hazard(f, ctx, p, 1.1, sl)
        h = exit_hazard(f, p, q, finance_hazard_cut(p, finance_index), logr, m.young_hazard, sl)
        want = [g, shock, -np.expm1(-lam / 4.0), -np.expm1(-h / 4.0)]
        for name, a, b in zip(("g_annual", "shock_q", "p_innovate_q", "p_exit_q"), got, want, strict=True):
            assert bits_equal(a, b), name
        assert (got[1][0] == 0) and np.isfinite(got[1]).all()
@pytest.mark.parametrize("n", SIZES)
def test_fund_candidates_are_the_masked_rows(n):
    a = firm_arrays(n, 11)
    rng = np.random.default_rng(12)
    log_productivity = rng.normal(0.0, 0.5, n)
    gestation = rng.uniform(3.0, 12.0, 9)
    tte_factor = np.maximum(0.3, 1.0 - 0.15 * np.array([0, 1, 1, 2, 3, 4], dtype=np.int8))
    # kinds of every sort: random, none, all, and the same table twice; up to the 8 of one pass
    tables = [(rng.random(6)[:, None] < 0.6) & (rng.random(9)[None, :] < 0.7) for _ in range(5)]
    tables += [np.zeros((6, 9), bool), np.ones((6, 9), bool), tables[0]]
    tables = np.array([t.ravel() for t in tables])

    # Fund.candidates before the kernel, kind by kind: the alive rows, then the kind's (stage, sector) codes
    alive = np.flatnonzero(a["alive"])
    stage, sector = a["stage"][alive].astype(np.intp), a["sector"][alive]
    tte = (gestation[sector] * tte_factor[stage]).astype(np.float32)
    lp = log_productivity[alive].astype(np.float32)
    for kinds in (tables[:1], tables[:3], tables):
        rows, got_tte, got_lp, starts = kernels.fund_candidates(a["alive"], a["stage"], a["sector"], log_productivity,
                                                                kinds, 9, gestation, tte_factor)
        assert starts[0] == 0 and starts.size == len(kinds) + 1 and starts[-1] == rows.size
        for t, table in enumerate(kinds):
            keep = np.flatnonzero(table[stage * 9 + sector])
            part = slice(starts[t], starts[t + 1])
            assert bits_equal(rows[part], alive[keep]) and bits_equal(got_tte[part], tte[keep])
            assert bits_equal(got_lp[part], lp[keep])
            if n >= 1000 and t < 5:
                assert 0 < keep.size < alive.size


@pytest.mark.parametrize("n", SIZES)
def test_effective_rd_share_is_numpys(n):
    a = firm_arrays(n, 13)
    a["revenue"][: n // 10] = 0.0  # the floors: no revenue, no R&D
    rows = np.flatnonzero(np.random.default_rng(14).random(n) < 0.4)
    rev = np.maximum(a["revenue"][rows], 1e-9)
    rd = a["rd_intensity"][rows] * rev + 0.6 * a["grant_rd"][rows]
    want = np.maximum(rd / rev, 1e-6)
    assert bits_equal(kernels.effective_rd_share(rows, a["revenue"], a["rd_intensity"], a["grant_rd"], 0.6), want)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("short", [False, True])
def test_fund_block_scores_are_the_masked_keyed_scores(n, short):
    from simmodel.agents.noise import keyed_uniform, mix_key

    rng = np.random.default_rng(15)
    lp = rng.normal(0.0, 0.5, n).astype(np.float32)
    firm = np.sort(rng.choice(3 * n + 1, n, replace=False)).astype(np.intp)
    tte = rng.uniform(1.0, 12.0, n).astype(np.float32)
    tte[: n // 7] = np.float32(4.0)  # exactly on the horizon and on a fund's life left
    revenue = np.exp(rng.normal(-1.0, 1.5, n))
    revenue[n // 7: n // 5] = 0.2  # exactly above size
    keys = np.array([mix_key(2027, 1), mix_key(2027, 2), mix_key(2027, 3)], dtype=np.uint64)
    life = np.array([4.0, 7.5, 20.0], dtype=np.float32)
    floor = 0.1 + 1e-12  # a Python float that float32 rounds: numpy compares in float32
    lp[::9] = np.float32(floor)  # candidates exactly on the block's floor
    # the numpy round before the kernel (eligible without holdings, then the scores)
    block = np.flatnonzero(lp >= floor)
    ok = tte[block][None, :] <= life[:, None]
    if short:
        ok &= (tte[block] <= 4.0) & (revenue[block] >= 0.2)
    score = lp[block].astype(np.float64) + keyed_uniform(keys[:, None], firm[block])
    score[~ok] = -np.inf

    # holdings: firms of the block, of other candidates and beyond every candidate (drop_held's rule)
    n_held = np.array([min(n, 40), 0, min(n, 300)], np.int64)
    held = np.concatenate([rng.choice(firm.max() + 50 if n else 50, k, replace=False) for k in n_held]).astype(np.int64)
    at = np.concatenate(([0], np.cumsum(n_held)))
    for j in range(3):
        hit = np.isin(firm[block], held[at[j]:at[j + 1]])
        ok[j, hit] = False
        score[j, hit] = -np.inf
    base_ticket = 0.1 * revenue[block]
    where = np.full(firm.max() + 1 if n else 1, -1, np.int32)  # rows beyond it are no candidate

    keys32 = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    got_block, got_score, got_ok, got_ticket, got_mean = kernels.fund_block_scores(
        lp, np.float32(floor), firm, tte, revenue, keys32, life, short, np.float32(4.0), 0.2, held, n_held, where, 0.1)
    assert bits_equal(got_block, block) and bits_equal(got_ok, ok) and bits_equal(got_score, score)
    assert bits_equal(got_ticket, base_ticket) and (where == -1).all()
    assert bits_equal(np.float64(got_mean), np.float64(base_ticket.mean() if block.size else 0.0))
    if n >= 1000:
        assert ok.any() and not ok.all()
        assert np.isin(firm[block], held[at[2]:]).sum() > 5  # holdings inside the block were dropped


@pytest.mark.parametrize("n", SIZES)
def test_split_pool_is_the_masked_split(n):
    rng = np.random.default_rng(16)
    flags = rng.integers(0, 8, 2 * n + 1).astype(np.uint8)
    rows = np.sort(rng.choice(2 * n + 1, n, replace=False)).astype(np.intp)
    base = rng.normal(0.0, 1.0, n)
    future = ((flags[rows] >> np.uint8(1)) & np.uint8(1)).view(np.bool_)
    parts = kernels.split_pool(rows, flags, 1, base)
    for (r, b), m in zip(parts, (future, ~future), strict=True):
        assert bits_equal(r, rows[m]) and bits_equal(b, base[m])
    if n >= 1000:
        assert future.any() and not future.all()


@pytest.mark.parametrize("n", SIZES)
def test_keyed_scores_are_the_base_plus_the_keyed_uniform(n):
    """A selection's candidates: the positions whose base score reaches the floor (values exactly on
    it included), and their base scores plus each firm's keyed uniform, bit for bit, for keys that use
    all 32 bits and rows up to 2^31."""
    from simmodel.agents.noise import keyed_uniform
    rng = np.random.default_rng(21)
    rows = np.sort(rng.choice(2 ** 31, n, replace=False)).astype(np.intp)
    base = np.round(rng.normal(0.0, 1.0, n), 1)  # ties, and values on the floor
    for key, floor in ((0, -np.inf), (7, 0.3), (2 ** 32 - 1, 5.0), (int(rng.integers(0, 2 ** 32)), -0.5)):
        near, score = kernels.keyed_scores(rows, base, floor, np.uint32(key))
        want = np.flatnonzero(base >= floor)
        assert bits_equal(near, want) and bits_equal(score, base[want] + keyed_uniform(key, rows[want]))


@pytest.mark.parametrize("n", [n for n in SIZES if n >= 2])  # a selection of 0 < k < n firms needs two
def test_noisy_top_is_the_k_best_noisy_scores_or_says_it_is_not(n):
    """A selection in one pass against every firm scored and the k best taken: the same firms, highest
    first, whenever the k-th best score beats every other; not exact (the caller then partitions)
    exactly when it ties the best left out or a score is NaN. Bases drawn whole, rounded to a tenth,
    with a NaN, and with a group of firms whose scores tie exactly (base = 3 - their noise, so
    base + noise is 3.0), placed above or among the others, with k inside the group, at its end
    and beyond it; k from 1 to n - 1, keys that use all 32 bits."""
    from simmodel.agents.noise import keyed_uniform
    rng = np.random.default_rng(23)
    rows = np.sort(rng.choice(4 * n, n, replace=False)).astype(np.intp)
    answers = set()
    for trial in range(40):
        kind = trial % 5
        key = int(rng.integers(0, 2 ** 32)) if trial % 3 else trial
        u = keyed_uniform(key, rows).astype(np.float64)
        base = np.round(rng.normal(0.0, 1.0, n), 1) if kind == 1 else rng.normal(0.0, 1.0, n)
        k = int(rng.integers(1, n)) if trial % 2 else int(rng.integers(1, max(2, n // 50)))
        if kind == 2:
            base[rng.integers(0, n)] = np.nan
        elif kind >= 3:  # a tied group, at the top (kind 3) or among the others (kind 4)
            group = rng.choice(n, size=min(n, int(rng.integers(2, 12))), replace=False)
            base[group] = (3.0 if kind == 4 else 9.0) - u[group]
            above = int((base + u > 3.0).sum()) if kind == 4 else 0
            k = int(np.clip(above + rng.integers(1, group.size + 2), 1, n - 1))
        chosen, exact = kernels.noisy_top(rows, base, np.uint32(key), k)
        score = base + u
        order = np.argsort(-score, kind="stable")
        ties = not score[order[k - 1]] > score[order[k]] or np.isnan(score).any()
        assert exact == (not ties), (trial, k)
        if exact:  # the same firms, highest score first (in any order among equal scores)
            assert bits_equal(np.sort(chosen), np.sort(rows[order[:k]])), (trial, k)
            assert (np.diff(score[np.searchsorted(rows, chosen)]) <= 0).all(), (trial, k)
        answers.add((kind, exact))
    if n >= 1000:  # the check above met both answers, ties at the top and among the others
        assert {(0, True), (2, False), (3, False), (3, True), (4, False)} <= answers, answers
    # fewer than k firms score above -inf: the rest tie there, which the pass leaves to the partitions
    base = np.full(n, -np.inf)
    base[: n // 3] = rng.normal(0.0, 1.0, n // 3)
    chosen, exact = kernels.noisy_top(rows, base, np.uint32(5), n // 3 + 1)
    assert not exact


def random_pools(rng, n, n_pools=9):
    """Pool masks (one row a pool, of sizes from a few firms to most), sector flags (bit 1: future
    industry) and base scores for the banded selections' tests."""
    share = rng.choice([0.002, 0.05, 0.3, 0.8], n_pools)
    masks = rng.random((n_pools, n)) < share[:, None]
    flags = rng.integers(0, 8, n).astype(np.uint8)
    return masks, flags, rng.normal(0.0, 1.0, n)


@pytest.mark.parametrize("n", [n for n in SIZES if n >= 2])
def test_pool_bands_hold_the_best_pool_firms_band_by_band(n):
    """The bands: every firm of a pool whose band is in order is there once, with its base score and its
    code (its pools' bits, bit 15 for a future-industry sector); a band's firms in row order; the
    bands best first, none holding a higher score than the one above, each band's top its highest
    score and, for a band not in order, at least every score it holds; about an eighth of the pools'
    firms in order (all of them below 4 096 firms); no bands where a pool firm's score is NaN or
    infinite (and bands where only a firm outside the pools has one)."""
    rng = np.random.default_rng(31)
    for trial in range(6):
        masks, flags, base = random_pools(rng, n)
        if trial == 1:
            base *= 8.0  # beyond the bands' ends, which are open
        if trial == 2:
            base = np.round(base, 1)
        outside = np.flatnonzero(~masks.any(axis=0))
        if trial == 3 and outside.size:
            base[outside[0]] = np.nan
        rows, b, code, start, top, n_sorted, ok = kernels.pool_bands(masks, flags, 1, base)
        assert ok
        member = masks.any(axis=0)
        x = np.clip((6.0 - base) * 16.0, 0.0, 191.0)
        band = np.where(x >= 0.0, x, 0.0).astype(np.int64)
        want = np.flatnonzero(member & (band < n_sorted))
        assert bits_equal(np.sort(rows), want.astype(np.intp))
        assert bits_equal(b, base[rows])
        bits = (masks[:, rows].T * (1 << np.arange(masks.shape[0]))).sum(axis=1)
        assert bits_equal(code, (bits | (((flags[rows] >> 1) & 1).astype(np.int64) << 15)).astype(np.uint16))
        for j in range(n_sorted):
            in_j = rows[start[j]:start[j + 1]]
            assert (band[in_j] == j).all() and (np.diff(in_j) > 0).all()
            assert top[j] == (base[in_j].max() if in_j.size else -np.inf)
        for j in range(n_sorted, 192):
            assert (base[member & (band == j)] <= top[j]).all()
        if n < 4096:
            assert n_sorted == 192
        else:  # the bands in order hold an eighth, but for the last one's firms (and the sample's error)
            last = start[n_sorted] - start[n_sorted - 1]
            assert want.size / member.sum() > 0.1 and (want.size - last) / member.sum() < 0.14
    masks, flags, base = random_pools(rng, n)
    base[np.flatnonzero(masks[3])[:1]] = np.nan
    assert kernels.pool_bands(masks, flags, 1, base)[-1] == (not masks[3].any())


@pytest.mark.parametrize("n", [n for n in SIZES if n >= 2])
def test_a_banded_selection_is_the_noisy_top_of_its_part_or_says_it_is_not(n):
    """A selection from the bands against noisy_top over the part's rows (a pool, its future-industry
    firms or the others): where the bands say exact, the same firms, highest score first, and
    noisy_top exact too; where noisy_top is not exact (ties at the k-th, see its test), the bands are not. Bases
    drawn whole, rounded to a tenth and with a tied group at the top; k from 1 to the part's size
    (a part no larger than k is not for the bands). The bands answer most small selections from large
    pools, and leave to the pool those that must look below the bands in order."""
    from simmodel.agents.noise import keyed_uniform
    rng = np.random.default_rng(32)
    answered = left = 0
    for trial in range(60):
        masks, flags, base = random_pools(rng, n)
        pool, part = int(rng.integers(0, masks.shape[0])), trial % 3
        fut = ((flags >> 1) & 1) == 1
        rows = np.flatnonzero(masks[pool] & (True if part == 0 else fut if part == 1 else ~fut))
        if rows.size == 0:
            continue
        key = int(rng.integers(0, 2 ** 32))
        u = keyed_uniform(key, np.arange(n)).astype(np.float64)
        if trial % 4 == 1:
            base = np.round(base, 1)
        elif trial % 4 == 2:  # a tied group at the top
            group = rows[:min(rows.size, 6)]
            base[group] = 9.0 - u[group]
        k = int(rng.integers(1, rows.size + 1)) if trial % 2 else int(rng.integers(1, max(2, rows.size // 40)))
        got, exact = kernels.banded_top(masks, flags, 1, base, pool, part, np.uint32(key), k)
        if k >= rows.size:
            assert not exact
            continue
        want, want_exact = kernels.noisy_top(rows.astype(np.intp), base[rows], np.uint32(key), k)
        if exact:  # the same firms, highest score first (in any order among equal scores)
            assert want_exact and bits_equal(np.sort(got), np.sort(want)), (trial, k)
            assert (np.diff(base[got] + u[got]) <= 0).all(), (trial, k)
            answered += 1
        else:
            left += 1
        if not want_exact:
            assert not exact
    if n >= 20_000:
        assert answered > 10 and left > 5, (answered, left)


@pytest.mark.parametrize("n", SIZES)
def test_keyed_units_and_events_are_the_keyed_uniforms(n):
    """The compiled keyed draws: noise.keyed_uniform of the rows 0 .. n-1, bit for bit, and the events
    the numpy comparison in single precision gives (probabilities exactly on a draw included)."""
    from simmodel.agents.noise import keyed_uniform
    rng = np.random.default_rng(22)
    for key in (0, 2 ** 32 - 1, int(rng.integers(0, 2 ** 32))):
        u = keyed_uniform(key, np.arange(n))
        assert bits_equal(kernels.keyed_units(n, np.uint32(key)), u)
        p = rng.uniform(0.0, 0.3, n).astype(np.float32)
        p[::7] = u[::7]  # on the draw: not below it
        alive = rng.random(n) < 0.9
        assert bits_equal(kernels.keyed_events(alive, p, np.uint32(key)), alive & (u < p))


def test_a_loops_generator_draws_numpys_numbers_and_leaves_the_stream_where_numpy_does():
    """kernels.generator_at: inside a compiled loop, the generator at an address (generator_address)
    draws what numpy's methods draw, bit for bit, and leaves the stream's state where numpy's leave
    it: uniforms and exponential steps (the loops' draws; a million exponentials reach the ziggurat's
    tail, about one draw in a hundred), after a 64-bit word (next_uint64, noise.next_word's), on
    PCG64 and on another bit generator (numpy's C interface is the same for all of them)."""
    for seed, bit_generator in ((1, np.random.PCG64), (2, np.random.PCG64), (3, np.random.Philox)):
        stream, twin = np.random.Generator(bit_generator(seed)), np.random.Generator(bit_generator(seed))
        got = kernels.drawn_for_tests(kernels.generator_address(stream), 1_000_000, 0.05)
        assert int(got[0]) == int(twin.integers(0, 2 ** 64, dtype=np.uint64))
        assert bits_equal(got[1], twin.random(1_000_000)) and bits_equal(got[2], twin.exponential(0.05, 1_000_000))
        assert _same_state(stream.bit_generator.state, twin.bit_generator.state)


def _same_state(a, b) -> bool:
    """Two bit generators' states (dicts of numbers and arrays) equal."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_state(a[k], b[k]) for k in a)
    return bool(np.array_equal(a, b))


_DRAWING_LOOPS = """
import json, warnings
import numpy as np
from simmodel import kernels
from simmodel.agents.noise import row_key
warnings.simplefilter("ignore")  # numpy scalars warn of the hash's wrapping multiplications in plain Python
rs = np.random.default_rng(0)
alive, p = rs.random(300) < 0.9, (rs.random(300) * 0.2).astype(np.float32)
g = np.random.default_rng(4)
rows, gain, m = kernels.innovation_quarter(alive, p, row_key(g), kernels.generator_address(g), 0.05,
                                           np.zeros(300, np.int8), np.zeros(0, np.intp), 0.01,
                                           np.zeros(300, np.int32), np.zeros(300))
exit_q = np.full(300, -1, np.int32)
n_exits = kernels.exit_events(alive, p, row_key(g), exit_q, np.int32(3))
active, talent = np.ones(50, bool), np.full(7, 10, np.int32)
gone = kernels.talent_departures(active, np.arange(50) % 7, talent, kernels.generator_address(g), 0.3)
print(json.dumps([rows.tolist(), gain.tolist(), int(m), exit_q.tolist(), int(n_exits), int(gone), talent.tolist(),
                  float(g.random())]))
"""


def test_the_drawing_loops_run_as_plain_python_with_the_same_numbers():
    """NUMBA_DISABLE_JIT=1 (the loops as plain Python, for a debugger) still runs the loops that draw
    from a generator at an address (generator_at gives the generator itself), with the compiled
    loops' numbers."""
    import os
    import subprocess
    import sys
    out = {}
    for plain in ("0", "1"):
        run = subprocess.run([sys.executable, "-c", _DRAWING_LOOPS], capture_output=True, text=True, timeout=300, check=False,
                             env={**os.environ, "NUMBA_DISABLE_JIT": plain})
        assert run.returncode == 0, run.stderr[-2000:]
        out[plain] = run.stdout
    assert out["0"] == out["1"] and len(out["0"]) > 100


_REPLICATE_HASH = """
import sys
sys.path.insert(0, {bench!r})
from result_hashes import replicate_hash, load_inputs, RunConfig, Levers
print(replicate_hash(load_inputs(RunConfig())[0], Levers(), 0.01, 3))
"""


def test_a_replicate_run_as_plain_python_is_the_compiled_replicate():
    """NUMBA_DISABLE_JIT=1 runs every loop of a replicate as plain Python with the compiled loops'
    numbers: its trajectory, firm arrays and holdings hash the same (benchmarks/result_hashes.py). At
    scale 0.01 a loop whose counts or cells were numpy scalars of a narrow type (uint8, int8) wrapped
    around in plain Python where the compiled loop counts in 64 bits (fund_candidates until 6
    December: an IndexError at 0.01; at 0.001 the counts fit)."""
    import os
    import subprocess
    import sys
    script = _REPLICATE_HASH.format(bench=str(Path(__file__).resolve().parents[2] / "benchmarks"))
    out = {}
    for plain in ("0", "1"):
        run = subprocess.run([sys.executable, "-W", "ignore::RuntimeWarning", "-c", script], capture_output=True,
                             text=True, timeout=600, check=False, env={**os.environ, "NUMBA_DISABLE_JIT": plain})
        assert run.returncode == 0, run.stderr[-2000:]
        out[plain] = run.stdout.strip()
    assert out["0"] == out["1"] and len(out["0"]) == 10


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 64, 1003, 20_000])
def test_flagged_rows_are_numpys_flatnonzero(n):
    """kernels.flagged_rows (eight flags at a time): np.flatnonzero's rows, with none, every and a few
    flags set and sizes that are not a multiple of eight."""
    rng = np.random.default_rng(n)
    for flag in (np.zeros(n, bool), np.ones(n, bool), rng.random(n) < 0.03, rng.random(n) < 0.6):
        assert bits_equal(kernels.flagged_rows_for_tests(flag, int(flag.sum())), np.flatnonzero(flag))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("ramping_share", [0.0, 0.05])
def test_a_quarters_innovations_and_exits_in_one_call_are_the_stages_numpy_draws(n, ramping_share):
    """kernels.innovation_quarter and exit_events against the statements they replaced: the events
    noise.keyed_events finds (the key from the stream, a keyed uniform a firm below its probability,
    probabilities on the draw included), rng.exponential's steps for the innovators, then
    innovation_steps; the exits' two scatters. Every array bit for bit, the streams' states after."""
    from simmodel.agents.noise import keyed_events, keyed_uniform, row_key
    rng = np.random.default_rng(31)
    alive = rng.random(n) < 0.9
    p = rng.uniform(0.0, 0.1, n).astype(np.float32)
    ramp_q = np.where(rng.random(n) < ramping_share, rng.integers(1, 4, n), 0).astype(np.int8)
    ramp_rows = np.flatnonzero(ramp_q > 0)
    n_innov = rng.integers(0, 3, n).astype(np.int32)
    lp = rng.normal(0.0, 0.4, n)
    stream, twin = np.random.default_rng(5), np.random.default_rng(5)
    key = int(np.random.default_rng(5).bit_generator.random_raw() & 0xFFFFFFFF)
    p[::11] = keyed_uniform(key, np.arange(n))[::11]  # on the draw: not below it
    # the numpy statements
    hit = keyed_events(twin, p, alive)
    want = (ramp_q.copy(), n_innov.copy(), lp.copy())
    rows, gain = kernels.innovation_steps(hit, twin.exponential(0.07, hit.size), *want[:1], ramp_rows, 0.01,
                                          *want[1:])
    got = (ramp_q.copy(), n_innov.copy(), lp.copy())
    got_rows, got_gain, got_n = kernels.innovation_quarter(alive, p, row_key(stream), kernels.generator_address(stream),
                                                           0.07, got[0], ramp_rows, 0.01, got[1], got[2])
    assert got_n == hit.size and bits_equal(got_rows, rows) and bits_equal(got_gain, gain)
    assert all(bits_equal(a, b) for a, b in zip(got, want, strict=True))
    assert stream.bit_generator.state == twin.bit_generator.state
    if n >= 20_000:
        assert hit.size > 100 and (ramping_share == 0 or rows.size > hit.size)
    # the exits: the same rule, the rows cleared and stamped
    die = keyed_events(twin, p, alive)
    want_alive, want_exit = alive.copy(), np.full(n, -1, np.int32)
    want_alive[die] = False
    want_exit[die] = 9
    got_alive, got_exit = alive.copy(), np.full(n, -1, np.int32)
    assert kernels.exit_events(got_alive, p, row_key(stream), got_exit, np.int32(9)) == die.size
    assert bits_equal(got_alive, want_alive) and bits_equal(got_exit, want_exit)


def _ladder_thresholds(u: np.ndarray, record_rows: np.ndarray, cert_rows: np.ndarray, numpy_scalars: bool) -> tuple:
    """The recording and certification rates of test_ladder_moves_are_numpys: each just above the
    draw of a firm that may move (one of ``record_rows``, ``cert_rows``) in double precision, and so
    equal to it in single precision, where numpy compares a float32 array with a Python float (the
    draw is then not below it) but not with a numpy float64 (it is)."""
    if record_rows.size == 0 or cert_rows.size == 0:
        return 0.3, 0.07
    record_p = float(u[record_rows[record_rows.size // 2]]) + 2.0 ** -40
    cert_p = float(u[cert_rows[cert_rows.size // 2]]) + 2.0 ** -40
    return (np.float64(record_p), np.float64(cert_p)) if numpy_scalars else (record_p, cert_p)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("numpy_scalars", [False, True])
def test_ladder_moves_are_numpys(n, numpy_scalars):
    """The ladder's recording, certification and growth out of the tech-SME band, and the high-tech
    rows and uniforms for the lapse, as the numpy passes of climb_ladder gave them (revenue NaN and
    exactly on the band's bound included; the rates in the precision numpy compares them in)."""
    from simmodel.agents.noise import keyed_uniform
    from simmodel.model.stages.ladder import _LADDER_CODES
    a = firm_arrays(n, 23)
    a["revenue"][::13] = TECH_SME_MAX_REVENUE_CNY_100M
    a["revenue"][::29] = np.nan
    key = 0x9A3C5E71
    u = keyed_uniform(key, np.arange(n))
    alive, st, age_q, revenue = a["alive"], a["stage"].copy(), a["age_q"] % 9, a["revenue"]
    record_p, cert_p = _ladder_thresholds(u, np.flatnonzero(alive & (st == FirmStage.STARTUP) & (age_q >= 4)),
                                          np.flatnonzero(alive & (st == FirmStage.TECH_SME)), numpy_scalars)

    rec = alive & (st == FirmStage.STARTUP) & (age_q >= 4) & (u < record_p)
    cert = np.flatnonzero(alive & (st == FirmStage.TECH_SME) & (u < cert_p))
    ht = np.flatnonzero(alive & (st == FirmStage.HIGH_TECH))
    st[rec] = int(FirmStage.TECH_SME)
    st[cert] = int(FirmStage.HIGH_TECH)
    grown = alive & (st == FirmStage.TECH_SME) & (revenue > TECH_SME_MAX_REVENUE_CNY_100M)
    st[grown] = int(FirmStage.CONVENTIONAL)

    got = a["stage"].copy()
    was_ht, certified, got_u = np.empty(n, np.bool_), np.empty(n, np.bool_), np.empty(n, np.float32)
    kernels.ladder_moves(alive, got, age_q, revenue, np.uint32(key), kernels.compared_as(np.float32, record_p),
                         kernels.compared_as(np.float32, cert_p), _LADDER_CODES, TECH_SME_MAX_REVENUE_CNY_100M,
                         was_ht, certified, got_u)
    assert bits_equal(got, st)
    assert bits_equal(np.flatnonzero(certified), cert) and bits_equal(np.flatnonzero(was_ht), ht)
    assert bits_equal(got_u, u)
    if n >= 1000:
        assert rec.any() and cert.size and grown.any()  # every move happens in the test


def test_compared_as_is_numpys_comparison():
    """A Python float is compared with a float32 array in float32, a numpy float64 in float64."""
    u = np.array([0.7], np.float32)
    assert kernels.compared_as(np.float32, 0.7).dtype == np.float32 and not (u < 0.7)[0]
    assert kernels.compared_as(np.float32, np.float64(0.7)).dtype == np.float64 and (u < np.float64(0.7))[0]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("with_sectors", [False, True])
def test_stage_pool_flags_are_numpys(n, with_sectors):
    """A pool by stage, revenue range (bounds inclusive, NaN in none) and sector, as numpy's masks."""
    a = firm_arrays(n, 24)
    lo, hi = 0.2, 1.5
    a["revenue"][::11] = hi
    a["revenue"][::31] = np.nan
    sector_ok = np.random.default_rng(25).random(9) < 0.5
    bits = sum(1 << int(s) for s in (FirmStage.TECH_SME, FirmStage.HIGH_TECH))
    want = (a["alive"] & stage_mask(a["stage"], FirmStage.TECH_SME, FirmStage.HIGH_TECH)
            & (a["revenue"] >= lo) & (a["revenue"] <= hi))
    if with_sectors:
        want &= sector_ok[a["sector"]]
    got = np.empty(n, np.bool_)
    kernels.stage_pool_flags(a["alive"], a["stage"], bits, a["revenue"], lo, hi, a["sector"],
                             sector_ok if with_sectors else None, got)
    assert bits_equal(got, want)
    # without a revenue range: any revenue, NaN included (the talents' candidates)
    want = a["alive"] & stage_mask(a["stage"], FirmStage.TECH_SME, FirmStage.HIGH_TECH)
    if with_sectors:
        want &= sector_ok[a["sector"]]
    kernels.stage_pool_flags(a["alive"], a["stage"], bits, a["revenue"], None, None, a["sector"],
                             sector_ok if with_sectors else None, got)
    assert bits_equal(got, want)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("with_sectors", [False, True])
def test_ladder_pool_rows_are_numpys(n, with_sectors):
    """The ladder's pools (pool_rows: the stage's flags compiled, the sector's flag looked up for the
    rows left) are the rows numpy's masks give, in row order; bounds inclusive, NaN in none."""
    from types import SimpleNamespace

    from simmodel.model.stages.ladder import pool_rows
    a = firm_arrays(n, 26)
    lo, hi = 0.5, np.inf
    a["revenue"][::11] = lo
    a["revenue"][::31] = np.nan
    sector_ok = np.random.default_rng(27).random(9) < 0.5
    firms = SimpleNamespace(n=n, **a)
    bits = sum(1 << int(s) for s in (FirmStage.LITTLE_GIANT, FirmStage.HIGH_TECH))
    want = (a["alive"] & stage_mask(a["stage"], FirmStage.LITTLE_GIANT, FirmStage.HIGH_TECH)
            & (a["revenue"] >= lo) & (a["revenue"] <= hi))
    if with_sectors:
        want &= sector_ok[a["sector"]]
    got = pool_rows(firms, bits, lo, hi, sector_ok if with_sectors else None)
    assert bits_equal(got, np.flatnonzero(want))
    if with_sectors:  # flags of 0 and 1 select as a mask too, never as positions
        assert bits_equal(pool_rows(firms, bits, lo, hi, sector_ok.astype(np.uint8)), got)
    if n >= 1000 and with_sectors:  # the sector's flag drops some rows the stage and revenue keep
        assert 0 < got.size < pool_rows(firms, bits, lo, hi, None).size


@pytest.mark.parametrize("n", SIZES)
def test_times_sqrt_revenue_is_numpys(n):
    """The talents' weights: exp(log productivity) times the square root of revenue floored at 1e-6
    (revenue on, below and at zero, and NaN, which stays NaN)."""
    a = firm_arrays(n, 27)
    rev = a["revenue"]
    rev[::7] = 1e-6
    rev[::11] = 3e-7
    rev[::13] = 0.0
    rev[::17] = np.nan
    rows = np.flatnonzero(np.random.default_rng(28).random(n) < 0.5)
    w = np.exp(np.random.default_rng(29).normal(0.0, 1.0, rows.size))
    want = w * np.sqrt(np.maximum(rev[rows], 1e-6))
    kernels.times_sqrt_revenue(w, rows, rev)
    assert bits_equal(w, want)


@pytest.mark.parametrize("n", SIZES)
def test_firm_counts_and_rd_terms_are_numpys(n):
    a = firm_arrays(n, 17)
    by_stage, n_alive, n_above = kernels.firm_counts(a["alive"], a["stage"], a["revenue"], 6, 0.2)
    stage = np.where(a["alive"], a["stage"], np.int8(-1))
    assert [int(c) for c in by_stage] == [np.count_nonzero(stage == s) for s in range(6)]
    assert n_alive == a["alive"].sum() and n_above == (a["alive"] & (a["revenue"] >= 0.2)).sum()

    want = (a["rd_intensity"] * a["revenue"] + 0.6 * a["grant_rd"]) * a["alive"]
    got = kernels.alive_rd_spending(a["rd_intensity"], a["revenue"], a["grant_rd"], 0.6, a["alive"])
    assert bits_equal(got, want) and got.sum() == want.sum()


@pytest.mark.parametrize("n", SIZES)
def test_selection_score_and_vouchers_are_numpys(n):
    a = firm_arrays(n, 18)
    rng = np.random.default_rng(19)
    lp = rng.normal(0.0, 0.5, n)
    prospects = rng.normal(0.0, 1.0, 9)
    w = 0.35
    mu, sd = (lp[a["alive"]].mean(), lp[a["alive"]].std() + 1e-12) if a["alive"].any() else (0.0, 1.0)
    # Government.base_score before the kernel
    want = np.subtract(lp, mu)
    want *= 1.0 - w
    want /= sd
    term = prospects[a["sector"]]
    term *= w
    want += term
    assert bits_equal(kernels.selection_base_score(lp, float(mu), float(sd), w, prospects, a["sector"]), want)

    # Government.award_grants' compute vouchers before the kernels
    digital = np.arange(9) % 2 == 0
    weights = a["revenue"] * (a["alive"] & digital[a["sector"]])
    got_weights = kernels.digital_weights(a["revenue"], a["alive"], a["sector"], digital)
    assert bits_equal(got_weights, weights)
    if n:
        grant_rd = a["grant_rd"].copy()
        total = weights.sum()
        shares = weights * 3.7
        shares /= total
        want = grant_rd + shares
        kernels.add_shares(grant_rd, got_weights, 3.7, total)
        assert bits_equal(grant_rd, want)


# ------------------------------------------------------------------------------- the cities' land
def _grouped_cumsum(values, groups, first):
    cs = np.cumsum(values)
    return cs - np.where(first > 0, cs[first - 1], 0.0)[groups]


def _numpy_allocation(request_mu, city, priority, efficiency, budget_mu, priority_share, passes=32):
    """simmodel.agents.cities.allocate_land as numpy ran it before serve_land."""
    r = request_mu.size
    granted = np.zeros(r, dtype=bool)
    order = request_order(city, efficiency, priority, budget_mu.size)
    c_sorted = city[order]
    first = np.searchsorted(c_sorted, np.arange(budget_mu.size))
    need_sorted = request_mu[order]
    pri_sorted = priority[order]
    reserved = budget_mu * priority_share
    cs1 = _grouped_cumsum(np.where(pri_sorted, need_sorted, 0.0), c_sorted, first)
    g = pri_sorted & (cs1 <= reserved[c_sorted])
    for _ in range(passes):
        left = budget_mu - np.bincount(c_sorted[g], weights=need_sorted[g], minlength=budget_mu.size)
        fits = (~g) & (need_sorted <= left[c_sorted])
        cs2 = _grouped_cumsum(np.where(fits, need_sorted, 0.0), c_sorted, first)
        new = fits & (cs2 <= left[c_sorted])
        if not new.any():
            break
        g |= new
    granted[order] = g
    # np.bincount of no values is int64 zeros even with weights; the kernel's are float64 zeros
    return granted, np.bincount(c_sorted[g], weights=need_sorted[g], minlength=budget_mu.size).astype(np.float64)


@pytest.mark.parametrize("r", (1, 7, 300, 6000))
@pytest.mark.parametrize("share", (0.0, 0.5, 1.0))
def test_land_allocation_is_numpys(r, share):
    """serve_land grants what the numpy passes granted and sums what they summed, bit for bit: cities
    without requests (codes up to 12 for 11 drawn), requests exactly equal to a budget, budgets of
    zero, and efficiencies with ties (where the order falls back to lexsort)."""
    rng = np.random.default_rng(r)
    seen = {"granted": False, "refused": False, "second_pass": False}
    for trial in range(20):
        n_cities = 12
        city = rng.integers(0, 11, r).astype(np.int64)
        request = rng.lognormal(0.0, 1.0, r)
        budget = rng.uniform(0.0, 3.0 * r / n_cities, n_cities)
        budget[rng.random(n_cities) < 0.2] = 0.0
        exact = rng.random(r) < 0.05
        request[exact] = budget[city[exact]]
        priority = rng.random(r) < 0.4
        eff = rng.normal(size=r) if trial % 2 else rng.integers(0, 5, r).astype(float)
        got = allocate_land(request, city, priority, eff, budget, share)
        want = _numpy_allocation(request, city, priority, eff, budget, share)
        assert bits_equal(got[0], want[0]) and bits_equal(got[1], want[1])
        # a pass bound of one stops where the numpy loop stops after one pass
        order = request_order(city, eff, priority, n_cities)
        one = kernels.serve_land(order, city, request, priority, budget, share, 1)
        assert bits_equal(one[0], _numpy_allocation(request, city, priority, eff, budget, share, passes=1)[0])
        seen["granted"] |= bool(want[0].any())
        seen["refused"] |= bool((~want[0]).any())
        seen["second_pass"] |= not np.array_equal(one[0], want[0])
    # with enough requests the cases reach what they are for: grants, refusals and a later pass
    assert r < 7 or (seen["granted"] and seen["refused"]), seen
    assert r < 300 or seen["second_pass"], seen


@pytest.mark.parametrize("seed", range(6))
def test_gap_rows_are_numpys_rows_of_the_gaps(seed):
    """kernels.gap_rows against trial_rows' numpy code before it: the product, the minimum with n
    (gaps far beyond it, and zero gaps from a uniform of exactly 0), the cast, the cumulative sum
    from the last row, the rows below n and whether the batch reached it."""
    rng = np.random.default_rng(seed)
    for rate in (1e-4, 0.01, 0.3, 0.999):
        per_gap = 1.0 / np.log1p(-rate)
        for n, last in ((1, -1), (50, -1), (10_000, -1), (10_000, 9_990), (10_000, 9_999)):
            u = rng.random(int(rng.integers(0, 200)))
            u[: u.size // 10] = 0.0
            log_u = np.log1p(-u)
            gaps = log_u * per_gap
            np.minimum(gaps, n, out=gaps)
            pos = np.cumsum(gaps.astype(np.int64) + 1) + last
            k = int(np.searchsorted(pos, n))
            rows, ended, got_last = kernels.gap_rows(log_u, per_gap, n, last)
            assert bits_equal(rows, pos[:k]) and ended == (k < pos.size)
            if not ended:
                assert got_last == (pos[-1] if pos.size else last)


# ------------------------------------------------------------------------------- the funds' holdings
def _firms_of_funds(n_firms: int, seed: int):
    rng = np.random.default_rng(seed)
    firms = {
        "alive": rng.random(n_firms) < 0.8,
        "revenue": rng.lognormal(0.0, 1.0, n_firms),
        "equity": rng.gamma(1.0, 1.0, n_firms),
        "n_investors": rng.integers(1, 4, n_firms).astype(np.int16),
        "penalty_until_q": np.full(n_firms, -1, np.int32),
        "sector": rng.integers(0, 5, n_firms).astype(np.intp),
    }
    start = firms["revenue"] * rng.choice([0.5, 1.0, 2.0], n_firms)  # grew, flat (exactly 1) or fell
    # equal growth for some holdings: a stable sort ranks them by holding
    start[rng.random(n_firms) < 0.2] = firms["revenue"][0] / 1.5
    firms["revenue"][rng.random(n_firms) < 0.2] = firms["revenue"][0]
    firms["revenue_year_start"] = start
    return firms


def _holdings(rng, n_firms: int, n_held: int) -> dict[str, np.ndarray]:
    """One fund's holdings: distinct firms (several funds may hold the same firm)."""
    return {
        "h_firm": rng.choice(n_firms, n_held, replace=False).astype(np.int64),
        "h_ticket": rng.gamma(2.0, 0.1, n_held),
        "h_year_in": rng.integers(2018, 2026, n_held).astype(np.int32),
        "h_tte": rng.choice([2.0, 3.5, 5.0, 7.0], n_held),  # some mature exactly this year
    }


def _numpy_exits(firms, held, year, wound_up, yearly_profit, sell_u, prob, cut, penalty_q):
    """A fund's exits (Fund.exit_year and _release) as numpy ran them before the compiled loops."""
    h = held["h_firm"]
    early = (year - held["h_year_in"]) < held["h_tte"]
    if wound_up:
        keep = np.zeros(h.size, bool)
    else:
        early &= firms["alive"][h]
        keep = early.copy()
        if yearly_profit:
            fell = firms["revenue"][h] < firms["revenue_year_start"][h]
            keep &= ~(fell & (sell_u < prob))
    gone = ~keep
    f = h[gone]
    alive = firms["alive"][f]
    firms["equity"][f] -= held["h_ticket"][gone]
    firms["n_investors"][f] -= 1
    e = early[gone] & alive
    firms["revenue"][f[e]] *= 1.0 - cut
    firms["penalty_until_q"][f[e]] = penalty_q
    counts = (int(e.sum()), int((~early[gone] & alive).sum()), int((~alive).sum()))
    return {k: v[keep] for k, v in held.items()}, counts


def _numpy_follow_on(firms, held, ratio, budget):
    """A fund's follow-on rounds (Fund.follow_on) as numpy ran them: returns the rounds' money."""
    if budget <= 0 or held["h_firm"].size == 0:
        return np.zeros(0)
    f = held["h_firm"]
    growth = firms["revenue"][f] / np.maximum(firms["revenue_year_start"][f], 1e-9)
    grew = np.flatnonzero(firms["alive"][f] & (growth > 1.0))
    grew = grew[np.argsort(-growth[grew], kind="stable")]
    tickets = ratio * held["h_ticket"][grew]
    take = np.cumsum(tickets) <= budget
    rows, tickets = grew[take], tickets[take]
    np.add.at(firms["equity"], f[rows], tickets)
    held["h_ticket"][rows] += tickets
    return tickets


_HOLDING_COLUMNS = ("h_firm", "h_ticket", "h_year_in", "h_tte")


def _book(held: list[dict]) -> tuple[list[np.ndarray], np.ndarray]:
    """The book of these funds' holdings: its four columns and its starts."""
    cols = [np.concatenate([h[c] for h in held]) if held else np.zeros(0, dtype) for c, dtype in
            zip(_HOLDING_COLUMNS, (np.int64, np.float64, np.int32, np.float64), strict=True)]
    start = np.zeros(len(held) + 1, np.int64)
    np.cumsum([h["h_firm"].size for h in held], out=start[1:])
    return cols, start


@pytest.mark.parametrize("seed", range(8))
def test_a_books_exits_and_follow_ons_are_each_funds_numpy_in_turn(seed):
    """kernels.fund_book_exits over a book of funds, called in chunks as fund_year calls it (between
    two kinds' first screens), against each fund's numpy exits then follow-ons, fund after fund: the
    same holdings kept, firm arrays, counts and rounds' sums, bit for bit. Funds hold firms in common,
    some are wound up, under yearly-profit rules, not acting (nothing held, not deploying), or with no
    follow-on budget; one budget is exactly a running sum of its rounds."""
    rng = np.random.default_rng(seed)
    n_firms, n_funds = 600, 9
    firms = _firms_of_funds(n_firms, seed)
    sizes = rng.choice([0, 1, 9, 150], n_funds)
    held = [_holdings(rng, n_firms, int(k)) for k in sizes]
    acts = (sizes > 0) | (rng.random(n_funds) < 0.5)
    wound_up = rng.random(n_funds) < 0.2
    yearly_profit = rng.random(n_funds) < 0.5
    follow_budget = np.where(rng.random(n_funds) < 0.7, rng.choice([0.05, 1.0, 1e9], n_funds), 0.0) * ~wound_up
    sell_u = rng.random(int(sizes.sum()))
    ratio, year, cut, penalty_q, prob = 0.5, 2025, 0.3, 17, 0.5
    want_firms = {k: v.copy() for k, v in firms.items()}
    want_held, want_counts, want_spent = [], np.zeros((n_funds, 4), np.int64), np.zeros(n_funds)
    at = 0
    for i, h in enumerate(held):
        u = sell_u[at:at + h["h_firm"].size]
        at += h["h_firm"].size
        if not acts[i]:
            want_held.append(h)
            continue
        kept, want_counts[i, :3] = _numpy_exits(want_firms, h, year, wound_up[i], yearly_profit[i], u, prob, cut, penalty_q)
        kept = {k: v.copy() for k, v in kept.items()}
        if i == 3 and seed % 2 and kept["h_firm"].size:  # a budget that is exactly one of the running sums
            trial = _numpy_follow_on({k: v.copy() for k, v in want_firms.items()}, {k: v.copy() for k, v in kept.items()},
                                     ratio, 1e9)
            if trial.size > 1:
                follow_budget[i] = float(np.cumsum(trial)[trial.size // 2])
        rounds = _numpy_follow_on(want_firms, kept, ratio, follow_budget[i])
        want_counts[i, 3], want_spent[i] = rounds.size, rounds.sum()
        want_held.append(kept)
    cols, start = _book(held)
    new_start = np.empty_like(start)
    counts, spent = np.zeros((n_funds, 4), np.int64), np.zeros(n_funds)
    bounds = sorted({0, n_funds, *rng.integers(0, n_funds, 3).tolist()})
    w = 0
    for lo, hi in itertools.pairwise(bounds):
        w = kernels.fund_book_exits(*cols, start, new_start, lo, hi, w, acts, year, wound_up, yearly_profit, follow_budget,
                                    sell_u, prob, ratio, firms["alive"], firms["revenue"], firms["revenue_year_start"],
                                    firms["equity"], firms["n_investors"], firms["penalty_until_q"], 1.0 - cut,
                                    penalty_q, counts, spent)
    new_start[n_funds] = w
    want_cols, want_start = _book(want_held)
    assert bits_equal(new_start, want_start)
    for name, got, want in zip(_HOLDING_COLUMNS, cols, want_cols, strict=True):
        assert bits_equal(got[:w], want), name
    for name, want in want_firms.items():
        assert bits_equal(firms[name], want), name
    assert bits_equal(counts, want_counts) and bits_equal(spent, want_spent)
    assert want_counts[:, 1].sum() and want_counts[:, 2].sum() and want_counts[:, 3].sum()


@pytest.mark.parametrize("seed", range(6))
def test_a_years_deals_are_booked_as_each_fund_booked_its_own(seed):
    """kernels.fund_book_deals against Fund.take_deals in numpy, fund after fund: each fund's deals
    after its holdings, equity and investors added in that order (funds share firms), and the sums
    of each fund's tickets and of those in long-horizon sectors as numpy's sum gives them (funds of
    up to 3 000 deals: several blocks of numpy's pairwise summation)."""
    rng = np.random.default_rng(seed)
    n_firms, n_funds, year = 5000, 7, 2026
    firms = _firms_of_funds(n_firms, seed)
    long_horizon = np.array([False, True, False, True, True])
    held = [_holdings(rng, n_firms, int(k)) for k in rng.choice([0, 3, 40], n_funds)]
    deals = [(rng.choice(n_firms, int(k), replace=False).astype(np.intp), rng.gamma(2.0, 0.1, int(k)),
              rng.choice([2.0, 3.5], int(k))) for k in rng.choice([0, 1, 7, 130, 3000], n_funds)]
    want_firms = {k: v.copy() for k, v in firms.items()}
    want_held, want_spent, want_long = [], [], []
    for h, (chosen, tickets, tte) in zip(held, deals, strict=True):
        want_firms["equity"][chosen] += tickets
        want_firms["n_investors"][chosen] += 1
        want_held.append({"h_firm": np.concatenate((h["h_firm"], chosen)), "h_ticket": np.concatenate((h["h_ticket"], tickets)),
                          "h_year_in": np.concatenate((h["h_year_in"], np.full(chosen.size, year, np.int32))),
                          "h_tte": np.concatenate((h["h_tte"], tte))})
        want_spent.append(tickets.sum())
        want_long.append(tickets[long_horizon[firms["sector"][chosen]]].sum())
    cols, start = _book(held)
    deal_start = np.zeros(n_funds + 1, np.int64)
    np.cumsum([d[0].size for d in deals], out=deal_start[1:])
    spent, long_spent = np.zeros(n_funds), np.zeros(n_funds)
    *got, got_start = kernels.fund_book_deals(*cols, start, deal_start, *(np.concatenate(c) for c in zip(*deals)),
                                              np.int32(year), firms["equity"], firms["n_investors"], firms["sector"],
                                              long_horizon, spent, long_spent)
    want_cols, want_start = _book(want_held)
    assert bits_equal(got_start, want_start)
    for name, g, want in zip(_HOLDING_COLUMNS, got, want_cols, strict=True):
        assert bits_equal(g, want), name
    for name, want in want_firms.items():
        assert bits_equal(firms[name], want), name
    assert bits_equal(spent, np.array(want_spent)) and bits_equal(long_spent, np.array(want_long))


def test_cumulative_sum_is_numpys_cumsum():
    """kernels.cumulative_sum against np.cumsum in double precision, bit for bit: sums of values over
    many magnitudes and both signs (where the order of the additions shows), a first value of -0.0
    (kept, as numpy keeps it: adding it to +0.0 would not), NaN and infinities, float32 input, and
    empty."""
    rng = np.random.default_rng(4)
    cases = [np.zeros(0), np.array([-0.0]), np.array([-0.0, -0.0]), np.array([1.0, np.nan, 2.0]),
             np.array([np.inf, 1.0, -np.inf]), rng.random(1000).astype(np.float32)]
    cases += [rng.normal(size=n) * 10.0 ** rng.integers(-8, 9, n) for n in (1, 7, 128, 1000, 60_000)]
    for a in cases:
        with np.errstate(invalid="ignore"):  # inf - inf
            want = np.cumsum(a, dtype=np.float64)
        assert bits_equal(kernels.cumulative_sum(a), want), a[:3]


def test_categorical_steps_are_numpys_searchsorted():
    """kernels.categorical_steps, and categorical_walk on a table made once (categorical_guide), give
    cdf.searchsorted(u, side="right") for cumulative distributions
    with categories of zero probability (repeated values) and a few large ones, and uniforms exactly on
    the distribution's values and on the table's steps (where "at or below" decides), and 0."""
    from simmodel.agents.firms import categorical_cdf
    rng = np.random.default_rng(5)
    for n_cat in (1, 2, 11, 396, 5000):
        p = rng.gamma(0.3, 1.0, n_cat) * (rng.random(n_cat) < 0.7)
        p[0] = 0.0 if n_cat > 1 else 1.0
        cdf = categorical_cdf(p / p.sum() if p.sum() > 0 else np.ones(n_cat) / n_cat)
        bins = 1 << int(np.ceil(np.log2(4 * cdf.size)))
        u = np.concatenate((rng.random(4 * n_cat + 100), cdf[cdf < 1.0], np.arange(bins) / bins, [0.0]))
        want = cdf.searchsorted(u, side="right")
        assert bits_equal(kernels.categorical_steps(cdf, u, bins), want), n_cat
        # the table made once and walked for each batch: the same counts
        guide = kernels.categorical_guide(cdf, bins)
        assert bits_equal(kernels.categorical_walk(cdf, guide, u), want), n_cat
        assert bits_equal(kernels.categorical_walk(cdf, guide, u[:0]), want[:0])


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("ramping_share", [0.0, 0.03, 0.5])
def test_innovation_steps_are_numpys(n, ramping_share):
    """The quarter's gains of innovate_firms as its numpy code gave them: innovators with and without
    an AI+ ramp, adopters ramping alone (after the innovators, in row order), none ramping."""
    rng = np.random.default_rng(26)
    hit = np.flatnonzero(rng.random(n) < 0.1)
    gain = rng.exponential(0.02, hit.size)
    ramp_q = (rng.integers(1, 5, n) * (rng.random(n) < ramping_share)).astype(np.int8)
    n_innov = rng.integers(0, 3, n).astype(np.int32)
    lp = rng.normal(0.0, 0.5, n)
    ramp_gain = 0.08 / 4.0

    want_ramp, want_innov, want_lp, want_gain = ramp_q.copy(), n_innov.copy(), lp.copy(), gain.copy()
    want_innov[hit] += 1
    ramps = want_ramp > 0
    ramp = np.flatnonzero(ramps)
    rows = hit
    if ramp.size:
        want_ramp[ramp] -= 1
        want_gain += ramp_gain * ramps[hit]
        ramps[hit] = False
        ramp = np.flatnonzero(ramps)
        rows = np.concatenate((hit, ramp))
        want_gain = np.concatenate((want_gain, np.full(ramp.size, ramp_gain)))
    want_lp[rows] += want_gain

    # the rows that may ramp: every one that does, and others (their counter at 0 stays there)
    maybe = np.union1d(np.flatnonzero(ramp_q > 0), np.flatnonzero(rng.random(n) < 0.02))
    got_rows, got_gain = kernels.innovation_steps(hit, gain.copy(), ramp_q, maybe, ramp_gain, n_innov, lp)
    assert bits_equal(got_rows, rows) and bits_equal(got_gain, want_gain)
    assert bits_equal(ramp_q, want_ramp) and bits_equal(n_innov, want_innov) and bits_equal(lp, want_lp)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("numpy_scalars", [False, True])
def test_the_rates_arithmetic_is_numpys(n, numpy_scalars):
    """The yearly rates' arithmetic between numpy's logarithms and exponentials that the rate functions
    of simmodel.agents.firms call: the log's argument (revenue floored at 1e-6, NaN kept), the shock's
    scale times its factor clipped to [low, high] (factors as Python floats, compared in float32, and
    as numpy float64s, in float64, each step stored in float32). refresh_rates' fused passes are
    checked in test_refresh_rates_three_passes_are_numpys."""
    a = firm_arrays(n, 30)
    rev = a["revenue"]
    rev[::7] = 1e-6
    rev[::11] = 2e-7
    rev[::13] = -0.0
    rev[::17] = np.nan
    want = (np.maximum(rev, 1e-6) / 1.0).astype(np.float32)
    got = np.empty(n, np.float32)
    kernels.log_revenue_argument(rev, 1.0, got)
    assert bits_equal(got, want)

    g = np.random.default_rng(31).normal(0.05, 0.1, n).astype(np.float32)
    x = np.exp(-0.2 * np.log(g + np.float32(1.5)))  # float32, as the model's scale
    x[::19] = np.nan
    factor, low, high = (np.float64(0.31), np.float64(0.05), np.float64(0.9)) if numpy_scalars else (0.31, 0.05, 0.9)
    want = x.copy()
    want *= factor
    np.maximum(want, low, out=want)
    np.minimum(want, high, out=want)
    kernels.scale_and_clip(x, *(kernels.compared_as(np.float32, v) for v in (factor, low, high)))
    assert bits_equal(x, want)


@pytest.mark.parametrize("n", SIZES)
def test_alive_mean_std_is_numpys_over_the_alive(n):
    """The alive firms' mean and standard deviation against numpy's compress, mean and std, bit for
    bit: every share alive from none (NaN, as numpy's mean of nothing) to all, values on several
    scales (the deviations' squares summed pairwise, as numpy sums them)."""
    rng = np.random.default_rng(31)
    for share in (0.0, 0.3, 1.0):
        alive = rng.random(n) < share
        x = rng.normal(5.0, 3.0, n) * rng.choice([1e-3, 1.0, 1e4], n)
        mean, sd = kernels.alive_mean_std(alive, x)
        kept = np.compress(alive, x)
        if kept.size == 0:
            assert np.isnan(mean) and np.isnan(sd)
            continue
        assert bits_equal(np.float64(mean), kept.mean()) and bits_equal(np.float64(sd), kept.std()), (n, share)


def test_pairwise_sum_is_numpys_sum():
    """kernels.pairwise_sum against numpy's sum of the same rows, bit for bit: lengths around numpy's
    block of 128 and its multiples of 8, up to 20 000, values over many magnitudes of both signs, sums
    of negative zeros, and empty. Compiled, through the sums of fund_book_deals (each fund's tickets
    start at another offset of one array), and as plain Python for the shorter ones."""
    rng = np.random.default_rng(3)
    lengths = [0, 1, 7, 8, 9, 15, 16, 127, 128, 129, 135, 136, 255, 256, 257, 1000, 1024, 4097, 8192, 20_000]
    lengths += rng.integers(0, 20_000, 30).tolist()
    values = [rng.normal(size=n) * 10.0 ** rng.integers(-8, 9, n) for n in lengths]
    values += [np.full(3, -0.0), np.full(20, -0.0), np.full(300, -0.0)]
    n_funds = len(values)
    deal_start = np.zeros(n_funds + 1, np.int64)
    np.cumsum([v.size for v in values], out=deal_start[1:])
    firm = rng.integers(0, 100, int(deal_start[-1])).astype(np.intp)
    spent, long_spent = np.zeros(n_funds), np.zeros(n_funds)
    cols, start = _book([_holdings(rng, 100, 0) for _ in range(n_funds)])
    kernels.fund_book_deals(*cols, start, deal_start, firm, np.concatenate(values), np.zeros(firm.size), np.int32(2025),
                            np.zeros(100), np.zeros(100, np.int16), np.zeros(100, np.intp), np.array([True]), spent,
                            long_spent)
    for v, got, got_long in zip(values, spent, long_spent, strict=True):
        assert bits_equal(got, v.sum()) and bits_equal(got_long, v.sum()), v.size
    for v in values:
        if v.size <= 300:
            assert bits_equal(np.float64(pairwise_sum(v, 0, v.size)), v.sum()), v.size


@pytest.mark.parametrize("n", (0, 1, 7, 2048))
@pytest.mark.parametrize("k", (0, 1, 5, 64, 5000))
@pytest.mark.parametrize("ties", (False, True))
def test_ranked_within_budget_is_the_stable_ranking_cut_by_the_budget(n, k, ties):
    """kernels.ranked_within_budget against the numpy statement of its rule: the positions a fund may
    back by np.argsort(-score, kind="stable") (equal scores by position: many where the scores are
    few distinct values), the first k, their tickets clipped as np.clip does and how many a running
    sum keeps within the budget, also a budget that is exactly one of the running sums."""
    rng = np.random.default_rng(n * 31 + k + ties)
    score = rng.integers(0, 6, n).astype(np.float64) if ties else rng.normal(0.0, 1.0, n)
    ok = rng.random(n) < 0.7
    score[~ok] = -np.inf
    base_ticket = rng.lognormal(-1.0, 1.0, n)
    base_ticket[rng.random(n) < 0.1] = 0.05  # on the floor
    min_ticket, cap = 0.05, 2.0
    full = np.flatnonzero(ok)[np.argsort(-score[ok], kind="stable")][:k]
    want_tickets = np.minimum(np.maximum(base_ticket[full], min_ticket), cap)
    sums = np.cumsum(want_tickets)
    for budget in (0.0, 1.0, float(sums[sums.size // 2]) if sums.size else 3.0, 1e9):
        order, tickets, kept = kernels.ranked_within_budget(score, ok, k, base_ticket, min_ticket, cap, budget)
        assert bits_equal(order, full.astype(np.int64)) and bits_equal(tickets, want_tickets)
        assert kept == int(np.searchsorted(sums, budget, side="right"))


@pytest.mark.parametrize("case", ["spread", "ties", "nan", "infinite", "equal", "outlier", "signed_zeros", "narrow"])
@pytest.mark.parametrize("n", (0, 1, 2, 3, 40, 1000, 20_000))
@pytest.mark.parametrize("with_tie", [False, True])
def test_descending_order_is_numpys_stable_sort(case, n, with_tie):
    """kernels.descending_order (buckets of equal width, then an insertion or merge sort in each) is
    ``np.lexsort((tie, -x))`` of the items, equal values by tie, then in the items' order: on values
    spread as scores are, with many ties, with NaN (last) and infinities (sorted whole by the merge
    sort), all equal, one outlier far above the rest (nearly every item in one bucket: the merge sort
    of a large bucket), signed zeros (equal) and a range too narrow for buckets."""
    rng = np.random.default_rng(n)
    size = n + 7
    x = rng.normal(0.0, 1.0, size) + rng.random(size)
    if case == "ties":
        x = np.round(x, 1)
    elif case == "nan":
        x[rng.random(size) < 0.1] = np.nan
    elif case == "infinite":
        x[rng.random(size) < 0.1] = np.inf
        x[rng.random(size) < 0.1] = -np.inf
    elif case == "equal":
        x[:] = 1.5
    elif case == "outlier":
        x[rng.integers(size)] = 1e6
    elif case == "signed_zeros":
        x = np.where(rng.random(size) < 0.5, 0.0, -0.0)
        x[rng.random(size) < 0.3] = 1.0
    elif case == "narrow":
        x = 1.0 + rng.integers(0, 3, size) * np.spacing(1.0)
    tie = rng.integers(0, 3, size).astype(np.uint8) if with_tie else np.zeros(size, np.uint8)
    items = np.sort(rng.choice(size, n, replace=False)).astype(np.int64)
    want = items[np.lexsort((tie[items], -x[items]))]
    np.testing.assert_array_equal(kernels.stable_descending(x, tie, items), want)
    if not with_tie:
        np.testing.assert_array_equal(want, items[np.argsort(-x[items], kind="stable")])


@pytest.mark.parametrize("n_talents", [0, 1, 50, 5000])
@pytest.mark.parametrize("seed", [0, 1])
def test_talent_departures_and_releases_are_numpys(n_talents, seed):
    """kernels.talent_departures and release_exited: what TalentPool.retain and release_dead's numpy
    statements did (flatnonzero, one uniform an active talent drawn from the stream, np.subtract.at on
    the firms' talents, the scatters), with unmatched talents, several talents at one firm and dead
    firms; the stream left where numpy's draw left it."""
    rng = np.random.default_rng(seed)
    n_firms = 40
    active = rng.random(n_talents) < 0.7
    firm = np.where(rng.random(n_talents) < 0.8, rng.integers(0, n_firms, n_talents), -1).astype(np.int64)
    talent = np.bincount(firm[firm >= 0], minlength=n_firms).astype(np.int32)
    stream, twin = np.random.default_rng(100 + seed), np.random.default_rng(100 + seed)
    u = twin.random(int(active.sum()))
    threshold = 1.0 - np.exp(-0.3 / 4.0) + (0.5 if seed else 0.0)
    # the numpy statements of retain
    act = np.flatnonzero(active)
    gone = act[u < threshold]
    want_active, want_talent = active.copy(), talent.copy()
    f = firm[gone]
    np.subtract.at(want_talent, f[f >= 0], 1)
    want_active[gone] = False
    got_active, got_talent = active.copy(), talent.copy()
    n_gone = kernels.talent_departures(got_active, firm, got_talent, kernels.generator_address(stream), threshold)
    assert n_gone == gone.size and stream.bit_generator.state == twin.bit_generator.state
    assert bits_equal(got_active, want_active) and bits_equal(got_talent, want_talent)
    # and release_dead's
    alive = rng.random(n_firms) < 0.6
    matched = np.flatnonzero(want_active & (firm >= 0))
    want_firm = firm.copy()
    want_firm[matched[~alive[firm[matched]]]] = -1
    got_firm = firm.copy()
    kernels.release_exited(want_active, got_firm, alive)
    assert bits_equal(got_firm, want_firm)
    if n_talents >= 50:  # the cases reach every branch
        assert gone.size and (f < 0).any() and (want_firm != firm).any() and (~want_active & (firm >= 0)).any()


@pytest.mark.parametrize("n", SIZES)
def test_the_ladders_certification_and_lapse_are_numpys(n):
    """kernels.certified_rd and high_tech_lapse against the numpy statements they replaced in
    climb_ladder: the R&D intensity raised to the threshold of the firm's tier, and the stage of the
    high-tech firms that lapse, bit for bit. Revenues on the tiers' bounds, NaN, and R&D intensities
    NaN; uniforms on the probabilities."""
    from simmodel.agents.firms import (HIGH_TECH_RD, HIGH_TECH_RD_UPPER, LOG_HIGH_TECH_RD, FirmStage,
                                       high_tech_rd_threshold, log_high_tech_rd_threshold)
    rng = np.random.default_rng(41)
    revenue = rng.choice([0.1, 0.5, 1.0, 2.0, 5.0, np.nan], n) * rng.choice([1.0, 1.0, 0.999], n)
    rd = rng.uniform(0.0, 0.08, n)
    rd[rng.random(n) < 0.05] = np.nan
    rows = np.flatnonzero(rng.random(n) < 0.4)
    got = rd.copy()
    kernels.certified_rd(rows, revenue, got, HIGH_TECH_RD_UPPER, HIGH_TECH_RD)
    want = rd.copy()
    want[rows] = np.maximum(want[rows], high_tech_rd_threshold(revenue[rows]))
    assert bits_equal(got, want)
    if n >= 1000:
        assert not bits_equal(got, rd)
    p_meets, p_below = 0.25, 0.5
    u = rng.choice(np.array([0.1, 0.25, 0.4, 0.5, 0.9], np.float32), n)
    log_share = np.log(rng.uniform(0.01, 0.08, rows.size))
    log_share[rng.random(rows.size) < 0.05] = np.nan
    stage = rng.integers(0, len(FirmStage), n).astype(np.int8)
    got = stage.copy()
    kernels.high_tech_lapse(rows, log_share, revenue, u, got, HIGH_TECH_RD_UPPER, LOG_HIGH_TECH_RD, p_meets, p_below,
                            2.0, np.int8(FirmStage.TECH_SME), np.int8(FirmStage.CONVENTIONAL))
    want = stage.copy()
    meets = log_share >= log_high_tech_rd_threshold(revenue[rows])
    lapse = rows[u[rows] < np.where(meets, p_meets, p_below)]
    want[lapse] = np.where(revenue[lapse] < 2.0, int(FirmStage.TECH_SME), int(FirmStage.CONVENTIONAL))
    assert bits_equal(got, want)
    if n >= 1000:
        assert meets.any() and not meets.all() and 0 < lapse.size < rows.size


@pytest.mark.parametrize("expected", [0.0, 0.3, 6.5, 341.7])
def test_the_startups_draws_are_numpys(expected):
    """kernels.startup_draws gives what enter_startups' numpy calls drew, in their order, bit for bit:
    a Poisson count (the small-mean and the large-mean algorithms, and none), a uniform each placed by
    the cells' table (draw_categorical's walk), the cells' cities and sectors, a normal log revenue
    and a normal log productivity each, the sectors' R&D; and the stream left where numpy's left it."""
    from simmodel.agents.firms import draw_categorical
    from simmodel.model.stages.enter import entry_cells
    rng = np.random.default_rng(3)
    w = rng.gamma(0.7, 1.0, (11, 36)) * (rng.random((11, 36)) < 0.85)
    cells = entry_cells(w)
    rd = rng.uniform(0.01, 0.08, 36)
    for seed in range(5):
        stream, twin = np.random.default_rng(seed), np.random.default_rng(seed)
        n = int(twin.poisson(expected))
        cell = draw_categorical(twin, cells.cdf, n, cells.guide)
        log_revenue, log_productivity = twin.normal(-1.2, 0.9, n), twin.normal(0.0, 0.35, n)
        got = kernels.startup_draws(kernels.generator_address(stream), expected, cells.cdf, cells.guide, cells.city,
                                    cells.sector, -1.2, 0.9, 0.35, rd)
        want = (n, cells.city[cell], cells.sector[cell], log_revenue, log_productivity, rd[cells.sector[cell]])
        assert got[0] == n
        for a, b in zip(got[1:], want[1:], strict=True):
            assert a.dtype == b.dtype and bits_equal(a, b)
        assert stream.bit_generator.state == twin.bit_generator.state
        if expected > 100:
            assert np.unique(got[1]).size > 5 and np.unique(got[2]).size > 10


@pytest.mark.parametrize("n_parents", [0, 1, 7, 300])
def test_spin_off_rows_are_numpys(n_parents):
    """kernels.spin_off_rows gives what spin_off's numpy statements gave: the children's sector (the
    parent's where it may stay and its uniform is below the probability, else the drawn target, the
    targets' cumulative sum searched as numpy searches it, uniforms on its steps included), revenue,
    city, log productivity and R&D intensity, and the parents' revenue less the children's share."""
    from simmodel.agents.firms import categorical_cdf
    rng = np.random.default_rng(31)
    n, n_sectors = 2_000, 36
    sector = rng.integers(0, n_sectors, n).astype(np.intp)
    revenue = rng.lognormal(0.0, 1.5, n)
    city = rng.integers(0, 11, n).astype(np.int8)
    log_productivity = rng.normal(0.0, 0.4, n)
    kept = rng.random(n_sectors) < 0.5
    targets = np.flatnonzero(rng.random(n_sectors) < 0.6)
    w = rng.gamma(0.5, 1.0, targets.size) * (rng.random(targets.size) < 0.8)
    w[0] += 0.1
    cdf = categorical_cdf(w / w.sum())
    rd = rng.uniform(0.01, 0.08, n_sectors)
    parents = np.sort(rng.choice(n, n_parents, replace=False))
    u_target = rng.random(n_parents)
    u_target[: min(n_parents, cdf.size) // 2] = cdf[: min(n_parents, cdf.size) // 2]  # on the steps
    u_same = rng.random(n_parents)
    same_prob, share = 0.6, 0.15
    # spin_off's numpy code until 6 December
    want_rev = revenue.copy()
    psec = sector[parents]
    drawn = targets[cdf.searchsorted(u_target, side="right")]
    csec = np.where(kept[psec] & (u_same < same_prob), psec, drawn)
    crev = want_rev[parents] * share
    want_rev[parents] -= crev
    got_rev = revenue.copy()
    got = kernels.spin_off_rows(parents, u_target, u_same, sector, kept, targets, cdf, same_prob, got_rev, share, city,
                                log_productivity, rd)
    for a, b in zip(got, (csec, crev, city[parents], log_productivity[parents], rd[csec]), strict=True):
        assert a.dtype == b.dtype and bits_equal(a, b)
    assert bits_equal(got_rev, want_rev)
    if n_parents > 100:  # both ways of placing a child occur
        assert 0 < (csec == psec).sum() < n_parents
    if n_parents:  # a distribution that does not end at 1 leaves a uniform beyond its last target: refused
        kept_rev = revenue.copy()
        with pytest.raises(ValueError, match="end"):
            kernels.spin_off_rows(parents, np.full(n_parents, 0.999), np.ones(n_parents), sector, np.zeros(n_sectors, bool),
                                  targets, cdf * 0.5, same_prob, kept_rev, share, city, log_productivity, rd)
        assert bits_equal(kept_rev, revenue)  # nothing written before the refusal



_SIGNATURES_AGAINST_A_RUN = """
import json
from simmodel import kernels
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs
from simmodel.model import SimModel
cfg = RunConfig()
inputs = load_inputs(cfg)[0]
out = {}
def run():
    with SimModel(inputs, cfg.levers, cfg.uncertainties, scale=0.005, seed=0) as m:
        out[len(out)] = m.run()
recorded = kernels.loop_signatures(run)
run()  # compiled: Numba compiles, or loads, what the replicate calls and nothing else
compiled = {(name, repr(sig)) for name, call in kernels._LOOPS.items() for sig in call.dispatcher().signatures}
print(json.dumps({"recorded": [[n, repr(s)] for n, s in recorded], "compiled": sorted(compiled),
                  "same_numbers": bool(out[0].equals(out[1]))}))
"""


def test_the_loops_a_replicate_records_as_plain_python_are_those_it_compiles():
    """kernels.loop_signatures (what the processes that compile beside a warm-up compile): a replicate
    run with its loops as plain Python gives the compiled replicate's numbers, and the loops and
    argument types it records are those Numba compiles for the compiled replicate, each once, in a
    process that runs nothing else."""
    import json
    import subprocess
    import sys
    run = subprocess.run([sys.executable, "-W", "ignore::RuntimeWarning", "-c", _SIGNATURES_AGAINST_A_RUN],
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-2000:]
    got = json.loads(run.stdout)
    assert got["same_numbers"]
    recorded = [tuple(x) for x in got["recorded"]]
    assert len(recorded) == len(set(recorded)) > 30
    assert set(recorded) == {tuple(x) for x in got["compiled"]}


def test_compile_loops_compiles_what_it_claims_last_first_and_leaves_what_does_not_type():
    """kernels.compile_loops: the loops whose key the claim grants, from the last, each said done after;
    a loop that is gone or a signature that does not type is skipped, not raised."""
    from numba import types

    sig = (types.Array(types.float64, 1, "C"),)
    bad = (types.int64, types.int64)
    signatures = [("cumulative_sum", sig), ("no_such_loop", sig), ("cumulative_sum", bad), ("alive_mean_std", sig)]
    keys = [kernels.loop_key(name, s) for name, s in signatures]
    assert len(set(keys)) == 4 and keys[0] == kernels.loop_key("cumulative_sum", (types.Array(types.float64, 1, "C"),))
    asked, done = [], []

    def claim(key):
        asked.append(key)
        return key != keys[3]

    assert kernels.compile_loops(signatures, claim, done.append) == 1  # 0; 2 does not type, 3 not granted
    assert asked == [keys[3], keys[2], keys[0]]  # last first; the loop that is gone is not asked for
    assert done == [keys[2], keys[0]]
    assert sig in kernels.cumulative_sum.dispatcher().signatures


def test_claiming_loops_claim_each_new_signature_once_wait_for_another_claim_and_undo_restores_them():
    """kernels.claiming: a loop's first call with new argument types claims its key, says done after
    the call, or waits where another process holds the claim; later calls with those types claim
    nothing; the loops' results are theirs; undo puts the loops back."""
    from numba import types

    f64 = kernels.loop_key("cumulative_sum", (types.Array(types.float64, 1, "C"),))
    log = []

    def claim(key):
        log.append(("claim", key))
        return key != f64

    undo = kernels.claiming(claim, lambda key: log.append(("done", key)), lambda key: log.append(("wait", key)))
    try:
        assert kernels.cumulative_sum is not kernels._LOOPS["cumulative_sum"]
        x = np.arange(5, dtype=np.float64)
        assert bits_equal(kernels.cumulative_sum(x), np.cumsum(x))
        assert bits_equal(kernels.cumulative_sum(x), np.cumsum(x))  # the same types: no claim
        y = np.arange(5, dtype=np.float32)
        assert bits_equal(kernels.cumulative_sum(y), np.cumsum(y, dtype=np.float64))
    finally:
        undo()
    f32 = kernels.loop_key("cumulative_sum", (types.Array(types.float32, 1, "C"),))
    assert log == [("claim", f64), ("wait", f64), ("claim", f32), ("done", f32)]
    assert kernels.cumulative_sum is kernels._LOOPS["cumulative_sum"]
