"""Stylised facts of firm dynamics the model must reproduce (SPEC 4, literature):

- firm sizes are Zipf-like, tail exponent near 1 (Axtell 2001, Science 293);
- annual growth rates are tent-shaped, Laplace rather than normal (Stanley et al. 1996, Nature 379;
  Bottazzi and Secchi 2006, RAND J. Econ. 37(2));
- exit falls with age and with size (Evans 1987, J. Ind. Econ. 35(4)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from scipy import stats

from simmodel.agents.firms import ABOVE_SIZE_REVENUE_CNY_100M, ORIGIN_BASE
from simmodel.levers import Levers, Uncertainties
from simmodel.model import SimModel
from simmodel.population import Synthesiser

SEED = 11


def hill_exponent(x: np.ndarray, tail_share: float) -> float:
    """Hill estimator of the Pareto tail exponent over the largest ``tail_share`` of x."""
    x = np.sort(x)[::-1]
    k = int(tail_share * x.size)
    return float(k / np.log(x[:k] / x[k]).sum())


def test_hill_estimator_recovers_a_known_exponent():
    x = stats.pareto.rvs(1.2, size=200_000, random_state=np.random.default_rng(0))
    assert hill_exponent(x, 0.05) == pytest.approx(1.2, abs=0.05)


def test_above_size_revenue_tail_is_zipf(inputs):
    synth = Synthesiser(inputs.sectors, inputs.cities, inputs.base, inputs.params, scale=1.0)
    firms, _ = synth.build(np.random.default_rng(SEED))
    rev = firms.revenue[firms.revenue >= ABOVE_SIZE_REVENUE_CNY_100M]
    assert rev.size > 50_000
    assert 0.8 <= hill_exponent(rev, 0.05) <= 1.4


@dataclass
class TwoYears:
    growth: np.ndarray  # annual log-growth of surviving above-size base firms, both years pooled
    base_revenue: np.ndarray  # base-year revenue of every base firm
    base_age_q: np.ndarray
    exited: np.ndarray  # base firm exited within the two years


@pytest.fixture(scope="module")
def two_years(inputs) -> TwoYears:
    m = SimModel(inputs, Levers(), Uncertainties(), scale=0.2, seed=SEED)
    f = m.firms
    n0 = f.n
    rev = [f.revenue.copy()]
    alive = [f.alive.copy()]
    age0 = f.age_q.copy()
    for _ in range(2):
        for _ in range(4):
            m.step()
        rev.append(f.revenue[:n0].copy())
        alive.append(f.alive[:n0].copy())
    growth = []
    for y in range(2):
        ok = alive[y + 1] & (rev[y] >= ABOVE_SIZE_REVENUE_CNY_100M)
        growth.append(np.log(rev[y + 1][ok] / rev[y][ok]))
    assert (f.origin[:n0] == ORIGIN_BASE).all() and (f.origin[n0:] != ORIGIN_BASE).all()
    exited = ~f.alive[:n0]
    # the firm arrays agree with the snapshot: exits are dated, and age stopped at exit
    assert ((f.exit_q[:n0] >= 0) == exited).all()
    lived = np.where(exited, f.exit_q[:n0], m.q)
    assert (f.age_q[:n0] - lived == age0).all()
    return TwoYears(np.concatenate(growth), rev[0], age0, exited)


def test_growth_rates_have_fat_tails(two_years):
    g = two_years.growth
    assert g.size > 10_000
    assert stats.kurtosis(g) > 1.0  # excess kurtosis: 0 for a normal, 3 for a Laplace


def test_growth_rates_are_laplace_rather_than_normal(two_years):
    g = two_years.growth
    ll_laplace = stats.laplace.logpdf(g, *stats.laplace.fit(g)).sum()
    ll_normal = stats.norm.logpdf(g, *stats.norm.fit(g)).sum()
    assert ll_laplace > ll_normal, f"log-likelihood Laplace {ll_laplace:.1f} vs normal {ll_normal:.1f}"


def test_exit_falls_with_age(two_years):
    """Among above-size base firms (so that age is not a stand-in for size), firms younger than 3
    years exit more often than firms older than 10."""
    t = two_years
    above = t.base_revenue >= ABOVE_SIZE_REVENUE_CNY_100M
    young = above & (t.base_age_q < 4 * 3)
    old = above & (t.base_age_q > 4 * 10)
    assert young.sum() > 500 and old.sum() > 500
    assert t.exited[young].mean() > t.exited[old].mean()


def test_exit_falls_with_size(two_years):
    t = two_years
    lo, hi = np.quantile(t.base_revenue, [0.2, 0.8])
    bottom, top = t.base_revenue <= lo, t.base_revenue >= hi
    assert t.exited[bottom].mean() > t.exited[top].mean()
