"""End to end through the real command line (subprocesses running the installed console script)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SIMMODEL = str(BIN / "simmodel")
# two decomposition pairs: every run still goes through the whole pipeline (draws, decomposition, the
# paired counterfactual) at a fraction of the default's cost
QUICK = ["population.scale=0.03", "replicates=3", "seed=7", "workers=1", "output.progress=false",
         "uncertainty.decomposition_pairs=2"]


def run_cli(args: list[str], cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    return subprocess.run([SIMMODEL, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def result_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("manifest.json"))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    cwd = tmp_path_factory.mktemp("quick")
    # the assumption re-runs at small settings: that they are there is checked here, what they
    # show at realistic settings in the slow full-scale test
    proc = run_cli(["run", "scenario=no_new_policy", *QUICK, "assumption_sensitivity.replicates=2",
                    "assumption_sensitivity.scale=0.03"], cwd)
    return cwd, proc


def test_run_writes_a_complete_results_folder(quick_run):
    cwd, proc = quick_run
    assert proc.returncode == 0, proc.stderr
    dirs = result_dirs(cwd / "results")
    assert len(dirs) == 1
    d = dirs[0]
    assert d.parent == cwd / "results" / "run" / "no_new_policy"
    names = {p.name for p in d.iterdir()}
    assert {"trajectories.parquet", "summary.json", "manifest.json"} <= names
    assert {f"fan_T{i}.png" for i in range(1, 7)} <= names
    assert not [p for p in d.parent.iterdir() if p.name.startswith(".tmp")]


def test_trajectories_are_replicate_by_year_by_indicator(quick_run):
    cwd, _ = quick_run
    traj = pd.read_parquet(result_dirs(cwd / "results")[0] / "trajectories.parquet")
    assert list(traj.columns) == ["replicate", "year", "indicator", "value"]
    assert sorted(traj["replicate"].unique()) == [0, 1, 2]
    assert sorted(traj["year"].unique()) == list(range(2024, 2031))
    for name in ("t1_emerging_share_415x_pct", "t2_sei_share_pct", "t3_digital_core_share_gdp_pct",
                 "t4_national_clusters", "t5_pilot_zones", "t6_future_growth_pct_per_year"):
        assert name in set(traj["indicator"])


def test_summary_has_every_target_with_probability_interval_and_bands(quick_run):
    cwd, proc = quick_run
    summary = json.loads((result_dirs(cwd / "results")[0] / "summary.json").read_text())
    assert set(summary["targets"]) == {"T1", "T2", "T3", "T4", "T5", "T6"}
    assert set(summary["targets"]["T1"]) == {"2027", "2030"}
    for tid, by_year in summary["targets"].items():
        for year, r in by_year.items():
            for key in ("threshold", "p_met", "p_met_ci95", "median", "p10", "p90", "p025", "p975"):
                assert key in r, (tid, year, key)
            lo, hi = r["p_met_ci95"]
            assert 0 <= lo <= r["p_met"] <= hi <= 1
            assert r["p025"] <= r["p10"] <= r["median"] <= r["p90"] <= r["p975"]
    assert summary["targets"]["T2"]["2027"]["threshold"] == 34.0
    assert summary["targets"]["T1"]["2030"]["threshold_source"].startswith("assumption")
    assert summary["fiscal_cost_by_lever"], "fiscal cost by lever is missing"
    assert all(v["article"] in range(1, 25) for v in summary["fiscal_cost_by_lever"].values())
    # the terminal shows the short target table
    assert "P(met)" in proc.stdout and "T5" in proc.stdout


def test_manifest_records_what_reproduces_the_run(quick_run):
    cwd, _ = quick_run
    d = result_dirs(cwd / "results")[0]
    man = json.loads((d / "manifest.json").read_text())
    assert man["config"]["seed"] == 7 and man["config"]["replicates"] == 3
    assert man["config"]["levers"]["fund_life_years"] == 10  # no_new_policy
    assert len(man["seeds"]["replicate_spawn_keys"]) == 3
    data = ROOT / "calibration" / "data" / "zhejiang_indicators.csv"
    assert man["data_files"]["indicators"]["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert man["packages"]["mesa"].startswith("3.5")
    assert "simmodel" in man["code"]
    for name, digest in man["files"].items():
        assert hashlib.sha256((d / name).read_bytes()).hexdigest() == digest


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    # small assumption re-runs: they are in the summary, so they must be byte-identical too
    small = ["output.plots=false", "assumption_sensitivity.replicates=2", "assumption_sensitivity.scale=0.03"]
    a = run_cli(["run", *QUICK, *small, "output.root=a"], tmp_path)
    b = run_cli(["run", *QUICK, *small, "output.root=b", "workers=2"], tmp_path)
    c = run_cli(["run", *[q for q in QUICK if not q.startswith("seed")], "seed=8", *small, "output.root=c"], tmp_path)
    assert a.returncode == b.returncode == c.returncode == 0, a.stderr + b.stderr + c.stderr
    da, db, dc = (result_dirs(tmp_path / x)[0] for x in "abc")
    # same seed, another number of worker processes: byte-identical summary and trajectories
    assert (da / "summary.json").read_bytes() == (db / "summary.json").read_bytes()
    assert pd.read_parquet(da / "trajectories.parquet").equals(pd.read_parquet(db / "trajectories.parquet"))
    assert not pd.read_parquet(da / "trajectories.parquet").equals(pd.read_parquet(dc / "trajectories.parquet"))


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("levers.fund_life_years=25", ["fund_life_years", "[1, 20]", "draft article 22"]),
        ("levers.land_quota_mu_per_year=-5", ["land_quota_mu_per_year", "article 21"]),
        ("levers.chain_project_grant_cny_10k=-1", ["chain_project_grant_cny_10k", "article 2"]),
        ("scenario=no_such_scenario", ["no_such_scenario", "baseline", "no_new_policy"]),
        ("levers.fund_life=8", ["fund_life", "did you mean levers.fund_life_years"]),
        ("replicates=0", ["replicates", "[1, 100000]"]),
        ("population.overrides.t1_emerging_share_415x_pct=95", ["t1_emerging_share_415x_pct", "outside the plausible range",
                                                                "base_year.csv"]),
    ],
)
def test_bad_input_fails_with_one_clear_line_and_no_results(tmp_path, override, expected):
    proc = run_cli(["run", *QUICK, override], tmp_path)
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert len(err) == 1, proc.stderr
    for text in expected:
        assert text in err[0], (text, err[0])
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists()


# Issue 15: one name per thing. Options that moved (scale and base_year under population in every task,
# the memo's language as plot's: lang) and misspelt ones, top-level or nested, get the closest valid name.
@pytest.mark.parametrize(("task", "override", "suggestion"), [
    ("calibrate", "scale=0.05", "population.scale"),
    ("backtest", "scale=0.05", "population.scale"),
    ("analyze", "scale=0.05", "population.scale"),
    ("run", "scale=0.05", "population.scale"),
    ("calibrate", "base_year=2020", "population.base_year"),
    ("backtest", "base_year=2020", "population.base_year"),
    ("run", "base_year=2020", "population.base_year"),
    ("memo", "memo.lang=zh", "lang"),
    ("memo", "memo.pdf=false", "pdf"),
    ("memo", "memo.analyses=[a]", "analyses"),
    ("plot", "memo.lang=zh", "lang"),
    ("memo", "language=zh", "lang"),
    ("plot", "lnag=zh", "lang"),
    ("run", "populaton.scale=0.1", "population.scale"),
    ("run", "population.scal=0.1", "population.scale"),
    ("run", "lever.fund_life_years=8", "levers.fund_life_years"),
    ("run", "replicate=5", "replicates"),
    ("compare", "run=[a]", "runs"),
])
def test_an_unknown_option_gets_the_closest_valid_name(task, override, suggestion):
    from simmodel.cli import precheck_types
    from simmodel.errors import SimmodelError

    with pytest.raises(SimmodelError) as exc:
        precheck_types(task, [override])
    key = override.split("=")[0]
    assert str(exc.value).startswith(f"unknown option {key!r} for simmodel {task}; did you mean {suggestion}?"), exc.value


def test_the_same_names_in_every_task_and_no_suggestion_for_nonsense():
    from simmodel.cli import precheck_types
    from simmodel.errors import SimmodelError

    for task in ("run", "calibrate", "backtest", "analyze"):
        precheck_types(task, ["population.scale=0.05", "replicates=2", "seed=3"])
    for task in ("calibrate", "backtest", "run"):
        precheck_types(task, ["population.base_year=2020"])
    for task in ("memo", "plot"):
        precheck_types(task, ["lang=en"])
    with pytest.raises(SimmodelError, match=r"^unknown option 'xyzzy' for simmodel run \(simmodel run --cfg job"):
        precheck_types("run", ["xyzzy=1"])


def test_a_moved_option_on_the_command_line_is_one_line_with_its_new_name(tmp_path):
    proc = run_cli(["calibrate", "scale=0.05", f"runs_root={tmp_path / 'runs'}"], tmp_path)
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "simmodel: error: unknown option 'scale' for simmodel calibrate; did you mean population.scale? "
        "(simmodel calibrate --cfg job lists every option)")
    assert not (tmp_path / "runs").exists()


def test_malformed_data_file_is_named_with_its_line(tmp_path):
    src = (ROOT / "calibration" / "data" / "zhejiang_indicators.csv").read_text(encoding="utf-8").splitlines()
    fields = src[5].split(",")
    fields[2] = "sixteen"  # line 6 of the file (header is line 1)
    src[5] = ",".join(fields)
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(src) + "\n", encoding="utf-8")
    proc = run_cli(["run", *QUICK, f"data.indicators={bad}"], tmp_path)
    assert proc.returncode != 0
    assert str(bad) in proc.stderr and "line 6" in proc.stderr and "sixteen" in proc.stderr
    assert not (tmp_path / "results").exists()


def test_help_and_cfg_job_work_as_in_hydra(tmp_path):
    h = run_cli(["run", "--help"], tmp_path)
    assert h.returncode == 0
    listed = h.stdout.split("scenario:", 1)[1].splitlines()[0]
    assert {x.strip() for x in listed.split(",")} == {p.stem for p in (ROOT / "scenarios").glob("*.yaml")}
    c = run_cli(["run", "--cfg", "job", "scenario=no_new_policy"], tmp_path)
    assert c.returncode == 0
    assert "fund_life_years: 10" in c.stdout and "fund_evaluation_regime: yearly_profit" in c.stdout
    m = subprocess.run([sys.executable, "-m", "simmodel", "run", "--help"], cwd=tmp_path, capture_output=True, text=True)
    assert m.returncode == 0 and "simmodel run" in m.stdout
    u = run_cli(["frobnicate"], tmp_path)
    assert u.returncode != 0 and "available: run" in u.stderr
    assert not (tmp_path / "results").exists()


def test_model_below_the_cli_never_imports_hydra():
    code = ("import sys; import simmodel.model, simmodel.tasks, simmodel.ensemble, simmodel.results; "
            "print(any(m == 'hydra' or m.startswith('hydra.') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_full_scale_run_end_to_end(tmp_path):
    """The user's main workflow at 1:1 scale (what `make run` does, with fewer replicates): every
    unknown drawn, the counterfactual on the same seeds, the variance decomposition."""
    proc = run_cli(["run", "replicates=8", "uncertainty.decomposition_pairs=8"], tmp_path, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    d = next(p for p in result_dirs(tmp_path / "results") if "/baseline/" in str(p))
    summary = json.loads((d / "summary.json").read_text())
    assert summary["uncertainty"]["drawn"] == {"assumptions": True, "behaviour": True, "estimates": True, "shocks": True}
    assert set(summary["counterfactual"]["targets"]) == set(summary["targets"])
    vd = summary["variance_decomposition"]["targets"]["T1"]["2027"]["indices"]
    assert set(vd) == {"assumptions", "behaviour", "estimates", "shocks"}
    # T1 in 2027 moves with its own base-year value above all (the data bound it only loosely)
    top = summary["drivers"]["T1"]["2027"][0]
    assert (top["source"], top["name"]) == ("assumptions", "t1_emerging_share_415x_pct") and top["rho"] > 0.5
    assert "no new policy" in proc.stdout and "Where the uncertainty comes from" in proc.stdout


def test_base_year_table_must_exist_for_the_base_year(tmp_path):
    proc = run_cli(["run", *QUICK, "population.base_year=2023"], tmp_path)
    assert proc.returncode != 0
    assert "no base-year table for 2023" in proc.stderr and "base_year_2020.csv" in proc.stderr
    assert not (tmp_path / "results").exists()
    old = run_cli(["run", *QUICK, "base_year=2020"], tmp_path)  # the key moved under population
    assert old.returncode != 0 and "did you mean population.base_year?" in old.stderr and not (tmp_path / "results").exists()


def test_the_history_scenario_replays_from_2020_and_reports_the_gap_to_2024(tmp_path):
    proc = run_cli(["run", *QUICK, "scenario=history", "counterfactual.enabled=false", "uncertainty.decomposition_pairs=0"],
                   tmp_path)
    assert proc.returncode == 0, proc.stderr
    d = result_dirs(tmp_path / "results")[0]
    summary = json.loads((d / "summary.json").read_text())
    assert summary["base_year"] == 2020
    traj = pd.read_parquet(d / "trajectories.parquet")
    assert traj["year"].min() == 2020 and traj["year"].max() == 2030
    gap = pd.read_csv(d / "replay_gap.csv")
    assert set(gap["year"]) == {2024} and "gdp_cny_100m" in set(gap["quantity"])
    assert gap.loc[gap["quantity"] == "gdp_cny_100m", "table_value"].iloc[0] == 90131
    assert "Where the replay stands in 2024" in proc.stdout
    # before 2025 no pilot zones until the first batch of 2022 (scenarios/history.yaml)
    zones = traj[(traj["indicator"] == "t5_pilot_zones") & (traj["year"] <= 2021)]
    assert len(zones) and (zones["value"] == 0).all()
