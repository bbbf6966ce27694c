"""Backups of the hostings: the job a hosting joins and its first backup (step 8), and the
report of every hosting's last good backup (``sop backups``, the Laporan Kegiatan).

A hosting here is a VM on the cluster that carries a request's tag (``sop-req-<id>``): what
exists and could be lost, whatever the records say. Its data classification comes from the
request file; a hosting whose file cannot be read is held to the strictest retention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sop_pipeline.adapters.proxmox import ExistingVm
from sop_pipeline.domain.backups import (
    Backup,
    BackupPolicy,
    BackupStatus,
    Hosting,
    assess,
    job_for,
)
from sop_pipeline.ports import BackupPort

REQUEST_TAG = "sop-req-"


def hostings_of(
    vms: Sequence[ExistingVm], classification_of: Callable[[str], str | None]
) -> list[Hosting]:
    """The cluster's hostings: each non-template VM with one ``sop-req-<id>`` tag."""
    out = []
    for vm in vms:
        ids = [t.removeprefix(REQUEST_TAG) for t in vm.tags if t.startswith(REQUEST_TAG)]
        if vm.template or len(ids) != 1:
            continue
        out.append(Hosting(ids[0], vm.vmid, vm.node, classification_of(ids[0])))
    return sorted(out, key=lambda h: h.request_id)


def backup_status(
    backups: BackupPort,
    vms: Sequence[ExistingVm],
    policy: BackupPolicy,
    classification_of: Callable[[str], str | None],
    now: datetime,
) -> list[BackupStatus]:
    """Every hosting's last good backup against its policy at ``now``."""
    hostings = hostings_of(vms, classification_of)
    archives = backups.backups(policy.storage)
    job_vmids = [job.vmid for job in backups.jobs()]
    return assess(hostings, archives, job_vmids, policy, now)


def join_and_back_up(
    backups: BackupPort,
    *,
    request_id: str,
    vmid: int,
    node: str,
    classification: str | None,
    policy: BackupPolicy,
) -> Backup:
    """Step 8, after handover: the hosting joins its backup job, its first backup runs at
    once, and the archive it made is returned (confirmed on the storage)."""
    job = job_for(request_id, vmid, classification, policy)
    backups.ensure_job(job)
    return backups.backup_now(node, job)


def status_data(statuses: Sequence[BackupStatus]) -> list[dict[str, object]]:
    """The statuses as ``sop backups --json`` prints them."""
    return [
        {
            "request_id": s.hosting.request_id,
            "vmid": s.hosting.vmid,
            "node": s.hosting.node,
            "data_classification": s.hosting.classification,
            "max_age_hours": s.retention.max_age_hours,
            "has_job": s.has_job,
            "verdict": s.verdict,
            "breach": s.breach,
            "reason": s.reason,
            "last_backup": None
            if s.last is None
            else {
                "volid": s.last.volid,
                "ctime": s.last.ctime.isoformat(),
                "size": s.last.size,
                "age_hours": round((s.age.total_seconds() if s.age else 0) / 3600, 2),
            },
        }
        for s in statuses
    ]
