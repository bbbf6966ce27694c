"""Reporting from the records: a lab repository with the department's policy on main."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reporting_walk import Clock, LocalSite, Walk, require_weasyprint

from sop_pipeline.demo.officials import Lab
from sop_pipeline.demo.scenario import publish_base


@pytest.fixture
def lab(lab: Lab) -> Lab:
    """The shared lab, with inventories on main and the example requests on the MR branch."""
    require_weasyprint()
    publish_base(lab)
    return lab


@pytest.fixture
def site(tmp_path: Path) -> Iterator[LocalSite]:
    """A real HTTP server on 127.0.0.1 that step 8 deploys the request's page to."""
    running = LocalSite(tmp_path / "site", Clock())
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def walk(lab: Lab, site: LocalSite) -> Walk:
    """The pipeline over the lab, step 8 done by ``site`` on the walk's own clock."""
    w = Walk(lab, site)
    site.clock = w.clock
    return w
