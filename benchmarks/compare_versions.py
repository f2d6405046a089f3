"""Two versions of the model agree in distribution: the check for a change that alters the random
stream on purpose (a stage that draws its numbers differently), with the two-sample tests of
``bench_reference.compare_samples`` (Kolmogorov-Smirnov and Welch per indicator, Bonferroni).

    .venv/bin/python benchmarks/compare_versions.py --against COMMIT [--replicates 40] [--scale 0.05]
                                                    [--scenario baseline --scenario fund_life_8y ...] [--json PATH]

The other version is checked out into a temporary git worktree and run in a child process with
that worktree first on its path; this checkout runs in this process. Each runs ``--replicates``
replicates per scenario, from one root seed: seeds 0..R-1 of ``simmodel.ensemble.replicate_seeds``
for this checkout and R..2R-1 for the other, so that the two samples are independent (on common
seeds two versions that share most of their streams would give correlated samples, which the tests
do not assume). Where the other version's ``simmodel/kernels.py`` is this checkout's, its child
loads this checkout's compiled loops instead of compiling them (reuse_compiled_loops). A scenario is a file of scenarios/ (its levers and uncertainties). Checked: the
indicators of the reference check (``bench_reference.CHECKED``) and the flows of the stages a stream
change usually touches (funds, fiscal cost, designations), in 2027.
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT  # noqa: E402
from bench_reference import CHECKED, compare_samples  # noqa: E402

EXTRA = tuple((k, 2027) for k in ("fund_deployed_cny_100m", "fund_budget_cny_100m", "fund_early_exits",
                                  "fund_deployed_long_horizon_cny_100m", "fiscal_cost_grants_cny_100m",
                                  "n_little_giant", "n_single_champion", "t4_national_clusters", "t5_pilot_zones",
                                  "n_innovations", "rd_intensity_pct"))
KEYS = CHECKED + EXTRA
SCENARIOS = ROOT / "scenarios"

# Runs in a child process with the other version's checkout first on sys.path.
_SAMPLER = r"""
import dataclasses, json, sys
import numpy as np
root, out, scale = sys.argv[1], sys.argv[2], float(sys.argv[3])
r0, r1, root_seed = int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
changes, keys = json.loads(sys.argv[7]), [tuple(k) for k in json.loads(sys.argv[8])]
sys.path.insert(0, root)
from simmodel.config import RunConfig
from simmodel.ensemble import load_inputs, replicate_seeds
from simmodel.levers import Levers, Uncertainties
from simmodel.model import SimModel
inputs, _ = load_inputs(RunConfig())
levers = dataclasses.replace(Levers(), **changes["levers"])
uncertainties = dataclasses.replace(Uncertainties(), **changes["uncertainties"])
seeds = replicate_seeds(root_seed, r1)[r0:r1]
vals = {f"{k}@{y}": [] for k, y in keys}
for ss in seeds:
    traj = SimModel(inputs, levers, uncertainties, scale=scale, seed=ss).run()
    for k, y in keys:
        vals[f"{k}@{y}"].append(float(traj.loc[y, k]))
np.savez(out, **{k: np.array(v) for k, v in vals.items()})
"""


def scenario_changes(name: str) -> dict[str, dict]:
    """What scenarios/NAME.yaml changes: {"levers": {...}, "uncertainties": {...}}."""
    import yaml

    doc = yaml.safe_load((SCENARIOS / f"{name}.yaml").read_text(encoding="utf-8")) or {}
    return {part: dict(doc.get(part) or {}) for part in ("levers", "uncertainties")}


def reuse_compiled_loops(here: Path, other: Path) -> int:
    """Copy this checkout's compiled loops into the checkout at ``other`` where its
    ``simmodel/kernels.py`` is this one's byte for byte: its process then loads them instead of
    compiling them again (about 100 s on this project's machines). Numba checks a cached loop
    against the sha256 of its source file and the hash of its bytecode, not against the file's
    path or time (numba/core/caching.py), so a loop cached here is what the other checkout would
    compile. Only the files of the functions as they stand are copied: Numba names a function's
    files by its name and first line (``kernels.NAME-LINE.py312.nbi`` and ``.nbc``), and a checkout's
    cache keeps those of every earlier version of the file (a working checkout here held 2 550,
    134 MB, of which the current ones are some 100). Returns the number of files copied (0 where the
    sources differ: the other version's loops are compiled afresh)."""
    source, theirs = here / "simmodel" / "kernels.py", other / "simmodel" / "kernels.py"
    text = source.read_bytes()
    if not theirs.is_file() or text != theirs.read_bytes():
        return 0
    # a decorated function's first line is its first decorator's, as in its code object
    current = {f"kernels.{node.name}-{min([node.lineno] + [d.lineno for d in node.decorator_list])}"
               for node in ast.parse(text).body if isinstance(node, ast.FunctionDef)}
    files = [path for path in sorted((here / "simmodel" / "__pycache__").glob("kernels.*.nb[ci]"))
             if path.name.split(".py", 1)[0] in current]
    cache = theirs.parent / "__pycache__"
    cache.mkdir(exist_ok=True)
    for path in files:
        shutil.copy2(path, cache / path.name)
    return len(files)


def samples(root: Path, changes: dict[str, dict], scale: float, r0: int, r1: int, root_seed: int) -> dict[str, np.ndarray]:
    """The checked indicators of replicates r0..r1-1 of the checkout at ``root``, keyed 'name@year'."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "s.npz"
        subprocess.run([sys.executable, "-c", _SAMPLER, str(root), str(out), str(scale), str(r0), str(r1), str(root_seed),
                        json.dumps(changes), json.dumps(KEYS)], check=True, cwd=root)
        with np.load(out) as z:
            return {k: z[k] for k in z.files}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True, help="the other version: a commit, branch or tag of this repository")
    ap.add_argument("--replicates", type=int, default=40)
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--root-seed", type=int, default=2025)
    ap.add_argument("--scenario", action="append", help="a scenario file's name (default: baseline and fund_yearly_profit)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    scenarios = args.scenario or ["baseline", "fund_yearly_profit"]
    commit = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    here = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()
    if subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True,
                      check=False).stdout.strip():
        here += " with uncommitted changes"
    res: dict = {"against": commit, "this": here, "replicates": args.replicates, "scale": args.scale, "scenarios": {}}
    R = args.replicates
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", str(other), commit], cwd=ROOT, check=True, capture_output=True)
        try:
            n_shared = None
            for name in scenarios:
                changes = scenario_changes(name)
                a = samples(ROOT, changes, args.scale, 0, R, args.root_seed)
                if n_shared is None:  # this checkout's loops are compiled by now: there are some to share
                    n_shared = reuse_compiled_loops(ROOT, other)
                    print(f"{n_shared} compiled files of this checkout's loops shared with {commit} (its simmodel/kernels.py is "
                          "this one's)" if n_shared else f"{commit}'s loops compiled afresh (its simmodel/kernels.py is not "
                          "this checkout's, or none is compiled here)")
                b = samples(other, changes, args.scale, R, 2 * R, args.root_seed)
                chk = compare_samples(a, b)
                res["scenarios"][name] = chk
                print(f"\n{name}: {R} replicates of each at scale {args.scale:g}; this checkout ({here}) vs {commit}")
                print(f"  {'indicator':<44} {'this':>12} {'other':>12} {'other/this-1':>12} {'p KS':>7} {'p Welch':>8}")
                for r in chk["rows"]:
                    flag = "  <- differs" if r["differs"] else ""
                    print(f"  {r['indicator']:<44} {r['mean_a']:12.5g} {r['mean_b']:12.5g} {r['rel_diff_pct']:11.1f}% "
                          f"{r['p_ks']:7.3f} {r['p_welch']:8.3g}{flag}")
                print(f"  Bonferroni: {chk['n_tests']} tests, threshold p < {chk['threshold']:.2g}; "
                      + ("no indicator differs" if chk["consistent"] else "SOME INDICATORS DIFFER"))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False, capture_output=True)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=float))
    return res


if __name__ == "__main__":
    main()
