"""The explorer's model runs: ordinary `simmodel run` processes, shared, reused and capped.

Each run is the command the page prints, started as a child process with an argument list (no
shell), writing an ordinary run folder under ``<output_root>/explore/``. Doing it in a process of
its own keeps one browser session's run from disturbing another's (each has its own interpreter,
random streams and Hydra state) and lets a run that is no longer wanted be stopped cleanly (SIGTERM:
the run removes its half-written folder, simmodel/cli.py). All runs share that results root, so the
paired no_new_policy run each one needs is computed once and reused (simmodel.tasks.counterfactual).

A run is identified by its override list: a complete folder whose manifest records the same list and
the same code version is reused; two sessions asking for the same run while it is going share it.
At most ``max_runs`` go at once; the rest wait their turn.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from simmodel.kernels import COMPILING_NOTICE
from simmodel.results import MANIFEST, code_version

# the stage a run shows while its model's loops compile (a fresh checkout: 35 s on two cores here, 50 on one)
COMPILING_STAGE = "compiling the model's loops, once (under a minute)"
# tqdm's progress line: "<label>: <pct>%|<bar>| <n>/<total> [...]"
_TQDM = re.compile(r"(?P<label>[^\r\n|]*?):\s+\d+%\|[^|]*\|\s*(?P<n>\d+)/(?P<total>\d+)")
_ERROR = re.compile(r"^simmodel: error: (.*)$")


def explore_root(output_root: str | Path) -> Path:
    return (Path(output_root) / "explore").absolute()


def find_run(root: Path, overrides: list[str]) -> Path | None:
    """A complete run folder made by these overrides with this code, or None."""
    code = code_version()
    best = None
    for manifest in Path(root).glob("run/*/*/" + MANIFEST):
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            continue
        if m.get("overrides") == overrides and m.get("code") == code:
            best = manifest.parent if best is None or manifest.parent.name > best.name else best
    return best


@dataclass(eq=False)  # a run is itself, whatever its progress: pages follow it by identity
class RunJob:
    """One model run as the page follows it."""

    overrides: list[str]
    root: Path
    status: str = "queued"  # queued, running, done, failed, cancelled
    stage: str = ""  # the progress bar's label: which part of the run is going
    done: int = 0
    total: int = 0
    folder: Path | None = None
    error: str = ""
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    holders: int = 0  # browser sessions that still want it
    _proc: subprocess.Popen | None = None

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def running(self) -> bool:
        return self.status in ("queued", "running")


class Runner:
    """The runs of one explorer server, over all its browser sessions."""

    def __init__(self, root: Path, max_runs: int = 2, python: str = sys.executable):
        self.root = Path(root)
        self.python = python
        self._slots = threading.BoundedSemaphore(max_runs)
        self._lock = threading.Lock()
        self._jobs: dict[tuple[str, ...], RunJob] = {}

    def command_overrides(self, overrides: list[str]) -> list[str]:
        """The overrides the child process gets (and its manifest records): the page's, then where
        and how this server runs them (which do not change a result)."""
        return [*overrides, f"output.root={self.root}", "output.progress=true", "workers=0"]

    def submit(self, overrides: list[str]) -> RunJob:
        """The run of these overrides: one already done (reused), one going (shared) or a new one."""
        key = tuple(overrides)
        with self._lock:
            job = self._jobs.get(key)
            if job is not None and (job.running or job.status == "done"):
                if job.status != "done" or (job.folder and (job.folder / MANIFEST).is_file()):
                    job.holders += 1
                    return job
            folder = find_run(self.root, self.command_overrides(list(overrides)))
            job = RunJob(list(overrides), self.root, holders=1)
            if folder is not None:
                job.status, job.folder, job.finished = "done", folder, time.monotonic()
                job.stage = "reused"
            else:
                threading.Thread(target=self._run, args=(job,), daemon=True, name="explore-run").start()
            self._jobs[key] = job
            return job

    def release(self, job: RunJob | None) -> None:
        """A session no longer wants this run; the last one to let go of a running run stops it."""
        if job is None:
            return
        with self._lock:
            job.holders = max(0, job.holders - 1)
            stop = job.holders == 0 and job.running
            if stop:
                job.status = "cancelled"
        if stop and job._proc is not None and job._proc.poll() is None:
            job._proc.send_signal(signal.SIGTERM)

    def _run(self, job: RunJob) -> None:
        with self._slots:
            if job.status == "cancelled":
                return
            job.status, job.stage = "running", "starting"
            cmd = [self.python, "-m", "simmodel", "run", *self.command_overrides(job.overrides)]
            if shutil.which("nice"):
                # below the page's server: a lever's estimate must not wait behind a model run for the CPU
                cmd = ["nice", "-n", "10", *cmd]
            env = dict(os.environ, PYTHONUNBUFFERED="1")
            try:
                job._proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                             start_new_session=False)
            except OSError as exc:
                job.status, job.error = "failed", f"could not start the model: {exc}"
                return
            out_lines: list[str] = []
            reader = threading.Thread(target=lambda: out_lines.extend(job._proc.stdout.read().decode("utf-8", "replace")
                                                                      .splitlines()), daemon=True)
            reader.start()
            errors: list[str] = []  # the run's own one-line messages ("simmodel: error: ...")
            other: list[str] = []  # anything else it wrote that is not a progress bar
            buf = b""
            while True:
                chunk = job._proc.stderr.read1(4096)
                if not chunk:
                    break
                buf += chunk
                *parts, buf = re.split(rb"[\r\n]", buf)
                for raw in parts:
                    line = raw.decode("utf-8", "replace").strip()
                    m = _TQDM.search(line)
                    if m:
                        job.stage, job.done, job.total = m["label"].strip(), int(m["n"]), int(m["total"])
                    elif line == COMPILING_NOTICE:
                        job.stage = COMPILING_STAGE
                    elif _ERROR.match(line):
                        errors.append(_ERROR.match(line).group(1))
                    elif line:
                        other.append(line)
            rc = job._proc.wait()
            reader.join()
            job._proc.stdout.close()
            job._proc.stderr.close()
            job.finished = time.monotonic()
            if job.status == "cancelled":
                return
            result = [ln.split("results:", 1)[1].strip() for ln in out_lines if ln.startswith("results:")]
            if rc == 0 and result:
                job.folder, job.status = Path(result[-1]), "done"
            else:
                job.error = (errors[-1] if errors else other[-1] if other else
                             f"the model run ended with exit status {rc}")
                job.status = "failed"
