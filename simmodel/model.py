"""The Mesa model: owns the random streams, builds the agents, and writes the stage order in step().

Firms are a struct of arrays (``simmodel.agents.firms.Firms``) updated in vectorised stages; funds,
cities and the government are Mesa agents. One quarterly step runs, in order:

  Q1 only (start_year): cities open their land budgets (renovation booked) -> government commits
  new fund vintages (booked) -> funds exit, follow on and invest -> government designates pilot
  zones, bids for national clusters, awards grants, funds basic research, opens markets, attracts
  projects (all booked) -> talents arrive and are matched, incentives booked -> firms climb or fall
  on the ladder -> firms adopt AI+ -> every firm's growth, shock, innovation and exit rates for the
  year are set (refresh_rates; entrants get theirs at entry)
  every quarter: talents leave -> firms innovate -> firms grow, asking cities for land -> firms exit
  -> start-ups and spin-offs enter -> firms age -> aggregates are recorded
  Q4 only (close_year): yearly indicators

All randomness flows from one SeedSequence: each stage draws from a generator keyed by (purpose,
step), so that scenarios run on the same seed share their shocks (common random numbers) even when
their decisions differ.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mesa
import numpy as np
import pandas as pd

from simmodel import indicators as ind
from simmodel.agents.cities import City, allocate_land, land_need_mu, plot_ratio_effect
from simmodel.agents.firms import (
    ABOVE_SIZE_REVENUE_CNY_100M, ORIGIN_SPINOFF, ORIGIN_STARTUP,
    TECH_SME_MAX_REVENUE_CNY_100M, FirmStage, GrowthContext, age_table, annual_growth, exit_hazard, finance_hazard_cut,
    choose_top, growth_scale, high_tech_rd_threshold, innovation_hazard, log_revenue, stage_mask)
from simmodel.agents.funds import Fund
from simmodel.agents.government import EQUITY_LEVERS, Government, stochastic_round
from simmodel.agents.talent import TalentPool
from simmodel.data import BaseQuantity
from simmodel.levers import FundRegime, Levers, PolicyHistory, Uncertainties, no_new_policy_values
from simmodel.params import Params
from simmodel.population import Synthesiser
from simmodel.sectors import MOTHER_FUNDS, CityTable, FundKind, SectorGroup, SectorTable

_PURPOSES = {name: i for i, name in enumerate((
    "synthesis", "growth", "innovation", "exit", "entry", "spinoff", "land", "ladder", "government",
    "funds", "talent", "ai", "zones", "clusters", "markets", "attract", "init_funds", "growth_entry", "macro"))}


@dataclass(frozen=True)
class ModelInputs:
    """Everything loaded from data that a replicate needs (shared, read-only)."""

    sectors: SectorTable
    cities: CityTable
    base: dict[str, BaseQuantity]
    params: Params
    base_year: int
    end_year: int
    fund_kinds: dict[str, FundKind]  # which stages and sectors each kind of fund backs (fund_kinds.csv)
    # the levers of the years before the draft's measures (a replay from an earlier base year)
    policy_history: PolicyHistory = PolicyHistory()


class SimModel(mesa.Model):
    """Zhejiang's emerging and future industries, quarterly from base_year+1 Q1 to end_year Q4."""

    def __init__(self, inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties, *,
                 scale: float = 1.0, seed: int | np.random.SeedSequence = 0):
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        super().__init__(rng=ss)
        self._seed_entropy = ss.entropy
        self._seed_key = tuple(ss.spawn_key)
        self.inputs = inputs
        self.sectors = inputs.sectors
        self.cities_table = inputs.cities
        self.base = inputs.base
        self.params = inputs.params
        self.scale = scale
        self.base_year = inputs.base_year
        self.years = list(range(inputs.base_year + 1, inputs.end_year + 1))
        # the scenario's levers act from the policy's start year; before it (a replay from an early
        # base year) the levers of the time, which start_year() puts in self.levers each year
        self.policy_history = inputs.policy_history
        self.policy_start_year = max(inputs.policy_history.start_year, self.years[0])
        self.scenario_levers = levers
        self.levers = self.policy_history.levers_at(self.years[0], levers)
        self.uncertainties = uncertainties
        self.q = 0  # quarter index; year = years[q // 4]
        self.n_quarters = 4 * len(self.years)
        s = self.sectors

        self.synth = Synthesiser(s, inputs.cities, inputs.base, inputs.params, scale)
        self.firms, self.calib = self.synth.build(self.rng_for("synthesis", 0))
        f = self.firms
        self.base_sector_revenue = self.calib.sector_revenue_target
        self.sectors_rd_intensity = np.array([
            float(np.average(f.rd_intensity[f.sector == k], weights=f.revenue[f.sector == k])) if (f.sector == k).any()
            else float(s.rd_intensity[k]) for k in range(s.n)])
        self.long_horizon = s.future == 2
        self.target_sectors_talent = s.emerging | s.is_future
        self.plot_effect = 1.0

        stock = self.base["low_efficiency_land_stock_mu"].value * scale
        self.city_agents = [City(self, i, cid, inputs.cities.land_quota_weight[i], inputs.cities.renovation_stock_weight[i],
                                 stock * inputs.cities.renovation_stock_weight[i]) for i, cid in enumerate(inputs.cities.ids)]
        self.government = Government(self)
        self.government.n_national_clusters = int(self.base["n_national_clusters"].value)
        self.government.pilot_zone = np.zeros((inputs.cities.n, s.n), dtype=bool)
        self.talent = TalentPool()
        self.funds: list[Fund] = []
        # years from an early-stage investment to exit, by sector; breakthroughs delayed push it out
        self._gestation = s.gestation_years + uncertainties.breakthrough_delay_years * (s.future == 2)
        self._young_premium, self._young_hazard = age_table(self.params, 4 * 60)
        self._init_funds()
        self.growth_ctx = self._calibrate_growth()
        self._entry_w = self._base_entry_weights()
        self._industry_sector = s.is_industry
        self._land_per_revenue = self.growth_ctx.va_ratio * self.growth_ctx.land_per_va
        self._init_pilot_zones()

        agg0 = ind.sector_aggregates(f, s.n, self.calib.va_ratio, scale)
        self.base_emerging_revenue = float(agg0.revenue_above[s.emerging].sum())
        self.base_emerging_productivity = self.emerging_productivity_now()
        self.base_future_revenue = ind.future_industry_revenue_cny_100m(agg0, s)
        # what a planner has observed: every sector's revenue at each year-end so far (art. 5)
        self.sector_revenue_history: list[np.ndarray] = [agg0.revenue_all.copy()]
        self._last_agg = agg0
        self._year_agg: ind.SectorAggregates | None = None
        self._counters = self._zero_counters()
        self.macro_shock = 0.0
        self.rest_of_economy = self.calib.rest_of_economy_va_cny_100m  # CNY 100 m, updated each year
        self.records: list[dict[str, float]] = [self._indicators(self.base_year, agg0, firm_rd=self._firm_rd())]

    # ------------------------------------------------------------------ randomness
    def rng_for(self, purpose: str, index: int) -> np.random.Generator:
        """A generator for one stage and step, derived from the replicate's seed."""
        ss = np.random.SeedSequence(self._seed_entropy, spawn_key=self._seed_key + (_PURPOSES[purpose], index))
        return np.random.Generator(np.random.PCG64(ss))

    # ------------------------------------------------------------------ set-up
    def make_fund(self, kind: str, vintage: int, size_cny_100m: float, budget_lever: str | None, *,
                  life_years: float) -> Fund:
        s = self.sectors
        fk = self.inputs.fund_kinds[kind]
        mask = s.is_future.copy() if fk.sectors == "future" else s.emerging | s.is_future
        fund = Fund(self, fund_id=f"{kind}_{vintage}_{len(self.funds)}", kind=kind, government=fk.government,
                    size_cny_100m=size_cny_100m, vintage=vintage, stages=tuple(FirmStage[x.upper()] for x in fk.stages),
                    sector_mask=mask, budget_lever=budget_lever, life_years=life_years)
        self.funds.append(fund)
        return fund

    def _init_funds(self) -> None:
        """Funds raised before the base year, with the holdings they would have built under the
        pre-2025 rules (the same in every scenario, so that scenarios start from one state)."""
        b = self.base
        p = self.params
        first = int(b["provincial_fund_initial_cny_100m"].year)
        subscribed = b["provincial_fund_subscribed_cny_100m"]
        per_year = (subscribed.value - b["provincial_fund_initial_cny_100m"].value) / (subscribed.year - first)
        pre = no_new_policy_values()
        old_life = pre["fund_life_years"]  # raised under the pre-2025 rules: the draft does not change their terms
        self.make_fund("provincial", first, b["provincial_fund_initial_cny_100m"].value, None, life_years=old_life)
        for y in range(first + 1, self.base_year + 1):
            self.make_fund("provincial", y, per_year, None, life_years=old_life)
        # the mother funds set up by the base year hold from it; those set up later (a replay from an
        # earlier base year) are set up when the replay reaches their year (Government.commit_funds)
        for kind, q in MOTHER_FUNDS.items():
            if b[q].year <= self.base_year:
                self.make_fund(kind, self.base_year, b[q].value, None, life_years=old_life)
        for y in range(self.base_year - int(p.private_vc_life_years) + 1, self.base_year + 1):
            self.make_fund("private_vc", y, p.private_vc_commitment_cny_100m_per_year, None, life_years=p.private_vc_life_years)
        cache: dict = {}  # the base-year population stands in for every earlier year
        for y in range(first, self.base_year + 1):
            for i, fund in enumerate(self.funds):
                if fund.vintage <= y:
                    self._fund_year(fund, y, -1, i, regime=pre["fund_evaluation_regime"],
                                    max_share=pre["fund_max_single_project_pct"] / 100, purpose="init_funds", cache=cache)

    def _fund_year(self, fund: Fund, year: int, q: int, i: int, *, regime: FundRegime, max_share: float,
                   purpose: str = "funds", cache: dict | None = None) -> float:
        if fund.h_firm.size == 0 and not fund.vintage <= year < fund.vintage + self.params.fund_deploy_years:
            fund.last_budget = 0.0
            return 0.0  # nothing held, nothing to invest: skip (its random stream is keyed, so no shift)
        if not fund.government:
            regime = FundRegime.portfolio
        gestation = self._gestation
        return fund.invest(year=year, q=q, firms=self.firms, gestation=gestation, long_horizon=self.long_horizon,
                           life_years=fund.life_years, regime=regime, max_single_share=max_share, params=self.params,
                           rng=self.rng_for(purpose, year * 1000 + i), scale=self.scale, pool_cache=cache)

    def _calibrate_growth(self) -> GrowthContext:
        """Per-sector drift so that, under base-year conditions, each sector's aggregate revenue
        grows at its growth prior: the drift nets out the revenue-weighted mean of every other
        growth term (Laplace convexity, young-firm premium, fund equity, designation, base-level
        innovation) and adds back the revenue lost to exits."""
        f, s, p = self.firms, self.sectors, self.params
        w = f.revenue
        sec = f.sector
        logr = log_revenue(f)
        size_center = np.bincount(sec, weights=w * logr, minlength=s.n) / np.maximum(np.bincount(sec, weights=w, minlength=s.n), 1e-12)
        rd = f.rd_spending(p)
        counts = np.bincount(sec, minlength=s.n)
        rd_ref = np.bincount(sec, weights=rd, minlength=s.n) / np.maximum(counts, 1)
        rd_ref = np.where(rd_ref > 0, rd_ref, rd[rd > 0].mean())
        ctx = GrowthContext(drift_annual=np.zeros(s.n), size_center=size_center, rd_reference=rd_ref,
                            va_ratio=self.calib.va_ratio, land_per_va=self.calib.land_per_va)
        # every growth term at base conditions: annual_growth gives the deterministic part; the
        # convexity of the shock, innovation and exits are added separately
        det = annual_growth(f, ctx, p, 0, np.zeros(s.n), logr, self._young_premium)
        convexity = -np.log(1.0 - growth_scale(p, logr) ** 2)  # E[exp(Laplace(b))] = 1 / (1 - b^2)
        innov = innovation_hazard(f, ctx, p, 1.0) * p.innovation_step_mean
        hazard = exit_hazard(f, p, 0, 0.0, logr, self._young_hazard)
        terms = det + convexity + innov - hazard
        mean_terms = np.bincount(sec, weights=w * terms, minlength=s.n) / np.maximum(np.bincount(sec, weights=w, minlength=s.n), 1e-12)
        ctx.drift_annual = (np.log1p(self.growth_prior()) - mean_terms).astype(np.float32)
        ctx.size_center = ctx.size_center.astype(np.float32)
        return ctx

    def growth_prior(self) -> np.ndarray:
        """Sector growth priors (fraction per yr) with the calibrated group shifts applied."""
        s, p = self.sectors, self.params
        modern = s.emerging | s.is_future
        traditional = (s.group == SectorGroup.TRADITIONAL) | (s.group == SectorGroup.OTHER_INDUSTRY)
        return (s.growth_prior + np.where(modern, p.emerging_growth_shift_pct / 100.0, 0.0)
                + np.where(traditional, p.traditional_growth_shift_pct / 100.0, 0.0))

    def _init_pilot_zones(self) -> None:
        """The zones of the base year: the best-qualified places (future-industry revenue), whether or
        not they meet today's criteria (the first batches chose among fewer firms)."""
        n = int(round(self.base["n_pilot_zones"].value))
        _, merit = self.pilot_zone_candidates()
        merit = np.where(self.sectors.is_future[None, :], merit, -1.0)
        u = self.rng_for("zones", 0).uniform(size=merit.size)
        order = np.lexsort((u, -merit.ravel()))[:n]
        self.government.pilot_zone.flat[order] = True

    # ------------------------------------------------------------------ queries used by agents
    def pilot_zone_candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """(qualifies, merit) per (city, sector): a place meets the pilot-zone programme's criteria
        when it is a future-industry sector with at least pilot_zone_min_future_firms alive firms whose
        revenue reaches pilot_zone_min_future_revenue_cny_100m (both scaled with the population);
        merit is that revenue (CNY 100 m per yr, population units)."""
        f, p = self.firms, self.params
        S = self.sectors.n
        alive = f.alive
        flat = f.city[alive].astype(np.int64) * S + f.sector[alive]
        shape = (self.cities_table.n, S)
        counts = np.bincount(flat, minlength=shape[0] * S).reshape(shape)
        revenue = np.bincount(flat, weights=f.revenue[alive], minlength=shape[0] * S).reshape(shape)
        qualifies = ((counts >= max(1, math.ceil(p.pilot_zone_min_future_firms * self.scale)))
                     & (revenue >= p.pilot_zone_min_future_revenue_cny_100m * self.scale) & self.sectors.is_future[None, :])
        return qualifies, revenue

    def sector_prospects(self) -> np.ndarray:
        """Standardised prospects by sector as a planner sees them in the current year (art. 5): the
        observed log growth of each sector's revenue over the last (up to three) years of the
        simulated history; zero where nothing has been observed yet (the first simulated year)."""
        hist = self.sector_revenue_history
        if len(hist) < 2:
            return np.zeros(self.sectors.n)
        span = min(3, len(hist) - 1)
        old, new = hist[-1 - span], hist[-1]
        ok = (old > 0) & (new > 0)
        g = np.zeros(self.sectors.n)
        g[ok] = np.log(new[ok] / old[ok]) / span
        sd = g[ok].std()
        if not ok.any() or sd == 0:
            return np.zeros(self.sectors.n)
        return np.where(ok, (g - g[ok].mean()) / sd, 0.0)

    def future_firm_counts(self) -> np.ndarray:
        """Alive firms per (city, sector)."""
        f = self.firms
        S = self.sectors.n
        alive = f.alive
        flat = f.city[alive].astype(np.int64) * S + f.sector[alive]
        return np.bincount(flat, minlength=self.cities_table.n * S).reshape(self.cities_table.n, S)

    def emerging_revenue_now(self) -> float:
        return float(self._last_agg.revenue_above[self.sectors.emerging].sum())

    def emerging_productivity_now(self) -> float:
        """Mean log productivity of above-size firms in the emerging clusters."""
        f = self.firms
        m = f.above_size & self.sectors.emerging[f.sector]
        return float(f.log_productivity[m].mean()) if m.any() else 0.0

    def spillover(self) -> float:
        """Innovation multiplier from this year's basic-research grants (art. 12): (1 + grants / the
        base-year public (non-enterprise) R&D)^basic_research_spillover, an elasticity."""
        public_rd = max(self.calib.other_rd_cny_100m, 1e-9)
        return (1.0 + self.government.basic_research_cny_100m_this_year / public_rd) ** self.params.basic_research_spillover

    def _firm_rd(self) -> float:
        f = self.firms
        return float((f.rd_spending(self.params) * f.alive).sum() / self.scale)

    # ------------------------------------------------------------------ the step
    def step(self) -> None:
        q = self.q
        year = self.years[q // 4]
        if q % 4 == 0:
            self.start_year(year)
        self.talent.retain(self.firms, self.params.talent_leave_rate_annual, self.levers.talent_incentive_cny_10k_per_year,
                           self.params.talent_incentive_half_effect_cny_10k, self.rng_for("talent", 10_000 + q))
        dlogp = self.innovate(q)
        self.grow(q, year, dlogp)
        self.exit(q)
        self.talent.release_dead(self.firms)
        self.enter(q)
        self.firms.age_q += self.firms.alive  # adds 1 where alive: no gather and scatter through a mask
        agg = ind.sector_aggregates(self.firms, self.sectors.n, self.calib.va_ratio, self.scale)
        self._last_agg = agg
        self._year_agg = agg if self._year_agg is None else self._year_agg + agg
        if q % 4 == 3:
            self.close_year(year)
        self.q += 1

    def start_year(self, year: int) -> None:
        self.levers = self.policy_history.levers_at(year, self.scenario_levers)
        lv, p, g = self.levers, self.params, self.government
        self.plot_effect = plot_ratio_effect(lv.plot_ratio_multiplier, year - self.policy_start_year, p.land_plot_ratio_phase_in_years)
        renovated = sum(c.open_year(lv.land_quota_mu_per_year, lv.land_renovation_mu_per_year, self.scale) for c in self.city_agents)
        g.pay_renovation(year, renovated)
        g.commit_funds(year)
        deployed = 0.0
        early_before = sum(fd.n_exits_early for fd in self.funds)
        for fd in self.funds:
            fd.last_budget = 0.0
        long_before = sum(fd.deployed_long_horizon for fd in self.funds)
        np.maximum(self.firms.equity, 0.0, out=self.firms.equity)  # rounding in repeated +/- of tickets
        cache: dict = {}
        for i, fund in enumerate(self.funds):
            deployed += self._fund_year(fund, year, self.q, i, regime=FundRegime(lv.fund_evaluation_regime),
                                        max_share=lv.fund_max_single_project_pct / 100, cache=cache)
        self._counters["fund_deployed_cny_100m"] += deployed / self.scale
        # what the deploying funds meant to invest: deployed far below it is the known pattern of
        # Chinese guidance funds (Wei, Ang and Jia 2023), here when too few firms fit their rules
        self._counters["fund_budget_cny_100m"] += sum(fd.last_budget for fd in self.funds) / self.scale
        self._counters["fund_early_exits"] += (sum(fd.n_exits_early for fd in self.funds) - early_before) / self.scale
        self._counters["fund_deployed_long_horizon_cny_100m"] += (sum(fd.deployed_long_horizon for fd in self.funds) - long_before) / self.scale
        self.firms.revenue_year_start[:] = self.firms.revenue
        g.designate_pilot_zones(year, self.rng_for("zones", year))
        g.bid_national_clusters(year, self.rng_for("clusters", year))
        g.award_grants(year, self.rng_for("government", year))
        g.fund_basic_research(year)
        g.open_markets(self.q, self.rng_for("markets", year))
        n_attr = g.attract_projects(year, self.rng_for("attract", year))
        self._counters["n_entries"] += n_attr / self.scale
        rng_t = self.rng_for("talent", year)
        recruits = stochastic_round(lv.n_talents_recruited_per_year * self.scale, rng_t)
        # cultivated talents finish training a year after selection: those selected under last year's
        # levers arrive (none in the first simulated year, nor in the policy's first year)
        last = self.policy_history.levers_at(year - 1, self.scenario_levers)
        cultivated = stochastic_round(last.n_talents_cultivated_per_year * self.scale, rng_t) if year > self.years[0] else 0
        self.talent.recruit(year, recruits, cultivated, self.firms, self.target_sectors_talent, rng_t)
        g.pay_talent_incentives(year, self.talent.n_active)
        self.climb_ladder(year)
        self.adopt_ai_plus(year)
        # the year's province-wide growth shock, common to every firm and the rest of the economy
        self.macro_shock = float(self.rng_for("macro", year).normal(0.0, p.aggregate_growth_shock_sd))
        self.refresh_rates(self.rng_for("growth", year))

    # ------------------------------------------------------------------ firm stages
    def innovate(self, q: int) -> np.ndarray:
        """R&D -> innovation -> productivity; returns each firm's log-productivity gain this quarter."""
        f, p = self.firms, self.params
        rng = self.rng_for("innovation", q)
        hit = f.alive & (rng.random(f.n, dtype=np.float32) < f.p_innovate_q)
        gain = np.zeros(f.n)
        gain[hit] = rng.exponential(p.innovation_step_mean, int(hit.sum()))
        ramp = f.ai_ramp_q > 0
        if ramp.any():
            # add the gain times the mask rather than through it: gain + 0.0 == gain, no gather and scatter
            gain += (p.ai_plus_productivity_gain / 4.0) * ramp
            f.ai_ramp_q -= ramp
        f.log_productivity += gain
        f.n_innovations += hit
        self._counters["n_innovations"] += hit.sum() / self.scale
        return gain

    def refresh_rates(self, rng: np.random.Generator, sl: slice = slice(None)) -> None:
        """Set the yearly growth, shock, innovation and exit rates of the firms in ``sl``: at the
        start of each year for everyone, and at entry for new firms.

        The growth shock is drawn once a year, Laplace (tent-shaped, Bottazzi and Secchi 2006), and
        spread evenly over the four quarters: annual growth rates are exactly Laplace given size."""
        f, p = self.firms, self.params
        q = self.q
        year = self.years[min(q // 4, len(self.years) - 1)]
        logr = log_revenue(f, sl)
        f.g_annual[sl] = annual_growth(f, self.growth_ctx, p, q, self.sector_shift(year), logr, self._young_premium, sl) + self.macro_shock
        # Laplace(0, 1) by inversion of one uniform per firm: firm i always takes the i-th draw of
        # the year's stream, so scenarios share their shocks (common random numbers)
        u = rng.random(logr.size, dtype=np.float32) - np.float32(0.5)
        # a draw of exactly 0 would give log(0): keep 2|u| strictly below 1
        e = np.log1p(-np.minimum(np.float32(2.0) * np.abs(u), np.float32(1.0 - 2.0 ** -24)))
        e *= -np.sign(u)
        f.shock_q[sl] = 0.25 * growth_scale(p, logr) * e
        lam = innovation_hazard(f, self.growth_ctx, p, self.spillover(), sl)
        f.p_innovate_q[sl] = -np.expm1(-lam / 4.0)
        h = exit_hazard(f, p, q, finance_hazard_cut(p, self.levers.small_firm_finance_index), logr, self._young_hazard, sl)
        f.p_exit_q[sl] = -np.expm1(-h / 4.0)

    def sector_shift(self, year: int) -> np.ndarray:
        """Uncertainties as additions to annual growth by sector."""
        s, u = self.sectors, self.uncertainties
        # the uncertainties are about the years ahead: the replayed years before the policy's first
        # year are history (whatever world demand did then is in the data the replay is judged on)
        if year < self.policy_start_year:
            return np.zeros(s.n)
        shift = np.where(s.is_industry, u.world_demand_shift_pct / 100.0, 0.0)
        # the delay counts from the policy's first year
        if year - self.policy_start_year + 1 <= u.breakthrough_delay_years:
            shift = shift + np.where(self.long_horizon, s.growth_low - s.growth_prior, 0.0)
        return shift

    def grow(self, q: int, year: int, dlogp: np.ndarray) -> None:
        """Desired growth, then land: firms that outgrow their land ask their city (art. 21)."""
        f, p, s, ctx = self.firms, self.params, self.sectors, self.growth_ctx
        g = 0.25 * f.g_annual
        g += f.shock_q
        g += dlogp.astype(np.float32)
        g[~f.alive] = 0.0
        desired = f.revenue * np.exp(g)
        cand = np.flatnonzero(f.alive & (desired >= ABOVE_SIZE_REVENUE_CNY_100M) & self._industry_sector[f.sector])
        need = land_need_mu(desired[cand], self._land_per_revenue[f.sector[cand]], self.plot_effect)
        over = need > f.land_mu[cand] * (1.0 + p.land_capacity_slack)
        req, need = cand[over], need[over]
        f.land_refused[:] = False
        if req.size:
            request = need * (1.0 + p.land_capacity_slack) - f.land_mu[req]
            quarters_left = 4 - q % 4
            budget = np.array([c.budget_mu for c in self.city_agents]) / quarters_left
            priority = s.emerging[f.sector[req]] | s.is_future[f.sector[req]]
            granted, used = allocate_land(request, f.city[req].astype(np.int64), priority, f.log_productivity[req],
                                          budget, self.levers.land_priority_emerging_pct / 100.0)
            ok, ko = req[granted], req[~granted]
            f.land_mu[ok] += request[granted]
            for c in self.city_agents:
                c.budget_mu -= used[c.index]
                c.allocated_mu += used[c.index]
            if ko.size:
                f.land_refused[ko] = True
                for_ko = request[~granted]
                # a refused firm grows only up to what its land supports, plus a share of the rest
                cap = f.land_mu[ko] * (1.0 + p.land_capacity_slack) * self.plot_effect / (ctx.land_per_va[f.sector[ko]] * ctx.va_ratio[f.sector[ko]])
                floor = np.minimum(desired[ko], np.maximum(cap, f.revenue[ko]))
                # desired is this stage's own array: cap it in place (the right side reads desired[ko] first)
                desired[ko] = floor + p.land_refused_growth_share * (desired[ko] - floor)
                refused_by_city = np.bincount(f.city[ko], weights=for_ko, minlength=len(self.city_agents))
                for c in self.city_agents:
                    c.refused_mu += refused_by_city[c.index]
                self._counters["land_refused_mu"] += for_ko.sum() / self.scale
                self._counters["n_land_refusals"] += ko.size / self.scale
                move = ko[self.rng_for("land", q).random(ko.size) < p.land_relocation_prob]
                if move.size:
                    f.city[move] = int(np.argmax([c.budget_mu for c in self.city_agents]))
            self._counters["land_allocated_mu"] += used.sum() / self.scale
        f.revenue[:] = desired

    def exit(self, q: int) -> None:
        f = self.firms
        die = f.alive & (self.rng_for("exit", q).random(f.n, dtype=np.float32) < f.p_exit_q)
        f.alive[die] = False
        f.exit_q[die] = q
        self._counters["n_exits"] += die.sum() / self.scale

    def expected_entrants(self) -> tuple[float, np.ndarray]:
        """Expected start-ups this quarter (firms of the scaled population) and the city x sector
        weights they are placed by: incubators (art. 15) raise the rate, new tracks (art. 7) and
        pilot zones (art. 6) tilt the weights and add their extra entry to the total."""
        p, s, lv = self.params, self.sectors, self.levers
        n_tsme = self.base["n_tech_smes"].value
        expected = p.entry_rate_annual * n_tsme * self.scale / 4.0 * (1.0 + p.incubator_entry_elasticity * lv.incubator_free_entry_pct / 100.0)
        w_sector = self._entry_sector_weight()
        mult = np.where(s.group == SectorGroup.NEW_TRACK, 1.0 + p.new_track_entry_effect * lv.new_track_access_index, 1.0)
        w = self.cities_table.firm_weight[:, None] * (w_sector * mult)[None, :]
        w = w * (1.0 + p.pilot_zone_entry_boost * self.government.pilot_zone)
        expected *= w.sum() / (self.cities_table.firm_weight[:, None] * w_sector[None, :]).sum()
        return expected, w

    def enter(self, q: int) -> None:
        """Start-ups (incubators art. 15, pilot zones art. 6, new tracks art. 7) and spin-offs (art. 4)."""
        f, p, s, lv = self.firms, self.params, self.sectors, self.levers
        rng = self.rng_for("entry", q)
        expected, w = self.expected_entrants()
        n = int(rng.poisson(expected))
        if n:
            cell = rng.choice(w.size, size=n, p=(w / w.sum()).ravel())
            city, sector = np.divmod(cell, s.n)
            rev = np.exp(rng.normal(math.log(p.entrant_revenue_median_cny_100m), p.entrant_revenue_sigma, n))
            rev = np.minimum(rev, ABOVE_SIZE_REVENUE_CNY_100M * 0.999)
            new = f.add(n, sector=sector, city=city, stage=int(FirmStage.STARTUP), revenue=rev, revenue_year_start=rev,
                        log_productivity=rng.normal(0.0, p.base_productivity_dispersion, n),
                        rd_intensity=self.sectors_rd_intensity[sector], entry_q=q, origin=ORIGIN_STARTUP,
                        boost_until_q=-1, penalty_until_q=-1)
            self.refresh_rates(self.rng_for("growth_entry", 10 * q), new)
            self._counters["n_entries"] += n / self.scale
        rate = lv.spinoff_rate_pct_per_year / 100.0
        if rate > 0:
            rng2 = self.rng_for("spinoff", q)
            elig = np.flatnonzero(f.alive & (f.stage >= FirmStage.HIGH_TECH))
            parents = elig[rng2.random(elig.size) < -np.expm1(-rate / 4.0)]
            if parents.size:
                psec = f.sector[parents]
                keep_sector = s.emerging[psec] | s.is_future[psec]
                targets = np.flatnonzero(s.emerging | s.is_future)
                tw = self.base_sector_revenue[targets]
                drawn = targets[rng2.choice(targets.size, size=parents.size, p=tw / tw.sum())]
                csec = np.where(keep_sector & (rng2.random(parents.size) < p.spinoff_same_sector_prob), psec, drawn)
                crev = f.revenue[parents] * p.spinoff_revenue_share
                f.revenue[parents] -= crev
                new = f.add(parents.size, sector=csec, city=f.city[parents], stage=int(FirmStage.TECH_SME), revenue=crev,
                            revenue_year_start=crev, log_productivity=f.log_productivity[parents],
                            rd_intensity=self.sectors_rd_intensity[csec], entry_q=q, origin=ORIGIN_SPINOFF,
                            land_mu=0.0, boost_until_q=-1, penalty_until_q=-1)
                self.refresh_rates(self.rng_for("growth_entry", 10 * q + 1), new)
                self._counters["n_entries"] += parents.size / self.scale
                self._counters["n_spinoffs"] += parents.size / self.scale

    def _entry_sector_weight(self) -> np.ndarray:
        return self._entry_w

    def _base_entry_weights(self) -> np.ndarray:
        """Start-ups enter sectors in proportion to the base year's below-size firms, tilted to
        faster-growing sectors."""
        f = self.firms
        below = f.alive & (f.revenue < ABOVE_SIZE_REVENUE_CNY_100M)
        w = np.bincount(f.sector[below], minlength=self.sectors.n).astype(float)
        return w * (1.0 + self.sectors.growth_prior) + 1e-9

    def climb_ladder(self, year: int) -> None:
        """Yearly ladder moves (art. 17): recording of start-ups, high-tech certification and
        lapse, and the national batches of little giants and single champions."""
        f, p, lv = self.firms, self.params, self.levers
        rng = self.rng_for("ladder", year)
        n = f.n
        support = lv.ladder_support_index ** p.ladder_support_elasticity
        st = f.stage

        def log_eff_rd(idx: np.ndarray) -> np.ndarray:
            """log of R&D (own plus grant-induced) over revenue, for the firms in idx."""
            rev = np.maximum(f.revenue[idx], 1e-9)
            rd = f.rd_intensity[idx] * rev + p.subsidy_additionality * f.grant_rd[idx]
            return np.log(np.maximum(rd / rev, 1e-6))

        u = rng.random(n)
        rec = f.alive & (st == FirmStage.STARTUP) & (f.age_q >= 4) & (u < p.startup_record_rate_annual)
        # Certification (15 % tax rate) is worth qualifying for: a tech SME that applies raises its
        # R&D to the threshold if it is below it.
        cert_p = min(1.0, p.high_tech_certification_rate_annual * support)
        cert = f.alive & (st == FirmStage.TECH_SME) & (u < cert_p)
        ht = np.flatnonzero(f.alive & (st == FirmStage.HIGH_TECH))
        meets = log_eff_rd(ht) >= np.log(high_tech_rd_threshold(f.revenue[ht]))
        lapse_p = np.where(meets, p.high_tech_lapse_rate_annual,
                           min(1.0, p.high_tech_lapse_multiplier_below_threshold * p.high_tech_lapse_rate_annual))
        lapse = ht[u[ht] < lapse_p]
        st[rec] = int(FirmStage.TECH_SME)
        st[cert] = int(FirmStage.HIGH_TECH)
        f.rd_intensity[cert] = np.maximum(f.rd_intensity[cert], high_tech_rd_threshold(f.revenue[cert]))
        st[lapse] = np.where(f.revenue[lapse] < TECH_SME_MAX_REVENUE_CNY_100M, int(FirmStage.TECH_SME), int(FirmStage.CONVENTIONAL))
        grown = f.alive & (st == FirmStage.TECH_SME) & (f.revenue > TECH_SME_MAX_REVENUE_CNY_100M)
        st[grown] = int(FirmStage.CONVENTIONAL)
        lo, hi = p.little_giant_min_revenue_cny_100m, p.little_giant_max_revenue_cny_100m
        k_lg = int(rng.poisson(p.little_giant_new_per_year * self.scale * support))
        lg_pool = f.alive & stage_mask(st, FirmStage.TECH_SME, FirmStage.HIGH_TECH) & (f.revenue >= lo) & (f.revenue <= hi)
        idx = np.flatnonzero(lg_pool)
        lg = choose_top(idx, p.selection_rd_weight * log_eff_rd(idx) + f.log_productivity[idx] + rng.gumbel(size=idx.size), k_lg)
        st[lg] = int(FirmStage.LITTLE_GIANT)
        k_sc = int(rng.poisson(p.single_champion_new_per_year * self.scale * support))
        sc_pool = f.alive & stage_mask(st, FirmStage.LITTLE_GIANT, FirmStage.HIGH_TECH) & (f.revenue >= p.single_champion_min_revenue_cny_100m) & self.sectors.is_industry[f.sector]
        idx = np.flatnonzero(sc_pool)
        sc = choose_top(idx, np.log(np.maximum(f.revenue[idx], 1e-9)) + log_eff_rd(idx) + rng.gumbel(size=idx.size), k_sc)
        st[sc] = int(FirmStage.SINGLE_CHAMPION)
        f.designated[:] = stage_mask(st, FirmStage.LITTLE_GIANT, FirmStage.SINGLE_CHAMPION) | f.future_type

    def adopt_ai_plus(self, year: int) -> None:
        """AI+ (art. 3): a share of above-size non-adopters adopt each year."""
        f = self.firms
        rng = self.rng_for("ai", year)
        adopt = f.above_size & ~f.ai_plus & (rng.random(f.n) < self.levers.ai_plus_adoption_pct_per_year / 100.0)
        f.ai_plus[adopt] = True
        f.ai_ramp_q[adopt] = 4

    # ------------------------------------------------------------------ recording
    def _zero_counters(self) -> dict[str, float]:
        return {k: 0.0 for k in ("n_entries", "n_exits", "n_spinoffs", "land_allocated_mu", "land_refused_mu",
                                 "n_land_refusals", "fund_deployed_cny_100m", "fund_early_exits",
                                 "fund_deployed_long_horizon_cny_100m", "fund_budget_cny_100m", "n_innovations")}

    def _indicators(self, year: int, agg: ind.SectorAggregates, firm_rd: float) -> dict[str, float]:
        s, c = self.sectors, self.calib
        years_since = year - self.base_year
        rest = self.rest_of_economy
        gdp = ind.gdp_cny_100m(agg, rest)
        other_rd = c.other_rd_cny_100m * gdp / self.base["gdp_cny_100m"].value
        fut = ind.future_industry_revenue_cny_100m(agg, s)
        rec = {
            "year": year,
            "t1_emerging_share_415x_pct": ind.t1_emerging_share_415x_pct(agg, s),
            "t2_sei_share_pct": ind.t2_sei_share_pct(agg, s, c.sei_share),
            "t3_digital_core_share_gdp_pct": ind.t3_digital_core_share_gdp_pct(agg, s, c.digital_scale, rest),
            "t4_national_clusters": float(self.government.n_national_clusters),
            "t5_pilot_zones": float(self.government.pilot_zone.sum()),
            "t6_future_growth_pct_per_year": ind.t6_future_growth_pct_per_year(fut, self.base_future_revenue, years_since) if years_since else float("nan"),
            "gdp_cny_100m": gdp,
            "digital_core_va_cny_100m": ind.digital_core_va_cny_100m(agg, s, c.digital_scale),
            "above_size_industry_va_cny_100m": ind.above_size_industry_va_cny_100m(agg, s),
            "sei_va_cny_100m": ind.sei_va_cny_100m(agg, s, c.sei_share),
            "cluster_415x_revenue_cny_100m": float(agg.revenue_above[s.in_415x].sum()),
            "emerging_cluster_revenue_cny_100m": float(agg.revenue_above[s.emerging].sum()),
            "future_industry_revenue_cny_100m": fut,
            "rd_intensity_pct": ind.rd_intensity_pct(firm_rd, other_rd, gdp),
            "firm_rd_cny_100m": firm_rd,
            "n_firms": float(self.firms.alive.sum() / self.scale),
            "n_above_size_firms": float(self.firms.above_size.sum() / self.scale),
            "n_talents_active": self.talent.n_active / self.scale,
        }
        rec.update(ind.stage_counts(self.firms, self.scale))
        # flows of the year; the base year has none simulated
        rec.update(self._counters if years_since else {k: float("nan") for k in self._counters})
        led = self.government.ledger
        yi = year - self.years[0]
        if 0 <= yi < len(self.years):
            rec["fiscal_cost_equity_cny_100m"] = float(sum(v[yi] for k, v in led.items() if k in EQUITY_LEVERS))
            rec["fiscal_cost_grants_cny_100m"] = float(sum(v[yi] for k, v in led.items() if k not in EQUITY_LEVERS))
        else:
            rec["fiscal_cost_equity_cny_100m"] = rec["fiscal_cost_grants_cny_100m"] = float("nan")
        return rec

    def close_year(self, year: int) -> None:
        self.rest_of_economy *= (1.0 + self.params.rest_of_economy_growth_pct / 100.0) * math.exp(self.macro_shock)
        agg = self._year_agg / 4.0  # flows: mean of the four quarterly annualised rates
        self.records.append(self._indicators(year, agg, firm_rd=self._firm_rd()))
        self.sector_revenue_history.append(agg.revenue_all.copy())
        self._year_agg = None
        self._counters = self._zero_counters()

    # ------------------------------------------------------------------ driver
    def run(self) -> pd.DataFrame:
        """Run to end_year Q4; returns one row per year (base year first) and one column per indicator."""
        while self.q < self.n_quarters:
            self.step()
        return pd.DataFrame.from_records(self.records).set_index("year")

    def fiscal_cost_by_lever(self) -> dict[str, list[float]]:
        """CNY 100 m per simulated year, per lever that spent money."""
        return {k: v.tolist() for k, v in self.government.ledger.items()}
