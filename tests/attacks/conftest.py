"""Six officials with real keys made by ssh-keygen, once per session; a fresh Git lab per test."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sop_pipeline.signing.demo import Lab, Official, generate_officials


def require_tools() -> None:
    for tool, package in (("ssh-keygen", "openssh-client"), ("git", "git")):
        if shutil.which(tool) is None:
            message = f"{tool} not found: install it with `apt-get install {package}`"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)


@pytest.fixture(scope="session")
def officials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Official]:
    require_tools()
    return generate_officials(tmp_path_factory.mktemp("officials"))


@pytest.fixture
def lab(tmp_path: Path, officials: dict[str, Official]) -> Lab:
    return Lab(tmp_path, officials)


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
