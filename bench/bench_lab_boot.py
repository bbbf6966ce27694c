"""Benchmark: how long a lab VM takes to boot, for 1 VM and for 3 VMs started at once.

Boots real lab VMs (``lab/vms.py``, QEMU, the cached image) in a network namespace of its own
(``soplabbench``, never the lab's ``soplab``) and a state dir of its own, with a seed as the
lab's Proxmox makes it (``ciupgrade`` off, as the Terraform side sets it in the lab).
For each VM it reports, in seconds from ``QemuBackend.start``:

- ``ssh``: sshd sends its banner;
- ``login``: an SSH login as the seed's user, with the host keys pinned from the serial
  console, prints the seed's host name (so cloud-init has applied address, user, keys and
  host name);
- ``agent``: qemu-guest-agent reports the seed's address on eth0;
- ``cpu``: CPU seconds QEMU used until the banner (less sensitive to other load than wall time).

Needs root and ``.ci/setup/lab.sh`` (QEMU, mmdebstrap, genisoimage). Builds the image when it
is not cached.

    sudo python bench/bench_lab_boot.py [--counts 1,3] [--namespace soplabbench]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sop_pipeline.lab import image, netns, vms  # noqa: E402

FIRST_VMID = 1950
FIRST_HOST = 150
TIMEOUT = 900.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _config(index: int, public_key: str, address: str) -> dict[str, object]:
    return {
        "name": f"bench{index}", "ciuser": "sop", "memory": 1024, "cores": 2, "sockets": 1,
        "sshkeys": urllib.parse.quote(public_key, safe=""),
        "ipconfig0": f"ip={address}/24,gw={netns.GATEWAY}", "nameserver": netns.DNS_ADDRESS,
        "searchdomain": "sumbarprov.go.id", "net0": "virtio,bridge=vmbr0", "ciupgrade": 0,
    }  # fmt: skip


def boot_one(
    backend: vms.QemuBackend, index: int, key: Path, work: Path, namespace: str
) -> dict[str, float]:
    """Boot VM ``index``, wait for banner, login and agent; return the figures."""
    vmid, address = FIRST_VMID + index, f"10.99.0.{FIRST_HOST + index}"
    figures: dict[str, float] = {}
    started = time.monotonic()
    backend.start(vmid, _config(index, key.with_suffix(".pub").read_text(), address))
    pid = backend.pid(vmid)
    assert pid is not None

    def agent() -> None:
        while time.monotonic() - started < TIMEOUT:
            for nic in backend.agent_interfaces(vmid) or []:
                if any(a.get("ip-address") == address for a in nic.get("ip-addresses", [])):
                    figures["agent"] = time.monotonic() - started
                    return
            time.sleep(0.5)

    watcher = threading.Thread(target=agent)
    watcher.start()
    vms.wait_ssh(address, namespace, timeout=TIMEOUT)
    figures["ssh"] = time.monotonic() - started
    figures["cpu"] = _cpu_seconds(pid)
    keys = backend.wait_host_keys(vmid, timeout=TIMEOUT)
    known = work / f"known_hosts_{index}"
    known.write_text("".join(f"{address} {k}\n" for k in keys))
    argv = ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={known}", "-o", "ConnectTimeout=300",
            f"sop@{address}", "hostname"]  # fmt: skip
    login = netns.run(argv, namespace, timeout=TIMEOUT)
    if login.returncode != 0 or login.stdout.strip() != f"bench{index}":
        raise RuntimeError(f"login to {address} failed: {login.stderr.strip()[-500:]}")
    figures["login"] = time.monotonic() - started
    watcher.join()
    if "agent" not in figures:
        raise RuntimeError(f"the guest agent of VM {vmid} never reported {address}")
    return figures


def run_batch(
    count: int, namespace: str, work: Path, img: image.LabImage
) -> list[dict[str, float]]:
    """Start ``count`` VMs at once and return each one's figures; destroy them afterwards."""
    key = work / "id_ed25519"
    if not key.exists():
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    backend = vms.QemuBackend(state_dir=work / "vms", namespace=namespace, image=img)
    print(f"accelerator: {backend.accelerator}")  # probed (or read) before any clock starts
    results: list[dict[str, float]] = [{} for _ in range(count)]
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            results[index] = boot_one(backend, index, key, work, namespace)
        except BaseException as exc:  # reported after the batch
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for index in range(count):
            backend.destroy(FIRST_VMID + index)
    if errors:
        raise errors[0]
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,3", help="batch sizes, comma separated")
    parser.add_argument("--namespace", default="soplabbench")
    args = parser.parse_args()
    if args.namespace == netns.NAMESPACE:
        parser.error("use a namespace of its own, not the lab's")
    img = image.build()
    print(f"image {img.recipe_hash}; load average {os.getloadavg()[0]:.2f}; "
          f"{os.cpu_count()} CPUs; kernel command line: {vms.KERNEL_ARGS}")  # fmt: skip
    netns.delete(args.namespace)
    netns.create(args.namespace)
    try:
        with tempfile.TemporaryDirectory(prefix="sop-bench-boot.") as tmp:
            for count in (int(c) for c in args.counts.split(",")):
                results = run_batch(count, args.namespace, Path(tmp), img)
                for index, fig in enumerate(results):
                    print(f"{count} VM(s) at once, VM {index}: ssh {fig['ssh']:6.1f} s  "
                          f"login {fig['login']:6.1f} s  agent {fig['agent']:6.1f} s  "
                          f"QEMU CPU to ssh {fig['cpu']:6.1f} s")  # fmt: skip
                if count > 1:
                    ssh = [fig["ssh"] for fig in results]
                    print(
                        f"{count} VM(s) at once: ssh median {statistics.median(ssh):.1f} s, "
                        f"last {max(ssh):.1f} s; load average {os.getloadavg()[0]:.2f}"
                    )
    finally:
        netns.delete(args.namespace)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
