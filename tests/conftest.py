"""Shared fixtures: the repository's own policy and calendar, and a scratch workspace."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sop_pipeline.config import load_calendar, load_policy
from sop_pipeline.demo.officials import Lab, Official, generate_officials
from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.domain.policy import Policy
from sop_pipeline.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(__file__).resolve().parent / "assets"


@pytest.fixture(scope="session")
def policy() -> Policy:
    return load_policy(REPO / "inventories")


@pytest.fixture(scope="session")
def calendar() -> WorkingCalendar:
    return load_calendar(REPO / "inventories")


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A Git repository with the repository's requests and inventories committed on ``main``
    (the base the commands read policy and calendar from), and no records/ yet."""
    for name in ("requests", "inventories"):
        shutil.copytree(REPO / name, tmp_path / name)
    commit_all(tmp_path, "base: inventories and requests")
    return Workspace(tmp_path)


def commit_all(repo: Path, message: str) -> None:
    """``git add -A`` and commit on ``main`` (made if absent), with a throw-away identity."""
    identity = ["-c", "user.name=Lab", "-c", "user.email=lab@example.invalid"]
    identity += ["-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"]
    if not (repo / ".git").exists():
        subprocess.run(["git", *identity, "init", "-q", "-b", "main", str(repo)], check=True)
    for args in (["add", "-A"], ["commit", "-q", "--allow-empty", "-m", message]):
        subprocess.run(["git", *identity, "-C", str(repo), *args], check=True, timeout=60)


def require_lab_tools(*tools: str) -> None:
    """The lab's binaries and root, for tests that boot a guest: CI fails, a laptop skips."""
    missing = [t for t in tools if shutil.which(t) is None]
    if os.geteuid() != 0:
        missing.append("root")
    if missing:
        message = f"missing {', '.join(missing)}: run .ci/setup/lab.sh as root"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def require_signing_tools() -> None:
    """ssh-keygen and git: a CI run without them fails, a laptop skips."""
    for tool, package in (("ssh-keygen", "openssh-client"), ("git", "git")):
        if shutil.which(tool) is None:
            message = f"{tool} not found: install it with `apt-get install {package}`"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)


@pytest.fixture(scope="session")
def officials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Official]:
    """Six officials with real keys made by ssh-keygen, once per session."""
    require_signing_tools()
    return generate_officials(tmp_path_factory.mktemp("officials"))


@pytest.fixture
def lab(tmp_path: Path, officials: dict[str, Official]) -> Lab:
    """A fresh Git repository: the keyring on main, a merge-request branch checked out."""
    return Lab(tmp_path, officials)


#: Markers of tests that must run alone: they boot lab VMs on fixed VMIDs and addresses,
#: share the lab namespace, and are slow enough that two at once would starve each other.
RUN_ALONE = ("vm", "e2e")


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Refuse to run a `vm` or `e2e` test inside a pytest-xdist worker."""
    marker = next((m for m in RUN_ALONE if item.get_closest_marker(m)), None)
    if marker and os.environ.get("PYTEST_XDIST_WORKER"):
        pytest.fail(
            f"{item.nodeid} is marked {marker} and must run alone, not under pytest-xdist: "
            f"run it without -n (make test-vm, make test-e2e)",
            pytrace=False,
        )
