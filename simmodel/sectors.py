"""The sector table (clusters, SEI / digital-core shares, future industries) and the city table.

Both are data (calibration/data/*.csv), loaded into arrays indexed by sector or city number so that
firm-level arrays can look sector properties up with one fancy-index.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simmodel.data import parse_float, read_csv_rows
from simmodel.errors import DataError

SECTOR_COLUMNS = (
    "sector_id", "name_en", "name_zh", "group", "in_415x", "emerging", "is_industry", "future",
    "sei_share", "digital_core_share", "base_revenue_weight", "base_revenue_cny_100m",
    "growth_prior_pct", "growth_low_pct", "growth_high_pct", "gestation_years", "va_ratio",
    "rd_intensity_pct", "land_intensity", "source",
)
CITY_COLUMNS = ("city_id", "name_en", "name_zh", "firm_weight", "land_quota_weight", "renovation_stock_weight", "source")


class SectorGroup(enum.IntEnum):
    EMERGING = 0  # the 11 emerging clusters of art. 1 (inside 415X)
    TRADITIONAL = 1  # the other 415X clusters
    OTHER_INDUSTRY = 2  # above-size industry outside 415X
    FUTURE_FAST = 3  # art. 6 fast-growing future industries
    FUTURE_LONG = 4  # art. 6 long-horizon future industries
    NEW_TRACK = 5  # art. 7 new tracks


_GROUPS = {"emerging": SectorGroup.EMERGING, "traditional": SectorGroup.TRADITIONAL,
           "other_industry": SectorGroup.OTHER_INDUSTRY, "future_fast": SectorGroup.FUTURE_FAST,
           "future_long": SectorGroup.FUTURE_LONG, "new_track": SectorGroup.NEW_TRACK}
_FUTURE = {"none": 0, "fast": 1, "long": 2}


# kind of fund (fund_kinds.csv) -> the base-year quantity of its size (CNY 100 m); the row's year is the
# year it was set up, so a replay from an earlier base year sets it up when it reaches that year
MOTHER_FUNDS = {"mother_sci": "sci_innov_mother_fund_cny_100m", "mother_srdi": "srdi_mother_fund_cny_100m"}

@dataclass(frozen=True)
class SectorTable:
    """Sector properties as arrays (index = sector number)."""

    ids: tuple[str, ...]
    names_en: tuple[str, ...]
    names_zh: tuple[str, ...]
    group: np.ndarray  # SectorGroup values
    in_415x: np.ndarray  # bool
    emerging: np.ndarray  # bool
    is_industry: np.ndarray  # bool: counts in above-size industry (T2 denominator)
    future: np.ndarray  # 0 none, 1 fast, 2 long-horizon
    sei_share: np.ndarray  # share of VA inside the SEI catalogue (relative prior, 0-1)
    digital_core_share: np.ndarray  # share of VA that is digital-core (0-1)
    base_revenue_weight: np.ndarray  # relative weight inside its group (415X groups), NaN otherwise
    base_revenue_cny_100m: np.ndarray  # absolute base revenue (future, new tracks), NaN otherwise
    growth_prior: np.ndarray  # nominal revenue growth, fraction per yr
    growth_low: np.ndarray
    growth_high: np.ndarray
    gestation_years: np.ndarray  # years from early-stage investment to exit
    va_ratio: np.ndarray  # VA / revenue (relative prior)
    rd_intensity: np.ndarray  # R&D / revenue, fraction (relative prior)
    land_intensity: np.ndarray  # relative land need per unit VA

    @property
    def n(self) -> int:
        return len(self.ids)

    @functools.cached_property
    def is_future(self) -> np.ndarray:
        """Future industries and new tracks (T6, art. 8 funding share); made once and read-only (the
        stages ask for it several times a quarter)."""
        flags = self.future > 0
        flags.flags.writeable = False
        return flags

    def index(self, sector_id: str) -> int:
        return self.ids.index(sector_id)


def load_sectors(path: Path) -> SectorTable:
    rows = read_csv_rows(path, SECTOR_COLUMNS, "sector")
    cols: dict[str, list] = {c: [] for c in SECTOR_COLUMNS}
    seen = set()
    for line, r in rows:
        where = f"sector file {path}, line {line}"
        sid = r["sector_id"]
        if sid in seen:
            raise DataError(f"{where}: sector {sid} is listed twice")
        seen.add(sid)
        if r["group"] not in _GROUPS:
            raise DataError(f"{where}: group {r['group']!r} not allowed; use one of {', '.join(_GROUPS)}")
        if r["future"] not in _FUTURE:
            raise DataError(f"{where}: future {r['future']!r} not allowed; use one of {', '.join(_FUTURE)}")
        for flag in ("in_415x", "emerging", "is_industry"):
            if r[flag] not in ("0", "1"):
                raise DataError(f"{where}: {flag} = {r[flag]!r}; allowed 0 or 1")
        num = {}
        for c in ("sei_share", "digital_core_share", "growth_prior_pct", "growth_low_pct", "growth_high_pct",
                  "gestation_years", "va_ratio", "rd_intensity_pct", "land_intensity"):
            num[c] = parse_float(r[c], f"{where}, column {c}")
        for c in ("sei_share", "digital_core_share"):
            if not 0 <= num[c] <= 1:
                raise DataError(f"{where}: {c} = {num[c]:g} is outside [0, 1]")
        if not num["growth_low_pct"] <= num["growth_prior_pct"] <= num["growth_high_pct"]:
            raise DataError(f"{where}: growth_prior_pct must lie in [growth_low_pct, growth_high_pct]")
        if not 0 < num["gestation_years"] <= 40:
            raise DataError(f"{where}: gestation_years = {num['gestation_years']:g} outside (0, 40]")
        if not 0 < num["va_ratio"] <= 1:
            raise DataError(f"{where}: va_ratio = {num['va_ratio']:g} outside (0, 1]")
        if not 0 <= num["rd_intensity_pct"] <= 100 or num["land_intensity"] < 0:
            raise DataError(f"{where}: rd_intensity_pct must be in [0, 100] and land_intensity >= 0")
        w = parse_float(r["base_revenue_weight"], f"{where}, column base_revenue_weight", allow_empty=True)
        rev = parse_float(r["base_revenue_cny_100m"], f"{where}, column base_revenue_cny_100m", allow_empty=True)
        group = _GROUPS[r["group"]]
        if group in (SectorGroup.EMERGING, SectorGroup.TRADITIONAL, SectorGroup.OTHER_INDUSTRY):
            if not w > 0:
                raise DataError(f"{where}: a 415X or other-industry sector needs base_revenue_weight > 0")
        elif not rev > 0:
            raise DataError(f"{where}: a future-industry or new-track sector needs base_revenue_cny_100m > 0")
        if not r["source"]:
            raise DataError(f"{where}: sector {sid} has no source codes (see sector_sources.csv)")
        if (r["in_415x"] == "1") != (group in (SectorGroup.EMERGING, SectorGroup.TRADITIONAL)):
            raise DataError(f"{where}: in_415x must be 1 exactly for the emerging and traditional groups")
        if (r["emerging"] == "1") != (group == SectorGroup.EMERGING):
            raise DataError(f"{where}: emerging must be 1 exactly for the emerging group")
        cols["sector_id"].append(sid)
        cols["name_en"].append(r["name_en"])
        cols["name_zh"].append(r["name_zh"])
        cols["group"].append(int(group))
        cols["future"].append(_FUTURE[r["future"]])
        for flag in ("in_415x", "emerging", "is_industry"):
            cols[flag].append(r[flag] == "1")
        cols["base_revenue_weight"].append(w)
        cols["base_revenue_cny_100m"].append(rev)
        for c, v in num.items():
            cols[c].append(v)
    table = SectorTable(
        ids=tuple(cols["sector_id"]), names_en=tuple(cols["name_en"]), names_zh=tuple(cols["name_zh"]),
        group=np.array(cols["group"], np.int8), in_415x=np.array(cols["in_415x"]),
        emerging=np.array(cols["emerging"]), is_industry=np.array(cols["is_industry"]),
        future=np.array(cols["future"], np.int8), sei_share=np.array(cols["sei_share"]),
        digital_core_share=np.array(cols["digital_core_share"]),
        base_revenue_weight=np.array(cols["base_revenue_weight"]),
        base_revenue_cny_100m=np.array(cols["base_revenue_cny_100m"]),
        growth_prior=np.array(cols["growth_prior_pct"]) / 100, growth_low=np.array(cols["growth_low_pct"]) / 100,
        growth_high=np.array(cols["growth_high_pct"]) / 100, gestation_years=np.array(cols["gestation_years"]),
        va_ratio=np.array(cols["va_ratio"]), rd_intensity=np.array(cols["rd_intensity_pct"]) / 100,
        land_intensity=np.array(cols["land_intensity"]),
    )
    for g in (SectorGroup.EMERGING, SectorGroup.TRADITIONAL, SectorGroup.OTHER_INDUSTRY):
        if not (table.group == g).any():
            raise DataError(f"sector file {path}: no sector in group {g.name.lower()}; every group is needed")
    if not table.is_future.any():
        raise DataError(f"sector file {path}: no future-industry sector; T6 needs at least one")
    return table


@dataclass(frozen=True)
class CityTable:
    ids: tuple[str, ...]
    names_en: tuple[str, ...]
    names_zh: tuple[str, ...]
    firm_weight: np.ndarray
    land_quota_weight: np.ndarray
    renovation_stock_weight: np.ndarray

    @property
    def n(self) -> int:
        return len(self.ids)


def load_cities(path: Path) -> CityTable:
    rows = read_csv_rows(path, CITY_COLUMNS, "city")
    ids, en, zh, w = [], [], [], {c: [] for c in ("firm_weight", "land_quota_weight", "renovation_stock_weight")}
    for line, r in rows:
        where = f"city file {path}, line {line}"
        if r["city_id"] in ids:
            raise DataError(f"{where}: city {r['city_id']} is listed twice")
        ids.append(r["city_id"])
        en.append(r["name_en"])
        zh.append(r["name_zh"])
        for c in w:
            v = parse_float(r[c], f"{where}, column {c}")
            if v < 0:
                raise DataError(f"{where}: {c} = {v:g} is negative")
            w[c].append(v)
    arrays = {}
    for c, vals in w.items():
        a = np.array(vals)
        if not abs(a.sum() - 1) < 1e-6:
            raise DataError(f"city file {path}: column {c} sums to {a.sum():.4f}; weights must sum to 1")
        arrays[c] = a
    return CityTable(tuple(ids), tuple(en), tuple(zh), **arrays)


FUND_KIND_COLUMNS = ("kind", "government", "stages", "sectors", "source")
FUND_KINDS = ("provincial", "mother_sci", "mother_srdi", "future", "state_vc", "private_vc")
FUND_STAGES = ("startup", "tech_sme", "conventional", "high_tech", "little_giant", "single_champion")
FUND_SECTORS = ("emerging_or_future", "future")


@dataclass(frozen=True)
class FundKind:
    """Which firms a kind of fund may back: ladder stages (FirmStage names, lower case) and sectors
    ('future': future industries and new tracks only; 'emerging_or_future': those and the emerging clusters)."""

    kind: str
    government: bool
    stages: tuple[str, ...]
    sectors: str
    source: str


def load_fund_kinds(path: Path) -> dict[str, FundKind]:
    """The fund kinds table (calibration/data/fund_kinds.csv): every kind the model raises, once."""
    rows = read_csv_rows(path, FUND_KIND_COLUMNS, "fund kind")
    out: dict[str, FundKind] = {}
    for line, r in rows:
        where = f"fund kind file {path}, line {line}"
        kind = r["kind"]
        if kind not in FUND_KINDS:
            raise DataError(f"{where}: kind {kind!r} is not one the model raises; allowed: {', '.join(FUND_KINDS)}")
        if kind in out:
            raise DataError(f"{where}: kind {kind} is listed twice")
        if r["government"] not in ("0", "1"):
            raise DataError(f"{where}: government = {r['government']!r}; allowed 0 or 1")
        stages = tuple(x.strip() for x in r["stages"].split(";") if x.strip())
        bad = [x for x in stages if x not in FUND_STAGES]
        if not stages or bad:
            raise DataError(f"{where}: stages {r['stages']!r}: give ';'-separated ladder stages among {', '.join(FUND_STAGES)}")
        if r["sectors"] not in FUND_SECTORS:
            raise DataError(f"{where}: sectors = {r['sectors']!r}; allowed: {', '.join(FUND_SECTORS)}")
        if not r["source"]:
            raise DataError(f"{where}: kind {kind} has no source; every row needs its source or reasoning")
        out[kind] = FundKind(kind, r["government"] == "1", stages, r["sectors"], r["source"])
    missing = [k for k in FUND_KINDS if k not in out]
    if missing:
        raise DataError(f"fund kind file {path} lacks: {', '.join(missing)}")
    return out
