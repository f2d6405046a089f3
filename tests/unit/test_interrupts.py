"""Stop signals deferred while a worker pool lives (simmodel.interrupts, simmodel.workers).

Each case runs in a fresh interpreter: it installs handlers and sends itself signals, which the
test process must not share."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="POSIX signal masks")


def _py(code: str, *, sigint_ignored: bool = False) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter whose SIGINT is ignored or at its default, whatever the test
    run's own: a shell starts a job in the background (``cmd &``, nohup) with SIGINT ignored, which
    the child would otherwise inherit."""
    disposition = signal.SIG_IGN if sigint_ignored else signal.SIG_DFL

    def pre() -> None:  # in the child, before exec
        signal.signal(signal.SIGINT, disposition)

    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120,
                          preexec_fn=pre, check=False)


def test_a_signal_inside_held_is_raised_when_the_block_ends_not_inside_it():
    r = _py("""
        import os, signal
        from simmodel import interrupts
        steps = []
        try:
            with interrupts.held():
                os.kill(os.getpid(), signal.SIGINT)
                steps.append("after the signal, still inside")
        except KeyboardInterrupt:
            steps.append("raised on leaving")
        print(steps, signal.getsignal(signal.SIGINT) is signal.default_int_handler,
              signal.pthread_sigmask(signal.SIG_BLOCK, []) == set())
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[0] == "['after the signal, still inside', 'raised on leaving'] True True"


def test_nested_deferrals_deliver_only_when_the_last_closes_and_check_raises_at_a_safe_point():
    r = _py("""
        import os, signal
        from simmodel import interrupts
        interrupts.install()
        out = []
        assert interrupts.defer() and interrupts.defer()
        os.kill(os.getpid(), signal.SIGINT)
        out.append("noted")
        interrupts.undefer()
        out.append("still deferred")
        try:
            interrupts.check()
        except KeyboardInterrupt:
            out.append("check raised")
        interrupts.undefer()
        out.append(f"received {interrupts.received}")
        print(out)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "['noted', 'still deferred', 'check raised', 'received [2]']"


def test_sigterm_with_its_default_still_ends_the_process_once_the_deferral_closes():
    r = _py("""
        import os, signal, sys
        from simmodel import interrupts
        interrupts.defer()
        os.kill(os.getpid(), signal.SIGTERM)
        print("alive while deferred", flush=True)
        try:
            interrupts.check()
        except KeyboardInterrupt:
            print("check raised", flush=True)
        interrupts.undefer()
        print("not reached", flush=True)
    """)
    assert r.returncode == -signal.SIGTERM, (r.returncode, r.stderr)
    assert r.stdout.split() == ["alive", "while", "deferred", "check", "raised"]


def test_a_sigint_ignored_at_start_stays_ignored():
    r = _py("""
        import os, signal
        from simmodel import interrupts
        interrupts.install()
        with interrupts.held():
            os.kill(os.getpid(), signal.SIGINT)
        interrupts.check()
        os.kill(os.getpid(), signal.SIGINT)
        print("ignored", signal.getsignal(signal.SIGINT) == signal.SIG_IGN, interrupts.received)
    """, sigint_ignored=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ignored True []"


def test_pool_workers_ignore_sigint_end_on_sigterm_and_the_parent_gets_its_handlers_back():
    r = _py("""
        import os, signal
        from simmodel import interrupts
        from simmodel.workers import process_pool

        def state(_):
            return (signal.getsignal(signal.SIGINT) == signal.SIG_IGN, signal.getsignal(signal.SIGTERM) == signal.SIG_DFL,
                    sorted(signal.pthread_sigmask(signal.SIG_BLOCK, [])), interrupts.received)

        interrupts.install()
        with process_pool(2) as pool:
            got = list(pool.map(state, range(4)))
            during = (signal.getsignal(signal.SIGINT) is interrupts._note, signal.getsignal(signal.SIGTERM) is interrupts._note)
        print(during, got[0], all(g == got[0] for g in got),
              signal.getsignal(signal.SIGINT) is interrupts._stop, signal.getsignal(signal.SIGTERM) is interrupts._stop)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "(True, True) (True, True, [], []) True True True"


def test_ctrl_c_during_a_pool_stops_its_map_at_once_and_ends_the_workers():
    r = _py("""
        import os, signal, threading, time
        from simmodel import interrupts
        from simmodel.workers import process_pool

        def slow(x):
            time.sleep(30)
            return x

        interrupts.install()
        t0 = time.monotonic()
        threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
        try:
            with process_pool(2) as pool:
                pool.submit(abs, 1).result()  # the workers are started
                procs = list(pool._processes.values())
                list(pool.map(slow, range(4)))
        except KeyboardInterrupt:
            print("interrupted", round(time.monotonic() - t0) < 10, [p.exitcode for p in procs], interrupts.received)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "interrupted True [-15, -15] [2]", r.stdout


def test_map_refuses_what_it_does_not_support():
    from simmodel.workers import process_pool

    with process_pool(1) as pool, pytest.raises(ValueError, match="neither timeout nor chunksize"):
        pool.map(abs, [1], chunksize=4)


def test_live_raises_inside_a_deferral_and_defers_again_on_leaving():
    """interrupts.live (the CLI's tasks, inside the deferral kept while Hydra's own code runs): a
    signal noted before it raises on entering; one that comes inside raises where it comes; a worker
    pool's deferral inside it defers; on leaving, signals are only noted again until the outer
    deferral closes, where the last one raises."""
    r = _py("""
        import os, signal
        from simmodel import interrupts
        interrupts.install()
        out = []
        assert interrupts.defer()
        os.kill(os.getpid(), signal.SIGTERM)
        out.append("noted outside")
        try:
            with interrupts.live():
                out.append("not reached")
        except KeyboardInterrupt:
            out.append("raised on entering")
        try:
            with interrupts.live():
                os.kill(os.getpid(), signal.SIGINT)
                out.append("not reached")
        except KeyboardInterrupt:
            out.append("raised inside")
        try:
            with interrupts.live():
                with interrupts.held():  # a pool's deferral inside the task
                    os.kill(os.getpid(), signal.SIGINT)
                    out.append("deferred by the pool")
                out.append("not reached")
        except KeyboardInterrupt:
            out.append("raised when the pool closed")
        os.kill(os.getpid(), signal.SIGTERM)
        out.append("noted after")
        try:
            interrupts.undefer()
        except KeyboardInterrupt:
            out.append("raised at the outer undefer")
        print(out, interrupts.received, signal.getsignal(signal.SIGTERM) is interrupts._stop)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == ("['noted outside', 'raised on entering', 'raised inside', 'deferred by the pool', "
                                "'raised when the pool closed', 'noted after', 'raised at the outer undefer'] "
                                "[15, 2, 2, 15] True")


def test_the_cli_defers_around_hydra_unless_a_launcher_runs_the_jobs_elsewhere():
    """The CLI keeps the stop signals deferred while Hydra's own code runs, except for a sweep whose
    jobs another launcher runs (joblib, Ray, a cluster) while the CLI waits in that launcher's code,
    where a signal must stop the wait (simmodel.cli._waits_in_launcher)."""
    from simmodel.cli import _waits_in_launcher

    assert not _waits_in_launcher(["scenario=baseline"])
    assert not _waits_in_launcher(["-m", "scenario=baseline,land_tight"])
    assert not _waits_in_launcher(["-m", "scenario=baseline,land_tight", "hydra/launcher=basic"])
    assert _waits_in_launcher(["-m", "scenario=baseline,land_tight", "hydra/launcher=joblib"])
    assert _waits_in_launcher(["--multirun", "+hydra/launcher=ray", "replicates=4"])
    assert not _waits_in_launcher(["hydra/launcher=joblib", "method=morris"])  # analyze: its own sweep, inside the task
