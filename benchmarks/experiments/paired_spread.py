"""How tightly two versions pair a policy scenario with its comparison on common seeds: the standard
deviation, over replicates, of the paired difference (scenario minus comparison, same seed) of each
checked indicator, for this checkout and another commit. A smaller spread is a stronger common-random-
numbers design: the policy's effect is then estimated with fewer replicates.

    .venv/bin/python benchmarks/experiments/paired_spread.py --against COMMIT [--scenario fund_life_8y]
                                                            [--versus no_new_policy] [--replicates 30] [--scale 0.05]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import ROOT  # noqa: E402
from compare_versions import samples, scenario_changes  # noqa: E402


def paired_sd(root: Path, scenario: str, versus: str, scale: float, replicates: int, root_seed: int) -> dict[str, tuple]:
    a = samples(root, scenario_changes(scenario), scale, 0, replicates, root_seed)
    b = samples(root, scenario_changes(versus), scale, 0, replicates, root_seed)
    return {k: (float(np.mean(a[k] - b[k])), float(np.std(a[k] - b[k], ddof=1))) for k in a}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", required=True)
    ap.add_argument("--scenario", default="fund_life_8y")
    ap.add_argument("--versus", default="no_new_policy")
    ap.add_argument("--replicates", type=int, default=30)
    ap.add_argument("--scale", type=float, default=0.05)
    ap.add_argument("--root-seed", type=int, default=2025)
    args = ap.parse_args(argv)
    commit = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=ROOT, capture_output=True, text=True,
                            check=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(["git", "worktree", "add", "--detach", str(other), commit], cwd=ROOT, check=True, capture_output=True)
        try:
            here = paired_sd(ROOT, args.scenario, args.versus, args.scale, args.replicates, args.root_seed)
            there = paired_sd(other, args.scenario, args.versus, args.scale, args.replicates, args.root_seed)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False, capture_output=True)
    print(f"{args.scenario} minus {args.versus}, {args.replicates} common seeds at scale {args.scale:g}: "
          f"sd of the paired difference, this checkout vs {commit}")
    print(f"  {'indicator':<44} {'mean diff':>11} {'sd here':>10} {'sd there':>10} {'there/here':>10}")
    ratios = []
    for k in here:
        (m, s), (_, t) = here[k], there[k]
        r = t / s if s > 0 else float("nan")
        if s > 0 and t > 0:
            ratios.append(r)
        print(f"  {k:<44} {m:11.4g} {s:10.4g} {t:10.4g} {r:10.2f}")
    print(f"  median there/here over {len(ratios)} indicators: {np.median(ratios):.2f}")


if __name__ == "__main__":
    main()
