"""Replicates (simmodel.ensemble): seeds flow from one root seed, replicate r is the same run
whatever the number of replicates or workers (common random numbers across scenarios)."""

from __future__ import annotations

import pytest

from simmodel.ensemble import replicate_seeds, run_ensemble
from simmodel.levers import Levers, Uncertainties
from simmodel.model import SimModel

SCALE = 0.05
ROOT = 20250101


@pytest.fixture(scope="module")
def serial(inputs):
    return run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, workers=1)


def test_replicate_seeds_do_not_depend_on_their_number():
    few, many = replicate_seeds(ROOT, 2), replicate_seeds(ROOT, 5)
    for a, b in zip(few, many):
        assert (a.entropy, a.spawn_key) == (b.entropy, b.spawn_key)
    assert len({s.spawn_key for s in many}) == 5


def test_replicate_is_the_model_run_on_its_seed(inputs, serial):
    seed = replicate_seeds(ROOT, 2)[1]
    m = SimModel(inputs, Levers(), Uncertainties(), scale=SCALE, seed=seed)
    assert m.run().equals(serial[1].trajectory)
    assert m.fiscal_cost_by_lever() == serial[1].fiscal_cost
    assert [r.replicate for r in serial] == [0, 1]


def test_replicates_differ(serial):
    assert not serial[0].trajectory.equals(serial[1].trajectory)


def test_results_do_not_depend_on_workers(inputs, serial):
    parallel = run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, workers=2)
    assert [r.replicate for r in parallel] == [0, 1]
    for a, b in zip(serial, parallel):
        assert a.trajectory.equals(b.trajectory)
        assert a.fiscal_cost == b.fiscal_cost



def test_the_kernels_are_warmed_once_a_process_before_its_workers_fork_and_a_failed_warm_up_is_harmless(
        inputs, serial, monkeypatch):
    """A parallel ensemble first runs a small replicate in this process (so that its forked workers
    inherit the compiled loops instead of each loading them), once a process; where that warm-up
    fails, the ensemble runs all the same and gives the serial results."""
    from simmodel import ensemble
    from simmodel.workers import default_context

    started = []

    class FailingWarmUp(SimModel):
        def __init__(self, *args, **kwargs):
            if kwargs.get("scale") == ensemble._WARM_SCALE:
                started.append(kwargs["scale"])
                raise RuntimeError("the warm-up failed")
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(ensemble, "_warm", False)
    monkeypatch.setattr(ensemble, "SimModel", FailingWarmUp)
    for _ in range(2):
        parallel = run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2,
                                workers=2)
        for a, b in zip(serial, parallel, strict=True):
            assert a.trajectory.equals(b.trajectory)
    fork = default_context().get_start_method() == "fork"
    assert started == ([ensemble._WARM_SCALE] if fork else [])
    run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=1, workers=2)
    assert len(started) == (1 if fork else 0)  # one replicate runs here, without a pool or a warm-up


def test_a_slow_warm_up_says_the_loops_are_compiling_and_a_quick_one_says_nothing(inputs, monkeypatch):
    """warm_kernels tells a run why it waits (the loops compiling on a fresh checkout, about a
    minute) once the warm-up has taken _NOTICE_AFTER_S, and says nothing when it ends sooner."""
    import time

    from simmodel import ensemble, kernels

    class SlowWarmUp(SimModel):
        def run(self):
            time.sleep(0.3)  # as a compile would: longer than the notice's delay below
            return super().run()

    said = []
    monkeypatch.setattr(ensemble, "SimModel", SlowWarmUp)
    monkeypatch.setattr(ensemble, "_NOTICE_AFTER_S", 0.05)
    monkeypatch.setattr(ensemble, "_warm", False)
    ensemble.warm_kernels(inputs, Levers(), Uncertainties(), notice=said.append)
    assert said == [kernels.COMPILING_NOTICE]
    ensemble.warm_kernels(inputs, Levers(), Uncertainties(), notice=said.append)  # once a process
    assert said == [kernels.COMPILING_NOTICE]
    monkeypatch.setattr(ensemble, "_NOTICE_AFTER_S", 1.5)  # due well after the warm-up's 0.3 s
    monkeypatch.setattr(ensemble, "_warm", False)
    ensemble.warm_kernels(inputs, Levers(), Uncertainties(), notice=said.append)
    time.sleep(1.5)  # past the time it was due: it was cancelled when the warm-up ended
    assert said == [kernels.COMPILING_NOTICE]


def test_a_slow_warm_up_starts_the_loop_compilers_and_stops_them_when_it_ends(inputs, monkeypatch):
    """warm_kernels starts processes that compile loops beside it (_LoopCompilers) once it has taken
    _COMPILERS_AFTER_S, and stops them when it ends; a quick warm-up starts none."""
    import time

    from simmodel import ensemble

    calls = []

    class Compilers:
        def __init__(self, *job):
            calls.append("made")

        def start(self):
            calls.append("start")

        def stop(self):
            calls.append("stop")

    class SlowWarmUp(SimModel):
        def run(self):
            time.sleep(0.3)
            return super().run()

    monkeypatch.setattr(ensemble, "_LoopCompilers", Compilers)
    monkeypatch.setattr(ensemble, "SimModel", SlowWarmUp)
    monkeypatch.setattr(ensemble, "_COMPILERS_AFTER_S", 0.05)
    monkeypatch.setattr(ensemble, "_warm", False)
    ensemble.warm_kernels(inputs, Levers(), Uncertainties())
    assert calls == ["made", "start", "stop"]
    calls.clear()
    monkeypatch.setattr(ensemble, "_COMPILERS_AFTER_S", 1.5)
    monkeypatch.setattr(ensemble, "_warm", False)
    ensemble.warm_kernels(inputs, Levers(), Uncertainties())
    time.sleep(1.5)
    assert calls == ["made", "stop"]


def test_a_loop_compiler_claims_every_loop_of_the_warm_up_and_ends_with_its_parent(inputs, tmp_path):
    """The process of _LoopCompilers (ensemble.compile_loops_main): alone, it claims every loop the
    warm-up replicate calls, a file each in the claims folder, and compiles them (here: loads them from
    Numba's cache); told of a parent that is not its own (as when its parent has died), it ends
    within about a second, before it claims anything."""
    import os
    import pickle
    import subprocess
    import sys
    import time

    def run(claims, parent):
        with subprocess.Popen([sys.executable, "-W", "ignore::RuntimeWarning", "-c",
                               "from simmodel.ensemble import compile_loops_main; compile_loops_main()"],
                              stdin=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
            _, err = proc.communicate(pickle.dumps((inputs, Levers(), Uncertainties(), str(claims), parent)),
                                      timeout=600)
        return proc.returncode, err.decode()[-2000:]

    alone = tmp_path / "alone"
    alone.mkdir()
    code, err = run(alone, os.getpid())
    assert code == 0, err
    assert len(list(alone.iterdir())) > 30
    orphan = tmp_path / "orphan"
    orphan.mkdir()
    t = time.perf_counter()
    code, err = run(orphan, os.getpid() + 1_000_000)
    assert code == 0, err
    assert time.perf_counter() - t < 10 and not list(orphan.iterdir())


def test_loop_compilers_start_one_a_spare_core_and_stop_leaves_nothing(inputs, monkeypatch):
    """_LoopCompilers.start runs one process a spare core (at most _COMPILERS_MAX) and has this
    process's loops claim theirs, none on one core, once stopped or under NUMBA_DISABLE_JIT; stop
    ends them, puts the loops back and removes the claims folder."""
    import os

    from simmodel import ensemble, kernels

    monkeypatch.setattr(ensemble, "spare_cores", lambda: 5)
    monkeypatch.setattr(ensemble, "_COMPILERS_MAX", 2)
    compilers = ensemble._LoopCompilers(inputs, Levers(), Uncertainties())
    compilers.start()
    compilers.start()  # once
    procs, claims = list(compilers._procs), compilers._claims
    assert len(procs) == 2 and os.path.isdir(claims)
    assert kernels.cumulative_sum is not kernels._LOOPS["cumulative_sum"]  # this process's loops claim too
    compilers.stop()
    assert all(p.poll() is not None for p in procs) and not os.path.exists(claims)
    assert kernels.cumulative_sum is kernels._LOOPS["cumulative_sum"]
    compilers.start()  # stopped: starts nothing
    assert compilers._procs == procs
    monkeypatch.setattr(ensemble, "spare_cores", lambda: 0)
    one_core = ensemble._LoopCompilers(inputs, Levers(), Uncertainties())
    one_core.start()
    assert one_core._procs == [] and one_core._claims is None
    one_core.stop()
    monkeypatch.setattr(ensemble, "spare_cores", lambda: 5)
    monkeypatch.setattr(kernels, "_PLAIN_PYTHON", True)  # NUMBA_DISABLE_JIT: nothing to compile
    plain = ensemble._LoopCompilers(inputs, Levers(), Uncertainties())
    plain.start()
    assert plain._procs == [] and plain._claims is None
    plain.stop()


_COLD_WARM_UP = """
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs, warm_kernels
cfg = RunConfig()
warm_kernels(load_inputs(cfg)[0], cfg.levers, cfg.uncertainties)
"""


@pytest.mark.slow
def test_a_warm_up_on_an_empty_cache_shares_the_loops_with_its_compilers_and_leaves_them_all_cached(tmp_path):
    """On an empty Numba cache (a fresh checkout), warm_kernels and its compilers split the loops: the
    warm-up loads some that a compiler compiled (Numba's cache log: "data loaded") and compiles and
    saves the others itself; a process after it then loads every loop the warm-up met and compiles
    none. About 35 s."""
    import os
    import subprocess
    import sys

    from simmodel import kernels
    from simmodel.ensemble import spare_cores

    if spare_cores() == 0:
        pytest.skip("one core: warm_kernels starts no compilers")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path), "NUMBA_DEBUG_CACHE": "1"}

    def log():
        run = subprocess.run([sys.executable, "-W", "ignore::RuntimeWarning", "-c", _COLD_WARM_UP], capture_output=True,
                             text=True, timeout=600, check=False, env=env)
        assert run.returncode == 0, run.stderr[-2000:]
        return run.stdout

    def loops(text, what):
        # "[cache] data saved to '.../kernels.NAME-LINE.py312.1.nbc'", a line a function and signature
        return [line.split("kernels.")[-1].split(".py")[0] for line in text.splitlines()
                if f"data {what}" in line and "kernels." in line]

    first = log()
    saved, loaded = loops(first, "saved"), loops(first, "loaded")
    assert saved and loaded and not set(saved) & set(loaded)
    again = log()
    # the loops load self-contained: the helpers they call (also cached, for the compilers) are not read
    met = {name for name in saved + loaded if name.split("-")[0] in kernels._LOOPS}
    assert not loops(again, "saved") and set(loops(again, "loaded")) == met and len(met) > 30


def test_progress_is_called_once_per_replicate(inputs):
    calls = []
    run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, workers=1,
                 progress=calls.append)
    assert calls == [1, 1]


# ------------------------------------------------------------------ every unknown inside P(met) (issue 13)

def _cfg(**switches):
    from simmodel.config import RunConfig

    cfg = RunConfig(calibration="prior")
    for k, v in switches.items():
        setattr(cfg.uncertainty, k, v)
    return cfg


@pytest.fixture(scope="module")
def draws(inputs):
    from simmodel.ensemble import uncertainty_draws

    return uncertainty_draws(_cfg(), inputs)


def test_every_source_with_a_range_is_drawn(inputs, draws):
    assert draws.active() == ("assumptions", "behaviour", "shocks")  # calibration=prior: no covariance
    drawn_base = set(draws.assumptions.names)
    for q in inputs.base.values():
        ranged = q.low < q.high and q.distribution != "fixed"
        assert (q.name in drawn_base) == (ranged and q.kind in ("assumption", "derived", "inferred")), q.name
    assert "t1_emerging_share_415x_pct" in drawn_base and "t2_sei_share_pct" in drawn_base
    assert "subsidy_additionality" in draws.behaviour.names
    assert any(n.startswith("growth_prior_pct:") for n in draws.behaviour.names)


def test_draws_stay_in_their_ranges_and_differ_by_replicate(inputs, draws):
    from simmodel.ensemble import ReplicateKey

    seen = []
    for ss in replicate_seeds(ROOT, 20):
        _, d = draws.apply(inputs, ReplicateKey.of(ss))
        for src in ("assumptions", "behaviour"):
            s = getattr(draws, src)
            for name, lo, hi in zip(s.names, s.low, s.high):
                assert lo <= d[src][name] <= hi, (src, name)
        seen.append(d["assumptions"]["t1_emerging_share_415x_pct"])
    assert len(set(seen)) == 20


def test_the_same_replicate_draws_the_same_in_every_scenario(inputs, draws):
    """Common random numbers: the draws depend on the replicate's seed only, not on the levers."""
    a = run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, draws=draws)
    b = run_ensemble(inputs, Levers(fund_life_years=8), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, draws=draws)
    assert [r.drawn for r in a] == [r.drawn for r in b]
    assert a[0].drawn != a[1].drawn


def test_a_source_switched_off_is_held_at_its_central_value(inputs):
    from simmodel.ensemble import uncertainty_draws

    off = uncertainty_draws(_cfg(assumptions=False, behaviour=False), inputs)
    assert off.active() == ("shocks",)
    res = run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, draws=off)
    assert all(r.drawn == {} for r in res)
    plain = run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2)
    assert res[1].trajectory.equals(plain[1].trajectory)


def test_shocks_off_gives_every_replicate_the_same_run(inputs):
    from simmodel.ensemble import uncertainty_draws

    none = uncertainty_draws(_cfg(assumptions=False, behaviour=False, shocks=False), inputs)
    assert none.active() == ()
    res = run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=3, draws=none)
    assert res[0].trajectory.equals(res[1].trajectory) and res[0].trajectory.equals(res[2].trajectory)


def test_a_decomposition_run_differs_from_its_main_replicate_in_exactly_one_source():
    from simmodel.ensemble import SOURCES, pair_keys, replicate_keys

    main = replicate_keys(ROOT, 4)
    plan = [(g, j) for g in SOURCES for j in range(4)]
    keys = pair_keys(ROOT, plan)
    for (g, j), k in zip(plan, keys):
        for src in SOURCES:
            same = getattr(k, src).spawn_key == getattr(main[j], src).spawn_key
            assert same == (src != g), (g, j, src)
    # the fresh draw of pair j is the same sequence whichever source it replaces
    assert keys[0].assumptions.spawn_key == keys[4].behaviour.spawn_key


def test_decomposition_runs_move_only_their_source(inputs, draws):
    """Run (G, j) draws the same as main replicate j in every source but G."""
    from simmodel.ensemble import pair_keys

    main = run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, draws=draws)
    plan = [("assumptions", 1), ("behaviour", 1)]
    redrawn = run_ensemble(inputs, Levers(), Uncertainties(), scale=SCALE, root_seed=ROOT, replicates=2, draws=draws,
                           keys=pair_keys(ROOT, plan))
    assert redrawn[0].drawn["behaviour"] == main[1].drawn["behaviour"]
    assert redrawn[0].drawn["assumptions"] != main[1].drawn["assumptions"]
    assert redrawn[1].drawn["assumptions"] == main[1].drawn["assumptions"]
    assert redrawn[1].drawn["behaviour"] != main[1].drawn["behaviour"]


@pytest.mark.parametrize("first", [0, 60])
def test_every_draw_gives_a_population(inputs, draws, first):
    """Any combination of drawn unknowns builds a base-year population and steps a year: a draw that
    the synthesis cannot satisfy would crash a run (or, worse, quietly bend it). 120 draws here; the
    slow profile of tests/property covers more."""
    from simmodel.ensemble import MAX_REDRAWS, ReplicateKey, build_model

    redrawn = 0
    for ss in replicate_seeds(ROOT + 1, 120)[first:first + 60]:
        m, d = build_model(inputs, Levers(), Uncertainties(), 0.01, ReplicateKey.of(ss), draws)
        redrawn += "redraws" in d
        assert d.get("redraws", {"n": 0})["n"] <= MAX_REDRAWS
        for _ in range(4):
            m.step()
        t2 = m.records[0]["t2_sei_share_pct"]
        assert abs(t2 - d["assumptions"]["t2_sei_share_pct"]) < 1e-6  # the synthesis meets the drawn base year
    assert redrawn <= 6  # a refused draw is the exception (about 2 %), not the rule
