"""A year of the funds (simmodel.model.funds.fund_year, simmodel.agents.funds) on hand-made firm
arrays: deals fit the fund's remaining life and budget, are booked on both sides, follow the
generators they are given, and forced sales under yearly-profit rules use their own stream."""

from __future__ import annotations

import dataclasses

import mesa
import numpy as np
import pytest

from simmodel import kernels
from simmodel.agents.firms import FirmStage, Firms
from simmodel.agents.funds import REVENUE_STATE, Candidates, Fund, FundBook, FundCommitment, eligible, screen
from simmodel.agents.noise import keyed_uniform, mix_key, string_key
from simmodel.levers import FundRegime
from simmodel.model.funds import fund_year

N = 400  # firms: half in a quick sector (3 years to exit), half in a slow one (12 years)


@pytest.fixture()
def params(inputs):
    return dataclasses.replace(inputs.params, fund_follow_on_share=0.0, fund_ticket_to_revenue=0.1,
                               fund_min_ticket_cny_100m=0.01, fund_maturity_discount_per_stage=0.0)


def setting(params, *, life: float = 5.0, size: float = 4.0):
    f = Firms(N)
    rng = np.random.default_rng(0)
    f.add(N, sector=np.repeat([0, 1], N // 2), city=0, stage=int(FirmStage.TECH_SME), revenue=rng.uniform(0.5, 2.0, N),
          revenue_year_start=1.0, log_productivity=rng.normal(0.0, 0.3, N), boost_until_q=-1, penalty_until_q=-1)
    model = mesa.Model()
    fund = Fund(model, fund_id="f", kind="provincial", government=True, size_cny_100m=size, vintage=2025,
                stages=(FirmStage.TECH_SME,), sector_mask=np.array([True, True]), budget_lever=None, life_years=life)
    return f, fund


def one_year(f, fund, params, seed: int, *, year: int = 2025, regime: FundRegime = FundRegime.portfolio):
    return fund_year([fund], f, year=year, q=0, regime=regime, max_share=0.2, gestation=np.array([3.0, 12.0]),
                     long_horizon=np.array([False, True]), params=params, scale=1.0, rng=np.random.default_rng(seed),
                     sales_rng=np.random.default_rng(seed + 1000), cache={})


def test_deals_fit_the_remaining_life_and_the_budget(params):
    f, fund = setting(params)
    fy = one_year(f, fund, params, seed=1)
    budget = 4.0 * (1.0 + fund.crowd_in_ratio(5.0, FundRegime.portfolio, params)) / params.fund_deploy_years
    assert fund.h_firm.size > 0 and fy.budget_cny_100m == pytest.approx(budget)
    assert (f.sector[fund.h_firm] == 0).all()  # 12 years to exit does not fit a 5-year life
    assert 0 < fy.deployed_cny_100m <= budget
    np.testing.assert_allclose(f.equity[fund.h_firm], fund.h_ticket)
    assert (f.n_investors[fund.h_firm] == 1).all() and f.n_investors.sum() == fund.h_firm.size
    assert fy.deployed_long_horizon_cny_100m == 0.0 and fund.n_deals == fund.h_firm.size


def test_deals_follow_the_generator(params):
    runs = []
    for seed in (1, 1, 2):
        f, fund = setting(params)
        one_year(f, fund, params, seed)
        runs.append(np.sort(fund.h_firm))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], runs[2])


def test_a_fund_is_wound_up_at_the_end_of_its_life(params):
    f, fund = setting(params, life=5.0)
    one_year(f, fund, params, seed=1)
    held = fund.h_firm.copy()
    fy = one_year(f, fund, params, seed=2, year=2030)
    assert fund.h_firm.size == 0 and fy.deployed_cny_100m == 0.0
    assert (f.n_investors[held] == 0).all() and np.allclose(f.equity, 0.0)
    # a deal fits the life left when it is made, so every holding has matured by the end of it
    assert fy.n_early_exits == 0 and fund.n_exits_normal == held.size


def test_yearly_profit_sells_holdings_whose_revenue_fell(params):
    p = dataclasses.replace(params, fund_yearly_profit_loss_exit_prob=1.0, fund_yearly_profit_horizon_years=20.0,
                            fund_deploy_years=1)  # no new deals in the second year
    f, fund = setting(p)
    f.revenue[:] = 1.0  # above size
    one_year(f, fund, p, seed=1, regime=FundRegime.yearly_profit)
    held = fund.h_firm.copy()
    f.revenue_year_start[:] = 1.0
    f.revenue[held[::2]] = 0.5  # half of them fell over the year
    one_year(f, fund, p, seed=2, year=2026, regime=FundRegime.yearly_profit)
    assert not np.isin(held[::2], fund.h_firm).any() and np.isin(held[1::2], fund.h_firm).all()
    assert fund.n_exits_early == held[::2].size  # sold before maturity (3 years)
    assert (f.penalty_until_q[held[::2]] > 0).all() and (f.revenue[held[::2]] < 0.5).all()


def _brute_force_screen(fund, cand, *, year, regime, key, budget, crowd, max_share, params):
    """The screen's definition, over every candidate: score all that the fund may back, best first,
    take while the tickets fit the budget."""
    pos = np.arange(cand.firm.size)
    pos = pos[eligible([fund], cand, pos, year=year, regime=regime, params=params)[0]]
    score = cand.log_productivity[pos].astype(np.float64) + keyed_uniform(key, cand.firm[pos])
    pos = pos[np.argsort(-score, kind="stable")]
    cap = max(max_share * fund.size_cny_100m * (1.0 + crowd), params.fund_min_ticket_cny_100m)
    tickets = np.clip(params.fund_ticket_to_revenue * cand.revenue[pos], params.fund_min_ticket_cny_100m, cap)
    return cand.firm[pos[np.cumsum(tickets) <= budget]]


def _candidates(rng, n):
    firm = np.sort(rng.choice(3 * n, n, replace=False))
    return Candidates(firm=firm, tte_years=rng.choice([1.5, 3.0, 12.0], n, p=[0.1, 0.5, 0.4]).astype(np.float32),
                      log_productivity=rng.normal(0.0, 0.3, n).astype(np.float32), revenue=rng.lognormal(-1.0, 1.0, n))


def _fund(life, name="f", vintage=2025, size=40.0):
    return Fund(mesa.Model(), fund_id=name, kind="provincial", government=True, size_cny_100m=size, vintage=vintage,
                stages=(FirmStage.TECH_SME,), sector_mask=np.array([True]), budget_lever=None, life_years=life)


@pytest.mark.parametrize("life, regime, budget", [
    (5.0, FundRegime.portfolio, 3.0),  # most candidates fit the life: the first block is enough
    (2.0, FundRegime.portfolio, 3.0),  # one candidate in ten fits: the floor must drop
    (5.0, FundRegime.yearly_profit, 3.0),
    (5.0, FundRegime.portfolio, 1e6),  # the budget outlasts every candidate
    (5.0, FundRegime.portfolio, 0.3),  # a few deals
])
def test_the_screen_picks_exactly_the_best_of_all_candidates(params, life, regime, budget):
    """screen scores only a block of the most productive candidates; its deals must be those of
    scoring every candidate, in the same order, whatever the share of candidates the fund may back."""
    rng = np.random.default_rng(7)
    n = 30_000
    cand = _candidates(rng, n)
    fund = _fund(life)
    fund.book.set_holdings(fund.slot, cand.firm[rng.choice(n, 500, replace=False)])  # held firms are not backed twice
    kw = dict(year=2025, regime=regime, key=mix_key(12345, fund.screen_key), budget=budget, crowd=0.5)
    [(chosen, tickets, tte)] = screen([fund], cand, year=2025, regime=regime, keys=[kw["key"]], budgets=[budget],
                                      crowds=[0.5], max_single_share=0.2, params=params)
    expected = _brute_force_screen(fund, cand, max_share=0.2, params=params, **kw)
    assert chosen.size > 0
    np.testing.assert_array_equal(chosen, expected)
    assert tickets.sum() <= budget and not np.isin(chosen, fund.h_firm).any()
    assert (tte <= life).all()


def _rounds_recorded(monkeypatch) -> list[int]:
    """The size of the block each screening round scores (kernels.screen_round wrapped); more than
    50 rounds raise, so that a screen that stops lowering its floor fails instead of hanging."""
    sizes: list[int] = []
    real = kernels.screen_round

    def recorded(log_productivity, floor, *rest):
        sizes.append(int((log_productivity >= floor).sum()))
        if len(sizes) > 50:
            raise AssertionError(f"the screen went round {len(sizes)} times: blocks {sizes[:10]} ...")
        return real(log_productivity, floor, *rest)

    monkeypatch.setattr(kernels, "screen_round", recorded)
    return sizes


@pytest.mark.parametrize("sample_sees_nothing", [False, True])
def test_a_fund_that_can_afford_all_of_its_block_looks_at_a_larger_block_not_at_every_candidate(
        params, sample_sees_nothing, monkeypatch):
    """Where the most productive candidates mostly take too long to exit for a fund's life, it can
    afford every one of its first block that it may back: its next round scores a block a few times
    larger (not every candidate, which at 1:1 cost a millisecond a time for a few hundred deals a
    block of 10 000 holds), and its deals stay those of scoring every candidate. A sample of the
    productivities that sees no larger block (``approx_count_above`` answering 0) gives every
    candidate, never a floor that does not go down."""
    rng = np.random.default_rng(5)
    n = 40_000
    cand = _candidates(rng, n)
    top = cand.log_productivity >= np.quantile(cand.log_productivity, 0.9)
    cand.tte_years[top] = 12.0  # the most productive tenth exits too late for a life of 3 years
    cand.tte_years[~top] = rng.choice([1.5, 3.0], int((~top).sum())).astype(np.float32)
    fund = _fund(3.0)
    if sample_sees_nothing:
        monkeypatch.setattr(Candidates, "approx_count_above", lambda self, floors: np.zeros(len(floors), np.int64))
    sizes = _rounds_recorded(monkeypatch)
    kw = {"year": 2025, "regime": FundRegime.portfolio, "key": mix_key(77, fund.screen_key), "budget": 4.0, "crowd": 0.5}
    [(chosen, tickets, _)] = screen([fund], cand, year=2025, regime=FundRegime.portfolio, keys=[kw["key"]],
                                    budgets=[4.0], crowds=[0.5], max_single_share=0.2, params=params)
    np.testing.assert_array_equal(chosen, _brute_force_screen(fund, cand, max_share=0.2, params=params, **kw))
    assert 0 < tickets.sum() <= 4.0
    assert len(sizes) >= 2 and sizes[0] < 0.1 * n  # the first block holds none it may back
    if sample_sees_nothing:
        assert sizes[1:] == [n]
    else:
        assert max(sizes) < n and sizes[1] <= 8 * sizes[0]


@pytest.mark.parametrize("regime", list(FundRegime))
@pytest.mark.parametrize("first_block", [64, 2048, 50_000])
def test_funds_screened_together_each_get_the_deals_of_their_own_screen(params, regime, first_block, monkeypatch):
    """A kind's funds are screened in one pass (one matrix of scores, rounds with a shared floor):
    each fund's deals must still be those of scoring every candidate for it alone, with its own life,
    holdings, budget, largest ticket and noise, whether its first block is enough or not, and whatever
    that block's size (its floor is a sampled quantile: a small block, the usual one, every candidate)."""
    from simmodel.agents import funds as funds_module

    monkeypatch.setattr(funds_module, "_FIRST_BLOCK", first_block)
    rng = np.random.default_rng(11)
    n = 20_000
    cand = _candidates(rng, n)
    lives = [5.0, 2.0, 12.0, 5.0, 3.0, 20.0]
    budgets = [3.0, 3.0, 0.3, 1e6, 8.0, 0.0]  # the last one buys nothing
    sizes = [40.0, 40.0, 5.0, 40.0, 2.0, 40.0]  # a small fund's largest ticket binds
    funds = [_fund(life, name=f"f{i}", vintage=2024 + i % 2, size=size)
             for i, (life, size) in enumerate(zip(lives, sizes))]
    for i, fd in enumerate(funds[:4]):
        fd.book.set_holdings(fd.slot, cand.firm[rng.choice(n, 300 * (i + 1), replace=False)])
    keys = [mix_key(99, fd.screen_key) for fd in funds]
    crowds = [0.5, 0.0, 1.0, 0.5, 0.0, 0.5]
    picked = screen(funds, cand, year=2026, regime=regime, keys=keys, budgets=budgets, crowds=crowds,
                    max_single_share=0.2, params=params)
    assert len(picked) == len(funds)
    for fd, key, budget, crowd, (chosen, tickets, tte) in zip(funds, keys, budgets, crowds, picked):
        expected = _brute_force_screen(fd, cand, year=2026, regime=regime, key=key, budget=budget, crowd=crowd,
                                       max_share=0.2, params=params)
        np.testing.assert_array_equal(chosen, expected)
        assert tickets.sum() <= budget and tickets.size == chosen.size == tte.size
    assert sum(c.size for c, _, _ in picked) > 0 and picked[-1][0].size == 0



@pytest.mark.parametrize("regime", list(FundRegime))
def test_a_screen_reading_the_holdings_in_their_book_gets_the_deals_of_one_given_them_apart(params, regime):
    """fund_year hands screen_funds the book's own column of holdings, each fund's rows by its start
    and end there (some funds of the book not screened, one holding nothing); screen gathers each
    fund's holdings into an array of their own. The deals are the same, fund for fund."""
    from simmodel.agents.funds import low_words, screen_funds, ticket_caps

    rng = np.random.default_rng(23)
    n = 6_000
    cand = _candidates(rng, n)
    book = FundBook()
    model = mesa.Model()
    funds = [Fund(model, fund_id=f"g{i}", kind="provincial", government=True, size_cny_100m=40.0 - 5 * i,
                  vintage=2024, stages=(FirmStage.TECH_SME,), sector_mask=np.array([True]), budget_lever=None,
                  life_years=life, book=book) for i, life in enumerate([5.0, 8.0, 3.0, 12.0, 6.0])]
    for i, fd in enumerate(funds):
        if i != 2:
            book.set_holdings(fd.slot, cand.firm[rng.choice(n, 150 * (i + 1), replace=False)])
    screened = [funds[0], funds[2], funds[4], funds[1]]  # not in slot order, and not every fund of the book
    keys = [mix_key(5, fd.screen_key) for fd in screened]
    budgets, crowds = [2.0, 1.0, 4.0, 0.5], [0.5, 0.0, 1.0, 0.5]
    apart = screen(screened, cand, year=2026, regime=regime, keys=keys, budgets=budgets, crowds=crowds,
                   max_single_share=0.2, params=params)
    slots = np.array([fd.slot for fd in screened])
    in_book = screen_funds(cand, regime=regime, keys32=low_words(keys), life=np.array(
        [fd.vintage + fd.life_years - 2026 for fd in screened], dtype=np.float32), budgets=np.array(budgets),
        caps=ticket_caps(np.array([fd.size_cny_100m for fd in screened]), np.array(crowds), 0.2, params),
        held=book.firm, held_lo=book.start[slots], held_hi=book.start[slots + 1], params=params)
    assert sum(d[0].size for d in apart) > 0
    for a, b in zip(apart, in_book, strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)
    held = set(book.firm[book.start[slots[0]]:book.start[slots[0] + 1]].tolist())
    assert not held & set(apart[0][0].tolist())  # a fund does not back a firm it holds


def test_screening_noise_depends_only_on_the_key_and_the_firm():
    """keyed_uniform: uniform on [0, 1), the same for a firm whichever others are drawn, independent
    between keys (what common random numbers between scenarios rest on)."""
    from scipy import stats
    idx = np.arange(200_000)
    u = keyed_uniform(mix_key(1, 2), idx)
    assert u.dtype == np.float32 and 0.0 <= u.min() and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    sub = np.sort(np.random.default_rng(0).choice(idx, 5_000, replace=False))
    np.testing.assert_array_equal(keyed_uniform(mix_key(1, 2), sub), u[sub])
    assert abs(np.corrcoef(u, keyed_uniform(mix_key(1, 3), idx))[0, 1]) < 0.01
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01  # neighbouring firms


def test_a_screen_of_firms_without_revenue_takes_the_smallest_tickets(params):
    """Firms with no revenue yet (tickets at the smallest size, fund_min_ticket_cny_100m): the screen
    still ranks them exactly, however many deals the budget buys."""
    rng = np.random.default_rng(5)
    cand = _candidates(rng, 5_000)
    cand.revenue[:] = 0.0
    fund = _fund(5.0)
    key = mix_key(3, fund.screen_key)
    budget = 40.5 * params.fund_min_ticket_cny_100m
    [(chosen, tickets, _)] = screen([fund], cand, year=2025, regime=FundRegime.portfolio, keys=[key], budgets=[budget],
                                    crowds=[0.5], max_single_share=0.2, params=params)
    expected = _brute_force_screen(fund, cand, year=2025, regime=FundRegime.portfolio, key=key, budget=budget,
                                   crowd=0.5, max_share=0.2, params=params)
    np.testing.assert_array_equal(chosen, expected)
    assert chosen.size == 40 and (tickets == params.fund_min_ticket_cny_100m).all()


@pytest.mark.parametrize("regime", ["portfolio", "yearly_profit"])
def test_over_a_run_no_fund_holds_a_firm_twice_and_the_books_agree(inputs, regime):
    """What the screens rely on (a fund does not back a firm it holds): after the set-up's years and a run, each
    fund's holdings are distinct firms, every firm's investor count is the number of funds holding
    it, and its fund equity is the sum of their tickets (up to the rounding of repeated + and -)."""
    from simmodel.levers import Levers, Uncertainties
    from simmodel.model import SimModel

    levers = dataclasses.replace(Levers(), fund_evaluation_regime=regime, fund_life_years=8.0)
    m = SimModel(inputs, levers, Uncertainties(), scale=0.02, seed=4)
    m.run()
    f = m.firms
    held = [fd.h_firm for fd in m.funds if fd.h_firm.size]
    assert held and sum(fd.n_exits_normal + fd.n_exits_early + fd.n_write_offs for fd in m.funds) > 0
    assert all(np.unique(h).size == h.size for h in held)
    every = np.concatenate(held)
    np.testing.assert_array_equal(f.n_investors, np.bincount(every, minlength=f.n))
    tickets = np.bincount(every, weights=np.concatenate([fd.h_ticket for fd in m.funds if fd.h_firm.size]), minlength=f.n)
    np.testing.assert_allclose(f.equity, tickets, rtol=1e-9, atol=1e-9)


def test_the_rule_of_a_ranking_is_the_full_sort():
    """rank_within_budget, the rule the compiled rankings are checked against, is a stable sort of every
    position a fund may back, cut where the running sum of tickets passes the budget."""
    from simmodel.agents.funds import rank_within_budget

    score = np.array([0.5, 2.0, -np.inf, 2.0, 1.0, 3.0])
    ok = np.isfinite(score)
    base_ticket = np.array([1.0, 2.0, 9.0, 0.001, 5.0, 1.5])
    order, tickets, refused = rank_within_budget(score, ok, base_ticket, 4.0, 4.0, 0.01)
    # 3.0 (1.5), then the two 2.0s by position (2.0, then 0.001 raised to 0.01): 3.51; then 1.0 costs 4.0
    np.testing.assert_array_equal(order, [5, 1, 3])
    np.testing.assert_array_equal(tickets, [1.5, 2.0, 0.01])
    assert refused == 1.0
    assert rank_within_budget(score, ok, base_ticket, 1e9, 4.0, 0.01)[2] is None


def _round_of_rankings(seed: int, n: int, tied: bool):
    rng = np.random.default_rng(seed)
    g = 8
    score = rng.normal(0.0, 1.0, (g, n)) + rng.random((g, n))
    if tied:  # many equal scores: they rank by position
        score = np.round(score, 2)
    ok = rng.random((g, n)) < 0.7
    ok[5] = False  # a fund that may back nothing
    score[~ok] = -np.inf
    base_ticket = rng.lognormal(-1.0, 1.0, n)
    # fund 2's best candidates cost far less than the mean ticket: its first k all fit, it goes round again
    base_ticket[np.argsort(-score[2])] = np.sort(base_ticket) * np.linspace(0.01, 1.0, n)
    budgets = np.array([4.0, 40.0, 2.0, 1e9, 0.0, 3.0, 500.0, 0.0])  # all fit; nothing; many deals
    caps = np.array([5.0, 5.0, 0.5, 5.0, 5.0, 5.0, 0.02, 5.0])
    # fund 7's budget is exactly the running sum of its first 40 tickets: the 40th is kept, the 41st refused
    best = np.flatnonzero(ok[7])[np.argsort(-score[7, ok[7]], kind="stable")]
    budgets[7] = np.cumsum(np.minimum(np.maximum(base_ticket[best], 0.01), caps[7]))[39]
    return score, ok, base_ticket, budgets, caps


@pytest.mark.parametrize("k_max, block_max", [(128, 8192), (1 << 30, 1 << 30), (8, 8192), (40, 8192), (128, 100),
                                              (-1, 0)])
@pytest.mark.parametrize("n, tied", [(3000, False), (3000, True), (30_000, False), (30_000, True)])
def test_a_rounds_rankings_in_one_call_are_each_funds_own(k_max, block_max, n, tied):
    """kernels.ranked_group_within_budget ranks every fund of a screening round in one call: by the heap
    of its best for small rankings in a small block, else by sorting (the best buckets only, when the
    fund may back many); each fund's deals (firms, tickets, years to exit) and refused score must be
    rank_within_budget's for that fund alone, whichever the path: the heap throughout, going round on
    four times as many (k_max large), sorting from the start (k_max -1, or a block larger than
    block_max), the heap handing over to the sort (k_max 8 and 40), with and without tied scores, and
    at 30 000 positions the sort of the best buckets only, going round again where those all fit."""
    from simmodel.agents.funds import rank_within_budget

    score, ok, base_ticket, budgets, caps = _round_of_rankings(21, n, tied)
    g = score.shape[0]
    rng = np.random.default_rng(5)
    mean_ticket, min_ticket = float(base_ticket.mean()), 0.01
    firm = np.sort(rng.choice(10 * n, 2 * n, replace=False)).astype(np.intp)
    block = np.sort(rng.choice(2 * n, n, replace=False)).astype(np.intp)
    tte = rng.uniform(1.0, 9.0, 2 * n).astype(np.float32)

    chosen, tickets, years, n_deals, refused, has_refused = kernels.ranked_group_within_budget(
        score, ok, budgets, caps, base_ticket, mean_ticket, min_ticket, k_max, block_max, firm, block, tte)
    at = 0
    for j in range(g):
        order, want_tickets, want_refused = rank_within_budget(score[j], ok[j], base_ticket, budgets[j], caps[j],
                                                               min_ticket)
        got = slice(at, at + n_deals[j])
        at += n_deals[j]
        np.testing.assert_array_equal(chosen[got], firm[block[order]])
        np.testing.assert_array_equal(tickets[got], want_tickets)
        np.testing.assert_array_equal(years[got], tte[block[order]].astype(np.float64))
        assert (float(refused[j]) if has_refused[j] else None) == want_refused
    assert at == chosen.size == tickets.size == years.size
    first_k = int(np.ceil(2 * budgets[2] / min(mean_ticket, caps[2]))) + 1
    assert n_deals[2] > first_k  # fund 2 went round again
    assert not has_refused[3] and n_deals[3] == ok[3].sum() and n_deals[4] == n_deals[5] == 0
    assert n_deals[[0, 1, 6]].min() > 0 and has_refused[[0, 1, 2, 7]].all() and not has_refused[6]  # 6: many, all fit
    assert n_deals[7] == 40


def test_a_book_keeps_each_funds_rows_together_in_the_order_raised():
    """FundBook: each fund's holdings are its own rows, whatever is set for the funds around it; a
    fund raised alone has a book of its own; fund_year refuses funds that are not their book's."""
    model = mesa.Model()
    book = FundBook()
    funds = [Fund(model, fund_id=f"f{i}", kind="provincial", government=True, size_cny_100m=1.0, vintage=2025,
                  stages=(FirmStage.TECH_SME,), sector_mask=np.array([True]), budget_lever=None, life_years=8.0,
                  book=book) for i in range(3)]
    assert [fd.slot for fd in funds] == [0, 1, 2] and book.funds == funds
    book.set_holdings(0, [5, 3], ticket=[1.0, 2.0], year_in=[2024, 2025], tte=[3.0, 4.0])
    book.set_holdings(2, [7])
    book.set_holdings(1, [9, 8, 1], ticket=[0.5, 0.25, 0.125])
    np.testing.assert_array_equal(funds[0].h_firm, [5, 3])
    np.testing.assert_array_equal(funds[0].h_year_in, [2024, 2025])
    np.testing.assert_array_equal(funds[1].h_ticket, [0.5, 0.25, 0.125])
    np.testing.assert_array_equal(funds[2].h_firm, [7])
    book.set_holdings(0, [])
    assert funds[0].h_firm.size == 0 and funds[1].h_firm.tolist() == [9, 8, 1] and funds[2].h_tte.tolist() == [0.0]
    alone = _fund(5.0)
    assert alone.book is not book and alone.book.funds == [alone]
    with pytest.raises(ValueError, match="every fund of their book"):
        fund_year(funds[:2], Firms(4), year=2025, q=0, regime=FundRegime.portfolio, max_share=0.2,
                  gestation=np.array([3.0]), long_horizon=np.array([False]), params=None, scale=1.0,
                  rng=np.random.default_rng(0), sales_rng=np.random.default_rng(1), cache={})


def test_kinds_of_the_same_rows_share_their_candidates_while_revenue_is_unchanged(params):
    """Two kinds that back the same stages and sectors, first screened in the same state of revenue
    (fund_year's REVENUE_STATE: no early exit between them), share one Candidates (and so one
    screen); a kind first screened after an early exit reads revenue as it is then."""
    f, _ = setting(params)
    model = mesa.Model()
    kinds = [Fund(model, fund_id=k, kind=k, government=True, size_cny_100m=4.0, vintage=2025,
                  stages=(FirmStage.TECH_SME,), sector_mask=np.array([True, True]), budget_lever=None, life_years=5.0)
             for k in ("a", "b", "c")]
    gestation = np.array([3.0, 12.0])
    cache: dict = {REVENUE_STATE: (1, 0)}
    a = kinds[0].candidates(f, gestation, params, cache)
    assert kinds[1].candidates(f, gestation, params, cache) is a
    f.revenue[a.firm[0]] *= 0.5  # an early exit's cut
    cache[REVENUE_STATE] = (1, 1)
    c = kinds[2].candidates(f, gestation, params, cache)
    assert c is not a and c.firm is a.firm and c.revenue[0] == 0.5 * a.revenue[0]
    assert np.array_equal(c.revenue[1:], a.revenue[1:])


def test_a_kind_first_screened_after_an_early_exit_reads_the_cut_revenue(params):
    """fund_year: a fund of kind "a" is wound up with a firm it entered a year ago (an early exit,
    which cuts the firm's revenue) between the first screens of kind "a" and of kind "b", which back
    the same stages and sectors: "b"'s candidates read the cut revenue, "a"'s the revenue before."""
    f, _ = setting(params)
    model, book = mesa.Model(), FundBook()

    def fund(kind, vintage, life):
        return Fund(model, fund_id=f"{kind}{vintage}", kind=kind, government=True, size_cny_100m=4.0, vintage=vintage,
                    stages=(FirmStage.TECH_SME,), sector_mask=np.array([True, True]), budget_lever=None,
                    life_years=life, book=book)

    funds = [fund("a", 2025, 10.0), fund("a", 2015, 10.0), fund("b", 2025, 10.0)]  # the second is wound up in 2025
    x = 7
    book.set_holdings(1, [x], ticket=[0.1], year_in=[2024], tte=[5.0])
    before = float(f.revenue[x])
    cache: dict = {}
    fund_year(funds, f, year=2025, q=0, regime=FundRegime.portfolio, max_share=0.2, gestation=np.array([3.0, 12.0]),
              long_horizon=np.array([False, True]), params=params, scale=1.0, rng=np.random.default_rng(0),
              sales_rng=np.random.default_rng(1), cache=cache)
    assert funds[1].n_exits_early == 1 and f.revenue[x] == before * (1.0 - params.fund_early_exit_revenue_cut) != before
    a, b = cache["a"], cache["b"]
    at = int(np.searchsorted(a.firm, x))
    assert a.firm[at] == x and b is not a
    assert a.revenue[at] == before and b.revenue[at] == f.revenue[x]


def test_a_models_funds_are_keyed_by_kind_vintage_and_count_and_share_their_kinds_table(inputs):
    """What make_fund keeps per kind and per (kind, vintage) instead of recomputing it for each fund:
    each fund's screening key names the how-manieth of its kind and vintage it is (counted over the
    funds raised before it), and its table is the flag of its kind's stages by sector, the same
    read-only array for every fund of the kind, as backing_table builds it for the fund alone."""
    from simmodel.agents.funds import backing_table
    from simmodel.levers import Levers, Uncertainties
    from simmodel.model import SimModel

    with SimModel(inputs, Levers(), Uncertainties(), scale=0.02, seed=4) as m:
        m.run()
        # two more of a kind and vintage already raised, and one of a vintage not raised yet
        last = m.funds[-1]
        for vintage in (last.vintage, last.vintage, last.vintage + 1):
            m.make_fund(FundCommitment(last.kind, vintage, 1.0, None, 10.0))
        funds = list(m.funds)
    assert [fd.screen_key for fd in funds[-3:]] == [string_key(f"{last.kind}/{last.vintage}/{i}") for i in (1, 2)] + [
        string_key(f"{last.kind}/{last.vintage + 1}/0")]
    for i, fd in enumerate(funds):
        ordinal = sum(o.kind == fd.kind and o.vintage == fd.vintage for o in funds[:i])
        assert fd.screen_key == string_key(f"{fd.kind}/{fd.vintage}/{ordinal}"), fd.fund_id
        stages = inputs.fund_kinds[fd.kind].stages
        want = np.zeros((len(FirmStage), fd.sector_mask.size), bool)
        want[[int(FirmStage[x.upper()]) for x in stages]] = fd.sector_mask
        np.testing.assert_array_equal(fd.table, want.ravel())
        assert fd.table_key == want.tobytes() and not fd.table.flags.writeable
        same = [o for o in funds if o.kind == fd.kind]
        assert all(o.table is fd.table for o in same)
    # alone (a test's fund, a different sector mask) the table is its own, never one of another mask
    t1, _ = backing_table((FirmStage.TECH_SME,), np.array([True, False]))
    t2, _ = backing_table((FirmStage.TECH_SME,), np.array([False, True]))
    assert t1 is not t2 and t1[int(FirmStage.TECH_SME) * 2] and not t2[int(FirmStage.TECH_SME) * 2]
