"""Ctrl-C and SIGTERM: honoured once, at a safe point, and never half-way through a worker pool.

Python raises KeyboardInterrupt at the next bytecode of the main thread, wherever that is. While a
pool of worker processes lives, that is unsafe:

- inside a fork, a worker forked with the parent's handlers dies of the interrupt in its start-up
  (or holding a queue's lock);
- inside the pool's own machinery (a finaliser closing its pipes, the start of its threads, an
  at-fork hook) the interrupt is cut in half or printed as "Exception ignored" and dropped.

A run interrupted at such a moment hung, exited 1 with BrokenProcessPool, or finished and exited 0
(the suite's interrupted run hung in CI on 3 December; `simmodel run workers=2` ended badly on 2 of
about 200 Ctrl-Cs here, and a script that starts and stops pools in a loop on 18 of 20, 2 of them
hung: ``tests/integration/test_interrupt_race.py``). So while a pool lives (``simmodel.workers``) the stop signals are *deferred*: their
handlers only note them, the pool's waits look at the note between short sleeps (:func:`check`),
and the first noted signal is delivered to the handler it would have reached, where it raises
KeyboardInterrupt between two results. The forks themselves run with both signals blocked
(:func:`held`), so a worker starts with them blocked and decides in :func:`release_in_worker`:
it ignores SIGINT (Ctrl-C reaches the whole process group; the parent, which owns the results,
stops the pool) and ends on SIGTERM.

The CLI's handlers (:func:`install`) also note every stop signal in :data:`received`, so that an
interrupt Python dropped elsewhere (raised inside a ``__del__``) still stops a run before it
publishes results (``RunWriter.commit`` calls :func:`check`) and still ends it as interrupted.
The CLI also defers the stop signals while Hydra's own code runs and lets them through in each task
(:func:`live`): a SIGTERM that came while Hydra loaded a sweep's configuration between two jobs (6
December 2026, in the suite's sweep-interruption test) was raised inside omegaconf, which it left
half rebuilt, and Hydra printed the error that followed with its traceback. Not for a sweep whose
jobs another launcher runs (joblib, Ray, a cluster): there the CLI waits in the launcher's code,
and a signal must stop the wait.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

received: list[int] = []  # the stop signals the CLI's handlers took, in order of arrival
_noted: list[int] = []  # signals taken while deferred and not yet delivered
_saved: dict[int, object] = {}  # the handlers in force when the deferral began
_depth = 0  # deferrals open (pools alive, held blocks)


def _stop(signum: int, _frame) -> None:
    received.append(signum)
    raise KeyboardInterrupt  # the path Ctrl-C takes: every writer removes its temporary folder


def install() -> None:
    """Route SIGTERM, and SIGINT unless this process was started with it ignored, through a handler
    that notes the signal in :data:`received` and raises KeyboardInterrupt. SIGTERM would otherwise
    end Python without any clean-up; a SIGINT ignored at start (a job under nohup or in a shell's
    background) stays ignored, as the user asked."""
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)


def _note(signum: int, _frame) -> None:
    _noted.append(signum)


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def defer() -> bool:
    """Open a deferral: from now on the stop signals are only noted, until the matching
    :func:`undefer`. Deferrals nest. Only the main thread handles signals: elsewhere nothing changes
    and False is returned (then do not call undefer)."""
    global _depth
    if not _in_main_thread():
        return False
    if _depth == 0:
        for s in STOP_SIGNALS:
            h = signal.getsignal(s)
            # an ignored signal stays ignored; None is a handler set outside Python, left alone
            if h is not None and h != signal.SIG_IGN:
                _saved[s] = h
                signal.signal(s, _note)
    _depth += 1
    return True


def undefer() -> None:
    """Close a deferral. The last one puts the handlers back and delivers a signal still noted to
    its handler (which raises KeyboardInterrupt, or ends the process where SIGTERM had its default)."""
    global _depth
    _depth -= 1
    if _depth > 0:
        return
    for s, h in _saved.items():
        signal.signal(s, h)
    _saved.clear()
    pending = list(dict.fromkeys(_noted))
    _noted.clear()
    for s in pending:
        signal.raise_signal(s)  # its handler runs inside this call


def check() -> None:
    """A safe point: raise KeyboardInterrupt if a stop signal is waiting, or if one reached the CLI's
    handler earlier (its KeyboardInterrupt may have been dropped). A signal noted during a deferral
    is handed to the handler it would have reached (``_stop`` or Python's default for SIGINT, both
    of which raise); one whose handler was the default (SIGTERM outside the CLI) stays noted, to
    end the process when the deferral closes, after the pool is stopped."""
    if _noted:
        s = _noted[0]
        h = _saved.get(s)
        if callable(h):
            _noted.clear()
            h(s, None)  # raises, unless a handler of the caller's own chose otherwise
            return
        raise KeyboardInterrupt
    if received:
        raise KeyboardInterrupt


@contextlib.contextmanager
def held() -> Iterator[None]:
    """Defer the stop signals, and block them in this thread, for the block: a process forked inside
    inherits them blocked (see :func:`release_in_worker`); on leaving, a signal that came meanwhile is
    noted (inside an enclosing deferral) or delivered. Where signals cannot be blocked (Windows) only
    the deferral applies."""
    deferring = defer()
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS) if hasattr(signal, "pthread_sigmask") else None
    try:
        yield
    finally:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # Python runs the handlers inside this call
        if deferring:
            undefer()


@contextlib.contextmanager
def live() -> Iterator[None]:
    """Inside a deferral, let the stop signals raise again for the block: a signal noted before it is
    delivered on entering (KeyboardInterrupt at once), and one that comes during it raises where it
    comes, as without a deferral; nested deferrals inside (a worker pool) defer again. On leaving, the
    deferral is back as it was. The CLI defers while Hydra's own code runs (composing and loading a
    sweep's configuration between its jobs, where an interrupt raised inside omegaconf left it half
    rebuilt and Hydra printed the error it caused) and runs each task live, where every writer cleans
    up on KeyboardInterrupt. Outside a deferral, or off the main thread, nothing changes."""
    global _depth
    if _depth == 0 or not _in_main_thread():
        yield
        return
    outer = _depth
    _depth = 1
    try:
        undefer()  # the handlers back; a noted signal raises here
        yield
    finally:
        if _depth == 0:  # defer again as deep as before (undefer may have raised before closing it)
            for _ in range(outer):
                defer()


def release_in_worker() -> None:
    """First thing in a worker process forked inside :func:`held`: ignore SIGINT (the parent stops
    the pool), end on SIGTERM (sent by its pool, by the kernel when the parent dies, by a scheduler),
    then unblock both. A SIGINT that came during the start is dropped; a SIGTERM ends the worker
    here. The parent's deferral state, copied by the fork, is not the worker's."""
    global _depth
    received.clear()
    _noted.clear()
    _saved.clear()
    _depth = 0
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


__all__ = ["STOP_SIGNALS", "check", "defer", "held", "install", "live", "received", "release_in_worker", "undefer"]
