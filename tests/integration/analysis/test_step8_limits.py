"""Step 8 re-checks the hard limits (issue 17): real `sop provision` against the lab Proxmox
(fakepve), BIND and the allocator on loopback, with steps 1-7 signed by the demo officials.

No guest boots: a limit that fails refuses step 8 before anything is held or created.
"""

from __future__ import annotations

from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest
from click.testing import CliRunner

from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.proxmox import ProxmoxAdapter, ProxmoxSettings
from sop_pipeline.cli.main import main
from sop_pipeline.config import load_pools
from sop_pipeline.demo.officials import Lab
from sop_pipeline.lab import bind
from sop_pipeline.lab.pve import RunningPve
from sop_pipeline.ledger.tracking import state_of
from sop_pipeline.workspace import Workspace
from tests.integration.test_exit_codes import walk_to_step_8

pytestmark = pytest.mark.integration

REQUEST = "dinkes-simpus"  # DINKES, 2 vCPU, 4096 MiB, 40 GiB, hostname simpus


def api(pve: RunningPve) -> ProxmoxAdapter:
    return ProxmoxAdapter(
        ProxmoxSettings(endpoint=pve.url, api_token=pve.token, ca_file=pve.cafile)
    )


def name_answers(server: bind.BindInstance, label: str) -> bool:
    query = dns.message.make_query(f"{label}.{bind.ZONE}", "A")
    reply = dns.query.udp(query, server.address, port=server.port, timeout=5)
    return reply.rcode() == dns.rcode.NOERROR and bool(reply.answer)


def test_an_opd_at_its_quota_is_refused_at_step_8_with_nothing_created(
    repo: Lab, lab_dir: Path, pve: RunningPve, dns_server: bind.BindInstance
) -> None:
    walk_to_step_8(repo, REQUEST)  # steps 1-7 signed, the analysis said DAPAT
    # Since the analysis, one hosting of DINKES was built and takes its whole 16 vCPU.
    api(pve)._api.nodes("pve2").qemu.post(
        vmid=1500, name="dinkes-lama", cores=16, memory=4096, tags="sop-opd-dinkes",
        scsi0="local-lvm:50",
    )  # fmt: skip
    before = sorted(vm.vmid for vm in api(pve).vms())

    result = CliRunner().invoke(
        main, ["--repo", str(repo.repo), "provision", REQUEST, "--lab-dir", str(lab_dir)]
    )

    assert result.exit_code == 7, result.output  # a refused gate (errors.ExitCode.GATE)
    assert f"requests/{REQUEST}.yaml: langkah 8 ditolak, batas tidak terpenuhi" in result.output
    assert "kuota OPD DINKES: vCPU 18 melebihi 16" in result.output
    assert "[opd-quota-total]" in result.output
    assert "tidak ada yang dibuat" in result.output
    # nothing created: no VM, no VMID or address held, no DNS record, step 8 not recorded
    assert sorted(vm.vmid for vm in api(pve).vms()) == before
    pools = load_pools(repo.repo / "inventories" / "pools.yaml")
    assert Allocator(pools, f"sqlite:///{lab_dir / 'allocator.sqlite'}").all() == []
    assert not name_answers(dns_server, "simpus")
    assert state_of(Workspace(repo.repo).ledgers, REQUEST).next_step == 8


def test_a_request_approved_and_not_built_counts_against_the_quota(
    repo: Lab, lab_dir: Path, pve: RunningPve, dns_server: bind.BindInstance
) -> None:
    # DINKES holds 12 vCPU on the cluster; dinkes-simpus (2) passes alone, but a second
    # DINKES request approved at step 7 and not built (dinkes-sirs, 4) takes it to 18.
    api(pve)._api.nodes("pve2").qemu.post(
        vmid=1500, name="dinkes-lama", cores=12, memory=4096, tags="sop-opd-dinkes",
        scsi0="local-lvm:50",
    )  # fmt: skip
    simpus = repo.request_file(REQUEST).read_text()
    sirs = simpus.replace(f"{REQUEST}/", "dinkes-sirs/").replace(
        "hostname: simpus", "hostname: sirs"
    )
    repo.request_file("dinkes-sirs").write_text(sirs.replace("vcpu: 2", "vcpu: 4"))
    (repo.repo / "requests" / "dinkes-sirs").mkdir()
    letter = repo.repo / "requests" / REQUEST / "surat-permintaan.pdf"
    (repo.repo / "requests" / "dinkes-sirs" / "surat-permintaan.pdf").write_bytes(
        letter.read_bytes()
    )
    repo.commit("OPD: permintaan kedua DINKES")
    walk_to_step_8(repo, "dinkes-sirs")
    walk_to_step_8(repo, REQUEST)
    before = sorted(vm.vmid for vm in api(pve).vms())

    result = CliRunner().invoke(
        main, ["--repo", str(repo.repo), "provision", REQUEST, "--lab-dir", str(lab_dir)]
    )

    assert result.exit_code == 7, result.output
    assert "kuota OPD DINKES: vCPU 18 melebihi 16" in result.output
    assert "disetujui belum dibangun: dinkes-sirs" in result.output
    assert sorted(vm.vmid for vm in api(pve).vms()) == before
    pools = load_pools(repo.repo / "inventories" / "pools.yaml")
    assert Allocator(pools, f"sqlite:///{lab_dir / 'allocator.sqlite'}").all() == []
    assert not name_answers(dns_server, "simpus")
