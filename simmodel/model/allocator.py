"""The memory of a simulating process: keep freed memory for the next array instead of handing it back
to the system, and back arrays with ordinary pages rather than huge ones.

Each stage allocates temporaries the size of a firm array (1.7 MB each at 1:1, 14 MB at 1 000 000
firms) and frees them a moment later. Two defaults make each new temporary cost the kernel work:

- glibc's malloc serves blocks that large by mmap, or from the top of its heap and trims the heap
  back when the free space at the top passes a threshold; either way the next temporary touches
  fresh pages, which the kernel must fault in and zero. Here blocks below 32 MB (glibc's largest
  threshold) come from the heap and the heap's freed top stays mapped (``mallopt``), so temporaries
  reuse warm pages.
- numpy asks the kernel for transparent huge pages for every array of 4 MB or more
  (``madvise``), and each such request costs a 2 MB page's zeroing or the kernel's work to merge
  small pages into huge ones, far more than the TLB misses it saves for arrays that live a moment.
  Here numpy's advice is turned off (``numpy._core.multiarray._set_madvise_hugepage``, what the
  environment variable ``NUMPY_MADVISE_HUGEPAGE=0`` does at numpy's import).

Measured in alternation (fresh processes, the same seeds, rounds of each in turn; 3 December 2026,
this 2-core machine, whose kernel gives huge pages where asked), both settings against neither
(``SIMMODEL_MALLOC=system``): 1 000 000 firms 6.12 against 7.03 s a replicate (-13 %, faster in 4 of
4 rounds), 300 000 firms 1.73 against 1.83 s (-5.6 %, 4 of 4 rounds of 2), a 1:1 replicate 0.635
against 0.666 s (-4.8 %, 5 of 6 rounds of 6), 10 000 firms no gain (0.115 against 0.113 s, faster in
2 of 8 rounds of 15: its arrays, about 100 kB, are below the size glibc maps and the size numpy
advises). Apart, with glibc's settings in both, numpy's advice off made 1 000 000 firms 6.00 against
7.00 s and a 1:1 replicate no different (its arrays are below 4 MB). The arithmetic is the same, so
every result is byte-identical. The cost: a process keeps what it freed, up to the heap's peak,
until it exits; a 1 000 000-firm replicate peaked at 608 MB against 602 MB without the settings (640
MB with glibc's alone, numpy still asking for huge pages).

Freed memory is kept only once it is freed: a model's agents and Mesa's machinery hold the model in
reference cycles, which Python frees when its cycle collector runs, so ``SimModel.close`` (or leaving
``with SimModel(...)``) hands its firm arrays back at once; the ensemble's runner, calibration and the
benchmarks close each model. Measured in alternation (6 December 2026, 00331f5 against 6fe3ccc, which
did not close; rounds of seven replicates in one process): a whole 1:1 replicate 0.164 against 0.188
s (6 of 6 rounds); without closing, the code's own changes of that stop made the simulation 129.7
against 136.3 ms, about a quarter of the gain.
Only Linux has these settings (glibc's only with glibc); elsewhere nothing is changed. A process whose
environment already chose (``MALLOC_*_`` or ``GLIBC_TUNABLES`` for glibc, ``NUMPY_MADVISE_HUGEPAGE``
for numpy) keeps its choice, and ``SIMMODEL_MALLOC=system`` leaves both alone (``SIMMODEL_MALLOC=keep``,
or unset: these settings).
"""

from __future__ import annotations

import ctypes
import os
import platform

from simmodel.errors import ConfigError

# mallopt's parameter numbers (glibc malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
SETTINGS = {
    # blocks below this come from the heap, not mmap: glibc's largest allowed value on 64-bit systems
    _M_MMAP_THRESHOLD: 32 * 1024 * 1024,
    # free space at the top of the heap is handed back only above this (a 1 000 000-firm replicate's
    # temporaries stay below it)
    _M_TRIM_THRESHOLD: 1024 * 1024 * 1024,
}
_GLIBC_CHOSEN = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "GLIBC_TUNABLES")
_NUMPY_CHOSEN = "NUMPY_MADVISE_HUGEPAGE"
_done: tuple[bool, bool] | None = None


def _glibc() -> bool:
    if any(k in os.environ for k in _GLIBC_CHOSEN) or platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success; a value glibc refuses leaves its default in place
    return all(mallopt(param, value) == 1 for param, value in SETTINGS.items())


def _numpy() -> bool:
    if _NUMPY_CHOSEN in os.environ:
        return False
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # a numpy without the switch: its default stays
        return False
    _set_madvise_hugepage(False)
    return True


def keep_freed_memory() -> tuple[bool, bool]:
    """Apply the settings to this process once; returns which are in force: (glibc's malloc keeps
    freed memory, numpy asks for no huge pages). Both False off Linux, with SIMMODEL_MALLOC=system,
    and each where the environment made its own choice."""
    global _done
    if _done is not None:
        return _done
    choice = os.environ.get("SIMMODEL_MALLOC", "keep")
    if choice not in ("keep", "system"):
        raise ConfigError(f"SIMMODEL_MALLOC={choice!r}: allowed are 'keep' (the default: keep freed memory "
                          "for the next array, no huge pages) and 'system' (glibc's and numpy's own settings)")
    _done = (False, False)
    if choice == "keep" and platform.system() == "Linux":
        _done = (_glibc(), _numpy())
    return _done
