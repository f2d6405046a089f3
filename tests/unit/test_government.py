"""The government's selections (simmodel.agents.government) on hand-made firm arrays: counts rounded
without bias, recipients drawn from their pool with a reserved future share, the year's randomness
drawn in one call per kind, and a government that acts on what it is handed."""

from __future__ import annotations

import mesa
import numpy as np
import pytest

from simmodel.agents.firms import FirmStage, Firms
from simmodel.agents.government import Government, stochastic_round_all


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


def test_selections_draw_counts_for_all_and_noise_for_the_pools_that_choose(government, inputs):
    s = inputs.sectors
    fut, other = int(np.flatnonzero(s.is_future)[0]), int(np.flatnonzero(~s.is_future & ~s.emerging)[0])
    f = firms_in([fut] * 5 + [other] * 7)
    f.alive[3] = False
    ks, pools, noise = government._selections(np.array([2.0, 0.0, 3.0]), ["high_tech", "tech", None], f, 0,
                                              np.random.default_rng(0))
    assert ks.tolist() == [2, 0, 3]
    assert pools[0].tolist() == [0, 1, 2, 4, 5, 6, 7, 8, 9, 10, 11]  # alive high-tech firms
    assert pools[1].size == pools[2].size == 0  # no recipient / pays nothing: no pool, no noise
    assert [u.size for u in noise] == [11, 0, 0] and ((0 <= noise[0]) & (noise[0] < 1)).all()


def test_recipients_come_from_the_pool_with_the_future_share(government, inputs):
    s = inputs.sectors
    fut, other = int(np.flatnonzero(s.is_future)[0]), int(np.flatnonzero(~s.is_future & ~s.emerging)[0])
    f = firms_in([fut] * 5 + [other] * 20)
    pool = np.arange(2, 25)  # firms 0 and 1 are not eligible
    score = np.zeros(f.n)
    score[[2, 10, 11, 12]] = 5.0  # the best: one future firm, three others
    chosen = government.select_recipients(pool, 4, np.zeros(pool.size), 0.5, f, score)
    assert chosen.size == 4 and np.isin(chosen, pool).all()
    assert (s.is_future[f.sector[chosen]]).sum() == 2  # half reserved for future industries
    assert {2}.issubset(chosen.tolist()) and len({10, 11, 12} & set(chosen.tolist())) == 2
    # noise is aligned with the pool: a large draw lifts its firm to the top
    noise = np.zeros(pool.size)
    noise[pool.tolist().index(20)] = 100.0
    assert 20 in government.select_recipients(pool, 1, noise, 0.0, f, score).tolist()
