"""Where a replay from an early base year stands when it reaches a later base year: the simulated
state of that year beside the base-year table the model would start from (issue 14, item 2).

A replay that lands far from the later table says the mechanisms (or the table's evidence) disagree
with what happened in between; ``replay_gap`` puts the numbers side by side for the run's report,
the calibration's report and ``summary.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simmodel.data import BaseQuantity

# base-year quantity -> (model indicator, what it is): the quantities a trajectory carries
GAP_QUANTITIES = {
    "gdp_cny_100m": ("gdp_cny_100m", "GDP"),
    "above_size_industry_va_cny_100m": ("above_size_industry_va_cny_100m", "above-size industry VA"),
    "cluster_415x_revenue_cny_100m": ("cluster_415x_revenue_cny_100m", "415X cluster revenue"),
    "t1_emerging_share_415x_pct": ("t1_emerging_share_415x_pct", "T1 emerging share of 415X revenue"),
    "t2_sei_share_pct": ("t2_sei_share_pct", "T2 SEI share of above-size VA"),
    "digital_core_va_cny_100m": ("digital_core_va_cny_100m", "T3 digital-core VA"),
    "rd_intensity_pct": ("rd_intensity_pct", "R&D intensity"),
    "n_above_size_firms": ("n_above_size_firms", "above-size firms"),
    "n_high_tech_enterprises": ("n_high_tech", "high-tech enterprises"),
    "n_little_giants": ("n_little_giant", "little giants"),
    "n_single_champions": ("n_single_champion", "single champions"),
    "n_national_clusters": ("t4_national_clusters", "T4 national clusters"),
    "n_pilot_zones": ("t5_pilot_zones", "T5 pilot zones"),
}
GAP_COLUMNS = ("quantity", "label", "year", "table_value", "table_low", "table_high", "table_kind", "replay_median",
               "replay_p10", "replay_p90", "gap_pct", "table_in_replay_80", "replay_in_table_range")


def replay_gap(paths: dict[str, np.ndarray], years: np.ndarray, table: dict[str, BaseQuantity]) -> pd.DataFrame:
    """The replay's distribution in the table's year beside the table's value and range, quantity by
    quantity. ``paths``: model indicator -> replicates x years; ``years``: the columns' years.
    gap_pct = 100 (replay median / table value - 1); empty when the replay does not reach the year."""
    year = int(table["gdp_cny_100m"].year)
    cols = [int(y) for y in years]
    rows = []
    if year in cols:
        k = cols.index(year)
        for q, (ind, label) in GAP_QUANTITIES.items():
            if q not in table or ind not in paths:
                continue
            v = np.asarray(paths[ind], float)[:, k]
            t = table[q]
            med, p10, p90 = (float(x) for x in np.quantile(v, [0.5, 0.1, 0.9]))
            rows.append({"quantity": q, "label": label, "year": year, "table_value": t.value, "table_low": t.low,
                         "table_high": t.high, "table_kind": t.kind, "replay_median": med, "replay_p10": p10,
                         "replay_p90": p90, "gap_pct": 100.0 * (med / t.value - 1.0) if t.value else float("nan"),
                         "table_in_replay_80": bool(p10 <= t.value <= p90),
                         "replay_in_table_range": bool(t.low <= med <= t.high)})
    return pd.DataFrame(rows, columns=list(GAP_COLUMNS))


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def gap_lines(gap: pd.DataFrame) -> list[str]:
    """The gap as Markdown lines (a heading, a sentence, a table)."""
    if gap.empty:
        return []
    year = int(gap["year"].iloc[0])
    far = gap[~gap["replay_in_table_range"] & ~gap["table_in_replay_80"]]
    lines = [f"## Where the replay stands in {year}, beside the {year} base-year table", "",
             f"{len(gap) - len(far)} of {len(gap)} quantities agree (the table's value inside the replay's 80 % band, or the "
             f"replay's median inside the table's range)" + (f"; apart: {', '.join(far['label'])}." if len(far) else "."), "",
             "| quantity | table value [range] | replay median [10-90 %] | gap |", "|---|---|---|---|"]
    for r in gap.itertuples():
        lines.append(f"| {r.label} | {_num(r.table_value)} [{_num(r.table_low)}, {_num(r.table_high)}] ({r.table_kind}) | "
                     f"{_num(r.replay_median)} [{_num(r.replay_p10)}, {_num(r.replay_p90)}] | {r.gap_pct:+.1f} % |")
    return lines
