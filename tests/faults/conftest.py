"""The fault suite prints what each run went through at the end of the session (see ``support.py``)."""

from __future__ import annotations

import pytest

from tests.faults.support import BASELINES, RUNS, report_lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RUNS and not BASELINES:
        return
    terminalreporter.section("fault suite: requests seen and faulted by the proxy, what the hooks did")
    for line in report_lines():
        terminalreporter.write_line(line)
