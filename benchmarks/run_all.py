"""Run every benchmark (each in its own process) and write benchmarks/RESULTS.md: the machine, the
goals of issues 6, 7 and 16 met or missed with their margins, and each script's printed figures.

    .venv/bin/python benchmarks/run_all.py [--quick] [--out benchmarks/RESULTS.md] [--skip calibrate,sweep]

``--quick`` runs every script's quick mode (tiny sizes, seconds each) and writes to --out only when
one is given: quick figures say nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine

SCRIPTS = (("replicate", "bench_replicate.py"), ("reference", "bench_reference.py"), ("bandwidth", "bench_bandwidth.py"),
           ("sweep", "bench_sweep.py"), ("calibrate", "bench_calibrate.py"), ("analyze", "bench_analyze.py"),
           ("explorer", "bench_explorer.py"))


def run_script(script: str, quick: bool, json_path: Path) -> tuple[str, float]:
    args = [sys.executable, str(HERE / script), "--json", str(json_path)] + (["--quick"] if quick else [])
    if script == "bench_analyze.py" and not quick:
        # the 1:1 Morris screening is a result in itself: keep it where `simmodel analyze screen=...`
        # and `simmodel memo analyses=[...]` find it
        args += ["--keep", str(HERE.parent / "results")]
    t = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    sys.stdout.write(proc.stdout)
    if proc.returncode != 0:
        sys.exit(f"{script} failed:\n{proc.stderr[-3000:]}")
    return proc.stdout, wall


def goal_rows(res: dict) -> list[tuple[str, str, str, str]]:
    """(goal, figure, verdict, margin) for each goal of issues 6 and 7 found in the results."""
    rows = []
    rep = res.get("replicate")
    if rep:
        g = rep["goals"]
        v = g["seconds_per_replicate"]
        rows.append((f"<= {v['target']:g} s per replicate at scale {rep['one_to_one']['scale']:g}", f"{v['value']:.3f} s",
                     "met" if v["met"] else "missed", f"{100 * (v['value'] / v['target'] - 1):+.0f} %"))
        v = g.get("seconds_per_drawn_replicate")
        if v:  # issue 13: every unknown drawn, a population synthesised per replicate
            rows.append((f"<= {v['target']:g} s per replicate with every unknown drawn", f"{v['value']:.3f} s",
                         "met" if v["met"] else "missed", f"{100 * (v['value'] / v['target'] - 1):+.0f} %"))
        v = g.get("seconds_per_replay_2020_2030")
        if v:  # issue 14: the history replay
            rows.append((f"<= {v['target']:g} s per replicate replayed 2020-2030", f"{v['value']:.3f} s",
                         "met" if v["met"] else "missed", f"{100 * (v['value'] / v['target'] - 1):+.0f} %"))
        v = g["flat_per_firm_step"]
        ns = [s["ns_per_firm_step"] for s in rep["scaling"]]
        rows.append((f"time per firm-step flat within {100 * v['target']:.0f} % ({rep['scaling'][0]['n_firms']}-{rep['scaling'][-1]['n_firms']} firms)",
                     f"{min(ns):.0f}-{max(ns):.0f} ns", "met" if v["met"] else "missed",
                     f"spread {100 * v['value']:.0f} % (goal {100 * v['target']:.0f} %)"))
        v = g["peak_memory"]
        rows.append((f"peak memory <= {v['target'] / 1e9:g} GB at {v['n_firms']} firms", f"{v['value'] / 1e6:.0f} MB",
                     "met" if v["met"] else "missed", f"{100 * (v['value'] / v['target'] - 1):+.0f} %"))
        v = g["stage_exponent"]
        rows.append((f"no stage above n log n (exponent <= {v['target']:.3f})", f"steepest: {v['stage']} {v['value']:.2f}",
                     "met" if v["met"] else "missed", f"{v['value'] - v['target']:+.2f}"))
    ref = res.get("reference")
    if ref:
        v = ref["goal_ratio"]
        rows.append((f">= {v['target']:g}x faster than the idiomatic Mesa reference at {v['n_firms']} firms (firm stages)",
                     f"{v['ratio']:.0f}x", "met" if v["met"] else "missed", f"{100 * (v['ratio'] / v['target'] - 1):+.0f} %"))
    an = res.get("analyze")
    if an and not an["quick"]:
        rows.append((f"Morris over all {an['factors']} levers and uncertainties at scale {an['scale']:g} within "
                     f"{an['goal_minutes']:g} min (issue 6)",
                     f"{an['wall_s'] / 60:.1f} min, {an['evaluations_per_min']:.0f} evaluations/min "
                     f"({an['points']} points x {an['replicates']} replicates)",
                     "met" if an["met"] else "missed", f"{100 * (an['wall_s'] / 60 / an['goal_minutes'] - 1):+.0f} %"))
    ex = res.get("explorer")
    if ex and not ex["quick"]:  # issue 16, through the browser
        rows.append((f"explorer: lever change to the emulator's estimate on screen < {ex['goal_estimate_s']:g} s "
                     f"(median of {len(ex['estimate_s'])} changes)",
                     f"median {ex['estimate_median_s']:.2f} s, max {ex['estimate_max_s']:.2f} s",
                     "met" if ex["estimate_met"] else "missed",
                     f"{100 * (ex['estimate_median_s'] / ex['goal_estimate_s'] - 1):+.0f} %"))
        rows.append((f"explorer: lever change to the model's answer at scale {ex['run']['scale']:g}, "
                     f"{ex['run']['replicates']} replicates < {ex['goal_model_s']:g} s", f"{ex['model_s']:.1f} s",
                     "met" if ex["model_met"] else "missed", f"{100 * (ex['model_s'] / ex['goal_model_s'] - 1):+.0f} %"))
    return rows


def write_results(out: Path, res: dict, outputs: dict[str, str], walls: dict[str, float], quick: bool) -> None:
    m = machine()
    lines = ["# Benchmark results (issues 6 and 7)", "",
             "Written by `make bench` (`benchmarks/run_all.py`); every figure below is printed by the scripts in this folder.",
             ("**Quick mode: tiny sizes. These figures check that the scripts run; they say nothing about speed.**" if quick else ""), "",
             "## Machine", "",
             f"- CPU: {m['cpu']}, {m['cores']} cores; L2 {m['l2_cache']}, L3 {m['l3_cache']}; RAM {m['ram_gb']} GB",
             f"- Python {m['python']}; numpy {m['numpy']}, mesa {m['mesa']}, scipy {m['scipy']}, pandas {m['pandas']}",
             f"- date {m['date']}; git commit {m['commit']}; load average at the end {m['load_average_1min']}", "",
             "## Goals", "", "| goal | figure | verdict | margin |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in goal_rows(res)]
    ref = res.get("reference")
    if ref:
        d = ref["distribution"]
        lines += ["", f"Reference vs vectorised in distribution: {d['replicates']} replicates each at scale {d['scale']:g}, "
                  f"{d['n_tests']} tests (KS and Welch), Bonferroni threshold p < {d['threshold']:.2g}: "
                  + ("no indicator differs." if d["consistent"] else
                     "differs: " + ", ".join(r["indicator"] for r in d["rows"] if r["differs"]) + ".")]
    bw = res.get("bandwidth")
    if bw:
        lines += ["", f"Memory-bandwidth bound at scale {bw['scale']:g}: {bw['bytes_per_firm_step']:.0f} B per firm-step, "
                  f"{bw['bytes_per_replicate'] / 1e6:.1f} MB per replicate; at {bw['bandwidth_memory']['copy'] / 1e9:.1f} GB/s "
                  f"(numpy copy) the bound is {1e3 * bw['bound_memory_s']:.1f} ms against {1e3 * bw['measured_s']:.0f} ms measured "
                  f"({bw['measured_s'] / bw['bound_memory_s']:.0f}x)."]
    lines += ["", "## Figures, as printed", ""]
    for name, _ in SCRIPTS:
        if name in outputs:
            lines += [f"### {name} ({walls[name]:.0f} s)", "", "```", outputs[name].rstrip(), "```", ""]
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="default: benchmarks/RESULTS.md (none in quick mode)")
    ap.add_argument("--skip", default="", help="comma-separated names to skip: " + ",".join(n for n, _ in SCRIPTS))
    args = ap.parse_args(argv)
    out = args.out or (None if args.quick else HERE / "RESULTS.md")
    skip = set(filter(None, args.skip.split(",")))
    res, outputs, walls = {}, {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, script in SCRIPTS:
            if name in skip:
                continue
            path = Path(tmp) / f"{name}.json"
            print(f"\n===== {script}{' --quick' if args.quick else ''}", flush=True)
            outputs[name], walls[name] = run_script(script, args.quick, path)
            res[name] = json.loads(path.read_text())
    if out:
        write_results(out, res, outputs, walls, args.quick)
        print(f"\nwrote {out}")
    return res


if __name__ == "__main__":
    main()
