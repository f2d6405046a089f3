"""The benchmark scripts' quick modes run and print their figures (so the scripts cannot rot)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_bandwidth  # noqa: E402
import bench_replicate  # noqa: E402


def test_bench_replicate_quick(tmp_path, capsys):
    res = bench_replicate.main(["--quick", "--json", str(tmp_path / "r.json")])
    assert set(res["goals"]) == {"seconds_per_replicate", "seconds_per_drawn_replicate", "seconds_per_replay_2020_2030",
                                 "flat_per_firm_step", "peak_memory", "stage_exponent"}
    one = json.loads((tmp_path / "r.json").read_text())["one_to_one"]
    assert one["seconds_per_replicate"] > 0 and one["seconds_per_drawn_replicate"] > 0
    assert one["seconds_per_replay_2020_2030"] > 0
    assert abs(sum(res["stage_share"].values()) - 1.0) < 1e-9
    assert res["memory"]["peak_rss_mb"] >= res["memory"]["baseline_rss_mb"] > 0
    # the hot path: Python work per step must not grow with the firms (a per-firm loop gives ~1)
    assert res["python_lines_per_step"]["exponent"] < 0.3
    out = capsys.readouterr().out
    assert "goals:" in out and "per firm-step" in out


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
    assert "no indicator differs" in capsys.readouterr().out
