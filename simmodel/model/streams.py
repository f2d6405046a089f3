"""A replicate's random streams: one numpy Generator for each stage and step, seeded exactly as
``np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=key + (purpose,
index))))`` seeds it, with the seeds of every stream a run will ask for computed at once.

Why: a replicate asks for about 290 streams (twelve a year, eight a quarter, some at set-up).
numpy builds each SeedSequence and draws its seed words through Python-level code (a decorator that
sets the floating-point error state, a lock, an abstract-class check): 16 us a stream in a tight
loop, and 40 us (10 000 firms) to 75-100 us (1:1) among the simulation's passes over the firm arrays,
which push that code out of the processor's caches: 11 ms, 8 % of a replicate at 10 000 firms. Here
the words that every stream of a replicate shares (its entropy and spawn key) are mixed once, and
the last two (purpose and index) of all planned streams in one compiled loop (simmodel.kernels.stream_seeds:
0.53 ms for a replicate's 266 streams, most of it the Generators' construction): a stream then costs
the construction of its PCG64 and Generator.

The arithmetic is SeedSequence's (numpy/random/bit_generator.pyx: ``mix_entropy``, ``hashmix``,
``mix`` and ``generate_state``) on 32-bit words, done in 64-bit integers and masked: a product of
two 32-bit numbers fits in 64 bits, and a difference wrapped modulo 2^64 is right modulo 2^32.
``tests/unit/test_streams.py`` checks it against numpy's SeedSequence; a stream that was not
planned, or whose words do not fit the fast path (an entropy that is not an integer, an index of
2^32 or more), is seeded by numpy's SeedSequence itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.random.bit_generator import ISeedSequence

from simmodel import kernels

_M32 = 0xFFFFFFFF
_INIT_A, _MULT_A = 0x43B0D7E5, 0x931E8875  # SeedSequence's constants
_INIT_B, _MULT_B = 0x8B51F9DD, 0x58F38DED
_MIX_L, _MIX_R = 0xCA01F9DD, 0x4973F715
_XSHIFT = 16
_POOL = 4  # SeedSequence's default pool size, the one the streams use
_SUFFIX_WORDS = 2  # purpose and index, one 32-bit word each on the fast path


def _words(n: int) -> list[int]:
    """A non-negative integer as 32-bit words, lowest first (0 is one word), as SeedSequence reads it."""
    if n < 0:
        raise ValueError(f"seed words must be non-negative, got {n}")
    out = [n & _M32]
    n >>= 32
    while n:
        out.append(n & _M32)
        n >>= 32
    return out


def _constants(start: int, mult: int, count: int) -> list[tuple[int, int]]:
    """(constant before, constant after) of ``count`` successive multiplications of a hash constant."""
    out = []
    for _ in range(count):
        nxt = (start * mult) & _M32
        out.append((start, nxt))
        start = nxt
    return out


def _hashmix(word: int, hc: int) -> int:
    """SeedSequence's hashmix of ``word`` with the hash constant ``hc`` as it stands before the call
    (the caller then advances it by _MULT_A)."""
    v = ((word ^ hc) * ((hc * _MULT_A) & _M32)) & _M32
    return v ^ (v >> _XSHIFT)


def _mix(x: int, y: int) -> int:
    """SeedSequence's mix of two 32-bit words."""
    r = (_MIX_L * x - _MIX_R * y) & _M32
    return r ^ (r >> _XSHIFT)


# generate_state's constants do not depend on the pool: the same for every stream
_STATE = _constants(_INIT_B, _MULT_B, 2 * _POOL)
_STATE_WORDS = np.array(_STATE, dtype=np.uint64)


class _Seeded(ISeedSequence):
    """Seed words already computed, handed to PCG64 (which asks for 4 words of 64 bits)."""

    __slots__ = ("words",)

    def __init__(self, words: np.ndarray):
        self.words = words

    def generate_state(self, n_words: int, dtype=np.uint32) -> np.ndarray:
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("precomputed stream seeds serve PCG64 only (4 words of 64 bits)")
        return self.words


class Streams:
    """The streams of one replicate (``entropy`` and ``spawn_key`` of its SeedSequence). ``plan``
    the keys (purpose, index) a run will ask for; ``generator`` gives a fresh Generator for any key,
    the same stream whether planned or not, and the same on every call."""

    def __init__(self, entropy: int | Sequence[int], spawn_key: Sequence[int]):
        self.entropy = entropy
        self.spawn_key = tuple(int(k) for k in spawn_key)
        self._row: dict[tuple[int, int], int] = {}
        self._seeds = np.zeros((0, _POOL), np.uint64)
        # the planned streams' generators, built at plan time and each handed out once: built one
        # after another they cost about 2 us each, against about 9 us built one at a time between the
        # stages (the construction's code and data out of the processor's caches by then)
        self._fresh: dict[tuple[int, int], np.random.Generator] = {}
        self.n_unplanned = 0  # streams seeded by numpy's SeedSequence (not planned, or off the fast path)
        self._pool: list[int] | None = None
        if isinstance(entropy, (int, np.integer)):
            self._mix_prefix(_words(int(entropy)), [w for k in self.spawn_key for w in _words(k)])

    def _mix_prefix(self, run: list[int], spawn: list[int]) -> None:
        """SeedSequence.mix_entropy over the words every stream shares; keeps the pool and the hash
        constants that the last two words will meet."""
        words = run + [0] * (_POOL - len(run)) + spawn  # a spawn key follows: the entropy is padded to the pool
        hc = _INIT_A
        pool = []
        for w in words[:_POOL]:
            pool.append(_hashmix(w, hc))
            hc = (hc * _MULT_A) & _M32
        for s in range(_POOL):
            for d in range(_POOL):
                if s != d:
                    pool[d] = _mix(pool[d], _hashmix(pool[s], hc))
                    hc = (hc * _MULT_A) & _M32
        for w in words[_POOL:]:
            for d in range(_POOL):
                pool[d] = _mix(pool[d], _hashmix(w, hc))
                hc = (hc * _MULT_A) & _M32
        self._pool = pool
        self._suffix = _constants(hc, _MULT_A, _SUFFIX_WORDS * _POOL)

    def plan(self, keys: Iterable[tuple[int, int]]) -> None:
        """Compute the seeds of the streams ``keys`` (purpose, index) in one compiled pass."""
        if self._pool is None:
            return
        new = [k for k in dict.fromkeys(keys) if k not in self._row and 0 <= k[0] <= _M32 and 0 <= k[1] <= _M32]
        if not new:
            return
        # the last two words of every stream in one compiled loop: integer arithmetic, the words that
        # numpy's vectorised form of it gave, without its 200 calls on small arrays (plan 1.47 -> 1.11 ms
        # a 10 000-firm set-up in a run, the Generators' construction the rest)
        seeds = kernels.stream_seeds(np.array(self._pool, dtype=np.uint64), np.array(new, dtype=np.uint64),
                                     np.array(self._suffix, dtype=np.uint64), _STATE_WORDS, np.uint64(_MIX_L),
                                     np.uint64(_MIX_R), _XSHIFT)
        start = self._seeds.shape[0]
        self._seeds = np.concatenate((self._seeds, seeds))
        self._row.update({k: start + i for i, k in enumerate(new)})
        self._fresh.update({k: np.random.Generator(np.random.PCG64(_Seeded(w))) for k, w in zip(new, seeds, strict=True)})

    def generator(self, purpose: int, index: int) -> np.random.Generator:
        """A fresh Generator on the stream (purpose, index)."""
        fresh = self._fresh.pop((purpose, index), None)
        if fresh is not None:
            return fresh
        row = self._row.get((purpose, index))
        if row is None:
            self.n_unplanned += 1
            seed = np.random.SeedSequence(self.entropy, spawn_key=self.spawn_key + (purpose, index))
            return np.random.Generator(np.random.PCG64(seed))
        return np.random.Generator(np.random.PCG64(_Seeded(self._seeds[row])))
