"""A run killed outright (SIGKILL, as an out-of-memory killer or a scheduler does) leaves no worker
behind: every pool's workers exit when their parent dies (simmodel.workers)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simmodel import workers

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")


def _stat(pid: int) -> tuple[int, str] | None:
    """(parent pid, state) of a process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), fields[0]


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            st = _stat(int(d.name))
            if st and st[0] == pid:
                out.append(int(d.name))
    return out


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def _alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] not in ("Z", "X")  # a zombie has exited; only its parent's wait is missing


def _kill_and_check(cmd: list[str], cwd: Path, n_workers: int, timeout_start: float = 120.0) -> None:
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    kids: list[int] = []
    try:
        deadline = time.monotonic() + timeout_start
        while time.monotonic() < deadline and proc.poll() is None:
            # the pool's workers are forks: the parent's command line (not, say, a git it runs)
            kids = [k for k in _children(proc.pid) if _alive(k) and _cmdline(k) == _cmdline(proc.pid)]
            if len(kids) >= n_workers:
                break
            time.sleep(0.05)
        assert proc.poll() is None, f"the command ended before its workers started: {proc.stderr.read().decode()[-2000:]}"
        assert len(kids) >= n_workers, f"workers never appeared (children: {kids})"
        time.sleep(0.3)  # let them run their initializer and take work
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and any(_alive(k) for k in kids):
            time.sleep(0.05)
        left = [k for k in kids if _alive(k)]
        assert not left, f"workers {left} outlived their killed parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
        for k in kids:  # without the fix: the orphans are ours to clean up
            if _alive(k):
                os.kill(k, signal.SIGKILL)


def test_workers_of_a_killed_run_exit(tmp_path):
    root = Path(__file__).resolve().parents[2]
    cmd = [str(Path(sys.executable).with_name("simmodel")), "run", "workers=2", "replicates=400", "population.scale=0.02",
           "assumption_sensitivity.enabled=false", "counterfactual.enabled=false", "uncertainty.decomposition_pairs=0",
           "output.progress=false", f"output.root={tmp_path}"]
    if not Path(cmd[0]).exists():
        cmd[:1] = [sys.executable, "-m", "simmodel"]
    _kill_and_check(cmd, root, 2)
    assert not any(tmp_path.rglob("manifest.json"))  # killed before the end: no folder claims to be complete


_POOL_SCRIPT = """
import sys, time
from simmodel.workers import process_pool
pool = process_pool(2)
list(pool.map(time.sleep, [0, 0]))  # both workers started
print("ready", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("pdeathsig", [True, False], ids=["prctl", "polling"])
def test_pool_workers_exit_when_the_parent_is_killed(tmp_path, monkeypatch, pdeathsig):
    """The helper alone, with the kernel's death signal and with only the polling thread."""
    script = _POOL_SCRIPT if pdeathsig else (
        "import simmodel.workers as w\nw._set_pdeathsig = lambda sig: False\n" + _POOL_SCRIPT)
    _kill_and_check([sys.executable, "-c", script], tmp_path, 2, timeout_start=60)


def test_a_worker_whose_parent_is_already_gone_exits(tmp_path):
    """die_with_parent given a parent that is not (or no longer) the parent exits at once."""
    code = f"import os, simmodel.workers as w; w.die_with_parent({os.getpid()} + 10_000_000); print('survived')"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == workers.ORPHAN_EXIT and "survived" not in r.stdout


def test_a_worker_ends_on_sigterm_whatever_its_parent_handles(tmp_path):
    """The CLI turns SIGTERM into KeyboardInterrupt for its own clean-up; a forked worker inherits that
    handler, but must end on SIGTERM (the kernel's death signal, or its pool terminating it)."""
    code = """
import os, signal, time
from simmodel.workers import process_pool
signal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt))  # as simmodel.cli does
with process_pool(1) as pool:
    pid = pool.submit(os.getpid).result()
    pool.submit(time.sleep, 30)  # busy: a KeyboardInterrupt would only fail this task
    time.sleep(0.5)
    os.kill(pid, signal.SIGTERM)
    for _ in range(60):
        try:
            os.waitpid(pid, os.WNOHANG)
            os.kill(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            print("ended")
            break
        time.sleep(0.05)
    else:
        print("alive")
    os._exit(0)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "ended", r.stdout + r.stderr[-2000:]
