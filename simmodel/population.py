"""Synthesise the base-year firm population from the observed aggregates.

The population reproduces, by construction and within stated tolerances (tests/unit/test_population),
the base-year table: 415X revenue and its emerging share (T1), above-size industry VA, the SEI share
of it (T2), digital-core VA (T3, through one scaling factor), R&D intensity, and the counts of
high-tech enterprises, little giants and single champions.

Firm sizes follow one truncated power law (Zipf-like, Axtell 2001): above the above-size threshold
its exponent is solved so that the mean matches the base-year revenue per above-size firm; below the
threshold the same law extends down to the typical entrant's size. Quantile (stratified) sampling
keeps sector totals close to their targets before a final exact rescaling of the part of each firm's
revenue above the threshold, which leaves every above-size firm above the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from simmodel.agents.firms import (
    ABOVE_SIZE_REVENUE_CNY_100M, HIGH_TECH_RD_THRESHOLDS,
    TECH_SME_MAX_REVENUE_CNY_100M, FirmStage, Firms, categorical, draw_among, high_tech_rd_threshold, stage_mask)
from simmodel.data import BaseQuantity
from simmodel.errors import DataError
from simmodel.evidence import SECTOR_REVENUE_FORMAT
from simmodel.params import Params
from simmodel.sectors import CityTable, SectorGroup, SectorTable



def truncated_pareto_mean(alpha: float, xmin: float, xmax: float) -> float:
    r = (xmin / xmax) ** alpha
    if abs(alpha - 1.0) < 1e-9:
        return xmin * math.log(xmax / xmin) / (1 - r)
    return alpha * xmin ** alpha / (1 - r) * (xmin ** (1 - alpha) - xmax ** (1 - alpha)) / (alpha - 1)


def truncated_pareto_ppf(u: np.ndarray, alpha: float, xmin: float, xmax: float) -> np.ndarray:
    r = (xmin / xmax) ** alpha
    return xmin * np.power(1.0 - u * (1.0 - r), -1.0 / alpha)


def stochastic_counts(expected: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    base = np.floor(expected)
    return (base + (rng.uniform(size=expected.size) < expected - base)).astype(np.int64)


@dataclass
class BaseCalibration:
    """Constants that tie the synthetic population to the observed base year."""

    va_ratio: np.ndarray  # VA / revenue by sector after rescaling
    sei_share: np.ndarray  # SEI share by sector after rescaling to T2
    digital_scale: float  # official digital-core VA / modelled digital-core VA (province units)
    rest_of_economy_va_cny_100m: float  # GDP not produced by the modelled firms
    other_rd_cny_100m: float  # R&D not performed by the modelled firms
    land_per_va: np.ndarray  # mu per CNY 100 m VA per yr, by sector
    pareto_alpha: float  # exponent of the above-size size distribution
    sector_revenue_target: np.ndarray  # above-size revenue by sector (province units)


class Synthesiser:
    """Builds the base-year population for one replicate. Money in CNY 100 m, province units
    unless stated (a population at ``scale`` holds ``scale`` times the firms and totals)."""

    def __init__(self, sectors: SectorTable, cities: CityTable, base: dict[str, BaseQuantity], params: Params, scale: float):
        self.sectors = sectors
        self.cities = cities
        self.base = base
        self.params = params
        self.scale = scale
        self.xmin = ABOVE_SIZE_REVENUE_CNY_100M
        self.xmax = params.largest_firm_revenue_cny_100m
        self.targets = self._sector_targets()
        # firm counts are dealt to sectors in proportion to revenue, so the mean size is one number
        self.alpha = self._solve_alpha(self.targets.sum() / self.base_value("n_above_size_firms"))

    def base_value(self, name: str) -> float:
        return self.base[name].value

    def _sector_targets(self) -> np.ndarray:
        """Base-year revenue by sector (province units): above-size revenue for 415X and other
        industry, total revenue for future industries and new tracks.

        An emerging sector with a base-year quantity ``<sector_id>_revenue_cny_100m`` (optional; the
        data give three, simmodel.evidence.infer_emerging_cluster_revenues; a user adds rows for more)
        gets that revenue; the rest of the emerging total (T1 x 415X revenue) goes to the other
        emerging sectors by their weights, as does each traditional sector's share of (1 - T1) x 415X."""
        s = self.sectors
        r415 = self.base_value("cluster_415x_revenue_cny_100m")
        t1 = self.base_value("t1_emerging_share_415x_pct") / 100
        out = np.zeros(s.n)
        g = s.group == SectorGroup.TRADITIONAL
        out[g] = (1 - t1) * r415 * s.base_revenue_weight[g] / s.base_revenue_weight[g].sum()
        out[s.group == SectorGroup.EMERGING] = self._emerging_targets(t1 * r415)
        ind415 = out[s.in_415x & s.is_industry].sum()
        share = self.base_value("non_415x_share_above_size_revenue_pct") / 100
        g = s.group == SectorGroup.OTHER_INDUSTRY
        out[g] = share / (1 - share) * ind415 * s.base_revenue_weight[g] / s.base_revenue_weight[g].sum()
        fut = s.is_future
        # the future industries' revenues are placeholders (sector_sources.csv A6): an optional base-year
        # quantity scales them all, so their stated range is drawn like any other base-year assumption
        factor = self.base["future_base_revenue_factor"].value if "future_base_revenue_factor" in self.base else 1.0
        out[fut] = s.base_revenue_cny_100m[fut] * factor
        return out

    def _emerging_targets(self, total: float) -> np.ndarray:
        """The emerging total dealt to the emerging sectors (in their table order): pinned sectors
        (a base-year ``<sector_id>_revenue_cny_100m``) get their revenue, the others the rest by weight."""
        s = self.sectors
        idx = np.flatnonzero(s.group == SectorGroup.EMERGING)
        names = [SECTOR_REVENUE_FORMAT.format(s.ids[k]) for k in idx]
        pinned = np.array([n in self.base for n in names])
        out = np.array([self.base_value(n) if p else 0.0 for n, p in zip(names, pinned)])
        w = np.where(pinned, 0.0, s.base_revenue_weight[idx])
        pin_sum = out.sum()
        if pin_sum > total or (pinned.any() and w.sum() <= 0):
            # The pinned clusters alone exceed the emerging total: T1 was drawn near its low end, which
            # is exactly the case where the named clusters are all of it (the low end of T1's range is
            # the three clusters at their smallest over the largest 415X total, the others at 0). Scale
            # the pinned ones down to fill the total; the others get nothing. (Also when every
            # emerging sector is pinned: T1 holds, the pinned revenues scaled to it.)
            return out * (total / pin_sum) if pin_sum > 0 else out
        out[~pinned] = (total - pin_sum) * w[~pinned] / w.sum()
        return out

    def _solve_alpha(self, mean_size: float) -> float:
        if not self.xmin < mean_size < self.xmax:
            raise DataError(f"base year: mean revenue per above-size firm {mean_size:.3g} (CNY 100m) is not between "
                            f"the above-size threshold {self.xmin} and the largest firm {self.xmax}")
        return float(optimize.brentq(lambda a: truncated_pareto_mean(a, self.xmin, self.xmax) - mean_size, 0.2, 5.0))

    def draw_above_size_revenue(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """Revenues of k new above-size firms from the base-year size law (CNY 100 m per yr)."""
        return truncated_pareto_ppf(rng.uniform(size=k), self.alpha, self.xmin, self.xmax)

    def build(self, rng: np.random.Generator) -> tuple[Firms, BaseCalibration]:
        s, p, sc = self.sectors, self.params, self.scale
        tgt = self.targets * sc
        n_above = self.base_value("n_above_size_firms")
        above_share_tsme = self.base_value("tech_sme_above_size_share_pct") / 100
        n_below = self.base_value("n_tech_smes") * (1 - above_share_tsme)
        # firm counts by sector: above-size in proportion to revenue, below-size tech SMEs in
        # proportion to R&D-weighted revenue (technology-intensive sectors have more of them)
        na = stochastic_counts(n_above * sc * self.targets / self.targets.sum(), rng)
        wb = self.targets * s.rd_intensity
        nb = stochastic_counts(n_below * sc * wb / wb.sum(), rng)
        nb[s.is_future & (na + nb == 0)] = 1
        n_tot_below = int(nb.sum())
        # below-size firms first: the same power law continued down to the typical entrant's size
        lo = min(p.entrant_revenue_median_cny_100m, self.xmin * 0.5)
        ub = (rng.permutation(n_tot_below) + rng.random(n_tot_below)) / n_tot_below
        rev_below = truncated_pareto_ppf(ub, self.alpha, lo, self.xmin * 0.999)
        sector_below = np.repeat(np.arange(s.n), nb)
        below_sum = np.bincount(sector_below, weights=rev_below, minlength=s.n)
        # revenue left for above-size firms: 415X and other-industry targets are above-size
        # revenue already; future-industry targets include their below-size firms
        above_target = np.where(s.is_future, tgt - below_sum, tgt)
        for k in np.flatnonzero(above_target < 0):  # tiny sector at a small scale: shrink its small firms
            m = sector_below == k
            rev_below[m] *= 0.5 * tgt[k] / below_sum[k]
            above_target[k] = tgt[k] - rev_below[m].sum()
        # every above-size firm needs at least the threshold: at small scales a tiny sector keeps fewer
        na = np.minimum(na, np.floor(above_target / (self.xmin * 1.05)).astype(np.int64))
        n_tot_above = int(na.sum())

        # sizes: stratified quantiles of the truncated power law, dealt to sectors at random
        u = (rng.permutation(n_tot_above) + rng.random(n_tot_above)) / n_tot_above
        rev_above = truncated_pareto_ppf(u, self.alpha, self.xmin, self.xmax)
        sector_above = np.repeat(np.arange(s.n), na)
        # exact sector totals: rescale the part of revenue above the threshold
        ends = np.cumsum(na)
        for k in np.flatnonzero(na):  # sector_above is sorted: each sector is one slice
            m = slice(ends[k] - na[k], ends[k])
            excess = rev_above[m] - self.xmin
            rev_above[m] = self.xmin + excess * (above_target[k] - na[k] * self.xmin) / excess.sum()
        revenue = np.r_[rev_above, rev_below]
        sector = np.r_[sector_above, sector_below].astype(np.intp)
        n = revenue.size
        above = np.r_[np.ones(n_tot_above, bool), np.zeros(n_tot_below, bool)]

        # Room for six years of entry (the baseline ends near 1.8 n slots): a reallocation copies every
        # field and touches fresh pages (tens of ms at 1:1), while unused capacity is never touched
        # (np.zeros maps zero pages lazily), so it costs neither time nor resident memory.
        firms = Firms(capacity=int(n * 2.5) + 1024)
        firms.add(n, sector=sector, revenue=revenue, revenue_year_start=revenue, boost_until_q=-1, penalty_until_q=-1)
        firms.city[:] = categorical(rng, self.cities.firm_weight, n)
        age_mean = np.where(above, p.base_age_mean_above_size_years, p.base_age_mean_tech_sme_years)
        firms.age_q[:] = np.round(4 * (1 + rng.exponential(np.maximum(age_mean - 1, 0.1)))).astype(np.int32)
        firms.log_productivity[:] = rng.normal(0.0, p.base_productivity_dispersion, n)

        # value added: one factor so that above-size industry VA matches the base year
        ind_above = above & s.is_industry[sector]
        raw_va = revenue * s.va_ratio[sector]
        k_va = self.base_value("above_size_industry_va_cny_100m") * sc / raw_va[ind_above].sum()
        va_ratio = s.va_ratio * k_va
        va = revenue * va_ratio[sector]
        sei = self._fit_sei(va, sector, ind_above)

        # R&D intensity: sector profile x lognormal; then stages; then exact total
        disp = p.base_rd_dispersion
        rd = s.rd_intensity[sector] * np.exp(rng.normal(-0.5 * disp ** 2, disp, n))
        self._assign_stages(firms, rd, above, rng)
        high = stage_mask(firms.stage, FirmStage.HIGH_TECH, FirmStage.LITTLE_GIANT, FirmStage.SINGLE_CHAMPION)
        firm_rd_target = self.base_value("enterprise_rd_share_pct") / 100 * self.base_value("rd_expenditure_cny_100m") * sc
        rd = self._fit_rd(rd, revenue, high, firm_rd_target)
        firms.rd_intensity[:] = rd

        # land: above-size industrial firms hold the land their VA needs, plus some idle space
        va_per_mu = self.base_value("va_per_mu_10k_cny") / 1e4  # CNY 100 m per mu
        need_raw = va * s.land_intensity[sector] * ind_above
        k_land = (va[ind_above].sum() / va_per_mu) / need_raw.sum()
        land_per_va = s.land_intensity * k_land
        firms.land_mu[:] = need_raw * k_land * (1.0 + p.land_capacity_slack * rng.random(n))

        digital_model = (va * s.digital_core_share[sector]).sum() / sc
        gdp = self.base_value("gdp_cny_100m")
        rest = gdp - va.sum() / sc
        if rest <= 0:
            raise DataError(f"base year: modelled firms' VA {va.sum() / sc:.0f} exceeds GDP {gdp:.0f}")
        calib = BaseCalibration(
            va_ratio=va_ratio, sei_share=sei, digital_scale=self.base_value("digital_core_va_cny_100m") / digital_model,
            rest_of_economy_va_cny_100m=rest,
            other_rd_cny_100m=self.base_value("rd_expenditure_cny_100m") - firm_rd_target / sc,
            land_per_va=land_per_va, pareto_alpha=self.alpha, sector_revenue_target=self.targets)
        return firms, calib

    def _fit_sei(self, va: np.ndarray, sector: np.ndarray, ind_above: np.ndarray) -> np.ndarray:
        """Rescale the sector SEI profile by one factor k so that T2 equals its base-year value; shares
        are capped at 1, so the share is monotone in k and k is found by bisection (brentq). A fixed-
        point iteration converges slowly once many sectors sit at the cap (high T2 draws)."""
        s = self.sectors
        target = self.base_value("t2_sei_share_pct") / 100
        va_s = np.bincount(sector[ind_above], weights=va[ind_above], minlength=s.n)
        total = va_s.sum()

        def share(k: float) -> float:
            return float((np.minimum(1.0, k * s.sei_share) * va_s).sum() / total)

        k_max = 1.0 / max(float(s.sei_share[s.sei_share > 0].min()), 1e-12)  # every SEI sector at its cap
        if not 0 < target < share(k_max) or total <= 0:
            raise DataError(f"base year: the sector SEI profile cannot reach T2 = {target * 100:g} % "
                            f"(at most {share(k_max) * 100:.2f} % with every SEI share at 1)")
        k = optimize.brentq(lambda x: share(x) - target, 0.0, k_max, xtol=1e-14, rtol=1e-14)
        return np.minimum(1.0, k * s.sei_share)

    def _assign_stages(self, firms: Firms, rd: np.ndarray, above: np.ndarray, rng: np.random.Generator) -> None:
        """Single champions, little giants and high-tech enterprises by weighted sampling without
        replacement (draw_among); other below-size firms are tech SMEs, other above-size firms are
        tech SMEs (if small enough, up to the assumed overlap) or conventional."""
        s, sc = self.sectors, self.scale
        n = firms.n
        rev = firms.revenue
        stage = np.full(n, int(FirmStage.CONVENTIONAL), np.int8)
        stage[~above] = int(FirmStage.TECH_SME)
        free = np.ones(n, bool)
        ind = s.is_industry[firms.sector]
        logrd = np.log(rd)
        k_sc = int(round(self.base_value("n_single_champions") * sc))
        p = self.params
        sc_idx = draw_among(rng, np.log(rev) + logrd, above & ind & (rev >= p.single_champion_min_revenue_cny_100m), k_sc)
        stage[sc_idx] = int(FirmStage.SINGLE_CHAMPION)
        free[sc_idx] = False
        lo, hi = p.little_giant_min_revenue_cny_100m, p.little_giant_max_revenue_cny_100m
        k_lg = int(round(self.base_value("n_little_giants") * sc))
        lg_idx = draw_among(rng, p.selection_rd_weight * logrd, free & above & (rev >= lo) & (rev <= hi), k_lg)
        stage[lg_idx] = int(FirmStage.LITTLE_GIANT)
        free[lg_idx] = False
        k_ht = int(round(self.base_value("n_high_tech_enterprises") * sc))
        ht_idx = draw_among(rng, p.selection_rd_weight * logrd, free, k_ht)
        stage[ht_idx] = int(FirmStage.HIGH_TECH)
        free[ht_idx] = False
        n_tsme_above = int(round(self.base_value("n_tech_smes") * self.base_value("tech_sme_above_size_share_pct") / 100 * sc))
        ts_idx = draw_among(rng, logrd, free & above & (rev <= TECH_SME_MAX_REVENUE_CNY_100M), n_tsme_above)
        stage[ts_idx] = int(FirmStage.TECH_SME)
        firms.stage[:] = stage
        firms.designated[:] = stage_mask(stage, FirmStage.LITTLE_GIANT, FirmStage.SINGLE_CHAMPION)

    @staticmethod
    def _fit_rd(rd: np.ndarray, revenue: np.ndarray, high: np.ndarray, target: float) -> np.ndarray:
        """Firm R&D matches its base-year total while every designated firm meets its certification
        threshold: designated firms get the threshold plus a share f of their profile's excess over
        it, other firms f times their profile, with one factor f."""
        thr = high_tech_rd_threshold(revenue[high])
        floor = (thr * revenue[high]).sum()
        excess_high = np.maximum(rd[high] - thr, 0.0)
        scalable = (excess_high * revenue[high]).sum() + (rd[~high] * revenue[~high]).sum()
        if floor >= target or scalable <= 0:
            raise DataError(f"base year: the designated firms' R&D at the certification thresholds ({floor:.0f}) "
                            f"exceeds the firms' R&D total ({target:.0f}); check enterprise_rd_share_pct and the counts")
        f = (target - floor) / scalable
        out = rd * f
        out[high] = thr + f * excess_high
        return out


__all__ = ["Synthesiser", "BaseCalibration", "HIGH_TECH_RD_THRESHOLDS"]
