"""Loading and validating the input tables (historical indicators, base-year aggregates).

Every loader names the file, the row (its line number in the file) and the column of a bad value,
and says what is allowed. Files are read as strict UTF-8.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.errors import DataError

INDICATOR_COLUMNS = ("indicator", "year", "value", "unit", "source_url", "note")
# Units the indicator file may use; a new unit is a schema change, not a typo to let through.
INDICATOR_UNITS = {
    "count", "%", "%/yr", "pp", "pp/yr", "CNY 100m", "mu", "persons", "persons per 10k",
    "10k CNY/mu", "10k CNY/worker", "ratio",
}
YEAR_RANGE = (1990, 2035)
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
# Suffixes that mark a row as something other than a full-year level (data/README.md).
PARTIAL_SUFFIXES = ("_h1", "_q1", "_jan_jul", "_jan_aug", "_jan_sep", "_jan_oct", "_jan_nov")
BOUND_SUFFIXES = ("_lower_bound", "_min", "_approx", "_initial_release", "_h1_approx")
# The unit a name's unit suffix promises (docs/extending.md: the unit is in the name); a row whose
# unit column says otherwise is a mistake in one of the two.
SUFFIX_UNITS = {"_pct": ("%", "%/yr"), "_pp": ("pp", "pp/yr"), "_cny_100m": ("CNY 100m",), "_count": ("count",),
                "_mu": ("mu",)}
# How the file's notes mark a figure that covers part of a year ('H1 2019 ONLY', 'Jan-Jul 2017 only',
# 'not full year'): under a name without a partial-year suffix such a row would be read as annual.
_PART_ONLY = re.compile(r"(?i)(\b(H1|H2|Q[1-4]|Jan(uary)?\s*[-–]\s*[A-Z][a-z]{2,8})\b[\s,]*(\d{4})?[\s,]*\bonly\b"
                        r"|\bnot (a )?full[- ]year\b|(上半年|前三季度|一季度|1\s*[-–]\s*\d{1,2}\s*月)\s*(数据)?\s*(仅|only))")


def _unit_stem(name: str) -> str:
    """The name without its partial-year and bound suffixes (digital_core_va_cny_100m_h1_approx -> ..._cny_100m)."""
    stripped = True
    while stripped:
        stripped = False
        for suffix in BOUND_SUFFIXES + PARTIAL_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name, stripped = name[: -len(suffix)], True
    return name


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def read_csv_rows(path: Path, columns: tuple[str, ...], what: str) -> list[tuple[int, dict[str, str]]]:
    """Rows of a CSV with exactly ``columns`` as header, each with its line number (header = 1)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{what} file {path} does not exist")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{what} file {path} is empty; expected a CSV with header {','.join(columns)}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # what Excel's "Unicode text" export writes
        raise DataError(f"{what} file {path} is UTF-16 text; save it as UTF-8 CSV")
    if b"\x00" in raw[:4096]:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise DataError(f"{what} file {path}, line {line}: not a text CSV (a NUL byte: binary content); expected UTF-8 CSV")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"{what} file {path}, line {line}: not UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise DataError(f"{what} file {path}: cannot read a CSV header ({exc})") from None
    header = [h.strip() for h in header]
    if tuple(header) != columns:
        missing = [c for c in columns if c not in header]
        extra = [c for c in header if c not in columns]
        raise DataError(
            f"{what} file {path}: header is {','.join(header)!r}; expected exactly {','.join(columns)!r}"
            + (f" (missing: {', '.join(missing)})" if missing else "")
            + (f" (unexpected: {', '.join(extra)})" if extra else ""))
    rows = []
    line = 1
    try:
        while True:
            line = reader.line_num + 1  # where the record starts: a quoted field may span lines
            try:
                record = next(reader)
            except StopIteration:
                break
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(columns):
                raise DataError(f"{what} file {path}, line {line}: {len(record)} fields, expected {len(columns)} ({','.join(columns)})")
            rows.append((line, dict(zip(columns, (c.strip() for c in record)))))
    except csv.Error as exc:
        raise DataError(f"{what} file {path}, line {line}: malformed CSV ({exc})") from None
    if not rows:
        raise DataError(f"{what} file {path} has a header but no rows")
    return rows


def parse_float(text: str, where: str, *, allow_empty: bool = False) -> float:
    if text == "" and allow_empty:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{where}: {text!r} is not a finite number")
    return value


# How a quantity's plausible range is drawn (base-year table, parameter table): `fixed` (no range:
# low == value == high), `triangular` (mode at the value, support [low, high]) or `uniform` (on
# [low, high]; the value is the central point used when nothing is drawn).
DISTRIBUTIONS = ("fixed", "triangular", "uniform")


def parse_ranged_row(r: dict[str, str], where: str, name: str, kinds: tuple[str, ...], text_column: str) -> tuple[float, float, float]:
    """value, low, high of a row of a table of quantities with a plausible range and a pedigree
    (base-year table, parameter table): checks the kind, the range, the distribution (where the table
    has that column: one of DISTRIBUTIONS, consistent with the range) and that the pedigree is given."""
    if r["kind"] not in kinds:
        raise DataError(f"{where}: kind {r['kind']!r} not allowed; use one of {', '.join(kinds)}")
    value, low, high = (parse_float(r[c], f"{where}, column {c}") for c in ("value", "low", "high"))
    if not low <= value <= high:
        raise DataError(f"{where}: {name} = {value:g} lies outside its own range [{low:g}, {high:g}]")
    if "distribution" in r:
        check_distribution(r["distribution"], value, low, high, f"{where}, column distribution ({name})")
    if not r[text_column]:
        raise DataError(f"{where}: {name} has no {text_column}; every value needs its source or reasoning")
    return value, low, high


def check_distribution(distribution: str, value: float, low: float, high: float, where: str) -> None:
    """A distribution name is known and fits its range: `fixed` needs low == value == high, a drawn
    one (`triangular`, `uniform`) needs low < high."""
    if distribution not in DISTRIBUTIONS:
        raise DataError(f"{where}: distribution {distribution!r} is not known; allowed: {', '.join(DISTRIBUTIONS)} "
                        "(fixed: low == value == high; triangular: mode at value, support [low, high]; uniform: on [low, high])")
    if distribution == "fixed" and not low == value == high:
        raise DataError(f"{where}: distribution 'fixed' needs low == value == high, but the range is [{low:g}, {high:g}] "
                        f"around {value:g}; use triangular or uniform for a range, or set low and high to the value")
    if distribution != "fixed" and not low < high:
        raise DataError(f"{where}: distribution {distribution!r} needs a range (low < high), but low == high == {low:g}; "
                        "use fixed")


def draw_from_range(value, low, high, distribution, u):
    """A draw from a quantity's stated range: the inverse CDF of its distribution at u in [0, 1).

    `fixed` returns the value; `uniform` is low + u (high - low); `triangular` has its mode at the
    value and support [low, high] (scipy.stats.triang with c = (value - low) / (high - low)).
    u may be a float (returns a float) or an array (returns an array of the same shape); so may the
    value, the range and the distribution's name, one a quantity (a replicate's draws in one call,
    element for element what a call each gives).
    """
    scalar = all(np.ndim(a) == 0 for a in (value, low, high, distribution, u))
    x = np.asarray(u, dtype=float)
    value, low, high = (np.asarray(a, dtype=float) for a in (value, low, high))
    distribution = np.asarray(distribution, dtype=str)
    if np.any((x < 0.0) | (x > 1.0)) or not np.all(np.isfinite(x)):
        raise ValueError(f"draw_from_range: u must lie in [0, 1]; got {u!r}")
    unknown = ~np.isin(distribution, list(DISTRIBUTIONS))
    if unknown.any():
        raise ValueError(f"draw_from_range: distribution {str(distribution[unknown].flat[0])!r} is not one of "
                         f"{', '.join(DISTRIBUTIONS)}")
    outside = ~((low <= value) & (value <= high))
    if outside.any():
        i = np.unravel_index(np.argmax(outside), outside.shape) if outside.ndim else ()
        raise ValueError(f"draw_from_range: value {value[i]:g} outside [{low[i]:g}, {high[i]:g}]")
    width = high - low
    with np.errstate(divide="ignore", invalid="ignore"):  # the triangle of a fixed quantity, never chosen
        c = (value - low) / width  # where the mode sits, as a share of the width
        left = low + np.sqrt(x * width * (value - low))
        right = high - np.sqrt((1.0 - x) * width * (high - value))
    out = np.where(x < c, left, right)
    out = np.where(distribution == "uniform", low + x * (high - low), out)
    out = np.where((distribution == "fixed") | (low == high), value, out)
    out = np.clip(out, low, high)
    return float(out) if scalar else out


def load_indicators(path: Path) -> pd.DataFrame:
    """The historical series: one row per (indicator, year), validated.

    Returns a DataFrame with columns indicator, year (int), value (float), unit, source_url, note,
    kind ('annual', 'partial_year' or 'bound'), and line (line number in the file).
    """
    rows = read_csv_rows(path, INDICATOR_COLUMNS, "indicator")
    seen: dict[tuple[str, int], int] = {}
    out = []
    for line, r in rows:
        where = f"indicator file {path}, line {line}"
        name = r["indicator"]
        if not _NAME.match(name):
            raise DataError(f"{where}: indicator {name!r} is not a snake_case name (a-z, 0-9, _)")
        year_f = parse_float(r["year"], f"{where}, column year")
        if year_f != int(year_f) or not YEAR_RANGE[0] <= year_f <= YEAR_RANGE[1]:
            raise DataError(f"{where}: year {r['year']!r} is not a whole year in [{YEAR_RANGE[0]}, {YEAR_RANGE[1]}]")
        year = int(year_f)
        value = parse_float(r["value"], f"{where}, column value ({name} {year})")
        unit = r["unit"]
        if unit not in INDICATOR_UNITS:
            raise DataError(f"{where}: unit {unit!r} of {name} is not known; allowed: {', '.join(sorted(INDICATOR_UNITS))}")
        stem = _unit_stem(name)
        for suffix, units in SUFFIX_UNITS.items():
            if stem.endswith(suffix) and unit not in units:
                raise DataError(f"{where}: {name} ends in {suffix}, so its unit must be {' or '.join(repr(u) for u in units)}, "
                                f"not {unit!r}")
        if unit in ("count", "CNY 100m", "mu", "persons") and value < 0:
            raise DataError(f"{where}: {name} {year} = {value:g} {unit} is negative; a level or count must be >= 0")
        if unit == "%" and name.endswith("_share_gdp_pct") and not 0 <= value <= 100:
            raise DataError(f"{where}: share {name} {year} = {value:g} is outside [0, 100] %")
        if not r["source_url"]:
            raise DataError(f"{where}: {name} {year} has no source_url; every figure needs its source")
        key = (name, year)
        if key in seen:
            raise DataError(f"{where}: duplicate row for {name} {year} (first at line {seen[key]})")
        seen[key] = line
        kind = "annual"
        if any(name.endswith(s) or f"{s}_" in name for s in PARTIAL_SUFFIXES):
            kind = "partial_year"
        elif any(name.endswith(s) for s in BOUND_SUFFIXES):
            kind = "bound"
        if kind != "partial_year" and (part := _PART_ONLY.search(r["note"])):
            raise DataError(f"{where}: {name} {year} reads as a full-year value (its name has no partial-year suffix) but its "
                            f"note says {part.group(0)!r}; name the period with a suffix ({', '.join(PARTIAL_SUFFIXES)}) "
                            "or correct the note")
        out.append({**r, "year": year, "value": value, "kind": kind, "line": line})
    return pd.DataFrame(out)


def series(df: pd.DataFrame, indicator: str) -> pd.Series:
    """Full-year values of one indicator, indexed by year (empty if absent)."""
    sub = df[df["indicator"] == indicator]
    return pd.Series(sub["value"].to_numpy(float), index=sub["year"].to_numpy(int), name=indicator).sort_index()


def latest_full_year(df: pd.DataFrame) -> int:
    """The base year: the latest year with a full-year GDP level."""
    gdp = series(df, "gdp_cny_100m")
    if gdp.empty:
        raise DataError("indicator file has no gdp_cny_100m rows: cannot find the base year (set base_year=YYYY)")
    return int(gdp.index.max())


BASE_YEAR_COLUMNS = ("quantity", "year", "value", "low", "high", "distribution", "unit", "kind", "reasoning")
# observed: a data row; derived: arithmetic on data rows (shown); inferred: a value with its interval
# inferred from several data rows by simmodel.evidence (the test suite checks the table against it);
# assumption: not in the data, with its reasoning and range.
BASE_YEAR_KINDS = ("observed", "derived", "inferred", "assumption")


@dataclass(frozen=True)
class BaseQuantity:
    """One base-year aggregate with its plausible range and pedigree."""

    name: str
    year: int
    value: float
    low: float
    high: float
    distribution: str  # fixed, triangular (mode at value) or uniform (DISTRIBUTIONS)
    unit: str
    kind: str
    reasoning: str

    def draw(self, u):
        """The quantity at uniform number u in [0, 1) (draw_from_range on its range)."""
        return draw_from_range(self.value, self.low, self.high, self.distribution, u)


def load_base_year(path: Path, overrides: dict[str, float] | None = None) -> dict[str, BaseQuantity]:
    rows = read_csv_rows(path, BASE_YEAR_COLUMNS, "base-year")
    out: dict[str, BaseQuantity] = {}
    for line, r in rows:
        where = f"base-year file {path}, line {line}"
        name = r["quantity"]
        if name in out:
            raise DataError(f"{where}: quantity {name} is given twice")
        value, low, high = parse_ranged_row(r, where, name, BASE_YEAR_KINDS, "reasoning")
        if value < 0:
            raise DataError(f"{where}: {name} = {value:g} is negative")
        year = int(parse_float(r["year"], f"{where}, column year"))
        out[name] = BaseQuantity(name, year, value, low, high, r["distribution"], r["unit"], r["kind"], r["reasoning"])
    for name, value in (overrides or {}).items():
        if name not in out:
            raise DataError(
                f"population.overrides.{name}: no such base-year quantity; known: {', '.join(sorted(out))}")
        q = out[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not q.low <= value <= q.high:
            raise DataError(
                f"population.overrides.{name} = {value!r} is outside the plausible range [{q.low:g}, {q.high:g}] {q.unit} "
                f"given in {path}")
        # an override pins the value (nothing is drawn); the table's range stays for reference
        out[name] = BaseQuantity(name, q.year, float(value), q.low, q.high, "fixed", q.unit, "override",
                                 f"user override (table: {q.value:g})")
    return out


def base_year_path(path: Path, year: int | None) -> Path:
    """The base-year table for ``year``: ``path`` when it describes that year (its gdp_cny_100m row's
    year) or no year is asked for, else the table ``base_year_<year>.csv`` beside it."""
    path = Path(path)
    if year is None:
        return path
    for line, r in read_csv_rows(path, BASE_YEAR_COLUMNS, "base-year"):
        if r["quantity"] == "gdp_cny_100m" and r["year"].strip() == str(year):
            return path
    sibling = path.with_name(f"base_year_{year}.csv")
    if sibling.is_file():
        return sibling
    have = sorted(p.name for p in path.parent.glob("base_year*.csv"))
    raise DataError(f"no base-year table for {year}: {path} describes another year and {sibling} does not exist; "
                    f"tables in {path.parent}: {', '.join(have) or 'none'} (add one with a row per quantity of "
                    f"{path.name}, or choose the base year one of them describes)")


def load_base_year_table(path: Path, year: int, overrides: dict[str, float] | None = None) -> tuple[dict[str, "BaseQuantity"], Path]:
    """The complete base-year table for ``year`` (see base_year_path) with user overrides, and its path."""
    chosen = base_year_path(path, year)
    base = load_base_year(chosen, overrides)
    check_base_year_complete(base, chosen)
    if base["gdp_cny_100m"].year != year:
        raise DataError(f"the base-year table {chosen} describes {base['gdp_cny_100m'].year} (its gdp_cny_100m row), "
                        f"but the base year is {year}")
    return base, chosen


REQUIRED_BASE = (
    "gdp_cny_100m", "above_size_industry_va_cny_100m", "cluster_415x_revenue_cny_100m",
    "t1_emerging_share_415x_pct", "t2_sei_share_pct", "digital_core_va_cny_100m",
    "non_415x_share_above_size_revenue_pct", "n_above_size_firms", "n_tech_smes",
    "tech_sme_above_size_share_pct", "n_high_tech_enterprises", "n_little_giants", "n_single_champions",
    "rd_intensity_pct", "rd_expenditure_cny_100m", "enterprise_rd_share_pct", "n_national_clusters",
    "n_provincial_cluster_core_areas", "n_pilot_zones", "va_per_mu_10k_cny",
    "provincial_fund_subscribed_cny_100m", "provincial_fund_initial_cny_100m",
    "sci_innov_mother_fund_cny_100m", "srdi_mother_fund_cny_100m", "low_efficiency_land_stock_mu",
)


def check_base_year_complete(base: dict[str, BaseQuantity], path: Path) -> None:
    missing = [q for q in REQUIRED_BASE if q not in base]
    if missing:
        raise DataError(f"base-year file {path} lacks required quantities: {', '.join(missing)}")
