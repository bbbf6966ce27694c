"""Proxmox calls of a hard retirement (``kind: pensiun``, docs/retirement.md), and the lab's
restore check of a backup.

:class:`ProxmoxRetirement` adds to the backup adapter what step 8 of a retirement asks of the
cluster: the final backup, kept out of pruning (``protected=1``), the VM's ``protection``
flag read and lifted, and whether the VM is still there. :class:`LabRestoreCheck` is the lab's
:class:`~sop_pipeline.ports.RestoreCheckPort`: it opens the archive the lab's PVE wrote
(``lab/pve_compat.py``, G10) and checks what a restore needs from it.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sop_pipeline.adapters.backups import BackupError, ProxmoxBackups
from sop_pipeline.adapters.proxmox import ProxmoxError
from sop_pipeline.domain.backups import Backup, last_good
from sop_pipeline.errors import AdapterError


class RestoreCheckError(AdapterError):
    """A backup could not be checked: the archive is missing, unreadable or incomplete."""


@dataclass(frozen=True)
class RestoreCheck:
    """What a restore check of one backup found."""

    volid: str
    ok: bool
    method: str  # what was done, in Indonesian (for the Berita Acara)
    details: tuple[str, ...] = ()


class ProxmoxRetirement(ProxmoxBackups):
    """The cluster calls of a retirement (:class:`~sop_pipeline.ports.RetirementPort`)."""

    def final_backup(
        self, node: str, vmid: int, *, storage: str, notes: str, timeout: float = 6 * 3600
    ) -> Backup:
        """A backup of the VM now, ``protected`` (never pruned, not deleted by accident), with
        no pruning of this run; the archive is confirmed on the storage."""
        upid = self._call(
            f"cadangan akhir VM {vmid}",
            lambda: self._api.nodes(node).vzdump.post(
                vmid=str(vmid),
                storage=storage,
                mode="snapshot",
                compress="zstd",
                protected=1,
                **{"notes-template": notes},
            ),
        )
        status = self._wait_task(node, str(upid), timeout)
        if status.get("exitstatus") != "OK":
            errors = [line for line in self._task_log(node, str(upid)) if "ERROR" in line]
            raise BackupError(
                f"Cadangan akhir VM {vmid} gagal ({status.get('exitstatus')}): "
                + ("; ".join(errors[-3:]) or "lihat log tugas " + str(upid))
            )
        started = int(status.get("starttime") or 0)
        found = last_good(
            [
                b
                for b in self.backups(storage, vmid)
                if b.protected and b.ctime.timestamp() >= started
            ],
            vmid,
        )
        if found is None:
            raise BackupError(
                f"Cadangan akhir VM {vmid} selesai tanpa arsip terlindungi di {storage}."
            )
        return found

    def protected_backup(self, storage: str, vmid: int, volid: str) -> Backup | None:
        """The backup ``volid`` if it is on the storage and still protected."""
        return next(
            (b for b in self.backups(storage, vmid) if b.volid == volid and b.protected), None
        )

    def protection(self, node: str, vmid: int) -> bool:
        """The VM's ``protection`` flag as its config says."""
        config = self._call(
            f"konfigurasi VM {vmid}", lambda: self._api.nodes(node).qemu(vmid).config.get()
        )
        return str((config or {}).get("protection") or 0) in ("1", "True", "true")

    def set_protection(self, node: str, vmid: int, *, on: bool) -> None:
        """Set or lift the VM's ``protection`` flag; confirmed by reading it back."""
        self._call(
            f"proteksi VM {vmid}",
            lambda: self._api.nodes(node).qemu(vmid).config.put(protection=1 if on else 0),
        )
        if self.protection(node, vmid) != on:
            raise ProxmoxError(f"Proteksi VM {vmid} tidak berubah setelah diminta.")

    def vm_node(self, vmid: int) -> str | None:
        """The node of VM ``vmid``, or None when Proxmox has no such VM."""
        return next((vm.node for vm in self.vms() if vm.vmid == vmid and not vm.template), None)


@dataclass(frozen=True)
class LabRestoreCheck:
    """The lab's restore check (:class:`~sop_pipeline.ports.RestoreCheckPort`): the archive
    the lab's PVE wrote under ``backup_dir/dump`` is opened, its guest config read, its disk
    extracted and checked with ``qemu-img check``, and its virtual size compared with the
    config's. It boots nothing: booting the disk in the lab's isolated network and asking
    the site's page is the VM test's part (not built yet, docs/retirement.md)."""

    backup_dir: Path
    qemu_img: str = "qemu-img"

    def check(self, backup: Backup, *, fqdn: str) -> RestoreCheck:
        name = backup.volid.split("/", 1)[-1]
        archive = self.backup_dir / "dump" / name
        if not archive.is_file():
            raise RestoreCheckError(f"arsip cadangan {backup.volid} tidak ada ({archive})")
        details: list[str] = []
        try:
            with tempfile.TemporaryDirectory() as tmp, self._tar(archive, Path(tmp)) as tar:
                members = {m.name: m for m in tar.getmembers() if m.isfile()}
                if "qemu-server.conf" not in members:
                    raise RestoreCheckError(f"{name}: tanpa qemu-server.conf")
                conf_file = tar.extractfile(members["qemu-server.conf"])
                conf = conf_file.read().decode() if conf_file else ""
                disks = [n for n in members if n.startswith("disk-drive-")]
                if not disks:
                    raise RestoreCheckError(f"{name}: tanpa disk")
                tar.extract(members[disks[0]], tmp, filter="data")
                image = Path(tmp) / disks[0]
                self._qemu_img(["check", "-q", str(image)])
                info = self._qemu_img(["info", "--output=json", str(image)])
        except (OSError, tarfile.TarError) as exc:
            raise RestoreCheckError(f"arsip {name} tidak terbaca: {exc}") from exc
        virtual = int(json.loads(info).get("virtual-size") or 0)
        details.append(f"konfigurasi tamu terbaca ({len(conf.splitlines())} baris)")
        details.append(f"{disks[0]}: qemu-img check bersih, ukuran virtual {virtual} bita")
        wanted = _config_disk_bytes(conf.splitlines())
        ok = virtual > 0 and (wanted is None or wanted == virtual)
        if wanted is not None:
            details.append(f"ukuran disk di konfigurasi {wanted} bita")
        return RestoreCheck(
            volid=backup.volid,
            ok=ok,
            method="arsip dibuka, disk diperiksa dengan qemu-img (tanpa boot)",
            details=tuple(details),
        )

    @staticmethod
    def _tar(archive: Path, tmp: Path) -> tarfile.TarFile:
        """The archive as a tar (a ``.zst`` one decompressed with ``zstd`` first, as
        PVE's ``vma``/``tar`` restore does)."""
        if archive.suffix != ".zst":
            return tarfile.open(archive)
        plain = tmp / archive.with_suffix("").name
        try:
            subprocess.run(
                ["zstd", "-q", "-d", str(archive), "-o", str(plain)],
                check=True,
                capture_output=True,
                timeout=600,
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise RestoreCheckError(f"{archive.name}: zstd gagal membuka arsip: {exc}") from exc
        return tarfile.open(plain)

    def _qemu_img(self, args: Sequence[str]) -> str:
        try:
            done = subprocess.run(
                [self.qemu_img, *args], capture_output=True, text=True, timeout=600, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RestoreCheckError(f"qemu-img tidak dapat dijalankan: {exc}") from exc
        if done.returncode != 0:
            raise RestoreCheckError(f"qemu-img {args[0]} gagal: {done.stderr.strip()[:300]}")
        return done.stdout


def _config_disk_bytes(lines: Sequence[str]) -> int | None:
    """Bytes of the first ``scsiN``/``virtioN`` disk's ``size=`` in a qemu-server.conf."""
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip().startswith(("scsi", "virtio", "sata")) and "cdrom" not in value:
            for part in value.split(","):
                name, _, size = part.strip().partition("=")
                if name == "size":
                    return _size_bytes(size)
    return None


def _size_bytes(text: str) -> int | None:
    """A PVE size (``20G``, ``512M``, bare bytes) in bytes, as PVE's ``parse_size`` reads it."""
    units = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
    number, unit = text.rstrip("KMGT"), text[len(text.rstrip("KMGT")) :]
    if not number.isdigit() or unit not in units:
        return None
    return int(number) * units[unit]
