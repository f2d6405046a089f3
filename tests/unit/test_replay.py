"""The history replay (issue 14): the levers of the time before the draft (PolicyHistory), a model
from the 2020 base year living through 2021-2024 under them, the base-year table of any year, and
the replay's 2024 state beside the 2024 table."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simmodel.config import CalibrateConfig, PopulationConfig, RunConfig, load_policy_history
from simmodel.data import base_year_path, load_base_year
from simmodel.errors import ConfigError, DataError
from simmodel.ensemble import load_inputs
from simmodel.levers import Levers, Uncertainties, no_new_policy_values, policy_history
from simmodel.model import SimModel
from simmodel.replay import GAP_QUANTITIES, replay_gap

ROOT = Path(__file__).resolve().parents[2]
SCALE = 0.05
SEED = 5


def test_levers_before_the_start_year_are_the_old_programmes_changed_by_each_step():
    ph = policy_history(2025, {"2020": {"pilot_zones_planned_per_batch": 0}, "2022": {"pilot_zones_planned_per_batch": 8},
                               "2023": {"ai_plus_adoption_pct_per_year": 6.0}})
    scenario = dataclasses.replace(Levers(), pilot_zones_planned_per_batch=9)
    nnp = no_new_policy_values()
    assert ph.levers_at(2021, scenario).pilot_zones_planned_per_batch == 0
    assert ph.levers_at(2022, scenario).pilot_zones_planned_per_batch == 8
    later = ph.levers_at(2024, scenario)
    assert later.pilot_zones_planned_per_batch == 8 and later.ai_plus_adoption_pct_per_year == 6.0  # steps accumulate
    assert later.n_talents_recruited_per_year == nnp["n_talents_recruited_per_year"]  # the rest: no_new_policy
    assert ph.levers_at(2019, scenario).pilot_zones_planned_per_batch == nnp["pilot_zones_planned_per_batch"]
    assert ph.levers_at(2025, scenario) is scenario and ph.levers_at(2030, scenario) is scenario


@pytest.mark.parametrize("steps, message", [
    ({"2020": {"pilot_zone_planned_per_batch": 0}}, "did you mean pilot_zones_planned_per_batch"),
    ({"2020": {"pilot_zones_planned_per_batch": -3}}, "out of range"),
    ({"2025": {"pilot_zones_planned_per_batch": 3}}, "must come before policy_history.start_year"),
    ({"twenty": {"pilot_zones_planned_per_batch": 3}}, "is not a year"),
])
def test_a_bad_policy_history_is_refused_with_what_is_allowed(steps, message):
    with pytest.raises(ConfigError, match=message):
        policy_history(2025, steps)


def test_the_history_scenario_file_is_valid_and_starts_the_draft_in_2025():
    ph = load_policy_history("scenarios/history.yaml")
    assert ph.start_year == 2025 and ph.steps
    assert ph.levers_at(2021, Levers()).pilot_zones_planned_per_batch == 0
    assert ph.levers_at(2022, Levers()).pilot_zones_planned_per_batch == 8


@pytest.fixture(scope="module")
def replay_inputs():
    cfg = RunConfig(calibration="prior")
    cfg.population.base_year = 2020
    cfg.policy_history.levers = {"2020": {"pilot_zones_planned_per_batch": 0},
                                 "2022": {"pilot_zones_planned_per_batch": 8}}
    inputs, _ = load_inputs(cfg)
    return inputs


@pytest.fixture(scope="module")
def replay(replay_inputs):
    m = SimModel(replay_inputs, Levers(), Uncertainties(), scale=SCALE, seed=SEED)
    return m, m.run()


def test_a_replay_runs_from_2020_to_2030(replay):
    m, traj = replay
    assert list(traj.index) == list(range(2020, 2031)) and m.policy_start_year == 2025
    assert m.streams.n_unplanned == 0  # the eleven years' streams were all planned (simmodel.model.streams)
    assert traj.loc[2020, "gdp_cny_100m"] == pytest.approx(64600, rel=0.02)
    assert traj.loc[2020, "t2_sei_share_pct"] == pytest.approx(33.1, abs=0.05)
    assert np.isfinite(traj.drop(columns=["t6_future_growth_pct_per_year"]).loc[2021:].to_numpy(float)).all()


def test_the_levers_of_the_time_act_before_2025_and_the_draft_from_2025(replay):
    m, traj = replay
    assert (traj.loc[[2021], "t5_pilot_zones"] == 0).all()  # no batch before the first one (2022)
    kinds = {(f.kind, f.vintage) for f in m.funds}
    # the draft's funds start in its first year, not in the replay's
    assert ("future", 2025) in kinds and not any(k == "future" and v < 2025 for k, v in kinds)
    # the mother funds set up after the base year appear in their year (base-year rows of 2024)
    assert ("mother_sci", 2024) in kinds and ("mother_srdi", 2024) in kinds
    # the draft's talent programmes: nobody before 2025
    assert traj.loc[2021:2024, "n_talents_active"].eq(0).all() and traj.loc[2026, "n_talents_active"] > 0
    # provincial vintages raised before 2025 keep the old 10-year life; those from 2025 take the lever
    life = {f.vintage: f.life_years for f in m.funds if f.kind == "provincial"}
    assert life[2022] == no_new_policy_values()["fund_life_years"] and life[2026] == Levers().fund_life_years


def test_a_2024_start_never_sees_the_history(inputs):
    """The default base year (2024) starts in the policy's first year: a policy history changes nothing."""
    a = SimModel(inputs, Levers(), Uncertainties(), scale=SCALE, seed=SEED).run()
    ph = policy_history(2025, {"2020": {"pilot_zones_planned_per_batch": 0, "n_attracted_projects_per_year": 0}})
    b = SimModel(dataclasses.replace(inputs, policy_history=ph), Levers(), Uncertainties(), scale=SCALE, seed=SEED).run()
    pd.testing.assert_frame_equal(a, b)


def test_the_base_year_table_of_any_year():
    default = ROOT / "calibration" / "data" / "base_year.csv"
    assert base_year_path(default, 2024) == default and base_year_path(default, None) == default
    assert base_year_path(default, 2020).name == "base_year_2020.csv"
    with pytest.raises(DataError, match="no base-year table for 2019.*base_year_2020.csv"):
        base_year_path(default, 2019)


def test_the_replay_gap_sets_the_replay_beside_the_later_table(replay):
    _, traj = replay
    table = load_base_year(ROOT / "calibration" / "data" / "base_year.csv")
    paths = {k: np.vstack([traj[k].to_numpy(float), traj[k].to_numpy(float) * 1.1]) for k in traj.columns}
    gap = replay_gap(paths, traj.index.to_numpy(int), table)
    assert set(gap["quantity"]) == {q for q, (ind, _) in GAP_QUANTITIES.items() if q in table and ind in traj.columns}
    g = gap.set_index("quantity").loc["gdp_cny_100m"]
    med = float(np.median([traj.loc[2024, "gdp_cny_100m"], 1.1 * traj.loc[2024, "gdp_cny_100m"]]))
    assert g["replay_median"] == pytest.approx(med) and g["gap_pct"] == pytest.approx(100 * (med / 90131 - 1))
    # a replay that stops before the table's year has no gap
    short = {k: v[:, :3] for k, v in paths.items()}
    assert replay_gap(short, traj.index.to_numpy(int)[:3], table).empty


def test_the_calibration_replays_from_2020_under_the_history_file():
    from simmodel.tasks import replay_inputs

    _, last, _, inputs = replay_inputs(CalibrateConfig(), None)
    assert inputs.base_year == 2020 and inputs.end_year == last
    assert inputs.policy_history == load_policy_history("scenarios/history.yaml")
    with pytest.raises(ConfigError, match="needs data after it"):
        replay_inputs(CalibrateConfig(population=PopulationConfig(scale=0.1, base_year=2025)), None)


def test_uncertainties_about_the_years_ahead_leave_the_replayed_years_alone(replay_inputs):
    """A world-demand shock acts on growth from the policy's first year: the replayed years 2021-2024
    are the same with or without it. (A breakthrough delay also lengthens the funds' expected time to
    exit from the start, as funds judge prospects: that channel is not confined to the years ahead.)"""
    calm = SimModel(replay_inputs, Levers(), Uncertainties(), scale=SCALE, seed=SEED).run()
    shocked = SimModel(replay_inputs, Levers(), Uncertainties(world_demand_shift_pct=-5.0), scale=SCALE, seed=SEED).run()
    pd.testing.assert_frame_equal(calm.loc[:2024], shocked.loc[:2024])
    assert (shocked.loc[2026:, "above_size_industry_va_cny_100m"] < calm.loc[2026:, "above_size_industry_va_cny_100m"]).all()
