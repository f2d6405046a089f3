"""Figures from results: DataFrame in, matplotlib Figure out. Nothing here runs the model.

matplotlib is imported on first use, not with this module: a task that imports the module but
draws nothing (an analysis point, a sweep job with output.plots=false) does not pay for it.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simmodel.report.fonts import font_family
from simmodel.report.labels import target_name, text, unit

if TYPE_CHECKING:
    import matplotlib.pyplot as plt

# Files only; no display is ever needed: the Agg backend, chosen before pyplot is imported (by this
# module or by a caller that imports pyplot itself after importing this module).
if "matplotlib" in sys.modules:
    sys.modules["matplotlib"].use("Agg")
else:
    os.environ["MPLBACKEND"] = "Agg"


def _plt():
    import matplotlib.pyplot as plt

    return plt


def __getattr__(name: str):
    # plots.plt and plots.matplotlib, as before the import became lazy
    if name == "plt":
        return _plt()
    if name == "matplotlib":
        _plt()
        return sys.modules["matplotlib"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# Okabe-Ito: distinguishable with the common colour-vision deficiencies and in grey print.
PALETTE = {"blue": "#0072B2", "orange": "#E69F00", "green": "#009E73", "vermillion": "#D55E00",
           "sky": "#56B4E9", "purple": "#CC79A7", "yellow": "#F0E442", "black": "#000000"}


@contextmanager
def style(lang: str = "en"):
    """Print-ready defaults for one figure: a font that has the language's glyphs (the CJK face only
    for zh: English figures never load it), sizes that survive being shrunk to a column's width."""
    with _plt().rc_context({"font.family": font_family(lang), "font.size": 9, "axes.titlesize": 10,
                            "axes.labelsize": 9, "legend.fontsize": 7.5, "savefig.bbox": "tight"}):
        yield


def scenario_subtitle(lang: str, scenario: str | None = None, label: str | None = None) -> str:
    """The line under a figure's title that names what was run: the scenario and, for a sweep job,
    what the job changed (its label)."""
    parts = []
    if scenario:
        parts.append(f"{text(lang, 'scenario')}{'：' if lang == 'zh' else ': '}{scenario}")
    if label and label != scenario:
        parts.append(str(label))
    return ("；" if lang == "zh" else "; ").join(parts)


# The target's value is printed just above its line; its line spans the year +- this.
TARGET_HALF_WIDTH = 0.4
X_MARGIN = 0.5  # years of empty axis before the first and after the last point drawn


def fan_chart(values: pd.DataFrame, *, title: str, unit: str, history: pd.DataFrame | None = None,
              targets: list[dict] | None = None, base_year: int | None = None, lang: str = "en",
              subtitle: str | None = None) -> plt.Figure:
    """Fan chart of one indicator.

    values: columns replicate, year, value (one indicator). history: columns year, value, label
    (observed points; label says what they are; a label containing "derived" is drawn hollow).
    targets: dicts with year, threshold, assumption (bool) and optionally label. subtitle: a line
    under the title (what was run: see scenario_subtitle).

    The x-axis spans the years drawn (projection, history, targets) with a margin of X_MARGIN; the
    legend sits below the axes, so that it hides no data and no label (the base year's included).
    """
    plt = _plt()
    from matplotlib.ticker import MaxNLocator

    q = values.groupby("year")["value"].quantile([0.025, 0.1, 0.5, 0.9, 0.975]).unstack()
    with style(lang):
        fig, ax = plt.subplots(figsize=(7.0, 4.6), dpi=150, layout="constrained")
        years = q.index.to_numpy()
        ax.fill_between(years, q[0.025], q[0.975], color=PALETTE["sky"], alpha=0.35, lw=0, label=text(lang, "band95"))
        ax.fill_between(years, q[0.1], q[0.9], color=PALETTE["blue"], alpha=0.35, lw=0, label=text(lang, "band80"))
        ax.plot(years, q[0.5], color=PALETTE["blue"], lw=2, label=text(lang, "median"))
        xs = [years.min(), years.max()]
        if history is not None and len(history):
            for label, grp in history.groupby("label", sort=False):
                derived = "derived" in label
                shown = label if lang == "en" else text(lang, "derived" if derived else "observed")
                ax.plot(grp["year"], grp["value"], "o", color=PALETTE["black"], ms=5,
                        mfc="white" if derived else PALETTE["black"], label=shown)
            xs += [history["year"].min(), history["year"].max()]
        for t in targets or []:
            assumption = bool(t.get("assumption"))
            style_ = "--" if assumption else "-"
            color = PALETTE["orange"] if assumption else PALETTE["vermillion"]
            label = t.get("label") or text(lang, "proxy" if assumption else "target_seed", year=t["year"])
            ax.plot([t["year"] - TARGET_HALF_WIDTH, t["year"] + TARGET_HALF_WIDTH], [t["threshold"]] * 2, style_,
                    color=color, lw=2.5, label=label)
            ax.annotate(f"{t['threshold']:g}", (t["year"], t["threshold"]), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, color=color)
            xs += [t["year"] - TARGET_HALF_WIDTH, t["year"] + TARGET_HALF_WIDTH]
        if base_year is not None:
            ax.axvline(base_year, color="0.6", lw=0.8, ls=":")
            # at the top of the marker, inside the axes: the legend is outside them
            ax.annotate(text(lang, "base_year"), (base_year, 1.0), xycoords=("data", "axes fraction"), xytext=(2, -3),
                        textcoords="offset points", ha="left", va="top", fontsize=7, color="0.4", gid="base_year")
            xs.append(base_year)
        ax.set_title(title, fontsize=11, pad=16 if subtitle else 6)
        if subtitle:  # a smaller line between the title and the axes
            ax.annotate(subtitle, (0.5, 1.0), xycoords="axes fraction", xytext=(0, 4), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, color="0.3", gid="subtitle")
        ax.set_xlabel(text(lang, "year"))
        ax.set_ylabel(unit)
        ax.set_xlim(min(xs) - X_MARGIN, max(xs) + X_MARGIN)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, color="0.9", lw=0.6)
        handles, labels = ax.get_legend_handles_labels()
        ncol = 3 if max(map(len, labels)) <= 32 else 2
        fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False)
    return fig


def save(fig: plt.Figure, path) -> None:
    plt = _plt()
    fig.savefig(path)
    plt.close(fig)


class PendingFigures:
    """Figures being drawn by forked child processes (save_figures); wait() before relying on the
    files, cancel() when giving up on them (the children end with their parent in any case)."""

    def __init__(self, procs: list, conns: list):
        self._procs, self._conns = procs, conns
        self.paths: list[str] = []

    def wait(self) -> list[str]:
        """Block until every figure is written; raises RuntimeError naming the figure that failed."""
        errors = []
        for proc, conn in zip(self._procs, self._conns):
            try:
                status, detail = conn.recv()
            except EOFError:  # the child died without a word (killed)
                proc.join()
                status, detail = "error", f"a figure process ended with status {proc.exitcode}"
            conn.close()
            proc.join()
            if status != "ok":
                errors.append(detail)
        self._procs, self._conns = [], []
        if errors:
            raise RuntimeError("drawing figures failed:\n" + "\n".join(errors))
        return self.paths

    def cancel(self) -> None:
        for proc in self._procs:
            if proc.is_alive():
                proc.kill()
            proc.join()
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []


def _draw_chunk(jobs, conn) -> None:
    import traceback

    from simmodel.interrupts import release_in_worker
    from simmodel.workers import die_with_parent

    release_in_worker()  # started inside interrupts.held(): Ctrl-C is the parent's to handle
    die_with_parent()
    path = None
    try:
        for path, make in jobs:
            save(make(), path)
        conn.send(("ok", None))
    except BaseException:  # noqa: BLE001 - the parent reports it
        conn.send(("error", f"{path}: {traceback.format_exc()}"))
    finally:
        conn.close()


def save_figures(jobs, *, processes: int | None = None) -> PendingFigures:
    """Draw and save figures in the background: jobs is [(path, make)], make() returning a Figure.

    A figure takes matplotlib about 0.2 s to lay out and render, and matplotlib 0.4 s to import: a
    run's six fan charts cost more than its simulation at a small scale. Here they are split over
    ``processes`` forked children (default: one per CPU, at most one per figure), which the caller
    can start as soon as the data are ready and wait for (PendingFigures.wait) only before it needs
    the files. processes=0, a platform without fork or a daemonic process (which may not have
    children): drawn here, before returning."""
    import multiprocessing as mp

    jobs = [(str(p), make) for p, make in jobs]
    n = min(len(jobs), os.cpu_count() or 1) if processes is None else min(processes, len(jobs))
    if n <= 0 or "fork" not in mp.get_all_start_methods() or mp.current_process().daemon:
        for path, make in jobs:
            save(make(), path)
        done = PendingFigures([], [])
        done.paths = [p for p, _ in jobs]
        return done
    import gc

    from simmodel.interrupts import held

    _plt()  # imported once here rather than once in every child
    ctx = mp.get_context("fork")
    procs, conns = [], []
    gc.freeze()  # the children's garbage collections then leave the parent's objects (and pages) alone
    try:
        with held():  # no interrupt inside a fork (simmodel.interrupts)
            for k in range(n):
                recv, send = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_draw_chunk, args=(jobs[k::n], send), name=f"simmodel-figures-{k}",
                                   daemon=True)
                proc.start()
                send.close()
                procs.append(proc)
                conns.append(recv)
    finally:
        gc.unfreeze()
    pending = PendingFigures(procs, conns)
    pending.paths = [p for p, _ in jobs]
    return pending


def fan_chart_jobs(traj: pd.DataFrame, history: pd.DataFrame, targets: dict, base_year: int, path_of, *,
                   lang: str = "en", scenario: str | None = None, label: str | None = None) -> list:
    """save_figures jobs for the fan chart of every target of a run's summary (targets: summary.json
    targets); path_of(target_id) gives each file's path."""
    from functools import partial

    return [(path_of(tid), partial(target_fan, traj, history, tid, by_year, base_year, lang, scenario=scenario,
                                   label=label)) for tid, by_year in targets.items()]


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


def comparison_chart(table: pd.DataFrame, *, max_label: int = 38, lang: str = "en") -> plt.Figure:
    """Change in each target's P(met) from the reference job, one panel per target and year.

    table: the sweep aggregate (simmodel.sweep.aggregate_table): columns job, label, target_id,
    year, p_met, reference_job, diff_p_met[_lo|_hi], diff_p_met_lo_unpaired, diff_p_met_hi_unpaired.
    Thick bars: 95 % interval paired by common random numbers; thin light bars: the interval that
    independent runs of the same size would give, to show what the pairing buys.
    """
    plt = _plt()
    panels = list(dict.fromkeys(zip(table["target_id"], table["year"])))
    jobs = table.drop_duplicates("job").sort_values("job")
    ref = int(table["reference_job"].iloc[0])
    others = jobs[jobs["job"] != ref]
    labels = [(lbl if len(lbl) <= max_label else lbl[: max_label - 1] + "…") for lbl in others["label"]]
    ncols = min(4, len(panels))
    nrows = -(-len(panels) // ncols)
    height = 0.9 + max(1, len(others)) * 0.32
    with style(lang):
        fig, axes = plt.subplots(nrows, ncols, figsize=(2.6 * ncols + 1.8, height * nrows + 0.6), dpi=150,
                                 sharey=True, squeeze=False)
        _comparison_panels(fig, axes, table, panels, jobs, others, labels, ref, lang)
    return fig


def _comparison_panels(fig, axes, table, panels, jobs, others, labels, ref, lang) -> None:
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
        ax.set_title(f"{tid} {year} ({text(lang, 'reference')} P = {ref_p:.2f})", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, axis="x", color="0.9", lw=0.6)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_yticks(ypos, labels, fontsize=7)
    for ax in axes[-1, :]:
        ax.set_xlabel(text(lang, "change_p"), fontsize=7)
    ref_label = jobs.loc[jobs["job"] == ref, "label"].iloc[0]
    fig.suptitle(text(lang, "comparison_title", ref=f"{ref}: {ref_label}") + "\n" + text(lang, "paired"), fontsize=8)
    fig.tight_layout()


def _short(label: str, n: int = 38) -> str:
    return label if len(label) <= n else label[: n - 1] + "…"


JOB_COLORS = [PALETTE[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky", "black", "yellow")]


def probability_chart(table: pd.DataFrame, *, lang: str = "en") -> plt.Figure:
    """P(met) of every target and year, one marker per job with its 95 % Wilson interval.

    table: the sweep aggregate (columns job, label, target_id, year, p_met, p_met_lo, p_met_hi)."""
    plt = _plt()
    panels = list(dict.fromkeys(zip(table["target_id"], table["year"])))
    jobs = table.drop_duplicates("job").sort_values("job")
    width = 0.8 / max(1, len(jobs))
    with style(lang):
        fig, ax = plt.subplots(figsize=(max(6.5, 0.75 * len(panels) + 2.5), 3.8), dpi=150)
        for k, (num, label) in enumerate(zip(jobs["job"], jobs["label"])):
            sub = table[table["job"] == num].set_index(["target_id", "year"])
            x = np.array([i - 0.4 + width * (k + 0.5) for i, key in enumerate(panels) if key in sub.index])
            rows = sub.loc[[key for key in panels if key in sub.index]]
            color = JOB_COLORS[k % len(JOB_COLORS)]
            ax.errorbar(x, rows["p_met"], yerr=[rows["p_met"] - rows["p_met_lo"], rows["p_met_hi"] - rows["p_met"]],
                        fmt="o", ms=4, color=color, ecolor=color, elinewidth=1.2, capsize=2, label=_short(str(label)))
        ax.set_xticks(range(len(panels)), [f"{t}\n{y}" for t, y in panels])
        ax.set_ylim(-0.03, 1.03)
        ax.set_ylabel(text(lang, "p_met"))
        ax.set_title(text(lang, "prob_title"))
        ax.grid(True, axis="y", color="0.9", lw=0.6)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title=text(lang, "scenario"))
        fig.tight_layout()
    return fig


def cost_probability_chart(table: pd.DataFrame, *, year: int = 2027, lang: str = "en") -> plt.Figure:
    """Fiscal cost (median, grants + equity) against P(met) of each target in one year, per job.

    table: the sweep aggregate (columns job, label, target_id, year, p_met, p_met_lo, p_met_hi,
    grants_cny_100m_median, equity_cny_100m_median)."""
    plt = _plt()
    sub = table[table["year"] == year].copy()
    sub["cost"] = sub["grants_cny_100m_median"] + sub["equity_cny_100m_median"]
    tids = list(dict.fromkeys(sub["target_id"]))
    ncols = min(3, len(tids))
    nrows = -(-len(tids) // ncols)
    jobs = table.drop_duplicates("job").sort_values("job")
    with style(lang):
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.1 * ncols + 1.8, 2.6 * nrows + 0.6), dpi=150,
                                 sharex=True, sharey=True, squeeze=False)
        for ax, tid in zip(axes.flat, tids):
            t = sub[sub["target_id"] == tid]
            for k, num in enumerate(jobs["job"]):
                r = t[t["job"] == num]
                if r.empty:
                    continue
                r = r.iloc[0]
                color = JOB_COLORS[k % len(JOB_COLORS)]
                ax.errorbar([r["cost"]], [r["p_met"]], yerr=[[r["p_met"] - r["p_met_lo"]], [r["p_met_hi"] - r["p_met"]]],
                            fmt="o", ms=5, color=color, capsize=2, label=_short(str(r["label"])))
            ax.set_title(f"{tid} {year}: {target_name(lang, tid)}", fontsize=8)
            ax.set_ylim(-0.03, 1.03)
            ax.grid(True, color="0.9", lw=0.6)
        for ax in axes.flat[len(tids):]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel(text(lang, "p_met"))
        fig.supxlabel(text(lang, "cost_x"), fontsize=8)
        fig.suptitle(text(lang, "cost_title"), fontsize=10)
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower right", frameon=False, fontsize=7)
        fig.tight_layout()
    return fig


def calibration_fit_chart(moments: pd.DataFrame, *, lang: str = "en") -> plt.Figure:
    """Observed against simulated statistics of a calibration run, each in its standard error: the
    row's total sd where the run has one (a replay calibration: measurement and the model's own
    spread), else the observed value's (moments.csv of calibration/runs/<name>/: moment, observed,
    observed_se, [total_sd,] simulated_mean, simulated_sd, weight_share)."""
    plt = _plt()
    m = moments.reset_index(drop=True)
    se = (m["total_sd"] if "total_sd" in m else m["observed_se"]).to_numpy(float)
    z_sim = (m["simulated_mean"].to_numpy(float) - m["observed"].to_numpy(float)) / se
    z_sd = m["simulated_sd"].to_numpy(float) / se
    y = np.arange(len(m))[::-1]
    with style(lang):
        fig, ax = plt.subplots(figsize=(7.0, 0.45 * len(m) + 1.4), dpi=150)
        ax.errorbar(np.zeros(len(m)), y + 0.12, xerr=2, fmt="s", ms=4, color=PALETTE["black"], capsize=2,
                    label=text(lang, "fit_observed"))
        ax.errorbar(z_sim, y - 0.12, xerr=2 * z_sd, fmt="o", ms=4, color=PALETTE["blue"], capsize=2,
                    label=text(lang, "fit_simulated"))
        ax.set_yticks(y, [f"{n} ({w:.0%})" for n, w in zip(m["moment"], m["weight_share"])])
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_xlabel(text(lang, "fit_x"))
        ax.set_title(text(lang, "fit_title"))
        ax.grid(True, axis="x", color="0.9", lw=0.6)
        ax.legend(loc="lower right", frameon=False)
        fig.tight_layout()
    return fig


def backtest_error_chart(scores: pd.DataFrame, *, lang: str = "en") -> plt.Figure:
    """RMSE of the model and of each statistical forecaster, relative to the random walk with drift,
    per indicator (backtest.csv of a calibration run: indicator, method, rmse)."""
    plt = _plt()
    piv = scores.pivot_table(index="indicator", columns="method", values="rmse")
    if "random_walk_drift" in piv:
        piv = piv.div(piv["random_walk_drift"], axis=0)
    methods = list(piv.columns)
    width = 0.8 / max(1, len(methods))
    with style(lang):
        fig, ax = plt.subplots(figsize=(max(6.5, 1.1 * len(piv) + 2), 3.8), dpi=150)
        for k, method in enumerate(methods):
            ax.bar(np.arange(len(piv)) - 0.4 + width * (k + 0.5), piv[method], width=width,
                   color=JOB_COLORS[k % len(JOB_COLORS)], label=method)
        ax.axhline(1, color="0.4", lw=0.8, ls="--")
        ax.set_xticks(range(len(piv)), [_short(i, 24) for i in piv.index], rotation=20, ha="right")
        ax.set_ylabel(text(lang, "backtest_y"))
        ax.set_title(text(lang, "backtest_title"))
        ax.grid(True, axis="y", color="0.9", lw=0.6)
        ax.legend(frameon=False)
        fig.tight_layout()
    return fig


# Observed points drawn on each target's fan chart: (indicator in the data, label, multiplier).
HISTORY = {
    "T1": [],  # no year of T1 exists in any source (data README)
    "T2": [("sei_va_share_above_scale_industry_pct", "observed (2016: older SEI catalogue, a series break)", 1.0)],
    "T3": [("digital_core_va_share_gdp_pct", "observed", 1.0)],
    "T4": [("national_adv_mfg_clusters_cumulative", "observed", 1.0)],
    "T5": [("future_industry_pilot_zones_batch1_count", "observed (first batch only)", 1.0)],
    "T6": [],  # no future-industry statistics exist yet (the seed asks for them, art. 6)
}


def target_fan(traj: pd.DataFrame, history: pd.DataFrame, target_id: str, by_year: dict, base_year: int,
               lang: str = "en", *, scenario: str | None = None, label: str | None = None) -> plt.Figure:
    """The fan chart of one target from a run's trajectories and summary.

    traj: trajectories.parquet (replicate, year, indicator, value); history: the indicator table
    (indicator, year, value); by_year: summary.json targets[target_id] (year -> indicator,
    threshold, unit, threshold_source). scenario (summary.json scenario.slug) and, for a sweep job,
    label (what the job changed) are named under the title."""
    from simmodel.indicators import INDICATORS

    subtitle = scenario_subtitle(lang, scenario, label) or None
    first = next(iter(by_year.values()))
    indicator = first["indicator"]
    vals = traj[traj["indicator"] == indicator]
    if target_id == "T6":
        vals = vals[vals["year"] > base_year]  # growth since the base year is undefined in it
    hist = history_points(history, HISTORY.get(target_id, []))
    if target_id == "T3":
        hist = pd.concat([hist, derived_share(history, "digital_core_va_cny_100m", "gdp_cny_100m",
                                              "derived (digital-core VA / GDP)")], ignore_index=True)
        hist = hist.drop_duplicates("year", keep="first")
    unit_, _, name = INDICATORS[indicator]
    title = name if lang == "en" else f"{target_id} {target_name(lang, target_id)}"
    lines = [{"year": int(y), "threshold": t["threshold"], "assumption": t["threshold_source"] != "seed"}
             for y, t in by_year.items()]
    return fan_chart(vals, title=title, unit=unit(lang, unit_), history=hist, targets=lines, base_year=base_year,
                     lang=lang, subtitle=subtitle)


def sensitivity_bars(table: pd.DataFrame, method: str, output: str, *, top: int = 15, lang: str = "en") -> plt.Figure:
    """Horizontal bars of the largest Morris mu* (with its 95 % half-width) or Sobol total and
    first-order indices for one output (rows of simmodel.analysis indices.parquet)."""
    plt = _plt()
    metric, conf = ("mu_star", "mu_star_conf") if method == "morris" else ("ST", "ST_conf")
    t = table.sort_values(metric, ascending=False).head(top).iloc[::-1]
    with style(lang):
        fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(t) + 1.3), dpi=150)
        y = np.arange(len(t))
        ax.barh(y, t[metric], xerr=t[conf], color=PALETTE["blue"], ecolor="0.3", capsize=2,
                label="mu*" if method == "morris" else "total (ST)")
        if method == "sobol":
            ax.barh(y, t["S1"], height=0.4, color=PALETTE["orange"], label="first order (S1)")
        ax.set_yticks(y, t["factor"])
        ax.set_xlabel("mu*: mean |elementary effect| (output unit)" if method == "morris" else "Sobol index")
        ax.set_title(output)
        ax.grid(True, axis="x", color="0.9", lw=0.6)
        ax.legend(frameon=False, loc="lower right")
        fig.tight_layout()
    return fig


def peeling_trajectory(trajectory: pd.DataFrame, chosen: int | None = None, *, lang: str = "en") -> plt.Figure:
    """PRIM's peeling trajectory: coverage against density per box, coloured by the number of
    restricted dimensions, the chosen box circled."""
    plt = _plt()
    with style(lang):
        fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=150)
        sc = ax.scatter(trajectory["coverage"], trajectory["density"], c=trajectory["res_dim"], cmap="viridis", s=18)
        if chosen is not None and chosen in trajectory.index:
            r = trajectory.loc[chosen]
            ax.scatter([r["coverage"]], [r["density"]], s=120, facecolors="none", edgecolors=PALETTE["vermillion"], lw=2)
        fig.colorbar(sc, ax=ax, label="restricted dimensions")
        ax.set_xlabel("coverage")
        ax.set_ylabel("density")
        ax.set_xlim(0, 1.02)
        ax.set_ylim(0, 1.02)
        ax.set_title("PRIM peeling trajectory")
        ax.grid(True, color="0.9", lw=0.6)
        fig.tight_layout()
    return fig


__all__ = ["save_figures", "PendingFigures", "fan_chart_jobs", "scenario_subtitle", "sensitivity_bars", "peeling_trajectory", "frontier_chart", "target_fan", "HISTORY", "backtest_error_chart", "calibration_fit_chart", "comparison_chart", "cost_probability_chart",
           "probability_chart", "style", "fan_chart", "save", "history_points", "derived_share", "PALETTE", "np"]


def frontier_chart(evaluations: pd.DataFrame, frontier: np.ndarray, best: int | None, p_level: float, *,
                   target: str, lang: str = "en") -> plt.Figure:
    """Target inversion: every package evaluated (fiscal cost in CNY 100 m against P(met)), the
    cost-probability frontier, the probability asked for, the baseline (first point) and the
    least-cost package reaching it."""
    plt = _plt()
    ev = evaluations
    with style(lang):
        fig, ax = plt.subplots(figsize=(6.0, 4.2), dpi=150)
        search = ev["stage"] == "search"
        ax.scatter(ev.loc[search, "fiscal_cost_cny_100m"], ev.loc[search, "p_met"], s=10, color="0.7", label="search")
        ax.scatter(ev.loc[~search, "fiscal_cost_cny_100m"], ev.loc[~search, "p_met"], s=10, color=PALETTE["sky"],
                   label="polish")
        f = ev.iloc[frontier]
        ax.step(f["fiscal_cost_cny_100m"], f["p_met"], where="post", color=PALETTE["blue"], lw=1.5, label="frontier")
        ax.axhline(p_level, color=PALETTE["vermillion"], ls="--", lw=1, label=f"P(met) = {p_level:g}")
        ax.scatter([ev["fiscal_cost_cny_100m"].iloc[0]], [ev["p_met"].iloc[0]], marker="s", s=40, color="k",
                   label="baseline", zorder=3)
        if best is not None:
            ax.scatter([ev["fiscal_cost_cny_100m"].iloc[best]], [ev["p_met"].iloc[best]], marker="*", s=160,
                       color=PALETTE["orange"], edgecolors="k", label="least-cost package", zorder=4)
        ax.set_xlabel("fiscal cost 2025-2030 (CNY 100 m)")
        ax.set_ylabel(f"P({target} met)")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(loc="lower right")
        ax.set_title(f"Cost-probability frontier: {target}")
    return fig
