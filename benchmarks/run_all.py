"""Run every benchmark (each in its own process) and write benchmarks/RESULTS.md: the machine, the
goals of issues 6, 7, 16 and 17 met or missed with their margins (beside the
previous RESULTS.md's figures), and each script's printed figures.

    .venv/bin/python benchmarks/run_all.py [--quick] [--out benchmarks/RESULTS.md] [--skip calibrate,sweep]

``--skip`` leaves scripts out; their sections and goals are carried over from the RESULTS.md being
replaced, marked as not re-run with the commit they came from. ``--before FILE`` compares with
another RESULTS.md than the one replaced (``git show 7cf0c33:benchmarks/RESULTS.md > before.md``). ``--quick`` runs every script's quick mode (tiny sizes, seconds each) and writes to --out only when
one is given: quick figures say nothing about speed.
"""

from __future__ import annotations

import argparse
import json
import re
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
           ("explorer", "bench_explorer.py"), ("compile", "bench_compile.py"))


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
        v = ref.get("goal_ratio_whole_step")
        if v:  # issue 17
            rows.append((f">= {v['target']:g}x faster than the idiomatic Mesa reference at {v['n_firms']} firms (whole step)",
                         f"{v['ratio']:.0f}x", "met" if v["met"] else "missed", f"{100 * (v['ratio'] / v['target'] - 1):+.0f} %"))
    bw = res.get("bandwidth")
    if bw and bw.get("goal_stage_ratio"):  # issue 17
        v = bw["goal_stage_ratio"]
        rows.append((f"every stage within {v['target']:g}x of its memory-bandwidth bound",
                     f"furthest: {v['stage']} {v['ratio']:.0f}x", "met" if v["met"] else "missed",
                     f"{v['n_above']} stages above"))
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


# A goal's row is found again in an earlier RESULTS.md by the words of its quantity, which stay when
# a later issue moves its threshold ("<= 1 s per replicate" became "<= 0.3 s per replicate").
GOAL_KEYS = (("drawn", "with every unknown drawn"), ("replay", "replayed 2020-2030"), ("replicate", "s per replicate at scale"),
             ("flat", "time per firm-step flat"), ("memory", "peak memory"), ("exponent", "no stage above n log n"),
             ("reference_step", "(whole step)"), ("reference", "(firm stages)"), ("bandwidth", "memory-bandwidth bound"),
             ("morris", "Morris over"), ("explorer_estimate", "estimate on screen"), ("explorer_model", "model's answer"))


def goal_key(goal: str) -> str | None:
    return next((k for k, words in GOAL_KEYS if words in goal), None)


CARRIED = r"^\*(\w+): not re-run this time \(`--skip`\); the figures of (.+?):\*$"


def previous_results(path: Path) -> tuple[str, dict[str, dict]]:
    """What an earlier RESULTS.md says: its commit and date, and (by goal_key) each goal's figure and
    row, each stage's distance from its bandwidth bound ("61x") and each script's printed section.
    Empty where there is no earlier file."""
    if not path.is_file():
        return "", {"figures": {}, "goals": {}, "stages": {}, "printed": {}, "origin": {}, "machine": None}
    text = path.read_text(encoding="utf-8")
    when = re.search(r"- date (\S+); git commit (\w+)", text)
    cpu = re.search(r"^- CPU: (.+)$", text, re.MULTILINE)
    label = f"{when.group(2)}, {when.group(1)[:10]}" if when else "the previous run"
    figures, goals = {}, {}
    for line in text.split("## Figures, as printed", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 2 and goal_key(cells[0]):
            figures.setdefault(goal_key(cells[0]), cells[1])
            goals.setdefault(goal_key(cells[0]), (cells[0], cells[1]))
    section = text.split("by stage: measured / bound", 1)[-1] if "by stage: measured / bound" in text else ""
    stages = {m.group(1): m.group(2) for m in re.finditer(r"^  (\w+)\s+[\d.]+ ms\s+bound\s+[\d.]+ ms\s+(\d+x)", section, re.M)}
    printed = {m.group(1): m.group(0) for m in re.finditer(r"^### (\w+) \(\d+ s\)\n\n```\n.*?\n```$", text, re.M | re.S)}
    # a section this file itself carried over keeps the run it came from
    origin = {m.group(1): m.group(2) for m in re.finditer(CARRIED, text, re.M)}
    return label, {"figures": figures, "goals": goals, "stages": stages, "printed": printed, "origin": origin,
                   "machine": cpu.group(1).strip() if cpu else None}


def write_results(out: Path, res: dict, outputs: dict[str, str], walls: dict[str, float], quick: bool,
                  before_path: Path | None = None) -> None:
    """Write RESULTS.md to ``out``. The *before* column compares with ``before_path`` (default: the
    file ``out`` replaces); sections of skipped scripts are carried over from the file ``out`` replaces."""
    m = machine()
    cpu = f"{m['cpu']}, {m['cores']} cores; L2 {m['l2_cache']}, L3 {m['l3_cache']}; RAM {m['ram_gb']} GB"
    replaced, prev = previous_results(out)
    before, cmp = previous_results(before_path) if before_path else (replaced, prev)
    figures, stages_before = cmp["figures"], cmp["stages"]
    rows = goal_rows(res)
    # a script skipped this time (--skip) keeps its goals and printed figures from the earlier file, marked
    kept = [name for name, _ in SCRIPTS if name not in outputs and name in prev["printed"]]
    keys_now = {goal_key(r[0]) for r in rows}
    stale = [(goal, fig if "carried from" in fig else f"{fig} (carried from {replaced})", "not re-run", "–")
             for key, (goal, fig) in prev["goals"].items() if key not in keys_now and kept]
    lines = ["# Benchmark results (issues 6, 7, 16 and 17)", "",
             "Written by `make bench` (`benchmarks/run_all.py`); every figure below is printed by the scripts in this folder.",
             ("**Quick mode: tiny sizes. These figures check that the scripts run; they say nothing about speed.**" if quick else ""), "",
             "## Machine", "",
             f"- CPU: {cpu}",
             f"- Python {m['python']}; numpy {m['numpy']}, mesa {m['mesa']}, scipy {m['scipy']}, pandas {m['pandas']}",
             f"- date {m['date']}; git commit {m['commit']}; load average at the end {m['load_average_1min']}", "",
             "## Goals", ""]
    if before:
        lines += [f"The column *before* is the figure of an earlier `make bench` ({before}), read from "
                  + ("the RESULTS.md this run replaced" if before_path is None else f"`{before_path.name}`")
                  + "; where a later issue moved a goal, the goal is the new one.", ""]
        if cmp["machine"] and cmp["machine"] != cpu:
            # the processor moves every figure (the Mesa reference's more than this model's): say so
            # where the two columns are read, not only in the machine lines
            lines += [(f"**The run before was on another machine** ({cmp['machine']}): the two columns differ by "
                       "the machine as well as the code. A change of code is measured in alternation on one machine "
                       "(`benchmarks/experiments/interleaved_ab.py`)."), ""]
        lines += ["| goal | figure | before | verdict | margin |", "|---|---|---|---|---|"]
        lines += [f"| {a} | {b} | {figures.get(goal_key(a), '–')} | {c} | {d} |" for a, b, c, d in rows]
        lines += [f"| {a} | {b} | {figures.get(goal_key(a), '–')} | {c} | {d} |" for a, b, c, d in stale]
    else:
        lines += ["| goal | figure | verdict | margin |", "|---|---|---|---|"]
        lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
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
        if stages_before:
            lines += ["", f"Each stage's time over its bound, now and before ({before}):", "",
                      "| stage | now | before |", "|---|---|---|"]
            lines += [f"| {r['stage']} | {r['ratio']:.0f}x | {stages_before.get(r['stage'], '–')} |" for r in bw["stages"]]
    lines += ["", "## Figures, as printed", ""]
    for name, _ in SCRIPTS:
        if name in outputs:
            lines += [f"### {name} ({walls[name]:.0f} s)", "", "```", outputs[name].rstrip(), "```", ""]
        elif name in kept:
            lines += [f"*{name}: not re-run this time (`--skip`); the figures of {prev['origin'].get(name, replaced)}:*", "",
                      prev["printed"][name], ""]
    out.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="default: benchmarks/RESULTS.md (none in quick mode)")
    ap.add_argument("--skip", default="", help="comma-separated names to skip: " + ",".join(n for n, _ in SCRIPTS))
    ap.add_argument("--before", type=Path, default=None,
                    help="the RESULTS.md to compare with (default: the one --out replaces), e.g. one from `git show`")
    args = ap.parse_args(argv)
    out = args.out or (None if args.quick else HERE / "RESULTS.md")
    skip = set(filter(None, args.skip.split(",")))
    names = [n for n, _ in SCRIPTS]
    # a misspelt name would otherwise run the script it meant to skip (the Morris one takes 18 min)
    if skip - set(names):
        ap.error(f"--skip: unknown {', '.join(sorted(skip - set(names)))}; allowed: {', '.join(names)}")
    if args.before is not None and not args.before.is_file():
        ap.error(f"--before: {args.before} is not a file (an earlier RESULTS.md, e.g. from `git show`)")
    if "explorer" not in skip:
        # the explorer's benchmark runs last and needs a browser and the front end: say so before
        # the half hour of the others, not after it
        from bench_explorer import prerequisites

        try:
            prerequisites()
        except SystemExit as e:
            sys.exit(f"{e}\n(or leave it out: --skip explorer)")
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
        write_results(out, res, outputs, walls, args.quick, args.before)
        print(f"\nwrote {out}")
    return res


if __name__ == "__main__":
    main()
