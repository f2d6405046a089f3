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

While a pool lives, Ctrl-C and SIGTERM are deferred to safe points, its forks run with them blocked,
and its workers ignore SIGINT: ``simmodel.interrupts`` says why (an interrupt at the wrong moment
hung runs).
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

from simmodel.interrupts import check, defer, held, release_in_worker, undefer

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
POLL_SECONDS = 1.0
WAIT_SECONDS = 0.1  # how often a pool's map looks for a stop signal while it waits
ORPHAN_EXIT = 128 + signal.SIGTERM  # the status of a worker that found its parent gone


_LIBC: list = []  # found once, before the forks: find_library runs `ldconfig -p`, tens of ms a worker


def _libc():
    """The C library (ctypes), or None where it cannot be loaded."""
    if not _LIBC:
        try:
            _LIBC.append(ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True))
        except OSError:
            _LIBC.append(None)
    return _LIBC[0]


def _set_pdeathsig(sig: int) -> bool:
    """Ask Linux to send ``sig`` to this process when its parent dies; False where unavailable."""
    if not sys.platform.startswith("linux") or _libc() is None:
        return False
    try:
        return _libc().prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except AttributeError:
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
    release_in_worker()
    die_with_parent(parent)
    if initializer is not None:
        initializer(*initargs)


def default_context():
    """fork where there is one (the workers inherit the loaded inputs and modules), else spawn."""
    return mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")


class _Pool(ProcessPoolExecutor):
    """Stop signals are deferred from the first submit to the end of shutdown, the forks run with
    them blocked, and ``map`` waits in short sleeps that look for them (simmodel.interrupts)."""

    _deferring = False

    def submit(self, fn, /, *args, **kwargs):
        if not self._deferring:
            self._deferring = defer()
        with held():  # the first submit forks the workers (with fork) and starts the pool's threads
            return super().submit(fn, *args, **kwargs)

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        """The results of fn over the arguments, in order; raises KeyboardInterrupt between two waits
        of WAIT_SECONDS once a stop signal came. timeout and chunksize are not supported."""
        if timeout is not None or chunksize != 1:
            raise ValueError("process_pool().map takes neither timeout nor chunksize")
        futures = [self.submit(fn, *args) for args in zip(*iterables)]

        def results():
            try:
                for fut in futures:
                    while True:
                        try:
                            yield fut.result(timeout=WAIT_SECONDS)
                            break
                        except TimeoutError:
                            check()
                    check()
            finally:
                for fut in futures:
                    fut.cancel()

        return results()

    def shutdown(self, wait=True, *, cancel_futures=False):
        try:
            super().shutdown(wait=wait, cancel_futures=cancel_futures)
        finally:
            if self._deferring:
                self._deferring = False
                undefer()  # a stop signal noted and not yet raised is raised here

    def terminate_workers(self) -> None:
        """End the workers now (SIGTERM) and shut the pool down, dropping the tasks not yet done: for a
        pool whose results are thrown away (the workers ignore Ctrl-C, so they would otherwise run
        their tasks to the end). Python 3.14 has this method; the pool then finds itself broken and
        cleans up its queues and threads."""
        for proc in list((getattr(self, "_processes", None) or {}).values()):
            proc.terminate()
        self.shutdown(wait=True, cancel_futures=True)

    def __exit__(self, exc_type, exc_val, exc_tb):
        if exc_type is not None:  # an interrupt or a failed task: no result of the pool will be used
            self.terminate_workers()
            return False
        return super().__exit__(exc_type, exc_val, exc_tb)


def process_pool(max_workers: int, *, initializer: Callable | None = None, initargs: tuple = (),
                 mp_context=None) -> ProcessPoolExecutor:
    """A ProcessPoolExecutor whose workers exit when this process dies, however it dies, and ignore
    Ctrl-C (this process stops the pool); then ``initializer(*initargs)`` as usual."""
    if sys.platform.startswith("linux"):
        _libc()
    return _Pool(max_workers=max_workers, mp_context=mp_context or default_context(),
                 initializer=_start_worker, initargs=(os.getpid(), initializer, tuple(initargs)))


__all__ = ["die_with_parent", "process_pool", "default_context", "ORPHAN_EXIT", "POLL_SECONDS"]
