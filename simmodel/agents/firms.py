"""Firms: the whole population as a struct of arrays, updated in vectorised steps.

Revenue is an annualised rate (CNY 100 m per year) updated every quarter; value added is revenue
times the sector's VA ratio. No method loops over firms in Python; every stage is O(n) or, where it
sorts, O(n log n) in the number of firms.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from simmodel import kernels
from simmodel.params import Params

# Statistical definition of an above-designated-size industrial firm: annual main-business revenue
# of at least CNY 20 m (national rule since 2011), i.e. 0.2 in CNY 100 m.
ABOVE_SIZE_REVENUE_CNY_100M = 0.2
# Size used to normalise size effects (CNY 100 m a year): a unit choice, not an estimate.
REFERENCE_REVENUE_CNY_100M = 1.0
# National high-tech enterprise certification rules (2016): R&D / revenue of at least 5 % below
# CNY 50 m revenue, 4 % for CNY 50-200 m, 3 % above CNY 200 m.
HIGH_TECH_RD_THRESHOLDS = ((0.5, 0.05), (2.0, 0.04), (np.inf, 0.03))
# Tech-SME status is capped at CNY 200 m revenue (the rule of the tech-SME register).
TECH_SME_MAX_REVENUE_CNY_100M = 2.0


class FirmStage(enum.IntEnum):
    """The firm ladder of art. 17 (a firm's highest designation)."""

    STARTUP = 0
    TECH_SME = 1
    CONVENTIONAL = 2  # established firm with no technology designation
    HIGH_TECH = 3
    LITTLE_GIANT = 4
    SINGLE_CHAMPION = 5


# Steps up the ladder, for the time-to-exit discount of funds.
LADDER_RANK = np.array([0, 1, 1, 2, 3, 4], dtype=np.int8)

FIELDS: dict[str, type] = {
    # sector is pointer-sized: numpy gathers table[index] 2-3x faster with an intp index than with a
    # narrower one (which it converts chunk by chunk), and every stage looks up sector tables
    "alive": np.bool_, "sector": np.intp, "city": np.int8, "stage": np.int8,
    "revenue": np.float64, "log_productivity": np.float64, "rd_intensity": np.float64,
    "grant_rd": np.float64,  # grant money to be spent on R&D this year, CNY 100 m per yr
    "land_mu": np.float64, "talent": np.int32, "equity": np.float64, "n_investors": np.int16,
    "age_q": np.int32, "entry_q": np.int32, "exit_q": np.int32, "ai_plus": np.bool_,
    # quarters of AI+ productivity gain still to come; the innovations read it only at the rows of
    # SimModel.ai_ramping (the year's adopters): code that sets it elsewhere must add its rows there
    "ai_ramp_q": np.int8,
    "boost": np.float64,  # temporary extra annual growth (flagship, scenario, quality), per yr
    "boost_until_q": np.int32, "designated": np.bool_,  # little giant, champion or future-type firm
    "future_type": np.bool_, "future_type_until_q": np.int32,  # a future-type designation lapses then
    "penalty_until_q": np.int32,  # early fund exit raises hazard until then
    "revenue_year_start": np.float64, "n_innovations": np.int32, "land_refused": np.bool_,
    "origin": np.int8,  # 0 base population, 1 start-up, 2 spin-off, 3 attracted project
    # Rates set once a year (R&D budgets and credit are planned yearly) and at entry. Single
    # precision: they are rates and probabilities, and float32 exp/log run 4x faster here.
    "g_annual": np.float32,  # expected log-growth per yr before shocks, innovation and land
    "shock_q": np.float32,  # this year's growth shock, log points per quarter (a quarter of the annual draw)
    "p_innovate_q": np.float32,  # probability of an innovation in a quarter
    "p_exit_q": np.float32,  # probability of exit in a quarter
}
ORIGIN_BASE, ORIGIN_STARTUP, ORIGIN_SPINOFF, ORIGIN_ATTRACTED = 0, 1, 2, 3
# each field's storage, by the field's name (Firms keeps both; the names made once, not at every append)
_STORAGE = {name: "_" + name for name in FIELDS}


class Firms:
    """Struct of arrays with amortised growth; ``n`` slots are in use, dead firms stay (alive=False).
    Each field of FIELDS reads as the array of the n slots in use: ``firms.revenue`` is a view of the
    field's storage (``firms._revenue``), kept as a plain attribute and renewed whenever ``n`` or the
    storage changes. A plain attribute rather than a descriptor: the stages read firm fields thousands
    of times a replicate, and a descriptor's lookup costs about 0.2 us against 0.01 (3 % of a
    1 000-firm replicate)."""

    def __init__(self, capacity: int):
        store = self.__dict__
        store["n"] = 0
        store["_cap"] = max(int(capacity), 16)
        for name, dtype in FIELDS.items():
            store["_" + name] = np.zeros(self._cap, dtype=dtype)
        self._renew_views()

    def _renew_views(self) -> None:
        store = self.__dict__
        n = store["n"]
        for name, storage in _STORAGE.items():
            store[name] = store[storage][:n]

    def __setattr__(self, name: str, value) -> None:
        if name in FIELDS:
            # ``firms.revenue += x`` ends in a set of the (already updated) view: write through to the
            # storage instead of shadowing it with an array that the next renewal would drop
            store = self.__dict__["_" + name]
            if value is not None and not (isinstance(value, np.ndarray) and np.shares_memory(value, store)):
                store[: self.n] = value
            return
        object.__setattr__(self, name, value)
        if name == "n":
            self._renew_views()

    def __getstate__(self) -> dict:
        # the views are rebuilt on the storage when unpickled (pickled, they would come back as copies)
        return {k: v for k, v in self.__dict__.items() if k not in FIELDS}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._renew_views()

    def _grow(self, need: int) -> None:
        new_cap = max(need, int(self._cap * 1.5))
        store = self.__dict__
        for name in FIELDS:
            old = store["_" + name]
            store["_" + name] = np.zeros(new_cap, dtype=old.dtype)
            store["_" + name][: self.n] = old[: self.n]
        store["_cap"] = new_cap
        self._renew_views()  # the old views are of the storage just replaced

    def add(self, count: int, **columns: np.ndarray) -> slice:
        """Append ``count`` firms; unspecified fields are zero, alive is True. Returns their slice."""
        if not columns.keys() <= _STORAGE.keys():  # refused before anything is appended
            raise KeyError(f"unknown firm field {next(name for name in columns if name not in FIELDS)}")
        if self.n + count > self._cap:
            self._grow(self.n + count)
        sl = slice(self.n, self.n + count)
        store = self.__dict__
        store["n"] += count
        self._renew_views()
        store["_alive"][sl] = True
        store["_exit_q"][sl] = -1
        for name, values in columns.items():
            store[_STORAGE[name]][sl] = values
        return sl

    @property
    def above_size(self) -> np.ndarray:
        return self.alive & (self.revenue >= ABOVE_SIZE_REVENUE_CNY_100M)

    def rd_spending(self, params: Params) -> np.ndarray:
        """R&D spending, CNY 100 m per yr: own R&D plus the additional R&D that grants induce."""
        return self.rd_intensity * self.revenue + params.subsidy_additionality * self.grant_rd


_HIGH_TECH_RD_UPPER = tuple(upper for upper, _ in HIGH_TECH_RD_THRESHOLDS[:-1])
HIGH_TECH_RD_UPPER = np.array(_HIGH_TECH_RD_UPPER)  # the tiers' revenue bounds, for the compiled loops
assert list(_HIGH_TECH_RD_UPPER) == sorted(_HIGH_TECH_RD_UPPER), "HIGH_TECH_RD_THRESHOLDS: revenue bounds must ascend"
HIGH_TECH_RD = np.array([thr for _, thr in HIGH_TECH_RD_THRESHOLDS])
# the logarithms of the few thresholds, element by element what np.log gives for an array of them
LOG_HIGH_TECH_RD = np.log(HIGH_TECH_RD)


def high_tech_rd_tier(revenue: np.ndarray) -> np.ndarray:
    """Row of HIGH_TECH_RD_THRESHOLDS for each revenue (CNY 100 m per yr): the first whose bound it
    is below, the last when none (NaN included)."""
    tier = np.full(revenue.shape, len(_HIGH_TECH_RD_UPPER), dtype=np.intp)
    for upper in _HIGH_TECH_RD_UPPER:
        tier -= revenue < upper
    return tier


def high_tech_rd_threshold(revenue: np.ndarray) -> np.ndarray:
    """The high-tech certification's R&D / revenue threshold at each revenue (CNY 100 m per yr)."""
    return HIGH_TECH_RD[high_tech_rd_tier(revenue)]


def log_high_tech_rd_threshold(revenue: np.ndarray) -> np.ndarray:
    """np.log(high_tech_rd_threshold(revenue)), from a table of the thresholds' logarithms."""
    return LOG_HIGH_TECH_RD[high_tech_rd_tier(revenue)]


def stage_bits(*stages: FirmStage) -> int:
    """The set of ``stages`` as one byte: bit ``stage`` set for each."""
    bits = 0
    for st in stages:
        bits |= 1 << int(st)
    return bits


def stage_mask(stage: np.ndarray, *stages: FirmStage) -> np.ndarray:
    """Boolean mask of firms whose stage is one of ``stages``: bit ``stage`` of a one-byte set,
    two vectorised byte operations (10x faster than a table lookup with an int8 index)."""
    bits = stage_bits(*stages)
    if stage.dtype.itemsize != 1:
        return ((bits >> stage) & 1).astype(bool)
    return ((np.uint8(bits) >> stage.view(np.uint8)) & np.uint8(1)).view(np.bool_)


# A selection keeps a few hundred firms out of tens of thousands: a threshold taken from a strided
# sample of the scores leaves a partition over a few times k candidates instead of all of them.
_THRESHOLD_SAMPLE = 1024


def sampled_threshold(x: np.ndarray, k: int) -> float:
    """A value that about 2k of ``x`` reach: a high quantile of a strided sample of ``x``
    (``_THRESHOLD_SAMPLE`` values, or every eighth of fewer than 8 times as many), for a caller that
    then works on those that reach it only."""
    n = x.size
    sample = x[:: max(8, n // _THRESHOLD_SAMPLE)]
    m = sample.size
    above = min(m - 1, 2 * k * m // n + 8)  # sample values above the threshold: about twice k's share
    return np.partition(sample, m - 1 - above)[m - 1 - above]


def top_positions(score: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, in no particular order; O(len(score)).

    The k-th highest score is at least a threshold whenever k scores reach it, so the k highest are
    the k highest of those that reach it: the threshold, a high quantile of a strided sample of the
    scores, leaves about 2k candidates for the partition. When fewer than k reach it (a sample far off
    the population) the whole array is partitioned. Without ties at the k-th score the positions are
    those of a partition of the whole array. From 1 024 scores up and k up to a quarter of them: numpy's
    partition is not vectorised, and a fund's screen of 2 048 candidates for 9 deals took 30 us by a
    partition of all, 10 us this way; for 200 deals 25 against 14 us, 4 096 and 300 43 against 21 us."""
    n = score.size
    if k <= 0 or n == 0:
        return np.zeros(0, dtype=np.intp)
    if k >= n:
        return np.arange(n)
    if n >= 1024 and 4 * k < n:
        cand = np.flatnonzero(score >= sampled_threshold(score, k))
        if cand.size >= k:
            return cand[np.argpartition(score[cand], cand.size - k)[cand.size - k:]]
    return np.argpartition(-score, k - 1)[:k]


def nth_highest(x: np.ndarray, n: int) -> float:
    """The ``n``-th highest value of ``x`` (1 <= n <= x.size, no NaN), exactly
    ``np.partition(x, x.size - n)[x.size - n]``: when n values reach a threshold (top_positions'),
    the n highest are all among those that do, so only those are partitioned (the floor of a fund
    kind's 70 000 candidates at 1:1 in 83 against 410 us; a pool of 4 000 firms for 20 recipients, 10
    against 30 us)."""
    size = x.size
    if size >= _THRESHOLD_SAMPLE and 4 * n < size:
        top = x[x >= sampled_threshold(x, n)]
        if top.size >= n:
            return float(np.partition(top, top.size - n)[top.size - n])
    return float(np.partition(x, size - n)[size - n])


def choose_top(idx: np.ndarray, score: np.ndarray, k: int) -> np.ndarray:
    """The k entries of idx with the highest score (score is aligned with idx); O(len(idx))."""
    if k <= 0 or idx.size == 0:
        return idx[:0]
    if k >= idx.size:
        return idx
    return idx[top_positions(score, k)]


def categorical(rng: np.random.Generator, p: np.ndarray, n: int) -> np.ndarray:
    """``n`` draws of a category (0 .. p.size - 1) with probabilities ``p`` (non-negative, summing to 1
    up to rounding): the numbers of ``rng.choice(p.size, size=n, p=p)``, from the same cumulative sum
    and the same one uniform per draw. numpy searches the cumulative sum for each uniform, about 55 ns
    a draw for random keys; for more than a few dozen draws (draw_categorical says when) a table of
    the cumulative sum at equal steps gives each draw a lower bound to step on from, in a compiled loop
    (kernels.categorical_steps; 4000 draws over 396 categories: 21 against 51 us, the uniforms
    included; 118 000 over 11: 0.95 against 3.4 ms; in numpy the table took 129 us and 2.7 ms)."""
    return draw_categorical(rng, categorical_cdf(p), n)


def categorical_cdf(p: np.ndarray) -> np.ndarray:
    """The normalised cumulative sum that categorical draws from, for probabilities ``p``: made once
    and kept where the same probabilities serve many draws (draw_categorical)."""
    cdf = kernels.cumulative_sum(np.asarray(p))  # np.cumsum(p, dtype=np.float64), faster
    if not (cdf.size and np.isfinite(cdf[-1]) and cdf[-1] > 0) or (np.asarray(p) < 0).any():
        raise ValueError("categorical: probabilities must be non-negative with a positive finite sum")
    cdf /= cdf[-1]
    return cdf


def guide_bins(n_categories: int) -> int:
    """The steps of a categorical draw's table (kernels.categorical_guide) over ``n_categories``: the
    power of two at or above four a category, so that a draw's step and ``u * bins`` are exact and a
    draw moves on past about a quarter of a category on average."""
    return 1 << (4 * max(n_categories, 1) - 1).bit_length()


def categorical_guide(cdf: np.ndarray) -> np.ndarray:
    """The table draw_categorical steps on from (kernels.categorical_guide, guide_bins steps), made
    once where many batches draw from one ``cdf`` (categorical_cdf): the start-ups' cells, kept all
    year, draw a few hundred a quarter at 10 000 firms, where numpy's binary search cost about 16 us
    and the table's, built each time, 4."""
    return kernels.categorical_guide(cdf, guide_bins(cdf.size))


def check_guide(cdf: np.ndarray, guide: np.ndarray, caller: str) -> None:
    """Refuse a table (categorical_guide) made for a distribution of another size than ``cdf``'s."""
    if guide.size != guide_bins(cdf.size):
        raise ValueError(f"{caller}: a table of {guide.size} steps for {cdf.size} categories "
                         f"(categorical_guide makes {guide_bins(cdf.size)})")


def draw_categorical(rng: np.random.Generator, cdf: np.ndarray, n: int, guide: np.ndarray | None = None) -> np.ndarray:
    """categorical(rng, p, n) from ``cdf = categorical_cdf(p)`` and, where made, its table (``guide``,
    categorical_guide): the same numbers, the same one uniform a draw.

    Without a table, numpy's searchsorted or one built for these draws, whichever costs less by what
    was measured here (random uniforms, each call on fresh ones): numpy's binary search about 7 ns a
    comparison, its branches mispredicted (60 ns a draw over 396 categories), the table about 1.3 ns
    a step to build and 3 ns a draw, 1 us for the call (over 330 categories the two are equal at
    about 64 draws; over 11 at about 32). Until 6 December the table was built only from four
    draws a category, which left a few hundred draws over a few hundred categories to the search."""
    u = rng.random(n)
    if guide is not None:
        check_guide(cdf, guide, "draw_categorical")
        return kernels.categorical_walk(cdf, guide, u)
    bins = guide_bins(cdf.size)
    if n * (7 * cdf.size.bit_length() - 3) <= 1.3 * bins + 1000:
        return cdf.searchsorted(u, side="right")
    return kernels.categorical_steps(cdf, u, bins)


def draw_without_replacement(rng: np.random.Generator, log_weight: np.ndarray, k: int) -> np.ndarray:
    """Positions of ``k`` draws without replacement from ``log_weight``'s positions, each draw with a
    probability proportional to exp(log_weight) among those not drawn yet (successive sampling): the
    distribution of the k highest of log_weight plus Gumbel noise (rng.gumbel), from a few uniforms a
    draw instead of a Gumbel number (about 16 ns) for every position. In draw order.

    Draws fall on the cumulative sum of the weights (the largest scaled to 1); a draw of a position
    already drawn is dropped, which is drawing among the others. Once the drawn weigh more than half
    of the weights the sum is taken again without them, so that at most half of the draws are
    dropped. Positions whose weight is zero in double precision (log weights more than 745 below the
    largest, or minus infinity) are drawn, if at all, last, by Gumbel noise among themselves. Where
    more than a quarter of the positions are drawn, the Gumbel noise is the faster of the two (and
    the k highest come in no particular order): 5 000 positions, 4 000 draws, 0.14 against 1.2 ms;
    50 000 and 2 000, 0.98 against 0.67 ms; 50 000 and 100, 0.88 against 0.27 ms."""
    n = log_weight.size
    if k <= 0 or n == 0:
        return np.zeros(0, np.intp)
    if k >= n:
        return np.arange(n)
    if 4 * k > n:
        return top_positions(log_weight + rng.gumbel(size=n), k)
    w = np.exp(log_weight - log_weight.max())
    picked: list[np.ndarray] = []
    count = 0
    while count < k:
        cdf = kernels.cumulative_sum(w)  # np.cumsum(w), faster
        total = float(cdf[-1])
        if not (np.isfinite(total) and total > 0.0):
            break
        free = total
        while count < k and free > 0.5 * total:
            need = k - count
            # each position at its first draw, in draw order, not drawn in an earlier batch (their
            # weight is zeroed); a uniform that rounds up to the total is drawn again
            new, weight = kernels.fresh_draws(cdf, w, rng.random(int(need * total / free) + 8), total, need)
            picked.append(new)
            count += new.size
            free -= weight
    out = np.concatenate(picked) if picked else np.zeros(0, np.intp)
    if count < k:  # what is left weighs nothing in double precision: Gumbel noise on the log weights
        rest = np.setdiff1d(np.arange(n), out, assume_unique=True)
        out = np.concatenate((out, rest[top_positions(log_weight[rest] + rng.gumbel(size=rest.size), k - count)]))
    return out.astype(np.intp, copy=False)


def draw_among(rng: np.random.Generator, log_weight: np.ndarray, mask: np.ndarray, k: int) -> np.ndarray:
    """Rows of ``k`` draws without replacement among the rows where ``mask`` holds, each with a
    probability proportional to exp(``log_weight``) (one per row) among those not drawn yet (see
    draw_without_replacement)."""
    idx = np.flatnonzero(mask)
    return idx[draw_without_replacement(rng, log_weight[idx], k)]


@dataclass
class GrowthContext:
    """Per-sector constants computed once at initialisation (arrays indexed by sector)."""

    drift_annual: np.ndarray  # log-growth drift per yr that makes aggregate growth match the prior
    size_center: np.ndarray  # revenue-weighted mean log revenue of the sector in the base year
    rd_reference: np.ndarray  # mean base-year R&D spending of the sector's firms, CNY 100 m per yr
    va_ratio: np.ndarray  # VA / revenue (rescaled at synthesis)
    land_per_va: np.ndarray  # mu of land per CNY 100 m of VA a year, base plot ratio


ALL = slice(None)


def innovation_hazard(firms: Firms, ctx: GrowthContext, params: Params, spillover: float, sl: slice = ALL) -> np.ndarray:
    """Annual hazard of a productivity-raising innovation, for the firms in ``sl``."""
    ratio = kernels.rd_ratio(firms.grant_rd[sl], firms.rd_intensity[sl], firms.revenue[sl], firms.sector[sl],
                             ctx.rd_reference, params.subsidy_additionality)
    lam = np.log(ratio, out=ratio)
    lam *= np.float32(params.innovation_rd_elasticity)
    np.exp(lam, out=lam)
    # the base rate and the spillover, then the talents' boost (a factor of 1.0 for firms without)
    kernels.innovation_terms(lam, firms.talent[sl], params.innovation_base_annual * spillover,
                             params.talent_innovation_boost)
    return lam


def age_table(params: Params, max_q: int) -> tuple[np.ndarray, np.ndarray]:
    """By age in quarters: young-firm growth premium (per yr) and young-firm hazard multiplier."""
    age_years = np.arange(max_q + 1) / 4.0
    premium = params.growth_young_premium_annual * np.exp2(-age_years / params.growth_young_halflife_years)
    hazard = 1.0 + params.exit_young_excess * np.exp(-age_years / params.exit_age_decay_years)
    return premium.astype(np.float32), hazard.astype(np.float32)


def log_revenue(firms: Firms, sl: slice = ALL) -> np.ndarray:
    """log(revenue / CNY 100 m), single precision (it feeds rates only)."""
    # np.log((np.maximum(revenue, 1e-6) / REFERENCE_REVENUE_CNY_100M).astype(np.float32)), its
    # arithmetic in one compiled pass, numpy's log kept
    revenue = firms.revenue[sl]
    out = np.empty(revenue.size, np.float32)
    kernels.log_revenue_argument(revenue, REFERENCE_REVENUE_CNY_100M, out)
    return np.log(out, out=out)


# The finance package can cut small firms' failure, not abolish it: at most 80 % of the hazard
# (assumption, the range the former lever allowed).
MAX_FINANCE_HAZARD_CUT = 0.8


def finance_hazard_cut(params: Params, finance_index: float) -> float:
    """Share of small tech firms' exit hazard removed by the finance measures of art. 23 at
    lever small_firm_finance_index (1 = the seed's package), with strength finance_hazard_reduction_pct."""
    return min(MAX_FINANCE_HAZARD_CUT, params.finance_hazard_reduction_pct / 100.0 * finance_index)


# the stages whose small firms the finance measures of art. 23 reach, as bits of a stage code
SMALL_TECH_STAGE_BITS = sum(1 << int(st) for st in (FirmStage.TECH_SME, FirmStage.HIGH_TECH, FirmStage.LITTLE_GIANT))


def exit_hazard(firms: Firms, params: Params, q: int, small_firm_reduction: float, logr: np.ndarray,
                young_hazard: np.ndarray, sl: slice = ALL) -> np.ndarray:
    """Annual exit hazard: falls with size and age (Evans 1987), lower when fund-backed."""
    h = np.exp(-params.exit_size_elasticity * logr)
    kernels.exit_hazard_terms(h, firms.age_q[sl], young_hazard, firms.n_investors[sl], firms.penalty_until_q[sl],
                              firms.stage[sl], firms.revenue[sl], q, params.exit_hazard_base_annual,
                              params.fund_funded_hazard_multiplier, params.fund_early_exit_hazard_multiplier,
                              1.0 - small_firm_reduction, SMALL_TECH_STAGE_BITS, TECH_SME_MAX_REVENUE_CNY_100M,
                              params.exit_hazard_cap_annual)
    return h


def growth_scale(params: Params, logr: np.ndarray) -> np.ndarray:
    """Scale of the annual Laplace growth shock, falling with size as revenue^-beta (Stanley et al.
    1996); capped (growth_laplace_scale_max < 1) so that E[exp(shock)] = 1 / (1 - b^2) stays finite."""
    scale = np.exp(-params.growth_volatility_size_elasticity * logr)
    # the scale factor, then np.clip's arithmetic (a maximum, then a minimum, NaN kept), in one
    # compiled pass
    kernels.scale_and_clip(scale, kernels.compared_as(scale.dtype.type, params.growth_laplace_scale_annual),
                           kernels.compared_as(scale.dtype.type, params.growth_laplace_scale_min),
                           kernels.compared_as(scale.dtype.type, params.growth_laplace_scale_max))
    return scale


def annual_growth(firms: Firms, ctx: GrowthContext, params: Params, q: int, sector_shift: np.ndarray,
                  logr: np.ndarray, young_premium: np.ndarray, sl: slice = ALL) -> np.ndarray:
    """Expected log-growth per yr of each firm in ``sl`` before shocks, innovation and land:
    sector drift and uncertainties, size (Evans 1987) and age effects, fund equity, designation and
    one-year demand boosts."""
    return kernels.expected_growth(firms.sector[sl], logr, firms.age_q[sl], firms.equity[sl], firms.revenue[sl],
                                   firms.designated[sl], firms.boost_until_q[sl], firms.boost[sl], q,
                                   ctx.drift_annual + sector_shift, ctx.size_center,
                                   np.result_type(logr, ctx.size_center).type(params.growth_size_slope),
                                   young_premium, params.fund_equity_growth_boost, params.designation_growth_boost)
