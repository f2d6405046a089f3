"""Sweep bookkeeping and the statistics of the aggregate (paired differences), without Hydra."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simmodel import sweep
from simmodel.config import RunConfig, plain
from simmodel.results import (RunWriter, code_version, difference_interval, median_difference_interval,
                              wilson_interval)


# --- paired differences ----------------------------------------------------------------------------

def _correlated_pairs(rng, n, p_ref, p_scen):
    """Replicates where scenario and reference share a latent draw (what common random numbers do):
    the reference is met when u < p_ref, the scenario when u < p_scen."""
    u = rng.random(n)
    return u < p_scen, u < p_ref


# min_cover: Tango's interval is slightly liberal with few replicates and a large one-sided change
@pytest.mark.parametrize("p_ref,p_scen,n,min_cover", [(0.50, 0.55, 100, 0.93), (0.10, 0.20, 50, 0.93),
                                                      (0.90, 0.95, 100, 0.93), (0.30, 0.60, 30, 0.91)])
def test_paired_interval_covers_the_true_difference_and_is_sharper(p_ref, p_scen, n, min_cover):
    rng = np.random.default_rng(1)
    true = p_scen - p_ref
    cover_p = cover_u = 0
    width_p, width_u = [], []
    trials = 1000
    for _ in range(trials):
        s, r = _correlated_pairs(rng, n, p_ref, p_scen)
        d, lo, hi = difference_interval(s, r, paired=True)
        _, ulo, uhi = difference_interval(s, r, paired=False)
        cover_p += lo <= true <= hi
        cover_u += ulo <= true <= uhi
        width_p.append(hi - lo)
        width_u.append(uhi - ulo)
    assert min_cover <= cover_p / trials <= 0.99  # nominal 95 %
    assert cover_u / trials >= 0.95  # valid but conservative when the runs are correlated
    assert np.mean(width_p) < 0.8 * np.mean(width_u)  # what the pairing buys


def test_independent_samples_get_nominal_coverage_without_pairing():
    rng = np.random.default_rng(2)
    trials, cover = 2000, 0
    for _ in range(trials):
        s, r = rng.random(80) < 0.3, rng.random(80) < 0.5
        _, lo, hi = difference_interval(s, r, paired=False)
        cover += lo <= -0.2 <= hi
    assert 0.93 <= cover / trials <= 0.975


def test_difference_interval_edges():
    ones, zeros = np.ones(50, bool), np.zeros(50, bool)
    d, lo, hi = difference_interval(ones, ones, paired=True)
    assert d == 0 and -0.1 < lo < 0 < hi < 0.1  # no discordant pair in 50 cannot exclude a few in the population
    d, lo, hi = difference_interval(ones, zeros, paired=True)
    assert d == 1 and hi == 1 and lo > 0.85
    d, lo, hi = difference_interval(zeros, ones, paired=False)
    assert d == -1 and lo == -1 and hi < -0.85
    with pytest.raises(ValueError):
        difference_interval(ones, ones[:10], paired=True)


def test_unpaired_difference_reduces_to_the_wilson_ends():
    # with phi = 0 and one sample fixed at 0 successes of many, the interval is close to the other's Wilson
    s = np.r_[np.ones(30, bool), np.zeros(70, bool)]
    r = np.zeros(100000, bool)
    _, lo, hi = difference_interval(s, r, paired=False)
    wlo, whi = wilson_interval(30, 100)
    assert lo == pytest.approx(wlo, abs=2e-3) and hi == pytest.approx(whi, abs=2e-3)


def test_paired_median_difference_is_sharper_and_reproducible():
    rng = np.random.default_rng(3)
    common = rng.normal(50, 5, 200)
    ref, scen = common, common + 0.8 + rng.normal(0, 0.3, 200)
    d, lo, hi = median_difference_interval(scen, ref, paired=True)
    _, ulo, uhi = median_difference_interval(scen, ref, paired=False)
    assert lo < 0.8 < hi and hi - lo < 0.5 * (uhi - ulo)
    assert median_difference_interval(scen, ref, paired=True) == (d, lo, hi)


# --- names, plans, labels --------------------------------------------------------------------------

def test_sweep_name_is_stable_and_ignores_settings_that_do_not_change_results():
    a = sweep.sweep_name(["-m", "scenario=baseline,land_tight", "replicates=20"])
    assert a == sweep.sweep_name(["-m", "scenario=baseline,land_tight", "replicates=20", "hydra/launcher=joblib",
                                  "hydra.launcher.n_jobs=2", "workers=1", "output.progress=false"])
    assert a.startswith("scenario-")
    assert a != sweep.sweep_name(["-m", "scenario=baseline,land_tight", "replicates=21"])
    assert sweep.sweep_name(["-m", "levers.fund_life_years=8,12,20"]).startswith("fund_life_years-")


def test_job_labels_name_what_varies():
    jobs = [["scenario=baseline", "replicates=5"], ["scenario=land_tight", "replicates=5"]]
    assert sweep.job_labels(jobs) == ["scenario=baseline", "scenario=land_tight"]
    assert sweep.job_labels([["replicates=5"]]) == ["replicates=5"]


def test_a_folder_holding_another_sweep_is_refused(tmp_path):
    sweep.write_plan(tmp_path, [["scenario=baseline"], ["scenario=land_tight"]], "simmodel run -m ...")
    sweep.write_plan(tmp_path, [["scenario=baseline"], ["scenario=land_tight"]], "simmodel run -m ...")  # same: fine
    with pytest.raises(sweep.SweepError, match="holds another sweep"):
        sweep.write_plan(tmp_path, [["scenario=baseline"], ["scenario=subsidy_half"]], "simmodel run -m ...")


# --- jobs: failure, skip, re-run -------------------------------------------------------------------

def _fake_run(calls):
    """Stands in for simmodel.tasks.run: writes a tiny but complete run folder."""

    def run(cfg, *, out_dir, command, overrides, label, replace, show_table, echo):
        calls.append(replace)
        w = RunWriter(out_dir)
        traj = pd.DataFrame({"replicate": [0], "year": [2027], "indicator": ["x"], "value": [1.0]})
        traj.to_parquet(w.path("trajectories.parquet"))
        w.path("summary.json").write_text(json.dumps({"targets": {}}))
        w.commit({"config": plain(cfg), "code": code_version(), "scenario": cfg.scenario_slug, "overrides": overrides},
                 replace=replace)
        return out_dir

    return run


def test_a_failing_job_is_recorded_and_the_call_returns(tmp_path):
    def boom(*a, **k):
        raise RuntimeError("disk full")

    rec = sweep.run_job(RunConfig(), tmp_path / "0_baseline", num=0, overrides=[], command="c", label="x",
                        echo=lambda *_: None, run=boom)
    assert rec["status"] == "failed" and rec["error"] == "disk full"
    assert sweep.job_status(tmp_path / "0_baseline") == "failed"
    assert json.loads((tmp_path / "0_baseline" / sweep.FAILED).read_text())["type"] == "RuntimeError"


def test_complete_jobs_are_skipped_and_changed_ones_rerun(tmp_path):
    calls: list[bool] = []
    job = tmp_path / "0_baseline"
    job.mkdir()  # Hydra makes the folder before the job starts
    cfg = RunConfig()
    quiet = {"echo": lambda *_: None, "run": _fake_run(calls)}
    assert sweep.run_job(cfg, job, num=0, overrides=[], command="c", **quiet)["status"] == "complete"
    assert sweep.run_job(cfg, job, num=0, overrides=[], command="c", **quiet)["status"] == "skipped"
    cfg.workers = 7  # does not change results: still skipped
    assert sweep.run_job(cfg, job, num=0, overrides=[], command="c", **quiet)["status"] == "skipped"
    cfg.replicates = 3  # does: re-run, replacing the old folder
    assert sweep.run_job(cfg, job, num=0, overrides=[], command="c", **quiet)["status"] == "complete"
    assert calls == [False, True]
    assert json.loads((job / "manifest.json").read_text())["config"]["replicates"] == 3
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".tmp", ".old"))]


def test_a_previous_failure_and_a_stale_partial_folder_are_cleared_on_rerun(tmp_path):
    job = tmp_path / "1_land_tight"
    job.mkdir()
    (job / sweep.FAILED).write_text("{}")
    stale = tmp_path / ".tmp-1_land_tight@otherhost@999999"  # a job that died on another node
    stale.mkdir()
    calls: list[bool] = []
    rec = sweep.run_job(RunConfig(), job, num=1, overrides=[], command="c", echo=lambda *_: None, run=_fake_run(calls))
    assert rec["status"] == "complete" and not stale.exists() and not (job / sweep.FAILED).exists()


def test_the_reference_is_the_baseline_by_value():
    base = {"scenario": "baseline", "config": plain(RunConfig()), "overrides": ["levers.fund_life_years=20"]}
    assert sweep.is_reference(base, "baseline")
    changed = json.loads(json.dumps(base))
    changed["config"]["levers"]["fund_life_years"] = 8
    assert not sweep.is_reference(changed, "baseline")
    other = {"scenario": "land_tight", "config": plain(RunConfig()), "overrides": []}
    assert sweep.is_reference(other, "land_tight") and not sweep.is_reference(
        {**other, "overrides": ["levers.land_quota_mu_per_year=1"]}, "land_tight")


def test_a_job_folder_says_what_the_job_changed(tmp_path):
    assert sweep.job_folder_name(0, "scenario=baseline levers.fund_life_years=8") == "0_baseline_fund_life_years-8"
    assert sweep.job_folder_name(3, "scenario=land_tight") == "3_land_tight"
    assert sweep.job_folder_name(1, "levers.fund_evaluation_regime=portfolio uncertainties.world_demand_shift_pct=-2") \
        == "1_fund_evaluation_regime-portfolio_world_demand_shift_pct--2"
    assert sweep.job_folder_name(2, "a/b c:d") == "2_a_b_c_d"  # nothing a file system could misread
    hydra_dir = tmp_path / "0"
    hydra_dir.mkdir()
    named = sweep.named_job_dir(hydra_dir, 0, "scenario=baseline levers.fund_life_years=8")
    assert named == tmp_path / "0_baseline_fund_life_years-8" and not hydra_dir.exists()
    kept = tmp_path / "0_baseline"  # a sweep started before the naming, or a user's own subdir
    assert sweep.named_job_dir(kept, 0, "scenario=baseline levers.fund_life_years=8") == kept


def test_mean_difference_intervals_paired_and_not():
    rng = np.random.default_rng(1)
    ref = rng.normal(100, 10, 200)
    d, lo, hi = sweep.mean_difference_interval(ref + 5.0, ref, paired=True)
    assert d == pytest.approx(5.0) and lo == hi == pytest.approx(5.0)  # a constant paired shift: no noise
    noisy = ref + 5.0 + rng.normal(0, 1, 200)
    d, lo, hi = sweep.mean_difference_interval(noisy, ref, paired=True)
    _, ulo, uhi = sweep.mean_difference_interval(noisy, ref, paired=False)
    assert lo < 5.0 < hi and (hi - lo) < 0.2 * (uhi - ulo)  # pairing removes the shared variation
    assert all(np.isnan(sweep.mean_difference_interval(np.array([]), ref, paired=True)))
