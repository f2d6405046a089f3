"""The fixed cost of a run (issue 15): what every command pays before and around its simulation.
Behaviour, not timing: which heavy modules a step loads, and that the benchmark runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


ROOT = Path(__file__).resolve().parents[2]


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\nprint(' '.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, timeout=120, check=True, cwd=ROOT).stdout
    return set(out.split())


def test_the_cli_and_the_tasks_import_no_matplotlib():
    """matplotlib (about 0.4 s) is imported by the first figure, not by the modules that may draw one."""
    mods = _modules_after("import simmodel.cli, simmodel.tasks, simmodel.sweep, simmodel.report.plots")
    assert "matplotlib" not in mods and "matplotlib.pyplot" not in mods


def test_the_plots_module_still_selects_agg_for_whoever_imports_pyplot_after_it():
    mods = _modules_after("import simmodel.report.plots\nimport matplotlib\nassert matplotlib.get_backend().lower() == 'agg'")
    assert "matplotlib" in mods


def test_loading_a_runs_inputs_does_not_import_the_calibration_fit():
    """A run reads a calibration's parameter file; it does not need the optimiser (scipy.stats and
    the fit module: about 0.45 s)."""
    mods = _modules_after("from simmodel.config import RunConfig\nfrom simmodel.ensemble import load_inputs\n"
                          "load_inputs(RunConfig())")
    assert "simmodel.calibration.fit" not in mods and "scipy.stats" not in mods



def test_the_tasks_that_read_results_import_neither_the_model_nor_scipy_stats():
    """The memo, plot and compare tasks read results: importing the tasks and the memo loads neither
    the model (Mesa, the population: about 0.6 s) nor scipy.stats (0.66 s; a sweep's intervals take
    Student's t from scipy.special); the run task's names are still there, imported at first use."""
    mods = _modules_after("import simmodel.cli, simmodel.tasks, simmodel.sweep, simmodel.report.memo\n"
                          "from simmodel.sweep import mean_difference_interval\n"
                          "mean_difference_interval([1.0, 2.0, 4.0], [1.0, 1.5, 2.0], paired=True)\n"
                          "mean_difference_interval([1.0, 2.0, 4.0], [1.0, 1.5], paired=False)")
    assert not {"mesa", "simmodel.model", "simmodel.ensemble", "simmodel.run_task", "scipy.stats"} & mods
    mods = _modules_after("import simmodel.tasks\nassert simmodel.tasks.run.__module__ == 'simmodel.run_task'")
    assert "simmodel.run_task" in mods


def test_the_sweeps_t_intervals_are_scipy_stats_ones():
    """mean_difference_interval's Student's t quantile (scipy.special.stdtrit) is scipy.stats.t.ppf's."""
    import numpy as np
    from scipy import stats

    from simmodel.sweep import mean_difference_interval

    rng = np.random.default_rng(4)
    s, r = rng.normal(1.0, 1.0, 9), rng.normal(0.0, 2.0, 9)
    d = s - r
    half = float(stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size))
    m = float(d.mean())
    assert mean_difference_interval(s, r, paired=True) == (m, m - half, m + half)
    vs, vr = s.var(ddof=1) / 9, r[:6].var(ddof=1) / 6
    dof = (vs + vr) ** 2 / (vs ** 2 / 8 + vr ** 2 / 5)
    m = float(s.mean() - r[:6].mean())
    half = float(stats.t.ppf(0.975, dof) * float(np.sqrt(vs + vr)))
    assert mean_difference_interval(s, r[:6], paired=False) == (m, m - half, m + half)


def test_the_fixed_cost_benchmark_runs(capsys):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_fixed_cost
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    res = bench_fixed_cost.main(["--quick"])
    (root,) = res["roots"].values()
    assert set(root["commands"]) == {"import simmodel.cli", "fixed-cost run"}
    assert all(c["wall_s"] > 0 and c["cpu_s"] > 0 for c in root["commands"].values())
    assert root["goal"]["goal_s"] == 2.0
    assert "goal: fixed-cost run within 2 s" in capsys.readouterr().out
