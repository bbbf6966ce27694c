"""Real lab VMs: QEMU boots the lab image for every guest the lab's Proxmox starts.

:class:`QemuBackend` implements :class:`~sop_pipeline.lab.guests.GuestBackend`. For a guest
it keeps, under ``<lab dir>/vms/<vmid>/``:

- ``overlay.qcow2``: a copy-on-write overlay of the cached image (kept while the guest
  exists, as PVE keeps a stopped guest's disk; removed by :meth:`QemuBackend.destroy`);
- ``seed.iso``: the NoCloud seed made from the guest's PVE config at each start, as PVE
  regenerates its cloud-init drive;
- ``qga.sock``: the guest agent's virtio-serial channel, ``qmp.sock``: QEMU's monitor;
- ``console.log``: the serial console, where cloud-init prints the SSH host keys;
- ``qemu.pid``.

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
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sop_pipeline.errors import AdapterError
from sop_pipeline.lab import image as lab_image
from sop_pipeline.lab import netns, seed

QEMU = "qemu-system-x86_64"
#: The guest kernel's command line. No initrd: the root disk is NVMe (built into Debian's cloud
#: kernel, virtio is not), found by the kernel itself. ``ds=nocloud`` makes cloud-init read the
#: seed in local mode, so one cloud-init process does all the work before the first login
#: (see recipe/cloud.cfg). Every item is measured in docs/lab.md ("Boot time").
KERNEL_ARGS = (
    "root=/dev/nvme0n1 rootfstype=ext4 rootwait rw console=ttyS0 net.ifnames=0 quiet "
    "mitigations=off fsck.mode=skip ds=nocloud"
)
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
    ) -> None:
        self.state_dir = state_dir or (lab_dir() / "vms")
        self.namespace = namespace
        self._image = image
        self._accelerator = accelerator
        self.max_memory_mb = max_memory_mb
        self.max_cpus = max_cpus
        self.cpu_model = cpu_model

    # -- paths and state ---------------------------------------------------------------

    def vm_dir(self, vmid: int) -> Path:
        """The folder that holds the VM's overlay, seed, sockets and logs."""
        return self.state_dir / str(int(vmid))

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
        """Boot the guest from its overlay with a fresh seed; a running guest is left alone."""
        if self.is_running(vmid):
            return
        folder = self.vm_dir(vmid)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        overlay = folder / "overlay.qcow2"
        if not overlay.exists():
            self._create_overlay(overlay)
        iso = seed.write_iso(seed.seed_files(config, vmid), folder / "seed.iso")
        mac = seed.mac_address(config, 0, vmid) or seed.mac_address({"net0": ""}, 0, vmid)
        tap = netns.add_tap(vmid, self.namespace)
        for stale in ("qga.sock", "qmp.sock", "qemu.pid"):
            (folder / stale).unlink(missing_ok=True)
        memory = min(max(_int(config, "memory", 1024), 256), self.max_memory_mb)
        cpus = _int(config, "cores", 1) * _int(config, "sockets", 1)
        cpus = min(max(cpus, 1), self.max_cpus)
        accel = self.accelerator
        accel_arg = "kvm" if accel == "kvm" else "tcg,thread=multi"
        cpu_args = ["-cpu", self.cpu_model] if self.cpu_model else []
        argv = [
            QEMU, "-name", f"sop-{vmid}", "-accel", accel_arg, *cpu_args, "-m", str(memory),
            "-smp", str(cpus), "-nodefaults", "-display", "none", "-vga", "none",
            "-kernel", str(self.image.kernel), "-append", KERNEL_ARGS,
            # One NVMe controller: namespace 1 the root disk, namespace 2 the seed (read-only).
            "-drive", f"file={overlay},if=none,id=root,format=qcow2,cache=unsafe,discard=unmap",
            "-drive", f"file={iso},if=none,id=seed,format=raw,readonly=on",
            "-device", f"nvme,id=nvme0,serial=sop{vmid}",
            "-device", "nvme-ns,drive=root,bus=nvme0,nsid=1",
            "-device", "nvme-ns,drive=seed,bus=nvme0,nsid=2",
            "-netdev", f"tap,id=n0,ifname={tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=n0,mac={mac},romfile=",
            "-device", "virtio-rng-pci",
            "-device", "virtio-serial-pci",
            "-chardev", f"socket,id=qga0,path={folder / 'qga.sock'},server=on,wait=off",
            "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
            "-chardev", f"file,id=con0,path={folder / 'console.log'}",
            "-serial", "chardev:con0",
            "-qmp", f"unix:{folder / 'qmp.sock'},server=on,wait=off",
            "-pidfile", str(folder / "qemu.pid"), "-daemonize",
        ]  # fmt: skip
        (folder / "console.log").unlink(missing_ok=True)
        proc = netns.run(argv, self.namespace, timeout=60)
        if proc.returncode != 0 or not self.is_running(vmid):
            netns.remove_tap(vmid, self.namespace)
            raise VmError(f"QEMU did not start VM {vmid}: {proc.stderr.strip()[-800:]}")
        (folder / "started").write_text(json.dumps({"at": time.time(), "accel": accel}))

    def stop(self, vmid: int) -> None:
        """Power the VM off (QEMU is ended) and remove its tap; the overlay stays."""
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
        if not self.is_running(vmid):
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

    def _create_overlay(self, overlay: Path) -> None:
        argv = [
            "qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2",
            "-b", str(self.image.disk), str(overlay),
        ]  # fmt: skip
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        except FileNotFoundError as exc:
            raise VmError("qemu-img is missing (apt-get install qemu-utils)") from exc
        if proc.returncode != 0:
            raise VmError(f"qemu-img create failed: {proc.stderr.strip()}")
