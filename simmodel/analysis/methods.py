"""The field's standard methods, from maintained libraries: Morris screening and Sobol indices
(SALib), Latin-hypercube samples (SALib) and PRIM scenario discovery (EMA Workbench).

Functions take and return arrays and DataFrames; nothing here runs the model, so each is tested on
functions whose answer is known (tests/unit/test_analysis.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def morris_design(problem: dict, trajectories: int, levels: int = 4, seed: int = 0) -> np.ndarray:
    """Morris elementary-effects design: trajectories x (k + 1) points in natural units."""
    from SALib.sample import morris

    return morris.sample(problem, trajectories, num_levels=levels, seed=seed)


def morris_indices(problem: dict, x: np.ndarray, y: np.ndarray, levels: int = 4, seed: int = 0) -> pd.DataFrame:
    """mu* (mean absolute elementary effect, in the output's unit per factor range), its 95 %
    bootstrap half-width, sigma (interaction or non-linearity) and mu, per factor, largest mu* first."""
    from SALib.analyze import morris

    r = morris.analyze(problem, x, np.asarray(y, float), num_levels=levels, conf_level=0.95, seed=seed)
    return (pd.DataFrame({"factor": problem["names"], "mu_star": r["mu_star"], "mu_star_conf": r["mu_star_conf"],
                          "sigma": r["sigma"], "mu": r["mu"]})
            .sort_values("mu_star", ascending=False, kind="stable").reset_index(drop=True))


def sobol_design(problem: dict, n: int, seed: int = 0) -> np.ndarray:
    """Saltelli's extension of the Sobol sequence without second-order terms: n x (k + 2) points
    (n a power of two)."""
    from SALib.sample import sobol

    return sobol.sample(problem, n, calc_second_order=False, seed=seed)


def sobol_indices(problem: dict, y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol indices with 95 % bootstrap half-widths, per factor."""
    from SALib.analyze import sobol

    r = sobol.analyze(problem, np.asarray(y, float), calc_second_order=False, conf_level=0.95, seed=seed)
    return (pd.DataFrame({"factor": problem["names"], "S1": r["S1"], "S1_conf": r["S1_conf"], "ST": r["ST"],
                          "ST_conf": r["ST_conf"]})
            .sort_values("ST", ascending=False, kind="stable").reset_index(drop=True))


def lhs_design(problem: dict, n: int, seed: int = 0) -> np.ndarray:
    """Latin hypercube of n points in natural units."""
    from SALib.sample import latin

    return latin.sample(problem, n, seed=seed)


def prim(x: pd.DataFrame, y: np.ndarray, *, threshold: float = 0.8, peel_alpha: float = 0.05,
         mass_min: float = 0.05) -> dict:
    """PRIM (Friedman and Fisher 1999) as the EMA Workbench implements it: peel the box of factor
    values where y (True: the outcome of interest) is most concentrated.

    Returns the peeling trajectory (coverage, density, mass, restricted dimensions per step), the
    chosen box (the first on the trajectory with density >= threshold, else the densest) with its
    limits on the restricted dimensions, and the base rate."""
    import warnings

    with warnings.catch_warnings():
        # the workbench announces at import that an optional parallel back end is missing
        warnings.filterwarnings("ignore", message="ipyparallel not installed")
        warnings.filterwarnings("ignore", message="altair based interactive inspection not available")
        from ema_workbench.analysis import prim as ema_prim

    y = np.asarray(y, bool)
    if y.all() or not y.any():
        return {"trajectory": pd.DataFrame(), "box": None, "base_rate": float(y.mean()),
                "note": "every point has the same outcome: there is no box to find"}
    with warnings.catch_warnings():
        # the workbench uses pandas idioms that pandas 3 deprecates; the results are unaffected
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        finder = ema_prim.Prim(x.reset_index(drop=True), y, peel_alpha=peel_alpha, mass_min=mass_min)
        box = finder.find_box()
    if box is None:
        return {"trajectory": pd.DataFrame(), "box": None, "base_rate": float(y.mean()), "note": "PRIM found no box"}
    traj = box.peeling_trajectory.copy()
    # the first box on the trajectory dense enough: coverage only falls as peeling goes on
    ok = traj.index[traj["density"] >= threshold]
    i = int(ok[0]) if len(ok) else int(traj["density"].idxmax())
    limits = box.box_lims[i]
    restricted = [c for c in x.columns if not np.isclose(limits.loc[0, c], x[c].min()) or
                  not np.isclose(limits.loc[1, c], x[c].max())]
    inside = np.ones(len(x), bool)
    for c in restricted:
        inside &= (x[c] >= limits.loc[0, c]) & (x[c] <= limits.loc[1, c])
    return {"trajectory": traj, "box_index": i, "base_rate": float(y.mean()),
            "box": {c: (float(limits.loc[0, c]), float(limits.loc[1, c])) for c in restricted},
            "coverage": float((inside & y).sum() / y.sum()), "density": float(y[inside].mean()) if inside.any() else 0.0,
            "mass": float(inside.mean()), "note": ""}
