"""The space the analyses explore: every lever and uncertainty, each over a range of plausible values.

The registry's ranges (simmodel/levers.py) are what a config may hold, far wider than any policy
the province would choose. The analyses use a narrower range per factor, an assumption stated here
and overridable per factor (``simmodel analyze ranges.NAME=[low,high]``):

- a lever runs from its no_new_policy value to twice its baseline value where the two differ (the
  draft's change and as much again), and from half to twice its baseline value where the draft does
  not change it; always clipped to the registry's range;
- the fund evaluation regime is a switch: values below 0.5 mean the seed's whole-portfolio
  judgement, above it yearly profit;
- an uncertainty runs over its whole registry range (it is not chosen, so nothing narrows it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields

import numpy as np

from simmodel.errors import ConfigError
from simmodel.levers import Levers, Uncertainties, specs

RANGE_RULE = ("lever: [min(no_new_policy, baseline), 2 x baseline] where they differ, [baseline / 2, 2 x baseline] "
              "where they do not, clipped to the registry range; uncertainty: its registry range")


@dataclass(frozen=True)
class Factor:
    """One dimension of the analysis: a lever or an uncertainty, in its own unit."""

    name: str
    group: str  # "levers" or "uncertainties"
    low: float
    high: float
    kind: str  # "float", "int" or "switch" (an enum lever: 0 = first choice, 1 = second)
    unit: str
    article: int
    baseline: float
    reason: str  # where the range comes from


def _kind(cls, name: str) -> str:
    f = next(f for f in fields(cls) if f.name == name)
    t = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    return "int" if t == "int" else "float"


def factors(names: list[str] | None = None, ranges: dict[str, list[float]] | None = None) -> list[Factor]:
    """The factors of the analysis: all levers and uncertainties, or those named, in registry order."""
    ranges = dict(ranges or {})
    base_levers, base_unc = Levers(), Uncertainties()
    out = []
    for cls, group, base in ((Levers, "levers", base_levers), (Uncertainties, "uncertainties", base_unc)):
        for name, s in specs(cls).items():
            if names is not None and name not in names:
                continue
            value = getattr(base, name)
            if isinstance(value, enum.Enum):
                out.append(Factor(name, group, 0.0, 1.0, "switch", s.unit, s.article,
                                  float(list(type(value)).index(value)),
                                  f"switch: below 0.5 {s.choices[0]}, above {s.choices[1]}"))
                continue
            value = float(value)
            if group == "uncertainties":
                lo, hi, why = s.low, s.high, "the registry range (an uncertainty)"
            else:
                nnp = float(s.no_new_policy)
                if value <= 0 and name not in ranges:
                    # twice nothing is nothing: such a lever needs its range stated
                    raise ConfigError(f"{name}: its baseline is {value:g}, so the rule ({RANGE_RULE}) gives no range; "
                                      f"set ranges.{name}=[low,high]")
                lo = min(nnp, value) if nnp != value else value / 2
                hi = 2 * value
                lo, hi = max(lo, s.low), min(hi, s.high)
                why = "no_new_policy to 2 x baseline" if nnp != value else "baseline / 2 to 2 x baseline"
            if name in ranges:
                lo, hi = (float(x) for x in ranges.pop(name))
                why = "set in the config (ranges)"
                if not s.low <= lo < hi <= s.high:
                    raise ConfigError(f"ranges.{name} = [{lo:g}, {hi:g}]: need low < high inside the registry "
                                      f"range [{s.low:g}, {s.high:g}] {s.unit}")
            if not lo < hi:
                raise ConfigError(f"{name}: its analysis range [{lo:g}, {hi:g}] is empty; set ranges.{name}=[low,high]")
            out.append(Factor(name, group, lo, hi, _kind(cls, name), s.unit, s.article, value, why))
    unknown = sorted(set(names or []) - {f.name for f in out}) + sorted(ranges)
    if unknown:
        raise ConfigError(f"unknown lever or uncertainty {', '.join(unknown)}: see docs/ODD.md for the list")
    return out


def problem(fs: list[Factor]) -> dict:
    """The SALib problem: names and bounds in natural units."""
    return {"num_vars": len(fs), "names": [f.name for f in fs], "bounds": [[f.low, f.high] for f in fs]}


def values(fs: list[Factor], row) -> dict[str, dict[str, object]]:
    """One sample row -> {"levers": {...}, "uncertainties": {...}} with integers rounded and the
    switch mapped to its enum member."""
    out: dict[str, dict[str, object]] = {"levers": {}, "uncertainties": {}}
    for f, x in zip(fs, row):
        x = float(x)
        if f.kind == "int":
            v: object = int(round(x))
        elif f.kind == "switch":
            v = list(type(getattr(Levers(), f.name)))[1 if x >= 0.5 else 0]
        else:
            v = x
        out[f.group][f.name] = v
    return out


def effective(fs: list[Factor], x: np.ndarray) -> np.ndarray:
    """Sample rows (n x k, natural units) as the model runs them (see :func:`values`): integers
    rounded, a switch 0 below 0.5 and 1 from 0.5."""
    x = np.array(x, float, copy=True)
    for j, f in enumerate(fs):
        if f.kind == "int":
            x[:, j] = np.round(x[:, j])  # half to even, as Python's round in values()
        elif f.kind == "switch":
            x[:, j] = (x[:, j] >= 0.5).astype(float)
    return x
