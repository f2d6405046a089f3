"""The year's fund decisions over every fund vintage, their randomness drawn at once (the Mesa fund
agents keep their own books)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simmodel.agents.firms import Firms
from simmodel.agents.funds import Fund, FundCommitment, screen
from simmodel.agents.noise import mix_key
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


def _draws(rng: np.random.Generator, sizes: list[int], dtype: type) -> list[np.ndarray]:
    """Uniforms on [0, 1) in one call, split into consecutive parts of the given sizes (by slicing:
    45 us for the 58 funds of a year, np.split 89)."""
    u = rng.random(sum(sizes), dtype=dtype)
    ends = list(itertools.accumulate(sizes))
    return [u[end - size:end] for size, end in zip(sizes, ends, strict=True)]


def fund_year(funds: Sequence[Fund], firms: Firms, *, year: int, q: int, regime: FundRegime, max_share: float,
              gestation: np.ndarray, long_horizon: np.ndarray, params: Params, scale: float, rng: np.random.Generator,
              sales_rng: np.random.Generator, cache: dict) -> FundYear:
    """One year of every fund raised by ``year``. Government funds follow ``regime`` and ``max_share``
    (the largest share of a fund in one firm), private ones a portfolio regime.

    In creation order, each fund exits (wound up at the end of its life, matured holdings, write-offs,
    forced sales), then, in its deployment years, follows on and takes its candidates' screen (one per
    kind, when the kind is first screened: after the exits of the funds before it, as each fund's
    exits may cut revenue). Then every deploying fund screens for new deals and books them, in the
    same order: deals change only equity and investor counts, which no exit, follow-on or screen
    reads. The year's randomness: a uniform per holding from ``sales_rng``, drawn at once (forced
    sales; a stream of its own, so that a scenario whose funds hold more firms does not shift
    everyone's screening noise) and, from ``rng``, one 64-bit key from which each fund's screening
    noise for each firm is derived (``keyed_uniform``). ``cache`` shares the candidates' screens and
    their productivity floor between funds (and, in the set-up, between years). Writes equity,
    n_investors, revenue and penalty_until_q of the firms the funds enter or leave."""
    for fd in funds:
        fd.last_budget = 0.0
    early_before = sum(fd.n_exits_early for fd in funds)
    long_before = sum(fd.deployed_long_horizon for fd in funds)
    active = [fd for fd in funds if fd.vintage <= year and (fd.h_firm.size or fd.deploying(year, params))]
    sell_u = _draws(sales_rng, [fd.h_firm.size for fd in active], np.float64)
    plans = []
    for fd, u in zip(active, sell_u, strict=True):
        reg = regime if fd.government else FundRegime.portfolio
        if not fd.exit_year(year=year, q=q, firms=firms, regime=reg, params=params, sell_u=u) or not fd.deploying(year, params):
            continue
        budget, crowd = fd.year_budget(reg, params, scale)
        fd.last_budget = budget
        follow_on = fd.follow_on(firms, budget * params.fund_follow_on_share, params)
        plans.append((fd, reg, budget - follow_on, crowd, follow_on, fd.candidates(firms, gestation, params, cache)))
    # screening noise keyed by (the year's draw, the fund, the firm): a firm's draw does not depend
    # on which others a fund may back, so two scenarios whose rules differ (a fund's life, its
    # regime) still screen the same firms with the same noise (common random numbers)
    year_key = int(rng.integers(0, 2 ** 64, dtype=np.uint64)) if plans else 0
    # the funds of a kind share their candidates and rules: one ranking pass screens them all
    kinds: dict[tuple[int, FundRegime], list[int]] = {}
    for j, (fd, reg, budget, crowd, follow_on, cand) in enumerate(plans):
        if budget > 0 and cand.firm.size:
            kinds.setdefault((id(cand), reg), []).append(j)
    deals = {}
    for (_, reg), js in kinds.items():
        picked = screen([plans[j][0] for j in js], plans[js[0]][5], year=year, regime=reg,
                        keys=[mix_key(year_key, plans[j][0].screen_key) for j in js], budgets=[plans[j][2] for j in js],
                        crowds=[plans[j][3] for j in js], max_single_share=max_share, params=params)
        deals.update(zip(js, picked, strict=True))
    deployed = 0.0
    for j, (fd, reg, budget, crowd, follow_on, cand) in enumerate(plans):
        if j in deals:
            follow_on += fd.take_deals(year, firms, *deals[j], crowd=crowd, long_horizon=long_horizon)
        deployed += follow_on
    return FundYear(deployed_cny_100m=deployed, budget_cny_100m=sum(fd.last_budget for fd in funds),
                    n_early_exits=sum(fd.n_exits_early for fd in funds) - early_before,
                    deployed_long_horizon_cny_100m=sum(fd.deployed_long_horizon for fd in funds) - long_before)
