"""``simmodel analyze``: sample the space, evaluate the points as a sweep, analyse.

The points are evaluated by ``simmodel run -m design=<design> design_row=range(0,N)``, a sweep
like any other: it goes through whichever Hydra launcher the command names (basic, joblib, Ray,
SLURM), skips the points already complete when re-run, and records failures. Every point uses the
same root seed, so replicate r of every point shares its random numbers (common random numbers)
and differences between points come from the factors, not from noise.

``<output_root>/analyze/<name>/`` holds ``design/``, ``runs/`` (the sweep) and ``analysis/``:
``outputs.parquet`` (each point's factors and results), ``indices.parquet`` and ``indices.md``
(Morris or Sobol indices per output) or ``prim.json`` and ``boxes.md`` (PRIM), figures, and a
manifest. Every number in them comes from the model (column ``source``): no emulator is used.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel import sweep
from simmodel.analysis import methods, space
from simmodel.analysis.design import read_design, write_design
from simmodel.config import ANALYZE_METHODS, plain
from simmodel.errors import ConfigError, SimmodelError
from simmodel.results import RunWriter, code_version, package_versions, write_json

SOURCE = "model"  # where every number of an analysis comes from (an emulator would say so)


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
    if not 0 < cfg.scale <= 10:
        raise ConfigError(f"scale = {cfg.scale}: allowed (0, 10]")


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
    name = cfg.name or f"{cfg.method}-{digest}"
    return (Path(cfg.output_root) / "analyze" / name).absolute(), settings


def evaluate(design_dir: Path, runs_dir: Path, n: int, cfg, launcher_args: list[str], echo=print) -> None:
    """Run the design's points as a sweep through the command line (and so through the launcher)."""
    args = [sys.executable, "-m", "simmodel", "run", "-m", f"scenario={cfg.scenario}", f"design={design_dir}",
            f"design_row=range(0,{n})", f"replicates={cfg.replicates}", f"population.scale={cfg.scale}",
            f"seed={cfg.seed}", "assumption_sensitivity.enabled=false", "output.plots=false",
            "output.progress=false", f"hydra.sweep.dir={runs_dir}", *launcher_args]
    echo(f"analyze: evaluating {n} points x {cfg.replicates} replicates at scale {cfg.scale:g} -> {runs_dir}")
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


def analyze(cfg, *, launcher_args: list[str] | None = None, command: str = "", echo=print) -> Path:
    """The whole analysis; returns the analysis folder."""
    _check(cfg)
    fs = space.factors(cfg.factors or None, dict(cfg.ranges))
    folder, settings = analysis_dir(cfg)
    design_dir = folder / "design"
    if not (design_dir / "manifest.json").is_file():
        x = sample(cfg, fs)
        write_design(design_dir, fs, x, {"method": cfg.method, "settings": settings, "range_rule": space.RANGE_RULE})
    fs, x, meta = read_design(design_dir)
    if meta.get("settings") != json.loads(json.dumps(settings)):
        raise ConfigError(f"{folder} holds another analysis (other settings); choose name=... or delete it")
    evaluate(design_dir, folder / "runs", len(x), cfg, list(launcher_args or []), echo)
    out = collect(folder / "runs", len(x))
    data = pd.concat([x.reset_index(drop=True), out.reset_index(drop=True)], axis=1)
    prob = space.problem(fs)
    outputs = [c for c in out.columns if c != "source"]
    writer = RunWriter(folder / "analysis")
    try:
        data.to_parquet(writer.path("outputs.parquet"), index=False)
        summary: dict = {"method": cfg.method, "points": len(x), "replicates": cfg.replicates, "scale": cfg.scale,
                         "source": SOURCE, "factors": [f.name for f in fs]}
        if cfg.method in ("morris", "sobol"):
            tables = []
            for col in outputs:
                y = out[col].to_numpy(float)
                t = (methods.morris_indices(prob, x.to_numpy(float), y, cfg.levels, seed=cfg.seed % 2 ** 32)
                     if cfg.method == "morris" else methods.sobol_indices(prob, y, seed=cfg.seed % 2 ** 32))
                t.insert(0, "output", col)
                tables.append(t)
            table = pd.concat(tables, ignore_index=True)
            table["source"] = SOURCE
            table.to_parquet(writer.path("indices.parquet"), index=False)
            writer.path("indices.md").write_text(_indices_markdown(table, cfg, fs), encoding="utf-8")
            from simmodel.report import plots

            for col in [c for c in outputs if c.endswith("_2027_p_met") or c.endswith("_2027_median")]:
                plots.save(plots.sensitivity_bars(table[table["output"] == col], cfg.method, col),
                           writer.path(f"{cfg.method}_{col}.png"))
        else:
            ok = np.ones(len(out), bool)
            for col in [c for c in outputs if c.endswith("_2027_p_met")]:
                ok &= out[col].to_numpy(float) >= cfg.p_level
            res = methods.prim(x, ok, threshold=0.8)
            summary["prim"] = {k: v for k, v in res.items() if k != "trajectory"}
            summary["prim"]["success"] = f"every 2027 target met with probability >= {cfg.p_level:g}"
            if not res["trajectory"].empty:
                res["trajectory"].to_csv(writer.path("peeling_trajectory.csv"), index=False)
                from simmodel.report import plots

                plots.save(plots.peeling_trajectory(res["trajectory"], res.get("box_index")),
                           writer.path("peeling_trajectory.png"))
            writer.path("boxes.md").write_text(_prim_markdown(summary["prim"], fs, len(x)), encoding="utf-8")
        write_json(writer.path("summary.json"), summary)
        path = writer.commit({"task": "analyze", "command": command, "settings": settings,
                              "packages": package_versions(), "code": code_version()}, replace=True)
    except BaseException:
        writer.abort()
        raise
    echo((path / ("indices.md" if cfg.method != "prim" else "boxes.md")).read_text(encoding="utf-8")[:3000])
    echo(f"analysis: {path}")
    return path


def _indices_markdown(table: pd.DataFrame, cfg, fs) -> str:
    metric, conf = ("mu_star", "mu_star_conf") if cfg.method == "morris" else ("ST", "ST_conf")
    lines = [f"# Which levers matter: {cfg.method} ({table['output'].nunique()} outputs, {len(fs)} factors)", "",
             f"Every number comes from the model ({SOURCE}), {cfg.replicates} replicates per point at scale "
             f"{cfg.scale:g}, common random numbers. Factor ranges: {space.RANGE_RULE}.", ""]
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
