"""The model (simmodel.model and the agents it drives): reproducibility, accounting identities,
ranges, the fiscal ledger, levers that change what they claim, and land allocation by hand."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from simmodel.agents.cities import allocate_land, request_order
from simmodel.agents.government import EQUITY_LEVERS
from simmodel.indicators import INDICATORS
from simmodel.levers import FundRegime, Levers, Uncertainties, no_new_policy_values, specs
from simmodel.model import SimModel
from simmodel.model.record import trajectory_frame

SMALL_SCALE = 0.05
SEED = 7
YEARS = list(range(2024, 2031))
SIM_YEARS = YEARS[1:]


@pytest.fixture(scope="module")
def traj(run_model):
    return run_model(scale=SMALL_SCALE, seed=SEED)


@pytest.fixture(scope="module")
def model_run(inputs):
    m = SimModel(inputs, Levers(), Uncertainties(), scale=SMALL_SCALE, seed=SEED)
    return m, m.run()


# ------------------------------------------------------------------------------------- shape and seeds
def test_trajectory_has_every_year_and_indicator(traj):
    assert traj.index.tolist() == YEARS
    assert set(traj.columns) == set(INDICATORS)


def test_same_seed_gives_identical_trajectories(inputs, traj):
    again = SimModel(inputs, Levers(), Uncertainties(), scale=SMALL_SCALE, seed=SEED).run()
    assert again.equals(traj)


def test_seed_sequence_and_its_integer_agree(inputs, traj):
    again = SimModel(inputs, Levers(), Uncertainties(), scale=SMALL_SCALE, seed=np.random.SeedSequence(SEED)).run()
    assert again.equals(traj)


def test_the_trajectory_is_the_records_frame(model_run):
    """trajectory_frame builds what DataFrame.from_records(records).set_index("year") builds (float
    columns in the records' order, an integer year index), and refuses records that disagree."""
    m, traj = model_run
    expected = pd.DataFrame.from_records(m.records).set_index("year")
    pd.testing.assert_frame_equal(traj, expected, check_exact=True, check_column_type=True, check_index_type=True)
    assert traj.columns.tolist() == [k for k in m.records[0] if k != "year"]
    with pytest.raises(ValueError, match="same indicators"):
        trajectory_frame([m.records[0], {k: v for k, v in m.records[1].items() if k != "gdp_cny_100m"}])


def test_another_seed_gives_different_trajectories(run_model, traj):
    other = run_model(scale=SMALL_SCALE, seed=SEED + 1)
    assert not other.equals(traj)
    assert (other.loc[SIM_YEARS, "gdp_cny_100m"] != traj.loc[SIM_YEARS, "gdp_cny_100m"]).all()


def test_base_year_does_not_depend_on_levers(run_model, traj):
    """Levers act from the first simulated year: the base-year row is the same under the counterfactual."""
    other = run_model(scale=SMALL_SCALE, seed=SEED, **no_new_policy_values())
    assert other.loc[[2024]].equals(traj.loc[[2024]])
    assert not other.equals(traj)


def test_every_firm_has_its_rates_after_each_step(inputs):
    """Entrants (start-ups and spin-offs, whose rates are set in one call at entry) and attracted
    projects (set with everyone's in Q1) never run a quarter with unset rates: an exit hazard is
    positive for every firm, so a zero probability would mean rates never set."""
    m = SimModel(inputs, Levers(), Uncertainties(), scale=0.03, seed=11)
    for _ in range(8):
        before = m.firms.n
        m.step()
        f = m.firms
        assert f.n > before
        assert (f.p_exit_q[f.alive] > 0).all() and np.isfinite(f.g_annual[f.alive]).all()
        assert (f.p_innovate_q[f.alive] > 0).all()


# ------------------------------------------------------------------------------------- accounting
def test_firm_conservation(traj):
    """n_firms(t) = n_firms(t-1) + n_entries(t) - n_exits(t), in firms of the scaled population."""
    n = traj["n_firms"] * SMALL_SCALE
    flows = (traj["n_entries"] - traj["n_exits"]) * SMALL_SCALE
    for y in SIM_YEARS:
        assert n[y] == pytest.approx(n[y - 1] + flows[y], abs=1e-6), y
    for col in ("n_firms", "n_entries", "n_exits", "n_spinoffs"):
        counts = traj.loc[SIM_YEARS, col] * SMALL_SCALE
        np.testing.assert_allclose(counts, np.round(counts), atol=1e-6, err_msg=col)


def test_spinoffs_are_part_of_entries(traj):
    assert (traj.loc[SIM_YEARS, "n_spinoffs"] <= traj.loc[SIM_YEARS, "n_entries"]).all()


def test_shares_are_percentages(traj):
    for col in ("t1_emerging_share_415x_pct", "t2_sei_share_pct", "t3_digital_core_share_gdp_pct", "rd_intensity_pct"):
        assert traj[col].between(0.0, 100.0).all(), col


def test_counts_and_flows_are_non_negative(traj):
    cols = [k for k, (unit, _, _) in INDICATORS.items() if unit in ("count", "mu", "CNY 100m")]
    assert "n_exits" in cols and "fiscal_cost_grants_cny_100m" in cols
    for col in cols:
        assert (traj[col].dropna() >= 0).all(), col
        assert traj.loc[SIM_YEARS, col].notna().all(), col


def test_flows_are_undefined_in_the_base_year(traj):
    for col in ("n_entries", "n_exits", "land_allocated_mu", "fund_deployed_cny_100m", "fiscal_cost_grants_cny_100m"):
        assert np.isnan(traj.loc[2024, col]), col


def test_parts_do_not_exceed_wholes(traj):
    assert (traj["emerging_cluster_revenue_cny_100m"] <= traj["cluster_415x_revenue_cny_100m"]).all()
    assert (traj["sei_va_cny_100m"] <= traj["above_size_industry_va_cny_100m"]).all()
    assert (traj["digital_core_va_cny_100m"] <= traj["gdp_cny_100m"]).all()
    assert (traj["n_above_size_firms"] <= traj["n_firms"]).all()
    stages = [c for c in INDICATORS if c in ("n_startup", "n_tech_sme", "n_conventional", "n_high_tech", "n_little_giant", "n_single_champion")]
    np.testing.assert_allclose(traj[stages].sum(axis=1), traj["n_firms"])


def test_ledger_books_only_to_registered_levers(model_run):
    m, _ = model_run
    ledger = m.fiscal_cost_by_lever()
    assert ledger, "nothing was booked"
    unknown = set(ledger) - set(specs(Levers))
    assert not unknown, f"booked to names that are not levers: {sorted(unknown)}"
    assert set(EQUITY_LEVERS) <= set(specs(Levers))
    assert all(len(v) == len(SIM_YEARS) for v in ledger.values())


def test_ledger_adds_up_to_the_fiscal_cost_columns(model_run):
    m, traj = model_run
    ledger = m.fiscal_cost_by_lever()
    equity = np.sum([v for k, v in ledger.items() if k in EQUITY_LEVERS], axis=0)
    grants = np.sum([v for k, v in ledger.items() if k not in EQUITY_LEVERS], axis=0)
    np.testing.assert_allclose(traj.loc[SIM_YEARS, "fiscal_cost_equity_cny_100m"], equity)
    np.testing.assert_allclose(traj.loc[SIM_YEARS, "fiscal_cost_grants_cny_100m"], grants)


def test_fund_commitments_booked_at_lever_values(model_run):
    m, _ = model_run
    led = m.fiscal_cost_by_lever()
    lv = Levers()
    assert led["future_industry_fund_cny_100m"] == [lv.future_industry_fund_cny_100m] + [0.0] * (len(SIM_YEARS) - 1)
    assert led["state_vc_fund_cny_100m"] == [lv.state_vc_fund_cny_100m] + [0.0] * (len(SIM_YEARS) - 1)
    assert led["provincial_fund_commitment_cny_100m_per_year"] == [lv.provincial_fund_commitment_cny_100m_per_year] * len(SIM_YEARS)


# ------------------------------------------------------------------------------------- levers
def test_no_talents_recruited_or_cultivated_means_none_active(run_model):
    t = run_model(seed=SEED, n_talents_recruited_per_year=0, n_talents_cultivated_per_year=0)
    assert (t["n_talents_active"] == 0).all()


def test_talents_arrive_by_default(traj):
    assert (traj.loc[SIM_YEARS, "n_talents_active"] > 0).all()


def test_no_batches_planned_keeps_t5_at_or_below_base(run_model, traj):
    t = run_model(seed=SEED, pilot_zones_planned_per_batch=0)
    assert (t["t5_pilot_zones"] <= t.loc[2024, "t5_pilot_zones"]).all()
    assert traj["t5_pilot_zones"].max() > traj.loc[2024, "t5_pilot_zones"]  # batches designate zones when planned


def test_pilot_zones_are_designated_only_where_places_qualify(inputs):
    """A batch designates at most the planned number, and only places that meet the criteria: with no
    place qualifying (criterion above any place's revenue) no zone is added, however large the plan."""
    strict = dataclasses.replace(inputs, params=dataclasses.replace(inputs.params, pilot_zone_min_future_revenue_cny_100m=1e9,
                                                                     pilot_zone_batch_prob_annual=1.0))
    m = SimModel(strict, dataclasses.replace(Levers(), pilot_zones_planned_per_batch=30), Uncertainties(), scale=SMALL_SCALE, seed=SEED)
    t = m.run()
    assert (t["t5_pilot_zones"] <= t.loc[2024, "t5_pilot_zones"]).all()
    easy = dataclasses.replace(inputs, params=dataclasses.replace(inputs.params, pilot_zone_min_future_revenue_cny_100m=0.0,
                                                                   pilot_zone_min_future_firms=1, pilot_zone_batch_prob_annual=1.0,
                                                                   pilot_zone_removal_rate_annual=0.0))
    m = SimModel(easy, dataclasses.replace(Levers(), pilot_zones_planned_per_batch=2), Uncertainties(), scale=SMALL_SCALE, seed=SEED)
    t = m.run()
    assert (t["t5_pilot_zones"].diff().dropna() <= 2).all()  # never more than the plan in a batch
    assert t.loc[2025, "t5_pilot_zones"] == t.loc[2024, "t5_pilot_zones"] + 2


def test_national_clusters_are_won_in_rounds_from_a_finite_pool(inputs):
    """T4 is decided by the national competition: no round, no win; the province cannot win more
    than its candidate core areas."""
    none = dataclasses.replace(inputs, params=dataclasses.replace(inputs.params, national_cluster_round_prob_annual=0.0))
    t = SimModel(none, Levers(), Uncertainties(), scale=SMALL_SCALE, seed=SEED).run()
    assert (t["t4_national_clusters"] == t.loc[2024, "t4_national_clusters"]).all()
    allwin = dataclasses.replace(inputs, params=dataclasses.replace(
        inputs.params, national_cluster_round_prob_annual=1.0, national_cluster_zhejiang_share=0.18,
        national_cluster_winners_per_round=35))
    t = SimModel(allwin, dataclasses.replace(Levers(), national_cluster_bid_intensity=3.0), Uncertainties(), scale=SMALL_SCALE,
                 seed=SEED).run()
    assert t["t4_national_clusters"].max() <= inputs.base["n_provincial_cluster_core_areas"].value
    t0 = SimModel(allwin, dataclasses.replace(Levers(), national_cluster_bid_intensity=0.0), Uncertainties(), scale=SMALL_SCALE,
                  seed=SEED).run()
    assert (t0["t4_national_clusters"] == t0.loc[2024, "t4_national_clusters"]).all()  # no bids, no wins


def test_fund_life_applies_to_vintages_raised_from_the_first_simulated_year(inputs):
    m = SimModel(inputs, dataclasses.replace(Levers(), fund_life_years=8), Uncertainties(), scale=SMALL_SCALE, seed=SEED)
    m.run()
    gov = [fd for fd in m.funds if fd.government]
    old = {fd.life_years for fd in gov if fd.vintage <= m.base_year}
    new = {fd.life_years for fd in gov if fd.vintage > m.base_year}
    assert old == {no_new_policy_values()["fund_life_years"]} and new == {8}


def test_future_type_designation_lapses(inputs):
    p = dataclasses.replace(inputs.params, future_type_support_years=1)
    m = SimModel(dataclasses.replace(inputs, params=p), Levers(), Uncertainties(), scale=SMALL_SCALE, seed=SEED)
    for _ in range(8):
        m.step()
    f = m.firms
    # after two years with one-year support, only the latest cohort is future-type
    assert (f.future_type_until_q[f.future_type] > m.q - 1).all()
    assert f.future_type.sum() <= round(Levers().n_future_type_firms_per_year * SMALL_SCALE) + 1


def test_short_life_yearly_profit_funds_shun_long_horizon_sectors(run_model, traj):
    t = run_model(seed=SEED, fund_life_years=8, fund_evaluation_regime=FundRegime.yearly_profit)
    default = traj["fund_deployed_long_horizon_cny_100m"].sum()
    assert default > 0, "the default funds should invest in long-horizon sectors"
    assert t["fund_deployed_long_horizon_cny_100m"].sum() < default


def test_no_land_means_more_refusals_and_no_allocation(run_model, traj):
    t = run_model(seed=SEED, land_quota_mu_per_year=0.0, land_renovation_mu_per_year=0.0)
    assert t["n_land_refusals"].sum() > traj["n_land_refusals"].sum()
    assert (t.loc[SIM_YEARS, "land_allocated_mu"] == 0).all()


# ------------------------------------------------------------------------------------- land by hand
def test_allocate_land_by_hand():
    """Two cities; budget 10 and 5 mu this quarter; half reserved for priority requests.

    City 0: A (priority, efficiency 3, 4 mu) fits the reserve of 5; B (priority, 2, 3 mu) does not
    fit what is left of it (1) and waits. Of the 6 mu left, C (8 mu) is too large and is skipped,
    B (3) and then the small D (1) behind C are served: A, B, D granted, 8 mu used.
    City 1: E (priority, 3 mu) exceeds the reserve of 2.5; from the whole 5 mu, E and F (2) are
    served and G (1) finds nothing left.
    """
    #                      A     B     C      D     E     F     G
    request = np.array([4.0, 3.0, 8.0, 1.0, 3.0, 2.0, 1.0])
    city = np.array([0, 0, 0, 0, 1, 1, 1])
    priority = np.array([True, True, False, False, True, False, False])
    efficiency = np.array([3.0, 2.0, 5.0, 1.0, 1.0, 9.0, 0.0])
    granted, used = allocate_land(request, city, priority, efficiency, np.array([10.0, 5.0]), 0.5)
    np.testing.assert_array_equal(granted, [True, True, False, True, True, True, False])
    np.testing.assert_allclose(used, [8.0, 5.0])


def test_allocate_land_with_no_requests():
    granted, used = allocate_land(np.zeros(0), np.zeros(0, np.int64), np.zeros(0, bool), np.zeros(0),
                                  np.array([3.0, 4.0]), 0.5)
    assert granted.size == 0
    np.testing.assert_array_equal(used, [0.0, 0.0])


@pytest.mark.parametrize("share,expected", [
    # one city, 10 mu: P1 (priority, efficiency 1, 4 mu), P2 (priority, 0, 4 mu), N (other, 9, 6 mu)
    (1.0, [True, True, False]),  # all reserved: both priority requests first
    (0.5, [True, False, True]),  # P1 from the reserve of 5; the open 6 mu go to the most efficient, N
    (0.0, [True, False, True]),  # nothing reserved: by efficiency, N (6 mu) first, then P1 (4 mu), P2 finds none
])
def test_allocate_land_priority_share_is_what_is_reserved(share, expected):
    """Art. 21 (lever land_priority_emerging_pct): only the reserved share of the budget is served to
    priority requests first; the rest goes by efficiency to every request."""
    request = np.array([4.0, 4.0, 6.0])
    priority = np.array([True, True, False])
    efficiency = np.array([1.0, 0.0, 9.0])
    granted, _ = allocate_land(request, np.zeros(3, np.int64), priority, efficiency, np.array([10.0]), share)
    np.testing.assert_array_equal(granted, expected)


def test_request_order_is_lexsorts_order():
    """By city, most efficient first, priority first among equal efficiencies, then by position, as
    np.lexsort orders them, for any number of requests and cities, with many equal efficiencies
    (priority decides) or none, a NaN efficiency (last in its city); a city code out of range is
    refused."""
    rng = np.random.default_rng(11)
    for trial in range(400):
        r = int(rng.integers(0, 80)) if trial % 4 < 2 else int(rng.integers(1000, 3000))
        n_cities = int(rng.integers(1, 6))
        city = rng.integers(0, n_cities, r)
        # half the trials draw efficiencies from four values: equal ones, where priority decides
        eff = rng.normal(size=r) if trial % 2 else rng.integers(0, 4, r).astype(float)
        if trial % 8 == 3 and r:
            eff[rng.integers(r)] = np.nan
        pri = rng.random(r) < 0.5
        np.testing.assert_array_equal(request_order(city, eff, pri, n_cities), np.lexsort((~pri, -eff, city)))
    with pytest.raises(ValueError, match="city codes must be in 0 .. 2"):
        request_order(np.array([0, 3]), np.zeros(2), np.zeros(2, bool), 3)
    for bad in ([0, 3], [-1, 1]):  # allocate_land checks the codes in its compiled call: the same refusal
        with pytest.raises(ValueError, match=r"allocate_land: city codes must be in 0 .. 2, got -?\d .. \d"):
            allocate_land(np.ones(2), np.array(bad), np.zeros(2, bool), np.zeros(2), np.full(3, 5.0), 0.5)


def _greedy(request: np.ndarray, budget: float) -> np.ndarray:
    """Reference: serve in order, skip what does not fit what is left."""
    out = np.zeros(request.size, bool)
    for i, r in enumerate(request):
        if r <= budget:
            out[i], budget = True, budget - r
    return out


def test_allocate_land_skips_but_does_not_stop():
    """A request that does not fit is skipped and every later request that fits what is left is
    served (cities.py: 'a request that does not fit is skipped, not a stop')."""
    request = np.array([10.0, 1.0, 7.0, 1.0, 6.0, 1.0, 5.0, 3.0, 2.0, 1.0])
    n = request.size
    granted, used = allocate_land(request, np.zeros(n, np.int64), np.zeros(n, bool), -np.arange(n, dtype=float),
                                  np.array([17.0]), 0.0)
    expected = _greedy(request, 17.0)  # 10, 1, 1, 1, 3, 1: all 17 mu
    np.testing.assert_array_equal(granted, expected)
    assert used[0] == pytest.approx(17.0)


def test_allocate_land_never_exceeds_a_budget():
    rng = np.random.default_rng(3)
    for _ in range(200):
        r = int(rng.integers(1, 40))
        request = rng.lognormal(0.0, 1.0, r)
        city = rng.integers(0, 3, r)
        budget = rng.uniform(0.0, 20.0, 3)
        granted, used = allocate_land(request, city, rng.uniform(size=r) < 0.5, rng.normal(size=r), budget, rng.uniform())
        np.testing.assert_allclose(used, np.bincount(city[granted], weights=request[granted], minlength=3))
        assert (used <= budget + 1e-9).all()


def test_every_firm_ramping_up_ai_plus_is_among_those_the_model_lists(inputs):
    """The innovations read the AI+ counters of the model's list of adopters only (ai_ramping): after
    every quarter of a run every firm still ramping up is on it (and some do ramp up: the check is
    not of an empty set)."""
    m = SimModel(inputs, dataclasses.replace(Levers(), ai_plus_adoption_pct_per_year=20.0), Uncertainties(),
                 scale=SMALL_SCALE, seed=SEED)
    seen = 0
    while m.q < m.n_quarters:
        m.step()
        ramping = np.flatnonzero(m.firms.ai_ramp_q > 0)
        assert np.isin(ramping, m.ai_ramping).all(), m.q
        seen += ramping.size
    assert seen > 0


def test_close_hands_the_firms_back_at_once_and_the_model_cannot_step_again(inputs):
    """SimModel.close (and leaving ``with``) frees the firm arrays without waiting for Python's cycle
    collector, keeps what a caller reads after a run, and refuses to step a closed model."""
    import gc
    import weakref

    gc.disable()  # what frees the firms must be close itself, not a collection
    try:
        with SimModel(inputs, Levers(), Uncertainties(), scale=SMALL_SCALE, seed=SEED) as m:
            traj = m.run()
            firms = weakref.ref(m.firms)
            masks = weakref.ref(m.government._masks[0])
        assert firms() is None and masks() is None
    finally:
        gc.enable()
    assert m.firms is None and trajectory_frame(m.records).equals(traj) and m.fiscal_cost_by_lever()
    with pytest.raises(RuntimeError, match="closed"):
        m.step()
