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
