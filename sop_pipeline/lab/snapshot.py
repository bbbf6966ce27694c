"""Snapshots of booted lab guests: QEMU's migration stream to a file, cached by what made it.

A lab guest that has booted and let cloud-init apply its seed is saved once (QEMU's own
``migrate "exec:cat > FILE"`` while the guest is paused, plus a copy of its overlay, taken in
the same pause); the next start of an identical guest restores it (``-incoming "exec:cat
FILE"``) instead of booting. Identical means: the same key, a hash over everything that makes
the guest (:func:`key_material`): image recipe, the seed's three files (made from the PVE
config, so host name, user, SSH keys, address and MAC), QEMU's version, the host fingerprint
and the QEMU command line with the per-guest paths left out (memory, vCPUs, devices, MAC, tap
name, VM name, accelerator). Two guests restored from one snapshot share host keys and
machine-id; the key makes that happen only when their seeds, hence their identities, are the
same.

Under ``<cache>/snapshots/<key>/``: ``state.mig`` (the migration stream), ``disk.qcow2`` (the
overlay as it was at the pause, backed by the image), ``seed.iso`` and ``console.log`` (what
the guest printed during its boot, where the lab pins host keys from), ``COMPLETE`` (the key
material and figures, JSON). A snapshot is written to a temporary folder and renamed when
whole, so a killed save leaves nothing that a restore would take.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop_pipeline.errors import AdapterError
from sop_pipeline.lab import image as lab_image

#: Bumped when what a snapshot holds, or how it is restored, changes.
FORMAT = "1"
#: ``SOP_LAB_RESTORE=0`` makes every lab guest boot (and saves nothing).
RESTORE_ENV = "SOP_LAB_RESTORE"
#: At most this many snapshots are kept (each about 300 MiB: mostly the guest's memory); the
#: least recently used go first, but never one used in the last :data:`KEEP_RECENT_SECONDS`
#: (a guest may be restoring from it). Guests whose seeds never repeat (a fresh SSH key per
#: run) still save one each; the cap bounds what that costs.
MAX_SNAPSHOTS = 16
KEEP_RECENT_SECONDS = 600
#: Placeholders for the per-guest paths in the command line the key is made from.
VM_DIR_PLACEHOLDER = "<vm>"


class SnapshotError(AdapterError):
    """Saving or restoring a lab guest's snapshot failed."""


def restore_enabled() -> bool:
    """Whether lab guests restore (and save) snapshots unless told otherwise (the default)."""
    return os.environ.get(RESTORE_ENV, "1").strip().lower() not in ("0", "no", "false", "off")


def cache_root(cache: Path | None = None) -> Path:
    """``<cache>/snapshots`` (``$SOP_CACHE`` by default, as the image)."""
    return (cache or lab_image.cache_dir()) / "snapshots"


@functools.lru_cache(maxsize=4)
def qemu_version(qemu: str) -> str:
    """The first line of ``qemu --version`` (part of the key: a stream is not portable)."""
    try:
        proc = subprocess.run(
            [qemu, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return "unknown"
    return (proc.stdout.splitlines() or ["unknown"])[0].strip()


def normalised_argv(argv: Sequence[str], vm_dir: Path) -> list[str]:
    """The command line with the guest's own folder replaced by a placeholder.

    The folder (overlay, seed, sockets, console, pid file) is not part of what the guest sees,
    and differs between a state dir that saved a snapshot and one that restores it.
    """
    prefix = str(vm_dir)
    return [arg.replace(prefix, VM_DIR_PLACEHOLDER) for arg in argv]


def key_material(
    *,
    recipe_hash: str,
    seed_files: Mapping[str, str],
    qemu: str,
    host: str,
    argv: Sequence[str],
) -> dict[str, Any]:
    """Everything that makes a booted guest, as the key is computed from it."""
    return {
        "format": FORMAT,
        "image": recipe_hash,
        "seed": dict(seed_files),
        "qemu": qemu,
        "host": host,
        "argv": list(argv),
    }


def key_of(material: Mapping[str, Any]) -> str:
    """SHA-256 (first 24 hex digits) of the key material."""
    blob = json.dumps(material, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:24]


@dataclass(frozen=True)
class Snapshot:
    """A complete snapshot in the cache."""

    directory: Path
    key: str

    @property
    def state(self) -> Path:
        return self.directory / "state.mig"

    @property
    def disk(self) -> Path:
        return self.directory / "disk.qcow2"

    @property
    def seed_iso(self) -> Path:
        return self.directory / "seed.iso"

    @property
    def console(self) -> Path:
        return self.directory / "console.log"

    def info(self) -> dict[str, Any]:
        """What ``COMPLETE`` records (key material, figures)."""
        data: dict[str, Any] = json.loads((self.directory / "COMPLETE").read_text())
        return data


def find(key: str, cache: Path | None = None) -> Snapshot | None:
    """The complete snapshot for ``key``, marked as just used; None if there is none."""
    directory = cache_root(cache) / key
    snap = Snapshot(directory, key)
    marker = directory / "COMPLETE"
    if not marker.exists() or not snap.state.exists() or not snap.disk.exists():
        return None
    with contextlib.suppress(OSError):  # a read-only cache still restores
        os.utime(marker)
    return snap


def discard(snap: Snapshot) -> None:
    """Remove a snapshot that failed to restore (the next start boots and saves again)."""
    shutil.rmtree(snap.directory, ignore_errors=True)


def _evict(root: Path, keep: str) -> None:
    """Keep at most :data:`MAX_SNAPSHOTS`, removing the least recently used old ones."""
    entries = []
    for folder in root.iterdir():
        marker = folder / "COMPLETE"
        if folder.name != keep and marker.exists():
            entries.append((marker.stat().st_mtime, folder))
    entries.sort()
    now = time.time()
    excess = len(entries) + 1 - MAX_SNAPSHOTS
    for mtime, folder in entries:
        if excess <= 0:
            break
        if now - mtime > KEEP_RECENT_SECONDS:
            shutil.rmtree(folder, ignore_errors=True)
            excess -= 1


# -- QMP ---------------------------------------------------------------------------------


class Qmp:
    """A QMP connection to a QEMU monitor socket (capabilities negotiated)."""

    def __init__(self, path: Path, timeout: float = 30.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        self._sock.connect(str(path))
        self._stream = self._sock.makefile("rwb")
        self._read()  # greeting
        self.call("qmp_capabilities")

    def _read(self) -> dict[str, Any]:
        while True:
            line = self._stream.readline()
            if not line:
                raise SnapshotError("QEMU's monitor closed the connection")
            message: dict[str, Any] = json.loads(line)
            if "event" not in message:
                return message

    def call(self, command: str, **arguments: Any) -> Any:
        """Run ``command`` and return its ``return`` value (an error raises)."""
        request: dict[str, Any] = {"execute": command}
        if arguments:
            request["arguments"] = arguments
        self._stream.write(json.dumps(request).encode() + b"\n")
        self._stream.flush()
        answer = self._read()
        if "error" in answer:
            raise SnapshotError(f"QMP {command}: {answer['error'].get('desc')}")
        return answer.get("return")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._stream.close()
            self._sock.close()

    def __enter__(self) -> Qmp:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def resume_restored(qmp_socket: Path, timeout: float = 300) -> float:
    """Wait until a restoring QEMU has loaded the stream, resume the guest; return the seconds."""
    started = time.monotonic()
    deadline = started + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with Qmp(qmp_socket, timeout=10) as qmp:
                while time.monotonic() < deadline:
                    last = str(qmp.call("query-status").get("status"))
                    if last == "running":
                        return time.monotonic() - started
                    if last == "paused":
                        # Loaded: the guest was saved paused, so QEMU does not resume it.
                        qmp.call("cont")
                        continue
                    if last not in ("inmigrate", "prelaunch", "restore-vm"):
                        raise SnapshotError(f"the restored guest is {last}, not running")
                    time.sleep(0.1)
        except (OSError, ValueError):
            time.sleep(0.1)
    raise SnapshotError(f"the restored guest did not run within {timeout:.0f} s ({last})")


def save(
    *,
    qmp_socket: Path,
    overlay: Path,
    seed_iso: Path,
    console: Path,
    key: str,
    material: Mapping[str, Any],
    extra: Mapping[str, Any],
    cache: Path | None = None,
) -> Snapshot:
    """Pause the guest, write its migration stream and a copy of its overlay, resume it.

    The overlay is copied in the same pause, after the migration has completed (QEMU has then
    flushed the disk's metadata), so disk and memory belong to the same instant.
    """
    root = cache_root(cache)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=root))
    started = time.monotonic()
    try:
        with Qmp(qmp_socket, timeout=60) as qmp:
            qmp.call("stop")
            paused = time.monotonic()
            try:
                # The default bandwidth cap (32 MiB/s) would make a save of a 1 GiB guest
                # take many seconds; the stream goes to a local file.
                qmp.call("migrate-set-parameters", **{"max-bandwidth": 8 * 1024**3})
                target = work / "state.mig"
                # The path is ours (the cache dir and a mkdtemp name), never user input.
                qmp.call("migrate", uri=f"exec:cat > '{target}'")
                while True:
                    status = qmp.call("query-migrate")
                    state = status.get("status")
                    if state == "completed":
                        break
                    if state in ("failed", "cancelled"):
                        raise SnapshotError(f"migration to file {state}: {status}")
                    time.sleep(0.05)
                shutil.copyfile(overlay, work / "disk.qcow2")
            finally:
                qmp.call("cont")
            pause_seconds = time.monotonic() - paused
        shutil.copyfile(seed_iso, work / "seed.iso")
        shutil.copyfile(console, work / "console.log")
        info = {
            "key": key,
            "material": dict(material),
            "saved_at": time.time(),
            "pause_seconds": round(pause_seconds, 3),
            "save_seconds": round(time.monotonic() - started, 3),
            "state_bytes": (work / "state.mig").stat().st_size,
            "disk_bytes": (work / "disk.qcow2").stat().st_size,
            **extra,
        }
        (work / "COMPLETE").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        work.chmod(0o700)
        final = root / key
        if (final / "COMPLETE").exists():
            shutil.rmtree(work)  # another process saved the same guest meanwhile
        else:
            shutil.rmtree(final, ignore_errors=True)
            work.rename(final)
        with contextlib.suppress(OSError):
            _evict(root, key)
        return Snapshot(final, key)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
