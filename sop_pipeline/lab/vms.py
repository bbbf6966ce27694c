"""Real lab VMs: QEMU boots the lab image for every guest the lab's Proxmox starts, or
restores the snapshot of an identical guest that booted before (``lab/snapshot.py``).

:class:`QemuBackend` implements :class:`~sop_pipeline.lab.guests.GuestBackend`. For a guest
it keeps, under ``<lab dir>/vms/<vmid>/``:

- ``overlay.qcow2``: a copy-on-write overlay of the cached image, or of a snapshot's disk
  (kept while the guest exists, as PVE keeps a stopped guest's disk; removed by
  :meth:`QemuBackend.destroy`);
- ``seed.iso``: the NoCloud seed made from the guest's PVE config at each start, as PVE
  regenerates its cloud-init drive (a restore takes the snapshot's, of the same content);
- ``qga.sock``: the guest agent's virtio-serial channel, ``qmp.sock``: QEMU's monitor;
- ``console.log``: the serial console, where cloud-init prints the SSH host keys (a restore
  starts from the console of the snapshot's boot);
- ``qemu.pid``; ``started``: boot or restore, the snapshot key (:meth:`QemuBackend.started`).

QEMU runs inside the lab namespace on the tap ``soptap<vmid>``; it uses KVM when a short
probe boot under KVM succeeds and TCG otherwise.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sop_pipeline.errors import AdapterError
from sop_pipeline.lab import image as lab_image
from sop_pipeline.lab import netns, seed, snapshot

QEMU = "qemu-system-x86_64"
#: The guest kernel's command line. The root disk and the seed are virtio-blk (the migration
#: stream that snapshots use cannot carry QEMU's NVMe device, which is "unmigratable"), so the
#: image's initrd loads virtio and finds the root by label. ``ds=nocloud`` makes cloud-init
#: read the seed in local mode, so one cloud-init process does all the work before the first
#: login (see recipe/cloud.cfg). Every item is measured in docs/lab.md ("Boot time").
KERNEL_ARGS = (
    "root=LABEL=soplab-root rootfstype=ext4 rw console=ttyS0 net.ifnames=0 quiet "
    "mitigations=off fsck.mode=skip ds=nocloud"
)
#: Files in the guest that say cloud-init has finished (its final stage) and sshd listens:
#: a snapshot is taken only then, so a restored guest is a booted one, not a half-booted one.
READY_FILES = ("/var/lib/cloud/instance/boot-finished", "/run/sshd.pid")
_HOST_KEYS_BEGIN = "-----BEGIN SSH HOST KEY KEYS-----"
_HOST_KEYS_END = "-----END SSH HOST KEY KEYS-----"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\r")


class VmError(AdapterError):
    """Starting, stopping or talking to a lab VM failed."""

    def diagnostics(self) -> str:
        return (
            f"{self}\nLab VMs need root, QEMU (Debian qemu-system-x86, qemu-utils), "
            "genisoimage and the lab namespace (`sop lab up`)."
        )


def lab_dir() -> Path:
    """The lab state dir (``$SOP_LAB_DIR`` or /var/lib/sop-lab)."""
    return Path(os.environ.get("SOP_LAB_DIR", "/var/lib/sop-lab"))


def host_fingerprint() -> str:
    """What decides whether KVM guests run here: host kernel, QEMU binary, CPU, /dev/kvm."""
    qemu = shutil.which(QEMU) or QEMU
    try:
        stat = os.stat(qemu)
        binary = f"{qemu}:{stat.st_size}:{stat.st_mtime_ns}"
    except OSError:
        binary = qemu
    try:
        cpu = next(
            line for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )  # fmt: skip
    except (OSError, StopIteration):
        cpu = ""
    facts = [os.uname().release, binary, cpu, str(os.access("/dev/kvm", os.R_OK | os.W_OK))]
    return hashlib.sha256("\n".join(facts).encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=4)
def probe_accelerator(kernel: str) -> str:
    """``kvm`` if a KVM guest boots ``kernel`` to its first kernel panic quickly, else ``tcg``.

    Opening /dev/kvm is not enough: on some hosts KVM guests fail on an MSR or hang. The probe
    boots the lab kernel with no root file system and ``panic=-1``, so a working KVM ends in
    a panic (and QEMU exits) within seconds.
    """
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    argv = [
        QEMU, "-accel", "kvm", "-m", "256", "-nodefaults", "-display", "none",
        "-serial", "stdio", "-no-reboot", "-kernel", kernel,
        "-append", "console=ttyS0 panic=-1 root=/dev/nonexistent",
    ]  # fmt: skip
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=12, check=False)
    except (subprocess.TimeoutExpired, FileNotFoundError):
        return "tcg"
    return "kvm" if "Kernel panic" in proc.stdout else "tcg"


def _qga_call(
    path: Path, command: str, timeout: float = 3.0, arguments: dict[str, Any] | None = None
) -> Any:
    """One guest agent command over its socket, after a ``guest-sync-delimited`` handshake."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        stream = sock.makefile("rwb")
        token = secrets.randbelow(2**31)
        sync = {"execute": "guest-sync-delimited", "arguments": {"id": token}}
        stream.write(b"\xff" + json.dumps(sync).encode() + b"\n")
        stream.flush()
        deadline = time.monotonic() + timeout
        while True:  # everything before the agent's 0xFF sentinel is stale output
            if time.monotonic() > deadline:
                raise TimeoutError("guest agent did not sync")
            byte = stream.read(1)
            if not byte:
                raise ConnectionError("guest agent channel closed")
            if byte == b"\xff":
                reply = json.loads(stream.readline())
                if reply.get("return") == token:
                    break
        call: dict[str, Any] = {"execute": command}
        if arguments is not None:
            call["arguments"] = arguments
        stream.write(json.dumps(call).encode() + b"\n")
        stream.flush()
        answer = json.loads(stream.readline())
    if "error" in answer:
        raise VmError(f"guest agent refused {command}: {answer['error'].get('desc')}")
    return answer["return"]


_BANNER_PROBE = """
import socket, sys, time
address, deadline = sys.argv[1], time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        with socket.create_connection((address, 22), timeout=5) as conn:
            conn.settimeout(max(1.0, deadline - time.monotonic()))
            if conn.recv(64).startswith(b"SSH-"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(1)
sys.exit(1)
"""


def wait_ssh(address: str, namespace: str = netns.NAMESPACE, timeout: float = 600) -> float:
    """Wait until sshd at ``address`` sends its banner; return the seconds waited.

    One connection at a time, each given all the time left: under TCG a fresh sshd can take
    many seconds to answer, and short repeated probes (``ssh-keyscan -T 3`` in a loop) pile up
    sshd processes until MaxStartups drops every connection.
    """
    started = time.monotonic()
    argv = [sys.executable, "-c", _BANNER_PROBE, address, str(timeout)]
    proc = netns.run(argv, namespace, timeout=timeout + 30)
    if proc.returncode != 0:
        raise VmError(f"no SSH banner from {address} within {timeout:.0f} s")
    return time.monotonic() - started


def parse_host_keys(console: str) -> list[str]:
    """The SSH host public keys cloud-init printed to the serial console (last block wins)."""
    text = _ANSI.sub("", console)
    start = text.rfind(_HOST_KEYS_BEGIN)
    if start < 0:
        return []
    end = text.find(_HOST_KEYS_END, start)
    if end < 0:
        return []
    block = text[start + len(_HOST_KEYS_BEGIN) : end]
    keys = []
    for line in block.splitlines():
        parts = line.split()
        if len(parts) >= 2 and (parts[0].startswith("ssh-") or parts[0].startswith("ecdsa-")):
            keys.append(f"{parts[0]} {parts[1]}")
    return keys


def _int(config: Mapping[str, Any], key: str, default: int) -> int:
    try:
        return int(str(config.get(key, default)))
    except ValueError:
        return default


class QemuBackend:
    """Boots, stops and destroys real QEMU VMs for the lab's Proxmox guests."""

    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        namespace: str = netns.NAMESPACE,
        image: lab_image.LabImage | None = None,
        accelerator: str | None = None,
        max_memory_mb: int = 2048,
        max_cpus: int = 2,
        cpu_model: str | None = None,
        restore: bool | None = None,
        snapshot_cache: Path | None = None,
        save_in_background: bool = False,
    ) -> None:
        self.state_dir = state_dir or (lab_dir() / "vms")
        self.namespace = namespace
        self._image = image
        self._accelerator = accelerator
        self.max_memory_mb = max_memory_mb
        self.max_cpus = max_cpus
        self.cpu_model = cpu_model
        #: Restore a fresh guest from its snapshot when one is cached, and save one after a
        #: boot when none is. False: always boot, save nothing (the tests of the boot itself).
        #: None: ``$SOP_LAB_RESTORE`` decides (on unless ``0``).
        self.restore = snapshot.restore_enabled() if restore is None else restore
        self.snapshot_cache = snapshot_cache
        #: After a boot that will be saved, ``start`` returns at once (as a PVE start task ends
        #: when QEMU runs) and a thread saves the snapshot; until it has, the guest agent does
        #: not answer (as while a guest boots), so whoever waits for the agent's address
        #: before connecting (the provider, the pipeline pinning host keys) cannot change the
        #: guest before it is saved. False: ``start`` itself waits for the save.
        self.save_in_background = save_in_background
        self._saves: dict[int, tuple[threading.Thread, threading.Event]] = {}
        self._saves_lock = threading.Lock()

    # -- paths and state ---------------------------------------------------------------

    def vm_dir(self, vmid: int) -> Path:
        """The folder that holds the VM's overlay, seed, sockets and logs."""
        return self.state_dir / str(int(vmid))

    def disk_image(self, vmid: int) -> Path | None:
        """The VM's disk (its overlay over the lab image), what the lab's vzdump copies."""
        overlay = self.vm_dir(vmid) / "overlay.qcow2"
        return overlay if overlay.is_file() else None

    @property
    def image(self) -> lab_image.LabImage:
        """The lab image (built on first use when not cached)."""
        if self._image is None:
            self._image = lab_image.build()
        return self._image

    @property
    def accelerator(self) -> str:
        """``kvm`` or ``tcg``: probed once per lab kernel and host, the answer kept on disk.

        Kept beside the cached image (so every new lab and test reuses it), under the host's
        fingerprint: a cache carried to another machine probes again there.
        """
        if self._accelerator is None:
            marker = self.image.directory / f"accel-{host_fingerprint()}"
            try:
                known = marker.read_text().strip()
            except OSError:
                known = ""
            if known not in ("kvm", "tcg"):
                known = probe_accelerator(str(self.image.kernel))
                with contextlib.suppress(OSError):  # a read-only cache only costs a re-probe
                    marker.write_text(known + "\n")
            self._accelerator = known
        return self._accelerator

    def pid(self, vmid: int) -> int | None:
        """QEMU's pid for the VM while it runs, else None."""
        try:
            pid = int((self.vm_dir(vmid) / "qemu.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError):
            return None
        tag = f"\0sop-{int(vmid)}\0".encode()
        return pid if QEMU.encode() in cmdline and tag in cmdline else None

    def is_running(self, vmid: int) -> bool:
        """Whether QEMU runs for the VM."""
        return self.pid(vmid) is not None

    # -- GuestBackend --------------------------------------------------------------------

    def start(self, vmid: int, config: Mapping[str, Any]) -> None:
        """Start the guest: restore its snapshot, or boot it; a running guest is left alone.

        A guest whose overlay does not exist yet (a new guest, as a clone of the template is)
        is restored from the snapshot keyed by its seed and command line when one is cached;
        otherwise it boots, and once cloud-init has finished, a snapshot is saved (the guest
        pauses for a moment), so that the next identical guest restores. A guest that has a
        disk of its own already (stopped, then started again) always boots from it.
        """
        if self.is_running(vmid):
            return
        folder = self.vm_dir(vmid)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        overlay, iso = folder / "overlay.qcow2", folder / "seed.iso"
        fresh = not overlay.exists()
        files = seed.seed_files(config, vmid)
        argv = self._argv(vmid, config)
        material = snapshot.key_material(
            recipe_hash=self.image.recipe_hash,
            seed_files=asdict(files),
            qemu=snapshot.qemu_version(shutil.which(QEMU) or QEMU),
            host=host_fingerprint(),
            argv=snapshot.normalised_argv(argv, folder),
        )
        key = snapshot.key_of(material)
        if fresh and self.restore:
            found = snapshot.find(key, self.snapshot_cache)
            if found is not None:
                try:
                    self._restore(vmid, found, argv)
                    return
                except (VmError, snapshot.SnapshotError, OSError) as exc:
                    # A stream that does not load (a damaged cache) costs one boot, not a
                    # failed start; the boot below saves a good snapshot again.
                    self.stop(vmid)
                    overlay.unlink(missing_ok=True)
                    snapshot.discard(found)
                    print(f"lab VM {vmid}: restore of {key} failed: {exc}", file=sys.stderr)
        if not overlay.exists():
            self._create_overlay(overlay, self.image.disk)
        seed.write_iso(files, iso)
        (folder / "console.log").unlink(missing_ok=True)
        self._launch(vmid, argv)
        self._record(vmid, mode="boot", snapshot_key=key)
        if fresh and self.restore:
            cancel = threading.Event()
            if not self.save_in_background:
                self._save_when_ready(vmid, key, material, cancel)
                return
            thread = threading.Thread(
                target=self._save_when_ready,
                args=(vmid, key, material, cancel),
                name=f"lab-save-{vmid}",
                daemon=True,
            )
            with self._saves_lock:
                self._saves[vmid] = (thread, cancel)
            thread.start()

    def saving(self, vmid: int) -> bool:
        """Whether a snapshot of the guest is still to be saved (its agent is held back)."""
        with self._saves_lock:
            entry = self._saves.get(vmid)
        # A thread registered but not yet started (no ident) counts as saving.
        return entry is not None and (entry[0].ident is None or entry[0].is_alive())

    def _cancel_save(self, vmid: int) -> None:
        with self._saves_lock:
            entry = self._saves.pop(vmid, None)
        if entry is not None and entry[0] is not threading.current_thread():
            entry[1].set()
            if entry[0].ident is not None:
                entry[0].join(60)

    def _argv(self, vmid: int, config: Mapping[str, Any]) -> list[str]:
        """The QEMU command line for the guest (the same for a boot and a restore)."""
        folder = self.vm_dir(vmid)
        mac = seed.mac_address(config, 0, vmid) or seed.mac_address({"net0": ""}, 0, vmid)
        memory = min(max(_int(config, "memory", 1024), 256), self.max_memory_mb)
        cpus = _int(config, "cores", 1) * _int(config, "sockets", 1)
        cpus = min(max(cpus, 1), self.max_cpus)
        accel_arg = "kvm" if self.accelerator == "kvm" else "tcg,thread=multi"
        cpu_args = ["-cpu", self.cpu_model] if self.cpu_model else []
        return [
            QEMU, "-name", f"sop-{vmid}", "-accel", accel_arg, *cpu_args, "-m", str(memory),
            "-smp", str(cpus), "-nodefaults", "-display", "none", "-vga", "none",
            "-kernel", str(self.image.kernel), "-initrd", str(self.image.initrd),
            "-append", KERNEL_ARGS,
            # Root disk and seed (read-only) on virtio-blk: NVMe cannot be migrated.
            "-drive", f"file={folder / 'overlay.qcow2'},if=none,id=root,format=qcow2,"
            "cache=unsafe,discard=unmap",
            "-drive", f"file={folder / 'seed.iso'},if=none,id=seed,format=raw,readonly=on",
            "-device", f"virtio-blk-pci,drive=root,serial=sop{vmid}",
            "-device", "virtio-blk-pci,drive=seed",
            "-netdev", f"tap,id=n0,ifname={netns.tap_name(vmid)},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={mac},romfile=",
            "-device", "virtio-rng-pci",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=qga0,path={folder / 'qga.sock'},server=on,wait=off",
            "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
            # append: a restored guest's console continues the log of its boot.
            "-chardev", f"file,id=con0,path={folder / 'console.log'},append=on",
            "-serial", "chardev:con0",
            "-qmp", f"unix:{folder / 'qmp.sock'},server=on,wait=off",
            "-pidfile", str(folder / "qemu.pid"), "-daemonize",
        ]  # fmt: skip

    def _launch(self, vmid: int, argv: list[str]) -> None:
        folder = self.vm_dir(vmid)
        netns.add_tap(vmid, self.namespace)
        for stale in ("qga.sock", "qmp.sock", "qemu.pid"):
            (folder / stale).unlink(missing_ok=True)
        proc = netns.run(argv, self.namespace, timeout=60)
        if proc.returncode != 0 or not self.is_running(vmid):
            netns.remove_tap(vmid, self.namespace)
            raise VmError(f"QEMU did not start VM {vmid}: {proc.stderr.strip()[-800:]}")

    def _record(self, vmid: int, **facts: Any) -> None:
        """Write ``started`` (when, accelerator, boot or restore, snapshot key)."""
        path = self.vm_dir(vmid) / "started"
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {"at": time.time(), "accel": self.accelerator}
        data.update(facts)
        path.write_text(json.dumps(data))

    def started(self, vmid: int) -> dict[str, Any]:
        """How the running guest started: ``mode`` (``boot``/``restore``), ``snapshot_key``,
        and after a boot ``saved`` (the key saved) or ``save_error``. Empty when stopped."""
        try:
            data: dict[str, Any] = json.loads((self.vm_dir(vmid) / "started").read_text())
        except (OSError, ValueError):
            return {}
        return data

    def _restore(self, vmid: int, snap: snapshot.Snapshot, argv: list[str]) -> None:
        """Start QEMU on the snapshot's stream, on a fresh overlay over the snapshot's disk."""
        folder = self.vm_dir(vmid)
        self._create_overlay(folder / "overlay.qcow2", snap.disk)
        shutil.copyfile(snap.seed_iso, folder / "seed.iso")
        (folder / "seed.iso").chmod(0o600)
        shutil.copyfile(snap.console, folder / "console.log")
        started = time.monotonic()
        self._launch(vmid, [*argv, "-incoming", f"exec:cat {shlex.quote(str(snap.state))}"])
        loaded = snapshot.resume_restored(folder / "qmp.sock")
        self._record(vmid, mode="restore", snapshot_key=snap.key, load_seconds=round(loaded, 3))
        self.sync_clock(vmid)
        self._record(vmid, restore_seconds=round(time.monotonic() - started, 3))

    def sync_clock(self, vmid: int, timeout: float = 60) -> None:
        """Set the guest's clock to the host's through its agent (``guest-set-time``).

        A restored guest wakes with the clock of the moment it was saved (and a guest paused
        for a save lags by the pause): TLS, apt and Kerberos-like checks in the guest would see
        the past. The agent sets the system time and then the RTC (``hwclock -w``).
        """
        sock = self.vm_dir(vmid) / "qga.sock"
        deadline = time.monotonic() + timeout
        while True:
            try:
                _qga_call(sock, "guest-set-time", timeout=20, arguments={"time": time.time_ns()})
                return
            except VmError as exc:
                if "hwclock" in str(exc):
                    return  # the system time is set before the RTC; an RTC error is harmless
                error: Exception = exc
            except (OSError, ValueError, TimeoutError) as exc:
                error = exc
            if time.monotonic() > deadline or not self.is_running(vmid):
                raise VmError(f"VM {vmid}: the guest agent did not set the clock: {error}")
            time.sleep(0.5)

    def _ready(self, vmid: int) -> bool:
        """cloud-init has finished, sshd listens and the host keys are on the console."""
        return bool(self.host_keys(vmid)) and all(
            self._read_file(vmid, path) is not None for path in READY_FILES
        )

    def _save_when_ready(
        self,
        vmid: int,
        key: str,
        material: Mapping[str, Any],
        cancel: threading.Event,
        timeout: float = 900,
    ) -> None:
        """Wait until the booted guest is ready, then save its snapshot (failures recorded)."""
        folder = self.vm_dir(vmid)
        deadline = time.monotonic() + timeout
        while not self._ready(vmid):
            if cancel.is_set():
                return
            if time.monotonic() > deadline or not self.is_running(vmid):
                self._record(vmid, save_error="the guest was not ready to be saved")
                return
            cancel.wait(1)
        if cancel.is_set():
            return
        try:
            snap = snapshot.save(
                qmp_socket=folder / "qmp.sock",
                overlay=folder / "overlay.qcow2",
                seed_iso=folder / "seed.iso",
                console=folder / "console.log",
                key=key,
                material=material,
                extra={"host_keys": self.host_keys(vmid)},
                cache=self.snapshot_cache,
            )
        except (snapshot.SnapshotError, OSError, ValueError) as exc:
            self._record(vmid, save_error=str(exc))
            return
        self._record(vmid, saved=snap.key)
        if not cancel.is_set():
            with contextlib.suppress(VmError):
                self.sync_clock(vmid)  # the pause left the guest's clock behind

    def stop(self, vmid: int) -> None:
        """Power the VM off (QEMU is ended) and remove its tap; the overlay stays."""
        self._cancel_save(vmid)
        pid = self.pid(vmid)
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 15
            while self.is_running(vmid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if self.is_running(vmid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                while self.is_running(vmid):
                    time.sleep(0.1)
        netns.remove_tap(vmid, self.namespace)
        folder = self.vm_dir(vmid)
        for runtime in ("qga.sock", "qmp.sock", "qemu.pid", "seed.iso", "started"):
            (folder / runtime).unlink(missing_ok=True)

    def destroy(self, vmid: int) -> None:
        """Stop the VM and remove its overlay, seed, sockets, logs and tap."""
        self.stop(vmid)
        shutil.rmtree(self.vm_dir(vmid), ignore_errors=True)

    def agent_interfaces(self, vmid: int) -> list[dict[str, Any]] | None:
        """What the VM's qemu-guest-agent answers to ``guest-network-get-interfaces``."""
        if not self.is_running(vmid) or self.saving(vmid):
            return None
        try:
            result = _qga_call(self.vm_dir(vmid) / "qga.sock", "guest-network-get-interfaces")
        except (OSError, ValueError, TimeoutError, VmError):
            return None
        return list(result) if isinstance(result, list) else None

    def agent_file_read(self, vmid: int, path: str) -> str | None:
        """A small text file read by the VM's qemu-guest-agent (``guest-file-open/read``).

        None while the agent does not answer or the file cannot be read (as PVE's
        ``agent/file-read`` fails then); at most 64 KiB, as PVE reads.
        """
        if self.saving(vmid):
            return None
        return self._read_file(vmid, path)

    def _read_file(self, vmid: int, path: str) -> str | None:
        if not self.is_running(vmid):
            return None
        sock = self.vm_dir(vmid) / "qga.sock"
        try:
            handle = _qga_call(sock, "guest-file-open", arguments={"path": path, "mode": "r"})
            try:
                chunk = _qga_call(
                    sock, "guest-file-read", arguments={"handle": handle, "count": 65536}
                )
            finally:
                _qga_call(sock, "guest-file-close", arguments={"handle": handle})
        except (OSError, ValueError, TimeoutError, VmError):
            return None
        return base64.b64decode(chunk.get("buf-b64", "")).decode("utf-8", errors="replace")

    # -- lab helpers ---------------------------------------------------------------------

    def console(self, vmid: int) -> str:
        """The serial console output so far."""
        try:
            return (self.vm_dir(vmid) / "console.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def host_keys(self, vmid: int) -> list[str]:
        """The VM's SSH host public keys as cloud-init printed them (``type base64``)."""
        return parse_host_keys(self.console(vmid))

    def wait_host_keys(self, vmid: int, timeout: float = 300) -> list[str]:
        """Wait until cloud-init has printed the host keys on the console, and return them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            keys = self.host_keys(vmid)
            if keys:
                return keys
            if not self.is_running(vmid):
                raise VmError(f"VM {vmid} stopped before printing its SSH host keys")
            time.sleep(1)
        raise VmError(f"VM {vmid} printed no SSH host keys within {timeout:.0f} s")

    def _create_overlay(self, overlay: Path, backing: Path) -> None:
        argv = [
            "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
            "-b", str(backing), str(overlay),
        ]  # fmt: skip
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        except FileNotFoundError as exc:
            raise VmError("qemu-img is missing (apt-get install qemu-utils)") from exc
        if proc.returncode != 0:
            raise VmError(f"qemu-img create failed: {proc.stderr.strip()}")
