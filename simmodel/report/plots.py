"""Figures from results: DataFrame in, matplotlib Figure out. Nothing here runs the model."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display is ever needed

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in grey print.
PALETTE = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
           "sky": "#56B4E9", "purple": "#CC79A7", "yellow": "#F0E442", "black": "#000000"}


def fan_chart(values: pd.DataFrame, *, title: str, unit: str, history: pd.DataFrame | None = None,
              targets: list[dict] | None = None, base_year: int | None = None) -> plt.Figure:
    """Fan chart of one indicator.

    values: columns replicate, year, value (one indicator). history: columns year, value, label
    (observed points; label says what they are). targets: dicts with year, threshold, label, assumption (bool).
    """
    q = values.groupby("year")["value"].quantile([0.025, 0.1, 0.5, 0.9, 0.975]).unstack()
    fig, ax = plt.subplots(figsize=(7.0, 4.2), dpi=150)
    years = q.index.to_numpy()
    ax.fill_between(years, q[0.025], q[0.975], color=PALETTE["sky"], alpha=0.35, lw=0, label="95 % band")
    ax.fill_between(years, q[0.1], q[0.9], color=PALETTE["blue"], alpha=0.35, lw=0, label="80 % band")
    ax.plot(years, q[0.5], color=PALETTE["blue"], lw=2, label="median projection")
    if history is not None and len(history):
        for label, grp in history.groupby("label", sort=False):
            ax.plot(grp["year"], grp["value"], "o", color=PALETTE["black"], ms=5, mfc="white" if "derived" in label else PALETTE["black"], label=label)
    for t in targets or []:
        style = "--" if t.get("assumption") else "-"
        color = PALETTE["vermillion"] if not t.get("assumption") else PALETTE["orange"]
        ax.plot([t["year"] - 0.4, t["year"] + 0.4], [t["threshold"]] * 2, style, color=color, lw=2.5, label=t["label"])
        ax.annotate(f"{t['threshold']:g}", (t["year"] + 0.45, t["threshold"]), va="center", fontsize=8, color=color)
    if base_year is not None:
        ax.axvline(base_year, color="0.6", lw=0.8, ls=":")
        ax.annotate("base year", (base_year, ax.get_ylim()[1]), xytext=(2, -10), textcoords="offset points", fontsize=7, color="0.4")
    ax.set_title(title, fontsize=11)
    ax.set_xlabel("year")
    ax.set_ylabel(unit)
    lo = min(years.min(), history["year"].min() if history is not None and len(history) else years.min())
    ax.set_xlim(lo - 0.5, years.max() + 1.2)
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.grid(True, color="0.9", lw=0.6)
    ax.legend(fontsize=7, loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def save(fig: plt.Figure, path) -> None:
    fig.savefig(path)
    plt.close(fig)


def history_points(history: pd.DataFrame, spec: list[tuple[str, str, float]]) -> pd.DataFrame:
    """Observed points from the indicator table: spec is [(indicator, label, multiplier)]."""
    rows = []
    for indicator, label, mult in spec:
        sub = history[(history["indicator"] == indicator)]
        for _, r in sub.iterrows():
            rows.append({"year": int(r["year"]), "value": float(r["value"]) * mult, "label": label})
    return pd.DataFrame(rows, columns=["year", "value", "label"])


def derived_share(history: pd.DataFrame, num: str, den: str, label: str) -> pd.DataFrame:
    """num / den x 100 in the years where both have full-year values (a derived point)."""
    a = history[history["indicator"] == num].set_index("year")["value"]
    b = history[history["indicator"] == den].set_index("year")["value"]
    common = a.index.intersection(b.index)
    return pd.DataFrame({"year": common.astype(int), "value": (100 * a[common] / b[common]).to_numpy(), "label": label})


def comparison_chart(table: pd.DataFrame, *, max_label: int = 38) -> plt.Figure:
    """Change in each target's P(met) from the reference job, one panel per target and year.

    table: the sweep aggregate (simmodel.sweep.aggregate_table): columns job, label, target_id,
    year, p_met, reference_job, diff_p_met[_lo|_hi], diff_p_met_lo_unpaired, diff_p_met_hi_unpaired.
    Thick bars: 95 % interval paired by common random numbers; thin light bars: the interval that
    independent runs of the same size would give, to show what the pairing buys.
    """
    panels = list(dict.fromkeys(zip(table["target_id"], table["year"])))
    jobs = table.drop_duplicates("job").sort_values("job")
    ref = int(table["reference_job"].iloc[0])
    others = jobs[jobs["job"] != ref]
    labels = [(lbl if len(lbl) <= max_label else lbl[: max_label - 1] + "…") for lbl in others["label"]]
    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    height = 0.9 + max(1, len(others)) * 0.32
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols + 1.8, height * nrows + 0.6), dpi=150,
                             sharey=True, squeeze=False)
    ypos = np.arange(len(others))[::-1]
    for ax, (tid, year) in zip(axes.flat, panels):
        sub = table[(table["target_id"] == tid) & (table["year"] == year)].set_index("job")
        ref_p = sub.loc[ref, "p_met"] if ref in sub.index else float("nan")
        for y, num in zip(ypos, others["job"]):
            if num not in sub.index:
                continue
            r = sub.loc[num]
            ax.plot([r["diff_p_met_lo_unpaired"], r["diff_p_met_hi_unpaired"]], [y, y], color=PALETTE["sky"], lw=1, alpha=0.7)
            ax.plot([r["diff_p_met_lo"], r["diff_p_met_hi"]], [y, y], color=PALETTE["blue"], lw=3, solid_capstyle="butt")
            ax.plot([r["diff_p_met"]], [y], "o", color=PALETTE["black"], ms=4)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_xlim(-1.05, 1.05)
        ax.set_title(f"{tid} {year} (reference P = {ref_p:.2f})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, axis="x", color="0.9", lw=0.6)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_yticks(ypos, labels, fontsize=7)
    for ax in axes[-1, :]:
        ax.set_xlabel("change in P(met) from reference", fontsize=7)
    ref_label = jobs.loc[jobs["job"] == ref, "label"].iloc[0]
    fig.suptitle(f"Change from the reference (job {ref}: {ref_label}); thick: 95 % paired interval, "
                 "thin: as independent runs", fontsize=8)
    fig.tight_layout()
    return fig


__all__ = ["comparison_chart", "fan_chart", "save", "history_points", "derived_share", "PALETTE", "np"]
