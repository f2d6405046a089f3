"""``simmodel analyze``: sample the space, evaluate the points as a sweep, analyse.

Methods: ``morris`` (screening), ``sobol`` (variance-based indices, on the model or, where the
model would take too long, on a validated emulator), ``prim`` (scenario discovery) and ``invert``
(the least-cost package that reaches a target with a chosen probability, and the cost-probability
frontier). ``screen=<morris analysis>`` chains a Morris screening into the others: only the
factors that matter are varied.

The points are evaluated by ``simmodel run -m design=<design> design_row=range(0,N)``, a sweep
like any other: it goes through whichever Hydra launcher the command names (basic, joblib, Ray,
SLURM), skips the points already complete when re-run, and records failures. Every point uses the
same root seed, so replicate r of every point shares its random numbers (common random numbers)
and differences between points come from the factors, not from noise.

``<output_root>/analyze/<name>/`` holds ``design/``, ``runs/`` (the sweep) and ``analysis/``:
``outputs.parquet`` (each point's factors and results), ``indices.parquet`` and ``indices.md``
(Morris or Sobol indices per output) or ``prim.json`` and ``boxes.md`` (PRIM), figures, and a
manifest. Every table says where its numbers come from (column ``source``: ``model`` or
``emulator``).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel import sweep
from simmodel.analysis import methods, space
from simmodel.analysis.design import read_design, write_design
from simmodel.config import ANALYZE_METHODS, check_population, plain
from simmodel.errors import ConfigError, SimmodelError
from simmodel.results import (
    MANIFEST,
    ResultsError,
    RunWriter,
    check_folder_name,
    code_version,
    package_versions,
    read_manifest,
    wilson_interval,
    write_json,
)

SOURCE = "model"  # the source of a number the model computed (an emulated one says "emulator")
EMULATED = "emulator"
TARGET_IDS = ("T1", "T2", "T3", "T4", "T5", "T6")
TARGET_YEARS = (2027, 2030)
# For deciding whether Sobol pays on the model (emulator=auto): seconds of one replicate at 1:1
# scale on one core, and fixed seconds per point (process, inputs, writing), measured on the 2-core
# development machine: 0.91 s per replicate (benchmarks/RESULTS.md, bench_replicate); 2.33 s per
# point of the 1:1 Morris benchmark with 4 replicates and two points at a time (bench_analyze), so
# one point costs 4.66 s of a core, 3.64 s of it replicates, about 1.0 s fixed. Another machine only
# shifts the point where the emulator takes over; the estimate and the choice are printed.
SECONDS_PER_REPLICATE_1TO1 = 0.91
SECONDS_PER_POINT = 1.0
# PRIM's box: the first on the peeling trajectory where at least 4 points in 5 succeed. A choice, not
# a finding: peeling_trajectory.csv shows every box, so a reader can take a denser or wider one.
PRIM_DENSITY = 0.8


def _check(cfg) -> None:
    if cfg.method not in ANALYZE_METHODS:
        raise ConfigError(f"method = {cfg.method!r} is not allowed: one of {', '.join(ANALYZE_METHODS)}")
    for key, lo, hi in (("trajectories", 2, 1000), ("levels", 2, 20), ("sobol_n", 2, 2 ** 16), ("samples", 10, 100000),
                        ("replicates", 1, 10000)):
        v = getattr(cfg, key)
        if not isinstance(v, int) or not lo <= v <= hi:
            raise ConfigError(f"{key} = {v!r} is out of range: allowed an integer in [{lo}, {hi}]")
    if cfg.sobol_n & (cfg.sobol_n - 1):
        raise ConfigError(f"sobol_n = {cfg.sobol_n}: must be a power of two (Sobol sequences are balanced at 2^m)")
    if not 0 < cfg.p_level <= 1:
        raise ConfigError(f"p_level = {cfg.p_level}: allowed (0, 1]")
    check_population(cfg.population)
    # Hydra reads emulator=true as a boolean, which the str field holds as "True"
    cfg.emulator = str(cfg.emulator).lower()
    if cfg.emulator not in ("auto", "true", "false"):
        raise ConfigError(f"emulator = {cfg.emulator!r} is not allowed: one of auto, true, false")
    for key, lo, hi in (("screen_top", 1, 100), ("batch", 2, 1000), ("generations", 1, 1000), ("polish_rounds", 0, 100),
                        ("emulator_points", 0, 100000), ("emulator_sobol_n", 2, 2 ** 20)):
        v = getattr(cfg, key)
        if not isinstance(v, int) or not lo <= v <= hi:
            raise ConfigError(f"{key} = {v!r} is out of range: allowed an integer in [{lo}, {hi}]")
    if 0 < cfg.emulator_points < 6:
        raise ConfigError(f"emulator_points = {cfg.emulator_points}: allowed 0 (10 per factor, at least 20) or at least 6 "
                          "(an emulator needs points to fit and held-out points to test)")
    if not 0 < cfg.emulator_min_q2 <= 1 or not 0 < cfg.emulator_holdout < 1:
        raise ConfigError(f"emulator_min_q2 = {cfg.emulator_min_q2} (allowed (0, 1]) and emulator_holdout = "
                          f"{cfg.emulator_holdout} (allowed (0, 1)) ")
    if cfg.method == "invert":
        if cfg.target not in TARGET_IDS:
            raise ConfigError(f"target = {cfg.target!r} is not allowed: one of {', '.join(TARGET_IDS)}")
        if cfg.target_year not in TARGET_YEARS:
            raise ConfigError(f"target_year = {cfg.target_year} is not allowed: one of 2027 (the seed's targets) "
                              "or 2030 (the proxies)")


def sample(cfg, fs: list[space.Factor]) -> np.ndarray:
    prob = space.problem(fs)
    if cfg.method == "morris":
        return methods.morris_design(prob, cfg.trajectories, cfg.levels, seed=cfg.seed % 2 ** 32)
    if cfg.method == "sobol":
        return methods.sobol_design(prob, cfg.sobol_n, seed=cfg.seed % 2 ** 32)
    return methods.lhs_design(prob, cfg.samples, seed=cfg.seed % 2 ** 32)


def analysis_dir(cfg) -> tuple[Path, dict]:
    settings = {k: v for k, v in plain(cfg).items() if k not in ("name", "output_root", "task")}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]
    name = check_folder_name(cfg.name, "name") if cfg.name else f"{cfg.method}-{digest}"
    return (Path(cfg.output_root) / "analyze" / name).absolute(), settings


def population_overrides(pop) -> list[str]:
    """The run overrides that give every point the analysis's population (scale, base year, overrides)."""
    args = [f"population.scale={pop.scale}"]
    if pop.base_year is not None:
        args.append(f"population.base_year={pop.base_year}")
    args += [f"population.overrides.{k}={v}" for k, v in sorted((pop.overrides or {}).items())]
    return args


def evaluate(design_dir: Path, runs_dir: Path, n: int, cfg, launcher_args: list[str], echo=print) -> None:
    """Run the design's points as a sweep through the command line (and so through the launcher)."""
    args = [sys.executable, "-m", "simmodel", "run", "-m", f"scenario={cfg.scenario}", f"design={design_dir}",
            f"design_row=range(0,{n})", f"replicates={cfg.replicates}", *population_overrides(cfg.population),
            f"seed={cfg.seed}", "assumption_sensitivity.enabled=false", "output.plots=false",
            # every point shares the draws of every unknown (common random numbers), but needs neither
            # its own no_new_policy counterfactual nor a variance decomposition
            "counterfactual.enabled=false", "uncertainty.decomposition_pairs=0",
            "output.progress=false", f"hydra.sweep.dir={runs_dir}", *launcher_args]
    echo(f"analyze: evaluating {n} points x {cfg.replicates} replicates at scale {cfg.population.scale:g} -> {runs_dir}")
    proc = subprocess.run(args, stdout=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise SimmodelError(f"some evaluations failed (see {runs_dir}/*/FAILED.json); re-run the same command: "
                            "complete points are skipped")


def collect(runs_dir: Path, n: int) -> pd.DataFrame:
    """Each point's results: P(met) and median of every target and year, and fiscal cost."""
    rows = {}
    for job in sweep.load_jobs(runs_dir):
        if job.status != "complete":
            continue
        r = {"source": SOURCE}
        for tid, by_year in job.summary["targets"].items():
            for year, t in by_year.items():
                r[f"{tid}_{year}_p_met"] = t["p_met"]
                r[f"{tid}_{year}_median"] = t["median"]
        cost = job.summary["fiscal_cost_total_cny_100m"]
        r["fiscal_cost_cny_100m"] = cost["grants"]["median"] + cost["equity"]["median"]
        rows[int(job.manifest["config"]["design_row"])] = r
    missing = sorted(set(range(n)) - set(rows))
    if missing:
        raise SimmodelError(f"{len(missing)} of {n} points have no results (first: {missing[:5]}); re-run the command")
    return pd.DataFrame.from_dict(rows, orient="index").sort_index()


def screened(cfg, echo=print) -> list[str] | None:
    """The factors a Morris screening found to matter (``screen=<analysis folder or name>``): the
    screen_top factors with the largest mu*, each output's mu* divided by its largest so that
    outputs in different units weigh alike, a factor ranked by its largest share over the 2027
    outputs. None without a screen."""
    if not cfg.screen:
        return None
    path = Path(cfg.screen)
    if not path.is_dir():
        path = Path(cfg.output_root) / "analyze" / cfg.screen
    table_path = path / "analysis" / "indices.parquet"
    try:
        read_manifest(path / "analysis", ("indices.parquet", "summary.json"))  # complete and unaltered
    except ResultsError as exc:
        raise ConfigError(f"screen = {cfg.screen!r}: no complete Morris analysis there ({exc}); "
                          "run `simmodel analyze method=morris` first and pass its folder or name") from None
    summary = json.loads((path / "analysis" / "summary.json").read_text(encoding="utf-8"))
    if summary.get("method") != "morris":
        raise ConfigError(f"screen = {cfg.screen!r} is a {summary.get('method')} analysis: a screen must be a Morris one")
    t = pd.read_parquet(table_path)
    t = t[t["output"].str.contains("_2027_")].copy()
    top = t.groupby("output")["mu_star"].transform("max")
    t["share"] = np.where(top > 0, t["mu_star"] / top.where(top > 0, 1), 0.0)
    score = t.groupby("factor")["share"].max().sort_values(ascending=False, kind="stable")
    chosen = [f for f in score.index[: cfg.screen_top] if score[f] > 0]
    if cfg.method == "invert":
        unc = {f.name for f in space.factors(None, {}) if f.group == "uncertainties"}
        chosen = [f for f in score.index if score[f] > 0 and f not in unc][: cfg.screen_top]
    echo(f"analyze: screen {path.name}: {len(chosen)} factors kept (largest mu* share over the 2027 outputs): "
         + ", ".join(f"{f} {score[f]:.2f}" for f in chosen))
    return chosen


def evaluate_points(folder: Path, fs: list[space.Factor], x: np.ndarray, meta: dict, cfg, launcher_args: list[str],
                    echo=print) -> pd.DataFrame:
    """Evaluate the points x (n x k, natural units) on the model as a sweep kept in folder
    (design/ and runs/); returns their outputs. A re-run with the same points reuses every
    complete one; a folder holding other points is cleared first."""
    design_dir = folder / "design"
    if (design_dir / MANIFEST).is_file():
        _, old, _ = read_design(design_dir)
        if old.shape != x.shape or not np.allclose(old.to_numpy(float), x, rtol=0, atol=0):
            echo(f"analyze: {folder.name} held other points; evaluating anew")
            shutil.rmtree(folder)
    if not (design_dir / MANIFEST).is_file():
        write_design(design_dir, fs, x, meta)
    evaluate(design_dir, folder / "runs", len(x), cfg, launcher_args, echo)
    return collect(folder / "runs", len(x))


def model_minutes(points: int, cfg) -> float:
    """Estimated minutes of model time on this machine for points x cfg.replicates at cfg.population.scale."""
    cores = _cores()
    return points * (SECONDS_PER_POINT + cfg.replicates * cfg.population.scale * SECONDS_PER_REPLICATE_1TO1 / cores) / 60


def _claim(folder: Path, settings: dict) -> None:
    """Refuse a folder that holds an analysis with other settings; record this one's."""
    path = folder / "settings.json"
    wanted = json.loads(json.dumps(settings))
    if path.is_file():
        if json.loads(path.read_text(encoding="utf-8")) != wanted:
            raise ConfigError(f"{folder} holds another analysis (other settings); choose name=... or delete it")
        return
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    write_json(tmp, wanted)
    tmp.replace(path)


def analyze(cfg, *, launcher_args: list[str] | None = None, command: str = "", echo=print) -> Path:
    """The whole analysis; returns the analysis folder."""
    _check(cfg)
    names = screened(cfg, echo) if not cfg.factors else list(cfg.factors)
    fs = space.factors(names, dict(cfg.ranges))
    if cfg.method == "invert":
        if not names:  # without a screen or a list: every lever (uncertainties are not chosen)
            fs = [f for f in fs if f.group == "levers"]
        bad = [f.name for f in fs if f.group != "levers"]
        if bad:
            raise ConfigError(f"method=invert chooses levers only; {', '.join(bad)} is an uncertainty (nobody chooses "
                              "it): fix it with a scenario instead (scenario=world_demand_shock)")
    folder, settings = analysis_dir(cfg)
    # a folder of an older analysis (before settings.json) is checked by its design's settings
    if (folder / "design" / MANIFEST).is_file():
        if read_design(folder / "design")[2].get("settings") != json.loads(json.dumps(settings)):
            raise ConfigError(f"{folder} holds another analysis (other settings); choose name=... or delete it")
    _claim(folder, settings)
    launcher_args = list(launcher_args or [])
    summary: dict = {"method": cfg.method, "replicates": cfg.replicates, "scale": cfg.population.scale,
                     "factors": [f.name for f in fs], "screen": cfg.screen or None}
    writer = RunWriter(folder / "analysis")
    try:
        if cfg.method == "invert":
            report = _invert(cfg, fs, folder, launcher_args, writer, summary, echo)
        elif cfg.method == "sobol" and _use_emulator(cfg, fs, echo):
            report = _sobol_emulated(cfg, fs, folder, settings, launcher_args, writer, summary, echo)
        elif cfg.method == "emulator":
            report = _emulator_store(cfg, fs, folder, settings, launcher_args, writer, summary, echo)
        else:
            report = _on_model(cfg, fs, folder, settings, launcher_args, writer, summary, echo)
        write_json(writer.path("summary.json"), summary)
        path = writer.commit({"task": "analyze", "command": command, "settings": settings,
                              "packages": package_versions(), "code": code_version()}, replace=True)
    except BaseException:
        writer.abort()
        raise
    echo((path / report).read_text(encoding="utf-8")[:3000])
    echo(f"analysis: {path}")
    return path


def _use_emulator(cfg, fs, echo) -> bool:
    points = cfg.sobol_n * (len(fs) + 2)
    minutes = model_minutes(points, cfg)
    use = cfg.emulator == "true" or (cfg.emulator == "auto" and minutes > cfg.emulator_budget_minutes)
    echo(f"analyze: Sobol on the model needs {points} points x {cfg.replicates} replicates, about {minutes:.0f} min here "
         f"(budget emulator_budget_minutes={cfg.emulator_budget_minutes:g}); "
         + ("fitting an emulator instead" if use else "running them on the model"))
    return use


def _index_tables(cfg, prob: dict, x: np.ndarray, out: pd.DataFrame, outputs: list[str], source: str) -> pd.DataFrame:
    """Indices per output; an output constant over every point has none (no variance to apportion)."""
    tables = []
    for col in outputs:
        y = out[col].to_numpy(float)
        if np.ptp(y) == 0:
            continue
        t = (methods.morris_indices(prob, x, y, cfg.levels, seed=cfg.seed % 2 ** 32)
             if cfg.method == "morris" else methods.sobol_indices(prob, y, seed=cfg.seed % 2 ** 32))
        t.insert(0, "output", col)
        tables.append(t)
    cols = ["output", "factor", "mu_star", "mu_star_conf", "sigma", "mu"] if cfg.method == "morris" else \
        ["output", "factor", "S1", "S1_conf", "ST", "ST_conf"]
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=cols)
    table["source"] = source
    return table


def _write_indices(cfg, fs, table: pd.DataFrame, writer: RunWriter, outputs: list[str], source: str,
                   extra_md: str = "") -> str:
    table.to_parquet(writer.path("indices.parquet"), index=False)
    constant = [c for c in outputs if c not in set(table["output"])]
    writer.path("indices.md").write_text(_indices_markdown(table, cfg, fs, source, constant) + extra_md, encoding="utf-8")
    from simmodel.report import plots

    for col in [c for c in table["output"].unique() if c.endswith("_2027_p_met") or c.endswith("_2027_median")]:
        plots.save(plots.sensitivity_bars(table[table["output"] == col], cfg.method, col),
                   writer.path(f"{cfg.method}_{col}.png"))
    return "indices.md"


def _on_model(cfg, fs, folder, settings, launcher_args, writer, summary, echo) -> str:
    """Morris, Sobol or PRIM with every point evaluated on the model."""
    x = sample(cfg, fs)
    out = evaluate_points(folder, fs, x, {"method": cfg.method, "settings": settings, "range_rule": space.RANGE_RULE},
                          cfg, launcher_args, echo)
    x = read_design(folder / "design")[1]
    pd.concat([x.reset_index(drop=True), out.reset_index(drop=True)], axis=1).to_parquet(
        writer.path("outputs.parquet"), index=False)
    prob = space.problem(fs)
    outputs = [c for c in out.columns if c != "source"]
    summary.update(points=len(x), source=SOURCE)
    if cfg.method in ("morris", "sobol"):
        table = _index_tables(cfg, prob, x.to_numpy(float), out, outputs, SOURCE)
        return _write_indices(cfg, fs, table, writer, outputs, SOURCE)
    ok = np.ones(len(out), bool)
    for col in [c for c in outputs if c.endswith("_2027_p_met")]:
        ok &= out[col].to_numpy(float) >= cfg.p_level
    res = methods.prim(x, ok, threshold=PRIM_DENSITY)
    summary["prim"] = {k: v for k, v in res.items() if k != "trajectory"}
    summary["prim"]["success"] = f"every 2027 target met with probability >= {cfg.p_level:g}"
    if not res["trajectory"].empty:
        res["trajectory"].to_csv(writer.path("peeling_trajectory.csv"), index=False)
        from simmodel.report import plots

        plots.save(plots.peeling_trajectory(res["trajectory"], res.get("box_index")), writer.path("peeling_trajectory.png"))
    writer.path("boxes.md").write_text(_prim_markdown(summary["prim"], fs, len(x)), encoding="utf-8")
    return "boxes.md"


def _train_emulator(cfg, fs, folder, settings, launcher_args, writer, echo, *, store: bool):
    """Model runs on a Latin hypercube (``<folder>/train/``), then a Gaussian process per output
    validated on held-out runs; writes outputs.parquet and emulator_validation.parquet. Returns the
    points as the model ran them (DataFrame), their outputs, the output names, the emulator and
    its validation table. ``store``: for an emulator kept on disk (method=emulator): fitted on the
    values the model ran (integers rounded, a switch 0 or 1), every non-constant output fitted
    whatever its error, and the kernel fitted once, on the training share, so that the stored
    kernel is the validated one; else as Sobol on the emulator needs it."""
    from simmodel.analysis import emulator

    prob = space.problem(fs)
    n_train = cfg.emulator_points or max(20, emulator.POINTS_PER_FACTOR * len(fs))
    x = methods.lhs_design(prob, n_train, seed=cfg.seed % 2 ** 32)
    out = evaluate_points(folder / "train", fs, x, {"method": "emulator training (Latin hypercube)", "settings": settings,
                                                    "range_rule": space.RANGE_RULE}, cfg, launcher_args, echo)
    x = read_design(folder / "train" / "design")[1]
    if store:
        x = pd.DataFrame(space.effective(fs, x.to_numpy(float)), columns=x.columns)
    pd.concat([x.reset_index(drop=True), out.reset_index(drop=True)], axis=1).to_parquet(
        writer.path("outputs.parquet"), index=False)
    outputs = [c for c in out.columns if c != "source"]
    bounds = np.array(prob["bounds"], float)
    echo(f"analyze: fitting a Gaussian process per output ({len(outputs)} outputs, {n_train} points, {len(fs)} factors)")
    emu, validation = emulator.validate_and_fit(x.to_numpy(float), out[outputs], bounds, holdout=cfg.emulator_holdout,
                                                min_q2=cfg.emulator_min_q2, seed=cfg.seed % 2 ** 32, fit_refused=store,
                                                reoptimise=not store, workers=_cores())
    validation["source"] = SOURCE  # the errors are measured against model runs
    validation.to_parquet(writer.path("emulator_validation.parquet"), index=False)
    echo(f"analyze: emulator fitted on {n_train} model points; {int(validation['used'].sum())} of {len(outputs)} outputs "
         f"pass held-out Q^2 >= {cfg.emulator_min_q2:g}")
    return x, out, outputs, emu, validation


def _validation_lines(validation: pd.DataFrame) -> list[str]:
    lines = ["| output | held-out RMSE | largest error | Q^2 | used |", "|---|---|---|---|---|"]
    return lines + [f"| {r.output} | {r.rmse:.3g} | {r.max_abs_error:.3g} | {r.q2:.3f} | "
                    f"{'yes' if r.used else 'no: ' + r.note} |" for r in validation.itertuples()]


def _sobol_emulated(cfg, fs, folder, settings, launcher_args, writer, summary, echo) -> str:
    """Sobol indices on a Gaussian-process emulator trained on model runs and validated on held-out
    ones; outputs the emulator does not predict well enough get no indices."""
    x, out, outputs, emu, validation = _train_emulator(cfg, fs, folder, settings, launcher_args, writer, echo, store=False)
    n_train = len(x)
    prob = space.problem(fs)
    used = validation.loc[validation["used"], "output"].tolist()
    xs = methods.sobol_design(prob, cfg.emulator_sobol_n, seed=cfg.seed % 2 ** 32)
    emulated = pd.DataFrame({c: emu.predict(xs, c) for c in used})
    summary.update(points=n_train, source=f"{SOURCE} ({n_train} training points) and {EMULATED} (Sobol indices)",
                   emulator={"kind": "Gaussian process (scikit-learn, Matern 5/2, ARD, white noise)",
                             "training_points": n_train, "holdout_share": cfg.emulator_holdout,
                             "min_q2": cfg.emulator_min_q2, "sobol_n": cfg.emulator_sobol_n,
                             "outputs_used": used, "outputs_refused": [c for c in outputs if c not in used]})
    lines = ["", "", "## Emulator validation (held-out model runs)", "",
             f"A Gaussian process per output, fitted on {validation['n_train'].iloc[0]} model runs and tested on "
             f"{validation['n_holdout'].iloc[0]} held-out ones; used where Q^2 >= {cfg.emulator_min_q2:g}. The Sobol "
             f"indices above are computed on the emulator ({EMULATED}) at {len(xs)} points; outputs marked 'no' have "
             "no indices: run `emulator=false` for them on the model.", ""]
    lines += _validation_lines(validation)
    table = _index_tables(cfg, prob, xs, emulated, used, EMULATED)
    return _write_indices(cfg, fs, table, writer, used, EMULATED, "\n".join(lines) + "\n")


def _point_settings(runs_dir: Path) -> dict:
    """What the model points ran with, from a complete point's own manifest (so a scenario's
    population or the run default of calibration is recorded as it was, not as assumed)."""
    for job in sweep.job_dirs(runs_dir).values():
        try:
            manifest = read_manifest(job)
        except ResultsError:
            continue
        c = manifest["config"]
        return {"scenario": c["scenario_slug"], "population": c["population"], "replicates": c["replicates"],
                "seed": c["seed"], "calibration": c["calibration"], "end_year": c["end_year"],
                "data_files": manifest.get("data_files", {}), "run_code": manifest.get("code", {})}
    raise SimmodelError(f"{runs_dir}: no complete point to read the run settings from; re-run the command")


def _scenario_values(slug: str) -> dict[str, dict[str, object]]:
    """Every lever and uncertainty as scenario ``slug`` sets it (scenarios/<slug>.yaml over the
    registry defaults), enum levers by their choice."""
    import yaml

    from simmodel.config import PROJECT_ROOT
    from simmodel.levers import Levers, Uncertainties, defaults

    path = PROJECT_ROOT / "scenarios" / f"{slug}.yaml"
    try:
        # a scenario file is plain data (simmodel.cli.check_scenario_file refused anything else
        # before the points ran): safe_load builds no objects
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"scenario = {slug!r}: cannot read {path} ({exc})") from None
    out = {}
    for group, cls in (("levers", Levers), ("uncertainties", Uncertainties)):
        values = {k: getattr(v, "value", v) for k, v in defaults(cls).items()}
        values.update((data.get(group) or {}) if isinstance(data, dict) else {})
        out[group] = values
    return out


def _start(fs: list[space.Factor], scenario: dict) -> dict[str, float]:
    """Each factor's value in the scenario, as a number of the design (a switch 0 or 1)."""
    from simmodel.levers import Levers, specs

    out = {}
    for f in fs:
        v = scenario[f.group][f.name]
        out[f.name] = float(specs(Levers)[f.name].choices.index(v)) if f.kind == "switch" else float(v)
    return out


def _emulator_store(cfg, fs, folder, settings, launcher_args, writer, summary, echo) -> str:
    """The emulator simmodel explore previews with: trained on model runs, validated on held-out
    ones, stored as plain arrays and JSON (simmodel.analysis.emulator.load_emulator reads it)."""
    from simmodel.analysis import emulator

    x, out, outputs, emu, validation = _train_emulator(cfg, fs, folder, settings, launcher_args, writer, echo, store=True)
    run = _point_settings(folder / "train" / "runs")
    scenario = _scenario_values(run["scenario"])
    start = _start(fs, scenario)
    stored = {**run, "scenario_values": scenario, "n_points": len(x), "holdout_share": cfg.emulator_holdout,
              "min_q2": cfg.emulator_min_q2, "range_rule": space.RANGE_RULE, "analysis": settings}
    emulator.write_emulator(writer.path(""), fs, start, emu, x.to_numpy(float), out[outputs], validation, stored,
                            min_q2=cfg.emulator_min_q2)
    accepted = validation.loc[validation["used"], "output"].tolist()
    summary.update(points=len(x), source=f"{SOURCE} ({len(x)} training points)",
                   emulator={"kind": emulator.EMULATOR_KIND, "training_points": len(x),
                             "holdout_share": cfg.emulator_holdout, "min_q2": cfg.emulator_min_q2,
                             "outputs_accepted": accepted, "outputs_below_min_q2": [c for c in outputs if c not in accepted],
                             "files": [emulator.EMULATOR_NPZ, emulator.EMULATOR_JSON]})
    lines = [f"# Emulator for the explorer: {len(fs)} factors, {len(x)} model points", "",
             f"Scenario {run['scenario']}, {run['replicates']} replicates per point at population scale "
             f"{run['population']['scale']:g}, calibration {run['calibration']}, seed {run['seed']} (common random "
             f"numbers). A Gaussian process per output on {validation['n_train'].iloc[0]} points, its error measured on "
             f"{validation['n_holdout'].iloc[0]} held-out model runs, then conditioned on all {len(x)}. Every "
             f"non-constant output is stored; 'used' says whether its held-out Q^2 reaches emulator_min_q2 = "
             f"{cfg.emulator_min_q2:g} (the explorer applies its own threshold). Load it with "
             "`simmodel.analysis.emulator.load_emulator(folder)`.", "", "## Held-out validation", ""]
    lines += _validation_lines(validation)
    lines += ["", "## Factors (natural units; the scenario's value is where an unset factor is held)", "",
              "| factor | article | unit | low | high | scenario |", "|---|---|---|---|---|---|"]
    lines += [f"| {f.name} | {f.article or '-'} | {f.unit} | {f.low:g} | {f.high:g} | {_show(f, start[f.name])} |" for f in fs]
    writer.path("emulator.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return "emulator.md"


def _cores() -> int:
    import os

    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def _invert(cfg, fs, folder, launcher_args, writer, summary, echo) -> str:
    """The least fiscal-cost lever package reaching P(target met) >= p_level, and the frontier."""
    from simmodel.analysis import invert

    p_col = f"{cfg.target}_{cfg.target_year}_p_met"
    bounds = np.array(space.problem(fs)["bounds"], float)
    meta = {"method": "invert", "range_rule": space.RANGE_RULE}

    def evaluate_batch(tag: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        out = evaluate_points(folder / "points" / tag, fs, x, meta, cfg, launcher_args, echo)
        return out["fiscal_cost_cny_100m"].to_numpy(float), out[p_col].to_numpy(float)

    settings = invert.SearchSettings(p_level=cfg.p_level, batch=cfg.batch, generations=cfg.generations,
                                     polish_rounds=cfg.polish_rounds, seed=cfg.seed % 2 ** 32)
    start = np.array([f.baseline for f in fs], float)
    res = invert.search(evaluate_batch, [f.name for f in fs], bounds, [f.kind for f in fs], start, settings, echo)
    ev = res["evaluations"]
    ev["source"] = SOURCE
    ev.to_parquet(writer.path("evaluations.parquet"), index=False)
    front = ev.iloc[res["frontier"]].reset_index(drop=True)
    front.to_parquet(writer.path("frontier.parquet"), index=False)
    best = res["best"]
    from simmodel.report import plots

    plots.save(plots.frontier_chart(ev, res["frontier"], best, cfg.p_level, target=f"{cfg.target} {cfg.target_year}"),
               writer.path("frontier.png"))
    summary.update(points=len(ev), source=SOURCE, target=cfg.target, target_year=cfg.target_year, p_level=cfg.p_level,
                   cost="fiscal cost 2025-2030, grants plus fund commitments, median over replicates (CNY 100 m)",
                   baseline={"fiscal_cost_cny_100m": float(ev["fiscal_cost_cny_100m"].iloc[0]),
                             "p_met": float(ev["p_met"].iloc[0])},
                   package=None if best is None else {
                       "levers": {f.name: _natural(f, ev[f.name].iloc[best]) for f in fs},
                       "fiscal_cost_cny_100m": float(ev["fiscal_cost_cny_100m"].iloc[best]),
                       "p_met": float(ev["p_met"].iloc[best]),
                       "p_met_interval": list(wilson_interval(int(round(ev["p_met"].iloc[best] * cfg.replicates)),
                                                             cfg.replicates))},
                   frontier=front[["fiscal_cost_cny_100m", "p_met"]].to_dict("records"))
    writer.path("package.md").write_text(_package_markdown(cfg, fs, ev, best, front), encoding="utf-8")
    return "package.md"


def _natural(f: space.Factor, v: float):
    """A factor's value as the config holds it: an integer, a regime's name, or a float."""
    v = space.values([f], [v])[f.group][f.name]
    return v.value if f.kind == "switch" else v


def _show(f: space.Factor, v: float) -> str:
    v = _natural(f, v)
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def _package_markdown(cfg, fs, ev: pd.DataFrame, best: int | None, front: pd.DataFrame) -> str:
    target = f"{cfg.target} {cfg.target_year}"
    base = ev.iloc[0]
    lines = [f"# The least-cost package for {target} with P(met) >= {cfg.p_level:g}", "",
             f"{len(ev)} lever packages, every one evaluated on the model (source: {SOURCE}), {cfg.replicates} replicates each at scale "
             f"{cfg.population.scale:g}, the same seeds for every package (common random numbers). Cost: fiscal cost 2025-2030, "
             "grants plus fund commitments, median over replicates, CNY 100 m. Levers varied over: "
             f"{space.RANGE_RULE}; the others stay at the scenario's values ({cfg.scenario}).", "",
             f"Baseline package: cost {base['fiscal_cost_cny_100m']:.4g}, P(met) {base['p_met']:.2f}.", ""]
    if best is None:
        top = ev["p_met"].idxmax()
        lines += [f"**No package evaluated reached P(met) >= {cfg.p_level:g}.** The most likely one reached "
                  f"{ev['p_met'].iloc[top]:.2f} at cost {ev['fiscal_cost_cny_100m'].iloc[top]:.4g}: within these "
                  "ranges the target may be out of reach; widen them (ranges.NAME=[low,high]) or search longer "
                  "(generations=...).", ""]
    else:
        b = ev.iloc[best]
        lo, hi = wilson_interval(int(round(b["p_met"] * cfg.replicates)), cfg.replicates)
        lines += [f"**Least-cost package: cost {b['fiscal_cost_cny_100m']:.4g} "
                  f"({b['fiscal_cost_cny_100m'] - base['fiscal_cost_cny_100m']:+.4g} against the baseline), "
                  f"P(met) {b['p_met']:.2f} (95 % interval {lo:.2f}-{hi:.2f} from {cfg.replicates} replicates).**", "",
                  "| lever | article | unit | baseline | package |", "|---|---|---|---|---|"]
        for f in fs:
            lines.append(f"| {f.name} | {f.article} | {f.unit} | {_show(f, f.baseline)} | {_show(f, b[f.name])} |")
        lines.append("")
    lines += ["## Cost-probability frontier", "", "The cheapest package found for each level of P(met) (no package "
              "found is both cheaper and more likely).", "", "| fiscal cost (CNY 100 m) | P(met) |", "|---|---|"]
    lines += [f"| {r.fiscal_cost_cny_100m:.4g} | {r.p_met:.2f} |" for r in front.itertuples()]
    return "\n".join(lines + [""])


def _indices_markdown(table: pd.DataFrame, cfg, fs, source: str, constant: list[str] = ()) -> str:
    metric, conf = ("mu_star", "mu_star_conf") if cfg.method == "morris" else ("ST", "ST_conf")
    how = (f"the model ({SOURCE}), {cfg.replicates} replicates per point" if source == SOURCE else
           f"the {EMULATED} trained on model runs of {cfg.replicates} replicates per point (validation below)")
    lines = [f"# Which levers matter: {cfg.method} ({table['output'].nunique()} outputs, {len(fs)} factors)", "",
             f"Every number comes from {how} at scale {cfg.population.scale:g}, common random numbers. "
             f"Factor ranges: {space.RANGE_RULE}.", ""]
    if constant:
        lines += ["Constant over every point, so no indices (nothing to apportion): " + ", ".join(constant) + ".", ""]
    for col in [c for c in table["output"].unique() if "_2027_" in c]:
        t = table[table["output"] == col].head(10)
        lines += [f"## {col}", "", f"| factor | {metric} | 95 % half-width |"
                  + (" S1 | S1 half-width |" if cfg.method == "sobol" else " sigma |"), "|---|---|---|---|"
                  + ("---|" if cfg.method == "sobol" else "")]
        for r in t.itertuples():
            extra = f" {r.S1:.3f} | {r.S1_conf:.3f} |" if cfg.method == "sobol" else f" {r.sigma:.3g} |"
            lines.append(f"| {r.factor} | {getattr(r, metric):.3g} | {getattr(r, conf):.3g} |{extra}")
        lines.append("")
    return "\n".join(lines)


def _prim_markdown(p: dict, fs, n: int) -> str:
    lines = ["# Scenario discovery (PRIM)", "", f"{n} Latin-hypercube points; success: {p['success']}; "
             f"base rate {p['base_rate']:.2f}. Every number comes from the model ({SOURCE}).", ""]
    if p.get("box") is None:
        return "\n".join(lines + [p.get("note") or "No box found.", ""])
    lines += [f"Box: coverage {p['coverage']:.2f}, density {p['density']:.2f}, mass {p['mass']:.2f}.", "",
              "| restricted factor | low | high |", "|---|---|---|"]
    lines += [f"| {k} | {lo:g} | {hi:g} |" for k, (lo, hi) in p["box"].items()]
    return "\n".join(lines + [""])
