"""The allocator settings of a simulating process (simmodel.model.allocator): in force on glibc unless
the environment says otherwise, they keep freed memory mapped, a bad choice is refused by name, and
the model's results do not depend on them. Each case runs in a fresh process: the settings are
process-wide and applied once."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

glibc = pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                           reason="the settings exist on glibc only")


def fresh(code: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES", "SIMMODEL_MALLOC"))}
    return subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True)


APPLIED = "from simmodel.model.allocator import keep_freed_memory as k; print(k(), k())"


@glibc
def test_in_force_by_default_and_not_where_the_environment_chose():
    assert fresh(APPLIED).stdout.split() == ["True", "True"]
    assert fresh(APPLIED, SIMMODEL_MALLOC="keep").stdout.split() == ["True", "True"]
    assert fresh(APPLIED, SIMMODEL_MALLOC="system").stdout.split() == ["False", "False"]
    assert fresh(APPLIED, MALLOC_TRIM_THRESHOLD_="131072").stdout.split() == ["False", "False"]
    assert fresh(APPLIED, GLIBC_TUNABLES="glibc.malloc.trim_threshold=131072").stdout.split() == ["False", "False"]


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
