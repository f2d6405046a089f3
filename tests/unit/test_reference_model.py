"""The idiomatic Mesa reference (benchmarks/reference_mesa.py) against the vectorised model: same
indicator columns, same base year, and agreement in distribution over replicates."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import bench_reference as br  # noqa: E402
from reference_mesa import FirmAgent, ReferenceModel  # noqa: E402

from simmodel.config import RunConfig  # noqa: E402
from simmodel.levers import Levers, Uncertainties  # noqa: E402
from simmodel.model import SimModel  # noqa: E402

TINY = 0.01  # about 1 200 firms: a reference replicate in well under a second


def test_compare_samples_flags_a_gross_mismatch_and_passes_equal_ones():
    rng = np.random.default_rng(0)
    base = {"n_firms": 1000 + 20 * rng.standard_normal(6), "revenue": 50 + 2 * rng.standard_normal(6)}
    same = {"n_firms": 1000 + 20 * rng.standard_normal(6), "revenue": 50 + 2 * rng.standard_normal(6)}
    off = {"n_firms": same["n_firms"] * 1.2, "revenue": same["revenue"]}
    assert br.compare_samples(base, same)["consistent"]
    res = br.compare_samples(base, off)
    assert not res["consistent"]
    assert [r["indicator"] for r in res["rows"] if r["differs"]] == ["n_firms"]
    assert res["threshold"] == pytest.approx(0.05 / 4)


def test_compare_samples_takes_a_sample_that_is_constant_in_one_version():
    """A count that one version holds fixed (every replicate the same) against one that varies: the
    tests run without a warning (the suite turns warnings into errors), a gross shift is still
    flagged and equal counts pass."""
    rng = np.random.default_rng(1)
    varying = {"n": 340.0 + rng.integers(-2, 3, 6).astype(float)}
    assert br.compare_samples({"n": np.full(6, 340.0)}, varying)["consistent"]
    assert not br.compare_samples({"n": np.full(6, 400.0)}, varying)["consistent"]
    assert br.compare_samples({"n": np.full(6, 7.0)}, {"n": np.full(6, 7.0)})["consistent"]


def test_reference_starts_from_the_same_firms_and_reports_the_same_columns(inputs):
    vec = SimModel(inputs, Levers(), Uncertainties(), scale=TINY, seed=3)
    ref = ReferenceModel(inputs, Levers(), Uncertainties(), scale=TINY, seed=3)
    assert len(ref.agents_by_type[FirmAgent]) == int(vec.firms.alive.sum())
    assert sorted(a.revenue for a in ref.agents_by_type[FirmAgent]) == pytest.approx(np.sort(vec.firms.revenue).tolist())
    a, b = vec.run(), ref.run()
    assert list(a.columns) == list(b.columns) and list(a.index) == list(b.index)
    assert a.loc[inputs.base_year].equals(b.loc[inputs.base_year])  # the base year is shared code
    assert len(ref.datacollector.get_model_vars_dataframe()) == ref.n_quarters
    # the agents are the firms: after the run, the live agents are the alive rows
    assert len(ref.agents_by_type[FirmAgent]) == int(ref.firms.alive.sum())
    assert b.loc[2030, "n_firms"] * TINY == pytest.approx(len(ref.agents_by_type[FirmAgent]))


def test_reference_is_reproducible_from_its_seed(inputs):
    runs = [ReferenceModel(inputs, Levers(), Uncertainties(), scale=TINY, seed=s).run() for s in (5, 5, 6)]
    assert runs[0].equals(runs[1])
    assert not runs[0].equals(runs[2])


def test_quick_agreement_in_distribution(inputs):
    """A handful of replicates: enough to catch a gross mismatch (counts off by 20 %)."""
    chk = br.distribution_check(inputs, RunConfig(), scale=0.02, replicates=6)
    assert {r["indicator"] for r in chk["rows"]} == {f"{k}@{y}" for k, y in br.CHECKED}
    assert all(0.0 <= r["p_ks"] <= 1.0 and 0.0 <= r["p_welch"] <= 1.0 for r in chk["rows"])
    bad = [(r["indicator"], round(r["rel_diff_pct"], 1), r["p_ks"], r["p_welch"]) for r in chk["rows"] if r["differs"]]
    assert chk["consistent"], bad


def test_the_check_catches_a_reference_with_twice_the_exits(inputs, monkeypatch):
    def exit_twice(self):  # two chances to exit a quarter: about twice the hazard
        FirmAgent_exit(self)
        if self.alive:
            FirmAgent_exit(self)

    FirmAgent_exit = FirmAgent.exit
    monkeypatch.setattr(FirmAgent, "exit", exit_twice)
    # 6 replicates: with 4 the Welch p-value (~0.001) sat at the Bonferroni threshold over ~46 tests
    chk = br.distribution_check(inputs, RunConfig(), scale=TINY, replicates=6)
    flagged = {r["indicator"] for r in chk["rows"] if r["differs"]}
    assert "n_exits@2027" in flagged


def test_quick_mode_of_the_reference_benchmark_runs(tmp_path, capsys):
    res = br.main(["--quick", "--json", str(tmp_path / "ref.json")])
    assert (tmp_path / "ref.json").exists()
    assert "distribution" in res and len(res["distribution"]["rows"]) == len(br.CHECKED)
    for r in res["speed"]:
        assert r["reference_us_per_firm_step"] > 0 and r["vectorised_us_per_firm_step"] > 0
    out = capsys.readouterr().out
    assert "Bonferroni" in out and "goal: >= 100x" in out


@pytest.mark.slow
def test_full_agreement_in_distribution(inputs):
    """40 replicates of each at about 6 000 firms (several minutes on one core)."""
    chk = br.distribution_check(inputs, RunConfig(), scale=0.05, replicates=40)
    bad = [(r["indicator"], round(r["rel_diff_pct"], 1), r["p_ks"], r["p_welch"]) for r in chk["rows"] if r["differs"]]
    assert chk["consistent"], bad
