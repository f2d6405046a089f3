"""High-level talents (teams) recruited (art. 9) and cultivated (art. 10), held as arrays.

Talents are matched to firms in emerging clusters and future industries, in proportion to the
firm's productivity and size; each raises its firm's innovation hazard. They leave at a rate that
incentives (art. 11) lower, and are re-matched when their firm exits.
"""

from __future__ import annotations

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import Firms, FirmStage, categorical, stage_bits

RECRUITED, CULTIVATED = 0, 1
_PAST_STARTUP = stage_bits(*(st for st in FirmStage if st != FirmStage.STARTUP))  # the stages talents join


class TalentPool:
    def __init__(self) -> None:
        self.firm = np.zeros(0, dtype=np.int64)  # -1: unmatched
        self.kind = np.zeros(0, dtype=np.int8)
        self.arrival_year = np.zeros(0, dtype=np.int32)
        self.active = np.zeros(0, dtype=bool)
        self.n_left = 0

    @property
    def n_active(self) -> int:
        return int(self.active.sum())

    def recruit(self, year: int, n_recruited: int, n_cultivated_last_year: int, firms: Firms,
                target_sector: np.ndarray, rng: np.random.Generator) -> int:
        """Add this year's recruits and last year's cultivated cohort (training lag), then match."""
        n_new = n_recruited + n_cultivated_last_year
        if n_new:
            # np.concatenate, not np.r_ (the same arrays; np.r_ parses its arguments at about 8 us a call)
            self.firm = np.concatenate((self.firm, np.full(n_new, -1, np.int64)))
            kind = np.full(n_new, CULTIVATED, np.int8)
            kind[:n_recruited] = RECRUITED
            self.kind = np.concatenate((self.kind, kind))
            self.arrival_year = np.concatenate((self.arrival_year, np.full(n_new, year, np.int32)))
            self.active = np.concatenate((self.active, np.ones(n_new, bool)))
        self.match(firms, target_sector, rng)
        return n_new

    def match(self, firms: Firms, target_sector: np.ndarray, rng: np.random.Generator) -> None:
        """Give every active unmatched talent a firm (weights: productivity x sqrt(revenue))."""
        self.release_dead(firms)
        free = np.flatnonzero(self.active & (self.firm < 0))
        if free.size == 0:
            return
        # the alive firms of a target sector past the start-up stage, and their weights, in compiled
        # passes around numpy's flatnonzero and exponential (kernels: the exponential stays numpy's)
        f = firms
        flags = np.empty(f.n, np.bool_)
        kernels.stage_pool_flags(f.alive, f.stage, _PAST_STARTUP, f.revenue, None, None, f.sector, target_sector, flags)
        cand = np.flatnonzero(flags)
        if cand.size == 0:
            return
        w = f.log_productivity[cand]
        np.exp(w, out=w)
        kernels.times_sqrt_revenue(w, cand, f.revenue)
        # rng.choice's numbers without its checks of the weights (three passes over them)
        pick = cand[categorical(rng, w / w.sum(), free.size)]
        self.firm[free] = pick
        np.add.at(firms.talent, pick, 1)

    def retain(self, firms: Firms, leave_rate_annual: float, incentive_cny_10k: float, half_effect_cny_10k: float,
               rng: np.random.Generator) -> int:
        """One quarter of departures; returns the number who left. One uniform an active talent from
        ``rng``, in row order, drawn in the compiled pass that applies them (kernels.talent_departures)."""
        rate = leave_rate_annual / (1.0 + incentive_cny_10k / half_effect_cny_10k)
        gone = kernels.talent_departures(self.active, self.firm, firms.talent, kernels.generator_address(rng),
                                         1.0 - np.exp(-rate / 4.0))
        self.n_left += gone
        return gone

    def release_dead(self, firms: Firms) -> None:
        """Talents of firms that exited this quarter lose their firm (re-matched next year)."""
        kernels.release_exited(self.active, self.firm, firms.alive)
