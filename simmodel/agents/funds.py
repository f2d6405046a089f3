"""Funds: government guidance funds, the future-industry fund, state venture funds and private VC.

Each fund is a Mesa agent with a size, a vintage, a life and an evaluation regime. Once a year it
exits what has matured, sells early what its rules force it to sell (exit_year), follows on in its
growing holdings (follow_on), and invests in firms whose expected time to exit fits in its remaining
life (eligible, screen, take_deals; SPEC 4a, seed art. 22); simmodel.model.funds runs the year over every fund.
Holdings are small arrays (one row per deal); the screening of candidates is vectorised over the
whole firm population.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mesa
import numpy as np

from simmodel.agents.firms import LADDER_RANK, FirmStage, Firms, top_positions
from simmodel.agents.firms import ABOVE_SIZE_REVENUE_CNY_100M
from simmodel.levers import FundRegime
from simmodel.params import Params


_ALIVE = "_alive"  # key of the kind-independent screen in a candidates cache


@dataclass(frozen=True)
class Candidates:
    """A kind of fund's candidates in a year: the alive firms in its stages and sectors, in index
    order, with what a screen reads (screened once a year per kind and shared by its funds)."""

    firm: np.ndarray  # row in the firm arrays
    tte_years: np.ndarray  # expected time to exit, years (float32)
    log_productivity: np.ndarray  # float32
    revenue: np.ndarray  # CNY 100 m per yr, when the kind was first screened this year


@dataclass(frozen=True)
class FundCommitment:
    """A fund vintage to be raised: its kind (fund_kinds.csv), vintage year, size (CNY 100 m), the
    lever its government commitment is booked to (None: not booked) and its life (years)."""

    kind: str
    vintage: int
    size_cny_100m: float
    budget_lever: str | None
    life_years: float


class Fund(mesa.Agent):
    """One fund vintage. Money in CNY 100 m."""

    def __init__(self, model: mesa.Model, *, fund_id: str, kind: str, government: bool, size_cny_100m: float,
                 vintage: int, stages: tuple[FirmStage, ...], sector_mask: np.ndarray, budget_lever: str | None,
                 life_years: float):
        super().__init__(model)
        self.fund_id = fund_id
        self.kind = kind
        self.government = government
        self.size_cny_100m = size_cny_100m
        self.vintage = vintage
        self.stage_table = np.zeros(len(FirmStage), dtype=bool)
        self.stage_table[[int(s) for s in stages]] = True
        self.sector_mask = sector_mask
        self.budget_lever = budget_lever  # lever its government commitment is booked to
        self.life_years = life_years  # the life it was raised with, years (the rules of its vintage)
        self.h_firm = np.zeros(0, dtype=np.int64)
        self.h_ticket = np.zeros(0)
        self.h_year_in = np.zeros(0, dtype=np.int32)
        self.h_tte = np.zeros(0)  # expected time to exit at entry, years
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
        screen within a year (``cache``)."""
        if cache is not None and self.kind in cache:
            return cache[self.kind]
        # The alive firms' stage, sector, time to exit and productivity do not depend on the kind,
        # and nothing a fund does changes them within a year: gather them once for every kind
        # (``cache``), then each kind keeps its rows. Revenue is read at each kind's first screen,
        # as an earlier kind's early exits may have cut it.
        base = cache.get(_ALIVE) if cache is not None else None
        if base is None:
            alive = np.flatnonzero(firms.alive)
            stage, sector = firms.stage[alive].astype(np.intp), firms.sector[alive]  # intp: fast lookups below
            # time to exit shrinks as the firm climbs the ladder
            tte_factor = np.maximum(params.fund_min_tte_share, 1.0 - params.fund_maturity_discount_per_stage * LADDER_RANK)
            # (stage, sector) as one code: each kind's screen is then one table lookup per firm
            base = (alive, stage * gestation.size + sector, (gestation[sector] * tte_factor[stage]).astype(np.float32),
                    firms.log_productivity[alive].astype(np.float32))
            if cache is not None:
                cache[_ALIVE] = base
        alive, code, tte, lp = base
        keep = (self.stage_table[:, None] & self.sector_mask[None, :]).ravel()[code]
        idx = alive[keep]
        out = Candidates(firm=idx, tte_years=tte[keep], log_productivity=lp[keep], revenue=firms.revenue[idx])
        if cache is not None:
            cache[self.kind] = out
        return out

    def _release(self, keep: np.ndarray, firms: Firms, early: np.ndarray, params: Params, q: int) -> None:
        """Remove holdings not in ``keep``; early exits cut the firm's capital and raise its hazard."""
        gone = ~keep
        if not gone.any():
            return
        f = self.h_firm[gone]
        alive = firms.alive[f]
        np.subtract.at(firms.equity, f, self.h_ticket[gone])
        np.subtract.at(firms.n_investors, f, 1)
        e = early[gone] & alive
        if e.any():
            fe = f[e]
            firms.revenue[fe] *= 1.0 - params.fund_early_exit_revenue_cut
            firms.penalty_until_q[fe] = q + int(round(4 * params.fund_early_exit_penalty_years))
        self.n_exits_early += int(e.sum())
        self.n_exits_normal += int((~early[gone] & alive).sum())
        self.n_write_offs += int((~alive).sum())
        for name in ("h_firm", "h_ticket", "h_year_in", "h_tte"):
            setattr(self, name, getattr(self, name)[keep])

    def deploying(self, year: int, params: Params) -> bool:
        """Whether the fund invests new money in ``year`` (its first fund_deploy_years years)."""
        return self.vintage <= year < self.vintage + params.fund_deploy_years

    def exit_year(self, *, year: int, q: int, firms: Firms, regime: FundRegime, params: Params,
                  sell_u: np.ndarray) -> bool:
        """The year's exits. At the end of its life (vintage + life_years) the fund sells everything
        and returns False (wound up). Otherwise it exits matured holdings and writes off those whose
        firm has exited; under yearly-profit rules it also sells each holding whose revenue fell over
        the past year with probability fund_yearly_profit_loss_exit_prob (``sell_u``: one uniform per
        holding, in holding order). Early exits cut the firm's revenue and raise its exit hazard.
        Writes equity, n_investors, revenue and penalty_until_q of the firms it leaves."""
        end_year = self.vintage + self.life_years  # the fund is wound up at the start of this year
        held_years = year - self.h_year_in
        matured = held_years >= self.h_tte
        early = ~matured
        dead = ~firms.alive[self.h_firm] if self.h_firm.size else np.zeros(0, bool)
        if year >= end_year:
            self._release(np.zeros(self.h_firm.size, bool), firms, early, params, q)
            return False
        keep = ~(matured | dead)
        if regime == FundRegime.yearly_profit and self.h_firm.size:
            fell = firms.revenue[self.h_firm] < firms.revenue_year_start[self.h_firm]
            keep &= ~(fell & (sell_u < params.fund_yearly_profit_loss_exit_prob))
        self._release(keep, firms, early & ~dead, params, q)
        return True

    def year_budget(self, regime: FundRegime, params: Params, scale: float) -> tuple[float, float]:
        """(budget, crowd-in ratio): the money the fund means to deploy this year (CNY 100 m,
        population units: its size and the private money it crowds in, spread over its deployment
        years) and the private money per yuan of its capital."""
        crowd = self.crowd_in_ratio(self.life_years, regime, params)
        return self.size_cny_100m * scale * (1.0 + crowd) / params.fund_deploy_years, crowd

    def eligible(self, cand: Candidates, *, year: int, regime: FundRegime, params: Params) -> np.ndarray:
        """Positions (in ``cand``) of the candidates the fund may back this year: their expected time
        to exit fits in its remaining life (and, under yearly-profit rules, its short horizon, and they
        are above size), and it does not hold them already."""
        idx, tte = cand.firm, cand.tte_years
        ok = tte <= self.vintage + self.life_years - year
        if regime == FundRegime.yearly_profit:
            ok &= (tte <= params.fund_yearly_profit_horizon_years) & (cand.revenue >= ABOVE_SIZE_REVENUE_CNY_100M)
        if self.h_firm.size:  # not twice in one firm; idx is sorted, so find holdings by bisection
            pos_h = np.searchsorted(idx, self.h_firm)
            pos_h = pos_h[(pos_h < idx.size) & (idx[np.minimum(pos_h, idx.size - 1)] == self.h_firm)]
            ok[pos_h] = False
        return np.flatnonzero(ok)

    def screen(self, cand: Candidates, sel: np.ndarray, noise: np.ndarray, *, budget: float, crowd: float,
               max_single_share: float, params: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """New deals within ``budget`` (CNY 100 m) among the eligible candidates ``sel`` (see
        eligible): the best by log productivity plus screening noise (``noise``: a uniform on [0, 1)
        per eligible candidate), best first, until the budget is spent. Returns (firms, tickets in
        CNY 100 m, expected years to exit)."""
        if sel.size == 0:
            return cand.firm[:0], np.zeros(0), np.zeros(0)
        cap = max(max_single_share * self.size_cny_100m * (1.0 + crowd), params.fund_min_ticket_cny_100m)
        ticket_all = np.clip(params.fund_ticket_to_revenue * cand.revenue[sel], params.fund_min_ticket_cny_100m, cap)
        k = min(sel.size, int(math.ceil(2 * budget / float(ticket_all.mean()))) + 1)
        # screening is noisy: uniform noise on log productivity (cheaper than Gumbel, same role)
        score = cand.log_productivity[sel] + noise
        pos = top_positions(score, k)
        pos = pos[np.argsort(-score[pos], kind="stable")]
        best = sel[pos]
        chosen, tickets, tte_chosen = cand.firm[best], ticket_all[pos], cand.tte_years[best].astype(np.float64)
        take = np.cumsum(tickets) <= budget
        return chosen[take], tickets[take], tte_chosen[take]

    def take_deals(self, year: int, firms: Firms, chosen: np.ndarray, tickets: np.ndarray, tte: np.ndarray,
                   crowd: float, long_horizon: np.ndarray) -> float:
        """Book the deals of ``screen`` (firms' equity and investors, the fund's holdings and
        books); returns the money invested (CNY 100 m, population units)."""
        if chosen.size == 0:
            return 0.0
        firms.equity[chosen] += tickets
        firms.n_investors[chosen] += 1
        self.h_firm = np.concatenate((self.h_firm, chosen))
        self.h_ticket = np.concatenate((self.h_ticket, tickets))
        self.h_year_in = np.concatenate((self.h_year_in, np.full(chosen.size, year, np.int32)))
        self.h_tte = np.concatenate((self.h_tte, tte))
        spent = float(tickets.sum())
        self.deployed += spent
        self.private_crowd_in += spent * crowd / (1.0 + crowd)
        self.n_deals += int(chosen.size)
        self.deployed_long_horizon += float(tickets[long_horizon[firms.sector[chosen]]].sum())
        return spent

    def follow_on(self, firms: Firms, budget: float, params: Params) -> float:
        """Follow-on rounds in holdings whose revenue grew over the past year, best growth first,
        each a fraction of the first ticket, within ``budget``. Returns the money spent."""
        if budget <= 0 or self.h_firm.size == 0:
            return 0.0
        f = self.h_firm
        growth = firms.revenue[f] / np.maximum(firms.revenue_year_start[f], 1e-9)
        grew = np.flatnonzero(firms.alive[f] & (growth > 1.0))
        if grew.size == 0:
            return 0.0
        grew = grew[np.argsort(-growth[grew], kind="stable")]
        tickets = params.fund_follow_on_ticket_ratio * self.h_ticket[grew]
        take = np.cumsum(tickets) <= budget
        rows, tickets = grew[take], tickets[take]
        np.add.at(firms.equity, f[rows], tickets)
        self.h_ticket[rows] += tickets
        spent = float(tickets.sum())
        self.deployed += spent
        self.n_follow_ons += int(rows.size)
        return spent
