"""Outcome indicators (T1-T6 and supporting series) as named pure functions, and the targets.

Indicators are computed from sector-level aggregates of the firm arrays (``SectorAggregates``), so
they can be checked by hand on small hand-made populations. Levels are in province units (the
population's sums divided by ``population.scale``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simmodel import kernels
from simmodel.agents.firms import ABOVE_SIZE_REVENUE_CNY_100M, FirmStage, Firms
from simmodel.sectors import SectorTable


@dataclass
class SectorAggregates:
    """Flows (CNY 100 m per yr) by sector, province units."""

    revenue_above: np.ndarray  # above-size firms
    va_above: np.ndarray
    revenue_all: np.ndarray  # every firm
    va_all: np.ndarray

    def __add__(self, other: "SectorAggregates") -> "SectorAggregates":
        return SectorAggregates(*(getattr(self, f) + getattr(other, f) for f in self.__dataclass_fields__))

    def __truediv__(self, k: float) -> "SectorAggregates":
        return SectorAggregates(*(getattr(self, f) / k for f in self.__dataclass_fields__))


def sector_aggregates(firms: Firms, n_sectors: int, va_ratio: np.ndarray, scale: float) -> SectorAggregates:
    """Revenue and VA by sector for above-size firms and for all firms (one compiled pass that adds
    as np.bincount would, see kernels.sector_revenue_sums)."""
    revenue_all, revenue_above = kernels.sector_revenue_sums(firms.alive, firms.revenue, firms.sector, n_sectors,
                                                             ABOVE_SIZE_REVENUE_CNY_100M)
    revenue_all /= scale
    revenue_above /= scale
    # VA is revenue times a sector constant, so it aggregates by sector
    return SectorAggregates(revenue_above=revenue_above, va_above=revenue_above * va_ratio,
                            revenue_all=revenue_all, va_all=revenue_all * va_ratio)


def t1_emerging_share_415x_pct(agg: SectorAggregates, sectors: SectorTable) -> float:
    """T1: revenue of the 11 emerging clusters / revenue of all 415X clusters, % (above-size firms).
    More is better."""
    total = agg.revenue_above[sectors.in_415x].sum()
    return 100.0 * agg.revenue_above[sectors.emerging].sum() / total if total > 0 else float("nan")


def sei_va_cny_100m(agg: SectorAggregates, sectors: SectorTable, sei_share: np.ndarray) -> float:
    """Strategic-emerging-industry VA of above-size industry, CNY 100 m."""
    return float((agg.va_above * sei_share * sectors.is_industry).sum())


def above_size_industry_va_cny_100m(agg: SectorAggregates, sectors: SectorTable) -> float:
    """VA of above-size industrial firms, CNY 100 m."""
    return float((agg.va_above * sectors.is_industry).sum())


def t2_sei_share_pct(agg: SectorAggregates, sectors: SectorTable, sei_share: np.ndarray) -> float:
    """T2: SEI VA / VA of all above-size industry, %. More is better."""
    den = above_size_industry_va_cny_100m(agg, sectors)
    return 100.0 * sei_va_cny_100m(agg, sectors, sei_share) / den if den > 0 else float("nan")


def digital_core_va_cny_100m(agg: SectorAggregates, sectors: SectorTable, digital_scale: float) -> float:
    """Digital-core VA, CNY 100 m: the modelled firms' digital-core VA times the base-year ratio of
    the official figure to the modelled one (the digital core outside the population, such as
    platforms and telecoms, is assumed to grow with the modelled part)."""
    return float(digital_scale * (agg.va_all * sectors.digital_core_share).sum())


def gdp_cny_100m(agg: SectorAggregates, rest_of_economy: float) -> float:
    """GDP, CNY 100 m: VA of the modelled firms plus the rest of the economy."""
    return float(agg.va_all.sum() + rest_of_economy)


def t3_digital_core_share_gdp_pct(agg: SectorAggregates, sectors: SectorTable, digital_scale: float, rest_of_economy: float) -> float:
    """T3: digital-core VA / GDP, %. More is better."""
    return 100.0 * digital_core_va_cny_100m(agg, sectors, digital_scale) / gdp_cny_100m(agg, rest_of_economy)


def future_industry_revenue_cny_100m(agg: SectorAggregates, sectors: SectorTable) -> float:
    """Revenue of all firms in future industries and new tracks, CNY 100 m."""
    return float(agg.revenue_all[sectors.is_future].sum())


def t6_future_growth_pct_per_year(revenue_now: float, revenue_base: float, years: int) -> float:
    """T6: compound annual growth of future-industry revenue since the base year, %/yr. More is better."""
    if years <= 0 or revenue_base <= 0:
        return float("nan")
    return 100.0 * ((revenue_now / revenue_base) ** (1.0 / years) - 1.0)


def rd_intensity_pct(firm_rd_cny_100m: float, other_rd_cny_100m: float, gdp: float) -> float:
    """R&D expenditure / GDP, %."""
    return 100.0 * (firm_rd_cny_100m + other_rd_cny_100m) / gdp


def firm_counts(firms: Firms, scale: float) -> dict[str, float]:
    """Firms alive (``n_firms``), above size (``n_above_size_firms``) and at each ladder stage
    (``n_<stage>``), province units, from one compiled pass over the firms."""
    by_stage, n_alive, n_above = kernels.firm_counts(firms.alive, firms.stage, firms.revenue, len(FirmStage),
                                                     ABOVE_SIZE_REVENUE_CNY_100M)
    return {"n_firms": n_alive / scale, "n_above_size_firms": n_above / scale,
            **{f"n_{st.name.lower()}": int(by_stage[int(st)]) / scale for st in FirmStage}}


def stage_counts(firms: Firms, scale: float) -> dict[str, float]:
    """Firms alive at each ladder stage (province units)."""
    return {k: v for k, v in firm_counts(firms, scale).items() if k not in ("n_firms", "n_above_size_firms")}


@dataclass(frozen=True)
class Target:
    """One target: indicator >= (or >) threshold in year."""

    target_id: str
    indicator: str
    year: int
    threshold: float
    strict: bool  # True: must exceed the threshold (T3: "超12.5%")
    unit: str
    source: str  # "seed" or "assumption: ..."

    def met(self, values: np.ndarray) -> np.ndarray:
        return values > self.threshold if self.strict else values >= self.threshold


def targets_from_config(t, base_year: int) -> list[Target]:
    """The target list from a TargetsConfig (2027 targets from the seed, 2030 proxies assumed)."""
    a2030 = "assumption: 2030 proxy (the seed's 2030 aims are qualitative)"
    t6src = "assumption: 'keep high-speed growth' read as compound growth since the base year"
    return [
        Target("T1", "t1_emerging_share_415x_pct", 2027, t.t1_2027_pct, False, "%", "seed"),
        Target("T2", "t2_sei_share_pct", 2027, t.t2_2027_pct, False, "%", "seed"),
        Target("T3", "t3_digital_core_share_gdp_pct", 2027, t.t3_2027_pct, True, "%", "seed"),
        Target("T4", "t4_national_clusters", 2027, t.t4_2027_count, False, "count", "seed"),
        Target("T5", "t5_pilot_zones", 2027, t.t5_2027_count, False, "count", "seed"),
        Target("T6", "t6_future_growth_pct_per_year", 2027, t.t6_threshold_pct_per_year, False, "%/yr", t6src),
        Target("T1", "t1_emerging_share_415x_pct", 2030, t.t1_2030_pct, False, "%", a2030),
        Target("T2", "t2_sei_share_pct", 2030, t.t2_2030_pct, False, "%", a2030),
        Target("T3", "t3_digital_core_share_gdp_pct", 2030, t.t3_2030_pct, True, "%", a2030),
        Target("T6", "t6_future_growth_pct_per_year", 2030, t.t6_2030_threshold_pct_per_year, False, "%/yr", t6src),
    ]


# indicator name -> (unit, more is better?, label)
INDICATORS: dict[str, tuple[str, bool | None, str]] = {
    "t1_emerging_share_415x_pct": ("%", True, "T1 emerging clusters' share of 415X revenue"),
    "t2_sei_share_pct": ("%", True, "T2 SEI share of above-size industry VA"),
    "t3_digital_core_share_gdp_pct": ("%", True, "T3 digital-core VA share of GDP"),
    "t4_national_clusters": ("count", True, "T4 national advanced manufacturing clusters"),
    "t5_pilot_zones": ("count", True, "T5 provincial future-industry pilot zones"),
    "t6_future_growth_pct_per_year": ("%/yr", True, "T6 future-industry revenue growth since base year"),
    "gdp_cny_100m": ("CNY 100m", True, "GDP"),
    "digital_core_va_cny_100m": ("CNY 100m", True, "digital-core VA"),
    "above_size_industry_va_cny_100m": ("CNY 100m", True, "above-size industry VA"),
    "sei_va_cny_100m": ("CNY 100m", True, "SEI VA (above-size industry)"),
    "cluster_415x_revenue_cny_100m": ("CNY 100m", True, "415X cluster revenue"),
    "emerging_cluster_revenue_cny_100m": ("CNY 100m", True, "emerging cluster revenue"),
    "future_industry_revenue_cny_100m": ("CNY 100m", True, "future-industry revenue"),
    "rd_intensity_pct": ("%", True, "R&D expenditure / GDP"),
    "firm_rd_cny_100m": ("CNY 100m", True, "R&D of the modelled firms, own plus grant-induced"),
    "n_firms": ("count", None, "firms alive"),
    "n_above_size_firms": ("count", None, "above-size firms"),
    "n_startup": ("count", None, "start-ups"),
    "n_tech_sme": ("count", None, "tech SMEs"),
    "n_conventional": ("count", None, "conventional firms"),
    "n_high_tech": ("count", True, "high-tech enterprises"),
    "n_little_giant": ("count", True, "little giants"),
    "n_single_champion": ("count", True, "single champions"),
    "n_entries": ("count", None, "entries in the year (start-ups, spin-offs, attracted)"),
    "n_spinoffs": ("count", None, "spin-offs in the year"),
    "n_exits": ("count", None, "exits in the year"),
    "n_innovations": ("count", True, "productivity-raising innovations in the year"),
    "n_talents_active": ("count", True, "programme talents in the province"),
    "land_allocated_mu": ("mu", None, "land allocated to firms in the year"),
    "land_refused_mu": ("mu", False, "land requested and refused in the year"),
    "n_land_refusals": ("count", False, "firms refused land in the year"),
    "fund_deployed_cny_100m": ("CNY 100m", None, "fund capital invested in the year (incl. crowd-in)"),
    "fund_budget_cny_100m": ("CNY 100m", None, "fund capital the deploying funds meant to invest in the year (incl. crowd-in)"),
    "fund_deployed_long_horizon_cny_100m": ("CNY 100m", True, "fund capital invested in long-horizon future industries"),
    "fund_early_exits": ("count", False, "early fund exits in the year"),
    "fiscal_cost_grants_cny_100m": ("CNY 100m", False, "fiscal cost: grants and other spending"),
    "fiscal_cost_equity_cny_100m": ("CNY 100m", False, "fiscal cost: fund commitments (equity)"),
}
