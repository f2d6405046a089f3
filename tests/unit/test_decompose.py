"""Grouped total-effect Sobol indices (simmodel.decompose) on toy models whose indices are known
analytically, with the nested design built the way the ensemble builds it (pair_plan)."""

from __future__ import annotations

import numpy as np
import pytest

from simmodel.decompose import pair_plan, total_effect_indices

COEF = np.array([1.0, 2.0, 3.0, 4.0])
ADDITIVE_TRUTH = COEF ** 2 / np.sum(COEF ** 2)  # 1/30, 4/30, 9/30, 16/30: total = first order
GROUPS = ("assumptions", "behaviour", "estimates", "shocks")  # group i owns input X_i


def additive(x: np.ndarray) -> np.ndarray:
    return 10.0 + x @ COEF  # an offset: the estimator must not depend on the mean


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


# Ishigami (a = 7, b = 0.1): total effects 0.5576, 0.4424, 0.2437 (Saltelli et al. 2010, table 1 source)
ISHIGAMI_TOTAL = (0.5576, 0.4424, 0.2437)


def nested(model, draw, groups: dict[str, list[int]], n_main: int, n_pairs: int, seed: int):
    """The caller's design: main sample A (n_main replicates), independent samples B_j (one per
    pair), and for every run (G, j) of pair_plan the inputs of A_j with group G's columns of B_j."""
    rng = np.random.default_rng(seed)
    a, b = draw(rng, n_main), draw(rng, n_pairs)
    y_main = model(a)
    plan = pair_plan(tuple(groups), n_pairs)
    x = np.empty((len(plan), a.shape[1]))
    for row, (g, j) in enumerate(plan):
        x[row] = a[j]
        x[row, groups[g]] = b[j, groups[g]]
    y = model(x)
    y_redrawn = {g: y[[row for row, (h, _) in enumerate(plan) if h == g]] for g in groups}
    return y_main, y_redrawn


def normal(k: int):
    return lambda rng, n: rng.standard_normal((n, k))


def uniform_pi(rng, n):
    return rng.uniform(-np.pi, np.pi, (n, 3))


def test_pair_plan_lists_every_extra_run_once_in_a_fixed_order():
    plan = pair_plan(("a", "b"), 3)
    assert plan == [("a", 0), ("a", 1), ("a", 2), ("b", 0), ("b", 1), ("b", 2)]
    assert pair_plan(("a",), 0) == []
    for bad in ((("a", "a"), 3), (("variance",), 3), (("a",), -1)):
        with pytest.raises(ValueError):
            pair_plan(*bad)


def test_additive_model_recovers_the_analytic_shares_within_their_intervals():
    groups = {g: [i] for i, g in enumerate(GROUPS)}
    y_main, y_redrawn = nested(additive, normal(4), groups, n_main=4000, n_pairs=4000, seed=1)
    r = total_effect_indices(y_main, y_redrawn, seed=3)
    for g, truth in zip(GROUPS, ADDITIVE_TRUTH, strict=True):
        assert r[g]["n_pairs"] == 4000 and r[g]["dropped"] == 0 and "note" not in r[g]
        assert r[g]["st"] == pytest.approx(truth, abs=0.03)
        lo, hi = r[g]["ci95"]
        assert lo <= truth <= hi
    assert r["variance"] == np.var(y_main, ddof=1)
    assert abs(r["overlap"]) < 0.06  # additive: no interaction is counted twice
    again = total_effect_indices(y_main, y_redrawn, seed=3)
    assert again == r  # reproducible


def test_interactions_are_counted_in_every_group_they_involve():
    # Ishigami: x3 acts only through its interaction with x1
    groups = {"x1": [0], "x2": [1], "x3": [2]}
    y_main, y_redrawn = nested(ishigami, uniform_pi, groups, n_main=16000, n_pairs=16000, seed=2)
    r = total_effect_indices(y_main, y_redrawn)
    for g, truth in zip(groups, ISHIGAMI_TOTAL, strict=True):
        assert r[g]["st"] == pytest.approx(truth, abs=0.03)
    assert r["overlap"] == pytest.approx(sum(ISHIGAMI_TOTAL) - 1, abs=0.06)
    # Y = X1 + X2 X3 (standard normals): Var 2, each total effect 1/2
    y_main, y_redrawn = nested(lambda x: x[:, 0] + x[:, 1] * x[:, 2], normal(3), groups, n_main=10000, n_pairs=10000, seed=4)
    r = total_effect_indices(y_main, y_redrawn)
    assert [r[g]["st"] for g in groups] == pytest.approx([0.5, 0.5, 0.5], abs=0.04)


def test_a_constant_source_explains_nothing_and_a_constant_output_is_undefined():
    groups = {g: [i] for i, g in enumerate(GROUPS)}
    y_main, y_redrawn = nested(lambda x: x[:, 0] + 0.0 * x[:, 3], normal(4), groups, n_main=3000, n_pairs=3000, seed=5)
    r = total_effect_indices(y_main, y_redrawn)
    assert r["shocks"]["st"] == 0.0 and r["shocks"]["ci95"] == [0.0, 0.0]
    assert r["assumptions"]["st"] == pytest.approx(1.0, abs=0.06)
    flat = total_effect_indices(np.full(10, 3.0), {"a": np.full(5, 3.0)})
    assert np.isnan(flat["a"]["st"]) and "does not vary" in flat["note"] and "does not vary" in flat["a"]["note"]


def test_nan_pairs_are_dropped_and_counted():
    y_main = np.arange(20, dtype=float)
    y = y_main[:10].copy()
    y[3] = np.nan
    r = total_effect_indices(y_main, {"a": y})
    assert r["a"]["n_pairs"] == 9 and r["a"]["dropped"] == 1 and "1 of 10 pairs dropped" in r["a"]["note"]


def test_precision_and_coverage_at_the_size_a_run_affords():
    """At 32 pairs (the default) and 100 main replicates, over 200 repetitions of the additive model:
    the 95 % intervals cover the truth in at least 85 % of cases, and a small share (1/30) is estimated
    to within a few hundredths. Measured: coverage 0.92-0.96 per group; sd of the estimate 0.009 for
    1/30, 0.14 for 16/30 (the first-order estimator it replaced, on the same design: 0.17 and 0.12)."""
    groups = {g: [i] for i, g in enumerate(GROUPS)}
    est, cover = [], []
    for rep in range(200):
        y_main, y_redrawn = nested(additive, normal(4), groups, n_main=100, n_pairs=32, seed=1000 + rep)
        r = total_effect_indices(y_main, y_redrawn, resamples=300, seed=rep)
        est.append([r[g]["st"] for g in GROUPS])
        cover.append([r[g]["ci95"][0] <= t <= r[g]["ci95"][1] for g, t in zip(GROUPS, ADDITIVE_TRUTH, strict=True)])
    est, cover = np.array(est), np.array(cover)
    assert (cover.mean(axis=0) >= 0.85).all(), cover.mean(axis=0)
    assert est[:, 0].std() < 0.03 and abs(est[:, 0].mean() - ADDITIVE_TRUTH[0]) < 0.01
    assert est[:, 3].std() < 0.16
