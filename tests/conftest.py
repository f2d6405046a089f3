"""Shared by every test folder: the terminal report of how many cases the property-based tests ran."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter) -> None:
    """Print the number of hypothesis cases each property test ran (recorded by the test as the
    user property ``hypothesis_cases``; reports carry it back from xdist workers too)."""
    rows = [(report.nodeid, value) for key in ("passed", "failed") for report in terminalreporter.stats.get(key, [])
            if getattr(report, "when", "") == "call" for name, value in getattr(report, "user_properties", ())
            if name == "hypothesis_cases"]
    if not rows:
        return
    terminalreporter.write_sep("-", "hypothesis cases run")
    for nodeid, n in sorted(rows):
        terminalreporter.write_line(f"{n:7d}  {nodeid}")
    terminalreporter.write_line(f"{sum(n for _, n in rows):7d}  in all")
