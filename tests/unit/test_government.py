"""The government's selections (simmodel.agents.government) on hand-made firm arrays: counts rounded
without bias, recipients drawn from their pool with a reserved future share, the year's randomness
drawn in one call per kind, and a government that acts on what it is handed."""

from __future__ import annotations

import dataclasses

import mesa
import numpy as np
import pytest

from simmodel.agents.firms import FirmStage, Firms, choose_top, stage_mask
from simmodel.agents.government import (FUTURE_BIT, Government, Pool, choose_by_partitions, choose_with_noise,
                                        stochastic_round_all)
from simmodel.agents.noise import keyed_uniform
from simmodel.levers import Levers


@pytest.fixture()
def government(inputs):
    s = inputs.sectors
    return Government(mesa.Model(), years=[2025, 2026], sectors=s, base=inputs.base,
                      pilot_zone=np.zeros((inputs.cities.n, s.n), bool), n_national_clusters=0)


def firms_in(sectors: list[int], stage: FirmStage = FirmStage.HIGH_TECH) -> Firms:
    f = Firms(len(sectors))
    f.add(len(sectors), sector=np.array(sectors), city=0, stage=int(stage), revenue=1.0, revenue_year_start=1.0,
          boost_until_q=-1, penalty_until_q=-1)
    return f


def test_stochastic_round_all_is_unbiased():
    x = np.array([0.0, 2.0, 0.25, 3.7])
    draws = np.array([stochastic_round_all(x, np.random.default_rng(i)) for i in range(4000)])
    assert set(np.unique(draws[:, 2])) == {0, 1} and set(np.unique(draws[:, 3])) == {3, 4}
    assert (draws[:, :2] == [0, 2]).all()
    np.testing.assert_allclose(draws.mean(axis=0), x, atol=0.03)


def test_selections_draw_counts_for_all_and_a_key_for_each(government):
    ks, keys = government._selections(np.array([2.0, 0.0, 3.0]), np.random.default_rng(0))
    assert ks.tolist() == [2, 0, 3]
    assert keys.size == 3 and np.unique(keys).size == 3
    # the keys do not depend on which selections choose anyone (common random numbers)
    _, keys_again = government._selections(np.array([2.0, 1.0, 0.0]), np.random.default_rng(0))
    assert np.array_equal(keys, keys_again)


def test_a_round_chooses_no_one_where_a_selection_has_no_recipient_or_no_pool(government, inputs):
    s = inputs.sectors
    fut, other = int(np.flatnonzero(s.is_future)[0]), int(np.flatnonzero(~s.is_future & ~s.emerging)[0])
    f = firms_in([fut] * 5 + [other] * 7)
    f.alive[3] = False
    got = government.choose_round(["high_tech", "tech", None, "high_tech"], np.array([2, 0, 3, 20]),
                                  np.array([1, 2, 3, 4], np.uint64), [0.0] * 4, f, 0, 0.0, np.zeros(s.n))
    assert got[0].size == 2 and set(got[0].tolist()) <= {0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11}
    assert got[1].size == got[2].size == 0  # no recipient; no pool (a programme that pays nothing)
    assert sorted(got[3].tolist()) == [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]  # more asked than the pool holds
    assert government.choose_round([None, None], np.array([1, 1]), np.array([1, 2], np.uint64), [0.0, 0.0], f, 0,
                                   0.0, np.zeros(s.n))[0].size == 0
    with pytest.raises(KeyError):
        government.choose_round(["nobody"], np.array([1]), np.array([1], np.uint64), [0.0], f, 0, 0.0, np.zeros(s.n))


def test_a_round_in_one_call_chooses_as_each_selection_alone(government, inputs):
    """kernels.selection_round against select_recipients, selection by selection (the same firms in
    the same order): pools made from the firms' stages, sectors, size and pilot zones, several
    selections from one pool, reserved future shares from none to all, more recipients than a pool
    or one of its kinds holds, and base scores that tie (integers: the k-th best shared, where the
    round leaves the choice to the partitions, which the test checks it did)."""
    from simmodel import kernels
    from simmodel.agents.firms import FirmStage as S
    from simmodel.agents.government import _POOL_INDEX, POOL_RULES
    s = inputs.sectors
    rng = np.random.default_rng(23)
    names = list(POOL_RULES)
    n_inexact = n_selections = 0
    for trial in range(40):
        n = int(rng.integers(30, 400)) if trial % 2 else int(rng.integers(3000, 9000))
        f = Firms(n)
        f.add(n, sector=rng.integers(0, s.n, n), city=rng.integers(0, inputs.cities.n, n).astype(np.int8),
              stage=rng.integers(0, len(S), n).astype(np.int8), revenue=rng.lognormal(-2.0, 1.5, n),
              revenue_year_start=1.0, boost_until_q=-1, penalty_until_q=-1, log_productivity=rng.normal(size=n))
        f.alive[rng.random(n) < 0.2] = False
        zones = np.zeros((inputs.cities.n, s.n), bool)
        zones[rng.integers(0, inputs.cities.n, 6), rng.choice(np.flatnonzero(s.is_future), 6)] = True
        government.pilot_zone = zones
        if trial % 3 == 1:  # integer log productivity: base scores tie (the noise still separates them)
            f.log_productivity[:] = rng.integers(-2, 2, n)
        m = int(rng.integers(1, 12))
        pools = [None if rng.random() < 0.1 else names[int(rng.integers(0, len(names)))] for _ in range(m)]
        ks = rng.integers(0, max(2, n // (4 if trial % 4 == 0 else 60)), m)
        keys = rng.integers(0, 2 ** 63, m).astype(np.uint64)
        shares = [float(rng.choice([0.0, 0.1, 0.5, 0.9, 1.0])) for _ in range(m)]
        prospects = rng.normal(size=s.n)
        q = trial  # a new round: the cached masks and base scores are remade
        if trial % 3 == 0:  # every firm's score exactly 3 under the first key: its k-th best is tied
            tied = 3.0 - keyed_uniform(int(keys[0]), np.arange(n)).astype(np.float64)
            government.base_score = lambda *_, tied=tied: tied
        got = government.choose_round(pools, ks, keys, shares, f, q, 0.3, prospects)
        base = government.base_score(f, q, 0.3, prospects)
        if trial % 3 == 0:
            del government.base_score
        for j in range(m):
            if pools[j] is None or ks[j] == 0:
                assert got[j].size == 0
                continue
            want = government.select_recipients(government.pool(pools[j], f, q), int(ks[j]), int(keys[j]), shares[j],
                                                f, base)
            assert np.array_equal(got[j], want), (trial, j)
            n_selections += 1
        masks, flags = government._round_masks(f, q)
        pool_of = np.array([_POOL_INDEX[p] if p is not None and k > 0 else -1 for p, k in zip(pools, ks)], np.int64)
        k_future = np.array([round(k * sh) for k, sh in zip(ks.tolist(), shares)], np.int64)
        _, _, exact = kernels.selection_round(masks, flags, FUTURE_BIT, base, pool_of, ks, k_future, keys,
                                              kernels.pool_bands(masks, flags, FUTURE_BIT, base))
        n_inexact += int((~exact).sum())
    assert n_selections > 150 and n_inexact > 0  # both paths were taken


def test_recipients_come_from_the_pool_with_the_future_share(government, inputs):
    s = inputs.sectors
    fut, other = int(np.flatnonzero(s.is_future)[0]), int(np.flatnonzero(~s.is_future & ~s.emerging)[0])
    f = firms_in([fut] * 5 + [other] * 20)
    rows = np.arange(2, 25)  # firms 0 and 1 are not eligible
    pool = Pool(rows, s.is_future[f.sector].astype(np.uint8) << FUTURE_BIT)  # the sector flags: future industry
    score = np.zeros(f.n)
    score[[2, 10, 11, 12]] = 5.0  # the best: one future firm, three others
    chosen = government.select_recipients(pool, 4, 7, 0.5, f, score)
    assert chosen.size == 4 and np.isin(chosen, rows).all()
    assert (s.is_future[f.sector[chosen]]).sum() == 2  # half reserved for future industries
    assert {2}.issubset(chosen.tolist()) and len({10, 11, 12} & set(chosen.tolist())) == 2
    # the noise is the firm's keyed uniform: among equal base scores the largest draw wins; a base
    # score 1 above every other wins with the smallest draw, and one just short of the two draws'
    # difference above does not
    noise = keyed_uniform(7, rows)
    lo, hi = rows[np.argmin(noise)], rows[np.argmax(noise)]
    for lead, winner in ((0.0, hi), (1.0, lo), (float(noise.max() - noise.min()) - 0.01, hi)):
        base = np.zeros(f.n)  # a new array each time: a pool keeps the base scores of the array it was given
        base[lo] = lead
        assert government.select_recipients(pool, 1, 7, 0.0, f, base).tolist() == [winner], lead


def reference_selection(sectors, firms, rows, k, key, future_share, base_score):
    """The selection written out directly: every firm of the pool scored (its noise drawn), and the
    scores gathered and split for this call alone."""
    score = base_score[rows] + keyed_uniform(key, rows)
    k_future = round(k * future_share)
    if k_future == 0:
        return choose_top(rows, score, k)
    fut = sectors.is_future[firms.sector[rows]]
    first = choose_top(rows[fut], score[fut], k_future)
    chosen = np.concatenate((first, choose_top(rows[~fut], score[~fut], k - first.size)))
    if chosen.size < k:
        left = ~np.isin(rows, chosen)
        chosen = np.concatenate((chosen, choose_top(rows[left], score[left], k - chosen.size)))
    return chosen


def test_a_pool_reused_by_several_selections_chooses_as_each_would_alone(government, inputs):
    """A pool keeps its base scores and its future split between the programmes that draw from it,
    and draws noise only for the firms within 1 of the k-th best base score: every selection must be
    the one a fresh gather and split, with noise for every firm, would give, whatever the pool,
    share, number and key, including too few firms of one kind (filled from the other), a new
    round's base scores and base scores that tie (the k-th best shared by many, or exactly 1 apart)."""
    s = inputs.sectors
    rng = np.random.default_rng(5)
    fut_sectors, other = np.flatnonzero(s.is_future), np.flatnonzero(~s.is_future)
    for trial in range(60):
        n = int(rng.integers(20, 3000)) if trial % 2 else int(rng.integers(9000, 20_000))  # whole, or from a floor
        f = firms_in(np.where(rng.random(n) < rng.uniform(0.02, 0.6), rng.choice(fut_sectors, n), rng.choice(other, n)).tolist())
        rows = np.sort(rng.choice(n, size=int(rng.integers(1, n)), replace=False))
        pool = Pool(rows, s.is_future[f.sector].astype(np.uint8) << FUTURE_BIT)
        for round_ in range(2):
            base = rng.normal(size=n) if trial % 3 else rng.integers(-3, 3, n).astype(float)  # ties, 1 apart
            for _ in range(4):
                k = int(rng.integers(1, max(2, rows.size // (3 if trial % 4 < 2 else 40))))
                share = float(rng.choice([0.0, 0.1, 0.5, 0.9, 1.0]))
                key = int(rng.integers(0, 2 ** 32))
                got = government.select_recipients(pool, k, key, share, f, base)
                want = reference_selection(s, f, rows, k, key, share, base)
                assert np.array_equal(np.sort(got), np.sort(want)), (trial, round_, k, share)
                assert got.size == min(k, rows.size)


def test_choosing_with_noise_scores_every_firm_that_can_be_chosen():
    """A large pool is scored only from 1 below its k-th best base score: firms 0.95 below it that
    beat the top firms' smallest draws must still be chosen, as when every firm is scored (ten firms
    at 0, two hundred at -0.95, the rest far below; fifty keys)."""
    n, k = 6000, 10
    rows = np.arange(n) * 3
    base = np.full(n, -5.0)
    base[:k] = 0.0
    base[k:k + 200] = -0.95
    lifted = 0
    for key in range(50):
        got = choose_with_noise(rows, base, k, key)
        want = choose_top(rows, base + keyed_uniform(key, rows), k)
        assert np.array_equal(np.sort(got), np.sort(want)), key
        lifted += int((got >= 3 * k).sum())
    assert lifted > 0  # the check above met the case it is about


def test_choosing_in_one_pass_is_choosing_by_partitions_and_ties_are_left_to_them():
    """The one-pass choice (kernels.noisy_top) against the partitions it replaced: the same firms when
    no score ties the k-th best; when one does (a group of firms scored exactly 2.0, base = 2 - noise,
    straddling the k-th place), the very array the partitions give, order included."""
    rng = np.random.default_rng(8)
    n_tied = 0
    for trial in range(40):
        n = int(rng.integers(50, 9000))
        rows = np.sort(rng.choice(3 * n, n, replace=False))
        base = rng.normal(size=n)
        key = int(rng.integers(0, 2 ** 32))
        k = int(rng.integers(1, n // 4))
        if trial % 2:
            u = keyed_uniform(key, rows).astype(np.float64)
            above = int((base + u > 2.0).sum())
            group = rng.choice(np.flatnonzero(base + u < 1.0), size=6, replace=False)
            base[group] = 2.0 - u[group]
            k = above + 3  # three of the six tied firms are chosen
            n_tied += 1
            assert np.array_equal(choose_with_noise(rows, base, k, key), choose_by_partitions(rows, base, k, key))
        got = choose_with_noise(rows, base, k, key)
        assert got.size == k and np.array_equal(np.sort(got), np.sort(choose_by_partitions(rows, base, k, key)))
    assert n_tied == 20


def test_pools_are_the_firms_that_meet_each_programme_rule(government, inputs):
    """Each named pool against its rule written out over every firm (alive firms only), with pilot
    zones in some (city, sector) places."""
    from simmodel.agents.firms import FirmStage as S
    s = inputs.sectors
    rng = np.random.default_rng(11)
    n = 4000
    f = Firms(n)
    f.add(n, sector=rng.integers(0, s.n, n), city=rng.integers(0, inputs.cities.n, n).astype(np.int8),
          stage=rng.integers(0, len(S), n).astype(np.int8), revenue=rng.lognormal(-2.0, 1.5, n),
          revenue_year_start=1.0, boost_until_q=-1, penalty_until_q=-1)
    f.alive[rng.random(n) < 0.2] = False
    zones = np.zeros((inputs.cities.n, s.n), bool)
    fut = np.flatnonzero(s.is_future)
    zones[rng.integers(0, inputs.cities.n, 5), rng.choice(fut, 5)] = True
    zones[1, np.flatnonzero(~s.is_future)[0]] = True  # the base year's zones may include another sector
    government.pilot_zone = zones
    st, sec, above = f.stage, f.sector, f.alive & (f.revenue >= 0.2)
    ht = stage_mask(st, S.HIGH_TECH, S.LITTLE_GIANT, S.SINGLE_CHAMPION)
    rules = {
        "emerging_high_tech": s.emerging[sec] & ht,
        "pilot_zone": zones[f.city.astype(np.intp), sec],
        "high_tech": ht,
        "leaders": stage_mask(st, S.LITTLE_GIANT, S.SINGLE_CHAMPION),
        "high_tech_above_size": ht & above,
        "tech": stage_mask(st, S.TECH_SME, S.HIGH_TECH, S.LITTLE_GIANT),
        "future": s.is_future[sec] & stage_mask(st, S.STARTUP, S.TECH_SME, S.HIGH_TECH),
        "emerging_or_future": (s.emerging | s.is_future)[sec] & (st != S.STARTUP),
        "above_size": above,
    }
    # each firm's sector flags, which a pool's future-industry split reads
    flags = (s.emerging.astype(np.uint8) | (s.is_future.astype(np.uint8) << 1) | (zones.any(axis=0).astype(np.uint8) << 2))
    for name, rule in rules.items():
        want = np.flatnonzero(rule & f.alive)
        assert want.size, name  # the check would be empty otherwise
        pool = government.pool(name, f, 0)
        assert pool.idx.tolist() == want.tolist(), name
        assert pool._flags.tolist() == flags[sec].tolist(), name
    # a zone designated later in the quarter is seen (the pools read the zones they are asked with)
    zones2 = zones.copy()
    zones2[0, fut] = True
    government.pilot_zone[:] = zones2
    want = np.flatnonzero(zones2[f.city.astype(np.intp), sec] & f.alive)
    assert government.pool("pilot_zone", f, 0).idx.tolist() == want.tolist()
    with pytest.raises(KeyError):
        government.pool("nobody", f, 1)


def test_pilot_zone_candidates_count_and_sum_the_alive_future_firms_of_each_place(inputs):
    """Each (city, future sector) place's firm count and revenue against a loop over the places; other
    sectors have no merit and never qualify."""
    from simmodel.agents.government import pilot_zone_candidates

    s, params = inputs.sectors, inputs.params
    rng = np.random.default_rng(3)
    n, n_cities = 6000, inputs.cities.n
    f = Firms(n)
    f.add(n, sector=rng.integers(0, s.n, n), city=rng.integers(0, n_cities, n).astype(np.int8), stage=0,
          revenue=rng.lognormal(0.0, 1.0, n), revenue_year_start=1.0, boost_until_q=-1, penalty_until_q=-1)
    f.alive[rng.random(n) < 0.3] = False
    scale = 0.02
    qualifies, merit = pilot_zone_candidates(f, s.is_future, n_cities, params, scale)
    min_firms = max(1, int(np.ceil(params.pilot_zone_min_future_firms * scale)))
    seen = 0
    for c in range(n_cities):
        for k in range(s.n):
            here = f.alive & (f.city == c) & (f.sector == k)
            if not s.is_future[k]:
                assert merit[c, k] == 0.0 and not qualifies[c, k]
                continue
            running = np.cumsum(f.revenue[here])  # added in row order, as bincount does
            assert merit[c, k] == (running[-1] if running.size else 0.0)
            assert qualifies[c, k] == (here.sum() >= min_firms
                                       and merit[c, k] >= params.pilot_zone_min_future_revenue_cny_100m * scale)
            seen += qualifies[c, k]
    assert seen  # some place qualifies, so the check is not empty


def _designate_in_numpy(zones, firms, is_future, params, levers, scale, rng) -> tuple[int, int]:
    """Government.designate_pilot_zones' numpy statements until 6 December 2026 (the rule
    kernels.designate_zones applies): (removed, designated); writes ``zones``."""
    from simmodel.agents.government import pilot_zone_candidates
    p = params
    removed = 0
    cells = np.argwhere(zones)
    if cells.size and p.pilot_zone_removal_rate_annual > 0:
        drop = rng.uniform(size=len(cells)) < p.pilot_zone_removal_rate_annual
        zones[cells[drop, 0], cells[drop, 1]] = False
        removed = int(drop.sum())
    if rng.random() >= p.pilot_zone_batch_prob_annual or levers.pilot_zones_planned_per_batch <= 0:
        return removed, 0
    cand, merit = pilot_zone_candidates(firms, is_future, zones.shape[0], p, scale)
    cand &= ~zones
    cells = np.argwhere(cand)
    if cells.size == 0:
        return removed, 0
    order = np.lexsort((rng.uniform(size=len(cells)), -merit[cand]))
    chosen = cells[order[: levers.pilot_zones_planned_per_batch]]
    zones[chosen[:, 0], chosen[:, 1]] = True
    return removed, len(chosen)


@pytest.mark.parametrize("case", ["usual", "every_place_qualifies", "ties", "no_batch", "none_planned", "no_removals"])
def test_pilot_zones_designated_in_one_call_are_the_numpy_statements(inputs, case):
    """Government.designate_pilot_zones (kernels.designate_zones) against the numpy statements it
    replaced, over 30 years of draws: the same zones removed and designated, the stream left in the
    same state. Places that tie on their revenue (firms of equal revenue, so the uniforms decide),
    no batch, none planned, no removals, and every place qualifying (more places than planned)."""
    s = inputs.sectors
    params = dataclasses.replace(inputs.params, pilot_zone_batch_prob_annual=0.0 if case == "no_batch" else 0.7,
                                 pilot_zone_removal_rate_annual=0.0 if case == "no_removals" else 0.2,
                                 pilot_zone_min_future_firms=0.0 if case == "every_place_qualifies" else 40.0)
    levers = dataclasses.replace(Levers(), pilot_zones_planned_per_batch=0 if case == "none_planned" else 6)
    rng = np.random.default_rng(17)
    n, n_cities, scale = 8000, inputs.cities.n, 0.05
    f = Firms(n)
    revenue = np.full(n, 0.8) if case == "ties" else rng.lognormal(0.0, 1.0, n)
    f.add(n, sector=rng.integers(0, s.n, n), city=rng.integers(0, n_cities, n).astype(np.int8), stage=0,
          revenue=revenue, revenue_year_start=1.0, boost_until_q=-1, penalty_until_q=-1)
    f.alive[rng.random(n) < 0.2] = False
    zones = (rng.random((n_cities, s.n)) < 0.3) & s.is_future[None, :]  # some zones to remove from the first year
    government = Government(mesa.Model(), years=list(range(2025, 2055)), sectors=s, base=inputs.base,
                            pilot_zone=zones, n_national_clusters=0)
    want_zones = zones.copy()
    stream, twin = np.random.default_rng(4), np.random.default_rng(4)
    designated = removed = 0
    for year in range(2025, 2055):
        before = government.n_pilot_zones_removed
        got = government.designate_pilot_zones(year, f, params, levers, scale, stream)
        want = _designate_in_numpy(want_zones, f, s.is_future, params, levers, scale, twin)
        assert (government.n_pilot_zones_removed - before, got) == want
        assert np.array_equal(government.pilot_zone, want_zones)
        assert stream.bit_generator.state == twin.bit_generator.state
        designated, removed = designated + got, removed + want[0]
    if case in ("usual", "ties", "every_place_qualifies"):
        assert designated > 10 and removed > 0
    if case in ("no_batch", "none_planned"):
        assert designated == 0
