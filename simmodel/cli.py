"""Command line: ``simmodel TASK [hydra overrides]``. The only module that imports Hydra.

Each task is a Hydra app with its own primary config in conf/ (conf/run.yaml for ``run``). The
Hydra layer composes and types the config, then hands a plain dataclass to ``simmodel.tasks``.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from hydra.experimental.callback import Callback

from simmodel.config import PROJECT_ROOT, RunConfig
from simmodel.errors import ConfigError, SimmodelError

CONF_DIR = PROJECT_ROOT / "conf"
SCENARIO_DIR = PROJECT_ROOT / "scenarios"
TASKS = {"run": "Project the targets' probabilities for one scenario (conf/run.yaml).",
         "calibrate": "Estimate behavioural parameters from the history; write calibration/runs/<name>/ (conf/calibrate.yaml).",
         "backtest": "Calibrate up to cutoff years, project, score against statsmodels forecasters (conf/backtest.yaml).",
         "compare": "Compare calibration runs side by side: runs=[default,replay] (names or run folders; conf/compare.yaml).",
         "memo": "Write a what-if memo from results on disk: results=PATH lang=zh|en (conf/memo.yaml).",
         "plot": "One figure from results on disk: kind=fan|probability|comparison|cost|calibration|backtest results=PATH lang=en|zh (conf/plot.yaml).",
         "analyze": "Which levers matter: method=morris|sobol|prim, points evaluated as a sweep (conf/analyze.yaml).",
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


def scenario_question(slug: str, lang: str = "en", scenario_dir: Path = SCENARIO_DIR) -> str:
    """The question a scenario answers, from its file header: '# Question: ...' (English) or
    '# 问题: ...' (Chinese, for memos in Chinese)."""
    path = Path(scenario_dir) / f"{slug}.yaml"
    if not path.is_file():
        return ""
    key = "问题:" if lang == "zh" else "Question:"
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        text = line.lstrip("#").strip()
        if text.startswith(key):
            return text[len(key):].strip()
    return ""


# What a scenario file may set (docs/extending.md): values only, under these keys. Hydra would also
# accept hydra.*, defaults and _target_ nodes, interpolations and resolvers, through which a file
# could run code or read the environment; a scenario is data, so check_scenario_file refuses them.
SCENARIO_KEYS = ("levers", "uncertainties", "population", "params", "policy_history")


def _scenario_error(path: Path, line: int | None, text: str) -> SimmodelError:
    from simmodel.errors import ConfigError

    where = f"scenario file {path}" + (f", line {line}" if line else "")
    # one line whatever the file holds: a key or value with a newline or control character is escaped
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return ConfigError(f"{where}: {text}")


def _walk_yaml(node, path: Path, trail: str, visited: set[int], key_line: int | None = None) -> None:
    """Refuse what would make a scenario more than data: duplicate keys, tags, anchors, _target_, ${...}."""
    import yaml

    line = node.start_mark.line + 1
    if id(node) in visited:  # an alias: shared nodes could also nest into an exponential expansion
        raise _scenario_error(path, key_line or line,
                              f"anchors and aliases (&, *) are not allowed ({trail or 'the top'}); write the values out")
    visited.add(id(node))
    if node.tag.removeprefix("tag:yaml.org,2002:") not in ("str", "int", "float", "bool", "null", "map", "seq"):
        raise _scenario_error(path, line, f"YAML tag {node.tag!r} at {trail or 'the top'} is not allowed; "
                                          "a scenario holds plain values")
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                shown = repr(key.value) if isinstance(key, yaml.ScalarNode) else f"(a {key.id})"
                raise _scenario_error(path, key.start_mark.line + 1, f"key {shown} under {trail or 'the top'} is not a name")
            name = key.value
            here = f"{trail}.{name}" if trail else name
            kline = key.start_mark.line + 1
            if name in seen:
                raise _scenario_error(path, kline, f"{here} is given twice (first at line {seen[name]}); give each key once")
            seen[name] = kline
            if (name.startswith("_") and name.endswith("_")) or name in ("hydra", "defaults"):
                raise _scenario_error(path, kline, f"{here} is not allowed: a scenario sets values of "
                                                   f"{', '.join(SCENARIO_KEYS)}, never Hydra's {name!r}")
            _walk_yaml(value, path, here, visited, kline)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _walk_yaml(item, path, trail, visited)
    elif "${" in str(node.value):
        raise _scenario_error(path, line, f"{trail} = {node.value!r}: interpolations and resolvers (${{...}}) are not allowed "
                                          "in a scenario file; write the value itself")


def check_scenario_file(path: Path) -> None:
    """Check a scenario file as untrusted data before Hydra reads it: UTF-8, the package header,
    safe YAML without duplicate keys, tags, _target_, hydra/defaults nodes or interpolations; only
    known keys, each lever and uncertainty by its registry name (closest name suggested) with a value
    of its type and in its range (simmodel.levers.validate). Base-year and parameter override names
    are checked where their tables are read. Raises ConfigError naming the file, the line and the key."""
    import dataclasses
    import difflib
    import re as _re
    from dataclasses import fields

    import yaml

    from simmodel.levers import Levers, Uncertainties, policy_history, specs, validate

    path = Path(path)
    if not _re.match(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", path.stem):
        raise _scenario_error(path, None, f"the name {path.stem!r} is not allowed (it names the results folder): "
                                          "letters, digits, '_' and '-', at most 64 characters")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _scenario_error(path, raw[: exc.start].count(b"\n") + 1, "not UTF-8; save the file as UTF-8") from None
    if text.splitlines()[:1] != ["# @package _global_"]:
        raise _scenario_error(path, 1, "the first line must be '# @package _global_' (a scenario sets top-level keys)")

    class Loader(yaml.SafeLoader):
        """YAML 1.1 as OmegaConf reads it for Hydra: 1e5 is a number, not the string '1e5'."""

    Loader.add_implicit_resolver("tag:yaml.org,2002:float", _re.compile(r"""^(?:
         [-+]?[0-9]+(?:_[0-9]+)*\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?[0-9]+(?:_[0-9]+)*(?:[eE][-+]?[0-9]+)
        |\.[0-9]+(?:_[0-9]+)*(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", _re.X), list("-+0123456789."))
    try:
        node = yaml.compose(text, Loader=Loader)
    except yaml.reader.ReaderError as exc:
        raise _scenario_error(path, text[: exc.position].count("\n") + 1,
                              f"character {chr(exc.character)!r} is not allowed in YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise _scenario_error(path, mark.line + 1 if mark else None,
                              f"not valid YAML ({' '.join(str(getattr(exc, 'problem', None) or exc).split())})") from None
    if node is None:
        return  # only comments: the baseline
    if not isinstance(node, yaml.MappingNode):
        raise _scenario_error(path, node.start_mark.line + 1, f"expected keys ({', '.join(SCENARIO_KEYS)}), found a {node.id}")
    _walk_yaml(node, path, "", set())
    lines = {key.value: (key.start_mark.line + 1,
                         {k.value: k.start_mark.line + 1 for k, _ in value.value} if isinstance(value, yaml.MappingNode) else {})
             for key, value in node.value}
    data = yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass
    for top, value in data.items():
        line, sub = lines[top]
        if top not in SCENARIO_KEYS:
            close = difflib.get_close_matches(top, SCENARIO_KEYS, n=1)
            raise _scenario_error(path, line, f"unknown key {top!r}" + (f" (did you mean {close[0]}?)" if close else "")
                                  + f"; a scenario may set {', '.join(SCENARIO_KEYS)}")
        if not isinstance(value, dict):
            raise _scenario_error(path, line, f"{top} must be a mapping of names to values, not {type(value).__name__}")
        if top == "policy_history":
            try:
                policy_history(int(value.get("start_year", 2025)), value.get("levers") or {})
                unknown = set(value) - {"start_year", "levers"}
                if unknown:
                    raise ConfigError(f"policy_history.{sorted(unknown)[0]} is not a key; allowed: start_year, levers")
            except (SimmodelError, TypeError, ValueError, AttributeError) as exc:
                raise _scenario_error(path, line, str(exc)) from None
            continue
        if top in ("population", "params"):
            allowed = ("overrides", "base_year") if top == "population" else ("overrides",)
            extra = [k for k in value if k not in allowed]
            if extra:
                raise _scenario_error(path, sub[extra[0]],
                                      f"{top}.{extra[0]} is not allowed; a scenario may set {top}.{' and '.join(allowed)} only")
            by = value.get("base_year")
            if "base_year" in value and (isinstance(by, bool) or not isinstance(by, int) or not 2015 <= by <= 2030):
                raise _scenario_error(path, sub["base_year"], f"population.base_year = {by!r}: allowed a year with a "
                                                              f"base-year table (calibration/data/base_year*.csv)")
            over = value.get("overrides") or {}
            if not isinstance(over, dict):
                raise _scenario_error(path, sub["overrides"], f"{top}.overrides must be a mapping of names to numbers")
            for name, v in over.items():
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    raise _scenario_error(path, sub["overrides"], f"{top}.overrides.{name} = {v!r} is not a number")
            continue
        cls = Levers if top == "levers" else Uncertainties
        kind = "lever" if top == "levers" else "uncertainty"
        known = {f.name: f.type for f in fields(cls)}
        for name, v in value.items():
            if name not in known:
                close = difflib.get_close_matches(str(name), list(known), n=1)
                hint = f"did you mean {close[0]}?" if close else f"see docs/ODD.md for the {top} list"
                raise _scenario_error(path, sub.get(name), f"unknown {kind} {name!r}; {hint}")
            spec = specs(cls)[name]
            if spec.choices:
                if v not in spec.choices:
                    raise _scenario_error(path, sub[name], f"{kind} {name} = {v!r} is not allowed: choose one of "
                                                           f"{', '.join(spec.choices)} (draft article {spec.article})")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or (known[name] == "int" and not isinstance(v, int)):
                want = "a whole number" if known[name] == "int" else "a number"
                raise _scenario_error(path, sub[name], f"{kind} {name} = {v!r} is not {want}; allowed range "
                                                       f"[{spec.low:g}, {spec.high:g}] {spec.unit}")
            try:  # the range, with the unit and article, as on the command line
                validate(dataclasses.replace(cls(), **{name: v}) if top == "levers" else Levers(),
                         dataclasses.replace(cls(), **{name: v}) if top == "uncertainties" else None)
            except SimmodelError as exc:
                raise _scenario_error(path, sub[name], str(exc)) from None


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
    from simmodel.config import OutputConfig
    from simmodel.sweep import sweep_name

    given = [a for a in rest if a.startswith("hydra.sweep.dir=")]
    if given:
        path = Path(given[-1].split("=", 1)[1].strip("'\""))
        rest = [a for a in rest if not a.startswith("hydra.sweep.dir=")]
    else:
        roots = [a.split("=", 1)[1].strip("'\"") for a in rest if a.lstrip("+").startswith("output.root=")]
        path = Path(roots[-1] if roots else OutputConfig().root) / "run" / "multirun" / sweep_name(rest)
    return rest + [f"hydra.sweep.dir='{path.expanduser().absolute()}'"]


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
    app = hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name=task)(_APPS[task])
    received: list[int] = []

    def stop(signum, _frame):
        received.append(signum)
        raise KeyboardInterrupt  # the path Ctrl-C takes: every writer removes its temporary folder

    import signal

    signal.signal(signal.SIGTERM, stop)  # by default SIGTERM ends Python without any clean-up
    try:
        app()
    except KeyboardInterrupt:
        signum = received[0] if received else signal.SIGINT
        print(f"simmodel: interrupted ({signal.Signals(signum).name}); a results folder appears only when complete, so "
              "nothing half-written is left; re-run the same command to finish (a sweep skips its complete jobs)",
              file=sys.stderr)
        if _debug():
            traceback.print_exc()
        sys.exit(128 + signum)
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
