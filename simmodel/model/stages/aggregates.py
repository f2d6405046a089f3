"""Ageing and the firm sums the records are made of."""

from __future__ import annotations

from simmodel.agents.firms import Firms
from simmodel.params import Params


def age_firms(firms: Firms) -> None:
    """Every alive firm gets one quarter older (writes age_q)."""
    firms.age_q += firms.alive  # adds 1 where alive: no gather and scatter through a mask


def firm_rd_cny_100m(firms: Firms, params: Params, scale: float) -> float:
    """R&D spending of the alive firms, CNY 100 m per yr, province units."""
    return float((firms.rd_spending(params) * firms.alive).sum() / scale)
