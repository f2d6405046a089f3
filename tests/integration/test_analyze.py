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

SMALL = ["factors=[fund_life_years,land_quota_mu_per_year,world_demand_shift_pct]", "replicates=2", "scale=0.02"]


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
    assert (table["mu_star"] >= 0).all() and table["output"].nunique() == len(outputs.columns) - 3 - 1
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
                    "replicates=2", "scale=0.02"], tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = pd.read_parquet(the_analysis(tmp_path) / "analysis" / "indices.parquet")
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(table.columns)
    assert len(pd.read_parquet(the_analysis(tmp_path) / "analysis" / "outputs.parquet")) == 2 * (2 + 2)
    cwd = tmp_path / "prim"
    cwd.mkdir()
    proc = run_cli(["analyze", "method=prim", "samples=12", "factors=[land_quota_mu_per_year,world_demand_shift_pct]",
                    "replicates=2", "scale=0.02", "p_level=0.5"], cwd, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((the_analysis(cwd) / "analysis" / "summary.json").read_text())
    assert summary["points"] == 12 and summary["source"] == "model"
    assert "base_rate" in summary["prim"] and (the_analysis(cwd) / "analysis" / "boxes.md").is_file()


def test_bad_analysis_settings_are_refused(tmp_path):
    for args, words in [(["method=anova"], "one of morris, sobol, prim"), (["sobol_n=6"], "power of two"),
                        (["factors=[fund_lief_years]"], "unknown lever"),
                        (["ranges.fund_life_years=[5,30]"], "registry range")]:
        proc = run_cli(["analyze", *args], tmp_path)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
    assert not (tmp_path / "results").exists()
