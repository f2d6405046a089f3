"""Calibration on the replayed history: the model is synthesised for the base year (2020) and lives
through the years after it under the policy of the time; its simulated rows are compared with the
observed rows of the same years (simmodel.calibration.moments.path_observations).

Estimation is a penalised (maximum a posteriori) fit by indirect inference with common random numbers:

  L(z) = sum_i ((mbar_i(z) - m_i) / s_i)^2 + sum_b max(0, b - mbar_b(z))^2 / s_b^2 + sum_j ((z_j - mu_j) / tau_j)^2

- z is each estimated parameter on the logit scale of its plausible range [low, high] (an estimate
  cannot leave the range); mu_j and tau_j are the mean and sd of the parameter's stated prior
  (parameters.csv: value, range and distribution) carried to that scale, so a parameter the data
  say nothing about stays at its prior and its posterior equals its prior (thin data degrade
  gracefully: issue 14, item 6);
- mbar_i is the mean of R replicates on fixed seeds; s_i^2 = se_i^2 + v_i, the row's measurement
  error and the model's own spread of that quantity across replicates at the prior (one observed
  history is one draw of the process, not its mean), held fixed during the search;
- the minimiser is scipy's trust-region least squares (``least_squares``, method trf) on the stacked
  residuals, with a forward-difference Jacobian of step ``step_z`` on the logit scale taken on the
  same seeds; it stops on its tolerances (ftol, xtol, gtol), and reports if it stopped on its budget.

The posterior is the Laplace approximation at the optimum: cov(z) = (J'J)^-1 with J the Jacobian of
all residuals (data and prior), carried to the parameters' scale by the delta method; intervals are
the logit-scale intervals mapped back (inside the range, asymmetric). A parameter whose posterior sd
is above ``NOT_MOVED_RATIO`` of its prior sd was not moved by the data: the report says so.

Goodness of fit: J = the data part of L at the optimum, on M - p_eff degrees of freedom, p_eff =
trace(J_d (J'J)^-1 J_d') the effective number of parameters the data inform (a penalised fit spends
less than one degree of freedom on a parameter its prior holds). Rows with |residual| > 2 are the
series the model cannot follow.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from simmodel.calibration.moments import Bound, Moment, simulated_value
from simmodel.config import DEFAULT_ESTIMATED
from simmodel.levers import Levers, Uncertainties, no_new_policy_values
from simmodel.model import ModelInputs, SimModel
from simmodel.params import ParamInfo

# A posterior sd above this share of the prior sd: the data did not move the parameter (its precision
# rose by less than about a half).
NOT_MOVED_RATIO = 0.8
# Paths kept for the report's figures and the backtest (model indicators).
KEEP = ("gdp_cny_100m", "digital_core_va_cny_100m", "t3_digital_core_share_gdp_pct", "above_size_industry_va_cny_100m",
        "n_high_tech", "n_little_giant", "n_single_champion", "rd_intensity_pct", "sei_va_cny_100m", "t2_sei_share_pct",
        "cluster_415x_revenue_cny_100m", "t4_national_clusters", "t5_pilot_zones", "t1_emerging_share_415x_pct",
        "n_above_size_firms")


@dataclass
class FitSettings:
    estimated: tuple[str, ...] = DEFAULT_ESTIMATED
    replicates: int = 8
    scale: float = 0.1
    seed: int = 20240101
    max_evaluations: int = 200  # a safety budget; the search stops on its tolerances first
    workers: int = 0
    end_year: int = 2025
    tolerance: float = 1e-3  # ftol and xtol of least_squares (relative change of the loss / of z)
    step_z: float = 0.2  # finite-difference step on the logit scale (about 5 % of a range at its middle)


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
    j_df: float
    j_pvalue: float
    n_evaluations: int
    converged: bool
    message: str
    seconds: float
    trace: list[tuple[int, float, list[float]]]
    sim_mean: dict[str, float]
    sim_sd: dict[str, float]
    jacobian: np.ndarray  # d mbar_i / d x_j at the estimate, data rows x parameters
    warnings: list[str] = field(default_factory=list)
    sim_paths: dict[str, np.ndarray] = field(default_factory=dict)  # indicator -> replicate x year
    sim_years: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ci_low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    ci_high: np.ndarray = field(default_factory=lambda: np.zeros(0))
    prior_sd: np.ndarray = field(default_factory=lambda: np.zeros(0))  # on the parameters' scale
    moved: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))  # the data moved the parameter
    p_eff: float = float("nan")
    residuals: dict[str, float] = field(default_factory=dict)  # (mbar - m) / s per data row at the estimate
    total_sd: dict[str, float] = field(default_factory=dict)  # s per data row


_STATE: dict = {}


def _init_worker(inputs: ModelInputs, levers: Levers, uncertainties: Uncertainties, scale: float) -> None:
    _STATE.update(inputs=inputs, levers=levers, uncertainties=uncertainties, scale=scale)


def _simulate(args) -> pd.DataFrame:
    values, names, seed = args
    st = _STATE
    params = dataclasses.replace(st["inputs"].params, **dict(zip(names, values)))
    inputs = dataclasses.replace(st["inputs"], params=params)
    with SimModel(inputs, st["levers"], st["uncertainties"], scale=st["scale"], seed=seed) as model:
        traj = model.run()
    return traj[[k for k in KEEP if k in traj.columns]]


class Simulator:
    """Runs R replicates at a parameter vector, on fixed seeds, in a persistent worker pool. The model
    runs under the policy of the time: the policy history of ``inputs`` before its start year, the
    no_new_policy levers after it (the draft is not in force in any observed year)."""

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
            from simmodel.workers import process_pool  # workers that exit when this process dies

            self.pool = process_pool(self.workers, initializer=_init_worker,
                                     initargs=(self.inputs, self.levers, self.uncertainties, settings.scale))
        else:
            _init_worker(self.inputs, self.levers, self.uncertainties, settings.scale)
        self.n_evaluations = 0

    def run(self, names: tuple[str, ...], values: np.ndarray) -> list[pd.DataFrame]:
        self.n_evaluations += 1
        jobs = [(tuple(float(v) for v in values), names, s) for s in self.seeds]
        if self.pool is None:
            return [_simulate(j) for j in jobs]
        return list(self.pool.map(_simulate, jobs))

    def close(self, *, failed: bool = False) -> None:
        """Shut the worker pool down; failed=True (an interrupt, an error) ends its workers at once."""
        if self.pool is None:
            return
        if failed:
            self.pool.terminate_workers()
        else:
            self.pool.shutdown()


def _to_z(x, lo, hi):
    u = np.clip((np.asarray(x, float) - lo) / (hi - lo), 1e-6, 1 - 1e-6)
    return np.log(u / (1 - u))


def _from_z(z, lo, hi):
    return lo + (hi - lo) / (1 + np.exp(-np.asarray(z, float)))


def prior_on_logit_scale(info: ParamInfo, n: int = 4001) -> tuple[float, float]:
    """Mean and sd, on the logit scale of [low, high], of the parameter's stated prior (its value,
    range and distribution in parameters.csv), by quadrature on n quantiles. A fixed prior (or a
    zero-width range) cannot be estimated."""
    if info.distribution == "fixed" or info.high <= info.low:
        raise ValueError(f"{info.name}: its prior is fixed at {info.value:g}; give it a range and distribution "
                         f"in parameters.csv to estimate it")
    u = (np.arange(n) + 0.5) / n
    z = _to_z(info.draw(u), info.low, info.high)
    return float(z.mean()), float(z.std())


def stats_of(trajs: list[pd.DataFrame], items) -> dict[str, np.ndarray]:
    """Replicate values of each moment or bound (name -> array over replicates)."""
    return {m.name: np.array([simulated_value(t, m) for t in trajs]) for m in items}


def fit(inputs: ModelInputs, table: dict[str, ParamInfo], moments: list[Moment], bounds: list[Bound],
        settings: FitSettings, progress=None) -> FitResult:
    """The penalised fit of the module docstring; returns estimates, posterior and fit statistics."""
    t0 = time.perf_counter()
    names = tuple(settings.estimated)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise KeyError(f"cannot estimate unknown parameters: {unknown}")
    lo = np.array([table[n].low for n in names])
    hi = np.array([table[n].high for n in names])
    prior = np.array([table[n].value for n in names])
    pz = np.array([prior_on_logit_scale(table[n]) for n in names])
    mu, tau = pz[:, 0], pz[:, 1]
    m_obs = np.array([m.value for m in moments])
    se_obs = np.array([m.se for m in moments])
    R = settings.replicates
    sim = Simulator(inputs, settings)
    trace: list[tuple[int, float, list[float]]] = []
    cache: dict[bytes, tuple[dict, list]] = {}

    def stats_at(z: np.ndarray):
        key = np.round(np.asarray(z, float), 12).tobytes()
        if key not in cache:
            trajs = sim.run(names, _from_z(z, lo, hi))
            cache[key] = (stats_of(trajs, list(moments) + list(bounds)), trajs)
        return cache[key]

    try:
        z0 = np.clip(_to_z(prior, lo, hi), mu - 3 * tau, mu + 3 * tau)
        st0, _ = stats_at(z0)
        # the model's own spread of each compared quantity, at the prior, held fixed during the search
        v_sim = np.array([st0[m.name].var(ddof=1) if R > 1 else 0.0 for m in moments])
        s_tot = np.sqrt(se_obs ** 2 + v_sim)
        s_b = {b.name: max(float(np.std(st0[b.name], ddof=1)) if R > 1 else 0.0, 0.01) for b in bounds}

        def residuals(z: np.ndarray) -> np.ndarray:
            st, _ = stats_at(z)
            data = (np.array([st[m.name].mean() for m in moments]) - m_obs) / s_tot
            bnd = np.array([max(0.0, b.value - st[b.name].mean()) / s_b[b.name] for b in bounds])
            return np.concatenate([data, bnd, (z - mu) / tau])

        def objective(z: np.ndarray) -> np.ndarray:
            r = residuals(z)
            loss = float(r @ r)
            trace.append((sim.n_evaluations, loss, [float(v) for v in _from_z(z, lo, hi)]))
            if progress:
                progress(sim.n_evaluations, loss)
            return r

        def jacobian(z: np.ndarray) -> np.ndarray:
            r0 = residuals(z)
            J = np.zeros((r0.size, z.size))
            for j in range(z.size):
                zp = z.copy()
                zp[j] += settings.step_z
                J[:, j] = (residuals(zp) - r0) / settings.step_z
                if progress:
                    progress(sim.n_evaluations, float(r0 @ r0))
            return J

        tol = settings.tolerance
        # each iteration costs one evaluation and a Jacobian of P more; the budget counts evaluations
        max_nfev = max(2, settings.max_evaluations // (len(names) + 1))
        res = optimize.least_squares(objective, z0, jac=jacobian, method="trf", ftol=tol, xtol=tol, gtol=tol,
                                     max_nfev=max_nfev, x_scale=tau)
        z_hat = res.x
        st, trajs = stats_at(z_hat)
        J = jacobian(z_hat)
    except BaseException:
        sim.close(failed=True)
        raise
    sim.close()
    M = len(moments)
    r = residuals(z_hat)
    data_r = r[:M]
    loss = float(r @ r)
    info = J.T @ J
    warn: list[str] = []
    try:
        cov_z = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov_z = np.linalg.pinv(info)
        warn.append("the posterior precision is singular; its pseudo-inverse is used")
    sd_z = np.sqrt(np.maximum(np.diag(cov_z), 0.0))
    x_hat = _from_z(z_hat, lo, hi)
    dxdz = (x_hat - lo) * (hi - x_hat) / (hi - lo)
    cov = cov_z * np.outer(dxdz, dxdz)
    se = np.sqrt(np.maximum(np.diag(cov), 0.0))
    ci_low, ci_high = _from_z(z_hat - 1.959964 * sd_z, lo, hi), _from_z(z_hat + 1.959964 * sd_z, lo, hi)
    prior_sd = np.array([np.std(table[n].draw((np.arange(4001) + 0.5) / 4001)) for n in names])
    # compared on the parameters' own scale: near the edge of a range the logit scale stretches
    moved = se < NOT_MOVED_RATIO * prior_sd
    Jd = J[:M]
    p_eff = float(np.trace(Jd @ cov_z @ Jd.T)) if M else 0.0
    j_stat = float(data_r @ data_r)
    df = M - p_eff
    j_p = float(stats.chi2.sf(j_stat, df)) if df > 0.5 else float("nan")
    for j, n in enumerate(names):
        if not moved[j]:
            warn.append(f"{n}: not moved by the data (posterior sd {se[j]:.3g} vs prior sd {prior_sd[j]:.3g}): the "
                        f"estimate stays near its prior")
        width = hi[j] - lo[j]
        if x_hat[j] - lo[j] < 0.01 * width or hi[j] - x_hat[j] < 0.01 * width:
            warn.append(f"{n}: estimate {x_hat[j]:.4g} is at the edge of its plausible range [{lo[j]:g}, {hi[j]:g}]")
    converged = res.status > 0
    # the Jacobian of the mean moments on the parameters' scale (for the weight shares of the report)
    G = Jd * s_tot[:, None] / np.where(dxdz > 0, dxdz, 1.0)[None, :]
    sim_mean = {k: float(v.mean()) for k, v in st.items()}
    sim_sd = {k: float(v.std(ddof=1)) if R > 1 else 0.0 for k, v in st.items()}
    years = trajs[0].index.to_numpy(int)
    paths = {k: np.array([t[k].to_numpy(float) for t in trajs]) for k in trajs[0].columns}
    return FitResult(
        names=names, prior=prior, low=lo, high=hi, estimate=x_hat, se=se, cov=cov, loss=loss, j_stat=j_stat, j_df=df,
        j_pvalue=j_p, n_evaluations=sim.n_evaluations, converged=converged,
        message=f"least_squares status {res.status}: {res.message}", seconds=time.perf_counter() - t0, trace=trace,
        sim_mean=sim_mean, sim_sd=sim_sd, jacobian=G, warnings=warn, sim_paths=paths, sim_years=years,
        ci_low=ci_low, ci_high=ci_high, prior_sd=prior_sd, moved=moved, p_eff=p_eff,
        residuals={m.name: float(v) for m, v in zip(moments, data_r)},
        total_sd={m.name: float(s) for m, s in zip(moments, s_tot)})


def cannot_follow(result: FitResult, moments: list[Moment], threshold: float = 2.0) -> list[tuple[Moment, float, str]]:
    """The rows the fitted model misses by more than ``threshold`` of their total sd, worst first, each
    with why, as far as the fit can tell: the estimated parameter that moves the row most (Jacobian x
    posterior sd) and whether it sits at the edge of its range (the mechanism cannot go further), or
    that no estimated parameter moves it (nothing estimated acts on it)."""
    out = []
    width = result.high - result.low
    for i, m in enumerate(moments):
        t = result.residuals[m.name]
        if abs(t) <= threshold:
            continue
        reach = np.abs(result.jacobian[i]) * np.maximum(result.prior_sd, 1e-12) if result.jacobian.size else np.zeros(0)
        if reach.size == 0 or not np.any(reach > 0.1 * result.total_sd.get(m.name, 1.0)):
            why = "no estimated parameter moves it much: the mechanisms behind it are not estimated, or the base year sets it"
        else:
            j = int(np.argmax(reach))
            n, x = result.names[j], result.estimate[j]
            needs_up = (result.jacobian[i, j] > 0) == (t < 0)  # raising the parameter closes the gap
            # on the logit scale an estimate only approaches its bounds: the outer tenth counts as the edge
            at_edge = (hi_edge := result.high[j] - x < 0.1 * width[j]) or x - result.low[j] < 0.1 * width[j]
            if at_edge:
                edge = "top" if hi_edge else "bottom"
                why = f"`{n}` moves it most and sits at the {edge} of its plausible range: the mechanism cannot go further there"
            else:
                why = (f"`{n}` moves it most ({'raising' if needs_up else 'lowering'} it would close the gap) but the "
                       f"other rows and its prior hold it at {x:.4g}: the rows pull apart")
        out.append((m, t, why))
    return sorted(out, key=lambda r: -abs(r[1]))


__all__ = ["FitSettings", "FitResult", "Simulator", "fit", "cannot_follow", "prior_on_logit_scale", "stats_of",
           "NOT_MOVED_RATIO"]
