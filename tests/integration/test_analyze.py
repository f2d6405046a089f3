"""`simmodel analyze` end to end on the real model at small settings, its points evaluated as a
sweep through a real Hydra launcher."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from simmodel.analysis.design import read_design
from simmodel.results import read_run
from tests.integration.test_cli import run_cli

SMALL = ["factors=[fund_life_years,land_quota_mu_per_year,world_demand_shift_pct]", "replicates=2", "population.scale=0.02"]


def the_analysis(cwd: Path) -> Path:
    (folder,) = list((cwd / "results" / "analyze").iterdir())
    return folder


@pytest.fixture(scope="module")
def morris(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("morris")
    proc = run_cli(["analyze", "method=morris", "trajectories=2", *SMALL, "hydra/launcher=joblib",
                    "hydra.launcher.n_jobs=2"], cwd, timeout=900)
    return cwd, proc


def test_morris_end_to_end_through_the_joblib_launcher(morris):
    cwd, proc = morris
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = the_analysis(cwd)
    factors, design, meta = read_design(folder / "design")
    # registry order (articles 21, 22, then the uncertainty), whatever order the command gave
    assert len(design) == 2 * (3 + 1) and [f.name for f in factors] == ["land_quota_mu_per_year", "fund_life_years",
                                                                         "world_demand_shift_pct"]
    jobs = sorted(p for p in (folder / "runs").iterdir() if p.name[0].isdigit())
    assert len(jobs) == len(design)
    # each point ran with its row's values (integers rounded), through the launcher named
    for job in jobs:
        _, _, manifest = read_run(job)
        row = design.iloc[manifest["config"]["design_row"]]
        assert manifest["config"]["levers"]["fund_life_years"] == round(row["fund_life_years"])
        assert manifest["config"]["uncertainties"]["world_demand_shift_pct"] == pytest.approx(row["world_demand_shift_pct"])
        assert manifest["config"]["seed"] == 20250101  # the same seeds at every point
    table = pd.read_parquet(folder / "analysis" / "indices.parquet")
    outputs = pd.read_parquet(folder / "analysis" / "outputs.parquet")
    assert len(outputs) == len(design) and set(outputs["source"]) == {"model"}
    assert set(table["factor"]) == {f.name for f in factors} and set(table["source"]) == {"model"}
    # an output constant over every point has no indices, and indices.md names it
    cols = [c for c in outputs.columns if c not in {f.name for f in factors} | {"source"}]
    varying = [c for c in cols if outputs[c].nunique() > 1]
    assert (table["mu_star"] >= 0).all() and sorted(table["output"].unique()) == sorted(varying)
    constant = sorted(set(cols) - set(varying))
    if constant:
        assert "Constant over every point" in (folder / "analysis" / "indices.md").read_text()
    # world demand moves the future industries' growth (T6): it must not come out inert
    t6 = table[table["output"] == "T6_2027_median"].set_index("factor")
    assert t6.loc["world_demand_shift_pct", "mu_star"] > 0
    assert (folder / "analysis" / "morris_T6_2027_median.png").is_file()
    assert "mu_star" in (folder / "analysis" / "indices.md").read_text()


def test_rerunning_an_analysis_reuses_its_evaluations(morris):
    cwd, _ = morris
    folder = the_analysis(cwd)
    before = pd.read_parquet(folder / "analysis" / "indices.parquet")
    stamps = {p.name: (p / "manifest.json").stat().st_mtime_ns for p in (folder / "runs").iterdir() if p.name[0].isdigit()}
    proc = run_cli(["analyze", "method=morris", "trajectories=2", *SMALL], cwd, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    after = pd.read_parquet(folder / "analysis" / "indices.parquet")
    pd.testing.assert_frame_equal(before, after)
    assert stamps == {p.name: (p / "manifest.json").stat().st_mtime_ns for p in (folder / "runs").iterdir()
                      if p.name[0].isdigit()}


def test_sobol_and_prim_end_to_end(tmp_path):
    proc = run_cli(["analyze", "method=sobol", "sobol_n=2", "factors=[fund_life_years,world_demand_shift_pct]",
                    "replicates=2", "population.scale=0.02"], tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_parquet(the_analysis(tmp_path) / "analysis" / "indices.parquet")
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(table.columns)
    assert len(pd.read_parquet(the_analysis(tmp_path) / "analysis" / "outputs.parquet")) == 2 * (2 + 2)
    cwd = tmp_path / "prim"
    cwd.mkdir()
    proc = run_cli(["analyze", "method=prim", "samples=12", "factors=[land_quota_mu_per_year,world_demand_shift_pct]",
                    "replicates=2", "population.scale=0.02", "p_level=0.5"], cwd, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((the_analysis(cwd) / "analysis" / "summary.json").read_text())
    assert summary["points"] == 12 and summary["source"] == "model"
    assert "base_rate" in summary["prim"] and (the_analysis(cwd) / "analysis" / "boxes.md").is_file()


def test_bad_analysis_settings_are_refused(tmp_path):
    for args, words in [(["method=anova"], "one of morris, sobol, prim, invert"), (["sobol_n=6"], "power of two"),
                        (["factors=[fund_lief_years]"], "unknown lever"),
                        (["ranges.fund_life_years=[5,30]"], "registry range"),
                        (["method=invert", "factors=[fund_life_years,world_demand_shift_pct]"], "is an uncertainty"),
                        (["method=invert", "target=T9"], "one of T1, T2"), (["emulator=maybe"], "one of auto, true"),
                        (["method=sobol", "screen=nowhere"], "no complete Morris analysis"),
                        (["name=../../elsewhere"], "cannot name a results folder")]:
        proc = run_cli(["analyze", *args], tmp_path)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert not (tmp_path / "results").exists()


def test_sobol_on_an_emulator_after_a_morris_screen(morris, tmp_path):
    """Morris -> Sobol chained: the screen picks the factors, Sobol runs on a validated emulator,
    and every table says which numbers came from the model and which from the emulator."""
    cwd, _ = morris
    screen = the_analysis(cwd)
    proc = run_cli(["analyze", "method=sobol", f"screen={screen}", "screen_top=2", "emulator=true",
                    "emulator_points=16", "emulator_sobol_n=256", "replicates=2", "population.scale=0.02"], tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = the_analysis(tmp_path)
    summary = json.loads((folder / "analysis" / "summary.json").read_text())
    # the two factors with the largest mu* share over the 2027 outputs of the screen
    t = pd.read_parquet(screen / "analysis" / "indices.parquet")
    t = t[t["output"].str.contains("_2027_")]
    share = (t["mu_star"] / t.groupby("output")["mu_star"].transform("max")).fillna(0)
    expected = share.groupby(t["factor"]).max().sort_values(ascending=False, kind="stable").index[:2]
    assert summary["factors"] == [f for f in summary["factors"] if f in set(expected)] and len(summary["factors"]) == 2
    assert set(summary["factors"]) == set(expected)
    # 16 model runs trained the emulator; the held-out errors are measured against model runs
    outputs = pd.read_parquet(folder / "analysis" / "outputs.parquet")
    assert len(outputs) == 16 and set(outputs["source"]) == {"model"}
    validation = pd.read_parquet(folder / "analysis" / "emulator_validation.parquet")
    assert len(validation) == len(outputs.columns) - 2 - 1 and set(validation["source"]) == {"model"}
    assert validation["n_holdout"].iloc[0] == 4
    table = pd.read_parquet(folder / "analysis" / "indices.parquet")
    assert set(table["output"]) == set(validation.loc[validation["used"], "output"])
    if len(table):
        assert set(table["source"]) == {"emulator"}
    assert set(summary["emulator"]["outputs_used"]) | set(summary["emulator"]["outputs_refused"]) == set(validation["output"])
    md = (folder / "analysis" / "indices.md").read_text()
    assert "Emulator validation (held-out model runs)" in md and "Q^2" in md


def test_target_inversion_end_to_end_and_resumed(tmp_path):
    args = ["analyze", "method=invert", "factors=[n_chain_projects_per_year,talent_incentive_cny_10k_per_year]",
            "target=T2", "p_level=0.5", "batch=4", "generations=2", "polish_rounds=1", "replicates=2", "population.scale=0.02"]
    proc = run_cli(args, tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    folder = the_analysis(tmp_path)
    ev = pd.read_parquet(folder / "analysis" / "evaluations.parquet")
    summary = json.loads((folder / "analysis" / "summary.json").read_text())
    assert set(ev["source"]) == {"model"} and len(ev) == summary["points"] >= 8
    # the first package is the baseline's, and every point's own run folder agrees with the table
    assert ev.iloc[0][["n_chain_projects_per_year", "talent_incentive_cny_10k_per_year"]].tolist() == [50, 50]
    for tag, rows in ev.groupby("batch", sort=False):
        jobs = sorted((folder / "points" / tag / "runs").glob("[0-9]*"), key=lambda p: int(p.name.split("_")[0]))
        assert len(jobs) == len(rows)
        for job, (_, row) in zip(jobs, rows.iterrows()):
            _, s, manifest = read_run(job)
            assert manifest["config"]["seed"] == 20250101  # common random numbers
            assert manifest["config"]["levers"]["n_chain_projects_per_year"] == row["n_chain_projects_per_year"]
            assert s["targets"]["T2"]["2027"]["p_met"] == row["p_met"]
            cost = s["fiscal_cost_total_cny_100m"]
            assert cost["grants"]["median"] + cost["equity"]["median"] == pytest.approx(row["fiscal_cost_cny_100m"])
    # the package is the cheapest evaluated point reaching the level, and lies on the frontier
    ok = ev[ev["p_met"] >= 0.5]
    if summary["package"] is not None:
        assert summary["package"]["fiscal_cost_cny_100m"] == pytest.approx(ok["fiscal_cost_cny_100m"].min())
        front = pd.read_parquet(folder / "analysis" / "frontier.parquet")
        assert front["fiscal_cost_cny_100m"].min() <= summary["package"]["fiscal_cost_cny_100m"]
        assert (front["p_met"].diff().dropna() > 0).all()
    assert (folder / "analysis" / "frontier.png").is_file() and "Cost-probability frontier" in (
        folder / "analysis" / "package.md").read_text()
    # a re-run asks for the same points and reuses every evaluation
    # the points' own run folders (each batch's aggregate/ is rewritten whenever its sweep ends)
    stamps = {p: p.stat().st_mtime_ns for p in (folder / "points").glob("*/runs/[0-9]*/manifest.json")}
    proc = run_cli(args, tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    pd.testing.assert_frame_equal(ev, pd.read_parquet(folder / "analysis" / "evaluations.parquet"))
    assert stamps == {p: p.stat().st_mtime_ns for p in (folder / "points").glob("*/runs/[0-9]*/manifest.json")}
