"""The replicate's random streams (simmodel.model.streams): the seeds computed at once are numpy's
SeedSequence's, word for word, for any entropy and spawn key; what the fast path cannot take is
seeded by SeedSequence itself; and a run asks for no stream it did not plan."""

from __future__ import annotations

import numpy as np
import pytest

from simmodel.levers import Levers, Uncertainties
from simmodel.model import SimModel
from simmodel.model.simulation import _PURPOSES
from simmodel.model.streams import Streams


def numpy_stream(entropy, spawn_key, purpose, index) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=tuple(spawn_key) + (purpose, index))))


def same_stream(a: np.random.Generator, b: np.random.Generator) -> bool:
    return np.array_equal(a.random(8), b.random(8)) and np.array_equal(a.integers(0, 2**63, 8), b.integers(0, 2**63, 8))


ENTROPIES = [0, 1, 7, 2**32 - 1, 2**32, 20250101, 2**64 + 5, 2**127 + 3, 2**128 - 1, 2**160 + 2**100 + 9,
             np.int64(12345)]
KEYS = [(), (0,), (3,), (2**32 - 1,), (2**32,), (5, 2**40 + 7), (1, 2, 3, 4, 5)]


@pytest.mark.parametrize("entropy", ENTROPIES, ids=str)
@pytest.mark.parametrize("spawn_key", KEYS, ids=str)
def test_planned_streams_are_seedsequences(entropy, spawn_key):
    """Entropy of one to six words, spawn keys empty, long, or with words of 2^32 and more; purposes
    and indices at 0, in between and at the largest one-word value."""
    keys = [(0, 0), (1, 2025), (9, 10_003), (20, 2**32 - 1), (17, 231), (2**32 - 1, 5)]
    st = Streams(entropy, spawn_key)
    st.plan(keys)
    for p, i in keys:
        assert same_stream(st.generator(p, i), numpy_stream(entropy, spawn_key, p, i)), (entropy, spawn_key, p, i)
    assert st.n_unplanned == 0


def test_many_random_seeds_and_keys():
    rng = np.random.default_rng(2026)
    for _ in range(200):
        entropy = int(rng.integers(0, 2**63)) << int(rng.integers(0, 70))
        spawn_key = tuple(int(k) for k in rng.integers(0, 2**31, int(rng.integers(0, 4))))
        keys = [(int(rng.integers(0, 30)), int(rng.integers(0, 2**32))) for _ in range(3)]
        st = Streams(entropy, spawn_key)
        st.plan(keys)
        for p, i in keys:
            assert same_stream(st.generator(p, i), numpy_stream(entropy, spawn_key, p, i))


def test_off_the_fast_path_numpy_seeds_and_every_call_is_a_fresh_generator():
    st = Streams([1, 2, 3], (4,))  # an entropy that is a sequence: no fast path
    st.plan([(1, 2)])
    assert same_stream(st.generator(1, 2), numpy_stream([1, 2, 3], (4,), 1, 2)) and st.n_unplanned == 1
    st = Streams(99, (4,))
    st.plan([(1, 2**32), (2, 3)])  # an index of two words is left to SeedSequence
    assert same_stream(st.generator(1, 2**32), numpy_stream(99, (4,), 1, 2**32)) and st.n_unplanned == 1
    assert same_stream(st.generator(5, 6), numpy_stream(99, (4,), 5, 6)) and st.n_unplanned == 2  # not planned
    a, b = st.generator(2, 3), st.generator(2, 3)
    assert a is not b and same_stream(a, b)  # a new generator at the start of the stream each time
    # a planned stream's generator is built at plan time and handed out once: one asked for after it
    # was handed out and used starts at the beginning of the stream again
    st.plan([(7, 8)])
    used = st.generator(7, 8)
    used.random(5)
    again = st.generator(7, 8)
    assert again is not used and same_stream(again, numpy_stream(99, (4,), 7, 8)) and st.n_unplanned == 2


def test_a_run_asks_only_for_planned_streams(inputs):
    m = SimModel(inputs, Levers(), Uncertainties(), scale=0.02, seed=np.random.SeedSequence(20250101).spawn(3)[2])
    asked = []
    plain = m.streams.generator
    m.streams.generator = lambda p, i: asked.append((p, i)) or plain(p, i)
    m.run()
    assert m.streams.n_unplanned == 0
    # every purpose of the model was asked for (the synthesis and the initial funds before the patch)
    assert {p for p, _ in asked} | {_PURPOSES[x] for x in ("synthesis", "zones", "init_funds", "init_fund_sales")} == set(
        _PURPOSES.values())
