"""Step 8's order and failure handling, with in-memory fakes of every port (tests/support).

The same :class:`InfraProvisioner` and :func:`create_vm` that ``sop provision`` runs; only
the outside systems are fakes. The real adapters are tested against real binaries in
tests/integration (terraform/ with the real provider, the lab end to end).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sop_pipeline.adapters.ansible import AnsibleTaskFailed, TaskFailure
from sop_pipeline.adapters.infrastructure import Infrastructure, TsigKey
from sop_pipeline.adapters.proxmox import ExistingVm, OpdUsage
from sop_pipeline.adapters.terraform import CancelledError, RequestBusyError, TerraformError
from sop_pipeline.config import TrustedConfig, load_pools
from sop_pipeline.domain.placement import Demand
from sop_pipeline.domain.policy import Policy
from sop_pipeline.errors import ExitCode, LimitExceeded
from sop_pipeline.loader import load_request
from sop_pipeline.steps.provisioning import InfraProvisioner, ProvisionError
from tests.support.fakes import (
    FakeAllocator,
    FakeAnsible,
    FakeDns,
    FakeLimiter,
    FakePorts,
    FakeProxmox,
    FakeSite,
    FakeTerraform,
    Journal,
    lock_timeout,
)

ROOT = Path(__file__).resolve().parents[2]
RID = "dinkes-simpus"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEi2JptnezdYNyec0JtsKltgffUiJICpRkUS4LHB1m0 admin@sop"


class World:
    """One environment of fakes around the real provisioner."""

    def __init__(self, tmp_path: Path, policy: Policy) -> None:
        self.journal: Journal = []
        pools = load_pools(ROOT / "inventories" / "pools.yaml")
        self.proxmox = FakeProxmox(self.journal)
        self.allocator = FakeAllocator(self.journal, pools["lab"])
        self.dns = FakeDns(self.journal)
        self.ports = FakePorts(self.proxmox, self.allocator, self.dns)
        self.site = FakeSite(self.journal)
        self.ansible = FakeAnsible(self.journal, self.dns, self.site, "simpus")
        self.limiter = FakeLimiter(self.journal)
        self.pauses: list[float] = []
        infra = Infrastructure(
            environment="lab",
            pve_url="https://pve.example.invalid:8006",
            pve_token="root@pam!sop=fake",  # noqa: S106 - fake, never sent
            allocator_dsn=f"sqlite:///{tmp_path / 'unused.sqlite'}",
            dns_server="192.0.2.53",
            tsig=TsigKey("sop-pipeline", "hmac-sha256", "c2VjcmV0"),
            ssh_public_keys=(KEY,),
            ssh_private_key=tmp_path / "id_ed25519",
        )
        self.provisioner = InfraProvisioner(
            infra=infra,
            trusted=TrustedConfig(ROOT, source="the checkout"),  # laid out as a base commit
            now=lambda: datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            ports=lambda: self.ports,
            limiter=self.limiter,
            run_playbook=self.ansible,
            fetch=self.site,
            pauses=[2.0, 4.0, 8.0],
            sleep=self.sleep,
        )
        self.request = load_request(ROOT / "requests" / f"{RID}.yaml", policy=policy)
        self.lines: list[str] = []

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.journal.append(f"sleep {seconds:g}")

    @property
    def runner(self) -> FakeTerraform:
        return self.ports.terraform(RID, self.provisioner.terraform_dir)

    def provision(self) -> object:
        return self.provisioner.provision(self.request, log=self.lines.append)

    def guests(self) -> list[int]:
        return sorted(v.vmid for v in self.proxmox.vms_by_id.values() if not v.template)


@pytest.fixture
def world(tmp_path: Path, policy: Policy) -> World:
    return World(tmp_path, policy)


def test_the_phases_run_in_the_sop_order(world: World) -> None:
    result = world.provision()
    assert world.journal == [
        # 3. allocate: the cluster is asked again, the hard limits checked (name, address,
        #    OPD quota, node room), then the VMID and address are held
        "proxmox.vms",
        "dns.name_is_free",
        "allocator.peek",
        "proxmox.opd_usage",
        "proxmox.capacity",
        "allocator.allocate",
        # 4. terraform: lease, lock, working copy; adopt, plan, apply inside the node's slot
        "allocator.lease",
        "terraform.lock",
        "terraform.prepare",
        "terraform.init",
        "slot.take pve1",
        "terraform.state_has_vm",
        "proxmox.find_request_vm",
        "terraform.plan",
        "terraform.apply",
        "slot.give pve1",
        "allocator.unlease",
        # 5. agent, 6. ansible, 7. dns, 8. http
        "proxmox.wait_for_address",
        "proxmox.host_keys",
        "ansible.run",
        "dns.resolves_to",
        "proxmox.read_guest_file",
        "http.get",
        # 9. backup: the job joined, the first backup run and its archive returned
        f"backups.ensure_job sop-{RID}",
        "backups.backup_now 1000",
    ]
    assert getattr(result, "vmid", None) == 1000 and getattr(result, "node", None) == "pve1"
    assert world.runner.tfvars["vmid"] == 1000 and world.runner.tfvars["node_name"] == "pve1"
    applies = [ln for ln in world.lines if "terraform apply" in ln]
    assert applies == [
        f"{RID}:   terraform apply dimulai di node pve1 (slot 1)",
        f"{RID}:   terraform apply selesai",
    ]
    assert world.guests() == [1000] and world.limiter.most == 1


def test_a_lock_timeout_twice_then_success_retries_with_the_slot_given_back(world: World) -> None:
    world.runner.apply_errors = [lock_timeout(), lock_timeout()]
    world.provision()
    assert world.pauses == [2.0, 4.0]
    around = [e for e in world.journal if e.startswith(("slot.", "sleep", "terraform.apply"))]
    assert around == [
        "slot.take pve1", "terraform.apply", "slot.give pve1", "sleep 2",
        "slot.take pve1", "terraform.apply", "slot.give pve1", "sleep 4",
        "slot.take pve1", "terraform.apply", "slot.give pve1",
    ]  # fmt: skip
    assert world.guests() == [1000] and RID in world.allocator.held
    assert "allocator.release" not in world.journal


def test_lock_timeouts_beyond_the_bound_fail_and_release(world: World) -> None:
    world.runner.apply_errors = [lock_timeout() for _ in range(4)]
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert caught.value.phase == "terraform" and world.pauses == [2.0, 4.0, 8.0]
    assert world.guests() == [] and world.allocator.held == {}


def test_an_apply_failure_with_no_vm_left_releases_the_allocation(world: World) -> None:
    world.runner.apply_errors = [TerraformError("Kloning template gagal", detail="no space")]
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert caught.value.phase == "terraform" and "Kloning template gagal" in caught.value.cause
    assert world.guests() == [] and world.allocator.held == {}
    assert world.journal[-3:] == ["proxmox.vms", "allocator.release", "allocator.unlease"]
    assert "proxmox.wait_for_address" not in world.journal  # nothing after the failed phase
    assert any("VMID 1000 dan IP 10.99.0.100 dilepas" in ln for ln in world.lines)


def test_an_apply_failure_with_a_vm_left_keeps_it_and_the_rerun_adopts(world: World) -> None:
    world.runner.apply_errors = [TerraformError("Perintah 'terraform apply' gagal")]
    world.runner.vm_left_on_failure = True
    with pytest.raises(ProvisionError):
        world.provision()
    assert world.guests() == [1000] and world.allocator.held[RID].vmid == 1000
    assert "allocator.release" not in world.journal

    world.journal.clear()
    world.provision()  # the re-run adopts the VM left behind: still one VM, same VMID
    assert world.journal.index("terraform.import") < world.journal.index("terraform.plan")
    assert world.guests() == [1000] and world.allocator.held[RID].vmid == 1000


def test_a_cancelled_run_releases_nothing(world: World) -> None:
    world.runner.apply_errors = [CancelledError("dihentikan (SIGINT)")]
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert isinstance(caught.value.__cause__, CancelledError)
    assert RID in world.allocator.held and "allocator.release" not in world.journal


def test_a_request_held_by_another_run_exits_busy_and_keeps_everything(world: World) -> None:
    world.runner.apply_errors = [RequestBusyError("state sedang dipegang proses lain")]
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert caught.value.exit_code == ExitCode.BUSY  # 75: the CI job may retry later
    assert RID in world.allocator.held and "allocator.release" not in world.journal


def test_an_outside_failure_exits_outside(world: World) -> None:
    world.runner.apply_errors = [TerraformError("Perintah 'terraform apply' gagal")]
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert caught.value.exit_code == ExitCode.OUTSIDE


def test_no_release_when_proxmox_cannot_confirm_the_vm_is_absent(world: World) -> None:
    world.runner.apply_errors = [TerraformError("Perintah 'terraform apply' gagal")]
    world.runner.on_failure = lambda: setattr(world.proxmox, "reachable", False)
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert "terraform apply" in caught.value.cause  # the apply's error, not the check's
    assert RID in world.allocator.held and "allocator.release" not in world.journal


def test_an_unreachable_api_stops_before_anything_is_allocated(world: World) -> None:
    world.proxmox.reachable = False
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert caught.value.phase == "allocate"
    assert world.allocator.held == {} and "allocator.allocate" not in world.journal


def test_a_full_template_node_places_the_vm_on_another(world: World) -> None:
    world.proxmox.full = frozenset({"pve1"})
    result = world.provision()
    assert getattr(result, "node", None) == "pve2" and world.runner.tfvars["node_name"] == "pve2"
    assert "slot.take pve2" in world.journal


def test_an_ansible_failure_reports_its_phase_and_leaves_dns_untouched(world: World) -> None:
    world.ansible.error = AnsibleTaskFailed(
        "tugas gagal",
        failures=[TaskFailure("10.99.0.100", "Install nginx", "no package")],
        result=None,
    )
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert caught.value.phase == "ansible"
    assert "Ansible mengonfigurasi server" in str(caught.value)
    assert world.journal[-1] == "ansible.run"  # no DNS check, no HTTP check after it
    assert world.dns.records == {} and "dns.resolves_to" not in world.journal
    assert world.guests() == [1000] and RID in world.allocator.held  # the VM stays as it is


def test_the_first_backup_is_a_check_of_the_handover(world: World) -> None:
    result = world.provision()
    (job,) = world.ports.backups.jobs_by_id.values()
    assert job.vmid == 1000 and job.job_id == f"sop-{RID}"
    # dinkes-simpus declares terbatas: the retention of that classification
    assert job.prune_backups == "keep-daily=14,keep-weekly=8,keep-monthly=6"
    checks = getattr(result, "checks", ())
    assert checks[-1].name == "Cadangan pertama" and checks[-1].ok
    assert checks[-1].detail.startswith("backup:backup/vzdump-qemu-1000-")


def test_a_failed_first_backup_stops_step_8_before_it_is_recorded(world: World) -> None:
    world.ports.backups.failing = True
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert caught.value.phase == "backup" and "job errors" in str(caught.value)
    assert "belum ada cadangan yang terkonfirmasi" in caught.value.diagnostics()
    assert world.journal[-1] == "backups.backup_now 1000"
    assert world.guests() == [1000]  # the hosting stays; a re-run backs it up


def test_a_name_dns_does_not_give_fails_in_the_dns_phase(world: World) -> None:
    world.ansible.hostname = "lain"  # the record went elsewhere
    with pytest.raises(ProvisionError) as caught:
        world.provision()
    assert caught.value.phase == "dns" and "http.get" not in world.journal


# ------------------------------------------------------------------ step 8's hard limits


def test_an_opd_at_its_quota_is_refused_at_step_8_with_nothing_held(world: World) -> None:
    world.proxmox.held["DINKES"] = OpdUsage(vms=1, vcpu=16, memory_mb=8192, disk_gb=100)
    with pytest.raises(LimitExceeded) as caught:
        world.provision()
    text = caught.value.diagnostics()
    assert caught.value.exit_code == ExitCode.GATE
    assert text.startswith("requests/dinkes-simpus.yaml: langkah 8 ditolak")
    assert "kuota OPD DINKES: vCPU 18 melebihi 16" in text and "[opd-quota-total]" in text
    assert "allocator.allocate" not in world.journal and "allocator.lease" not in world.journal
    assert world.allocator.held == {} and world.guests() == [] and world.dns.records == {}


def test_approved_unbuilt_requests_count_against_the_quota(world: World) -> None:
    pending = [Demand("dinkes-sirs", "DINKES", 14, 4096, 40), Demand("x", "BPBD", 99, 1, 1)]
    world.proxmox.held["DINKES"] = OpdUsage(vms=1, vcpu=1, memory_mb=1024, disk_gb=10)
    with pytest.raises(LimitExceeded, match="disetujui belum dibangun: dinkes-sirs"):
        world.provisioner.provision(world.request, log=world.lines.append, pending=pending)
    assert world.allocator.held == {} and world.guests() == []
    # the same pending request already built is on the cluster, not counted twice
    world.proxmox.vms_by_id[4242] = ExistingVm(
        4242, "pve2", "dinkes-sirs", ("sop-req-dinkes-sirs",), False
    )
    world.provisioner.provision(world.request, log=world.lines.append, pending=pending)
    assert RID in world.allocator.held


def test_a_name_another_owner_holds_in_dns_is_refused(world: World) -> None:
    world.dns.records["simpus"] = "10.0.0.9"
    world.dns.owners["simpus"] = "dinkes-lain"
    with pytest.raises(
        LimitExceeded, match=r"simpus\.\S+ sudah dipakai di DNS .*\[dns-name-taken\]"
    ):
        world.provision()
    assert world.allocator.held == {} and world.guests() == []


def test_no_node_with_room_is_refused_as_a_limit(world: World) -> None:
    world.proxmox.full = frozenset({"pve1", "pve2"})
    with pytest.raises(LimitExceeded, match=r"\[node-capacity\]"):
        world.provision()
    assert world.allocator.held == {} and world.guests() == []


def test_a_signed_override_waives_the_quota_and_the_log_says_so(world: World) -> None:
    world.proxmox.held["DINKES"] = OpdUsage(vms=1, vcpu=16, memory_mb=8192, disk_gb=100)
    reason = "Layanan darurat wabah; kuota DINKES ditambah sementara (nota dinas 12/2026)"
    result = world.provisioner.provision(world.request, log=world.lines.append, override=reason)
    assert getattr(result, "vmid", None) == 1000 and world.guests() == [1000]
    waived = [line for line in world.lines if "[override]" in line]
    assert len(waived) == 1, world.lines
    assert "kuota OPD DINKES: vCPU 18 melebihi 16" in waived[0] and reason in waived[0]


def test_an_override_waives_nothing_physical(world: World) -> None:
    world.proxmox.held["DINKES"] = OpdUsage(vms=1, vcpu=16, memory_mb=8192, disk_gb=100)
    world.proxmox.full = frozenset({"pve1", "pve2"})
    with pytest.raises(LimitExceeded) as caught:
        world.provisioner.provision(world.request, log=world.lines.append, override="darurat")
    text = caught.value.diagnostics()
    assert "[node-capacity]" in text and "[opd-quota-total]" not in text
    assert world.allocator.held == {} and world.guests() == []
