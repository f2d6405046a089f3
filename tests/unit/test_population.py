"""Base-year synthesis (simmodel.population): the 1:1 population reproduces the observed aggregates
of the base-year table within stated tolerances."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simmodel import indicators as ind
from simmodel.agents.firms import ABOVE_SIZE_REVENUE_CNY_100M, FirmStage, high_tech_rd_threshold, stage_mask
from simmodel.config import PROJECT_ROOT
from simmodel.data import load_base_year
from simmodel.levers import Levers, Uncertainties
from simmodel.model import SimModel
from simmodel.population import Synthesiser

SEED = 2024
BASE_YEAR = PROJECT_ROOT / "calibration" / "data" / "base_year.csv"
PINNED = ("smart_iot", "ic", "software")  # the emerging clusters with a revenue row in the data (simmodel.evidence)


@pytest.fixture(scope="module")
def model(inputs) -> SimModel:
    return SimModel(inputs, Levers(), Uncertainties(), scale=1.0, seed=SEED)  # construction synthesises


@pytest.fixture(scope="module")
def agg(model):
    return ind.sector_aggregates(model.firms, model.sectors.n, model.calib.va_ratio, model.scale)


def base(model, name: str) -> float:
    return model.base[name].value


def test_above_size_industry_va_matches_base(model, agg):
    got = ind.above_size_industry_va_cny_100m(agg, model.sectors)
    assert got == pytest.approx(base(model, "above_size_industry_va_cny_100m"), rel=0.005)


def test_415x_revenue_matches_base(model, agg):
    got = agg.revenue_above[model.sectors.in_415x].sum()
    assert got == pytest.approx(base(model, "cluster_415x_revenue_cny_100m"), rel=0.005)


def test_t1_matches_base(model, agg):
    got = ind.t1_emerging_share_415x_pct(agg, model.sectors)
    assert got == pytest.approx(base(model, "t1_emerging_share_415x_pct"), abs=0.05)


def test_t2_matches_base(model, agg):
    got = ind.t2_sei_share_pct(agg, model.sectors, model.calib.sei_share)
    assert got == pytest.approx(base(model, "t2_sei_share_pct"), abs=0.05)


def test_t3_matches_base(model, agg):
    c = model.calib
    got = ind.t3_digital_core_share_gdp_pct(agg, model.sectors, c.digital_scale, c.rest_of_economy_va_cny_100m)
    assert got == pytest.approx(base(model, "digital_core_va_cny_100m") / base(model, "gdp_cny_100m") * 100, abs=0.05)


def test_gdp_matches_base(model, agg):
    got = ind.gdp_cny_100m(agg, model.calib.rest_of_economy_va_cny_100m)
    assert got == pytest.approx(90131, rel=0.001)


def test_future_industry_revenue_matches_sector_table(model, agg):
    s = model.sectors
    assert ind.future_industry_revenue_cny_100m(agg, s) == pytest.approx(s.base_revenue_cny_100m[s.is_future].sum(), rel=0.005)


def test_the_future_revenue_factor_scales_every_future_sector(inputs):
    """future_base_revenue_factor (a drawn base-year assumption) multiplies the placeholders of
    sectors.csv; every other sector's target stays."""
    q = inputs.base["future_base_revenue_factor"]
    assert q.value == 1.0 and q.low < 1.0 < q.high and q.kind == "assumption"
    base = dict(inputs.base)
    base["future_base_revenue_factor"] = dataclasses.replace(q, value=2.0)
    s = inputs.sectors
    one = Synthesiser(s, inputs.cities, inputs.base, inputs.params, 0.05).targets
    two = Synthesiser(s, inputs.cities, base, inputs.params, 0.05).targets
    assert two[s.is_future] == pytest.approx(2.0 * one[s.is_future])
    assert two[~s.is_future] == pytest.approx(one[~s.is_future])


@pytest.mark.parametrize("stage,quantity,expected", [
    ("n_high_tech", "n_high_tech_enterprises", 46000),
    ("n_little_giant", "n_little_giants", 1832),
    ("n_single_champion", "n_single_champions", 233),
])
def test_designation_counts_match_base(model, stage, quantity, expected):
    assert base(model, quantity) == expected
    assert ind.stage_counts(model.firms, model.scale)[stage] == pytest.approx(expected, rel=0.01)


def test_rd_intensity_matches_base(model):
    assert model.records[0]["rd_intensity_pct"] == pytest.approx(3.22, abs=0.02)


def test_designated_firms_meet_the_high_tech_rd_threshold(model):
    f = model.firms
    high = stage_mask(f.stage, FirmStage.HIGH_TECH, FirmStage.LITTLE_GIANT, FirmStage.SINGLE_CHAMPION)
    assert high.sum() > 0
    thr = high_tech_rd_threshold(f.revenue[high])
    short = f.rd_intensity[high] < thr - 1e-12
    assert not short.any(), (
        f"{short.sum()} of {high.sum()} high-tech / little-giant / champion firms are below their certification "
        f"R&D threshold (worst: {np.min(f.rd_intensity[high] / thr):.2f} of it)")


def test_above_size_firm_count_matches_base(model):
    """Every firm synthesised as above-size keeps revenue >= CNY 20 m: the number of firms at or
    above the threshold is the base-year count (up to the stochastic rounding of sector counts)."""
    n_above = int((model.firms.revenue >= ABOVE_SIZE_REVENUE_CNY_100M).sum())
    assert n_above == pytest.approx(base(model, "n_above_size_firms"), abs=0.001 * base(model, "n_above_size_firms"))
    assert model.records[0]["n_above_size_firms"] == n_above


def test_stage_revenue_rules(model):
    f = model.firms
    p = model.params
    lo, hi = p.little_giant_min_revenue_cny_100m, p.little_giant_max_revenue_cny_100m
    lg = f.stage == FirmStage.LITTLE_GIANT
    champ = f.stage == FirmStage.SINGLE_CHAMPION
    assert ((f.revenue[lg] >= lo) & (f.revenue[lg] <= hi)).all()
    assert (f.revenue[champ] >= p.single_champion_min_revenue_cny_100m).all()
    assert model.sectors.is_industry[f.sector[champ]].all()
    assert (f.designated == (lg | champ)).all()


def test_population_is_alive_and_from_the_base(model):
    f = model.firms
    assert f.alive.all() and (f.origin == 0).all() and (f.exit_q == -1).all()
    assert (f.revenue > 0).all() and (f.age_q >= 4).all()


def test_pilot_zones_and_national_clusters_at_base(model):
    assert model.records[0]["t5_pilot_zones"] == base(model, "n_pilot_zones")
    assert model.records[0]["t4_national_clusters"] == base(model, "n_national_clusters") == 8


def test_base_record_agrees_with_indicator_functions(model, agg):
    rec = model.records[0]
    assert rec["year"] == 2024
    assert rec["t1_emerging_share_415x_pct"] == pytest.approx(ind.t1_emerging_share_415x_pct(agg, model.sectors))
    assert rec["gdp_cny_100m"] == pytest.approx(90131, rel=0.001)


def test_t1_override_gives_t1(inputs):
    base_ = load_base_year(PROJECT_ROOT / "calibration" / "data" / "base_year.csv", {"t1_emerging_share_415x_pct": 48})
    m = SimModel(dataclasses.replace(inputs, base=base_), Levers(), Uncertainties(), scale=1.0, seed=SEED)
    agg = ind.sector_aggregates(m.firms, m.sectors.n, m.calib.va_ratio, m.scale)
    assert ind.t1_emerging_share_415x_pct(agg, m.sectors) == pytest.approx(48.0, abs=0.05)
    assert m.records[0]["t1_emerging_share_415x_pct"] == pytest.approx(48.0, abs=0.05)
    # the other base-year aggregates still hold
    got = ind.above_size_industry_va_cny_100m(agg, m.sectors)
    assert got == pytest.approx(base(m, "above_size_industry_va_cny_100m"), rel=0.005)
    assert ind.t2_sei_share_pct(agg, m.sectors, m.calib.sei_share) == pytest.approx(base(m, "t2_sei_share_pct"), abs=0.05)


def test_synthesis_at_small_scale_keeps_shares(inputs):
    """Shares do not depend on population.scale; levels are in province units."""
    m = SimModel(inputs, Levers(), Uncertainties(), scale=0.1, seed=SEED)
    rec = m.records[0]
    assert rec["t1_emerging_share_415x_pct"] == pytest.approx(base(m, "t1_emerging_share_415x_pct"), abs=0.05)
    assert rec["t2_sei_share_pct"] == pytest.approx(base(m, "t2_sei_share_pct"), abs=0.05)
    assert rec["above_size_industry_va_cny_100m"] == pytest.approx(base(m, "above_size_industry_va_cny_100m"), rel=0.005)
    assert rec["n_high_tech"] == pytest.approx(46000, rel=0.01)


# ---------------------------------------------------------------------------------------------- pinned emerging clusters
def emerging_total(base_: dict) -> float:
    """T1 x 415X revenue: the emerging clusters' revenue."""
    return base_["t1_emerging_share_415x_pct"].value / 100 * base_["cluster_415x_revenue_cny_100m"].value


def test_pinned_emerging_sectors_get_their_observed_revenue(model, agg):
    """At the central T1, smart IoT, IC and software hold the annualised revenues of base_year.csv; the
    emerging total is still T1 x 415X revenue; the rest goes to the other emerging sectors by weight."""
    s = model.sectors
    for sid in PINNED:
        got = agg.revenue_above[s.index(sid)]
        assert got == pytest.approx(base(model, f"{sid}_revenue_cny_100m"), rel=0.005), sid
    total = emerging_total(model.base)
    assert agg.revenue_above[s.emerging].sum() == pytest.approx(total, rel=0.005)
    rest = total - sum(base(model, f"{sid}_revenue_cny_100m") for sid in PINNED)
    others = [k for k in np.flatnonzero(s.emerging) if s.ids[k] not in PINNED]
    w = s.base_revenue_weight[others]
    assert agg.revenue_above[others] == pytest.approx(rest * w / w.sum(), rel=0.005)


def test_low_t1_scales_the_pinned_clusters_down(inputs):
    """At the low end of T1's range the three observed clusters exceed the emerging total: they are
    scaled down to fill it and the other emerging sectors get nothing."""
    base_ = load_base_year(BASE_YEAR, {"t1_emerging_share_415x_pct": 27.5})
    m = SimModel(dataclasses.replace(inputs, base=base_), Levers(), Uncertainties(), scale=0.1, seed=SEED)
    s = m.sectors
    agg = ind.sector_aggregates(m.firms, s.n, m.calib.va_ratio, m.scale)
    total = emerging_total(m.base)
    pinned = {sid: base(m, f"{sid}_revenue_cny_100m") for sid in PINNED}
    assert sum(pinned.values()) > total  # the case this test is about
    k = total / sum(pinned.values())
    for sid, v in pinned.items():
        assert agg.revenue_above[s.index(sid)] == pytest.approx(k * v, rel=0.005), sid
    others = [i for i in np.flatnonzero(s.emerging) if s.ids[i] not in PINNED]
    assert agg.revenue_above[others].sum() == pytest.approx(0.0, abs=1e-9 * total)
    assert ind.t1_emerging_share_415x_pct(agg, s) == pytest.approx(27.5, abs=0.05)


def test_any_emerging_sector_with_a_revenue_row_is_pinned(inputs):
    """A base-year quantity <sector_id>_revenue_cny_100m pins an emerging sector without a code change;
    without any such row the emerging total is dealt by weight alone."""
    s = inputs.sectors
    t1_total = emerging_total(inputs.base)
    ai = s.index("ai")
    extra = dict(inputs.base)
    extra["ai_revenue_cny_100m"] = dataclasses.replace(inputs.base["ic_revenue_cny_100m"], name="ai_revenue_cny_100m",
                                                       value=4000.0)
    tgt = Synthesiser(s, inputs.cities, extra, inputs.params, 1.0).targets
    assert tgt[ai] == pytest.approx(4000.0)
    assert tgt[s.emerging].sum() == pytest.approx(t1_total)
    bare = {q: v for q, v in inputs.base.items() if not any(q == f"{sid}_revenue_cny_100m" for sid in PINNED)}
    tgt = Synthesiser(s, inputs.cities, bare, inputs.params, 1.0).targets
    em = s.emerging
    assert tgt[em] == pytest.approx(t1_total * s.base_revenue_weight[em] / s.base_revenue_weight[em].sum())
