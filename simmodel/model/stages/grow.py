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
    # bit, see kernels), the land requests' flags and terms in compiled loops, then the revenue grows
    g = np.empty(f.n, np.float32)
    kernels.growth_log_points(f.g_annual, f.shock_q, f.alive, dlogp.rows, dlogp.log_points, g)
    np.exp(g, out=g)
    asks = np.empty(f.n, np.bool_)
    kernels.land_requests(f.revenue, g, f.alive, f.sector, f.land_mu, industry_sector, land_per_revenue, plot_effect,
                          ABOVE_SIZE_REVENUE_CNY_100M, p.land_capacity_slack, asks)
    req = np.flatnonzero(asks)
    need, before = kernels.request_terms(req, f.revenue, g, f.sector, land_per_revenue, plot_effect)
    np.multiply(f.revenue, g, out=f.revenue)  # float32 growth widened exactly to float64
    f.land_refused[:] = False
    n_cities = budget_mu.size
    allocated = np.zeros(n_cities)
    refused = np.zeros(n_cities)
    n_refused = 0
    refused_total = 0.0
    if req.size:
        request = need * (1.0 + p.land_capacity_slack) - f.land_mu[req]
        quarters_left = 4 - q % 4
        granted, allocated = allocate_land(request, f.city[req].astype(np.int64), priority_sector[f.sector[req]],
                                           f.log_productivity[req], budget_mu / quarters_left,
                                           levers.land_priority_emerging_pct / 100.0)
        ok, ko = req[granted], req[~granted]
        f.land_mu[ok] += request[granted]
        if ko.size:
            n_refused = int(ko.size)
            f.land_refused[ko] = True
            # a refused firm grows only up to what its land supports, plus a share of the rest
            cap = (f.land_mu[ko] * (1.0 + p.land_capacity_slack) * plot_effect
                   / (ctx.land_per_va[f.sector[ko]] * ctx.va_ratio[f.sector[ko]]))
            desired = f.revenue[ko]
            floor = np.minimum(desired, np.maximum(cap, before[~granted]))
            f.revenue[ko] = floor + p.land_refused_growth_share * (desired - floor)
            for_ko = request[~granted]
            refused = np.bincount(f.city[ko], weights=for_ko, minlength=n_cities)
            refused_total = float(for_ko.sum())
            move = ko[rng.random(ko.size) < p.land_relocation_prob]
            if move.size:
                f.city[move] = int(np.argmax(budget_mu - allocated))
    return LandUse(allocated_mu=allocated, refused_mu=refused, refused_total_mu=refused_total, n_refused=n_refused)
