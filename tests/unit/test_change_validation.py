"""`sop validate` reads a change of a live hosting against step 8's last applied record: from
the workspace's records/, or from a records ref (the sop-records branch) with --records."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime

from click.testing import CliRunner

from sop_pipeline.cli.main import main
from sop_pipeline.config import load_policy
from sop_pipeline.domain.sop import PROVISION_STEP
from sop_pipeline.ledger.tracking import STEP_KIND, last_applied
from sop_pipeline.loader import load_request
from sop_pipeline.workspace import Workspace
from tests.conftest import REPO, commit_all

ID = "dinkes-simpus"


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--repo", str(ws.root), *args])
    return result.exit_code, result.output


def _apply(ws: Workspace) -> None:
    """What step 8 records of the request it built (pipeline.step_8_provision): the digest of
    the bytes applied, and their facts as ``data["applied"]``."""
    loaded = load_request(ws.request_path(ID), policy=load_policy(REPO / "inventories"))
    ws.ledgers.for_request(ID).append(
        kind=STEP_KIND,
        step=PROVISION_STEP,
        actor="pipeline",
        at=datetime(2026, 12, 1, 3, 0, tzinfo=UTC),
        inputs={"request": loaded.digest},
        data={"outcome": "done", "applied": loaded.request.as_data()},
    )


def _edit(ws: Workspace, old: str, new: str, *, kind: str = "ubah") -> None:
    """The file edited into a change, with the change's own letter (a new PDF)."""
    path = ws.request_path(ID)
    text = path.read_text()
    assert old in text
    letter = ws.requests_dir / ID / "surat-permintaan.pdf"
    new_letter = letter.with_name("surat-perubahan.pdf")
    new_letter.write_bytes(letter.read_bytes() + b"\n% surat perubahan\n")
    sha = hashlib.sha256(new_letter.read_bytes()).hexdigest()
    old_sha = hashlib.sha256(letter.read_bytes()).hexdigest()
    assert old_sha in text.lower()
    text = text.replace(old_sha, sha).replace(old_sha.upper(), sha)
    text = text.replace(f"{ID}/surat-permintaan.pdf", f"{ID}/surat-perubahan.pdf")
    path.write_text(f"kind: {kind}\n" + text.replace(old, new))


def test_last_applied_is_the_newest_step_8_record(workspace: Workspace) -> None:
    assert last_applied(workspace.ledgers.for_request(ID).records()) is None
    _apply(workspace)
    applied = last_applied(workspace.ledgers.for_request(ID).records())
    assert applied is not None
    assert applied.facts["resources"]["disk_gb"] > 0 and applied.facts["kind"] == "baru"


def test_the_applied_file_itself_stays_valid(workspace: Workspace) -> None:
    _apply(workspace)
    code, out = run(workspace, "validate")
    assert code == 0, out


def test_a_disk_shrink_is_refused_with_file_line_and_rule(workspace: Workspace) -> None:
    _apply(workspace)
    text = workspace.request_path(ID).read_text()
    disk = next(line for line in text.splitlines() if "disk_gb:" in line)
    size = int(disk.split(":")[1])
    _edit(workspace, disk, disk.replace(str(size), str(size - 10)))
    code, out = run(workspace, "validate", "--json")
    assert code == 2, out
    problems = json.loads(out)["invalid"][0]["problems"]
    assert [(p["field"], p["rule"]) for p in problems] == [("resources.disk_gb", "disk-shrink")]
    assert problems[0]["line"] == 1 + text.splitlines().index(disk) + 1  # +1: the kind line
    code, out = run(workspace, "validate")
    assert "disk tidak dapat diperkecil" in out and "[disk-shrink]" in out


def test_a_change_without_kind_and_a_change_of_nothing_are_refused(workspace: Workspace) -> None:
    path = workspace.request_path(ID)
    original = path.read_bytes()
    path.write_text("kind: ubah\n" + original.decode())
    code, out = run(workspace, "validate")
    assert code == 2 and "[kind-not-live]" in out, out
    path.write_bytes(original)
    _apply(workspace)
    path.write_text(original.decode().replace("environment: production", "environment: staging"))
    code, out = run(workspace, "validate")
    assert code == 2 and "[kind-live]" in out, out


def test_records_ref_is_what_the_branch_holds_not_the_work_tree(workspace: Workspace) -> None:
    """An MR cannot hide the applied record: with --records, the records branch decides."""
    _apply(workspace)
    commit_all(workspace.root, "records: step 8")
    subprocess.run(["git", "-C", str(workspace.root), "branch", "sop-records"], check=True)
    text = workspace.request_path(ID).read_text()
    disk = next(line for line in text.splitlines() if "disk_gb:" in line)
    _edit(workspace, disk, "  disk_gb: 10")
    workspace.ledgers.for_request(ID).path.unlink()  # the MR's checkout has no record
    code, out = run(workspace, "validate")
    assert code == 2 and "[kind-not-live]" in out, out  # and without records: nothing to change
    code, out = run(workspace, "validate", "--records", "refs/heads/sop-records")
    assert code == 2 and "[disk-shrink]" in out, out


def test_an_altered_record_is_a_record_fault_not_a_pass(workspace: Workspace) -> None:
    _apply(workspace)
    ledger = workspace.ledgers.for_request(ID).path
    ledger.write_text(ledger.read_text().replace('"disk_gb":', '"disk_gb":1'))
    code, out = run(workspace, "validate")
    assert code == 5, out
