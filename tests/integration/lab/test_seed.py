"""The NoCloud seed made from a PVE config: pure translation, plus the ISO it is written to."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sop_pipeline.lab import seed

# A guest config as the bpg provider leaves it on the lab's Proxmox (sshkeys url-encoded).
CONFIG = {
    "name": "portal-dinkes",
    "ciuser": "sop",
    "sshkeys": "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests%20sop%40lab%0A"
    "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAISecondKey%20ops%40lab",
    "ipconfig0": "ip=10.99.0.101/24,gw=10.99.0.1",
    "nameserver": "10.99.0.2",
    "searchdomain": "sumbarprov.go.id",
    "net0": "virtio=BC:24:11:0A:0B:0C,bridge=vmbr0,firewall=0",
    "ciupgrade": 0,
}


def test_user_data_is_what_pve_writes() -> None:
    files = seed.seed_files(CONFIG, 1001)
    assert files.user_data.startswith("#cloud-config\n")
    data = yaml.safe_load(files.user_data)
    assert data["hostname"] == "portal-dinkes"
    assert data["fqdn"] == "portal-dinkes.sumbarprov.go.id"
    assert data["manage_etc_hosts"] is True
    assert data["user"] == "sop"
    assert data["ssh_authorized_keys"] == [
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests sop@lab",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAISecondKey ops@lab",
    ]
    assert data["users"] == ["default"]
    assert data["package_upgrade"] is False


def test_ciupgrade_defaults_to_true_as_in_pve8() -> None:
    config = {k: v for k, v in CONFIG.items() if k != "ciupgrade"}
    assert yaml.safe_load(seed.user_data(config, 1001))["package_upgrade"] is True


def test_network_config_v1_static_address_matched_by_mac() -> None:
    net = yaml.safe_load(seed.seed_files(CONFIG, 1001).network_config)
    assert net["version"] == 1
    physical, nameserver = net["config"]
    assert physical == {
        "type": "physical",
        "name": "eth0",
        "mac_address": "bc:24:11:0a:0b:0c",
        "subnets": [
            {
                "type": "static",
                "address": "10.99.0.101",
                "netmask": "255.255.255.0",
                "gateway": "10.99.0.1",
            }
        ],
    }
    assert nameserver == {
        "type": "nameserver",
        "address": ["10.99.0.2"],
        "search": ["sumbarprov.go.id"],
    }


def test_missing_mac_gets_a_stable_pve_style_one() -> None:
    config = dict(CONFIG, net0="virtio,bridge=vmbr0")
    first = seed.mac_address(config, 0, 1001)
    assert first is not None and first.startswith("bc:24:11:")
    assert first == seed.mac_address(config, 0, 1001)
    assert first != seed.mac_address(config, 0, 1002)
    assert seed.mac_address(config, 1, 1001) is None


def test_dotted_name_gives_hostname_and_domain() -> None:
    assert seed.hostname_fqdn({"name": "web1.example.go.id"}, 5) == ("web1", "web1.example.go.id")
    assert seed.hostname_fqdn({}, 5) == ("VM5", None)


def test_hostile_values_stay_data() -> None:
    config = dict(CONFIG, ciuser="x\nruncmd: [reboot]", name="a: b")
    data = yaml.safe_load(seed.user_data(config, 7))
    assert data["user"] == "x\nruncmd: [reboot]"
    assert "runcmd" not in data


def test_bad_address_is_refused() -> None:
    with pytest.raises(seed.SeedError, match="not an IPv4 address"):
        seed.network_config(dict(CONFIG, ipconfig0="ip=10.99.0.300/24"), 1)


def test_instance_id_changes_with_config() -> None:
    one = seed.seed_files(CONFIG, 1001).meta_data
    two = seed.seed_files(dict(CONFIG, ipconfig0="ip=10.99.0.102/24,gw=10.99.0.1"), 1001).meta_data
    assert one != two


@pytest.mark.integration
def test_iso_has_cidata_label_and_files(tmp_path: Path) -> None:
    if shutil.which("genisoimage") is None or shutil.which("isoinfo") is None:
        message = "genisoimage/isoinfo missing: apt-get install genisoimage (or .ci/setup/lab.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    iso = seed.write_iso(seed.seed_files(CONFIG, 1001), tmp_path / "seed.iso")
    info = subprocess.run(["isoinfo", "-d", "-i", str(iso)], capture_output=True, text=True)
    assert "Volume id: cidata" in info.stdout
    listing = subprocess.run(
        ["isoinfo", "-R", "-f", "-i", str(iso)], capture_output=True, text=True
    ).stdout.split()
    assert sorted(listing) == ["/meta-data", "/network-config", "/user-data"]
    body = subprocess.run(
        ["isoinfo", "-R", "-x", "/user-data", "-i", str(iso)], capture_output=True, text=True
    ).stdout
    assert "portal-dinkes.sumbarprov.go.id" in body
