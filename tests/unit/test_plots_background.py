"""Figures drawn in the background (plots.save_figures): the same files as drawn in the foreground,
failures reported by the figure that failed, nothing left running after cancel."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import pandas as pd
import pytest

from simmodel.report import plots

pytestmark = pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="background figures need fork")


def _fan(shift: float):
    values = pd.DataFrame([{"replicate": r, "year": y, "value": shift + y - 2024 + 0.1 * r} for r in range(5)
                           for y in range(2024, 2031)])
    return plots.fan_chart(values, title=f"shift {shift}", unit="%", base_year=2024,
                           subtitle=plots.scenario_subtitle("en", "baseline"))


def _pixels(path) -> np.ndarray:
    return plots.plt.imread(str(path))


def test_background_figures_are_the_foreground_ones(tmp_path):
    jobs = [(tmp_path / f"bg_{k}.png", (lambda k=k: _fan(k))) for k in range(3)]
    pending = plots.save_figures(jobs, processes=2)
    assert pending.wait() == [str(p) for p, _ in jobs]
    done = plots.save_figures([(tmp_path / f"fg_{k}.png", (lambda k=k: _fan(k))) for k in range(3)], processes=0)
    assert done.wait()  # already drawn
    for k in range(3):
        assert np.array_equal(_pixels(tmp_path / f"bg_{k}.png"), _pixels(tmp_path / f"fg_{k}.png"))


def test_a_failing_figure_is_named(tmp_path):
    def broken():
        raise ValueError("no data for T9")

    pending = plots.save_figures([(tmp_path / "ok.png", lambda: _fan(0)), (tmp_path / "t9.png", broken)], processes=2)
    with pytest.raises(RuntimeError, match=r"t9\.png(.|\n)*no data for T9"):
        pending.wait()
    assert (tmp_path / "ok.png").exists() and not (tmp_path / "t9.png").exists()


def test_cancel_leaves_no_child(tmp_path):
    import time

    pending = plots.save_figures([(tmp_path / "slow.png", lambda: (time.sleep(60), _fan(0))[1])], processes=1)
    procs = list(pending._procs)
    pending.cancel()
    assert all(not p.is_alive() for p in procs)
    assert not (tmp_path / "slow.png").exists()


def test_fan_chart_jobs_name_one_file_per_target(tmp_path):
    traj = pd.DataFrame([{"replicate": r, "year": y, "indicator": "t2_sei_share_pct", "value": 40.0 + y - 2024 + r}
                         for r in range(3) for y in range(2024, 2031)])
    targets = {"T2": {"2027": {"indicator": "t2_sei_share_pct", "threshold": 34.0, "unit": "%", "threshold_source": "seed"}}}
    history = pd.DataFrame(columns=["indicator", "year", "value"])
    jobs = plots.fan_chart_jobs(traj, history, targets, 2024, lambda tid: tmp_path / f"fan_{tid}.png",
                                scenario="land_tight", label="levers.fund_life_years=8")
    assert [str(p) for p, _ in jobs] == [str(tmp_path / "fan_T2.png")]
    fig = jobs[0][1]()
    texts = [t.get_text() for t in fig.findobj(lambda a: a.get_gid() == "subtitle")]
    assert texts == ["scenario: land_tight; levers.fund_life_years=8"]
    plots.save_figures(jobs).wait()
    assert (tmp_path / "fan_T2.png").stat().st_size > 0


def test_a_daemonic_process_draws_in_the_foreground(tmp_path, monkeypatch):
    """A daemonic process (a pool worker of some launchers) may not start children: no error, the
    figures are drawn before save_figures returns."""
    monkeypatch.setitem(mp.current_process()._config, "daemon", True)
    pending = plots.save_figures([(tmp_path / "d.png", lambda: _fan(0))])
    assert not pending._procs and (tmp_path / "d.png").stat().st_size > 0
    assert pending.wait() == [str(tmp_path / "d.png")]
