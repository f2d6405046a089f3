"""What a replicate computes once, from its base-year population, before the first step: the
sectors' growth drifts, their R&D intensity and the start-ups' sector weights."""

from __future__ import annotations

import numpy as np

from simmodel.agents.firms import (ABOVE_SIZE_REVENUE_CNY_100M, Firms, GrowthContext, annual_growth, exit_hazard,
                                   growth_scale, innovation_hazard, log_revenue)
from simmodel.params import Params
from simmodel.population import BaseCalibration
from simmodel.sectors import SectorGroup, SectorTable


def growth_prior(sectors: SectorTable, params: Params) -> np.ndarray:
    """Sector growth priors (fraction per yr) with the calibrated group shifts applied."""
    s, p = sectors, params
    modern = s.emerging | s.is_future
    traditional = (s.group == SectorGroup.TRADITIONAL) | (s.group == SectorGroup.OTHER_INDUSTRY)
    return (s.growth_prior + np.where(modern, p.emerging_growth_shift_pct / 100.0, 0.0)
            + np.where(traditional, p.traditional_growth_shift_pct / 100.0, 0.0))


def calibrate_growth(firms: Firms, sectors: SectorTable, params: Params, calib: BaseCalibration,
                     young_premium: np.ndarray, young_hazard: np.ndarray) -> GrowthContext:
    """Per-sector drift so that, under base-year conditions, each sector's aggregate revenue
    grows at its growth prior: the drift nets out the revenue-weighted mean of every other
    growth term (Laplace convexity, young-firm premium, fund equity, designation, base-level
    innovation) and adds back the revenue lost to exits."""
    f, s, p = firms, sectors, params
    w = f.revenue
    sec = f.sector
    logr = log_revenue(f)
    size_center = (np.bincount(sec, weights=w * logr, minlength=s.n)
                   / np.maximum(np.bincount(sec, weights=w, minlength=s.n), 1e-12))
    rd = f.rd_spending(p)
    counts = np.bincount(sec, minlength=s.n)
    rd_ref = np.bincount(sec, weights=rd, minlength=s.n) / np.maximum(counts, 1)
    rd_ref = np.where(rd_ref > 0, rd_ref, rd[rd > 0].mean())
    ctx = GrowthContext(drift_annual=np.zeros(s.n), size_center=size_center, rd_reference=rd_ref,
                        va_ratio=calib.va_ratio, land_per_va=calib.land_per_va)
    # every growth term at base conditions: annual_growth gives the deterministic part; the
    # convexity of the shock, innovation and exits are added separately
    det = annual_growth(f, ctx, p, 0, np.zeros(s.n), logr, young_premium)
    convexity = -np.log(1.0 - growth_scale(p, logr) ** 2)  # E[exp(Laplace(b))] = 1 / (1 - b^2)
    innov = innovation_hazard(f, ctx, p, 1.0) * p.innovation_step_mean
    hazard = exit_hazard(f, p, 0, 0.0, logr, young_hazard)
    terms = det + convexity + innov - hazard
    mean_terms = (np.bincount(sec, weights=w * terms, minlength=s.n)
                  / np.maximum(np.bincount(sec, weights=w, minlength=s.n), 1e-12))
    ctx.drift_annual = (np.log1p(growth_prior(s, p)) - mean_terms).astype(np.float32)
    ctx.size_center = ctx.size_center.astype(np.float32)
    return ctx


def sector_rd_intensity(firms: Firms, sectors: SectorTable) -> np.ndarray:
    """Revenue-weighted R&D intensity (R&D / revenue) of each sector's firms; the sector table's
    prior where a sector has none. New firms start at their sector's."""
    f, s = firms, sectors
    # the firms grouped by sector, in row order within each (a stable sort, a radix sort of the
    # narrow codes): each sector's firms are a slice, in the order a mask would give them, instead
    # of three masks over every firm per sector
    codes = f.sector.astype(np.int16) if s.n <= np.iinfo(np.int16).max else f.sector
    order = np.argsort(codes, kind="stable")
    ends = np.cumsum(np.bincount(f.sector, minlength=s.n))
    rd, revenue = f.rd_intensity[order], f.revenue[order]
    return np.array([
        float(np.average(rd[a:b], weights=revenue[a:b])) if b > a else float(s.rd_intensity[k])
        for k, (a, b) in enumerate(zip(np.r_[0, ends[:-1]].tolist(), ends.tolist(), strict=True))])


def entry_sector_weights(firms: Firms, sectors: SectorTable) -> np.ndarray:
    """Start-ups enter sectors in proportion to the base year's below-size firms, tilted to
    faster-growing sectors."""
    f = firms
    below = f.alive & (f.revenue < ABOVE_SIZE_REVENUE_CNY_100M)
    w = np.bincount(f.sector[below], minlength=sectors.n).astype(float)
    return w * (1.0 + sectors.growth_prior) + 1e-9
