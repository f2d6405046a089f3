"""Every scenario file composes with Hydra and runs a few steps; no_new_policy lowers T2 and T3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf
from scipy import stats

from simmodel.cli import CONF_DIR, SCENARIO_DIR, register_configs, scenario_question
from simmodel.config import RunConfig, validate
from simmodel.ensemble import load_inputs, run_ensemble
from simmodel.model import SimModel

SCENARIOS = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


def compose_run(overrides: list[str]) -> RunConfig:
    register_configs()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="run", overrides=overrides)
    return OmegaConf.to_object(cfg)


@pytest.mark.parametrize("slug", SCENARIOS)
def test_scenario_composes_validates_and_runs_a_few_steps(slug):
    rc = compose_run([f"scenario={slug}"])
    validate(rc)
    text = (SCENARIO_DIR / f"{slug}.yaml").read_text(encoding="utf-8")
    assert text.startswith("# @package _global_")
    assert scenario_question(slug), f"{slug}: header has no '# Question:' line"
    assert scenario_question(slug, "zh"), f"{slug}: header has no '# 问题:' line (the question in Chinese, for memos)"
    assert f"simmodel run scenario={slug}" in text, f"{slug}: header lacks the command that runs it"
    inputs, _ = load_inputs(rc)
    model = SimModel(inputs, rc.levers, rc.uncertainties, scale=0.03, seed=1)
    for _ in range(5):
        model.step()
    assert model.q == 5 and len(model.records) == 2


def test_baseline_is_the_registry_defaults():
    """The sweep finds its reference by value on this (simmodel.sweep.is_reference)."""
    from simmodel.levers import Levers, Uncertainties

    base = compose_run(["scenario=baseline"])
    assert base.levers == Levers() and base.uncertainties == Uncertainties()
    assert not base.params.overrides and not base.population.overrides


def test_no_new_policy_lowers_t2_and_t3_in_2027_on_paired_replicates():
    base = compose_run(["scenario=baseline"])
    nnp = compose_run(["scenario=no_new_policy"])
    inputs, _ = load_inputs(base)
    n = 16
    a = run_ensemble(inputs, base.levers, base.uncertainties, scale=0.2, root_seed=2027, replicates=n, workers=2)
    b = run_ensemble(inputs, nnp.levers, nnp.uncertainties, scale=0.2, root_seed=2027, replicates=n, workers=2)
    for ind in ("t2_sei_share_pct", "t3_digital_core_share_gdp_pct"):
        va = np.array([r.trajectory.loc[2027, ind] for r in a])
        vb = np.array([r.trajectory.loc[2027, ind] for r in b])
        assert np.median(vb) < np.median(va), ind
        wins = int((va > vb).sum())
        # probability of improvement over paired replicates (common random numbers), sign test
        assert wins / n >= 0.75, (ind, wins)
        assert stats.binomtest(wins, n, 0.5, alternative="greater").pvalue < 0.05, (ind, wins)


def test_every_config_value_is_typed():
    rc = compose_run([])
    assert isinstance(rc, RunConfig)
    assert Path(CONF_DIR / "scenario").resolve() == SCENARIO_DIR.resolve()
