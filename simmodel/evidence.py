"""Base-year values inferred from several rows of the indicator table, each with its interval and the
arithmetic that gives it (SPEC 4b: no base-year value reasons from a target).

Every function here is pure: it takes the indicator table (a DataFrame from
``simmodel.data.load_indicators``) and a year, and returns an ``Inferred`` (value, low, high,
reasoning) whose reasoning names the rows used and shows the arithmetic. Values are rounded to the
precision ``calibration/data/base_year.csv`` keeps (the interval outwards), so that the table's rows
can be checked against these functions exactly (tests/unit/test_evidence.py): the CSV cannot drift
from the evidence. ``inferred_base_rows`` gives every row this module sets, with its distribution and
kind, in the table's form.

What the functions assume beyond the data is said in their reasoning, with a range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import pandas as pd

from simmodel.data import PARTIAL_SUFFIXES, series
from simmodel.errors import DataError

Z95 = 1.959964  # two-sided 95 % normal quantile

# Months a partial-year suffix covers (data README naming).
PARTIAL_MONTHS = {"_q1": 3, "_h1": 6, "_jan_jul": 7, "_jan_aug": 8, "_jan_sep": 9, "_jan_oct": 10, "_jan_nov": 11}
assert set(PARTIAL_MONTHS) == set(PARTIAL_SUFFIXES)

# A partial-year growth rate counts at this weight relative to a full-year one in the mean and spread of
# the SEI growth premium (the calibration's HistoryConfig.partial_year_weight uses the same 0.5).
PARTIAL_YEAR_WEIGHT = 0.5

SEI_SHARE = "sei_va_share_above_scale_industry_pct"
SEI_GROWTH = "sei_va_growth_pct"
ABOVE_GROWTH = "above_scale_industry_va_growth_pct"
CLUSTER_415X = "cluster_415x_revenue_cny_100m"
CLUSTER_415X_LOWER = "cluster_415x_revenue_cny_100m_lower_bound"
TRILLION_COUNT = "cluster_415x_trillion_clusters_count"
TRILLION_CNY_100M = 10000.0  # CNY 1 trillion in CNY 100 m
# The three emerging clusters with a revenue row (pass 4 of the data), indicator stem -> sector_id of
# calibration/data/sectors.csv; the other eight are not in the data.
EMERGING_CLUSTER_SECTORS = {
    "cluster_intelligent_iot_revenue_cny_100m": "smart_iot",
    "cluster_integrated_circuit_revenue_cny_100m": "ic",
    "cluster_high_end_software_revenue_cny_100m": "software",
}
EMERGING_CLUSTER_ROWS = tuple(EMERGING_CLUSTER_SECTORS)
# A base-year quantity named SECTOR_REVENUE_FORMAT.format(sector_id) pins that emerging sector's
# above-size revenue in the synthesis (simmodel.population.Synthesiser._sector_targets).
SECTOR_REVENUE_FORMAT = "{}_revenue_cny_100m"
# The clusters above CNY 1 trillion in 2023 (the note of cluster_415x_trillion_clusters_count 2023: 绿色石化,
# 纺织服装, 高端软件, 智能物联): two traditional, two emerging.
TRILLION_TRADITIONAL = ("green petrochemicals", "textiles and apparel")
DIGITAL_CORE = "digital_core_va_cny_100m"
DIGITAL_CORE_LOWER = "digital_core_va_cny_100m_lower_bound"
# Upper margin on a compiled (grade C) level: a later revision of the size of the 5th economic census's
# revision of 2023 GDP (gdp_cny_100m 2023 = 85620 vs its first release 82553: +3.7 %), rounded up.
DIGITAL_CORE_UPPER_MARGIN = 0.05


class Inferred(NamedTuple):
    """A base-year value inferred from the data: central value, interval, and how. ``kind`` and
    ``distribution``, where given, override the table row's defaults (INFERRED_ROWS): a function that
    finds an observed row for the year returns it as kind 'observed', distribution 'fixed'."""

    value: float
    low: float
    high: float
    reasoning: str
    kind: str | None = None
    distribution: str | None = None


def _observed(indicator: str, year: int, v: float, how: str, unit: str = "") -> Inferred:
    """The year's own row: observed, fixed."""
    return Inferred(v, v, v, f"Observed: {indicator} {year} = {v:g}{unit} ({how}: the year has its own row).",
                    kind="observed", distribution="fixed")


# ---------------------------------------------------------------------------------------------- helpers
def _value(df: pd.DataFrame, indicator: str, year: int) -> float | None:
    sub = df[(df["indicator"] == indicator) & (df["year"] == year)]
    return float(sub["value"].iloc[0]) if len(sub) else None


def _require(df: pd.DataFrame, indicator: str, year: int) -> float:
    v = _value(df, indicator, year)
    if v is None:
        raise DataError(f"evidence: the indicator table has no row {indicator} {year}, which this inference needs")
    return v


def _note(df: pd.DataFrame, indicator: str, year: int) -> str:
    """The note of a row ('' where the table has no note column or the row none)."""
    if "note" not in df.columns:
        return ""
    sub = df[(df["indicator"] == indicator) & (df["year"] == year)]
    return str(sub["note"].iloc[0]).strip() if len(sub) else ""


def _with_note(df: pd.DataFrame, indicator: str, year: int) -> str:
    """' (its note: ...)' for a row with a note, else ''."""
    n = _note(df, indicator, year)
    return f" (its note: {n})" if n else ""


_GRADE_TAG = re.compile(r"^\[([ABC][+-]?(?:/[ABC][+-]?)?)\]")


def _grade_tag(note: str) -> str | None:
    """The grade tag ('[A]', '[B/C]', ...) a note opens with, without the brackets; None if none."""
    m = _GRADE_TAG.match(note)
    return m.group(1) if m else None


def _g(pct: float) -> float:
    """log(1 + pct / 100): a growth rate in log points."""
    return math.log1p(pct / 100.0)


def _floor1(x: float) -> float:
    return math.floor(x * 10.0 + 1e-9) / 10.0


def _ceil1(x: float) -> float:
    return math.ceil(x * 10.0 - 1e-9) / 10.0


def _fmt(x: float, nd: int = 4) -> str:
    return f"{x:.{nd}f}"


def longest_partial(df: pd.DataFrame, stem: str, year: int) -> tuple[str, float] | None:
    """The partial-year row of ``stem`` in ``year`` that covers the most months: (suffix, value)."""
    best = None
    for suffix, months in sorted(PARTIAL_MONTHS.items(), key=lambda kv: -kv[1]):
        v = _value(df, stem + suffix, year)
        if v is not None:
            best = (suffix, v)
            break
    return best


def _rms_log_gap(history: pd.DataFrame, year: int | None, stem_of) -> tuple[float, list[str]]:
    """Root mean square of log(1 + rate) - log(1 + reference) over every row whose name ``stem_of``
    maps to the name of a reference series with a row in the same year (up to ``year``), and the pairs used."""
    diffs, used = [], []
    names = set(history["indicator"])
    for name in sorted(names):
        stem = stem_of(name)
        if stem is None or stem not in names:
            continue
        ref = series(history, stem)
        for y, v in series(history, name).items():
            if y in ref.index and (year is None or y <= year):
                diffs.append(_g(v) - _g(ref[y]))
                used.append(f"{name} {y} = {v:g} vs {stem} {y} = {ref[y]:g}")
    return (float(np.sqrt(np.mean(np.square(diffs)))) if diffs else float("nan")), used


def partial_year_growth_error(history: pd.DataFrame, year: int | None = None) -> tuple[float, list[str]]:
    """How far a partial-year growth rate strays from the same year's full-year rate, in log points:
    the root mean square of log(1 + partial) - log(1 + annual) over every growth series (``*_growth_pct``)
    with a partial-year row and a full-year row in the same year (up to ``year``), and the pairs used."""
    def stem_of(name: str) -> str | None:
        for suffix in PARTIAL_MONTHS:
            if name.endswith(suffix) and name[: -len(suffix)].endswith("_growth_pct"):
                return name[: -len(suffix)]
        return None

    rms, used = _rms_log_gap(history, year, stem_of)
    if not used:
        raise DataError("evidence: no growth series has both a partial-year and a full-year row in the same year, "
                        "so the error of a partial-year rate cannot be measured; pass partial_sd")
    return rms, used


def first_release_error(history: pd.DataFrame, year: int | None = None) -> tuple[float, list[str]]:
    """How far a first release of a growth rate strays from its final figure, in log points: the root
    mean square of log(1 + first) - log(1 + final) over the ``*_growth_pct_initial_release`` rows with a
    full-year row of the same year (up to ``year``), and the pairs used."""
    suffix = "_initial_release"
    rms, used = _rms_log_gap(history, year, lambda n: n[: -len(suffix)] if n.endswith("_growth_pct" + suffix) else None)
    if not used:
        raise DataError("evidence: no growth rate has both a first release and a final figure, so the error of a "
                        "preliminary full-year rate cannot be measured; pass full_sd")
    return rms, used


# ---------------------------------------------------------------------------------------------- T2
class PremiumPool(NamedTuple):
    """The observed yearly SEI growth premia ln(1 + g_sei) - ln(1 + g_above) up to a year, with their
    weighted mean and spread."""

    rows: list[tuple[int, float, float, str]]  # year, premium, weight, how (reasoning text)
    mean: float
    sd: float  # reliability-weighted, unbiased
    n_eff: float
    se_mean: float


def sei_premium_pool(history: pd.DataFrame, year: int) -> PremiumPool:
    """Every observed SEI growth premium up to ``year``, one per year: the full-year SEI growth row
    against the year's above-size growth if there is one, else the longest partial-year SEI row (weight
    PARTIAL_YEAR_WEIGHT); their weighted mean, spread, effective n and the standard error of the mean."""
    g_sei = series(history, SEI_GROWTH)
    g_above = series(history, ABOVE_GROWTH)
    pool: list[tuple[int, float, float, str]] = []  # year, premium, weight, how
    for y in sorted(int(v) for v in g_above.index if v <= year):
        if y in g_sei.index:
            p = _g(g_sei[y]) - _g(g_above[y])
            pool.append((y, p, 1.0, f"{y} full year: ln(1 + {g_sei[y]:g} %) - ln(1 + {g_above[y]:g} %) = {_fmt(p)}"))
        elif (part := longest_partial(history, SEI_GROWTH, y)) is not None:
            suffix, v = part
            p = _g(v) - _g(g_above[y])
            pool.append((y, p, PARTIAL_YEAR_WEIGHT,
                         f"{y} partial ({SEI_GROWTH}{suffix} {v:g} % vs the annual {g_above[y]:g} %): {_fmt(p)}"))
    if len(pool) < 2:
        raise DataError(f"evidence: fewer than two years with both SEI and above-size VA growth up to {year}; "
                        "cannot measure the spread of the SEI growth premium")
    w = np.array([r[2] for r in pool])
    x = np.array([r[1] for r in pool])
    v1, v2 = w.sum(), np.square(w).sum()
    mu = float(np.sum(w * x) / v1)
    tau = float(math.sqrt(np.sum(w * np.square(x - mu)) / (v1 - v2 / v1)))  # reliability-weighted, unbiased
    n_eff = v1 * v1 / v2
    return PremiumPool(pool, mu, tau, float(n_eff), tau / math.sqrt(n_eff))


def infer_t2_sei_share(history: pd.DataFrame, year: int, *, full_sd: float | None = None,
                       partial_sd: float | None = None) -> Inferred:
    """T2 (SEI share of above-size industry VA, %) in ``year``, from its last full-year level carried
    forward by the yearly SEI growth premium log(1 + g_sei) - log(1 + g_above).

    Each year after the last level: a full-year SEI growth row against the year's above-size growth
    (measurement error ``full_sd``: two preliminary rates, each revised by about the first-release error
    in the table); else the longest partial-year SEI growth row against the year's annual above-size
    growth (error ``partial_sd``: how far partial-year rates stray from full-year ones in the table);
    else a draw from the mean and spread of the observed premia (weighted: full years 1, partial years
    PARTIAL_YEAR_WEIGHT). The 95 % interval propagates the variances analytically (sum of independent
    normal terms in log points; the mean premium's standard error enters once per missing year and is
    common to them); the central value is the median, 33.1 x exp(sum of central premia).
    """
    levels = series(history, SEI_SHARE)
    levels = levels[levels.index <= year]
    if levels.empty:
        raise DataError(f"evidence: no full-year {SEI_SHARE} row in or before {year}")
    y0 = int(levels.index.max())
    s0 = float(levels[y0])
    if y0 == year:
        return _observed(SEI_SHARE, year, s0, "simmodel.evidence.infer_t2_sei_share", " %")
    g_sei = series(history, SEI_GROWTH)
    g_above = series(history, ABOVE_GROWTH)
    if full_sd is None:
        rev_sd, rev_pairs = first_release_error(history, year)
        full_sd = math.sqrt(2.0) * rev_sd
        full_note = (f"a full-year premium differences two preliminary rates, each revised by about "
                     f"{_fmt(rev_sd)} log points (root mean square of {'; '.join(rev_pairs)}): sd sqrt(2) x "
                     f"{_fmt(rev_sd)} = {_fmt(full_sd)}")
    else:
        full_note = f"a full-year premium has sd {_fmt(full_sd)} (given)"
    if partial_sd is None:
        partial_sd, part_pairs = partial_year_growth_error(history, year)
        part_note = (f"a partial-year rate strays from the full-year one by {_fmt(partial_sd)} log points (root mean "
                     f"square over the {len(part_pairs)} series-years with both: {'; '.join(part_pairs)})")
    else:
        part_note = f"a partial-year premium has sd {_fmt(partial_sd)} (given)"

    pp = sei_premium_pool(history, year)
    pool, mu, tau, n_eff, se_mu = pp.rows, pp.mean, pp.sd, pp.n_eff, pp.se_mean

    mean_s, var_meas, k_missing, steps = 0.0, 0.0, 0, []
    for y in range(y0 + 1, year + 1):
        if y in g_sei.index and y in g_above.index:
            p = _g(g_sei[y]) - _g(g_above[y])
            mean_s += p
            var_meas += full_sd ** 2
            steps.append(f"{y}: full-year premium {_fmt(p)} (sd {_fmt(full_sd)})")
        elif y in g_above.index and (part := longest_partial(history, SEI_GROWTH, y)) is not None:
            suffix, v = part
            p = _g(v) - _g(g_above[y])
            mean_s += p
            var_meas += partial_sd ** 2
            steps.append(f"{y}: partial-year premium {_fmt(p)} ({SEI_GROWTH}{suffix} {v:g} % vs {ABOVE_GROWTH} "
                         f"{g_above[y]:g} %; sd {_fmt(partial_sd)})")
        else:
            mean_s += mu
            k_missing += 1
            steps.append(f"{y}: no SEI growth row, the mean premium {_fmt(mu)} (sd {_fmt(tau)})")
    var_s = var_meas + k_missing * tau ** 2 + (k_missing * se_mu) ** 2
    sd_s = math.sqrt(var_s)
    central = s0 * math.exp(mean_s)
    lo = s0 * math.exp(mean_s - Z95 * sd_s)
    hi = s0 * math.exp(mean_s + Z95 * sd_s)
    value, low, high = round(central, 1), _floor1(lo), _ceil1(hi)
    reasoning = (
        f"Inferred (simmodel.evidence.infer_t2_sei_share). No SEI share is in the data after {y0} (data README). "
        f"Last full-year level: {SEI_SHARE} {y0} = {s0:g} % (post-2018 SEI catalogue). Carried forward by the yearly "
        f"SEI growth premium ln(1 + {SEI_GROWTH}) - ln(1 + {ABOVE_GROWTH}) (real growth rates; the share is taken "
        f"to move with the real growth difference). Observed premia up to {year}: " + "; ".join(r[3] for r in pool)
        + f". Partial-year premia weigh {PARTIAL_YEAR_WEIGHT:g} of a full year's (a partial-year rate is not the "
        f"annual one). Weighted mean {_fmt(mu)}, spread (sd) {_fmt(tau)}, effective n {n_eff:.2f}, standard error "
        f"of the mean {_fmt(se_mu)}. Years {y0 + 1}-{year}: " + "; ".join(steps)
        + f". Sum of premia {_fmt(mean_s)} log points; variance = measurement ({_fmt(var_meas, 6)}) + {k_missing} "
        f"missing year(s) x spread^2 ({_fmt(k_missing * tau ** 2, 6)}) + ({k_missing} x s.e. of the mean)^2 "
        f"({_fmt((k_missing * se_mu) ** 2, 6)}) = {_fmt(var_s, 6)}, sd {_fmt(sd_s)}. Errors: {full_note}; {part_note}. "
        f"Central value (median) {s0:g} x exp({_fmt(mean_s)}) = {central:.2f} %; 95 % interval {s0:g} x "
        f"exp({_fmt(mean_s)} -/+ {Z95:.2f} x {_fmt(sd_s)}) = [{lo:.2f}, {hi:.2f}] %, drawn as a triangular "
        f"distribution with its mode at the central value. Not in the interval: a further SEI catalogue revision "
        f"(as in 2018) or a price fall in SEI products relative to other industry, which would make the nominal "
        f"share rise less than the real growth difference; neither is measured in the data."
    )
    return Inferred(value, low, high, reasoning)


# ---------------------------------------------------------------------------------------------- 415X total
GDP = "gdp_cny_100m"
GDP_FIRST_RELEASE = "gdp_cny_100m_initial_release"
GDP_REAL_GROWTH = "gdp_real_growth_pct"


def gdp_price_factor(history: pd.DataFrame, y0: int, y1: int) -> tuple[float, list[str]]:
    """The GDP deflator's rise from ``y0`` to ``y1``: the product over y0 < y <= y1 of the nominal level
    ratio over real growth, (level_y / level_{y-1}) / (1 + gdp_real_growth_pct_y), and the steps.

    level_{y-1} is the year's gdp_cny_100m; level_y is the first release of y (gdp_cny_100m_initial_release)
    where the table has one, else gdp_cny_100m: a first release is on the basis of the year before, while a
    later revision of y alone (the 5th economic census's of 2023) is a series break between y-1 and y."""
    factor, steps = 1.0, []
    for y in range(y0 + 1, y1 + 1):
        prev = _require(history, GDP, y - 1)
        first = _value(history, GDP_FIRST_RELEASE, y)
        cur = first if first is not None else _require(history, GDP, y)
        real = _require(history, GDP_REAL_GROWTH, y)
        f = cur / prev / (1.0 + real / 100.0)
        factor *= f
        if first is not None:
            final = _value(history, GDP, y)
            src = (f"{GDP_FIRST_RELEASE} {y} {cur:g} / {GDP} {y - 1} {prev:g} / {1 + real / 100:g} = {f:.4f} (the first "
                   f"release, on the basis of {y - 1}'s level: the final {GDP} {y} = {final:g} is a later revision "
                   f"of {y} alone, a series break)" if final is not None and final != cur else
                   f"{GDP_FIRST_RELEASE} {y} {cur:g} / {GDP} {y - 1} {prev:g} / {1 + real / 100:g} = {f:.4f}")
        else:
            src = f"{GDP} {y} {cur:g} / {y - 1} {prev:g} / {1 + real / 100:g} = {f:.4f}"
        steps.append(src)
    return factor, steps


def _backcast_cluster_415x_revenue(history: pd.DataFrame, year: int) -> Inferred:
    """415X revenue in a year with no level the year before: the year's own level (observed), else
    the next observed level back-cast by the real above-size VA growth of the years between, the
    interval from that divided by the GDP deflator's rise over the same years to the real back-cast."""
    levels = series(history, CLUSTER_415X)
    later = levels[levels.index >= year]
    if later.empty:
        raise DataError(f"evidence: no {CLUSTER_415X} row in {year - 1} to grow from, nor one in or after {year} "
                        f"to back-cast from: cannot infer the 415X revenue of {year}")
    y1 = int(later.index.min())
    level = float(later[y1])
    if y1 == year:
        return _observed(CLUSTER_415X, year, level, "simmodel.evidence.infer_cluster_415x_revenue")
    growth = [(y, _require(history, ABOVE_GROWTH, y)) for y in range(year + 1, y1 + 1)]
    real = math.prod(1.0 + g / 100.0 for _, g in growth)
    back = level / real
    price, price_steps = gdp_price_factor(history, year, y1)
    lo_raw, hi_raw = sorted((back / price, back))
    central = (lo_raw + hi_raw) / 2.0
    value, low, high = float(round(central)), float(math.floor(lo_raw + 1e-9)), float(math.ceil(hi_raw - 1e-9))
    rising = price >= 1.0
    reasoning = (
        f"Derived (simmodel.evidence.infer_cluster_415x_revenue): no {CLUSTER_415X} row in {year - 1} to grow from; "
        f"back-cast from the next level, {CLUSTER_415X} {y1} = {level:g}, by the real growth of above-size industry "
        f"VA in the years between ({ABOVE_GROWTH} " + ", ".join(f"{y} {g:g} %" for y, g in growth)
        + f"): {level:g} / (" + " x ".join(f"{1 + g / 100:g}" for _, g in growth) + f") = {back:.1f}. Real growth "
        + ("deflates too little where prices rose: nominal revenue grew by the real rate times the price change, so "
           f"the {year} level lies below the real back-cast" if rising else
           f"deflates too much where prices fell, so the {year} level lies above the real back-cast")
        + f". Price factor: the GDP deflator over the same years, the nominal level ratio over real growth "
        f"({GDP} / {GDP_REAL_GROWTH}): " + "; ".join(price_steps) + f"; product {price:.4f} (the GDP deflator stands "
        f"in for the prices of the clusters' output: no industrial price index is in the data). Range between {back:.1f} / "
        f"{price:.4f} = {back / price:.1f} and {back:.1f}: [{lo_raw:.1f}, {hi_raw:.1f}], rounded outwards to "
        f"[{low:.0f}, {high:.0f}]; "
        f"the data say nothing about where in it: central value the middle, {value:.0f}, triangular with its mode "
        f"there."
    )
    return Inferred(value, low, high, reasoning)


def infer_cluster_415x_revenue(history: pd.DataFrame, year: int) -> Inferred:
    """415X cluster revenue in ``year`` (CNY 100 m): the previous year's level grown by the year's
    above-size industry VA growth; the interval runs from the year's observed lower bound (if any, else
    -3 %) to the same distance above the central value.

    With no level the year before: the year's own level if there is one (observed); else the next
    observed level back-cast by the real above-size VA growth of the years between, the interval from the
    back-cast divided by the GDP deflator's rise over those years (``gdp_price_factor``) to the back-cast
    itself, the value the middle (``_backcast_cluster_415x_revenue``)."""
    if _value(history, CLUSTER_415X, year - 1) is None:
        return _backcast_cluster_415x_revenue(history, year)
    prev = _require(history, CLUSTER_415X, year - 1)
    g = _require(history, ABOVE_GROWTH, year)
    central = prev * (1.0 + g / 100.0)
    bound = _value(history, CLUSTER_415X_LOWER, year)
    if bound is not None and bound > central:
        raise DataError(f"evidence: {CLUSTER_415X_LOWER} {year} = {bound:g} lies above the grown level {central:g}")
    value = round(central)
    if bound is not None:
        low = bound
        bound_note = (f"low end the observed lower bound {CLUSTER_415X_LOWER} {year} = {bound:g} ('突破9万亿'); "
                      f"high end the same distance above the central value ({value:g} + {value - low:g})")
    else:
        low = round(central * 0.97)
        bound_note = "no lower bound in the data for the year: -3 % and the same distance above"
    high = value + (value - low)
    reasoning = (f"Derived (simmodel.evidence.infer_cluster_415x_revenue): {CLUSTER_415X} {year - 1} = {prev:g} grown by "
                 f"{ABOVE_GROWTH} {year} ({g:g} %) = {prev:g} x {1 + g / 100:g} = {central:.0f}; real growth used as "
                 f"nominal (industrial prices fell in 2023-2024), so the range is symmetric: {bound_note}.")
    return Inferred(float(value), float(low), float(high), reasoning)


# ---------------------------------------------------------------------------------------------- T1
def seasonal_ratios(history: pd.DataFrame, year: int | None = None) -> list[tuple[str, float]]:
    """For every level series (``*_cny_100m``) with a partial-year row and a full-year row in the same
    year: (description, r) where r = (partial level / annual level) / (months / 12), the partial period's
    share of the year relative to an even spread (r < 1: the rest of the year is heavier)."""
    out = []
    names = set(history["indicator"])
    for name in sorted(names):
        for suffix, months in PARTIAL_MONTHS.items():
            stem = None
            if name.endswith(suffix):
                stem = name[: -len(suffix)]
            elif name.endswith(suffix + "_approx"):
                stem = name[: -len(suffix + "_approx")]
            if stem is None or not stem.endswith("_cny_100m") or stem not in names:
                continue
            annual = series(history, stem)
            for y, v in series(history, name).items():
                if y in annual.index and (year is None or y <= year):
                    r = (v / annual[y]) / (months / 12.0)
                    out.append((f"{name} {y} / {stem} {y} = {v:g} / {annual[y]:g} over {months}/12 = {r:.4f}", float(r)))
    return out


class Annualised(NamedTuple):
    """The emerging clusters' revenue rows of a year, annualised: each row (name, value) with the
    factor that annualises it (central, and the ends of its range) and how the factor was found."""

    rows: tuple[tuple[str, str, float], ...]  # (indicator stem, row used, its value) per cluster
    factor: float
    factor_low: float
    factor_high: float
    note: str


def annualise_emerging_clusters(history: pd.DataFrame, year: int) -> Annualised:
    """The revenue rows of the emerging clusters in the data (EMERGING_CLUSTER_ROWS) for ``year``: the
    full-year row if there is one, else the longest partial-year row, annualised by 12/m / r with r the
    partial period's share of the year relative to an even spread (``seasonal_ratios``: mean r for the
    central factor; no seasonality, r = 1, and the most back-loaded observed year for its range). All rows
    must cover the same period."""
    rows, months = [], set()
    for stem in EMERGING_CLUSTER_ROWS:
        part = longest_partial(history, stem, year)
        annual = _value(history, stem, year)
        if annual is not None:
            rows.append((stem, stem, annual))
            months.add(12)
        elif part is not None:
            suffix, v = part
            rows.append((stem, stem + suffix, v))
            months.add(PARTIAL_MONTHS[suffix])
        else:
            raise DataError(f"evidence: no {stem} row (full or partial year) for {year}")
    if len(months) != 1:
        raise DataError(f"evidence: the emerging-cluster revenue rows of {year} cover different periods "
                        f"({sorted(months)} months)")
    m = months.pop()
    if m == 12:
        return Annualised(tuple(rows), 1.0, 1.0, 1.0, "full-year rows: no annualisation")
    ratios = seasonal_ratios(history, year)
    if not ratios:
        raise DataError("evidence: no level series with both a partial-year and a full-year row: cannot measure "
                        "the within-year pattern to annualise the cluster revenues")
    rs = np.array([r for _, r in ratios])
    r_mean, r_min = float(rs.mean()), float(rs.min())
    f_c = (12.0 / m) / r_mean
    f_lo = 12.0 / m  # no seasonality: the period is its calendar share of the year
    f_hi = (12.0 / m) / min(r_min, 1.0)  # as back-loaded as the most back-loaded observed year
    note = (f"annualised by 12/{m} / r, r the partial period's share of the year relative to an even "
            f"spread, measured on the level series with both rows ({'; '.join(t for t, _ in ratios)}): "
            f"mean r {r_mean:.4f}, factor {f_c:.4f}. Assumption: the clusters' revenue has the within-year "
            f"pattern of these value-added series (a ratio measured at other cut-off months); range from no "
            f"seasonality (r = 1, factor {f_lo:.4f}) to the most back-loaded observed year (r {r_min:.4f}, "
            f"factor {f_hi:.4f})")
    return Annualised(tuple(rows), f_c, f_lo, f_hi, note)


def infer_emerging_cluster_revenues(history: pd.DataFrame, year: int) -> dict[str, Inferred]:
    """Base-year revenue (CNY 100 m) of each emerging cluster with a revenue row, keyed by its sector_id
    (EMERGING_CLUSTER_SECTORS): its row annualised as for T1 (``annualise_emerging_clusters``), the value
    at the central factor, the interval at the ends of the factor's range (rounded outwards to CNY 100 m)."""
    a = annualise_emerging_clusters(history, year)
    out = {}
    for stem, row, v in a.rows:
        sid = EMERGING_CLUSTER_SECTORS[stem]
        c, lo, hi = v * a.factor, v * a.factor_low, v * a.factor_high
        value, low, high = float(round(c)), float(math.floor(lo + 1e-9)), float(math.ceil(hi - 1e-9))
        reasoning = (
            f"Inferred (simmodel.evidence.infer_emerging_cluster_revenues). {row} {year} = {v:g}, {a.note}. "
            f"Annualised: {v:g} x {a.factor:.4f} = {c:.1f} (range {v:g} x {a.factor_low:.4f} = {lo:.1f} to {v:g} x "
            f"{a.factor_high:.4f} = {hi:.1f}), rounded to {value:.0f} ({low:.0f}-{high:.0f}); triangular with its mode "
            f"at the central value. The same annualisation as the three clusters' sum in t1_emerging_share_415x_pct. "
            f"Taken, like the 415X total it is part of, as the above-size revenue of sector {sid}: the synthesis "
            f"gives {sid} this revenue and deals the rest of the emerging total (T1 x 415X revenue) to the emerging "
            f"sectors without such a row by their weights."
        )
        out[sid] = Inferred(value, low, high, reasoning)
    return out


def has_emerging_cluster_rows(history: pd.DataFrame, year: int) -> bool:
    """Whether any emerging cluster of EMERGING_CLUSTER_ROWS has a revenue row (full or partial year) in ``year``."""
    return any(_value(history, stem, year) is not None or longest_partial(history, stem, year) is not None
               for stem in EMERGING_CLUSTER_ROWS)


def has_all_emerging_cluster_rows(history: pd.DataFrame, year: int) -> bool:
    """Whether every emerging cluster of EMERGING_CLUSTER_ROWS has a revenue row (full or partial year) in ``year``."""
    return all(_value(history, stem, year) is not None or longest_partial(history, stem, year) is not None
               for stem in EMERGING_CLUSTER_ROWS)


# How far above the mean observed SEI growth premium the largest plausible premium lies, in spreads (sd).
PREMIUM_MAX_SDS = 2.0


def share_years_earlier(share: float, premium: float, years: int) -> float:
    """The share (a fraction) ``years`` earlier of a group with share ``share`` that grew faster than the
    rest by ``premium`` log points a year: s e^{-pk} / (s e^{-pk} + 1 - s)."""
    e = share * math.exp(-premium * years)
    return e / (e + 1.0 - share)


def _carry_back_t1(history: pd.DataFrame, year: int) -> Inferred:
    """T1 in a year without emerging-cluster revenue rows: the interval of the nearest later year with
    them, carried back by the SEI growth premium: the low end with the largest plausible premium (the
    observed premia's mean + PREMIUM_MAX_SDS spreads), the high end with premium 0; uniform, the middle."""
    later = sorted(int(y) for y in set(history["year"]) if y > year and has_emerging_cluster_rows(history, int(y)))
    if not later:
        raise DataError(f"evidence: no emerging-cluster revenue row ({', '.join(EMERGING_CLUSTER_ROWS)}) in {year} "
                        f"or any later year: cannot bound T1 in {year} nor carry a later interval back")
    y1 = later[0]
    k = y1 - year
    at = infer_t1_emerging_share(history, y1)
    pp = sei_premium_pool(history, y1)
    p_max = pp.mean + PREMIUM_MAX_SDS * pp.sd
    s_lo, s_hi = at.low / 100.0, at.high / 100.0
    e_lo = s_lo * math.exp(-p_max * k)
    lo = 100.0 * share_years_earlier(s_lo, p_max, k)
    hi = 100.0 * share_years_earlier(s_hi, 0.0, k)
    low, high = _floor1(lo), _ceil1(hi)
    value = round((low + high) / 2.0, 1)
    all_positive = all(r[1] > 0 for r in pp.rows)
    reasoning = (
        f"Inferred (simmodel.evidence.infer_t1_emerging_share). T1 is not in the data for any year (data README), "
        f"and no emerging-cluster revenue row is in {year} ({', '.join(EMERGING_CLUSTER_ROWS)}). The nearest later "
        f"year with them is {y1}, where the data bound T1 to [{at.low:g}, {at.high:g}] % (t1_emerging_share_415x_pct "
        f"of the {y1} table: the clusters with a row at their smallest over the largest 415X total; at most the total "
        f"less the two traditional clusters above CNY 1 trillion). Carried back {k} years by the growth premium of "
        f"the emerging clusters over the 415X total: a group with share s growing faster by p log points a year had "
        f"share s e^(-pk) / (s e^(-pk) + 1 - s) k years earlier. That premium is not in the data; the SEI growth "
        f"premium ln(1 + {SEI_GROWTH}) - ln(1 + {ABOVE_GROWTH}) stands in for it. Observed premia up to {y1}: "
        + "; ".join(r[3] for r in pp.rows)
        + f" (partial years at weight {PARTIAL_YEAR_WEIGHT:g}): weighted mean {_fmt(pp.mean)}, spread (sd) "
        f"{_fmt(pp.sd)}. Low end with the largest plausible premium, the mean + {PREMIUM_MAX_SDS:g} sd = {_fmt(pp.mean)} "
        f"+ {PREMIUM_MAX_SDS:g} x {_fmt(pp.sd)} = {_fmt(p_max)}: {s_lo:g} x exp(-{_fmt(p_max)} x {k}) = {e_lo:.4f}; "
        f"{e_lo:.4f} / ({e_lo:.4f} + {1 - s_lo:g}) = {lo:.2f} %. High end with premium 0 (the emerging clusters grew "
        f"no faster than the rest): {hi:.2f} %."
        + (" A negative premium is not in the interval: the SEI premium was positive in every observed year."
           if all_positive else "")
        + f" The data say little about where T1 lies in [{low:g}, {high:g}] %: uniform, central value the middle, "
        f"{value:g} %."
    )
    return Inferred(value, low, high, reasoning)


def infer_t1_emerging_share(history: pd.DataFrame, year: int) -> Inferred:
    """T1 (share of the 11 emerging clusters in 415X revenue, %) in ``year``: bounded by the data.

    Lower end: the three emerging clusters with a revenue row (partial-year, annualised with the within-
    year pattern measured on level series that have both a partial-year and a full-year row) over the
    largest plausible 415X total: the other eight emerging clusters are not in the data and count 0.
    Upper end: only the clusters above CNY 1 trillion in the previous year are named in the data, two of
    them traditional; so the emerging clusters hold at most the 415X total less CNY 2 trillion (the other
    eight emerging clusters, each below CNY 1 trillion, bound nothing tighter). The data say nothing about
    where T1 lies in between: the value is the middle and the distribution uniform.

    A year without any emerging-cluster revenue row: the interval of the nearest later year with them,
    carried back by the SEI growth premium (``_carry_back_t1``).
    """
    if not has_emerging_cluster_rows(history, year):
        return _carry_back_t1(history, year)
    total = infer_cluster_415x_revenue(history, year)
    a = annualise_emerging_clusters(history, year)
    part_text = [f"{row} {year} = {v:g}" for _, row, v in a.rows]
    partial_sum = sum(v for _, _, v in a.rows)
    f_c, f_lo, f_hi, season_note = a.factor, a.factor_low, a.factor_high, a.note
    three_c, three_lo, three_hi = partial_sum * f_c, partial_sum * f_lo, partial_sum * f_hi
    n_trillion = _value(history, TRILLION_COUNT, year - 1)
    if n_trillion is None:
        raise DataError(f"evidence: no {TRILLION_COUNT} row for {year - 1}: cannot bound the emerging share from above")
    trad_min = len(TRILLION_TRADITIONAL) * TRILLION_CNY_100M
    share_c = 100.0 * three_c / total.value
    lo = 100.0 * three_lo / total.high
    hi = 100.0 * (1.0 - trad_min / total.high)
    low, high = _floor1(lo), _ceil1(hi)
    value = round((low + high) / 2.0, 1)
    growth = _require(history, ABOVE_GROWTH, year)
    other_eight_cap = (11 - len(EMERGING_CLUSTER_ROWS)) * TRILLION_CNY_100M * (1.0 + growth / 100.0)
    reasoning = (
        f"Inferred (simmodel.evidence.infer_t1_emerging_share). T1 is not in the data for any year (data README); "
        f"the data bound it. Three of the 11 emerging clusters have a revenue row: {', '.join(part_text)}; sum "
        f"{partial_sum:.1f}, {season_note}. Annualised: {partial_sum:.1f} x {f_c:.4f} = {three_c:.0f} (range "
        f"{three_lo:.0f}-{three_hi:.0f}). 415X total {year}: {total.value:g} (range {total.low:g}-{total.high:g}; "
        f"{CLUSTER_415X} {year - 1} grown by {ABOVE_GROWTH} {year}, see cluster_415x_revenue_cny_100m). The three "
        f"alone are {three_c:.0f} / {total.value:g} = {share_c:.1f} % of 415X revenue. The other eight emerging "
        f"clusters (AI, biomedicine, new materials, NEV, smart PV, new-energy equipment, robots and CNC, ships and "
        f"marine) are not in the data. Lower end: the three at their smallest over the largest total, the eight at "
        f"0: {three_lo:.0f} / {total.high:g} = {lo:.2f} %. Upper end: {TRILLION_COUNT} {year - 1} = {n_trillion:g} "
        f"clusters above CNY 1 trillion, two of them traditional ({'; '.join(TRILLION_TRADITIONAL)}), so at least "
        f"{trad_min:g} of the total is traditional (assuming neither fell below CNY 1 trillion in {year}): "
        f"1 - {trad_min:g} / {total.high:g} = {hi:.2f} %. The eight are each below CNY 1 trillion in {year - 1}, "
        f"at most {other_eight_cap:.0f} together in {year}, which bounds nothing tighter. The data say little "
        f"about where T1 lies in [{low:g}, {high:g}] %: uniform, central value the middle, {value:g} %."
    )
    return Inferred(value, low, high, reasoning)


# ---------------------------------------------------------------------------------------------- T3
def infer_digital_core_va(history: pd.DataFrame, year: int) -> Inferred:
    """Digital-core VA (CNY 100 m) in ``year``: the observed level, from the year's lower bound (if any
    and below it) to DIGITAL_CORE_UPPER_MARGIN above it."""
    level = _require(history, DIGITAL_CORE, year)
    bound = _value(history, DIGITAL_CORE_LOWER, year)
    if bound is not None and bound > level:
        raise DataError(f"evidence: {DIGITAL_CORE_LOWER} {year} = {bound:g} lies above the level {level:g}")
    high = float(round(level * (1.0 + DIGITAL_CORE_UPPER_MARGIN)))
    low = bound if bound is not None else float(round(level * (1.0 - DIGITAL_CORE_UPPER_MARGIN)))
    gdp = _value(history, "gdp_cny_100m", year)
    census = _value(history, "gdp_cny_100m_initial_release", 2023)
    census_final = _value(history, "gdp_cny_100m", 2023)
    rev = (f"the size of the 5th economic census's revision of 2023 GDP (gdp_cny_100m 2023 = {census_final:g} vs "
           f"gdp_cny_100m_initial_release 2023 = {census:g}: {100 * (census_final / census - 1):+.1f} %), rounded up"
           if census and census_final else "a later revision of a few per cent")
    share = f" T3 in {year} = {level:g} / gdp_cny_100m {year} {gdp:g} = {100 * level / gdp:.2f} %." if gdp else ""
    growth = _value(history, "digital_core_va_growth_pct", year)
    agrees = (f"; the growth its source gives agrees with digital_core_va_growth_pct {year} = {growth:g} %"
              if growth is not None else "")
    grade = _grade_tag(_note(history, DIGITAL_CORE, year))
    what = ("grade C: a compiled figure with no named original" if grade == "C"
            else "a reported level" + (f", grade {grade}" if grade else ""))
    reasoning = (
        f"Observed: {DIGITAL_CORE} {year} = {level:g} ({what}{agrees}). "
        f"Range: low end "
        + (f"the official lower bound {DIGITAL_CORE_LOWER} {year} = {bound:g} ('突破1万亿')" if bound is not None
           else f"-{100 * DIGITAL_CORE_UPPER_MARGIN:g} % = {low:g} (no lower bound in the data for the year)")
        + f"; high end +{100 * DIGITAL_CORE_UPPER_MARGIN:g} % = {high:g}, a revision of {rev}. Triangular with its "
        f"mode at the observed value.{share}"
    )
    return Inferred(level, float(low), high, reasoning)


# ---------------------------------------------------------------------------------------------- counts
def infer_count_between(history: pd.DataFrame, indicator: str, year: int) -> Inferred:
    """A count in ``year`` between two observed rows of a series that rose at every observed step: the
    year's own row if there is one (observed, fixed); else the log-linear interpolation between the
    nearest rows before and after (central, a constant growth rate), from the earlier count (low end: the
    series only rose) to the linear interpolation (high end: above the log-linear one on a convex path)."""
    s = series(history, indicator)
    if s.empty:
        raise DataError(f"evidence: the indicator table has no {indicator} row")
    if year in s.index:
        return _observed(indicator, year, float(s[year]), "simmodel.evidence.infer_count_between")
    before, after = s[s.index < year], s[s.index > year]
    if before.empty or after.empty:
        raise DataError(f"evidence: {indicator} needs a row before and a row after {year} to interpolate; it has rows "
                        f"in {', '.join(str(int(y)) for y in s.index)}")
    y0, y1 = int(before.index.max()), int(after.index.min())
    v0, v1 = float(s[y0]), float(s[y1])
    upto = s[s.index <= y1]
    if not (np.diff(upto.to_numpy()) > 0).all():
        raise DataError(f"evidence: {indicator} does not rise at every observed step up to {y1} "
                        f"({', '.join(f'{int(y)} {v:g}' for y, v in upto.items())}): the earlier count is no lower "
                        f"bound of {year}'s")
    t = (year - y0) / (y1 - y0)
    central = v0 * (v1 / v0) ** t
    linear = v0 + (v1 - v0) * t
    value, low, high = float(round(central)), v0, float(math.ceil(linear - 1e-9))
    reasoning = (
        f"Inferred (simmodel.evidence.infer_count_between). No {indicator} row in {year}; the nearest rows: {y0} = "
        f"{v0:g}{_with_note(history, indicator, y0)} and {y1} = {v1:g}{_with_note(history, indicator, y1)}. Central "
        f"value the log-linear interpolation (a constant growth rate): {v0:g} x ({v1:g} / {v0:g})^({year - y0}/"
        f"{y1 - y0}) = {central:.1f}, rounded to {value:.0f}. The series rose at every observed step ("
        + ", ".join(f"{int(y)} {v:g}" for y, v in upto.items())
        + f"), so the earlier count {v0:g} is the low end; high end the linear interpolation, {v0:g} + ({v1:g} - "
        f"{v0:g}) x {year - y0}/{y1 - y0} = {linear:.2f}, rounded up to {high:.0f} (above the log-linear path, which "
        f"is convex). Triangular with its mode at the central value."
    )
    return Inferred(value, float(low), high, reasoning)


def infer_count_before_batch(history: pd.DataFrame, cumulative: str, new: str, year: int) -> Inferred:
    """A cumulative count of a designation at the end of ``year``: the year's own row if there is one
    (observed, fixed); else the next year's cumulative count less the next year's new batch (derived,
    fixed): the count before that batch."""
    own = _value(history, cumulative, year)
    if own is not None:
        return _observed(cumulative, year, own, "simmodel.evidence.infer_count_before_batch")
    cum = _value(history, cumulative, year + 1)
    add = _value(history, new, year + 1)
    if cum is None or add is None:
        raise DataError(f"evidence: no {cumulative} row in {year}, and not both {cumulative} {year + 1} and {new} "
                        f"{year + 1} to derive it from")
    if add > cum:
        raise DataError(f"evidence: {new} {year + 1} = {add:g} exceeds {cumulative} {year + 1} = {cum:g}")
    d = cum - add
    reasoning = (
        f"Derived (simmodel.evidence.infer_count_before_batch): {cumulative} {year + 1} = {cum:g}"
        f"{_with_note(history, cumulative, year + 1)} minus {new} {year + 1} = {add:g}{_with_note(history, new, year + 1)}"
        f" = {d:g} at the end of {year}: the count before the {year + 1} batch (no other batch between the end of "
        f"{year} and that one)."
    )
    return Inferred(d, d, d, reasoning)


HIGH_TECH_COUNT = "high_tech_enterprises_count"
LITTLE_GIANT_CUMULATIVE = "little_giant_national_cumulative_count"
LITTLE_GIANT_NEW = "little_giant_national_new_count"


def _interpolation_needed(indicator: str) -> Callable[[pd.DataFrame, int], bool]:
    """A count's row is inferred where the year has no row but rows before and after it."""

    def supported(history: pd.DataFrame, year: int) -> bool:
        s = series(history, indicator)
        return year not in s.index and (s.index < year).any() and (s.index > year).any()
    return supported


def _before_batch_needed(cumulative: str, new: str) -> Callable[[pd.DataFrame, int], bool]:
    """A cumulative count is derived where the year has no row but the next year has the count and its batch."""

    def supported(history: pd.DataFrame, year: int) -> bool:
        return (_value(history, cumulative, year) is None and _value(history, cumulative, year + 1) is not None
                and _value(history, new, year + 1) is not None)
    return supported


# ---------------------------------------------------------------------------------------------- the table's rows
# quantity -> (function, distribution, kind, unit, supported) for the rows of a base-year table this module
# sets. ``supported`` (None: always) says whether the data support the row in a year: an optional quantity
# (an emerging cluster's revenue) or a count inferred only where the year lacks its own row. A function's
# Inferred may override the distribution and kind (the year's own row: observed, fixed).
INFERRED_ROWS = {
    "cluster_415x_revenue_cny_100m": (infer_cluster_415x_revenue, "triangular", "derived", "CNY 100m", None),
    "t1_emerging_share_415x_pct": (infer_t1_emerging_share, "uniform", "inferred", "%", None),
    "t2_sei_share_pct": (infer_t2_sei_share, "triangular", "inferred", "%", None),
    "digital_core_va_cny_100m": (infer_digital_core_va, "triangular", "observed", "CNY 100m", None),
}


def _cluster_revenue(sector_id: str) -> Callable[[pd.DataFrame, int], Inferred]:
    """The row function of one cluster's revenue (INFERRED_ROWS takes one value per function)."""

    def infer(history: pd.DataFrame, year: int) -> Inferred:
        return infer_emerging_cluster_revenues(history, year)[sector_id]
    infer.__name__ = f"infer_emerging_cluster_revenues[{sector_id}]"
    return infer


INFERRED_ROWS.update({SECTOR_REVENUE_FORMAT.format(sid): (_cluster_revenue(sid), "triangular", "inferred", "CNY 100m",
                                                          has_all_emerging_cluster_rows)
                      for sid in EMERGING_CLUSTER_SECTORS.values()})
INFERRED_ROWS.update({
    "n_high_tech_enterprises": (lambda h, y: infer_count_between(h, HIGH_TECH_COUNT, y), "triangular", "inferred",
                                "count", _interpolation_needed(HIGH_TECH_COUNT)),
    "n_little_giants": (lambda h, y: infer_count_before_batch(h, LITTLE_GIANT_CUMULATIVE, LITTLE_GIANT_NEW, y), "fixed",
                        "derived", "count", _before_batch_needed(LITTLE_GIANT_CUMULATIVE, LITTLE_GIANT_NEW)),
})


def inferred_base_rows(history: pd.DataFrame, year: int) -> dict[str, dict[str, object]]:
    """The rows of the base-year table for ``year`` this module sets, in the table's columns: every row
    of INFERRED_ROWS the data support in that year."""
    out = {}
    for q, (fn, dist, kind, unit, supported) in INFERRED_ROWS.items():
        if supported is not None and not supported(history, year):
            continue
        r = fn(history, year)
        out[q] = {"quantity": q, "year": year, "value": r.value, "low": r.low, "high": r.high,
                  "distribution": r.distribution or dist, "unit": unit, "kind": r.kind or kind,
                  "reasoning": r.reasoning}
    return out
