"""The attack suite's tally; officials and labs come from tests/conftest.py."""

from __future__ import annotations

import pytest

TALLY: dict[str, int] = {"tried": 0, "accepted": 0, "disagreements": 0}


@pytest.fixture(scope="session")
def tally() -> dict[str, int]:
    return TALLY


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY["tried"]:
        terminalreporter.write_line(
            f"attack cases tried: {TALLY['tried']}, accepted: {TALLY['accepted']}, "
            f"verifier disagreements: {TALLY['disagreements']}"
        )
