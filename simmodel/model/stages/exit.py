"""Exits, every quarter."""

from __future__ import annotations

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import Firms
from simmodel.agents.noise import row_key


def exit_firms(firms: Firms, q: int, rng: np.random.Generator) -> int:
    """Each alive firm exits with its p_exit_q; writes alive and exit_q (= q). Returns the number of
    exits (firms of the scaled population)."""
    f = firms
    # a keyed uniform a firm (noise.keyed_events' rule, the key drawn from rng) and the exits written in
    # one compiled pass
    return int(kernels.exit_events(f.alive, f.p_exit_q, row_key(rng), f.exit_q, np.int32(q)))
