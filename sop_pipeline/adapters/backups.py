"""Proxmox backups through the API (proxmoxer): vzdump jobs, a backup now, the archives.

The same calls on the cluster and in the lab (whose Proxmox layer makes the copy for real,
``lab/pve_compat.py`` G10). Every proxmoxer or transport error becomes a
:class:`~sop_pipeline.adapters.proxmox.ProxmoxError` with an Indonesian message.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sop_pipeline.adapters.proxmox import ProxmoxAdapter, ProxmoxError
from sop_pipeline.domain.backups import JOB_PREFIX, Backup, BackupJob, last_good


class BackupError(ProxmoxError):
    """A backup did not finish: the task ended in error, or it left no archive."""


class ProxmoxBackups(ProxmoxAdapter):
    """The backup calls of the pipeline (:class:`~sop_pipeline.ports.BackupPort`)."""

    def ensure_job(self, job: BackupJob) -> None:
        """Create the hosting's job, or bring an existing one to what the policy says."""
        form = {
            "vmid": str(job.vmid),
            "storage": job.storage,
            "schedule": job.schedule,
            "mode": job.mode,
            "compress": job.compress,
            "prune-backups": job.prune_backups,
            "notes-template": job.notes,
            "enabled": 1 if job.enabled else 0,
        }
        known = {j.job_id for j in self.jobs()}
        if job.job_id in known:
            self._call(
                f"ubah job cadangan {job.job_id}",
                lambda: self._api.cluster.backup(job.job_id).put(**form),
            )
        else:
            self._call(
                f"buat job cadangan {job.job_id}",
                lambda: self._api.cluster.backup.post(id=job.job_id, **form),
            )

    def jobs(self) -> list[BackupJob]:
        """The pipeline's jobs (ids ``sop-<request>``), one VM each."""
        items = self._call("daftar job cadangan", lambda: self._api.cluster.backup.get())
        out = []
        for it in items or []:
            job_id = str(it.get("id") or "")
            vmids = [v for v in str(it.get("vmid") or "").split(",") if v.strip().isdigit()]
            if not job_id.startswith(JOB_PREFIX) or len(vmids) != 1:
                continue
            out.append(
                BackupJob(
                    job_id=job_id,
                    vmid=int(vmids[0]),
                    storage=str(it.get("storage") or ""),
                    schedule=str(it.get("schedule") or ""),
                    mode=str(it.get("mode") or "snapshot"),
                    compress=str(it.get("compress") or "0"),
                    prune_backups=str(it.get("prune-backups") or ""),
                    notes=str(it.get("notes-template") or ""),
                    enabled=str(it.get("enabled", 1)) not in ("0", "False", "false"),
                )
            )
        return out

    def backup_now(self, node: str, job: BackupJob, *, timeout: float = 6 * 3600) -> Backup:
        """Run the job's backup of its VM now, wait for the task, and return the archive."""
        upid = self._call(
            f"cadangkan VM {job.vmid}",
            lambda: self._api.nodes(node).vzdump.post(
                vmid=str(job.vmid),
                storage=job.storage,
                mode=job.mode,
                compress=job.compress,
                **{"prune-backups": job.prune_backups, "notes-template": job.notes},
            ),
        )
        status = self._wait_task(node, str(upid), timeout)
        if status.get("exitstatus") != "OK":
            errors = [line for line in self._task_log(node, str(upid)) if "ERROR" in line]
            raise BackupError(
                f"Pencadangan VM {job.vmid} gagal ({status.get('exitstatus')}): "
                + ("; ".join(errors[-3:]) or "lihat log tugas " + str(upid))
            )
        found = last_good(self.backups(job.storage, job.vmid), job.vmid)
        # The archive must be this task's: vzdump names it after the task started (PVE's clock).
        started = int(status.get("starttime") or 0)
        if found is None or found.ctime.timestamp() < started:
            raise BackupError(
                f"Pencadangan VM {job.vmid} selesai tanpa arsip baru di penyimpanan {job.storage}."
            )
        return found

    def backups(self, storage: str, vmid: int | None = None) -> list[Backup]:
        """The backup archives on ``storage`` (of one VM with ``vmid``), as listed by the first
        online node that has the storage."""
        nodes = self._call("daftar node", lambda: self._api.nodes.get())
        online = [str(n["node"]) for n in nodes if n.get("status") == "online"]
        if not online:
            raise ProxmoxError("Tidak ada node Proxmox yang online untuk membaca cadangan.")
        query: dict[str, Any] = {"content": "backup"}
        if vmid is not None:
            query["vmid"] = vmid
        items = self._call(
            f"daftar cadangan di {storage}",
            lambda: self._api.nodes(online[0]).storage(storage).content.get(**query),
        )
        return [
            Backup(
                volid=str(it["volid"]),
                vmid=int(it.get("vmid") or 0),
                ctime=datetime.fromtimestamp(int(it.get("ctime") or 0), UTC),
                size=int(it.get("size") or 0),
                notes=str(it.get("notes") or ""),
                protected=bool(it.get("protected")),
            )
            for it in items or []
            if it.get("content", "backup") == "backup"
        ]

    def _wait_task(self, node: str, upid: str, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        interval = 0.2
        while True:
            status: dict[str, Any] = self._call(
                "status tugas cadangan", lambda: self._api.nodes(node).tasks(upid).status.get()
            )
            if status.get("status") == "stopped":
                return status
            if time.monotonic() > deadline:
                raise BackupError(f"Tugas cadangan {upid} belum selesai setelah {timeout:.0f} s.")
            time.sleep(interval)
            interval = min(interval * 2, 5.0)

    def _task_log(self, node: str, upid: str) -> list[str]:
        fetch: Callable[[], Any] = lambda: self._api.nodes(node).tasks(upid).log.get(limit=500)  # noqa: E731
        return [str(line.get("t", "")) for line in self._call("log tugas cadangan", fetch) or []]
