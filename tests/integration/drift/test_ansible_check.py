"""``sop drift``'s Ansible check when the server cannot be reached: a failed check, exit 10.

The real adapter (:class:`~sop_pipeline.adapters.ansible_drift.AnsibleDrift`) runs the real
``site.yml`` with ``--check --diff`` through ansible-runner against a loopback port nothing
listens on; the run ends unreachable, and ``check_drift`` reports the check as failed (never
"no drift"). The check on a real guest is tests/integration/ansible/test_site.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from sop_pipeline.adapters import ansible
from sop_pipeline.adapters.ansible_drift import AnsibleDrift
from sop_pipeline.domain.drift import Hosting
from sop_pipeline.errors import ExitCode
from sop_pipeline.steps.drift import DriftSources, HostingLookup, check_drift, exit_code
from tests.conftest import REPO
from tests.support.fakes import FakeDriftSystems

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"
HOSTING = Hosting(RID, 9101, "pve1", "simpus.sumbarprov.go.id", "127.0.0.1", 2, 2048, frozenset())


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_fails_the_check_never_no_drift(tmp_path: Path) -> None:
    if shutil.which("ansible-playbook") is None or shutil.which("ssh-keygen") is None:
        if os.environ.get("CI"):
            pytest.fail("ansible-playbook is missing: run .ci/setup/ansible.sh")
        pytest.skip("ansible-playbook is missing")
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    host_key = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    extravars = {
        "sop_request_id": RID,
        "sop_request": {
            "hostname": "simpus",
            "opd": {"code": "dinkes", "name": "Dinas Kesehatan"},
            "application": {"name": "SIMPUS", "kind": "application", "stack": "php"},
        },
        "sop_vm_address": "127.0.0.1",
        "sop_connect_timeout": 3,
    }
    systems = FakeDriftSystems()
    sources = DriftSources(
        proxmox=systems,
        zone=systems,
        zone_name="sumbarprov.go.id",
        allocator=systems,
        ansible=AnsibleDrift(
            tree=ansible.AnsibleTree.under(REPO),
            environment="lab",
            private_key=key,
            admin_user="sopadmin",
            host_keys=lambda _h: [host_key],
            extravars=lambda _h: extravars,
            ssh_port=_closed_port(),
            timeout=300,
        ),
    )
    report = check_drift(HostingLookup((HOSTING,), {}, (RID,)), sources)
    status = report.checks[f"ansible:{RID}"]
    assert status.startswith("gagal") and "tidak dapat dihubungi" in status, status
    assert [i for i in report.items if i.source == "ansible"] == []
    assert exit_code(report) == ExitCode.DRIFT_CHECK_FAILED

    # Without the pipeline's SSH key the check fails too, by name.
    sources.ansible = AnsibleDrift(
        tree=ansible.AnsibleTree.under(REPO),
        environment="lab",
        private_key=None,
        admin_user="sopadmin",
        host_keys=lambda _h: [host_key],
        extravars=lambda _h: extravars,
    )
    report = check_drift(HostingLookup((HOSTING,), {}, (RID,)), sources)
    assert "SOP_SSH_KEY_FILE" in report.checks[f"ansible:{RID}"]
    assert exit_code(report) == ExitCode.DRIFT_CHECK_FAILED
