"""Command line: ``simmodel TASK [hydra overrides]``. The only module that imports Hydra.

Each task is a Hydra app with its own primary config in conf/ (conf/run.yaml for ``run``). The
Hydra layer composes and types the config, then hands a plain dataclass to ``simmodel.tasks``.
"""

from __future__ import annotations

import functools
import sys
import traceback
from pathlib import Path

from hydra.experimental.callback import Callback

from simmodel.config import PROJECT_ROOT, RunConfig
from simmodel.errors import SimmodelError
from simmodel.scenario_files import SCENARIO_DIR, SCENARIO_KEYS, check_scenario_file, scenario_question  # noqa: F401 - public here too

CONF_DIR = PROJECT_ROOT / "conf"
TASKS = {"run": "Project the targets' probabilities for one scenario (conf/run.yaml).",
         "calibrate": "Estimate behavioural parameters from the history; write calibration/runs/<name>/ (conf/calibrate.yaml).",
         "backtest": "Calibrate up to cutoff years, project, score against statsmodels forecasters (conf/backtest.yaml).",
         "compare": "Compare calibration runs side by side: runs=[default,replay] (names or run folders; conf/compare.yaml).",
         "memo": "Write a what-if memo from results on disk: results=PATH lang=zh|en (conf/memo.yaml).",
         "plot": "One figure from results on disk: kind=fan|probability|comparison|cost|calibration|backtest results=PATH lang=en|zh (conf/plot.yaml).",
         "analyze": "Which levers matter: method=morris|sobol|prim|invert|emulator, points evaluated as a sweep (conf/analyze.yaml).",
         "explore": "The what-if explorer in the browser: levers as controls, an instant estimate, then the model (conf/explore.yaml)."}
_USAGE = "usage: simmodel TASK [hydra overrides]   (simmodel TASK --help for a task's options)\ntasks:\n" + "\n".join(
    f"  {name:<10} {text}" for name, text in TASKS.items())


def register_configs() -> None:
    from hydra.core.config_store import ConfigStore

    from simmodel.config import CalibrateConfig

    cs = ConfigStore.instance()
    cs.store(name="run_schema", node=RunConfig)
    cs.store(name="calibrate_schema", node=CalibrateConfig)
    from simmodel.config import BacktestConfig, CompareConfig

    cs.store(name="backtest_schema", node=BacktestConfig)
    cs.store(name="compare_schema", node=CompareConfig)
    from simmodel.config import MemoConfig, PlotConfig

    cs.store(name="memo_schema", node=MemoConfig)
    cs.store(name="plot_schema", node=PlotConfig)
    from simmodel.config import AnalyzeConfig

    cs.store(name="analyze_schema", node=AnalyzeConfig)
    from simmodel.explorer.config import ExploreConfig

    cs.store(name="explore_schema", node=ExploreConfig)


def precheck_overrides(overrides: list[str]) -> None:
    """Catch the commonest mistakes before Hydra composes: an unknown scenario, an unknown lever or
    uncertainty (with the closest name). Raises SimmodelError."""
    import difflib
    import re as _re
    from dataclasses import fields

    from simmodel.levers import Levers, Uncertainties

    available = sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))
    groups = {"levers": [f.name for f in fields(Levers)], "uncertainties": [f.name for f in fields(Uncertainties)]}
    for item in overrides:
        m = _re.match(r"^[+~]?([\w.]+)=(.*)$", item)
        if not m:
            continue
        key, value = m.groups()
        if key == "scenario":
            for slug in _re.sub(r"^\w+\((.*)\)$", r"\1", value).split(","):
                slug = slug.strip()
                if slug and slug not in available:
                    raise SimmodelError(f"unknown scenario {slug!r}: no scenarios/{slug}.yaml; available: {', '.join(available)}")
                if slug:
                    check_scenario_file(SCENARIO_DIR / f"{slug}.yaml")
        head, _, name = key.partition(".")
        if head in groups and name and name not in groups[head]:
            close = difflib.get_close_matches(name, groups[head], n=1)
            hint = f"; did you mean {head}.{close[0]}?" if close else f"; see docs/ODD.md for the {head} list"
            raise SimmodelError(f"unknown {'lever' if head == 'levers' else 'uncertainty'} {name!r}{hint}")


def _schema_keys(schema, prefix: str = "") -> tuple[list[str], list[str]]:
    """Every settable key of a task's schema as a dotted path: (leaves, open). A leaf is a field that
    holds a value; an open key is a mapping whose own keys are free (population.overrides, ranges)."""
    import dataclasses
    import typing

    leaves: list[str] = []
    open_: list[str] = []
    hints = typing.get_type_hints(schema)
    for f in dataclasses.fields(schema):
        path = prefix + f.name
        kind = hints.get(f.name)
        if dataclasses.is_dataclass(kind):
            sub_leaves, sub_open = _schema_keys(kind, path + ".")
            leaves += sub_leaves
            open_ += sub_open
        elif typing.get_origin(kind) is dict:
            open_.append(path)
        else:
            leaves.append(path)
    return leaves, open_


# Options that moved (issue 15: one name per thing): the old name -> the new one, suggested first
MOVED = {"scale": "population.scale", "base_year": "population.base_year", "memo.lang": "lang", "memo.pdf": "pdf",
         "memo.analyses": "analyses"}


def suggest_key(key: str, leaves: list[str], open_: list[str] = ()) -> str | None:
    """The valid key closest to an unknown one: where it moved (MOVED: `scale` -> `population.scale`,
    `memo.lang` -> `lang`), else a key with the same last name (`population.seed` ->
    `seed`), the closest path or last name by spelling (`populaton.scale`, `lnag`) or a longer or
    shorter form of it (`language`); None when nothing is close."""
    import difflib

    keys = list(leaves) + list(open_)
    if MOVED.get(key) in keys:
        return MOVED[key]
    last = key.rsplit(".", 1)[-1]
    by_last: dict[str, list[str]] = {}
    for k in keys:
        by_last.setdefault(k.rsplit(".", 1)[-1], []).append(k)
    found = list(by_last.get(last, []))
    if not found:
        found = difflib.get_close_matches(key, keys, n=3, cutoff=0.75)
        found += [k for name in difflib.get_close_matches(last, list(by_last), n=3, cutoff=0.75) for k in by_last[name]]
        # a longer or shorter form of a name (language -> lang)
        found += [k for name, ks in by_last.items() if min(len(name), len(last)) >= 4
                  and (name.startswith(last) or last.startswith(name)) for k in ks]
    # the closest whole path first; among equals the shallower (replicates before assumption_sensitivity.replicates)
    found.sort(key=lambda k: (-difflib.SequenceMatcher(None, key, k).ratio(), k.count("."), k))
    return found[0] if found else None


def _known_key(key: str, leaves: list[str], open_: list[str]) -> bool:
    """Whether a dotted key is in the schema: a leaf, a section above leaves, or under an open mapping."""
    return (key in leaves or any(k.startswith(key + ".") for k in leaves + open_)
            or any(key == o or key.startswith(o + ".") for o in open_))


def _explore_schema():
    from simmodel.explorer.config import ExploreConfig

    return ExploreConfig


def precheck_types(task: str, overrides: list[str]) -> None:
    """Type-check each plain override against the task's schema before Hydra composes, so that a
    wrong type or an unknown key is one line naming the key and what it takes (Hydra's own report is
    several lines and exits 1). An unknown key, top-level or nested, gets the closest valid names
    (`simmodel calibrate scale=0.05`: did you mean population.scale?). Sweeps (a,b / range()) get the
    key check only; config groups and hydra.* are left to Hydra."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from simmodel import config

    schema = {"run": RunConfig, "calibrate": config.CalibrateConfig, "backtest": config.BacktestConfig,
              "compare": config.CompareConfig, "memo": config.MemoConfig, "plot": config.PlotConfig,
              "analyze": config.AnalyzeConfig, "explore": _explore_schema()}[task]
    groups = {p.name for p in CONF_DIR.iterdir() if p.is_dir()}
    plain = [a for a in overrides if "=" in a and not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(plain)
    except Exception as exc:  # noqa: BLE001 - Hydra's grammar error: say it in one line
        raise SimmodelError(f"cannot read the overrides: {' '.join(str(exc).split())}") from None
    cfg = OmegaConf.structured(schema)
    leaves, open_ = _schema_keys(schema)
    for o in parsed:
        key = o.key_or_group
        if key.split(".")[0].split("/")[0] in groups:
            continue
        if not o.is_delete() and not _known_key(key, leaves, open_):
            close = suggest_key(key, leaves, open_)
            hint = f"; did you mean {close}?" if close else ""
            raise SimmodelError(f"unknown option {key!r} for simmodel {task}{hint} (simmodel {task} --cfg job lists every option)")
        if o.is_sweep_override() or o.is_delete():
            continue
        try:
            OmegaConf.update(cfg, key, o.value(), merge=True, force_add=o.is_add())
        except OmegaConfBaseException as exc:
            raise SimmodelError(f"{o.input_line}: {str(exc).splitlines()[0]}") from None


def _debug() -> bool:
    # main() takes --debug out of the arguments before Hydra sees them and notes it here
    return _DEBUG or "--debug" in sys.argv or "SIMMODEL_DEBUG" in __import__("os").environ


def _interrupted(job_dirs: tuple[Path, ...] = ()) -> None:
    """Report an interrupt and exit 128 + the signal. job_dirs: the folders a sweep's jobs write in,
    where jobs whose processes the launcher killed outright (joblib ends its workers with SIGKILL,
    which no handler of theirs can catch) left their temporary folders: cleared here."""
    import signal

    from simmodel.interrupts import received
    from simmodel.results import clear_stale_tmp

    signum = received[0] if received else signal.SIGINT
    for folder in job_dirs:
        clear_stale_tmp(folder, wait_seconds=3.0)
    print(f"simmodel: interrupted ({signal.Signals(signum).name}); a results folder appears only when complete, so "
          "nothing half-written is left; re-run the same command to finish (a sweep skips its complete jobs)",
          file=sys.stderr)
    if _debug():
        traceback.print_exc()
    sys.exit(128 + signum)


def _fail(exc: BaseException) -> None:
    print(f"simmodel: error: {exc}", file=sys.stderr)
    if _debug():
        traceback.print_exc()
    sys.exit(2)


def _run_app(cfg):
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from simmodel import sweep, tasks

    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    overrides = list(hc.overrides.task)
    command = " ".join(["simmodel", "run"] + overrides)
    try:
        try:
            rc: RunConfig = OmegaConf.to_object(cfg)
        except OmegaConfBaseException as exc:
            raise SimmodelError(str(exc).splitlines()[0]) from None
        rc.scenario_slug = hc.runtime.choices.get("scenario") or "custom"
        rc.scenario_question = scenario_question(rc.scenario_slug)
        rc.scenario_question_zh = scenario_question(rc.scenario_slug, "zh")
        if not multirun:
            tasks.run(rc, command=command, overrides=overrides)
            return None
    except SimmodelError as exc:
        if not multirun:
            _fail(exc)
        rc = None
        error = exc
    # A sweep job: its failure is recorded in its folder and the sweep goes on (SweepCallback
    # reports it at the end). A parallel launcher already fills the cores with jobs: one process
    # per job unless the user chose otherwise.
    if rc is not None and rc.workers == 0 and not str(hc.launcher.get("_target_", "")).endswith("BasicLauncher"):
        rc.workers = int(hc.launcher.get("cpus_per_task") or 1)  # SLURM: the cores the job was given
    plan = sweep.read_plan(Path(hc.sweep.dir))
    num = int(hc.job.num)
    label = next((j["label"] for j in (plan or {}).get("jobs", []) if j["num"] == num), rc.scenario_slug if rc else "")
    job_dir = Path(hc.runtime.output_dir)
    if rc is None:  # the config itself was refused: record it like any failing job
        def refuse(*_a, **_k):
            raise error
        return sweep.run_job(None, job_dir, num=num, overrides=overrides, command=command, label=label, run=refuse)
    return sweep.run_job(rc, job_dir, num=num, overrides=overrides, command=command, label=label)


class SweepCallback(Callback):
    """Hydra callback of ``simmodel run -m``: records the sweep's plan when it starts, prints how
    many jobs are done after each job, and writes the aggregate table and figure when it ends.

    Configured in conf/run.yaml (hydra.callbacks.sweep), so every launcher gets it: on_multirun_*
    run in the driver, on_job_end wherever the job ran (the count is read from the folders)."""

    def __init__(self, reference: str = "baseline") -> None:
        self.reference = reference

    def on_multirun_start(self, config, **kwargs) -> None:
        from hydra.core.override_parser.overrides_parser import OverridesParser
        from omegaconf import OmegaConf

        from simmodel import sweep

        sweep_dir = Path(str(config.hydra.sweep.dir))
        task_overrides = list(OmegaConf.to_container(config.hydra.overrides.task))
        jobs = _expand_sweep(OverridesParser.create(), task_overrides, config)
        try:
            if jobs is not None:
                sweep.write_plan(sweep_dir, jobs, " ".join(["simmodel", "run", "-m"] + task_overrides))
        except SimmodelError as exc:
            _fail(exc)  # SystemExit passes through Hydra's callback guard: stop before any job runs
        n = f"{len(jobs)} jobs" if jobs is not None else "jobs"
        print(f"sweep: {n} -> {sweep_dir} (re-run the same command to resume; complete jobs are skipped)",
              file=sys.stderr)

    def on_job_end(self, config, job_return, **kwargs) -> None:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        from simmodel import sweep

        if HydraConfig.get().mode != RunMode.MULTIRUN:
            return  # a single run: no sweep to report on
        print(sweep.progress_line(Path(str(config.hydra.sweep.dir))), file=sys.stderr, flush=True)

    def on_multirun_end(self, config, **kwargs) -> None:
        from simmodel import sweep

        sweep_dir = Path(str(config.hydra.sweep.dir))
        global _SWEEP_OUTCOME
        try:
            path, jobs = sweep.aggregate(sweep_dir, reference=self.reference, plots=bool(config.output.plots))
        except Exception as exc:  # noqa: BLE001 - Hydra would turn it into a warning; say it and fail
            _SWEEP_OUTCOME = {"error": f"the sweep's aggregate could not be written: {exc}"}
            return
        bad = [j for j in jobs if j.status != "complete"]
        _SWEEP_OUTCOME = {"aggregate": str(path), "jobs": len(jobs),
                          "failed": [f"job {j.num} ({j.label}): {j.status}" + (f": {j.error}" if j.error else "") for j in bad]}
        md = (path / "aggregate.md").read_text(encoding="utf-8")
        done = len(jobs) - len(bad)
        print(sweep.markdown_section(md, "Change in P(met) from the reference" if done > 1
                                     else "Probability that the target is met"))
        print(f"sweep: aggregate of {done} complete job(s): {path / 'aggregate.md'}", file=sys.stderr)


_SWEEP_OUTCOME: dict | None = None
_DEBUG = False
# `simmodel analyze hydra/launcher=joblib ...`: the launcher settings go on to the sweep that
# evaluates the analysis's points
_LAUNCHER_ARGS: list[str] = []


def _expand_sweep(parser, overrides: list[str], config) -> list[list[str]] | None:
    """The job list Hydra's basic sweeper will make of these overrides (None for another sweeper)."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper

    if not str(config.hydra.sweeper.get("_target_", "")).endswith("BasicSweeper"):
        return None
    batches = BasicSweeper.split_arguments(parser.parse_overrides(overrides), None)
    return [list(job) for batch in batches for job in batch]


def _plain_task_app(task: str):
    """A Hydra app for a task whose function takes the typed config (calibrate, backtest, compare)."""

    def app(cfg) -> None:
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        try:
            try:
                typed = OmegaConf.to_object(cfg)
            except OmegaConfBaseException as exc:
                raise SimmodelError(str(exc).splitlines()[0]) from None
            if task == "explore":  # a server: it takes this process's place and does not return
                from simmodel.explorer.server import serve

                return serve(typed)
            from simmodel import tasks

            extra = {"launcher_args": _LAUNCHER_ARGS} if task == "analyze" else {}
            getattr(tasks, task)(typed, command=" ".join(["simmodel", task] + list(HydraConfig.get().overrides.task)),
                                 **extra)
        except SimmodelError as exc:
            _fail(exc)

    app.__name__ = f"{task}_app"
    return app


_APPS = {"run": _run_app, "explore": _plain_task_app("explore"), "calibrate": _plain_task_app("calibrate"), "backtest": _plain_task_app("backtest"),
         "compare": _plain_task_app("compare"), "memo": _plain_task_app("memo"), "plot": _plain_task_app("plot"),
         "analyze": _plain_task_app("analyze")}


def _absolute_sweep_dir(rest: list[str]) -> list[str]:
    """Give a sweep its folder as an absolute path: jobs may run in another working directory (a
    worker of an existing Ray cluster does) or on another machine that shares the file system.
    Unless hydra.sweep.dir is given, the folder is named from the overrides, not the clock, so that
    the same command finds its folder again and resumes."""
    from simmodel.sweep import sweep_name

    given = [a for a in rest if a.startswith("hydra.sweep.dir=")]
    if given:
        path = Path(given[-1].split("=", 1)[1].strip("'\""))
        rest = [a for a in rest if not a.startswith("hydra.sweep.dir=")]
    else:
        path = _output_root(rest) / "run" / "multirun" / sweep_name(rest)
    return rest + [f"hydra.sweep.dir='{path.expanduser().absolute()}'"]


def _output_root(rest: list[str]) -> Path:
    """The results root a run's overrides choose (output.root), else the default."""
    from simmodel.config import OutputConfig

    roots = [a.split("=", 1)[1].strip("'\"") for a in rest if a.lstrip("+").startswith("output.root=")]
    return Path(roots[-1] if roots else OutputConfig().root)


def _waits_in_launcher(rest: list[str]) -> bool:
    """Whether the overrides ``rest`` make a sweep whose jobs another launcher than Hydra's basic one
    runs (joblib, Ray, a cluster), this process waiting in the launcher's code."""
    if not ("-m" in rest or "--multirun" in rest):
        return False
    return any(a.lstrip("+").split("=", 1)[0] == "hydra/launcher" and a.split("=", 1)[1] != "basic" for a in rest if "=" in a)


def _live_task(fn):
    """The task function ``fn`` with the stop signals live while it runs (interrupts.live), inside the
    deferral the CLI keeps while Hydra's own code runs."""
    from simmodel import interrupts

    @functools.wraps(fn)
    def task(cfg):
        with interrupts.live():
            return fn(cfg)

    return task


def main(argv: list[str] | None = None) -> None:
    import atexit
    import gc

    # Registered first, so run last, just before the interpreter's teardown: frozen objects are left
    # out of its final garbage collection, which for the modules a run loads takes about 0.3 s.
    atexit.register(gc.freeze)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE)
        sys.exit(0 if argv else 2)
    task, rest = argv[0], argv[1:]
    if task not in TASKS:
        print(f"simmodel: error: unknown task {task!r}; available: {', '.join(TASKS)}", file=sys.stderr)
        sys.exit(2)
    global _DEBUG
    _DEBUG = "--debug" in rest
    rest = [a for a in rest if a != "--debug"]
    if not CONF_DIR.is_dir():
        print(f"simmodel: error: config folder {CONF_DIR} not found; install simmodel from its checkout (pip install -e .)",
              file=sys.stderr)
        sys.exit(2)
    # dict-valued keys take new entries; spare users Hydra's '+' for them
    rest = ["+" + a if a.startswith(("population.overrides.", "params.overrides.", "ranges.")) else a for a in rest]
    try:
        precheck_overrides(rest)
        precheck_types(task, rest)
        if task == "run" and not any(a.lstrip("+~").startswith("scenario=") for a in rest):
            check_scenario_file(SCENARIO_DIR / "baseline.yaml")  # the default of conf/run.yaml
    except SimmodelError as exc:
        _fail(exc)
    import hydra

    if task == "run" and ("-m" in rest or "--multirun" in rest):
        rest = _absolute_sweep_dir(rest)
    if task == "analyze":
        _LAUNCHER_ARGS[:] = [a for a in rest if a.startswith(("hydra/launcher=", "hydra.launcher.", "+hydra.launcher."))]
    register_configs()
    sys.argv = [f"simmodel {task}"] + rest
    from simmodel import interrupts

    app = hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=task)(_live_task(_APPS[task]))

    # Ctrl-C and SIGTERM take the path of KeyboardInterrupt, on which every writer removes its
    # temporary folder; each is also noted, so that one Python dropped (raised inside a finaliser)
    # still ends the run as interrupted, and stops it before it publishes results (RunWriter.commit)
    interrupts.install()
    job_dirs: tuple[Path, ...] = ()  # where a sweep's jobs write: what its killed jobs left is cleared on an interrupt
    if task == "run" and ("-m" in rest or "--multirun" in rest):
        from simmodel.run_task import paired_root

        job_dirs = (next(Path(a.split("=", 1)[1].strip("'")) for a in reversed(rest) if a.startswith("hydra.sweep.dir=")),
                    paired_root(_output_root(rest)).absolute())
    # Hydra's own code (composing the configuration, loading a sweep's between its jobs) runs with the
    # stop signals deferred, each task live (_live_task): a signal that comes between two jobs stops
    # the sweep at the next one's start, or here, after the last. Not where a launcher runs the jobs
    # elsewhere (joblib, Ray, a cluster) and this process waits in its code: a signal must stop that wait
    deferring = not _waits_in_launcher(rest) and interrupts.defer()
    try:
        try:
            app()
        finally:
            if deferring:
                interrupts.undefer()  # a signal noted meanwhile raises KeyboardInterrupt here
    except KeyboardInterrupt:
        _interrupted(job_dirs)
    except SystemExit:
        if interrupts.received:  # an error that followed a dropped interrupt (a worker pool it broke)
            _interrupted(job_dirs)
        raise
    if interrupts.received:
        _interrupted(job_dirs)
    if _SWEEP_OUTCOME is not None:
        if "error" in _SWEEP_OUTCOME:
            _fail(SimmodelError(_SWEEP_OUTCOME["error"]))
        if _SWEEP_OUTCOME["failed"]:
            print(f"simmodel: error: {len(_SWEEP_OUTCOME['failed'])} of {_SWEEP_OUTCOME['jobs']} sweep jobs have no results:\n  "
                  + "\n  ".join(_SWEEP_OUTCOME["failed"]) + "\nre-run the same command to retry them (complete jobs are skipped)",
                  file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
