"""Plain statistical forecasters and forecast scores, the yardstick for the backtest of the calibrated model.

The calibrated agent-based model is only worth its complexity if it forecasts held-out years at least as
well as simple statistical models fitted to the same history. The history is sparse: annual series with
gaps (GDP misses 2013, 2015, 2018, 2019; the digital-core value added has 2014 and 2019-2021 only), so
every forecaster here takes irregular integer years and never interpolates the gaps away.

Forecasters share one signature::

    f(years, values, horizon_years, *, log) -> Forecast

``years``: sorted, unique integer years of the observations; ``values``: finite observations in their own
units; ``horizon_years``: strictly increasing integer years, all after the last observed year. With
``log=True`` the log of a positive level series is modelled and the result transformed back: the
quantiles (interval bounds) transform exactly, and the point forecast becomes the back-transformed mean of
the log, i.e. the median on the original scale (the mean of a log-normal would need the variance and is
not what a point forecast of a growing level is usually scored as).

Every statsmodels warning raised while fitting (ConvergenceWarning, ValueWarning, ...) is caught and
recorded in ``Forecast.notes``; none escapes, so callers running with warnings-as-errors still get a
result and can see what went wrong.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

__all__ = [
    "DM_MIN_POINTS",
    "FORECASTERS",
    "Forecast",
    "coverage",
    "diebold_mariano",
    "linear_trend",
    "point_scores",
    "random_walk_drift",
    "state_space_by_aic",
]

# Below this many paired errors the loss-differential variance is too poorly estimated for the DM test
# to mean anything, even with the small-sample correction.
DM_MIN_POINTS = 5

# The state-space models need two observations to pin down their (diffuse) level and slope and at least
# two more to score them against each other; with fewer the random walk is used instead.
UC_MIN_POINTS = 4

# Specifications tried by state_space_by_aic: UnobservedComponents ``level=`` strings. All three exist in
# statsmodels 0.14 and 0.15 (rwdrift = stochastic level with a fixed, estimated drift and no irregular).
UC_SPECS = ("llevel", "lltrend", "rwdrift")

_ALPHA80, _ALPHA95 = 0.20, 0.05


@dataclass
class Forecast:
    """A point forecast with central 80 % and 95 % prediction intervals, in the same units as the input values.

    ``method`` says what actually ran (a fallback shows as ``"<asked> -> <used>"``, the state-space choice
    as ``"uc:<spec> (AIC x)"``). ``lo80``/``hi80`` are the 10 % and 90 % quantiles, ``lo95``/``hi95`` the
    2.5 % and 97.5 % quantiles. ``notes`` lists fallbacks, caught warnings and other caveats.
    """

    method: str
    years: np.ndarray
    mean: np.ndarray
    lo80: np.ndarray
    hi80: np.ndarray
    lo95: np.ndarray
    hi95: np.ndarray
    notes: list[str] = field(default_factory=list)

    def to_frame(self):
        """One row per forecast year (pandas DataFrame), for tables and plots."""
        import pandas as pd

        return pd.DataFrame(
            {
                "year": self.years,
                "mean": self.mean,
                "lo80": self.lo80,
                "hi80": self.hi80,
                "lo95": self.lo95,
                "hi95": self.hi95,
                "method": self.method,
            }
        )


Forecaster = Callable[..., Forecast]


# ---------------------------------------------------------------------------------------------------------
# shared plumbing
# ---------------------------------------------------------------------------------------------------------


def _as_int_years(a, name: str) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    # Years often arrive as floats (a pandas column that once held a NaN); accept them if integral.
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        raise ValueError(f"{name} must be integer years, got {arr.tolist()}")
    return arr.astype(np.int64)


def _prepare(years, values, horizon_years, log: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validated (years, working-scale values, horizon years); the working scale is the log if ``log``."""
    t = _as_int_years(years, "years")
    h = _as_int_years(horizon_years, "horizon_years")
    y = np.asarray(values, dtype=float)
    if y.shape != t.shape:
        raise ValueError(f"years and values differ in length: {t.shape} vs {y.shape}")
    if len(t) < 2:
        raise ValueError(f"need at least 2 observations to forecast, got {len(t)}")
    if np.any(np.diff(t) <= 0):
        raise ValueError(f"years must be sorted and unique, got {t.tolist()}")
    if not np.all(np.isfinite(y)):
        raise ValueError("values must be finite (drop missing years instead of passing NaN)")
    if len(h) == 0:
        raise ValueError("horizon_years is empty")
    if np.any(np.diff(h) <= 0) or h[0] <= t[-1]:
        raise ValueError(f"horizon_years must be increasing and after the last observed year {t[-1]}, got {h.tolist()}")
    if log:
        if np.any(y <= 0):
            raise ValueError("log=True needs a strictly positive series")
        y = np.log(y)
    return t, y, h


def _record(caught: list[warnings.WarningMessage], notes: list[str], where: str) -> None:
    seen: set[str] = set()
    for w in caught:
        text = f"{where}: {w.category.__name__}: {str(w.message).splitlines()[0]}"
        if text not in seen:  # the optimiser repeats itself; one note per distinct warning is enough
            seen.add(text)
            notes.append(text)


def _finish(method, h, mean, lo80, hi80, lo95, hi95, log: bool, notes: list[str]) -> Forecast:
    back = np.exp if log else (lambda x: np.asarray(x, dtype=float))
    if log:
        notes.append("log scale: point forecast is the back-transformed mean of the log (the median)")
    return Forecast(
        method=method,
        years=h.copy(),
        mean=back(mean),
        lo80=back(lo80),
        hi80=back(hi80),
        lo95=back(lo95),
        hi95=back(hi95),
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------------------
# forecasters
# ---------------------------------------------------------------------------------------------------------


def _rw_drift(t: np.ndarray, y: np.ndarray, h: np.ndarray, notes: list[str]):
    """Random walk with drift on the working scale: (mean, lo80, hi80, lo95, hi95); warnings go to notes."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parts = _rw_drift_core(t, y, h, notes)
    _record(caught, notes, "random_walk_drift")
    return parts


def _rw_drift_core(t: np.ndarray, y: np.ndarray, h: np.ndarray, notes: list[str]):
    k = np.diff(t).astype(float)  # gap lengths in years
    d = np.diff(y)
    span = float(t[-1] - t[0])
    # MLE (and weighted LS) of the drift when a k-year difference has mean k*drift and variance k*sigma^2:
    # sum(d) / sum(k), which telescopes to (last - first) / span, so inner values only inform sigma.
    drift = (y[-1] - y[0]) / span
    m = len(d)
    if m >= 2:
        # Scaling each residual by 1/sqrt(k) makes them i.i.d. N(0, sigma^2); one degree of freedom went
        # into the drift, hence m - 1.
        z = (d - k * drift) / np.sqrt(k)
        sigma2 = float(z @ z) / (m - 1)
        # With sigma estimated, (future - forecast) / se is exactly Student t with m - 1 df under the
        # Gaussian random walk, which matters when m is 2 to 5, as it is here.
        q80, q95 = stats.t.ppf(1 - _ALPHA80 / 2, m - 1), stats.t.ppf(1 - _ALPHA95 / 2, m - 1)
    else:
        # One difference says nothing about its own noise. The series' own drift is a scale-aware guess
        # (a 1-sigma year moves it by as much as the trend does), stated in the notes, never silent.
        sigma2 = drift**2
        q80, q95 = stats.norm.ppf(1 - _ALPHA80 / 2), stats.norm.ppf(1 - _ALPHA95 / 2)
        notes.append(
            "2 observations: innovation sigma cannot be estimated; sigma set to |drift| "
            f"= {abs(drift):.6g} per year (working scale), normal quantiles"
        )
    if sigma2 == 0.0:
        notes.append("zero innovation variance: intervals collapse onto the point forecast")
    steps = (h - t[-1]).astype(float)
    mean = y[-1] + steps * drift
    # Future innovations plus the error in the estimated drift (Var(drift) = sigma^2 / span), carried
    # forward over h years.
    se = np.sqrt(sigma2 * (steps + steps**2 / span))
    return mean, mean - q80 * se, mean + q80 * se, mean - q95 * se, mean + q95 * se


def random_walk_drift(years: np.ndarray, values: np.ndarray, horizon_years: np.ndarray, *, log: bool) -> Forecast:
    """Random walk with drift over irregular years; forecasts in the same units as the input values.

    Drift = (last - first) / (last year - first year), per year. A difference over a gap of k years has
    mean k*drift and variance k*sigma^2; sigma^2 is estimated from the per-year-scaled differences
    (d_i - k_i*drift) / sqrt(k_i) with m - 1 degrees of freedom (m differences). The forecast h years after
    the last observation has mean last + h*drift and variance sigma^2*(h + h^2/span), the second term being
    the drift's own uncertainty; intervals use Student t with m - 1 df. With 2 observations sigma is set to
    |drift| (noted) and normal quantiles are used.
    """
    notes: list[str] = []
    t, y, h = _prepare(years, values, horizon_years, log)
    parts = _rw_drift(t, y, h, notes)
    return _finish("random_walk_drift", h, *parts, log=log, notes=notes)


def linear_trend(years: np.ndarray, values: np.ndarray, horizon_years: np.ndarray, *, log: bool) -> Forecast:
    """OLS of value on year with a constant; forecasts in the same units as the input values.

    Prediction intervals are statsmodels' ``obs_ci`` (Student t with n - 2 df, parameter and residual
    uncertainty). With 2 observations the residual variance has no degrees of freedom; the line through the
    two points is then the random walk with drift path, so that forecaster is used (noted).
    """
    import statsmodels.api as sm

    notes: list[str] = []
    t, y, h = _prepare(years, values, horizon_years, log)
    if len(t) < 3:
        notes.append("linear_trend: 2 observations leave no residual degrees of freedom; fell back to random_walk_drift")
        parts = _rw_drift(t, y, h, notes)
        return _finish("linear_trend -> random_walk_drift", h, *parts, log=log, notes=notes)

    # Years measured from the last observation: keeps X well conditioned (year^2 ~ 4e6 otherwise) and makes
    # the constant the fitted value at the forecast origin. Design matrices are built by hand because
    # sm.add_constant skips the constant when a one-year horizon makes the year column look constant.
    x = (t - t[-1]).astype(float)
    xh = (h - t[-1]).astype(float)
    X = np.column_stack([np.ones_like(x), x])
    Xh = np.column_stack([np.ones_like(xh), xh])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = sm.OLS(y, X).fit()
        pred = res.get_prediction(Xh)
        f80 = pred.summary_frame(alpha=_ALPHA80)
        f95 = pred.summary_frame(alpha=_ALPHA95)
    _record(caught, notes, "linear_trend")
    if res.scale == 0.0:
        notes.append("linear_trend: exact fit (zero residual variance); intervals collapse onto the line")
    return _finish(
        "linear_trend",
        h,
        f95["mean"].to_numpy(),
        f80["obs_ci_lower"].to_numpy(),
        f80["obs_ci_upper"].to_numpy(),
        f95["obs_ci_lower"].to_numpy(),
        f95["obs_ci_upper"].to_numpy(),
        log=log,
        notes=notes,
    )


def _fit_uc(spec: str, grid: np.ndarray, burn: int, n_scored: int, scale: float, notes: list[str]):
    """Fit one UC specification; (aic, results) or None if it cannot be used."""
    from statsmodels.tools.sm_exceptions import ModelWarning
    from statsmodels.tsa.statespace.structural import UnobservedComponents

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Deliberate combination (see state_space_by_aic), so its generic caution is not news.
        warnings.filterwarnings("ignore", message="Care should be used when applying a loglikelihood burn", category=ModelWarning)
        try:
            model = UnobservedComponents(grid, level=spec, use_exact_diffuse=True, loglikelihood_burn=burn)
            res = model.fit(disp=False)
        except Exception as exc:  # a spec this statsmodels lacks, or a numerically hopeless fit
            notes.append(f"uc:{spec} not fitted: {type(exc).__name__}: {exc}")
            _record(caught, notes, f"uc:{spec}")
            return None
    _record(caught, notes, f"uc:{spec}")
    # Back to original units: each scored observation's density picks up the Jacobian 1/scale.
    llf = float(res.llf) - n_scored * np.log(scale)
    if not np.isfinite(llf):
        notes.append(f"uc:{spec} dropped: non-finite log-likelihood")
        return None
    aic = -2.0 * llf + 2.0 * len(res.params)
    return aic, res


def state_space_by_aic(years: np.ndarray, values: np.ndarray, horizon_years: np.ndarray, *, log: bool) -> Forecast:
    """Unobserved-components model chosen by AIC; forecasts in the same units as the input values.

    This is the "ARIMA or ETS chosen by an information criterion" benchmark in a form that takes gaps:
    statsmodels ``UnobservedComponents`` on a regular annual grid from the first to the last observed year,
    NaN in the gaps (the Kalman filter skips them). Candidates: local level (``llevel``, = ARIMA(0,1,1) /
    simple exponential smoothing), local linear trend (``lltrend``, ~ ARIMA(0,2,2) / Holt) and random walk
    with drift (``rwdrift``). Forecasts and intervals are ``get_forecast`` / ``conf_int`` (normal).

    How the AIC is made comparable: the states use exact diffuse initialisation, because the approximate one
    (variance 1e6 in data units) is not diffuse for levels in the tens of thousands, and the default burn of
    k_states periods lands in a gap when the second observation is years after the first. But diffuse
    likelihoods of models with 1 (llevel) and 2 (trend) diffuse states count a different number of
    observations, so their difference depends on the units of the data. All candidates are therefore scored
    on the same conditional likelihood, of the observations after the first two (``loglikelihood_burn``),
    and AIC = -2 llf + 2 * (number of estimated variances/drifts). The series is standardised for the
    optimiser and the log-likelihood converted back to original units, so the AIC in ``method`` is that of
    the data as given. Fewer than ``UC_MIN_POINTS`` observations, or no candidate fitting, falls back to
    random_walk_drift (noted).
    """
    notes: list[str] = []
    t, y, h = _prepare(years, values, horizon_years, log)
    if len(t) < UC_MIN_POINTS:
        notes.append(
            f"state_space_by_aic: {len(t)} observations < {UC_MIN_POINTS}, too few to fit and compare "
            "state-space models; fell back to random_walk_drift"
        )
        parts = _rw_drift(t, y, h, notes)
        return _finish("state_space_by_aic -> random_walk_drift", h, *parts, log=log, notes=notes)

    # Standardise so the optimiser's starting variances are O(1) whatever the units (CNY 100m levels ~1e5).
    centre = y[0]
    scale = float(np.std(y))
    if not scale > 0.0:
        scale = 1.0
    grid = np.full(t[-1] - t[0] + 1, np.nan)
    grid[t - t[0]] = (y - centre) / scale
    burn = int(t[1] - t[0]) + 1  # grid periods up to and including the second observation
    n_scored = len(t) - 2

    fits: dict[str, tuple[float, object]] = {}
    for spec in UC_SPECS:
        out = _fit_uc(spec, grid, burn, n_scored, scale, notes)
        if out is not None:
            fits[spec] = out
    if not fits:
        notes.append("state_space_by_aic: no specification could be fitted; fell back to random_walk_drift")
        parts = _rw_drift(t, y, h, notes)
        return _finish("state_space_by_aic -> random_walk_drift", h, *parts, log=log, notes=notes)

    notes.append("AIC by specification: " + ", ".join(f"{s} {a:.2f}" for s, (a, _) in fits.items()))
    best = min(fits, key=lambda s: fits[s][0])
    aic, res = fits[best]
    steps = int(h[-1] - t[-1])
    idx = h - t[-1] - 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fc = res.get_forecast(steps)
        mean = np.asarray(fc.predicted_mean)[idx]
        ci80 = np.asarray(fc.conf_int(alpha=_ALPHA80))[idx]
        ci95 = np.asarray(fc.conf_int(alpha=_ALPHA95))[idx]
    _record(caught, notes, f"uc:{best} forecast")
    parts = [centre + scale * a for a in (mean, ci80[:, 0], ci80[:, 1], ci95[:, 0], ci95[:, 1])]
    if not all(np.all(np.isfinite(p)) for p in parts):
        notes.append(f"uc:{best} produced non-finite forecasts; fell back to random_walk_drift")
        parts = _rw_drift(t, y, h, notes)
        return _finish("state_space_by_aic -> random_walk_drift", h, *parts, log=log, notes=notes)
    return _finish(f"uc:{best} (AIC {aic:.1f})", h, *parts, log=log, notes=notes)


FORECASTERS: dict[str, Forecaster] = {
    "random_walk_drift": random_walk_drift,
    "linear_trend": linear_trend,
    "state_space_by_aic": state_space_by_aic,
}


# ---------------------------------------------------------------------------------------------------------
# scores
# ---------------------------------------------------------------------------------------------------------


def _paired(*arrays) -> list[np.ndarray]:
    arrs = [np.asarray(a, dtype=float).ravel() for a in arrays]
    if len({a.shape for a in arrs}) != 1:
        raise ValueError(f"arrays differ in length: {[a.shape[0] for a in arrs]}")
    # A held-out year without an actual (a gap) is simply not scored, rather than poisoning the mean.
    ok = np.logical_and.reduce([np.isfinite(a) for a in arrs])
    return [a[ok] for a in arrs]


def point_scores(actual, predicted) -> dict:
    """RMSE and MAE of ``predicted`` against ``actual`` (same units as the values), over finite pairs.

    Returns ``{"rmse", "mae", "n"}``; NaN scores when no pair is finite.
    """
    a, p = _paired(actual, predicted)
    n = len(a)
    if n == 0:
        return {"rmse": float("nan"), "mae": float("nan"), "n": 0}
    e = p - a
    return {"rmse": float(np.sqrt(np.mean(e**2))), "mae": float(np.mean(np.abs(e))), "n": n}


def coverage(actual, lo, hi) -> float:
    """Share (0-1) of finite actuals inside the closed interval [lo, hi]; NaN when none is finite."""
    a, lo_, hi_ = _paired(actual, lo, hi)
    if len(a) == 0:
        return float("nan")
    return float(np.mean((a >= lo_) & (a <= hi_)))


def diebold_mariano(e1, e2, h: int = 1, power: int = 2) -> dict:
    """Diebold-Mariano test of equal forecast accuracy, with the Harvey-Leybourne-Newbold correction.

    ``e1``, ``e2``: forecast errors (same units as the values) of methods 1 and 2 for the same targets;
    pairs with a non-finite member are dropped. ``h``: forecast horizon in steps (errors of h-step forecasts
    are MA(h-1), so autocovariances up to lag h-1 enter the variance). ``power``: loss = |e|**power (2:
    squared error, 1: absolute error).

    Loss differential d_t = |e1_t|^p - |e2_t|^p, t = 1..n, mean dbar. Long-run variance
    V = gamma_0 + 2 * sum_{k=1}^{h-1} gamma_k, gamma_k = (1/n) sum_{t=k+1}^{n} (d_t - dbar)(d_{t-k} - dbar).
    DM = dbar / sqrt(V / n)                                  (Diebold and Mariano 1995)
    DM* = DM * sqrt((n + 1 - 2h + h(h - 1)/n) / n)           (Harvey, Leybourne and Newbold 1997)
    p-value two-sided from Student t with n - 1 df. DM* < 0 means method 1 has the smaller loss.

    Returns ``{"applicable": True, "statistic", "pvalue", "n", "h", "power", "df", "mean_loss_diff",
    "better"}`` (``better``: "e1", "e2" or "tie") or ``{"applicable": False, "reason", "n"}`` when fewer than
    ``DM_MIN_POINTS`` pairs remain, the loss differential has zero variance, or V <= 0 (possible for h > 1).

    References: F. X. Diebold and R. S. Mariano (1995), "Comparing predictive accuracy", Journal of
    Business & Economic Statistics 13(3), 253-263. D. Harvey, S. Leybourne and P. Newbold (1997), "Testing
    the equality of prediction mean squared errors", International Journal of Forecasting 13(2), 281-291.
    """
    if h < 1 or int(h) != h:
        raise ValueError(f"h must be a positive integer, got {h}")
    if power <= 0:
        raise ValueError(f"power must be positive, got {power}")
    h = int(h)
    a, b = _paired(e1, e2)
    n = len(a)
    if n < DM_MIN_POINTS:
        return {"applicable": False, "reason": f"{n} paired errors < DM_MIN_POINTS = {DM_MIN_POINTS}", "n": n}
    d = np.abs(a) ** power - np.abs(b) ** power
    dbar = float(d.mean())
    dev = d - dbar
    # Relative test, because an exactly constant differential still leaves rounding dust in its variance.
    if np.ptp(d) <= 1e-12 * max(float(np.max(np.abs(d))), np.finfo(float).tiny):
        return {"applicable": False, "reason": "loss differential has zero variance", "n": n}
    gamma = [float(dev[k:] @ dev[: n - k]) / n for k in range(min(h, n))]
    v = gamma[0] + 2.0 * sum(gamma[1:])
    if not v > 0.0:
        return {"applicable": False, "reason": f"long-run variance of the loss differential is not positive ({v:.3g})", "n": n}
    dm = dbar / np.sqrt(v / n)
    hln = np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    stat = float(dm * hln)
    p = float(2.0 * stats.t.sf(abs(stat), df=n - 1))
    better = "e1" if dbar < 0 else ("e2" if dbar > 0 else "tie")
    return {
        "applicable": True,
        "statistic": stat,
        "pvalue": p,
        "n": n,
        "h": h,
        "power": power,
        "df": n - 1,
        "mean_loss_diff": dbar,
        "better": better,
    }
