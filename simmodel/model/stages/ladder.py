"""The firm ladder's yearly moves (art. 17)."""

from __future__ import annotations

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import (HIGH_TECH_RD, HIGH_TECH_RD_UPPER, LOG_HIGH_TECH_RD, TECH_SME_MAX_REVENUE_CNY_100M, Firms,
                                   FirmStage, draw_without_replacement, stage_bits, stage_mask)
from simmodel.agents.noise import row_key
from simmodel.levers import Levers
from simmodel.params import Params

# the stages ladder_moves reads and writes: start-up, tech SME, conventional, high-tech
_LADDER_CODES = np.array([FirmStage.STARTUP, FirmStage.TECH_SME, FirmStage.CONVENTIONAL, FirmStage.HIGH_TECH], np.int8)


def log_effective_rd(firms: Firms, params: Params, idx: np.ndarray) -> np.ndarray:
    """log of R&D (own plus grant-induced) over revenue, for the firms in idx."""
    share = kernels.effective_rd_share(idx, firms.revenue, firms.rd_intensity, firms.grant_rd, params.subsidy_additionality)
    return np.log(share, out=share)


def pool_rows(firms: Firms, bits: int, low: float, high: float, sector_ok: np.ndarray | None) -> np.ndarray:
    """The rows of the alive firms of the stages in ``bits`` (a stage_bits set), revenue in
    [``low``, ``high``] (CNY 100 m per yr), of a sector flagged in ``sector_ok`` (a flag a sector, read
    as booleans: a table of 0 and 1 selects as a mask, never as positions; None: any sector)."""
    f = firms
    flags = np.empty(f.n, np.bool_)
    kernels.stage_pool_flags(f.alive, f.stage, bits, f.revenue, low, high, f.sector, None, flags)
    rows = np.flatnonzero(flags)
    # the sector's flag looked up for the few rows left, not in a pass over every firm (the single
    # champions' pool at 1:1, a few thousand of up to 200 000 slots: 1.10 -> 0.47 ms a replicate)
    return rows if sector_ok is None else rows[sector_ok.astype(np.bool_, copy=False)[f.sector[rows]]]


def climb_ladder(firms: Firms, params: Params, levers: Levers, *, scale: float, is_industry: np.ndarray,
                 rng: np.random.Generator) -> None:
    """Recording of start-ups, high-tech certification and lapse, and the national batches of little
    giants and single champions (counts per yr scaled by ``scale`` and the ladder support lever).
    Writes stage, rd_intensity (certified firms raise theirs to the threshold) and designated."""
    f, p, lv = firms, params, levers
    support = lv.ladder_support_index ** p.ladder_support_elasticity
    st = f.stage

    # Recording, certification and the growth out of the tech-SME band in one compiled pass, the high-tech
    # firms' lapse after it (it compares logarithms, which stay numpy's: see simmodel.kernels). One
    # uniform a firm (keyed by row) serves the three moves, whose stages are disjoint. Certification
    # (15 % tax rate) is worth qualifying for: a tech SME that applies raises its R&D to the threshold
    # if it is below it.
    cert_p = min(1.0, p.high_tech_certification_rate_annual * support)
    was_ht, certified, u = np.empty(f.n, np.bool_), np.empty(f.n, np.bool_), np.empty(f.n, np.float32)
    kernels.ladder_moves(f.alive, st, f.age_q, f.revenue, row_key(rng),
                         kernels.compared_as(np.float32, p.startup_record_rate_annual),
                         kernels.compared_as(np.float32, cert_p), _LADDER_CODES, TECH_SME_MAX_REVENUE_CNY_100M,
                         was_ht, certified, u)
    # the certified firms' R&D raised to the threshold, then the lapse of those that were high-tech
    # (below the band a lapsed firm is a tech SME again, never one that has outgrown it), each in a
    # compiled pass over its rows, the lapse's logarithms numpy's (high_tech_rd_threshold and
    # log_high_tech_rd_threshold state the thresholds)
    kernels.certified_rd(np.flatnonzero(certified), f.revenue, f.rd_intensity, HIGH_TECH_RD_UPPER, HIGH_TECH_RD)
    ht = np.flatnonzero(was_ht)
    kernels.high_tech_lapse(ht, log_effective_rd(f, p, ht), f.revenue, u, st, HIGH_TECH_RD_UPPER, LOG_HIGH_TECH_RD,
                            p.high_tech_lapse_rate_annual,
                            min(1.0, p.high_tech_lapse_multiplier_below_threshold * p.high_tech_lapse_rate_annual),
                            TECH_SME_MAX_REVENUE_CNY_100M, np.int8(FirmStage.TECH_SME), np.int8(FirmStage.CONVENTIONAL))
    lo, hi = p.little_giant_min_revenue_cny_100m, p.little_giant_max_revenue_cny_100m
    k_lg = int(rng.poisson(p.little_giant_new_per_year * scale * support))
    idx = pool_rows(f, stage_bits(FirmStage.TECH_SME, FirmStage.HIGH_TECH), lo, hi, None)
    # the batch is drawn one firm after another with probability proportional to exp(score), as the
    # k highest of score plus Gumbel noise would be, without a Gumbel number for each candidate
    # selection_rd_weight * log effective R&D + log productivity, in place (the same products and sums)
    score = log_effective_rd(f, p, idx)
    score *= p.selection_rd_weight
    score += f.log_productivity.take(idx)
    st[idx[draw_without_replacement(rng, score, k_lg)]] = int(FirmStage.LITTLE_GIANT)
    k_sc = int(rng.poisson(p.single_champion_new_per_year * scale * support))
    idx = pool_rows(f, stage_bits(FirmStage.LITTLE_GIANT, FirmStage.HIGH_TECH), p.single_champion_min_revenue_cny_100m,
                    np.inf, is_industry)
    score = np.log(np.maximum(f.revenue[idx], 1e-9)) + log_effective_rd(f, p, idx)
    st[idx[draw_without_replacement(rng, score, k_sc)]] = int(FirmStage.SINGLE_CHAMPION)
    f.designated[:] = stage_mask(st, FirmStage.LITTLE_GIANT, FirmStage.SINGLE_CHAMPION) | f.future_type
