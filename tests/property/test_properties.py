"""Property-based and fuzz tests (issue 8, item 6), with hypothesis.

- Any lever and uncertainty values inside their registry ranges run the model without an error and
  keep every indicator where it can be: shares in [0, 100] %, counts, amounts and areas >= 0, the
  firm population conserved (population_t = population_(t-1) + entries - exits) and split exactly
  into the firm stages.
- Malformed input (scenario files, rows of the indicator file, command-line config values) either is
  refused with a SimmodelError that names the file and line or the key, or is really valid: it
  never crashes with another exception and never runs with a value the model does not allow.

Two profiles: the default suite draws a fixed set of cases (derandomize: the same cases on every
run, so a failure in CI is a failure on every machine); ``pytest -m slow`` draws ten times as many,
fresh each run. The number of cases each test ran is printed at the end of the session
(tests/conftest.py).
"""

from __future__ import annotations

import csv
import io
import math
import re
import string
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simmodel import config as config_mod
from simmodel.cli import precheck_overrides
from simmodel.config import PROJECT_ROOT, RunConfig
from simmodel.data import INDICATOR_COLUMNS, INDICATOR_UNITS, YEAR_RANGE, load_indicators
from simmodel.errors import SimmodelError
from simmodel.indicators import INDICATORS
from simmodel.levers import Levers, Uncertainties, specs
from simmodel.model import SimModel
from simmodel.scenario_files import SCENARIO_KEYS, check_scenario_file

SCALE = 0.005  # about 600 firms: a replicate to 2030 in a few tenths of a second
INDICATOR_FILE = PROJECT_ROOT / "calibration" / "data" / "zhejiang_indicators.csv"
STAGES = ("n_startup", "n_tech_sme", "n_conventional", "n_high_tech", "n_little_giant", "n_single_champion")

_COMMON = dict(deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def profile(fast: int) -> tuple[settings, settings]:
    return settings(max_examples=fast, derandomize=True, **_COMMON), settings(max_examples=10 * fast, **_COMMON)


def run_cases(prop, strategy, chosen: settings) -> int:
    """Run ``prop`` on cases drawn from ``strategy``; returns how many cases it was called with."""
    calls = 0

    @chosen
    @given(strategy)
    def check(case):
        nonlocal calls
        calls += 1
        prop(case)

    check()
    return calls


# --- random valid levers never crash the model and keep indicators in their ranges ------------------

def _value(spec, kind: str):
    if spec.choices:
        return st.sampled_from(spec.choices)
    if kind == "int":
        return st.integers(int(spec.low), int(spec.high))
    return st.floats(spec.low, spec.high, allow_nan=False, allow_infinity=False)


def _registry(cls) -> st.SearchStrategy:
    types = {f.name: f.type for f in fields(cls)}
    return st.fixed_dictionaries({name: _value(spec, types[name]) for name, spec in specs(cls).items()})


VALID_RUN = st.tuples(_registry(Levers), _registry(Uncertainties), st.integers(0, 2**32 - 1))


@pytest.fixture(scope="module")
def inputs():
    from simmodel.ensemble import load_inputs

    return load_inputs(RunConfig())[0]


def check_trajectory(traj) -> None:
    base, later = traj.iloc[0], traj.iloc[1:]
    for name in traj.columns:
        col = later[name].to_numpy(float)
        assert np.isfinite(col).all(), f"{name} is not finite after the base year: {col}"
        unit = INDICATORS[name][0]
        if unit == "%":
            assert ((col >= 0) & (col <= 100)).all(), f"{name} = {col} outside [0, 100] %"
        elif unit in ("count", "CNY 100m", "mu"):
            assert (col >= 0).all(), f"{name} = {col} is negative"
    assert np.isfinite(base[["n_firms", "gdp_cny_100m", "t1_emerging_share_415x_pct"]].to_numpy(float)).all()
    firms = traj["n_firms"].to_numpy(float)
    change = np.diff(firms)
    flows = (later["n_entries"] - later["n_exits"]).to_numpy(float)
    # counts are firms / scale: exact up to rounding of the division
    np.testing.assert_allclose(change, flows, rtol=0, atol=1e-6 * firms.max(), err_msg="firms not conserved")
    np.testing.assert_allclose(traj[list(STAGES)].sum(axis=1).to_numpy(float), firms, rtol=1e-12,
                               err_msg="the firm stages do not add up to the population")
    assert (traj["n_above_size_firms"] <= traj["n_firms"]).all()
    assert (later["n_spinoffs"] <= later["n_entries"]).all()
    assert (traj["emerging_cluster_revenue_cny_100m"] <= traj["cluster_415x_revenue_cny_100m"] * (1 + 1e-12)).all()
    assert (traj["sei_va_cny_100m"] <= traj["above_size_industry_va_cny_100m"] * (1 + 1e-12)).all()


def _model_property(inputs):
    def prop(case):
        lev, unc, seed = case
        levers, uncertainties = Levers(**lev), Uncertainties(**unc)
        config_mod.levers_mod.validate(levers, uncertainties)  # the values drawn are allowed ones
        check_trajectory(SimModel(inputs, levers, uncertainties, scale=SCALE, seed=seed).run())
    return prop


MODEL_FAST, MODEL_SLOW = profile(100)


def test_random_valid_levers_run_and_keep_indicators_in_range(inputs, record_property):
    record_property("hypothesis_cases", run_cases(_model_property(inputs), VALID_RUN, MODEL_FAST))


@pytest.mark.slow
def test_random_valid_levers_run_and_keep_indicators_in_range_many(inputs, record_property):
    record_property("hypothesis_cases", run_cases(_model_property(inputs), VALID_RUN, MODEL_SLOW))


def test_the_trajectory_checks_can_fail(inputs):
    """check_trajectory rejects a trajectory that breaks each kind of check (so that passing means something)."""
    traj = SimModel(inputs, Levers(), Uncertainties(), scale=SCALE, seed=1).run()
    check_trajectory(traj)
    last = traj.index[-1]
    for column, value in (("t2_sei_share_pct", 101.0), ("n_land_refusals", -1.0),
                          ("n_exits", traj["n_exits"].iloc[-1] + 5 / SCALE),  # firms not conserved
                          ("n_startup", traj["n_startup"].iloc[-1] + 1 / SCALE)):  # stages do not add up
        bad = traj.copy()
        bad.loc[last, column] = value
        with pytest.raises(AssertionError):
            check_trajectory(bad)


# --- scenario files: refused clearly, or valid for real ---------------------------------------------

def _compose(data: dict) -> RunConfig:
    """What Hydra does with an accepted scenario: merge it into the typed schema, then the checks
    every run makes. Raises only what the CLI reports as one line."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        cfg = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(RunConfig), data or {}))
    except OmegaConfBaseException as exc:  # the CLI turns these into one line too, but the checker should have
        raise AssertionError(f"accepted by the scenario check, refused by the schema: {exc}") from None
    config_mod.validate(cfg)
    return cfg


LEVER_NAMES = [f.name for f in fields(Levers)]
UNCERTAINTY_NAMES = [f.name for f in fields(Uncertainties)]
_known = st.sampled_from(LEVER_NAMES + UNCERTAINTY_NAMES)
_name = st.one_of(_known, _known, _known, st.text(string.ascii_lowercase + "_", min_size=1, max_size=24))
_scalar = st.one_of(
    st.integers(-10**7, 10**7), st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
    st.text(max_size=12), st.sampled_from(["${oc.env:HOME}", "${now:%Y}", "${levers.fund_life_years}", "portfolio",
                                           "yearly_profit", "1e5", "0x10", "~", "2025-01-01"]))
# numbers that often lie inside a lever's range, so that accepted files are common enough to test
_plausible = st.one_of(st.integers(0, 100), st.floats(0, 1000, allow_nan=False))
_value_any = st.one_of(_plausible, _plausible, _scalar, st.lists(_scalar, max_size=3),
                       st.dictionaries(_name, _scalar, max_size=3))
_section = st.dictionaries(_name, _value_any, max_size=4)
_top = st.one_of(st.sampled_from(SCENARIO_KEYS), st.sampled_from(SCENARIO_KEYS),
                 st.sampled_from(("hydra", "defaults", "_target_", "seed", "lever", "replicates")))
RANDOM_SCENARIO = st.tuples(
    st.dictionaries(_top, st.one_of(_section, _section, _section, _scalar, st.fixed_dictionaries({"overrides": _section})),
                    max_size=3),
    st.sampled_from([0, 0, 0, 1, 2, 3]))  # 0: as dumped; 1: a key line duplicated; 2: a tag added; 3: broken text appended
RANDOM_TEXT = st.text(st.characters(codec="utf-8"), max_size=200)


def _write_scenario(folder: Path, text: str) -> Path:
    path = folder / "fuzz.yaml"
    path.write_text("# @package _global_\n" + text, encoding="utf-8")
    return path


def _render(case) -> str:
    data, mutation = case
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False) if data else ""
    lines = text.splitlines()
    if mutation == 1 and lines:
        keyed = [i for i, line in enumerate(lines) if ":" in line]
        if keyed:
            lines.insert(keyed[-1] + 1, lines[keyed[-1]])
    elif mutation == 2 and lines:
        lines[0] = lines[0].replace(":", ": !!python/name:os.system", 1) if lines[0].endswith(":") else lines[0]
    elif mutation == 3:
        lines.append("levers: {fund_life_years: 8")
    return "\n".join(lines) + "\n"


def _scenario_property(folder: Path):
    def prop(text: str) -> None:
        path = _write_scenario(folder, text)
        try:
            check_scenario_file(path)
        except SimmodelError as exc:
            assert str(exc).startswith(f"scenario file {path}"), exc
            assert "\n" not in str(exc), exc
            return
        # accepted: it must be what Hydra composes into a config the run allows
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        try:
            _compose(data)
        except SimmodelError as exc:
            raise AssertionError(f"accepted by the scenario check, refused later: {exc}\n{text}") from None
    return prop


SCENARIO_FAST, SCENARIO_SLOW = profile(400)


@pytest.fixture
def scenario_folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def test_random_scenario_files_are_refused_clearly_or_valid(scenario_folder, record_property):
    prop = _scenario_property(scenario_folder)
    n = run_cases(lambda case: prop(_render(case)), RANDOM_SCENARIO, SCENARIO_FAST)
    n += run_cases(prop, RANDOM_TEXT, SCENARIO_FAST)
    record_property("hypothesis_cases", n)


@pytest.mark.slow
def test_random_scenario_files_are_refused_clearly_or_valid_many(scenario_folder, record_property):
    prop = _scenario_property(scenario_folder)
    n = run_cases(lambda case: prop(_render(case)), RANDOM_SCENARIO, SCENARIO_SLOW)
    n += run_cases(prop, RANDOM_TEXT, SCENARIO_SLOW)
    record_property("hypothesis_cases", n)


def _valid_scenario_property(folder: Path):
    def prop(case) -> None:
        lev, unc = case
        text = yaml.safe_dump({"levers": lev, "uncertainties": unc}, sort_keys=False)
        check_scenario_file(_write_scenario(folder, text))  # never refuses an allowed value
        cfg = _compose(yaml.safe_load(text))
        assert config_mod.plain(cfg.levers) == {**config_mod.plain(Levers()), **lev}
    return prop


SUBSET = st.tuples(_registry(Levers).flatmap(lambda d: st.sets(st.sampled_from(sorted(d))).map(lambda k: {n: d[n] for n in k})),
                   _registry(Uncertainties))


VALID_FAST, VALID_SLOW = profile(100)


def test_random_valid_scenario_files_are_accepted_as_written(scenario_folder, record_property):
    record_property("hypothesis_cases", run_cases(_valid_scenario_property(scenario_folder), SUBSET, VALID_FAST))


@pytest.mark.slow
def test_random_valid_scenario_files_are_accepted_as_written_many(scenario_folder, record_property):
    record_property("hypothesis_cases", run_cases(_valid_scenario_property(scenario_folder), SUBSET, VALID_SLOW))


# --- rows of the indicator file: refused with file and line, or valid --------------------------------

def _rows() -> list[list[str]]:
    with open(INDICATOR_FILE, encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


ROWS = _rows()
_cell = st.one_of(st.text(max_size=16), st.floats().map(repr), st.integers(-10**6, 10**6).map(str),
                  st.sampled_from(["", "-1", "1e309", "nan", "inf", "2024.0", "2024.5", "1850", "2036", "CNY 100m", "%",
                                   "count", "pp", "gdp_cny_100m", "Gdp", "1,000", "http://example.org", "H1 2020 ONLY"]))
ROW_EDIT = st.tuples(st.integers(1, len(ROWS) - 1), st.sampled_from(INDICATOR_COLUMNS), _cell,
                     st.sampled_from(["edit"] * 6 + ["duplicate", "drop_field", "extra_field"]))


def _indicator_property(folder: Path):
    def prop(case) -> None:
        index, column, cell, how = case
        rows = [list(r) for r in ROWS]
        if how == "edit":
            rows[index][INDICATOR_COLUMNS.index(column)] = cell
        elif how == "duplicate":
            rows.insert(index + 1, list(rows[index]))
        elif how == "drop_field":
            rows[index] = rows[index][:-1]
        else:
            rows[index] = rows[index] + [cell]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        path = folder / "indicators.csv"
        path.write_text(buf.getvalue(), encoding="utf-8")
        try:
            df = load_indicators(path)
        except SimmodelError as exc:
            # the line the edit made (or, for a duplicate, the first of the two): where to look
            assert str(exc).startswith(f"indicator file {path}, line "), exc
            assert re.search(rf"\bline {index + 1}\b", str(exc)), exc
            return
        # accepted: the schema holds for every row
        assert df["year"].between(*YEAR_RANGE).all() and np.isfinite(df["value"]).all()
        assert set(df["unit"]) <= INDICATOR_UNITS and df["source_url"].astype(bool).all()
        assert not df.duplicated(["indicator", "year"]).any()
        levels = df["unit"].isin(["count", "CNY 100m", "mu", "persons"])
        assert (df.loc[levels, "value"] >= 0).all()
    return prop


DATA_FAST, DATA_SLOW = profile(150)


def test_random_edits_of_the_indicator_file_are_refused_clearly_or_valid(tmp_path_factory, record_property):
    record_property("hypothesis_cases", run_cases(_indicator_property(tmp_path_factory.mktemp("rows")), ROW_EDIT, DATA_FAST))


@pytest.mark.slow
def test_random_edits_of_the_indicator_file_are_refused_clearly_or_valid_many(tmp_path_factory, record_property):
    record_property("hypothesis_cases", run_cases(_indicator_property(tmp_path_factory.mktemp("rows")), ROW_EDIT, DATA_SLOW))


# --- command-line config values -------------------------------------------------------------------

_KEYS = ["replicates", "seed", "workers", "end_year", "base_year", "population.scale", "targets.t1_2027_pct",
         "targets.t4_2027_count", "targets.t6_threshold_pct_per_year", "assumption_sensitivity.scale",
         *(f"levers.{n}" for n in LEVER_NAMES), *(f"uncertainties.{n}" for n in UNCERTAINTY_NAMES)]
_KEY = st.sampled_from(_KEYS) | st.sampled_from(_KEYS) | st.sampled_from(_KEYS) | st.builds(  # a quarter misspelt
    lambda a, b: f"levers.{a}{b}", st.sampled_from(LEVER_NAMES), st.sampled_from(["s", "_x"]))
_VALUE = st.one_of(_plausible, st.integers(2015, 2040), st.integers(-10**9, 10**9),
                   st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                   st.sampled_from(["portfolio", "yearly_profit", "abc", "null", ""]))
OVERRIDES = st.dictionaries(_KEY, _VALUE, min_size=1, max_size=3)


def _set(cfg, dotted: str, value) -> None:
    *path, leaf = dotted.split(".")
    for part in path:
        cfg = getattr(cfg, part)
    setattr(cfg, leaf, value)


def _override_property(case: dict) -> None:
    """The command line's checks in order: unknown names before Hydra (precheck_overrides), then the
    schema (OmegaConf, whose errors the CLI prints as one line), then simmodel.config.validate."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        precheck_overrides([f"{k}={v}" for k, v in case.items()])
        cfg = OmegaConf.structured(RunConfig)
        for key, value in case.items():
            OmegaConf.update(cfg, key, value, merge=True)
        rc = OmegaConf.to_object(cfg)
        config_mod.validate(rc)
    except (SimmodelError, OmegaConfBaseException) as exc:
        assert str(exc).strip(), "an error without a message"
        return
    # accepted: every value is in its documented range
    assert 1 <= rc.replicates <= 100000 and 0 < rc.population.scale <= 10 and rc.seed >= 0
    assert 2025 <= rc.end_year <= 2040 and 0 <= rc.workers <= 256
    for cls, obj in ((Levers, rc.levers), (Uncertainties, rc.uncertainties)):
        for name, spec in specs(cls).items():
            value = getattr(obj, name)
            if not spec.choices:
                assert not isinstance(value, bool) and math.isfinite(value) and spec.low <= value <= spec.high, (name, value)


OVERRIDE_FAST, OVERRIDE_SLOW = profile(300)


def test_random_config_values_are_refused_or_in_range(record_property):
    record_property("hypothesis_cases", run_cases(_override_property, OVERRIDES, OVERRIDE_FAST))


@pytest.mark.slow
def test_random_config_values_are_refused_or_in_range_many(record_property):
    record_property("hypothesis_cases", run_cases(_override_property, OVERRIDES, OVERRIDE_SLOW))

