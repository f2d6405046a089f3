"""Shared fixtures of the unit tests: the input tables, loaded once per session, and a cached runner
for small-scale replicates (a trajectory is computed once per (scale, seed, lever changes))."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs
from simmodel.levers import Levers, Uncertainties
from simmodel.model import ModelInputs, SimModel

SMALL_SCALE = 0.05  # about 6000 firms: a replicate to 2030 in a fraction of a second


@pytest.fixture(scope="session")
def loaded() -> tuple[ModelInputs, pd.DataFrame]:
    return load_inputs(RunConfig())


@pytest.fixture(scope="session")
def inputs(loaded) -> ModelInputs:
    return loaded[0]


@pytest.fixture(scope="session")
def history(loaded) -> pd.DataFrame:
    return loaded[1]


@pytest.fixture(scope="session")
def run_model(inputs):
    """``run_model(scale=..., seed=..., **lever_changes)`` -> trajectory (a copy; cached)."""
    cache: dict = {}

    def run(scale: float = SMALL_SCALE, seed: int = 1, **changes) -> pd.DataFrame:
        key = (scale, seed, tuple(sorted(changes.items())))
        if key not in cache:
            levers = dataclasses.replace(Levers(), **changes)
            cache[key] = SimModel(inputs, levers, Uncertainties(), scale=scale, seed=seed).run()
        return cache[key].copy()

    return run
