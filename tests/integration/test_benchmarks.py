"""The benchmark scripts' quick modes run and print their figures (so the scripts cannot rot)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import bench_bandwidth  # noqa: E402
import bench_explorer  # noqa: E402
import bench_replicate  # noqa: E402
import result_hashes  # noqa: E402


def test_bench_replicate_quick(tmp_path, capsys):
    res = bench_replicate.main(["--quick", "--scaling-rounds", "2", "--json", str(tmp_path / "r.json")])
    assert set(res["goals"]) == {"seconds_per_replicate", "seconds_per_drawn_replicate", "seconds_per_replay_2020_2030",
                                 "flat_per_firm_step", "peak_memory", "stage_exponent"}
    one = json.loads((tmp_path / "r.json").read_text())["one_to_one"]
    assert one["seconds_per_replicate"] > 0 and one["seconds_per_drawn_replicate"] > 0
    assert one["seconds_per_replay_2020_2030"] > 0
    assert abs(sum(res["stage_share"].values()) - 1.0) < 1e-9
    assert res["memory"]["peak_rss_mb"] >= res["memory"]["baseline_rss_mb"] > 0
    # the hot path: Python work per step must not grow with the firms (a per-firm loop gives ~1)
    assert res["python_lines_per_step"]["exponent"] < 0.3
    # each size's figure is the median of the rounds, within their range
    for row in res["scaling"]:
        lo, hi = row["simulation_s_range"]
        assert row["rounds"] == 2 and 0 < lo <= row["simulation_s"] <= hi
        # the yearly block's parts add up to it, each timed by its own calls (2025-2030: six years)
        parts = row["year_parts"]
        assert row["years"] == 6 and parts["funds"] > 0 and parts["grants"] > 0 and parts["ladder"] > 0
        assert min(parts.values()) >= -1e-6
        assert sum(parts.values()) == pytest.approx(row["by_stage"]["start_year"], rel=1e-9, abs=1e-12)
    out = capsys.readouterr().out
    assert "goals:" in out and "per firm-step" in out and "the yearly block (start_year" in out
    floor = res["floor"]
    assert 0 < floor["start_year_s"] < floor["simulation_s"] and floor["allowed_at_smallest_s"] > 0
    assert "what a replicate costs whatever its size" in out
    with pytest.raises(SystemExit):
        bench_replicate.main(["--quick", "--scaling-rounds", "0"])


def test_run_timed_puts_back_the_functions_it_wraps():
    """The parts of the yearly block are timed by wrapping functions of the simulation module, which
    outlive the model: a run must leave them as it found them, or wrappers pile up run after run."""
    import _common

    from simmodel.model import simulation

    before = {name: getattr(simulation, name) for name in ("fund_year", "climb_ladder", "adopt_ai_plus")}
    inputs, cfg = _common.baseline()
    r = _common.run_timed(_common.SimModel(inputs, cfg.levers, cfg.uncertainties, scale=0.01, seed=1), quarters=5)
    assert r["years"] == 2 and r["year_parts"]["funds"] > 0
    assert {name: getattr(simulation, name) for name in before} == before


def test_result_hashes_quick_are_the_same_twice_and_change_with_the_seed():
    """The byte-identity check a speed change is held to: the same replicate hashes the same in two
    runs, and another seed's replicate does not."""
    first, again = result_hashes.main(["--quick"]), result_hashes.main(["--quick"])
    assert first == again and len(first) == 1 and first[0].split()[-1].isalnum() and len(first[0].split()[-1]) == 10
    inputs, _ = result_hashes.load_inputs(result_hashes.RunConfig())
    levers = result_hashes.Levers()
    assert result_hashes.replicate_hash(inputs, levers, 0.01, 4) != result_hashes.replicate_hash(inputs, levers, 0.01, 3)


def test_bench_compile_quick(tmp_path, capsys):
    """bench_compile.py's quick mode: a warm-up in a process of its own on this checkout's cache,
    timed, with its memory; the JSON holds what it printed."""
    import bench_compile

    res = bench_compile.main(["--quick", "--json", str(tmp_path / "c.json")])
    assert len(res["load"]) == 1 and res["load"][0]["wall_s"] > 0 and res["load"][0]["max_rss_mb"] > 50
    assert json.loads((tmp_path / "c.json").read_text()) == res
    assert "warm-up on this checkout's cache" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        bench_compile.main(["--rounds", "0"])
    assert refused.value.code == 2 and "--rounds must be at least 1, not 0" in capsys.readouterr().err


def test_bench_bandwidth_quick(capsys):
    res = bench_bandwidth.main(["--quick"])
    # bytes come from the arrays: the ageing stage reads and writes age_q (int32) at least
    assert "age_q" in res["per_stage"]["age_aggregates"]["written"]
    assert res["per_stage"]["exit"]["written"] == ["alive", "exit_q"]
    assert res["bytes_per_firm_step"] > 0 and res["bandwidth_memory"]["copy"] > 0
    assert res["measured_s"] > res["bound_memory_s"] > 0
    assert "what holds the model back" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_sweep_and_calibrate_quick(tmp_path):
    import bench_calibrate
    import bench_sweep

    assert all(v > 0 for v in bench_sweep.main(["--quick"])["replicates_per_min"].values())
    assert bench_calibrate.main(["--quick"])["evaluations"] >= 1


@pytest.mark.slow
def test_bench_analyze_quick(tmp_path):
    import bench_analyze

    res = bench_analyze.main(["--quick", "--json", str(tmp_path / "a.json")])
    assert res["points"] == 2 * (3 + 1) and res["evaluations"] == res["points"] * 2
    assert res["evaluations_per_min"] > 0 and json.loads((tmp_path / "a.json").read_text())["quick"]


def test_compare_versions_finds_a_version_consistent_with_itself(capsys):
    """The check of a stream change, run against the committed tree (same code, independent seeds)."""
    import compare_versions

    res = compare_versions.main(["--against", "HEAD", "--replicates", "3", "--scale", "0.01", "--scenario", "baseline"])
    chk = res["scenarios"]["baseline"]
    assert len(chk["rows"]) == len(compare_versions.KEYS) and chk["consistent"]
    out = capsys.readouterr().out
    assert "no indicator differs" in out
    same = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "simmodel/kernels.py"], check=False,
                          cwd=BENCH.parent).returncode == 0
    # HEAD's loops are this checkout's (unless kernels.py is edited here): loaded, not compiled again
    assert ("compiled files of this checkout's loops shared" in out) == same


_LOOP = """import numpy as np
from numba import njit


@njit(cache=True)
def total(x):
    s = 0.0
    for v in x:
        s += v
    return s
"""


def _run_loop(root: Path) -> str:
    """Numba's cache log of a process that runs the loop of ``root``/simmodel/kernels.py."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); import numpy as np; from simmodel import kernels; kernels.total(np.ones(3))"
    env = {**os.environ, "NUMBA_DEBUG_CACHE": "1"}
    return subprocess.run([sys.executable, "-c", code, str(root)], env=env, capture_output=True, text=True, check=True).stdout


def test_a_checkout_with_the_same_loops_loads_them_instead_of_compiling(tmp_path):
    """compare_versions shares this checkout's compiled loops with a worktree whose kernels.py is the
    same: Numba keys its cache by the source's content, not its path, so the worktree loads them (the
    test fails if a Numba release keys by path, or if the files are not where Numba looks)."""
    import compare_versions

    here, other, changed = (tmp_path / d for d in ("here", "other", "changed"))
    for root, text in ((here, _LOOP), (other, _LOOP), (changed, _LOOP + "# another line\n")):
        (root / "simmodel").mkdir(parents=True)
        (root / "simmodel" / "__init__.py").write_text("")
        (root / "simmodel" / "kernels.py").write_text(text)
    assert "data saved" in _run_loop(here)
    assert compare_versions.reuse_compiled_loops(here, changed) == 0
    assert not (changed / "simmodel" / "__pycache__").exists()
    assert compare_versions.reuse_compiled_loops(here, other) >= 2  # an index and its compiled code
    log = _run_loop(other)
    assert "data loaded" in log and "data saved" not in log
    assert "data saved" in _run_loop(changed)  # what the other checkout would have done without them


EARLIER = """# Benchmark results

- date 2026-11-30T04:37+00:00; git commit abc1234 (with uncommitted changes); load average at the end 1.69

## Goals

| goal | figure | verdict | margin |
|---|---|---|---|
| <= 1 s per replicate at scale 1 | 0.911 s | met | -9 % |
| Morris over all 56 levers and uncertainties at scale 1 within 30 min (issue 6) | 17.7 min | met | -41 % |

## Figures, as printed

### bandwidth (15 s)

```
  by stage: measured / bound at main-memory bandwidth (what holds the model back)
  start_year         342.6 ms  bound   5.62 ms      61x
  grow               100.6 ms  bound  10.18 ms      10x
```

### analyze (1066 s)

```
Morris over 56 factors (456 points) x 4 replicates at scale 1, joblib launcher
```
"""


def test_results_show_the_new_figures_beside_the_old(tmp_path):
    """make bench writes each goal's new figure beside the one of the RESULTS.md it replaces, each
    stage's distance from its bound now and before, and carries a skipped script's section over, marked."""
    import run_all

    out = tmp_path / "RESULTS.md"
    out.write_text(EARLIER)
    stages = [{"stage": "start_year", "measured_s": 0.2, "bound_s": 0.005, "ratio": 40.0},
              {"stage": "grow", "measured_s": 0.05, "bound_s": 0.01, "ratio": 5.0}]
    bw = {"scale": 1.0, "bytes_per_firm_step": 245.0, "bytes_per_replicate": 9.68e8, "bandwidth_memory": {"copy": 2.37e10},
          "bound_memory_s": 0.0409, "measured_s": 0.25, "stages": stages,
          "goal_stage_ratio": {"target": 5.0, "stage": "start_year", "ratio": 40.0, "met": False, "n_above": 1}}
    run_all.write_results(out, {"bandwidth": bw}, {"bandwidth": "printed now"}, {"bandwidth": 3.0}, quick=False)
    text = out.read_text()
    assert "| goal | figure | before | verdict | margin |" in text and "abc1234, 2026-11-30" in text
    assert "| every stage within 5x of its memory-bandwidth bound | furthest: start_year 40x | – | missed |" in text
    assert "| start_year | 40x | 61x |" in text and "| grow | 5x | 10x |" in text
    # analyze was not run: its section and goal come from the earlier file, marked as such
    assert "analyze: not re-run this time" in text and "Morris over 56 factors (456 points)" in text
    morris = "| Morris over all 56 levers and uncertainties at scale 1 within 30 min (issue 6) |"
    assert f"{morris} 17.7 min (carried from abc1234, 2026-11-30) | 17.7 min | not re-run |" in text
    assert "### bandwidth (3 s)" in text and "printed now" in text and "342.6 ms" not in text
    # run again, comparing with the first file: what was carried keeps where it came from
    first = tmp_path / "first.md"
    first.write_text(EARLIER)
    run_all.write_results(out, {"bandwidth": bw}, {"bandwidth": "printed again"}, {"bandwidth": 3.0}, quick=False,
                          before_path=first)
    again = out.read_text()
    assert "analyze: not re-run this time (`--skip`); the figures of abc1234, 2026-11-30" in again
    assert f"{morris} 17.7 min (carried from abc1234, 2026-11-30) | 17.7 min | not re-run |" in again
    assert "| start_year | 40x | 61x |" in again and "read from `first.md`" in again
    assert "another machine" not in again  # the earlier file names no processor: nothing to compare


def test_results_say_when_the_run_before_was_on_another_machine(tmp_path, monkeypatch):
    """The *before* column of a run on another processor differs by the machine as well as the code:
    RESULTS.md says so beside the goals, naming the other machine, and not when the machine is the same."""
    import run_all

    here = {"cpu": "Test CPU", "cores": 2, "l2_cache": "2 MiB", "l3_cache": "32 MiB", "ram_gb": 23.5, "python": "3.12",
            "numpy": "2", "mesa": "3", "scipy": "1", "pandas": "3", "date": "2026-12-04T17:49+00:00", "commit": "def5678",
            "load_average_1min": 1.0}
    monkeypatch.setattr(run_all, "machine", lambda: here)
    same = "- CPU: Test CPU, 2 cores; L2 2 MiB, L3 32 MiB; RAM 23.5 GB"
    for cpu_line, other in ((same, False), ("- CPU: Other CPU, 2 cores; L2 4 MiB, L3 480 MiB; RAM 23.5 GB", True)):
        out = tmp_path / "RESULTS.md"
        out.write_text(EARLIER.replace("- date", cpu_line + "\n- date"))
        run_all.write_results(out, {}, {}, {}, quick=False)
        text = out.read_text()
        assert same in text and "| goal | figure | before | verdict | margin |" in text
        assert ("**The run before was on another machine** (Other CPU, 2 cores; L2 4 MiB, L3 480 MiB; RAM 23.5 GB)"
                in text) == other


def test_run_all_refuses_an_unknown_skip_or_a_missing_before_file(tmp_path, capsys):
    """Before anything runs: a misspelt --skip name would run the script meant to be skipped."""
    import run_all

    for argv, words in ((["--skip", "analyse"], "--skip: unknown analyse; allowed: replicate"),
                        (["--before", str(tmp_path / "none.md")], "is not a file")):
        with pytest.raises(SystemExit) as exc:
            run_all.main(["--out", str(tmp_path / "R.md"), *argv])
        assert exc.value.code == 2 and words in capsys.readouterr().err
        assert not (tmp_path / "R.md").exists()


def test_run_all_says_at_once_when_the_explorer_benchmark_cannot_run(tmp_path):
    """The explorer's benchmark runs last: without the front end, make bench must stop before the half
    hour of the others, say what is missing and how to install it, and write no RESULTS.md."""
    empty = tmp_path / "cdn"
    empty.mkdir()
    out = tmp_path / "R.md"
    env = dict(os.environ, SOLARA_ASSETS_PROXY_CACHE_DIR=str(empty))
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, str(BENCH / "run_all.py"), "--out", str(out)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "front end is not installed" in proc.stderr and "python -m simmodel.explorer.assets" in proc.stderr
    assert "--skip explorer" in proc.stderr
    assert "=====" not in proc.stdout  # no benchmark started
    assert not out.exists() and time.perf_counter() - t < 60


def test_the_explorer_benchmark_plans_only_changes_the_page_can_estimate():
    """Every value the explorer's benchmark steps to lies inside the emulator's training range, where
    the page shows an estimate: a training range whose edges are off the controls' steps (land quota
    63 500-254 000 mu, steps of 5 000) must not be rounded past them. A stand-in emulator with one
    estimate per factor, moving across its training range."""
    from types import SimpleNamespace

    factors = [SimpleNamespace(name="land_quota_mu_per_year", low=63_500.0, high=254_000.0),
               SimpleNamespace(name="world_demand_shift_pct", low=-9.87, high=4.93),
               SimpleNamespace(name="fund_life_years", low=10.0, high=20.0)]

    def outside(values):
        return [f.name for f in factors if not f.low <= values[f.name] <= f.high]

    def predict(values):  # each estimate moves with one factor, across its training range
        return {f"T{i + 1}_2027_p_met": (values[f.name] - f.low) / (f.high - f.low) for i, f in enumerate(factors)}

    emu = SimpleNamespace(factors=factors, outside=outside, predict=predict,
                          validation={f"T{i + 1}_2027_p_met": {"rmse": 0.05} for i in range(len(factors))})
    start = {"land_quota_mu_per_year": 100_000.0, "world_demand_shift_pct": 0.0, "fund_life_years": 15}
    steps = bench_explorer.plan(emu, start, 40)
    assert len(steps) == 40
    values = dict(start)
    for name, v, *_ in steps:
        values[name] = v
        assert not outside(values), (name, v)
    # the quota went to the top of its grid: 235 000, the highest tenth of its range on a step of 5 000
    # inside it (the top tenth, 254 000, rounds to 255 000, outside)
    assert max(v for name, v, *_ in steps if name == "land_quota_mu_per_year") == 235_000
