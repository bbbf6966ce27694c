"""`sop validate` and `sop verify` run on a Python without `fcntl` (Windows has none).

The core (``pip install sop-pipeline``) must import and work there; locking goes through
``sop_pipeline.locking``, which imports ``fcntl`` (or ``msvcrt``) only when a lock is taken.
The installed wheel is checked the same way in ``test_wheel.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sop_pipeline.demo.officials import T0, Lab, RequestFlow
from sop_pipeline.demo.scenario import publish_base
from tests.conftest import REPO
from tests.support.nofcntl import blocker

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"


def run(blocked: Path, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = f"{blocked}{os.pathsep}{REPO}"
    return subprocess.run(
        [sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=300, check=False,
    )  # fmt: skip


def test_the_blocker_blocks(tmp_path: Path) -> None:
    done = run(blocker(tmp_path / "hook"), "-c", "import fcntl", cwd=tmp_path)
    assert done.returncode == 1 and "No module named 'fcntl' (blocked)" in done.stderr


def test_validate_and_verify_without_fcntl(lab: Lab, tmp_path: Path) -> None:
    publish_base(lab)  # the trusted tree on main, the example requests on the MR
    flow = RequestFlow(lab, RID, records=lab.repo / "records")
    flow.pipeline_step(1, T0)
    flow.sign(2, "kadis", T0)
    hook = blocker(tmp_path / "hook")
    at = T0.isoformat()
    done = run(hook, "-m", "sop_pipeline.cli.main", "validate", cwd=lab.repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 berkas diperiksa, 3 sah, 0 ditolak." in done.stdout
    done = run(hook, "-m", "sop_pipeline.cli.main", "verify", RID, "--at", at, cwd=lab.repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SAH (valid)") == 1
    modules = run(
        hook, "-c", "import sys, sop_pipeline.cli.main; print('fcntl' in sys.modules)", cwd=tmp_path
    )
    assert modules.stdout.strip() == "False", modules.stderr
