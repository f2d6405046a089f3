"""Grouped first-order Sobol indices (simmodel.decompose) on toy models whose indices are known
analytically, with the pick-freeze design built the way the ensemble builds it (pair_plan)."""

from __future__ import annotations

import numpy as np
import pytest

from simmodel.decompose import first_order_indices, pair_plan

COEF = np.array([1.0, 2.0, 3.0, 4.0])
ADDITIVE_TRUTH = COEF ** 2 / np.sum(COEF ** 2)  # 1/30, 4/30, 9/30, 16/30
GROUPS = ("assumptions", "behaviour", "estimates", "shocks")  # group i owns input X_i


def additive(x: np.ndarray) -> np.ndarray:
    return x @ COEF


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def pick_freeze(model, draw, groups: dict[str, list[int]], n_main: int, n_pairs: int, seed: int):
    """The caller's design: main sample A (n_main replicates), independent samples B_j (one per
    pair), and for every run (G, j) of pair_plan the inputs of B_j with group G's columns of A_j."""
    rng = np.random.default_rng(seed)
    a, b = draw(rng, n_main), draw(rng, n_pairs)
    y_main = model(a)
    plan = pair_plan(tuple(groups), n_pairs)
    x = np.empty((len(plan), a.shape[1]))
    for row, (g, j) in enumerate(plan):
        x[row] = b[j]
        x[row, groups[g]] = a[j, groups[g]]
    y = model(x)
    y_frozen = {g: y[[row for row, (h, _) in enumerate(plan) if h == g]] for g in groups}
    return y_main, y_frozen


def normal(k: int):
    return lambda rng, n: rng.standard_normal((n, k))


def uniform_pi(rng, n):
    return rng.uniform(-np.pi, np.pi, (n, 3))


def test_pair_plan_lists_every_extra_run_once_in_a_fixed_order():
    plan = pair_plan(("a", "b"), 3)
    assert plan == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)]
    assert pair_plan(("a", "b"), 3) == plan
    assert pair_plan(("a",), 0) == []
    with pytest.raises(ValueError):
        pair_plan(("a", "a"), 3)
    with pytest.raises(ValueError):
        pair_plan(("variance",), 3)
    with pytest.raises(ValueError):
        pair_plan(("a",), -1)


def test_additive_model_recovers_the_analytic_shares_within_their_intervals():
    groups = {g: [i] for i, g in enumerate(GROUPS)}
    y_main, y_frozen = pick_freeze(additive, normal(4), groups, n_main=4500, n_pairs=4000, seed=1)
    r = first_order_indices(y_main, y_frozen, seed=3)
    # measured (seed 1): 0.051 0.149 0.312 0.551 against 0.033 0.133 0.300 0.533 (sd over seeds about 0.015);
    # every 95 % interval holds the truth, e.g. [0.020, 0.081] for 1/30
    for g, truth in zip(GROUPS, ADDITIVE_TRUTH, strict=True):
        assert r[g]["n_pairs"] == 4000 and r[g]["dropped"] == 0 and "note" not in r[g]
        assert r[g]["s1"] == pytest.approx(truth, abs=0.03)
        lo, hi = r[g]["ci95"]
        assert lo <= truth <= hi
        assert hi - lo < 0.1
    assert r["variance"] == pytest.approx(np.sum(COEF ** 2), rel=0.05)
    assert r["variance"] == np.var(y_main, ddof=1)
    assert r["interactions"] == pytest.approx(1 - sum(r[g]["s1"] for g in GROUPS))
    # additive: no interactions. The residual 1 - sum(s1) adds four correlated errors (the groups share
    # B_j); its sd over seeds is about 0.04 at 4000 pairs, so the bound is loose on purpose.
    assert abs(r["interactions"]) < 0.15
    assert "note" not in r and r["n_main"] == 4500
    # reproducible: same seed, same intervals
    assert first_order_indices(y_main, y_frozen, seed=3)[GROUPS[0]]["ci95"] == r[GROUPS[0]]["ci95"]


def test_ishigami_recovers_the_first_order_indices_and_their_interaction():
    # Ishigami and Homma (1990), a = 7, b = 0.1: S1 = 0.3139, S2 = 0.4424, S3 = 0; S13 = 0.2437
    groups = {"x1": [0], "x2": [1], "x3": [2]}
    # sd over 40 seeds at 8000 pairs, scaled to 16000: about 0.006 (x1, x2), 0.012 (x3), 0.019 (interactions)
    r = first_order_indices(*pick_freeze(ishigami, uniform_pi, groups, 16000, 16000, seed=2), resamples=100)
    for g, truth in {"x1": 0.3139, "x2": 0.4424, "x3": 0.0}.items():
        assert r[g]["s1"] == pytest.approx(truth, abs=0.03)
    assert r["interactions"] == pytest.approx(0.2437, abs=0.06)
    # a group's index includes the interactions inside it: S_{x1,x3} = S1 + S3 + S13 = 0.5576
    grouped = first_order_indices(*pick_freeze(ishigami, uniform_pi, {"x13": [0, 2], "x2": [1]}, 16000, 16000,
                                               seed=4), resamples=100)
    assert grouped["x13"]["s1"] == pytest.approx(0.5576, abs=0.03)
    assert grouped["x2"]["s1"] == pytest.approx(0.4424, abs=0.03)
    assert abs(grouped["interactions"]) < 0.05  # the only interaction is now inside a group


def test_product_model_puts_half_the_variance_in_interactions():
    # Y = X1 + X2 * X3, standard normals: Var Y = 2, E[Y|X1] = X1, E[Y|X2] = E[Y|X3] = 0
    groups = {"x1": [0], "x2": [1], "x3": [2]}
    # sd over 40 seeds at 4000 pairs, scaled to 10000: about 0.009 (x1), 0.012 (x2, x3), 0.022 (interactions)
    r = first_order_indices(*pick_freeze(lambda x: x[:, 0] + x[:, 1] * x[:, 2], normal(3), groups, 10000, 10000,
                                         seed=5), resamples=300)
    assert r["x1"]["s1"] == pytest.approx(0.5, abs=0.04)
    assert r["x1"]["ci95"][0] <= 0.5 <= r["x1"]["ci95"][1]
    assert abs(r["x2"]["s1"]) < 0.04 and abs(r["x3"]["s1"]) < 0.04
    assert r["interactions"] == pytest.approx(0.5, abs=0.08)
    assert r["variance"] == pytest.approx(2.0, rel=0.1)


def test_a_switched_off_group_gets_no_share():
    # the "shocks" group is switched off: its input is the same constant in every draw
    def draw(rng, n):
        x = rng.standard_normal((n, 4))
        x[:, 3] = 1.0
        return x

    groups = {g: [i] for i, g in enumerate(GROUPS)}
    r = first_order_indices(*pick_freeze(additive, draw, groups, 6000, 6000, seed=6), resamples=300)
    assert abs(r["shocks"]["s1"]) < 0.05  # sd about 1 / sqrt(6000) = 0.013
    assert r["shocks"]["ci95"][0] <= 0.0 <= r["shocks"]["ci95"][1]
    assert r["estimates"]["s1"] == pytest.approx(9 / 14, abs=0.04)  # 9 / (1 + 4 + 9)


def test_a_constant_output_has_no_decomposition():
    r = first_order_indices(np.full(50, 3.0), {"a": np.full(40, 3.0), "b": np.full(40, 3.0)})
    assert r["variance"] == 0.0
    assert "does not vary" in r["note"]
    for g in ("a", "b"):
        assert np.isnan(r[g]["s1"]) and np.isnan(r[g]["ci95"]).all()
        assert "does not vary" in r[g]["note"]
    assert np.isnan(r["interactions"])
    # a non-finite variance counts as not varying too
    assert "does not vary" in first_order_indices(np.array([1.0, np.inf]), {"a": np.array([1.0])})["note"]


def test_nan_pairs_are_dropped_and_counted():
    groups = {g: [i] for i, g in enumerate(GROUPS)}
    y_main, y_frozen = pick_freeze(additive, normal(4), groups, 600, 500, seed=7)
    clean = first_order_indices(y_main, y_frozen, resamples=200)
    y_main, y_frozen = y_main.copy(), {g: y.copy() for g, y in y_frozen.items()}
    y_main[[3, 10, 550]] = np.nan  # 550 is beyond the pairs: left out of the variance only
    y_frozen["behaviour"][[10, 20, 30]] = np.nan  # 10 is already dropped through y_main
    r = first_order_indices(y_main, y_frozen, resamples=200)
    assert r["n_main"] == 597 and "3 of 600 main outputs" in r["note"]
    assert r["variance"] == pytest.approx(np.nanvar(y_main, ddof=1))
    for g in GROUPS:
        dropped = 4 if g == "behaviour" else 2
        assert r[g]["dropped"] == dropped and r[g]["n_pairs"] == 500 - dropped
        assert f"{dropped} of 500 pairs dropped" in r[g]["note"]
        assert np.isfinite(r[g]["s1"]) and np.isfinite(r[g]["ci95"]).all()
        assert r[g]["s1"] == pytest.approx(clean[g]["s1"], abs=0.05)
    # dropping is the same as handing in only the complete pairs
    keep = np.ones(500, bool)
    keep[[3, 10, 20, 30]] = False
    same = first_order_indices(y_main[:500][keep], {"behaviour": y_frozen["behaviour"][keep]}, resamples=200)
    assert same["behaviour"]["s1"] == r["behaviour"]["s1"]
    assert same["behaviour"]["ci95"] == r["behaviour"]["ci95"]


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        first_order_indices(np.zeros(10), {"a": np.zeros(11)})
    with pytest.raises(ValueError):
        first_order_indices(np.zeros((10, 2)), {"a": np.zeros(5)})
    with pytest.raises(ValueError):
        first_order_indices(np.arange(10.0), {"interactions": np.arange(5.0)})


def test_bootstrap_interval_covers_the_truth_at_the_callers_default_size():
    # n_pairs = 40 (the ensemble's default), 200 repetitions of the additive model, 1000 resamples.
    # Measured coverage (seed 2024): 0.940, 0.940, 0.915, 0.935 for S = 1/30, 4/30, 9/30, 16/30;
    # over 1000 repetitions (three seeds) it stays between 0.91 and 0.94.
    rng = np.random.default_rng(2024)
    groups = {g: [i] for i, g in enumerate(GROUPS)}
    covered = np.zeros(len(GROUPS))
    for rep in range(200):
        r = first_order_indices(*pick_freeze(additive, normal(4), groups, 40, 40, seed=int(rng.integers(2 ** 32))),
                                seed=rep)
        covered += [r[g]["ci95"][0] <= t <= r[g]["ci95"][1] for g, t in zip(GROUPS, ADDITIVE_TRUTH, strict=True)]
    coverage = covered / 200
    assert (coverage >= 0.85).all(), dict(zip(GROUPS, coverage, strict=True))
