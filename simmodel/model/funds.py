"""The year's fund decisions over every fund vintage, their randomness drawn at once (the Mesa fund
agents keep their own books)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import Firms
from simmodel.agents.funds import (REVENUE_STATE, Fund, FundBook, FundCommitment, life_left, low_words,
                                   prepare_candidates, screen_funds, ticket_caps)
from simmodel.agents.noise import mix_key, next_word
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
              gestation: np.ndarray, long_horizon: np.ndarray, params: Params, scale: float, rng: np.random.Generator,
              sales_rng: np.random.Generator, cache: dict) -> FundYear:
    """One year of every fund raised by ``year`` (``funds``: every fund of their book, in the order
    they were raised). Government funds follow ``regime`` and ``max_share`` (the largest share of a
    fund in one firm), private ones a portfolio regime.

    In creation order, each fund exits (wound up at the end of its life, matured holdings, write-offs,
    forced sales), then, in its deployment years, follows on and takes its candidates' screen (one per
    kind, when the kind is first screened: after the exits of the funds before it, as each fund's
    exits may cut revenue). Then every deploying fund screens for new deals and books them, in the
    same order: deals change only equity and investor counts, which no exit, follow-on or screen
    reads. The exits and follow-ons of the funds between two kinds' first screens are one compiled
    pass over the book (kernels.fund_book_exits), the year's deals another (kernels.fund_book_deals).
    The year's randomness: a uniform per holding from ``sales_rng``, drawn at once (forced
    sales; a stream of its own, so that a scenario whose funds hold more firms does not shift
    everyone's screening noise) and, from ``rng``, one 64-bit key from which each fund's screening
    noise for each firm is derived (``keyed_uniform``). ``cache`` shares the candidates' screens and
    their productivity floor between funds (and, in the set-up, between years). Writes equity,
    n_investors, revenue and penalty_until_q of the firms the funds enter or leave."""
    book = _book_of(funds)
    p = params
    for fd in funds:
        fd.last_budget = 0.0
    early_before = sum(fd.n_exits_early for fd in funds)
    long_before = sum(fd.deployed_long_horizon for fd in funds)
    n_funds = len(funds)
    acts = np.zeros(n_funds, np.bool_)
    wound_up = np.zeros(n_funds, np.bool_)
    yearly_profit = np.zeros(n_funds, np.bool_)
    follow_budget = np.zeros(n_funds)
    plans = []  # the deploying funds: [slot, fund, regime, budget, crowd]
    for i, fd in enumerate(funds):
        deploying = fd.deploying(year, p)
        if fd.vintage > year or not (deploying or book.start[i + 1] > book.start[i]):
            continue
        acts[i] = True
        reg = regime if fd.government else FundRegime.portfolio
        yearly_profit[i] = reg == FundRegime.yearly_profit
        end_year = fd.vintage + fd.life_years  # the fund is wound up at the start of this year
        wound_up[i] = year >= end_year
        if year < end_year and deploying:
            budget, crowd = fd.year_budget(reg, p, scale)
            fd.last_budget = budget
            follow_budget[i] = budget * p.fund_follow_on_share
            plans.append([i, fd, reg, budget, crowd])
    # one uniform per holding of the funds that act, in book order (all of them hold every row)
    n_held = book.start[1:] - book.start[:-1]  # np.diff's answer without its checks (5 us a call)
    u = sales_rng.random(int(n_held[acts].sum()), dtype=np.float64)
    if u.size == book.start[-1]:
        sell_u = u
    else:
        sell_u = np.zeros(int(book.start[-1]))
        sell_u[np.repeat(acts, n_held)] = u
    new_start = np.empty_like(book.start)
    counts = np.zeros((n_funds, 4), np.int64)
    follow_spent = np.zeros(n_funds)
    f = firms
    # an early exit cuts the firm's revenue and raises its exit hazard for a while (SPEC 4a)
    revenue_kept = 1.0 - p.fund_early_exit_revenue_cut
    penalty_q = q + int(round(4 * p.fund_early_exit_penalty_years))
    loss_exit_prob, ticket_ratio = p.fund_yearly_profit_loss_exit_prob, p.fund_follow_on_ticket_ratio

    def exits(lo: int, hi: int, w: int) -> int:
        return kernels.fund_book_exits(
            book.firm, book.ticket, book.year_in, book.tte, book.start, new_start, lo, hi, w, acts, year, wound_up,
            yearly_profit, follow_budget, sell_u, loss_exit_prob, ticket_ratio, f.alive, f.revenue, f.revenue_year_start,
            f.equity, f.n_investors, f.penalty_until_q, revenue_kept, penalty_q, counts, follow_spent)

    # every kind's candidates at once (what they are does not change within the year)
    prepare_candidates([plan[1] for plan in plans], f, gestation, p, cache)
    # which state of revenue a kind's first screen reads: this call's number (the set-up's years
    # share a cache) and the early exits so far, the only writes of revenue here
    call = cache["_fund_years"] = cache.get("_fund_years", 0) + 1
    w = lo = 0
    for plan in plans:
        slot, fd = plan[0], plan[1]
        if fd.kind not in cache:  # its kind's first screen reads revenue after this fund's exits
            w = exits(lo, slot + 1, w)
            lo = slot + 1
            cache[REVENUE_STATE] = (call, int(counts[:, 0].sum()))
        plan.append(fd.candidates(f, gestation, p, cache))
    w = exits(lo, n_funds, w)
    new_start[n_funds] = w
    book.firm, book.ticket, book.year_in, book.tte = book.firm[:w], book.ticket[:w], book.year_in[:w], book.tte[:w]
    book.start = new_start
    # as Python numbers (the same values): no numpy scalar made for each fund and count
    follow_spent_cny = follow_spent.tolist()
    for fd, (early, normal, write_offs, follow_ons), spent in zip(funds, counts.tolist(), follow_spent_cny, strict=True):
        if early or normal or write_offs or follow_ons:
            fd.n_exits_early += early
            fd.n_exits_normal += normal
            fd.n_write_offs += write_offs
            if follow_ons:
                fd.deployed += spent
                fd.n_follow_ons += follow_ons
    # screening noise keyed by (the year's draw, the fund, the firm): a firm's draw does not depend
    # on which others a fund may back, so two scenarios whose rules differ (a fund's life, its
    # regime) still screen the same firms with the same noise (common random numbers)
    year_key = next_word(rng) if plans else 0  # rng.integers(0, 2**64, dtype=np.uint64)'s number
    # the funds of a kind share their candidates and rules: one ranking pass screens them all
    kinds: dict[tuple[int, FundRegime], list[int]] = {}
    for j, (slot, fd, reg, budget, crowd, cand) in enumerate(plans):
        if budget - follow_spent_cny[slot] > 0 and cand.firm.size:
            kinds.setdefault((id(cand), reg), []).append(j)
    deals: dict[int, tuple] = {}
    if kinds:
        # every deploying fund's terms as arrays, once a year; each kind's screen takes its funds' rows
        # and reads the holdings in the book's own column (the exits are done, the deals come after)
        slots = np.array([plan[0] for plan in plans], dtype=np.intp)
        keys32 = low_words([mix_key(year_key, plan[1].screen_key) for plan in plans])
        life = life_left([plan[1] for plan in plans], year)
        budgets = np.array([plan[3] for plan in plans], dtype=np.float64) - follow_spent[slots]
        caps = ticket_caps(np.array([plan[1].size_cny_100m for plan in plans], dtype=np.float64),
                           np.array([plan[4] for plan in plans], dtype=np.float64), max_share, p)
        held_lo, held_hi = book.start[slots], book.start[slots + 1]
        where = np.full(f.n, -1, np.int32)  # the screens' scratch by firm row (see screen_funds)
    for (_, reg), js in kinds.items():
        ja = np.array(js, dtype=np.intp)
        picked = screen_funds(plans[js[0]][5], regime=reg, keys32=keys32[ja], life=life[ja], budgets=budgets[ja],
                              caps=caps[ja], held=book.firm, held_lo=held_lo[ja], held_hi=held_hi[ja], params=p,
                              where=where)
        deals.update((plans[j][0], d) for j, d in zip(js, picked, strict=True) if d[0].size)
    deal_spent = np.zeros(n_funds)
    long_spent = np.zeros(n_funds)
    if deals:
        order = sorted(deals)  # by slot: the funds' order
        sizes = np.zeros(n_funds, np.int64)
        sizes[order] = [deals[i][0].size for i in order]
        deal_start = np.zeros(n_funds + 1, np.int64)
        np.cumsum(sizes, out=deal_start[1:])
        book.firm, book.ticket, book.year_in, book.tte, book.start = kernels.fund_book_deals(
            book.firm, book.ticket, book.year_in, book.tte, book.start, deal_start,
            np.concatenate([deals[i][0] for i in order]), np.concatenate([deals[i][1] for i in order]),
            np.concatenate([deals[i][2] for i in order]), np.int32(year), f.equity, f.n_investors, f.sector,
            long_horizon, deal_spent, long_spent)
    deployed = 0.0
    deal_spent_cny, long_spent_cny = deal_spent.tolist(), long_spent.tolist()
    for slot, fd, reg, budget, crowd, cand in plans:
        spent = follow_spent_cny[slot]
        if slot in deals:
            new = deal_spent_cny[slot]
            fd.deployed += new
            fd.private_crowd_in += new * crowd / (1.0 + crowd)
            fd.n_deals += int(deals[slot][0].size)
            fd.deployed_long_horizon += long_spent_cny[slot]
            spent += new
        deployed += spent
    return FundYear(deployed_cny_100m=deployed, budget_cny_100m=sum(fd.last_budget for fd in funds),
                    n_early_exits=sum(fd.n_exits_early for fd in funds) - early_before,
                    deployed_long_horizon_cny_100m=sum(fd.deployed_long_horizon for fd in funds) - long_before)


def _book_of(funds: Sequence[Fund]) -> FundBook:
    """The book that ``funds`` keep their holdings in, which must be theirs alone, in their order."""
    book = funds[0].book if funds else FundBook()
    if len(book.funds) != len(funds) or any(a is not b for a, b in zip(book.funds, funds, strict=True)):
        raise ValueError("fund_year: the funds must be every fund of their book, in the order they were raised")
    return book
