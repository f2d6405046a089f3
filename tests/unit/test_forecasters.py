"""Benchmark forecasters and forecast scores (simmodel.calibration.forecasters)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from simmodel.calibration import forecasters as fc
from simmodel.calibration.forecasters import (
    DM_MIN_POINTS,
    FORECASTERS,
    coverage,
    diebold_mariano,
    linear_trend,
    point_scores,
    random_walk_drift,
    state_space_by_aic,
)

INDICATORS = Path(__file__).resolve().parents[2] / "calibration" / "data" / "zhejiang_indicators.csv"

GAPPY_YEARS = np.array([2011, 2012, 2014, 2016, 2017, 2020, 2021])


def _line(years):
    return 3.0 + 0.5 * (np.asarray(years) - 2011)


def _assert_ordered(f, tol=0.0):
    assert np.all(f.lo95 <= f.lo80 + tol)
    assert np.all(f.lo80 <= f.mean + tol)
    assert np.all(f.mean <= f.hi80 + tol)
    assert np.all(f.hi80 <= f.hi95 + tol)


# --- exact line with gaps --------------------------------------------------------------------------------


@pytest.mark.parametrize("forecaster", [linear_trend, random_walk_drift])
def test_exact_line_with_gaps_is_recovered(forecaster):
    horizon = np.array([2022, 2025, 2030])
    f = forecaster(GAPPY_YEARS, _line(GAPPY_YEARS), horizon, log=False)
    truth = _line(horizon)
    np.testing.assert_array_equal(f.years, horizon)
    np.testing.assert_allclose(f.mean, truth, atol=1e-6)
    # An exact line has zero residual variance, so the intervals may collapse onto it: contain up to rounding.
    for lo, hi in ((f.lo80, f.hi80), (f.lo95, f.hi95)):
        assert np.all(lo <= truth + 1e-9) and np.all(truth <= hi + 1e-9)


def test_state_space_picks_a_trend_on_an_exact_line():
    horizon = np.array([2022, 2025])
    f = state_space_by_aic(GAPPY_YEARS, _line(GAPPY_YEARS), horizon, log=False)
    # A local level cannot extrapolate a slope; a trend specification must win by AIC.
    assert f.method.startswith(("uc:lltrend", "uc:rwdrift")), f.method
    np.testing.assert_allclose(f.mean, _line(horizon), atol=1e-3)
    assert any(n.startswith("AIC by specification") for n in f.notes)


# --- random walk with drift: hand computation and interval calibration ------------------------------------


def test_random_walk_drift_matches_hand_computation_over_gaps():
    # gaps 5, 1, 1; drift = (7 - 0) / 7 = 1; scaled residuals (5-5)/sqrt5, (2-1), (0-1) -> sigma^2 = 2 / 2 = 1
    f = random_walk_drift(np.array([2014, 2019, 2020, 2021]), np.array([0.0, 5.0, 7.0, 7.0]), np.array([2023]), log=False)
    assert f.mean[0] == pytest.approx(9.0)
    se = math.sqrt(2 + 2**2 / 7)  # h = 2 years after the last observation, span 7
    assert f.hi95[0] - f.mean[0] == pytest.approx(4.302652729911275 * se)  # t(2) 97.5 % quantile
    assert f.mean[0] - f.lo80[0] == pytest.approx(1.8856180831641267 * se)  # t(2) 90 % quantile


def test_random_walk_drift_intervals_are_calibrated_on_simulated_walks():
    rng = np.random.default_rng(20240501)
    years = np.array([2000, 2001, 2003, 2004, 2007, 2008, 2009, 2012])
    horizon = np.array([2013, 2015])
    all_years = np.arange(2000, 2016)
    hits95, hits80, n = 0, 0, 0
    for _ in range(300):
        path = 50.0 + np.cumsum(rng.normal(0.3, 1.0, len(all_years)))
        obs = path[years - 2000]
        truth = path[horizon - 2000]
        f = random_walk_drift(years, obs, horizon, log=False)
        hits95 += int(np.sum((truth >= f.lo95) & (truth <= f.hi95)))
        hits80 += int(np.sum((truth >= f.lo80) & (truth <= f.hi80)))
        n += len(horizon)
    assert 0.88 <= hits95 / n <= 0.99
    assert 0.72 <= hits80 / n <= 0.88


# --- log scale ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_log_scale_exponential_series_gives_constant_growth(name):
    years = np.array([2010, 2011, 2013, 2014, 2017, 2018, 2019])
    values = 100.0 * 1.08 ** (years - 2010)
    horizon = np.arange(2020, 2025)
    f = FORECASTERS[name](years, values, horizon, log=True)
    tol = 1e-6 if name != "state_space_by_aic" else 1e-3
    np.testing.assert_allclose(f.mean[1:] / f.mean[:-1], 1.08, rtol=tol)
    np.testing.assert_allclose(f.mean[0] / values[-1], 1.08, rtol=tol)
    assert np.all(f.lo95 > 0)
    _assert_ordered(f, tol=1e-6 * f.mean.max())


# --- tiny and gappy series ---------------------------------------------------------------------------------


def test_two_points_work_with_fallback_notes():
    years, values, horizon = np.array([2019, 2021]), np.array([100.0, 110.0]), np.array([2022, 2024])
    rw = random_walk_drift(years, values, horizon, log=False)
    assert any("2 observations" in n and "|drift|" in n for n in rw.notes)
    np.testing.assert_allclose(rw.mean, [115.0, 125.0])
    # sigma = |drift| = 5 per year, normal quantiles, span 2: se(h=1) = 5 * sqrt(1 + 1/2)
    assert rw.hi95[0] - rw.mean[0] == pytest.approx(stats.norm.ppf(0.975) * 5 * math.sqrt(1.5))

    lt = linear_trend(years, values, horizon, log=False)
    assert lt.method == "linear_trend -> random_walk_drift"
    assert any("fell back to random_walk_drift" in n for n in lt.notes)
    np.testing.assert_allclose(lt.mean, rw.mean)

    ss = state_space_by_aic(years, values, horizon, log=False)
    assert ss.method == "state_space_by_aic -> random_walk_drift"
    assert any("fell back" in n for n in ss.notes)
    for f in (rw, lt, ss):
        assert np.all(np.isfinite(f.lo95)) and np.all(f.hi95 > f.lo95)


def test_three_points_fit_trend_without_fallback_but_state_space_falls_back():
    years, values, horizon = np.array([2015, 2018, 2021]), np.array([10.0, 13.5, 15.0]), np.array([2023])
    rw = random_walk_drift(years, values, horizon, log=False)
    assert not any("2 observations" in n for n in rw.notes)
    lt = linear_trend(years, values, horizon, log=False)
    assert lt.method == "linear_trend" and not any("fell back" in n for n in lt.notes)
    assert lt.hi95[0] > lt.hi80[0] > lt.mean[0]  # one residual df: wide but finite intervals
    ss = state_space_by_aic(years, values, horizon, log=False)
    assert ss.method == "state_space_by_aic -> random_walk_drift"
    assert any("3 observations < 4" in n for n in ss.notes)


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_gappy_four_point_series(name):
    years = np.array([2014, 2019, 2020, 2021])  # the digital-core value-added years
    values = np.array([2854.0, 6228.94, 7020.0, 8348.0])
    horizon = np.array([2022, 2024])
    f = FORECASTERS[name](years, values, horizon, log=True)
    assert np.all(np.isfinite(np.concatenate([f.mean, f.lo80, f.hi80, f.lo95, f.hi95])))
    assert np.all(f.mean > values[-1])  # a growing series keeps growing
    _assert_ordered(f, tol=1e-9 * f.mean.max())
    if name == "state_space_by_aic":
        assert f.method.startswith("uc:"), f.method  # four points are enough, no fallback


def test_invalid_inputs_are_rejected():
    h = np.array([2025])
    with pytest.raises(ValueError, match="sorted"):
        random_walk_drift(np.array([2020, 2019]), np.array([1.0, 2.0]), h, log=False)
    with pytest.raises(ValueError, match="after the last observed year"):
        linear_trend(np.array([2019, 2020, 2021]), np.array([1.0, 2.0, 3.0]), np.array([2021]), log=False)
    with pytest.raises(ValueError, match="positive"):
        state_space_by_aic(np.array([2019, 2020]), np.array([1.0, -2.0]), h, log=True)
    with pytest.raises(ValueError, match="at least 2"):
        random_walk_drift(np.array([2019]), np.array([1.0]), h, log=False)
    with pytest.raises(ValueError, match="integer years"):
        random_walk_drift(np.array([2019.5, 2020.0]), np.array([1.0, 2.0]), h, log=False)


def test_fit_warnings_are_recorded_not_raised(monkeypatch):
    from statsmodels.tools.sm_exceptions import ConvergenceWarning
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    original = UnobservedComponents.fit

    def noisy_fit(self, *args, **kwargs):
        warnings.warn("injected non-convergence", ConvergenceWarning)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(UnobservedComponents, "fit", noisy_fit)
    years = np.array([2011, 2012, 2014, 2016, 2017])
    values = np.array([1.0, 1.4, 2.1, 2.9, 3.2])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = state_space_by_aic(years, values, np.array([2019]), log=False)
    assert caught == []
    assert f.method.startswith("uc:")
    assert sum("ConvergenceWarning: injected non-convergence" in n for n in f.notes) == len(fc.UC_SPECS)


# --- scores --------------------------------------------------------------------------------------------------


def test_point_scores_by_hand():
    s = point_scores([1.0, 2.0, 3.0, 4.0, np.nan], [2.0, 2.0, 1.0, 4.0, 9.0])  # errors 1, 0, -2, 0
    assert s["n"] == 4
    assert s["rmse"] == pytest.approx(math.sqrt(5 / 4))
    assert s["mae"] == pytest.approx(3 / 4)
    assert math.isnan(point_scores([np.nan], [1.0])["rmse"])


def test_coverage_by_hand():
    actual = [1.0, 2.0, 3.0, 4.0, 5.0]
    lo = [0.0, 2.5, 3.0, 0.0, 6.0]
    hi = [2.0, 3.0, 3.0, 3.0, 7.0]
    assert coverage(actual, lo, hi) == pytest.approx(2 / 5)  # 1 inside, 3 on both bounds


# --- Diebold-Mariano ---------------------------------------------------------------------------------------


def test_dm_identical_errors_not_applicable():
    e = np.linspace(-1, 1, 12)
    r = diebold_mariano(e, e.copy())
    assert r["applicable"] is False
    assert "zero variance" in r["reason"]


def test_dm_too_few_points_not_applicable():
    r = diebold_mariano([1.0, 2.0, 3.0, 4.0], [2.0, 1.0, 0.0, 3.0])
    assert DM_MIN_POINTS == 5
    assert r["applicable"] is False
    assert "DM_MIN_POINTS" in r["reason"] and r["n"] == 4


def test_dm_detects_a_clearly_better_method():
    rng = np.random.default_rng(7)
    good, bad = rng.normal(0, 0.5, 40), rng.normal(0, 2.0, 40)
    r = diebold_mariano(good, bad)
    assert r["applicable"] and r["n"] == 40 and r["df"] == 39
    assert r["pvalue"] < 0.01
    assert r["statistic"] < 0 and r["better"] == "e1"
    swapped = diebold_mariano(bad, good)
    assert swapped["statistic"] == pytest.approx(-r["statistic"])
    assert swapped["better"] == "e2"


def test_dm_statistic_by_hand():
    e1 = [1.0, -2.0, 0.5, 3.0, -1.0]
    e2 = [2.0, 1.0, -1.0, 2.0, 2.0]
    # d = e1^2 - e2^2 = [-3, 3, -0.75, 5, -3]; mean 0.25; squared deviations sum 52.25 -> gamma0 = 10.45
    r = diebold_mariano(e1, e2, h=1, power=2)
    expected = 0.25 / math.sqrt(10.45 / 5) * math.sqrt((5 + 1 - 2) / 5)
    assert r["statistic"] == pytest.approx(expected, rel=1e-12)
    assert r["pvalue"] == pytest.approx(2 * stats.t.sf(expected, 4), rel=1e-12)
    assert r["better"] == "e2"
    # Absolute loss: d = [-1, 1, -0.5, 1, -1], mean -0.1, squared deviations sum 4.2 -> gamma0 = 0.84
    r1 = diebold_mariano(e1, e2, h=1, power=1)
    assert r1["statistic"] == pytest.approx(-0.1 / math.sqrt(0.84 / 5) * math.sqrt(4 / 5), rel=1e-12)
    # h = 2: gamma1 = (2.75*-3.25 - 2.75 - 4.75 - 3.25*4.75) / 5 = -6.375, V = 10.45 - 12.75 < 0
    r2 = diebold_mariano(e1, e2, h=2)
    assert r2["applicable"] is False and "not positive" in r2["reason"]


# --- real data -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FORECASTERS))
def test_real_gdp_series_without_escaping_warnings(name):
    rows = pd.read_csv(INDICATORS)
    gdp = rows[(rows["indicator"] == "gdp_cny_100m") & (rows["year"] <= 2019)].sort_values("year")
    assert len(gdp) >= 4  # the fixture this test is about: sparse years, but enough for every method
    horizon = np.arange(2020, 2025)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        f = FORECASTERS[name](gdp["year"].to_numpy(), gdp["value"].to_numpy(), horizon, log=True)
    assert [str(w.message) for w in caught] == []
    np.testing.assert_array_equal(f.years, horizon)
    assert np.all(np.isfinite(np.concatenate([f.mean, f.lo80, f.hi80, f.lo95, f.hi95])))
    _assert_ordered(f, tol=1e-9 * f.mean.max())
    # Zhejiang GDP grew every year of the sample; any sane benchmark forecasts growth from the 2017 level.
    assert np.all(np.diff(f.mean) > 0) and f.mean[0] > gdp["value"].iloc[-1]
    frame = f.to_frame()
    assert list(frame["year"]) == list(horizon) and (frame["method"] == f.method).all()
