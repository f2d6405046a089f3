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
from simmodel.data import load_base_year, load_indicators
from simmodel.errors import DataError
from simmodel.evidence import (
    EMERGING_CLUSTER_SECTORS, PARTIAL_YEAR_WEIGHT, Z95, first_release_error, infer_cluster_415x_revenue,
    infer_digital_core_va, infer_emerging_cluster_revenues, infer_t1_emerging_share, infer_t2_sei_share,
    inferred_base_rows, partial_year_growth_error, seasonal_ratios)

DATA_DIR = PROJECT_ROOT / "calibration" / "data"
INDICATORS = DATA_DIR / "zhejiang_indicators.csv"
BASE_YEAR = DATA_DIR / "base_year.csv"
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


# ---------------------------------------------------------------------------------------------- the committed table
def test_base_year_table_equals_the_evidence(real):
    """The rows simmodel.evidence sets are exactly what it gives on the vendored data."""
    base = load_base_year(BASE_YEAR)
    inferred = inferred_base_rows(real, 2024)
    assert set(inferred) == {"cluster_415x_revenue_cny_100m", "t1_emerging_share_415x_pct", "t2_sei_share_pct",
                             "digital_core_va_cny_100m", "smart_iot_revenue_cny_100m", "ic_revenue_cny_100m",
                             "software_revenue_cny_100m"}
    for q, row in inferred.items():
        b = base[q]
        got = (b.year, b.value, b.low, b.high, b.distribution, b.unit, b.kind, b.reasoning)
        want = tuple(row[c] for c in ("year", "value", "low", "high", "distribution", "unit", "kind", "reasoning"))
        assert got == want, f"{q}: base_year.csv says {got[:7]}, simmodel.evidence gives {want[:7]} (or the reasoning differs)"


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


def test_inferred_rows_have_kind_inferred(real):
    base = load_base_year(BASE_YEAR)
    assert base["t1_emerging_share_415x_pct"].kind == base["t2_sei_share_pct"].kind == "inferred"
    assert all(base[f"{sid}_revenue_cny_100m"].kind == "inferred" for sid in EMERGING_CLUSTER_SECTORS.values())


# the seed's 2027 targets (T1 58 %, T2 34 %, T3 12.5 %, 10 national clusters, 35 pilot zones)
TARGET_WORDS = re.compile(r"(?i)\btarget|\bseed\b|\b2027\b|目标")


def test_no_base_year_reasoning_rests_on_a_target():
    with open(BASE_YEAR, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    bad = [(r["quantity"], m.group(0)) for r in rows if (m := TARGET_WORDS.search(r["reasoning"]))]
    assert not bad, f"base-year reasoning that mentions a target: {bad}"


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
