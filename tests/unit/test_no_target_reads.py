"""SPEC 4b: no model code reads a target threshold; thresholds are read only where P(met) is computed.

(a) Static: every module that makes up the model (the model, the agents, the synthetic population,
    the ensemble driver, the parameters, the sector tables) is parsed with ``ast``; none may import or
    reference TargetsConfig, targets_from_config or Target, name a TargetsConfig field (t1_2027_pct,
    ...), or contain the target year 2027 as a literal or inside a name (a lever such as
    pilot_zones_target_2027 read by the model is a target in disguise). The scanner is shown to find each kind of
    reference in a synthetic source, so the check can fail.
(b) Dynamic: the model never receives the targets (SimModel and ModelInputs have no place for them);
    two run configs that differ only in their thresholds give bit-identical trajectories on one seed,
    and the thresholds enter only through simmodel.indicators.targets_from_config and
    simmodel.results.summarise, where P(met) moves with them on the same trajectories.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from simmodel import ensemble, indicators, results
from simmodel.agents.government import EQUITY_LEVERS
from simmodel.config import RunConfig, TargetsConfig
from simmodel.ensemble import load_inputs, run_ensemble
from simmodel.model import ModelInputs, SimModel

PACKAGE = Path(indicators.__file__).resolve().parent  # simmodel/
TARGET_YEAR = 2027
FORBIDDEN_NAMES = frozenset({"TargetsConfig", "targets_from_config", "Target"})
TARGET_FIELDS = frozenset(f.name for f in dataclasses.fields(TargetsConfig))


def model_modules() -> list[Path]:
    """The modules that make up the model (SPEC 4b's "no stage of the model")."""
    files: list[Path] = []
    if (PACKAGE / "model").is_dir():  # simmodel/model/ if model.py becomes a package
        files += sorted((PACKAGE / "model").rglob("*.py"))
    else:
        files.append(PACKAGE / "model.py")
    files += sorted((PACKAGE / "agents").glob("*.py"))
    files += [PACKAGE / name for name in ("population.py", "ensemble.py", "params.py", "sectors.py")]
    return [p for p in files if p.is_file()]


def _is_target_year(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == TARGET_YEAR


def scan_source(source: str, filename: str = "<string>") -> list[str]:
    """Every reference to the targets in ``source``, as 'file:line: what' strings."""
    tree = ast.parse(source, filename=filename)
    found: list[str] = []

    def hit(node: ast.AST, what: str) -> None:
        found.append(f"{filename}:{getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if any(part in FORBIDDEN_NAMES for part in a.name.split(".")):
                    hit(node, f"imports {a.name}")
        elif isinstance(node, ast.ImportFrom):
            for a in node.names:
                if a.name in FORBIDDEN_NAMES or a.name in TARGET_FIELDS:
                    hit(node, f"imports {a.name} from {node.module}")
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_NAMES or node.id in TARGET_FIELDS:
                hit(node, f"references {node.id}")
            elif str(TARGET_YEAR) in node.id:
                hit(node, f"names the target year in {node.id}")
        elif isinstance(node, ast.Attribute):
            if node.attr in FORBIDDEN_NAMES or node.attr in TARGET_FIELDS:
                hit(node, f"references attribute .{node.attr}")
            elif str(TARGET_YEAR) in node.attr:
                hit(node, f"names the target year in attribute .{node.attr}")
        elif isinstance(node, ast.keyword):
            if node.arg in TARGET_FIELDS:
                hit(node.value, f"passes the target field {node.arg}= as a keyword")
            elif node.arg and str(TARGET_YEAR) in node.arg:
                hit(node.value, f"names the target year in keyword {node.arg}=")
        elif isinstance(node, ast.Constant):
            if _is_target_year(node.value):
                hit(node, f"contains the target year {node.value!r} as a literal")
            elif isinstance(node.value, str) and node.value in FORBIDDEN_NAMES | TARGET_FIELDS:
                hit(node, f"names {node.value!r} in a string (getattr?)")
    return found


def scan_file(path: Path) -> list[str]:
    rel = path.relative_to(PACKAGE.parent)
    return scan_source(path.read_text(encoding="utf-8"), str(rel))


# ---------------------------------------------------------------------------------- (a) static
def test_model_modules_are_found():
    files = model_modules()
    names = {p.relative_to(PACKAGE).as_posix() for p in files}
    assert files, "no model module found to scan"
    assert any(n == "model.py" or n.startswith("model/") for n in names), names
    assert any(n.startswith("agents/") for n in names), names
    assert TARGET_FIELDS, "TargetsConfig has no fields?"


@pytest.mark.parametrize("path", model_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_model_module_reads_no_target(path: Path):
    found = scan_file(path)
    assert not found, ("model code must not read a target (SPEC 4b: a target is read only where P(met) is "
                       "computed):\n  " + "\n  ".join(found))


@pytest.mark.parametrize("snippet, expected", [
    ("from simmodel.config import TargetsConfig\n", "imports TargetsConfig"),
    ("from simmodel.indicators import targets_from_config as tfc\n", "imports targets_from_config"),
    ("import simmodel.indicators\nx = simmodel.indicators.Target\n", "references attribute .Target"),
    ("def f(cfg):\n    return cfg.targets.t5_2027_count\n", "references attribute .t5_2027_count"),
    ("def f(t):\n    return getattr(t, 't1_2027_pct')\n", "names 't1_2027_pct'"),
    ("def f(year, n):\n    if year <= 2027:\n        return n\n", "target year 2027"),
    ("Y = 2027.0\n", "target year 2027.0"),
    ("def f(lv):\n    return lv.pilot_zones_target_2027\n", "target year in attribute .pilot_zones_target_2027"),
    ("def f(ind, t):\n    return ind.targets_from_config(t, 2024)\n", "references attribute .targets_from_config"),
    ("def f(T):\n    return T(t6_threshold_pct_per_year=1.0)\n", "target field t6_threshold_pct_per_year"),
])
def test_scanner_finds_a_planted_reference(snippet: str, expected: str):
    found = scan_source(snippet, "synthetic.py")
    assert any(expected in f for f in found), found
    assert all(f.startswith("synthetic.py:") for f in found)


def test_scanner_reports_the_line():
    found = scan_source("a = 1\nb = 2\nif a < 2027:\n    pass\n", "synthetic.py")
    assert found == ["synthetic.py:3: contains the target year 2027 as a literal"]


def test_scanner_passes_clean_code():
    # a local named 'targets' (the synthesis' observed base-year aggregates are called that), other
    # years, and True (== 1, a bool) are not target reads
    clean = ("import numpy as np\n"
             "def f(mask, year):\n"
             "    targets = np.flatnonzero(mask)\n"
             "    return targets, year >= 2026, 2028, True\n")
    assert scan_source(clean, "clean.py") == []


# ---------------------------------------------------------------------------------- (b) dynamic
def _doubled(t: TargetsConfig) -> TargetsConfig:
    return TargetsConfig(**{f.name: 2.0 * getattr(t, f.name) for f in dataclasses.fields(t)})


def test_model_has_no_place_for_targets():
    sig = inspect.signature(SimModel.__init__)
    assert not any("target" in name.lower() for name in sig.parameters), list(sig.parameters)
    fields = [f.name for f in dataclasses.fields(ModelInputs)]
    assert not any("target" in name.lower() for name in fields), fields


SCALE = 0.05
REPLICATES = 2
ROOT_SEED = 20250101


class _Recording(TargetsConfig):
    """A TargetsConfig that records every read of its thresholds."""

    reads: list[str]

    def __getattribute__(self, name):
        if name in TARGET_FIELDS:
            object.__getattribute__(self, "reads").append(name)
        return object.__getattribute__(self, name)


def _recording(t: TargetsConfig) -> _Recording:
    r = _Recording(**dataclasses.asdict(t))
    object.__setattr__(r, "reads", [])
    return r


@pytest.fixture(scope="module")
def two_runs():
    """The same runs under the default and the doubled thresholds, through the pipeline of a real run:
    load_inputs(cfg), the replicates' uncertainty draws built from cfg (where the ensemble has them),
    run_ensemble. The priors (calibration=prior): whether thresholds reach the model does not depend
    on the parameters, and this keeps the test off the state of the calibration runs."""
    out = {}
    for label, targets in (("default", TargetsConfig()), ("doubled", _doubled(TargetsConfig()))):
        cfg = RunConfig(targets=_recording(targets), calibration="prior")
        inputs, _ = load_inputs(cfg)
        kw = {}
        if hasattr(ensemble, "uncertainty_draws") and "draws" in inspect.signature(run_ensemble).parameters:
            kw["draws"] = ensemble.uncertainty_draws(cfg, inputs)
        res = run_ensemble(inputs, cfg.levers, cfg.uncertainties, scale=SCALE, root_seed=ROOT_SEED,
                           replicates=REPLICATES, workers=1, **kw)
        out[label] = (cfg, inputs, res)
    return out


def test_loading_and_running_never_read_a_threshold(two_runs):
    for label, (cfg, _, _) in two_runs.items():
        assert cfg.targets.reads == [], f"{label}: the model read thresholds {cfg.targets.reads}"


def test_trajectories_do_not_depend_on_the_thresholds(two_runs):
    _, inputs_a, res_a = two_runs["default"]
    _, inputs_b, res_b = two_runs["doubled"]
    assert inputs_a.params == inputs_b.params
    assert (inputs_a.base_year, inputs_a.end_year) == (inputs_b.base_year, inputs_b.end_year)
    for a, b in zip(res_a, res_b, strict=True):
        pd.testing.assert_frame_equal(a.trajectory, b.trajectory, check_exact=True)
        assert a.fiscal_cost == b.fiscal_cost


def _summary(two_runs, targets_cfg: TargetsConfig) -> dict:
    _, inputs, res = two_runs["default"]
    traj = results.trajectories_frame([r.trajectory for r in res])
    years = list(range(inputs.base_year + 1, inputs.end_year + 1))
    tl = indicators.targets_from_config(targets_cfg, inputs.base_year)
    return results.summarise(traj, tl, [r.fiscal_cost for r in res], years, {}, EQUITY_LEVERS)


def _same(a, b) -> bool:
    """Equal, NaN included (the base year's flows are NaN)."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_thresholds_enter_where_p_met_is_computed(two_runs):
    """On one set of trajectories, targets_from_config + summarise carry the thresholds into P(met)."""
    base = TargetsConfig()
    rec = _recording(base)
    tl = indicators.targets_from_config(rec, 2024)
    assert set(rec.reads) == TARGET_FIELDS, "targets_from_config should read every threshold"
    assert {t.threshold for t in tl} == {getattr(base, f) for f in TARGET_FIELDS}

    s_default = _summary(two_runs, base)
    s_doubled = _summary(two_runs, _doubled(base))
    fields = [f.name for f in dataclasses.fields(TargetsConfig)]
    lows = TargetsConfig(**{f: -1e9 for f in fields})
    highs = TargetsConfig(**{f: 1e9 for f in fields})
    s_low, s_high = _summary(two_runs, lows), _summary(two_runs, highs)
    for tid, by_year in s_default["targets"].items():
        for year, d in by_year.items():
            dd = s_doubled["targets"][tid][year]
            assert dd["threshold"] == pytest.approx(2.0 * d["threshold"])
            # every target is "more is better" with a positive default threshold: doubling it cannot raise P(met)
            assert dd["p_met"] <= d["p_met"], (tid, year)
            assert s_low["targets"][tid][year]["p_met"] == 1.0, (tid, year)
            assert s_high["targets"][tid][year]["p_met"] == 0.0, (tid, year)
            # the indicator bands of the same trajectories are the same under every threshold
            assert _same({k: v for k, v in dd.items() if k in ("median", "p10", "p90")},
                         {k: v for k, v in d.items() if k in ("median", "p10", "p90")}), (tid, year)
    assert _same(s_doubled["indicators"], s_default["indicators"])
    assert s_low["targets"] != s_high["targets"]


def test_model_runs_with_the_target_machinery_disabled(monkeypatch, two_runs):
    """Nothing in a model run calls targets_from_config or Target.met (they raise here)."""
    def boom(*a, **k):
        raise AssertionError("the model reached the target machinery")

    monkeypatch.setattr(indicators, "targets_from_config", boom)
    monkeypatch.setattr(indicators.Target, "met", boom)
    from simmodel.levers import Levers, Uncertainties

    inputs = two_runs["default"][1]
    traj = SimModel(inputs, Levers(), Uncertainties(), scale=SCALE, seed=3).run()
    assert np.isfinite(traj["gdp_cny_100m"]).all()
