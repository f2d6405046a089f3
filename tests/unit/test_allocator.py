"""The memory settings of a simulating process (simmodel.model.allocator): in force on Linux unless the
environment says otherwise, glibc keeps freed memory mapped and numpy asks for no huge pages, a bad
choice is refused by name, and the model's results do not depend on them. Each case runs in a fresh
process: the settings are process-wide and applied once."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="the settings exist on glibc only")


def fresh(code: str, **env: str) -> subprocess.CompletedProcess:
    chosen = ("MALLOC_", "GLIBC_TUNABLES", "SIMMODEL_MALLOC", "NUMPY_MADVISE_HUGEPAGE")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(chosen)}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True, check=False)


# what keep_freed_memory reports, twice (applied once), and numpy's huge-page advice after it
APPLIED = """
from numpy._core.multiarray import _set_madvise_hugepage as advice
from simmodel.model.allocator import keep_freed_memory as k
first, second = k(), k()
print(*first, *second, advice(True))
"""


@glibc
def test_in_force_by_default_and_not_where_the_environment_chose():
    assert fresh(APPLIED).stdout.split() == ["True", "True", "True", "True", "False"]
    assert fresh(APPLIED, SIMMODEL_MALLOC="keep").stdout.split() == ["True", "True", "True", "True", "False"]
    # numpy's default is to advise huge pages: left as it was
    assert fresh(APPLIED, SIMMODEL_MALLOC="system").stdout.split() == ["False", "False", "False", "False", "True"]
    assert fresh(APPLIED, MALLOC_TRIM_THRESHOLD_="131072").stdout.split() == ["False", "True", "False", "True", "False"]
    tunables = fresh(APPLIED, GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072").stdout.split()
    assert tunables == ["False", "True", "False", "True", "False"]
    # the environment's own choice for numpy (here: advise) is numpy's to apply
    assert fresh(APPLIED, NUMPY_MADVISE_HUGEPAGE="1").stdout.split() == ["True", "False", "True", "False", "True"]


def test_a_bad_choice_is_refused_by_name():
    r = fresh(APPLIED, SIMMODEL_MALLOC="fast")
    assert r.returncode != 0 and "SIMMODEL_MALLOC='fast'" in r.stderr and "'keep'" in r.stderr and "'system'" in r.stderr


# 24 MB of pages touched, freed, then the resident set read again (kB, VmRSS)
FREED = """
import numpy as np
from simmodel.model.allocator import keep_freed_memory
keep_freed_memory()
rss = lambda: next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS:"))
a = np.ones(3 * 1024 * 1024)
before = rss()
del a
print(before - rss())
"""


@glibc
def test_freed_arrays_stay_mapped_for_the_next_one():
    """With the settings, a freed 24 MB array's pages stay with the process; with glibc's own, they
    go back to the system at once (the array was mapped for itself)."""
    kept = int(fresh(FREED).stdout)
    returned = int(fresh(FREED, SIMMODEL_MALLOC="system").stdout)
    assert returned > 20_000 and kept < 1_000, (kept, returned)


# a 64 MB array touched, then the process's anonymous memory in huge pages (kB)
HUGE = """
import numpy as np
from simmodel.model.allocator import keep_freed_memory
keep_freed_memory()
a = np.ones(8 * 1024 * 1024)
print(next(int(l.split()[1]) for l in open("/proc/self/smaps_rollup") if l.startswith("AnonHugePages:")))
"""


def _thp_on_request() -> bool:
    try:
        return "[madvise]" in Path("/sys/kernel/mm/transparent_hugepage/enabled").read_text()
    except OSError:
        return False


@pytest.mark.skipif(not _thp_on_request(), reason="the kernel gives huge pages only where asked on this test's premise")
def test_numpy_asks_for_no_huge_pages():
    """Where the kernel gives huge pages only on request, numpy's request for a large array gets them;
    with the settings it makes none."""
    assert int(fresh(HUGE, SIMMODEL_MALLOC="system").stdout) > 0
    assert int(fresh(HUGE).stdout) == 0


RUN = """
import hashlib
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs
from simmodel.model import SimModel
cfg = RunConfig()
inputs, _ = load_inputs(cfg)
m = SimModel(inputs, cfg.levers, cfg.uncertainties, scale=0.05, seed=11)
d = hashlib.sha256(m.run().to_csv().encode())
for name in ("revenue", "log_productivity", "equity", "land_mu", "alive", "stage"):
    d.update(getattr(m.firms, name).tobytes())
print(d.hexdigest())
"""


def test_results_do_not_depend_on_the_allocator():
    kept, system = fresh(RUN), fresh(RUN, SIMMODEL_MALLOC="system")
    assert kept.returncode == 0 and system.returncode == 0, kept.stderr + system.stderr
    assert kept.stdout == system.stdout and len(kept.stdout.strip()) == 64
