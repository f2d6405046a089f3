"""What the calibration compares on the replay: rows of the replayed years as levels, shares, counts
and growth premia; breaks, partial years, bounds, grades, cutoffs; and the same quantities on a path."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simmodel.calibration.backtest import score_origin, scorecard, scores
from simmodel.calibration.fit import prior_on_logit_scale
from simmodel.calibration.moments import OBSERVATION_SD, HistoryConfig, path_observations, row_grade, simulated_value
from simmodel.data import load_indicators
from simmodel.params import ParamInfo

GRADES = [("gdp_", "A"), ("sei_", "C"), ("digital_core_", "B"), ("above_scale_industry_", "B")]


def frame(rows):
    return pd.DataFrame([{"indicator": i, "year": y, "value": v, "unit": "x", "source_url": "s", "note": n} for i, y, v, n in rows])


def by_name(ms):
    return {m.name: m for m in ms}


def test_levels_of_the_replayed_years_in_logs_and_the_base_year_left_out():
    df = frame([("gdp_cny_100m", 2020, 100.0, ""), ("gdp_cny_100m", 2021, 110.0, ""), ("gdp_cny_100m", 2022, 121.0, "")])
    ms, _, _ = path_observations(df, HistoryConfig(breaks={}), GRADES, 2020)
    m = by_name(ms)
    assert set(m) == {"gdp_cny_100m@2021", "gdp_cny_100m@2022"}  # the base year's row is the synthesis's
    assert m["gdp_cny_100m@2021"].value == pytest.approx(math.log(110.0))
    assert m["gdp_cny_100m@2021"].se == pytest.approx(OBSERVATION_SD["gdp_cny_100m"][2])  # grade A: weight 1
    assert m["gdp_cny_100m@2021"].model == "gdp_cny_100m"


def test_grades_scale_the_standard_error():
    df = frame([("gdp_cny_100m", 2021, 110.0, ""), ("gdp_cny_100m", 2022, 121.0, "[C] a secondary site")])
    cfg = HistoryConfig(breaks={})
    m = by_name(path_observations(df, cfg, GRADES, 2020)[0])
    assert row_grade("gdp_cny_100m", "[C] x", GRADES) == "C"
    assert m["gdp_cny_100m@2022"].se == pytest.approx(m["gdp_cny_100m@2021"].se / math.sqrt(cfg.grade_weights["C"]))


def test_after_a_break_a_level_enters_as_its_change_on_the_new_basis():
    df = frame([("gdp_cny_100m", 2021, 110.0, ""), ("gdp_cny_100m", 2023, 140.0, ""), ("gdp_cny_100m", 2024, 147.0, "")])
    ms, _, notes = path_observations(df, HistoryConfig(breaks={"gdp_cny_100m": [2023]}), GRADES, 2020)
    m = by_name(ms)
    assert "gdp_cny_100m@2023" not in m and any("gdp_cny_100m 2023" in n for n in notes)
    assert m["gdp_cny_100m@2024"].ref_year == 2023
    assert m["gdp_cny_100m@2024"].value == pytest.approx(math.log(147.0 / 140.0))
    assert m["gdp_cny_100m@2021"].ref_year is None


def test_partial_year_shares_at_their_weight_and_never_beside_a_full_year_row():
    df = frame([("digital_core_va_share_gdp_pct_h1", 2021, 11.5, ""), ("digital_core_va_share_gdp_pct_h1", 2022, 12.0, ""),
                ("digital_core_va_share_gdp_pct", 2022, 12.1, ""), ("above_scale_industry_va_cny_100m_jan_nov", 2021, 90.0, "")])
    m = by_name(path_observations(df, HistoryConfig(), GRADES, 2020)[0])
    sd = OBSERVATION_SD["digital_core_va_share_gdp_pct"][2]
    assert m["digital_core_va_share_gdp_pct_h1@2021"].se == pytest.approx(sd / math.sqrt(0.7 * 0.5))
    assert "digital_core_va_share_gdp_pct_h1@2022" not in m  # the full-year row of 2022 says more
    assert not any("jan_nov" in k for k in m)  # partial-year levels never enter
    none = by_name(path_observations(df, HistoryConfig(partial_year_weight=0.0), GRADES, 2020)[0])
    assert not any("_h1" in k for k in none)


def test_growth_enters_as_the_sei_premium_where_only_growth_exists():
    df = frame([("sei_va_growth_pct", 2022, 10.0, ""), ("above_scale_industry_va_growth_pct", 2022, 4.3, ""),
                ("sei_va_growth_pct_jan_sep", 2023, 6.9, ""), ("above_scale_industry_va_growth_pct", 2023, 6.0, "")])
    m = by_name(path_observations(df, HistoryConfig(), GRADES, 2020)[0])
    full, part = m["sei_va_growth_pct@2022"], m["sei_va_growth_pct_jan_sep@2023"]
    assert full.value == pytest.approx(math.log(1.10) - math.log(1.043))
    assert part.se == pytest.approx(full.se / math.sqrt(0.5))  # the partial year at half weight
    assert full.transform == "premium"


def test_bounds_are_inequalities_and_yield_to_exact_levels():
    df = frame([("cluster_415x_revenue_cny_100m_lower_bound", 2024, 90000.0, ""),
                ("digital_core_va_cny_100m_lower_bound", 2024, 10000.0, ""), ("digital_core_va_cny_100m", 2024, 11060.0, "")])
    _, bounds, _ = path_observations(df, HistoryConfig(), GRADES, 2020)
    assert [b.name for b in bounds] == ["cluster_415x_revenue_cny_100m_lower_bound@2024"]
    assert bounds[0].value == pytest.approx(math.log(90000.0)) and bounds[0].model == "cluster_415x_revenue_cny_100m"


def test_cutoff_drops_later_rows_and_a_thin_file_gives_what_it_has():
    real = load_indicators(__import__("pathlib").Path(__file__).resolve().parents[2] / "calibration/data/zhejiang_indicators.csv")
    ms, _, _ = path_observations(real, HistoryConfig(cutoff=2021), GRADES, 2020)
    assert ms and all(m.year == 2021 for m in ms)
    thin = real[real["indicator"] == "rd_intensity_pct"]
    only = path_observations(thin, HistoryConfig(), GRADES, 2020)[0]
    assert only and {m.model for m in only} == {"rd_intensity_pct"}
    nothing, _, notes = path_observations(thin, HistoryConfig(), GRADES, 2025)
    assert not nothing and "nothing to calibrate on" in notes[-1]


def test_simulated_values_on_a_known_path():
    years = [2020, 2021, 2022]
    traj = pd.DataFrame({"gdp_cny_100m": [100.0, 110.0, 121.0], "rd_intensity_pct": [2.9, 3.0, 3.1],
                         "sei_va_cny_100m": [10.0, 11.0, 12.1], "above_size_industry_va_cny_100m": [50.0, 51.0, 52.02]},
                        index=pd.Index(years, name="year"))
    df = frame([("gdp_cny_100m", 2022, 121.0, ""), ("rd_intensity_pct", 2021, 3.0, ""),
                ("sei_va_growth_pct", 2022, 10.0, ""), ("above_scale_industry_va_growth_pct", 2022, 2.0, "")])
    m = by_name(path_observations(df, HistoryConfig(breaks={}), GRADES, 2020)[0])
    assert simulated_value(traj, m["gdp_cny_100m@2022"]) == pytest.approx(math.log(121.0))
    assert simulated_value(traj, m["rd_intensity_pct@2021"]) == pytest.approx(3.0)
    assert simulated_value(traj, m["sei_va_growth_pct@2022"]) == pytest.approx(math.log(1.1) - math.log(1.02))
    assert simulated_value(traj, m["sei_va_growth_pct@2022"]) == pytest.approx(m["sei_va_growth_pct@2022"].value)


def test_the_prior_on_the_logit_scale():
    uni = ParamInfo("x", 5.0, 0.0, 10.0, "uniform", "u", "assumption", "s")
    mu, tau = prior_on_logit_scale(uni)
    assert mu == pytest.approx(0.0, abs=1e-9) and tau == pytest.approx(math.pi / math.sqrt(3), rel=0.02)  # logistic sd
    tri = ParamInfo("x", 2.0, 0.0, 10.0, "triangular", "u", "assumption", "s")
    mu_t, tau_t = prior_on_logit_scale(tri)
    assert mu_t < 0 and tau_t < tau  # mode to the left, narrower than uniform
    with pytest.raises(ValueError, match="fixed"):
        prior_on_logit_scale(ParamInfo("x", 2.0, 2.0, 2.0, "fixed", "u", "data", "s"))


def test_every_held_out_year_with_a_row_is_scored_a_2026_row_included():
    """A user who adds a row for a later year sees it scored without a code change; the scorecard
    counts series with at least three held-out points."""
    years = np.arange(2020, 2027)
    rng = np.random.default_rng(0)
    paths = {"gdp_cny_100m": 100 * np.exp(0.05 * (years - 2020))[None, :] * np.exp(rng.normal(0, 0.01, (30, years.size)))}
    rows = [("gdp_cny_100m", int(y), float(100 * math.exp(0.05 * (y - 2020))), "") for y in range(2016, 2026)]
    rows.append(("gdp_cny_100m", 2026, 100 * math.exp(0.3), ""))
    origin = score_origin(frame(rows), 2022, paths, years, 2026)
    model = origin.forecasts[origin.forecasts["method"] == "model"]
    assert list(model["year"]) == [2023, 2024, 2025, 2026]
    sc, _ = scores(origin.forecasts)
    card = scorecard(sc)
    assert card["n_series"] == 1 and card["series"][0]["n"] == 4 and 0 <= card["coverage80"] <= 1
