"""Results (simmodel.results): the Wilson interval, and the summary of a small hand-made ensemble."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from simmodel.indicators import Target
from simmodel.results import summarise, trajectories_frame, wilson_interval


@pytest.mark.parametrize("k,n,expected", [
    (0, 10, (0.0, 0.2775)),
    (5, 10, (0.2366, 0.7634)),
    (10, 10, (0.7225, 1.0)),
    (1, 100, (0.0018, 0.0545)),
])
def test_wilson_known_values(k, n, expected):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(expected[0], abs=1e-4)
    assert hi == pytest.approx(expected[1], abs=1e-4)


@pytest.mark.parametrize("k,n", [(0, 1), (3, 7), (37, 100), (999, 1000)])
def test_wilson_agrees_with_statsmodels(k, n):
    lo, hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((lo, hi), abs=1e-9)


def test_wilson_is_symmetric_and_contains_the_estimate():
    for k in range(0, 21):
        lo, hi = wilson_interval(k, 20)
        assert 0.0 <= lo <= k / 20 <= hi <= 1.0
        lo2, hi2 = wilson_interval(20 - k, 20)
        assert (lo, hi) == pytest.approx((1 - hi2, 1 - lo2))


def test_wilson_of_nothing_is_undefined():
    assert all(math.isnan(x) for x in wilson_interval(0, 0))


# ---------------------------------------------------------------------------------------------- summarise
YEARS = [2025, 2026, 2027]
T3_2027 = [12.5, 12.6, 12.4, 12.5]  # strict ">": met only by 12.6
T1_2027 = [58.0, 57.9, 60.0, 58.0]  # ">=": met by 58.0, 60.0, 58.0


def _replicate(r: int) -> pd.DataFrame:
    return pd.DataFrame({
        "t1_emerging_share_415x_pct": [52.0, 55.0, T1_2027[r]],
        "t3_digital_core_share_gdp_pct": [11.7, 12.0, T3_2027[r]],
    }, index=pd.Index(YEARS, name="year"))


@pytest.fixture(scope="module")
def summary():
    traj = trajectories_frame([_replicate(r) for r in range(4)])
    targets = [Target("T1", "t1_emerging_share_415x_pct", 2027, 58.0, False, "%", "seed"),
               Target("T3", "t3_digital_core_share_gdp_pct", 2027, 12.5, True, "%", "seed")]
    fiscal = [{"n_chain_projects_per_year": [1.0, 2.0, 3.0], "state_vc_fund_cny_100m": [150.0, 0.0, 0.0]},
              {"n_chain_projects_per_year": [1.0, 1.0, 1.0], "state_vc_fund_cny_100m": [150.0, 0.0, 0.0]},
              {"n_chain_projects_per_year": [2.0, 2.0, 2.0], "state_vc_fund_cny_100m": [150.0, 0.0, 0.0]},
              {"state_vc_fund_cny_100m": [150.0, 0.0, 0.0]}]  # replicate 3 spent nothing on projects
    return summarise(traj, targets, fiscal, YEARS, {"n_chain_projects_per_year": 2, "state_vc_fund_cny_100m": 22},
                     ("state_vc_fund_cny_100m",))


def test_trajectories_frame_is_long():
    long = trajectories_frame([_replicate(0), _replicate(1)])
    assert list(long.columns) == ["replicate", "year", "indicator", "value"]
    assert len(long) == 2 * 3 * 2
    row = long[(long.replicate == 1) & (long.year == 2027) & (long.indicator == "t3_digital_core_share_gdp_pct")]
    assert row["value"].tolist() == [12.6]


def test_summary_p_met_non_strict(summary):
    t1 = summary["targets"]["T1"]["2027"]
    assert t1["p_met"] == 0.75
    assert t1["comparison"] == ">="
    assert t1["p_met_ci95"] == pytest.approx(list(wilson_interval(3, 4)))
    assert t1["n_replicates"] == 4


def test_summary_p_met_strict(summary):
    t3 = summary["targets"]["T3"]["2027"]
    assert t3["p_met"] == 0.25
    assert t3["comparison"] == ">"
    assert t3["p_met_ci95"] == pytest.approx(list(wilson_interval(1, 4)))


def test_summary_bands(summary):
    t3 = summary["targets"]["T3"]["2027"]
    assert t3["median"] == pytest.approx(12.5)
    assert t3["p10"] <= t3["median"] <= t3["p90"]
    band = summary["indicators"]["t1_emerging_share_415x_pct"]["2026"]
    assert band["median"] == pytest.approx(55.0) and band["p025"] == band["p975"] == pytest.approx(55.0)


def test_summary_fiscal_cost(summary):
    cost = summary["fiscal_cost_by_lever"]
    chain = cost["n_chain_projects_per_year"]
    assert chain["kind"] == "grant" and chain["article"] == 2
    # totals per replicate: 6, 3, 6, 0 -> median 4.5
    assert chain["total_cny_100m"]["median"] == pytest.approx(np.median([6.0, 3.0, 6.0, 0.0]))
    assert chain["by_year_median_cny_100m"] == pytest.approx({"2025": 1.0, "2026": 1.5, "2027": 1.5})
    assert cost["state_vc_fund_cny_100m"]["kind"] == "equity"
    totals = summary["fiscal_cost_total_cny_100m"]
    assert totals["equity"]["median"] == pytest.approx(150.0)
    assert totals["grants"]["median"] == pytest.approx(4.5)


def test_a_temporary_folder_left_by_a_killed_process_is_cleared_by_the_next_writer(tmp_path):
    import os
    import subprocess
    import sys

    from simmodel.results import _HOST, RunWriter

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".tmp-20260101-000000@{_HOST}@{dead.pid}"  # a run killed with SIGKILL
    live = tmp_path / f".tmp-20260101-000001@{_HOST}@{os.getpid()}"  # one still being written
    remote = tmp_path / f".tmp-20260101-000002@another-node@{dead.pid}"  # another host's: cannot tell
    for p in (stale, live, remote):
        p.mkdir()
    writer = RunWriter(tmp_path / "20260101-000003")
    assert not stale.exists() and live.exists() and remote.exists()
    writer.path("a.txt").write_text("x")
    assert writer.commit({}) == tmp_path / "20260101-000003"


def test_a_killed_writer_not_yet_reaped_counts_as_dead_and_clearing_can_wait_for_writers_to_end(tmp_path):
    """A launcher that kills its workers outright (joblib: SIGKILL) leaves them as zombies until they
    are reaped: their folders are stale all the same. With wait_seconds, the clearing waits for the
    writers still running (other than this process) and clears each folder as its writer ends."""
    import os
    import subprocess
    import sys
    import time

    from simmodel.results import _HOST, clear_stale_tmp

    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    while Path(f"/proc/{zombie.pid}/stat").read_text().split(") ")[-1][:1] != "Z":  # ended, not reaped
        time.sleep(0.01)
    ending = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.5)"])
    folders = {name: tmp_path / f".tmp-job@{_HOST}@{pid}" for name, pid in
               (("zombie", zombie.pid), ("ending", ending.pid), ("mine", os.getpid()))}
    for f in folders.values():
        f.mkdir()
    assert clear_stale_tmp(tmp_path) == [folders["zombie"]]
    assert folders["ending"].exists()
    t0 = time.monotonic()
    assert clear_stale_tmp(tmp_path, wait_seconds=20) == [folders["ending"]]
    assert 0.2 < time.monotonic() - t0 < 10  # waited for the writer, not for this process's own folder
    assert folders["mine"].exists()
    zombie.wait()
    ending.wait()


def test_a_folder_published_by_another_process_during_the_commit_is_kept_and_reported(tmp_path, monkeypatch):
    """Two sweep jobs may compute the same paired no_new_policy run; when the other one publishes the
    folder between this writer's check and its rename, the real rename fails (directory not empty):
    the writer reports it as a ResultsError (which the counterfactual handles by reading the other
    copy) and leaves the other copy as it is."""
    import os

    from simmodel import results
    from simmodel.results import ResultsError, RunWriter

    final = tmp_path / "paired-abc"
    writer = RunWriter(final)
    writer.path("a.txt").write_text("mine")
    real_replace = os.replace

    def publish_first(src, dst):
        if str(dst) == str(final) and not final.exists():  # the other process wins the race
            final.mkdir()
            (final / "a.txt").write_text("theirs")
            (final / "manifest.json").write_text("{}")
        return real_replace(src, dst)

    monkeypatch.setattr(results.os, "replace", publish_first)
    with pytest.raises(ResultsError, match="published by another process"):
        writer.commit({})
    assert (final / "a.txt").read_text() == "theirs"
    writer.abort()
    assert [p.name for p in tmp_path.iterdir()] == ["paired-abc"]


def test_the_paired_run_published_by_another_job_meanwhile_is_read_not_recomputed(tmp_path, monkeypatch, inputs):
    """Two sweep jobs of one seed need the same paired no_new_policy run. When the other job publishes
    it just after this one found no folder, this one reads the other's copy instead of deleting it
    (as a broken folder) or computing its own."""
    import dataclasses

    from simmodel import run_task
    from simmodel.config import CounterfactualConfig, OutputConfig, PopulationConfig, RunConfig, UncertaintyConfig
    from simmodel.indicators import targets_from_config
    from simmodel.results import read_run

    cfg = RunConfig(replicates=2, workers=1, population=PopulationConfig(scale=0.01),
                    uncertainty=dataclasses.replace(UncertaintyConfig(), decomposition_pairs=0),
                    counterfactual=CounterfactualConfig(enabled=False),
                    assumption_sensitivity=dataclasses.replace(RunConfig().assumption_sensitivity, enabled=False),
                    output=OutputConfig(root=str(tmp_path / "results"), plots=False, progress=False))
    theirs = run_task.run(run_task.counterfactual_config(cfg), out_dir=tmp_path / "theirs", show_table=False,
                          echo=lambda *_: None)
    traj, _, _ = read_run(theirs)
    calls = []

    def read_after_the_other_job_published(path):
        calls.append(path)
        if len(calls) == 1:  # nothing there yet; the other job publishes right after this look
            path.parent.mkdir(parents=True, exist_ok=True)
            theirs.rename(path)
            raise run_task.ResultsError(f"{path} is not a complete results folder")
        return read_run(path)

    monkeypatch.setattr(run_task, "read_run", read_after_the_other_job_published)
    monkeypatch.setattr(run_task, "run", lambda *a, **k: pytest.fail("the paired run was computed again"))
    targets = targets_from_config(cfg.targets, inputs.base_year)
    out = run_task.counterfactual(cfg, traj, targets, tmp_path / "final", show=False)
    assert len(calls) == 2 and out["run"].startswith("run/no_new_policy/paired-")
    assert (tmp_path / "results" / out["run"] / "manifest.json").is_file()  # the other's copy, kept
    assert out["targets"]  # read and compared




@pytest.mark.parametrize("same_layout", [True, False])
def test_trajectories_frame_is_each_replicate_melted_in_turn(same_layout):
    """The long table, made by one reshape where the replicates share years and indicators (and by a
    melt each where they do not), is the melt's: rows, order, dtypes and values (NaN and integer
    counts included); each replicate's rows give its frame back."""
    from simmodel.results import melted_one_by_one

    rng = np.random.default_rng(7)
    frames = []
    for r in range(5):
        years = [2024, 2025, 2026] if same_layout or r % 2 == 0 else [2024, 2025]
        w = pd.DataFrame({"t1_emerging_share_415x_pct": rng.normal(50, 5, len(years)),
                          "n_pilot_zones": rng.integers(0, 9, len(years)),
                          "t3_digital_core_share_gdp_pct": rng.normal(12, 1, len(years))},
                         index=pd.Index(years, name="year"))
        w.iloc[0, 2] = np.nan
        frames.append(w)
    out = trajectories_frame(frames)
    pd.testing.assert_frame_equal(out, melted_one_by_one(frames), check_exact=True)
    for r, w in enumerate(frames):
        mine = out[out.replicate == r]
        assert mine["indicator"].tolist() == [c for c in w.columns for _ in w.index]
        back = mine.pivot(index="year", columns="indicator", values="value")[list(w.columns)]
        np.testing.assert_array_equal(back.to_numpy(), w.to_numpy(dtype=float))
        assert back.index.tolist() == w.index.tolist()

# ---------------------------------------------------------------------------------------------- drivers
def _drivers_case(seed: int, n: int, nan_at: tuple[int, int] | None = None):
    """A run's trajectories and draws with known links: quantity a drives T1 (with ties in it), b
    drives T3 against it, c is noise, d is constant (never tested)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 6, n).astype(float)  # ties, as a draw rounded to a step has them
    b = rng.normal(size=n)
    c = rng.normal(size=n)
    t1 = a + 0.3 * rng.normal(size=n)
    t3 = -b + 0.3 * rng.normal(size=n)
    if nan_at is not None:
        (t1 if nan_at[0] == 0 else a)[nan_at[1]] = np.nan
    traj = trajectories_frame([pd.DataFrame({"t1_emerging_share_415x_pct": [t1[r]],
                                             "t3_digital_core_share_gdp_pct": [t3[r]]},
                                            index=pd.Index([2027], name="year")) for r in range(n)])
    drawn = pd.DataFrame([(r, src, name, v) for r in range(n)
                          for src, name, v in (("assumptions", "a", a[r]), ("behaviour", "b", b[r]),
                                               ("behaviour", "c", c[r]), ("estimates", "d", 1.0))],
                         columns=["replicate", "source", "name", "value"])
    targets = [Target("T1", "t1_emerging_share_415x_pct", 2027, 0.0, False, "%", "seed"),
               Target("T3", "t3_digital_core_share_gdp_pct", 2027, 0.0, True, "%", "seed")]
    return traj, drawn, targets, {"a": a, "b": b, "c": c}, {"T1": t1, "T3": t3}


@pytest.mark.parametrize("seed,n,nan_at", [(1, 40, None), (2, 8, None), (3, 200, None), (4, 40, (0, 5)),
                                           (5, 40, (1, 7))])
def test_drivers_are_each_quantitys_spearman_correlation_with_the_target(seed, n, nan_at):
    """The drivers, computed for all quantities at once (ranks once, one correlation pass), are what
    scipy's spearmanr gives pair by pair (NaNs omitted pair by pair where a target or a quantity has
    one): the same quantities past the Bonferroni threshold, in the same order, the same rho and p."""
    from scipy.stats import spearmanr

    from simmodel.run_task import drivers

    traj, drawn, targets, xs, ys = _drivers_case(seed, n, nan_at)
    out = drivers(traj, drawn, targets, top=5)
    assert out["rule"]["n_tested"] == 3  # d is constant: not tested
    threshold = out["rule"]["p_below"]
    assert threshold == pytest.approx(0.05 / 3)
    for tid, y in ys.items():
        expected = []
        for name, x in xs.items():
            res = spearmanr(x, y, nan_policy="omit")
            if np.isfinite(res.statistic) and res.pvalue < threshold:
                expected.append((name, float(res.statistic), float(res.pvalue)))
        expected.sort(key=lambda e: -abs(e[1]))
        got = out.get(tid, {}).get("2027", [])
        assert [g["name"] for g in got] == [e[0] for e in expected]
        for g, (_, rho, p) in zip(got, expected, strict=True):
            assert g["rho"] == pytest.approx(rho, abs=1e-12)
            assert g["p"] == pytest.approx(p, rel=1e-9, abs=1e-300)
    if n >= 40:  # the links are found, with their signs
        assert out["T1"]["2027"][0]["name"] == "a" and out["T1"]["2027"][0]["rho"] > 0
        assert out["T3"]["2027"][0]["name"] == "b" and out["T3"]["2027"][0]["rho"] < 0


def test_average_ranks_are_scipys_rankdata():
    """The drivers' ranks are scipy's rankdata (ties given their mean rank), exactly, column by column."""
    from scipy.stats import rankdata

    from simmodel.run_task import _average_ranks

    rng = np.random.default_rng(11)
    x = np.column_stack([rng.integers(0, 4, 30).astype(float), rng.normal(size=30), np.full(30, 2.5),
                         np.r_[np.arange(15.0), np.arange(15.0)], np.where(rng.random(30) < 0.2, -np.inf, 1.0)])
    np.testing.assert_array_equal(_average_ranks(x), rankdata(x, axis=0))
    np.testing.assert_array_equal(_average_ranks(x[:, 0])[:, 0], rankdata(x[:, 0]))
