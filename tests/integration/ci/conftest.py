"""Tools for the CI template tests: found on PATH or in $SOP_CACHE, else fail in CI."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("SOP_CACHE", "/var/cache/sop-pipeline"))
GCL_VERSION = "4.56.0"
HOW = "run `bash .ci/setup/ci-tools.sh` (installs gitlab-ci-local, actionlint, zizmor)"


def find_tool(name: str, *cached: Path) -> str:
    """The tool's path; a test failure under CI (skip on a laptop) when it is missing."""
    found = shutil.which(name)
    if found is None:
        found = next((str(p) for p in cached if p.exists()), None)
    if found is None:
        message = f"{name} not found: {HOW}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def gitlab_ci_local() -> str:
    for tool in ("rsync", "git", "ssh-keygen"):  # Debian: rsync, git, openssh-client
        find_tool(tool)
    return find_tool(
        "gitlab-ci-local",
        CACHE / f"gitlab-ci-local-{GCL_VERSION}" / "node_modules" / ".bin" / "gitlab-ci-local",
    )
