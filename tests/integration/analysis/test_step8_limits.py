"""Step 8 re-checks the hard limits (issue 17): real `sop provision` against the lab Proxmox
(fakepve), BIND and the allocator on loopback, with steps 1-7 signed by the demo officials.

No guest boots: a limit that fails refuses step 8 before anything is held or created.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest
from click.testing import CliRunner

from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.proxmox import ProxmoxAdapter, ProxmoxSettings
from sop_pipeline.cli.main import main
from sop_pipeline.cli.options import reach_infrastructure
from sop_pipeline.config import TrustedConfig, load_pools
from sop_pipeline.demo.officials import Lab, RequestFlow
from sop_pipeline.lab import bind
from sop_pipeline.lab.pve import RunningPve
from sop_pipeline.ledger.tracking import state_of
from sop_pipeline.steps.pipeline import Pipeline
from sop_pipeline.steps.provisioning import ProvisionError, provisioner_for
from sop_pipeline.workspace import Workspace
from tests.integration.test_exit_codes import at, walk_to_step_8

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


def test_an_over_quota_request_is_built_only_with_an_override_signed_at_steps_6_and_7(
    repo: Lab, lab_dir: Path, pve: RunningPve, dns_server: bind.BindInstance
) -> None:
    """The real `sop analyze` says BELUM DAPAT DILAKSANAKAN (DINKES at its quota); step 6
    approve is refused without --override; with the override signed at 6 and named by the
    Kabid at 7, step 8 passes its limits and Terraform creates the one VM. (No guest boots
    here, so step 8 stops at the agent phase: the full build with a guest is the unit flow
    test's and the e2e's part.)"""
    api(pve)._api.nodes("pve2").qemu.post(
        vmid=1500, name="dinkes-lama", cores=16, memory=4096, tags="sop-opd-dinkes",
        scsi0="local-lvm:50",
    )  # fmt: skip
    ws = Workspace(repo.repo)
    minutes = [0]
    reason = "Layanan darurat wabah; tambahan kuota sementara (nota dinas 12/2026)"
    with TrustedConfig.from_commit(repo.repo, "main") as trusted:
        pipeline = Pipeline(ws, trusted=trusted, now=lambda: at(minutes[0]))
        flow = RequestFlow(repo, REQUEST, records=ws.records_dir)
        pipeline.advance(REQUEST)
        for step, who, decision in ((2, "kadis", "approve"), (3, "kabid", "approve")):
            minutes[0] += 5
            flow.sign(step, who, at(minutes[0]), decision)
            pipeline.advance(REQUEST)
        minutes[0] += 5
        flow.sign(4, "koordinator", at(minutes[0]), "complete")
        pipeline.advance(REQUEST)

        analysed = CliRunner().invoke(
            main, ["--repo", str(repo.repo), "analyze", REQUEST, "--lab-dir", str(lab_dir)]
        )
        assert "BELUM DAPAT DILAKSANAKAN" in analysed.output, analysed.output
        report = repo.repo / "records" / "reports" / REQUEST / "laporan-analisis-teknis.md"
        evidence = {report.name: hashlib.sha256(report.read_bytes()).hexdigest()}
        minutes[0] += 5
        plain = flow.sign(6, "teknis1", at(minutes[0]), "approve", evidence=evidence)
        refused = pipeline.advance(REQUEST)
        assert refused.state.next_step == 6, refused  # type: ignore[union-attr]
        gate = CliRunner().invoke(
            main,
            ["--repo", str(repo.repo), "gate", REQUEST, "--step", "7",
             "--at", at(minutes[0] + 1).isoformat()],
        )  # fmt: skip
        assert "[analysis-not-feasible]" in gate.output, gate.output
        for path in plain.parent.glob(plain.name.split(".")[0] + ".*"):
            path.unlink()  # Tim Teknis withdraws it in the MR, unrecorded, and signs again
        flow.sign(6, "teknis1", at(minutes[0]), "approve", evidence=evidence, override=reason)
        pipeline.advance(REQUEST)
        minutes[0] += 5
        flow.sign(7, "kabid", at(minutes[0]), "approve", override=reason)
        assert pipeline.advance(REQUEST).state.next_step == 8  # type: ignore[union-attr]

    verified = CliRunner().invoke(
        main,
        ["--repo", str(repo.repo), "verify", REQUEST, "--at", at(minutes[0] + 1).isoformat()],
    )
    assert verified.exit_code == 0, verified.output
    shown = [line for line in verified.output.splitlines() if "PENGECUALIAN" in line]
    assert len(shown) == 2 and all(reason in line for line in shown), verified.output

    lines: list[str] = []
    infra = reach_infrastructure(lab_dir)
    with TrustedConfig.from_commit(repo.repo, "main") as trusted:
        provisioner = replace(provisioner_for(infra, trusted, lambda: at(60)), agent_timeout=3)
        pipeline = Pipeline(
            ws, trusted=trusted, now=lambda: at(60), log=lines.append, provisioner=provisioner
        )
        with pytest.raises(ProvisionError) as stopped:
            pipeline.advance(REQUEST)
    assert stopped.value.phase == "agent", stopped.value  # past the limits and Terraform
    waived = [line for line in lines if "[override]" in line]
    assert len(waived) == 1 and "kuota OPD DINKES: vCPU 18 melebihi 16" in waived[0], lines
    assert not any("[opd-quota-total]" in line for line in lines)
    ours = [vm for vm in api(pve).vms() if f"sop-req-{REQUEST}" in vm.tags]
    assert len(ours) == 1, ours
