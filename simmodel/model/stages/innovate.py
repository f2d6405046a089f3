"""Innovation: R&D -> innovation -> productivity, every quarter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import Firms
from simmodel.agents.noise import row_key
from simmodel.params import Params


@dataclass(frozen=True)
class ProductivityGain:
    """This quarter's log-productivity gains (log points) of the firms that have one: a few per cent
    of the firms innovate and a few adopters of AI+ ramp up, so the gains are kept by row rather than
    as an array over every firm, which would cost the stages a pass each to write and read."""

    rows: np.ndarray  # firm rows, each at most once (the innovators, then the other firms ramping up)
    log_points: np.ndarray  # the gain of each row


def innovate_firms(firms: Firms, params: Params, rng: np.random.Generator,
                   ramping: np.ndarray | None = None) -> tuple[ProductivityGain, int]:
    """Each alive firm innovates with its p_innovate_q; an innovation raises log_productivity by an
    exponential step, and AI+ adopters still ramping up (ai_ramp_q > 0) gain a quarter of the AI+
    gain. ``ramping``: the rows (ascending, distinct) among which every firm still ramping up is,
    the year's AI+ adopters (adopt_ai_plus); None: found by a pass over every firm. Writes
    log_productivity, n_innovations and ai_ramp_q. Returns this quarter's gains (log points) and the
    number of innovations (firms of the scaled population)."""
    f, p = firms, params
    if ramping is None:
        ramping = np.flatnonzero(f.ai_ramp_q > 0)
    # the innovators (a keyed uniform a firm, noise.keyed_events' rule, the key drawn from rng), their
    # exponential steps (rng.exponential's numbers after the key, in row order) and the gains, in one
    # compiled call
    rows, gain, n = kernels.innovation_quarter(f.alive, f.p_innovate_q, row_key(rng), kernels.generator_address(rng),
                                               p.innovation_step_mean, f.ai_ramp_q, ramping,
                                               p.ai_plus_productivity_gain / 4.0, f.n_innovations, f.log_productivity)
    return ProductivityGain(rows=rows, log_points=gain), int(n)
