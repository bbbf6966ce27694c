"""Shared fixtures: the repository's own policy and calendar, and a scratch workspace."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from sop_pipeline.config import load_calendar, load_policy
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
    """A copy of the repository's requests and inventories, with an empty records/ folder."""
    for name in ("requests", "inventories"):
        shutil.copytree(REPO / name, tmp_path / name)
    return Workspace(tmp_path)
