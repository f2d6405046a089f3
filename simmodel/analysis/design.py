"""A design on disk: the sample of lever and uncertainty values an analysis evaluates.

``<analysis>/design/`` holds ``design.parquet`` (one row per point, one column per factor, in
natural units), ``space.json`` (the factors, their ranges and where each range comes from) and a
manifest written last. A run with ``design=<folder> design_row=i`` takes its levers and
uncertainties from row i, so an analysis evaluates its points as an ordinary sweep
(``simmodel run -m design=... design_row=range(0,N)``) through any Hydra launcher, with the
sweep's resume and failure handling.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from simmodel.analysis.space import Factor, values
from simmodel.errors import ConfigError
from simmodel.results import MANIFEST, RunWriter, code_version, write_json

DESIGN = "design.parquet"
SPACE = "space.json"


def write_design(folder: Path, factors: list[Factor], x: np.ndarray, meta: dict) -> Path:
    """Write the design folder (atomically, manifest last); returns it."""
    writer = RunWriter(Path(folder))
    try:
        pd.DataFrame(x, columns=[f.name for f in factors]).to_parquet(writer.path(DESIGN), index=False)
        write_json(writer.path(SPACE), {"factors": [dataclasses.asdict(f) for f in factors], **meta})
        return writer.commit({"task": "design", **meta, "n_points": int(len(x)), "code": code_version()})
    except BaseException:
        writer.abort()
        raise


def read_design(folder: Path) -> tuple[list[Factor], pd.DataFrame, dict]:
    folder = Path(folder)
    if not (folder / MANIFEST).is_file():
        raise ConfigError(f"design={folder}: not a complete design folder ({MANIFEST} missing)")
    try:
        space = json.loads((folder / SPACE).read_text(encoding="utf-8"))
        x = pd.read_parquet(folder / DESIGN)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"design={folder}: unreadable ({exc})") from None
    factors = [Factor(**f) for f in space["factors"]]
    return factors, x, space


def apply_row(cfg) -> None:
    """Set cfg.levers and cfg.uncertainties from row cfg.design_row of the design cfg.design."""
    factors, x, _ = read_design(Path(cfg.design))
    if not 0 <= cfg.design_row < len(x):
        raise ConfigError(f"design_row = {cfg.design_row}: the design {cfg.design} has rows 0 to {len(x) - 1}")
    row = x.iloc[cfg.design_row][[f.name for f in factors]].to_numpy(float)
    for group, items in values(factors, row).items():
        target = getattr(cfg, group)
        for name, v in items.items():
            setattr(target, name, v)
