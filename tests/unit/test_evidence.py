"""Base-year values inferred from the data (simmodel.evidence): the functions on hand-made tables give
the hand-computed values; the committed base-year table equals what they give on the vendored data (so
the CSV cannot drift from the evidence); no base-year reasoning rests on a target."""

from __future__ import annotations

import csv
import math
import re

import numpy as np
import pandas as pd
import pytest

from simmodel.config import PROJECT_ROOT
from simmodel.data import REQUIRED_BASE, check_base_year_complete, load_base_year, load_indicators
from simmodel.errors import DataError
from simmodel.evidence import (
    EMERGING_CLUSTER_SECTORS, PARTIAL_YEAR_WEIGHT, Z95, first_release_error, gdp_price_factor,
    infer_cluster_415x_revenue, infer_count_before_batch, infer_count_between, infer_digital_core_va,
    infer_emerging_cluster_revenues, infer_t1_emerging_share, infer_t2_sei_share, inferred_base_rows,
    partial_year_growth_error, seasonal_ratios, sei_premium_pool, share_years_earlier)

DATA_DIR = PROJECT_ROOT / "calibration" / "data"
INDICATORS = DATA_DIR / "zhejiang_indicators.csv"
BASE_YEAR = DATA_DIR / "base_year.csv"
BASE_YEAR_2020 = DATA_DIR / "base_year_2020.csv"
# every base-year table: each is checked against simmodel.evidence for the year its GDP row describes
BASE_YEAR_TABLES = sorted(DATA_DIR.glob("base_year*.csv"))
SECTOR_SOURCES = DATA_DIR / "sector_sources.csv"
SECTORS = DATA_DIR / "sectors.csv"


def frame(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    return pd.DataFrame([{"indicator": i, "year": y, "value": float(v), "note": ""} for i, y, v in rows])


def lg(pct: float) -> float:
    return math.log(1 + pct / 100)


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return load_indicators(INDICATORS)


# ---------------------------------------------------------------------------------------------- error sizes
def test_partial_year_growth_error_is_the_rms_of_partial_minus_full():
    df = frame([("a_growth_pct", 2020, 10), ("a_growth_pct_h1", 2020, 12), ("b_growth_pct", 2021, 5),
                ("b_growth_pct_jan_sep", 2021, 4), ("c_growth_pct_q1", 2021, 30)])  # c: no full year, ignored
    sd, pairs = partial_year_growth_error(df)
    d = [lg(12) - lg(10), lg(4) - lg(5)]
    assert sd == pytest.approx(math.sqrt((d[0] ** 2 + d[1] ** 2) / 2), rel=1e-12)
    assert len(pairs) == 2
    assert partial_year_growth_error(df, 2020)[1] == [pairs[0]]  # rows after the year are left out
    with pytest.raises(DataError, match="partial_sd"):
        partial_year_growth_error(frame([("a_growth_pct", 2020, 10)]))


def test_first_release_error():
    df = frame([("a_growth_pct", 2020, 10), ("a_growth_pct_initial_release", 2020, 11)])
    sd, _ = first_release_error(df)
    assert sd == pytest.approx(abs(lg(11) - lg(10)), rel=1e-12)
    with pytest.raises(DataError, match="full_sd"):
        first_release_error(frame([("a_growth_pct", 2020, 10)]))


# ---------------------------------------------------------------------------------------------- T2
T2_TABLE = [
    ("sei_va_share_above_scale_industry_pct", 2016, 20.0),  # an older level: the last one before the year is used
    ("sei_va_share_above_scale_industry_pct", 2020, 30.0),
    ("sei_va_growth_pct", 2020, 10), ("sei_va_growth_pct", 2022, 12),
    ("sei_va_growth_pct_jan_sep", 2023, 9), ("sei_va_growth_pct_h1", 2023, 7),  # the longest period (Jan-Sep) counts
    ("above_scale_industry_va_growth_pct", 2020, 5), ("above_scale_industry_va_growth_pct", 2021, 8),
    ("above_scale_industry_va_growth_pct", 2022, 6), ("above_scale_industry_va_growth_pct", 2023, 4),
]


def test_t2_by_hand():
    r = infer_t2_sei_share(frame(T2_TABLE), 2024, full_sd=0.01, partial_sd=0.02)
    p20, p22, p23 = lg(10) - lg(5), lg(12) - lg(6), lg(9) - lg(4)
    w = np.array([1.0, 1.0, PARTIAL_YEAR_WEIGHT])  # 2020, 2022 full; 2023 partial; 2021 has no SEI row
    x = np.array([p20, p22, p23])
    mu = (p20 + p22 + 0.5 * p23) / 2.5
    tau2 = float(np.sum(w * (x - mu) ** 2) / (2.5 - 2.25 / 2.5))
    se2 = tau2 / (2.5 ** 2 / 2.25)
    # 2021 and 2024 have no SEI row: the mean premium, its spread, and its standard error (common to both)
    mean_s = mu + p22 + p23 + mu
    var_s = 0.01 ** 2 + 0.02 ** 2 + 2 * tau2 + 4 * se2
    assert r.value == round(30.0 * math.exp(mean_s), 1)
    assert r.low == math.floor(10 * 30.0 * math.exp(mean_s - Z95 * math.sqrt(var_s))) / 10
    assert r.high == math.ceil(10 * 30.0 * math.exp(mean_s + Z95 * math.sqrt(var_s))) / 10
    assert "sei_va_share_above_scale_industry_pct 2020 = 30" in r.reasoning
    assert "sei_va_growth_pct_jan_sep" in r.reasoning and "sei_va_growth_pct_h1" not in r.reasoning


def test_t2_in_the_year_of_the_level_is_the_level():
    r = infer_t2_sei_share(frame(T2_TABLE), 2020, full_sd=0.01, partial_sd=0.02)
    assert r.value == r.low == r.high == 30.0
    assert (r.kind, r.distribution) == ("observed", "fixed")  # the table row's kind and distribution


def test_sei_premium_pool_is_what_t2_uses():
    pp = sei_premium_pool(frame(T2_TABLE), 2024)
    assert [y for y, *_ in pp.rows] == [2020, 2022, 2023]
    assert pp.mean == pytest.approx((lg(10) - lg(5) + lg(12) - lg(6) + 0.5 * (lg(9) - lg(4))) / 2.5, rel=1e-12)


def test_t2_errors_come_from_the_table_when_not_given():
    rows = T2_TABLE + [("a_growth_pct", 2019, 10), ("a_growth_pct_h1", 2019, 13),
                       ("a_growth_pct_initial_release", 2019, 10.5)]
    auto = infer_t2_sei_share(frame(rows), 2024)
    given = infer_t2_sei_share(frame(rows), 2024, full_sd=math.sqrt(2) * abs(lg(10.5) - lg(10)),
                               partial_sd=abs(lg(13) - lg(10)))
    assert auto[:3] == given[:3]


def test_t2_needs_a_level_and_two_premia():
    with pytest.raises(DataError, match="sei_va_share_above_scale_industry_pct"):
        infer_t2_sei_share(frame(T2_TABLE[2:]), 2024, full_sd=0.01, partial_sd=0.02)
    with pytest.raises(DataError, match="fewer than two"):
        infer_t2_sei_share(frame(T2_TABLE[:3] + [T2_TABLE[6]]), 2024, full_sd=0.01, partial_sd=0.02)


# ---------------------------------------------------------------------------------------------- 415X and T1
T1_TABLE = [
    ("cluster_415x_revenue_cny_100m", 2023, 80000), ("above_scale_industry_va_growth_pct", 2024, 10),
    ("cluster_415x_revenue_cny_100m_lower_bound", 2024, 85000), ("cluster_415x_trillion_clusters_count", 2023, 4),
    ("cluster_intelligent_iot_revenue_cny_100m_jan_aug", 2024, 8000),
    ("cluster_integrated_circuit_revenue_cny_100m_jan_aug", 2024, 4000),
    ("cluster_high_end_software_revenue_cny_100m_jan_aug", 2024, 6000),
    ("x_va_cny_100m", 2020, 120), ("x_va_cny_100m_h1", 2020, 54),  # r = 54 / 120 / (6/12) = 0.9
]


def test_415x_total_by_hand():
    r = infer_cluster_415x_revenue(frame(T1_TABLE), 2024)
    assert (r.value, r.low, r.high) == (88000, 85000, 91000)  # 80000 x 1.10; the bound; symmetric
    no_bound = infer_cluster_415x_revenue(frame([t for t in T1_TABLE if "lower_bound" not in t[0]]), 2024)
    assert (no_bound.value, no_bound.low, no_bound.high) == (88000, 85360, 90640)  # -3 % and the same distance up
    too_high = [t if "lower_bound" not in t[0] else (t[0], t[1], 95000) for t in T1_TABLE]
    with pytest.raises(DataError, match="lies above"):
        infer_cluster_415x_revenue(frame(too_high), 2024)


# 415X back-cast: level 2023 = 1210; real above-size growth 10 % in 2022 and 2023 -> 1000 in 2021. GDP deflator:
# 2022: 121 / 100 / 1.10 = 1.1; 2023: the first release 133.1 / 121 / 1.10 = 1.0 (the final 150 is a revision of 2023
# alone: with it the factor would be 150 / 121 / 1.1 = 1.127); product 1.1
BACKCAST_TABLE = [
    ("cluster_415x_revenue_cny_100m", 2023, 1210),
    ("above_scale_industry_va_growth_pct", 2022, 10), ("above_scale_industry_va_growth_pct", 2023, 10),
    ("gdp_cny_100m", 2021, 100), ("gdp_cny_100m", 2022, 121), ("gdp_cny_100m", 2023, 150),
    ("gdp_cny_100m_initial_release", 2023, 133.1),
    ("gdp_real_growth_pct", 2022, 10), ("gdp_real_growth_pct", 2023, 10),
]


def test_gdp_price_factor_uses_the_first_release_across_a_revision():
    f, steps = gdp_price_factor(frame(BACKCAST_TABLE), 2021, 2023)
    assert f == pytest.approx(1.1 * 1.0, rel=1e-12)
    assert "gdp_cny_100m_initial_release 2023 133.1" in steps[1] and "series break" in steps[1]
    no_first = frame([t for t in BACKCAST_TABLE if "initial_release" not in t[0]])
    assert gdp_price_factor(no_first, 2021, 2023)[0] == pytest.approx(1.1 * 150 / 121 / 1.1, rel=1e-12)


def test_415x_back_cast_by_hand():
    r = infer_cluster_415x_revenue(frame(BACKCAST_TABLE), 2021)
    # back-cast 1210 / 1.1^2 = 1000; range [1000 / 1.1, 1000] = [909.09, 1000]; the middle 954.55, triangular
    assert (r.value, r.low, r.high) == (955, 909, 1000)
    assert r.kind is None  # the table's default: derived, triangular
    assert "1210 / (1.1 x 1.1) = 1000.0" in r.reasoning and "product 1.1000" in r.reasoning
    # the year's own level is observed
    own = infer_cluster_415x_revenue(frame(BACKCAST_TABLE), 2023)
    assert (own.value, own.low, own.high, own.kind, own.distribution) == (1210, 1210, 1210, "observed", "fixed")


def test_415x_back_cast_needs_a_later_level_and_every_growth_row():
    with pytest.raises(DataError, match="no cluster_415x_revenue_cny_100m row in 2024 to grow from, nor one in or after "
                                        "2025 to back-cast from"):
        infer_cluster_415x_revenue(frame(BACKCAST_TABLE), 2025)
    with pytest.raises(DataError, match="back-cast from"):
        infer_cluster_415x_revenue(frame([t for t in BACKCAST_TABLE if "cluster" not in t[0]]), 2021)
    with pytest.raises(DataError, match="above_scale_industry_va_growth_pct 2022"):
        infer_cluster_415x_revenue(frame([t for t in BACKCAST_TABLE if t[:2] != ("above_scale_industry_va_growth_pct", 2022)]),
                                   2021)
    with pytest.raises(DataError, match="gdp_real_growth_pct 2023"):
        infer_cluster_415x_revenue(frame([t for t in BACKCAST_TABLE if t[:2] != ("gdp_real_growth_pct", 2023)]), 2021)


def test_seasonal_ratio_by_hand():
    ratios = seasonal_ratios(frame(T1_TABLE))
    assert [r for _, r in ratios] == [pytest.approx(0.9)]


def test_t1_by_hand():
    r = infer_t1_emerging_share(frame(T1_TABLE), 2024)
    # three clusters: 18000 in Jan-Aug; annualised x 12/8 / 0.9 = 30000 (range x 1.5 = 27000 to x 1.6667 = 30000)
    # low: 27000 / 91000 = 29.67 % -> 29.6; high: 1 - 2 x 10000 / 91000 = 78.02 % -> 78.1; uniform, the middle
    assert (r.low, r.high) == (29.6, 78.1)
    assert r.value == pytest.approx((29.6 + 78.1) / 2, abs=0.051)
    assert "30000 / 88000 = 34.1 %" in r.reasoning  # the three alone at the central values
    assert "not in the data" in r.reasoning


def test_t1_needs_the_trillion_count_and_one_period():
    with pytest.raises(DataError, match="cluster_415x_trillion_clusters_count"):
        infer_t1_emerging_share(frame([t for t in T1_TABLE if "trillion" not in t[0]]), 2024)
    mixed = [t if "software" not in t[0] else ("cluster_high_end_software_revenue_cny_100m_h1", 2024, 4000) for t in T1_TABLE]
    with pytest.raises(DataError, match="different periods"):
        infer_t1_emerging_share(frame(mixed), 2024)


def test_share_years_earlier():
    assert share_years_earlier(0.5, 0.0, 4) == 0.5
    # a group growing faster by ln 2 a year: its size 4 years earlier 0.5 / 16 against the rest's 0.5
    assert share_years_earlier(0.5, math.log(2), 4) == pytest.approx((0.5 / 16) / (0.5 / 16 + 0.5), rel=1e-12)


# T1 carried back: the T1 table (2024 interval [29.6, 78.1]) with two SEI growth premia up to 2024
T1_BACK_TABLE = T1_TABLE + [("above_scale_industry_va_growth_pct", 2022, 5), ("sei_va_growth_pct", 2022, 8),
                            ("sei_va_growth_pct", 2024, 15)]


def test_t1_carried_back_by_hand():
    r = infer_t1_emerging_share(frame(T1_BACK_TABLE), 2021)
    p = np.array([lg(8) - lg(5), lg(15) - lg(10)])  # full-year premia 2022 and 2024, weight 1 each
    p_max = p.mean() + 2 * math.sqrt(np.sum((p - p.mean()) ** 2) / (2 - 2 / 2))
    e = 0.296 * math.exp(-p_max * 3)  # three years back from 2024
    lo = 100 * e / (e + 1 - 0.296)
    assert r.low == math.floor(10 * lo) / 10
    assert r.high == 78.1  # premium 0: the 2024 high end unchanged
    assert r.value == pytest.approx((r.low + 78.1) / 2, abs=0.051)
    assert "[29.6, 78.1]" in r.reasoning and "Carried back 3 years" in r.reasoning
    # the 2024 interval itself is unchanged by the rows the carry-back needs
    assert infer_t1_emerging_share(frame(T1_BACK_TABLE), 2024)[:3] == infer_t1_emerging_share(frame(T1_TABLE), 2024)[:3]


def test_t1_carry_back_needs_a_later_year_with_cluster_rows_and_two_premia():
    no_rows = [t for t in T1_BACK_TABLE if "_jan_aug" not in t[0]]
    with pytest.raises(DataError, match="no emerging-cluster revenue row .* in 2021 or any later year"):
        infer_t1_emerging_share(frame(no_rows), 2021)
    with pytest.raises(DataError, match="fewer than two"):
        infer_t1_emerging_share(frame(T1_TABLE), 2021)  # no SEI growth rows: no premium to carry back by


def test_emerging_cluster_revenues_by_hand():
    r = infer_emerging_cluster_revenues(frame(T1_TABLE), 2024)
    assert set(r) == {"smart_iot", "ic", "software"} == set(EMERGING_CLUSTER_SECTORS.values())
    # Jan-Aug x 12/8 / 0.9 (central; r = 0.9 is also the most back-loaded year) and x 12/8 (no seasonality);
    # the value rounded, the interval outwards to CNY 100 m
    assert (r["smart_iot"].value, r["smart_iot"].low, r["smart_iot"].high) == (13333, 12000, 13334)  # 8000 x 1.6667
    assert (r["ic"].value, r["ic"].low, r["ic"].high) == (6667, 6000, 6667)  # 4000 x 1.6667 = 6666.7
    assert (r["software"].value, r["software"].low, r["software"].high) == (10000, 9000, 10000)  # 6000 x 1.6667
    assert "cluster_intelligent_iot_revenue_cny_100m_jan_aug 2024 = 8000" in r["smart_iot"].reasoning
    assert "8000 x 1.6667 = 13333.3" in r["smart_iot"].reasoning
    # the three together are what T1 annualises (30000 in test_t1_by_hand)
    assert sum(x.value for x in r.values()) == 30000


def test_emerging_cluster_revenues_full_year_rows_are_not_annualised():
    rows = [("cluster_intelligent_iot_revenue_cny_100m", 2024, 12000),
            ("cluster_integrated_circuit_revenue_cny_100m", 2024, 2000),
            ("cluster_high_end_software_revenue_cny_100m", 2024, 11000),
            ("cluster_high_end_software_revenue_cny_100m_jan_aug", 2024, 7000)]  # the full year wins
    r = infer_emerging_cluster_revenues(frame(rows), 2024)
    assert [(x.value, x.low, x.high) for x in r.values()] == [(12000,) * 3, (2000,) * 3, (11000,) * 3]
    with pytest.raises(DataError, match="cluster_integrated_circuit_revenue_cny_100m"):
        infer_emerging_cluster_revenues(frame([rows[0], rows[2]]), 2024)
    mixed = [t if "software" not in t[0] else ("cluster_high_end_software_revenue_cny_100m_h1", 2024, 4000) for t in T1_TABLE]
    with pytest.raises(DataError, match="different periods"):
        infer_emerging_cluster_revenues(frame(mixed), 2024)


# ---------------------------------------------------------------------------------------------- T3
def test_digital_core_by_hand():
    rows = [("digital_core_va_cny_100m", 2024, 1000), ("digital_core_va_cny_100m_lower_bound", 2024, 900),
            ("gdp_cny_100m", 2024, 10000)]
    r = infer_digital_core_va(frame(rows), 2024)
    assert (r.value, r.low, r.high) == (1000, 900, 1050)
    assert "10.00 %" in r.reasoning
    r = infer_digital_core_va(frame([rows[0]]), 2024)
    assert (r.value, r.low, r.high) == (1000, 950, 1050)
    with pytest.raises(DataError, match="digital_core_va_cny_100m 2023"):
        infer_digital_core_va(frame(rows), 2023)


def test_digital_core_without_a_bound_and_by_grade():
    rows = [("digital_core_va_cny_100m", 2020, 1000)]
    r = infer_digital_core_va(frame(rows), 2020)
    assert "low end -5 % = 950" in r.reasoning and "(a reported level)" in r.reasoning
    graded = pd.DataFrame([{"indicator": "digital_core_va_cny_100m", "year": 2020, "value": 1000.0, "note": "[C] forum"}])
    assert "grade C: a compiled figure" in infer_digital_core_va(graded, 2020).reasoning


# ---------------------------------------------------------------------------------------------- counts
COUNT_TABLE = [("x_count", 2008, 50), ("x_count", 2010, 100), ("x_count", 2014, 1600)]


def test_count_between_by_hand():
    r = infer_count_between(frame(COUNT_TABLE), "x_count", 2012)
    # log-linear 100 x 16^(2/4) = 400; low the earlier count 100; high the linear 100 + 1500 x 2/4 = 850
    assert (r.value, r.low, r.high) == (400, 100, 850)
    assert r.kind is None
    r = infer_count_between(frame(COUNT_TABLE), "x_count", 2011)
    assert (r.value, r.low, r.high) == (200, 100, math.ceil(100 + 1500 / 4))
    own = infer_count_between(frame(COUNT_TABLE), "x_count", 2010)
    assert (own.value, own.low, own.high, own.kind, own.distribution) == (100, 100, 100, "observed", "fixed")


def test_count_between_needs_rows_on_both_sides_and_a_rising_series():
    with pytest.raises(DataError, match="needs a row before and a row after 2015"):
        infer_count_between(frame(COUNT_TABLE), "x_count", 2015)
    with pytest.raises(DataError, match="does not rise"):
        infer_count_between(frame(COUNT_TABLE[:1] + [("x_count", 2010, 40), COUNT_TABLE[2]]), "x_count", 2012)
    with pytest.raises(DataError, match="no y_count row"):
        infer_count_between(frame(COUNT_TABLE), "y_count", 2012)


def test_count_before_batch_by_hand():
    rows = [("lg_cumulative_count", 2021, 470), ("lg_new_count", 2021, 308), ("lg_cumulative_count", 2024, 1832)]
    r = infer_count_before_batch(frame(rows), "lg_cumulative_count", "lg_new_count", 2020)
    assert (r.value, r.low, r.high) == (162, 162, 162) and "470 minus lg_new_count 2021 = 308 = 162" in r.reasoning
    own = infer_count_before_batch(frame(rows), "lg_cumulative_count", "lg_new_count", 2024)
    assert (own.value, own.kind) == (1832, "observed")
    with pytest.raises(DataError, match="not both lg_cumulative_count 2023 and lg_new_count 2023"):
        infer_count_before_batch(frame(rows), "lg_cumulative_count", "lg_new_count", 2022)
    with pytest.raises(DataError, match="exceeds"):
        infer_count_before_batch(frame(rows[:1] + [("lg_new_count", 2021, 500)]), "lg_cumulative_count", "lg_new_count", 2020)


# ---------------------------------------------------------------------------------------------- the committed tables
def test_every_base_year_table_is_checked():
    assert BASE_YEAR in BASE_YEAR_TABLES and BASE_YEAR_2020 in BASE_YEAR_TABLES


def test_inferred_rows_are_those_the_data_support(real):
    assert set(inferred_base_rows(real, 2024)) == {
        "cluster_415x_revenue_cny_100m", "t1_emerging_share_415x_pct", "t2_sei_share_pct", "digital_core_va_cny_100m",
        "smart_iot_revenue_cny_100m", "ic_revenue_cny_100m", "software_revenue_cny_100m"}
    # 2020: no emerging-cluster revenue rows (optional quantities, left out); the high-tech count lies between
    # two observed rows; the little giants before the 2021 batch
    assert set(inferred_base_rows(real, 2020)) == {
        "cluster_415x_revenue_cny_100m", "t1_emerging_share_415x_pct", "t2_sei_share_pct", "digital_core_va_cny_100m",
        "n_high_tech_enterprises", "n_little_giants"}


@pytest.mark.parametrize("path", BASE_YEAR_TABLES, ids=lambda p: p.name)
def test_base_year_table_equals_the_evidence(real, path):
    """The rows simmodel.evidence sets are exactly what it gives on the vendored data, for the year the table
    describes (its GDP row), in every base-year table; a row that names an evidence function is one of them."""
    base = load_base_year(path)
    year = base["gdp_cny_100m"].year
    inferred = inferred_base_rows(real, year)
    for q, row in inferred.items():
        assert q in base, f"{path.name}: lacks {q}, which simmodel.evidence sets for {year}"
        b = base[q]
        got = (b.year, b.value, b.low, b.high, b.distribution, b.unit, b.kind, b.reasoning)
        want = tuple(row[c] for c in ("year", "value", "low", "high", "distribution", "unit", "kind", "reasoning"))
        assert got == want, f"{q}: {path.name} says {got[:7]}, simmodel.evidence gives {want[:7]} (or the reasoning differs)"
    named = {q for q, b in base.items() if "(simmodel.evidence." in b.reasoning}
    assert named <= set(inferred), f"{path.name}: rows naming simmodel.evidence that it does not set: {named - set(inferred)}"


def test_base_year_2020_table(real):
    """The 2020 table loads, is complete, describes 2020 and has the quantities of the 2024 table but the
    optional emerging-cluster revenues (no 2020 rows in the data)."""
    base = load_base_year(BASE_YEAR_2020)
    check_base_year_complete(base, BASE_YEAR_2020)
    assert base["gdp_cny_100m"].year == 2020 and base["gdp_cny_100m"].value == 64600
    optional = {f"{sid}_revenue_cny_100m" for sid in EMERGING_CLUSTER_SECTORS.values()}
    assert set(base) == set(load_base_year(BASE_YEAR)) - optional
    assert set(REQUIRED_BASE) <= set(base)
    # the funds keep the years of their rows (a fund raised after the base year enters when the run reaches it)
    for q in ("provincial_fund_subscribed_cny_100m", "provincial_fund_initial_cny_100m", "sci_innov_mother_fund_cny_100m",
              "srdi_mother_fund_cny_100m", "state_vc_fund_cny_100m", "provincial_fund_leverage_ratio"):
        assert base[q] == load_base_year(BASE_YEAR)[q]
    assert all(b.year == 2020 for q, b in base.items() if not q.endswith(("_fund_cny_100m", "fund_subscribed_cny_100m",
                                                                          "fund_initial_cny_100m", "leverage_ratio")))
    assert (base["n_national_clusters"].value, base["n_pilot_zones"].value) == (0, 0)
    assert (base["n_little_giants"].value, base["n_single_champions"].value) == (162, 114)
    assert base["rd_expenditure_cny_100m"].value / base["gdp_cny_100m"].value == pytest.approx(0.0288, abs=5e-5)


def test_inferred_values_on_the_vendored_data(real):
    """The values, for the record (the arithmetic is in each row's reasoning)."""
    t1 = infer_t1_emerging_share(real, 2024)
    t2 = infer_t2_sei_share(real, 2024)
    t3 = infer_digital_core_va(real, 2024)
    assert t2.low < t2.value < t2.high and t2.value > 33.1  # the SEI premium has been positive every observed year
    assert t1.low == pytest.approx(27.5, abs=0.5) and t1.high == pytest.approx(79.2, abs=0.5)
    assert (t3.value, t3.low) == (11060, 10000)
    for r in (t1, t2, t3):
        assert r.low <= r.value <= r.high
    # Jan-Aug 2024 x 1.5559 (range x 1.5 to x 1.5653)
    rev = infer_emerging_cluster_revenues(real, 2024)
    assert {k: (r.value, r.low, r.high) for k, r in rev.items()} == {
        "smart_iot": (12602, 12149, 12678), "ic": (2136, 2058, 2149), "software": (12628, 12174, 12704)}


def test_inferred_values_2020_on_the_vendored_data(real):
    """The 2020 values, for the record (the arithmetic is in each row's reasoning)."""
    r415 = infer_cluster_415x_revenue(real, 2020)
    # 86400 / (1.129 x 1.043 x 1.06) = 69219.7; GDP deflator 2021-2023 1.0777 (2023 on its first release)
    assert (r415.value, r415.low, r415.high) == (66724, 64227, 69220)
    t1 = infer_t1_emerging_share(real, 2020)
    assert (t1.low, t1.high) == (21.6, 79.2) and t1.value == 50.4  # the 2024 interval [27.5, 79.2] carried back 4 years
    t2 = infer_t2_sei_share(real, 2020)
    assert (t2.value, t2.low, t2.high, t2.kind) == (33.1, 33.1, 33.1, "observed")
    t3 = infer_digital_core_va(real, 2020)
    assert (t3.value, t3.low, t3.high) == (7020, 6669, 7371)  # no 2020 lower bound: -5 %, +5 %
    ht = infer_count_between(real, "high_tech_enterprises_count", 2020)
    assert (ht.value, ht.low, ht.high) == (16343, 11931, 19449)  # between 11931 (2019) and 42000 (2023)
    lg_ = infer_count_before_batch(real, "little_giant_national_cumulative_count", "little_giant_national_new_count", 2020)
    assert lg_.value == 470 - 308


def test_inferred_rows_have_kind_inferred(real):
    base = load_base_year(BASE_YEAR)
    assert base["t1_emerging_share_415x_pct"].kind == base["t2_sei_share_pct"].kind == "inferred"
    assert all(base[f"{sid}_revenue_cny_100m"].kind == "inferred" for sid in EMERGING_CLUSTER_SECTORS.values())


# the seed's 2027 targets (T1 58 %, T2 34 %, T3 12.5 %, 10 national clusters, 35 pilot zones)
TARGET_WORDS = re.compile(r"(?i)\btarget|\bseed\b|\b2027\b|目标")


@pytest.mark.parametrize("path", BASE_YEAR_TABLES, ids=lambda p: p.name)
def test_no_base_year_reasoning_rests_on_a_target(path):
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [(r["quantity"], m.group(0)) for r in rows if (m := TARGET_WORDS.search(r["reasoning"]))]
    assert not bad, f"{path.name}: base-year reasoning that mentions a target: {bad}"


def test_future_industry_growth_priors_rest_on_data_not_on_the_seed():
    with open(SECTOR_SOURCES, encoding="utf-8", newline="") as fh:
        src = {r["code"]: r["text"] for r in csv.DictReader(fh)}
    for code in ("A7", "A8"):
        text = src[code]
        assert not re.search(r"(?i)high-speed|\bseed\b|\btarget|\bT6\b|15 ?%", text), (code, text)
        assert "no growth series exists" in text.lower() and "+20.0 %" in text  # the fastest observed segment
    with open(SECTORS, encoding="utf-8", newline="") as fh:
        future = [r for r in csv.DictReader(fh) if r["group"] in ("future_fast", "future_long", "new_track")]
    assert future and all({"A7", "A8"} & set(r["source"].split(";")) for r in future)
    for r in future:
        # at or above the fastest observed emerging segment (digital-core manufacturing +20.0 % in 2021), wide ranges
        assert float(r["growth_prior_pct"]) >= 20.0
        assert float(r["growth_high_pct"]) - float(r["growth_low_pct"]) >= 30.0
