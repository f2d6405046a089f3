"""AI+ adoption (art. 3), once a year."""

from __future__ import annotations

import numpy as np

from simmodel.agents.firms import ABOVE_SIZE_REVENUE_CNY_100M, Firms
from simmodel.agents.noise import trial_rows
from simmodel.levers import Levers


def adopt_ai_plus(firms: Firms, levers: Levers, rng: np.random.Generator) -> np.ndarray:
    """A share (ai_plus_adoption_pct_per_year) of the above-size firms that have not adopted AI+
    adopt it this year; their productivity gain ramps up over the next four quarters (see
    innovate_firms). Writes ai_plus and ai_ramp_q; returns the adopters' rows (ascending)."""
    f = firms
    # a trial per slot, drawn for the few that succeed (trial_rows), kept for the above-size firms
    # that have not adopted: the same chance for each of them as a draw per firm
    rows = trial_rows(rng, f.n, levers.ai_plus_adoption_pct_per_year / 100.0)
    rows = rows[f.alive[rows] & (f.revenue[rows] >= ABOVE_SIZE_REVENUE_CNY_100M) & ~f.ai_plus[rows]]
    f.ai_plus[rows] = True
    f.ai_ramp_q[rows] = 4
    return rows
