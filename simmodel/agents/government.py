"""The provincial government: applies the levers each year and books every yuan it spends.

Fiscal cost is booked per lever and per year in CNY 100 m, in province-equivalent units (amounts
spent on a scaled population are divided by the scale), so costs do not depend on
``population.scale``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from simmodel.agents.firms import ORIGIN_ATTRACTED, FirmStage, choose_top, stage_mask
from simmodel.sectors import MOTHER_FUNDS, SectorGroup

if TYPE_CHECKING:
    from simmodel.model import SimModel

CNY_10K_PER_CNY_100M = 10_000.0

# Firm-grant programmes: (count lever, amount lever, amount is an "up to" cap, eligible pool).
GRANT_PROGRAMMES: tuple[tuple[str, str, bool, str], ...] = (
    ("n_chain_projects_per_year", "chain_project_grant_cny_10k", False, "emerging_high_tech"),
    ("n_open_competition_tasks_per_year", "open_competition_grant_cny_10k", False, "pilot_zone"),
    ("n_key_tech_projects_per_year", "key_tech_grant_cap_cny_10k", True, "high_tech"),
    ("n_innovation_consortia_per_year", "consortium_grant_cap_cny_10k", True, "leaders"),
    ("n_province_local_projects_per_year", "province_local_grant_cap_cny_10k", True, "high_tech"),
    ("n_pilot_platforms_provincial_per_year", "pilot_platform_grant_provincial_cny_10k", False, "high_tech_above_size"),
    ("n_pilot_platforms_national_per_year", "pilot_platform_grant_national_cny_10k", False, "high_tech_above_size"),
    ("n_patent_projects_per_year", "patent_project_grant_cny_10k", True, "tech"),
    ("n_patent_bases_per_year", "patent_base_grant_cny_10k", True, "high_tech"),
    ("n_future_type_firms_per_year", "future_type_firm_grant_cny_10k", False, "future"),
)
# Levers whose spending is an equity commitment (recoverable in principle), not a grant.
EQUITY_LEVERS = ("provincial_fund_commitment_cny_100m_per_year", "future_industry_fund_cny_100m", "state_vc_fund_cny_100m")

_HIGH_TECH_UP = (FirmStage.HIGH_TECH, FirmStage.LITTLE_GIANT, FirmStage.SINGLE_CHAMPION)


def stochastic_round(x: float, rng: np.random.Generator) -> int:
    """Round x up with probability equal to its fractional part (unbiased at small scales)."""
    base = math.floor(x)
    return int(base + (rng.uniform() < x - base))


class Government(mesa.Agent):
    def __init__(self, model: "SimModel"):
        super().__init__(model)
        self.ledger: dict[str, np.ndarray] = {}
        self.cum_basic_research_cny_100m = 0.0
        self.basic_research_cny_100m_this_year = 0.0
        self.n_national_clusters = 0
        self.pilot_zone = np.zeros((0, 0), dtype=bool)  # city x sector
        self.n_pilot_zones_removed = 0
        self._pool_cache: dict = {}
        self._score_key: tuple | None = None
        self._score = np.zeros(0)

    # ---------------------------------------------------------------- bookkeeping
    def book(self, lever: str, year: int, amount_cny_100m: float) -> None:
        m: SimModel = self.model
        if lever not in self.ledger:
            self.ledger[lever] = np.zeros(len(m.years))
        self.ledger[lever][year - m.years[0]] += amount_cny_100m

    # ---------------------------------------------------------------- selection
    def pool(self, name: str) -> np.ndarray:
        """Eligible firms of a named pool (cached for the current year's Q1 decisions)."""
        key = (self.model.q, self.model.firms.n, name)
        if key not in self._pool_cache:
            self._pool_cache = {k: v for k, v in self._pool_cache.items() if k[:2] == key[:2]}
            self._pool_cache[key] = self._pool(name)
        return self._pool_cache[key]

    def _pool(self, name: str) -> np.ndarray:
        m: SimModel = self.model
        f = m.firms
        st = f.stage
        if name == "emerging_high_tech":
            mask = m.sectors.emerging[f.sector] & stage_mask(st, *_HIGH_TECH_UP)
        elif name == "pilot_zone":
            # one flat lookup with an intp index (a 2-D lookup with the int8 city is 4x slower)
            mask = self.pilot_zone.ravel()[f.city.astype(np.intp) * self.pilot_zone.shape[1] + f.sector]
        elif name == "high_tech":
            mask = stage_mask(st, *_HIGH_TECH_UP)
        elif name == "leaders":
            mask = stage_mask(st, FirmStage.LITTLE_GIANT, FirmStage.SINGLE_CHAMPION)
        elif name == "high_tech_above_size":
            mask = stage_mask(st, *_HIGH_TECH_UP) & f.above_size
        elif name == "tech":
            mask = stage_mask(st, FirmStage.TECH_SME, FirmStage.HIGH_TECH, FirmStage.LITTLE_GIANT)
        elif name == "future":
            mask = m.sectors.is_future[f.sector] & stage_mask(st, FirmStage.STARTUP, FirmStage.TECH_SME, FirmStage.HIGH_TECH)
        elif name == "emerging_or_future":
            mask = (m.sectors.emerging | m.sectors.is_future)[f.sector] & (st != FirmStage.STARTUP)
        elif name == "above_size":
            mask = f.above_size
        else:
            raise KeyError(name)
        return mask & f.alive

    def _base_score(self) -> np.ndarray:
        """Selection score without noise, once per decision round: the firm's standardised log
        productivity and, with the foresight weight (art. 5), its sector's standardised prospects."""
        m: SimModel = self.model
        key = (m.q, m.firms.n)
        if self._score_key != key:
            f = m.firms
            w = m.levers.foresight_targeting_weight
            lp = f.log_productivity
            alive = f.alive
            mu, sd = lp[alive].mean(), lp[alive].std() + 1e-12
            self._score = (1.0 - w) * (lp - mu) / sd + w * m.sector_prospects()[f.sector]
            self._score_key = key
        return self._score

    def select_recipients(self, pool: np.ndarray, k: int, rng: np.random.Generator, future_share: float) -> np.ndarray:
        """Choose k firms from pool: a reserved share from future industries (art. 8), the rest by
        a score mixing the firm's productivity and, with the foresight weight (art. 5), its
        sector's growth prospects, plus screening noise."""
        m: SimModel = self.model
        idx = np.flatnonzero(pool)
        if idx.size == 0 or k <= 0:
            return idx[:0]
        score = self._base_score()[idx]
        score += rng.random(idx.size)  # uniform on [0, 1)
        k_future = int(round(k * future_share))
        if k_future == 0:
            return choose_top(idx, score, k)
        fut = m.sectors.is_future[m.firms.sector[idx]]
        first = choose_top(idx[fut], score[fut], k_future)
        second = choose_top(idx[~fut], score[~fut], k - first.size)
        chosen = np.concatenate((first, second))
        if chosen.size < k:  # not enough firms of one kind: fill from the other
            left = np.ones(idx.size, bool)
            left[np.searchsorted(idx, chosen)] = False
            chosen = np.concatenate((chosen, choose_top(idx[left], score[left], k - chosen.size)))
        return chosen

    # ---------------------------------------------------------------- yearly actions
    def award_grants(self, year: int, rng: np.random.Generator) -> None:
        """Firm grants of arts. 2, 6, 13, 14, 17 and compute vouchers (art. 24); grants are spent
        on R&D over the year with the additionality of the parameters."""
        m: SimModel = self.model
        f = m.firms
        lv = m.levers
        f.grant_rd[:] = 0.0
        # a future-type designation lasts future_type_support_years from selection, then lapses
        np.logical_and(f.future_type, f.future_type_until_q > m.q, out=f.future_type)
        share = lv.future_industry_funding_share_pct / 100.0
        for count_lever, amount_lever, is_cap, pool_name in GRANT_PROGRAMMES:
            n = getattr(lv, count_lever)
            amount = getattr(lv, amount_lever) / CNY_10K_PER_CNY_100M
            if is_cap:
                amount *= m.params.grant_cap_utilisation
            k = stochastic_round(n * m.scale, rng)
            if k == 0 or amount <= 0:
                continue
            fut_share = 1.0 if pool_name == "future" else share
            chosen = self.select_recipients(self.pool(pool_name), k, rng, fut_share)
            f.grant_rd[chosen] += amount
            if pool_name == "future":
                f.designated[chosen] = True
                f.future_type[chosen] = True
                f.future_type_until_q[chosen] = m.q + int(round(4 * m.params.future_type_support_years))
            self.book(count_lever, year, chosen.size * amount / m.scale)
        voucher = lv.compute_voucher_cny_100m_per_year
        if voucher > 0:
            dig = f.alive & (m.sectors.digital_core_share[f.sector] >= m.params.compute_voucher_min_digital_share)
            if dig.any():
                w = f.revenue * dig
                f.grant_rd += voucher * m.scale * w / w.sum()
                self.book("compute_voucher_cny_100m_per_year", year, voucher)

    def fund_basic_research(self, year: int) -> None:
        """Basic-research grants (art. 12) go to universities and institutes; firms gain through
        spillover in the same year (see SimModel.spillover)."""
        lv = self.model.levers
        mix = lv.applied_basic_research_share_pct / 100.0
        mean_grant = mix * lv.applied_basic_research_grant_cap_cny_10k + (1 - mix) * lv.natural_science_grant_cap_cny_10k
        cost = lv.n_basic_research_grants_per_year * mean_grant * self.model.params.grant_cap_utilisation / CNY_10K_PER_CNY_100M
        self.cum_basic_research_cny_100m += cost
        self.basic_research_cny_100m_this_year = cost
        if cost > 0:
            self.book("n_basic_research_grants_per_year", year, cost)

    def open_markets(self, q: int, rng: np.random.Generator) -> None:
        """Flagship products (art. 18), flagship scenarios (art. 19), quality certification (art. 20):
        one-year demand boosts for the chosen firms."""
        m: SimModel = self.model
        f = m.firms
        lv = m.levers
        expired = f.boost_until_q <= q
        f.boost[expired] = 0.0
        for n, pool_name, boost in (
            (lv.n_flagship_products_per_year, "emerging_or_future", m.params.flagship_demand_boost),
            (lv.n_flagship_scenarios_per_year, "emerging_or_future", m.params.flagship_demand_boost),
            (lv.n_quality_certifications_per_year, "above_size", m.params.quality_brand_demand_boost),
        ):
            k = stochastic_round(n * m.scale, rng)
            if k == 0:
                continue
            chosen = self.select_recipients(self.pool(pool_name), k, rng, 0.0)
            f.boost[chosen] += boost
            f.boost_until_q[chosen] = q + 4

    def attract_projects(self, year: int, rng: np.random.Generator) -> int:
        """Targeted investment attraction (art. 16): new above-size firms in emerging clusters, if
        a city has land for them this year. Returns the number created."""
        m: SimModel = self.model
        lv = m.levers
        k = stochastic_round(lv.n_attracted_projects_per_year * m.scale, rng)
        if k == 0:
            return 0
        emerging = np.flatnonzero(m.sectors.group == SectorGroup.EMERGING)
        w = m.base_sector_revenue[emerging]
        sector = emerging[rng.choice(emerging.size, size=k, p=w / w.sum())]
        city = rng.choice(m.cities_table.n, size=k, p=m.cities_table.firm_weight)
        revenue = m.synth.draw_above_size_revenue(rng, k)
        va = revenue * m.growth_ctx.va_ratio[sector]
        need = va * m.growth_ctx.land_per_va[sector] / m.plot_effect
        budget = np.array([c.budget_mu for c in m.city_agents])
        ok = np.zeros(k, bool)
        for i in range(k):  # k is tens a year: a Python loop over projects, not firms
            if not m.sectors.is_industry[sector[i]] or need[i] <= budget[city[i]]:
                ok[i] = True
                if m.sectors.is_industry[sector[i]]:
                    budget[city[i]] -= need[i]
        for c in m.city_agents:
            used = c.budget_mu - budget[c.index]
            c.allocated_mu += used
            c.budget_mu = budget[c.index]
        n_ok = int(ok.sum())
        if n_ok:
            new = m.firms.add(
                n_ok, sector=sector[ok], city=city[ok], stage=int(FirmStage.CONVENTIONAL), revenue=revenue[ok],
                log_productivity=rng.normal(0.0, m.params.base_productivity_dispersion, n_ok),
                rd_intensity=m.sectors_rd_intensity[sector[ok]],
                land_mu=np.where(m.sectors.is_industry[sector[ok]], need[ok], 0.0),
                entry_q=m.q, origin=ORIGIN_ATTRACTED, revenue_year_start=revenue[ok], age_q=0,
                penalty_until_q=-1, boost_until_q=-1)
            m.refresh_rates(m.rng_for("growth_entry", 10 * m.q + 2), new)
            self.book("n_attracted_projects_per_year", year, n_ok * lv.attraction_grant_cny_10k_per_project / CNY_10K_PER_CNY_100M / m.scale)
        return n_ok

    def bid_national_clusters(self, year: int, rng: np.random.Generator) -> int:
        """National advanced-manufacturing cluster competition (art. 1, T4), decided by the ministry,
        not the province. A round is held in a year with probability national_cluster_round_prob_annual
        (rounds in 2021, 2022 and 2024) and names about national_cluster_winners_per_round winners
        nationally (25, 20, 35). Each winner is a Zhejiang cluster with odds set by Zhejiang's share of
        the winners so far (8 of 80), the quality of its bids (art. 1 lever, elasticity
        national_cluster_bid_elasticity), and its emerging clusters' scale and innovation relative to the
        base year. Zhejiang can win no more than its candidate core areas not yet national."""
        m: SimModel = self.model
        p = m.params
        if rng.random() >= p.national_cluster_round_prob_annual:
            return 0
        n_round = stochastic_round(p.national_cluster_winners_per_round, rng)
        strength = (m.emerging_revenue_now() / m.base_emerging_revenue) ** p.national_cluster_strength_elasticity
        strength *= math.exp(p.national_cluster_innovation_elasticity * (m.emerging_productivity_now() - m.base_emerging_productivity))
        share = p.national_cluster_zhejiang_share
        odds = share / (1.0 - share) * m.levers.national_cluster_bid_intensity ** p.national_cluster_bid_elasticity * strength
        pool_left = int(m.base["n_provincial_cluster_core_areas"].value) - self.n_national_clusters
        wins = min(int(rng.binomial(n_round, odds / (1.0 + odds))), max(pool_left, 0))
        self.n_national_clusters += wins
        return wins

    def designate_pilot_zones(self, year: int, rng: np.random.Generator) -> int:
        """Future-industry pilot zones (art. 6, T5), an administrative act limited by what qualifies.
        Existing zones are evaluated (some removed); in a year with a designation batch (probability
        pilot_zone_batch_prob_annual: three batches in 2022-2025) the province designates up to its
        planned number (lever) among the (city, future sector) places that meet the programme's
        criteria (enough future-industry firms with enough revenue), best-qualified first. How many
        zones exist by a year is what the qualifying places and the batches allow."""
        m: SimModel = self.model
        p = m.params
        lv = m.levers
        zones = np.argwhere(self.pilot_zone)
        if zones.size and p.pilot_zone_removal_rate_annual > 0:
            drop = rng.uniform(size=len(zones)) < p.pilot_zone_removal_rate_annual
            self.pilot_zone[zones[drop, 0], zones[drop, 1]] = False
            self.n_pilot_zones_removed += int(drop.sum())
        if rng.random() >= p.pilot_zone_batch_prob_annual or lv.pilot_zones_planned_per_batch <= 0:
            return 0
        cand, merit = m.pilot_zone_candidates()
        cand &= ~self.pilot_zone
        cells = np.argwhere(cand)
        if cells.size == 0:
            return 0
        order = np.lexsort((rng.uniform(size=len(cells)), -merit[cand]))  # best first, ties at random
        chosen = cells[order[: lv.pilot_zones_planned_per_batch]]
        self.pilot_zone[chosen[:, 0], chosen[:, 1]] = True
        return len(chosen)

    def commit_funds(self, year: int) -> None:
        """New government fund vintages (art. 22): a provincial vintage every year; the
        future-industry fund and the state venture funds in the policy's first year; in a replay from
        an earlier base year, the mother funds in the year they were set up (their base-year row's)."""
        m: SimModel = self.model
        lv = m.levers
        for kind, q in MOTHER_FUNDS.items():
            if m.base[q].year == year:
                m.make_fund(kind, year, m.base[q].value, None, life_years=lv.fund_life_years)
        if lv.provincial_fund_commitment_cny_100m_per_year > 0:
            m.make_fund("provincial", year, lv.provincial_fund_commitment_cny_100m_per_year,
                        "provincial_fund_commitment_cny_100m_per_year", life_years=lv.fund_life_years)
            self.book("provincial_fund_commitment_cny_100m_per_year", year, lv.provincial_fund_commitment_cny_100m_per_year)
        if year == m.policy_start_year:
            for kind, lever in (("future", "future_industry_fund_cny_100m"), ("state_vc", "state_vc_fund_cny_100m")):
                size = getattr(lv, lever)
                if size > 0:
                    m.make_fund(kind, year, size, lever, life_years=lv.fund_life_years)
                    self.book(lever, year, size)
        m.make_fund("private_vc", year, m.params.private_vc_commitment_cny_100m_per_year, None,
                    life_years=m.params.private_vc_life_years)

    def pay_talent_incentives(self, year: int, n_active: int) -> None:
        m: SimModel = self.model
        cost = n_active * m.levers.talent_incentive_cny_10k_per_year / CNY_10K_PER_CNY_100M / m.scale
        if cost > 0:
            self.book("talent_incentive_cny_10k_per_year", year, cost)

    def pay_renovation(self, year: int, renovated_mu: float) -> None:
        m: SimModel = self.model
        cost = renovated_mu * m.params.land_renovation_cost_cny_10k_per_mu / CNY_10K_PER_CNY_100M / m.scale
        if cost > 0:
            self.book("land_renovation_mu_per_year", year, cost)
