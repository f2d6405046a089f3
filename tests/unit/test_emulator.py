"""The stored emulator on functions whose answer is known (no model runs): written and read back,
its numpy predictor equals scikit-learn's, fitting in worker processes changes nothing, and a
prediction at the explorer's default size (every factor, 10 points each) is fast."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.analysis import space
from simmodel.analysis.emulator import StoredEmulator, load_emulator, validate_and_fit, write_emulator
from simmodel.results import RunWriter

NAMES = ["n_chain_projects_per_year", "ai_plus_adoption_pct_per_year", "fund_evaluation_regime",
         "land_quota_mu_per_year", "world_demand_shift_pct"]


def _toy(n: int, seed: int = 0):
    fs = space.factors(NAMES, {})
    bounds = np.array([[f.low, f.high] for f in fs])
    rng = np.random.default_rng(seed)
    x = space.effective(fs, bounds[:, 0] + rng.random((n, len(fs))) * (bounds[:, 1] - bounds[:, 0]))
    u = (x - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])
    out = pd.DataFrame({
        "T2_2027_p_met": np.clip(0.2 + 0.6 * u[:, 1] * u[:, 3] + 0.1 * u[:, 2] + 0.03 * rng.standard_normal(n), 0, 1),
        "T2_2027_median": 30 + 5 * np.sin(2.5 * u[:, 1]) + 2 * u[:, 4] ** 2,
        "T5_2027_p_met": np.zeros(n)})
    return fs, bounds, x, out


def _store(tmp_path: Path, fs, bounds, x, out, **fit) -> tuple[StoredEmulator, object, pd.DataFrame]:
    emu, table = validate_and_fit(x, out, bounds, seed=4, fit_refused=True, reoptimise=False, **fit)
    writer = RunWriter(tmp_path / "analysis")
    write_emulator(writer.path(""), fs, {f.name: f.baseline for f in fs}, emu, x, out, table, {"scenario": "baseline"},
                   min_q2=0.9)
    writer.commit({"task": "analyze", "settings": {"method": "emulator"}})
    return load_emulator(tmp_path / "analysis"), emu, table


def test_the_stored_predictor_equals_scikit_learn_to_1e8(tmp_path):
    fs, bounds, x, out = _toy(36)
    stored, emu, table = _store(tmp_path, fs, bounds, x, out)
    assert set(emu.models) == {"T2_2027_p_met", "T2_2027_median"} and stored.outputs == list(out.columns)
    rng = np.random.default_rng(1)
    test = space.effective(fs, bounds[:, 0] + rng.random((100, len(fs))) * (bounds[:, 1] - bounds[:, 0]))
    unit = (test - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])
    for name, gp in emu.models.items():
        want = gp.predict(unit)
        if name.endswith("_p_met"):
            want = np.clip(want, 0, 1)
        got = np.array([stored.predict({f.name: v for f, v in zip(fs, row)})[name] for row in test])
        assert np.abs(got - want).max() < 1e-8, name
    # the smooth output is predicted well by any measure, and a constant one gives its constant
    assert stored.validation["T2_2027_median"]["q2"] > 0.95 and stored.validation["T2_2027_median"]["accepted"]
    assert stored.predict({})["T5_2027_p_met"] == 0.0 and stored.validation["T5_2027_p_met"]["constant"] == 0.0


def test_the_stored_kernel_is_the_one_validated_on_the_training_share(tmp_path):
    from simmodel.analysis.emulator import _fit, _unit

    fs, bounds, x, out = _toy(32)
    stored, emu, table = _store(tmp_path, fs, bounds, x, out)
    # validate_and_fit's held-out split (seed 4, a quarter of 32 points)
    test = np.zeros(len(x), bool)
    test[np.random.default_rng(4).choice(len(x), size=8, replace=False)] = True
    assert table["n_holdout"].iloc[0] == 8
    for name in emu.models:
        gp = _fit(_unit(x[~test], bounds), out[name].to_numpy(float)[~test], 4)
        want, got = gp.kernel_.get_params(), emu.models[name].kernel_.get_params()
        for key in ("k1__k1__constant_value", "k1__k2__length_scale", "k2__noise_level"):
            np.testing.assert_allclose(got[key], want[key], rtol=1e-12)
        np.testing.assert_allclose(stored.validation[name]["kernel"]["length_scale"],
                                   np.broadcast_to(want["k1__k2__length_scale"], len(fs)), rtol=1e-12)
        # ... and conditioned on all 32 points
        assert emu.models[name].X_train_.shape == (32, len(fs))


def test_fitting_outputs_in_worker_processes_changes_nothing():
    fs, bounds, x, out = _toy(32, seed=2)
    one, t1 = validate_and_fit(x, out, bounds, seed=3, fit_refused=True, reoptimise=False, workers=1)
    two, t2 = validate_and_fit(x, out, bounds, seed=3, fit_refused=True, reoptimise=False, workers=2)
    pd.testing.assert_frame_equal(t1, t2)
    u = np.random.default_rng(0).random((20, len(fs)))
    for name in one.models:
        np.testing.assert_array_equal(one.models[name].predict(u), two.models[name].predict(u))


def test_effective_values_round_integers_and_switch_the_regime_as_the_model_runs_them():
    fs = space.factors(["n_chain_projects_per_year", "fund_evaluation_regime"], {})
    x = np.array([[2.5, 0.49], [3.5, 0.5], [7.2, 0.9]])
    assert space.effective(fs, x).tolist() == [[2.0, 0.0], [4.0, 1.0], [7.0, 1.0]]
    for row, eff in zip(x, space.effective(fs, x)):
        v = space.values(fs, row)["levers"]
        assert v["n_chain_projects_per_year"] == eff[0]
        assert list(type(v["fund_evaluation_regime"])).index(v["fund_evaluation_regime"]) == eff[1]


def test_a_prediction_at_the_explorers_default_size_is_fast():
    """Every lever and uncertainty, 10 points each, 21 outputs: one call well under 10 ms."""
    fs = space.factors(None, {})
    n, k, m = 10 * len(fs), len(fs), 21
    rng = np.random.default_rng(0)
    outputs = [f"out{i}_p_met" for i in range(m)]
    stored = StoredEmulator(Path("."), fs, {f.name: f.baseline for f in fs}, {}, {c: {} for c in outputs}, outputs,
                            outputs, rng.random((n, k)), 1 / rng.uniform(0.3, 100, (m, k)) ** 2, np.ones(m),
                            rng.normal(size=(m, n)), np.full(m, 0.5), np.full(m, 0.2), np.zeros(m), np.ones(m))
    values = {f.name: f.high for f in fs[:10]}
    stored.predict(values)
    times = []
    for _ in range(100):
        t = time.perf_counter()
        stored.predict(values)
        times.append(time.perf_counter() - t)
    assert statistics.median(times) < 0.003, f"median {statistics.median(times) * 1e3:.2f} ms"


def test_held_out_runs_that_all_agree_leave_q2_undefined_not_huge():
    """Twenty equal P(met) have a floating-point mean that is not quite theirs: Q^2 must say
    'undefined', not divide by a sum of squares of 1e-32."""
    rng = np.random.default_rng(0)
    x = rng.random((80, 2))
    test = np.zeros(80, bool)
    test[np.random.default_rng(1).choice(80, size=20, replace=False)] = True  # validate_and_fit's split, seed 1
    y = np.full(80, 0.35)
    y[np.flatnonzero(~test)[:3]] = 0.4  # it varies, but not on the held-out points
    assert float(((y[test] - y[test].mean()) ** 2).sum()) > 0  # the trap
    _, table = validate_and_fit(x, pd.DataFrame({"T1_2030_p_met": y}), np.array([[0.0, 1.0]] * 2), seed=1,
                                fit_refused=True)
    row = table.iloc[0]
    assert np.isnan(row["q2"]) and "Q^2 undefined" in row["note"] and not row["used"] and row["rmse"] < 0.05
