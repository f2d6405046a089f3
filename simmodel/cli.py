"""Command line: ``simmodel TASK [hydra overrides]``. The only module that imports Hydra.

Each task is a Hydra app with its own primary config in conf/ (conf/run.yaml for ``run``). The
Hydra layer composes and types the config, then hands a plain dataclass to ``simmodel.tasks``.
"""

from __future__ import annotations

import re
import sys
import traceback
from pathlib import Path

from simmodel.config import PROJECT_ROOT, RunConfig
from simmodel.errors import SimmodelError

CONF_DIR = PROJECT_ROOT / "conf"
SCENARIO_DIR = PROJECT_ROOT / "scenarios"
TASKS = {"run": "Project the targets' probabilities for one scenario (conf/run.yaml).",
         "calibrate": "Estimate behavioural parameters from the history; write calibration/runs/<name>/ (conf/calibrate.yaml).",
         "backtest": "Calibrate up to cutoff years, project, score against statsmodels forecasters (conf/backtest.yaml).",
         "compare": "Compare calibration runs side by side: runs=[default,other] (conf/compare.yaml)."}
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


def scenario_question(slug: str) -> str:
    """The question a scenario answers, from its file header ('# Question: ...')."""
    path = SCENARIO_DIR / f"{slug}.yaml"
    if not path.is_file():
        return ""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    text = " ".join(lines)
    m = re.search(r"Question:\s*(.*?)(?:\s+Command:|$)", text)
    return m.group(1).strip() if m else ""


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
        head, _, name = key.partition(".")
        if head in groups and name and name not in groups[head]:
            close = difflib.get_close_matches(name, groups[head], n=1)
            hint = f"; did you mean {head}.{close[0]}?" if close else f"; see docs/ODD.md for the {head} list"
            raise SimmodelError(f"unknown {'lever' if head == 'levers' else 'uncertainty'} {name!r}{hint}")


def _fail(exc: BaseException) -> None:
    print(f"simmodel: error: {exc}", file=sys.stderr)
    if "--debug" in sys.argv or "SIMMODEL_DEBUG" in __import__("os").environ:
        traceback.print_exc()
    sys.exit(2)


def _run_app(cfg) -> None:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    from simmodel import tasks

    hc = HydraConfig.get()
    try:
        try:
            rc: RunConfig = OmegaConf.to_object(cfg)
        except OmegaConfBaseException as exc:
            raise SimmodelError(str(exc).splitlines()[0]) from None
        rc.scenario_slug = hc.runtime.choices.get("scenario") or "custom"
        rc.scenario_question = scenario_question(rc.scenario_slug)
        out_dir = Path(hc.runtime.output_dir) if hc.mode == RunMode.MULTIRUN else None
        command = " ".join(["simmodel", "run"] + list(hc.overrides.task))
        tasks.run(rc, out_dir=out_dir, command=command)
    except SimmodelError as exc:
        if hc.mode == RunMode.MULTIRUN:
            d = Path(hc.runtime.output_dir)
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()  # Hydra made the job folder; leave nothing half-made
        _fail(exc)


def _plain_task_app(task: str):
    """A Hydra app for a task whose function takes the typed config (calibrate, backtest, compare)."""

    def app(cfg) -> None:
        from hydra.core.hydra_config import HydraConfig
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        from simmodel import tasks

        try:
            try:
                typed = OmegaConf.to_object(cfg)
            except OmegaConfBaseException as exc:
                raise SimmodelError(str(exc).splitlines()[0]) from None
            getattr(tasks, task)(typed, command=" ".join(["simmodel", task] + list(HydraConfig.get().overrides.task)))
        except SimmodelError as exc:
            _fail(exc)

    app.__name__ = f"{task}_app"
    return app


_APPS = {"run": _run_app, "calibrate": _plain_task_app("calibrate"), "backtest": _plain_task_app("backtest"),
         "compare": _plain_task_app("compare")}


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE)
        sys.exit(0 if argv else 2)
    task, rest = argv[0], argv[1:]
    if task not in TASKS:
        print(f"simmodel: error: unknown task {task!r}; available: {', '.join(TASKS)}", file=sys.stderr)
        sys.exit(2)
    rest = [a for a in rest if a != "--debug"]
    if not CONF_DIR.is_dir():
        print(f"simmodel: error: config folder {CONF_DIR} not found; install simmodel from its checkout (pip install -e .)",
              file=sys.stderr)
        sys.exit(2)
    # dict-valued keys take new entries; spare users Hydra's '+' for them
    rest = ["+" + a if a.startswith(("population.overrides.", "params.overrides.")) else a for a in rest]
    try:
        precheck_overrides(rest)
    except SimmodelError as exc:
        _fail(exc)
    import hydra

    register_configs()
    sys.argv = [f"simmodel {task}"] + rest
    app = hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=task)(_APPS[task])
    app()


if __name__ == "__main__":
    main()
