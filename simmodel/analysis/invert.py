"""Target inversion: the least fiscal-cost lever package that reaches a target with a chosen
probability, and the cost-probability frontier.

The search runs in two stages over batches of points, each batch evaluated together (on the model
that is a sweep through the Hydra launcher):

1. **Global search** with Optuna's multi-objective TPE sampler: minimise fiscal cost, maximise
   P(met). Two objectives rather than a constraint, so that the whole frontier is explored, not
   only its point at the chosen probability. The baseline package is the first point.
2. **Polish** (a pattern search, deterministic): from the cheapest package that reaches the
   probability, move one lever at a time by a step up and down, keep the cheapest move that still
   reaches it, halve the steps when no move helps. It takes the search the last stretch to the
   optimum, which a sampler approaches only slowly.

Every point uses the same replicate seeds (common random numbers), so P(met) and cost are
deterministic functions of the levers: the search compares packages, not noise. P(met) moves in
steps of 1 / replicates, which is why the polish steps stop at a floor rather than at zero.

Nothing here runs the model: ``evaluate(tag, x)`` does, and the toy test hands in a function
whose optimum is known (tests/unit/test_analysis.py).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

# evaluate(tag, x) -> (fiscal cost, P(met)) for the n x k points x in natural units; tag names the
# batch (the model's evaluations keep each batch in a folder of that name, so a re-run reuses it)
Evaluate = Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class SearchSettings:
    p_level: float  # the probability the package must reach, (0, 1]
    batch: int = 16  # points per batch of the global search
    generations: int = 8  # batches of the global search
    polish_rounds: int = 4  # rounds of the pattern search (each 2k points at most)
    first_step: float = 0.25  # the polish's first step, as a share of each factor's range
    seed: int = 0


def _round(x: np.ndarray, kinds: list[str]) -> np.ndarray:
    x = np.array(x, float)
    for j, kind in enumerate(kinds):
        if kind in ("int", "switch"):
            x[..., j] = np.round(x[..., j])
    return x


def frontier(cost: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Indices of the cost-probability frontier: the points no other point beats on both (cheaper
    or as cheap, and at least as likely), in order of cost."""
    order = np.lexsort((-p, cost))  # by cost, the more likely first among equal costs
    keep, best = [], -np.inf
    for i in order:
        if p[i] > best:
            keep.append(int(i))
            best = p[i]
    return np.array(keep, int)


def search(evaluate: Evaluate, names: list[str], bounds: np.ndarray, kinds: list[str], start: np.ndarray,
           s: SearchSettings, echo=print) -> dict:
    """Both stages. Returns the evaluations (one row per point: factors, cost, p_met, stage,
    batch), the index of the least-cost package reaching s.p_level (None if no point did) and the
    frontier's indices."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bounds = np.asarray(bounds, float)
    k = len(names)
    with warnings.catch_warnings():
        # multivariate TPE is marked experimental in Optuna 4; its interface, not its results, may change
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        sampler = optuna.samplers.TPESampler(seed=s.seed, multivariate=True, n_startup_trials=s.batch)
    study = optuna.create_study(directions=["minimize", "maximize"], sampler=sampler)
    study.enqueue_trial({n: (int(round(v)) if kinds[j] != "float" else float(v)) for j, (n, v) in enumerate(zip(names, start))})
    xs, costs, ps, stages, tags = [], [], [], [], []

    def run(tag: str, x: np.ndarray, stage: str) -> tuple[np.ndarray, np.ndarray]:
        cost, p = evaluate(tag, x)
        xs.append(x)
        costs.append(np.asarray(cost, float))
        ps.append(np.asarray(p, float))
        stages.extend([stage] * len(x))
        tags.extend([tag] * len(x))
        return costs[-1], ps[-1]

    for g in range(s.generations):
        trials = [study.ask() for _ in range(s.batch)]
        x = np.array([[t.suggest_int(n, int(lo), int(hi)) if kinds[j] != "float" else t.suggest_float(n, lo, hi)
                       for j, (n, (lo, hi)) in enumerate(zip(names, bounds))] for t in trials], float)
        cost, p = run(f"search_{g:03d}", x, "search")
        for t, c, q in zip(trials, cost, p):
            study.tell(t, [float(c), float(q)])
        echo(f"invert: search batch {g + 1}/{s.generations}: cheapest reaching p >= {s.p_level:g}: "
             f"{_cheapest(np.concatenate(costs), np.concatenate(ps), s.p_level)}")

    span = bounds[:, 1] - bounds[:, 0]
    floor = np.where(np.array(kinds) == "float", span / 64, 1.0)  # below this a step is not worth a batch
    step = np.maximum(span * s.first_step, floor)
    for r in range(s.polish_rounds):
        cost_all, p_all = np.concatenate(costs), np.concatenate(ps)
        best = _best(cost_all, p_all, s.p_level)
        if best is None:
            echo(f"invert: no package reached p >= {s.p_level:g}; no polish")
            break
        x0 = np.concatenate(xs)[best]
        cands = []
        for j in range(k):
            for sign in (-1, 1):
                x = x0.copy()
                x[j] = np.clip(x0[j] + sign * step[j], bounds[j, 0], bounds[j, 1])
                x = _round(x, kinds)
                if not np.allclose(x, x0) and not any(np.allclose(x, c) for c in cands):
                    cands.append(x)
        if not cands:
            break
        cost, p = run(f"polish_{r:03d}", np.array(cands), "polish")
        ok = p >= s.p_level
        if ok.any() and cost[ok].min() < cost_all[best]:
            echo(f"invert: polish round {r + 1}: cost {cost_all[best]:.4g} -> {cost[ok].min():.4g}")
        else:
            step = np.maximum(step / 2, floor)
            echo(f"invert: polish round {r + 1}: no cheaper move; steps halved")
    evals = pd.DataFrame(np.concatenate(xs), columns=names)
    evals["fiscal_cost_cny_100m"] = np.concatenate(costs)
    evals["p_met"] = np.concatenate(ps)
    evals["stage"] = stages
    evals["batch"] = tags
    best = _best(evals["fiscal_cost_cny_100m"].to_numpy(), evals["p_met"].to_numpy(), s.p_level)
    return {"evaluations": evals, "best": best,
            "frontier": frontier(evals["fiscal_cost_cny_100m"].to_numpy(), evals["p_met"].to_numpy())}


def _best(cost: np.ndarray, p: np.ndarray, level: float) -> int | None:
    ok = np.flatnonzero(p >= level)
    if not len(ok):
        return None
    # the cheapest; among equally cheap packages the more likely, then the first found
    return int(ok[np.lexsort((ok, -p[ok], cost[ok]))[0]])


def _cheapest(cost: np.ndarray, p: np.ndarray, level: float) -> str:
    i = _best(cost, p, level)
    return "none yet" if i is None else f"cost {cost[i]:.4g} at p = {p[i]:.2f}"
