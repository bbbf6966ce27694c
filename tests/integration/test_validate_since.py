"""`sop validate --since COMMIT` in a real Git repository: only what changed is checked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop_pipeline.cli import main
from sop_pipeline.workspace import Workspace

pytestmark = pytest.mark.integration

GIT_ENV = {
    "GIT_AUTHOR_NAME": "OPD",
    "GIT_AUTHOR_EMAIL": "opd@sumbarprov.go.id",
    "GIT_COMMITTER_NAME": "OPD",
    "GIT_COMMITTER_EMAIL": "opd@sumbarprov.go.id",
}


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), *args],
        check=True,
        capture_output=True,
        env={**os.environ, **GIT_ENV},
    )


def validate(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--repo", str(ws.root), "validate", *args])
    return result.exit_code, result.output


def test_since_checks_changed_requests_and_those_whose_letter_changed(workspace: Workspace) -> None:
    # The workspace fixture has committed requests and inventories on main.
    assert validate(workspace, "--since", "main") == (0, "0 berkas diperiksa, 0 sah, 0 ditolak.\n")

    simpus = workspace.request_path("dinkes-simpus")
    simpus.write_text(simpus.read_text().replace("vcpu: 2", "vcpu: 3"))
    letter = workspace.requests_dir / "bpbd-peringatan-dini" / "surat-permintaan.pdf"
    letter.write_bytes(letter.read_bytes() + b"\n")  # its declared sha256 no longer matches
    new = workspace.request_path("baru")
    new.write_text("hostname: [\n")  # untracked files count as changed too
    code, out = validate(workspace, "--since", "main")
    assert code == 2
    assert "3 berkas diperiksa, 1 sah, 2 ditolak." in out
    assert "bpbd-peringatan-dini.yaml:15: letter.sha256:" in out
    assert "baru.yaml" in out and "disdik" not in out


def test_since_an_unknown_commit_is_a_clear_git_error(workspace: Workspace) -> None:
    git(workspace.root, "init", "-q")
    code, out = validate(workspace, "--since", "no-such-branch")
    assert code == 4 and "git diff" in out
