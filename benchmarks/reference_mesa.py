"""The firm dynamics written the idiomatic Mesa way, kept as a yardstick and as a correctness check.

``ReferenceModel`` is what simmodel would look like without the struct of arrays: one ``mesa.Agent``
per firm (``FirmAgent``), each stage a ``shuffle_do`` over the firm agents, scalar draws from the
model's ``random`` (Python's generator, seeded by Mesa from the replicate's SeedSequence), exits by
``agent.remove()``, and the per-quarter aggregates gathered by a ``mesa.DataCollector``.

What is reimplemented per agent (written again from the ODD, not called from simmodel.agents.firms):

- the yearly rates of every firm (``simmodel.model.stages.rates.refresh_rates``: expected growth with its size, age,
  equity, designation and demand-boost terms, the Laplace growth shock, the innovation and exit
  hazards), at the start of each year and at entry;
- every quarterly firm stage of ``SimModel.step`` (``simmodel.model.stages``): innovate, grow (desired growth, the land request,
  and what the firm does with the city's answer: land granted, or growth capped and a chance to
  relocate), exit, enter (start-ups and spin-offs), age;
- the quarterly sector aggregates (revenue of all and of above-size firms by sector), collected by
  a DataCollector reporter.

What is shared code, identical in both models (the few big actors, and the bookkeeping):

- the base-year population (``simmodel.population.Synthesiser``, through ``SimModel.__init__``): for
  the same seed both models start from the same firms;
- the whole yearly Q1 block ``SimModel.start_year`` except the firms' rates: cities' land budgets,
  government (funds committed, pilot zones, national clusters, grants, markets, attracted projects,
  talent incentives), funds' exits and deals, talent recruitment, the ladder's yearly moves and AI+
  adoption. They act on the firm arrays, so the reference writes its agents' state into the arrays
  before Q1 and reads it back after (``_gather`` / ``_scatter``: bookkeeping that an all-Mesa model
  would not need; timed apart and left out of the reference's cost);
- the quarterly departures of talents, the cities' allocation rule (``allocate_land``), the entry
  weights and expected number of start-ups, and the yearly indicators (``simmodel.model.record``).

The reference draws from other streams than the vectorised model (Python's ``random`` per agent,
in shuffled order; a Laplace shock as a difference of two exponentials rather than by inversion),
so the two agree in distribution, not draw for draw: ``benchmarks/bench_reference.py`` tests that
over many replicates. Known difference in order: none in the stage order; within a stage the order
of firms is random here and by index there, which no stage depends on (each firm's update in a
stage reads only its own state and the model's, except the land allocation, which both do as one
city-level decision).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict

import mesa
import numpy as np

from simmodel import indicators as ind
from simmodel.agents.cities import allocate_land
from simmodel.agents.firms import (
    FIELDS as FIRM_FIELDS,
    ABOVE_SIZE_REVENUE_CNY_100M,
    ORIGIN_SPINOFF,
    ORIGIN_STARTUP,
    TECH_SME_MAX_REVENUE_CNY_100M,
    FirmStage,
    finance_hazard_cut,
)
from simmodel.model import SimModel
from simmodel.model.stages.rates import sector_shift, spillover

FIELDS = tuple(FIRM_FIELDS)
# What the agents' own methods change (refresh_rates, innovate, plan_growth / receive_land, exit,
# maybe_spin_off, age); everything else only changes in the shared yearly block, on the arrays.
AGENT_WRITTEN = ("g_annual", "shock_q", "p_innovate_q", "p_exit_q", "n_innovations", "ai_ramp_q", "log_productivity",
                 "land_refused", "revenue", "land_mu", "city", "alive", "exit_q", "age_q")
_SMALL_FIRM_STAGES = (int(FirmStage.TECH_SME), int(FirmStage.HIGH_TECH), int(FirmStage.LITTLE_GIANT))
_HIGH_TECH = int(FirmStage.HIGH_TECH)


class FirmAgent(mesa.Agent):
    """One firm. State as plain attributes with the names (and units) of ``simmodel.agents.firms``;
    ``row`` is its row in the shared firm arrays (None until the next gather, for an entrant)."""

    def __init__(self, model: ReferenceModel, row: int | None = None, **state):
        super().__init__(model)
        self.row = row
        for name in FIELDS:  # a new firm starts from zeros, as a new row of the arrays does
            setattr(self, name, 0)
        self.alive = True
        self.exit_q = -1
        self.dlogp = 0.0  # log-productivity gained this quarter
        for name, value in state.items():
            setattr(self, name, value)

    # ---------------------------------------------------------------- yearly
    def refresh_rates(self) -> None:
        """This year's expected growth (per yr), growth shock (log points per quarter), and the
        quarterly probabilities of an innovation and of exit."""
        m = self.model
        c = m.rates_ctx
        p = m.params
        s = self.sector
        logr = math.log(max(self.revenue, 1e-6))
        age = min(self.age_q, c.max_age)
        g = c.drift[s] + p.growth_size_slope * (logr - c.size_center[s]) + c.young_premium[age]
        if self.equity > 0:
            g += p.fund_equity_growth_boost * min(self.equity / max(self.revenue, 1e-6), 1.0)
        if self.designated:
            g += p.designation_growth_boost
        if self.boost_until_q > c.q:
            g += self.boost
        self.g_annual = g + c.macro_shock
        # Laplace(0, 1) as the difference of two unit exponentials
        shock = self.random.expovariate(1.0) - self.random.expovariate(1.0)
        scale = min(max(p.growth_laplace_scale_annual * math.exp(-p.growth_volatility_size_elasticity * logr), p.growth_laplace_scale_min),
                    p.growth_laplace_scale_max)
        self.shock_q = 0.25 * scale * shock
        rd = p.subsidy_additionality * self.grant_rd + self.rd_intensity * self.revenue
        lam = (max(rd, 1e-12) / c.rd_reference[s]) ** p.innovation_rd_elasticity * p.innovation_base_annual * c.spillover
        if self.talent:
            lam *= 1.0 + p.talent_innovation_boost * self.talent
        self.p_innovate_q = -math.expm1(-lam / 4.0)
        h = p.exit_hazard_base_annual * math.exp(-p.exit_size_elasticity * logr) * c.young_hazard[age]
        if self.n_investors > 0:
            h *= p.fund_funded_hazard_multiplier
        if self.penalty_until_q > c.q:
            h *= p.fund_early_exit_hazard_multiplier
        if c.small_firm_reduction and self.stage in _SMALL_FIRM_STAGES and self.revenue < TECH_SME_MAX_REVENUE_CNY_100M:
            h *= 1.0 - c.small_firm_reduction
        self.p_exit_q = -math.expm1(-min(h, p.exit_hazard_cap_annual) / 4.0)

    # ---------------------------------------------------------------- quarterly
    def innovate(self) -> None:
        m = self.model
        gain = 0.0
        if self.random.random() < self.p_innovate_q:
            gain = m.params.innovation_step_mean * self.random.expovariate(1.0)
            self.n_innovations += 1
            m.counters["n_innovations"] += 1.0 / m.scale
        if self.ai_ramp_q > 0:
            gain += m.params.ai_plus_productivity_gain / 4.0
            self.ai_ramp_q -= 1
        self.log_productivity += gain
        self.dlogp = gain

    def plan_growth(self) -> None:
        """Grow as desired, unless an industrial above-size firm outgrows its land: then ask the city."""
        m = self.model
        desired = self.revenue * math.exp(0.25 * self.g_annual + self.shock_q + self.dlogp)
        self.land_refused = False
        if desired >= ABOVE_SIZE_REVENUE_CNY_100M and m.industry[self.sector]:
            slack = 1.0 + m.params.land_capacity_slack
            need = desired * m.land_per_revenue_by_sector[self.sector] / m.plot_effect
            if need > self.land_mu * slack:
                m.land_requests.append((self, need * slack - self.land_mu, desired))
                return
        self.revenue = desired

    def receive_land(self, granted: bool, request_mu: float, desired: float) -> None:
        """The city's answer: with land the firm grows as desired; without, up to what its land
        supports plus a share of the rest, and it may move to the city with most land left."""
        m = self.model
        p = m.params
        if granted:
            self.land_mu += request_mu
            self.revenue = desired
            return
        self.land_refused = True
        s = self.sector
        cap = self.land_mu * (1.0 + p.land_capacity_slack) * m.plot_effect / (m.land_per_va[s] * m.va_ratio[s])
        floor = min(desired, max(cap, self.revenue))
        self.revenue = floor + p.land_refused_growth_share * (desired - floor)
        m.refused_by_city[self.city] += request_mu
        if self.random.random() < p.land_relocation_prob:
            self.city = m.city_with_most_land

    def exit(self) -> None:
        m = self.model
        if self.random.random() < self.p_exit_q:
            self.alive = False
            self.exit_q = m.q
            m.counters["n_exits"] += 1.0 / m.scale
            m.exited.append(self)
            self.remove()

    def maybe_spin_off(self) -> None:
        """A high-tech (or higher) firm founds a spin-off (art. 4) that takes a share of its revenue."""
        m = self.model
        if self.stage < _HIGH_TECH or self.random.random() >= m.p_spinoff_q:
            return
        p = m.params
        same = m.modern[self.sector] and self.random.random() < p.spinoff_same_sector_prob
        sector = self.sector if same else self.random.choices(m.spinoff_sectors, cum_weights=m.spinoff_cum_w)[0]
        crev = self.revenue * p.spinoff_revenue_share
        self.revenue -= crev
        child = FirmAgent(m, sector=sector, city=self.city, stage=int(FirmStage.TECH_SME), revenue=crev,
                          revenue_year_start=crev, log_productivity=self.log_productivity,
                          rd_intensity=m.sector_rd[sector], entry_q=m.q, origin=ORIGIN_SPINOFF, land_mu=0.0,
                          boost_until_q=-1, penalty_until_q=-1)
        child.refresh_rates()
        m.counters["n_entries"] += 1.0 / m.scale
        m.counters["n_spinoffs"] += 1.0 / m.scale

    def age(self) -> None:
        self.age_q += 1


# ---------------------------------------------------------------------- DataCollector reporters
def n_firm_agents(model: ReferenceModel) -> int:
    """Firms alive (agents, not province units)."""
    return len(model.agents_by_type[FirmAgent])


def sector_revenue_cny_100m(model: ReferenceModel) -> tuple[list[float], list[float]]:
    """(revenue of above-size firms, revenue of all firms) by sector, CNY 100 m per yr, population units."""
    above = [0.0] * model.sectors.n
    total = [0.0] * model.sectors.n
    for a in model.agents_by_type[FirmAgent]:
        total[a.sector] += a.revenue
        if a.revenue >= ABOVE_SIZE_REVENUE_CNY_100M:
            above[a.sector] += a.revenue
    return above, total


class _RatesContext:
    """Model-level constants the firms read when they set their yearly rates (lists: the agents
    index them with Python ints)."""

    def __init__(self, model: ReferenceModel):
        year = model.years[min(model.q // 4, len(model.years) - 1)]
        ctx = model.growth_ctx
        self.q = model.q
        shift = sector_shift(model.sectors, model.uncertainties, model.long_horizon, year, model.policy_start_year)
        self.drift = (ctx.drift_annual + shift).tolist()
        self.size_center = ctx.size_center.tolist()
        self.rd_reference = ctx.rd_reference.tolist()
        self.young_premium = model.young_premium.tolist()
        self.young_hazard = model.young_hazard.tolist()
        self.max_age = len(self.young_premium) - 1
        self.spillover = spillover(model.government.basic_research_cny_100m_this_year, model.calib.other_rd_cny_100m,
                                   model.params)
        self.macro_shock = model.macro_shock
        self.small_firm_reduction = finance_hazard_cut(model.params, model.levers.small_firm_finance_index)


class ReferenceModel(SimModel):
    """SimModel with its firms as Mesa agents (see the module docstring). ``timings`` holds seconds
    by part: the per-agent firm stages, the shared yearly block, and the array sync (overhead of the
    comparison, not of the idiomatic way)."""

    def __init__(self, *args, **kwargs):
        self.timings: dict[str, float] = defaultdict(float)
        self._scatter_ready = False
        super().__init__(*args, **kwargs)
        s = self.sectors
        self.industry = s.is_industry.tolist()
        self.modern = (s.emerging | s.is_future).tolist()
        self.land_per_revenue_by_sector = self.land_per_revenue.tolist()
        self.land_per_va = self.growth_ctx.land_per_va.tolist()
        self.va_ratio = self.growth_ctx.va_ratio.tolist()
        self.sector_rd = self.sectors_rd_intensity.tolist()
        targets = np.flatnonzero(s.emerging | s.is_future)
        self.spinoff_sectors = targets.tolist()
        self.spinoff_cum_w = np.cumsum(self.base_sector_revenue[targets]).tolist()
        self.agent_of_row: dict[int, FirmAgent] = {}
        self.exited: list[FirmAgent] = []
        self.land_requests: list[tuple[FirmAgent, float, float]] = []
        self.rates_ctx: _RatesContext | None = None
        self.datacollector = mesa.DataCollector(model_reporters={
            "n_firms": n_firm_agents, "sector_revenue_cny_100m": sector_revenue_cny_100m})
        self._scatter_ready = True
        self._scatter(FIELDS)

    def firm_agents(self) -> mesa.agentset.AbstractAgentSet:
        """The live firm agents."""
        return self.agents_by_type[FirmAgent]

    # ---------------------------------------------------------------- array sync (shared code's view)
    def _scatter(self, names: tuple[str, ...]) -> None:
        """Copy the arrays' state of every alive firm into its agent, creating agents for new rows."""
        t = time.perf_counter()
        f = self.firms
        rows = np.flatnonzero(f.alive).tolist()
        agents = []
        for row in rows:
            a = self.agent_of_row.get(row)
            if a is None:
                a = self.agent_of_row[row] = FirmAgent(self, row)
            agents.append(a)
        for name in names:
            values = getattr(f, name)[rows].tolist()
            for a, v in zip(agents, values):
                setattr(a, name, v)
        self.timings["sync"] += time.perf_counter() - t

    def _gather(self) -> None:
        """Write every agent's state (and the exits) into the arrays; entrants get new rows."""
        t = time.perf_counter()
        f = self.firms
        live = list(self.agents_by_type[FirmAgent])
        old = [a for a in live if a.row is not None] + self.exited
        new = [a for a in live if a.row is None]
        rows = np.array([a.row for a in old], dtype=np.int64)
        for name in AGENT_WRITTEN:
            getattr(f, name)[rows] = [getattr(a, name) for a in old]
        if new:
            sl = f.add(len(new), **{name: [getattr(a, name) for a in new] for name in FIELDS})
            for a, row in zip(new, range(sl.start, sl.stop)):
                a.row = row
                self.agent_of_row[row] = a
        for a in self.exited:
            del self.agent_of_row[a.row]
        self.exited = []
        self.timings["sync"] += time.perf_counter() - t

    # ---------------------------------------------------------------- rates
    def refresh_rates(self, rng: np.random.Generator, sl: slice = slice(None)) -> None:
        """Called by the shared start_year: for everyone at its end (then the agents set their own
        rates), and for attracted projects before it (skipped: the end-of-block call covers them)."""
        if not self._scatter_ready or sl != slice(None):
            return
        self._scatter(FIELDS)
        t = time.perf_counter()
        self.rates_ctx = _RatesContext(self)
        self.agents_by_type[FirmAgent].do("refresh_rates")
        self.timings["refresh_rates"] += time.perf_counter() - t

    # ---------------------------------------------------------------- the step
    def step(self) -> None:
        q = self.q
        year = self.years[q // 4]
        t0 = time.perf_counter()
        sync0 = self.timings["sync"]
        if q % 4 == 0:
            rates0 = self.timings["refresh_rates"]
            self.start_year(year)
            shared = time.perf_counter() - t0 - (self.timings["sync"] - sync0) - (self.timings["refresh_rates"] - rates0)
            self.timings["start_year_shared"] += shared
        t = time.perf_counter()
        self.talent.retain(self.firms, self.params.talent_leave_rate_annual, self.levers.talent_incentive_cny_10k_per_year,
                           self.params.talent_incentive_half_effect_cny_10k, self.rng_for("talent", 10_000 + q))
        self.timings["talent_shared"] += time.perf_counter() - t
        self._scatter(("talent",))
        firms = self.agents_by_type[FirmAgent]  # the live set: exits and entries update it in place
        self._timed("innovate", firms.shuffle_do, "innovate")
        self._timed("grow", self.grow_firms, q)
        self._timed("exit", firms.shuffle_do, "exit")
        self._timed("enter", self.enter_firms, q)
        self._timed("age", firms.do, "age")
        self._timed("collect", self.datacollector.collect, self)
        self._gather()
        t = time.perf_counter()
        self.talent.release_dead(self.firms)
        above, total = self.datacollector.model_vars["sector_revenue_cny_100m"][-1]
        above = np.asarray(above) / self.scale
        total = np.asarray(total) / self.scale
        va = self.calib.va_ratio
        agg = ind.SectorAggregates(revenue_above=above, va_above=above * va, revenue_all=total, va_all=total * va)
        self.record_quarter(agg)
        if q % 4 == 3:
            self.close_year(year)
        self.timings["record_shared"] += time.perf_counter() - t
        self.q += 1

    def _timed(self, name: str, fn, *args) -> None:
        t = time.perf_counter()
        fn(*args)
        self.timings[name] += time.perf_counter() - t

    def grow_firms(self, q: int) -> None:
        """Firms plan their growth; the cities answer the land requests together (shared rule);
        each requesting firm then acts on its answer."""
        self.land_requests = []
        self.agents_by_type[FirmAgent].shuffle_do("plan_growth")
        reqs = self.land_requests
        self.refused_by_city = [0.0] * len(self.city_agents)
        if not reqs:
            return
        s = self.sectors
        request = np.array([r[1] for r in reqs])
        city = np.array([r[0].city for r in reqs], dtype=np.int64)
        sector = np.array([r[0].sector for r in reqs], dtype=np.int64)
        efficiency = np.array([r[0].log_productivity for r in reqs])
        budget = np.array([c.budget_mu for c in self.city_agents]) / (4 - q % 4)
        granted, used = allocate_land(request, city, s.emerging[sector] | s.is_future[sector], efficiency, budget,
                                      self.levers.land_priority_emerging_pct / 100.0)
        for c in self.city_agents:
            c.budget_mu -= used[c.index]
            c.allocated_mu += used[c.index]
        self.city_with_most_land = int(np.argmax([c.budget_mu for c in self.city_agents]))
        for (agent, req, desired), ok in zip(reqs, granted.tolist()):
            agent.receive_land(ok, req, desired)
        for c in self.city_agents:
            c.refused_mu += self.refused_by_city[c.index]
        n_ko = int((~granted).sum())
        if n_ko:
            self.counters["land_refused_mu"] += float(request[~granted].sum()) / self.scale
            self.counters["n_land_refusals"] += n_ko / self.scale
        self.counters["land_allocated_mu"] += float(used.sum()) / self.scale

    def enter_firms(self, q: int) -> None:
        """Start-ups (as many as SimModel expects, placed by its weights) and spin-offs."""
        p, s, lv = self.params, self.sectors, self.levers
        self.rates_ctx = _RatesContext(self) if self.rates_ctx is None or self.rates_ctx.q // 4 != q // 4 else self.rates_ctx
        self.rates_ctx.q = q
        expected, w, _ = self.expected_entrants()  # shared: how many start-ups and where (SimModel)
        n = int(self.rng.poisson(expected))
        if n:
            cells = self.random.choices(range(w.size), cum_weights=np.cumsum(w.ravel()).tolist(), k=n)
            mu = math.log(p.entrant_revenue_median_cny_100m)
            cap = ABOVE_SIZE_REVENUE_CNY_100M * 0.999
            for cell in cells:
                city, sector = divmod(cell, s.n)
                rev = min(self.random.lognormvariate(mu, p.entrant_revenue_sigma), cap)
                a = FirmAgent(self, sector=sector, city=city, stage=int(FirmStage.STARTUP), revenue=rev,
                              revenue_year_start=rev, log_productivity=self.random.gauss(0.0, p.base_productivity_dispersion),
                              rd_intensity=self.sector_rd[sector], entry_q=q, origin=ORIGIN_STARTUP,
                              boost_until_q=-1, penalty_until_q=-1)
                a.refresh_rates()
            self.counters["n_entries"] += n / self.scale
        rate = lv.spinoff_rate_pct_per_year / 100.0
        if rate > 0:
            self.p_spinoff_q = -math.expm1(-rate / 4.0)
            self.agents_by_type[FirmAgent].shuffle_do("maybe_spin_off")


def firm_stage_seconds(timings: dict[str, float]) -> float:
    """Seconds the reference spent in its own (per-agent) firm stages."""
    return sum(timings[k] for k in ("refresh_rates", "innovate", "grow", "exit", "enter", "age", "collect"))
