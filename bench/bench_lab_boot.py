"""Benchmark: a lab VM booted against the same VM restored from its snapshot, under TCG.

Starts real lab VMs (``lab/vms.py``, QEMU, the cached image) one at a time in a network
namespace of its own (``soplabbench``, never the lab's ``soplab``), a state dir of its own and
a snapshot cache of its own (so a snapshot left in ``$SOP_CACHE`` does not decide the figures),
with a seed as the lab's Proxmox makes it (``ciupgrade`` off, as the Terraform side sets it).
It prints, each the median of ``--runs`` (5) starts, in seconds from ``QemuBackend.start``:

- boot-to-SSH (``restore=False``): sshd sends its banner;
- restore-to-SSH and restore-to-agent: the guest restored from the snapshot that one boot
  (not counted) saved; the agent figure is when qemu-guest-agent reports the seed's address.

Every start is also checked: an SSH login as the seed's user with the host keys pinned from
what the guest agent reads prints the seed's host name. Needs root and ``.ci/setup/lab.sh``.

    sudo python bench/bench_lab_boot.py [--runs 5] [--namespace soplabbench]
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

from sop_pipeline.lab import image, netns, snapshot, vms  # noqa: E402

VMID = 1950
ADDRESS = "10.99.0.150"
TIMEOUT = 900.0
HOST_KEY_FILES = ("/etc/ssh/ssh_host_ed25519_key.pub", "/etc/ssh/ssh_host_ecdsa_key.pub")


def _config(public_key: str) -> dict[str, object]:
    return {
        "name": "bench", "ciuser": "sop", "memory": 1024, "cores": 2, "sockets": 1,
        "sshkeys": urllib.parse.quote(public_key, safe=""),
        "ipconfig0": f"ip={ADDRESS}/24,gw={netns.GATEWAY}", "nameserver": netns.DNS_ADDRESS,
        "searchdomain": "sumbarprov.go.id", "net0": "virtio,bridge=vmbr0", "ciupgrade": 0,
    }  # fmt: skip


def start_once(backend: vms.QemuBackend, key: Path, work: Path, namespace: str) -> dict[str, float]:
    """Start the VM, wait for banner and agent, log in with pinned keys; return the figures."""
    figures: dict[str, float] = {}
    started = time.monotonic()

    def agent() -> None:
        while time.monotonic() - started < TIMEOUT:
            for nic in backend.agent_interfaces(VMID) or []:
                if any(a.get("ip-address") == ADDRESS for a in nic.get("ip-addresses", [])):
                    figures["agent"] = time.monotonic() - started
                    return
            time.sleep(0.2)

    watcher = threading.Thread(target=agent)
    watcher.start()
    try:
        backend.start(VMID, _config(key.with_suffix(".pub").read_text()))
        vms.wait_ssh(ADDRESS, namespace, timeout=TIMEOUT)
        figures["ssh"] = time.monotonic() - started
    finally:
        watcher.join()
    keys = []
    for path in HOST_KEY_FILES:
        text = backend.agent_file_read(VMID, path)
        if text is None:
            raise RuntimeError(f"the guest agent did not read {path}")
        keys.append(" ".join(text.split()[:2]))
    known = work / "known_hosts"
    known.write_text("".join(f"{ADDRESS} {k}\n" for k in keys))
    argv = ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={known}", "-o", "ConnectTimeout=300",
            f"sop@{ADDRESS}", "hostname"]  # fmt: skip
    login = netns.run(argv, namespace, timeout=TIMEOUT)
    if login.returncode != 0 or login.stdout.strip() != "bench":
        raise RuntimeError(f"login to {ADDRESS} failed: {login.stderr.strip()[-500:]}")
    if "agent" not in figures:
        raise RuntimeError(f"the guest agent of VM {VMID} never reported {ADDRESS}")
    figures["mode_restore"] = 1.0 if backend.started(VMID).get("mode") == "restore" else 0.0
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="starts per figure (median)")
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
            work = Path(tmp)
            key = work / "id_ed25519"
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                           check=True)  # fmt: skip
            cache = work / "cache"

            def backend(restore: bool) -> vms.QemuBackend:
                return vms.QemuBackend(
                    state_dir=work / "vms", namespace=args.namespace, image=img,
                    restore=restore, snapshot_cache=cache,
                )  # fmt: skip

            print(f"accelerator: {backend(False).accelerator}")  # probed before any clock
            boots, restores = [], []
            for run in range(args.runs):
                fig = start_once(backend(False), key, work, args.namespace)
                backend(False).destroy(VMID)
                boots.append(fig)
                print(f"boot {run + 1}: ssh {fig['ssh']:6.1f} s  agent {fig['agent']:6.1f} s  "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
            saver = backend(True)
            started = time.monotonic()
            saver.start(VMID, _config(key.with_suffix(".pub").read_text()))
            facts = saver.started(VMID)
            saver.destroy(VMID)
            snap = snapshot.find(str(facts.get("saved", "")), cache)
            if snap is None:
                raise RuntimeError(f"the boot saved no snapshot: {facts}")
            info = snap.info()
            print(f"save: boot until saved {time.monotonic() - started:.1f} s; guest paused "
                  f"{info['pause_seconds']:.2f} s; stream {info['state_bytes'] / 2**20:.0f} MiB, "
                  f"disk {info['disk_bytes'] / 2**20:.0f} MiB", flush=True)  # fmt: skip
            for run in range(args.runs):
                fig = start_once(backend(True), key, work, args.namespace)
                backend(True).destroy(VMID)
                if not fig["mode_restore"]:
                    raise RuntimeError("the guest booted instead of restoring")
                restores.append(fig)
                print(f"restore {run + 1}: ssh {fig['ssh']:6.1f} s  agent {fig['agent']:6.1f} s  "
                      f"(load {os.getloadavg()[0]:.2f})", flush=True)  # fmt: skip
            print(f"median of {args.runs}, under {backend(False).accelerator}: "
                  f"boot-to-SSH {statistics.median(f['ssh'] for f in boots):.1f} s, "
                  f"restore-to-SSH {statistics.median(f['ssh'] for f in restores):.1f} s, "
                  f"restore-to-agent {statistics.median(f['agent'] for f in restores):.1f} s "
                  f"(boot-to-agent {statistics.median(f['agent'] for f in boots):.1f} s)"
                  )  # fmt: skip
    finally:
        netns.delete(args.namespace)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
