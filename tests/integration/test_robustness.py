"""Issue 8: bad input, interrupted work and untrusted files, through the real command line where the
behaviour lives there (signals, Hydra's handling of scenario files), else through the function.

Untrusted scenario files are dropped into a copy of the project (code, configs, scenarios, data), so
that the real scenario library is never touched."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simmodel.calibration.runs import load_run
from simmodel.cli import check_scenario_file
from simmodel.errors import ConfigError
from simmodel.results import FORMAT, MANIFEST, ResultsError, _sha256, new_run_dir, read_run
from tests.integration.test_cli import QUICK, ROOT, SIMMODEL, result_dirs, run_cli

SMALL = [*QUICK, "output.plots=false", "assumption_sensitivity.enabled=false"]
ENV = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A copy of the checkout that `python -m simmodel` run inside it imports (cwd first on sys.path)."""
    dst = tmp_path_factory.mktemp("project")
    skip = shutil.ignore_patterns("__pycache__", ".tmp-*", ".old-*")
    for name in ("simmodel", "conf", "scenarios", "calibration"):
        shutil.copytree(ROOT / name, dst / name, symlinks=True, ignore=skip)
    return dst


def run_in(project: Path, args: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "simmodel", *args], cwd=project, capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("simmodel: error: "), proc.stderr
    return lines[0]


# --- scenario files are data -----------------------------------------------------------------------

HEADER = "# @package _global_\n"


@pytest.mark.parametrize(("body", "line", "fragments"), [
    ("levers:\n  fund_life_years: 8\n  fund_life_years: 12\n", 4, ["levers.fund_life_years is given twice", "first at line 3"]),
    ("levers:\n  fund_life_yers: 8\n", 3, ["unknown lever 'fund_life_yers'", "did you mean fund_life_years"]),
    ("uncertainties:\n  world_demand_shift: -2\n", 3, ["unknown uncertainty", "did you mean world_demand_shift_pct"]),
    ("levers:\n  fund_life_years: eight\n", 3, ["fund_life_years = 'eight' is not a whole number", "[1, 20] years"]),
    ("levers:\n  fund_life_years: 8.5\n", 3, ["not a whole number"]),
    ("levers:\n  fund_life_years: true\n", 3, ["True is not a whole number"]),
    ("levers:\n  land_quota_mu_per_year: [1, 2]\n", 3, ["is not a number"]),
    ("levers:\n  fund_life_years: 25\n", 3, ["out of range [1, 20] years (draft article 22)"]),
    ("uncertainties:\n  world_demand_shift_pct: -50\n", 3, ["out of range [-10, 5]"]),
    ("levers:\n  fund_evaluation_regime: yearly\n", 3, ["choose one of portfolio, yearly_profit"]),
    ("lever:\n  fund_life_years: 8\n", 2, ["unknown key 'lever'", "did you mean levers"]),
    ("seed: 1\n", 2, ["unknown key 'seed'", "levers, uncertainties, population, params, policy_history"]),
    ("levers: 5\n", 2, ["levers must be a mapping"]),
    ("population:\n  scale: 5\n", 3, ["population.scale is not allowed", "population.overrides and base_year only"]),
    ("population:\n  base_year: twenty\n", 3, ["population.base_year = 'twenty'", "base-year table"]),
    ("policy_history:\n  levers:\n    '2020':\n      pilot_zone_planned_per_batch: 0\n", 2,
     ["did you mean pilot_zones_planned_per_batch"]),
    ("policy_history:\n  levers:\n    '2026':\n      pilot_zones_planned_per_batch: 0\n", 2,
     ["must come before policy_history.start_year"]),
    ("params:\n  overrides:\n    subsidy_additionality: high\n", 3, ["subsidy_additionality = 'high' is not a number"]),
    ("levers:\n  fund_life_years: [8\n", 4, ["not valid YAML"]),
    # what would make the file run code or read the machine
    ("levers:\n  _target_: os.system\n", 3, ["levers._target_ is not allowed"]),
    ("hydra:\n  callbacks: {}\n", 2, ["hydra is not allowed"]),
    ("defaults:\n  - override /hydra/launcher: joblib\n", 2, ["defaults is not allowed"]),
    ("levers:\n  fund_life_years: ${oc.env:HOME}\n", 3, ["interpolations and resolvers", "${oc.env:HOME}"]),
    ("levers:\n  fund_life_years: ${my_resolver:1}\n", 3, ["interpolations and resolvers"]),
    ("levers:\n  fund_life_years: ${levers.land_quota_mu_per_year}\n", 3, ["interpolations"]),
    ("levers: !!python/object/apply:os.system [\"true\"]\n", 2, ["YAML tag", "python/object/apply:os.system"]),
    ("levers:\n  fund_life_years: !!binary aGVsbG8=\n", 3, ["YAML tag"]),
    ("levers:\n  1: 5\n", 3, ["key '1' under levers is not a name"]),
    ("?\n", 2, ["key '' under the top is not a name"]),  # found by the slow fuzz profile: a null key
    ("? [a]\n: 1\n", 2, ["key (a sequence) under the top is not a name"]),
    ("a: &x [1, 2]\nb: *x\n", 3, ["anchors and aliases"]),
    ("levers: {<<: {fund_life_years: 8}}\n", 2, ["key '<<' under levers is not a name"]),
])
def test_bad_scenario_file_is_refused_with_file_line_and_what_is_allowed(tmp_path, body, line, fragments):
    path = tmp_path / "odd.yaml"
    path.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        check_scenario_file(path)
    msg = str(exc.value)
    assert msg.startswith(f"scenario file {path}, line {line}: "), msg
    for f in fragments:
        assert f in msg, msg


@pytest.mark.parametrize(("name", "raw", "fragment"), [
    ("no_header.yaml", b"levers:\n  fund_life_years: 8\n", "first line must be '# @package _global_'"),
    ("gbk.yaml", HEADER.encode() + "# 问题: 基金存续期\n".encode("gbk"), "not UTF-8"),
    ("..hidden.yaml", HEADER.encode(), "the name '..hidden' is not allowed"),
    ("a b.yaml", HEADER.encode(), "the name 'a b' is not allowed"),
])
def test_scenario_file_name_encoding_and_header_are_checked(tmp_path, name, raw, fragment):
    path = tmp_path / name
    path.write_bytes(raw)
    with pytest.raises(ConfigError, match=re.escape(fragment)):
        check_scenario_file(path)


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.stem)
def test_every_library_scenario_passes_the_check(path):
    check_scenario_file(path)


def test_a_scenario_cannot_make_hydra_import_or_run_code(project):
    """A callback in a scenario file would be imported and called by Hydra when the run starts; the
    module here leaves a file behind if it is ever imported."""
    marker = project / "IMPORTED"
    (project / "probe_module.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\nclass Probe:\n    pass\n", encoding="utf-8")
    (project / "scenarios" / "untrusted_callback.yaml").write_text(
        HEADER + "hydra:\n  callbacks:\n    probe:\n      _target_: probe_module.Probe\n", encoding="utf-8")
    (project / "scenarios" / "untrusted_env.yaml").write_text(
        HEADER + "levers:\n  fund_life_years: ${oc.env:ROBUSTNESS_PROBE}\n", encoding="utf-8")
    try:
        proc = run_in(project, ["run", "scenario=untrusted_callback", *SMALL])
        msg = one_line_error(proc)
        assert str(project / "scenarios" / "untrusted_callback.yaml") in msg and "hydra is not allowed" in msg
        assert not marker.exists(), "the scenario file made simmodel import a module"
        proc = run_in(project, ["run", "scenario=untrusted_env", *SMALL], timeout=300)
        assert "interpolations and resolvers" in one_line_error(proc)
        assert not (project / "results").exists()
    finally:
        for name in ("untrusted_callback", "untrusted_env"):
            (project / "scenarios" / f"{name}.yaml").unlink()


def test_a_lever_given_twice_in_a_scenario_stops_the_run(project):
    path = project / "scenarios" / "twice.yaml"
    path.write_text(HEADER + "levers:\n  fund_life_years: 8\n  fund_life_years: 12\n", encoding="utf-8")
    try:
        msg = one_line_error(run_in(project, ["run", "scenario=twice", *SMALL]))
    finally:
        path.unlink()
    assert f"{path}, line 4: levers.fund_life_years is given twice (first at line 3)" in msg
    assert not (project / "results").exists()


# --- output paths stay in the results folder -------------------------------------------------------

@pytest.mark.parametrize("slug", ["../escape", "/etc", "a/b", "..", ".hidden", "x" * 101, "nul\x00", "tab\t", ""])
def test_no_scenario_name_can_put_results_outside_the_results_folder(tmp_path, slug):
    with pytest.raises(ResultsError, match="cannot name a results folder"):
        new_run_dir(tmp_path / "results", "run", slug)
    assert new_run_dir(tmp_path / "results", "run", "land_tight-2").parent == tmp_path / "results" / "run" / "land_tight-2"


@pytest.mark.parametrize("value", ["../conf/run", "/etc/passwd", "baseline/../../x"])
def test_scenario_option_that_is_a_path_is_refused(tmp_path, value):
    msg = one_line_error(run_cli(["run", *SMALL, f"scenario={value}"], tmp_path))
    assert f"unknown scenario {value!r}" in msg and "available: " in msg
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(("args", "fragments"), [
    (["replicates=abc"], ["replicates=abc", "could not be converted to Integer"]),
    (["levers.fund_evaluation_regime=yearly"], ["expected one of [portfolio, yearly_profit]"]),
    (["replicate=5"], ["unknown option 'replicate' for simmodel run", "did you mean replicates?"]),
    (["population.overrides.n_pilot_zones=many"], ["n_pilot_zones=many", "converted to Float"]),
])
def test_wrong_type_or_unknown_option_on_the_command_line_is_one_line(tmp_path, args, fragments):
    msg = one_line_error(run_cli(["run", *SMALL, *args], tmp_path))
    for f in fragments:
        assert f in msg, msg
    assert not (tmp_path / "results").exists()


def test_debug_switch_shows_the_traceback_of_a_user_error(tmp_path):
    proc = run_cli(["run", *SMALL, "levers.fund_life_years=25", "--debug"], tmp_path)
    assert proc.returncode == 2
    assert "simmodel: error: lever fund_life_years = 25 is out of range" in proc.stderr
    assert "Traceback" in proc.stderr and "ConfigError" in proc.stderr


# --- results and calibration folders: refused when incomplete, corrupt or of another format --------

@pytest.fixture(scope="module")
def run_folder(tmp_path_factory) -> Path:
    from simmodel.config import AssumptionSensitivityConfig, OutputConfig, PopulationConfig, RunConfig
    from simmodel.tasks import run

    cfg = RunConfig(replicates=2, workers=1, seed=3, population=PopulationConfig(scale=0.02),
                    output=OutputConfig(plots=False, progress=False),
                    assumption_sensitivity=AssumptionSensitivityConfig(enabled=False))
    return run(cfg, out_dir=tmp_path_factory.mktemp("runs") / "good", echo=lambda *_: None)


def _copy(src: Path, tmp_path: Path) -> Path:
    dst = tmp_path / src.name
    shutil.copytree(src, dst)
    return dst


def _rewrite_manifest(folder: Path, change) -> None:
    man = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    change(man)
    (folder / MANIFEST).write_text(json.dumps(man), encoding="utf-8")


def test_a_complete_run_folder_reads_and_records_its_format(run_folder):
    traj, summary, manifest = read_run(run_folder)
    assert manifest["format"] == FORMAT and len(traj) and summary["n_replicates"] == 2


@pytest.mark.parametrize(("damage", "fragment"), [
    (lambda d: (d / MANIFEST).unlink(), "manifest.json is missing"),
    (lambda d: (d / MANIFEST).write_text('{"files": {', encoding="utf-8"), "is corrupt"),
    (lambda d: (d / MANIFEST).write_text("[1, 2]", encoding="utf-8"), "is corrupt"),
    (lambda d: (d / MANIFEST).write_bytes(b"\xff\xfe{}"), "is corrupt"),
    (lambda d: (d / "summary.json").unlink(), "summary.json listed in the manifest is missing"),
    (lambda d: (d / "trajectories.parquet").write_bytes(b"PAR1 truncated"), "trajectories.parquet does not match its checksum"),
    (lambda d: (d / "summary.json").write_text("{}", encoding="utf-8"), "summary.json does not match its checksum"),
    (lambda d: _rewrite_manifest(d, lambda m: m.update(format=2)), "results format 2; this simmodel reads format 1"),
    (lambda d: _rewrite_manifest(d, lambda m: m.update(format="x")), "results format 'x'"),
    (lambda d: _rewrite_manifest(d, lambda m: m["files"].pop("trajectories.parquet")), "does not list trajectories.parquet"),
])
def test_damaged_run_folder_is_refused(run_folder, tmp_path, damage, fragment):
    d = _copy(run_folder, tmp_path)
    damage(d)
    with pytest.raises(ResultsError) as exc:
        read_run(d)
    assert str(d) in str(exc.value) and fragment in str(exc.value), str(exc.value)


CALIBRATION = ROOT / "calibration" / "runs" / "replay"


def _older_calibration(root: Path) -> Path:
    """The default run (replay) as a simmodel whose behavioural parameters lacked one would have written it:
    parameters.csv without its last row, with a manifest that agrees (so only the version differs)."""
    d = root / "older"
    shutil.copytree(CALIBRATION, d)
    lines = (d / "parameters.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    (d / "parameters.csv").write_text("".join(lines[:-1]), encoding="utf-8")
    _rewrite_manifest(d, lambda m: m["files"].update({"parameters.csv": _sha256(d / "parameters.csv")}))
    return d


@pytest.mark.parametrize(("damage", "fragment"), [
    (lambda d: (d / "covariance.csv").write_text("x\n", encoding="utf-8"), "covariance.csv does not match its checksum"),
    (lambda d: (d / "fit.json").unlink(), "fit.json listed in the manifest is missing"),
    (lambda d: (d / MANIFEST).write_text("{", encoding="utf-8"), "is corrupt"),
    (lambda d: _rewrite_manifest(d, lambda m: m.update(format=99)), "results format 99"),
])
def test_damaged_calibration_run_is_refused(tmp_path, damage, fragment):
    d = tmp_path / "broken"
    shutil.copytree(CALIBRATION, d)
    damage(d)
    with pytest.raises(ResultsError) as exc:
        load_run(tmp_path, "broken")
    assert "calibration run broken" in str(exc.value) and fragment in str(exc.value), str(exc.value)


def test_calibration_run_of_another_version_is_refused_by_the_run_command(tmp_path):
    _older_calibration(tmp_path)
    with pytest.raises(ResultsError, match="does not fit this version of simmodel"):
        load_run(tmp_path, "older")
    msg = one_line_error(run_cli(["run", *SMALL, f"calibration_root={tmp_path}", "calibration=older"], tmp_path))
    assert "calibration run older does not fit this version of simmodel" in msg
    assert "lacks: " in msg and "simmodel calibrate name=older overwrite=true" in msg
    assert not (tmp_path / "results").exists()


# --- interruptions: Ctrl-C and SIGTERM during a run -------------------------------------------------

# progress bars on, as a researcher runs it: the interrupt's message must still be the last line
INTERRUPTED = ["run", "population.scale=0.03", "replicates=40", "seed=7", "workers=2", "output.plots=false",
               "assumption_sensitivity.enabled=false", "uncertainty.decomposition_pairs=2"]


def _interrupt(cwd: Path, sig: signal.Signals, *, group: bool) -> subprocess.CompletedProcess:
    """Start a run on two worker processes, send sig once replicates are running, wait for the end."""
    # As from an interactive shell: a suite started in the background (`make test &`, nohup, some CI
    # runners) has SIGINT ignored, an ignored signal is inherited through exec, and Python then
    # installs no KeyboardInterrupt handler, so the run would not see Ctrl-C at all
    proc = subprocess.Popen([SIMMODEL, *INTERRUPTED], cwd=cwd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not list(cwd.glob("results/run/baseline/.tmp-*")):
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    time.sleep(1.0)  # inside the replicates
    # Ctrl-C reaches the whole foreground process group; `kill PID` or a scheduler only the main process
    (os.killpg if group else os.kill)(proc.pid, sig)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@pytest.mark.parametrize(("sig", "group"), [(signal.SIGINT, True), (signal.SIGTERM, False)], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_run_leaves_nothing_half_written_and_a_rerun_completes(tmp_path, sig, group):
    proc = _interrupt(tmp_path, sig, group=group)
    assert proc.returncode == 128 + sig, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"simmodel: interrupted ({sig.name}); ")
    left = sorted(p.name for p in (tmp_path / "results" / "run" / "baseline").iterdir())
    assert left == [], f"left behind: {left}"  # no folder, complete or temporary
    if sig == signal.SIGTERM:
        done = run_cli(INTERRUPTED, tmp_path)
        assert done.returncode == 0, done.stderr
        [d] = [p for p in result_dirs(tmp_path / "results") if p.parent.name == "baseline"]
        read_run(d)
        [cf] = [p for p in result_dirs(tmp_path / "results") if p.parent.name == "no_new_policy"]  # its counterfactual
        read_run(cf)


def test_a_sweep_stopped_by_sigterm_keeps_its_finished_job_and_a_rerun_completes_it(tmp_path):
    args = ["run", "-m", "scenario=baseline,land_tight", "population.scale=0.03", "replicates=24", "seed=7", "workers=1",
            "output.progress=false", "output.plots=false", "assumption_sensitivity.enabled=false",
            "uncertainty.decomposition_pairs=2"]
    proc = subprocess.Popen([SIMMODEL, *args], cwd=tmp_path, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None \
            and not list(tmp_path.glob("results/run/multirun/*/0_baseline/manifest.json")):
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before it could be interrupted"
    # what a job that a launcher killed outright leaves (joblib ends its workers with SIGKILL): the
    # interrupted sweep clears it from the folders its jobs write in (here the paired runs', which no
    # later job of this sweep writes in, as both jobs share one paired no_new_policy run)
    from simmodel.results import _HOST

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = tmp_path / "results" / "run" / "no_new_policy" / f".tmp-paired-0123456789abcdef@{_HOST}@{dead.pid}"
    killed.mkdir(parents=True)
    os.kill(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err[-3000:]
    assert "Traceback" not in err and "simmodel: interrupted (SIGTERM)" in err, err[-6000:]  # the whole traceback, if any
    assert not killed.exists()
    [sweep] = list((tmp_path / "results" / "run" / "multirun").iterdir())
    assert not [p.name for p in sweep.iterdir() if p.name.startswith((".tmp", ".old"))]
    assert not (sweep / "1_land_tight" / MANIFEST).exists() and not (sweep / "aggregate").exists()
    finished = (sweep / "0_baseline" / "trajectories.parquet").read_bytes()

    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "job 0 (scenario=baseline): complete" in done.stdout + done.stderr and "skipped" in done.stdout + done.stderr
    assert (sweep / "0_baseline" / "trajectories.parquet").read_bytes() == finished
    read_run(sweep / "1_land_tight")
    assert (sweep / "aggregate" / MANIFEST).is_file()


def test_a_run_killed_outright_leaves_only_a_temporary_folder_which_the_next_run_clears(tmp_path):
    """SIGKILL gives the run no chance to clean up: what it leaves is a .tmp-* folder, which no
    reader takes for results (no manifest) and the next run in the same place removes."""
    proc = _interrupt(tmp_path, signal.SIGKILL, group=True)
    assert proc.returncode == -signal.SIGKILL
    runs = tmp_path / "results" / "run" / "baseline"
    assert [p.name.startswith(".tmp-") for p in runs.iterdir()] == [True]
    done = run_cli(INTERRUPTED, tmp_path)
    assert done.returncode == 0, done.stderr
    (complete,) = list(runs.iterdir())  # the new run only: the killed run's folder is gone
    assert (complete / "manifest.json").is_file()
