"""Exits, every quarter."""

from __future__ import annotations

import numpy as np

from simmodel.agents.firms import Firms
from simmodel.agents.noise import keyed_events


def exit_firms(firms: Firms, q: int, rng: np.random.Generator) -> int:
    """Each alive firm exits with its p_exit_q; writes alive and exit_q (= q). Returns the number of
    exits (firms of the scaled population)."""
    f = firms
    # the exits as rows (a keyed uniform a firm, compiled), then two small scatters
    die = keyed_events(rng, f.p_exit_q, f.alive)
    f.alive[die] = False
    f.exit_q[die] = q
    return int(die.size)
