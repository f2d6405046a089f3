"""Ageing and the firm sums the records are made of."""

from __future__ import annotations

from simmodel import kernels
from simmodel.agents.firms import Firms
from simmodel.params import Params


def age_firms(firms: Firms) -> None:
    """Every alive firm gets one quarter older (writes age_q)."""
    firms.age_q += firms.alive  # adds 1 where alive: no gather and scatter through a mask


def firm_rd_cny_100m(firms: Firms, params: Params, scale: float) -> float:
    """R&D spending of the alive firms, CNY 100 m per yr, province units."""
    # the terms in one compiled pass, summed by numpy (pairwise) as before
    terms = kernels.alive_rd_spending(firms.rd_intensity, firms.revenue, firms.grant_rd, params.subsidy_additionality,
                                      firms.alive)
    return float(terms.sum() / scale)
