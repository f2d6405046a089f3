"""Plain task functions behind the CLI: a typed config in, a results folder out. No Hydra here."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.config import RunConfig, plain, resolve_path
from simmodel.data import file_sha256
from simmodel.errors import ConfigError, DataError
from simmodel.report import plots
from simmodel.results import RunWriter, code_version, new_run_dir, package_versions

# the run task lives in simmodel.run_task (the sweep runs its jobs through it); its names stay here too,
# imported at first use: it imports the model (Mesa and the population: about 0.6 s), which the memo,
# plot and compare tasks do not need
_RUN_TASK_NAMES = ("run", "target_table", "EITHER_WAY_P", "REPLAY_GAP", "assumption_sensitivity", "counterfactual",
                   "counterfactual_config", "decompose", "decomposition_table", "draws_frame", "drivers",
                   "inputs_path_of_base", "progress_bar", "sensitivity_table")
__all__ = ["np", *_RUN_TASK_NAMES]


def __getattr__(name: str):
    if name in _RUN_TASK_NAMES:
        from simmodel import run_task

        return getattr(run_task, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def calibrate(cfg, *, command: str = "", echo=print) -> Path:
    """Estimate the behavioural parameters from the history by indirect inference and write the
    calibration run folder (calibration/runs/<name>/); returns its path."""
    import shutil

    from simmodel.calibration.fit import FitSettings, fit
    from simmodel.calibration.moments import load_grades, path_observations
    from simmodel.calibration.runs import run_dir, write_run
    from simmodel.config import validate_calibrate
    from simmodel.levers import Levers, Uncertainties
    from simmodel.run_task import inputs_path_of_base, progress_bar, warm_before_bar

    validate_calibrate(cfg)
    d = cfg.data
    h = cfg.history
    history, last, table, inputs = replay_inputs(cfg, h.cutoff)
    unknown = [n for n in cfg.estimated if n not in table]
    if unknown:
        raise ConfigError(f"estimated: unknown parameter(s) {', '.join(unknown)}; see {resolve_path(d.parameters)}")
    hcfg = _history_config(h, h.cutoff)
    grades = load_grades(resolve_path(h.grades))
    moments, bounds, notes = path_observations(history, hcfg, grades, inputs.base_year)
    _require_rows(moments, bounds, resolve_path(d.indicators), inputs.base_year, last)
    root = resolve_path(cfg.runs_root)
    final = run_dir(root, cfg.name)
    if final.exists() and not cfg.overwrite:
        raise ConfigError(f"calibration run {cfg.name!r} exists ({final}); choose another name=... or overwrite=true")
    settings = FitSettings(estimated=tuple(cfg.estimated), replicates=cfg.replicates, scale=cfg.population.scale,
                           seed=cfg.seed, max_evaluations=cfg.max_evaluations, workers=cfg.workers, end_year=inputs.end_year,
                           tolerance=cfg.tolerance)
    started = dt.datetime.now(dt.timezone.utc)
    # no total: the optimiser stops when it converges. Such a bar has no truth value (tqdm raises
    # TypeError on `if bar`), hence `is None`
    warm_before_bar(cfg.progress, inputs, Levers(), Uncertainties())
    with progress_bar(cfg.progress, f"calibrate {cfg.name}", "eval") as bar:
        result = fit(inputs, table, moments, bounds, settings,
                     progress=None if bar is None else (lambda n, loss: (bar.update(1), bar.set_postfix(loss=f"{loss:.3g}"))))
    files = {"indicators": d.indicators, "parameters": d.parameters, "sectors": d.sectors, "cities": d.cities,
             "base_year": str(inputs_path_of_base(d, inputs.base_year)), "grades": h.grades, "policy_history": cfg.policy_history}
    manifest = {
        "task": "calibrate", "name": cfg.name, "command": command, "started_utc": started.isoformat(),
        "finished_utc": dt.datetime.now(dt.timezone.utc).isoformat(), "config": plain(cfg),
        "seeds": {"root_seed": cfg.seed, "replicates": cfg.replicates, "scheme": "common random numbers: the same "
                  "SeedSequence(seed).spawn(replicates) at every candidate parameter vector"},
        "data_files": {k: {"path": str(resolve_path(v)), "sha256": file_sha256(resolve_path(v))} for k, v in files.items()},
        "packages": package_versions(), "code": code_version(),
    }
    backup = None
    if final.exists():  # overwrite: keep the old run until the new one is complete
        backup = final.with_name(f".old-{final.name}")
        shutil.rmtree(backup, ignore_errors=True)
        final.rename(backup)
    try:
        from simmodel.data import load_base_year
        from simmodel.replay import replay_gap

        gap = replay_gap(result.sim_paths, result.sim_years, load_base_year(resolve_path(d.base_year)))
        path = write_run(final, cfg.name, result, moments, bounds, notes, table, history, manifest, cutoff=h.cutoff, gap=gap)
    except BaseException:
        if backup is not None and not final.exists():
            backup.rename(final)
        raise
    if backup is not None:
        shutil.rmtree(backup, ignore_errors=True)
    echo((path / "report.md").read_text(encoding="utf-8").split("## Fit, row by row")[0].rstrip())
    echo(f"calibration run: {path}")
    return path


def backtest(cfg, *, command: str = "", echo=print) -> Path:
    """Rolling-origin backtest (see simmodel.calibration.backtest); writes results/backtest/<timestamp>/."""
    from simmodel.calibration import backtest as bt
    from simmodel.calibration.fit import FitSettings, fit
    from simmodel.calibration.moments import load_grades, path_observations
    from simmodel.calibration.runs import run_dir, write_run
    from simmodel.config import CalibrateConfig, validate_calibrate

    cutoffs = [cfg.cutoff] if cfg.cutoff is not None else sorted(set(cfg.cutoffs))
    d = cfg.data
    history, last, table, inputs = replay_inputs(cfg, None)
    bad = [c for c in cutoffs if not inputs.base_year < c < last]
    if bad or not cutoffs:
        raise ConfigError(f"cutoff(s) {bad or cutoffs}: each must lie after the replay's base year {inputs.base_year} "
                          f"and before the last data year {last}, so that some years are held out")
    validate_calibrate(CalibrateConfig(replicates=cfg.replicates, population=cfg.population,
                                       max_evaluations=cfg.max_evaluations, workers=cfg.workers,
                                       estimated=list(cfg.estimated), history=cfg.history, tolerance=cfg.tolerance))
    if cfg.calibration_name is not None:
        target = run_dir(resolve_path(cfg.runs_root), cfg.calibration_name)
        if not (target / "manifest.json").is_file():
            raise ConfigError(f"calibration_name={cfg.calibration_name!r}: no complete run in {target}")
    grades = load_grades(resolve_path(cfg.history.grades))
    h = cfg.history
    final = new_run_dir(Path(cfg.output_root), "backtest", "rolling")
    writer = RunWriter(final)
    try:
        frames = []
        for c in cutoffs:
            moments, bounds, notes = path_observations(history, _history_config(h, c), grades, inputs.base_year)
            _require_rows(moments, bounds, resolve_path(d.indicators), inputs.base_year, c)
            settings = FitSettings(estimated=tuple(cfg.estimated), replicates=cfg.replicates, scale=cfg.population.scale,
                                   seed=cfg.seed,
                                   max_evaluations=cfg.max_evaluations, workers=cfg.workers, end_year=c,
                                   tolerance=cfg.tolerance)
            if cfg.progress:
                echo(f"backtest: calibrating on the replayed years {inputs.base_year + 1}-{c} ({len(moments)} rows, "
                     f"{len(cfg.estimated)} parameters)")
            result = fit(inputs, table, moments, bounds, settings)
            write_run(writer.tmp / f"calibration_{c}", f"backtest cutoff {c}", result, moments, bounds, notes, table,
                      history[history["year"] <= c], {"task": "backtest-calibration", "cutoff": c}, cutoff=c)
            paths, years_sim = _projection_paths(inputs, table, result, cfg, c)
            origin = bt.score_origin(history, c, paths, years_sim, last)
            frames.append(origin.forecasts)
        forecasts = pd.concat(frames, ignore_index=True)
        forecasts.to_csv(writer.path("forecasts.csv"), index=False)
        sc, dm = bt.scores(forecasts)
        sc.to_csv(writer.path("scores.csv"), index=False)
        dm.to_csv(writer.path("diebold_mariano.csv"), index=False)
        (writer.tmp / "figures").mkdir(exist_ok=True)
        for ind in forecasts["indicator"].unique():
            plots.save(bt.figure(forecasts, history, ind), writer.path(f"figures/backtest_{ind}.png"))
        report = backtest_markdown(cutoffs, sc, dm, inputs.base_year)
        writer.path("report.md").write_text(report, encoding="utf-8")
        manifest = {"task": "backtest", "command": command, "cutoffs": cutoffs, "config": plain(cfg),
                    "data_files": {"indicators": {"path": str(resolve_path(d.indicators)), "sha256": file_sha256(resolve_path(d.indicators))}},
                    "packages": package_versions(), "code": code_version()}
        path = writer.commit(manifest)
    except BaseException:
        writer.abort()
        raise
    if cfg.calibration_name is not None:
        tmp = target / ".backtest.csv.tmp"
        sc.to_csv(tmp, index=False)
        tmp.replace(target / "backtest.csv")
    echo(report)
    echo(f"backtest: {path}")
    return path


def _projection_paths(inputs, table, result, cfg, cutoff: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Trajectories from the base year through the last data year under the policy of the time, as a
    run draws them: the origin's estimates from its posterior, every other behavioural parameter and
    sector growth prior and every base-year assumption from its stated range, and the shocks."""
    from simmodel.calibration.backtest import BACKTEST_SERIES
    from simmodel.config import RunConfig
    from simmodel.ensemble import ParameterSampler, UncertaintyDraws, assumption_sampler, behaviour_sampler, run_ensemble
    from simmodel.levers import Levers, Uncertainties, no_new_policy_values

    params = dataclasses.replace(inputs.params, **dict(zip(result.names, map(float, result.estimate))))
    inputs = dataclasses.replace(inputs, params=params)
    sampler = ParameterSampler(tuple(result.names), np.asarray(result.estimate, float), np.asarray(result.cov, float),
                               np.asarray(result.low, float), np.asarray(result.high, float))
    priors = RunConfig(calibration="prior", data=cfg.data)
    draws = UncertaintyDraws(assumptions=assumption_sampler(priors, inputs),
                             behaviour=behaviour_sampler(priors, inputs, tuple(result.names)), estimates=sampler)
    res = run_ensemble(inputs, dataclasses.replace(Levers(), **no_new_policy_values()), Uncertainties(),
                       scale=cfg.population.scale, root_seed=cfg.seed + cutoff, replicates=cfg.forecast_replicates, workers=cfg.workers, draws=draws)
    keys = {sim for _, sim, _ in BACKTEST_SERIES}
    paths = {k: np.array([r.trajectory[k].to_numpy(float) for r in res]) for k in keys}
    return paths, res[0].trajectory.index.to_numpy(int)


def backtest_markdown(cutoffs, sc: pd.DataFrame, dm: pd.DataFrame, base_year: int | None = None) -> str:
    from simmodel.calibration.backtest import scorecard, scorecard_lines

    lines = [f"# Backtest, rolling origin (cutoffs {', '.join(map(str, cutoffs))})", "",
             f"For each cutoff the model is calibrated on the replayed years up to it, then simulated from the base year "
             f"({base_year}) through every later year with data; each held-out row is scored. The model's forecast is its",
             "simulated level (replicates with parameters drawn from the origin's posterior and their own shocks); the others",
             "are plain statsmodels forecasters fitted to the rows up to the cutoff. Errors: log points x 100 for levels, pp for",
             "shares, units for counts. GDP levels from 2023 are on the revised (5th economic census) basis, a break no forecast",
             "made from earlier data can see.", "", "## Scorecard", ""]
    lines += scorecard_lines(scorecard(sc))
    lines += ["", "## Every series and method", "",
              "| indicator | method | n | RMSE | MAE | coverage 80 % | coverage 95 % |", "|---|---|---|---|---|---|---|"]
    for r in sc.itertuples():
        lines.append(f"| {r.indicator} | {r.method} | {r.n} | {r.rmse:.3f} | {r.mae:.3f} | {r.coverage80:.2f} | {r.coverage95:.2f} |")
    lines += ["", "Diebold-Mariano (model vs each forecaster, squared-error loss, HLN small-sample correction):", "",
              "| indicator | versus | n | statistic | p-value | note |", "|---|---|---|---|---|---|"]
    for r in dm.itertuples():
        if r.applicable:
            lines.append(f"| {r.indicator} | {r.versus} | {r.n} | {r.statistic:+.2f} | {r.pvalue:.3f} | |")
        else:
            lines.append(f"| {r.indicator} | {r.versus} | {r.n} | - | - | not applicable: {r.note} |")
    return "\n".join(lines) + "\n"


def compare(cfg, *, command: str = "", echo=print) -> Path:
    """Side by side: parameters with intervals, fit statistics, backtest scores of calibration runs."""
    from simmodel.calibration import compare as cmp
    from simmodel.calibration.runs import load_run

    if len(cfg.runs) < 1:
        raise ConfigError("runs: give at least one calibration run: names under runs_root or run folders, "
                          "e.g. runs=[default,replay] or runs=[replay,/path/to/other]")
    runs = [load_run(resolve_path(cfg.runs_root), str(n), task="compare") for n in cfg.runs]
    names = [r.name for r in runs]
    if len(set(names)) < len(names):  # two folders of the same name: tell them apart by what was given
        for r, given in zip(runs, cfg.runs):
            r.name = str(given)
        names = [r.name for r in runs]
    tables = cmp.comparison_tables(runs)
    md = cmp.markdown(runs, tables)
    slug = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9_.-]+", "_", "-".join(Path(n).name for n in names)))
    slug = slug[:80].strip("._-") or "runs"
    final = new_run_dir(Path(cfg.output_root), "compare", slug)
    writer = RunWriter(final)
    try:
        writer.path("compare.md").write_text(md, encoding="utf-8")
        for k, t in tables.items():
            t.to_csv(writer.path(f"{k}.csv"), index=False)
        plots.save(cmp.overlay_figure(runs), writer.path("parameters_overlay.png"))
        path = writer.commit({"task": "compare", "runs": list(cfg.runs), "run_folders": [str(r.path.absolute()) for r in runs],
                              "command": command, "code": code_version()})
    except BaseException:
        writer.abort()
        raise
    echo(md)
    echo(f"comparison: {path}")
    return path


def _history_config(h, cutoff):
    """The calibration's reading of the history (HistoryConfig) from its typed config section."""
    from simmodel.calibration.moments import HistoryConfig

    return HistoryConfig(cutoff=cutoff, grade_weights=dict(h.grade_weights), partial_year_weight=h.partial_year_weight,
                         breaks={k: list(v) for k, v in h.breaks.items()})






def _require_rows(moments, bounds, path: Path, base_year: int, last: int) -> None:
    """A calibration needs at least one row of a replayed year to compare with."""
    from simmodel.calibration.moments import OBSERVATION_SD

    if not moments and not bounds:
        raise DataError(f"{path} has no row the replay can be compared with: none of the series of "
                        f"simmodel/calibration/moments.py (OBSERVATION_SD: {', '.join(OBSERVATION_SD)}) in "
                        f"{base_year + 1}-{last}; add rows of those years, or choose an earlier population.base_year")


def replay_inputs(cfg, cutoff: int | None):
    """History, its last full year (up to ``cutoff``), prior parameter table and the model inputs of
    the replay (calibrate, backtest): the population of cfg.population.base_year (with
    cfg.population.overrides), the policy history of cfg.policy_history, simulated through the last
    data year, all validated. Parameters: the priors."""
    from simmodel.config import load_policy_history
    from simmodel.data import latest_full_year, load_base_year_table, load_indicators
    from simmodel.model import ModelInputs
    from simmodel.params import load_param_table, load_params
    from simmodel.sectors import load_cities, load_fund_kinds, load_sectors

    d = cfg.data
    history = load_indicators(resolve_path(d.indicators))
    last = int(history["year"].max()) if cutoff is None else min(int(history["year"].max()), cutoff)
    by = cfg.population.base_year
    if by is None or not by < last:
        raise ConfigError(f"population.base_year = {by}: the replay needs data after it (the last data year is {last}); "
                          f"the latest full-year GDP is {latest_full_year(history)}")
    base, _ = load_base_year_table(resolve_path(d.base_year), by, dict(cfg.population.overrides or {}))
    inputs = ModelInputs(
        sectors=load_sectors(resolve_path(d.sectors)), cities=load_cities(resolve_path(d.cities)), base=base,
        fund_kinds=load_fund_kinds(resolve_path(d.fund_kinds)), params=load_params(resolve_path(d.parameters)),
        base_year=by, end_year=last, policy_history=load_policy_history(cfg.policy_history))
    return history, last, load_param_table(resolve_path(d.parameters)), inputs




def memo(cfg, *, command: str = "", echo=print) -> Path:
    """Write a what-if memo (Markdown, self-contained HTML, PDF where possible) from results on disk."""
    from simmodel.report.memo import write_memo

    if not cfg.results:
        raise ConfigError("results: give the results folder to write about, e.g. results=results/run/multirun/<sweep>")
    path, status = write_memo(Path(cfg.results), baseline=cfg.baseline, lang=cfg.lang,
                              output_root=Path(cfg.output_root), pdf=cfg.pdf, command=command,
                              analyses=list(cfg.analyses))
    if status["pdf"] is None and status.get("pdf_error"):
        echo(f"note: no PDF written ({status['pdf_error']}); memo.html prints to PDF from any browser")
    elif status["pdf"] is None and str(cfg.pdf).lower() != "false":
        echo("note: no PDF written (no HTML-to-PDF converter here; see README: `pip install weasyprint` or "
             "`apt-get install wkhtmltopdf`); memo.html prints to PDF from any browser")
    echo(f"memo: {path / 'memo.md'}")
    echo(f"      {path / 'memo.html'}" + (f"\n      {path / 'memo.pdf'}" if status["pdf"] else ""))
    return path


def plot(cfg, *, command: str = "", echo=print) -> Path:
    """One figure from results on disk (never runs the model); returns the file written."""
    import os

    from simmodel import sweep as sweep_mod
    from simmodel.config import PLOT_KINDS
    from simmodel.data import load_indicators
    from simmodel.report import labels
    from simmodel.results import read_run

    labels.check_lang(cfg.lang)
    if cfg.kind not in PLOT_KINDS:
        raise ConfigError(f"kind = {cfg.kind!r} is not allowed: one of {', '.join(PLOT_KINDS)}")
    if not cfg.results:
        raise ConfigError(f"results: give the folder (or, for kind={cfg.kind}, the calibration run) to plot")
    out = Path(cfg.out) if cfg.out else (Path(cfg.output_root) / "plots" /
                                         f"{cfg.kind}{'_' + cfg.target if cfg.kind == 'fan' else ''}_{cfg.lang}.png")
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise ConfigError(f"out = {cfg.out!r}: the file must end in .png, .svg or .pdf")
    src = Path(cfg.results)
    if cfg.kind in ("calibration", "backtest"):
        folder = src if src.is_dir() else resolve_path(cfg.calibration_root) / cfg.results
        name = "moments.csv" if cfg.kind == "calibration" else "backtest.csv"
        if not (folder / name).is_file():
            raise ConfigError(f"results={cfg.results}: no {name} in {folder} (a calibration run"
                              f"{', backtested with simmodel backtest' if cfg.kind == 'backtest' else ''} is needed)")
        frame = pd.read_csv(folder / name)
        fig = (plots.calibration_fit_chart(frame, lang=cfg.lang) if cfg.kind == "calibration"
               else plots.backtest_error_chart(frame, lang=cfg.lang))
    elif cfg.kind == "fan":
        if src.is_dir() and (src / sweep_mod.PLAN).is_file():
            # a sweep holds one run per job: say which ones there are rather than "manifest.json is missing"
            jobs = sweep_mod.load_jobs(src)
            listed = "; ".join(f"results={j.path} ({j.label}, {j.status})" for j in jobs) or "none yet"
            raise ConfigError(f"results={cfg.results} is a sweep: a fan chart is drawn for one job; choose one: {listed}")
        traj, summary, manifest = read_run(src)
        if cfg.target not in summary["targets"]:
            raise ConfigError(f"target = {cfg.target!r}: one of {', '.join(summary['targets'])}")
        history = load_indicators(resolve_path(RunConfig().data.indicators))
        plan = sweep_mod.read_plan(src.parent) if (src.parent / sweep_mod.PLAN).is_file() else None
        label = next((j["label"] for j in (plan or {}).get("jobs", []) if sweep_mod.job_dirs(src.parent).get(j["num"]) == src),
                     None)
        # the subtitle names the scenario, then what the job changed besides it
        label = " ".join(x for x in (label or "").split() if not x.startswith("scenario=")) or None
        fig = plots.target_fan(traj, history, cfg.target, summary["targets"][cfg.target], int(summary["base_year"]),
                               lang=cfg.lang, scenario=summary.get("scenario", {}).get("slug"), label=label)
    else:
        if not src.is_dir() or not ((src / sweep_mod.PLAN).is_file() or sweep_mod.job_dirs(src)):
            raise ConfigError(f"results={cfg.results}: kind={cfg.kind} needs a sweep folder (results/run/multirun/<sweep>)")
        table, _, _ = sweep_mod.aggregate_table(sweep_mod.load_jobs(src))
        if table.empty:
            raise ConfigError(f"results={cfg.results}: no complete job in this sweep")
        fig = {"probability": lambda: plots.probability_chart(table, lang=cfg.lang),
               "comparison": lambda: plots.comparison_chart(table, lang=cfg.lang),
               "cost": lambda: plots.cost_probability_chart(table, year=cfg.year, lang=cfg.lang)}[cfg.kind]()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
    try:
        plots.save(fig, tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    echo(f"figure: {out}")
    return out


def analyze(cfg, *, launcher_args: list[str] | None = None, command: str = "", echo=print) -> Path:
    """Global sensitivity (Morris, Sobol) or scenario discovery (PRIM); see simmodel/analysis/run.py."""
    from simmodel.analysis.run import analyze as run_analysis

    return run_analysis(cfg, launcher_args=launcher_args, command=command, echo=echo)
