"""Indicators (simmodel.indicators) on a hand-made population of eight firms in four sectors of the
real sector table, against values computed by hand below."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simmodel import indicators as ind
from simmodel.agents.firms import FirmStage, Firms
from simmodel.config import TargetsConfig

SCALE = 0.5  # the hand-made population stands for twice as many firms


@pytest.fixture(scope="module")
def sectors(inputs):
    s = inputs.sectors
    # the table properties the hand computations below rely on
    ai, sw, tx, ga = (s.index(k) for k in ("ai", "software", "textiles_apparel", "general_ai"))
    assert s.emerging[ai] and s.in_415x[ai] and s.is_industry[ai] and s.digital_core_share[ai] == 0.8
    assert s.emerging[sw] and s.in_415x[sw] and not s.is_industry[sw] and s.digital_core_share[sw] == 1.0
    assert not s.emerging[tx] and s.in_415x[tx] and s.is_industry[tx] and s.digital_core_share[tx] == 0.0
    assert not s.in_415x[ga] and s.is_industry[ga] and s.is_future[ga] and s.digital_core_share[ga] == 1.0
    return s


@pytest.fixture(scope="module")
def ids(sectors):
    return {k: sectors.index(k) for k in ("ai", "software", "textiles_apparel", "general_ai")}


@pytest.fixture(scope="module")
def firms(ids):
    """revenue (CNY 100 m): ai 3.0 and 0.1 (below size); textiles 5.0, 0.2 (exactly at the threshold)
    and 2.0 (dead); software 1.0; general_ai 0.5 and 0.15 (below size)."""
    S = FirmStage
    rows = [("ai", 3.0, S.HIGH_TECH, True), ("ai", 0.1, S.STARTUP, True),
            ("textiles_apparel", 5.0, S.CONVENTIONAL, True), ("textiles_apparel", 0.2, S.TECH_SME, True),
            ("textiles_apparel", 2.0, S.LITTLE_GIANT, False), ("software", 1.0, S.HIGH_TECH, True),
            ("general_ai", 0.5, S.SINGLE_CHAMPION, True), ("general_ai", 0.15, S.TECH_SME, True)]
    f = Firms(capacity=8)
    f.add(len(rows), sector=np.array([ids[r[0]] for r in rows]), revenue=np.array([r[1] for r in rows]),
          stage=np.array([int(r[2]) for r in rows]))
    f.alive[:] = [r[3] for r in rows]
    assert f.n == 8
    return f


@pytest.fixture(scope="module")
def va_ratio(sectors, ids):
    v = np.full(sectors.n, 0.5)
    v[ids["ai"]] = 0.25
    v[ids["textiles_apparel"]] = 0.2
    return v


@pytest.fixture(scope="module")
def agg(firms, sectors, va_ratio):
    return ind.sector_aggregates(firms, sectors.n, va_ratio, SCALE)


# Above-size revenue / SCALE: ai 3.0/0.5 = 6; textiles (5.0 + 0.2)/0.5 = 10.4; software 2; general_ai 1.
# All revenue / SCALE: ai 3.1/0.5 = 6.2; textiles 10.4; software 2; general_ai 0.65/0.5 = 1.3.
def test_sector_aggregates_by_hand(agg, ids, sectors):
    expect_above = np.zeros(sectors.n)
    expect_all = np.zeros(sectors.n)
    for k, above, every in (("ai", 6.0, 6.2), ("textiles_apparel", 10.4, 10.4), ("software", 2.0, 2.0), ("general_ai", 1.0, 1.3)):
        expect_above[ids[k]], expect_all[ids[k]] = above, every
    np.testing.assert_allclose(agg.revenue_above, expect_above)
    np.testing.assert_allclose(agg.revenue_all, expect_all)
    assert agg.va_above[ids["ai"]] == pytest.approx(1.5)
    assert agg.va_all[ids["textiles_apparel"]] == pytest.approx(2.08)


def test_aggregation_leaves_the_firms_untouched(firms, sectors, va_ratio):
    before = firms.revenue.copy()
    ind.sector_aggregates(firms, sectors.n, va_ratio, SCALE)
    np.testing.assert_array_equal(firms.revenue, before)


def test_dead_and_below_size_firms_excluded_from_above_size(firms, sectors, va_ratio, ids):
    """Killing the below-size firms changes nothing above size; reviving the dead one adds 2.0/0.5."""
    f = Firms(capacity=8)
    f.add(firms.n, sector=firms.sector, revenue=firms.revenue, stage=firms.stage)
    f.alive[:] = firms.alive
    f.alive[[1, 7]] = False
    a = ind.sector_aggregates(f, sectors.n, va_ratio, SCALE)
    b = ind.sector_aggregates(firms, sectors.n, va_ratio, SCALE)
    np.testing.assert_array_equal(a.revenue_above, b.revenue_above)
    f.alive[4] = True
    c = ind.sector_aggregates(f, sectors.n, va_ratio, SCALE)
    assert c.revenue_above[ids["textiles_apparel"]] == pytest.approx(10.4 + 4.0)


def test_t1_by_hand(agg, sectors):
    # emerging (ai 6 + software 2) / 415X (ai 6 + software 2 + textiles 10.4)
    assert ind.t1_emerging_share_415x_pct(agg, sectors) == pytest.approx(100 * 8 / 18.4)


def test_t2_by_hand(agg, sectors, ids):
    sei = np.zeros(sectors.n)
    sei[ids["ai"]], sei[ids["textiles_apparel"]], sei[ids["software"]], sei[ids["general_ai"]] = 1.0, 0.1, 1.0, 0.5
    # above-size VA: ai 6 x 0.25 = 1.5; textiles 10.4 x 0.2 = 2.08; general_ai 1 x 0.5 = 0.5;
    # software (1.0) is not industry and counts in neither numerator nor denominator
    assert ind.above_size_industry_va_cny_100m(agg, sectors) == pytest.approx(1.5 + 2.08 + 0.5)
    assert ind.sei_va_cny_100m(agg, sectors, sei) == pytest.approx(1.5 + 0.208 + 0.25)
    assert ind.t2_sei_share_pct(agg, sectors, sei) == pytest.approx(100 * 1.958 / 4.08)


def test_t3_by_hand(agg, sectors):
    # VA of all firms: ai 6.2 x 0.25 = 1.55; textiles 2.08; software 2 x 0.5 = 1.0; general_ai 1.3 x 0.5 = 0.65
    # digital core: 0.8 x 1.55 + 1.0 x 1.0 + 1.0 x 0.65 = 2.89, times digital_scale 2 = 5.78
    # GDP: 1.55 + 2.08 + 1.0 + 0.65 = 5.28, plus the rest of the economy 94.72 = 100
    assert ind.digital_core_va_cny_100m(agg, sectors, 2.0) == pytest.approx(5.78)
    assert ind.gdp_cny_100m(agg, 94.72) == pytest.approx(100.0)
    assert ind.t3_digital_core_share_gdp_pct(agg, sectors, 2.0, 94.72) == pytest.approx(5.78)


def test_future_industry_revenue_by_hand(agg, sectors):
    assert ind.future_industry_revenue_cny_100m(agg, sectors) == pytest.approx(1.3)  # general_ai, all firms


@pytest.mark.parametrize("now,base,years,expected", [
    (121.0, 100.0, 2, 10.0),
    (100.0, 100.0, 3, 0.0),
    (81.0, 100.0, 2, -10.0),
    (133.1, 100.0, 3, 10.0),
])
def test_t6_compound_growth(now, base, years, expected):
    assert ind.t6_future_growth_pct_per_year(now, base, years) == pytest.approx(expected)


@pytest.mark.parametrize("base,years", [(100.0, 0), (0.0, 2), (-5.0, 2)])
def test_t6_undefined_without_a_base(base, years):
    assert math.isnan(ind.t6_future_growth_pct_per_year(121.0, base, years))


def test_rd_intensity_by_hand():
    assert ind.rd_intensity_pct(2.5, 0.5, 100.0) == pytest.approx(3.0)


def test_stage_counts_by_hand(firms):
    # alive: HIGH_TECH 2 (ai, software), STARTUP 1, CONVENTIONAL 1, TECH_SME 2, SINGLE_CHAMPION 1;
    # the LITTLE_GIANT is dead. Divided by the scale 0.5.
    assert ind.stage_counts(firms, SCALE) == {
        "n_startup": 2.0, "n_tech_sme": 4.0, "n_conventional": 2.0, "n_high_tech": 4.0,
        "n_little_giant": 0.0, "n_single_champion": 2.0}


def test_aggregates_add_and_divide(agg):
    mean = (agg + agg) / 2.0
    for name in ("revenue_above", "va_above", "revenue_all", "va_all"):
        np.testing.assert_allclose(getattr(mean, name), getattr(agg, name))


def test_t1_undefined_without_415x_revenue(sectors, va_ratio, ids):
    f = Firms(capacity=8)
    f.add(1, sector=np.array([ids["general_ai"]]), revenue=np.array([5.0]))
    agg = ind.sector_aggregates(f, sectors.n, va_ratio, 1.0)
    assert math.isnan(ind.t1_emerging_share_415x_pct(agg, sectors))


def _target(strict: bool) -> ind.Target:
    return ind.Target("T3", "t3_digital_core_share_gdp_pct", 2027, 12.5, strict, "%", "seed")


def test_target_strict_at_threshold():
    np.testing.assert_array_equal(_target(True).met(np.array([12.4, 12.5, 12.6])), [False, False, True])


def test_target_non_strict_at_threshold():
    np.testing.assert_array_equal(_target(False).met(np.array([12.4, 12.5, 12.6])), [False, True, True])


def test_targets_from_config():
    ts = ind.targets_from_config(TargetsConfig(), 2024)
    by = {(t.target_id, t.year): t for t in ts}
    assert by[("T3", 2027)].strict and by[("T3", 2030)].strict  # the seed's "超12.5%"
    assert not any(t.strict for t in ts if t.target_id != "T3")
    assert {t.indicator for t in ts} <= set(ind.INDICATORS)
    seed = {(t.target_id, t.threshold) for t in ts if t.year == 2027 and t.source == "seed"}
    assert seed == {("T1", 58.0), ("T2", 34.0), ("T3", 12.5), ("T4", 10.0), ("T5", 35.0)}
    assert all(t.source.startswith("assumption") for t in ts if t.year == 2030 or t.target_id == "T6")
