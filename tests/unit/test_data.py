"""Input tables (simmodel.data, simmodel.sectors, simmodel.params): the real files load, and a copy
with one line altered is refused with a DataError that names the file and the line."""

from __future__ import annotations

import csv
import dataclasses
import math
import re
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from scipy import stats

from simmodel.config import PROJECT_ROOT
from simmodel.data import (
    BASE_YEAR_COLUMNS, DISTRIBUTIONS, INDICATOR_COLUMNS, draw_from_range, latest_full_year, load_base_year, load_indicators)
from simmodel.errors import DataError
from simmodel.params import PARAM_COLUMNS, Params, load_param_table, load_params
from simmodel.sectors import load_sectors

DATA_DIR = PROJECT_ROOT / "calibration" / "data"
INDICATORS = DATA_DIR / "zhejiang_indicators.csv"
BASE_YEAR = DATA_DIR / "base_year.csv"
SECTORS = DATA_DIR / "sectors.csv"
PARAMS = DATA_DIR / "parameters.csv"


# ---------------------------------------------------------------------------------------------- helpers
def read_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    # one physical line per record, so that row i is line i + 1
    assert not any("\n" in cell for row in rows for cell in row)
    return rows


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    return path


def find_line(rows: list[list[str]], pred: Callable[[dict[str, str]], bool]) -> int:
    """Line number (header = 1) of the first data row for which pred(row as dict) holds."""
    header = rows[0]
    for i, row in enumerate(rows[1:], start=2):
        if pred(dict(zip(header, row))):
            return i
    raise AssertionError("no such row in the real file")


def altered(tmp_path: Path, src: Path, line: int, **changes: str) -> Path:
    """A copy of ``src`` with the given columns of one line changed."""
    rows = read_rows(src)
    header = rows[0]
    for col, value in changes.items():
        rows[line - 1][header.index(col)] = value
    return write_rows(tmp_path / src.name, rows)


def refused(loader: Callable, path: Path, line: int | None, *fragments: str) -> str:
    """Assert that ``loader(path)`` raises a DataError naming the file, the line and fragments."""
    with pytest.raises(DataError) as exc:
        loader(path)
    msg = str(exc.value)
    assert str(path) in msg, msg
    if line is not None:
        assert re.search(rf"\bline {line}\b", msg), msg
    for f in fragments:
        assert f in msg, msg
    return msg


# ---------------------------------------------------------------------------------------------- indicators
def test_real_indicator_file_loads():
    df = load_indicators(INDICATORS)
    n_rows = len(read_rows(INDICATORS)) - 1
    assert len(df) == n_rows
    assert set(INDICATOR_COLUMNS) | {"kind", "line"} <= set(df.columns)
    assert df["line"].tolist() == list(range(2, n_rows + 2))
    assert not df.duplicated(["indicator", "year"]).any()
    assert df["year"].between(1990, 2035).all()
    assert set(df["kind"]) == {"annual", "partial_year", "bound"}


def test_latest_full_year_is_2024(history):
    assert latest_full_year(load_indicators(INDICATORS)) == 2024
    assert latest_full_year(history) == 2024


def test_latest_full_year_ignores_partial_and_first_release_gdp(tmp_path):
    rows = [list(INDICATOR_COLUMNS),
            ["gdp_cny_100m", "2023", "82553", "CNY 100m", "http://example.org/a", ""],
            ["gdp_cny_100m_h1", "2025", "45000", "CNY 100m", "http://example.org/b", ""],
            ["gdp_cny_100m_initial_release", "2025", "90000", "CNY 100m", "http://example.org/c", ""]]
    assert latest_full_year(load_indicators(write_rows(tmp_path / "i.csv", rows))) == 2023
    with pytest.raises(DataError, match="gdp_cny_100m"):
        latest_full_year(load_indicators(write_rows(tmp_path / "j.csv", [rows[0], rows[2]])))


@pytest.mark.parametrize("name,kind", [
    ("gdp_cny_100m", "annual"),
    ("sei_va_growth_pct_h1", "partial_year"),
    ("sei_va_growth_pct_q1", "partial_year"),
    ("equipment_mfg_share_pct_jan_jul", "partial_year"),
    ("above_scale_industry_va_cny_100m_jan_sep", "partial_year"),
    ("industry_va_cny_100m_jan_nov", "partial_year"),
    ("digital_core_va_cny_100m_h1_approx", "partial_year"),
    ("cluster_415x_revenue_cny_100m_lower_bound", "bound"),
    ("pilot_zones_listed_min", "bound"),
    ("gdp_growth_pct_initial_release", "bound"),
])
def test_indicator_kind_from_suffix(tmp_path, name, kind):
    unit = "CNY 100m" if "_cny_100m" in name else "%" if "_pct" in name else "count"  # the unit its name promises
    rows = [list(INDICATOR_COLUMNS), [name, "2024", "1", unit, "http://example.org", ""]]
    df = load_indicators(write_rows(tmp_path / "i.csv", rows))
    assert df["kind"].tolist() == [kind]


def test_real_file_kinds():
    df = load_indicators(INDICATORS).set_index(["indicator", "year"])["kind"]
    kinds = df.groupby(level="indicator").first()
    assert kinds["digital_core_va_growth_pct_h1"] == "partial_year"
    assert kinds["digital_core_va_share_gdp_pct_jan_sep"] == "partial_year"
    assert kinds["cluster_415x_revenue_cny_100m_lower_bound"] == "bound"
    assert kinds["digital_core_va_cny_100m_lower_bound"] == "bound"
    assert kinds["gdp_cny_100m"] == "annual"


def test_duplicate_indicator_year_refused(tmp_path):
    rows = read_rows(INDICATORS)
    rows.append(list(rows[5]))  # line 6 again, as the last line
    path = write_rows(tmp_path / INDICATORS.name, rows)
    msg = refused(load_indicators, path, len(rows), "duplicate", rows[5][0], rows[5][1])
    assert "line 6" in msg  # where the first copy is


def test_non_numeric_value_refused(tmp_path):
    path = altered(tmp_path, INDICATORS, 9, value="5,545")
    refused(load_indicators, path, 9, "'5,545'", "value")


def test_year_1850_refused(tmp_path):
    path = altered(tmp_path, INDICATORS, 7, year="1850")
    refused(load_indicators, path, 7, "1850")


def test_fractional_year_refused(tmp_path):
    path = altered(tmp_path, INDICATORS, 7, year="2020.5")
    refused(load_indicators, path, 7, "2020.5")


def test_negative_count_refused(tmp_path):
    line = find_line(read_rows(INDICATORS), lambda r: r["unit"] == "count" and float(r["value"]) > 0)
    path = altered(tmp_path, INDICATORS, line, value="-3")
    refused(load_indicators, path, line, "negative")


def test_unknown_unit_refused(tmp_path):
    path = altered(tmp_path, INDICATORS, 12, unit="CNY 10m")
    refused(load_indicators, path, 12, "'CNY 10m'", "unit")


def test_missing_source_url_refused(tmp_path):
    path = altered(tmp_path, INDICATORS, 15, source_url="")
    refused(load_indicators, path, 15, "source_url")


def test_wrong_header_refused(tmp_path):
    rows = read_rows(INDICATORS)
    rows[0][rows[0].index("source_url")] = "source"
    path = write_rows(tmp_path / INDICATORS.name, rows)
    refused(load_indicators, path, None, "header", "source_url")


def test_empty_file_refused(tmp_path):
    path = tmp_path / INDICATORS.name
    path.write_bytes(b"")
    refused(load_indicators, path, None, "empty")


def test_header_only_file_refused(tmp_path):
    path = write_rows(tmp_path / INDICATORS.name, [list(INDICATOR_COLUMNS)])
    refused(load_indicators, path, None, "no rows")


def test_row_with_missing_field_refused(tmp_path):
    rows = read_rows(INDICATORS)
    rows[20] = rows[20][:-1]
    path = write_rows(tmp_path / INDICATORS.name, rows)
    refused(load_indicators, path, 21, "fields")


def test_gbk_file_refused(tmp_path):
    """The real file saved as GBK (what a Chinese-locale spreadsheet does by default)."""
    path = tmp_path / INDICATORS.name
    path.write_bytes(INDICATORS.read_text(encoding="utf-8").encode("gbk"))
    refused(load_indicators, path, None, "UTF-8")


def test_utf16_file_refused_as_such(tmp_path):
    path = tmp_path / INDICATORS.name
    path.write_bytes(INDICATORS.read_text(encoding="utf-8").encode("utf-16"))
    refused(load_indicators, path, None, "UTF-16", "save it as UTF-8")


def test_non_utf8_error_names_the_line(tmp_path):
    """An ASCII file whose line 10 has a note in GBK: the message should point at line 10 (the module
    promises 'the row (its line number in the file)' of a bad value)."""
    rows = [[c.encode("ascii", "ignore").decode() for c in row] for row in read_rows(INDICATORS)[:20]]
    rows[9][-1] = "@NOTE@"
    path = write_rows(tmp_path / INDICATORS.name, rows)
    raw = path.read_bytes()
    assert raw.count(b"@NOTE@") == 1
    path.write_bytes(raw.replace(b"@NOTE@", "突破9万亿".encode("gbk")))
    refused(load_indicators, path, 10, "UTF-8")


def test_unit_that_contradicts_the_name_refused(tmp_path):
    line = find_line(read_rows(INDICATORS), lambda r: r["indicator"] == "gdp_cny_100m")
    path = altered(tmp_path, INDICATORS, line, unit="%")
    refused(load_indicators, path, line, "gdp_cny_100m", "_cny_100m", "'CNY 100m'", "not '%'")


def test_unit_of_a_partial_year_bound_is_read_from_its_stem(tmp_path):
    line = find_line(read_rows(INDICATORS), lambda r: r["indicator"] == "digital_core_va_cny_100m_h1_approx")
    path = altered(tmp_path, INDICATORS, line, unit="count")
    refused(load_indicators, path, line, "_cny_100m")


def test_partial_year_row_passed_off_as_annual_refused(tmp_path):
    """An H1 row whose suffix was dropped: its note still says what it is, and the loader reads it."""
    rows = read_rows(INDICATORS)
    line = find_line(rows, lambda r: r["indicator"] == "digital_core_va_growth_pct_h1" and r["year"] == "2019")
    header = rows[0]
    assert "H1 2019 ONLY" in rows[line - 1][header.index("note")]
    path = altered(tmp_path, INDICATORS, line, indicator="digital_core_va_growth_pct_first_half")
    refused(load_indicators, path, line, "digital_core_va_growth_pct_first_half 2019", "H1 2019 ONLY", "_h1")


def test_partial_year_row_with_its_suffix_loads_as_partial(tmp_path):
    df = load_indicators(INDICATORS)
    row = df[(df["indicator"] == "digital_core_va_growth_pct_h1") & (df["year"] == 2019)]
    assert row["kind"].tolist() == ["partial_year"]


def test_file_that_is_not_csv_refused(tmp_path):
    """A spreadsheet exported as JSON (text, but not this CSV): refused at the header, which it names."""
    path = tmp_path / INDICATORS.name
    path.write_text('[{"indicator": "gdp_cny_100m", "year": 2024, "value": 90131}]\n', encoding="utf-8")
    refused(load_indicators, path, None, "header", "expected exactly 'indicator,year,value,unit,source_url,note'")


def test_xlsx_file_refused(tmp_path):
    """An .xlsx workbook saved under the .csv name (a zip archive: binary)."""
    import zipfile

    path = tmp_path / INDICATORS.name
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    refused(load_indicators, path, None, "not a text CSV")


def test_binary_file_refused(tmp_path):
    path = tmp_path / INDICATORS.name
    path.write_bytes(b"PAR1\x00\x00\x15\x04\x15\x10\x00\x00" + bytes(range(256)))
    refused(load_indicators, path, None, "binary")


def test_missing_file_refused(tmp_path):
    refused(load_indicators, tmp_path / "nowhere.csv", None, "does not exist")


# ---------------------------------------------------------------------------------------------- base year
def test_base_year_loads_with_an_override():
    table = load_base_year(BASE_YEAR)["t1_emerging_share_415x_pct"]
    base = load_base_year(BASE_YEAR, {"t1_emerging_share_415x_pct": 48})
    q = base["t1_emerging_share_415x_pct"]
    assert q.value == 48.0
    assert q.kind == "override"
    assert q.distribution == "fixed"  # an override pins the value: nothing is drawn
    assert (q.low, q.high) == (table.low, table.high)  # the table's range stays for reference
    assert q.draw(0.0) == q.draw(0.99) == 48.0
    assert base["gdp_cny_100m"].value == 90131


@pytest.mark.parametrize("side", ["below", "above"])
def test_base_year_override_outside_range_refused(side):
    q = load_base_year(BASE_YEAR)["t1_emerging_share_415x_pct"]
    value = q.low - 0.1 if side == "below" else q.high + 0.1
    with pytest.raises(DataError) as exc:
        load_base_year(BASE_YEAR, {"t1_emerging_share_415x_pct": value})
    msg = str(exc.value)
    assert "t1_emerging_share_415x_pct" in msg and f"[{q.low:g}, {q.high:g}]" in msg and str(BASE_YEAR) in msg


def test_base_year_header_has_distribution_after_high():
    assert BASE_YEAR_COLUMNS == ("quantity", "year", "value", "low", "high", "distribution", "unit", "kind", "reasoning")
    assert read_rows(BASE_YEAR)[0] == list(BASE_YEAR_COLUMNS)


def test_base_year_without_distribution_column_refused(tmp_path):
    rows = [[c for i, c in enumerate(row) if i != 5] for row in read_rows(BASE_YEAR)]
    path = write_rows(tmp_path / BASE_YEAR.name, rows)
    refused(load_base_year, path, None, "header", "missing: distribution")


def test_base_year_unknown_distribution_refused(tmp_path):
    line = find_line(read_rows(BASE_YEAR), lambda r: r["quantity"] == "n_pilot_zones")
    path = altered(tmp_path, BASE_YEAR, line, distribution="normal")
    refused(load_base_year, path, line, "n_pilot_zones", "'normal'", "fixed, triangular, uniform")


def test_base_year_fixed_with_a_range_refused(tmp_path):
    line = find_line(read_rows(BASE_YEAR), lambda r: r["quantity"] == "n_pilot_zones")
    path = altered(tmp_path, BASE_YEAR, line, distribution="fixed")
    refused(load_base_year, path, line, "n_pilot_zones", "'fixed' needs low == value == high", "[8, 24]")


@pytest.mark.parametrize("dist", ["triangular", "uniform"])
def test_base_year_drawn_distribution_without_a_range_refused(tmp_path, dist):
    line = find_line(read_rows(BASE_YEAR), lambda r: r["quantity"] == "gdp_cny_100m")
    path = altered(tmp_path, BASE_YEAR, line, distribution=dist)
    refused(load_base_year, path, line, "gdp_cny_100m", f"{dist!r} needs a range", "use fixed")


def test_every_range_has_its_distribution():
    """fixed exactly where low == high; every row of both tables says how it is drawn."""
    rows = list(load_base_year(BASE_YEAR).values()) + list(load_param_table(PARAMS).values())
    for r in rows:
        assert r.distribution in DISTRIBUTIONS, r
        assert (r.distribution == "fixed") == (r.low == r.high), r
    base = load_base_year(BASE_YEAR)
    assert base["n_pilot_zones"].distribution == "uniform"
    assert base["t1_emerging_share_415x_pct"].distribution == "uniform"
    assert base["t2_sei_share_pct"].distribution == "triangular"
    assert base["gdp_cny_100m"].distribution == "fixed"


def test_base_year_unknown_override_refused():
    with pytest.raises(DataError, match=r"population\.overrides\.t1_base_pct: no such base-year quantity"):
        load_base_year(BASE_YEAR, {"t1_base_pct": 50})


def test_base_year_value_outside_its_own_range_refused(tmp_path):
    line = find_line(read_rows(BASE_YEAR), lambda r: r["quantity"] == "n_pilot_zones")
    path = altered(tmp_path, BASE_YEAR, line, value="30")
    refused(load_base_year, path, line, "n_pilot_zones", "[8, 24]")


# ---------------------------------------------------------------------------------------------- sectors
def test_real_sector_table_loads(inputs):
    s = load_sectors(SECTORS)
    assert s.ids == inputs.sectors.ids
    assert s.emerging.sum() == 11  # the 11 emerging clusters of art. 1
    assert (s.emerging <= s.in_415x).all()


@pytest.mark.parametrize("column,value", [("sei_share", "1.5"), ("digital_core_share", "-0.1")])
def test_sector_share_outside_unit_interval_refused(tmp_path, column, value):
    path = altered(tmp_path, SECTORS, 4, **{column: value})
    refused(load_sectors, path, 4, column)


def test_sector_with_unknown_group_refused(tmp_path):
    path = altered(tmp_path, SECTORS, 6, group="")
    refused(load_sectors, path, 6, "group")


def test_sector_table_missing_a_group_refused(tmp_path):
    rows = read_rows(SECTORS)
    line = find_line(rows, lambda r: r["group"] == "other_industry")
    del rows[line - 1]
    path = write_rows(tmp_path / SECTORS.name, rows)
    refused(load_sectors, path, None, "other_industry")


# ---------------------------------------------------------------------------------------------- parameters
def test_unknown_parameter_in_file_refused(tmp_path):
    path = altered(tmp_path, PARAMS, 5, name="growth_young_bonus_annual")
    refused(load_params, path, 5, "growth_young_bonus_annual")


def test_unknown_parameter_override_refused():
    with pytest.raises(DataError, match=r"params\.overrides\.growth_laplace_scale: no such parameter"):
        load_params(PARAMS, {"growth_laplace_scale": 0.1})


@pytest.mark.parametrize("value", [0.05, 0.26, True])
def test_parameter_override_outside_range_refused(value):
    with pytest.raises(DataError) as exc:
        load_params(PARAMS, {"growth_laplace_scale_annual": value})
    assert "growth_laplace_scale_annual" in str(exc.value) and "[0.06, 0.25]" in str(exc.value)


def test_parameter_override_applies():
    assert load_params(PARAMS, {"growth_laplace_scale_annual": 0.2}).growth_laplace_scale_annual == 0.2
    assert load_params(PARAMS).growth_laplace_scale_annual == 0.12


def test_parameter_file_missing_a_parameter_refused(tmp_path):
    rows = read_rows(PARAMS)
    dropped = rows.pop(7)[0]
    path = write_rows(tmp_path / PARAMS.name, rows)
    refused(load_params, path, None, dropped)


def test_unaltered_copies_load_like_the_originals(tmp_path):
    """The helpers above rewrite a file faithfully, so a refusal comes from the one altered line."""
    assert load_params(write_rows(tmp_path / PARAMS.name, read_rows(PARAMS))) == load_params(PARAMS)
    copy = load_indicators(write_rows(tmp_path / INDICATORS.name, read_rows(INDICATORS)))
    assert copy.drop(columns="line").equals(load_indicators(INDICATORS).drop(columns="line"))


def test_parameter_header_has_distribution_after_high():
    assert PARAM_COLUMNS == ("name", "value", "low", "high", "distribution", "unit", "kind", "source")
    assert read_rows(PARAMS)[0] == list(PARAM_COLUMNS)


def test_parameter_file_and_dataclass_in_the_same_order():
    assert list(load_param_table(PARAMS)) == [f.name for f in dataclasses.fields(Params)]
    assert "national_cluster_wins_per_year" not in {f.name for f in dataclasses.fields(Params)}  # replaced by rounds


def test_new_behavioural_parameters():
    t = load_param_table(PARAMS)
    for name, value, low, high, dist in [
        ("pilot_zone_batch_prob_annual", 0.75, 0.5, 1.0, "uniform"),
        ("national_cluster_winners_per_round", 27, 20, 35, "uniform"),
        ("national_cluster_zhejiang_share", 0.10, 0.05, 0.18, "triangular"),
        ("basic_research_spillover", 0.1, 0.0, 0.3, "triangular"),
        ("growth_laplace_scale_max", 0.7, 0.5, 0.9, "triangular"),
        ("finance_hazard_reduction_pct", 15, 5, 30, "triangular"),
    ]:
        p = t[name]
        assert (p.value, p.low, p.high, p.distribution) == (value, low, high, dist), p
    assert t["growth_laplace_scale_max"].high < 1.0  # E[exp(shock)] = 1 / (1 - b^2) must stay finite
    # the Zhejiang share's range is about the 95 % interval of Beta(8.5, 72.5) (8 of 80 winners, Jeffreys prior)
    lo, hi = stats.beta(8.5, 72.5).ppf([0.025, 0.975])
    assert t["national_cluster_zhejiang_share"].low == pytest.approx(lo, abs=0.005)
    assert t["national_cluster_zhejiang_share"].high == pytest.approx(hi, abs=0.005)


def test_parameter_unknown_distribution_refused(tmp_path):
    path = altered(tmp_path, PARAMS, 5, distribution="lognormal")
    refused(load_params, path, 5, "'lognormal'", "fixed, triangular, uniform")


def test_parameter_fixed_with_a_range_refused(tmp_path):
    path = altered(tmp_path, PARAMS, 5, distribution="fixed")
    refused(load_params, path, 5, "'fixed' needs low == value == high")


# ---------------------------------------------------------------------------------------------- draws
U = (np.arange(20000) + 0.5) / 20000  # an even grid of uniforms: quantiles and moments without noise


@pytest.mark.parametrize("value,low,high", [(2.0, 1.0, 5.0), (1.0, 1.0, 5.0), (5.0, 1.0, 5.0), (0.1, 0.05, 0.18)])
def test_triangular_draw_is_scipy_triang(value, low, high):
    c = (value - low) / (high - low)
    ref = stats.triang(c, loc=low, scale=high - low)
    got = draw_from_range(value, low, high, "triangular", U)
    np.testing.assert_allclose(got, ref.ppf(U), rtol=1e-9, atol=1e-12)
    assert got.mean() == pytest.approx(ref.mean(), rel=1e-4)
    assert got.var() == pytest.approx(ref.var(), rel=1e-3)
    for q in (0.05, 0.5, 0.95):
        assert draw_from_range(value, low, high, "triangular", q) == pytest.approx(ref.ppf(q), rel=1e-9)
    assert low <= got.min() and got.max() <= high


def test_uniform_draw_is_scipy_uniform():
    ref = stats.uniform(loc=8, scale=16)
    got = draw_from_range(16, 8, 24, "uniform", U)
    np.testing.assert_allclose(got, ref.ppf(U), rtol=1e-12)
    assert got.mean() == pytest.approx(ref.mean(), rel=1e-6)
    assert got.var() == pytest.approx(ref.var(), rel=1e-4)
    assert draw_from_range(16, 8, 24, "uniform", 0.25) == pytest.approx(12.0)


def test_fixed_draw_returns_the_value():
    assert draw_from_range(90131, 90131, 90131, "fixed", 0.3) == 90131
    assert draw_from_range(3.0, 1.0, 5.0, "fixed", 0.9) == 3.0  # an override: pinned inside its table range
    np.testing.assert_array_equal(draw_from_range(3.0, 3.0, 3.0, "fixed", U[:5]), np.full(5, 3.0))


def test_draw_returns_a_float_for_a_scalar_and_an_array_for_an_array():
    assert isinstance(draw_from_range(2.0, 1.0, 5.0, "triangular", 0.5), float)
    assert draw_from_range(2.0, 1.0, 5.0, "triangular", np.array([0.1, 0.9])).shape == (2,)


def test_a_draw_of_many_quantities_is_each_ones_draw():
    """Quantities of every distribution in one call (a replicate's draws) give, element for element,
    the float a call each gives, bit for bit; a bad element is refused, named."""
    rng = np.random.default_rng(3)
    n = 300
    low = rng.normal(0, 10, n)
    high = low + rng.choice([0.0, 0.5, 20.0], n)
    value = low + rng.random(n) * (high - low)
    value[::7] = low[::7]  # modes at either end of the range
    value[1::7] = high[1::7]
    dist = rng.choice(["fixed", "uniform", "triangular"], n)
    dist[high == low] = "fixed"
    value[dist == "fixed"] = np.where(high == low, low, value)[dist == "fixed"]
    u = rng.random(n)
    u[:3] = 0.0

    def stated(v: float, lo: float, hi: float, d: str, x: float) -> float:
        """The rule in plain floats (IEEE arithmetic and a correctly rounded square root, as numpy's)."""
        if d == "fixed" or lo == hi:
            out = v
        elif d == "uniform":
            out = lo + x * (hi - lo)
        else:
            w = hi - lo
            out = lo + math.sqrt(x * w * (v - lo)) if x < (v - lo) / w else hi - math.sqrt((1.0 - x) * w * (hi - v))
        return min(max(out, lo), hi)

    got = draw_from_range(value, low, high, dist, u)
    args = [(float(v), float(lo), float(hi), str(d), float(x)) for v, lo, hi, d, x in zip(value, low, high, dist, u,
                                                                                        strict=True)]
    assert got.shape == (n,) and got.tolist() == [draw_from_range(*a) for a in args] == [stated(*a) for a in args]
    bad = value.copy()
    bad[17] = high[17] + 1.0
    with pytest.raises(ValueError, match=f"value {bad[17]:g} outside"):
        draw_from_range(bad, low, high, dist, u)
    wrong = dist.copy()
    wrong[5] = "lognormal"
    with pytest.raises(ValueError, match="'lognormal' is not one of"):
        draw_from_range(value, low, high, wrong, u)


@pytest.mark.parametrize("args", [(2.0, 1.0, 5.0, "normal", 0.5), (2.0, 1.0, 5.0, "uniform", 1.5),
                                  (2.0, 1.0, 5.0, "uniform", -0.1), (6.0, 1.0, 5.0, "triangular", 0.5)])
def test_draw_refuses_bad_input(args):
    with pytest.raises(ValueError):
        draw_from_range(*args)


def test_table_rows_draw_through_their_distribution():
    p = load_param_table(PARAMS)["national_cluster_zhejiang_share"]
    ref = stats.triang((p.value - p.low) / (p.high - p.low), loc=p.low, scale=p.high - p.low)
    assert p.draw(0.5) == pytest.approx(ref.ppf(0.5))
    q = load_base_year(BASE_YEAR)["n_pilot_zones"]
    assert q.draw(0.0) == q.low and q.draw(0.5) == pytest.approx((q.low + q.high) / 2)

