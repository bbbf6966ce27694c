"""The outside systems step 8 talks to, each as the few calls it makes of it.

The adapters (:mod:`sop_pipeline.adapters`) satisfy these Protocols as they are; the in-memory
fakes in ``tests/support/fakes.py`` satisfy them too, so the order of step 8 and what it does
on each failure can be tested without a cluster. Only the values crossing these ports
(``ExistingVm``, ``Allocation``, ``PlanSummary``, ``PlaybookResult``...) are shared.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sop_pipeline.adapters.allocator import Allocation
    from sop_pipeline.adapters.ansible import AnsibleTree, PlaybookResult, SshTarget, Tuning
    from sop_pipeline.adapters.proxmox import ExistingVm, NodeFit, OpdUsage
    from sop_pipeline.adapters.retirement import RestoreCheck
    from sop_pipeline.adapters.terraform import PlanSummary
    from sop_pipeline.domain.backups import Backup, BackupJob
    from sop_pipeline.domain.drift import ClusterVm, DriftItem, Hosting


class ProxmoxPort(Protocol):
    """The cluster: what is on it, where there is room, and the guest agent of a VM."""

    def vms(self) -> list[ExistingVm]: ...

    def capacity(self, *, vcpu: int, memory_mb: int, disk_gb: int) -> list[NodeFit]: ...

    def find_request_vm(self, vmid: int, request_id: str) -> ExistingVm | None: ...

    def opd_usage(self, opd_code: str) -> OpdUsage: ...

    def wait_for_address(
        self, node: str, vmid: int, *, timeout: float = ..., interval: float = ...
    ) -> str: ...

    def host_keys(self, node: str, vmid: int) -> list[str]: ...

    def read_guest_file(self, node: str, vmid: int, path: str) -> str: ...


class BackupPort(Protocol):
    """Proxmox backups (:class:`~sop_pipeline.adapters.backups.ProxmoxBackups`): a hosting's
    vzdump job, a backup run now, and the archives on the backup storage."""

    def ensure_job(self, job: BackupJob) -> None: ...

    def jobs(self) -> list[BackupJob]: ...

    def backup_now(self, node: str, job: BackupJob, *, timeout: float = ...) -> Backup: ...

    def backups(self, storage: str, vmid: int | None = None) -> list[Backup]: ...


class RestoreCheckPort(Protocol):
    """A backup checked as a restore needs it (``sop restore-check``, a retirement's phase 2):
    ``adapters.retirement.LabRestoreCheck`` in the lab. Returns a
    :class:`~sop_pipeline.adapters.retirement.RestoreCheck`."""

    def check(self, backup: Backup, *, fqdn: str) -> RestoreCheck: ...


class AllocatorPort(Protocol):
    """VMIDs and addresses, and the request's lease across runners."""

    def allocate(self, request_id: str, environment: str) -> Allocation: ...

    def peek(self, request_id: str, environment: str) -> Allocation | None: ...

    def release(self, request_id: str, environment: str, *, confirmed_absent_vmid: int) -> bool: ...

    def lease(self, request_id: str) -> AbstractContextManager[None]: ...


class DnsPort(Protocol):
    """The department's primary, asked whether a name points where it should."""

    def resolves_to(self, label: str, ip: str) -> bool: ...

    def name_is_free(self, label: str) -> bool: ...

    def owner_of(self, label: str) -> str | None: ...


class TerraformPort(Protocol):
    """One request's root stack (a :class:`~sop_pipeline.adapters.terraform.TerraformRunner`)."""

    #: (pid, name) of each process of a dead run that ``exclusive()`` stopped on entry.
    stopped: tuple[tuple[int, str], ...]

    def exclusive(self) -> AbstractContextManager[None]: ...

    def prepare(self, tfvars: Mapping[str, Any]) -> None: ...

    def init(self) -> float: ...

    def state_has_vm(self) -> bool: ...

    def import_vm(self, node: str, vmid: int) -> None: ...

    def plan(self, *, destroy: bool = False, detailed: bool = True) -> PlanSummary: ...

    def apply(self) -> None: ...

    def show_plan(self) -> dict[str, Any]: ...


class AnsiblePort(Protocol):
    """A playbook run (:func:`sop_pipeline.adapters.ansible.run_playbook`)."""

    def __call__(
        self,
        playbook: str,
        *,
        target: SshTarget,
        extravars: Mapping[str, Any],
        tree: AnsibleTree,
        environment: str = ...,
        tuning: Tuning = ...,
        timeout: int = ...,
        on_event: Callable[[Mapping[str, Any]], None] | None = ...,
        run_scope: str = ...,
    ) -> PlaybookResult: ...


class NodeSlots(Protocol):
    """The per-node bound on Terraform runs (``adapters.node_slots.NodeLimiter``)."""

    def slot(self, node: str) -> AbstractContextManager[int]: ...


class Ports(Protocol):
    """One environment's adapters, as
    :meth:`sop_pipeline.adapters.infrastructure.Infrastructure.open` gives them."""

    @property
    def proxmox(self) -> ProxmoxPort: ...

    @property
    def allocator(self) -> AllocatorPort: ...

    @property
    def dns(self) -> DnsPort: ...

    @property
    def backups(self) -> BackupPort: ...

    def terraform(self, request_id: str, source_dir: Path) -> TerraformPort: ...


# ------------------------------------------------------------------ sop drift


class ClusterPort(Protocol):
    """`sop drift`: every VM of the cluster, with the config of the ones asked for."""

    def cluster_vms(self, *, protection_of: Collection[int] = ()) -> list[ClusterVm]: ...


class ZonePort(Protocol):
    """`sop drift`: the whole zone and its reverse zone (AXFR), as (name, type, value)."""

    def zone_records(self) -> list[tuple[str, str, str]]: ...

    def reverse_records(self) -> list[tuple[str, str, str]] | None:
        """The reverse zone (PTR records) by AXFR; None when none is configured."""
        ...


class LeasesPort(Protocol):
    """`sop drift`: the allocator's rows, and whether a request's lease is held now."""

    def all(self) -> list[tuple[str, str, str, str]]: ...

    def lease(self, request_id: str) -> AbstractContextManager[None]: ...


class TerraformDriftPort(Protocol):
    """`sop drift`: one request's refresh-only plan, under its lock."""

    def exclusive(self) -> AbstractContextManager[None]: ...

    def refresh_drift(self) -> list[dict[str, Any]]: ...


class AnsibleDriftPort(Protocol):
    """The hook for the Ansible part: ``site.yml`` in check and diff mode for one hosting,
    with the trusted playbooks, normalised to items (source ``ansible``). Not built yet: it
    needs a booted VM. A task "changed" without a diff is a defect of the role, not drift."""

    def check(self, hosting: Hosting) -> list[DriftItem]: ...


# ------------------------------------------------------------------- expiry (sop expiry)


class PowerPort(Protocol):
    """A hosting VM's power through the Proxmox API (``adapters.vm_power.VmPower``)."""

    def status(self, node: str, vmid: int) -> str: ...

    def shutdown(self, node: str, vmid: int) -> bool: ...

    def start(self, node: str, vmid: int) -> bool: ...


class NamePort(Protocol):
    """The step-8 publish path of the DNS adapter (``adapters.dns.DnsAdapter``)."""

    def plan_publish(self, label: str, ip: str, owner: str) -> Any: ...

    def apply(self, plan: Any) -> None: ...
