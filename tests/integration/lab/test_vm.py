"""A real lab VM: boot from the image in a namespace, SSH with a pinned host key, the guest
agent's address, packages from the lab mirror only, and nothing left after destroy.

Slow under TCG (a few minutes): the VM boots once for the whole module. Figures are printed.
Its point is the boot itself (cloud-init applying the seed, host keys made on this boot, the
first agent answer), so it never restores a snapshot (``restore=False``, marker ``boots``).
"""

from __future__ import annotations

import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop_pipeline.lab import image, mirror, netns, vms
from tests.conftest import require_lab_tools

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.vm, pytest.mark.boots]

NAMESPACE = "soplabtest"  # not the lab's own, so a running lab is left alone
VMID = 1990
ADDRESS = "10.99.0.190"
BOOT_TIMEOUT = 600


class Booted:
    """What the module's VM fixture hands the tests."""

    def __init__(
        self,
        backend: vms.QemuBackend,
        key: Path,
        known_hosts: Path,
        seconds_to_ssh: float,
        keyscan: list[str],
    ) -> None:
        self.backend = backend
        self.key = key
        self.known_hosts = known_hosts
        self.seconds_to_ssh = seconds_to_ssh
        self.keyscan = keyscan

    def ssh(self, command: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        argv = ["ssh", "-i", str(self.key), "-o", "BatchMode=yes",
                "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "ConnectTimeout=180", f"sop@{ADDRESS}", command]  # fmt: skip
        return netns.run(argv, NAMESPACE, timeout=timeout)


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Booted]:
    require_lab_tools(
        "mmdebstrap",
        "qemu-system-x86_64",
        "qemu-img",
        "genisoimage",
        "apt-ftparchive",
        "ssh",
        "ssh-keyscan",
        "ip",
    )
    work = tmp_path_factory.mktemp("vm")
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    img = image.build()
    netns.delete(NAMESPACE)
    netns.create(NAMESPACE)
    mirror.start(img, work / "mirror", namespace=NAMESPACE)
    backend = vms.QemuBackend(state_dir=work / "vms", namespace=NAMESPACE, image=img, restore=False)
    config = {
        "name": "labvm", "ciuser": "sop", "memory": 1024, "cores": 2, "sockets": 1,
        "sshkeys": urllib.parse.quote(key.with_suffix(".pub").read_text(), safe=""),
        "ipconfig0": f"ip={ADDRESS}/24,gw={netns.GATEWAY}", "nameserver": netns.DNS_ADDRESS,
        "searchdomain": "sumbarprov.go.id", "net0": "virtio,bridge=vmbr0", "ciupgrade": 0,
    }  # fmt: skip
    print(
        f"\nimage {img.recipe_hash}: built in {image.build_seconds(img):.0f} s; "
        f"accelerator {backend.accelerator}"
    )
    started = time.monotonic()
    backend.start(VMID, config)
    try:
        vms.wait_ssh(ADDRESS, NAMESPACE, timeout=BOOT_TIMEOUT)
        seconds = time.monotonic() - started
        scan = netns.run(["ssh-keyscan", "-T", "120", ADDRESS], NAMESPACE, timeout=300)
        keyscan = sorted(
            " ".join(line.split()[1:3])
            for line in scan.stdout.splitlines()
            if line and not line.startswith("#")
        )
        assert keyscan, scan.stderr
        print(f"boot to SSH: {seconds:.1f} s ({backend.accelerator})")
        pinned = backend.wait_host_keys(VMID, timeout=BOOT_TIMEOUT)
        known = work / "known_hosts"
        known.write_text("".join(f"{ADDRESS} {k}\n" for k in pinned))
        yield Booted(backend, key, known, seconds, keyscan)
    finally:
        backend.destroy(VMID)
        mirror.stop(work / "mirror")
        netns.delete(NAMESPACE)


def test_host_keys_from_console_match_what_sshd_serves(vm: Booted) -> None:
    pinned = sorted(vm.backend.host_keys(VMID))
    assert pinned, "cloud-init printed no host keys on the serial console"
    # Every key the console shows is one sshd serves, and the ed25519 one is among them.
    assert set(pinned) <= set(vm.keyscan)
    assert any(k.startswith("ssh-ed25519 ") for k in pinned)


def test_ssh_with_pinned_key(vm: Booted) -> None:
    proc = vm.ssh("hostname; id -un; sudo -n true && echo sudo-ok")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["labvm", "sop", "sudo-ok"]


def test_cloud_init_applied_the_seed_in_one_local_stage(vm: Booted) -> None:
    # The lab boots with `ds=nocloud`: cloud-init-local read the seed in local mode and ran the
    # init modules; the network and config stages are masked (docs/lab.md, "Boot time").
    status = vm.ssh("cloud-init status --wait --long; systemctl is-enabled cloud-init.service")
    assert "status: done" in status.stdout, status.stdout + status.stderr
    assert "[dsmode=local]" in status.stdout
    assert status.stdout.strip().endswith("masked")
    # The host keys were made on this boot (the image carries none), so no two VMs share them.
    stamps = vm.ssh('stat -c %Y /etc/ssh/ssh_host_ed25519_key; date -d "$(uptime -s)" +%s')
    made, booted = (int(v) for v in stamps.stdout.split())
    assert made >= booted - 1
    # Address, resolver and search domain from the seed's network config, rendered for networkd.
    net = vm.ssh("ip -4 -o addr show dev eth0; resolvectl dns eth0; resolvectl domain eth0")
    assert f"inet {ADDRESS}/24" in net.stdout
    assert netns.DNS_ADDRESS in net.stdout and "sumbarprov.go.id" in net.stdout


def test_agent_reports_the_address_from_the_vm(vm: Booted) -> None:
    interfaces = vm.backend.agent_interfaces(VMID)
    assert interfaces is not None
    eth0 = next(i for i in interfaces if i["name"] == "eth0")
    addresses = [a["ip-address"] for a in eth0["ip-addresses"]]
    assert ADDRESS in addresses
    assert eth0["hardware-address"].startswith("bc:24:11:")


def test_packages_come_from_the_lab_mirror_only(vm: Booted) -> None:
    sources = vm.ssh("cat /etc/apt/sources.list; ls /etc/apt/sources.list.d; ip route")
    assert sources.stdout.startswith("deb [trusted=yes] http://10.99.0.3/debian ./")
    assert "default via 10.99.0.1" in sources.stdout  # the namespace's bridge: no way out
    started = time.monotonic()
    # curl is not in the image (recipe/preinstall-packages.txt leaves it out on purpose; rsync
    # came in with mariadb-server, baked in since issue 14): it can only come from the lab
    # mirror. nginx is baked in, disabled until started.
    install = vm.ssh(
        "sudo -n apt-get update -q && sudo -n DEBIAN_FRONTEND=noninteractive "
        "apt-get install -y -q curl && curl --version | head -1 && "
        "sudo -n systemctl start nginx && systemctl is-active nginx"
    )
    print(f"apt-get install curl from the lab mirror: {time.monotonic() - started:.1f} s")
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    assert "http://10.99.0.3/debian ./ curl" in install.stdout
    assert re.search(r"^curl \d", install.stdout, re.MULTILINE), install.stdout[-2000:]
    assert install.stdout.strip().endswith("active")
    page = netns.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://{ADDRESS}/"],
        NAMESPACE,
        timeout=30,
    )
    assert page.stdout == "200"


def test_destroy_leaves_nothing(vm: Booted) -> None:
    folder = vm.backend.vm_dir(VMID)
    assert (folder / "overlay.qcow2").exists()
    vm.backend.destroy(VMID)
    assert not vm.backend.is_running(VMID)
    assert not folder.exists()
    assert netns.tap_name(VMID) not in netns.links(NAMESPACE)
    leftovers = subprocess.run(["pgrep", "-f", f"sop-{VMID}"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""
    assert vm.backend.agent_interfaces(VMID) is None
