"""The analysis methods on functions whose answer is known, and the analysis space."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simmodel.analysis import methods, space
from simmodel.errors import ConfigError
from simmodel.levers import FundRegime, Levers, specs

ISHIGAMI = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_recovers_the_ishigami_indices():
    # analytic values (Ishigami and Homma 1990; Saltelli et al. 2008, a = 7, b = 0.1)
    s1 = {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}
    st = {"x1": 0.5576, "x2": 0.4424, "x3": 0.2437}
    x = methods.sobol_design(ISHIGAMI, 2 ** 13, seed=1)
    t = methods.sobol_indices(ISHIGAMI, ishigami(x), seed=1).set_index("factor")
    for name in ISHIGAMI["names"]:
        assert t.loc[name, "S1"] == pytest.approx(s1[name], abs=0.03)
        assert t.loc[name, "ST"] == pytest.approx(st[name], abs=0.03)
        assert t.loc[name, "S1_conf"] < 0.05
    assert list(t.index[:2]) == ["x1", "x2"]  # ordered by total effect


def test_morris_ranks_a_linear_function_by_its_slopes_and_finds_the_idle_factor():
    problem = {"num_vars": 4, "names": ["a", "b", "c", "idle"], "bounds": [[0, 1]] * 4}
    x = methods.morris_design(problem, 20, seed=3)
    y = 5 * x[:, 0] + 2 * x[:, 1] - 1 * x[:, 2]
    t = methods.morris_indices(problem, x, y, seed=3).set_index("factor")
    # a linear function: every elementary effect is the slope times the factor's range
    assert t.loc["a", "mu_star"] == pytest.approx(5) and t.loc["b", "mu_star"] == pytest.approx(2)
    assert t.loc["c", "mu"] == pytest.approx(-1) and t.loc["idle", "mu_star"] == pytest.approx(0)
    assert t.loc["a", "sigma"] == pytest.approx(0, abs=1e-9)  # no interaction
    assert list(t.index) == ["a", "b", "c", "idle"]


def test_prim_finds_a_planted_box():
    rng = np.random.default_rng(4)
    x = pd.DataFrame(rng.random((3000, 4)), columns=["p", "q", "r", "s"])
    inside = (x["p"] > 0.6) & (x["q"] < 0.3)
    y = inside.to_numpy() & (rng.random(3000) < 0.95)  # 5 % noise inside, none outside
    res = methods.prim(x, y, threshold=0.8)
    assert set(res["box"]) == {"p", "q"}
    assert res["box"]["p"][0] == pytest.approx(0.6, abs=0.05) and res["box"]["q"][1] == pytest.approx(0.3, abs=0.05)
    assert res["coverage"] > 0.8 and res["density"] > 0.8
    assert {"coverage", "density", "mass", "res_dim"} <= set(res["trajectory"].columns)


def test_prim_says_so_when_there_is_nothing_to_find():
    x = pd.DataFrame({"p": np.linspace(0, 1, 50)})
    assert methods.prim(x, np.ones(50, bool))["box"] is None


def test_lhs_covers_each_range_once_per_stratum():
    x = methods.lhs_design({"num_vars": 2, "names": ["a", "b"], "bounds": [[0, 10], [5, 6]]}, 20, seed=5)
    for j, (lo, hi) in enumerate([(0, 10), (5, 6)]):
        strata = np.floor((x[:, j] - lo) / (hi - lo) * 20).astype(int)
        assert sorted(strata) == list(range(20))


def test_the_space_covers_every_lever_and_uncertainty_with_stated_ranges():
    fs = space.factors()
    names = [f.name for f in fs]
    assert set(specs()) <= set(names) and {"world_demand_shift_pct", "breakthrough_delay_years"} <= set(names)
    for f in fs:
        s = specs(Levers).get(f.name)
        if s is not None and f.kind != "switch":
            assert s.low <= f.low < f.high <= s.high, f
            assert f.low <= f.baseline <= f.high, f  # the baseline is inside what is explored
        assert f.reason
    life = next(f for f in fs if f.name == "fund_life_years")
    assert (life.low, life.high, life.kind) == (10, 20, "int")  # no_new_policy 10 to the seed's 20


def test_space_values_round_integers_and_switch_the_regime():
    fs = space.factors(["fund_life_years", "fund_evaluation_regime", "world_demand_shift_pct"])
    v = space.values(fs, [12.6, 0.7, -1.5])
    assert v["levers"] == {"fund_life_years": 13, "fund_evaluation_regime": FundRegime.yearly_profit}
    assert v["uncertainties"] == {"world_demand_shift_pct": -1.5}
    assert space.values(fs, [12.4, 0.2, 0.0])["levers"]["fund_evaluation_regime"] == FundRegime.portfolio


def test_space_ranges_can_be_set_and_are_checked():
    f = space.factors(["land_quota_mu_per_year"], {"land_quota_mu_per_year": [50000, 150000]})[0]
    assert (f.low, f.high) == (50000, 150000)
    with pytest.raises(ConfigError, match="registry range"):
        space.factors(["fund_life_years"], {"fund_life_years": [5, 30]})
    with pytest.raises(ConfigError, match="unknown lever"):
        space.factors(["fund_lief_years"])


# --- target inversion -------------------------------------------------------------------------

def _toy_inversion(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cost 2a + b + c, success probability (a + 2b) / 20 capped at 1: reaching p >= 0.8 needs
    a + 2b >= 16, which b buys at a quarter of a's price per unit of p, and c buys nothing. The
    least-cost package is a = 0, b = 8, c = 0, at cost 8."""
    return 2 * x[:, 0] + x[:, 1] + x[:, 2], np.clip((x[:, 0] + 2 * x[:, 1]) / 20, 0, 1)


def test_the_inversion_finds_the_known_least_cost_package():
    from simmodel.analysis.invert import SearchSettings, search

    tags = []

    def evaluate(tag, x):
        tags.append(tag)
        return _toy_inversion(x)

    res = search(evaluate, ["a", "b", "c"], np.array([[0, 10], [0, 10], [0, 10]]), ["float"] * 3, np.array([5.0, 5, 5]),
                 SearchSettings(p_level=0.8, batch=16, generations=8, polish_rounds=8, seed=3), echo=lambda *_: None)
    ev = res["evaluations"]
    best = ev.iloc[res["best"]]
    assert best["p_met"] >= 0.8
    assert best["fiscal_cost_cny_100m"] == pytest.approx(8, rel=0.02)
    assert best[["a", "b", "c"]].to_numpy(float) == pytest.approx([0, 8, 0], abs=0.2)
    # the baseline package is the first point, every batch was evaluated once, and the polish helped
    assert ev.iloc[0][["a", "b", "c"]].tolist() == [5, 5, 5]
    assert tags[:8] == [f"search_{g:03d}" for g in range(8)] and len(set(tags)) == len(tags)
    assert ev.loc[ev["stage"] == "search", "fiscal_cost_cny_100m"][ev["p_met"] >= 0.8].min() > best["fiscal_cost_cny_100m"]
    # the same settings give the same search (a re-run reuses every batch of the model)
    again = search(evaluate, ["a", "b", "c"], np.array([[0, 10], [0, 10], [0, 10]]), ["float"] * 3, np.array([5.0, 5, 5]),
                   SearchSettings(p_level=0.8, batch=16, generations=8, polish_rounds=8, seed=3), echo=lambda *_: None)
    pd.testing.assert_frame_equal(ev, again["evaluations"])


def test_the_inversion_rounds_integer_levers_and_says_when_nothing_reaches_the_level():
    from simmodel.analysis.invert import SearchSettings, search

    res = search(lambda tag, x: (x.sum(axis=1), np.clip(x[:, 0] / 100, 0, 0.5)), ["n"], np.array([[0, 20]]), ["int"],
                 np.array([10.0]), SearchSettings(p_level=0.9, batch=4, generations=2, polish_rounds=2),
                 echo=lambda *_: None)
    assert res["best"] is None
    assert (res["evaluations"]["n"] == res["evaluations"]["n"].round()).all()
    assert (res["evaluations"]["stage"] == "search").all()  # no polish without a package to polish


def test_the_frontier_keeps_exactly_the_undominated_points():
    from simmodel.analysis.invert import frontier

    cost = np.array([5.0, 1.0, 3.0, 3.0, 4.0, 2.0])
    p = np.array([0.9, 0.2, 0.6, 0.5, 0.6, 0.2])
    # (1, .2) then (3, .6) then (5, .9); (2, .2), (3, .5) and (4, .6) are dominated
    assert frontier(cost, p).tolist() == [1, 2, 0]


# --- emulator ---------------------------------------------------------------------------------

def test_the_emulator_is_used_where_held_out_runs_confirm_it_and_refused_elsewhere():
    from simmodel.analysis.emulator import validate_and_fit

    rng = np.random.default_rng(0)
    bounds = np.array([[0.0, 1.0], [-2.0, 2.0], [10.0, 20.0]])
    x = bounds[:, 0] + rng.random((60, 3)) * (bounds[:, 1] - bounds[:, 0])
    outputs = pd.DataFrame({"smooth": np.sin(3 * x[:, 0]) + 0.5 * x[:, 1] ** 2,
                            "noise": rng.normal(size=60),
                            "flat": np.full(60, 7.0)})
    emu, table = validate_and_fit(x, outputs, bounds, holdout=0.25, min_q2=0.9, seed=1)
    t = table.set_index("output")
    assert t.loc["smooth", "used"] and t.loc["smooth", "q2"] > 0.95
    assert not t.loc["noise", "used"] and t.loc["noise", "q2"] < 0.5
    assert not t.loc["flat", "used"] and "constant" in t.loc["flat", "note"]
    assert t["n_holdout"].iloc[0] == 15 and t["n_train"].iloc[0] == 45
    # fresh points: the emulator of the smooth output predicts it closely
    xn = bounds[:, 0] + rng.random((200, 3)) * (bounds[:, 1] - bounds[:, 0])
    truth = np.sin(3 * xn[:, 0]) + 0.5 * xn[:, 1] ** 2
    assert np.sqrt(np.mean((emu.predict(xn, "smooth") - truth) ** 2)) < 0.05 * np.ptp(truth)
    assert set(emu.models) == {"smooth"}


def test_sobol_indices_on_an_emulator_of_ishigami_match_the_analytic_ones():
    """The emulator route end to end on a function with known indices: too few runs and the
    held-out check refuses the emulator; enough, and Saltelli sampling on it recovers the indices."""
    from simmodel.analysis.emulator import validate_and_fit

    prob = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}

    def ishigami(x):
        return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])

    x = methods.lhs_design(prob, 60, seed=2)
    _, table = validate_and_fit(x, pd.DataFrame({"y": ishigami(x)}), np.array(prob["bounds"]), seed=2)
    assert not table["used"].any() and table["q2"].iloc[0] < 0.9
    x = methods.lhs_design(prob, 250, seed=2)
    emu, table = validate_and_fit(x, pd.DataFrame({"y": ishigami(x)}), np.array(prob["bounds"]), seed=2)
    assert table["used"].all()
    xs = methods.sobol_design(prob, 2048, seed=2)
    t = methods.sobol_indices(prob, emu.predict(xs, "y"), seed=2).set_index("factor")
    # analytic: S1 = 0.314, 0.442, 0; ST = 0.558, 0.442, 0.244
    assert t.loc["x1", "S1"] == pytest.approx(0.314, abs=0.05)
    assert t.loc["x2", "S1"] == pytest.approx(0.442, abs=0.05)
    assert t.loc["x1", "ST"] == pytest.approx(0.558, abs=0.05)
    assert t.loc["x3", "ST"] == pytest.approx(0.244, abs=0.05)
