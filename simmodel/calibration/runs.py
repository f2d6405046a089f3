"""Calibration runs as artefacts: calibration/runs/<name>/ with parameters, estimates, covariance,
moments, fit statistics, convergence trace, report, figures and a manifest (written last)."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.calibration.fit import FitResult
from simmodel.calibration.moments import Bound, Moment
from simmodel.errors import ConfigError, DataError
from simmodel.params import PARAM_COLUMNS, ParamInfo, load_param_table
from simmodel.report import plots
from simmodel.results import ResultsError, RunWriter, read_manifest, write_json

# what load_run reads; a manifest that does not list them is not a calibration run's
RUN_FILES = ("parameters.csv", "estimates.csv", "covariance.csv", "fit.json", "moments.csv")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def check_name(name: str) -> str:
    if not NAME.match(name) or ".." in name:
        raise ConfigError(f"calibration run name {name!r} is not allowed: letters, digits, '_', '-', '.', at most 64 characters")
    return name


def run_dir(root: Path, name: str) -> Path:
    return Path(root) / check_name(name)


def available_runs(root: Path) -> list[str]:
    root = Path(root)
    return sorted(p.name for p in root.iterdir() if (p / "manifest.json").is_file()) if root.is_dir() else []


@dataclass
class CalibrationRun:
    name: str
    path: Path
    parameters_csv: Path
    estimates: pd.DataFrame
    covariance: pd.DataFrame
    fit: dict
    moments: pd.DataFrame
    manifest: dict
    backtest: pd.DataFrame | None


def load_run(root: Path, name: str) -> CalibrationRun:
    """Open a complete calibration run, verifying the checksums its manifest lists."""
    path = run_dir(root, name)
    if not (path / "manifest.json").is_file():
        raise ConfigError(f"calibration run {name!r} not found or incomplete in {root} (no manifest.json); "
                          f"available: {', '.join(available_runs(root)) or 'none'}; or calibration=prior for the priors")
    try:
        manifest = read_manifest(path, RUN_FILES)
    except ResultsError as exc:
        raise ResultsError(f"calibration run {name}: {exc}") from None
    try:  # a run made by a version of simmodel with other behavioural parameters
        load_param_table(path / "parameters.csv")
    except DataError as exc:
        made_by = manifest.get("code", {})
        raise ResultsError(
            f"calibration run {name} does not fit this version of simmodel ({exc}); it was made by simmodel "
            f"{made_by.get('simmodel', '?')} at commit {made_by.get('git_commit', '?')}: re-run "
            f"`simmodel calibrate name={name} overwrite=true`, or use calibration=prior") from None
    bt = path / "backtest.csv"
    return CalibrationRun(
        name=name, path=path, parameters_csv=path / "parameters.csv",
        estimates=pd.read_csv(path / "estimates.csv"), covariance=pd.read_csv(path / "covariance.csv", index_col=0),
        fit=json.loads((path / "fit.json").read_text(encoding="utf-8")), moments=pd.read_csv(path / "moments.csv"),
        manifest=manifest, backtest=pd.read_csv(bt) if bt.is_file() else None)


def weight_shares(moments: list[Moment], jacobian: np.ndarray) -> dict[str, float]:
    """How much each moment weighs in the estimates: its share of the information G'WG carries about
    each parameter (G_ij^2 / se_i^2 over the column's sum), averaged over the parameters. Unit-free,
    unlike a share of 1/se^2, and zero for a moment no parameter moves."""
    se = np.array([m.se for m in moments])
    info = (jacobian / se[:, None]) ** 2
    col = info.sum(axis=0)
    share = np.where(col > 0, info / np.where(col > 0, col, 1.0), 0.0).mean(axis=1)
    return {m.name: float(s) for m, s in zip(moments, share)}


def series_weights(moments: list[Moment], jacobian: np.ndarray) -> dict[str, float]:
    """Weight share by data series (a moment's share split evenly over the series it uses)."""
    ws = weight_shares(moments, jacobian)
    out: dict[str, float] = {}
    for m in moments:
        for s in m.series:
            out[s] = out.get(s, 0.0) + ws[m.name] / len(m.series)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def write_run(path: Path, name: str, result: FitResult, moments: list[Moment], bounds: list[Bound], notes: list[str],
              table: dict[str, ParamInfo], history: pd.DataFrame, manifest: dict, *, cutoff: int | None) -> Path:
    writer = RunWriter(path)
    try:
        est = dict(zip(result.names, result.estimate))
        se = dict(zip(result.names, result.se))
        with open(writer.path("parameters.csv"), "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(PARAM_COLUMNS)
            for p in table.values():
                if p.name in est:
                    src = (f"calibration run {name}: estimate {est[p.name]:.6g} (s.e. {se[p.name]:.3g}), prior {p.value:g}. "
                           f"Prior source: {p.source}")
                    w.writerow([p.name, f"{est[p.name]:.10g}", p.low, p.high, p.distribution, p.unit, "calibrated", src])
                else:
                    w.writerow([p.name, p.value, p.low, p.high, p.distribution, p.unit, p.kind, p.source])
        warn_of = {n: [x for x in result.warnings if x.startswith(n + ":")] for n in result.names}
        pd.DataFrame({
            "name": result.names, "prior": result.prior, "estimate": result.estimate, "se": result.se,
            "ci95_low": np.maximum(result.estimate - 1.96 * result.se, result.low),
            "ci95_high": np.minimum(result.estimate + 1.96 * result.se, result.high),
            "low": result.low, "high": result.high,
            "identified": [int(not any("weakly" in x for x in warn_of[n])) for n in result.names],
            "note": ["; ".join(x.split(": ", 1)[1] for x in warn_of[n]) for n in result.names],
        }).to_csv(writer.path("estimates.csv"), index=False)
        pd.DataFrame(result.cov, index=result.names, columns=result.names).to_csv(writer.path("covariance.csv"))
        ws = weight_shares(moments, result.jacobian)
        pd.DataFrame([{
            "moment": m.name, "unit": m.unit, "observed": m.value, "observed_se": m.se, "weight_share": ws[m.name],
            "simulated_mean": result.sim_mean[m.name], "simulated_sd": result.sim_sd[m.name],
            "t_stat": (result.sim_mean[m.name] - m.value) / m.se, "series": " ".join(m.series),
            "years": " ".join(map(str, m.years)), "n_obs": m.n_obs, "method": m.method} for m in moments]
        ).to_csv(writer.path("moments.csv"), index=False)
        pd.DataFrame([{"moment": b.name, "lower_bound": b.value, "simulated_mean": result.sim_mean[b.name],
                       "satisfied": int(result.sim_mean[b.name] >= b.value), "source": b.note} for b in bounds],
                     columns=["moment", "lower_bound", "simulated_mean", "satisfied", "source"]).to_csv(writer.path("bounds.csv"), index=False)
        pd.DataFrame([{"evaluation": e, "loss": l, **dict(zip(result.names, x))} for e, l, x in result.trace]).to_csv(
            writer.path("trace.csv"), index=False)
        fit = {"loss": result.loss, "j_stat": result.j_stat, "j_df": result.j_df, "j_pvalue": result.j_pvalue,
               "n_evaluations": result.n_evaluations, "converged": result.converged, "optimizer_message": result.message,
               "seconds": result.seconds, "n_moments": len(moments), "n_parameters": len(result.names),
               "cutoff": cutoff, "warnings": result.warnings, "series_weight_share": series_weights(moments, result.jacobian)}
        write_json(writer.path("fit.json"), fit)
        (writer.tmp / "figures").mkdir()
        _figures(writer, result, moments, history)
        writer.path("report.md").write_text(report_markdown(name, result, moments, bounds, notes, fit), encoding="utf-8")
        return writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise


def _figures(writer: RunWriter, result: FitResult, moments: list[Moment], history: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 0.5 + 0.55 * len(moments)), dpi=150)
    y = np.arange(len(moments))[::-1]
    obs = np.array([m.value for m in moments])
    se = np.array([m.se for m in moments])
    sim = np.array([result.sim_mean[m.name] for m in moments])
    sd = np.array([result.sim_sd[m.name] for m in moments])
    scale = np.where(np.abs(obs) > 0, np.abs(obs), 1.0)  # each moment relative to its observed size
    ax.errorbar(obs / scale, y + 0.12, xerr=1.96 * se / scale, fmt="o", color=plots.PALETTE["black"], label="observed, 95 % CI")
    ax.errorbar(sim / scale, y - 0.12, xerr=1.96 * sd / scale, fmt="s", color=plots.PALETTE["blue"], label="simulated, 95 % band")
    ax.set_yticks(y, [f"{m.name} ({m.value:.3g} {m.unit})" for m in moments], fontsize=7)
    ax.axvline(1.0, color="0.7", lw=0.8)
    ax.set_xlabel("relative to the observed value")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Auxiliary statistics: observed vs simulated at the estimate", fontsize=10)
    fig.tight_layout()
    plots.save(fig, writer.path("figures/moments.png"))

    fig, ax = plt.subplots(figsize=(6.0, 3.2), dpi=150)
    ev = [t[0] for t in result.trace]
    ls = [t[1] for t in result.trace]
    ax.plot(ev, ls, ".", color=plots.PALETTE["blue"], ms=3)
    ax.plot(ev, np.minimum.accumulate(ls), "-", color=plots.PALETTE["vermillion"], lw=1.5, label="best so far")
    ax.set_yscale("log")
    ax.set_xlabel("model evaluation")
    ax.set_ylabel("loss")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title("Convergence", fontsize=10)
    fig.tight_layout()
    plots.save(fig, writer.path("figures/trace.png"))

    series = (("gdp_cny_100m", "gdp_cny_100m", "GDP", "CNY 100m"),
              ("digital_core_va_cny_100m", "digital_core_va_cny_100m", "digital-core VA", "CNY 100m"),
              ("digital_core_va_share_gdp_pct", "t3_digital_core_share_gdp_pct", "T3 digital-core share of GDP", "%"),
              ("high_tech_enterprises_count", "n_high_tech", "high-tech enterprises", "count"),
              ("rd_intensity_pct", "rd_intensity_pct", "R&D intensity", "% of GDP"))
    for data_name, sim_name, label, unit in series:
        h = history[(history["indicator"] == data_name)]
        paths = result.sim_paths.get(sim_name)
        if paths is None:
            continue
        vals = pd.DataFrame([(r, int(yr), float(v)) for r, row in enumerate(paths) for yr, v in zip(result.sim_years, row)],
                            columns=["replicate", "year", "value"])
        hist = pd.DataFrame({"year": h["year"], "value": h["value"], "label": "observed"})
        fig = plots.fan_chart(vals, title=f"{label}: history and the calibrated model under pre-2025 policy", unit=unit,
                              history=hist, base_year=int(result.sim_years[0]))
        plots.save(fig, writer.path(f"figures/fit_{data_name}.png"))


def report_markdown(name: str, r: FitResult, moments: list[Moment], bounds: list[Bound], notes: list[str], fit: dict) -> str:
    ws = weight_shares(moments, r.jacobian)
    lines = [f"# Calibration run `{name}`", ""]
    lines += ["## Verdict", ""]
    lines.append(f"- Loss {r.loss:.2f} over {len(moments)} moments and {len(r.names)} parameters; "
                 + (f"J = {r.j_stat:.2f} on {r.j_df} degree(s) of freedom, p = {r.j_pvalue:.3f} "
                    f"({'the model is rejected at 5 %' if r.j_pvalue < 0.05 else 'not rejected at 5 %'})."
                    if r.j_df > 0 else "exactly identified: no overidentification test."))
    lines.append(f"- Optimiser (Nelder-Mead): {r.n_evaluations} model evaluations of {fit.get('n_parameters')} parameters, "
                 f"{'converged' if r.converged else 'stopped before its tolerance: ' + r.message}; {r.seconds:.0f} s.")
    for w in r.warnings:
        lines.append(f"- Warning: {w}")
    lines += ["", "## Parameters", "",
              "| parameter | prior | estimate | s.e. | 95 % interval | plausible range | identified |", "|---|---|---|---|---|---|---|"]
    for j, n in enumerate(r.names):
        lo_ci, hi_ci = max(r.estimate[j] - 1.96 * r.se[j], r.low[j]), min(r.estimate[j] + 1.96 * r.se[j], r.high[j])
        weak = any(n + ":" in w and "weakly" in w for w in r.warnings)
        lines.append(f"| `{n}` | {r.prior[j]:.4g} | {r.estimate[j]:.4g} | {r.se[j]:.3g} | [{lo_ci:.4g}, {hi_ci:.4g}] | "
                     f"[{r.low[j]:g}, {r.high[j]:g}] | {'no (weak)' if weak else 'yes'} |")
    lines += ["", "## Fit, moment by moment", "",
              "| moment | observed (s.e.) | simulated (sd) | t | weight in the estimates | series | years | n |", "|---|---|---|---|---|---|---|---|"]
    for m in moments:
        t = (r.sim_mean[m.name] - m.value) / m.se
        lines.append(f"| {m.name} ({m.unit}) | {m.value:.4f} ({m.se:.4f}) | {r.sim_mean[m.name]:.4f} ({r.sim_sd[m.name]:.4f}) | "
                     f"{t:+.2f} | {100 * ws[m.name]:.0f} % | {', '.join(m.series)} | {' '.join(map(str, m.years))} | {m.n_obs} |")
    if bounds:
        lines += ["", "Bounds (one-sided moments, from lower-bound rows):", ""]
        for b in bounds:
            ok = r.sim_mean[b.name] >= b.value
            lines.append(f"- {b.name} >= {b.value:.4f}: simulated {r.sim_mean[b.name]:.4f} ({'satisfied' if ok else 'violated'}); {b.note}")
    lines += ["", "## Which series carried how much weight", "",
              "Share of the information about the parameters (G'WG) each series supplies, averaged over the parameters:", "",
              "| series | weight |", "|---|---|"]
    for s, w in fit["series_weight_share"].items():
        lines.append(f"| {s} | {100 * w:.1f} % |")
    lines += ["", "## How the data were treated", "",
              "- Partial-year rows are never used as annual levels; partial-year growth rates and shares enter at reduced weight.",
              "- Lower-bound rows are inequalities on growth since the last exact level (listed above); a bound in a year with an exact level is ignored.",
              "- Series breaks split a series: no change is measured across a break year.",
              "- Rows are weighted by grade (A/B/C, calibration/data/grades.csv or a tag in the row's note).",
              "- Growth rates in the sources are at comparable prices; the model is nominal. They are compared as they are: an assumption.",
              "- The model runs from the base year under the pre-2025 levers; the statistics of its simulated years stand for those of the",
              "  historical years (stable growth processes), which the J test and the moment t-statistics put to the test."]
    for n in notes:
        lines.append(f"- Left out: {n}")
    lines += ["", "## Figures", "", "- `figures/moments.png`: each statistic, observed vs simulated.",
              "- `figures/trace.png`: the loss at every evaluation.",
              "- `figures/fit_*.png`: each series' history and the calibrated model's projection under pre-2025 policy.", ""]
    return "\n".join(lines)
