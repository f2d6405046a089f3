"""The firm ladder's yearly moves (art. 17)."""

from __future__ import annotations

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import (TECH_SME_MAX_REVENUE_CNY_100M, FirmStage, Firms, draw_without_replacement,
                                   high_tech_rd_threshold, log_high_tech_rd_threshold, stage_mask)
from simmodel.agents.noise import keyed_uniforms
from simmodel.levers import Levers
from simmodel.params import Params


def log_effective_rd(firms: Firms, params: Params, idx: np.ndarray) -> np.ndarray:
    """log of R&D (own plus grant-induced) over revenue, for the firms in idx."""
    share = kernels.effective_rd_share(idx, firms.revenue, firms.rd_intensity, firms.grant_rd, params.subsidy_additionality)
    return np.log(share, out=share)


def climb_ladder(firms: Firms, params: Params, levers: Levers, *, scale: float, is_industry: np.ndarray,
                 rng: np.random.Generator) -> None:
    """Recording of start-ups, high-tech certification and lapse, and the national batches of little
    giants and single champions (counts per yr scaled by ``scale`` and the ladder support lever).
    Writes stage, rd_intensity (certified firms raise theirs to the threshold) and designated."""
    f, p, lv = firms, params, levers
    n = f.n
    support = lv.ladder_support_index ** p.ladder_support_elasticity
    st = f.stage

    u = keyed_uniforms(rng, n)  # one uniform a firm, for the three moves below (disjoint stages)
    rec = f.alive & (st == FirmStage.STARTUP) & (f.age_q >= 4) & (u < p.startup_record_rate_annual)
    # Certification (15 % tax rate) is worth qualifying for: a tech SME that applies raises its
    # R&D to the threshold if it is below it.
    cert_p = min(1.0, p.high_tech_certification_rate_annual * support)
    cert = np.flatnonzero(f.alive & (st == FirmStage.TECH_SME) & (u < cert_p))  # rows: gathered three times below
    ht = np.flatnonzero(f.alive & (st == FirmStage.HIGH_TECH))
    meets = log_effective_rd(f, p, ht) >= log_high_tech_rd_threshold(f.revenue[ht])
    lapse_p = np.where(meets, p.high_tech_lapse_rate_annual,
                       min(1.0, p.high_tech_lapse_multiplier_below_threshold * p.high_tech_lapse_rate_annual))
    lapse = ht[u[ht] < lapse_p]
    st[rec] = int(FirmStage.TECH_SME)
    st[cert] = int(FirmStage.HIGH_TECH)
    f.rd_intensity[cert] = np.maximum(f.rd_intensity[cert], high_tech_rd_threshold(f.revenue[cert]))
    st[lapse] = np.where(f.revenue[lapse] < TECH_SME_MAX_REVENUE_CNY_100M, int(FirmStage.TECH_SME), int(FirmStage.CONVENTIONAL))
    grown = f.alive & (st == FirmStage.TECH_SME) & (f.revenue > TECH_SME_MAX_REVENUE_CNY_100M)
    st[grown] = int(FirmStage.CONVENTIONAL)
    lo, hi = p.little_giant_min_revenue_cny_100m, p.little_giant_max_revenue_cny_100m
    k_lg = int(rng.poisson(p.little_giant_new_per_year * scale * support))
    lg_pool = f.alive & stage_mask(st, FirmStage.TECH_SME, FirmStage.HIGH_TECH) & (f.revenue >= lo) & (f.revenue <= hi)
    idx = np.flatnonzero(lg_pool)
    # the batch is drawn one firm after another with probability proportional to exp(score), as the
    # k highest of score plus Gumbel noise would be, without a Gumbel number for each candidate
    score = p.selection_rd_weight * log_effective_rd(f, p, idx) + f.log_productivity[idx]
    st[idx[draw_without_replacement(rng, score, k_lg)]] = int(FirmStage.LITTLE_GIANT)
    k_sc = int(rng.poisson(p.single_champion_new_per_year * scale * support))
    sc_pool = (f.alive & stage_mask(st, FirmStage.LITTLE_GIANT, FirmStage.HIGH_TECH)
               & (f.revenue >= p.single_champion_min_revenue_cny_100m) & is_industry[f.sector])
    idx = np.flatnonzero(sc_pool)
    score = np.log(np.maximum(f.revenue[idx], 1e-9)) + log_effective_rd(f, p, idx)
    st[idx[draw_without_replacement(rng, score, k_sc)]] = int(FirmStage.SINGLE_CHAMPION)
    f.designated[:] = stage_mask(st, FirmStage.LITTLE_GIANT, FirmStage.SINGLE_CHAMPION) | f.future_type
