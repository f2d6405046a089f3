"""The stage kernels (simmodel.model.stages) on hand-made firm arrays, without a model: each writes
what its docstring says and returns what the model books; and the fast top-k of
simmodel.agents.firms, which every selection uses, against a full partition; and the firm arrays
themselves (views of the slots in use that write through)."""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

from simmodel.agents import noise
from simmodel.agents.firms import (FirmStage, Firms, GrowthContext, categorical, categorical_cdf, categorical_guide,
                                   choose_top, draw_among, draw_categorical, draw_without_replacement, nth_highest,
                                   top_positions)
from simmodel.agents.noise import trial_rows
from simmodel.levers import Levers
from simmodel.model.stages.ai_plus import adopt_ai_plus
from simmodel.model.stages.exit import exit_firms
from simmodel.model.stages.grow import grow_firms
from simmodel.model.stages.innovate import ProductivityGain, innovate_firms


def population(n: int, *, revenue: float = 1.0, sector: int = 0) -> Firms:
    f = Firms(n)
    f.add(n, sector=sector, city=0, stage=int(FirmStage.TECH_SME), revenue=revenue, revenue_year_start=revenue,
          boost_until_q=-1, penalty_until_q=-1)
    return f


# ----------------------------------------------------------------------------------- top-k
@pytest.mark.parametrize("n, k", [(10, 3), (1024, 9), (2048, 9), (2048, 127), (2048, 511), (5000, 40), (6000, 300),
                                  (4096, 1000), (65_000, 900), (65_000, 2400), (65_000, 16_000), (200_000, 30),
                                  (20_000, 19_999)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_top_positions_are_the_k_highest(n, k, dtype):
    rng = np.random.default_rng(n + k)
    score = (rng.normal(0.0, 0.3, n) + rng.random(n)).astype(dtype)
    got = top_positions(score, k)
    assert got.size == k and np.unique(got).size == k
    assert set(got.tolist()) == set(np.argpartition(-score, k - 1)[:k].tolist())


@pytest.mark.parametrize("n, k", [(20_000, 1000), (3000, 100), (20_000, 4000)])
def test_top_positions_falls_back_when_the_sample_misleads(n, k):
    """The strided sample holds only the highest scores: about a hundred reach its threshold, fewer
    than k, and the whole array is partitioned instead."""
    step = max(8, n // 1024)
    score = np.random.default_rng(1).random(n)
    score[::step] += 10.0  # the sampled positions: the highest scores
    score[1::step] += 5.0  # the next ones, never sampled
    sample = score[::step]
    above = 2 * k * sample.size // n + 8  # sampled scores above the threshold (top_positions' rule)
    assert (score >= np.sort(sample)[-above - 1]).sum() < k  # the threshold the sample gives leaves too few
    got = top_positions(score, k)
    assert set(got.tolist()) == set(np.argsort(-score)[:k].tolist())


@pytest.mark.parametrize("n, k", [(1, 1), (1024, 9), (2048, 2048), (4000, 20), (6000, 2048), (30_000, 2048), (70_000, 2048),
                                  (70_000, 17_499), (70_000, 1), (200_000, 5000)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nth_highest_is_the_partition(n, k, dtype):
    """The same value as a partition of the whole array, on sizes that take the sampled threshold
    (1 024 and up with k a quarter of n or less) and sizes that do not, and on data with many ties."""
    rng = np.random.default_rng(n + k)
    for x in ((rng.normal(0.0, 0.3, n) + rng.random(n)).astype(dtype), rng.integers(0, 40, n).astype(dtype)):
        want = np.partition(x, n - k)[n - k]
        got = nth_highest(x, k)
        assert got == want and isinstance(got, float)


def test_nth_highest_falls_back_when_the_sample_misleads():
    """The sampled positions hold the highest values: too few reach the sample's threshold, and the
    whole array is partitioned instead (the same value)."""
    n, k = 40_000, 3000
    step = n // 1024
    x = np.random.default_rng(2).random(n)
    x[::step] += 10.0
    x[1::step] += 5.0
    assert (x >= np.sort(x[::step])[-(2 * k * 1025 // n + 9)]).sum() < k
    assert nth_highest(x, k) == np.partition(x, n - k)[n - k]


def test_top_positions_edge_cases():
    assert top_positions(np.array([1.0, 2.0]), 0).size == 0
    assert top_positions(np.zeros(0), 3).size == 0
    assert sorted(top_positions(np.array([3.0, 1.0, 2.0]), 5).tolist()) == [0, 1, 2]
    idx = np.array([7, 9, 11, 13])
    assert sorted(choose_top(idx, np.array([0.1, 0.9, 0.5, 0.7]), 2).tolist()) == [9, 13]


# ----------------------------------------------------------------------------------- kernels
def test_exit_takes_the_firms_whose_draw_is_below_their_probability():
    f = population(6)
    f.p_exit_q[:] = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]
    f.alive[4] = False  # already gone: not counted again
    n = exit_firms(f, q=7, rng=np.random.default_rng(0))
    assert n == 2
    assert f.alive.tolist() == [False, True, False, True, False, True]
    assert f.exit_q.tolist() == [7, -1, 7, -1, -1, -1]


def test_innovate_adds_steps_and_the_ai_ramp(inputs):
    p = dataclasses.replace(inputs.params, innovation_step_mean=0.05, ai_plus_productivity_gain=0.08)
    f = population(4)
    f.p_innovate_q[:] = [1.0, 0.0, 0.0, 1.0]
    f.alive[3] = False
    f.ai_ramp_q[:] = [1, 2, 0, 0]  # firm 0 innovates and ramps up: both gains, summed
    gain, n = innovate_firms(f, p, np.random.default_rng(3))
    assert n == 1 and f.n_innovations.tolist() == [1, 0, 0, 0]
    assert gain.rows.tolist() == [0, 1]  # only the firms that gained
    rng = np.random.default_rng(3)
    rng.integers(0, 2 ** 32)  # the key of the innovation draws, then the step of the one innovator
    assert gain.log_points.tolist() == [rng.exponential(0.05) + 0.02, 0.02]
    np.testing.assert_array_equal(f.log_productivity, [gain.log_points[0], 0.02, 0.0, 0.0])
    assert f.ai_ramp_q.tolist() == [0, 1, 0, 0]


def test_ai_plus_is_adopted_by_above_size_firms_only():
    f = population(3)
    f.revenue[:] = [5.0, 0.1, 5.0]
    f.ai_plus[2] = True
    rows = adopt_ai_plus(f, dataclasses.replace(Levers(), ai_plus_adoption_pct_per_year=100.0), np.random.default_rng(0))
    assert rows.tolist() == [0] and f.ai_plus.tolist() == [True, False, True] and f.ai_ramp_q.tolist() == [4, 0, 0]


def test_grow_without_land_caps_growth_and_books_the_refusal(inputs):
    """Two above-size industrial firms double their revenue; the city has no land: both are refused,
    grow only by the refused-growth share beyond what their land supports (none), and the refusal is
    booked per city; a firm outside industry grows freely."""
    s = inputs.sectors
    ind_sector = int(np.flatnonzero(s.is_industry)[0])
    p = dataclasses.replace(inputs.params, land_relocation_prob=0.0, land_refused_growth_share=0.25, land_capacity_slack=0.0)
    f = population(3, revenue=1.0, sector=ind_sector)
    f.sector[2] = int(np.flatnonzero(~s.is_industry)[0])
    f.g_annual[:] = 4 * np.log(2.0)  # a quarter of it doubles revenue
    ctx = GrowthContext(drift_annual=np.zeros(s.n), size_center=np.zeros(s.n), rd_reference=np.ones(s.n),
                        va_ratio=np.full(s.n, 0.5), land_per_va=np.full(s.n, 10.0))
    land = grow_firms(f, p, Levers(), q=0, dlogp=ProductivityGain(rows=np.zeros(0, np.intp), log_points=np.zeros(0)), ctx=ctx, land_per_revenue=ctx.va_ratio * ctx.land_per_va,
                      industry_sector=s.is_industry, priority_sector=s.emerging | s.is_future, plot_effect=1.0,
                      budget_mu=np.zeros(2), rng=np.random.default_rng(0))
    assert land.n_refused == 2 and land.allocated_mu.tolist() == [0.0, 0.0]
    assert land.refused_mu[0] == pytest.approx(2 * 10.0) and land.refused_total_mu == pytest.approx(20.0)
    assert f.land_refused.tolist() == [True, True, False]
    np.testing.assert_allclose(f.revenue, [1.25, 1.25, 2.0], rtol=1e-6)


def test_grow_with_land_grants_it_and_charges_the_city(inputs):
    s = inputs.sectors
    ind_sector = int(np.flatnonzero(s.is_industry)[0])
    f = population(1, revenue=1.0, sector=ind_sector)
    f.g_annual[:] = 4 * np.log(2.0)
    ctx = GrowthContext(drift_annual=np.zeros(s.n), size_center=np.zeros(s.n), rd_reference=np.ones(s.n),
                        va_ratio=np.full(s.n, 0.5), land_per_va=np.full(s.n, 10.0))
    p = dataclasses.replace(inputs.params, land_capacity_slack=0.0)
    land = grow_firms(f, p, Levers(), q=3, dlogp=ProductivityGain(rows=np.zeros(0, np.intp), log_points=np.zeros(0)), ctx=ctx, land_per_revenue=ctx.va_ratio * ctx.land_per_va,
                      industry_sector=s.is_industry, priority_sector=s.emerging | s.is_future, plot_effect=1.0,
                      budget_mu=np.array([100.0]), rng=np.random.default_rng(0))
    assert land.n_refused == 0 and land.allocated_mu[0] == pytest.approx(10.0)
    assert f.land_mu[0] == pytest.approx(10.0) and f.revenue[0] == pytest.approx(2.0, rel=1e-6)


# ----------------------------------------------------------------------------------- the firm arrays
def test_firm_fields_are_live_views_that_write_through_and_survive_growth():
    """A field reads as the n slots in use; an in-place update, a whole new array and a scalar all
    land in the storage; appending past the capacity keeps every row; an unknown field is refused."""
    f = population(3, revenue=2.0)
    assert f.revenue.shape == (3,)
    f.revenue *= 1.5  # augmented assignment: updates the view, then sets it back
    f.revenue[0] = 7.0
    assert f.revenue.tolist() == [7.0, 3.0, 3.0]
    f.equity = np.array([1.0, 2.0, 3.0])  # a new array is copied into the storage, not kept
    f.land_mu = 0.5
    assert f.equity.tolist() == [1.0, 2.0, 3.0] and f.land_mu.tolist() == [0.5] * 3
    sl = f.add(40, sector=1, revenue=np.arange(40.0))  # beyond the capacity of 16
    assert f.n == 43 and sl == slice(3, 43)
    assert f.revenue[:3].tolist() == [7.0, 3.0, 3.0] and f.revenue[3:].tolist() == list(range(40))
    assert f.equity[:3].tolist() == [1.0, 2.0, 3.0] and not f.equity[3:].any()
    assert f.alive.all() and (f.exit_q[3:] == -1).all() and (f.sector[3:] == 1).all()
    with pytest.raises(KeyError, match="unknown firm field"):
        f.add(1, no_such_field=1.0)
    assert f.n == 43  # nothing appended
    with pytest.raises(AttributeError):
        f.no_such_field  # noqa: B018
    # the views are plain attributes: renewed with n, and rebuilt on their storage when unpickled
    # (pickled as they are, they would come back as arrays of their own, cut from it)
    g = pickle.loads(pickle.dumps(f))
    g.revenue[1] = 9.0
    g.add(1, revenue=5.0)
    assert g.revenue.tolist()[:3] == [7.0, 9.0, 3.0] and g.revenue[-1] == 5.0 and g.n == 44
    assert f.revenue[1] == 3.0  # the copy's storage is its own


def test_categorical_draws_the_numbers_of_numpys_choice():
    """categorical: the same categories as Generator.choice with p, from the same uniforms, for few
    and many draws (numpy's search and the table, either side of where draw_categorical changes from
    one to the other), skewed weights and categories of weight zero (never drawn); bad weights
    refused."""
    rng = np.random.default_rng(0)
    for trial in range(60):
        m = int(rng.integers(1, 400))
        w = rng.pareto(0.5, m) * (rng.random(m) < 0.7)
        w[int(rng.integers(m))] += 1.0
        p = w / w.sum()
        cdf = categorical_cdf(p)
        guide = categorical_guide(cdf)
        for n in (0, 3, 40, 4 * m, 5000):
            want = np.random.default_rng(trial).choice(m, size=n, p=p)
            got = categorical(np.random.default_rng(trial), p, n)
            np.testing.assert_array_equal(got, want)
            assert (w[got] > 0).all()
            # from a table made once (the start-ups' cells keep theirs all year): the same numbers
            np.testing.assert_array_equal(draw_categorical(np.random.default_rng(trial), cdf, n, guide), want)
    with pytest.raises(ValueError, match="table of"):  # a table made for another distribution is refused
        draw_categorical(rng, categorical_cdf(np.ones(3) / 3), 5, categorical_guide(categorical_cdf(np.ones(40) / 40)))
    for bad in ([0.5, -0.1, 0.6], [0.0, 0.0], [np.nan, 1.0]):
        with pytest.raises(ValueError, match="non-negative"):
            categorical(rng, np.array(bad), 10)


# ----------------------------------------------------------------------------------- keyed draws
def test_keyed_uniforms_are_the_rows_keyed_uniforms_and_behave_as_draws():
    """keyed_uniforms: row i's keyed_uniform for a key drawn from the stream, bit for bit; over 24
    streams (a replicate's quarters) and 200 000 rows, uniform (256 bins), rows and streams
    uncorrelated, pairs of streams uniform on the square (32 x 32 bins), and a firm's events at 2 %
    over the 24 binomial, which is what the innovations and exits need of them."""
    from scipy import stats

    from simmodel.agents.noise import keyed_uniform, keyed_uniforms
    n = 200_000
    rngs = [np.random.default_rng(np.random.SeedSequence(123, spawn_key=(q,))) for q in range(24)]
    u = np.array([keyed_uniforms(r, n) for r in rngs])
    key = np.random.default_rng(np.random.SeedSequence(123, spawn_key=(0,))).integers(0, 2 ** 32)
    assert u.dtype == np.float32 and u[0].tobytes() == keyed_uniform(key, np.arange(n)).tobytes()
    assert stats.chisquare(np.histogram(u[0], 256, (0, 1))[0]).pvalue > 1e-3
    assert abs(np.corrcoef(u[0][:-1], u[0][1:])[0, 1]) < 0.01 and abs(np.corrcoef(u[0], u[1])[0, 1]) < 0.01
    assert stats.chisquare(np.histogram2d(u[0], u[1], 32, [[0, 1], [0, 1]])[0].ravel()).pvalue > 1e-3
    events = (u < 0.02).sum(axis=0)
    pmf = stats.binom.pmf(np.arange(6), 24, 0.02)
    pmf[-1] += stats.binom.sf(5, 24, 0.02)
    assert stats.chisquare(np.bincount(np.minimum(events, 5), minlength=6), pmf * n).pvalue > 1e-3


def test_row_key_is_the_streams_first_32_bit_draw_and_leaves_its_64_bit_draws_alone():
    """noise.row_key: on a fresh stream (as every stream the model keys), ``integers(0, 2**32)``'s
    number, and the stream's 64-bit draws after it (uniforms, exponentials, normals, Poisson counts,
    Gumbel noise) those that follow that draw; a second key is the next 64-bit word's low half, not
    the half-word ``integers`` would have buffered."""
    from simmodel.agents.noise import row_key
    for seed in range(40):
        a, b = (np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(3, seed)))) for _ in "ab")
        key = row_key(a)
        assert isinstance(key, np.uint32) and key == b.integers(0, 2 ** 32)
        assert np.array_equal(a.random(3), b.random(3)) and np.array_equal(a.exponential(0.2, 3), b.exponential(0.2, 3))
        assert np.array_equal(a.normal(0, 1, 5), b.normal(0, 1, 5)) and a.poisson(4.0) == b.poisson(4.0)
        assert np.array_equal(a.gumbel(size=4), b.gumbel(size=4))
        assert row_key(a) == np.uint32(b.bit_generator.random_raw() & 0xFFFFFFFF)


def test_next_word_is_the_streams_64_bit_integer_and_leaves_it_where_that_does():
    """noise.next_word: ``integers(0, 2**64, dtype=uint64)``'s number on the model's streams (PCG64),
    after draws of every kind (a half-word buffered by a 32-bit draw included), and the stream's state
    after it the same: the funds' year key is drawn so."""
    from simmodel.agents.noise import next_word
    for seed in range(40):
        a, b = (np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(5, seed)))) for _ in "ab")
        for g in (a, b):  # the same draws before: uniforms, and for some seeds a buffered half-word
            g.random(seed % 4)
            if seed % 3 == 0:
                g.integers(0, 2 ** 32)
        word = next_word(a)
        assert isinstance(word, int) and word == int(b.integers(0, 2 ** 64, dtype=np.uint64))
        assert a.bit_generator.state == b.bit_generator.state
        assert np.array_equal(a.random(3), b.random(3)) and a.integers(0, 2 ** 32) == b.integers(0, 2 ** 32)


def test_keyed_events_are_the_alive_firms_below_their_probability():
    from simmodel.agents.noise import keyed_events, keyed_uniform
    rng = np.random.default_rng(8)
    n = 50_000
    p = rng.uniform(0.0, 0.2, n).astype(np.float32)
    p[:10] = 1.0  # certain, unless dead
    p[10:20] = 0.0  # never
    alive = rng.random(n) < 0.8
    alive[:5] = False
    got = keyed_events(np.random.default_rng(9), p, alive)
    key = np.random.default_rng(9).integers(0, 2 ** 32)
    assert np.array_equal(got, np.flatnonzero(alive & (keyed_uniform(key, np.arange(n)) < p)))
    assert set(range(5, 10)) <= set(got.tolist()) and not set(range(5)) & set(got.tolist())
    assert not set(range(10, 20)) & set(got.tolist())
    expected = float((p * alive)[20:].sum())
    assert abs(np.count_nonzero(got >= 20) - expected) < 4.5 * np.sqrt(expected)


# ----------------------------------------------------------------------------------- rare events and batches
@pytest.mark.parametrize("rate", [0.0015, 0.1, 0.6])
def test_trial_rows_succeed_at_the_rate_on_every_row(rate):
    """trial_rows: over many seeds each row succeeds with the rate (the counts of a few row groups
    against their binomial spread, so that a bias at the start, the end or between batches shows),
    the successes in all are binomial, and the rows are distinct, ascending and in range."""
    n, runs = 3000, 400
    hits = np.zeros(n)
    totals = []
    for seed in range(runs):
        rows = trial_rows(np.random.default_rng(seed), n, rate)
        assert rows.dtype == np.int64 and (np.diff(rows) > 0).all() and (rows.size == 0 or 0 <= rows[0] <= rows[-1] < n)
        hits[rows] += 1
        totals.append(rows.size)
    for group in (hits[:10], hits[:300], hits[1000:2000], hits[-300:], hits[-10:]):
        expected = group.size * runs * rate
        assert abs(group.sum() - expected) < 4.5 * np.sqrt(expected * (1 - rate)), (rate, group.size)
    assert abs(np.var(totals) / (n * rate * (1 - rate)) - 1) < 0.3  # binomial, not over- or under-dispersed


def test_trial_rows_keep_their_rows_when_the_population_grows_and_across_batches(monkeypatch):
    """The successes on the rows two populations share are the same (common random numbers between
    scenarios with other entrants), and batches that run out before the last row continue the same
    draws (a margin of minus 5 standard deviations makes the first batch end before the last row)."""
    for seed in range(20):
        small = trial_rows(np.random.default_rng(seed), 5000, 0.02)
        large = trial_rows(np.random.default_rng(seed), 9000, 0.02)
        assert np.array_equal(large[large < 5000], small)
    draws = []
    real = np.random.Generator.random

    class Counting(np.random.Generator):
        def random(self, *a, **k):
            out = real(self, *a, **k)
            draws.append(out.size)
            return out

    for seed in range(10):
        monkeypatch.setattr(noise, "_MARGIN_SD", -5.0)
        draws.clear()
        batched = trial_rows(Counting(np.random.PCG64(seed)), 9000, 0.02)
        assert len(draws) >= 2
        monkeypatch.undo()
        assert np.array_equal(batched, trial_rows(np.random.default_rng(seed), 9000, 0.02))
    assert trial_rows(np.random.default_rng(0), 0, 0.5).size == 0 and trial_rows(np.random.default_rng(0), 5, 0.0).size == 0
    assert trial_rows(np.random.default_rng(0), 4, 1.0).tolist() == [0, 1, 2, 3]


def test_spin_offs_come_from_alive_high_tech_parents_at_the_rate(inputs):
    """Spin-offs: only alive high-tech (or higher) firms found them, at about the lever's rate."""
    from simmodel.model.stages.enter import spin_off, spin_off_targets
    s = inputs.sectors
    n = 40_000
    f = population(n)
    f.stage[: n // 2] = int(FirmStage.HIGH_TECH)
    f.alive[: n // 4] = False  # half of the high-tech firms are gone
    lv = dataclasses.replace(Levers(), spinoff_rate_pct_per_year=20.0)
    new = spin_off(f, inputs.params, lv, s, q=3, targets=spin_off_targets(s, np.ones(s.n)), sector_rd_intensity=np.full(s.n, 0.03),
                   rng=np.random.default_rng(1))
    parents = np.flatnonzero(f.revenue[:n] < 1.0)  # a parent hands a share of its revenue to its spin-off
    assert new.stop - new.start == parents.size
    assert ((parents >= n // 4) & (parents < n // 2)).all()
    expected = n // 4 * -np.expm1(-0.2 / 4)
    assert abs(parents.size - expected) < 4.5 * np.sqrt(expected)


def test_draws_without_replacement_are_the_gumbel_top_k_in_distribution():
    """draw_without_replacement: the first draw is exp(log weight) normalised, the k drawn are as often
    each position as the k highest of log weight plus Gumbel noise, over weights that span orders of
    magnitude (one that outweighs all others, so that the sum is taken again), positions of weight
    zero (minus infinity: never drawn while others remain) and both of its ways (k up to a quarter
    of the positions, and more)."""
    rng = np.random.default_rng(0)
    lw = np.array([0.0, 1.0, -2.0, 3.5, -np.inf, 0.5, -1.0, 2.0, 0.0, -0.5, 6.0, 1.5, -3.0, 0.2, 0.7, -np.inf])
    runs = 30_000
    for k in (1, 4, 9):
        ours, gumbel = np.zeros(lw.size), np.zeros(lw.size)
        first = np.zeros(lw.size)
        for _ in range(runs):
            got = draw_without_replacement(rng, lw, k)
            assert got.size == k and np.unique(got).size == k
            ours[got] += 1
            first[got[0]] += 1
            gumbel[np.argpartition(-(lw + rng.gumbel(size=lw.size)), k - 1)[:k]] += 1
        assert ours[4] == ours[15] == 0
        z = (ours - gumbel) / np.sqrt(np.maximum(ours + gumbel, 1.0))
        assert np.abs(z).max() < 4.5, (k, z)
        if k < 4:
            p = np.exp(lw - lw.max()) / np.exp(lw - lw.max()).sum()
            z1 = (first - runs * p) / np.sqrt(np.maximum(runs * p * (1 - p), 1.0))
            assert np.abs(z1).max() < 4.5, (k, z1)


def test_draws_without_replacement_of_equal_weights_go_round_again_without_repeats():
    """A quarter of 400 equal weights: the first batch of uniforms repeats some positions, so later
    batches on the same sum must drop those drawn before; each position is drawn a quarter of the time."""
    rng = np.random.default_rng(2)
    counts = np.zeros(400)
    for _ in range(400):
        got = draw_without_replacement(rng, np.zeros(400), 100)
        assert got.size == 100 and np.unique(got).size == 100
        counts[got] += 1
    assert abs(counts.mean() - 100) < 1e-9 and counts.std() < 1.5 * np.sqrt(400 * 0.25 * 0.75)


def test_draws_without_replacement_edge_cases():
    rng = np.random.default_rng(1)
    lw = np.array([0.0, -1000.0, -2000.0, 0.5, -np.inf])
    assert draw_without_replacement(rng, lw, 0).size == 0 and draw_without_replacement(rng, lw[:0], 3).size == 0
    assert sorted(draw_without_replacement(rng, lw, 7).tolist()) == [0, 1, 2, 3, 4]
    # more draws than positions of weight above zero in double precision: the rest by their log weights
    big = np.concatenate((lw, np.full(20, -5000.0)))
    got = draw_without_replacement(rng, big, 3)
    assert set(got[:2].tolist()) == {0, 3} and got[2] in (1, *range(5, 25)) and got[2] != 4
    mask = np.zeros(25, bool)
    mask[[3, 7, 9, 20]] = True
    picked = draw_among(rng, np.arange(25.0), mask, 2)
    assert picked.size == 2 and set(picked.tolist()) <= {3, 7, 9, 20}


def test_high_tech_rd_threshold_tiers_and_their_logarithms():
    """The threshold of each revenue against the rule applied tier by tier (a NaN, zero, negative and
    infinite revenue and the tiers' bounds included), and its logarithm bit for bit np.log's."""
    from simmodel.agents.firms import HIGH_TECH_RD_THRESHOLDS, high_tech_rd_threshold, log_high_tech_rd_threshold

    rng = np.random.default_rng(2)
    bounds = [upper for upper, _ in HIGH_TECH_RD_THRESHOLDS[:-1]]
    revenue = np.concatenate((rng.lognormal(-1.0, 2.0, 5000), bounds, np.nextafter(bounds, 0.0),
                              [0.0, -1.0, np.inf, np.nan]))
    want = np.full(revenue.shape, HIGH_TECH_RD_THRESHOLDS[-1][1])
    for upper, thr in reversed(HIGH_TECH_RD_THRESHOLDS[:-1]):
        want[revenue < upper] = thr
    got = high_tech_rd_threshold(revenue)
    assert np.array_equal(got, want)
    assert len(np.unique(got)) == len(HIGH_TECH_RD_THRESHOLDS)  # every tier is exercised
    assert np.log(want).tobytes() == log_high_tech_rd_threshold(revenue).tobytes()


def test_sector_rd_intensity_is_each_sectors_revenue_weighted_mean(inputs):
    """Against np.average over each sector's mask, bit for bit; a sector without firms keeps the
    table's prior."""
    from simmodel.model.setup import sector_rd_intensity

    s = inputs.sectors
    rng = np.random.default_rng(4)
    n = 3000
    sector = rng.integers(0, s.n - 1, n)  # the last sector has no firm
    f = Firms(n)
    f.add(n, sector=sector, revenue=rng.lognormal(0.0, 1.0, n), rd_intensity=rng.uniform(0.0, 0.1, n))
    got = sector_rd_intensity(f, s)
    want = [np.average(f.rd_intensity[sector == k], weights=f.revenue[sector == k]) for k in range(s.n - 1)]
    assert got[:-1].tobytes() == np.array(want).tobytes()
    assert got[-1] == s.rd_intensity[-1]


def test_expected_entrants_read_no_lever_but_those_the_model_keys_them_by(inputs):
    """SimModel keeps expected_entrants' answer while ENTRY_LEVERS and the pilot zones stay: a lever
    the stage reads that is not in ENTRY_LEVERS would leave a stale answer in force all year."""
    from simmodel.levers import specs
    from simmodel.model.stages.enter import ENTRY_LEVERS, expected_entrants

    s = inputs.sectors
    pilot = np.zeros((inputs.cities.n, s.n), dtype=bool)
    pilot[0, :3] = True
    kw = {"n_tech_smes": 1000.0, "scale": 0.1, "city_weight": inputs.cities.firm_weight,
          "sector_weight": np.linspace(1.0, 2.0, s.n), "pilot_zone": pilot}
    p = dataclasses.replace(inputs.params, new_track_entry_effect=0.5, incubator_entry_elasticity=0.4,
                            pilot_zone_entry_boost=0.3)
    base = expected_entrants(p, Levers(), s, **kw)
    moved = set()
    for name, spec in specs().items():
        value = getattr(Levers(), name)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        other = spec.high if value != spec.high else spec.low
        e, w = expected_entrants(p, dataclasses.replace(Levers(), **{name: type(value)(other)}), s, **kw)
        if e != base[0] or not np.array_equal(w, base[1]):
            moved.add(name)
    assert moved == set(ENTRY_LEVERS)
    pilot[1, 5] = True  # the zones move the answer too (the model's key holds their bytes)
    assert expected_entrants(p, Levers(), s, **kw)[0] != base[0]


def test_the_models_kept_entrants_are_what_the_stage_gives_every_quarter(inputs):
    from simmodel.levers import Uncertainties
    from simmodel.model import SimModel
    from simmodel.model.stages.enter import entry_cells, expected_entrants

    m = SimModel(inputs, dataclasses.replace(Levers(), pilot_zones_planned_per_batch=30), Uncertainties(),
                 scale=0.03, seed=5)
    zones = set()
    while m.q < m.n_quarters:
        m.step()
        fresh = expected_entrants(m.params, m.levers, m.sectors, n_tech_smes=m.base["n_tech_smes"].value,
                                  scale=m.scale, city_weight=m.cities_table.firm_weight,
                                  sector_weight=m.entry_sector_weight, pilot_zone=m.government.pilot_zone)
        kept = m._entrants[1]  # what enter() took, without the check expected_entrants() makes
        assert kept[0] == fresh[0] and np.array_equal(kept[1], fresh[1])
        assert all(a.tobytes() == b.tobytes() for a, b in zip(kept[2], entry_cells(fresh[1]), strict=True))
        zones.add(m.government.pilot_zone.tobytes())
    assert len(zones) > 1  # the zones changed during the run, so the key was exercised
