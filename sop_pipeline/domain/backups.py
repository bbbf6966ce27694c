"""Backups of the hostings: the policy by data classification, and whether each hosting has a
recent enough good backup. Pure: no I/O, no clock (``now`` is passed in).

A backup job on Proxmox is a promise; only a backup archive on the storage is a backup. So a
hosting is judged by its last good archive alone: "has a job" never counts as "has a backup".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

#: The Proxmox job id of a hosting's backup job (PVE's ``pve-configid``: letters, digits, -_).
JOB_PREFIX = "sop-"


@dataclass(frozen=True)
class Retention:
    """How many archives Proxmox keeps (its ``prune-backups``) and how old the newest may be."""

    max_age_hours: int
    keep_last: int = 0
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0

    @property
    def prune_backups(self) -> str:
        """PVE's ``prune-backups`` property string (``keep-daily=14,keep-weekly=8``)."""
        parts = [
            f"keep-{name}={count}"
            for name, count in (
                ("last", self.keep_last),
                ("daily", self.keep_daily),
                ("weekly", self.keep_weekly),
                ("monthly", self.keep_monthly),
            )
            if count
        ]
        return ",".join(parts) or "keep-all=1"


@dataclass(frozen=True)
class BackupPolicy:
    """``inventories/backups.yaml``: where and when, and the retention per classification."""

    storage: str
    schedule: str  # PVE calendar event (``01:30``, ``sun 02:00``)
    mode: str  # snapshot | suspend | stop
    compress: str  # 0 | zstd | ...
    retention: Mapping[str, Retention]  # by data classification

    def retention_for(self, classification: str | None) -> Retention:
        """The classification's retention; an unknown one gets the strictest (shortest age)."""
        if classification in self.retention:
            return self.retention[str(classification)]
        return min(self.retention.values(), key=lambda r: r.max_age_hours)


@dataclass(frozen=True)
class BackupJob:
    """One hosting's vzdump job as the pipeline asks Proxmox to keep it."""

    job_id: str
    vmid: int
    storage: str
    schedule: str
    mode: str
    compress: str
    prune_backups: str
    notes: str  # PVE's notes-template
    enabled: bool = True


@dataclass(frozen=True)
class Backup:
    """A backup archive on a storage, as Proxmox lists it."""

    volid: str
    vmid: int
    ctime: datetime
    size: int
    notes: str = ""
    protected: bool = False

    @property
    def good(self) -> bool:
        """Listed with content: PVE lists an archive only once vzdump finished writing it."""
        return self.size > 0


@dataclass(frozen=True)
class Hosting:
    """A hosting to be backed up: its request, VM and the data classification it declared."""

    request_id: str
    vmid: int
    node: str
    classification: str | None  # None: the request file could not be read


@dataclass(frozen=True)
class BackupStatus:
    """One hosting's verdict: ``ok``, ``stale`` (older than its policy) or ``none``."""

    hosting: Hosting
    retention: Retention
    last: Backup | None
    has_job: bool
    verdict: str
    age: timedelta | None

    @property
    def breach(self) -> bool:
        return self.verdict != "ok"

    @property
    def reason(self) -> str:
        """The verdict in Indonesian, for the CLI and the Laporan Kegiatan."""
        limit = self.retention.max_age_hours
        if self.verdict == "none":
            job = "ada job, tetapi" if self.has_job else "tidak ada job dan"
            return f"belum ada cadangan yang baik ({job} tidak ada arsip di penyimpanan)"
        hours = int((self.age or timedelta()).total_seconds() // 3600)
        if self.verdict == "stale":
            return f"cadangan terakhir berumur {hours} jam, melebihi batas {limit} jam"
        return f"cadangan terakhir berumur {hours} jam (batas {limit} jam)"


def job_for(
    request_id: str, vmid: int, classification: str | None, policy: BackupPolicy
) -> BackupJob:
    """The backup job a hosting joins: the policy's storage and schedule, its retention."""
    return BackupJob(
        job_id=f"{JOB_PREFIX}{request_id}",
        vmid=vmid,
        storage=policy.storage,
        schedule=policy.schedule,
        mode=policy.mode,
        compress=policy.compress,
        prune_backups=policy.retention_for(classification).prune_backups,
        notes=f"{request_id} ({{{{guestname}}}}, VM {{{{vmid}}}})",
    )


def last_good(backups: Iterable[Backup], vmid: int) -> Backup | None:
    """The newest good archive of the VM, or None."""
    mine = [b for b in backups if b.vmid == vmid and b.good]
    return max(mine, key=lambda b: b.ctime) if mine else None


def assess(
    hostings: Sequence[Hosting],
    backups: Sequence[Backup],
    job_vmids: Iterable[int],
    policy: BackupPolicy,
    now: datetime,
) -> list[BackupStatus]:
    """Each hosting against its classification's maximum age, at ``now``."""
    with_job = set(job_vmids)
    out = []
    for hosting in hostings:
        retention = policy.retention_for(hosting.classification)
        last = last_good(backups, hosting.vmid)
        age = now - last.ctime if last is not None else None
        if last is None or age is None:
            verdict = "none"
        elif age > timedelta(hours=retention.max_age_hours):
            verdict = "stale"
        else:
            verdict = "ok"
        out.append(BackupStatus(hosting, retention, last, hosting.vmid in with_job, verdict, age))
    return out
