"""The run task: replicates of one scenario into a results folder, with its summary (targets, drivers,
variance decomposition, the no_new_policy counterfactual, assumption sensitivity). No Hydra here.

``simmodel.tasks`` re-exports ``run``; it lives in a module of its own so that the sweep machinery
(``simmodel.sweep``), which runs a job through it, does not import the other tasks (memo, plot,
analyze), which themselves read sweeps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel import config as config_mod
from simmodel.agents.government import EQUITY_LEVERS
from simmodel.config import RunConfig, plain, resolve_path
from simmodel.data import file_sha256
from simmodel.ensemble import (SOURCES, UncertaintyDraws, load_inputs, pair_keys, parameter_file, parameter_sampler,
                               replicate_seeds, run_ensemble, uncertainty_draws, warm_kernels)
from simmodel.errors import ConfigError
from simmodel.indicators import targets_from_config
from simmodel.levers import Levers, Uncertainties, no_new_policy_values, specs
from simmodel.report import plots
from simmodel.results import (DRAWS, FISCAL, SUMMARY, TRAJECTORIES, ResultsError, RunWriter, code_version, difference_interval,
                              fiscal_frame, median_difference_interval, new_run_dir, package_versions, read_run,
                              summarise, trajectories_frame, write_json)


def paired_root(output_root: str | Path) -> Path:
    """The folder of the paired no_new_policy runs, which every run and sweep job under output_root
    shares (each in paired-<digest of what its results depend on>)."""
    return Path(output_root) / "run" / "no_new_policy"


@contextlib.contextmanager
def progress_bar(show: bool, desc: str, unit: str, total: int | None = None):
    """A tqdm bar on stderr when ``show`` (else None), closed however the block ends: the message
    of an interrupt or an error then follows the bar instead of being drawn over by it."""
    if not show:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)
    try:
        yield bar
    finally:
        bar.close()


def warm_before_bar(show: bool, inputs, levers: Levers, uncertainties: Uncertainties) -> None:
    """Where a progress bar is shown: the compiled loops loaded before it starts its clock, or
    compiled (a fresh checkout, under a minute) with kernels.COMPILING_NOTICE on stderr, so that the
    bar neither sits at 0 % without a word nor reckons its time left from the compile."""
    if show:
        warm_kernels(inputs, levers, uncertainties, notice=lambda msg: print(msg, file=sys.stderr, flush=True))


def run(cfg: RunConfig, *, out_dir: Path | None = None, progress: bool | None = None, command: str = "",
        overrides: list[str] | None = None, label: str | None = None, replace: bool = False, show_table: bool = True,
        echo=print) -> Path:
    """Validate, simulate ``cfg.replicates`` replicates, write the run folder; returns its path.

    Nothing is created on disk before every input has been validated; the folder appears only
    when complete (written under a temporary name, manifest last, then renamed). out_dir: where
    (a sweep job's folder); default results/run/<scenario>/<timestamp>/. overrides: the command-line
    overrides that made this config (recorded in the manifest). label: names the progress bar.
    replace: swap out a complete folder already at out_dir (a sweep job re-run). show_table: print
    the targets' table when done.
    """
    if cfg.design:
        from simmodel.analysis.design import apply_row

        apply_row(cfg)  # a point of an analysis: its levers and uncertainties, then the usual checks
    config_mod.validate(cfg)
    inputs, history = load_inputs(cfg)
    parameter_sampler(cfg)  # fails early if parameter uncertainty is asked of the priors
    unknown = [q for q in cfg.assumption_sensitivity.quantities if q not in inputs.base]
    if cfg.assumption_sensitivity.enabled and unknown:
        raise ConfigError(f"assumption_sensitivity.quantities: unknown base-year quantity {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(inputs.base))}")
    targets = targets_from_config(cfg.targets, inputs.base_year)
    final = Path(out_dir) if out_dir else new_run_dir(Path(cfg.output.root), cfg.task, cfg.scenario_slug)
    writer = RunWriter(final)
    figures = None
    try:
        show = cfg.output.progress if progress is None else progress
        started = dt.datetime.now(dt.timezone.utc)
        draws = uncertainty_draws(cfg, inputs)
        sampler = draws.estimates
        warm_before_bar(show, inputs, cfg.levers, cfg.uncertainties)
        with progress_bar(show, f"{label or cfg.scenario_slug}: replicates", "rep", cfg.replicates) as bar:
            results = run_ensemble(inputs, cfg.levers, cfg.uncertainties, scale=cfg.population.scale, root_seed=cfg.seed,
                                   replicates=cfg.replicates, workers=cfg.workers,
                                   progress=None if bar is None else bar.update, draws=draws)
        traj = trajectories_frame([r.trajectory for r in results])
        traj.to_parquet(writer.path(TRAJECTORIES), index=False)
        drawn = draws_frame(results)
        if not drawn.empty:
            drawn.to_parquet(writer.path(DRAWS), index=False)
        years = list(range(inputs.base_year + 1, inputs.end_year + 1))
        fiscal_frame([r.fiscal_cost for r in results], years).to_parquet(writer.path(FISCAL), index=False)
        articles = {name: s.article for name, s in specs().items()}
        summary = summarise(traj, targets, [r.fiscal_cost for r in results], years, articles, EQUITY_LEVERS)
        if cfg.output.plots:  # the fan charts, drawn by child processes while the rest of the run goes on
            figures = plots.save_figures(plots.fan_chart_jobs(traj, history, summary["targets"], inputs.base_year,
                                                              lambda tid: writer.path(f"fan_{tid}.png"),
                                                              scenario=cfg.scenario_slug, label=label))
        summary["scenario"] = {"slug": cfg.scenario_slug, "question": cfg.scenario_question,
                               "question_zh": cfg.scenario_question_zh}
        summary["uncertainty"] = {
            "calibration": cfg.calibration, "parameter_draws": sampler is not None,
            "drawn": {src: (src in draws.active()) for src in SOURCES},
            # replicates whose first draw no population could meet (redrawn, see ensemble.MAX_REDRAWS)
            "redrawn_replicates": sum("redraws" in r.drawn for r in results),
            "n_drawn": {"assumptions": len(draws.assumptions.names) if draws.assumptions else 0,
                        "behaviour": len(draws.behaviour.names) if draws.behaviour else 0,
                        "estimates": len(draws.estimates.names) if draws.estimates else 0},
            "sources": (["base-year assumptions drawn from their ranges"] if draws.assumptions else [])
            + (["behavioural parameters and sector growth priors drawn from their ranges"] if draws.behaviour else [])
            + (["calibrated parameters drawn from the calibration's covariance"] if draws.estimates else [])
            + (["firm-level shocks", "province-wide yearly growth shock"] if draws.shocks else []),
        }
        summary["drivers"] = drivers(traj, drawn, targets)
        pairs = min(cfg.uncertainty.decomposition_pairs, cfg.replicates)
        if pairs > 0:
            summary["variance_decomposition"] = decompose(cfg, inputs, draws, traj, targets, pairs, show)
        if cfg.counterfactual.enabled:
            summary["counterfactual"] = counterfactual(cfg, traj, targets, Path(final), show)
        summary["base_year"] = inputs.base_year
        gap = _replay_gap(cfg, inputs, results)
        if not gap.empty:
            gap.to_csv(writer.path(REPLAY_GAP), index=False)
            summary["replay_gap"] = gap.to_dict(orient="records")
        summary["assumptions"] = {
            "base_year": {q.name: {"value": q.value, "low": q.low, "high": q.high, "unit": q.unit, "kind": q.kind,
                                   "distribution": q.distribution,
                                   "drawn": bool(draws.assumptions) and q.name in draws.assumptions.names}
                          for q in inputs.base.values() if q.kind in ("assumption", "derived", "inferred", "override")},
            "targets": [{"target_id": t.target_id, "year": t.year, "threshold": t.threshold, "source": t.source}
                        for t in targets if t.source != "seed"],
        }
        if cfg.assumption_sensitivity.enabled:
            summary["assumption_sensitivity"] = assumption_sensitivity(cfg, inputs, targets, show)
        write_json(writer.path(SUMMARY), summary)
        if figures is not None:
            figures.wait()
        finished = dt.datetime.now(dt.timezone.utc)
        seeds = replicate_seeds(cfg.seed, cfg.replicates)
        data_files = {k: str(resolve_path(getattr(cfg.data, k))) for k in ("indicators", "sectors", "cities", "fund_kinds")}
        data_files["base_year"] = str(inputs_path_of_base(cfg.data, inputs.base_year))
        data_files["parameters"] = str(parameter_file(cfg))
        manifest = {
            "task": cfg.task, "scenario": cfg.scenario_slug, "command": command, "overrides": list(overrides or []),
            "started_utc": started.isoformat(), "finished_utc": finished.isoformat(),
            "config": plain(cfg),
            "seeds": {"root_seed": cfg.seed, "replicate_spawn_keys": [list(s.spawn_key) for s in seeds],
                      "scheme": "numpy SeedSequence(root_seed).spawn(replicates); stage streams keyed by (purpose, step)"},
            "data_files": {k: {"path": v, "sha256": file_sha256(Path(v))} for k, v in data_files.items()},
            "packages": package_versions(), "code": code_version(),
        }
        path = writer.commit(manifest, replace=replace)
    except BaseException:
        if figures is not None:
            figures.cancel()
        writer.abort()
        raise
    if show_table:  # a sweep shows one table for all its jobs instead (simmodel/sweep.py)
        echo(target_table(summary))
        if summary.get("replay_gap"):
            from simmodel.replay import gap_lines

            echo("\n".join(gap_lines(pd.DataFrame(summary["replay_gap"]))))
        if summary.get("variance_decomposition"):
            echo(decomposition_table(summary))
        if summary.get("assumption_sensitivity"):
            echo(sensitivity_table(summary))
    echo(f"results: {path}")
    return path


# A target is "met either way" (or "missed either way") when P(met) is at least (at most) this under
# both the scenario and no_new_policy: the policy is then not what decides it. A reporting rule, not
# an estimate: 0.9 is where a memo would call a target "very likely" met.
EITHER_WAY_P = 0.9


def draws_frame(results) -> pd.DataFrame:
    """Long table of what each replicate drew: replicate, source, name, value."""
    rows = [(r.replicate, src, name, float(v)) for r in results for src, d in r.drawn.items() for name, v in d.items()
            if src in SOURCES]
    return pd.DataFrame(rows, columns=["replicate", "source", "name", "value"])


def _target_values(traj: pd.DataFrame, t) -> np.ndarray:
    """One target's indicator in its year, one value per replicate (replicate order)."""
    sub = traj[(traj["indicator"] == t.indicator) & (traj["year"] == t.year)].sort_values("replicate")
    return sub["value"].to_numpy(float)


def _average_ranks(x: np.ndarray) -> np.ndarray:
    """The ranks (1 .. n, ties given their mean rank) of each column of ``x``: scipy's rankdata with
    its default method, by its algorithm (exact half-integers), without importing scipy.stats (0.66 s)."""
    x = x.reshape(x.shape[0], -1)
    out = np.empty(x.shape, np.float64)
    for j in range(x.shape[1]):
        sorter = np.argsort(x[:, j], kind="mergesort")
        inv = np.empty(sorter.size, np.intp)
        inv[sorter] = np.arange(sorter.size)
        xs = x[sorter, j]
        new = np.r_[True, xs[1:] != xs[:-1]]
        dense = new.cumsum()[inv]
        count = np.r_[np.flatnonzero(new), new.size]
        out[:, j] = 0.5 * (count[dense] + count[dense - 1] + 1)
    return out


def _rank_correlations(x_ranked: np.ndarray, y_ranked: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spearman's rho of each column of ``x_ranked`` (ranks, one row a replicate) with ``y_ranked``,
    and its two-sided p-value, as scipy's spearmanr gives them without NaNs: the Pearson correlation
    of the ranks, and twice the upper tail of Student's t with n - 2 degrees of freedom
    (scipy.special.stdtr, which spearmanr calls). For all columns at once: a call of spearmanr a
    quantity took 0.34 s a run for 143 quantities and 10 target years, one over the matrix (every
    pair's correlation) 0.41 s, this 0.02 s."""
    from scipy.special import stdtr  # scipy.special is loaded with the population's scipy.optimize

    xc = x_ranked - x_ranked.mean(axis=0)
    yc = y_ranked - y_ranked.mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = np.clip((xc * yc[:, None]).sum(axis=0) / np.sqrt((xc * xc).sum(axis=0) * (yc * yc).sum()), -1.0, 1.0)
        dof = y_ranked.size - 2
        t = rho * np.sqrt((dof / ((rho + 1.0) * (1.0 - rho))).clip(0))
    return rho, 2.0 * stdtr(dof, -np.abs(t))


def drivers(traj: pd.DataFrame, drawn: pd.DataFrame, targets, top: int = 5, alpha: float = 0.05) -> dict:
    """Which drawn unknowns go with each target's outcome: Spearman's rank correlation across the
    replicates of every drawn quantity with the target's value, the strongest first. With a hundred and
    more quantities and a hundred replicates, correlations of 0.3 arise by chance, so only those whose
    p-value passes Bonferroni's correction over the quantities tested (alpha / n) are kept. It ranks what
    decides the answer; the variance decomposition says how much each source does."""
    out: dict = {}
    if drawn.empty:
        return out
    wide = drawn.pivot_table(index="replicate", columns=["source", "name"], values="value").sort_index()
    if len(wide) < 5:
        return out
    values = wide.to_numpy(float)
    varies = np.nanstd(values, axis=0) > 0
    cols = [(key, values[:, j]) for j, key in enumerate(wide.columns) if varies[j]]
    threshold = alpha / max(len(cols), 1)
    x_all = values[:, varies]
    traj = traj[traj["indicator"].isin({t.indicator for t in targets})]  # the targets' rows, once
    # the quantities' ranks once for every target (ties averaged, as spearmanr ranks)
    x_ranked = _average_ranks(x_all) if np.isfinite(x_all).all() else None
    for t in targets:
        y = _target_values(traj, t)
        if y.size != len(wide) or np.nanstd(y) == 0:
            continue
        if x_ranked is not None and np.isfinite(y).all():
            rho, p = _rank_correlations(x_ranked, _average_ranks(y)[:, 0])
        else:  # a NaN to omit, pair by pair (scipy.stats only here: importing it takes 0.66 s)
            from scipy.stats import spearmanr

            both = [spearmanr(x, y, nan_policy="omit") for _, x in cols]
            rho, p = np.array([r.statistic for r in both], float), np.array([r.pvalue for r in both], float)
        rows = [{"source": src, "name": name, "rho": float(r), "p": float(q)}
                for ((src, name), _), r, q in zip(cols, rho, p, strict=True) if np.isfinite(r) and q < threshold]
        rows.sort(key=lambda r: -abs(r["rho"]))
        out.setdefault(t.target_id, {})[str(t.year)] = rows[:top]
    out["rule"] = {"test": "Spearman rank correlation", "n_tested": len(cols), "alpha": alpha, "p_below": threshold}
    return out


def decompose(cfg: RunConfig, inputs, draws: UncertaintyDraws, traj: pd.DataFrame, targets, pairs: int, show: bool) -> dict:
    """How much of each target's variance comes from each source of uncertainty: grouped total-effect
    Sobol indices by nested draws (simmodel.decompose), from `pairs` extra replicates per active source,
    each equal to main replicate j but for that source, drawn afresh."""
    from simmodel.decompose import pair_plan, total_effect_indices

    active = draws.active()
    out: dict = {"method": "grouped total-effect Sobol indices (the share of variance a source causes alone or through "
                           "its interactions), nested draws, Jansen (1999) estimator, 95 % bootstrap intervals; a source "
                           "switched off causes none",
                 "pairs": pairs, "sources": list(SOURCES), "active": list(active), "targets": {}}
    if not active:
        return out
    plan = pair_plan(active, pairs)
    with progress_bar(show, f"{cfg.scenario_slug}: variance decomposition", "rep", len(plan)) as bar:
        res = run_ensemble(inputs, cfg.levers, cfg.uncertainties, scale=cfg.population.scale, root_seed=cfg.seed,
                           replicates=len(plan), workers=cfg.workers, progress=None if bar is None else bar.update, draws=draws,
                           keys=pair_keys(cfg.seed, plan, draws.shocks))
    redrawn = trajectories_frame([r.trajectory for r in res])
    rows_of = {g: [k for k, (gg, _) in enumerate(plan) if gg == g] for g in active}
    for t in targets:
        y_main = _target_values(traj, t)
        yr = _target_values(redrawn, t)
        est = total_effect_indices(y_main, {g: yr[rows] for g, rows in rows_of.items()})
        block = {"variance": est.get("variance"), "overlap": est.get("overlap"), "note": est.get("note", "")}
        block["indices"] = {src: ({k: est[src][k] for k in ("st", "ci95", "n_pairs")} if src in active
                                  else {"st": 0.0, "ci95": [0.0, 0.0], "n_pairs": 0, "off": True}) for src in SOURCES}
        out["targets"].setdefault(t.target_id, {})[str(t.year)] = block
    return out


def counterfactual_config(cfg: RunConfig) -> RunConfig:
    """The run's counterfactual: the same configuration with every lever at its no_new_policy value."""
    import copy

    cf = copy.deepcopy(cfg)
    cf.levers = dataclasses.replace(Levers(), **no_new_policy_values())
    cf.scenario_slug = "no_new_policy"
    cf.scenario_question = "counterfactual: every lever at its no_new_policy value"
    cf.scenario_question_zh = "反事实：所有政策杠杆取无新政策情形的值"
    cf.counterfactual.enabled = False
    cf.uncertainty.decomposition_pairs = 0
    cf.assumption_sensitivity.enabled = False
    cf.output.plots = False
    cf.design, cf.design_row = "", -1
    return cf


def _is_counterfactual(cfg: RunConfig) -> bool:
    from simmodel.levers import as_dict

    return as_dict(cfg.levers) == as_dict(dataclasses.replace(Levers(), **no_new_policy_values()))


def counterfactual(cfg: RunConfig, traj: pd.DataFrame, targets, final: Path, show: bool) -> dict:
    """P(met) of each target under no_new_policy on the same seeds, beside the run's, with the paired
    difference (Tango's interval for P(met), a paired bootstrap for the median) and a plain verdict.
    The counterfactual run is an ordinary run folder, reused when the same settings come back."""
    import hashlib
    import json

    out: dict = {"scenario": "no_new_policy", "rule": f"met (missed) either way: P(met) >= {EITHER_WAY_P:g} "
                 f"(<= {1 - EITHER_WAY_P:g}) under both", "targets": {}}
    if _is_counterfactual(cfg):
        out["self"] = True
        cf_traj = traj
    else:
        cf_cfg = counterfactual_config(cfg)
        ident = plain(cf_cfg)
        for k in ("output", "workers", "scenario_question", "scenario_question_zh"):  # results do not depend on them
            ident.pop(k, None)
        digest = hashlib.sha256(json.dumps({"config": ident, "code": code_version(),
                                            "data": {k: file_sha256(resolve_path(getattr(cfg.data, k)))
                                                     for k in ("indicators", "sectors", "cities", "base_year", "fund_kinds")},
                                            "parameters": file_sha256(parameter_file(cfg))},
                                           sort_keys=True, default=str).encode()).hexdigest()[:16]
        folder = paired_root(cfg.output.root) / f"paired-{digest}"
        try:
            cf_traj, _, _ = read_run(folder)
        except ResultsError:
            cf_traj = None
            if folder.exists():
                try:  # published by another sweep job since the read above, or broken
                    cf_traj, _, _ = read_run(folder)
                except ResultsError:
                    import shutil

                    shutil.rmtree(folder)
        if cf_traj is None:
            try:
                run(cf_cfg, out_dir=folder, progress=show, label="no_new_policy (counterfactual)", show_table=False,
                    echo=lambda *_: None)
            except ResultsError:
                if not (folder / "manifest.json").is_file():  # not another process's complete copy
                    raise
            cf_traj, _, _ = read_run(folder)
        out["run"] = str(folder.relative_to(cfg.output.root))  # relative to the results root: the same bytes wherever it is
    for t in targets:
        a, b = _target_values(traj, t), _target_values(cf_traj, t)
        met_a, met_b = t.met(a), t.met(b)
        d, lo, hi = difference_interval(met_a, met_b, paired=True)
        dm, mlo, mhi = median_difference_interval(a, b, paired=True)
        pa, pb = float(met_a.mean()), float(met_b.mean())
        if pa >= EITHER_WAY_P and pb >= EITHER_WAY_P:
            verdict = "met either way"
        elif pa <= 1 - EITHER_WAY_P and pb <= 1 - EITHER_WAY_P:
            verdict = "missed either way"
        elif lo > 0:
            verdict = "the policy raises the odds"
        elif hi < 0:
            verdict = "the policy lowers the odds"
        else:
            verdict = "no clear difference"
        out["targets"].setdefault(t.target_id, {})[str(t.year)] = {
            "p_met": pb, "median": float(np.median(b)), "diff_p_met": d, "diff_p_met_ci95": [lo, hi],
            "diff_median": dm, "diff_median_ci95": [mlo, mhi], "verdict": verdict}
    return out


def decomposition_table(summary: dict, year: str = "2027") -> str:
    """Share of each target's variance in `year` from each source (total effects, with 95 % intervals)."""
    vd = summary.get("variance_decomposition") or {}
    rows = [f"Where the uncertainty comes from, {year}: share of variance each source causes, alone or with others "
            f"(total-effect Sobol, {vd.get('pairs', 0)} pairs per source):",
            f"{'target':<7}" + "".join(f"{s:>22}" for s in SOURCES) + f"{'overlap':>10}"]
    for tid, by_year in vd.get("targets", {}).items():
        b = by_year.get(year)
        if not b:
            continue
        if b.get("note"):
            rows.append(f"{tid:<7}  {b['note']}")
            continue
        cells = []
        for src in SOURCES:
            ix = b["indices"][src]
            cells.append(f"{'off':>22}" if ix.get("off") else f"{f'{ix['st']:.2f} [{ix['ci95'][0]:.2f}, {ix['ci95'][1]:.2f}]':>22}")
        rows.append(f"{tid:<7}" + "".join(cells) + f"{b['overlap']:>10.2f}")
    rows.append("overlap = sum of the shares - 1: the part of the variance that comes from interactions, counted in each source")
    return "\n".join(rows)


def assumption_sensitivity(cfg: RunConfig, inputs, targets, show: bool) -> dict:
    """P(met) and median of each target with one base-year assumption at the ends of its range.

    The same seeds at every end (common random numbers), so differences come from the assumption."""
    a = cfg.assumption_sensitivity
    runs = [("reference", None, None)]
    for q in a.quantities:
        b = inputs.base[q]
        runs += [(q, "low", b.low), (q, "high", b.high)]
    out: dict = {"replicates": a.replicates, "scale": a.scale, "quantities": {}}
    with progress_bar(show, f"{cfg.scenario_slug}: assumption ends", "rep", len(runs) * a.replicates) as bar:
        for q, end, value in runs:
            base = dict(inputs.base)
            if q != "reference":
                old = base[q]
                base[q] = dataclasses.replace(old, value=value, kind="sensitivity", distribution="fixed")
            res = run_ensemble(dataclasses.replace(inputs, base=base), cfg.levers, cfg.uncertainties, scale=a.scale,
                               root_seed=cfg.seed, replicates=a.replicates, workers=cfg.workers,
                               progress=None if bar is None else bar.update)
            traj = trajectories_frame([r.trajectory for r in res])
            wide = traj.pivot_table(index=["replicate", "year"], columns="indicator", values="value")
            block = {}
            for t in targets:
                vals = wide.xs(t.year, level="year")[t.indicator].to_numpy(float)
                block.setdefault(t.target_id, {})[str(t.year)] = {"p_met": float(t.met(vals).mean()), "median": float(np.median(vals))}
            if q == "reference":
                out["reference"] = block
            else:
                out["quantities"].setdefault(q, {"unit": inputs.base[q].unit, "value": inputs.base[q].value})[end] = {"value": value, "targets": block}
    return out


def sensitivity_table(summary: dict, year: str = "2027") -> str:
    """Which assumption moves which target: P(met) at the low and high end of each range."""
    s = summary.get("assumption_sensitivity")
    if not s:
        return ""
    tids = list(s["reference"])
    head = f"P(met) in {year} with one base-year assumption at the ends of its range ({s['replicates']} replicates at scale {s['scale']:g}):"
    rows = [head, f"{'assumption':<38}{'end':>5}{'value':>10} " + " ".join(f"{t:>5}" for t in tids)]
    ref = s["reference"]
    rows.append(f"{'(reference: table values)':<38}{'':>5}{'':>10} " + " ".join(
        f"{ref[t][year]['p_met']:>5.2f}" if year in ref[t] else f"{'':>5}" for t in tids))
    for q, d in s["quantities"].items():
        for end in ("low", "high"):
            blk = d[end]["targets"]
            rows.append(f"{q:<38}{end:>5}{d[end]['value']:>10g} " + " ".join(
                f"{blk[t][year]['p_met']:>5.2f}" if year in blk[t] else f"{'':>5}" for t in tids))
    return "\n".join(rows)


def target_table(summary: dict) -> str:
    """The short terminal table: each target, its threshold, P(met) with CI, median and 80 % band, and
    P(met) under no_new_policy on the same seeds with the paired difference and the verdict."""
    cf = (summary.get("counterfactual") or {}).get("targets", {})
    rows = [f"{'target':<7}{'year':>5} {'threshold':>12} {'P(met)':>7} {'95% CI':>14} {'median':>10} {'80% band':>20}"
            f" {'no new policy':>14} {'change [95% CI]':>22}  verdict"]
    for tid, by_year in summary["targets"].items():
        for year, r in by_year.items():
            lo, hi = r["p_met_ci95"]
            thr = f"{r['comparison']}{r['threshold']:g} {r['unit']}" + ("" if r["threshold_source"] == "seed" else "*")
            band = f"[{r['p10']:.1f}, {r['p90']:.1f}]"
            c = cf.get(tid, {}).get(year)
            if c:
                dlo, dhi = c["diff_p_met_ci95"]
                tail = f" {c['p_met']:>14.2f} {f'{c['diff_p_met']:+.2f} [{dlo:+.2f}, {dhi:+.2f}]':>22}  {c['verdict']}"
            else:
                tail = ""
            rows.append(f"{tid:<7}{year:>5} {thr:>12} {r['p_met']:>7.2f} {f'[{lo:.2f}, {hi:.2f}]':>14} {r['median']:>10.2f} {band:>20}{tail}")
    rows.append("* threshold is an assumption (2030 proxies, T6); the others are the draft's 2027 targets")
    return "\n".join(rows)


REPLAY_GAP = "replay_gap.csv"


def _replay_gap(cfg, inputs, results) -> pd.DataFrame:
    """A replay from an early base year beside the table of the latest base year it lives through
    (the default data.base_year table); empty for a run from that year or later."""
    from simmodel.data import load_base_year
    from simmodel.replay import replay_gap

    latest = load_base_year(resolve_path(cfg.data.base_year))
    if latest["gdp_cny_100m"].year <= inputs.base_year:
        return pd.DataFrame()
    traj = [r.trajectory for r in results]
    paths = {k: np.array([t[k].to_numpy(float) for t in traj]) for k in traj[0].columns}
    return replay_gap(paths, traj[0].index.to_numpy(int), latest)


def inputs_path_of_base(d, year: int) -> Path:
    """The base-year table a replay from ``year`` reads (for manifests)."""
    from simmodel.data import base_year_path

    return base_year_path(resolve_path(d.base_year), year)
