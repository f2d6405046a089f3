"""Calibration runs as artefacts: calibration/runs/<name>/ with parameters, estimates, covariance,
moments, fit statistics, convergence trace, report, figures and a manifest (written last)."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from simmodel.calibration.moments import Bound, Moment
from simmodel.errors import ConfigError, DataError
from simmodel.params import PARAM_COLUMNS, ParamInfo, load_param_table
from simmodel.report import plots
from simmodel.results import ResultsError, RunWriter, read_manifest, write_json

if TYPE_CHECKING:  # the fit module imports scipy.optimize and scipy.stats (0.45 s); a run needs neither
    from simmodel.calibration.fit import FitResult

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


def is_path(name: str) -> bool:
    """Whether a run given on the command line is a folder path rather than a name under the runs root."""
    return "/" in name or "\\" in name or name.startswith(("~", "."))


def find_run(root: Path, name: str, paths: bool = False) -> Path:
    """The folder of a calibration run: a name under root; with paths=True also the path to a run
    folder anywhere (given with a '/', or a name not under root that is a folder here)."""
    if paths and is_path(name):
        return Path(name).expanduser()
    path = run_dir(root, name)
    if paths and not path.exists() and Path(name).is_dir():
        return Path(name)
    return path


def load_run(root: Path, name: str, *, task: str = "run") -> CalibrationRun:
    """Open a complete calibration run, verifying the checksums its manifest lists. ``task`` says
    who asks, for the hints: ``run`` (calibration=NAME or prior) takes a name under root;
    ``compare`` (runs=[...]) also a path to a run folder."""
    compare = task == "compare"
    path = find_run(root, name, paths=compare)
    if not (path / "manifest.json").is_file():
        available = ", ".join(available_runs(root)) or "none"
        if compare:
            raise ConfigError(f"calibration run {name!r}: no complete run at {path.absolute()} (no manifest.json); "
                              f"simmodel compare takes run names under {root} (available: {available}) or paths to "
                              f"calibration run folders, which simmodel calibrate writes (runs=[replay,/path/to/run])")
        raise ConfigError(f"calibration run {name!r} not found or incomplete in {root} (no manifest.json); "
                          f"available: {available}; or calibration=prior for the priors")
    try:
        manifest = read_manifest(path, RUN_FILES)
    except ResultsError as exc:
        raise ResultsError(f"calibration run {name}: {exc}") from None
    try:  # a run made by a version of simmodel with other behavioural parameters
        load_param_table(path / "parameters.csv")
    except DataError as exc:
        made_by = manifest.get("code", {})
        again = f"simmodel calibrate name={path.name} overwrite=true" + (f" runs_root={path.parent}" if compare else "")
        raise ResultsError(
            f"calibration run {name} does not fit this version of simmodel ({exc}); it was made by simmodel "
            f"{made_by.get('simmodel', '?')} at commit {made_by.get('git_commit', '?')}: re-run "
            f"`{again}`" + ("" if compare else ", or use calibration=prior")) from None
    bt = path / "backtest.csv"
    return CalibrationRun(
        name=path.name if compare and is_path(name) else name, path=path, parameters_csv=path / "parameters.csv",
        estimates=pd.read_csv(path / "estimates.csv"), covariance=pd.read_csv(path / "covariance.csv", index_col=0),
        fit=json.loads((path / "fit.json").read_text(encoding="utf-8")), moments=pd.read_csv(path / "moments.csv"),
        manifest=manifest, backtest=pd.read_csv(bt) if bt.is_file() else None)


def weight_shares(moments: list[Moment], jacobian: np.ndarray, sd: dict[str, float] | None = None) -> dict[str, float]:
    """How much each row weighs in the estimates: its share of the information G'WG carries about
    each parameter (G_ij^2 / s_i^2 over the column's sum, s_i the row's total sd, else its
    measurement se), averaged over the parameters. Unit-free, and zero for a row no parameter moves."""
    se = np.array([(sd or {}).get(m.name, m.se) for m in moments])
    info = (jacobian / se[:, None]) ** 2
    col = info.sum(axis=0)
    share = np.where(col > 0, info / np.where(col > 0, col, 1.0), 0.0).mean(axis=1)
    return {m.name: float(s) for m, s in zip(moments, share)}


def series_weights(moments: list[Moment], jacobian: np.ndarray, sd: dict[str, float] | None = None) -> dict[str, float]:
    """Weight share by data series (a row's share split evenly over the series it uses)."""
    ws = weight_shares(moments, jacobian, sd)
    out: dict[str, float] = {}
    for m in moments:
        for s in m.series:
            out[s] = out.get(s, 0.0) + ws[m.name] / len(m.series)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def write_run(path: Path, name: str, result: FitResult, moments: list[Moment], bounds: list[Bound], notes: list[str],
              table: dict[str, ParamInfo], history: pd.DataFrame, manifest: dict, *, cutoff: int | None,
              gap: pd.DataFrame | None = None) -> Path:
    """Write the run folder (atomically, manifest last). ``gap``: the calibrated replay beside a later
    base-year table (simmodel.replay), written as replay_gap.csv and a section of the report."""
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
            "name": result.names, "prior": result.prior, "prior_sd": result.prior_sd, "estimate": result.estimate,
            "se": result.se, "ci95_low": result.ci_low, "ci95_high": result.ci_high, "low": result.low, "high": result.high,
            "identified": result.moved.astype(int),
            "note": ["; ".join(x.split(": ", 1)[1] for x in warn_of[n]) for n in result.names],
        }).to_csv(writer.path("estimates.csv"), index=False)
        pd.DataFrame(result.cov, index=result.names, columns=result.names).to_csv(writer.path("covariance.csv"))
        ws = weight_shares(moments, result.jacobian, result.total_sd)
        pd.DataFrame([{
            "moment": m.name, "unit": m.unit, "observed": m.value, "observed_se": m.se, "total_sd": result.total_sd[m.name],
            "weight_share": ws[m.name], "simulated_mean": result.sim_mean[m.name], "simulated_sd": result.sim_sd[m.name],
            "t_stat": result.residuals[m.name], "series": " ".join(m.series), "model": m.model,
            "years": " ".join(map(str, m.years)), "n_obs": m.n_obs, "method": m.method} for m in moments],
            columns=["moment", "unit", "observed", "observed_se", "total_sd", "weight_share", "simulated_mean", "simulated_sd",
                     "t_stat", "series", "model", "years", "n_obs", "method"]
        ).to_csv(writer.path("moments.csv"), index=False)
        pd.DataFrame([{"moment": b.name, "lower_bound": b.value, "simulated_mean": result.sim_mean[b.name],
                       "satisfied": int(result.sim_mean[b.name] >= b.value), "source": b.note} for b in bounds],
                     columns=["moment", "lower_bound", "simulated_mean", "satisfied", "source"]).to_csv(writer.path("bounds.csv"), index=False)
        pd.DataFrame([{"evaluation": e, "loss": l, **dict(zip(result.names, x))} for e, l, x in result.trace]).to_csv(
            writer.path("trace.csv"), index=False)
        fit = {"loss": result.loss, "j_stat": result.j_stat, "j_df": result.j_df, "j_pvalue": result.j_pvalue,
               "p_eff": result.p_eff, "method": "penalised indirect inference on the replayed history (least_squares, trf)",
               "base_year": int(result.sim_years[0]) if len(result.sim_years) else None,
               "not_moved": [n for n, mv in zip(result.names, result.moved) if not mv],
               "n_evaluations": result.n_evaluations, "converged": result.converged, "optimizer_message": result.message,
               "seconds": result.seconds, "n_moments": len(moments), "n_parameters": len(result.names),
               "cutoff": cutoff, "warnings": result.warnings, "series_weight_share": series_weights(moments, result.jacobian, result.total_sd)}
        write_json(writer.path("fit.json"), fit)
        (writer.tmp / "figures").mkdir()
        _figures(writer, result, moments, history)
        report = report_markdown(name, result, moments, bounds, notes, fit)
        if gap is not None and not gap.empty:
            from simmodel.replay import gap_lines

            gap.to_csv(writer.path("replay_gap.csv"), index=False)
            report += "\n" + "\n".join(gap_lines(gap)) + "\n"
        writer.path("report.md").write_text(report, encoding="utf-8")
        return writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise


def _figures(writer: RunWriter, result: FitResult, moments: list[Moment], history: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 0.8 + 0.3 * max(len(moments), 1)), dpi=150)
    y = np.arange(len(moments))[::-1]
    t = np.array([result.residuals[m.name] for m in moments])
    colors = [plots.PALETTE["vermillion"] if abs(v) > 2 else plots.PALETTE["blue"] for v in t]
    ax.barh(y, t, color=colors, height=0.6)
    for v in (-2.0, 2.0):
        ax.axvline(v, color="0.6", lw=0.8, ls="--")
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.set_yticks(y, [m.name for m in moments], fontsize=6)
    ax.set_xlabel("simulated minus observed, in the row's total sd (measurement and the model's own spread)")
    ax.set_title("The replay against each observed row at the estimate (beyond +/-2: not followed)", fontsize=9)
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
              ("little_giant_national_cumulative_count", "n_little_giant", "little giants", "count"),
              ("single_champion_cumulative_count", "n_single_champion", "single champions", "count"),
              ("national_adv_mfg_clusters_cumulative", "t4_national_clusters", "national clusters (T4)", "count"),
              ("rd_intensity_pct", "rd_intensity_pct", "R&D intensity", "% of GDP"))
    for data_name, sim_name, label, unit in series:
        h = history[(history["indicator"] == data_name)]
        paths = result.sim_paths.get(sim_name)
        if paths is None:
            continue
        vals = pd.DataFrame([(r, int(yr), float(v)) for r, row in enumerate(paths) for yr, v in zip(result.sim_years, row)],
                            columns=["replicate", "year", "value"])
        hist = pd.DataFrame({"year": h["year"], "value": h["value"], "label": "observed"})
        fig = plots.fan_chart(vals, title=f"{label}: history and the calibrated replay under the policy of the time", unit=unit,
                              history=hist, base_year=int(result.sim_years[0]))
        plots.save(fig, writer.path(f"figures/fit_{data_name}.png"))


def report_markdown(name: str, r: FitResult, moments: list[Moment], bounds: list[Bound], notes: list[str], fit: dict) -> str:
    from simmodel.calibration.fit import NOT_MOVED_RATIO, cannot_follow

    ws = weight_shares(moments, r.jacobian, r.total_sd)
    base = fit.get("base_year")
    years = f"{base + 1}-{int(r.sim_years[-1])}" if base is not None and len(r.sim_years) else "?"
    lines = [f"# Calibration run `{name}`", ""]
    lines += ["## Verdict", ""]
    lines.append(f"- The model was synthesised for {base} and replayed {years} under the policy of the time; "
                 f"{len(moments)} observed rows of those years and {len(bounds)} bound(s) were compared with the simulated paths.")
    if r.j_df > 0.5 and np.isfinite(r.j_pvalue):
        verdict = "the model is rejected at 5 %" if r.j_pvalue < 0.05 else "not rejected at 5 %"
        lines.append(f"- J = {r.j_stat:.2f} on {r.j_df:.1f} degrees of freedom ({len(moments)} rows less {r.p_eff:.1f} "
                     f"effective parameters), p = {r.j_pvalue:.3f}: {verdict}.")
    else:
        lines.append(f"- J = {r.j_stat:.2f}: no overidentification test ({len(moments)} rows, {r.p_eff:.1f} effective parameters).")
    missed = cannot_follow(r, moments)
    if missed:
        lines.append("- Rows the model cannot follow (beyond 2 total sd), and why as far as the fit can tell:")
        lines += [f"  - {m.name}: the replay is {'above' if t > 0 else 'below'} by {abs(t):.1f} sd; {why}." for m, t, why in missed]
    else:
        lines.append("- Every row lies within 2 total sd of the replay.")
    lines.append(f"- Optimiser: scipy least_squares (trust region), {r.n_evaluations} model evaluations of {len(r.names)} "
                 f"parameters; {'stopped on its tolerance' if r.converged else 'stopped on its budget, not its tolerance'} "
                 f"({r.message}); {r.seconds:.0f} s.")
    not_moved = [n for n, mv in zip(r.names, r.moved) if not mv]
    if not_moved:
        lines.append(f"- Not moved by the data (posterior sd above {NOT_MOVED_RATIO:g} of the prior's): "
                     + ", ".join(f"`{n}`" for n in not_moved) + ". They stay at their prior.")
    for w in r.warnings:
        if "not moved by the data" not in w:
            lines.append(f"- Warning: {w}")
    lines += ["", "## Parameters: prior and posterior", "",
              "Posterior: Laplace approximation at the estimate, on the logit scale of the plausible range (intervals stay inside it).", "",
              "| parameter | prior | prior sd | estimate | posterior sd | 95 % interval | plausible range | moved by the data |",
              "|---|---|---|---|---|---|---|---|"]
    for j, n in enumerate(r.names):
        lines.append(f"| `{n}` | {r.prior[j]:.4g} | {r.prior_sd[j]:.3g} | {r.estimate[j]:.4g} | {r.se[j]:.3g} | "
                     f"[{r.ci_low[j]:.4g}, {r.ci_high[j]:.4g}] | [{r.low[j]:g}, {r.high[j]:g}] | {'yes' if r.moved[j] else 'no'} |")
    lines += ["", "## Fit, row by row", "",
              "Residual: simulated mean minus observed, in the row's total sd (its measurement sd and the model's spread across replicates).", "",
              "| row | observed | measurement sd | simulated (sd) | residual | weight in the estimates | how |", "|---|---|---|---|---|---|---|"]
    for m in moments:
        lines.append(f"| {m.name} ({m.unit}) | {m.value:.4f} | {m.se:.4f} | {r.sim_mean[m.name]:.4f} ({r.sim_sd[m.name]:.4f}) | "
                     f"{r.residuals[m.name]:+.2f} | {100 * ws[m.name]:.0f} % | {m.method} |")
    if bounds:
        lines += ["", "Bounds (lower-bound rows of years without an exact level):", ""]
        for b in bounds:
            ok = r.sim_mean[b.name] >= b.value
            lines.append(f"- {b.name} >= {b.value:.4f}: simulated {r.sim_mean[b.name]:.4f} ({'satisfied' if ok else 'violated'}); {b.note}")
    lines += ["", "## Which series carried how much weight", "",
              "| series | weight |", "|---|---|"]
    for s, w in fit["series_weight_share"].items():
        lines.append(f"| {s} | {100 * w:.1f} % |")
    lines += ["", "## How the data were treated", "",
              "- Every full-year row of a replayed year is compared with the simulated value of the same year: levels in logs, shares in pp, counts as counts.",
              "- After a series break (GDP 2023, the 5th economic census) a level enters as its change since the first row on the new basis.",
              "- Growth enters where only growth exists: the SEI growth premium over above-size industry (both at comparable prices).",
              "- Partial-year shares and growth premia enter at the partial-year weight; partial-year levels never.",
              "- Lower-bound rows are inequalities where no exact level of the year exists.",
              "- Rows are weighted by grade (A/B/C, calibration/data/grades.csv or a tag in the row's note); measurement sds: simmodel/calibration/moments.py OBSERVATION_SD.",
              "- Before 2025 the levers are those of the time (scenarios/history.yaml); from 2025 the no_new_policy values (the draft is not yet in force in any observed year)."]
    for n in notes:
        lines.append(f"- Left out: {n}")
    lines += ["", "## Figures", "", "- `figures/moments.png`: each row's residual at the estimate.",
              "- `figures/trace.png`: the loss at every evaluation.",
              "- `figures/fit_*.png`: each series' history and the calibrated replay.", ""]
    return "\n".join(lines)
