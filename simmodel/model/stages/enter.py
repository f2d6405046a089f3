"""Entry, every quarter: start-ups (incubators art. 15, pilot zones art. 6, new tracks art. 7) and
spin-offs (art. 4)."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import (ABOVE_SIZE_REVENUE_CNY_100M, ORIGIN_SPINOFF, ORIGIN_STARTUP, FirmStage, Firms,
                                   categorical_cdf, categorical_guide, check_guide)
from simmodel.agents.noise import trial_rows
from simmodel.levers import Levers
from simmodel.params import Params
from simmodel.sectors import SectorGroup, SectorTable

# the levers expected_entrants reads (SimModel keeps its answer while these and the pilot zones stay;
# tests/unit/test_stages.py checks that no other lever changes it)
ENTRY_LEVERS = ("incubator_free_entry_pct", "new_track_access_index")


def expected_entrants(params: Params, levers: Levers, sectors: SectorTable, *, n_tech_smes: float, scale: float,
                      city_weight: np.ndarray, sector_weight: np.ndarray,
                      pilot_zone: np.ndarray) -> tuple[float, np.ndarray]:
    """Expected start-ups this quarter (firms of the scaled population; n_tech_smes is the base year's
    count, province units) and the city x sector weights they are placed by: incubators (art. 15)
    raise the rate, new tracks (art. 7) and pilot zones (art. 6, a city x sector mask) tilt the
    weights and add their extra entry to the total."""
    p, s, lv = params, sectors, levers
    expected = (p.entry_rate_annual * n_tech_smes * scale / 4.0
                * (1.0 + p.incubator_entry_elasticity * lv.incubator_free_entry_pct / 100.0))
    mult = np.where(s.group == SectorGroup.NEW_TRACK, 1.0 + p.new_track_entry_effect * lv.new_track_access_index, 1.0)
    w = city_weight[:, None] * (sector_weight * mult)[None, :]
    w = w * (1.0 + p.pilot_zone_entry_boost * pilot_zone)
    expected *= w.sum() / (city_weight[:, None] * sector_weight[None, :]).sum()
    return expected, w


class EntryCells(NamedTuple):
    """What enter_startups places start-ups by, in city x sector cells flattened city by city: made
    with the weights (entry_cells) and kept all year with them, so that a quarter's draws only walk
    the table and look their cells up."""

    cdf: np.ndarray  # the cells' cumulative distribution (categorical_cdf)
    guide: np.ndarray  # its table for the draws (categorical_guide)
    city: np.ndarray  # each cell's city (intp)
    sector: np.ndarray  # each cell's sector (intp)


def entry_cells(weights: np.ndarray) -> EntryCells:
    """The EntryCells of the city x sector ``weights`` (expected_entrants)."""
    cdf = categorical_cdf((weights / weights.sum()).ravel())
    city, sector = np.divmod(np.arange(cdf.size), weights.shape[1])
    return EntryCells(cdf, categorical_guide(cdf), city, sector)


def enter_startups(firms: Firms, params: Params, *, q: int, expected: float, cells: EntryCells,
                   sector_rd_intensity: np.ndarray, rng: np.random.Generator) -> slice | None:
    """A Poisson number of start-ups with mean ``expected``, placed in city x sector cells by
    ``cells`` (entry_cells), below the above-size threshold; appends their rows (rates not set).
    Returns their slice, or None."""
    p = params
    check_guide(cells.cdf, cells.guide, "enter_startups")
    # the number, the cells (a uniform each), the log revenues and the log productivities, drawn from
    # rng in one compiled call (the numbers and order of numpy's poisson, random, normal and normal);
    # the exponential stays numpy's (see simmodel.kernels)
    n, city, sector, log_revenue, log_productivity, rd_intensity = kernels.startup_draws(
        kernels.generator_address(rng), expected, cells.cdf, cells.guide, cells.city, cells.sector,
        math.log(p.entrant_revenue_median_cny_100m), p.entrant_revenue_sigma, p.base_productivity_dispersion,
        sector_rd_intensity)
    if not n:
        return None
    rev = np.exp(log_revenue)
    np.minimum(rev, ABOVE_SIZE_REVENUE_CNY_100M * 0.999, out=rev)
    return firms.add(n, sector=sector, city=city, stage=int(FirmStage.STARTUP), revenue=rev, revenue_year_start=rev,
                     log_productivity=log_productivity, rd_intensity=rd_intensity, entry_q=q, origin=ORIGIN_STARTUP,
                     boost_until_q=-1, penalty_until_q=-1)


def spin_off_targets(sectors: SectorTable, base_sector_revenue: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sectors a spin-off may be drawn into (emerging and future industries) and their cumulative
    distribution by base-year revenue (CNY 100 m per yr, by sector; categorical_cdf): the same all run."""
    targets = np.flatnonzero(sectors.emerging | sectors.is_future)
    tw = base_sector_revenue[targets]
    return targets, categorical_cdf(tw / tw.sum())


def spin_off(firms: Firms, params: Params, levers: Levers, sectors: SectorTable, *, q: int,
             targets: tuple[np.ndarray, np.ndarray], sector_rd_intensity: np.ndarray,
             rng: np.random.Generator) -> slice | None:
    """High-tech (or higher) firms found spin-offs at spinoff_rate_pct_per_year; a spin-off takes a
    share of its parent's revenue (written) and stays in the parent's emerging or future sector or
    goes to one drawn by ``targets`` (spin_off_targets). Appends their rows (rates not set); returns
    their slice, or None."""
    f, p, s = firms, params, sectors
    rate = levers.spinoff_rate_pct_per_year / 100.0
    if rate <= 0:
        return None
    # a trial per slot at the quarter's rate, drawn for the few that succeed (trial_rows), then kept
    # for the alive high-tech (or higher) firms: the same chance for each of them as a draw per firm
    parents = trial_rows(rng, f.n, -math.expm1(-rate / 4.0))
    parents = parents[f.alive[parents] & (f.stage[parents] >= FirmStage.HIGH_TECH)]
    if not parents.size:
        return None
    # the draws as numpy's categorical and comparison drew them (the targets' uniforms, then the
    # same-sector ones), then the children's columns and the parents' cut revenue in one compiled call
    target_sector, target_cdf = targets
    u_target = rng.random(parents.size)
    u_same = rng.random(parents.size)
    csec, crev, city, log_productivity, rd_intensity = kernels.spin_off_rows(
        parents, u_target, u_same, f.sector, s.emerging | s.is_future, target_sector, target_cdf,
        p.spinoff_same_sector_prob, f.revenue, p.spinoff_revenue_share, f.city, f.log_productivity, sector_rd_intensity)
    return f.add(parents.size, sector=csec, city=city, stage=int(FirmStage.TECH_SME), revenue=crev,
                 revenue_year_start=crev, log_productivity=log_productivity, rd_intensity=rd_intensity, entry_q=q,
                 origin=ORIGIN_SPINOFF, land_mu=0.0, boost_until_q=-1, penalty_until_q=-1)
