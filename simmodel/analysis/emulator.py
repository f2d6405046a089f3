"""A Gaussian-process emulator of the model, used only where it is shown to be accurate.

When an analysis needs more model evaluations than the machine gives in minutes (Sobol indices
need n x (k + 2) points), the model is run on a Latin hypercube of training points, a Gaussian
process (scikit-learn) is fitted per output, and its error is measured on held-out model runs it
was not fitted on. An output whose held-out Q^2 (1 - SSE / SST, the share of the held-out variance
the emulator predicts) is below ``min_q2`` is not emulated: the analysis says so and reports
nothing for it from the emulator. Every table the analysis writes names its source, ``model`` or
``emulator``.

Factors are scaled to [0, 1] before fitting so that one length-scale prior fits every unit.

**The stored emulator** (what ``simmodel explore`` shows while the model runs). Trained by

    simmodel analyze method=emulator name=explorer population.scale=0.1 replicates=20 \
        hydra/launcher=joblib hydra.launcher.n_jobs=2

(``factors=[...]`` or ``screen=<morris analysis>`` to vary fewer factors; ``emulator_points=N``
model points, by default 10 per factor and at least 20; ``scenario=`` the scenario the factors vary
around). It lands in ``results/analyze/explorer/analysis/``: ``emulator.npz`` (plain arrays: the
training inputs in unit scale, and per output the weights, kernel hyperparameters and the mean and
standard deviation the outputs were normalised by), ``emulator.json`` (the factors, the settings the
model points ran with, and per output its held-out validation) and ``emulator.md``, under a manifest
of checksums written last. Nothing in it is a pickle: loading it runs no code. :func:`load_emulator`
reads it back as a :class:`StoredEmulator`, which predicts with numpy alone. Every non-constant
output is stored, however poorly it validates: the explorer applies its own error threshold and says
which outputs it refuses and why (``validation[output]``: held-out RMSE, largest error, Q^2).
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.analysis.space import Factor, effective
from simmodel.errors import ConfigError
from simmodel.results import ResultsError, read_manifest, write_json

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




def _validate_one(task: tuple) -> tuple[dict, object]:
    """One output: held-out error, then the emulator kept (or None). A top-level function so that
    outputs can be fitted in worker processes."""
    col, xu, test, y, seed, min_q2, fit_refused, reoptimise, one_thread = task
    if one_thread:
        # one BLAS thread per worker: the workers already use the cores
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            return _validate_one((col, xu, test, y, seed, min_q2, fit_refused, reoptimise, False))
    lo, hi = _clip_for(col)
    gp = _fit(xu[~test], y[~test], seed)
    err = np.clip(gp.predict(xu[test]), lo, hi) - y[test]
    sst = float(((y[test] - y[test].mean()) ** 2).sum())
    row = {"rmse": float(np.sqrt((err ** 2).mean())), "max_abs_error": float(np.abs(err).max())}
    # ptp, not sst == 0: the mean of equal values need not equal them in floating point, and a
    # sum of squares of 1e-32 made a Q^2 of -5e28 out of twenty equal P(met)
    if np.ptp(y[test]) == 0:
        # Q^2 is undefined when the held-out runs all agree (a probability of 0 or 1 on most of
        # the space): the emulator is not trusted without a measure of its error
        row["note"] = "held-out runs all equal: Q^2 undefined"
    else:
        row["q2"] = 1 - float((err ** 2).sum()) / sst
        row["used"] = bool(row["q2"] >= min_q2)
        if not row["used"]:
            row["note"] = f"Q^2 below {min_q2:g}"
    if not (row.get("used") or fit_refused):
        return row, None
    if reoptimise:
        return row, _fit(xu, y, seed)
    # condition on every point with the hyperparameters whose held-out error was just measured
    # (no second optimisation: the stored kernel is the validated one, at half the cost)
    from sklearn.gaussian_process import GaussianProcessRegressor

    return row, GaussianProcessRegressor(gp.kernel_, optimizer=None, normalize_y=True).fit(xu, y)


def validate_and_fit(x: np.ndarray, outputs: pd.DataFrame, bounds: np.ndarray, *, holdout: float = 0.25,
                     min_q2: float = 0.9, seed: int = 0, fit_refused: bool = False, reoptimise: bool = True,
                     workers: int = 1) -> tuple[Emulator, pd.DataFrame]:
    """Measure each output's emulator error on held-out points, then refit on all points.

    x: n x k model inputs in natural units; outputs: n rows, one column per output. Returns the
    emulator and a validation table: per output the held-out RMSE and largest absolute error (in the
    output's unit), Q^2, the number of training and held-out points, whether it is used and, if
    not, why. The emulator holds the outputs that pass, or with ``fit_refused`` every output that
    is not constant. ``reoptimise``: fit the kernel anew on all points (else keep the hyperparameters
    fitted on the training share and condition on all points). ``workers``: processes fitting
    outputs side by side (the results do not depend on it)."""
    x = np.asarray(x, float)
    bounds = np.asarray(bounds, float)
    n = len(x)
    rng = np.random.default_rng(seed)
    test = np.zeros(n, bool)
    test[rng.choice(n, size=max(2, int(round(holdout * n))), replace=False)] = True
    xu = _unit(x, bounds)
    rows, tasks = [], []
    for col in outputs.columns:
        y = outputs[col].to_numpy(float)
        row = {"output": col, "rmse": np.nan, "max_abs_error": np.nan, "q2": np.nan, "n_train": int((~test).sum()),
               "n_holdout": int(test.sum()), "used": False, "note": ""}
        rows.append(row)
        if np.ptp(y) == 0:
            # nothing varies, so there is nothing to emulate or to apportion
            row["note"] = f"constant over every model run ({y[0]:.4g})"
            continue
        tasks.append((col, xu, test, y, seed, min_q2, fit_refused, reoptimise, workers > 1))
    if workers > 1 and len(tasks) > 1:
        from simmodel.workers import process_pool

        with process_pool(min(workers, len(tasks))) as pool:
            fitted = list(pool.map(_validate_one, tasks))
    else:
        fitted = [_validate_one(t) for t in tasks]
    by_name = {r["output"]: r for r in rows}
    models, clips = {}, {}
    for task, (update, model) in zip(tasks, fitted):
        col = task[0]
        by_name[col].update(update)
        if model is not None:
            models[col] = model
            clips[col] = _clip_for(col)
    return Emulator(bounds, models, clips), pd.DataFrame(rows)


# --- the stored emulator ------------------------------------------------------------------------

EMULATOR_NPZ = "emulator.npz"
EMULATOR_JSON = "emulator.json"
EMULATOR_KIND = "simmodel Gaussian-process emulator (scikit-learn: Matern 5/2, ARD, white noise; normalised outputs)"
# The layout of emulator.npz and emulator.json; a reader refuses another rather than misread it
EMULATOR_FORMAT = 1
_SQRT5 = math.sqrt(5.0)


def gp_arrays(gp, y: np.ndarray) -> dict[str, np.ndarray]:
    """The numbers a fitted GP (ConstantKernel * Matern(nu=2.5) + WhiteKernel, normalize_y) predicts
    with, from its public attributes: the weights alpha (one per training point), the kernel's
    amplitude, length scales (unit-scaled inputs) and noise level, and the mean and standard
    deviation the outputs y were normalised by (as scikit-learn computes them)."""
    kernel = gp.kernel_
    y = np.asarray(y, float)
    std = float(np.std(y))
    return {"alpha": np.asarray(gp.alpha_, float).ravel(), "amplitude": float(kernel.k1.k1.constant_value),
            "length_scale": np.atleast_1d(np.asarray(kernel.k1.k2.length_scale, float)),
            "noise_level": float(kernel.k2.noise_level), "y_mean": float(np.mean(y)), "y_std": std if std > 0 else 1.0}


def write_emulator(folder: Path, factors: list[Factor], start: dict[str, float], emu: Emulator, x: np.ndarray,
                   outputs: pd.DataFrame, validation: pd.DataFrame, settings: dict, *, min_q2: float) -> None:
    """Write emulator.npz and emulator.json into folder (a RunWriter's, which adds the manifest).

    factors: the factors in design order; start: each factor's value in the training scenario
    (natural units, a switch as 0 or 1); emu: fitted with fit_refused on x (n x k natural units,
    as the model ran them); outputs: the model's outputs at x; validation: validate_and_fit's
    table; settings: how the model points ran (scenario, population, replicates, seed,
    calibration ...); min_q2: the analysis's acceptance level, recorded per output."""
    folder = Path(folder)
    emulated = [c for c in validation["output"] if c in emu.models]
    arrays = [gp_arrays(emu.models[c], outputs[c].to_numpy(float)) for c in emulated]
    k = len(factors)
    np.savez(folder / EMULATOR_NPZ, x_unit=_unit(np.asarray(x, float), emu.bounds),
             alpha=np.array([a["alpha"] for a in arrays], float).reshape(len(arrays), len(x)),
             length_scale=np.array([np.broadcast_to(a["length_scale"], k) for a in arrays], float).reshape(len(arrays), k),
             amplitude=np.array([a["amplitude"] for a in arrays], float),
             noise_level=np.array([a["noise_level"] for a in arrays], float),
             y_mean=np.array([a["y_mean"] for a in arrays], float), y_std=np.array([a["y_std"] for a in arrays], float))
    out = {}
    for r in validation.itertuples():
        y = outputs[r.output].to_numpy(float)
        entry = {"emulated": r.output in emu.models, "constant": float(y[0]) if np.ptp(y) == 0 else None,
                 "rmse": _num(r.rmse), "max_abs_error": _num(r.max_abs_error), "q2": _num(r.q2),
                 "n_train": int(r.n_train), "n_holdout": int(r.n_holdout),
                 "accepted": bool(r.used), "note": r.note, "min_q2": min_q2,
                 "range": [float(y.min()), float(y.max())]}
        if r.output in emu.models:
            a = arrays[emulated.index(r.output)]
            entry["kernel"] = {"amplitude": a["amplitude"], "length_scale": np.broadcast_to(a["length_scale"], k).tolist(),
                               "noise_level": a["noise_level"], "y_mean": a["y_mean"], "y_std": a["y_std"]}
        out[r.output] = entry
    write_json(folder / EMULATOR_JSON, {
        "format": EMULATOR_FORMAT, "kind": EMULATOR_KIND,
        "factors": [{"name": f.name, "group": f.group, "low": f.low, "high": f.high, "kind": f.kind, "unit": f.unit,
                     "article": f.article, "baseline": f.baseline, "reason": f.reason, "start": float(start[f.name]),
                     **({"choices": list(_choices(f.name))} if f.kind == "switch" else {})} for f in factors],
        "settings": settings, "emulated": emulated, "outputs": out})


def _num(v) -> float | None:
    """A float for JSON, None for NaN (undefined), which strict JSON readers refuse."""
    return None if v is None or not np.isfinite(v) else float(v)


def _choices(name: str) -> tuple[str, ...]:
    from simmodel.levers import Levers, specs

    return specs(Levers)[name].choices


@dataclass
class StoredEmulator:
    """An emulator read from disk (:func:`load_emulator`); predicts with numpy alone.

    factors: what it varies, with their training bounds (natural units); start: each factor's value
    in the scenario the points ran around; settings: how the model points ran (scenario,
    population, replicates, seed, calibration, points, holdout share ...); validation: output ->
    its held-out error (rmse and max_abs_error in the output's unit, q2, n_train, n_holdout,
    accepted at the analysis's min_q2, note, constant: the value where it never varied);
    outputs: every output, emulated or constant (``T2_2027_p_met``, ``T2_2027_median``, ...)."""

    folder: Path
    factors: list[Factor]
    start: dict[str, float]
    settings: dict
    validation: dict[str, dict]
    outputs: list[str]
    _emulated: list[str] = field(repr=False)
    _x: np.ndarray = field(repr=False)  # n x k training inputs, unit scale
    _inv_ls2: np.ndarray = field(repr=False)  # m x k, 1 / length_scale^2
    _amplitude: np.ndarray = field(repr=False)
    _alpha: np.ndarray = field(repr=False)  # m x n
    _y_mean: np.ndarray = field(repr=False)
    _y_std: np.ndarray = field(repr=False)
    _lo: np.ndarray = field(repr=False)  # m, the clip of each emulated output
    _hi: np.ndarray = field(repr=False)

    def point(self, values: dict[str, object]) -> np.ndarray:
        """The factors' values (natural units, as the model would run them: integers rounded, a
        switch as 0 or 1) for a mapping of factor name -> value; missing factors at their start
        value. An enum lever may be given as its choice (``"yearly_profit"``). Names that are
        levers or uncertainties but not factors are ignored (see :meth:`unvaried`)."""
        x = np.array([self.start[f.name] for f in self.factors], float)
        index = {f.name: i for i, f in enumerate(self.factors)}
        for name, v in values.items():
            i = index.get(name)
            if i is None:
                _known_name(name)
                continue
            x[i] = _as_number(self.factors[i], v)
        return effective(self.factors, x[None, :])[0]

    def predict(self, values: dict[str, object]) -> dict[str, float]:
        """Every output at these factor values (see :meth:`point`), in the output's unit;
        probabilities clipped to [0, 1]. Outputs that never varied give their constant."""
        x = self.point(values)
        lo = np.array([f.low for f in self.factors])
        u = (x - lo) / (np.array([f.high for f in self.factors]) - lo)
        # squared scaled distance to every training point, for every output at once (n x m). einsum,
        # not @: a matrix this small is quicker on one core, and a threaded BLAS waiting for its
        # threads on a busy machine took 16 ms where this takes 0.5
        d = np.sqrt(np.einsum("nk,mk->nm", (u - self._x) ** 2, self._inv_ls2)) * _SQRT5
        kern = (1.0 + d + d * d / 3.0) * np.exp(-d) * self._amplitude  # Matern 5/2, n x m
        y = np.clip(np.einsum("nm,mn->m", kern, self._alpha) * self._y_std + self._y_mean, self._lo, self._hi)
        out = {c: float(v["constant"]) for c, v in self.validation.items() if v.get("constant") is not None}
        out.update(zip(self._emulated, y.tolist()))
        return {c: out[c] for c in self.outputs}

    def outside(self, values: dict[str, object]) -> list[str]:
        """The factors whose value (given, or the start value) lies outside the training bounds:
        there the emulator extrapolates, and its held-out error says nothing."""
        x = self.point(values)
        return [f.name for f, v in zip(self.factors, x) if not f.low <= v <= f.high]

    def refused(self, max_rmse: float, outputs: list[str] | None = None) -> dict[str, str]:
        """Output -> why its estimate is not to be shown, for each of ``outputs`` (default: every
        P(met), whose unit max_rmse then is: 0.05 is 5 points of probability) that is emulated and
        whose held-out RMSE exceeds max_rmse. An output that never varied over the training points
        is not refused: it is that constant."""
        out = {}
        wanted = [c for c in self.outputs if c.endswith("_p_met")] if outputs is None else list(outputs)
        unknown = sorted(set(wanted) - set(self.outputs))
        if unknown:
            raise ConfigError(f"emulator {self.folder}: no output {unknown[0]!r}; it has {', '.join(self.outputs)}")
        for name in [c for c in wanted if c in self._emulated]:
            v = self.validation[name]
            if v.get("rmse") is None:
                out[name] = "no held-out error measured"
            elif v["rmse"] > max_rmse:
                q2 = "undefined (the held-out runs all agree)" if v.get("q2") is None else f"{v['q2']:.2f}"
                out[name] = (f"held-out error too large: RMSE {v['rmse']:.3g} above {max_rmse:g} (largest error "
                             f"{v['max_abs_error']:.3g}, Q^2 {q2}, {v['n_holdout']} held-out model runs)")
        return out

    def unvaried(self, values: dict[str, object]) -> list[str]:
        """Levers and uncertainties given with a value other than the training scenario's that the
        emulator does not vary: its estimate holds them at the scenario's values."""
        scenario = self.settings.get("scenario_values", {})
        factor_names = {f.name for f in self.factors}
        out = []
        for name, v in values.items():
            if name in factor_names:
                continue
            _known_name(name)
            ref = scenario.get("levers", {}).get(name, scenario.get("uncertainties", {}).get(name))
            if ref is None or not _same(v, ref):
                out.append(name)
        return out


def _same(a, b) -> bool:
    a, b = getattr(a, "value", a), getattr(b, "value", b)
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b)
    return float(a) == float(b)


def _known_name(name: str) -> None:
    import difflib

    from simmodel.levers import Levers, Uncertainties, specs

    known = list(specs(Levers)) + list(specs(Uncertainties))
    if name not in known:
        close = difflib.get_close_matches(str(name), known, n=1)
        raise ConfigError(f"unknown lever or uncertainty {name!r}" + (f"; did you mean {close[0]}?" if close else
                                                                        "; see docs/ODD.md for the list"))


def _as_number(f: Factor, v) -> float:
    """A value given for factor f as the number the emulator uses (a switch's choice -> 0 or 1)."""
    if f.kind == "switch":
        raw = v.value if isinstance(v, enum.Enum) else v
        choices = _choices(f.name)
        if isinstance(raw, str):
            if raw not in choices:
                raise ConfigError(f"lever {f.name} = {raw!r} is not allowed: choose one of {', '.join(choices)}")
            return float(choices.index(raw))
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(float(v)):
        what = "lever" if f.group == "levers" else "uncertainty"
        raise ConfigError(f"{what} {f.name} = {v!r} is not a finite number; the emulator was trained on "
                          f"[{f.low:g}, {f.high:g}] {f.unit}")
    return float(v)


def _resolve(folder: Path) -> Path:
    """The analysis folder holding the emulator: folder itself or its analysis/ subfolder."""
    folder = Path(folder)
    if not (folder / EMULATOR_JSON).is_file() and (folder / "analysis").is_dir():
        return folder / "analysis"
    return folder


def load_emulator(folder: Path) -> StoredEmulator:
    """Read a stored emulator (``simmodel analyze method=emulator``): the analysis folder
    ``results/analyze/<name>/analysis`` or ``results/analyze/<name>``. Checks every file against the
    manifest, the format, the arrays' shapes, and that the lever registry still knows every factor.
    Raises ResultsError (missing, incomplete, corrupt, another format) or ConfigError (a factor the
    registry no longer knows, or whose choices changed), each one line naming the folder."""
    path = _resolve(folder)
    if not path.is_dir():
        raise ResultsError(f"emulator {path}: no such folder; train one with `simmodel analyze method=emulator "
                           "name=explorer` (see simmodel/analysis/emulator.py)")
    try:
        manifest = read_manifest(path, (EMULATOR_NPZ, EMULATOR_JSON))
    except ResultsError as exc:
        raise ResultsError(f"emulator {path}: {exc}") from None
    method = (manifest.get("settings") or {}).get("method")
    if method != "emulator":
        raise ResultsError(f"emulator {path}: the folder holds a {method} analysis, not an emulator "
                           "(simmodel analyze method=emulator)")
    try:
        meta = json.loads((path / EMULATOR_JSON).read_text(encoding="utf-8"))
        # allow_pickle=False (numpy's default, stated): an array of Python objects is refused, not run
        with np.load(path / EMULATOR_NPZ, allow_pickle=False) as npz:
            arrays = {k: np.asarray(npz[k], float) for k in ("x_unit", "alpha", "length_scale", "amplitude",
                                                               "y_mean", "y_std")}
    except (OSError, ValueError, KeyError) as exc:
        raise ResultsError(f"emulator {path}: unreadable ({exc})") from None
    fmt = meta.get("format") if isinstance(meta, dict) else None
    if fmt != EMULATOR_FORMAT:
        raise ResultsError(f"emulator {path}: emulator format {fmt!r}; this simmodel reads format {EMULATOR_FORMAT} "
                           "only (written by another version: retrain it with `simmodel analyze method=emulator`)")
    try:
        factors = [Factor(f["name"], f["group"], float(f["low"]), float(f["high"]), f["kind"], f["unit"],
                          int(f["article"]), float(f["baseline"]), f["reason"]) for f in meta["factors"]]
        start = {f["name"]: float(f["start"]) for f in meta["factors"]}
        emulated, validation = list(meta["emulated"]), dict(meta["outputs"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ResultsError(f"emulator {path}: {EMULATOR_JSON} lacks {exc} (another format?)") from None
    _check_registry(path, meta["factors"])
    n, k, m = len(arrays["x_unit"]), len(factors), len(emulated)
    shapes = {"x_unit": (n, k), "alpha": (m, n), "length_scale": (m, k), "amplitude": (m,), "y_mean": (m,), "y_std": (m,)}
    bad = [name for name, shape in shapes.items() if arrays[name].shape != shape or not np.isfinite(arrays[name]).all()]
    if bad or set(emulated) - set(validation):
        raise ResultsError(f"emulator {path}: {EMULATOR_NPZ} does not match {EMULATOR_JSON} ({', '.join(bad) or 'outputs'})")
    clips = np.array([_clip_for(c) for c in emulated], float).reshape(m, 2)
    return StoredEmulator(path, factors, start, dict(meta.get("settings") or {}), validation, list(validation),
                          emulated, arrays["x_unit"], 1.0 / arrays["length_scale"] ** 2, arrays["amplitude"],
                          arrays["alpha"], arrays["y_mean"], arrays["y_std"], clips[:, 0], clips[:, 1])


def _check_registry(path: Path, factors: list[dict]) -> None:
    from simmodel.levers import Levers, Uncertainties, specs

    registry = {"levers": specs(Levers), "uncertainties": specs(Uncertainties)}
    for f in factors:
        group = registry.get(f["group"], {})
        if f["name"] not in group:
            what = "lever" if f["group"] == "levers" else "uncertainty"
            raise ConfigError(f"emulator {path}: factor {f['name']!r} is no {what} the lever registry knows (renamed or "
                              "removed since the emulator was trained); retrain it with `simmodel analyze method=emulator`")
        if f["kind"] == "switch" and list(group[f["name"]].choices) != list(f.get("choices", [])):
            raise ConfigError(f"emulator {path}: lever {f['name']} has choices {list(group[f['name']].choices)} in the "
                              f"registry, {f.get('choices')} in the emulator; retrain it")
