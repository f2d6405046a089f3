"""The Mesa model: owns the random streams and the agents, and writes the stage order in step().

Firms are a struct of arrays (``simmodel.agents.firms.Firms``) updated by the stage kernels of
``simmodel.model.stages``; funds, cities and the government are Mesa agents that act on what they
are handed. One quarterly step runs, in order:

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
from typing import Self

import mesa
import numpy as np
import pandas as pd

from simmodel import indicators as ind
from simmodel.agents.cities import City, plot_ratio_effect
from simmodel.agents.firms import FirmStage, age_table
from simmodel.agents.funds import Fund, FundBook, FundCommitment
from simmodel.agents.government import (Government, emerging_productivity, initial_pilot_zones, sector_prospects,
                                        stochastic_round)
from simmodel.agents.talent import TalentPool
from simmodel.data import BaseQuantity
from simmodel.levers import FundRegime, Levers, PolicyHistory, Uncertainties, no_new_policy_values
from simmodel.model.allocator import keep_freed_memory
from simmodel.model.funds import fund_year, initial_commitments
from simmodel.model.record import trajectory_frame, year_record, zero_flows
from simmodel.model.setup import calibrate_growth, entry_sector_weights, sector_rd_intensity
from simmodel.model.stages.aggregates import age_firms, firm_rd_cny_100m
from simmodel.model.stages.ai_plus import adopt_ai_plus
from simmodel.model.stages.enter import (ENTRY_LEVERS, EntryCells, enter_startups, entry_cells, expected_entrants, spin_off,
                                         spin_off_targets)
from simmodel.model.stages.exit import exit_firms
from simmodel.model.stages.grow import grow_firms
from simmodel.model.stages.innovate import ProductivityGain, innovate_firms
from simmodel.model.stages.ladder import climb_ladder
from simmodel.model.stages.rates import refresh_rates, sector_shift, shock_uniforms, spillover
from simmodel.model.streams import Streams
from simmodel.params import Params
from simmodel.population import Synthesiser
from simmodel.sectors import CityTable, FundKind, SectorTable

_PURPOSES = {name: i for i, name in enumerate((
    "synthesis", "growth", "innovation", "exit", "entry", "spinoff", "land", "ladder", "government",
    "funds", "talent", "ai", "zones", "clusters", "markets", "attract", "init_funds", "growth_entry", "macro",
    "fund_sales", "init_fund_sales"))}
# the streams start_year asks for, each with the year as its index
_YEAR_STREAMS = ("funds", "fund_sales", "zones", "clusters", "government", "markets", "attract", "talent", "ladder", "ai",
                 "macro", "growth")


def _talent_quarter(q: int) -> int:
    """Index of quarter q's talent departures in the talent stream (the year's recruitment takes the year)."""
    return 10_000 + q


def _entry_cohort(q: int, cohort: int) -> int:
    """Index of quarter q's entry cohort (0 start-ups, 1 spin-offs) in the entrants' growth-shock stream."""
    return 10 * q + cohort


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
        keep_freed_memory()  # once a process: temporaries reuse warm pages, no huge pages (see allocator)
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        super().__init__(rng=ss)
        self.streams = Streams(ss.entropy, ss.spawn_key)
        self.inputs = inputs
        self.sectors = s = inputs.sectors
        self.cities_table = inputs.cities
        self.base = inputs.base
        self.params = p = inputs.params
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
        self.streams.plan(self._planned_streams())

        # ---- what the stages read and never change: set once from the base-year population
        self.synth = Synthesiser(s, inputs.cities, inputs.base, p, scale)
        self.firms, self.calib = self.synth.build(self.rng_for("synthesis", 0))
        f = self.firms
        self.base_sector_revenue = self.calib.sector_revenue_target
        self.spin_off_targets = spin_off_targets(s, self.base_sector_revenue)
        self.sectors_rd_intensity = sector_rd_intensity(f, s)
        self.long_horizon = s.future == 2
        self.modern_sector = s.emerging | s.is_future  # emerging clusters and future industries
        self.target_sectors_talent = self.modern_sector
        # years from an early-stage investment to exit, by sector; breakthroughs delayed push it out
        self.gestation = s.gestation_years + uncertainties.breakthrough_delay_years * (s.future == 2)
        self.young_premium, self.young_hazard = age_table(p, 4 * 60)

        # ---- the agents; the funds raised before the base year hold firms by the base year
        stock = self.base["low_efficiency_land_stock_mu"].value * scale
        self.city_agents = [City(self, i, cid, inputs.cities.land_quota_weight[i], inputs.cities.renovation_stock_weight[i],
                                 stock * inputs.cities.renovation_stock_weight[i]) for i, cid in enumerate(inputs.cities.ids)]
        self.government = Government(self, years=self.years, sectors=s, base=self.base,
                                     pilot_zone=np.zeros((inputs.cities.n, s.n), dtype=bool),
                                     n_national_clusters=int(self.base["n_national_clusters"].value))
        self.talent = TalentPool()
        self.fund_book = FundBook()  # every fund's holdings
        self.funds: list[Fund] = self.fund_book.funds  # in the order they were raised (make_fund adds them)
        self._fund_terms: dict[str, tuple] = {}  # each kind's stages and sector flags, see make_fund
        self._n_raised: dict[tuple[str, int], int] = {}  # funds raised by (kind, vintage)
        self._raise_initial_funds()
        # after the funds: their holdings are part of the base-year conditions
        self.growth_ctx = calibrate_growth(f, s, p, self.calib, self.young_premium, self.young_hazard)
        self.entry_sector_weight = entry_sector_weights(f, s)
        self.land_per_revenue = self.growth_ctx.va_ratio * self.growth_ctx.land_per_va
        self.government.pilot_zone = initial_pilot_zones(f, s.is_future, inputs.cities.n, p, scale,
                                                         int(round(self.base["n_pilot_zones"].value)), self.rng_for("zones", 0))

        # ---- state of the run
        self.plot_effect = 1.0
        agg0 = ind.sector_aggregates(f, s.n, self.calib.va_ratio, scale)
        self.base_emerging_revenue = float(agg0.revenue_above[s.emerging].sum())
        self.base_emerging_productivity = emerging_productivity(f, s.emerging)
        self.base_future_revenue = ind.future_industry_revenue_cny_100m(agg0, s)
        # what a planner has observed: every sector's revenue at each year-end so far (art. 5)
        self.sector_revenue_history: list[np.ndarray] = [agg0.revenue_all.copy()]
        self.last_agg = agg0  # the last quarter's sector aggregates
        self.year_agg: ind.SectorAggregates | None = None  # this year's, summed over its quarters
        self.counters = zero_flows()  # the year's flows so far (province units)
        self.macro_shock = 0.0
        # the firms whose AI+ gain may still be ramping up (the year's adopters, see innovate): the
        # innovations read their counters only, not every firm's
        self.ai_ramping = np.flatnonzero(f.ai_ramp_q > 0)
        self._sector_shift: tuple = (None, None)  # (year, sector_shift of the year), see refresh_rates
        self._entrants: tuple | None = None  # ((the levers it reads, pilot zones), its answer), see there
        self.rest_of_economy = self.calib.rest_of_economy_va_cny_100m  # CNY 100 m, updated each year
        self.records: list[dict[str, float]] = [self._record(self.base_year, agg0)]

    # ------------------------------------------------------------------ randomness
    def rng_for(self, purpose: str, index: int) -> np.random.Generator:
        """A generator for one stage and step, derived from the replicate's seed: the stream of
        SeedSequence(entropy, spawn_key=the replicate's key + (purpose, index)), see simmodel.model.streams."""
        return self.streams.generator(_PURPOSES[purpose], index)

    def _planned_streams(self) -> list[tuple[int, int]]:
        """The streams a run asks for (purpose, index), in the order it asks: set-up (but the initial
        funds', which _raise_initial_funds plans), then each year's (start_year) and its quarters'
        (step, enter). Their seeds are computed at once (Streams.plan); one missing here is still the
        same stream, seeded when asked (tests/unit/test_streams.py checks that none is)."""
        keys = [("synthesis", 0), ("zones", 0)]
        for y, year in enumerate(self.years):
            keys += [(p, year) for p in _YEAR_STREAMS]
            for q in range(4 * y, 4 * y + 4):
                keys += [("talent", _talent_quarter(q)), ("innovation", q), ("land", q), ("exit", q), ("entry", q),
                         ("spinoff", q), ("growth_entry", _entry_cohort(q, 0)), ("growth_entry", _entry_cohort(q, 1))]
        return [(_PURPOSES[p], i) for p, i in keys]

    # ------------------------------------------------------------------ agents
    def make_fund(self, c: FundCommitment) -> Fund:
        """Raise the fund vintage ``c``: a new Fund agent, backing the stages and sectors of its kind."""
        fk = self.inputs.fund_kinds[c.kind]
        terms = self._fund_terms.get(c.kind)
        if terms is None:  # a kind's stages and sectors, made at its first fund and shared by the rest
            s = self.sectors
            mask = s.is_future.copy() if fk.sectors == "future" else s.emerging | s.is_future
            mask.flags.writeable = False
            terms = self._fund_terms[c.kind] = (tuple(FirmStage[x.upper()] for x in fk.stages), mask)
        # the how-manieth fund of its kind and vintage (its screening key, see Fund)
        ordinal = self._n_raised.get((c.kind, c.vintage), 0)
        self._n_raised[(c.kind, c.vintage)] = ordinal + 1
        return Fund(self, fund_id=f"{c.kind}_{c.vintage}_{len(self.funds)}", key=f"{c.kind}/{c.vintage}/{ordinal}",
                    kind=c.kind, government=fk.government, size_cny_100m=c.size_cny_100m, vintage=c.vintage,
                    stages=terms[0], sector_mask=terms[1], budget_lever=c.budget_lever, life_years=c.life_years,
                    book=self.fund_book)

    def _raise_initial_funds(self) -> None:
        """Funds raised before the base year, with the holdings they would have built under the
        pre-2025 rules (the same in every scenario, so that scenarios start from one state)."""
        pre = no_new_policy_values()
        for c in initial_commitments(self.base, self.params, self.base_year, old_life_years=pre["fund_life_years"]):
            self.make_fund(c)
        # the funds invest from the provincial fund's first year (older private vintages start then)
        first = int(self.base["provincial_fund_initial_cny_100m"].year)
        years = range(first, self.base_year + 1)
        self.streams.plan([(_PURPOSES[p], y) for y in years for p in ("init_funds", "init_fund_sales")])
        cache: dict = {}  # the base-year population stands in for every earlier year
        for y in years:
            fund_year(self.funds, self.firms, year=y, q=-1, regime=FundRegime(pre["fund_evaluation_regime"]),
                      max_share=pre["fund_max_single_project_pct"] / 100, gestation=self.gestation,
                      long_horizon=self.long_horizon, params=self.params, scale=self.scale,
                      rng=self.rng_for("init_funds", y), sales_rng=self.rng_for("init_fund_sales", y), cache=cache)

    # ------------------------------------------------------------------ the step
    def step(self) -> None:
        """One quarter: the yearly block in Q1, the firm stages, the records."""
        if self.firms is None:
            raise RuntimeError("SimModel.step: the model was closed (close() hands its firms back); build a new one")
        q = self.q
        year = self.years[q // 4]
        if q % 4 == 0:
            self.start_year(year)
        self.talent.retain(self.firms, self.params.talent_leave_rate_annual, self.levers.talent_incentive_cny_10k_per_year,
                           self.params.talent_incentive_half_effect_cny_10k, self.rng_for("talent", _talent_quarter(q)))
        dlogp = self.innovate(q)
        self.grow(q, dlogp)
        self.exit(q)
        self.talent.release_dead(self.firms)
        self.enter(q)
        age_firms(self.firms)
        self.record_quarter(ind.sector_aggregates(self.firms, self.sectors.n, self.calib.va_ratio, self.scale))
        if q % 4 == 3:
            self.close_year(year)
        self.q += 1

    def start_year(self, year: int) -> None:
        """The yearly block of Q1: cities, government, funds, talents, the ladder, AI+, the rates."""
        self.levers = self.policy_history.levers_at(year, self.scenario_levers)
        lv, p, g, f, q, sc = self.levers, self.params, self.government, self.firms, self.q, self.scale
        self.plot_effect = plot_ratio_effect(lv.plot_ratio_multiplier, year - self.policy_start_year,
                                             p.land_plot_ratio_phase_in_years)
        renovated = sum(c.open_year(lv.land_quota_mu_per_year, lv.land_renovation_mu_per_year, sc) for c in self.city_agents)
        g.pay_renovation(year, renovated, p, sc)
        for c in g.commit_funds(year, lv, p, self.policy_start_year):
            self.make_fund(c)
        np.maximum(f.equity, 0.0, out=f.equity)  # rounding in repeated +/- of tickets
        fy = fund_year(self.funds, f, year=year, q=q, regime=FundRegime(lv.fund_evaluation_regime),
                       max_share=lv.fund_max_single_project_pct / 100, gestation=self.gestation,
                       long_horizon=self.long_horizon, params=p, scale=sc, rng=self.rng_for("funds", year),
                       sales_rng=self.rng_for("fund_sales", year), cache={})
        self.counters["fund_deployed_cny_100m"] += fy.deployed_cny_100m / sc
        # what the deploying funds meant to invest: deployed far below it is the known pattern of
        # Chinese guidance funds (Wei, Ang and Jia 2023), here when too few firms fit their rules
        self.counters["fund_budget_cny_100m"] += fy.budget_cny_100m / sc
        self.counters["fund_early_exits"] += fy.n_early_exits / sc
        self.counters["fund_deployed_long_horizon_cny_100m"] += fy.deployed_long_horizon_cny_100m / sc
        f.revenue_year_start[:] = f.revenue
        g.designate_pilot_zones(year, f, p, lv, sc, self.rng_for("zones", year))
        emerging_now = float(self.last_agg.revenue_above[self.sectors.emerging].sum())
        g.bid_national_clusters(year, p, lv, self.rng_for("clusters", year), firms=f,
                                revenue_ratio=emerging_now / self.base_emerging_revenue,
                                base_productivity=self.base_emerging_productivity)
        prospects = sector_prospects(self.sector_revenue_history, self.sectors.n)
        g.award_grants(year, q, f, lv, p, sc, prospects, self.rng_for("government", year))
        g.fund_basic_research(year, lv, p)
        g.open_markets(q, f, lv, p, sc, prospects, self.rng_for("markets", year))
        attracted = g.attract_projects(year, q, f, lv, p, sc, self.rng_for("attract", year),
                                       sector_revenue=self.base_sector_revenue, city_weight=self.cities_table.firm_weight,
                                       draw_revenue=self.synth.draw_above_size_revenue, ctx=self.growth_ctx,
                                       plot_effect=self.plot_effect, cities=self.city_agents,
                                       sector_rd_intensity=self.sectors_rd_intensity)
        if attracted is not None:
            # their rates are set with everyone's at the end of this block
            self.counters["n_entries"] += (attracted.stop - attracted.start) / sc
        rng_t = self.rng_for("talent", year)
        recruits = stochastic_round(lv.n_talents_recruited_per_year * sc, rng_t)
        # cultivated talents finish training a year after selection: those selected under last year's
        # levers arrive (none in the first simulated year, nor in the policy's first year)
        last = self.policy_history.levers_at(year - 1, self.scenario_levers)
        cultivated = stochastic_round(last.n_talents_cultivated_per_year * sc, rng_t) if year > self.years[0] else 0
        self.talent.recruit(year, recruits, cultivated, f, self.target_sectors_talent, rng_t)
        g.pay_talent_incentives(year, self.talent.n_active, lv, sc)
        climb_ladder(f, p, lv, scale=sc, is_industry=self.sectors.is_industry, rng=self.rng_for("ladder", year))
        adopters = adopt_ai_plus(f, lv, self.rng_for("ai", year))
        # last year's adopters have ramped up by now (four quarters); any still ramping stay listed
        still = self.ai_ramping[f.ai_ramp_q[self.ai_ramping] > 0]
        self.ai_ramping = np.union1d(still, adopters) if still.size else adopters
        # the year's province-wide growth shock, common to every firm and the rest of the economy
        self.macro_shock = float(self.rng_for("macro", year).normal(0.0, p.aggregate_growth_shock_sd))
        self.refresh_rates(shock_uniforms(self.rng_for("growth", year), f.n))
        self.expected_entrants()  # what it reads is set above, for the year: enter() takes it as kept

    # ------------------------------------------------------------------ the firm stages, bound to the model's state
    def refresh_rates(self, shock_u: np.ndarray, sl: slice = slice(None)) -> None:
        """The year's rates of the firms in ``sl`` (everyone in Q1; entrants at entry), their growth
        shocks from ``shock_u`` (one uniform per firm of ``sl``, see shock_uniforms)."""
        year = self.years[min(self.q // 4, len(self.years) - 1)]
        if self._sector_shift[0] != year:  # the same all year: made at the year's first refresh
            self._sector_shift = (year, sector_shift(self.sectors, self.uncertainties, self.long_horizon, year,
                                                     self.policy_start_year))
        shift = self._sector_shift[1]
        spill = spillover(self.government.basic_research_cny_100m_this_year, self.calib.other_rd_cny_100m, self.params)
        refresh_rates(self.firms, self.growth_ctx, self.params, self.levers, q=self.q, sector_shift=shift, spillover=spill,
                      macro_shock=self.macro_shock, young_premium=self.young_premium, young_hazard=self.young_hazard,
                      shock_u=shock_u, sl=sl)

    def innovate(self, q: int) -> ProductivityGain:
        """Innovations this quarter; returns the log-productivity gains."""
        gain, n = innovate_firms(self.firms, self.params, self.rng_for("innovation", q), self.ai_ramping)
        self.counters["n_innovations"] += n / self.scale
        return gain

    def grow(self, q: int, dlogp: ProductivityGain) -> None:
        """Growth and land this quarter; the cities book what they granted and refused."""
        land = grow_firms(self.firms, self.params, self.levers, q=q, dlogp=dlogp, ctx=self.growth_ctx,
                          land_per_revenue=self.land_per_revenue, industry_sector=self.sectors.is_industry,
                          priority_sector=self.modern_sector, plot_effect=self.plot_effect,
                          budget_mu=np.array([c.budget_mu for c in self.city_agents]), rng=self.rng_for("land", q))
        # as Python floats: the same doubles, without a numpy scalar's arithmetic for each city
        allocated, refused = land.allocated_mu.tolist(), land.refused_mu.tolist()
        for c in self.city_agents:
            c.book_land(allocated[c.index], refused[c.index])
        self.counters["land_refused_mu"] += land.refused_total_mu / self.scale
        self.counters["n_land_refusals"] += land.n_refused / self.scale
        self.counters["land_allocated_mu"] += land.allocated_mu.sum() / self.scale

    def exit(self, q: int) -> None:
        """Exits this quarter."""
        self.counters["n_exits"] += exit_firms(self.firms, q, self.rng_for("exit", q)) / self.scale

    def expected_entrants(self) -> tuple[float, np.ndarray, EntryCells]:
        """Expected start-ups this quarter (firms of the scaled population), their city x sector
        weights and what places them (entry_cells), read, not written, by the callers. They change only
        with the two levers they read and the pilot zones, all set in start_year: kept while those stay
        (36 us a quarter at 10 000 firms, and 9 us for the cells), and checked once a year, at the end
        of start_year (the check itself costs 12 us, a quarter at 1 000 firms)."""
        lv = self.levers
        key = (*(getattr(lv, name) for name in ENTRY_LEVERS), self.government.pilot_zone.tobytes())
        if self._entrants is None or self._entrants[0] != key:
            expected, w = expected_entrants(
                self.params, self.levers, self.sectors, n_tech_smes=self.base["n_tech_smes"].value, scale=self.scale,
                city_weight=self.cities_table.firm_weight, sector_weight=self.entry_sector_weight,
                pilot_zone=self.government.pilot_zone)
            self._entrants = (key, (expected, w, entry_cells(w)))
        return self._entrants[1]

    def enter(self, q: int) -> None:
        """Start-ups and spin-offs this quarter, each cohort with its rates."""
        expected, _, cells = self._entrants[1]  # as start_year left them (see expected_entrants)
        first = self.firms.n
        shocks = []  # each cohort's shock uniforms, from a stream of its own
        new = enter_startups(self.firms, self.params, q=q, expected=expected, cells=cells,
                             sector_rd_intensity=self.sectors_rd_intensity, rng=self.rng_for("entry", q))
        if new is not None:
            shocks.append(shock_uniforms(self.rng_for("growth_entry", _entry_cohort(q, 0)), new.stop - new.start))
            self.counters["n_entries"] += (new.stop - new.start) / self.scale
        new = spin_off(self.firms, self.params, self.levers, self.sectors, q=q, targets=self.spin_off_targets,
                       sector_rd_intensity=self.sectors_rd_intensity, rng=self.rng_for("spinoff", q))
        if new is not None:
            shocks.append(shock_uniforms(self.rng_for("growth_entry", _entry_cohort(q, 1)), new.stop - new.start))
            self.counters["n_entries"] += (new.stop - new.start) / self.scale
            self.counters["n_spinoffs"] += (new.stop - new.start) / self.scale
        # both cohorts' rates in one call (the rows are consecutive): a spin-off's parent is never a
        # start-up, so nothing the spin-offs change is read by the start-ups' rates
        if shocks:
            self.refresh_rates(np.concatenate(shocks), slice(first, self.firms.n))

    # ------------------------------------------------------------------ recording
    def _record(self, year: int, agg: ind.SectorAggregates) -> dict[str, float]:
        return year_record(year, base_year=self.base_year, years=self.years, agg=agg, firms=self.firms,
                           firm_rd_cny_100m=firm_rd_cny_100m(self.firms, self.params, self.scale), sectors=self.sectors,
                           calib=self.calib, base_gdp_cny_100m=self.base["gdp_cny_100m"].value,
                           rest_of_economy_cny_100m=self.rest_of_economy, base_future_revenue_cny_100m=self.base_future_revenue,
                           n_national_clusters=self.government.n_national_clusters,
                           n_pilot_zones=int(self.government.pilot_zone.sum()), n_talents_active=self.talent.n_active,
                           scale=self.scale, flows=self.counters, ledger=self.government.ledger)

    def record_quarter(self, agg: ind.SectorAggregates) -> None:
        """Keep this quarter's sector aggregates (province units) for the year's record."""
        self.last_agg = agg
        self.year_agg = agg if self.year_agg is None else self.year_agg + agg

    def close_year(self, year: int) -> None:
        """The year's record (flows: the mean of the four quarterly annualised rates)."""
        self.rest_of_economy *= (1.0 + self.params.rest_of_economy_growth_pct / 100.0) * math.exp(self.macro_shock)
        agg = self.year_agg / 4.0
        self.records.append(self._record(year, agg))
        self.sector_revenue_history.append(agg.revenue_all.copy())
        self.year_agg = None
        self.counters = zero_flows()

    # ------------------------------------------------------------------ driver
    def run(self) -> pd.DataFrame:
        """Run to end_year Q4; returns one row per year (base year first) and one column per indicator."""
        while self.q < self.n_quarters:
            self.step()
        return trajectory_frame(self.records)

    def fiscal_cost_by_lever(self) -> dict[str, list[float]]:
        """CNY 100 m per simulated year, per lever that spent money."""
        return {k: v.tolist() for k, v in self.government.ledger.items()}

    # ------------------------------------------------------------------ memory
    def close(self) -> None:
        """Hand back the firm arrays and the government's pools of them now (``with SimModel(...) as
        model`` does it on leaving). The model's agents and Mesa's own machinery hold it in reference
        cycles, which Python frees only when its cycle collector runs; until then a process that
        builds model after model (an ensemble's worker, calibration, a benchmark) gives each new one
        fresh memory, which the kernel faults in page by page as the firms are written (about 9 000
        faults a 1:1 replicate, 1 200 in the first year at 100 000 firms). Freed now, the next model
        reuses these pages, which the allocator keeps (simmodel.model.allocator): 14 1:1 replicates
        in a row, set-up 51-52 -> 42-45 ms and simulation 134-140 -> 124-134 ms (medians, three
        rounds each). The records, the ledger and the funds stay; the model cannot step again."""
        self.firms = None
        self.government.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
