"""What the calibration compares: every observed row of the replayed years against the same quantity
on the simulated path (SPEC 5; issue 14).

The model is synthesised for the base year (2020 by default) from that year's rows and replays the
years after it under the policy of the time (scenarios/history.yaml). Each full-year row of a year in
(base year, cutoff] of a series below becomes one ``Moment``: the simulated quantity in the same year
has to match it.

- Levels where there are levels: the log of the level (GDP, digital-core VA, above-size industry VA,
  415X revenue, high-tech enterprises, little giants, single champions), compared in log points; shares
  (T3, R&D intensity, T2) in percentage points; the national clusters and pilot zones as counts.
- Across a series break (GDP 2023: the 5th economic census) a level is not comparable with the base
  year's; a later row enters as the log change from the first row after the break.
- Growth where only growth exists: the SEI growth premium (SEI VA growth minus above-size VA growth,
  both at comparable prices, so the price level cancels) of a year with both rows.
- Partial-year rows of a share or a growth premium enter at ``partial_year_weight``; partial-year
  levels never enter. Lower-bound rows are inequalities (``Bound``) where no exact level of the year
  exists.
- Each row's standard error is the series' measurement error (``OBSERVATION_SD``, an assumption with
  its reasoning) divided by the square root of its weight (grade A/B/C from calibration/data/grades.csv
  or a tag in the row's note, times the partial-year weight). The fit adds the model's own spread of
  the quantity across replicates (simmodel.calibration.fit): one history is one draw of the process.

The rows of the base year itself are not compared: the synthesis reproduces them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.data import read_csv_rows
from simmodel.errors import DataError

GRADE_COLUMNS = ("indicator_prefix", "grade", "reasoning")
_GRADE_TAG = re.compile(r"\[([ABC])\]")

# data indicator -> (model indicator, transform, measurement sd in the transform's units, reasoning).
# transform "log": log of a level, sd in log points; "share": pp; "count": an exact count.
# The sds are assumptions about how far a published figure may lie from the quantity the model means:
OBSERVATION_SD = {
    "gdp_cny_100m": ("gdp_cny_100m", "log", 0.02, "revisions of a provincial GDP level outside census years are of the order of 1-2 %"),
    "digital_core_va_cny_100m": ("digital_core_va_cny_100m", "log", 0.05, "compiled, grade C levels; the same 5 % margin as evidence.DIGITAL_CORE_UPPER_MARGIN"),
    "above_scale_industry_va_cny_100m": ("above_size_industry_va_cny_100m", "log", 0.03, "above-size VA levels are relayed, rounded to the hundred, and the above-size universe changes each year"),
    "cluster_415x_revenue_cny_100m": ("cluster_415x_revenue_cny_100m", "log", 0.05, "the 415X total is a programme aggregate whose membership is not published"),
    "high_tech_enterprises_count": ("n_high_tech", "log", 0.05, "counts at different dates of the year (certification batches) differ by a few per cent"),
    "little_giant_national_cumulative_count": ("n_little_giant", "log", 0.05, "cumulative designations include firms later promoted or lapsed, which the model's stage count does not"),
    "single_champion_cumulative_count": ("n_single_champion", "log", 0.05, "firms and products are counted together in the source"),
    "digital_core_va_share_gdp_pct": ("t3_digital_core_share_gdp_pct", "share", 0.2, "a share of two compiled levels, published to one decimal"),
    "rd_intensity_pct": ("rd_intensity_pct", "share", 0.03, "national R&D bulletins, published to two decimals"),
    "sei_va_share_above_scale_industry_pct": ("t2_sei_share_pct", "share", 0.5, "the SEI catalogue changes (grade C)"),
    "national_adv_mfg_clusters_cumulative": ("t4_national_clusters", "count", 0.5, "an exact count; half a unit for the date within the year"),
    "future_industry_pilot_zones_batch1_count": ("t5_pilot_zones", "count", 0.5, "an exact count (zones at the end of the first batch's year)"),
}
# partial-year share rows: indicator -> the full-year series they stand for
PARTIAL_SHARES = {"digital_core_va_share_gdp_pct_h1": "digital_core_va_share_gdp_pct",
                  "digital_core_va_share_gdp_pct_jan_sep": "digital_core_va_share_gdp_pct"}
# the SEI growth premium: sd of one year's premium in log points. Assumption: it differences two growth
# rates, each revised by up to a point between first and final release (evidence.first_release_error
# measures about 0.01 per rate): 0.02 in all, range 0.01-0.03
PREMIUM_SD = 0.02
SEI_GROWTH = "sei_va_growth_pct"
ABOVE_GROWTH = "above_scale_industry_va_growth_pct"
LOWER_BOUNDS = {"digital_core_va_cny_100m_lower_bound": "digital_core_va_cny_100m",
                "cluster_415x_revenue_cny_100m_lower_bound": "cluster_415x_revenue_cny_100m"}


@dataclass(frozen=True)
class Moment:
    """One observed row (or a pair of rows) of a replayed year, as the simulated path must match it."""

    name: str  # "<data indicator>@<year>"
    value: float  # in the transform's units: log of the level, pp, count, or log points for a premium
    se: float  # measurement sd / sqrt(weight), same units
    unit: str
    series: tuple[str, ...]  # data indicators used
    n_obs: int
    years: tuple[int, ...]
    method: str
    note: str = ""
    model: str = ""  # the model indicator compared
    transform: str = "log"  # log, share, count or premium
    year: int = 0
    ref_year: int | None = None  # a level after a series break: log change since this year's level


@dataclass(frozen=True)
class Bound:
    """A lower-bound row: the simulated quantity must be at least ``value`` (same units as Moment)."""

    name: str
    value: float
    unit: str
    series: tuple[str, ...]
    note: str
    model: str = ""
    transform: str = "log"
    year: int = 0


@dataclass
class HistoryConfig:
    """How the calibration reads the history (set from conf/calibrate.yaml)."""

    cutoff: int | None = None  # ignore rows after this year (backtests)
    grade_weights: dict[str, float] = field(default_factory=lambda: {"A": 1.0, "B": 0.7, "C": 0.4})
    partial_year_weight: float = 0.5
    breaks: dict[str, list[int]] = field(default_factory=lambda: {"gdp_cny_100m": [2023]})


def load_grades(path: Path) -> list[tuple[str, str]]:
    rows = read_csv_rows(path, GRADE_COLUMNS, "grade")
    out = []
    for line, r in rows:
        if r["grade"] not in ("A", "B", "C"):
            raise DataError(f"grade file {path}, line {line}: grade {r['grade']!r}; allowed A, B, C")
        out.append((r["indicator_prefix"], r["grade"]))
    return out


def row_grade(indicator: str, note: str, grades: list[tuple[str, str]]) -> str:
    """A row's grade: a tag in its note wins, else the longest matching prefix, else B."""
    m = _GRADE_TAG.search(note or "")
    if m:
        return m.group(1)
    best = ""
    grade = "B"
    for prefix, g in grades:
        if indicator.startswith(prefix) and len(prefix) > len(best):
            best, grade = prefix, g
    return grade


def _rows(df: pd.DataFrame, indicator: str, cfg: HistoryConfig) -> pd.DataFrame:
    sub = df[df["indicator"] == indicator]
    if cfg.cutoff is not None:
        sub = sub[sub["year"] <= cfg.cutoff]
    return sub.sort_values("year")


def _weights(sub: pd.DataFrame, cfg: HistoryConfig, grades) -> np.ndarray:
    return np.array([cfg.grade_weights[row_grade(r.indicator, r.note, grades)] for r in sub.itertuples()])




_UNITS = {"log": "log points", "share": "pp", "count": "count", "premium": "log points"}


def _grade_weight(r, cfg: HistoryConfig, grades) -> float:
    return cfg.grade_weights[row_grade(r.indicator, r.note, grades)]


def _transform(value: float, transform: str) -> float:
    return math.log(value) if transform == "log" else float(value)


def path_observations(df: pd.DataFrame, cfg: HistoryConfig, grades, base_year: int
                      ) -> tuple[list[Moment], list[Bound], list[str]]:
    """Every row of the years (base_year, cutoff] the replay can be compared with, the bounds, and
    notes on what was left out (see the module docstring)."""
    last = cfg.cutoff if cfg.cutoff is not None else int(df["year"].max())
    in_window = df[(df["year"] > base_year) & (df["year"] <= last)]
    moments: list[Moment] = []
    notes: list[str] = []
    for indicator, (model, transform, sd, why) in OBSERVATION_SD.items():
        rows = in_window[in_window["indicator"] == indicator].sort_values("year")
        if rows.empty:
            continue
        breaks = sorted(b for b in cfg.breaks.get(indicator, []) if base_year < b)
        for r in rows.itertuples():
            w = _grade_weight(r, cfg, grades)
            passed = [b for b in breaks if b <= r.year]
            ref = None
            value = _transform(r.value, transform)
            method = f"{transform} of the {r.year} row"
            if passed:
                # after a break the level is on another basis: its change since the first row on that basis
                seg = df[(df["indicator"] == indicator) & (df["year"] >= passed[-1]) & (df["year"] < r.year)]
                if transform != "log" or seg.empty:
                    notes.append(f"{indicator} {r.year}: after the series break of {passed[-1]} with no earlier row on "
                                 f"the new basis; not compared")
                    continue
                first = seg.sort_values("year").iloc[0]
                ref = int(first["year"])
                value = math.log(r.value / float(first["value"]))
                method = f"log change {ref}-{r.year} (a series break in {passed[-1]})"
            moments.append(Moment(f"{indicator}@{r.year}", value, sd / math.sqrt(w), _UNITS[transform], (indicator,), 1,
                                  (int(r.year),), method, note=f"sd {sd:g} ({why}), weight {w:g}", model=model,
                                  transform=transform, year=int(r.year), ref_year=ref))
    pw = cfg.partial_year_weight
    if pw > 0:
        for indicator, full in PARTIAL_SHARES.items():
            model, transform, sd, why = OBSERVATION_SD[full]
            for r in in_window[in_window["indicator"] == indicator].itertuples():
                if ((in_window["indicator"] == full) & (in_window["year"] == r.year)).any():
                    continue  # the full-year row of the year says more
                w = _grade_weight(r, cfg, grades) * pw
                moments.append(Moment(f"{indicator}@{r.year}", float(r.value), sd / math.sqrt(w), _UNITS[transform],
                                      (indicator,), 1, (int(r.year),), "partial-year share against the year's",
                                      note=f"sd {sd:g} ({why}), weight {w:g} (partial year)", model=model,
                                      transform=transform, year=int(r.year)))
    # the SEI growth premium of a year with both growth rows (a partial-year SEI rate at its weight)
    above = in_window[in_window["indicator"] == ABOVE_GROWTH].set_index("year")
    for suffix, extra in (("", 1.0), ("_jan_sep", pw), ("_h1", pw)):
        for r in in_window[in_window["indicator"] == SEI_GROWTH + suffix].itertuples():
            if r.year not in above.index or any(m.name.startswith(SEI_GROWTH) and m.year == r.year for m in moments):
                continue
            if extra <= 0:
                continue
            prem = math.log1p(r.value / 100) - math.log1p(float(above.loc[r.year, "value"]) / 100)
            w = _grade_weight(r, cfg, grades) * extra
            moments.append(Moment(f"{SEI_GROWTH}{suffix}@{r.year}", prem, PREMIUM_SD / math.sqrt(w), _UNITS["premium"],
                                  (SEI_GROWTH + suffix, ABOVE_GROWTH), 2, (int(r.year),),
                                  "SEI growth premium: log(1 + SEI growth) - log(1 + above-size growth)",
                                  note=f"sd {PREMIUM_SD:g}, weight {w:g}", model="sei_va_cny_100m", transform="premium",
                                  year=int(r.year)))
    bounds: list[Bound] = []
    for indicator, level in LOWER_BOUNDS.items():
        model, transform, sd, _ = OBSERVATION_SD[level]
        for r in in_window[in_window["indicator"] == indicator].itertuples():
            if ((in_window["indicator"] == level) & (in_window["year"] == r.year)).any():
                continue  # an exact level of the same year supersedes the bound
            bounds.append(Bound(f"{indicator}@{r.year}", math.log(r.value), _UNITS[transform], (indicator,),
                                f"{indicator} {r.year} >= {r.value:g}", model=model, transform=transform, year=int(r.year)))
    if not moments:
        notes.append(f"no row of the years {base_year + 1}-{last} of any compared series: nothing to calibrate on")
    return moments, bounds, notes


def simulated_value(traj: pd.DataFrame, m: Moment | Bound) -> float:
    """The quantity a moment or bound compares, on one replicate's yearly trajectory (index year)."""
    if m.transform == "premium":
        sei, above = traj["sei_va_cny_100m"], traj["above_size_industry_va_cny_100m"]
        return math.log(sei[m.year] / sei[m.year - 1]) - math.log(above[m.year] / above[m.year - 1])
    v = float(traj.at[m.year, m.model])
    if m.transform == "log":
        ref = getattr(m, "ref_year", None)
        return math.log(v / float(traj.at[ref, m.model])) if ref is not None else math.log(max(v, 1e-9))
    return v
