"""AI+ adoption (art. 3), once a year."""

from __future__ import annotations

import numpy as np

from simmodel.agents.firms import Firms
from simmodel.levers import Levers


def adopt_ai_plus(firms: Firms, levers: Levers, rng: np.random.Generator) -> int:
    """A share (ai_plus_adoption_pct_per_year) of the above-size firms that have not adopted AI+
    adopt it this year; their productivity gain ramps up over the next four quarters (see
    innovate_firms). Writes ai_plus and ai_ramp_q; returns the number of adopters."""
    f = firms
    adopt = f.above_size & ~f.ai_plus & (rng.random(f.n) < levers.ai_plus_adoption_pct_per_year / 100.0)
    rows = np.flatnonzero(adopt)  # a few per cent of the firms: one scan, then two small scatters
    f.ai_plus[rows] = True
    f.ai_ramp_q[rows] = 4
    return int(rows.size)
