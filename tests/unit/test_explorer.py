"""The explorer apart from the browser: its controls, its address, its commands, its runs, saving a
scenario, the emulator's refusals and its offline front end (the browser tests drive the page:
tests/integration/test_explorer_browser.py)."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import tarfile
import time

import pytest

from simmodel.config import PROJECT_ROOT
from simmodel.errors import ConfigError, SimmodelError
from simmodel.explorer import assets, runs
from simmodel.explorer import state as S
from simmodel.levers import Levers, Uncertainties, specs
from simmodel.report import labels

SCENARIOS = PROJECT_ROOT / "scenarios"


def _sim(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "simmodel", *args], capture_output=True, text=True, cwd=PROJECT_ROOT,
                          env=env, timeout=timeout)


def test_every_lever_is_a_control_under_its_article_with_the_seed_heading():
    levers = [c for c in S.CONTROLS.values() if c.group == "levers"]
    assert [c.name for c in levers] == list(specs(Levers))
    assert [c.name for c in S.uncertainty_controls()] == list(specs(Uncertainties))
    groups = S.by_article("zh")
    assert sorted(a for a, _, _ in groups) == sorted({s.article for s in specs(Levers).values()})
    seed = (PROJECT_ROOT.parent / "shared" / "seed").glob("*.txt")
    text = "".join(p.read_text(encoding="utf-8") for p in seed).replace("\n", "")
    if text:  # the seed sits beside the checkout here; a clone elsewhere checks the table alone
        for a, title, _ in groups:
            assert title in text, f"article {a}: {title!r} is not the seed's wording"
    for a, title, cs in S.by_article("en"):
        assert title and title != str(a)
        for c in cs:
            assert c.low <= (0 if c.kind == "choice" else c.default) <= c.high or c.kind == "choice"
            assert c.grade in labels.GRADES["en"]


def test_the_address_round_trips_and_refuses_what_the_registry_refuses():
    state, start, errors = S.parse_query("scenario=land_tight&lang=en&fund_life_years=8&land_renovation_mu_per_year=0",
                                         SCENARIOS)
    assert errors == []
    # land_tight sets the renovation to 0 already: equal to the start, it is not a change
    assert state == S.PageState("land_tight", "en", (("fund_life_years", 8),))
    assert S.parse_query(S.to_query(state), SCENARIOS)[0] == state
    state, _, errors = S.parse_query("fund_life_years=25&nope=1&lang=fr&n_chain_projects_per_year=2.5&scenario=../x",
                                     SCENARIOS)
    assert state == S.PageState("baseline", "zh", ())
    text = " | ".join(errors)
    assert "fund_life_years = 25 is out of range [1, 20] years (draft article 22)" in text
    assert "'nope' is not a lever or uncertainty" in text
    assert "lang='fr'" in text and "not a whole number" in text and "'../x' is not a scenario name" in text


def test_values_are_typed_and_checked():
    assert S.check_value("n_chain_projects_per_year", "80") == 80
    assert S.check_value("fund_life_years", 8.0) == 8 and isinstance(S.check_value("fund_life_years", 8.0), int)
    assert S.check_value("fund_evaluation_regime", "yearly_profit") == "yearly_profit"
    for name, bad in (("fund_evaluation_regime", "monthly"), ("land_quota_mu_per_year", "nan"),
                      ("land_quota_mu_per_year", "1e9"), ("world_demand_shift_pct", "__import__('os')")):
        with pytest.raises(ConfigError):
            S.check_value(name, bad)


def test_the_printed_command_composes_to_the_page_state(tmp_path):
    _, start, _ = S.parse_query("", SCENARIOS)
    state = S.PageState("subsidy_half", "en").with_value("fund_life_years", 8, start)
    state = state.with_value("world_demand_shift_pct", -2.5, start)
    cmd = S.run_command(state, S.RunSettings(scale=0.05, replicates=3, seed=7, decomposition_pairs=0))
    assert cmd.startswith("simmodel run scenario=subsidy_half levers.fund_life_years=8 uncertainties.world_demand_shift_pct=-2.5")
    out = _sim(*cmd.split()[1:], "--cfg", "job")
    assert out.returncode == 0, out.stderr
    assert "fund_life_years: 8\n" in out.stdout and "world_demand_shift_pct: -2.5" in out.stdout
    assert "scale: 0.05" in out.stdout and "replicates: 3" in out.stdout and "seed: 7" in out.stdout


def test_save_as_scenario_writes_a_checked_file_that_reproduces_the_state(tmp_path):
    for p in SCENARIOS.glob("*.yaml"):
        (tmp_path / p.name).write_bytes(p.read_bytes())
    _, start, _ = S.parse_query("scenario=land_tight", tmp_path)
    state = S.PageState("land_tight", "en").with_value("fund_life_years", 8, start)
    path = S.save_scenario(state, start, "tight_short_funds", tmp_path, question_en="What if\nfunds are short?\n# x: 1")
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# @package _global_\n# Question: What if funds are short? # x: 1\n# 问题: 如果")
    assert "# 名称: 用地从紧情景（调整" in text
    again = S.scenario_values(tmp_path, "tight_short_funds")
    assert again["fund_life_years"] == 8 and again["land_quota_mu_per_year"] == 63500.0
    assert again["land_renovation_mu_per_year"] == 0.0
    with pytest.raises(ConfigError, match="exists already"):
        S.save_scenario(state, start, "tight_short_funds", tmp_path)
    for bad in ("../evil", "Upper", "a b", "", "x" * 60, "1abc"):
        with pytest.raises(ConfigError, match="not allowed"):
            S.save_scenario(state, start, bad, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".yaml")) == []
    with pytest.raises(ConfigError, match="at most"):
        S.save_scenario(state, start, "long_q", tmp_path, question_en="x" * 400)
    assert not (tmp_path / "long_q.yaml").exists()
    # the starting scenario's other settings travel with it (history sets a base year and a policy history)
    _, hstart, _ = S.parse_query("scenario=history", tmp_path)
    hstate = S.PageState("history", "en").with_value("fund_life_years", 12, hstart)
    saved = S.save_scenario(hstate, hstart, "history_12", tmp_path)
    data = S.scenario_data(tmp_path, "history_12")
    assert data["population"]["base_year"] == 2020 and data["policy_history"] == S.scenario_data(tmp_path, "history")["policy_history"]
    assert saved.is_file()


class _Emu:
    """A stand-in with the stored emulator's interface (simmodel.analysis.emulator.StoredEmulator),
    to check the page's refusal rules apart from any fitting."""

    settings = {"scenario": "baseline"}

    def __init__(self, rmse):
        self.validation = {f"{t}_{y}_p_met": {"rmse": rmse.get(t, 0.05)} for t in S.TARGET_IDS for y in S.YEARS
                           if not (t in ("T4", "T5") and y == 2030)}
        self.outputs = list(self.validation)

    def unvaried(self, values):
        return [n for n in ("land_quota_mu_per_year",) if values[n] != S.CONTROLS[n].default]

    def outside(self, values):
        return ["fund_life_years"] if values["fund_life_years"] < 5 else []

    def predict(self, values):
        return {k: min(1.0, values["fund_life_years"] / 20) for k in self.validation}


def test_the_estimate_is_refused_where_its_error_is_too_large_or_it_would_extrapolate():
    _, start, _ = S.parse_query("", SCENARIOS)
    state = S.PageState().with_value("fund_life_years", 10, start)
    est = S.estimate(_Emu({"T4": 0.2}), state, start, 0.1)
    assert est.note == ""
    assert est.values[("T1", 2027)] == {"p": 0.5, "change": -0.5, "error": 0.05}
    assert est.values[("T4", 2027)]["refused"] == "held-out error 0.20 > 0.1"
    assert ("T4", 2030) not in est.values  # no such target
    assert "not trained on land_quota_mu_per_year" in S.estimate(
        _Emu({}), state.with_value("land_quota_mu_per_year", 1000, start), start, 0.1).note
    assert "outside the emulator's training range: fund_life_years" in S.estimate(
        _Emu({}), state.with_value("fund_life_years", 3, start), start, 0.1).note
    assert S.estimate(None, state, start, 0.1).note == "no emulator"
    # a starting scenario that sets a base year the emulator never saw
    hist = S.PageState("history", "en")
    note = S.estimate(_Emu({}), hist, S.scenario_values(SCENARIOS, "history"), 0.1,
                      S.scenario_settings(SCENARIOS, "history")).note
    assert note.startswith("scenario history also sets policy_history, population")


def test_a_failed_run_gives_its_one_line_error_and_a_done_run_is_reused(tmp_path):
    runner = runs.Runner(tmp_path, max_runs=1)
    bad = runner.submit(["scenario=baseline", "levers.fund_life_years=30", "population.scale=0.02", "replicates=2"])
    overrides = ["scenario=baseline", "population.scale=0.02", "replicates=2", "uncertainty.decomposition_pairs=0",
                 "counterfactual.enabled=false", "output.plots=false"]
    good = runner.submit(overrides)
    assert runner.submit(overrides) is good  # a second session asking the same shares the run
    deadline = time.monotonic() + 240
    while (bad.running or good.running) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert bad.status == "failed"
    assert bad.error == "lever fund_life_years = 30 is out of range [1, 20] years (draft article 22)"
    assert good.status == "done" and (good.folder / "manifest.json").is_file()
    assert good.folder.is_relative_to(tmp_path)
    again = runs.Runner(tmp_path).submit(overrides)  # another server, the same settings: reused
    assert again.status == "done" and again.folder == good.folder and again.stage == "reused"


def test_a_run_whose_loops_compile_shows_it_as_its_stage(tmp_path):
    """A run on a fresh checkout prints kernels.COMPILING_NOTICE while its loops compile (about a
    minute); the page shows that as the run's stage, not "starting". Here a stand-in for the
    interpreter prints the notice, waits, then a progress line."""
    from simmodel.kernels import COMPILING_NOTICE

    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\n"
                    f"echo \"{COMPILING_NOTICE}\" >&2\n"
                    "sleep 2\n"
                    "printf 'baseline: replicates:  50%%|#    | 1/2 [00:01<00:01]\\n' >&2\n"
                    "sleep 2\n"
                    "exit 3\n")
    fake.chmod(0o755)
    job = runs.Runner(tmp_path / "out", python=str(fake)).submit(["scenario=baseline"])
    seen = set()
    deadline = time.monotonic() + 30
    while job.running and time.monotonic() < deadline:
        seen.add(job.stage)
        time.sleep(0.05)
    assert runs.COMPILING_STAGE in seen and "baseline: replicates" in seen
    assert job.status == "failed" and job.error == "the model run ended with exit status 3"  # the notice is no error


def test_a_run_nobody_wants_is_stopped_and_leaves_no_folder(tmp_path):
    runner = runs.Runner(tmp_path, max_runs=1)
    job = runner.submit(["scenario=baseline", "population.scale=0.2", "replicates=50", "uncertainty.decomposition_pairs=0"])
    deadline = time.monotonic() + 60
    while job.status != "running" or job._proc is None and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(3)
    runner.release(job)
    job._proc.wait(timeout=60)
    assert job.status == "cancelled"
    assert not list(tmp_path.glob("run/*/*/manifest.json"))
    assert not [p for p in tmp_path.glob("run/*/*") if p.is_dir()]


def _tgz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_front_end_packages_are_checked_and_unpacked_inside_their_folder(tmp_path):
    need = assets.required()
    assert any(p.startswith("@widgetti/solara-vuetify3-app@") for p in need) and any(p.startswith("requirejs@") for p in need)
    assert set(assets.missing(tmp_path)) == {f"{p}/{r}" for p, rs in need.items() for r in rs}
    data = _tgz({"package/require.js": b"//"})
    import base64
    import hashlib

    good = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    assets._check_integrity("requirejs@2.3.6", data, good)
    with pytest.raises(SimmodelError, match="does not match the npm registry"):
        assets._check_integrity("requirejs@2.3.6", data + b"x", good)
    assets._unpack("requirejs@2.3.6", data, tmp_path)
    assert (tmp_path / "requirejs@2.3.6" / "require.js").read_bytes() == b"//"
    with pytest.raises(SimmodelError, match="outside its folder"):
        assets._unpack("evil@1.0.0", _tgz({"package/../../escape.js": b"x"}), tmp_path)
    assert not (tmp_path.parent / "escape.js").exists()
    # offline install from a folder that lacks the tarballs: says which files it needs
    with pytest.raises(SimmodelError, match="the offline install needs"):
        assets.install(from_dir=tmp_path / "none", root=tmp_path / "cache", echo=lambda *_: None)


def test_explore_refuses_bad_settings_missing_assets_and_a_busy_port(tmp_path):
    out = _sim("explore", "lang=fr")
    assert out.returncode == 2 and "lang = 'fr' is not allowed: one of zh, en" in out.stderr
    out = _sim("explore", "host=example.com")
    assert out.returncode == 2 and "host = 'example.com' is not allowed" in out.stderr
    env = dict(os.environ, SOLARA_ASSETS_PROXY_CACHE_DIR=str(tmp_path))
    out = _sim("explore", env=env)
    assert out.returncode == 2 and "front end is not installed on this machine" in out.stderr and "make explore" in out.stderr
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        out = _sim("explore", f"port={s.getsockname()[1]}", f"output_root={tmp_path}")
    assert out.returncode == 2 and "another program listens there" in out.stderr
