"""Funds: government guidance funds, the future-industry fund, state venture funds and private VC.

Each fund is a Mesa agent with a size, a vintage, a life and an evaluation regime. Once a year it
exits what has matured, sells early what its rules force it to sell, follows on in its growing
holdings, and invests in firms whose expected time to exit fits in its remaining life (eligible,
screen; SPEC 4a, seed art. 22); simmodel.model.funds runs the year over every fund. The holdings of
all funds are one table (FundBook, one row per deal), so that the year's exits, follow-ons and new
deals of every fund are a few compiled passes (simmodel.kernels) rather than a few calls a fund; the
screening of candidates is vectorised over the whole firm population.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import mesa
import numpy as np

from simmodel import kernels
from simmodel.agents.firms import ABOVE_SIZE_REVENUE_CNY_100M, LADDER_RANK, FirmStage, Firms, sampled_threshold
from simmodel.agents.noise import string_key
from simmodel.levers import FundRegime
from simmodel.params import Params


_ALIVE = "_alive"  # first part of the key of a table's rows in a candidates cache
# the key under which fund_year tells Fund.candidates which state of revenue a first screen reads now
REVENUE_STATE = "_revenue_state"


@dataclass(frozen=True)
class Candidates:
    """A kind of fund's candidates in a year: the alive firms in its stages and sectors, in index
    order, with what a screen reads (screened once a year per kind and shared by its funds)."""

    firm: np.ndarray  # row in the firm arrays
    tte_years: np.ndarray  # expected time to exit, years (float32)
    log_productivity: np.ndarray  # float32
    revenue: np.ndarray  # CNY 100 m per yr, when the kind was first screened this year
    _floors: dict = field(default_factory=dict, repr=False, compare=False)
    # this kind's own subsets (not shared with other kinds: they read its revenue), see short_horizon
    _subsets: dict = field(default_factory=dict, repr=False, compare=False)

    def short_horizon(self, horizon_years: float) -> Candidates:
        """The candidates a fund under yearly-profit rules may back whatever its life: an expected
        time to exit within ``horizon_years`` (years) and above-size revenue (see eligible). In the
        set-up at 1:1 a provincial vintage could back about one in eight of its kind's candidates
        (4 382 of the 33 746 of one round): its screens rank blocks of these instead of blocks of which seven in eight would
        be masked out. Kept for the kind's other screens this year."""
        key = ("short_horizon", horizon_years)
        if key not in self._subsets:
            keep = np.flatnonzero((self.tte_years <= horizon_years) & (self.revenue >= ABOVE_SIZE_REVENUE_CNY_100M))
            self._subsets[key] = Candidates(firm=self.firm[keep], tte_years=self.tte_years[keep],
                                            log_productivity=self.log_productivity[keep], revenue=self.revenue[keep])
        return self._subsets[key]

    def productivity_floor(self, n: int) -> float:
        """A log productivity that about ``n`` of the candidates reach (-inf when there are at most
        n): where every fund of the kind starts its screen (shared). Any floor gives the same deals (a
        screen lowers it until they provably are the best of all candidates), so it is a quantile of a
        strided sample, not the exact n-th highest (at 100 000 firms 5-10 against about 90 us a kind)."""
        if n >= self.firm.size:
            return -math.inf
        if n not in self._floors:
            self._floors[n] = float(sampled_threshold(self.log_productivity, max(n // 2, 1)))
        return self._floors[n]

    def approx_count_above(self, floors: np.ndarray) -> np.ndarray:
        """About how many candidates have a log productivity at or above each of ``floors``, from a
        strided sample of 1024 (shared like the floors): enough to tell blocks of very different
        sizes apart, at a bisection each instead of a pass over the candidates."""
        if "sample" not in self._floors:
            lp = self.log_productivity
            self._floors["sample"] = (np.sort(lp[:: max(1, lp.size // 1024)]), max(1, lp.size // 1024))
        sample, stride = self._floors["sample"]
        return (sample.size - np.searchsorted(sample, floors, side="left")) * stride


# A screen first ranks about this many of its kind's most productive candidates, then lowers its
# floor until the deals it picked provably are the best of all candidates (see screen).
_FIRST_BLOCK = 2048
# A round that is not exact lowers its floor at most to a block this many times its own (where it
# starts, not what it finds: any floor gives the same deals; 4 scored a quarter fewer candidates than
# no cap, docs/performance.md)
_BLOCK_GROWTH = 4


@dataclass(frozen=True)
class FundCommitment:
    """A fund vintage to be raised: its kind (fund_kinds.csv), vintage year, size (CNY 100 m), the
    lever its government commitment is booked to (None: not booked) and its life (years)."""

    kind: str
    vintage: int
    size_cny_100m: float
    budget_lever: str | None
    life_years: float


class FundBook:
    """Every fund's holdings, one row per deal: the firm's row, the ticket (CNY 100 m, follow-ons
    added), the entry year and the expected years to exit at entry. A fund's rows are together, in the
    order of its deals, and the funds in the order they were raised (their slot): fund s holds rows
    ``start[s]`` to ``start[s + 1]``. simmodel.model.funds.fund_year rewrites the table once a year
    (kernels.fund_book_exits, kernels.fund_book_deals)."""

    def __init__(self) -> None:
        self.funds: list[Fund] = []
        self.firm = np.zeros(0, dtype=np.int64)
        self.ticket = np.zeros(0)
        self.year_in = np.zeros(0, dtype=np.int32)
        self.tte = np.zeros(0)
        self.start = np.zeros(1, dtype=np.int64)

    def add(self, fund: Fund) -> int:
        """Open the books of a new fund (holding nothing); returns its slot."""
        self.funds.append(fund)
        self.start = np.concatenate((self.start, self.start[-1:]))
        return len(self.funds) - 1

    def rows(self, slot: int) -> slice:
        return slice(int(self.start[slot]), int(self.start[slot + 1]))

    def set_holdings(self, slot: int, firm: np.ndarray, ticket: np.ndarray | None = None,
                     year_in: np.ndarray | None = None, tte: np.ndarray | None = None) -> None:
        """Replace fund ``slot``'s holdings (unspecified columns zero): for a fund's state set by hand
        (the tests); the firms' equity and investors are left as they are."""
        n = len(firm)
        new = (np.asarray(firm, np.int64), np.zeros(n) if ticket is None else np.asarray(ticket, np.float64),
               np.zeros(n, np.int32) if year_in is None else np.asarray(year_in, np.int32),
               np.zeros(n) if tte is None else np.asarray(tte, np.float64))
        sl = self.rows(slot)
        self.firm, self.ticket, self.year_in, self.tte = (np.concatenate((col[:sl.start], part, col[sl.stop:]))
                                                          for col, part in zip((self.firm, self.ticket, self.year_in,
                                                                                self.tte), new, strict=True))
        self.start[slot + 1:] += n - (sl.stop - sl.start)


def _holding(column: str, doc: str) -> property:
    """A fund's rows of one column of its book (FundBook), read-only."""
    return property(lambda fund: getattr(fund.book, column)[fund.book.rows(fund.slot)], doc=doc)


_BACKING: dict[tuple, tuple[np.ndarray, bytes]] = {}  # backing_table's answers, by its arguments


def backing_table(stages: tuple[FirmStage, ...], sector_mask: np.ndarray) -> tuple[np.ndarray, bytes]:
    """What a fund of ``stages`` and the sectors flagged in ``sector_mask`` backs: a flag by (stage,
    sector), flattened stage by stage (read-only), and its bytes, the key of the candidates' cache.
    Made once for each kind of fund and shared by its funds (a replicate raises about 30, each of
    which built it in 3 us)."""
    key = (tuple(stages), sector_mask.dtype.str, sector_mask.shape, sector_mask.tobytes())
    out = _BACKING.get(key)
    if out is None:
        stage_table = np.zeros(len(FirmStage), dtype=bool)
        stage_table[[int(s) for s in stages]] = True
        table = (stage_table[:, None] & sector_mask[None, :]).ravel()
        table.flags.writeable = False
        out = _BACKING[key] = (table, table.tobytes())
    return out


class Fund(mesa.Agent):
    """One fund vintage. Money in CNY 100 m."""

    def __init__(self, model: mesa.Model, *, fund_id: str, kind: str, government: bool, size_cny_100m: float,
                 vintage: int, stages: tuple[FirmStage, ...], sector_mask: np.ndarray, budget_lever: str | None,
                 life_years: float, key: str | None = None, book: FundBook | None = None):
        super().__init__(model)
        self.fund_id = fund_id
        # its screening noise is keyed by what it is (kind, vintage, the how-manieth of them), not
        # by its place among the funds, which a scenario that raises other funds would shift
        self.screen_key = string_key(fund_id if key is None else key)
        self.kind = kind
        self.government = government
        self.size_cny_100m = size_cny_100m
        self.vintage = vintage
        self.sector_mask = sector_mask
        # what it backs: a flag by (stage, sector), flattened stage by stage, and that as a key of the
        # candidates' cache (the screens ask for them about 60 times a replicate)
        self.table, self.table_key = backing_table(stages, sector_mask)
        self.budget_lever = budget_lever  # lever its government commitment is booked to
        self.life_years = life_years  # the life it was raised with, years (the rules of its vintage)
        # its holdings are its rows of the book of every fund (a book of its own when raised alone)
        self.book = FundBook() if book is None else book
        self.slot = self.book.add(self)
        # bookkeeping, CNY 100 m and counts, cumulative over the simulation
        self.deployed = 0.0
        self.private_crowd_in = 0.0
        self.n_deals = 0
        self.n_follow_ons = 0
        self.last_budget = 0.0  # what it meant to deploy in the last year it was deploying
        self.n_exits_normal = 0
        self.n_exits_early = 0
        self.n_write_offs = 0
        self.deployed_long_horizon = 0.0

    # its holdings, in the order of its deals: views of its rows of the book
    h_firm = _holding("firm", "The firms it holds (rows).")
    h_ticket = _holding("ticket", "What it holds in each, CNY 100 m (its first ticket and follow-ons).")
    h_year_in = _holding("year_in", "The year it entered each.")
    h_tte = _holding("tte", "Expected time to exit of each holding at entry, years.")

    def crowd_in_ratio(self, life_years: float, regime: FundRegime, params: Params) -> float:
        """Private money per yuan of fund capital: more for long lives, less under yearly-profit rules."""
        if not self.government:
            return 0.0
        ratio = params.fund_crowd_in_base_ratio * (life_years / 10.0) ** params.fund_crowd_in_life_elasticity
        if regime == FundRegime.yearly_profit:
            ratio *= params.fund_yearly_profit_crowd_in_factor
        return ratio

    def candidates(self, firms: Firms, gestation: np.ndarray, params: Params, cache: dict | None) -> Candidates:
        """Firms in this fund's stages and sectors (see Candidates). Funds of one kind share the
        screen within a year, and kinds of the same stages and sectors its rows (``cache``, where
        fund_year puts the rows of the year's kinds, found at once by prepare_candidates)."""
        if cache is not None and self.kind in cache:
            return cache[self.kind]
        # kinds that back the same stages and sectors (three venture kinds do) share their rows, and
        # the productivity floors that depend on nothing else; nothing a fund does changes a firm's
        # stage, sector, time to exit or productivity within a year. Revenue is read at each kind's
        # first screen, as an earlier kind's early exits may have cut it; where none has since the
        # last kind of the same rows was first screened (``cache[REVENUE_STATE]``, which fund_year
        # sets: the same state, the same revenue), the kinds share that kind's candidates whole, and
        # fund_year screens their funds together (one ranking pass for all of them)
        rows = cache.get((_ALIVE, self.table_key)) if cache is not None else None
        if rows is None:
            rows = candidate_rows(firms, [self.table], gestation, params)[0]
            if cache is not None:
                cache[(_ALIVE, self.table_key)] = rows
        state = cache.get(REVENUE_STATE) if cache is not None else None
        shared = (self.table_key, state)
        if state is not None and shared in cache:
            out = cache[shared]
        else:
            idx, tte, lp, floors = rows
            out = Candidates(firm=idx, tte_years=tte, log_productivity=lp, revenue=firms.revenue[idx], _floors=floors)
            if state is not None:
                cache[shared] = out
        if cache is not None:
            cache[self.kind] = out
        return out

    def deploying(self, year: int, params: Params) -> bool:
        """Whether the fund invests new money in ``year`` (its first fund_deploy_years years)."""
        return self.vintage <= year < self.vintage + params.fund_deploy_years

    def year_budget(self, regime: FundRegime, params: Params, scale: float) -> tuple[float, float]:
        """(budget, crowd-in ratio): the money the fund means to deploy this year (CNY 100 m,
        population units: its size and the private money it crowds in, spread over its deployment
        years) and the private money per yuan of its capital."""
        crowd = self.crowd_in_ratio(self.life_years, regime, params)
        return self.size_cny_100m * scale * (1.0 + crowd) / params.fund_deploy_years, crowd


def candidate_rows(firms: Firms, tables: Sequence[np.ndarray], gestation: np.ndarray,
                   params: Params) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, dict]]:
    """For each of ``tables`` (Fund.table), the alive firms it backs: (rows, expected years to exit,
    log productivity, the kind's productivity floors to come), in one compiled pass over the firms
    for up to 8 tables (simmodel.kernels.fund_candidates)."""
    # time to exit shrinks as the firm climbs the ladder
    tte_factor = np.maximum(params.fund_min_tte_share, 1.0 - params.fund_maturity_discount_per_stage * LADDER_RANK)
    out = []
    for at in range(0, len(tables), 8):
        rows, tte, lp, starts = kernels.fund_candidates(firms.alive, firms.stage, firms.sector, firms.log_productivity,
                                                        np.array(tables[at:at + 8]), gestation.size, gestation,
                                                        tte_factor)
        out += [(rows[a:b], tte[a:b], lp[a:b], {}) for a, b in itertools.pairwise(starts.tolist())]
    return out


def prepare_candidates(funds: Sequence[Fund], firms: Firms, gestation: np.ndarray, params: Params, cache: dict) -> None:
    """The rows of every kind of ``funds`` whose rows ``cache`` lacks, into it, at once (see candidate_rows;
    Fund.candidates then finds them)."""
    tables = {}
    for fd in funds:
        if fd.kind not in cache and (_ALIVE, fd.table_key) not in cache:
            tables.setdefault(fd.table_key, fd.table)
    if tables:
        for key, rows in zip(tables, candidate_rows(firms, list(tables.values()), gestation, params), strict=True):
            cache[(_ALIVE, key)] = rows


def eligible(funds: Sequence[Fund], cand: Candidates, pos: np.ndarray, *, year: int, regime: FundRegime,
             params: Params) -> np.ndarray:
    """Which candidates at positions ``pos`` (in ``cand``, ascending) each fund may back this year: a
    mask of one row per fund over ``pos``. A candidate fits when its expected time to exit fits in the fund's
    remaining life (and, under yearly-profit rules, its short horizon, and it is above size), and the
    fund does not hold it already. The rule as numpy states it: screen applies it, with the scores,
    in a compiled pass (kernels.block_scores, in kernels.screen_round), and the tests check the one
    against the other (kernels.fund_block_scores)."""
    tte = cand.tte_years[pos]
    ok = tte[None, :] <= life_left(funds, year)[:, None]
    if regime == FundRegime.yearly_profit:
        ok &= (tte <= params.fund_yearly_profit_horizon_years) & (cand.revenue[pos] >= ABOVE_SIZE_REVENUE_CNY_100M)
    ok[drop_held(funds, cand, pos)] = False
    return ok


def life_left(funds: Sequence[Fund], year: int) -> np.ndarray:
    """Each fund's remaining life in ``year``, years, in single precision like the candidates' times
    to exit, so that comparing them is comparing tte with the fund's life left."""
    return np.array([fd.vintage + fd.life_years - year for fd in funds], dtype=np.float32)


def drop_held(funds: Sequence[Fund], cand: Candidates, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fund, column) of each candidate at positions ``pos`` (in ``cand``, ascending) that a fund
    already holds, found by bisection: a fund does not back a firm twice."""
    held = [fd.h_firm for fd in funds]
    n_held = [h.size for h in held]
    if not (sum(n_held) and pos.size):
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    held = np.concatenate(held)
    firm = cand.firm[pos]  # ascending: candidates are in firm order and so are the positions
    col = np.minimum(np.searchsorted(firm, held), pos.size - 1)
    hit = firm[col] == held
    return np.repeat(np.arange(len(funds)), n_held)[hit], col[hit]


# Up to this many deals, in a block of up to this many candidates, a fund's ranking is a heap of its
# best (kernels.heap_ranking, a scalar pass over the block); more are ranked by sorting every
# candidate the fund may back (kernels.bucket_ranking, O(n)). At 10 000 firms most screens' first
# guess is below both (median 33 deals in blocks of 2 048).
_RANKED_IN_ONE_CALL = 128
_RANKED_BLOCK_UP_TO = 8192


def rank_within_budget(score: np.ndarray, ok: np.ndarray, base_ticket: np.ndarray, budget: float, cap: float,
                       min_ticket: float) -> tuple[np.ndarray, np.ndarray, float | None]:
    """One fund's deals in a screening round, the rule as numpy states it (screen applies it for
    every fund of a round in kernels.ranked_group, in kernels.screen_round, and the tests check the
    one against the other): the positions it may back (``ok``) best ``score`` first, equal scores by
    position, each with its ticket (``base_ticket``, CNY 100 m, clipped to [``min_ticket``,
    ``cap``]), taken until the next would carry their running sum past ``budget``. Returns (the deals' positions in
    rank order, their tickets, the score of the first position refused, None when every position it
    may back fits the budget)."""
    pos = np.flatnonzero(ok)
    order = pos[np.argsort(-score[pos], kind="stable")]
    tickets = np.minimum(np.maximum(base_ticket[order], min_ticket), cap)
    m = int(np.searchsorted(np.cumsum(tickets), budget, side="right"))
    refused = float(score[order[m]]) if m < order.size else None
    return order[:m], tickets[:m], refused


def screen(funds: Sequence[Fund], cand: Candidates, *, year: int, regime: FundRegime, keys: Sequence[int],
           budgets: Sequence[float], crowds: Sequence[float], max_single_share: float,
           params: Params, where: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The new deals of funds of one kind, each within its budget (``budgets``, CNY 100 m) among the
    candidates it may back (see eligible): the best by score, log productivity plus screening noise (a
    uniform on [0, 1) per fund and firm, ``keyed_uniform(key, firm)`` with the fund's key from
    ``keys``), best first, until the next would break the budget. ``crowds``: each fund's private money
    per yuan (its largest ticket is ``max_single_share`` of its capital and that money). ``where``: a
    scratch array of -1 by firm row, at least one past the last candidate's (kept by fund_year for
    the year's screens; made here when not given). Returns, per fund, (firms, tickets in CNY 100 m,
    expected years to exit). The funds' terms as arrays, then screen_funds."""
    held = [fd.h_firm for fd in funds]
    held_start = np.fromiter(itertools.accumulate((h.size for h in held), initial=0), np.int64, len(held) + 1)
    held = np.concatenate(held) if held else np.zeros(0, np.int64)
    return screen_funds(cand, regime=regime, keys32=low_words(keys), life=life_left(funds, year),
                        budgets=np.array(budgets, dtype=np.float64),
                        caps=ticket_caps(np.array([fd.size_cny_100m for fd in funds], dtype=np.float64),
                                         np.array(crowds, dtype=np.float64), max_single_share, params),
                        held=held, held_lo=held_start[:-1], held_hi=held_start[1:], params=params, where=where)


def low_words(keys: Sequence[int]) -> np.ndarray:
    """The low 32 bits of each 64-bit screening key (what keyed_uniform reads), uint32."""
    return np.array([key & 0xFFFFFFFF for key in keys], dtype=np.uint32)


def ticket_caps(sizes_cny_100m: np.ndarray, crowds: np.ndarray, max_single_share: float, params: Params) -> np.ndarray:
    """Each fund's largest ticket, CNY 100 m: ``max_single_share`` of its capital (``sizes_cny_100m``)
    and the private money it brings (``crowds``, per yuan), at least the smallest ticket."""
    return np.maximum(max_single_share * sizes_cny_100m * (1.0 + crowds), params.fund_min_ticket_cny_100m)


def screen_funds(cand: Candidates, *, regime: FundRegime, keys32: np.ndarray, life: np.ndarray, budgets: np.ndarray,
                 caps: np.ndarray, held: np.ndarray, held_lo: np.ndarray, held_hi: np.ndarray, params: Params,
                 where: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """screen with each fund's terms as arrays, one element a fund: its key's low 32 bits
    (``keys32``), life left (``life``, years, float32, see life_left), budget and largest ticket
    (``budgets``, ``caps``, CNY 100 m) and its holdings, ``held[held_lo[j]:held_hi[j]]`` (firm
    rows; fund_year passes the book's own column, where each fund's rows lie together).

    One ranking pass serves all the funds: their scores are the rows of one matrix over a block of
    the candidates, the most productive ones. A fund's deals are exact once the first deal its budget
    refuses scores at least the block's floor plus 1, since a firm below the floor scores below that;
    the funds that are not exact yet go round again, on a block with a lower floor: the refused deal's
    score less 1, but at most a block four times the last (those whose blocks differ more than
    twofold in rounds of their own). A round is one compiled call
    (kernels.screen_round: the block's scores with the holdings, then every fund's ranking). Scores
    are summed in double precision; scores equal to the last bit rank by firm row, except where they
    straddle the edge of the block (a firm below the floor tying the refused deal): the one case
    where the order may differ from scoring every candidate."""
    p = params
    n_funds = keys32.size
    if regime == FundRegime.yearly_profit:  # what no fund under these rules may back is never ranked
        cand = cand.short_horizon(p.fund_yearly_profit_horizon_years)
    lp = cand.log_productivity
    floor = np.full(n_funds, cand.productivity_floor(_FIRST_BLOCK))
    short = regime == FundRegime.yearly_profit
    horizon = np.float32(p.fund_yearly_profit_horizon_years)
    if where is None or where.size <= (cand.firm[-1] if cand.firm.size else 0):
        where = np.full(cand.firm[-1] + 1 if cand.firm.size else 1, -1, np.int32)
    out: list = [None] * n_funds
    todo = np.arange(n_funds)
    first_round = True
    while todo.size:
        # a round takes the funds whose blocks are the smallest, within a factor 2: scoring a fund on a
        # block far larger than its own would cost more than a round of its own
        if first_round or floor[todo].min() == floor[todo].max():  # one block for all: no sizes to compare
            group, rest = todo, todo[:0]
        else:
            size = cand.approx_count_above(floor[todo])
            group, rest = todo[size <= 2 * size.min()], todo[size > 2 * size.min()]
        fl = float(floor[group].min())
        # the block, what each fund may back in it and the scores, then every fund's ranking, in one
        # compiled call (kernels.screen_round: block_scores, ranked_group; eligible and
        # rank_within_budget state the rules in numpy). numpy compares float32 with a Python float in
        # float32, and so does this. The holdings are looked up by firm row in ``where`` (a bisection a
        # holding in the pass cost 1.1 ms more a 1:1 replicate than numpy's searchsorted; drop_held
        # states the rule)
        chosen, tickets, tte, n_deals, refused, has_refused = kernels.screen_round(
            lp, np.float32(fl), cand.firm, cand.tte_years, cand.revenue, group, keys32, life, short, horizon,
            ABOVE_SIZE_REVENUE_CNY_100M, held, held_lo, held_hi, where, p.fund_ticket_to_revenue, budgets, caps,
            p.fund_min_ticket_cny_100m, _RANKED_IN_ONE_CALL, _RANKED_BLOCK_UP_TO)
        first_round = False
        again = list(rest)
        at = 0
        next_floor = None  # the floor of a block _BLOCK_GROWTH times this one's, made when first needed
        for i, n_j, refused_j, has_j in zip(group.tolist(), n_deals.tolist(), refused.tolist(), has_refused.tolist(),
                                            strict=True):
            end = at + n_j
            deals = (chosen[at:end], tickets[at:end], tte[at:end])
            refused_j = refused_j if has_j else None
            at = end
            if refused_j is not None:
                exact = fl == -math.inf or refused_j >= fl + 1.0
            else:  # every candidate of the block it may back fits the budget: a larger block
                exact = fl == -math.inf
            # a block at most _BLOCK_GROWTH times this one's: a deal refused in a block too small can
            # lie far below the deal the budget refuses among all candidates, and a floor under it a
            # unit lower; a fund that could afford every candidate of its block may still find its
            # deals among the next few thousand (at 1:1 four rounds a replicate went to every candidate,
            # 70 000, for a few hundred deals that a block of 10 000 holds)
            if not exact and next_floor is None:
                next_floor = cand.productivity_floor(_BLOCK_GROWTH * int(cand.approx_count_above(np.array([fl]))[0]))
                if next_floor >= fl:  # a sample that sees no larger block: every candidate
                    next_floor = -math.inf
            if exact:
                out[i] = deals
            else:  # every firm that could score above the refused deal, within the larger block
                floor[i] = next_floor if refused_j is None else max(refused_j - 1.0, next_floor)
                again.append(i)
        todo = np.array(again, dtype=np.intp)
    return out
