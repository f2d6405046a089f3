"""Indirect inference: choose behavioural parameters so that the model's auxiliary statistics match
the history's, with common random numbers, a scipy optimiser and asymptotic standard errors.

Loss (Gourieroux, Monfort and Renault 1993):  L(theta) = sum_i ((mbar_i(theta) - m_i) / se_i)^2
+ sum_b max(0, b - mbar_b(theta))^2 / s_b^2, where m_i are the observed moments with standard errors
se_i (moments from different series are treated as independent), mbar_i the mean over R replicates
with fixed seeds, and b the one-sided bounds. With this weighting the minimised loss divided by
(1 + 1/R) is asymptotically chi-squared with (moments - parameters) degrees of freedom (the J test),
and Var(theta) = (1 + 1/R) (G' W G)^-1 with G the Jacobian of mbar, W = diag(1/se^2).

The model runs under the pre-2025 levers (the no_new_policy values): the history was made under them.
The statistics of the simulated years stand for those of the historical years (an assumption of
stable growth processes, stated in every report).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from simmodel.calibration.moments import Bound, Moment, simulated_statistics
from simmodel.config import DEFAULT_ESTIMATED
from simmodel.levers import Levers, Uncertainties, no_new_policy_values
from simmodel.model import ModelInputs, SimModel
from simmodel.params import ParamInfo



@dataclass
class FitSettings:
    estimated: tuple[str, ...] = DEFAULT_ESTIMATED
    replicates: int = 8
    scale: float = 0.1
    seed: int = 20240101
    max_evaluations: int = 200
    workers: int = 0
    end_year: int = 2030


@dataclass
class FitResult:
    names: tuple[str, ...]
    prior: np.ndarray
    low: np.ndarray
    high: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    cov: np.ndarray
    loss: float
    j_stat: float
    j_df: int
    j_pvalue: float
    n_evaluations: int
    converged: bool
    message: str
    seconds: float
    trace: list[tuple[int, float, list[float]]]
    sim_mean: dict[str, float]
    sim_sd: dict[str, float]
    jacobian: np.ndarray
    warnings: list[str] = field(default_factory=list)
    sim_paths: dict[str, np.ndarray] = field(default_factory=dict)  # indicator -> replicate x year
    sim_years: np.ndarray = field(default_factory=lambda: np.zeros(0))


_STATE: dict = {}


def _init_worker(inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties, scale: float) -> None:
    _STATE.update(inputs=inputs, levers=levers, uncertainties=uncertainties, scale=scale)


def _simulate(args) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    values, names, seed = args
    st = _STATE
    params = dataclasses.replace(st["inputs"].params, **dict(zip(names, values)))
    inputs = dataclasses.replace(st["inputs"], params=params)
    traj = SimModel(inputs, st["levers"], st["uncertainties"], scale=st["scale"], seed=seed).run()
    keep = ("gdp_cny_100m", "digital_core_va_cny_100m", "t3_digital_core_share_gdp_pct", "above_size_industry_va_cny_100m",
            "n_high_tech", "rd_intensity_pct", "sei_va_cny_100m", "t2_sei_share_pct")
    return simulated_statistics(traj), {k: traj[k].to_numpy(float) for k in keep} | {"year": traj.index.to_numpy(int)}


class Simulator:
    """Runs R replicates at a parameter vector, on fixed seeds, in a persistent worker pool."""

    def __init__(self, inputs: ModelInputs, settings: FitSettings):
        self.settings = settings
        self.levers = dataclasses.replace(Levers(), **no_new_policy_values())
        self.uncertainties = Uncertainties()
        self.inputs = dataclasses.replace(inputs, end_year=settings.end_year)
        self.seeds = np.random.SeedSequence(settings.seed).spawn(settings.replicates)
        workers = settings.workers or os.cpu_count() or 1
        self.workers = max(1, min(workers, settings.replicates))
        self.pool = None
        if self.workers > 1:
            ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
            self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                            initargs=(self.inputs, self.levers, self.uncertainties, settings.scale))
        else:
            _init_worker(self.inputs, self.levers, self.uncertainties, settings.scale)
        self.n_evaluations = 0

    def run(self, names: tuple[str, ...], values: np.ndarray) -> list[tuple[dict[str, float], dict[str, np.ndarray]]]:
        self.n_evaluations += 1
        jobs = [(tuple(float(v) for v in values), names, s) for s in self.seeds]
        if self.pool is None:
            return [_simulate(j) for j in jobs]
        return list(self.pool.map(_simulate, jobs))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()


def _to_z(x, lo, hi):
    u = np.clip((x - lo) / (hi - lo), 1e-6, 1 - 1e-6)
    return np.log(u / (1 - u))


def _from_z(z, lo, hi):
    return lo + (hi - lo) / (1 + np.exp(-z))


def fit(inputs: ModelInputs, table: dict[str, ParamInfo], moments: list[Moment], bounds: list[Bound],
        settings: FitSettings, progress=None) -> FitResult:
    """Minimise the indirect-inference loss over the estimated parameters; standard errors at the
    optimum from a central-difference Jacobian on the same seeds."""
    t0 = time.perf_counter()
    names = tuple(settings.estimated)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise KeyError(f"cannot estimate unknown parameters: {unknown}")
    lo = np.array([table[n].low for n in names])
    hi = np.array([table[n].high for n in names])
    prior = np.array([table[n].value for n in names])
    m_obs = np.array([m.value for m in moments])
    se_obs = np.array([m.se for m in moments])
    mnames = [m.name for m in moments]
    sim = Simulator(inputs, settings)
    trace: list[tuple[int, float, list[float]]] = []
    R = settings.replicates

    def stats_at(x: np.ndarray):
        rows = sim.run(names, x)
        mat = {k: np.array([r[0][k] for r in rows]) for k in rows[0][0]}
        return mat, rows

    def loss_of(mat) -> float:
        mbar = np.array([mat[k].mean() for k in mnames])
        loss = float((((mbar - m_obs) / se_obs) ** 2).sum())
        for b in bounds:
            v = mat[b.name]
            s_b = max(v.std(ddof=1) / math.sqrt(R) if R > 1 else 0.0, 0.005)
            loss += max(0.0, b.value - v.mean()) ** 2 / s_b ** 2
        return loss

    def objective(z: np.ndarray) -> float:
        x = _from_z(z, lo, hi)
        mat, _ = stats_at(x)
        loss = loss_of(mat)
        trace.append((sim.n_evaluations, loss, [float(v) for v in x]))
        if progress:
            progress(sim.n_evaluations, loss)
        return loss

    try:
        z0 = _to_z(prior, lo, hi)
        # scipy's default simplex perturbs each coordinate by 5 % of its value (0.00025 at zero): far
        # too small for a simulated loss; start with steps of 0.6 logit units (about 15 % of a range)
        simplex = np.vstack([z0] + [z0 + 0.6 * np.eye(len(z0))[j] for j in range(len(z0))])
        res = optimize.minimize(objective, z0, method="Nelder-Mead",
                                options={"maxfev": settings.max_evaluations, "xatol": 1e-2, "fatol": 1e-2, "adaptive": True,
                                         "initial_simplex": simplex})
        best = min(trace, key=lambda t: t[1])
        x_hat = np.array(best[2])
        mat, rows = stats_at(x_hat)
        loss = loss_of(mat)
        # Jacobian of the mean moments by central differences on the same seeds
        P, M = len(names), len(mnames)
        G = np.zeros((M, P))
        for j in range(P):
            h = 0.05 * (hi[j] - lo[j])
            xp, xm = x_hat.copy(), x_hat.copy()
            xp[j] = min(x_hat[j] + h, hi[j])
            xm[j] = max(x_hat[j] - h, lo[j])
            mp_, _ = stats_at(xp)
            mm_, _ = stats_at(xm)
            G[:, j] = (np.array([mp_[k].mean() for k in mnames]) - np.array([mm_[k].mean() for k in mnames])) / (xp[j] - xm[j])
    finally:
        sim.close()
    W = np.diag(1.0 / se_obs ** 2)
    info = G.T @ W @ G
    warn: list[str] = []
    try:
        cov = (1 + 1 / R) * np.linalg.inv(info)
        if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) < 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cov = (1 + 1 / R) * np.linalg.pinv(info)
        warn.append("the information matrix G'WG is singular: some parameters are not identified by these moments; "
                    "standard errors use its pseudo-inverse")
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    for j, n in enumerate(names):
        width = hi[j] - lo[j]
        if x_hat[j] - lo[j] < 0.01 * width or hi[j] - x_hat[j] < 0.01 * width:
            warn.append(f"{n}: estimate {x_hat[j]:.4g} is at the edge of its plausible range [{lo[j]:g}, {hi[j]:g}]")
        if not np.isfinite(se[j]) or se[j] > 0.5 * width:
            warn.append(f"{n}: weakly identified (standard error {se[j]:.3g} is more than half its plausible range {width:g})")
    df = len(mnames) - len(names)
    j_stat = loss / (1 + 1 / R)
    j_p = float(stats.chi2.sf(j_stat, df)) if df > 0 else float("nan")
    paths = {k: np.array([r[1][k] for r in rows]) for k in rows[0][1] if k != "year"}
    return FitResult(
        names=names, prior=prior, low=lo, high=hi, estimate=x_hat, se=se, cov=cov, loss=loss, j_stat=j_stat, j_df=df,
        j_pvalue=j_p, n_evaluations=sim.n_evaluations, converged=bool(res.success), message=str(res.message),
        seconds=time.perf_counter() - t0, trace=trace,
        sim_mean={k: float(v.mean()) for k, v in mat.items()}, sim_sd={k: float(v.std(ddof=1)) if R > 1 else 0.0 for k, v in mat.items()},
        jacobian=G, warnings=warn, sim_paths=paths, sim_years=rows[0][1]["year"])
