"""Growth, every quarter: each firm's desired growth, then land from its city (art. 21)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simmodel.agents.cities import allocate_land
from simmodel.agents.firms import ABOVE_SIZE_REVENUE_CNY_100M, Firms, GrowthContext
from simmodel.levers import Levers
from simmodel import kernels
from simmodel.model.stages.innovate import ProductivityGain
from simmodel.params import Params


@dataclass(frozen=True)
class LandUse:
    """What a quarter's growth asked of the cities (mu, population units)."""

    allocated_mu: np.ndarray  # granted, per city
    refused_mu: np.ndarray  # asked for and refused, per city
    refused_total_mu: float  # asked for and refused, summed in request order (the yearly record's sum)
    n_refused: int  # firms refused


def grow_firms(firms: Firms, params: Params, levers: Levers, *, q: int, dlogp: ProductivityGain, ctx: GrowthContext,
               land_per_revenue: np.ndarray, industry_sector: np.ndarray, priority_sector: np.ndarray,
               plot_effect: float, budget_mu: np.ndarray, rng: np.random.Generator) -> LandUse:
    """Desired growth (the year's rate, its shock and this quarter's productivity gains ``dlogp``, log
    points, see innovate_firms), then land: an above-size industrial firm that outgrows its land asks
    its city, which serves requests by the rule of art. 21 within a quarter of what it has left this year
    (``budget_mu``, mu per city; priority to ``priority_sector``). A refused firm grows only up to what
    its land supports plus a share of the rest, and may move to the city with most land left.

    Reads g_annual, shock_q, alive, revenue, sector, land_mu, city and log_productivity; writes
    revenue, land_mu, land_refused and city."""
    f, p = firms, params
    # one compiled pass for the log-growth, numpy's exponential (the C library's differs in the last
    # bit, see kernels), then the land requests and their terms, the revenue's growth and the cleared
    # refusals in one compiled call
    g = np.empty(f.n, np.float32)
    kernels.growth_log_points(f.g_annual, f.shock_q, f.alive, dlogp.rows, dlogp.log_points, g)
    np.exp(g, out=g)
    req, request, before, city, priority, efficiency = kernels.land_requests(
        f.revenue, g, f.alive, f.sector, f.land_mu, industry_sector, land_per_revenue, plot_effect,
        ABOVE_SIZE_REVENUE_CNY_100M, p.land_capacity_slack, f.city, priority_sector, f.log_productivity, f.land_refused)
    n_cities = budget_mu.size
    allocated = np.zeros(n_cities)
    refused = np.zeros(n_cities)
    n_refused = 0
    refused_total = 0.0
    if req.size:
        granted, allocated = allocate_land(request, city, priority, efficiency, budget_mu / (4 - q % 4),
                                           levers.land_priority_emerging_pct / 100.0)
        # granted firms take their land; a refused firm grows only up to what its land supports, plus
        # a share of the rest (one compiled pass, kernels.land_outcomes)
        ko, refused, refused_total = kernels.land_outcomes(
            req, granted, request, before, f.land_mu, f.revenue, f.land_refused, f.city, f.sector, ctx.land_per_va,
            ctx.va_ratio, p.land_capacity_slack, plot_effect, p.land_refused_growth_share, n_cities)
        n_refused = int(ko.size)
        if ko.size:
            move = ko[rng.random(ko.size) < p.land_relocation_prob]
            if move.size:
                f.city[move] = int(np.argmax(budget_mu - allocated))
    return LandUse(allocated_mu=allocated, refused_mu=refused, refused_total_mu=refused_total, n_refused=n_refused)
