"""Side-by-side comparison of calibration runs: parameters with intervals, fit statistics, backtest
scores; as a terminal table, Markdown, and an overlay figure."""

from __future__ import annotations

import numpy as np
import pandas as pd

from simmodel.calibration import backtest as bt
from simmodel.calibration.runs import CalibrationRun
from simmodel.report import plots


def comparison_tables(runs: list[CalibrationRun]) -> dict[str, pd.DataFrame]:
    """Three tables, one column per run: parameters ("estimate [95 % CI]"), fit statistics, and the
    model's backtest scores where a run has been backtested."""
    names = [r.name for r in runs]
    params = sorted({n for r in runs for n in r.estimates["name"]})
    prow = []
    for p in params:
        row = {"parameter": p}
        for r in runs:
            e = r.estimates.set_index("name")
            if p in e.index:
                x = e.loc[p]
                flag = "" if int(x["identified"]) else " (weak)"
                row[r.name] = f"{x['estimate']:.4g} [{x['ci95_low']:.4g}, {x['ci95_high']:.4g}]{flag}"
            else:
                row[r.name] = "not estimated"
        prow.append(row)
    fit_keys = [("method", "{}"), ("base_year", "{}"), ("loss", "{:.2f}"), ("j_stat", "{:.2f}"), ("j_df", "{:.1f}"),
                ("j_pvalue", "{:.3f}"), ("n_evaluations", "{:d}"),
                ("converged", "{}"), ("n_moments", "{:d}"), ("cutoff", "{}"), ("seconds", "{:.0f}")]
    frow = []
    for k, fmt in fit_keys:
        row = {"statistic": k}
        for r in runs:
            v = r.fit.get(k)
            try:
                row[r.name] = fmt.format(v) if v is not None else "-"
            except (ValueError, TypeError):
                row[r.name] = str(v)
        frow.append(row)
    for m in sorted({m for r in runs for m in r.moments["moment"]}):
        row = {"statistic": f"t({m})"}
        for r in runs:
            mm = r.moments.set_index("moment")
            row[r.name] = f"{mm.loc[m, 't_stat']:+.2f}" if m in mm.index else "-"
        frow.append(row)
    brow, card_rows = [], []
    for r in runs:
        if r.backtest is None:
            continue
        for rec in r.backtest[r.backtest["method"].isin(["model", "random_walk_drift"])].itertuples():
            brow.append({"run": r.name, "indicator": rec.indicator, "method": rec.method, "rmse": rec.rmse})
        card = bt.scorecard(r.backtest)
        card_rows.append({"run": r.name, "series beating the random walk": f"{card['n_beats_rw']} of {card['n_series']}",
                          "coverage 80 % (goal 70-90 %)": f"{100 * card['coverage80']:.0f} %",
                          "coverage 95 %": f"{100 * card['coverage95']:.0f} %", "held-out points": card["n_points"],
                          "method": r.fit.get("method", "growth moments from a 2024 start (before issue 14)")})
    back = pd.DataFrame(brow)
    if not back.empty:
        back["column"] = back["run"] + ": " + back["method"].map({"model": "model", "random_walk_drift": "random walk"})
        back = back.pivot_table(index="indicator", columns="column", values="rmse").reset_index()
        back.columns.name = None
        back = back.astype(object).where(back.notna(), "-")  # a series a run's backtest did not score
        for n in names:
            if not any(c.startswith(n + ": ") for c in back.columns):
                back[n] = "not backtested"
    else:
        back = pd.DataFrame({"indicator": ["(no run has been backtested: simmodel backtest calibration_name=NAME)"]})
    scorecard = pd.DataFrame(card_rows) if card_rows else pd.DataFrame({"run": ["(no run has been backtested)"]})
    return {"parameters": pd.DataFrame(prow), "fit": pd.DataFrame(frow), "scorecard": scorecard, "backtest_rmse": back}


def _md(df: pd.DataFrame) -> str:
    cols = list(df.columns)
    out = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for row in df.itertuples(index=False):
        out.append("| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in row) + " |")
    return "\n".join(out)


def markdown(runs: list[CalibrationRun], tables: dict[str, pd.DataFrame]) -> str:
    lines = ["# Calibration runs compared: " + ", ".join(f"`{r.name}`" for r in runs), ""]
    lines += ["## Parameters: estimate [95 % interval]", "", _md(tables["parameters"]), ""]
    lines += ["## Fit statistics (t = simulated minus observed moment, in observed standard errors)", "", _md(tables["fit"]), ""]
    lines += ["## Backtest scorecard (out of sample; series with at least three held-out points)", "",
              _md(tables["scorecard"]), ""]
    lines += ["## Backtest: RMSE by indicator, the model beside the random walk with drift (log points x 100 for levels, "
              "pp for shares, units for counts)", "", _md(tables["backtest_rmse"]), ""]
    lines += ["Data files: " + "; ".join(f"`{r.name}`: {r.manifest.get('data_files', {}).get('indicators', {}).get('sha256', '?')[:12]}"
                                         for r in runs), ""]
    return "\n".join(lines)


def overlay_figure(runs: list[CalibrationRun]):
    """Each parameter's estimate and 95 % interval per run, on its plausible range rescaled to [0, 1]."""
    import matplotlib.pyplot as plt

    params = sorted({n for r in runs for n in r.estimates["name"]})
    fig, ax = plt.subplots(figsize=(7.0, 0.6 + 0.5 * len(params)), dpi=150)
    colors = list(plots.PALETTE.values())
    y0 = np.arange(len(params))[::-1]
    for i, r in enumerate(runs):
        e = r.estimates.set_index("name")
        off = (i - (len(runs) - 1) / 2) * 0.15
        for yy, p in zip(y0, params):
            if p not in e.index:
                continue
            x = e.loc[p]
            span = x["high"] - x["low"]
            est = (x["estimate"] - x["low"]) / span
            lo, hi = (x["ci95_low"] - x["low"]) / span, (x["ci95_high"] - x["low"]) / span
            ax.plot([lo, hi], [yy + off] * 2, color=colors[i % len(colors)], lw=2)
            ax.plot(est, yy + off, "o", color=colors[i % len(colors)], label=r.name if yy == y0[0] else None)
    ax.set_yticks(y0, params, fontsize=7)
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("position in the parameter's plausible range (0 = low, 1 = high)")
    ax.set_title("Calibrated parameters with 95 % intervals", fontsize=10)
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
