"""Monte Carlo replicates: seeds spawned from one root seed, optional worker processes.

Replicate r of every scenario gets the same SeedSequence child, so scenario differences are paired
(common random numbers). Results do not depend on the number of workers.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.config import RunConfig, resolve_path
from simmodel.data import check_base_year_complete, latest_full_year, load_base_year, load_indicators
from simmodel.errors import ConfigError
from simmodel.levers import Levers, Uncertainties
from simmodel.model import ModelInputs, SimModel
from simmodel.params import load_params
from simmodel.sectors import load_cities, load_sectors


def load_inputs(cfg: RunConfig) -> tuple[ModelInputs, pd.DataFrame]:
    """Read and validate every input file named in the config; returns the model inputs and the
    historical indicator table."""
    d = cfg.data
    history = load_indicators(resolve_path(d.indicators))
    base_year = cfg.base_year or latest_full_year(history)
    if base_year >= cfg.end_year:
        raise ConfigError(f"base_year {base_year} must be before end_year {cfg.end_year}")
    base = load_base_year(resolve_path(d.base_year), dict(cfg.population.overrides))
    check_base_year_complete(base, resolve_path(d.base_year))
    if base["gdp_cny_100m"].year != base_year:
        raise ConfigError(
            f"the base-year table {resolve_path(d.base_year)} describes {base['gdp_cny_100m'].year}, but the base year is "
            f"{base_year} ({'base_year=' + str(cfg.base_year) if cfg.base_year else 'the latest full-year GDP in ' + str(resolve_path(d.indicators))}); "
            f"give a base-year table for {base_year} (data.base_year=PATH) or set base_year={base['gdp_cny_100m'].year}")
    inputs = ModelInputs(
        sectors=load_sectors(resolve_path(d.sectors)), cities=load_cities(resolve_path(d.cities)), base=base,
        params=load_params(parameter_file(cfg), dict(cfg.params.overrides)),
        base_year=base_year, end_year=cfg.end_year)
    return inputs, history


def parameter_file(cfg: RunConfig) -> Path:
    """The parameter table the run uses: a calibration run's, or the priors (calibration=prior)."""
    if cfg.calibration == "prior":
        return resolve_path(cfg.data.parameters)
    from simmodel.calibration.runs import load_run

    return load_run(resolve_path(cfg.calibration_root), cfg.calibration).parameters_csv


@dataclass
class ParameterSampler:
    """Draws the calibrated parameters per replicate: normal with the run's covariance, truncated
    (by redrawing) to each parameter's plausible range; other parameters stay fixed."""

    names: tuple[str, ...]
    mean: np.ndarray
    cov: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def draw(self, seed: np.random.SeedSequence) -> dict[str, float]:
        # keyed on the replicate's seed: the same replicate draws the same parameters in every scenario
        rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed.entropy, spawn_key=tuple(seed.spawn_key) + (7919,))))
        for _ in range(1000):
            x = rng.multivariate_normal(self.mean, self.cov, method="eigh")
            if np.all(x >= self.low) and np.all(x <= self.high):
                return dict(zip(self.names, map(float, x)))
        return dict(zip(self.names, map(float, np.clip(x, self.low, self.high))))


def parameter_sampler(cfg: RunConfig) -> ParameterSampler | None:
    if not cfg.uncertainty.parameters or cfg.calibration == "prior":
        return None
    from simmodel.calibration.runs import load_run

    run = load_run(resolve_path(cfg.calibration_root), cfg.calibration)
    est = run.estimates.set_index("name")
    names = tuple(est.index)
    cov = run.covariance.loc[list(names), list(names)].to_numpy(float)
    return ParameterSampler(names, est["estimate"].to_numpy(float), cov, est["low"].to_numpy(float), est["high"].to_numpy(float))


@dataclass
class ReplicateResult:
    replicate: int
    trajectory: pd.DataFrame  # year x indicator
    fiscal_cost: dict[str, list[float]]  # lever -> CNY 100 m per simulated year


def replicate_seeds(root_seed: int, n: int) -> list[np.random.SeedSequence]:
    return np.random.SeedSequence(root_seed).spawn(n)


def run_one(inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties, scale: float,
            seed: np.random.SeedSequence, replicate: int, sampler: ParameterSampler | None = None) -> ReplicateResult:
    if sampler is not None:
        inputs = dataclasses.replace(inputs, params=dataclasses.replace(inputs.params, **sampler.draw(seed)))
    model = SimModel(inputs, levers, uncertainties, scale=scale, seed=seed)
    traj = model.run()
    return ReplicateResult(replicate, traj, model.fiscal_cost_by_lever())


_WORKER_STATE: dict = {}


def _worker_init(inputs, levers, uncertainties, scale, sampler):
    _WORKER_STATE.update(inputs=inputs, levers=levers, uncertainties=uncertainties, scale=scale, sampler=sampler)


def _worker_run(args):
    seed, r = args
    st = _WORKER_STATE
    return run_one(st["inputs"], st["levers"], st["uncertainties"], st["scale"], seed, r, st["sampler"])


def run_ensemble(inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties, *, scale: float, root_seed: int,
                 replicates: int, workers: int = 1, progress: Callable[[int], None] | None = None,
                 sampler: ParameterSampler | None = None) -> list[ReplicateResult]:
    """Run ``replicates`` replicates; ``progress(k)`` is called after each finished replicate."""
    seeds = replicate_seeds(root_seed, replicates)
    out: list[ReplicateResult] = []
    if workers == 0:
        workers = os.cpu_count() or 1
    workers = min(workers, replicates)
    if workers <= 1:
        for r, ss in enumerate(seeds):
            out.append(run_one(inputs, levers, uncertainties, scale, ss, r, sampler))
            if progress:
                progress(1)
        return out
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, os.cpu_count() or 1), mp_context=ctx, initializer=_worker_init,
                             initargs=(inputs, levers, uncertainties, scale, sampler)) as pool:
        for res in pool.map(_worker_run, [(ss, r) for r, ss in enumerate(seeds)]):
            out.append(res)
            if progress:
                progress(1)
    out.sort(key=lambda x: x.replicate)
    return out
