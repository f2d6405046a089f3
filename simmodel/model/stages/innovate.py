"""Innovation: R&D -> innovation -> productivity, every quarter."""

from __future__ import annotations

import numpy as np

from simmodel.agents.firms import Firms
from simmodel.params import Params


def innovate_firms(firms: Firms, params: Params, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Each alive firm innovates with its p_innovate_q; an innovation raises log_productivity by an
    exponential step, and AI+ adopters still ramping up (ai_ramp_q > 0) gain a quarter of the AI+
    gain. Writes log_productivity, n_innovations and ai_ramp_q. Returns each firm's
    log-productivity gain this quarter (log points) and the number of innovations (firms of the
    scaled population)."""
    f, p = firms, params
    hit = f.alive & (rng.random(f.n, dtype=np.float32) < f.p_innovate_q)
    n_hit = int(hit.sum())
    gain = np.zeros(f.n)
    gain[hit] = rng.exponential(p.innovation_step_mean, n_hit)
    ramp = f.ai_ramp_q > 0
    if ramp.any():
        # add the gain times the mask rather than through it: gain + 0.0 == gain, no gather and scatter
        gain += (p.ai_plus_productivity_gain / 4.0) * ramp
        f.ai_ramp_q -= ramp
    f.log_productivity += gain
    f.n_innovations += hit
    return gain, n_hit
