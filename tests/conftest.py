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


def pytest_sessionstart(session) -> None:
    """Under xdist, load (or on a fresh checkout compile) the model's loops in the controller before
    the workers start (simmodel.ensemble.warm_kernels, which compiles with a process a spare core):
    each worker then loads them in about half a second, where on a fresh checkout every worker
    compiled all of them at the same time (about 50 s each, on both of CI's two cores). xdist starts
    its workers in its own sessionstart, which runs last."""
    config = session.config
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    from simmodel.config import RunConfig
    from simmodel.ensemble import load_inputs, warm_kernels

    cfg = RunConfig()
    try:
        inputs = load_inputs(cfg)[0]
    except Exception:  # noqa: BLE001 - a speed-up only: the tests that load the inputs report what is wrong
        return
    warm_kernels(inputs, cfg.levers, cfg.uncertainties)
