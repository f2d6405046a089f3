"""Replicates (simmodel.ensemble): seeds flow from one root seed, replicate r is the same run
whatever the number of replicates or workers (common random numbers across scenarios)."""

from __future__ import annotations

import pytest

from simmodel.ensemble import replicate_seeds, run_ensemble
from simmodel.levers import Levers, Uncertainties
from simmodel.model import SimModel

SCALE = 0.05
ROOT = 20250101


@pytest.fixture(scope="module")
def serial(inputs):
    return run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, workers=1)


def test_replicate_seeds_do_not_depend_on_their_number():
    few, many = replicate_seeds(ROOT, 2), replicate_seeds(ROOT, 5)
    for a, b in zip(few, many):
        assert (a.entropy, a.spawn_key) == (b.entropy, b.spawn_key)
    assert len({s.spawn_key for s in many}) == 5


def test_replicate_is_the_model_run_on_its_seed(inputs, serial):
    seed = replicate_seeds(ROOT, 2)[1]
    m = SimModel(inputs, Levers(), Uncertainties(), scale=SCALE, seed=seed)
    assert m.run().equals(serial[1].trajectory)
    assert m.fiscal_cost_by_lever() == serial[1].fiscal_cost
    assert [r.replicate for r in serial] == [0, 1]


def test_replicates_differ(serial):
    assert not serial[0].trajectory.equals(serial[1].trajectory)


def test_results_do_not_depend_on_workers(inputs, serial):
    parallel = run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, workers=2)
    assert [r.replicate for r in parallel] == [0, 1]
    for a, b in zip(serial, parallel):
        assert a.trajectory.equals(b.trajectory)
        assert a.fiscal_cost == b.fiscal_cost


def test_progress_is_called_once_per_replicate(inputs):
    calls = []
    run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, workers=1,
                 progress=calls.append)
    assert calls == [1, 1]
