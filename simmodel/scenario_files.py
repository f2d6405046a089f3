"""Scenario files (scenarios/<slug>.yaml): their question, and the check that treats them as data.

A scenario is read by Hydra (conf/scenario -> ../scenarios) but written by users, and by the
explorer's "Save as scenario": it is checked here, as untrusted data, before Hydra sees it. The
command line (simmodel/cli.py) and the explorer (simmodel/explorer/state.py) both use this module.
"""

from __future__ import annotations

from pathlib import Path

from simmodel.config import PROJECT_ROOT
from simmodel.errors import ConfigError, SimmodelError

SCENARIO_DIR = PROJECT_ROOT / "scenarios"


def scenario_question(slug: str, lang: str = "en", scenario_dir: Path = SCENARIO_DIR) -> str:
    """The question a scenario answers, from its file header: '# Question: ...' (English) or
    '# 问题: ...' (Chinese, for memos in Chinese)."""
    from simmodel.report.labels import scenario_header

    return scenario_header(slug, "问题:" if lang == "zh" else "Question:", scenario_dir)


# What a scenario file may set (docs/extending.md): values only, under these keys. Hydra would also
# accept hydra.*, defaults and _target_ nodes, interpolations and resolvers, through which a file
# could run code or read the environment; a scenario is data, so check_scenario_file refuses them.
SCENARIO_KEYS = ("levers", "uncertainties", "population", "params", "policy_history")


def _scenario_error(path: Path, line: int | None, text: str) -> SimmodelError:
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
