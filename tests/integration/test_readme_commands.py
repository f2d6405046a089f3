"""Every command in README.md runs (issue 15): the guide cannot drift from the tool again.

Each command line of README.md's fenced code blocks that starts with ``simmodel `` (or
``.venv/bin/simmodel ``) runs through the real command line, in a temporary working directory, and
must exit 0. How a README line becomes the command that runs:

1. **Extraction.** The comment after `` # `` is dropped; the rest is split as a shell would
   (``shlex``), so a quoted override stays one argument. ``make ...`` lines are not simmodel
   commands (the README measures them itself).
2. **Small settings.** The task's ``SMALL`` overrides are appended; Hydra takes the last value of a
   key, so the command runs as written, only smaller (``replicates=20`` becomes 2). A command with
   ``--cfg`` or ``--help`` runs exactly as written. ``simmodel analyze`` gets three factors unless
   the command screens them (``screen=``: its factors come from the screen, as the README says).
3. **Placeholders** (``PLACEHOLDERS``; any other ``<...>`` or ``/path/to/`` fails the test):

   - ``results/run/multirun/<sweep>``: the newest complete sweep the README's commands made
     before this one (README order: the scenario sweep with ``baseline``);
   - ``results/run/<scenario>/<time>``: the newest complete run of that scenario; where the README
     made none (``subsidy_half``), ``simmodel run scenario=<scenario>`` at the small settings makes
     it first (the memo then compares it with the baseline run of ``simmodel run``: same seeds);
   - ``<the morris folder>``: the folder of the README's Morris analysis; ``bench-morris-<time>``:
     its name (memo finds names under ``results/analyze/``); ``<invert folder>``: the folder of the
     README's target inversion;
   - ``/path/to/other_province.csv``: a copy of three series of
     ``calibration/data/zhejiang_indicators.csv`` ("a file with only a few series works too");
   - ``/path/to/other_run``: the calibration run ``other`` the README's ``simmodel calibrate
     name=other`` wrote (into the temporary runs root, see 4).
4. **Calibration runs.** ``calibrate`` and ``backtest`` get ``runs_root=<tmp>/runs``; a ``run``
   with ``calibration=X``, X a run the README calibrates, gets ``calibration_root=<tmp>/runs``.
   The repository's ``calibration/runs`` is read (``compare runs=[default,replay]``, ``plot
   kind=calibration results=default``) but never written: the test checks it is unchanged.
5. **Order.** README order, in two chains side by side: calibration (``calibrate``, ``backtest``,
   ``compare`` and runs with ``calibration=``) and everything else; no command of one chain uses
   what the other writes.

A broken README command fails ``test_every_readme_command_runs`` with the command, its exit status
and the end of its error output. About 2.5 minutes on two cores.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.integration.test_cli import ROOT, run_cli

README = ROOT / "README.md"
TASKS = ("run", "calibrate", "backtest", "compare", "memo", "plot", "analyze", "explore")
FACTORS = "factors=[fund_life_years,land_quota_mu_per_year,world_demand_shift_pct]"
SMALL = {
    "run": ["population.scale=0.02", "replicates=2", "workers=1", "uncertainty.decomposition_pairs=0",
            "counterfactual.enabled=false", "output.plots=false", "output.progress=false"],
    # calibrate and backtest keep their progress output on, as a researcher sees it (a bar without a
    # total once broke calibrate while every test had turned it off)
    "calibrate": ["population.scale=0.02", "replicates=2", "max_evaluations=3", "workers=1"],
    "backtest": ["population.scale=0.02", "replicates=2", "max_evaluations=3", "forecast_replicates=2", "workers=1"],
    "analyze": ["population.scale=0.02", "replicates=2", "trajectories=2", "samples=10", "sobol_n=2", "batch=2",
                "generations=1", "polish_rounds=0", "emulator_points=8"],
    # a server: it runs until the page answers (see serve_once), on any free port
    "explore": ["port=0"],
    "memo": ["pdf=false"],  # the same memo whether or not this machine has a PDF converter
    "compare": [],
    "plot": [],
}
# Series of the thin indicator file that stands for /path/to/other_province.csv
THIN_SERIES = ("gdp_cny_100m", "digital_core_va_cny_100m", "high_tech_enterprises_count")


@dataclass
class Command:
    line: int  # in README.md
    text: str  # as the README writes it (without its comment)
    args: list[str] = field(default_factory=list)  # after the program name

    @property
    def task(self) -> str:
        return self.args[0]


def readme_commands() -> list[Command]:
    """Every simmodel command line of README.md's fenced code blocks, in order."""
    out, fenced = [], False
    for n, line in enumerate(README.read_text(encoding="utf-8").splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        text = re.split(r"\s+#\s", line.strip(), maxsplit=1)[0].strip()
        if fenced and text.split(" ", 1)[0] in ("simmodel", ".venv/bin/simmodel"):
            out.append(Command(n, text, shlex.split(text)[1:]))
    return out


# placeholder -> how to find what it stands for (see the module's docstring, rule 3)
PLACEHOLDERS = {
    "sweep": re.compile(r"results/run/multirun/<sweep>"),
    "run": re.compile(r"results/run/(?P<scenario>[\w-]+)/<time>"),
    "morris": re.compile(r"<the morris folder>"),
    "morris_name": re.compile(r"bench-morris-<time>"),
    "invert": re.compile(r"<invert folder>"),
    "province": re.compile(r"/path/to/other_province\.csv"),
    "other_run": re.compile(r"/path/to/other_run"),
}
UNRESOLVED = re.compile(r"<[^<>]*>|/path/to/")
SWEEP_LINE = re.compile(r"^sweep: .* -> (\S+) \(", re.M)


def _value(args: list[str], key: str) -> str | None:
    found = [a.split("=", 1)[1] for a in args if a.startswith(key + "=")]
    return found[-1] if found else None


def dependencies(cmds: list[Command]) -> list[set[int]]:
    """For each command, the earlier commands whose results it reads (indices into cmds)."""
    deps: list[set[int]] = []
    for i, c in enumerate(cmds):
        before = list(enumerate(cmds[:i]))
        d: set[int] = set()
        if "<sweep>" in c.text:  # the last sweep before it
            d |= {max(j for j, b in before if b.task == "run" and "-m" in b.args)}
        if PLACEHOLDERS["run"].search(c.text):  # runs made before it (a memo also reads the baseline run)
            d |= {j for j, b in before if b.task == "run" and "-m" not in b.args and "--cfg" not in b.args}
        for kind in ("morris", "invert"):
            if f"{kind}-<time>" in c.text or f"<the {kind} folder>" in c.text or f"<{kind} folder>" in c.text:
                d |= {max(j for j, b in before if b.task == "analyze" and _value(b.args, "method") == kind)}
        calibrated = {_value(b.args, "name"): j for j, b in before if b.task == "calibrate"}
        for key in ("calibration", "calibration_name"):
            if _value(c.args, key) in calibrated:
                d.add(calibrated[_value(c.args, key)])
        if "/path/to/other_run" in c.text:
            d.add(calibrated["other"])
        deps.append(d)
    return deps


class Workspace:
    """The temporary working directory, and what the README's commands wrote in it."""

    def __init__(self, cwd: Path, cmds: list[Command]) -> None:
        self.cwd = cwd
        self.runs = cwd / "runs"  # the calibration runs root of calibrate and backtest
        self.cmds = cmds
        self.calibrated = {_value(c.args, "name") for c in cmds if c.task == "calibrate"}
        self.sweeps: dict[int, Path] = {}  # command index -> the sweep folder it wrote
        self.log: list[tuple[str, float, int]] = []

    def newest(self, pattern: str, marker: str) -> Path | None:
        found = [p.parent for p in self.cwd.glob(f"{pattern}/{marker}")]
        return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None

    def analysis(self, method: str) -> Path | None:
        found = [p.parents[1] for p in (self.cwd / "results" / "analyze").glob("*/analysis/summary.json")
                 if json.loads(p.read_text(encoding="utf-8")).get("method") == method]
        return max(found, key=lambda p: p.stat().st_mtime_ns) if found else None

    def resolve(self, i: int, kind: str, m: re.Match) -> str:
        def need(path, what):
            if path is None:
                raise LookupError(f"{m.group(0)}: no {what} made by an earlier README command")
            return str(path)

        if kind == "sweep":
            j = max(j for j in self.sweeps if j < i) if any(j < i for j in self.sweeps) else None
            return need(self.sweeps.get(j), "sweep")
        if kind == "run":
            scenario = m.group("scenario")
            found = self.newest(f"results/run/{scenario}/*", "manifest.json")
            if found is None:  # rule 3: make the run the README command reads
                self.execute(["run", f"scenario={scenario}", *SMALL["run"]],
                             f"(for {m.group(0)}) simmodel run scenario={scenario}")
                found = self.newest(f"results/run/{scenario}/*", "manifest.json")
            return need(found, f"run of {scenario}")
        if kind in ("morris", "invert"):
            return need(self.analysis(kind), f"{kind} analysis")
        if kind == "morris_name":
            return Path(need(self.analysis("morris"), "morris analysis")).name
        if kind == "province":
            src = (ROOT / "calibration" / "data" / "zhejiang_indicators.csv").read_text(encoding="utf-8").splitlines()
            path = self.cwd / "other_province.csv"
            path.write_text("\n".join([src[0], *(r for r in src[1:] if r.split(",")[0] in THIN_SERIES)]) + "\n",
                            encoding="utf-8")
            return str(path)
        if kind == "other_run":
            return need(self.runs / "other" if (self.runs / "other" / "manifest.json").is_file() else None,
                        "calibration run 'other'")
        raise AssertionError(kind)

    def prepare(self, i: int) -> list[str]:
        """The command as it runs: placeholders resolved, small settings and the temporary roots appended."""
        cmd = self.cmds[i]
        text = cmd.text
        for kind, pattern in PLACEHOLDERS.items():
            text = pattern.sub(lambda m, k=kind: shlex.quote(self.resolve(i, k, m)), text)
        left = UNRESOLVED.search(text)
        if left:
            raise LookupError(f"no substitution rule for {left.group(0)!r} (add one to PLACEHOLDERS)")
        args = shlex.split(text)[1:]
        if any(a.startswith(("--cfg", "--help", "-h")) for a in args):
            return args
        extra = list(SMALL[cmd.task])
        if cmd.task == "analyze" and not any(a.startswith("screen=") for a in args):
            extra.append(FACTORS)
        if cmd.task in ("calibrate", "backtest"):
            extra.append(f"runs_root={self.runs}")
        if cmd.task == "run" and _value(args, "calibration") in self.calibrated:
            extra.append(f"calibration_root={self.runs}")
        return args + extra

    def execute(self, args: list[str], label: str) -> subprocess.CompletedProcess:
        t0 = time.perf_counter()
        proc = serve_once(args, self.cwd) if args[:1] == ["explore"] and "--cfg" not in args else run_cli(args, self.cwd, timeout=600)
        self.log.append((label, time.perf_counter() - t0, proc.returncode))
        return proc

    def run_all(self, workers: int = 2) -> list[str]:
        """Every command, README order, each once the commands it reads from are done, `workers` at
        a time; returns the failures."""
        deps = dependencies(self.cmds)
        state = ["waiting"] * len(self.cmds)  # -> running -> ok / failed
        failures: list[str] = []
        lock = threading.Condition()

        def next_ready() -> int | None:
            with lock:
                while True:
                    for i, st in enumerate(state):
                        if st == "waiting" and all(state[j] in ("ok", "failed") for j in deps[i]):
                            state[i] = "running"
                            return i
                    if "waiting" not in state:
                        return None
                    lock.wait()

        def worker() -> None:
            while (i := next_ready()) is not None:
                c, ok = self.cmds[i], False
                where = f"README.md line {c.line}: {c.text}"
                try:
                    failed = [self.cmds[j].line for j in deps[i] if state[j] == "failed"]
                    if failed:
                        raise LookupError(f"not run: it reads the results of line(s) {failed}, which failed")
                    args = self.prepare(i)
                    proc = self.execute(args, f"line {c.line}: {c.text}")
                    if proc.returncode != 0:
                        failures.append(f"{where}\n  ran: simmodel {shlex.join(args)}\n"
                                        f"  exit {proc.returncode}: {proc.stderr[-1500:]}")
                    else:
                        ok = True
                        found = SWEEP_LINE.findall(proc.stderr) if c.task == "run" and "-m" in args else []
                        if found:
                            self.sweeps[i] = Path(found[-1])
                except LookupError as exc:
                    failures.append(f"{where}\n  {exc}")
                except Exception as exc:  # noqa: BLE001 - a timeout or a bug here: report it with the command
                    failures.append(f"{where}\n  {type(exc).__name__}: {exc}")
                with lock:
                    state[i] = "ok" if ok else "failed"
                    lock.notify_all()

        threads = [threading.Thread(target=worker) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return failures


def serve_once(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """`simmodel explore` runs until stopped: it passes when it prints its address and the page
    answers there; it is then stopped. Exits early with the server's own status and message."""
    import os
    import signal
    import urllib.request

    from tests.integration.test_cli import SIMMODEL

    proc = subprocess.Popen([SIMMODEL, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    out, url, deadline = [], None, time.monotonic() + timeout
    try:
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            out.append(line)
            m = re.search(r"(http://\S+?/)\s", line)
            url = m.group(1) if m else None
        while url and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return subprocess.CompletedProcess(args, 0, "".join(out), "")
            except OSError:
                time.sleep(0.5)
        proc.poll()
        err = proc.stderr.read() if proc.returncode is not None else "the page did not answer"
        return subprocess.CompletedProcess(args, proc.returncode or 1, "".join(out), err)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def test_the_readme_commands_are_found_and_every_placeholder_has_a_rule():
    cmds = readme_commands()
    assert len(cmds) >= 25, [c.text for c in cmds]
    assert {c.task for c in cmds} == set(TASKS), "every task has a command in the README"
    for c in cmds:
        rest = c.text
        for pattern in PLACEHOLDERS.values():
            rest = pattern.sub("", rest)
        assert not UNRESOLVED.search(rest), f"README.md line {c.line}: {c.text}: a placeholder without a rule"
    # every placeholder's source is an earlier command (max() of nothing raises); a memo's sweep has a baseline job
    for c, d in zip(cmds, dependencies(cmds)):
        if "<sweep>" in c.text:
            assert any("-m" in cmds[j].args and "baseline" in cmds[j].text for j in d), c.text


def test_every_readme_command_runs(tmp_path):
    before = _digest(ROOT / "calibration" / "runs")
    cmds = readme_commands()
    ws = Workspace(tmp_path, cmds)
    started = time.perf_counter()
    failures = ws.run_all()
    timing = "\n".join(f"{s:6.1f} s  exit {rc}  {label}" for label, s, rc in ws.log)
    print(f"\n{len(ws.log)} commands in {time.perf_counter() - started:.0f} s:\n{timing}")
    assert not failures, "\n\n".join(failures) + "\n\n" + timing
    assert _digest(ROOT / "calibration" / "runs") == before, "a README command wrote into calibration/runs"
    assert (tmp_path / "fig_t2.pdf").read_bytes()[:5] == b"%PDF-"
