"""Draws that keep common random numbers between scenarios. Keyed noise: uniforms that depend only on
(a key, a firm row), so that a screen can draw for the few firms it ranks and still give every firm
the draw it would have had among all of them, and two scenarios give the same firm the same draw. The
funds' screens (simmodel.agents.funds.screen), the government's selections
(simmodel.agents.government.choose_with_noise) and the quarterly events and shocks (keyed_uniforms,
keyed_events) use it: ``keyed_uniform`` states it, and the compiled loops of simmodel.kernels compute
the same hash (kernels.keyed_unit; the tests check the one against the other). And rare events at one
rate as the gaps between their successes (trial_rows)."""

from __future__ import annotations

import hashlib
import math

import numpy as np

from simmodel import kernels

# splitmix64 (Steele, Lea and Flood 2014): a bijective 64-bit mixer whose outputs, over consecutive
# counters, pass BigCrush; here it turns (a year's draw, a fund's name) into the fund's key
_M64 = (1 << 64) - 1


def _mix64(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def mix_key(*parts: int) -> int:
    """One 64-bit key from several (a year's draw, a fund's key): each part mixed into the last."""
    z = 0
    for part in parts:
        z = _mix64((z ^ part) & _M64)
    return z


# The screening noise is 32-bit arithmetic: this machine's vector units multiply 32-bit integers
# but not 64-bit ones, so murmur3's 32-bit finaliser runs about ten times faster per firm than
# splitmix64 did here (2.3 against 23 ns), and the screens draw for millions of firms a replicate.
_WEYL32 = np.uint32(0x9E3779B9)  # odd: i -> i * _WEYL32 is a bijection of the firm rows


def _fmix32(h: np.ndarray) -> np.ndarray:
    """murmur3's finaliser (Appleby 2011): a bijective 32-bit mixer with full avalanche (every input
    bit flips each output bit with probability about 1/2). Updates ``h`` in place."""
    h ^= h >> np.uint32(16)
    h *= np.uint32(0x85EBCA6B)
    h ^= h >> np.uint32(13)
    h *= np.uint32(0xC2B2AE35)
    h ^= h >> np.uint32(16)
    return h


def keyed_uniform(key: int | np.ndarray, index: np.ndarray) -> np.ndarray:
    """Uniforms on [0, 1) (float32, multiples of 2^-24), one per ``index`` (firm rows, below 2^32),
    that depend only on (key, index): a firm's draw does not depend on which other firms are drawn
    for, so a screen can draw for the few candidates it ranks and still give every firm the draw it
    would have had in a screen of all of them (common random numbers between scenarios). ``key`` (64
    bits, of which the low 32 count) may be an array of keys that broadcasts against ``index`` (a
    column of keys: one row of draws per key).

    The draw is the top 24 bits of fmix32(index * 0x9E3779B9 XOR key): for one key, distinct firms
    give distinct inputs; the key enters by XOR after the multiply, so that no two keys give the same
    sequence shifted along the firm rows (as adding it would)."""
    k = np.asarray(key, dtype=np.uint64) & np.uint64(0xFFFFFFFF)
    # array arithmetic wraps modulo 2^32 silently (only numpy scalars warn): no errstate needed
    h = index.astype(np.uint32) * _WEYL32
    h = _fmix32(h ^ k.astype(np.uint32))
    return (h >> np.uint32(8)).astype(np.float32) * np.float32(2.0 ** -24)


def next_word(rng: np.random.Generator) -> int:
    """The stream's next 64-bit word, as a Python int: ``rng.integers(0, 2**64, dtype=np.uint64)``'s
    number (numpy takes a range of every 64-bit value straight from the bit generator) and the
    stream's state after it, at 0.3 against 2.2 us (0.4 against 2.6 on a fresh generator). For the model's
    generators, PCG64, whose raw output is that word (tests/unit/test_stages.py)."""
    return int(rng.bit_generator.random_raw())


def row_key(rng: np.random.Generator) -> np.uint32:
    """The key of one pass of keyed uniforms (keyed_uniform(key, row) for the firm rows): one number
    from ``rng``, the same draw whichever rows the pass reads: the low 32 bits of the stream's next
    64-bit word. That is ``rng.integers(0, 2**32)`` on a stream with no half-word buffered from an
    earlier 32-bit draw (every stream the model keys draws its key first) and leaves the 64-bit
    draws after it where that leaves them (tests/unit/test_stages.py), at 0.8 against 2.2 us; unlike
    it, it buffers no half-word for a later 32-bit draw of the stream."""
    return np.uint32(next_word(rng) & 0xFFFFFFFF)


def keyed_uniforms(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` uniforms on [0, 1) (float32, multiples of 2^-24), one per row 0 .. n-1: keyed_uniform of a
    key drawn from ``rng`` (one number) and the row. Row i's uniform depends only on the stream and
    i, as the i-th draw of the stream did, so firms on the same row in two scenarios share it (common
    random numbers); a compiled loop computes them at 0.4 ns a number against the generator's 1.7."""
    return kernels.keyed_units(n, row_key(rng))


def keyed_events(rng: np.random.Generator, p: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """The rows (ascending) of the alive firms whose uniform (keyed_uniforms' for their row, the key
    drawn from ``rng``) is below their probability ``p`` (float32): each with probability p,
    independently, in one compiled pass that writes a flag a firm, then numpy's flatnonzero (a draw
    and a comparison a firm cost 0.54 ms a quarter for the innovations and exits of a 1:1 replicate,
    this 0.23: ``benchmarks/experiments/fused_draws.py``)."""
    return np.flatnonzero(kernels.keyed_events(alive, p, row_key(rng)))


def string_key(text: str) -> int:
    """A stable 64-bit key for a name (not Python's hash, which changes between processes)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


# Rare events at a common rate over every firm slot (spin-offs, AI+ adoption): a fraction of a per
# cent to a tenth of the slots succeed, so a uniform per slot spends most of the draws on failures.
# The successes are drawn instead as the gaps between them: the same distribution, one draw per
# success. The j-th success depends only on the first j draws, so a scenario whose population has
# more slots (other entrants) has the same successes on the slots both have, as a uniform per slot
# did (common random numbers between scenarios).

_MARGIN_SD = 6.0  # draws beyond the expected number of successes, in standard deviations


def trial_rows(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """The rows (0 .. n-1, ascending) where ``n`` independent trials with probability ``rate`` each
    succeed. The gap before each success is geometric, floor(log(1 - u) / log(1 - rate)) failures for a
    uniform u (inversion, exact up to the doubles' rounding), drawn in batches of the expected
    successes and a margin (another batch in the rare case a batch ends before the last row). For
    those the trial concerns, keep the rows that qualify: each qualifying firm succeeds with
    ``rate``, independently, as with a uniform per firm (spin-offs at 0.15 % a quarter: 1 500
    against 1.5 million draws a replicate at 1:1)."""
    if n <= 0 or rate <= 0.0:
        return np.zeros(0, np.int64)
    if rate >= 1.0:
        return np.arange(n, dtype=np.int64)
    per_gap = 1.0 / math.log1p(-rate)  # negative: log1p(-u) * per_gap >= 0
    rows = []
    last = -1  # the row of the last success so far
    while True:
        mean = (n - 1 - last) * rate
        log_u = np.log1p(-rng.random(int(max(mean + _MARGIN_SD * math.sqrt(mean), 0.0)) + 32))
        # the gaps (at most n: beyond the last row in any case, and the integers stay small) and
        # their rows in one compiled pass; numpy's log1p stays out of it (see simmodel.kernels)
        found, ended, last = kernels.gap_rows(log_u, per_gap, n, last)
        rows.append(found)
        if ended:
            return rows[0] if len(rows) == 1 else np.concatenate(rows)
