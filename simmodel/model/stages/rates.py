"""The firms' yearly rates: expected log growth, the growth shock, and the quarterly probabilities of
an innovation and of exit, set at the start of each year for every firm and at entry for new firms."""

from __future__ import annotations

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import (ALL, Firms, GrowthContext, annual_growth, exit_hazard, finance_hazard_cut,
                                   growth_scale, innovation_hazard, log_revenue)
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
    logr = log_revenue(f, sl)
    kernels.store_float32(annual_growth(f, ctx, p, q, sector_shift, logr, young_premium, sl), macro_shock,
                          f.g_annual[sl])
    # Laplace(0, 1) by inversion of one uniform per firm: log1p(-2|u - 1/2|) is minus its magnitude,
    # the argument kept strictly above -1 (a draw of exactly 0 would give log(0)); numpy takes log1p
    e = np.log1p(kernels.laplace_argument(shock_u))
    kernels.quarterly_shock(e, shock_u, growth_scale(p, logr), f.shock_q[sl])
    # a quarter's probabilities, -expm1(-hazard / 4): the arithmetic compiled, numpy's expm1 kept
    lam = innovation_hazard(f, ctx, p, spillover, sl)
    kernels.minus_quarter(lam)
    np.negative(np.expm1(lam, out=lam), out=f.p_innovate_q[sl])
    h = exit_hazard(f, p, q, finance_hazard_cut(p, levers.small_firm_finance_index), logr, young_hazard, sl)
    kernels.minus_quarter(h)
    np.negative(np.expm1(h, out=h), out=f.p_exit_q[sl])
