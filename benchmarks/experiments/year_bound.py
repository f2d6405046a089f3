"""Experiment for issue 17 (not part of simmodel, not run by the tests): the memory-bandwidth bound
of the yearly block (``start_year``) taken part by part. ``bench_bandwidth.py`` bounds the block by
one pass over each firm array it reads or writes, as if all of the year's decisions read the firms
together; but the year's parts run in the order the model gives them (under a yearly-profit rule,
SPEC 4a, the funds' early exits cut revenue before the government's pools read it; the ladder reads
the year's grants), so each part must read its own arrays after the parts before it wrote theirs.
This script gives that floor: for each part, the arrays it reads and writes, and the bound if each part made one
pass over its own arrays, beside the whole block's one-pass bound.

    .venv/bin/python benchmarks/experiments/year_bound.py [--scale 1] [--big-bytes 536870912]

One traced replicate of the baseline (seed 1), traced as ``bench_bandwidth.py`` traces the stages
(its tracer: every attribute read of ``Firms`` while a part runs; a write is an array whose contents
changed across the part), the parts those of ``_common.year_part_calls`` and "other" for the block's
own lines; the firms' yearly rates are a stage of their own there and left out here, as there. The
projects' new firms count a full row each, in both bounds. The bandwidth is ``bench_bandwidth``'s
copy bandwidth over arrays far larger than the last-level cache.

The lower floor lets consecutive parts share a pass unless one reads an array another of the pass
wrote; it sees only the firm arrays (not the zones a pool reads, nor, in a year without early exits,
the revenue the funds may cut), and it takes the block's own lines (the revenue copied at the year's
start, the equity floor) as a pass before the parts, though they run between them: a floor, not a plan.

Measured on 6 December 2026 (this 2-core machine, AMD EPYC; 1:1, the simulation's code as at
8398e5b; four runs, copy bandwidth 22.7-23.9 GB/s): 951 359 slots over the six years' starts, 300 new
firms' rows; the block's one-pass bound 152 B a slot (6.06-6.38 ms, bench_bandwidth's 152 B and 6.09
ms at 23.8 GB/s); one pass a part, in the model's order, 301 B a slot (1.98x: 12.0 ms at 23.8 GB/s);
the parts sharing passes, three (the block's lines; funds, zones and clusters, grants, markets,
projects and talents; the ladder and AI+), 214 B a slot (1.41x: 8.6 ms at 23.8 GB/s). The README's
"Why two goals are missed" adds them up with the decisions' own work and the Python.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_bandwidth
from _common import baseline, year_part_calls

from simmodel.agents.firms import FIELDS
from simmodel.model import SimModel


def traced_parts(scale: float) -> dict:
    """One replicate at ``scale``: per part of start_year the fields read and written, the rows it
    appended, and the slots at each year's start."""
    inputs, cfg = baseline()
    model = SimModel(inputs, cfg.levers, cfg.uncertainties, scale=scale, seed=1)
    f = model.firms
    tracer = bench_bandwidth.Tracer()
    tracer.current = "outside"
    written: dict[str, set[str]] = defaultdict(set)
    appended: dict[str, int] = defaultdict(int)

    def snapshot() -> dict[str, np.ndarray]:
        return {k: object.__getattribute__(f, "_" + k)[: f.n].copy() for k in FIELDS}

    def settle(part: str, old: dict[str, np.ndarray]) -> None:
        for name, before in old.items():
            if not np.array_equal(before, object.__getattribute__(f, "_" + name)[: before.size], equal_nan=True):
                written[part].add(name)
        appended[part] += f.n - next(iter(old.values())).size

    order = ["other"]  # the parts by their first call (the block's own lines first)

    def wrap(obj, attr: str, part: str, undo: list) -> None:
        fn = getattr(obj, attr)

        def traced(*a, **k):
            if part not in order:
                order.append(part)
            outer, tracer.current = tracer.current, part
            old = snapshot()
            try:
                return fn(*a, **k)
            finally:
                settle(part, old)
                tracer.current = outer
        setattr(obj, attr, traced)
        undo.append((obj, attr, fn))

    undo: list = []
    for obj, attr, part in year_part_calls(model):
        wrap(obj, attr, part, undo)
    wrap(model, "refresh_rates", "_rates", undo)  # a stage of its own: left out below
    start_year = model.start_year

    def block(year: int) -> None:
        # the block's own lines are "other"; what its parts wrote is theirs
        tracer.current = "other"
        old = snapshot()
        try:
            start_year(year)
        finally:
            tracer.current = "outside"
            mine = {k: v for k, v in old.items() if not any(k in w for p, w in written.items() if p != "other")}
            settle("other", mine)
            appended["other"] = 0  # the parts' appends are theirs
    model.start_year = block
    slots: list[int] = []
    try:
        with tracer:
            while model.q < model.n_quarters:
                if model.q % 4 == 0:
                    slots.append(f.n)
                model.step()
    finally:
        for obj, attr, fn in reversed(undo):
            setattr(obj, attr, fn)
        del model.start_year
    parts = [p for p in order if p != "_rates"]
    return {"read": {p: tracer.read[p] for p in parts}, "written": {p: written[p] for p in parts},
            "appended": {p: appended[p] for p in parts}, "slots": slots}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="population scale of the traced replicate")
    ap.add_argument("--big-bytes", type=int, default=512 * 2 ** 20, help="array size of the bandwidth test")
    a = ap.parse_args(argv)
    if not a.scale > 0 or a.big_bytes < 2 ** 20:
        ap.error("--scale must be above 0 and --big-bytes at least 1048576")
    tr = traced_parts(a.scale)
    bw = bench_bandwidth.bandwidth(a.big_bytes)["copy"]
    itemsize = {k: np.dtype(v).itemsize for k, v in FIELDS.items()}
    row_bytes = sum(itemsize.values())
    slots = sum(tr["slots"])
    appended_bytes = row_bytes * sum(tr["appended"].values())

    def nbytes(read: set[str], written: set[str]) -> int:
        """Bytes a slot of one pass that reads ``read`` and writes ``written``."""
        return sum(itemsize[k] for k in read) + sum(itemsize[k] for k in written)

    def ms(bytes_per_slot: int) -> float:
        return 1e3 * (bytes_per_slot * slots + appended_bytes) / bw

    print(f"start_year at scale {a.scale:g}: {slots} firm slots over the {len(tr['slots'])} years' starts, "
          f"{sum(tr['appended'].values())} new firms' rows ({row_bytes} B each); copy bandwidth {bw / 1e9:.1f} GB/s")
    union_r: set[str] = set()
    union_w: set[str] = set()
    total = 0
    for p in tr["read"]:
        r, w = tr["read"][p], tr["written"][p]
        union_r |= r
        union_w |= w
        b = nbytes(r, w)
        total += b
        print(f"  {p:15s} {b:4d} B a slot: reads {', '.join(sorted(r)) or '-'}; writes {', '.join(sorted(w)) or '-'}")
    union = nbytes(union_r, union_w)
    print(f"one pass over each array the block reads or writes (bench_bandwidth's bound): {union} B a slot, "
          f"{ms(union):.2f} ms a replicate")
    print(f"one pass a part over its own arrays, the parts in the model's order: {total} B a slot, "
          f"{ms(total):.2f} ms a replicate ({ms(total) / ms(union):.2f}x)")
    # a lower floor still: consecutive parts share a pass unless one reads an array another of the
    # pass wrote (a decision over every firm between them); dependencies outside the firm arrays
    # (the zones a pool reads) are not seen, which can only lower it
    phases: list[tuple[list[str], set[str], set[str]]] = []
    for p in tr["read"]:
        r, w = tr["read"][p], tr["written"][p]
        if phases and not r & phases[-1][2]:
            phases[-1][0].append(p)
            phases[-1][1].update(r)
            phases[-1][2].update(w)
        else:
            phases.append(([p], set(r), set(w)))
    merged = sum(nbytes(r, w) for _, r, w in phases)
    print(f"the parts sharing passes where no part reads what another of its pass wrote: {len(phases)} passes "
          f"({'; '.join(' + '.join(ps) for ps, _, _ in phases)}), {merged} B a slot, {ms(merged):.2f} ms a replicate "
          f"({ms(merged) / ms(union):.2f}x)")


if __name__ == "__main__":
    main()
