"""The lever registry (simmodel.levers): coverage of the seed's 24 articles, ranges, the
no_new_policy counterfactual and its scenario file, the mechanism pointers, and validation."""

from __future__ import annotations

import dataclasses
import enum
import importlib
import math
import re

import pytest
import yaml

from simmodel.config import PROJECT_ROOT
from simmodel.errors import ConfigError
from simmodel.levers import (
    FundRegime, Levers, Uncertainties, articles_covered, defaults, no_new_policy_values, specs, validate)

LEVER_SPECS = specs(Levers)
UNCERTAINTY_SPECS = specs(Uncertainties)
NUMERIC_LEVERS = [n for n, s in LEVER_SPECS.items() if not s.choices]
CHOICE_LEVERS = [n for n, s in LEVER_SPECS.items() if s.choices]
INT_LEVERS = {f.name for f in dataclasses.fields(Levers) if f.type in ("int", int)}


def _raw(value):
    return value.value if isinstance(value, enum.Enum) else value


def _in_range(name: str, value, spec) -> None:
    if spec.choices:
        assert _raw(value) in spec.choices, f"{name} = {value!r} is not one of {spec.choices}"
    else:
        assert not isinstance(value, bool) and isinstance(value, (int, float)), f"{name} = {value!r} is not a number"
        assert spec.low <= value <= spec.high, f"{name} = {value!r} outside [{spec.low}, {spec.high}]"


def _just_outside(name: str, spec) -> tuple[float, float]:
    """A value just above the range and one just below it."""
    if name in INT_LEVERS:
        return spec.high + 1, spec.low - 1
    step = max(1e-3 * (spec.high - spec.low), 1e-6)
    return spec.high + step, spec.low - step


def test_every_seed_article_has_a_lever():
    assert articles_covered() == set(range(1, 25))


def test_uncertainties_are_not_levers():
    assert {s.article for s in UNCERTAINTY_SPECS.values()} == {0}
    assert not set(UNCERTAINTY_SPECS) & set(LEVER_SPECS)


@pytest.mark.parametrize("name", list(LEVER_SPECS))
def test_lever_default_lies_in_its_range(name):
    _in_range(name, defaults(Levers)[name], LEVER_SPECS[name])


@pytest.mark.parametrize("name", list(UNCERTAINTY_SPECS))
def test_uncertainty_default_lies_in_its_range(name):
    _in_range(name, defaults(Uncertainties)[name], UNCERTAINTY_SPECS[name])


@pytest.mark.parametrize("name", list(LEVER_SPECS))
def test_no_new_policy_value_lies_in_its_range(name):
    _in_range(name, no_new_policy_values()[name], LEVER_SPECS[name])


def _resolve(dotted: str):
    """Import the longest module prefix of ``dotted`` and follow the rest as attributes."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)  # AttributeError names what is missing
        return obj
    raise ModuleNotFoundError(dotted)


@pytest.mark.parametrize("name,spec", [*LEVER_SPECS.items(), *UNCERTAINTY_SPECS.items()],
                         ids=[*LEVER_SPECS, *UNCERTAINTY_SPECS])
def test_acts_in_names_a_real_function(name, spec):
    assert spec.acts_in.startswith("simmodel.")
    try:
        target = _resolve(spec.acts_in)
    except (ModuleNotFoundError, AttributeError) as exc:
        pytest.fail(f"{name}: acts_in {spec.acts_in!r} does not resolve ({exc})")
    assert callable(target), f"{name}: {spec.acts_in} is not a function"


def test_defaults_and_range_ends_validate():
    validate(Levers(), Uncertainties())
    for name, spec in LEVER_SPECS.items():
        if spec.choices:
            for choice in spec.choices:
                validate(dataclasses.replace(Levers(), **{name: choice}))
            continue
        for end in (spec.low, spec.high):  # closed intervals
            validate(dataclasses.replace(Levers(), **{name: type(defaults(Levers)[name])(end)}))


def _assert_message(exc: pytest.ExceptionInfo, name: str, spec, where: str) -> None:
    msg = str(exc.value)
    assert name in msg
    assert f"[{spec.low:g}, {spec.high:g}]" in msg, msg
    assert where in msg, msg


@pytest.mark.parametrize("name", NUMERIC_LEVERS)
def test_lever_out_of_range_names_lever_range_and_article(name):
    spec = LEVER_SPECS[name]
    for value in _just_outside(name, spec):
        with pytest.raises(ConfigError) as exc:
            validate(dataclasses.replace(Levers(), **{name: value}))
        _assert_message(exc, name, spec, f"article {spec.article}")


def test_fund_life_of_25_and_0_years_rejected():
    for years in (25, 0):
        with pytest.raises(ConfigError, match=r"fund_life_years = %d .*\[1, 20\] years .*article 22" % years):
            validate(dataclasses.replace(Levers(), fund_life_years=years))


@pytest.mark.parametrize("value", [True, "ten", math.nan, math.inf])
def test_lever_that_is_not_a_finite_number_rejected(value):
    with pytest.raises(ConfigError, match="land_quota_mu_per_year"):
        validate(dataclasses.replace(Levers(), land_quota_mu_per_year=value))


@pytest.mark.parametrize("name", CHOICE_LEVERS)
def test_wrong_choice_names_lever_choices_and_article(name):
    spec = LEVER_SPECS[name]
    with pytest.raises(ConfigError) as exc:
        validate(dataclasses.replace(Levers(), **{name: "quarterly_profit"}))
    msg = str(exc.value)
    assert name in msg and "quarterly_profit" in msg
    assert all(c in msg for c in spec.choices), msg
    assert f"article {spec.article}" in msg


def test_fund_regime_accepts_enum_and_its_value():
    for v in (FundRegime.yearly_profit, "yearly_profit", FundRegime.portfolio, "portfolio"):
        validate(dataclasses.replace(Levers(), fund_evaluation_regime=v))


@pytest.mark.parametrize("name", list(UNCERTAINTY_SPECS))
def test_uncertainty_out_of_range_names_it_and_its_range(name):
    spec = UNCERTAINTY_SPECS[name]
    step = max(1e-3 * (spec.high - spec.low), 1e-6)
    for value in (spec.high + step, spec.low - step):
        with pytest.raises(ConfigError) as exc:
            validate(Levers(), dataclasses.replace(Uncertainties(), **{name: value}))
        _assert_message(exc, name, spec, "uncertainty")


def test_no_new_policy_scenario_sets_exactly_the_changed_levers():
    path = PROJECT_ROOT / "scenarios" / "no_new_policy.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# @package _global_")
    in_file = yaml.safe_load(text)["levers"]
    d, nnp = defaults(Levers), no_new_policy_values()
    changed = {k: _raw(v) for k, v in nnp.items() if _raw(v) != _raw(d[k])}
    assert changed, "the counterfactual changes no lever"
    assert set(in_file) == set(changed), (
        f"missing in YAML: {sorted(set(changed) - set(in_file))}; not a change: {sorted(set(in_file) - set(changed))}")
    for k, v in changed.items():
        assert in_file[k] == v, f"{k}: YAML {in_file[k]!r}, registry no_new_policy {v!r}"
        assert re.search(rf"^  {k}: .*# art\. {LEVER_SPECS[k].article}\b", text, re.M), f"{k}: article comment"


def test_lever_defaults_taken_from_data_match_the_base_year_table(inputs):
    """Levers whose default is a data value repeat it; they must agree with the base-year table."""
    from simmodel.levers import Levers

    base = inputs.base
    lv = Levers()
    assert lv.land_quota_mu_per_year == base["industrial_land_transferred_mu"].value
    assert lv.state_vc_fund_cny_100m == base["state_vc_fund_cny_100m"].value
    derived = (base["provincial_fund_subscribed_cny_100m"].value - base["provincial_fund_initial_cny_100m"].value) / (
        base["provincial_fund_subscribed_cny_100m"].year - base["provincial_fund_initial_cny_100m"].year)
    assert lv.provincial_fund_commitment_cny_100m_per_year == derived
