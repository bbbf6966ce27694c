"""The lab's Proxmox VE API: fakepve with our compatibility layer, two nodes and a template.

Start it in-process (a daemon thread with its own event loop) with :func:`start`, or as a
process with ``python -m sop_pipeline.lab.pve --host 10.99.0.1 --port 8006 --state-dir DIR``.
What it serves, as the shared lab constants say:

- nodes ``pve1`` and ``pve2`` with real capacity figures (:data:`DEFAULT_CAPACITY`);
- storages ``local-lvm`` (images, thin pool), ``local`` (iso, snippets; a vzdump to it is
  refused: it keeps no files here) and ``backup``, whose
  vzdump archives are real copies of the guests' disks under ``<state_dir>/backup/dump``;
- the cloud-init template VM 9000 ``debian-12-cloudinit`` on ``pve1``;
- the API token ``root@pam!sop`` with a random UUID secret (written 0600 to a file, never
  printed), and TLS with a self-signed certificate made with ``cryptography`` for the address.

Guests reach a :class:`~sop_pipeline.lab.guests.GuestBackend`. The QEMU backend boots real VMs;
:class:`ConfigAgentBackend` here is for Terraform-only tests: it runs nothing and answers the
guest agent from the guest's own ``ipconfig0`` (the address cloud-init would have set), so it
proves the wiring, not that a guest booted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import ipaddress
import os
import shutil
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sop_pipeline.lab.guests import GuestBackend
from sop_pipeline.lab.pve_compat import DRIVE_KEY, CompatPve, NodeCapacity, drive_size_bytes

GiB = 1024**3
TOKEN_ID = "root@pam!sop"  # noqa: S105 - the token id is public; its secret is generated
TEMPLATE_VMID = 9000
TEMPLATE_NAME = "debian-12-cloudinit"
TEMPLATE_DISK_BYTES = 4 * GiB
BACKUP_STORAGE = "backup"
DEFAULT_CAPACITY: dict[str, NodeCapacity] = {
    "pve1": NodeCapacity(maxcpu=32, maxmem=128 * GiB, maxdisk=2048 * GiB),
    "pve2": NodeCapacity(maxcpu=32, maxmem=128 * GiB, maxdisk=2048 * GiB),
}
START_TIMEOUT = 30.0
T = TypeVar("T")


class ConfigAgentBackend:
    """A :class:`GuestBackend` that runs nothing: the agent reports the guest's ``ipconfig0``.

    For Terraform-only tests: a started guest "has" the static address its PVE config gives
    cloud-init, on an ``eth0`` with the MAC of ``net0``. A stopped or destroyed one has none.
    """

    def __init__(self, disk_dir: Path | None = None) -> None:
        self._running: dict[int, Mapping[str, Any]] = {}
        self._lock = threading.Lock()
        self.events: list[tuple[str, int]] = []
        # With a folder, each started guest gets a real qcow2 disk of its boot disk's size
        # (empty, as a fresh volume is), so that the lab's vzdump has a disk to copy.
        self.disk_dir = disk_dir

    def start(self, vmid: int, config: Mapping[str, Any]) -> None:
        with self._lock:
            self._running[vmid] = dict(config)
            self.events.append(("start", vmid))
        image = self.disk_image(vmid)
        if self.disk_dir is not None and image is None:
            size = boot_disk_bytes(config)
            path = self.disk_dir / str(vmid) / "disk.qcow2"
            path.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(
                ["qemu-img", "create", "-q", "-f", "qcow2", str(path), str(size)],
                check=True,
                capture_output=True,
            )

    def disk_image(self, vmid: int) -> Path | None:
        if self.disk_dir is None:
            return None
        path = self.disk_dir / str(vmid) / "disk.qcow2"
        return path if path.is_file() else None

    def stop(self, vmid: int) -> None:
        with self._lock:
            self._running.pop(vmid, None)
            self.events.append(("stop", vmid))

    def destroy(self, vmid: int) -> None:
        with self._lock:
            self._running.pop(vmid, None)
            self.events.append(("destroy", vmid))
        if self.disk_dir is not None:
            shutil.rmtree(self.disk_dir / str(vmid), ignore_errors=True)

    def agent_interfaces(self, vmid: int) -> list[dict[str, Any]] | None:
        with self._lock:
            config = self._running.get(vmid)
        if config is None:
            return None
        lo = {
            "name": "lo",
            "hardware-address": "00:00:00:00:00:00",
            "ip-addresses": [{"ip-address": "127.0.0.1", "ip-address-type": "ipv4", "prefix": 8}],
        }
        eth0: dict[str, Any] = {
            "name": "eth0",
            "hardware-address": _mac_of(config.get("net0")),
            "ip-addresses": [],
        }
        address = _ipv4_of(config.get("ipconfig0"))
        if address is not None:
            eth0["ip-addresses"].append(
                {
                    "ip-address": str(address.ip),
                    "ip-address-type": "ipv4",
                    "prefix": address.network.prefixlen,
                }
            )
        return [lo, eth0]

    def agent_file_read(self, vmid: int, path: str) -> str | None:
        """A guest that runs nothing has no files to read."""
        return None


def boot_disk_bytes(config: Mapping[str, Any]) -> int:
    """Bytes of the guest's first disk (``scsi0`` etc.), as its ``size=`` says; 4 GiB if none."""
    for key in sorted(config):
        value = str(config[key])
        if DRIVE_KEY.match(key) and "media=cdrom" not in value:
            for part in value.split(",")[1:]:
                name, _, size = part.partition("=")
                if name == "size":
                    return drive_size_bytes(size) or TEMPLATE_DISK_BYTES
    return TEMPLATE_DISK_BYTES


def _mac_of(net: Any) -> str:
    for part in str(net or "").split(","):
        key, _, value = part.partition("=")
        if value and key in ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3", "macaddr"):
            return value.lower()
    return "00:00:00:00:00:00"


def _ipv4_of(ipconfig: Any) -> ipaddress.IPv4Interface | None:
    for part in str(ipconfig or "").split(","):
        key, _, value = part.partition("=")
        if key == "ip" and value not in ("", "dhcp"):
            return ipaddress.IPv4Interface(value)
    return None


def make_certificate(directory: Path, hosts: tuple[str, ...]) -> tuple[Path, Path]:
    """A self-signed server certificate for ``hosts`` (and 127.0.0.1); returns (cert, key) paths.

    The key file is 0600. Clients trust the certificate itself (``SSL_CERT_FILE`` for Go,
    ``verify=<cert>`` for requests).
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost")]
    for host in ("127.0.0.1", *hosts):
        try:
            entry: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            entry = x509.DNSName(host)
        if entry not in names:
            names.append(entry)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sop-lab-pve")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "pve.crt", directory / "pve.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


def build(
    *,
    host: str,
    port: int,
    token_secret: str,
    backend: GuestBackend | None,
    capacity: Mapping[str, NodeCapacity] | None = None,
    time_scale: float = 0.0,
    backup_dir: Path | None = None,
) -> CompatPve:
    """The lab's PVE, not yet listening: nodes, storages, the template and the API token.

    With ``backup_dir``, a storage ``backup`` (content ``backup``) keeps its vzdump archives
    there, as a PVE directory storage does (``<path>/dump/``)."""
    pve = CompatPve(
        password=uuid.uuid4().hex,
        host=host,
        port=port,
        backend=backend,
        capacity=capacity or DEFAULT_CAPACITY,
    )
    if backup_dir is not None:
        pve.add_backup_storage(BACKUP_STORAGE, backup_dir)
    pve.time_scale = time_scale
    pve.nodes.clear()
    for node in pve.capacity:
        pve.add_node(node)
    pve.apitokens[TOKEN_ID] = token_secret
    pve.storages["local"]["content"] = "iso,vztmpl,backup,snippets"
    pve.storages["local-lvm"].update(avail=2048 * GiB, total=2048 * GiB)
    pve.storages["local-lvm"].setdefault("volumes", {})[f"base-{TEMPLATE_VMID}-disk-0"] = {
        "content": "images",
        "format": "raw",
        "size": TEMPLATE_DISK_BYTES,
        "vmid": TEMPLATE_VMID,
    }
    pve.storages["local-lvm"]["avail"] -= TEMPLATE_DISK_BYTES
    pve.add_vm(
        TEMPLATE_VMID,
        TEMPLATE_NAME,
        node="pve1",
        template=True,
        config={
            "name": TEMPLATE_NAME,
            "template": 1,
            "ostype": "l26",
            "cores": 1,
            "sockets": 1,
            "memory": "1024",
            "agent": "1",
            "scsihw": "virtio-scsi-single",
            "boot": "order=scsi0",
            "scsi0": f"local-lvm:base-{TEMPLATE_VMID}-disk-0,discard=on,size=4G",
            "net0": "virtio=BC:24:11:00:90:00,bridge=vmbr0",
            "serial0": "socket",
            "vga": "serial0",
            "tags": "sop-template",
            "smbios1": f"uuid={uuid.uuid4()}",
        },
    )
    return pve


@dataclass
class RunningPve:
    """A lab PVE serving on its own event loop in a daemon thread."""

    pve: CompatPve
    cafile: Path
    token: str
    loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """``https://host:port`` (the provider's endpoint; the API is under ``/api2/json``)."""
        return f"https://{self.pve.host}:{self.pve.port}"

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(START_TIMEOUT)

    def sync(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` on the server's loop (to change fake state safely) and return its result."""

        async def run() -> T:
            return fn()

        return self.call(run())

    def stop(self) -> None:
        """Stop listening and end the loop's thread (a second call does nothing)."""
        if not self.loop.is_running():
            return
        try:
            self.call(self.pve.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            if self.thread is not None:
                self.thread.join(START_TIMEOUT)


def start(
    *,
    host: str,
    port: int,
    state_dir: Path,
    backend: GuestBackend | None = None,
    capacity: Mapping[str, NodeCapacity] | None = None,
    time_scale: float = 0.0,
    token_secret: str | None = None,
) -> RunningPve:
    """Start the lab PVE on ``host:port`` (port 0: a free one) in this process.

    Writes ``pve.crt``/``pve.key`` and the token file ``pve-token`` (0600, ``user@realm!id=secret``,
    the form ``PROXMOX_VE_API_TOKEN`` takes) under ``state_dir``; the storage ``backup`` keeps
    its archives in ``state_dir/backup/dump``.
    """
    secret = token_secret or str(uuid.uuid4())
    cert, key = make_certificate(state_dir, (host,))
    token = f"{TOKEN_ID}={secret}"
    write_secret(state_dir / "pve-token", token)
    pve = build(
        host=host,
        port=port,
        token_secret=secret,
        backend=backend,
        capacity=capacity,
        time_scale=time_scale,
        backup_dir=state_dir / "backup",
    )
    running = RunningPve(pve=pve, cafile=cert, token=token)

    def serve() -> None:
        asyncio.set_event_loop(running.loop)
        running.loop.run_forever()

    running.thread = threading.Thread(target=serve, name="lab-pve", daemon=True)
    running.thread.start()
    try:
        running.call(pve.start(str(cert), str(key)))
    except BaseException:
        running.loop.call_soon_threadsafe(running.loop.stop)
        raise
    return running


def write_secret(path: Path, text: str) -> None:
    """Write a secret file with mode 0600 from the start (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text + "\n")


def main(argv: list[str] | None = None) -> int:
    """``python -m sop_pipeline.lab.pve``: serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m sop_pipeline.lab.pve", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8006)
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Path(os.environ.get("SOP_LAB_DIR", "/var/lib/sop-lab")) / "pve",
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        default=0.0,
        help="real seconds per PVE second for tasks (0: tasks end at once)",
    )
    args = parser.parse_args(argv)
    running = start(
        host=args.host,
        port=args.port,
        state_dir=args.state_dir,
        backend=ConfigAgentBackend(disk_dir=args.state_dir / "disks"),
        time_scale=args.time_scale,
    )
    print(
        f"lab pve listening on {running.url} (token in {args.state_dir / 'pve-token'})", flush=True
    )
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    stopped.wait()
    running.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
