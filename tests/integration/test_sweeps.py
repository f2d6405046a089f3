"""Sweeps end to end through the real command line and Hydra's real launchers (basic, joblib, Ray
local and an existing Ray head, submitit local): one folder per job, an aggregate at the end,
failing jobs recorded, interrupted sweeps resumed. Every Ray process a test starts stays on this
machine and is stopped by the test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from simmodel.results import read_run
from tests.integration.test_cli import BIN, SIMMODEL, run_cli

QUICK = ["population.scale=0.03", "replicates=8", "seed=7", "output.progress=false",
         "assumption_sensitivity.enabled=false", "uncertainty.decomposition_pairs=2"]


def the_sweep(cwd: Path) -> Path:
    dirs = [p for p in (cwd / "results" / "run" / "multirun").iterdir() if p.is_dir()]
    assert len(dirs) == 1, dirs
    return dirs[0]


def check_aggregate_against_jobs(sweep: Path) -> pd.DataFrame:
    """The aggregate table holds, for every complete job, exactly its summary's numbers, and the
    differences are scenario minus reference."""
    table = pd.read_parquet(sweep / "aggregate" / "aggregate.parquet")
    md = (sweep / "aggregate" / "aggregate.md").read_text(encoding="utf-8")
    manifest = json.loads((sweep / "aggregate" / "manifest.json").read_text())
    assert set(manifest["files"]) >= {"aggregate.parquet", "aggregate.md", "comparison.png"}
    complete = [j for j in manifest["jobs"] if j["status"] == "complete"]
    assert sorted(table["job"].unique()) == [j["num"] for j in complete]
    for j in complete:
        _, summary, _ = read_run(sweep / j["path"])
        rows = table[table["job"] == j["num"]]
        n_targets = sum(len(v) for v in summary["targets"].values())
        assert len(rows) == n_targets
        for r in rows.itertuples():
            s = summary["targets"][r.target_id][str(r.year)]
            assert r.p_met == pytest.approx(s["p_met"], abs=1e-12)
            assert r.median == pytest.approx(s["median"], rel=1e-9, abs=1e-9)
            assert [r.p_met_lo, r.p_met_hi] == pytest.approx(s["p_met_ci95"])
            assert r.n_replicates == s["n_replicates"]
            assert f"{s['p_met']:.2f} [" in md
    ref = table[table["job"] == table["reference_job"]].set_index(["target_id", "year"])
    for r in table.itertuples():
        assert r.diff_p_met == pytest.approx(r.p_met - ref.loc[(r.target_id, r.year), "p_met"], abs=1e-12)
        assert r.diff_median == pytest.approx(r.median - ref.loc[(r.target_id, r.year), "median"], abs=1e-9)
        assert r.diff_p_met_lo <= r.diff_p_met <= r.diff_p_met_hi
    return table


@pytest.fixture(scope="module")
def joblib_sweep(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("joblib")
    proc = run_cli(["run", "-m", "scenario=baseline,land_tight", *QUICK, "hydra/launcher=joblib",
                    "hydra.launcher.n_jobs=2"], cwd)
    return cwd, proc


def test_joblib_sweep_of_two_scenarios_ends_in_one_aggregate(joblib_sweep):
    cwd, proc = joblib_sweep
    assert proc.returncode == 0, proc.stderr
    sweep = the_sweep(cwd)
    assert sorted(p.name for p in sweep.iterdir() if not p.name.startswith(".")) == [
        "0_baseline", "1_land_tight", "aggregate", "multirun.yaml", "sweep.json"]
    table = check_aggregate_against_jobs(sweep)
    assert set(table["reference_job"]) == {0} and table["paired"].all()
    # land_tight halves the land quota: T1's indicator cannot come out higher in every replicate
    t1 = table[(table["target_id"] == "T2") & (table["year"] == 2027)].set_index("job")
    assert t1.loc[1, "diff_median"] < 0
    assert "sweep: 2/2 jobs done" in proc.stderr  # progress of the sweep
    assert "aggregate.md" in proc.stderr
    assert "## Change in P(met) from the reference" in proc.stdout  # the answer, in the terminal too
    assert "| 1 | scenario=land_tight |" in proc.stdout


def test_paired_intervals_are_narrower_than_independent_ones(joblib_sweep):
    cwd, _ = joblib_sweep
    table = pd.read_parquet(the_sweep(cwd) / "aggregate" / "aggregate.parquet")
    other = table[table["job"] != table["reference_job"]]
    paired = (other["diff_p_met_hi"] - other["diff_p_met_lo"]).to_numpy()
    unpaired = (other["diff_p_met_hi_unpaired"] - other["diff_p_met_lo_unpaired"]).to_numpy()
    # on average; cell by cell Tango's paired and Newcombe's unpaired interval are different methods
    # (the coverage and width of both are checked in tests/unit/test_sweep.py)
    assert paired.mean() < unpaired.mean()


def test_a_failing_job_does_not_lose_the_others_and_the_reference_is_found_by_value(tmp_path):
    # 25 years is outside the allowed [1, 20]: that job fails, the other two complete; 20 is the
    # baseline's own value, so its job is the reference although a lever is set on the command line
    proc = run_cli(["run", "-m", "levers.fund_life_years=8,20,25", *QUICK], tmp_path)
    assert proc.returncode == 1
    assert "1 of 3 sweep jobs have no results" in proc.stderr
    assert "fund_life_years = 25 is out of range" in proc.stderr
    sweep = the_sweep(tmp_path)
    # each job's folder is named by what it changed
    assert (sweep / "0_fund_life_years-8" / "manifest.json").is_file()
    assert (sweep / "1_fund_life_years-20" / "manifest.json").is_file()
    failed = json.loads((sweep / "2_fund_life_years-25" / "FAILED.json").read_text())
    assert failed["user_error"] and "out of range" in failed["error"]
    assert not (sweep / "2_fund_life_years-25" / "manifest.json").exists()
    table = check_aggregate_against_jobs(sweep)
    assert set(table["reference_job"]) == {1}
    assert set(table["label"]) == {"levers.fund_life_years=8", "levers.fund_life_years=20"}
    md = (sweep / "aggregate" / "aggregate.md").read_text()
    assert "job 2 (levers.fund_life_years=25): failed" in md


def test_rerun_resumes_an_interrupted_sweep(tmp_path, joblib_sweep):
    args = ["run", "-m", "scenario=baseline,land_tight,subsidy_half", *QUICK[:1], "replicates=24", *QUICK[2:],
            "workers=1"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    proc = subprocess.Popen([SIMMODEL, *args], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    first = None
    while time.monotonic() < deadline and proc.poll() is None:
        found = list((tmp_path / "results").glob("run/multirun/*/0_baseline/manifest.json"))
        if found:
            first = found[0]
            break
        time.sleep(0.02)
    assert first is not None, "the first job never completed"
    os.killpg(proc.pid, signal.SIGKILL)  # no chance to clean up: the hardest interruption
    proc.wait(timeout=30)
    sweep = first.parents[1]
    assert not (sweep / "2_subsidy_half" / "manifest.json").exists(), "the sweep finished before the kill"
    assert not (sweep / "aggregate").exists()
    before = first.read_bytes()

    done = run_cli(args, tmp_path)
    assert done.returncode == 0, done.stderr
    assert the_sweep(tmp_path) == sweep
    assert "job 0 (scenario=baseline): complete" in done.stderr + done.stdout
    assert "skipped" in done.stderr + done.stdout
    assert first.read_bytes() == before  # the finished job was reused, not redone
    assert not [p for p in sweep.iterdir() if p.name.startswith((".tmp", ".old"))]
    table = check_aggregate_against_jobs(sweep)
    assert sorted(table["job"].unique()) == [0, 1, 2]


def same_bytes(sweep_a: Path, sweep_b: Path) -> None:
    """Every job's trajectories and summary are byte-identical in the two sweeps (the manifests differ
    only in times, paths and the command, so their checksums of these files must agree too)."""
    for job in ("0_baseline", "1_land_tight"):
        a, b = sweep_a / job, sweep_b / job
        read_run(a), read_run(b)  # complete and matching their manifests
        for name in ("trajectories.parquet", "summary.json"):
            assert (a / name).read_bytes() == (b / name).read_bytes(), f"{job}/{name} differs"
        files_a = json.loads((a / "manifest.json").read_text())["files"]
        files_b = json.loads((b / "manifest.json").read_text())["files"]
        assert files_a["trajectories.parquet"] == files_b["trajectories.parquet"]


def test_the_launcher_does_not_change_the_results(tmp_path, joblib_sweep):
    """Same config and seed through the basic launcher and through joblib: the same bytes."""
    cwd, _ = joblib_sweep
    proc = run_cli(["run", "-m", "scenario=baseline,land_tight", *QUICK], tmp_path)
    assert proc.returncode == 0, proc.stderr
    same_bytes(the_sweep(cwd), the_sweep(tmp_path))


def test_submitit_local_sweep(tmp_path):
    proc = run_cli(["run", "-m", "scenario=baseline,talent_surge", *QUICK, "hydra/launcher=submitit_local",
                    "hydra.launcher.timeout_min=10"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    sweep = the_sweep(tmp_path)
    check_aggregate_against_jobs(sweep)
    assert (sweep / ".submitit").is_dir()


def test_slurm_launcher_is_configured_for_a_cluster(tmp_path):
    proc = run_cli(["run", "hydra/launcher=slurm", "--cfg", "hydra", "-p", "hydra.launcher"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "hydra_submitit_launcher.submitit_launcher.SlurmLauncher" in proc.stdout
    for line in ("cpus_per_task: 4", "timeout_min: 120", "array_parallelism: 64", "max_num_timeout: 2"):
        assert line in proc.stdout


# --- Ray: a private temp folder and home, so that nothing is shared with other Ray users here ------

@pytest.fixture
def ray_env(tmp_path):
    short = Path(tempfile.mkdtemp(prefix="r", dir="/tmp"))  # Ray's socket paths must stay short
    env = {**os.environ, "RAY_TMPDIR": str(short), "HOME": str(tmp_path), "RAY_USAGE_STATS_ENABLED": "0",
           "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    yield env
    subprocess.run([str(BIN / "ray"), "stop", "--force"], env=env, capture_output=True, timeout=120)
    assert _gone(short), f"Ray processes left running: {_ray_processes(short)}"
    shutil.rmtree(short, ignore_errors=True)


def _ray_processes(tmpdir: Path) -> list[str]:
    """Live processes started with this test's RAY_TMPDIR (Ray's head, raylet, workers inherit it)."""
    mark = f"RAY_TMPDIR={tmpdir}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if mark in (proc / "environ").read_bytes().split(b"\0"):
                found.append((proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"))
        except OSError:
            continue
    return found


def _gone(tmpdir: Path, timeout: float = 30) -> bool:
    """True once no process of this test's Ray is left (shutting down takes a moment)."""
    deadline = time.monotonic() + timeout
    while _ray_processes(tmpdir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _run_env(args: list[str], cwd: Path, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([SIMMODEL, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_ray_sweep_on_a_ray_instance_the_launcher_starts(tmp_path, ray_env, joblib_sweep):
    proc = _run_env(["run", "-m", "scenario=baseline,land_tight", *QUICK, "hydra/launcher=ray",
                     "+hydra.launcher.ray.init.num_cpus=2", "+hydra.launcher.ray.init.include_dashboard=false"],
                    tmp_path, ray_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_aggregate_against_jobs(the_sweep(tmp_path))
    same_bytes(the_sweep(joblib_sweep[0]), the_sweep(tmp_path))  # Ray gives the bytes joblib and basic give
    assert _gone(Path(ray_env["RAY_TMPDIR"])), "the launcher's Ray did not shut down"


def test_ray_sweep_on_an_existing_ray_head(tmp_path, ray_env):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    head = subprocess.run([str(BIN / "ray"), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
                           "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
                          env=ray_env, capture_output=True, text=True, timeout=180)
    assert head.returncode == 0, head.stderr[-3000:]
    proc = _run_env(["run", "-m", "scenario=baseline,fund_life_8y", *QUICK, "hydra/launcher=ray_cluster"],
                    tmp_path, ray_env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    check_aggregate_against_jobs(the_sweep(tmp_path))
    assert _ray_processes(Path(ray_env["RAY_TMPDIR"])), "the head should still be up: the sweep used it, not its own"


def test_jobs_are_named_by_what_they_changed_and_cost_changes_are_attributed(tmp_path):
    """The study of issue 15: land tight and fund life 8 or 20 years. Job folders say what each job
    changed; the change in fiscal cost is split over the levers that caused it (the splits add up to
    the total); fund budgets and deployment sit beside the fiscal lines; cost-effectiveness is shown
    only under its rule (never on a saving)."""
    proc = run_cli(["run", "-m", "scenario=baseline,land_tight", "levers.fund_life_years=8,20", "population.scale=0.03",
                    "replicates=6", "seed=7", "output.progress=false", "output.plots=false",
                    "uncertainty.decomposition_pairs=0", "counterfactual.enabled=false"], tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    sweep = the_sweep(tmp_path)
    assert sorted(p.name for p in sweep.iterdir() if p.name[0].isdigit()) == [
        "0_baseline_fund_life_years-8", "1_baseline_fund_life_years-20", "2_land_tight_fund_life_years-8",
        "3_land_tight_fund_life_years-20"]
    table = pd.read_parquet(sweep / "aggregate" / "aggregate.parquet")
    jobs = table.drop_duplicates("job").set_index("job")
    assert (jobs["reference_job"] == 1).all()  # the baseline with nothing changed (20 years is the default)
    by_lever = pd.read_csv(sweep / "aggregate" / "cost_by_lever.csv")
    for num in (0, 2, 3):
        total = by_lever.loc[by_lever["job"] == num, "change_cny_100m"].sum()
        assert total == pytest.approx(jobs.loc[num, "diff_cost_cny_100m"], abs=1e-6)  # the splits add up
    tight = by_lever[(by_lever["job"] == 3)].set_index("lever")
    assert tight["change_cny_100m"].idxmin() == "land_renovation_mu_per_year"  # the saving is the renovation switched off
    # shorter fund life: no fiscal line moves much, but the funds' budget falls, and it is shown
    assert jobs.loc[0, "diff_fund_budget_cny_100m"] < 0 and jobs.loc[0, "diff_fund_budget_hi"] < 0
    assert not jobs.loc[[2, 3], "cost_effective"].any() and table.loc[table["job"].isin([2, 3]), "dp_per_100m"].isna().all()
    md = (sweep / "aggregate" / "aggregate.md").read_text(encoding="utf-8")
    assert "fund budget 2027" in md and "`land_renovation_mu_per_year` (art. 21)" in md
    assert "not shown (the fiscal cost falls" in md
