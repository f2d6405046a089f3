"""The firms' yearly rates: expected log growth, the growth shock, and the quarterly probabilities of
an innovation and of exit, set at the start of each year for every firm and at entry for new firms."""

from __future__ import annotations

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import (ALL, REFERENCE_REVENUE_CNY_100M, SMALL_TECH_STAGE_BITS, TECH_SME_MAX_REVENUE_CNY_100M,
                                   Firms, GrowthContext, finance_hazard_cut)
from simmodel.agents.noise import keyed_uniforms
from simmodel.levers import Levers, Uncertainties
from simmodel.params import Params
from simmodel.sectors import SectorTable


def sector_shift(sectors: SectorTable, uncertainties: Uncertainties, long_horizon: np.ndarray, year: int,
                 policy_start_year: int) -> np.ndarray:
    """Uncertainties as additions to annual growth by sector (log points per yr)."""
    s, u = sectors, uncertainties
    # the uncertainties are about the years ahead: the replayed years before the policy's first
    # year are history (whatever world demand did then is in the data the replay is judged on)
    if year < policy_start_year:
        return np.zeros(s.n)
    shift = np.where(s.is_industry, u.world_demand_shift_pct / 100.0, 0.0)
    # the delay counts from the policy's first year
    if year - policy_start_year + 1 <= u.breakthrough_delay_years:
        shift = shift + np.where(long_horizon, s.growth_low - s.growth_prior, 0.0)
    return shift


def spillover(basic_research_cny_100m: float, public_rd_cny_100m: float, params: Params) -> float:
    """Innovation multiplier from this year's basic-research grants (art. 12, CNY 100 m): (1 + grants /
    the base-year public (non-enterprise) R&D)^basic_research_spillover, an elasticity."""
    public_rd = max(public_rd_cny_100m, 1e-9)
    return (1.0 + basic_research_cny_100m / public_rd) ** params.basic_research_spillover


def shock_uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """The uniforms of ``n`` firms' growth shocks (refresh_rates), single precision: firm i of a
    cohort always takes the i-th uniform of its stream (keyed_uniforms), so scenarios share their
    shocks (common random numbers)."""
    return keyed_uniforms(rng, n)


def refresh_rates(firms: Firms, ctx: GrowthContext, params: Params, levers: Levers, *, q: int,
                  sector_shift: np.ndarray, spillover: float, macro_shock: float, young_premium: np.ndarray,
                  young_hazard: np.ndarray, shock_u: np.ndarray, sl: slice = ALL) -> None:
    """Set g_annual (log growth per yr), shock_q (log points per quarter), p_innovate_q and p_exit_q
    (probabilities per quarter) of the firms in ``sl``. Reads revenue, sector, age, equity,
    designation, boosts, R&D, grants, talents, investors, penalties and stage.

    The growth shock is drawn once a year, Laplace (tent-shaped, Bottazzi and Secchi 2006), and
    spread evenly over the four quarters: annual growth rates are exactly Laplace given size.
    ``shock_u``: one uniform on [0, 1) per firm of ``sl``, single precision (see shock_uniforms)."""
    f, p = firms, params
    n = f.g_annual[sl].size
    # three compiled passes around numpy's log, log1p, exp and expm1 (whose last bits a compiled loop
    # would not repeat, see simmodel.kernels), each ufunc once over the rows of a work array; the
    # terms are those of simmodel.agents.firms (log_revenue, annual_growth, growth_scale,
    # innovation_hazard, exit_hazard), which tests/unit/test_kernels.py checks this against
    logs = np.empty((3, n), np.float32)
    kernels.rate_arguments(f.revenue[sl], f.grant_rd[sl], f.rd_intensity[sl], f.sector[sl], ctx.rd_reference,
                           p.subsidy_additionality, REFERENCE_REVENUE_CNY_100M, shock_u, logs)
    np.log(logs[:2], out=logs[:2])
    # Laplace(0, 1) by inversion of one uniform per firm: log1p(-2|u - 1/2|) is minus its magnitude,
    # the argument kept strictly above -1 (a draw of exactly 0 would give log(0))
    np.log1p(logs[2], out=logs[2])
    exps = np.empty((3, n), np.float32)
    logr = logs[0]
    kernels.rate_exponents(logs, f.sector[sl], f.age_q[sl], f.equity[sl], f.revenue[sl], f.designated[sl],
                           f.boost_until_q[sl], f.boost[sl], q, ctx.drift_annual + sector_shift, ctx.size_center,
                           np.result_type(logr, ctx.size_center).type(p.growth_size_slope), young_premium,
                           p.fund_equity_growth_boost, p.designation_growth_boost, macro_shock, f.g_annual[sl],
                           np.float32(-p.growth_volatility_size_elasticity), np.float32(-p.exit_size_elasticity),
                           np.float32(p.innovation_rd_elasticity), exps)
    np.exp(exps, out=exps)
    f32 = np.float32
    kernels.rate_probabilities(exps, logs, shock_u, f.talent[sl], f.age_q[sl], young_hazard, f.n_investors[sl],
                               f.penalty_until_q[sl], f.stage[sl], f.revenue[sl], q,
                               f32(p.growth_laplace_scale_annual), f32(p.growth_laplace_scale_min),
                               f32(p.growth_laplace_scale_max), p.innovation_base_annual * spillover,
                               p.talent_innovation_boost, p.exit_hazard_base_annual, p.fund_funded_hazard_multiplier,
                               p.fund_early_exit_hazard_multiplier, 1.0 - finance_hazard_cut(p, levers.small_firm_finance_index),
                               SMALL_TECH_STAGE_BITS, TECH_SME_MAX_REVENUE_CNY_100M, p.exit_hazard_cap_annual,
                               f.shock_q[sl])
    # a quarter's probabilities, -expm1(-hazard / 4)
    np.expm1(logs[:2], out=logs[:2])
    np.negative(logs[0], out=f.p_innovate_q[sl])
    np.negative(logs[1], out=f.p_exit_q[sl])
