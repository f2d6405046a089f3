"""The provincial government: applies the levers each year and books every yuan it spends.

The government is a Mesa agent that acts on what it is handed (the firm arrays, the levers, the
parameters, a random generator): it never reads the model it belongs to.

Fiscal cost is booked per lever and per year in CNY 100 m, in province-equivalent units (amounts
spent on a scaled population are divided by the scale), so costs do not depend on
``population.scale``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import mesa
import numpy as np

from simmodel import kernels
from simmodel.agents.cities import City
from simmodel.agents.firms import (ABOVE_SIZE_REVENUE_CNY_100M, ORIGIN_ATTRACTED, FirmStage, Firms, GrowthContext,
                                   categorical, nth_highest, stage_bits, top_positions)
from simmodel.agents.funds import FundCommitment
from simmodel.data import BaseQuantity
from simmodel.levers import Levers
from simmodel.params import Params
from simmodel.sectors import MOTHER_FUNDS, SectorGroup, SectorTable

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
_ANY_STAGE = tuple(FirmStage)

# The government's pools, by name: the alive firms of the stages listed, of a sector with one of the
# flags given (bit 0 emerging, bit 1 future industry, bit 2 a pilot zone somewhere; 0: any sector),
# above size where the third is True, in a city and sector with a pilot zone where the fourth is.
POOL_RULES: dict[str, tuple[tuple[FirmStage, ...], int, bool, bool]] = {
    "emerging_high_tech": (_HIGH_TECH_UP, 1, False, False),
    "pilot_zone": (_ANY_STAGE, 4, False, True),
    "high_tech": (_HIGH_TECH_UP, 0, False, False),
    "leaders": ((FirmStage.LITTLE_GIANT, FirmStage.SINGLE_CHAMPION), 0, False, False),
    "high_tech_above_size": (_HIGH_TECH_UP, 0, True, False),
    "tech": ((FirmStage.TECH_SME, FirmStage.HIGH_TECH, FirmStage.LITTLE_GIANT), 0, False, False),
    "future": ((FirmStage.STARTUP, FirmStage.TECH_SME, FirmStage.HIGH_TECH), 2, False, False),
    "emerging_or_future": (tuple(st for st in FirmStage if st != FirmStage.STARTUP), 3, False, False),
    "above_size": (_ANY_STAGE, 0, True, False),
}
_POOL_INDEX = {name: p for p, name in enumerate(POOL_RULES)}
# the rules as the columns kernels.pool_masks reads: stage bits, sector flags, above size, pilot zone
_POOL_COLUMNS = (np.array([stage_bits(*r[0]) for r in POOL_RULES.values()], np.int64),
                 np.array([r[1] for r in POOL_RULES.values()], np.uint8),
                 np.array([r[2] for r in POOL_RULES.values()], np.bool_),
                 np.array([r[3] for r in POOL_RULES.values()], np.bool_))


def stochastic_round(x: float, rng: np.random.Generator) -> int:
    """Round x up with probability equal to its fractional part (unbiased at small scales)."""
    base = math.floor(x)
    return int(base + (rng.uniform() < x - base))


def stochastic_round_all(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """stochastic_round of every element of x, with one draw (int64 array)."""
    base = np.floor(x)
    return (base + (rng.random(x.size) < x - base)).astype(np.int64)


def pilot_zone_candidates(firms: Firms, is_future: np.ndarray, n_cities: int, params: Params,
                          scale: float) -> tuple[np.ndarray, np.ndarray]:
    """(qualifies, merit) per (city, sector): a place meets the pilot-zone programme's criteria
    when it is a future-industry sector with at least pilot_zone_min_future_firms alive firms whose
    revenue reaches pilot_zone_min_future_revenue_cny_100m (both scaled with the population);
    merit is that revenue (CNY 100 m per yr, population units) in future-industry sectors, zero in
    the others (only future-industry places are designated)."""
    f, p = firms, params
    S = is_future.size
    # the few alive firms of future-industry sectors, not every firm: each place's count and revenue
    # sum the same firms in the same (row) order
    rows = np.flatnonzero(f.alive & is_future[f.sector])
    flat = f.city[rows].astype(np.int64) * S + f.sector[rows]
    shape = (n_cities, S)
    counts = np.bincount(flat, minlength=shape[0] * S).reshape(shape)
    revenue = np.bincount(flat, weights=f.revenue[rows], minlength=shape[0] * S).reshape(shape)
    qualifies = ((counts >= max(1, math.ceil(p.pilot_zone_min_future_firms * scale)))
                 & (revenue >= p.pilot_zone_min_future_revenue_cny_100m * scale) & is_future[None, :])
    return qualifies, revenue


def initial_pilot_zones(firms: Firms, is_future: np.ndarray, n_cities: int, params: Params, scale: float,
                        n_zones: int, rng: np.random.Generator) -> np.ndarray:
    """The zones of the base year (city x sector mask): the ``n_zones`` best-qualified places
    (future-industry revenue), whether or not they meet today's criteria (the first batches chose
    among fewer firms); ties at random."""
    _, merit = pilot_zone_candidates(firms, is_future, n_cities, params, scale)
    merit = np.where(is_future[None, :], merit, -1.0)
    u = rng.uniform(size=merit.size)
    zones = np.zeros(merit.shape, dtype=bool)
    zones.flat[np.lexsort((u, -merit.ravel()))[:n_zones]] = True
    return zones


def sector_prospects(revenue_history: Sequence[np.ndarray], n_sectors: int) -> np.ndarray:
    """Standardised prospects by sector as a planner sees them in the current year (art. 5): the
    observed log growth of each sector's revenue (CNY 100 m per yr at each year-end so far, oldest
    first) over the last (up to three) years; zero where nothing has been observed yet (the first
    simulated year)."""
    hist = revenue_history
    if len(hist) < 2:
        return np.zeros(n_sectors)
    span = min(3, len(hist) - 1)
    old, new = hist[-1 - span], hist[-1]
    ok = (old > 0) & (new > 0)
    g = np.zeros(n_sectors)
    g[ok] = np.log(new[ok] / old[ok]) / span
    sd = g[ok].std()
    if not ok.any() or sd == 0:
        return np.zeros(n_sectors)
    return np.where(ok, (g - g[ok].mean()) / sd, 0.0)


def emerging_productivity(firms: Firms, emerging: np.ndarray) -> float:
    """Mean log productivity of above-size firms in the emerging clusters."""
    f = firms
    m = f.above_size & emerging[f.sector]
    return float(np.compress(m, f.log_productivity).mean()) if m.any() else 0.0


_SCORE_WHOLE_BELOW = 4096  # firms in a pool


def choose_with_noise(rows: np.ndarray, base: np.ndarray, k: int, key: int) -> np.ndarray:
    """The k of ``rows`` with the highest score, ``base`` (aligned with rows) plus screening noise: a
    uniform on [0, 1) per firm, ``keyed_uniform(key, row)``. The noise is computed only for the firms
    that can be chosen: a firm whose base is more than 1 below the k-th best score so far never is.
    The same firm gets the same noise in every part of a pool and in every scenario (common random
    numbers). In one compiled pass (kernels.noisy_top; in the model, 46 against 61 us a call at 1:1,
    10 against 20 at 10 000 firms); where the k-th best score ties one left out, a score is NaN or
    fewer than k are above -inf, by choose_by_partitions, whose order among the tied decides as
    before."""
    if k <= 0 or rows.size == 0:
        return rows[:0]
    if k >= rows.size:
        return rows
    chosen, exact = kernels.noisy_top(rows, base, np.uint32(key & 0xFFFFFFFF), k)
    return chosen if exact else choose_by_partitions(rows, base, k, key)


def choose_by_partitions(rows: np.ndarray, base: np.ndarray, k: int, key: int) -> np.ndarray:
    """choose_with_noise by partitions (0 < k < rows.size): the noise of the firms whose base reaches
    1 below the k-th best base (k firms score at least that base), then the k best of those scores
    (numpy's partition: among scores tied at the k-th, its order decides)."""
    # a small pool is scored whole: finding its k-th best costs more than the noise of every firm
    floor = nth_highest(base, k) - 1.0 if rows.size >= _SCORE_WHOLE_BELOW and 16 * k < rows.size else -math.inf
    near, score = kernels.keyed_scores(rows, base, floor, np.uint32(key & 0xFFFFFFFF))
    return rows[near[top_positions(score, k)]]


FUTURE_BIT = 1  # of the sector flags: the firm's sector is a future industry (see Government._round_masks)


class Pool:
    """The eligible firms of a named pool in one decision round (``idx``: rows, ascending), with
    what the round's selections from it read, gathered at the first and kept for the others (three
    programmes draw from the high-tech pool): the base scores of its firms and their split into
    future-industry firms and the rest (art. 8's reserved share)."""

    __slots__ = ("_flags", "_parts", "_scored", "idx")

    def __init__(self, idx: np.ndarray, flags: np.ndarray):
        self.idx = idx
        self._flags = flags  # the round's sector flags, a byte per firm (see Government._round_masks)
        self._scored: tuple[np.ndarray, np.ndarray] | None = None  # (the round's base scores, the pool's)
        self._parts: tuple | None = None

    def base_scores(self, base_score: np.ndarray) -> np.ndarray:
        """The pool's firms' scores in ``base_score`` (by firm row), gathered once."""
        if self._scored is None or self._scored[0] is not base_score:
            self._scored = (base_score, base_score[self.idx])
            self._parts = None
        return self._scored[1]

    def parts(self, base_score: np.ndarray) -> tuple:
        """((rows, base scores) of the pool's future-industry firms, (rows, base scores) of the rest),
        each in pool order."""
        base = self.base_scores(base_score)
        if self._parts is None:
            self._parts = kernels.split_pool(self.idx, self._flags, FUTURE_BIT, base)
        return self._parts


class Government(mesa.Agent):
    """The provincial government. ``years``: the simulated years its ledger covers; ``base``: the
    base-year table (cluster core areas, the mother funds' sizes and years)."""

    def __init__(self, model: mesa.Model, *, years: Sequence[int], sectors: SectorTable,
                 base: Mapping[str, BaseQuantity], pilot_zone: np.ndarray, n_national_clusters: int):
        super().__init__(model)  # registration with Mesa only: the government reads nothing from the model
        self.years = list(years)
        self.sectors = sectors
        self.base = base
        self.ledger: dict[str, np.ndarray] = {}
        self.cum_basic_research_cny_100m = 0.0
        self.basic_research_cny_100m_this_year = 0.0
        self.n_national_clusters = n_national_clusters
        self.pilot_zone = pilot_zone  # city x sector
        self.n_pilot_zones_removed = 0
        self.release()

    def release(self) -> None:
        """Forget what it keeps of the firms between the calls of a year (the pools, their masks and
        bands, the base scores): SimModel.close hands them back; the next call makes them anew."""
        self._pool_cache: dict = {}
        self._masks_key: tuple | None = None
        self._masks = (np.zeros((0, 0), np.bool_), np.zeros(0, np.uint8))
        self._bands: tuple = (None, None, None)  # (masks, base scores, their bands), see _round_bands
        self._score_key: tuple | None = None
        self._score = np.zeros(0)

    # ---------------------------------------------------------------- bookkeeping
    def book(self, lever: str, year: int, amount_cny_100m: float) -> None:
        if lever not in self.ledger:
            self.ledger[lever] = np.zeros(len(self.years))
        self.ledger[lever][year - self.years[0]] += amount_cny_100m

    # ---------------------------------------------------------------- selection
    def pool(self, name: str, firms: Firms, q: int) -> Pool:
        """The eligible firms of a named pool (POOL_RULES; cached for the round's decisions, see
        _round: no selection changes what a pool reads)."""
        key = (self._round(firms, q), name)
        if key not in self._pool_cache:
            if name not in _POOL_INDEX:
                raise KeyError(name)
            self._pool_cache = {k: v for k, v in self._pool_cache.items() if k[0] == key[0]}
            masks, flags = self._round_masks(firms, q)
            self._pool_cache[key] = Pool(np.flatnonzero(masks[_POOL_INDEX[name]]), flags)
        return self._pool_cache[key]

    def _round(self, firms: Firms, q: int) -> tuple:
        """What a pool reads that can change between decisions: the quarter, the firms appended
        and the pilot zones (a designation between two selections of a quarter changes the
        pilot-zone pool)."""
        return (q, firms.n, self.pilot_zone.tobytes())

    def _round_masks(self, firms: Firms, q: int) -> tuple[np.ndarray, np.ndarray]:
        """Every pool's mask (a row per POOL_RULES entry) and each firm's sector flags (a byte: bit 0
        emerging, bit 1 future industry, bit 2 a sector with a pilot zone in some city), once per
        decision round, in one compiled pass (kernels.pool_masks) instead of a gather of the
        sector's flags and a handful of numpy passes per pool."""
        key = self._round(firms, q)
        if self._masks_key != key:
            s = self.sectors
            table = (s.emerging.astype(np.uint8) | (s.is_future.astype(np.uint8) << FUTURE_BIT)
                     | (self.pilot_zone.any(axis=0).astype(np.uint8) << 2))
            f = firms
            masks = np.empty((len(POOL_RULES), f.n), np.bool_)
            flags = np.empty(f.n, np.uint8)
            kernels.pool_masks(f.alive, f.stage, f.revenue, f.sector, f.city, table, self.pilot_zone, *_POOL_COLUMNS,
                               ABOVE_SIZE_REVENUE_CNY_100M, masks, flags)
            self._masks = (masks, flags)
            self._masks_key = key
        return self._masks

    def _round_bands(self, masks: np.ndarray, flags: np.ndarray, base: np.ndarray) -> tuple:
        """The round's pool firms in bands of base score, the best in order (kernels.pool_bands), made
        once for the year's rounds (the grants' and the markets', which read the same pools and scores):
        a selection from a large pool then scores the few firms near its k-th best instead of its pool."""
        if self._bands[0] is not masks or self._bands[1] is not base:
            self._bands = (masks, base, kernels.pool_bands(masks, flags, FUTURE_BIT, base))
        return self._bands[2]

    def base_score(self, firms: Firms, q: int, foresight_weight: float, prospects: np.ndarray) -> np.ndarray:
        """Selection score without noise, once per decision round: the firm's standardised log
        productivity and, with the foresight weight (art. 5), its sector's standardised prospects."""
        key = (q, firms.n)
        if self._score_key != key:
            f = firms
            w = foresight_weight
            lp = f.log_productivity
            mu, sd = kernels.alive_mean_std(f.alive, lp)  # of the alive firms, numpy's mean and std
            # (1 - w) * (lp - mu) / sd + w * prospects[sector], operation by operation, in one compiled pass
            self._score = kernels.selection_base_score(lp, mu, sd + 1e-12, w, prospects, f.sector)
            self._score_key = key
        return self._score

    def select_recipients(self, pool: Pool, k: int, key: int, future_share: float,
                          firms: Firms, base_score: np.ndarray) -> np.ndarray:
        """Choose k firms of ``pool``: a reserved share from future industries (art. 8), the rest by
        a score mixing the firm's productivity and, with the foresight weight (art. 5), its sector's
        growth prospects (``base_score``, by firm row), plus screening noise (a uniform on [0, 1) per
        firm, ``keyed_uniform(key, row)``: see choose_with_noise). The pool keeps its firms' base
        scores and its future-industry split for the round's other selections from it. The rule as
        Python states it: the model makes a round's selections with choose_round, which chooses
        exactly so (the tests check one against the other) and leaves a tie at the k-th place here."""
        idx = pool.idx
        if idx.size == 0 or k <= 0:
            return idx[:0]
        k_future = int(round(k * future_share))
        if k_future == 0:
            return choose_with_noise(idx, pool.base_scores(base_score), k, key)
        (fut_idx, fut_base), (rest_idx, rest_base) = pool.parts(base_score)
        first = choose_with_noise(fut_idx, fut_base, k_future, key)
        second = choose_with_noise(rest_idx, rest_base, k - first.size, key)
        chosen = np.concatenate((first, second))
        if chosen.size < k:  # not enough firms of one kind: fill from the other
            left = np.ones(idx.size, bool)
            left[np.searchsorted(idx, chosen)] = False
            chosen = np.concatenate((chosen, choose_with_noise(idx[left], pool.base_scores(base_score)[left],
                                                                k - chosen.size, key)))
        return chosen

    def _selections(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The randomness of a round of selections, each kind drawn in one call: the number of
        recipients of each (``counts``: recipients per yr times the scale, stochastically rounded),
        then a key for each selection's screening noise (see choose_with_noise). Returns (numbers,
        keys). A selection's key does not depend on the pools, nor on which others choose anyone:
        scenarios that differ in them still screen each firm with the same noise."""
        ks = stochastic_round_all(counts, rng)
        return ks, rng.integers(0, 2 ** 32, size=counts.size, dtype=np.uint64)

    def choose_round(self, pools: Sequence[str | None], ks: np.ndarray, keys: np.ndarray,
                     future_shares: Sequence[float], firms: Firms, q: int, foresight_weight: float,
                     prospects: np.ndarray) -> list[np.ndarray]:
        """The recipients of a round's selections: selection s chooses ``ks[s]`` firms of the pool
        named ``pools[s]`` (None: it chooses no one) with the screening noise of ``keys[s]`` and the
        share ``future_shares[s]`` reserved for future industries, by the round's base score (see
        base_score), exactly as select_recipients chooses, all in one compiled call
        (kernels.selection_round: the grants' year 218 -> 155 us at 1 000 firms, 579 -> 432 at 10 000;
        a large pool's selections from the year's bands of base score, _round_bands). A
        selection whose choice is not exact there (a tie at the k-th place, see choose_with_noise) is
        made by select_recipients, whose partitions decide among the tied as before."""
        n_sel = len(pools)
        pool_of, k_future = [], []
        for name, k, share in zip(pools, ks.tolist(), future_shares, strict=True):
            pool_of.append(_POOL_INDEX[name] if name is not None and k > 0 else -1)
            k_future.append(int(round(k * share)))
        if max(pool_of, default=-1) < 0:
            return [np.zeros(0, np.intp)] * n_sel
        base = self.base_score(firms, q, foresight_weight, prospects)
        masks, flags = self._round_masks(firms, q)
        chosen, start, exact = kernels.selection_round(masks, flags, FUTURE_BIT, base, np.array(pool_of, np.int64), ks,
                                                       np.array(k_future, np.int64), keys,
                                                       self._round_bands(masks, flags, base))
        bounds = start.tolist()
        out = [chosen[bounds[s]:bounds[s + 1]] for s in range(n_sel)]
        if not exact.all():
            for s in np.flatnonzero(~exact).tolist():
                out[s] = self.select_recipients(self.pool(pools[s], firms, q), int(ks[s]), int(keys[s]),
                                                future_shares[s], firms, base)
        return out

    # ---------------------------------------------------------------- yearly actions
    def award_grants(self, year: int, q: int, firms: Firms, levers: Levers, params: Params, scale: float,
                     prospects: np.ndarray, rng: np.random.Generator) -> None:
        """Firm grants of arts. 2, 6, 13, 14, 17 and compute vouchers (art. 24); grants are spent
        on R&D over the year with the additionality of the parameters. Writes grant_rd, designated,
        future_type and future_type_until_q."""
        f = firms
        lv = levers
        f.grant_rd[:] = 0.0
        # a future-type designation lasts future_type_support_years from selection, then lapses
        np.logical_and(f.future_type, f.future_type_until_q > q, out=f.future_type)
        share = lv.future_industry_funding_share_pct / 100.0
        amounts = [getattr(lv, amount_lever) / CNY_10K_PER_CNY_100M * (params.grant_cap_utilisation if is_cap else 1.0)
                   for _, amount_lever, is_cap, _ in GRANT_PROGRAMMES]
        counts = np.array([getattr(lv, count_lever) * scale for count_lever, _, _, _ in GRANT_PROGRAMMES], dtype=float)
        ks, keys = self._selections(counts, rng)
        pools = [pool_name if amount > 0 else None for (*_, pool_name), amount in zip(GRANT_PROGRAMMES, amounts, strict=True)]
        shares = [1.0 if pool_name == "future" else share for *_, pool_name in GRANT_PROGRAMMES]
        recipients = self.choose_round(pools, ks, keys, shares, f, q, lv.foresight_targeting_weight, prospects)
        for (count_lever, _, _, pool_name), amount, k, chosen in zip(GRANT_PROGRAMMES, amounts, ks.tolist(), recipients,
                                                                     strict=True):
            if k == 0 or amount <= 0:
                continue
            f.grant_rd[chosen] += amount
            if pool_name == "future":
                f.designated[chosen] = True
                f.future_type[chosen] = True
                f.future_type_until_q[chosen] = q + int(round(4 * params.future_type_support_years))
            self.book(count_lever, year, chosen.size * amount / scale)
        voucher = lv.compute_voucher_cny_100m_per_year
        if voucher > 0:
            digital = self.sectors.digital_core_share >= params.compute_voucher_min_digital_share
            # grant_rd += voucher * scale * w / w.sum(), operation by operation: the weights and the
            # additions in compiled passes, the sum numpy's (pairwise)
            w = kernels.digital_weights(f.revenue, f.alive, f.sector, digital)
            total = w.sum()
            if total > 0:
                kernels.add_shares(f.grant_rd, w, voucher * scale, total)
                self.book("compute_voucher_cny_100m_per_year", year, voucher)

    def fund_basic_research(self, year: int, levers: Levers, params: Params) -> None:
        """Basic-research grants (art. 12) go to universities and institutes; firms gain through
        spillover in the same year (see simmodel.model.stages.rates.spillover)."""
        lv = levers
        mix = lv.applied_basic_research_share_pct / 100.0
        mean_grant = mix * lv.applied_basic_research_grant_cap_cny_10k + (1 - mix) * lv.natural_science_grant_cap_cny_10k
        cost = lv.n_basic_research_grants_per_year * mean_grant * params.grant_cap_utilisation / CNY_10K_PER_CNY_100M
        self.cum_basic_research_cny_100m += cost
        self.basic_research_cny_100m_this_year = cost
        if cost > 0:
            self.book("n_basic_research_grants_per_year", year, cost)

    def open_markets(self, q: int, firms: Firms, levers: Levers, params: Params, scale: float,
                     prospects: np.ndarray, rng: np.random.Generator) -> None:
        """Flagship products (art. 18), flagship scenarios (art. 19), quality certification (art. 20):
        one-year demand boosts for the chosen firms. Writes boost and boost_until_q."""
        f = firms
        lv = levers
        expired = f.boost_until_q <= q
        np.putmask(f.boost, expired, 0.0)  # boost[expired] = 0.0, faster over every firm
        programmes = ((lv.n_flagship_products_per_year, "emerging_or_future", params.flagship_demand_boost),
                      (lv.n_flagship_scenarios_per_year, "emerging_or_future", params.flagship_demand_boost),
                      (lv.n_quality_certifications_per_year, "above_size", params.quality_brand_demand_boost))
        ks, keys = self._selections(np.array([n * scale for n, _, _ in programmes], dtype=float), rng)
        recipients = self.choose_round([name for _, name, _ in programmes], ks, keys, [0.0] * len(programmes), f, q,
                                       lv.foresight_targeting_weight, prospects)
        for (_, _, boost), k, chosen in zip(programmes, ks.tolist(), recipients, strict=True):
            if k == 0:
                continue
            f.boost[chosen] += boost
            f.boost_until_q[chosen] = q + 4

    def attract_projects(self, year: int, q: int, firms: Firms, levers: Levers, params: Params, scale: float,
                         rng: np.random.Generator, *, sector_revenue: np.ndarray, city_weight: np.ndarray,
                         draw_revenue: Callable[[np.random.Generator, int], np.ndarray], ctx: GrowthContext,
                         plot_effect: float, cities: Sequence[City], sector_rd_intensity: np.ndarray) -> slice | None:
        """Targeted investment attraction (art. 16): new above-size firms in emerging clusters
        (weighted by ``sector_revenue``, CNY 100 m per yr) and cities (``city_weight``), if the city has
        land for them this year (taken from its budget). Appends their rows (rates not set) and
        returns their slice, or None."""
        lv = levers
        s = self.sectors
        k = stochastic_round(lv.n_attracted_projects_per_year * scale, rng)
        if k == 0:
            return None
        emerging = np.flatnonzero(s.group == SectorGroup.EMERGING)
        w = sector_revenue[emerging]
        # rng.choice's numbers (categorical), without its checks and set-up for each draw of k
        sector = emerging[categorical(rng, w / w.sum(), k)]
        city = categorical(rng, city_weight, k)
        revenue = draw_revenue(rng, k)
        va = revenue * ctx.va_ratio[sector]
        need = va * ctx.land_per_va[sector] / plot_effect
        budget = [c.budget_mu for c in cities]
        # k is tens to hundreds a year: a Python loop over projects, not firms, on Python numbers (the
        # same doubles; a numpy scalar made for each project's every value took most of its time)
        industry = s.is_industry[sector].tolist()
        ok = np.zeros(k, bool)
        for i, (is_industry, city_i, need_i) in enumerate(zip(industry, city.tolist(), need.tolist(), strict=True)):
            if not is_industry or need_i <= budget[city_i]:
                ok[i] = True
                if is_industry:
                    budget[city_i] -= need_i
        for c in cities:
            used = c.budget_mu - budget[c.index]
            c.allocated_mu += used
            c.budget_mu = budget[c.index]
        n_ok = int(ok.sum())
        if not n_ok:
            return None
        new = firms.add(
            n_ok, sector=sector[ok], city=city[ok], stage=int(FirmStage.CONVENTIONAL), revenue=revenue[ok],
            log_productivity=rng.normal(0.0, params.base_productivity_dispersion, n_ok),
            rd_intensity=sector_rd_intensity[sector[ok]],
            land_mu=np.where(s.is_industry[sector[ok]], need[ok], 0.0),
            entry_q=q, origin=ORIGIN_ATTRACTED, revenue_year_start=revenue[ok], age_q=0,
            penalty_until_q=-1, boost_until_q=-1)
        self.book("n_attracted_projects_per_year", year,
                  n_ok * lv.attraction_grant_cny_10k_per_project / CNY_10K_PER_CNY_100M / scale)
        return new

    def bid_national_clusters(self, year: int, params: Params, levers: Levers, rng: np.random.Generator, *,
                              firms: Firms, revenue_ratio: float, base_productivity: float) -> int:
        """National advanced-manufacturing cluster competition (art. 1, T4), decided by the ministry,
        not the province. A round is held in a year with probability national_cluster_round_prob_annual
        (rounds in 2021, 2022 and 2024) and names about national_cluster_winners_per_round winners
        nationally (25, 20, 35). Each winner is a Zhejiang cluster with odds set by Zhejiang's share of
        the winners so far (8 of 80), the quality of its bids (art. 1 lever, elasticity
        national_cluster_bid_elasticity), and its emerging clusters' scale (``revenue_ratio``: their
        revenue now over the base year's) and innovation (mean log productivity of their above-size
        firms against ``base_productivity``). Zhejiang can win no more than its candidate core areas
        not yet national."""
        p = params
        if rng.random() >= p.national_cluster_round_prob_annual:
            return 0
        n_round = stochastic_round(p.national_cluster_winners_per_round, rng)
        strength = revenue_ratio ** p.national_cluster_strength_elasticity
        productivity = emerging_productivity(firms, self.sectors.emerging)
        strength *= math.exp(p.national_cluster_innovation_elasticity * (productivity - base_productivity))
        share = p.national_cluster_zhejiang_share
        odds = share / (1.0 - share) * levers.national_cluster_bid_intensity ** p.national_cluster_bid_elasticity * strength
        pool_left = int(self.base["n_provincial_cluster_core_areas"].value) - self.n_national_clusters
        wins = min(int(rng.binomial(n_round, odds / (1.0 + odds))), max(pool_left, 0))
        self.n_national_clusters += wins
        return wins

    def designate_pilot_zones(self, year: int, firms: Firms, params: Params, levers: Levers, scale: float,
                              rng: np.random.Generator) -> int:
        """Future-industry pilot zones (art. 6, T5), an administrative act limited by what qualifies.
        Existing zones are evaluated (some removed); in a year with a designation batch (probability
        pilot_zone_batch_prob_annual: three batches in 2022-2025) the province designates up to its
        planned number (lever) among the (city, future sector) places that meet the programme's
        criteria (enough future-industry firms with enough revenue), best-qualified first. How many
        zones exist by a year is what the qualifying places and the batches allow."""
        p, f = params, firms
        # the removals, the batch, the qualifying places (pilot_zone_candidates' rule) and the best of
        # them, ties at random, in one compiled call with the draws of the numpy statements it replaced
        # (tests/unit/test_government.py keeps them): about 100 us a year of small numpy calls before
        removed, designated = kernels.designate_zones(
            self.pilot_zone, f.alive, f.sector, f.city, f.revenue, self.sectors.is_future,
            p.pilot_zone_removal_rate_annual, p.pilot_zone_batch_prob_annual, int(levers.pilot_zones_planned_per_batch),
            max(1, math.ceil(p.pilot_zone_min_future_firms * scale)), p.pilot_zone_min_future_revenue_cny_100m * scale,
            kernels.generator_address(rng))
        self.n_pilot_zones_removed += int(removed)
        return int(designated)

    def commit_funds(self, year: int, levers: Levers, params: Params, policy_start_year: int) -> list[FundCommitment]:
        """New government fund vintages (art. 22), in the order they are raised: a provincial vintage
        every year; the future-industry fund and the state venture funds in the policy's first year; in
        a replay from an earlier base year, the mother funds in the year they were set up (their
        base-year row's); and the year's private VC. Books the government's commitments."""
        lv = levers
        out = []
        for kind, q in MOTHER_FUNDS.items():
            if self.base[q].year == year:
                out.append(FundCommitment(kind, year, self.base[q].value, None, life_years=lv.fund_life_years))
        if lv.provincial_fund_commitment_cny_100m_per_year > 0:
            out.append(FundCommitment("provincial", year, lv.provincial_fund_commitment_cny_100m_per_year,
                                      "provincial_fund_commitment_cny_100m_per_year", life_years=lv.fund_life_years))
            self.book("provincial_fund_commitment_cny_100m_per_year", year, lv.provincial_fund_commitment_cny_100m_per_year)
        if year == policy_start_year:
            for kind, lever in (("future", "future_industry_fund_cny_100m"), ("state_vc", "state_vc_fund_cny_100m")):
                size = getattr(lv, lever)
                if size > 0:
                    out.append(FundCommitment(kind, year, size, lever, life_years=lv.fund_life_years))
                    self.book(lever, year, size)
        out.append(FundCommitment("private_vc", year, params.private_vc_commitment_cny_100m_per_year, None,
                                  life_years=params.private_vc_life_years))
        return out

    def pay_talent_incentives(self, year: int, n_active: int, levers: Levers, scale: float) -> None:
        cost = n_active * levers.talent_incentive_cny_10k_per_year / CNY_10K_PER_CNY_100M / scale
        if cost > 0:
            self.book("talent_incentive_cny_10k_per_year", year, cost)

    def pay_renovation(self, year: int, renovated_mu: float, params: Params, scale: float) -> None:
        cost = renovated_mu * params.land_renovation_cost_cny_10k_per_mu / CNY_10K_PER_CNY_100M / scale
        if cost > 0:
            self.book("land_renovation_mu_per_year", year, cost)
