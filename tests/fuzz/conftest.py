"""Shows the fuzz counts in pytest's terminal summary, whatever ``-s`` says."""

from __future__ import annotations

import pytest

from tests.fuzz.run import COUNTS_KEY, table


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    for result in config.stash.get(COUNTS_KEY, []):
        terminalreporter.section(f"fuzz counts ({result['label']})")
        terminalreporter.write_line(table(result))
