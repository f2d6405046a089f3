"""The generated tables in docs/ODD.md match the code and data (docs/make_tables.py --check)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_odd_tables_are_current():
    proc = subprocess.run([sys.executable, str(ROOT / "docs" / "make_tables.py"), "--check"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_odd_names_every_lever_and_parameter():
    from dataclasses import fields

    from simmodel.levers import Levers, Uncertainties
    from simmodel.params import Params

    text = (ROOT / "docs" / "ODD.md").read_text(encoding="utf-8")
    for cls in (Levers, Uncertainties, Params):
        for f in fields(cls):
            assert f"`{f.name}`" in text or f.name in text, f.name
