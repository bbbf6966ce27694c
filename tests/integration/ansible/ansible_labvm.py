"""Lab VMs for the Ansible tests, Molecule and the benchmark.

Boots a real Debian VM through the lab's :class:`~sop_pipeline.lab.vms.QemuBackend` (the same
path the lab's Proxmox takes when a guest starts), with a cloud-init config as Proxmox writes
it, and pins its SSH host keys from what cloud-init printed on the console: nothing trusts
on first use.

Also a small CLI for Molecule's delegated driver (run inside the lab namespace):

    python tests/integration/ansible/ansible_labvm.py up --vmid 8990 --address 10.99.0.190 --dir D
    python tests/integration/ansible/ansible_labvm.py down --vmid 8990 --dir D

``up`` prints one JSON object: address, user, identity_file, known_hosts. ``env`` prints the
production adapter's Ansible tuning as shell exports, for running a scenario by hand
(``eval "$(python tests/integration/ansible/ansible_labvm.py env)"``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import urllib.parse
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from sop_pipeline.adapters.ansible import SshTarget, known_hosts_text, tuning_settings  # noqa: E402
from sop_pipeline.lab import image as lab_image  # noqa: E402
from sop_pipeline.lab import mirror, netns  # noqa: E402
from sop_pipeline.lab.vms import QemuBackend  # noqa: E402

USER = "sop"
HERE = Path(__file__).resolve().parent
#: The lab namespace these VMs live in: the lab's own by default; `make test-vm` runs site.yml's
#: tests in one of their own beside Molecule (tests/vm_groups.py), each with its own mirror.
NAMESPACE = os.environ.get("SOP_ANSIBLE_LAB_NAMESPACE", netns.NAMESPACE)

#: VMIDs and addresses these tests use (kept apart from the other suites' and Molecule's).
VMID = 8991
ADDRESS = "10.99.0.191"
#: This suite's own BIND: the lab's DNS address, a port of its own (never two named on one).
DNS_PORT = 5354
#: A name that already belongs to another request (published before by someone else).
FOREIGN_LABEL = "layanan"
FOREIGN_ADDRESS = "10.99.0.150"
FOREIGN_RECORDS = [
    f"{FOREIGN_LABEL} IN A {FOREIGN_ADDRESS}",
    f'{FOREIGN_LABEL} IN TXT "sop-pipeline owner=dinsos-lama"',
]


@dataclass(frozen=True)
class LabVm:
    """A booted lab VM and how to reach it."""

    vmid: int
    address: str
    user: str
    identity_file: str
    known_hosts: str

    def target(self) -> SshTarget:
        """The adapter's view of this VM."""
        return SshTarget(self.address, self.user, Path(self.identity_file), Path(self.known_hosts))


def backend(state_dir: Path) -> QemuBackend:
    """A QEMU backend keeping its VMs under ``state_dir``."""
    return QemuBackend(state_dir=state_dir / "vms", namespace=NAMESPACE)


def ensure_lab(state_dir: Path) -> None:
    """The lab namespace and the Debian mirror (idempotent; a running mirror is kept)."""
    netns.create(NAMESPACE)
    image = lab_image.build()
    mirror.start(image, lab_dir_for_mirror(state_dir), namespace=NAMESPACE)


def lab_dir_for_mirror(state_dir: Path) -> Path:
    """Where the mirror keeps its pid file: the shared lab dir, so one mirror serves all the
    VMs of a namespace (another namespace's mirror has a folder of its own there)."""
    shared = Path(os.environ.get("SOP_LAB_DIR", "/var/lib/sop-lab"))
    if NAMESPACE != netns.NAMESPACE:
        shared = shared / f"mirror-{NAMESPACE}"
    shared.mkdir(parents=True, exist_ok=True, mode=0o700)
    return shared


def ssh_key(state_dir: Path) -> Path:
    """An Ed25519 key pair for the VMs, copied into ``state_dir``.

    Made once per cache (``$SOP_CACHE/lab-keys``, 0700), not once per run: the key is part of
    the VM's seed, so the same key keeps the seed, hence the snapshot key, the same across runs,
    and the VM restores from its snapshot instead of booting (``lab/snapshot.py``).
    """
    key = state_dir / "id_ed25519"
    if key.exists():
        return key
    shared = lab_image.cache_dir() / "lab-keys"
    shared.mkdir(parents=True, exist_ok=True, mode=0o700)
    source = shared / "id_ed25519"
    if not source.exists() or not source.with_suffix(".pub").exists():
        source.unlink(missing_ok=True)
        source.with_suffix(".pub").unlink(missing_ok=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sop@lab", "-f", str(source)],
            check=True,
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(source.read_bytes())
    shutil.copyfile(source.with_suffix(".pub"), key.with_suffix(".pub"))
    return key


def boot(state_dir: Path, vmid: int, address: str, *, memory_mb: int = 1024) -> LabVm:
    """Boot (or find running) lab VM ``vmid`` at ``address``; return it with pinned host keys."""
    key = ssh_key(state_dir)
    pub = key.with_suffix(".pub").read_text().strip()
    config = {
        "name": f"molecule-{vmid}",
        "memory": memory_mb,
        "cores": 2,
        "sockets": 1,
        "ciuser": USER,
        "ciupgrade": 0,
        "sshkeys": urllib.parse.quote(pub + "\n", safe=""),
        "ipconfig0": f"ip={address}/24,gw={netns.GATEWAY}",
        "nameserver": netns.DNS_ADDRESS,
        "net0": "virtio,bridge=vmbr0",
    }
    qemu = backend(state_dir)
    qemu.start(vmid, config)
    host_keys = qemu.wait_host_keys(vmid, timeout=900)
    known = state_dir / f"known_hosts-{vmid}"
    known.write_text(known_hosts_text(address, host_keys))
    wait_ssh(address, timeout=900)
    return LabVm(vmid, address, USER, str(key), str(known))


_SSH_PROBE = (
    "import socket, sys, time\n"
    "deadline = time.monotonic() + float(sys.argv[2])\n"
    "while time.monotonic() < deadline:\n"
    "    try:\n"
    "        with socket.create_connection((sys.argv[1], 22), timeout=10) as s:\n"
    "            s.settimeout(30)\n"
    "            if s.recv(8).startswith(b'SSH-'):\n"
    "                sys.exit(0)\n"
    "    except OSError:\n"
    "        time.sleep(2)\n"
    "sys.exit(1)\n"
)


def wait_ssh(address: str, timeout: float) -> None:
    """Wait until sshd greets on ``address`` (cloud-init prints the keys before sshd starts)."""
    probe = [sys.executable, "-c", _SSH_PROBE, address, str(timeout)]
    if netns.run(probe, NAMESPACE, timeout=timeout + 30).returncode != 0:
        raise TimeoutError(f"sshd on {address} did not answer within {timeout:.0f} s")


def destroy(state_dir: Path, vmid: int) -> None:
    """Stop the VM and remove its overlay."""
    backend(state_dir).destroy(vmid)


def ssh_in_lab(vm: LabVm, *command: str) -> str:
    """Run ``command`` on the VM over real ssh with the pinned host keys; return its stdout."""
    argv = [
        "ip", "netns", "exec", NAMESPACE, "ssh", "-i", vm.identity_file,
        "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={vm.known_hosts}",
        "-o", "BatchMode=yes", f"{vm.user}@{vm.address}", "--", *command,
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def require(condition: bool, what: str, how: str) -> None:
    """Fail in CI, skip on a laptop, when a tool or privilege is missing."""
    if condition:
        return
    message = f"{what} is missing: {how}"
    import pytest

    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_lab() -> None:
    """Root, QEMU, /dev/net/tun, ansible-runner, BIND: what a lab VM test needs."""
    require(os.geteuid() == 0, "root", "run the lab tests as root (CI does)")
    require(
        shutil.which("qemu-system-x86_64") is not None and Path("/dev/net/tun").exists(),
        "QEMU",
        "run .ci/setup/lab.sh (apt-get install qemu-system-x86 qemu-utils)",
    )
    require(
        shutil.which("named") is not None,
        "BIND",
        "run .ci/setup/lab.sh (apt-get install bind9 bind9-utils)",
    )
    require(
        shutil.which("ansible-playbook") is not None,
        "ansible-core",
        "run .ci/setup/ansible.sh (pip install ansible-core ansible-runner mitogen)",
    )


def main(argv: list[str] | None = None) -> int:
    """CLI for Molecule's create/destroy playbooks."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["up", "down", "env"])
    parser.add_argument("--vmid", type=int)
    parser.add_argument("--address", default="")
    parser.add_argument("--dir", type=Path)
    args = parser.parse_args(argv)
    if args.action == "env":
        _, settings = tuning_settings(REPO / "roles")
        print("\n".join(f"export {k}={shlex.quote(v)}" for k, v in sorted(settings.items())))
        return 0
    if args.vmid is None or args.dir is None:
        parser.error(f"{args.action} needs --vmid and --dir")
    if args.action == "up":
        ensure_lab(args.dir)
        vm = boot(args.dir, args.vmid, args.address)
        print(json.dumps(asdict(vm)))
    else:
        destroy(args.dir, args.vmid)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
