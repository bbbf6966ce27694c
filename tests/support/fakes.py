"""In-memory fakes of step 8's ports (:mod:`sop_pipeline.ports`), for fast tests of its order
and of what it does on each failure. The real adapters have their own tests against real
binaries and servers (tests/integration); these fakes only keep the state a port would keep
(VMs on a cluster, allocations, a Terraform state, DNS records) and write every call to one
shared journal, so a test can read the order of calls across systems.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sop_pipeline.adapters import ansible
from sop_pipeline.adapters.allocator import Allocation, AllocationError, Pool, RequestLeasedError
from sop_pipeline.adapters.backups import BackupError
from sop_pipeline.adapters.proxmox import ExistingVm, NodeFit, OpdUsage, ProxmoxError
from sop_pipeline.adapters.terraform import PlanSummary, RequestBusyError, TerraformError
from sop_pipeline.domain.backups import Backup, BackupJob
from sop_pipeline.steps.provisioning import SiteAnswer

TEMPLATE = ExistingVm(
    vmid=9000, node="pve1", name="debian-12-cloudinit", tags=("sop-template",), template=True
)
LOCK_TIMEOUT_DETAIL = "can't lock file '/var/lock/qemu-server/lock-9000.conf' - got timeout"

Journal = list[str]


def lock_timeout() -> TerraformError:
    """The error the Terraform adapter raises for PVE's config-lock timeout."""
    return TerraformError("Proxmox sedang sibuk", detail=LOCK_TIMEOUT_DETAIL, returncode=1)


@dataclass
class FakeProxmox:
    """A cluster: templates and VMs by VMID, node room, and the guest agent's answers."""

    journal: Journal
    vms_by_id: dict[int, ExistingVm] = field(default_factory=lambda: {TEMPLATE.vmid: TEMPLATE})
    nodes: tuple[str, ...] = ("pve1", "pve2")
    full: frozenset[str] = frozenset()
    #: What the agent of each VM reports (set by FakeTerraform when it creates the VM).
    addresses: dict[int, str] = field(default_factory=dict)
    reachable: bool = True
    #: What each OPD holds on the cluster (by OPD code; nothing when absent).
    held: dict[str, OpdUsage] = field(default_factory=dict)

    def _ask(self, what: str) -> None:
        self.journal.append(f"proxmox.{what}")
        if not self.reachable:
            raise ProxmoxError("API Proxmox tidak dapat dihubungi")

    def vms(self) -> list[ExistingVm]:
        self._ask("vms")
        return list(self.vms_by_id.values())

    def capacity(self, *, vcpu: int, memory_mb: int, disk_gb: int) -> list[NodeFit]:
        self._ask("capacity")
        return [
            NodeFit(n, True, 0, 0, 0, fits=False)
            if n in self.full
            else NodeFit(n, True, 64, 131072, 1000, fits=True)
            for n in self.nodes
        ]

    def opd_usage(self, opd_code: str) -> OpdUsage:
        self._ask("opd_usage")
        return self.held.get(opd_code, OpdUsage(0, 0, 0, 0))

    def find_request_vm(self, vmid: int, request_id: str) -> ExistingVm | None:
        self._ask("find_request_vm")
        vm = self.vms_by_id.get(vmid)
        return vm if vm is not None and f"sop-req-{request_id}" in vm.tags else None

    def wait_for_address(
        self, node: str, vmid: int, *, timeout: float = 300.0, interval: float = 2.0
    ) -> str:
        self._ask("wait_for_address")
        if vmid not in self.addresses:
            raise ProxmoxError(f"agen VM {vmid} tidak menjawab")
        return self.addresses[vmid]

    def host_keys(self, node: str, vmid: int) -> list[str]:
        self._ask("host_keys")
        return ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEi2JptnezdYNyec0JtsKltgffUiJICpRkUS4LHB1m0"]

    def read_guest_file(self, node: str, vmid: int, path: str) -> str:
        self._ask("read_guest_file")
        return "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n"


@dataclass
class FakeAllocator:
    """Allocations by request (lowest free VMID and address), and leases held in memory."""

    journal: Journal
    pool: Pool
    held: dict[str, Allocation] = field(default_factory=dict)
    leased: set[str] = field(default_factory=set)

    def allocate(self, request_id: str, environment: str) -> Allocation:
        self.journal.append("allocator.allocate")
        if request_id not in self.held:
            used = {a.vmid for a in self.held.values()}
            free = range(self.pool.vmid_first, self.pool.vmid_last + 1)
            vmid = next(v for v in free if v not in used)
            ip = str(self.pool.first + (vmid - self.pool.vmid_first))
            self.held[request_id] = Allocation(request_id, self.pool, vmid, ip)
        return self.held[request_id]

    def peek(self, request_id: str, environment: str) -> Allocation | None:
        self.journal.append("allocator.peek")
        if request_id in self.held:
            return self.held[request_id]
        used = {a.vmid for a in self.held.values()}
        free = range(self.pool.vmid_first, self.pool.vmid_last + 1)
        vmid = next((v for v in free if v not in used), None)
        if vmid is None:
            return None
        ip = str(self.pool.first + (vmid - self.pool.vmid_first))
        return Allocation(request_id, self.pool, vmid, ip)

    def release(self, request_id: str, environment: str, *, confirmed_absent_vmid: int) -> bool:
        self.journal.append("allocator.release")
        alloc = self.held.get(request_id)
        if alloc is None:
            return False
        if alloc.vmid != confirmed_absent_vmid:
            raise AllocationError(f"{request_id}: VMID {alloc.vmid} belum dipastikan terhapus")
        del self.held[request_id]
        return True

    @contextlib.contextmanager
    def lease(self, request_id: str) -> Iterator[None]:
        if request_id in self.leased:
            raise RequestLeasedError(f"Permohonan {request_id} sedang diproses oleh runner lain")
        self.journal.append("allocator.lease")
        self.leased.add(request_id)
        try:
            yield
        finally:
            self.leased.discard(request_id)
            self.journal.append("allocator.unlease")


@dataclass
class FakeTerraform:
    """One request's stack: a state that holds the VM or not; ``apply`` creates it on the
    cluster. ``apply_errors`` are raised by the first applies, in order; with
    ``vm_left_on_failure`` a failing apply leaves the VM on the cluster outside the state
    (as a killed or failed clone can)."""

    journal: Journal
    cluster: FakeProxmox
    request_id: str
    apply_errors: list[TerraformError] = field(default_factory=list)
    vm_left_on_failure: bool = False
    #: Called when an apply fails (e.g. to take the cluster's API away).
    on_failure: Callable[[], None] | None = None
    in_state: bool = False
    tfvars: dict[str, Any] = field(default_factory=dict)
    locked: bool = False
    stopped: tuple[tuple[int, str], ...] = ()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        if self.locked:
            raise RequestBusyError(f"Permohonan {self.request_id} sedang diproses")
        self.journal.append("terraform.lock")
        self.locked = True
        try:
            yield
        finally:
            self.locked = False

    def prepare(self, tfvars: Mapping[str, Any]) -> None:
        self.journal.append("terraform.prepare")
        self.tfvars = dict(tfvars)

    def init(self) -> float:
        self.journal.append("terraform.init")
        return 0.0

    def state_has_vm(self) -> bool:
        self.journal.append("terraform.state_has_vm")
        return self.in_state

    def import_vm(self, node: str, vmid: int) -> None:
        self.journal.append("terraform.import")
        self.in_state = True

    def plan(self, *, destroy: bool = False, detailed: bool = True) -> PlanSummary:
        self.journal.append("terraform.plan")
        add = 0 if self.in_state else 1
        return PlanSummary(add=add, change=0, destroy=0, text=f"{add} ditambah")

    def show_plan(self) -> dict[str, Any]:
        """No plan JSON in the fake: a change's guard sees nothing to classify."""
        self.journal.append("terraform.show")
        return {"resource_changes": []}

    def apply(self) -> None:
        self.journal.append("terraform.apply")
        vmid = int(self.tfvars["vmid"])
        if self.apply_errors:
            if self.vm_left_on_failure:
                self._create(vmid)
            if self.on_failure is not None:
                self.on_failure()
            raise self.apply_errors.pop(0)
        self._create(vmid)
        self.in_state = True

    def _create(self, vmid: int) -> None:
        self.cluster.vms_by_id[vmid] = ExistingVm(
            vmid=vmid,
            node=str(self.tfvars["node_name"]),
            name=self.request_id,
            tags=(f"sop-req-{self.request_id}", "sop-pipeline"),
            template=False,
        )
        self.cluster.addresses[vmid] = str(self.tfvars["network"]["ipv4"])


@dataclass
class FakeDns:
    """The primary's A records; Ansible's dns_record role would publish them."""

    journal: Journal
    records: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # the ownership TXT, by label

    def resolves_to(self, label: str, ip: str) -> bool:
        self.journal.append("dns.resolves_to")
        return self.records.get(label) == ip

    def name_is_free(self, label: str) -> bool:
        self.journal.append("dns.name_is_free")
        return label not in self.records

    def owner_of(self, label: str) -> str | None:
        return self.owners.get(label)


@dataclass
class FakeBackups:
    """Proxmox's backup jobs and archives; ``failing`` makes the next backups fail."""

    journal: Journal
    jobs_by_id: dict[str, BackupJob] = field(default_factory=dict)
    archives: list[Backup] = field(default_factory=list)
    failing: bool = False
    clock: datetime = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)

    def ensure_job(self, job: BackupJob) -> None:
        self.journal.append(f"backups.ensure_job {job.job_id}")
        self.jobs_by_id[job.job_id] = job

    def jobs(self) -> list[BackupJob]:
        self.journal.append("backups.jobs")
        return list(self.jobs_by_id.values())

    def backup_now(self, node: str, job: BackupJob, *, timeout: float = 0.0) -> Backup:
        self.journal.append(f"backups.backup_now {job.vmid}")
        if self.failing:
            raise BackupError(f"Pencadangan VM {job.vmid} gagal (job errors)")
        stamp = self.clock + timedelta(seconds=len(self.archives))
        made = Backup(
            volid=f"{job.storage}:backup/vzdump-qemu-{job.vmid}-{stamp:%Y_%m_%d-%H_%M_%S}.tar.zst",
            vmid=job.vmid,
            ctime=stamp,
            size=1024,
        )
        self.archives.append(made)
        return made

    def backups(self, storage: str, vmid: int | None = None) -> list[Backup]:
        self.journal.append("backups.backups")
        return [b for b in self.archives if vmid is None or b.vmid == vmid]


@dataclass
class FakePorts:
    """The adapters of one environment (``Infrastructure.open``), all in memory."""

    proxmox: FakeProxmox
    allocator: FakeAllocator
    dns: FakeDns
    runners: dict[str, FakeTerraform] = field(default_factory=dict)
    backups: FakeBackups = None  # type: ignore[assignment]  # made on the proxmox journal

    def __post_init__(self) -> None:
        if self.backups is None:
            self.backups = FakeBackups(self.proxmox.journal)

    def terraform(self, request_id: str, source_dir: Path) -> FakeTerraform:
        if request_id not in self.runners:
            self.runners[request_id] = FakeTerraform(self.proxmox.journal, self.proxmox, request_id)
        return self.runners[request_id]


@dataclass
class FakeSite:
    """The site as HTTPS would show it: the request's page at the VM's address."""

    journal: Journal
    pages: dict[str, str] = field(default_factory=dict)

    def __call__(
        self, fqdn: str, address: str, cafile_text: str | None, *, timeout: float
    ) -> SiteAnswer:
        self.journal.append("http.get")
        body = self.pages.get(address)
        return SiteAnswer(address, 200 if body is not None else 404, body or "")


@dataclass
class FakeAnsible:
    """``run_playbook``: serves the request's page and publishes its DNS record (as the web
    and dns_record roles do), or fails with ``error``."""

    journal: Journal
    dns: FakeDns
    site: FakeSite
    hostname: str
    error: ansible.AnsibleError | None = None
    calls: list[dict[str, Any]] = field(default_factory=list)

    def __call__(
        self,
        playbook: str,
        *,
        target: ansible.SshTarget,
        extravars: Mapping[str, Any],
        tree: ansible.AnsibleTree,
        environment: str = "lab",
        tuning: ansible.Tuning = ansible.Tuning.AUTO,
        timeout: int = 1800,
        on_event: Callable[[Mapping[str, Any]], None] | None = None,
        run_scope: str = "",
    ) -> ansible.PlaybookResult:
        self.journal.append("ansible.run")
        self.calls.append(
            {"playbook": playbook, "target": target, "extravars": dict(extravars), "tree": tree}
        )
        if self.error is not None:
            raise self.error
        self.site.pages[target.address] = f"<title>{extravars['sop_request_id']}</title>"
        self.dns.records[self.hostname] = target.address
        return ansible.PlaybookResult(
            playbook=playbook,
            status="successful",
            rc=0,
            tuning=ansible.Tuning.DEFAULTS,
            seconds=0.0,
            stats={target.address: ansible.HostStats(ok=40, changed=12)},
            changed_tasks=(),
            failures=(),
            unreachable=(),
        )


@dataclass
class FakeLimiter:
    """The per-node bound, counting holders per node (the real one is tested with processes)."""

    journal: Journal
    holding: dict[str, int] = field(default_factory=dict)
    most: int = 0

    @contextlib.contextmanager
    def slot(self, node: str) -> Iterator[int]:
        self.journal.append(f"slot.take {node}")
        self.holding[node] = self.holding.get(node, 0) + 1
        self.most = max(self.most, self.holding[node])
        try:
            yield self.holding[node] - 1
        finally:
            self.holding[node] -= 1
            self.journal.append(f"slot.give {node}")


# ------------------------------------------------------------------ sop drift's ports


@dataclass
class FakeDriftSystems:
    """In-memory ``ClusterPort``, ``ZonePort`` and ``LeasesPort``: a cluster, a zone and an
    allocator holding what the fields say."""

    vms: list[Any] = field(default_factory=list)
    records: list[tuple[str, str, str]] = field(default_factory=list)
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    reverse: list[tuple[str, str, str]] | None = None

    def cluster_vms(self, *, protection_of: Any = ()) -> list[Any]:
        return list(self.vms)

    def zone_records(self) -> list[tuple[str, str, str]]:
        return list(self.records)

    def reverse_records(self) -> list[tuple[str, str, str]] | None:
        return None if self.reverse is None else list(self.reverse)

    def all(self) -> list[tuple[str, str, str, str]]:
        return list(self.rows)

    @contextlib.contextmanager
    def lease(self, request_id: str) -> Iterator[None]:
        yield
