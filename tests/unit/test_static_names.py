"""Every name the code uses is defined, and every import is used (pyflakes' rules, through ruff).

A name that is only reached on an error path (a ConfigError raised for one malformed scenario key)
passes every test that does not take that path; this check reads the code instead of running it."""

from __future__ import annotations

import subprocess
import sys

from simmodel.config import PROJECT_ROOT

CHECKED = ("simmodel", "tests", "benchmarks", "docs", "calibration")


def test_no_undefined_or_unused_names():
    dirs = [d for d in CHECKED if (PROJECT_ROOT / d).is_dir()]
    res = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "F", "--output-format", "concise",
                          "--no-cache", *dirs], cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    assert "No module named ruff" not in res.stderr, "ruff is in the test extra: pip install -e '.[test]'"
    assert res.returncode == 0, res.stdout + res.stderr
