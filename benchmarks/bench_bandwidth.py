"""The memory-bandwidth bound of a replicate: bytes each step must move per firm, this machine's
bandwidth, and how far the model is from the bound, stage by stage.

    .venv/bin/python benchmarks/bench_bandwidth.py [--quick] [--scale 1] [--json PATH]

Bytes per firm: one traced replicate records, for each stage, which firm arrays it reads (every
attribute access to ``Firms``) and which it writes (arrays whose contents changed across the stage),
and takes their itemsizes from the arrays themselves. The estimate assumes one streaming pass per
array a stage touches, over every slot (dead firms stay in the arrays): a stage that touches only a
few rows of an array by fancy indexing is counted as a full pass, and temporaries are not counted.
It is the traffic of an ideal, fused implementation of the same stages, not of numpy's.

Bandwidth: ``np.copyto`` between two float64 arrays (bytes read + bytes written per second, write
allocation not counted) and ``ndarray.sum`` (bytes read per second), best of several, for arrays far
larger than the last-level cache (main memory) and for one firm array at the traced size (cache).

The bound per replicate is the replicate's bytes over the copy bandwidth; printed beside the
measured time of the same stages, with the ratio by stage (what holds the model back).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import STAGES, baseline, machine, stage_methods, verdict

from simmodel.agents.firms import FIELDS, Firms
from simmodel.model import SimModel

GOAL_RATIO = 5.0  # issue 17: every stage within 5x of its memory-bandwidth bound


def bandwidth(n_bytes: int, repeats: int = 7) -> dict[str, float]:
    """Best copy (read + write) and sum (read) bandwidth, bytes per second, on float64 arrays of n_bytes."""
    n = max(n_bytes // 8, 1)
    a = np.random.default_rng(0).random(n)
    b = np.empty_like(a)
    best_copy = best_sum = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.copyto(b, a)
        best_copy = min(best_copy, time.perf_counter() - t)
        t = time.perf_counter()
        a.sum()
        best_sum = min(best_sum, time.perf_counter() - t)
    return {"copy": 2 * a.nbytes / best_copy, "sum": a.nbytes / best_sum, "array_bytes": a.nbytes}


class _TracedField:
    """A firm field read through a data descriptor on the class, which Python consults before the
    instance's plain attribute (Firms keeps its views as plain attributes): records the read."""

    def __init__(self, name: str, tracer: Tracer):
        self.name, self.tracer = name, tracer

    def __get__(self, firms, owner):
        if firms is None:
            return self
        self.tracer.read[self.tracer.current].add(self.name)
        return firms.__dict__[self.name]

    def __set__(self, firms, value):  # never called: Firms.__setattr__ handles its fields itself
        raise AssertionError("Firms.__setattr__ bypassed")


class Tracer:
    """Records which Firms fields are accessed while a stage runs (a data descriptor per field on
    the class while the tracer is on, see _TracedField)."""

    def __init__(self):
        self.current = "age_aggregates"  # code in step() outside the named stages
        self.read: dict[str, set[str]] = defaultdict(set)
        self.written: dict[str, set[str]] = defaultdict(set)
        self.appended_rows: dict[str, int] = defaultdict(int)  # new firms' rows written, whole replicate
        self.rate_rows: dict[str, int] = defaultdict(int)  # entrants whose yearly rates a stage set

    def __enter__(self):
        for name in FIELDS:
            setattr(Firms, name, _TracedField(name, self))
        return self

    def __exit__(self, *exc):
        for name in FIELDS:
            delattr(Firms, name)


def traced_replicate(inputs, cfg, scale: float) -> dict:
    """Run one replicate; per stage, fields read and written, and slots per step."""
    model = SimModel(inputs, cfg.levers, cfg.uncertainties, scale=scale, seed=1)
    f = model.firms
    tracer = Tracer()

    def snapshot() -> dict[str, np.ndarray]:
        return {k: object.__getattribute__(f, "_" + k)[: f.n].copy() for k in FIELDS}

    stack: list[list] = []  # [stage, snapshot] of the traced calls in progress

    def settle(entry: list) -> None:
        """Attribute to entry's stage the arrays that changed since its snapshot."""
        stage, old_arrays = entry
        for name, old in old_arrays.items():
            new = object.__getattribute__(f, "_" + name)[: old.size]
            if not np.array_equal(old, new, equal_nan=True):
                tracer.written[stage].add(name)
        tracer.appended_rows[stage] += f.n - next(iter(old_arrays.values())).size

    def wrap(obj, attr: str, stage: str, only_all: bool = False) -> None:
        fn = getattr(obj, attr)

        def traced(*a, **k):
            if only_all and (len(a) >= 2 or "sl" in k):
                # entrants' rates: counted in the stage that made them, per entrant, not per slot
                sl = a[1] if len(a) >= 2 else k["sl"]
                outer = tracer.current
                tracer.current = "_entrant_rates"
                try:
                    return fn(*a, **k)
                finally:
                    tracer.current = outer
                    tracer.rate_rows[outer] += sl.stop - sl.start
            if stack:  # a stage inside a stage (the year's rates in start_year): split the writes
                settle(stack[-1])
            outer = tracer.current
            tracer.current = stage
            stack.append([stage, snapshot()])
            try:
                return fn(*a, **k)
            finally:
                settle(stack.pop())
                tracer.current = outer
                if stack:  # the outer stage goes on from here; rows added so far are counted
                    stack[-1][1] = snapshot()

        setattr(obj, attr, traced)

    for obj, attr, stage, only_all in stage_methods(model):
        wrap(obj, attr, stage, only_all)
    slots = []
    with tracer:
        while model.q < model.n_quarters:
            slots.append(f.n)
            age_before = object.__getattribute__(f, "_age_q")[: f.n].copy()
            model.step()
            # step()'s own lines (ageing, aggregates) write only age_q
            if not np.array_equal(age_before, object.__getattribute__(f, "_age_q")[: age_before.size]):
                tracer.written["age_aggregates"].add("age_q")
    return {"read": tracer.read, "written": tracer.written, "slots": slots, "appended_rows": dict(tracer.appended_rows),
            "rate_rows": dict(tracer.rate_rows)}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tiny population: checks that the script runs")
    ap.add_argument("--scale", type=float, default=1.0, help="population scale of the traced and timed replicate")
    ap.add_argument("--big-bytes", type=int, default=512 * 2 ** 20, help="array size of the main-memory bandwidth test")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.quick:
        args.scale, args.big_bytes = 0.02, 64 * 2 ** 20
    inputs, cfg = baseline()
    m = machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, L2 {m['l2_cache']}, L3 {m['l3_cache']}, {m['ram_gb']} GB RAM")

    tr = traced_replicate(inputs, cfg, args.scale)
    itemsize = {k: np.dtype(v).itemsize for k, v in FIELDS.items()}
    per_stage = {}
    for st in STAGES:
        r = sorted(tr["read"].get(st, set()))
        w = sorted(tr["written"].get(st, set()))
        per_stage[st] = {"read": r, "written": w, "bytes_per_slot": sum(itemsize[k] for k in r) + sum(itemsize[k] for k in w)}
    slots = np.array(tr["slots"], float)
    q1 = np.arange(slots.size) % 4 == 0
    q4 = np.arange(slots.size) % 4 == 3
    yearly = {"start_year": q1, "refresh_rates": q1, "close_year": q4}
    bytes_stage = {st: float(per_stage[st]["bytes_per_slot"] * slots[yearly.get(st, np.ones(slots.size, bool))].sum())
                   for st in STAGES}
    row_bytes = sum(itemsize.values())
    rate_bytes = per_stage["refresh_rates"]["bytes_per_slot"]
    for st in STAGES:  # new firms: a full row written each; entrants' rates at the yearly-rates cost per firm
        bytes_stage[st] += tr["appended_rows"].get(st, 0) * row_bytes + tr["rate_rows"].get(st, 0) * rate_bytes
    total_bytes = sum(bytes_stage.values())
    print(f"\nbytes each stage moves per firm slot (scale {args.scale:g}; {int(slots[0])} slots at the start, {int(slots[-1])} at the end; "
          f"all {len(FIELDS)} firm arrays {sum(itemsize.values())} bytes per slot)")
    for st in STAGES:
        d = per_stage[st]
        when = {"start_year": "Q1", "refresh_rates": "Q1", "close_year": "Q4"}.get(st, "every quarter")
        print(f"  {st:<15} {d['bytes_per_slot']:4d} B ({when}): reads {len(d['read'])} arrays, writes {len(d['written'])} "
              f"({', '.join(d['written']) or '-'})")
    per_firm_step = total_bytes / slots.sum()
    print(f"  new firms' rows: {sum(tr['appended_rows'].values())} x {row_bytes} B; entrants' rates: "
          f"{sum(tr['rate_rows'].values())} x {rate_bytes} B")
    print(f"  per firm-step over the replicate: {per_firm_step:.0f} B; per replicate: {total_bytes / 1e6:.1f} MB")

    bw_mem = bandwidth(args.big_bytes)
    bw_cache = bandwidth(int(slots.mean()) * 8)
    print(f"\nbandwidth (best of 7): main memory ({bw_mem['array_bytes'] / 2 ** 20:.0f} MiB arrays) copy {bw_mem['copy'] / 1e9:.1f} GB/s, "
          f"sum {bw_mem['sum'] / 1e9:.1f} GB/s; cache (one firm array, {bw_cache['array_bytes'] / 2 ** 20:.2f} MiB) "
          f"copy {bw_cache['copy'] / 1e9:.1f} GB/s, sum {bw_cache['sum'] / 1e9:.1f} GB/s")
    working_set = slots.max() * sum(itemsize.values())
    print(f"  working set of the firm arrays at the end: {working_set / 2 ** 20:.1f} MiB (L3 {m['l3_cache']})")

    # measured time of the same replicate, untraced
    import _common
    times = []
    for seed in (1, 2, 3):
        times.append(_common.run_timed(SimModel(inputs, cfg.levers, cfg.uncertainties, scale=args.scale, seed=seed)))
    meas = min(times, key=lambda r: r["seconds"])
    bound_mem = total_bytes / bw_mem["copy"]
    bound_cache = total_bytes / bw_cache["copy"]
    print(f"\nper replicate (simulation, 24 steps): measured {meas['seconds']:.3f} s (best of 3); bound {bound_mem * 1e3:.1f} ms at "
          f"main-memory bandwidth ({meas['seconds'] / bound_mem:.0f}x above), {bound_cache * 1e3:.1f} ms at cache bandwidth "
          f"({meas['seconds'] / bound_cache:.0f}x above)")
    print("  by stage: measured / bound at main-memory bandwidth (what holds the model back)")
    rows = []
    for st in STAGES:
        b = bytes_stage[st] / bw_mem["copy"]
        t = meas["by_stage"][st]
        rows.append({"stage": st, "measured_s": t, "bound_s": b, "ratio": t / b if b else float("inf")})
    for r in sorted(rows, key=lambda r: -r["measured_s"]):
        over = "" if r["ratio"] <= GOAL_RATIO else f"  <- above {GOAL_RATIO:g}x"
        print(f"  {r['stage']:<15} {1e3 * r['measured_s']:8.1f} ms  bound {1e3 * r['bound_s']:6.2f} ms  {r['ratio']:6.0f}x{over}")
    worst = max(rows, key=lambda r: r["ratio"])
    goal = {"target": GOAL_RATIO, "stage": worst["stage"], "ratio": worst["ratio"], "met": worst["ratio"] <= GOAL_RATIO,
            "n_above": sum(r["ratio"] > GOAL_RATIO for r in rows)}
    print(f"  goal: every stage within {GOAL_RATIO:g}x of its bound -> "
          + verdict(goal["met"], f"furthest {worst['stage']} {worst['ratio']:.0f}x; {goal['n_above']} of {len(rows)} stages above"))
    res = {"machine": m, "quick": args.quick, "scale": args.scale, "per_stage": per_stage, "bytes_by_stage": bytes_stage,
           "bytes_per_firm_step": per_firm_step, "bytes_per_replicate": total_bytes, "bandwidth_memory": bw_mem,
           "bandwidth_cache": bw_cache, "measured_s": meas["seconds"], "bound_memory_s": bound_mem, "bound_cache_s": bound_cache,
           "stages": rows, "working_set_bytes": float(working_set), "goal_stage_ratio": goal}
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=float))
    return res


if __name__ == "__main__":
    main()
