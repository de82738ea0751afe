"""A pytest plugin for `make notebooks`: each notebook's total time (setup, cells, teardown), printed at the end.

Loaded with ``-p tests.nbtimes``. The budget of a notebook in the ci profile is 3 minutes on the 2-core
machine (DESIGN.md); a notebook above it is marked, not failed: speed is reported, never asserted in a test.
"""

from collections import defaultdict

BUDGET_S = 180.0
_seconds: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report):
    _seconds[report.nodeid.split("::")[0]] += report.duration


def pytest_terminal_summary(terminalreporter):
    if not _seconds:
        return
    terminalreporter.section("seconds per notebook")
    for path, seconds in sorted(_seconds.items(), key=lambda kv: -kv[1]):
        mark = f"  over the {BUDGET_S:.0f}-s budget" if seconds > BUDGET_S else ""
        terminalreporter.write_line(f"{seconds:7.1f}  {path}{mark}")
