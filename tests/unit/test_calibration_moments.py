"""How the calibration reads the history: gaps, breaks, partial years, bounds, grades, cutoffs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simmodel.calibration.moments import HistoryConfig, level_growth, observed_moments, rate_mean, row_grade, simulated_statistics
from simmodel.data import load_indicators

GRADES = [("gdp_", "A"), ("sei_", "C")]


def frame(rows):
    return pd.DataFrame([{"indicator": i, "year": y, "value": v, "unit": "x", "source_url": "s", "note": n} for i, y, v, n in rows])


def test_level_growth_recovers_the_drift_across_gaps():
    years = [2011, 2012, 2014, 2017, 2018, 2021]
    df = frame([("gdp_cny_100m", y, 100 * math.exp(0.07 * (y - 2011)), "") for y in years])
    m = level_growth(df, "gdp_cny_100m", HistoryConfig(breaks={}), GRADES, name="g", se_floor=0.001)
    assert m.value == pytest.approx(0.07, abs=1e-9)
    assert m.n_obs == len(years)


def test_a_break_splits_the_series():
    years = list(range(2015, 2025))
    vals = [100 * math.exp(0.05 * (y - 2015)) * (1.3 if y >= 2023 else 1.0) for y in years]  # re-basing in 2023
    df = frame([("gdp_cny_100m", y, v, "") for y, v in zip(years, vals)])
    with_break = level_growth(df, "gdp_cny_100m", HistoryConfig(breaks={"gdp_cny_100m": [2023]}), GRADES, name="g", se_floor=1e-4)
    without = level_growth(df, "gdp_cny_100m", HistoryConfig(breaks={}), GRADES, name="g", se_floor=1e-4)
    assert with_break.value == pytest.approx(0.05, abs=1e-9)
    assert without.value > 0.06  # the jump leaks into the drift when the break is ignored


def test_grades_weight_rows():
    df = frame([("sei_va_growth_pct", 2020, 10.0, "[A] official"), ("sei_va_growth_pct", 2021, 20.0, "relay")])
    assert row_grade("sei_va_growth_pct", "[A] official", GRADES) == "A"
    assert row_grade("sei_va_growth_pct", "relay", GRADES) == "C"
    m = rate_mean(df, [("sei_va_growth_pct", 1.0)], HistoryConfig(), GRADES, name="s", se_floor=0.001)
    expect = (1.0 * math.log(1.10) + 0.4 * math.log(1.20)) / 1.4
    assert m.value == pytest.approx(expect, rel=1e-9)


def test_partial_year_rates_count_at_reduced_weight_and_levels_never():
    real = load_indicators("calibration/data/zhejiang_indicators.csv")
    base = {m.name: m for m in observed_moments(real, HistoryConfig(), GRADES)[0]}
    changed = real.copy()
    # a partial-year level is not an annual level: making it absurd must change nothing
    changed.loc[changed["indicator"] == "digital_core_va_cny_100m_h1_approx", "value"] = 1e9
    after = {m.name: m for m in observed_moments(changed, HistoryConfig(), GRADES)[0]}
    assert after["digital_core_growth"].value == base["digital_core_growth"].value
    # a partial-year growth rate does count, at partial_year_weight
    zero = {m.name: m for m in observed_moments(real, HistoryConfig(partial_year_weight=0.0), GRADES)[0]}
    assert zero["digital_core_growth"].value != base["digital_core_growth"].value


def test_bounds_become_inequalities_and_yield_to_exact_levels():
    real = load_indicators("calibration/data/zhejiang_indicators.csv")
    # the exact 2024 level (11060, pass 4 of the data) supersedes the 2024 bound (>= 10000)
    _, bounds, _ = observed_moments(real, HistoryConfig(), GRADES)
    assert not any("2024 >= 10000" in b.note for b in bounds)
    # without it, the bound is an inequality on the growth since the last exact level
    no_exact = real[~((real["indicator"] == "digital_core_va_cny_100m") & (real["year"] == 2024))]
    _, bounds, _ = observed_moments(no_exact, HistoryConfig(), GRADES)
    notes = " | ".join(b.note for b in bounds)
    # 2024 >= 10000 after the exact 2021 level 8348: growth >= ln(10000/8348)/3
    b = [b for b in bounds if "2024 >= 10000" in b.note][0]
    assert b.value == pytest.approx(math.log(10000 / 8348) / 3, rel=1e-9)
    # the 2021 bound (>= 8000) has an exact 2021 level (8348): ignored
    assert "2021 >= 8000" not in notes


def test_cutoff_drops_later_rows():
    real = load_indicators("calibration/data/zhejiang_indicators.csv")
    moments, _, notes = observed_moments(real, HistoryConfig(cutoff=2019), GRADES)
    assert all(max(m.years) <= 2019 for m in moments)
    assert any("rd_intensity_trend" in n for n in notes)  # two points since 2017 only after 2019


def test_simulated_statistics_on_a_known_path():
    years = np.arange(2024, 2031)
    g = np.exp(0.08 * (years - 2024))
    traj = pd.DataFrame({
        "gdp_cny_100m": 100 * g, "digital_core_va_cny_100m": 10 * np.exp(0.12 * (years - 2024)),
        "t3_digital_core_share_gdp_pct": 10 + 0.5 * (years - 2024), "above_size_industry_va_cny_100m": 30 * g,
        "sei_va_cny_100m": 10 * np.exp(0.13 * (years - 2024)), "n_high_tech": 1000 * g, "rd_intensity_pct": 3 + 0.1 * (years - 2024),
        "cluster_415x_revenue_cny_100m": 900 * g}, index=years)
    s = simulated_statistics(traj)
    assert s["gdp_growth"] == pytest.approx(0.08)
    assert s["digital_core_growth"] == pytest.approx(0.12)
    assert s["t3_share_trend"] == pytest.approx(0.5)
    assert s["sei_growth_premium"] == pytest.approx(0.05)
    assert s["rd_intensity_trend"] == pytest.approx(0.1)
