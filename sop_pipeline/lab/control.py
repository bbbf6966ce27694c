"""``sop lab up`` / ``sop lab down``: start and stop the whole local lab.

:func:`up`, in order:

1. create the ``soplab`` namespace (bridge, addresses; no way out);
2. build or reuse the cached VM image (``lab/image.py``);
3. serve the Debian mirror at 10.99.0.3:80 inside the namespace;
4. start BIND at 10.99.0.2:53 inside the namespace, with the TSIG secret kept 0600 under
   the lab dir (made at the first ``up``, never printed);
5. start the lab's Proxmox API at https://10.99.0.1:8006 inside the namespace, as a process
   (``python -m sop_pipeline.lab.control serve-pve``) whose guests are real QEMU VMs.

:func:`down` undoes it all in reverse, destroying every lab VM, and is safe to repeat.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sop_pipeline.errors import AdapterError
from sop_pipeline.lab import bind, holding, image, mirror, netns, vms

PVE_PORT = 8006


class LabError(AdapterError):
    """The lab did not come up (or down) as a whole."""


@dataclass(frozen=True)
class LabInfo:
    """Where the lab's parts answer, and where their secrets are (paths only, no secrets)."""

    namespace: str
    lab_dir: str
    pve_url: str
    pve_token_file: str
    pve_cafile: str
    dns_server: str
    dns_port: int
    tsig_key_name: str
    tsig_secret_file: str
    mirror_url: str
    image_recipe: str
    accelerator: str


def _secret(path: Path) -> str:
    """The lab's TSIG secret: read it, or make and store it (0600) at the first call."""
    if path.exists():
        return path.read_text().strip()
    value = bind.generate_secret()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.touch(mode=0o600)
    path.write_text(value + "\n")
    return value


def lab_bind(lab_dir: Path, namespace: str = netns.NAMESPACE) -> bind.BindInstance:
    """The lab's BIND instance (10.99.0.2:53 in the namespace, its secret under the lab dir)."""
    return bind.BindInstance(
        directory=lab_dir / "bind",
        key_secret=_secret(lab_dir / "secrets" / "tsig-sop-pipeline"),
        namespace=namespace,
    )


def _wait_tcp(address: str, port: int, timeout: float, namespace: str) -> bool:
    probe = [
        sys.executable, "-c",
        "import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 2).close()",
        address, str(port),
    ]  # fmt: skip
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if netns.run(probe, namespace, timeout=10).returncode == 0:
            return True
        time.sleep(0.3)
    return False


def up(
    *, lab_dir: Path | None = None, with_pve: bool = True, namespace: str = netns.NAMESPACE
) -> LabInfo:
    """Bring the lab up (idempotent) and say where everything is.

    ``lab_dir`` and ``namespace`` default to the lab's own (``$SOP_LAB_DIR``, ``soplab``);
    a second lab (tests, experiments) on the same machine passes its own of both.
    """
    root = lab_dir or vms.lab_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    netns.create(namespace)
    img = image.build()
    mirror.start(img, root / "mirror", namespace=namespace)
    holding.start(root / "holding", namespace=namespace)  # soft retirement's page
    dns = lab_bind(root, namespace)
    bind.start(dns)
    backend = vms.QemuBackend(state_dir=root / "vms", image=img, namespace=namespace)
    accel = backend.accelerator  # probe now, not inside the first API call
    pve_dir = root / "pve"
    if with_pve and netns.pid_alive(root / "pve.pid") is None:
        if _wait_tcp(netns.GATEWAY, PVE_PORT, 1, namespace):
            raise LabError(
                f"something already answers on {netns.GATEWAY}:{PVE_PORT} in namespace "
                f"{namespace} (another lab's Proxmox?): stop that lab with `sop lab down "
                f"--namespace {namespace} --lab-dir <its dir>` first"
            )
        argv = [sys.executable, "-m", "sop_pipeline.lab.control", "serve-pve",
                "--lab-dir", str(root), "--namespace", namespace]  # fmt: skip
        netns.spawn(argv, root / "pve.pid", root / "pve.log", namespace)
        if not _wait_tcp(netns.GATEWAY, PVE_PORT, 60, namespace):
            raise LabError(f"the lab's Proxmox API did not start; see {root / 'pve.log'}")
    info = LabInfo(
        namespace=namespace,
        lab_dir=str(root),
        pve_url=f"https://{netns.GATEWAY}:{PVE_PORT}",
        pve_token_file=str(pve_dir / "pve-token"),
        pve_cafile=str(pve_dir / "pve.crt"),
        dns_server=dns.address,
        dns_port=dns.port,
        tsig_key_name=bind.KEY_NAME,
        tsig_secret_file=str(root / "secrets" / "tsig-sop-pipeline"),
        mirror_url=image.LAB_MIRROR_URL,
        image_recipe=img.recipe_hash,
        accelerator=accel,
    )
    (root / "lab.json").write_text(json.dumps(asdict(info), indent=2) + "\n")
    return info


def down(*, lab_dir: Path | None = None, namespace: str = netns.NAMESPACE) -> None:
    """Stop the lab: the API, every VM, BIND, the mirror; then delete the namespace."""
    root = lab_dir or vms.lab_dir()
    netns.kill_pidfile(root / "pve.pid")
    backend = vms.QemuBackend(state_dir=root / "vms", accelerator="tcg", namespace=namespace)
    if backend.state_dir.is_dir():
        for folder in backend.state_dir.iterdir():
            if folder.is_dir() and folder.name.isdigit():
                backend.destroy(int(folder.name))
    bind.stop(lab_bind(root, namespace))
    mirror.stop(root / "mirror")
    holding.stop(root / "holding")
    netns.delete(namespace)
    (root / "lab.json").unlink(missing_ok=True)


def _serve_pve(lab_dir: Path, namespace: str) -> int:
    """Run the lab's Proxmox API with QEMU guests until SIGTERM (inside the namespace)."""
    from sop_pipeline.lab import pve

    # A start task ends when QEMU runs, as on PVE; a snapshot is saved behind it, the agent
    # held back until then (vms.QemuBackend.save_in_background).
    backend = vms.QemuBackend(
        state_dir=lab_dir / "vms", namespace=namespace, save_in_background=True
    )
    running = pve.start(
        host=netns.GATEWAY, port=PVE_PORT, state_dir=lab_dir / "pve", backend=backend
    )
    stopped = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stopped.set())
    print(f"lab pve listening on {running.url}", flush=True)
    stopped.wait()
    running.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m sop_pipeline.lab.control up|down|serve-pve``."""
    parser = argparse.ArgumentParser(prog="python -m sop_pipeline.lab.control")
    parser.add_argument("action", choices=["up", "down", "serve-pve"])
    parser.add_argument("--lab-dir", type=Path, default=None)
    parser.add_argument("--namespace", default=netns.NAMESPACE, help="network namespace")
    parser.add_argument("--no-pve", action="store_true", help="do not start the Proxmox API")
    args = parser.parse_args(argv)
    if args.action == "up":
        info = up(lab_dir=args.lab_dir, with_pve=not args.no_pve, namespace=args.namespace)
        print(json.dumps(asdict(info), indent=2))
    elif args.action == "down":
        down(lab_dir=args.lab_dir, namespace=args.namespace)
    else:
        return _serve_pve(args.lab_dir or vms.lab_dir(), args.namespace)
    return 0


if __name__ == "__main__":
    sys.exit(main())
