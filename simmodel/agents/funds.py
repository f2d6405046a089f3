"""Funds: government guidance funds, the future-industry fund, state venture funds and private VC.

Each fund is a Mesa agent with a size, a vintage, a life and an evaluation regime. Once a year it
exits what has matured, sells early what its rules force it to sell, and invests in firms whose
expected time to exit fits in its remaining life (SPEC 4a, seed art. 22). Holdings are small arrays
(one row per deal); the screening of candidates is vectorised over the whole firm population.
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

    def candidates(self, firms: Firms, gestation: np.ndarray, params: Params, cache: dict | None) -> tuple[np.ndarray, ...]:
        """Firms in this fund's stages and sectors: (index, expected time to exit in years, log
        productivity, revenue). Funds of one kind share the screen within a year (``cache``)."""
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
            base = (alive, stage, sector, (gestation[sector] * tte_factor[stage]).astype(np.float32),
                    firms.log_productivity[alive].astype(np.float32))
            if cache is not None:
                cache[_ALIVE] = base
        alive, stage, sector, tte, lp = base
        keep = self.stage_table[stage] & self.sector_mask[sector]
        idx = alive[keep]
        out = (idx, tte[keep], lp[keep], firms.revenue[idx])
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

    def invest(self, *, year: int, q: int, firms: Firms, gestation: np.ndarray, long_horizon: np.ndarray,
               life_years: float, regime: FundRegime, max_single_share: float, params: Params,
               rng: np.random.Generator, scale: float, pool_cache: dict | None = None) -> float:
        """One year of the fund's life: exits, forced sales, new deals. Returns capital deployed."""
        end_year = self.vintage + life_years  # the fund is wound up at the start of this year
        held_years = year - self.h_year_in
        matured = held_years >= self.h_tte
        early = ~matured
        dead = ~firms.alive[self.h_firm] if self.h_firm.size else np.zeros(0, bool)
        if year >= end_year:
            self._release(np.zeros(self.h_firm.size, bool), firms, early, params, q)
            return 0.0
        keep = ~(matured | dead)
        if regime == FundRegime.yearly_profit and self.h_firm.size:
            fell = firms.revenue[self.h_firm] < firms.revenue_year_start[self.h_firm]
            sell = fell & (rng.random(self.h_firm.size) < params.fund_yearly_profit_loss_exit_prob)
            keep &= ~sell
        self._release(keep, firms, early & ~dead, params, q)

        if not (self.vintage <= year < self.vintage + params.fund_deploy_years):
            return 0.0
        remaining_life = end_year - year
        crowd = self.crowd_in_ratio(life_years, regime, params)
        budget = self.size_cny_100m * scale * (1.0 + crowd) / params.fund_deploy_years
        self.last_budget = budget
        spent_follow_on = self.follow_on(firms, budget * params.fund_follow_on_share, params)
        budget -= spent_follow_on
        idx, tte, lp, rev = self.candidates(firms, gestation, params, pool_cache)
        if budget <= 0 or idx.size == 0:
            return spent_follow_on
        ok = tte <= remaining_life
        if regime == FundRegime.yearly_profit:
            ok &= (tte <= params.fund_yearly_profit_horizon_years) & (rev >= ABOVE_SIZE_REVENUE_CNY_100M)
        if self.h_firm.size:  # not twice in one firm; idx is sorted, so find holdings by bisection
            pos_h = np.searchsorted(idx, self.h_firm)
            pos_h = pos_h[(pos_h < idx.size) & (idx[np.minimum(pos_h, idx.size - 1)] == self.h_firm)]
            ok[pos_h] = False
        sel = np.flatnonzero(ok)
        if sel.size == 0:
            return spent_follow_on
        cap = max(max_single_share * self.size_cny_100m * (1.0 + crowd), params.fund_min_ticket_cny_100m)
        ticket_all = np.clip(params.fund_ticket_to_revenue * rev[sel], params.fund_min_ticket_cny_100m, cap)
        k = min(sel.size, int(math.ceil(2 * budget / float(ticket_all.mean()))) + 1)
        # screening is noisy: uniform noise on log productivity (cheaper than Gumbel, same role)
        score = lp[sel] + rng.random(sel.size, dtype=np.float32)
        pos = top_positions(score, k)
        pos = pos[np.argsort(-score[pos], kind="stable")]
        chosen, tickets, tte = idx[sel[pos]], ticket_all[pos], tte[sel[pos]].astype(np.float64)
        take = np.cumsum(tickets) <= budget
        chosen, tickets, tte = chosen[take], tickets[take], tte[take]
        if chosen.size == 0:
            return spent_follow_on
        firms.equity[chosen] += tickets
        firms.n_investors[chosen] += 1
        self.h_firm = np.concatenate((self.h_firm, chosen))
        self.h_ticket = np.concatenate((self.h_ticket, tickets))
        self.h_year_in = np.concatenate((self.h_year_in, np.full(chosen.size, year, np.int32)))
        self.h_tte = np.concatenate((self.h_tte, tte))
        spent = float(tickets.sum())
        self.deployed += spent
        spent_all = spent + spent_follow_on
        self.private_crowd_in += spent * crowd / (1.0 + crowd)
        self.n_deals += int(chosen.size)
        self.deployed_long_horizon += float(tickets[long_horizon[firms.sector[chosen]]].sum())
        return spent_all

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
