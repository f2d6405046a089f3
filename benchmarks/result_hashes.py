"""Hashes of what a replicate produces, to check that a speed change leaves every result byte-identical:
run it before and after the change (for example in a `git worktree` of the commit before) and compare.

    .venv/bin/python benchmarks/result_hashes.py [--quick]

Each line hashes (SHA-256, first 10 hex digits) one replicate's trajectory (as CSV), every firm array
and every fund's holdings (firms, tickets, entry years, times to exit), seed 3 unless named:
the baseline levers at scales 0.085, 0.3 and 1; at 0.085 under yearly-profit fund rules and under an
8-year fund life; and no_new_policy at 0.085 and at 0.3 with seed 5. ``--quick``: the first case only,
at scale 0.01 (seconds; the tests run it).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simmodel.agents.firms import FIELDS
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs
from simmodel.levers import Levers, Uncertainties, no_new_policy_values
from simmodel.model import SimModel


def replicate_hash(inputs, levers: Levers, scale: float, seed: int = 3) -> str:
    """The first 10 hex digits of the SHA-256 of a replicate's trajectory, firm arrays and holdings."""
    m = SimModel(inputs, levers, Uncertainties(), scale=scale, seed=seed)
    d = hashlib.sha256(m.run().to_csv().encode())
    for name in sorted("_" + field for field in FIELDS):  # each field's whole storage, as allocated
        d.update(name.encode())
        d.update(np.ascontiguousarray(getattr(m.firms, name)).tobytes())
    for fd in m.funds:
        for x in (fd.h_firm, fd.h_ticket, fd.h_year_in, fd.h_tte):
            d.update(x.tobytes())
    return d.hexdigest()[:10]


def cases(quick: bool) -> list[tuple[str, Levers, float, int]]:
    base = Levers()
    if quick:
        return [("baseline", base, 0.01, 3)]
    nnp = dataclasses.replace(base, **no_new_policy_values())
    return ([("baseline", base, s, 3) for s in (0.085, 0.3, 1.0)]
            + [("yearly_profit", dataclasses.replace(base, fund_evaluation_regime="yearly_profit"), 0.085, 3),
               ("fund_life_8", dataclasses.replace(base, fund_life_years=8.0), 0.085, 3),
               ("no_new_policy", nnp, 0.085, 3), ("no_new_policy", nnp, 0.3, 5)])


def main(argv: list[str] | None = None) -> list[str]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="one case at scale 0.01")
    args = ap.parse_args(argv)
    inputs, _ = load_inputs(RunConfig())
    lines = []
    for name, levers, scale, seed in cases(args.quick):
        lines.append(f"{name:<14} scale {scale:<6} seed {seed}  {replicate_hash(inputs, levers, scale, seed)}")
        print(lines[-1], flush=True)
    return lines


if __name__ == "__main__":
    main()
