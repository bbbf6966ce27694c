"""`sop validate --since COMMIT` in a real Git repository: only what changed is checked."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop_pipeline.cli.main import main
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


def test_since_refuses_a_stray_file_and_a_hostname_an_unchanged_request_holds(
    workspace: Workspace,
) -> None:
    # the workspace fixture is a repository with everything committed on main
    simpus = workspace.request_path("dinkes-simpus").read_text()
    (workspace.requests_dir / "x.yml").write_text(simpus)  # .yml: once silently skipped
    copy = workspace.request_path("dinkes-simpus-dua")
    copy.write_text(simpus.replace("dinkes-simpus/", "dinkes-simpus-dua/"))
    (workspace.requests_dir / "dinkes-simpus-dua").mkdir()
    letter = workspace.requests_dir / "dinkes-simpus" / "surat-permintaan.pdf"
    (workspace.requests_dir / "dinkes-simpus-dua" / "surat-permintaan.pdf").write_bytes(
        letter.read_bytes()
    )
    code, out = validate(workspace, "--since", "main")
    assert code == 2
    assert "2 berkas diperiksa, 0 sah, 2 ditolak." in out
    assert "x.yml: 'x.yml' tidak dikenal di folder requests/" in out and "[stray-file]" in out
    assert (
        "dinkes-simpus-dua.yaml:23: hostname: nama 'simpus' juga diminta oleh dinkes-simpus.yaml"
    ) in out


def copy_request(ws: Workspace, request_id: str, hostname: str, vcpu: int) -> None:
    """dinkes-simpus under another id and hostname, asking ``vcpu``, with its letter."""
    text = ws.request_path("dinkes-simpus").read_text()
    text = text.replace("dinkes-simpus/", f"{request_id}/").replace(
        "hostname: simpus", f"hostname: {hostname}"
    )
    ws.request_path(request_id).write_text(text.replace("vcpu: 2", f"vcpu: {vcpu}"))
    (ws.requests_dir / request_id).mkdir(exist_ok=True)
    letter = ws.requests_dir / "dinkes-simpus" / "surat-permintaan.pdf"
    (ws.requests_dir / request_id / "surat-permintaan.pdf").write_bytes(letter.read_bytes())


def test_since_still_checks_the_quota_totals_of_the_opds_it_touches(workspace: Workspace) -> None:
    """Issue 17: --since skipped per-OPD totals, so an MR taking its OPD over quota passed."""
    # On main, DINKES holds dinkes-simpus (2 vCPU) and dinkes-sirs (8): 10 of its 16 vCPU.
    copy_request(workspace, "dinkes-sirs", "sirs", 8)
    git(workspace.root, "add", "-A")
    git(workspace.root, "commit", "-qm", "dinkes-sirs")
    assert validate(workspace, "--since", "main") == (0, "0 berkas diperiksa, 0 sah, 0 ditolak.\n")

    copy_request(workspace, "dinkes-lab", "lab", 7)  # 17 > 16: only this file is checked
    code, out = validate(workspace, "--since", "main")
    assert code == 2
    assert "1 berkas diperiksa, 0 sah, 1 ditolak." in out
    assert "dinkes-lab.yaml" in out and "[opd-quota-total]" in out
    assert (
        "jumlah vcpu semua permintaan OPD DINKES (dinkes-lab, dinkes-simpus, dinkes-sirs) = 17, "
        "melebihi kuota 16"
    ) in out
    assert "dinkes-sirs.yaml:" not in out  # an unchanged peer is counted, not reported

    # within the quota the same change passes: the totals refuse only what is over
    copy_request(workspace, "dinkes-lab", "lab", 6)
    assert validate(workspace, "--since", "main") == (0, "1 berkas diperiksa, 1 sah, 0 ditolak.\n")
