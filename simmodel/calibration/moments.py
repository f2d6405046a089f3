"""Auxiliary statistics ("moments") on the observed series and on simulated trajectories.

Each moment is a growth rate or a trend that statsmodels estimates, with its standard error, from
the sparse history, and that the simulation computes the same way from its yearly trajectories:

- a level series with gaps gives its mean log growth by weighted least squares of the log change
  between consecutive observations on the number of years between them (a random walk with drift
  observed at irregular dates; the change over k years has mean k*mu and variance k*sigma^2), only
  within the segments a series break leaves;
- a growth-rate series gives its mean log growth by weighted least squares on a constant;
- a share series gives its trend (pp per year) by weighted least squares on the year.

How the data are treated: partial-year rows are not annual levels (a partial-year growth rate may
enter a growth moment at a reduced weight, ``partial_year_weight``); bounds are inequalities (they
become one-sided moments, ``Bound``), never levels; breaks split a series; the grade of a row (A/B/C
from calibration/data/grades.csv, or a tag "[A]" "[B]" "[C]" in the row's note) scales its weight.
On simulated series (complete, yearly) the same estimators reduce to means of log differences and OLS
slopes, which is what ``simulated_moments`` computes.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm

from simmodel.data import read_csv_rows
from simmodel.errors import DataError

GRADE_COLUMNS = ("indicator_prefix", "grade", "reasoning")
# Floors on a moment's standard error (its own units), used when a series has too few points to
# estimate one or estimates an implausibly small one: half a point of growth (0.005 log points), a
# twentieth of a point of a share trend (0.05 pp/yr, 0.01 pp/yr for R&D intensity, which moves in
# hundredths), 2 points for the noisy high-tech count. Assumptions: they bound the weight any one
# sparse series can take; the report lists every moment's standard error.
SE_FLOOR = {"gdp_growth": 0.005, "digital_core_growth": 0.005, "t3_share_trend": 0.05, "above_size_va_growth": 0.005,
            "sei_growth_premium": 0.01, "high_tech_count_growth": 0.02, "rd_intensity_trend": 0.01}
# Assumption: a share derived as level / GDP counts 0.8 times a B-grade observed share, since it
# combines two series (possibly of different vintages).
DERIVED_SHARE_WEIGHT = 0.8
_GRADE_TAG = re.compile(r"\[([ABC])\]")


@dataclass(frozen=True)
class Moment:
    """One auxiliary statistic of the data with its standard error."""

    name: str
    value: float  # log points per yr, or pp per yr for trends
    se: float
    unit: str
    series: tuple[str, ...]  # indicators used
    n_obs: int
    years: tuple[int, ...]
    method: str
    note: str = ""


@dataclass(frozen=True)
class Bound:
    """A one-sided moment from a lower-bound row: the simulated statistic must be >= value."""

    name: str
    value: float
    unit: str
    series: tuple[str, ...]
    note: str


@dataclass
class HistoryConfig:
    """How the calibration reads the history (set from conf/calibrate.yaml)."""

    cutoff: int | None = None  # ignore rows after this year (backtests)
    grade_weights: dict[str, float] = field(default_factory=lambda: {"A": 1.0, "B": 0.7, "C": 0.4})
    partial_year_weight: float = 0.5
    breaks: dict[str, list[int]] = field(default_factory=lambda: {"gdp_cny_100m": [2023]})
    high_tech_count_from_year: int = 2015


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


def _wls(y: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WLS coefficients and standard errors; with one observation per parameter the residual
    variance is undefined and the standard error is NaN (the caller supplies a floor)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.WLS(y, X, weights=w).fit()
        bse = np.asarray(res.bse, float) if res.df_resid > 0 else np.full(X.shape[1], np.nan)
    return np.asarray(res.params, float), bse


def level_growth(df: pd.DataFrame, indicator: str, cfg: HistoryConfig, grades, *, from_year: int | None = None,
                 name: str, se_floor: float) -> Moment | None:
    """Mean log growth of a level series with gaps and breaks (WLS of changes on years elapsed)."""
    sub = _rows(df, indicator, cfg)
    if from_year is not None:
        sub = sub[sub["year"] >= from_year]
    years = sub["year"].to_numpy(int)
    vals = np.log(sub["value"].to_numpy(float))
    w_row = _weights(sub, cfg, grades)
    breaks = set(cfg.breaks.get(indicator, []))
    d, k, w = [], [], []
    for i in range(1, len(years)):
        if any(years[i - 1] < b <= years[i] for b in breaks):
            continue  # a break between the two observations: no change is measured across it
        gap = years[i] - years[i - 1]
        d.append(vals[i] - vals[i - 1])
        k.append(gap)
        w.append(min(w_row[i], w_row[i - 1]) / gap)  # variance grows with the gap
    if not d:
        return None
    coef, bse = _wls(np.array(d), np.array(k, float)[:, None], np.array(w))
    se = bse[0] if np.isfinite(bse[0]) else se_floor
    return Moment(name, float(coef[0]), float(max(se, se_floor)), "log points/yr", (indicator,), len(d) + 1,
                  tuple(int(y) for y in years), "WLS of log changes on years elapsed (random walk with drift, gaps and breaks)")


def rate_mean(df: pd.DataFrame, indicators: list[tuple[str, float]], cfg: HistoryConfig, grades, *, name: str,
              se_floor: float, exclude_years: set[int] | None = None) -> Moment | None:
    """Mean log growth from growth-rate rows (% per yr); (indicator, extra weight) pairs let a
    partial-year rate count at a reduced weight."""
    ys, xs, ws, used = [], [], [], []
    for ind, extra in indicators:
        sub = _rows(df, ind, cfg)
        if exclude_years:
            sub = sub[~sub["year"].isin(exclude_years)]
        if sub.empty:
            continue
        ws.extend(_weights(sub, cfg, grades) * extra)
        ys.extend(np.log1p(sub["value"].to_numpy(float) / 100.0))
        xs.extend(sub["year"].to_numpy(int))
        used.append(ind)
    if not ys:
        return None
    coef, bse = _wls(np.array(ys), np.ones((len(ys), 1)), np.array(ws))
    se = bse[0] if np.isfinite(bse[0]) else se_floor
    return Moment(name, float(coef[0]), float(max(se, se_floor)), "log points/yr", tuple(used), len(ys),
                  tuple(sorted(set(int(x) for x in xs))), "WLS mean of log(1 + growth rate)")


def share_trend(points: pd.DataFrame, *, name: str, series: tuple[str, ...], se_floor: float) -> Moment | None:
    """Trend of a share (pp per yr) by WLS on the year; ``points`` has year, value, weight."""
    if len(points) < 2:
        return None
    X = sm.add_constant(points["year"].to_numpy(float) - 2020.0)
    coef, bse = _wls(points["value"].to_numpy(float), X, points["weight"].to_numpy(float))
    se = bse[1] if np.isfinite(bse[1]) else se_floor
    return Moment(name, float(coef[1]), float(max(se, se_floor)), "pp/yr", series, len(points),
                  tuple(int(y) for y in points["year"]), "WLS of the share on the year")


def observed_moments(df: pd.DataFrame, cfg: HistoryConfig, grades) -> tuple[list[Moment], list[Bound], list[str]]:
    """Every auxiliary statistic the history supports, the bounds, and notes on what was left out."""
    notes: list[str] = []
    moments: list[Moment] = []
    pw = cfg.partial_year_weight

    def add(m: Moment | None, why_missing: str) -> None:
        if m is None:
            notes.append(why_missing)
        else:
            moments.append(m)

    add(level_growth(df, "gdp_cny_100m", cfg, grades, name="gdp_growth", se_floor=SE_FLOOR["gdp_growth"]),
        "gdp_growth: fewer than two GDP levels")
    add(rate_mean(df, [("digital_core_va_growth_pct", 1.0), ("digital_core_va_growth_pct_h1", pw),
                       ("digital_core_va_growth_pct_jan_sep", pw)], cfg, grades, name="digital_core_growth", se_floor=SE_FLOOR["digital_core_growth"]),
        "digital_core_growth: no growth rows")
    # T3 share: observed values, else level / GDP in years with both; partial years at reduced weight
    pts = []
    obs = _rows(df, "digital_core_va_share_gdp_pct", cfg)
    for r in obs.itertuples():
        pts.append((r.year, r.value, cfg.grade_weights[row_grade(r.indicator, r.note, grades)]))
    lv = _rows(df, "digital_core_va_cny_100m", cfg).set_index("year")["value"]
    gdp = _rows(df, "gdp_cny_100m", cfg).set_index("year")["value"]
    for y in lv.index.intersection(gdp.index):
        if y not in set(obs["year"]):
            pts.append((int(y), 100 * lv[y] / gdp[y], cfg.grade_weights["B"] * DERIVED_SHARE_WEIGHT))
    for ind in ("digital_core_va_share_gdp_pct_h1", "digital_core_va_share_gdp_pct_jan_sep"):
        for r in _rows(df, ind, cfg).itertuples():
            pts.append((r.year, r.value, cfg.grade_weights[row_grade(r.indicator, r.note, grades)] * pw))
    add(share_trend(pd.DataFrame(pts, columns=["year", "value", "weight"]), name="t3_share_trend",
                    series=("digital_core_va_share_gdp_pct", "digital_core_va_cny_100m", "gdp_cny_100m"), se_floor=SE_FLOOR["t3_share_trend"]),
        "t3_share_trend: fewer than two years of the digital-core share")
    add(rate_mean(df, [("above_scale_industry_va_growth_pct", 1.0)], cfg, grades, name="above_size_va_growth", se_floor=SE_FLOOR["above_size_va_growth"]),
        "above_size_va_growth: no growth rows")
    # SEI premium: SEI VA growth minus above-size VA growth in the same year (both full-year rows)
    sei = _rows(df, "sei_va_growth_pct", cfg).set_index("year")
    tot = _rows(df, "above_scale_industry_va_growth_pct", cfg).set_index("year")
    common = sei.index.intersection(tot.index)
    if len(common):
        diff = np.log1p(sei.loc[common, "value"].to_numpy(float) / 100) - np.log1p(tot.loc[common, "value"].to_numpy(float) / 100)
        w = np.array([cfg.grade_weights[row_grade("sei_va_growth_pct", n, grades)] for n in sei.loc[common, "note"]])
        coef, bse = _wls(diff, np.ones((len(diff), 1)), w)
        moments.append(Moment("sei_growth_premium", float(coef[0]), float(max(bse[0] if np.isfinite(bse[0]) else 2 * SE_FLOOR["sei_growth_premium"], SE_FLOOR["sei_growth_premium"])),
                              "log points/yr", ("sei_va_growth_pct", "above_scale_industry_va_growth_pct"), len(diff),
                              tuple(int(y) for y in common), "WLS mean of the yearly growth difference"))
    else:
        notes.append("sei_growth_premium: no year with both SEI and above-size VA growth")
    add(level_growth(df, "high_tech_enterprises_count", cfg, grades, from_year=cfg.high_tech_count_from_year,
                     name="high_tech_count_growth", se_floor=SE_FLOOR["high_tech_count_growth"]),
        "high_tech_count_growth: fewer than two counts since the start year")
    rd = _rows(df, "rd_intensity_pct", cfg)
    rd = rd[rd["year"] >= 2017]
    add(share_trend(pd.DataFrame({"year": rd["year"], "value": rd["value"], "weight": _weights(rd, cfg, grades)}),
                    name="rd_intensity_trend", series=("rd_intensity_pct",), se_floor=SE_FLOOR["rd_intensity_trend"]),
        "rd_intensity_trend: fewer than two years since 2017")

    bounds: list[Bound] = []
    for level, bound_ind, name in (("digital_core_va_cny_100m", "digital_core_va_cny_100m_lower_bound", "digital_core_growth"),
                                   ("cluster_415x_revenue_cny_100m", "cluster_415x_revenue_cny_100m_lower_bound", "cluster_415x_growth")):
        lv = _rows(df, level, cfg)
        for r in _rows(df, bound_ind, cfg).itertuples():
            if (lv["year"] == r.year).any():
                continue  # an exact level of the same year supersedes the bound
            before = lv[lv["year"] < r.year]
            if before.empty:
                continue
            last = before.iloc[-1]
            if last["value"] >= r.value:
                continue  # an earlier exact level above the bound: the bound says nothing
            g = math.log(r.value / last["value"]) / (r.year - last["year"])
            bounds.append(Bound(name, g, "log points/yr", (level, bound_ind),
                                f"{bound_ind} {r.year} >= {r.value:g} after {level} {int(last['year'])} = {last['value']:g}"))
    return moments, bounds, notes


def _mean_log_growth(s: np.ndarray) -> float:
    return float(np.mean(np.diff(np.log(s))))


def _slope(years: np.ndarray, s: np.ndarray) -> float:
    return float(np.polyfit(years, s, 1)[0])


def simulated_statistics(traj: pd.DataFrame) -> dict[str, float]:
    """The same statistics from one replicate's yearly trajectory (index year, indicator columns).

    The base-year row is left out: it is the population's state at the base year, not a yearly
    average like the simulated years, so its change to the first year would be a half year."""
    traj = traj.iloc[1:]
    y = traj.index.to_numpy(float)
    return {
        "gdp_growth": _mean_log_growth(traj["gdp_cny_100m"].to_numpy(float)),
        "digital_core_growth": _mean_log_growth(traj["digital_core_va_cny_100m"].to_numpy(float)),
        "t3_share_trend": _slope(y, traj["t3_digital_core_share_gdp_pct"].to_numpy(float)),
        "above_size_va_growth": _mean_log_growth(traj["above_size_industry_va_cny_100m"].to_numpy(float)),
        "sei_growth_premium": _mean_log_growth(traj["sei_va_cny_100m"].to_numpy(float))
        - _mean_log_growth(traj["above_size_industry_va_cny_100m"].to_numpy(float)),
        "high_tech_count_growth": _mean_log_growth(traj["n_high_tech"].to_numpy(float)),
        "rd_intensity_trend": _slope(y, traj["rd_intensity_pct"].to_numpy(float)),
        "cluster_415x_growth": _mean_log_growth(traj["cluster_415x_revenue_cny_100m"].to_numpy(float)),
    }
