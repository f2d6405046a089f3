"""A Gaussian-process emulator of the model, used only where it is shown to be accurate.

When an analysis needs more model evaluations than the machine gives in minutes (Sobol indices
need n x (k + 2) points), the model is run on a Latin hypercube of training points, a Gaussian
process (scikit-learn) is fitted per output, and its error is measured on held-out model runs it
was not fitted on. An output whose held-out Q^2 (1 - SSE / SST, the share of the held-out variance
the emulator predicts) is below ``min_q2`` is not emulated: the analysis says so and reports
nothing for it from the emulator. Every table the analysis writes names its source, ``model`` or
``emulator``.

Factors are scaled to [0, 1] before fitting so that one length-scale prior fits every unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Rule of thumb for the size of a computer experiment: 10 runs per input dimension (Loeppky,
# Sacks and Welch 2009, Technometrics 51(4)). The config may ask for more.
POINTS_PER_FACTOR = 10


@dataclass
class Emulator:
    """One fitted GP per output, on inputs scaled by the factor bounds."""

    bounds: np.ndarray  # k x 2, natural units
    models: dict  # output -> fitted sklearn GaussianProcessRegressor
    clip: dict  # output -> (low, high) the predictions are clipped to (probabilities in [0, 1])

    def predict(self, x: np.ndarray, output: str) -> np.ndarray:
        """Predicted output at points x (natural units, n x k)."""
        y = self.models[output].predict(_unit(np.asarray(x, float), self.bounds))
        lo, hi = self.clip[output]
        return np.clip(y, lo, hi)


def _unit(x: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    return (x - bounds[:, 0]) / (bounds[:, 1] - bounds[:, 0])


def _gp(k: int, seed: int):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    # Matern 5/2 with one length scale per factor (automatic relevance determination); the white
    # term absorbs the Monte Carlo noise of a finite number of replicates per point
    kernel = (ConstantKernel(1.0, (1e-3, 1e3)) * Matern(length_scale=np.full(k, 0.5), length_scale_bounds=(1e-2, 1e2), nu=2.5)
              + WhiteKernel(1e-2, (1e-8, 1.0)))
    return GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed)


def _fit(x_unit: np.ndarray, y: np.ndarray, seed: int):
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    gp = _gp(x_unit.shape[1], seed)
    with warnings.catch_warnings():
        # a length scale at its bound means the output hardly depends on that factor: the fit is
        # still valid, and the held-out error below is what decides whether it is used
        warnings.simplefilter("ignore", ConvergenceWarning)
        gp.fit(x_unit, y)
    return gp


def _clip_for(output: str) -> tuple[float, float]:
    return (0.0, 1.0) if output.endswith("p_met") else (-np.inf, np.inf)


def validate_and_fit(x: np.ndarray, outputs: pd.DataFrame, bounds: np.ndarray, *, holdout: float = 0.25,
                     min_q2: float = 0.9, seed: int = 0) -> tuple[Emulator, pd.DataFrame]:
    """Measure each output's emulator error on held-out points, then refit on all points.

    x: n x k model inputs in natural units; outputs: n rows, one column per output. Returns the
    emulator (only the outputs that pass) and a validation table: per output the held-out RMSE and
    largest absolute error (in the output's unit), Q^2, the number of training and held-out points,
    whether it is used and, if not, why."""
    x = np.asarray(x, float)
    bounds = np.asarray(bounds, float)
    n = len(x)
    rng = np.random.default_rng(seed)
    test = np.zeros(n, bool)
    test[rng.choice(n, size=max(2, int(round(holdout * n))), replace=False)] = True
    xu = _unit(x, bounds)
    rows, models, clips = [], {}, {}
    for col in outputs.columns:
        y = outputs[col].to_numpy(float)
        lo, hi = _clip_for(col)
        row = {"output": col, "rmse": np.nan, "max_abs_error": np.nan, "q2": np.nan, "n_train": int((~test).sum()),
               "n_holdout": int(test.sum()), "used": False, "note": ""}
        rows.append(row)
        if np.ptp(y) == 0:
            # nothing varies, so there is nothing to emulate or to apportion
            row["note"] = f"constant over every model run ({y[0]:.4g})"
            continue
        gp = _fit(xu[~test], y[~test], seed)
        err = np.clip(gp.predict(xu[test]), lo, hi) - y[test]
        sst = float(((y[test] - y[test].mean()) ** 2).sum())
        row.update(rmse=float(np.sqrt((err ** 2).mean())), max_abs_error=float(np.abs(err).max()))
        if sst == 0:
            # Q^2 is undefined when the held-out runs all agree (a probability of 0 or 1 on most of
            # the space): the emulator is not trusted without a measure of its error
            row["note"] = "held-out runs all equal: Q^2 undefined"
            continue
        row["q2"] = 1 - float((err ** 2).sum()) / sst
        row["used"] = bool(row["q2"] >= min_q2)
        if row["used"]:
            models[col] = _fit(xu, y, seed)
            clips[col] = (lo, hi)
        else:
            row["note"] = f"Q^2 below {min_q2:g}"
    return Emulator(bounds, models, clips), pd.DataFrame(rows)
