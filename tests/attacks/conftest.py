"""The attack suite's tally; officials and labs come from tests/conftest.py.

Under pytest-xdist each worker counts its own cases: a worker hands its tally to the
controller when it finishes (``workeroutput``), and the controller adds them all up before
it prints the line. The controller loads this file only when ``tests/attacks`` is named on
the command line (``make test-integration`` does).
"""

from __future__ import annotations

from typing import Any

import pytest

TALLY: dict[str, int] = {"tried": 0, "accepted": 0, "disagreements": 0}


@pytest.fixture(scope="session")
def tally() -> dict[str, int]:
    return TALLY


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand this worker's count to the controller
        workeroutput["attack_tally"] = dict(TALLY)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """On the xdist controller: add a finished worker's count to the suite's tally."""
    for key, value in getattr(node, "workeroutput", {}).get("attack_tally", {}).items():
        TALLY[key] += value


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TALLY["tried"]:
        terminalreporter.write_line(
            f"attack cases tried: {TALLY['tried']}, accepted: {TALLY['accepted']}, "
            f"verifier disagreements: {TALLY['disagreements']}"
        )
