"""Worker processes that die with the process that started them.

A run killed outright (SIGKILL from an out-of-memory killer or a scheduler) cannot shut its pools
down: without help, each worker sleeps on in its empty task queue, holding its copy of the model's
inputs. Every pool of simmodel is made by :func:`process_pool`, whose workers first call
:func:`die_with_parent`:

- on Linux, ``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel sends the worker SIGTERM when its parent
  dies (checked right after against ``os.getppid()``: the parent may have died before the call);
- everywhere, a daemon thread that looks every second whether ``os.getppid()`` is still the parent
  and ends the worker when it is not (the fallback where prctl is missing, and a second line of
  defence where a signal handler of the worker's code would swallow SIGTERM).

Linux sends the death signal when the *thread* that forked the worker ends, not only the process: a
pool must be used and shut down by the thread that started it, as every pool here is (the workers
start on the first submit, from the submitting thread).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 1.0
ORPHAN_EXIT = 128 + signal.SIGTERM  # the status of a worker that found its parent gone


def _set_pdeathsig(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False where unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _watch(parent: int, interval: float) -> None:
    while True:
        time.sleep(interval)
        if os.getppid() != parent:
            os._exit(ORPHAN_EXIT)


def die_with_parent(parent: int | None = None, *, interval: float = POLL_SECONDS) -> bool:
    """Make this process end when ``parent`` (default: the current parent) dies. Returns whether the
    kernel's death signal is armed (Linux); the polling thread is started in any case."""
    parent = os.getppid() if parent is None else parent
    try:
        # a forked worker inherits its parent's handlers: the CLI's turns SIGTERM into KeyboardInterrupt
        # (to clean up its results folder), which a worker would catch as a failed task and go on
        # waiting for work. A worker told to end (by the kernel here, or by its pool) ends.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    except ValueError:  # not the main thread: leave the handlers alone
        pass
    armed = _set_pdeathsig(signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before prctl took effect: no signal will come
        os._exit(ORPHAN_EXIT)
    threading.Thread(target=_watch, args=(parent, interval), name="simmodel-parent-watch", daemon=True).start()
    return armed


def _start_worker(parent: int, initializer: Callable | None, initargs: tuple) -> None:
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def default_context():
    """fork where there is one (the workers inherit the loaded inputs and modules), else spawn."""
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


def process_pool(max_workers: int, *, initializer: Callable | None = None, initargs: tuple = (),
                 mp_context=None) -> ProcessPoolExecutor:
    """A ProcessPoolExecutor whose workers exit when this process dies, however it dies; then
    ``initializer(*initargs)`` as usual."""
    return ProcessPoolExecutor(max_workers=max_workers, mp_context=mp_context or default_context(),
                               initializer=_start_worker, initargs=(os.getpid(), initializer, tuple(initargs)))


__all__ = ["die_with_parent", "process_pool", "default_context", "ORPHAN_EXIT", "POLL_SECONDS"]
