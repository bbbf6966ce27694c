"""The `sop` command through click's runner, on a scratch copy of the repository."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from sop_pipeline.cli.main import main
from sop_pipeline.workspace import Workspace
from tests.conftest import ASSETS


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--repo", str(ws.root), *args])
    return result.exit_code, result.output


def test_help_documents_the_exit_codes(workspace: Workspace) -> None:
    code, out = run(workspace, "--help")
    assert code == 0 and "Exit codes:" in out and "5  a record (ledger)" in out


def test_validate_all_example_requests(workspace: Workspace) -> None:
    code, out = run(workspace, "validate")
    assert code == 0
    assert out.strip().endswith("3 berkas diperiksa, 3 sah, 0 ditolak.")


def test_validate_refuses_with_file_line_field_rule(workspace: Workspace) -> None:
    bad = workspace.requests_dir / "several-problems.yaml"
    shutil.copy(ASSETS / "requests" / "invalid" / "several-problems.yaml", bad)
    code, out = run(workspace, "validate", str(bad))
    assert code == 2
    assert f"{bad}:21: application.stack: 'java' nilai tidak termasuk pilihan" in out
    assert "1 berkas diperiksa, 0 sah, 1 ditolak." in out
    code, out = run(workspace, "validate", "--json", str(bad))
    assert json.loads(out)["invalid"][0]["problems"][0]["rule"] == "required"


def test_opd_totals_over_all_requests(workspace: Workspace) -> None:
    source = (workspace.requests_dir / "bpbd-peringatan-dini.yaml").read_text()
    for n in range(4):  # BPBD may hold 4 VMs: five requests exceed it
        copy = source.replace("hostname: peringatandini", f"hostname: pd{n}").replace(
            "bpbd-peringatan-dini/", f"bpbd-pd{n}/"
        )
        (workspace.requests_dir / f"bpbd-pd{n}.yaml").write_text(copy)
        shutil.copytree(
            workspace.requests_dir / "bpbd-peringatan-dini", workspace.requests_dir / f"bpbd-pd{n}"
        )
    code, out = run(workspace, "validate")
    assert code == 2 and "[opd-quota-total]" in out and "5 ditolak" in out


def test_submit_status_and_audit(workspace: Workspace) -> None:
    code, out = run(workspace, "submit", "dinkes-simpus", "--at", "2026-11-30T09:00+07:00")
    assert code == 0, out
    # Steps 5, 8 and 9 are the pipeline's (`sop run`, `sop provision`): no command records
    # them by hand, so step 8 can never be marked done without its gate.
    code, out = run(workspace, "record", "dinkes-simpus", "--step", "8", "--actor", "x")
    assert code == 64 and "No such command 'record'" in out  # a usage error, not a refusal
    code, out = run(
        workspace, "status", "dinkes-simpus", "--json", "--now", "2026-11-30T09:10+07:00"
    )
    status = json.loads(out)
    assert status["next_step"] == 2
    assert [(s["step"], s["breached"]) for s in status["steps"]] == [(1, False), (2, True)]
    code, out = run(workspace, "status")
    assert code == 0 and "dinkes-simpus" in out and "Kepala Dinas" in out
    code, out = run(workspace, "audit")
    assert code == 0 and "UTUH" in out
    ledger = workspace.ledgers.for_request("dinkes-simpus").path
    ledger.write_bytes(ledger.read_bytes().replace(b"09:00", b"08:00"))
    code, out = run(workspace, "audit")
    assert code == 5 and f"{ledger}:1:" in out


def test_submit_refuses_an_invalid_request(workspace: Workspace) -> None:
    path = workspace.request_path("dinkes-simpus")
    path.write_text(path.read_text().replace("vcpu: 2", "vcpu: 99"))
    code, out = run(workspace, "submit", "dinkes-simpus")
    assert code == 2 and "[size-range]" in out
    assert not workspace.ledgers.for_request("dinkes-simpus").path.exists()


def test_status_speaks_indonesian_in_working_days(workspace: Workspace) -> None:
    code, _ = run(workspace, "submit", "dinkes-simpus", "--at", "2026-11-02T09:00+07:00")
    assert code == 0
    code, out = run(workspace, "status", "dinkes-simpus", "--now", "2026-11-25T10:00+07:00")
    assert code == 0, out
    lines = out.splitlines()
    submitted = next(line for line in lines if line.startswith(" 1 "))
    waiting = next(line for line in lines if line.startswith(" 2 "))
    assert submitted.endswith("selesai; sesuai target")
    assert "hari kerja" in waiting and waiting.endswith("  LEWAT target")
    assert " j " not in out and "mnt" not in out and "done" not in out


def test_unknown_request_ids_are_refused_with_their_own_code(workspace: Workspace) -> None:
    for args in (("status", "no-such-id"), ("submit", "no-such-id"), ("run", "no-such-id")):
        code, out = run(workspace, *args)
        assert code == 8 and "[unknown-request]" in out, (args, out)


def test_steps_and_audit_report_json(workspace: Workspace) -> None:
    code, out = run(workspace, "steps", "--json")
    steps = json.loads(out)
    assert code == 0 and [s["step"] for s in steps] == list(range(1, 13))
    code, out = run(workspace, "audit", "--json")
    assert code == 0 and json.loads(out) == {"ledgers": 0, "faults": []}
