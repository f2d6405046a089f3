"""Variance decomposition of a Monte Carlo output by groups of independent input sources.

The ensemble draws its inputs from groups that are independent of each other (for example the
assumptions, the agents' behaviour, the estimated parameters and the shocks). The first-order
(Sobol) index of a group G is

    S_G = Var(E[Y | X_G]) / Var(Y),

the share of the output's variance that G explains on its own: the variance that would go if G's
draw were known and everything else still varied. It is a share of variance, without unit, between
0 and 1. The indices of independent groups sum to at most 1; ``1 - sum(S_G)`` is the share that comes
only from interactions between groups (it is 0 for an additive model).

Design (pick-freeze): the main sample A has N replicates with output ``y_main[j]``. For each group G
and pair j < n_pairs one extra run keeps group G's draw of replicate j of A and takes every other
group's draw from an independent sample B_j; its output is ``y_frozen[G][j]``. ``pair_plan`` lists
those extra runs. Y and Y' then share X_G only, so Cov(Y, Y') = Var(E[Y | X_G]).

Nothing here runs the model: the functions take arrays, so they are tested on toy models whose
indices are known analytically (tests/unit/test_decompose.py).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

RESERVED = ("variance", "interactions", "n_main", "note")


def pair_plan(groups: tuple[str, ...], n_pairs: int) -> list[tuple[str, int]]:
    """The extra runs of the pick-freeze design, as (group, j): run (G, j) keeps group G's draw of
    main replicate j and takes every other group's draw from the independent sample B_j.

    The order is fixed: group by group in the order given, and j = 0 .. n_pairs - 1 within a group,
    so ``y_frozen[G][j]`` is the output of run (G, j)."""
    groups = tuple(groups)
    if len(set(groups)) != len(groups):
        raise ValueError(f"groups must be distinct, got {groups}")
    if bad := [g for g in groups if g in RESERVED]:
        raise ValueError(f"group names {bad} are reserved for the result's own keys {RESERVED}")
    if int(n_pairs) != n_pairs or n_pairs < 0:
        raise ValueError(f"n_pairs must be a non-negative integer, got {n_pairs}")
    return [(g, j) for g in groups for j in range(int(n_pairs))]


def _janon(y: np.ndarray, yp: np.ndarray) -> np.ndarray:
    """Janon et al.'s estimator along the last axis; nan where the denominator is not positive."""
    m = ((y + yp) / 2).mean(axis=-1)
    num = (y * yp).mean(axis=-1) - m ** 2
    den = ((y ** 2 + yp ** 2) / 2).mean(axis=-1) - m ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def first_order_indices(y_main: np.ndarray, y_frozen: Mapping[str, np.ndarray], *, resamples: int = 1000,
                        seed: int = 0) -> dict:
    """Grouped first-order Sobol indices from a pick-freeze design.

    ``y_main`` is the output of the main sample's N replicates; ``y_frozen[G]`` (length
    n_pairs <= N) the output of the runs that share group G's draw with ``y_main[:n_pairs]`` and
    draw every other group afresh (see ``pair_plan``).

    Meaning: ``s1`` of group G estimates S_G = Var(E[Y | X_G]) / Var(Y), the share of the output's
    variance explained by G alone. Unit: a share of variance, without unit, 0 to 1 in truth; the
    estimate can fall slightly outside [0, 1] by sampling error (it is not clipped).

    Estimator: Janon, Klein, Lagnoux, Nodet and Prieur (2014), "Asymptotic normality and efficiency
    of two Sobol index estimators", ESAIM: Probability and Statistics 18, 342-364. With the n valid
    pairs (y, y') of group G,

        m = mean((y + y') / 2)
        S = (mean(y * y') - m**2) / (mean((y**2 + y'**2) / 2) - m**2),

    which uses both members of every pair for the mean and the variance and is asymptotically
    efficient among pick-freeze estimators. ``ci95`` is a 95 % percentile interval from a bootstrap
    that resamples the pairs ``resamples`` times with a fixed seed (the same resampled pair indices
    for every group with the same valid pairs, so results are reproducible).

    Pairs where either member is NaN (or infinite) are dropped; ``dropped`` counts them and a
    ``note`` says so. If the main output does not vary (its variance is 0 or not finite) every
    ``s1`` is nan with a ``note``. A group whose valid pairs do not vary either gets nan as well.

    Returns a dict with one entry per group, ``{"s1", "ci95": [lo, hi], "n_pairs", "dropped"}`` (and
    ``"note"`` when something was dropped or could not be estimated), plus

    - ``"variance"``: the variance of the finite values of ``y_main`` (ddof=1), in the output's
      unit squared;
    - ``"interactions"``: 1 - sum of the groups' ``s1`` (raw, not clipped; nan if any is nan), the
      share of variance due to interactions between groups, up to sampling error;
    - ``"n_main"``: the number of finite values of ``y_main``;
    - ``"note"``: only when the output does not vary or ``y_main`` had non-finite values.
    """
    y_main = np.asarray(y_main, dtype=float)
    if y_main.ndim != 1:
        raise ValueError(f"y_main must be one-dimensional, got shape {y_main.shape}")
    if bad := [g for g in y_frozen if g in RESERVED]:
        raise ValueError(f"group names {bad} are reserved for the result's own keys {RESERVED}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")

    finite_main = np.isfinite(y_main)
    n_main = int(finite_main.sum())
    variance = float(np.var(y_main[finite_main], ddof=1)) if n_main >= 2 else float("nan")
    constant = not (np.isfinite(variance) and variance > 0)

    out: dict = {}
    notes = []
    if n_main < len(y_main):
        notes.append(f"{len(y_main) - n_main} of {len(y_main)} main outputs are not finite and were left out")
    if constant:
        notes.insert(0, "the output does not vary (its variance is 0 or not finite): no share of variance to decompose")

    for g, yf in y_frozen.items():
        yf = np.asarray(yf, dtype=float)
        if yf.ndim != 1 or len(yf) > len(y_main):
            raise ValueError(f"y_frozen[{g!r}] must be one-dimensional with at most {len(y_main)} values "
                             f"(len(y_main)), got shape {yf.shape}")
        y = y_main[:len(yf)]
        ok = np.isfinite(y) & np.isfinite(yf)
        n, dropped = int(ok.sum()), int(len(yf) - ok.sum())
        entry: dict = {"s1": float("nan"), "ci95": [float("nan"), float("nan")], "n_pairs": n, "dropped": dropped}
        gnotes = []
        if dropped:
            gnotes.append(f"{dropped} of {len(yf)} pairs dropped (an output is NaN or infinite)")
        if constant:
            gnotes.append("the output does not vary: s1 is undefined")
        elif n < 2:
            gnotes.append(f"only {n} valid pairs: s1 is undefined")
        else:
            y, yp = y[ok], yf[ok]
            s1 = float(_janon(y, yp))
            if np.isnan(s1):
                gnotes.append("the output does not vary over this group's pairs: s1 is undefined")
            else:
                idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
                boot = _janon(y[idx], yp[idx])
                boot = boot[np.isfinite(boot)]
                entry["s1"] = s1
                if len(boot):
                    entry["ci95"] = [float(q) for q in np.quantile(boot, [0.025, 0.975])]
                if len(boot) < resamples:
                    gnotes.append(f"{resamples - len(boot)} of {resamples} bootstrap resamples did not vary and were left out")
        if gnotes:
            entry["note"] = "; ".join(gnotes)
        out[g] = entry

    out["variance"] = variance
    out["interactions"] = float(1.0 - sum(out[g]["s1"] for g in y_frozen)) if y_frozen else float("nan")
    out["n_main"] = n_main
    if notes:
        out["note"] = "; ".join(notes)
    return out
