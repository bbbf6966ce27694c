"""Lab guests restored from snapshots: the same guest as a boot gives, to everything that looks.

One real boot saves the snapshot (a cache of this module's own, so the test never depends on
what an earlier run left in ``$SOP_CACHE``); the guest is destroyed and the same guest started
again restores. The restored guest is checked the way the pipeline checks a guest: its address
and MAC through the guest agent, its host keys read through the agent and pinned for SSH, its
clock. A guest with a changed seed misses the cache and boots, and ``restore=False`` boots
even when a snapshot is there.
"""

from __future__ import annotations

import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sop_pipeline.lab import image, netns, snapshot, vms
from tests.conftest import require_lab_tools

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.vm]

NAMESPACE = "soplabsnap"  # not the lab's own, nor test_vm's
VMID = 1985
ADDRESS = "10.99.0.185"
BOOT_TIMEOUT = 900
HOST_KEY_FILES = ("/etc/ssh/ssh_host_ed25519_key.pub", "/etc/ssh/ssh_host_ecdsa_key.pub")


def _config(key: Path, name: str = "snapvm") -> dict[str, Any]:
    return {
        "name": name, "ciuser": "sop", "memory": 1024, "cores": 2, "sockets": 1,
        "sshkeys": urllib.parse.quote(key.with_suffix(".pub").read_text(), safe=""),
        "ipconfig0": f"ip={ADDRESS}/24,gw={netns.GATEWAY}", "nameserver": netns.DNS_ADDRESS,
        "searchdomain": "sumbarprov.go.id", "net0": "virtio=BC:24:11:19:85:01,bridge=vmbr0",
        "ciupgrade": 0,
    }  # fmt: skip


def _agent_host_keys(backend: vms.QemuBackend) -> list[str]:
    """The host public keys as the pipeline reads them: files read by the guest agent."""
    keys = []
    for path in HOST_KEY_FILES:
        text = backend.agent_file_read(VMID, path)
        assert text is not None, f"the agent did not read {path}"
        keys.append(" ".join(text.split()[:2]))
    return sorted(keys)


@dataclass
class Restored:
    backend: vms.QemuBackend
    cache: Path
    key: Path
    work: Path
    booted: dict[str, Any]
    booted_agent_keys: list[str]
    restored: dict[str, Any]

    def ssh(self, known_hosts: Path, command: str) -> subprocess.CompletedProcess[str]:
        argv = ["ssh", "-i", str(self.key), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}",
                "-o", "ConnectTimeout=180", f"sop@{ADDRESS}", command]  # fmt: skip
        return netns.run(argv, NAMESPACE, timeout=600)


@pytest.fixture(scope="module")
def restored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Restored]:
    require_lab_tools("qemu-system-x86_64", "qemu-img", "genisoimage", "ssh", "ip")
    work = tmp_path_factory.mktemp("snap")
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    cache = work / "cache"
    img = image.build()
    netns.delete(NAMESPACE)
    netns.create(NAMESPACE)
    backend = vms.QemuBackend(
        state_dir=work / "vms", namespace=NAMESPACE, image=img, restore=True, snapshot_cache=cache
    )
    try:
        started = time.monotonic()
        backend.start(VMID, _config(key))  # a miss: boots, and saves once cloud-init is done
        booted = backend.started(VMID)
        print(f"\nboot (and save) until start() returned: {time.monotonic() - started:.1f} s")
        booted_agent_keys = _agent_host_keys(backend)
        backend.destroy(VMID)
        started = time.monotonic()
        backend.start(VMID, _config(key))
        vms.wait_ssh(ADDRESS, NAMESPACE, timeout=BOOT_TIMEOUT)
        print(f"restore to SSH: {time.monotonic() - started:.1f} s")
        yield Restored(backend, cache, key, work, booted, booted_agent_keys, backend.started(VMID))
    finally:
        backend.destroy(VMID)
        netns.delete(NAMESPACE)


def test_a_boot_saves_and_the_same_guest_restores(restored: Restored) -> None:
    assert restored.booted["mode"] == "boot"
    assert restored.booted.get("saved") == restored.booted["snapshot_key"], restored.booted
    assert restored.restored["mode"] == "restore"
    assert restored.restored["snapshot_key"] == restored.booted["snapshot_key"]
    snap = snapshot.find(restored.restored["snapshot_key"], restored.cache)
    assert snap is not None
    material = snap.info()["material"]
    assert material["image"] == image.build().recipe_hash
    assert material["host"] == vms.host_fingerprint()
    assert material["qemu"].startswith("QEMU emulator version")
    assert f"ip={ADDRESS}/24" not in str(material["argv"])  # the address is in the seed
    assert "soplab-root" in " ".join(material["argv"])
    assert f"address: {ADDRESS}" in material["seed"]["network_config"]


def test_restored_guest_has_the_address_its_config_asks_for(restored: Restored) -> None:
    interfaces = restored.backend.agent_interfaces(VMID)
    assert interfaces is not None, "the restored guest's agent does not answer"
    eth0 = next(i for i in interfaces if i["name"] == "eth0")
    assert eth0["hardware-address"] == "bc:24:11:19:85:01"
    assert ADDRESS in [a["ip-address"] for a in eth0["ip-addresses"]]


def test_host_keys_through_the_agent_are_the_snapshots_and_pin_ssh(restored: Restored) -> None:
    keys = _agent_host_keys(restored.backend)
    snap = snapshot.find(restored.restored["snapshot_key"], restored.cache)
    assert snap is not None
    assert keys == sorted(snap.info()["host_keys"]) == restored.booted_agent_keys
    # The console of the boot is carried over, so console pinning still sees the same keys.
    assert sorted(restored.backend.host_keys(VMID)) == keys
    known = restored.work / "known_hosts"
    known.write_text("".join(f"{ADDRESS} {k}\n" for k in keys))
    proc = restored.ssh(known, "hostname; id -un; cloud-init status")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["snapvm", "sop", "status:", "done"]
    # A key that is not the guest's is refused: the pinning is real.
    other = restored.work / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = restored.work / "known_hosts_wrong"
    wrong.write_text(f"{ADDRESS} {other.with_suffix('.pub').read_text().split(' ')[0]} "
                     f"{other.with_suffix('.pub').read_text().split(' ')[1]}\n")  # fmt: skip
    refused = restored.ssh(wrong, "true")
    assert refused.returncode != 0
    assert "Host key verification failed" in refused.stderr


def test_restored_guest_clock_is_the_hosts(restored: Restored) -> None:
    known = restored.work / "known_hosts_clock"
    known.write_text("".join(f"{ADDRESS} {k}\n" for k in _agent_host_keys(restored.backend)))
    before = time.time()
    proc = restored.ssh(known, "date +%s.%N")
    after = time.time()
    assert proc.returncode == 0, proc.stderr
    guest = float(proc.stdout.strip())
    # The guest was saved minutes ago; without the agent's guest-set-time it would be behind.
    assert before - 3 <= guest <= after + 3, (before, guest, after)


def test_changed_seed_misses_the_cache_and_boots(restored: Restored) -> None:
    backend = restored.backend
    backend.destroy(VMID)
    backend.start(VMID, _config(restored.key, name="snapvm2"))
    try:
        facts = backend.started(VMID)
        assert facts["mode"] == "boot"
        assert facts["snapshot_key"] != restored.booted["snapshot_key"]
        known = restored.work / "known_hosts_other"
        known.write_text("".join(f"{ADDRESS} {k}\n" for k in _agent_host_keys(backend)))
        proc = restored.ssh(known, "hostname")
        assert proc.stdout.strip() == "snapvm2", proc.stderr
        # Its own host keys, made by its own boot: not the snapshot's.
        assert _agent_host_keys(backend) != restored.booted_agent_keys
    finally:
        backend.destroy(VMID)


def test_restore_false_boots_even_with_a_snapshot(restored: Restored) -> None:
    forced = vms.QemuBackend(
        state_dir=restored.work / "vms-forced",
        namespace=NAMESPACE,
        image=image.build(),
        restore=False,
        snapshot_cache=restored.cache,
    )
    key = restored.booted["snapshot_key"]
    assert snapshot.find(key, restored.cache) is not None
    restored.backend.destroy(VMID)
    try:
        forced.start(VMID, _config(restored.key))
        facts = forced.started(VMID)
        assert facts["mode"] == "boot"
        assert facts["snapshot_key"] == key  # the same guest: a restore was possible
        assert "saved" not in facts
    finally:
        forced.destroy(VMID)
