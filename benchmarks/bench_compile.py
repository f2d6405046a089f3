"""What a fresh checkout waits before its first replicate: the model's compiled loops compiled into
an empty Numba cache by a run's warm-up (``simmodel.ensemble.warm_kernels``), on one core and with
the processes that compile beside it on the spare cores, then loaded from that cache.

    .venv/bin/python benchmarks/bench_compile.py [--rounds 1] [--quick] [--json PATH]

Each measure is a process of its own, ``NUMBA_CACHE_DIR`` pointed at a new folder (this checkout's
cache under ``simmodel/__pycache__`` is neither read nor written): the warm-up's wall time, the CPU
time of the process and its children (the compilers), and the largest resident memory among them.
"one core" sets ``ensemble._COMPILERS_MAX`` to 0 (no compiler starts: how every checkout compiled
before 6 December 2026); "spare cores" leaves it (one compiler a spare core, at most three). Then a
process loads what the last one cached. Rounds alternate the two. ``--quick``: one warm-up on this
checkout's own cache, which loads the loops where they are compiled (seconds; checks that the
script runs).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import machine

# the child: a warm-up, timed from its start (imports and inputs before it), with its children's
# CPU time and memory, printed as JSON on the last line
_CHILD = """
import json, resource, sys, time
from simmodel import ensemble
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs
if sys.argv[1] == "one":
    ensemble._COMPILERS_MAX = 0
cfg = RunConfig()
inputs = load_inputs(cfg)[0]
t = time.perf_counter()
ensemble.warm_kernels(inputs, cfg.levers, cfg.uncertainties)
wall = time.perf_counter() - t
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall_s": wall, "cpu_s": me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime,
                  "max_rss_mb": max(me.ru_maxrss, kids.ru_maxrss) / 1024}))
"""


def warm_up(mode: str, cache: Path | None) -> dict[str, float]:
    """One warm-up in a process of its own on the Numba cache folder ``cache`` (None: this
    checkout's own; ``mode``: "one", no compiler beside it; "spare", as a run does)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "NUMBA_DISABLE_JIT")}
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    proc = subprocess.run([sys.executable, "-W", "ignore::RuntimeWarning", "-c", _CHILD, mode], capture_output=True,
                          text=True, env=env, check=False, cwd=HERE.parent)
    if proc.returncode != 0:
        sys.exit(f"the warm-up failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=1, help="cold warm-ups of each kind, alternating")
    ap.add_argument("--quick", action="store_true", help="a warm-up on this checkout's cache (checks that the script runs)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    if args.rounds < 1:
        ap.error(f"--rounds must be at least 1, not {args.rounds}")
    from simmodel.ensemble import spare_cores

    m = machine()
    print(f"machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB, Python {m['python']}")
    print(f"spare cores for compilers: {min(spare_cores(), 3)}")
    out: dict = {"one": [], "spare": [], "load": []}
    if args.quick:
        res = warm_up("spare", None)
        out["load"].append(res)
        print(f"  warm-up on this checkout's cache: {res['wall_s']:.2f} s (largest process {res['max_rss_mb']:.0f} MB)")
    else:
        with tempfile.TemporaryDirectory(prefix="bench-compile-") as tmp:
            for r in range(args.rounds):
                for kind in ("one", "spare") if r % 2 == 0 else ("spare", "one"):
                    cache = Path(tmp) / f"{kind}-{r}"
                    res = warm_up(kind, cache)
                    out[kind].append(res)
                    print(f"  cold warm-up, {'one core' if kind == 'one' else 'spare cores'}: {res['wall_s']:.1f} s "
                          f"(CPU {res['cpu_s']:.1f} s, largest process {res['max_rss_mb']:.0f} MB)", flush=True)
            res = warm_up("spare", cache)  # the last cold cache, now filled
            out["load"].append(res)
            print(f"  warm-up on the cache just filled (loading only): {res['wall_s']:.2f} s "
                  f"(largest process {res['max_rss_mb']:.0f} MB)")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
