"""`simmodel analyze method=emulator`: the emulator the explorer previews with, trained through the
real command at small settings, stored without pickle, read back by a numpy-only predictor that
agrees with scikit-learn, and refused with a one-line message when the folder is not right."""

from __future__ import annotations

import hashlib
import json
import shutil
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simmodel.analysis import space
from simmodel.analysis.emulator import load_emulator, validate_and_fit
from simmodel.config import AnalyzeConfig, RunConfig
from simmodel.errors import ConfigError
from simmodel.levers import FundRegime
from simmodel.results import ResultsError, read_manifest
from tests.integration.test_cli import run_cli

FACTORS = ["fund_life_years", "fund_evaluation_regime", "world_demand_shift_pct"]
SMALL = [f"factors=[{','.join(FACTORS)}]", "emulator_points=12", "replicates=2", "population.scale=0.02"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("emulator")
    proc = run_cli(["analyze", "method=emulator", "name=explorer", *SMALL, "hydra/launcher=joblib",
                    "hydra.launcher.n_jobs=2"], cwd, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cwd / "results" / "analyze" / "explorer" / "analysis"


def _reseal(folder: Path) -> None:
    """Rewrite the manifest's checksums after a deliberate edit, so that only the edit is wrong."""
    man = json.loads((folder / "manifest.json").read_text())
    man["files"] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest() for name in man["files"]}
    (folder / "manifest.json").write_text(json.dumps(man))


def _copy(trained: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(trained, tmp_path / "analysis"))


def test_the_command_stores_plain_arrays_and_json_under_a_manifest(trained):
    manifest = read_manifest(trained, ("emulator.npz", "emulator.json", "emulator.md", "outputs.parquet",
                                       "emulator_validation.parquet", "summary.json"))
    assert manifest["settings"]["method"] == "emulator"
    meta = json.loads((trained / "emulator.json").read_text())
    # registry order, each with its range, kind, unit, article and the scenario's value
    assert [f["name"] for f in meta["factors"]] == ["fund_life_years", "fund_evaluation_regime", "world_demand_shift_pct"]
    by = {f["name"]: f for f in meta["factors"]}
    assert by["fund_life_years"]["kind"] == "int" and by["fund_life_years"]["group"] == "levers"
    assert by["fund_evaluation_regime"]["kind"] == "switch" and by["fund_evaluation_regime"]["choices"] == [
        "portfolio", "yearly_profit"]
    assert by["fund_evaluation_regime"]["start"] == 0.0 and by["fund_life_years"]["start"] == 20.0
    assert by["world_demand_shift_pct"]["group"] == "uncertainties" and by["world_demand_shift_pct"]["article"] == 0
    assert (by["world_demand_shift_pct"]["low"], by["world_demand_shift_pct"]["high"]) == (-10.0, 5.0)
    # the settings the points ran with, read from the points' own manifests
    s = meta["settings"]
    assert s["scenario"] == "baseline" and s["replicates"] == 2 and s["seed"] == AnalyzeConfig().seed
    assert s["population"] == {"scale": 0.02, "base_year": None, "overrides": {}}
    assert s["calibration"] == RunConfig().calibration and s["n_points"] == 12 and s["holdout_share"] == 0.25
    assert s["scenario_values"]["levers"]["fund_evaluation_regime"] == "portfolio"
    # every P(met) of T1-T6 in 2027 and 2030 and every median is there, emulated or constant
    points = pd.read_parquet(trained / "outputs.parquet")
    outputs = [c for c in points.columns if c not in set(FACTORS) | {"source"}]
    assert set(meta["outputs"]) == set(outputs)
    assert {f"{t}_{y}_p_met" for t in ("T1", "T2", "T3", "T6") for y in (2027, 2030)} | {"T4_2027_p_met", "T5_2027_p_met"} \
        <= set(outputs)
    for name, v in meta["outputs"].items():
        y = points[name].to_numpy(float)
        if np.ptp(y) == 0:
            assert v["constant"] == y[0] and not v["emulated"] and name not in meta["emulated"]
        else:
            # stored however poorly it validates: the explorer judges the error itself
            assert v["emulated"] and v["constant"] is None and v["n_train"] + v["n_holdout"] == 12
            assert v["rmse"] >= 0 and v["max_abs_error"] >= v["rmse"] and len(v["kernel"]["length_scale"]) == 3
    assert meta["emulated"], "some output must vary over 12 points"
    # the points are stored as the model ran them: integers rounded, the regime 0 or 1
    assert set(points["fund_evaluation_regime"]) <= {0.0, 1.0}
    assert (points["fund_life_years"] == points["fund_life_years"].round()).all()
    # plain arrays: nothing that needs pickle to load
    with np.load(trained / "emulator.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype.kind == "f" for k in npz.files)
        assert npz["x_unit"].shape == (12, 3) and npz["alpha"].shape == (len(meta["emulated"]), 12)


def test_the_numpy_predictor_equals_scikit_learn(trained):
    """Refit from the stored model outputs as the command did: the same GP, and the stored arrays
    predict exactly what scikit-learn predicts."""
    stored = load_emulator(trained.parent)  # the analysis's own folder is accepted too
    fs = stored.factors
    points = pd.read_parquet(trained / "outputs.parquet")
    x = points[[f.name for f in fs]].to_numpy(float)
    bounds = np.array([[f.low, f.high] for f in fs])
    cfg = AnalyzeConfig()
    # each output's GP and held-out split are its own: refitting a few of them is refitting them
    emulated = json.loads((trained / "emulator.json").read_text())["emulated"]
    some = sorted(emulated, key=lambda c: (not c.endswith("_p_met"), c))[:3]
    emu, table = validate_and_fit(x, points[some], bounds, holdout=cfg.emulator_holdout,
                                  min_q2=cfg.emulator_min_q2, seed=cfg.seed % 2 ** 32, fit_refused=True,
                                  reoptimise=False)
    for r in table.itertuples():
        v = stored.validation[r.output]
        assert v["accepted"] == r.used and (v["rmse"] is None) == np.isnan(r.rmse)
        if v["rmse"] is not None:
            assert v["rmse"] == pytest.approx(r.rmse, rel=1e-9)
    rng = np.random.default_rng(5)
    test = space.effective(fs, bounds[:, 0] + rng.random((40, 3)) * (bounds[:, 1] - bounds[:, 0]))
    unit = (test - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])
    worst = 0.0
    for row, u in zip(test, unit):
        got = stored.predict({f.name: v for f, v in zip(fs, row)})
        for name, gp in emu.models.items():
            want = gp.predict(u[None, :])[0]
            if name.endswith("_p_met"):
                want = min(max(want, 0.0), 1.0)
                assert 0.0 <= got[name] <= 1.0
            worst = max(worst, abs(got[name] - want))
    assert set(emu.models) == set(some)
    assert worst < 1e-8


def test_a_prediction_takes_well_under_ten_milliseconds(trained):
    stored = load_emulator(trained)
    values = {"fund_life_years": 12, "fund_evaluation_regime": "yearly_profit", "world_demand_shift_pct": -2.5}
    stored.predict(values)
    times = []
    for _ in range(200):
        t = time.perf_counter()
        stored.predict(values)
        times.append(time.perf_counter() - t)
    assert statistics.median(times) < 0.002, f"median {statistics.median(times) * 1e3:.2f} ms"


def test_predict_fills_unset_factors_reads_choices_and_says_where_it_extrapolates(trained):
    stored = load_emulator(trained)
    assert stored.start == {"fund_life_years": 20.0, "fund_evaluation_regime": 0.0, "world_demand_shift_pct": 0.0}
    base = stored.predict({})
    assert base == stored.predict({"fund_life_years": 20, "fund_evaluation_regime": "portfolio", "world_demand_shift_pct": 0})
    assert set(base) == set(stored.outputs)
    # a regime by its choice, by its enum member, or as the switch's number: the same point
    a = stored.predict({"fund_evaluation_regime": "yearly_profit"})
    assert a == stored.predict({"fund_evaluation_regime": FundRegime.yearly_profit}) == \
        stored.predict({"fund_evaluation_regime": 1})
    # an integer lever as the model runs it: rounded
    assert stored.predict({"fund_life_years": 12.2}) == stored.predict({"fund_life_years": 12})
    assert stored.outside({}) == [] and stored.outside({"fund_life_years": 25, "world_demand_shift_pct": -3}) == [
        "fund_life_years"]
    # a lever it does not vary is held at the scenario's value, and named when set otherwise
    assert stored.unvaried({"n_chain_projects_per_year": 50, "fund_life_years": 12}) == []
    assert stored.unvaried({"n_chain_projects_per_year": 80}) == ["n_chain_projects_per_year"]
    with pytest.raises(ConfigError, match="did you mean fund_life_years"):
        stored.predict({"fund_lief_years": 12})
    with pytest.raises(ConfigError, match="choose one of portfolio, yearly_profit"):
        stored.predict({"fund_evaluation_regime": "monthly"})
    with pytest.raises(ConfigError, match="not a finite number"):
        stored.predict({"world_demand_shift_pct": float("nan")})


def test_outputs_whose_held_out_error_is_too_large_are_named_with_the_reason(trained):
    stored = load_emulator(trained)
    rmse = {c: v["rmse"] for c, v in stored.validation.items() if v["emulated"]}
    worst = max(rmse, key=rmse.get)
    refused = stored.refused(rmse[worst] / 2, outputs=stored.outputs)
    assert worst in refused and "held-out error too large: RMSE" in refused[worst]
    assert set(refused) == {c for c, e in rmse.items() if e > rmse[worst] / 2}
    assert stored.refused(rmse[worst], outputs=stored.outputs) == {}
    # by default the P(met) outputs only (one unit, so one threshold)
    assert set(stored.refused(0.0)) == {c for c in rmse if c.endswith("_p_met") and rmse[c] > 0}
    # a constant output is never refused: it is that constant everywhere the points went
    assert not set(refused) & {c for c, v in stored.validation.items() if v["constant"] is not None}
    with pytest.raises(ConfigError, match="no output 'T9_2027_p_met'"):
        stored.refused(0.05, outputs=["T9_2027_p_met"])


def test_a_missing_or_incomplete_folder_is_refused_with_one_line(trained, tmp_path):
    with pytest.raises(ResultsError, match="no such folder") as exc:
        load_emulator(tmp_path / "nowhere")
    assert "\n" not in str(exc.value) and "nowhere" in str(exc.value)
    folder = _copy(trained, tmp_path)
    (folder / "manifest.json").unlink()
    with pytest.raises(ResultsError, match=r"manifest.json is missing") as exc:
        load_emulator(folder)
    assert str(folder) in str(exc.value)


def test_a_modified_or_pickled_array_file_is_refused_and_runs_no_code(trained, tmp_path):
    folder = _copy(trained, tmp_path)
    with np.load(folder / "emulator.npz") as npz:
        arrays = dict(npz)
    arrays["alpha"] = arrays["alpha"] + 1.0
    np.savez(folder / "emulator.npz", **arrays)
    with pytest.raises(ResultsError, match="emulator.npz does not match its checksum"):
        load_emulator(folder)
    # a file that would run code when unpickled, resealed so that only its content is wrong
    marker = tmp_path / "ran"
    arrays["alpha"] = np.array([_Payload(str(marker))], dtype=object)
    np.savez(folder / "emulator.npz", **arrays)
    _reseal(folder)
    with pytest.raises(ResultsError, match="unreadable"):
        load_emulator(folder)
    assert not marker.exists()


class _Payload:
    """Unpickling it would create a file: the loader must never unpickle."""

    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_another_version_or_an_unknown_factor_is_refused(trained, tmp_path):
    folder = _copy(trained, tmp_path)
    meta = json.loads((folder / "emulator.json").read_text())
    (folder / "emulator.json").write_text(json.dumps({**meta, "format": 99}))
    _reseal(folder)
    with pytest.raises(ResultsError, match="emulator format 99; this simmodel reads format 1"):
        load_emulator(folder)
    renamed = json.loads(json.dumps(meta))
    renamed["factors"][0]["name"] = "fund_lifetime_years"
    (folder / "emulator.json").write_text(json.dumps(renamed))
    _reseal(folder)
    with pytest.raises(ConfigError, match="factor 'fund_lifetime_years' is no lever the lever registry knows") as exc:
        load_emulator(folder)
    assert str(folder) in str(exc.value) and "\n" not in str(exc.value)
    # a folder of another analysis is no emulator
    man = json.loads((folder / "manifest.json").read_text())
    man["settings"]["method"] = "morris"
    (folder / "emulator.json").write_text(json.dumps(meta))
    (folder / "manifest.json").write_text(json.dumps(man))
    _reseal(folder)
    with pytest.raises(ResultsError, match="holds a morris analysis, not an emulator"):
        load_emulator(folder)


def test_too_few_points_are_refused(tmp_path):
    proc = run_cli(["analyze", "method=emulator", "emulator_points=4", *SMALL[:1]], tmp_path)
    assert proc.returncode == 2 and "emulator_points = 4: allowed 0" in proc.stderr, proc.stderr
    assert not (tmp_path / "results").exists()

