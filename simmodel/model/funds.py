"""The year's fund decisions over every fund vintage (the Mesa fund agents keep their own books)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simmodel.agents.firms import Firms
from simmodel.agents.funds import Fund, FundCommitment
from simmodel.data import BaseQuantity
from simmodel.levers import FundRegime
from simmodel.params import Params
from simmodel.sectors import MOTHER_FUNDS


@dataclass(frozen=True)
class FundYear:
    """What the funds did in a year (CNY 100 m and counts, population units)."""

    deployed_cny_100m: float  # new deals and follow-ons
    budget_cny_100m: float  # what the deploying funds meant to invest
    n_early_exits: int
    deployed_long_horizon_cny_100m: float  # new deals in long-horizon sectors


def initial_commitments(base: Mapping[str, BaseQuantity], params: Params, base_year: int,
                        old_life_years: float) -> list[FundCommitment]:
    """The funds raised before the base year, in the order they are raised: the provincial fund's
    first vintage and its yearly top-ups to what was subscribed, the mother funds set up by the base
    year (those set up later, in a replay from an earlier base year, are raised when the replay reaches
    their year), and the private VC of the years whose funds are still alive. Government vintages
    keep the life they were raised with (``old_life_years``: the draft does not change their terms)."""
    b, p = base, params
    first = int(b["provincial_fund_initial_cny_100m"].year)
    subscribed = b["provincial_fund_subscribed_cny_100m"]
    per_year = (subscribed.value - b["provincial_fund_initial_cny_100m"].value) / (subscribed.year - first)
    out = [FundCommitment("provincial", first, b["provincial_fund_initial_cny_100m"].value, None, old_life_years)]
    out += [FundCommitment("provincial", y, per_year, None, old_life_years) for y in range(first + 1, base_year + 1)]
    out += [FundCommitment(kind, base_year, b[q].value, None, old_life_years)
            for kind, q in MOTHER_FUNDS.items() if b[q].year <= base_year]
    out += [FundCommitment("private_vc", y, p.private_vc_commitment_cny_100m_per_year, None, p.private_vc_life_years)
            for y in range(base_year - int(p.private_vc_life_years) + 1, base_year + 1)]
    return out


def fund_year(funds: Sequence[Fund], firms: Firms, *, year: int, q: int, regime: FundRegime, max_share: float,
              gestation: np.ndarray, long_horizon: np.ndarray, params: Params, scale: float,
              stream: Callable[[int], np.random.Generator], cache: dict) -> FundYear:
    """One year of every fund in ``funds``: exits, forced sales, follow-ons and new deals (see
    ``Fund.invest``). Government funds follow ``regime`` and ``max_share`` (the largest share of a
    fund in one firm); private ones a portfolio regime. ``stream(i)`` is fund i's generator this year;
    ``cache`` shares candidate screens between funds (and, in the set-up, between years). Writes
    equity, n_investors, revenue and penalty_until_q of the firms they touch."""
    deployed = 0.0
    early_before = sum(fd.n_exits_early for fd in funds)
    long_before = sum(fd.deployed_long_horizon for fd in funds)
    for fd in funds:
        fd.last_budget = 0.0
    for i, fund in enumerate(funds):
        if fund.vintage > year:
            continue  # raised later (the set-up replays the years before the base year)
        if fund.h_firm.size == 0 and not fund.vintage <= year < fund.vintage + params.fund_deploy_years:
            continue  # nothing held, nothing to invest: skip (its random stream is keyed, so no shift)
        deployed += fund.invest(year=year, q=q, firms=firms, gestation=gestation, long_horizon=long_horizon,
                                life_years=fund.life_years, regime=regime if fund.government else FundRegime.portfolio,
                                max_single_share=max_share, params=params, rng=stream(i), scale=scale, pool_cache=cache)
    return FundYear(deployed_cny_100m=deployed, budget_cny_100m=sum(fd.last_budget for fd in funds),
                    n_early_exits=sum(fd.n_exits_early for fd in funds) - early_before,
                    deployed_long_horizon_cny_100m=sum(fd.deployed_long_horizon for fd in funds) - long_before)
