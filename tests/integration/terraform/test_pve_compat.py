"""Each fix of the compatibility layer (G1-G9), over real HTTPS against the lab PVE on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import requests
from sop_pipeline.lab import pve as lab_pve

pytestmark = pytest.mark.integration
GiB = 1024**3


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[lab_pve.RunningPve, lab_pve.ConfigAgentBackend, Any]]:
    backend = lab_pve.ConfigAgentBackend()
    running = lab_pve.start(host="127.0.0.1", port=0, state_dir=tmp_path, backend=backend)
    session = requests.Session()
    session.headers["Authorization"] = f"PVEAPIToken={running.token}"

    def call(method: str, path: str, **form: Any) -> Any:
        reply = session.request(
            method,
            f"{running.url}/api2/json{path}",
            data=form or None,
            verify=str(running.cafile),
            timeout=10,
        )
        return reply.status_code, (reply.json() if reply.content else None)

    try:
        status, _ = call("POST", "/nodes/pve1/qemu/9000/clone", newid=100, name="t100", full=1)
        assert status == 200
        yield running, backend, call
    finally:
        running.stop()


def test_token_file_is_private_and_tls_verifies(api: Any, tmp_path: Path) -> None:
    running, _, call = api
    assert (tmp_path / "pve-token").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "pve.key").stat().st_mode & 0o777 == 0o600
    bad = requests.get(
        f"{running.url}/api2/json/version",
        verify=str(running.cafile),
        timeout=10,
        headers={"Authorization": "PVEAPIToken=root@pam!sop=00000000-0000-0000-0000-000000000000"},
    )
    assert bad.status_code == 401
    assert call("GET", "/version")[0] == 200


def test_g1_g2_config_values_are_typed(api: Any) -> None:
    _, _, call = api
    assert (
        call("PUT", "/nodes/pve1/qemu/100/config", cores="4", onboot="1", numa="0", balloon="0")[0]
        == 200
    )
    cfg = call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]
    assert (cfg["cores"], cfg["onboot"], cfg["numa"], cfg["balloon"]) == (4, 1, 0, 0)
    assert isinstance(cfg["cores"], int)


def test_g3_resize_is_applied_and_shrink_refused(api: Any) -> None:
    running, _, call = api
    status, body = call("PUT", "/nodes/pve1/qemu/100/resize", disk="scsi0", size=str(20 * GiB))
    assert status == 200 and body["data"].startswith("UPID:")
    assert "size=20G" in call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]["scsi0"]
    assert running.pve.storages["local-lvm"]["volumes"]["vm-100-disk-0"]["size"] == 20 * GiB
    assert call("PUT", "/nodes/pve1/qemu/100/resize", disk="scsi0", size="+2G")[0] == 200
    assert "size=22G" in call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]["scsi0"]
    status, body = call("PUT", "/nodes/pve1/qemu/100/resize", disk="scsi0", size="10G")
    assert status == 500 and "shrinking disks is not supported" in body["message"]


def test_g4_bare_size_is_bytes(api: Any) -> None:
    _, _, call = api
    value = f"file=local-lvm:vm-100-disk-0,discard=on,size={8 * GiB}"
    assert call("PUT", "/nodes/pve1/qemu/100/config", scsi0=value)[0] == 200
    assert (
        call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]["scsi0"]
        == "local-lvm:vm-100-disk-0,discard=on,size=8G"
    )
    assert call("GET", "/nodes/pve1/qemu/100/status/current")[1]["data"]["maxdisk"] == 8 * GiB


def test_g5_cloudinit_drive_named_as_pve_names_it(api: Any) -> None:
    running, _, call = api
    assert (
        call("PUT", "/nodes/pve1/qemu/100/config", ide2="file=local-lvm:cloudinit,media=cdrom")[0]
        == 200
    )
    assert (
        call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]["ide2"]
        == "local-lvm:vm-100-cloudinit,media=cdrom"
    )
    volumes = running.pve.storages["local-lvm"]["volumes"]
    assert "vm-100-cloudinit" in volumes
    assert call("PUT", "/nodes/pve1/qemu/100/config", delete="ide2")[0] == 200
    assert "vm-100-cloudinit" not in volumes and "base-9000-disk-0" in volumes


def test_g6_agent_answers_from_the_backend(api: Any) -> None:
    _, backend, call = api
    call(
        "PUT", "/nodes/pve1/qemu/100/config", ipconfig0="ip=10.99.0.150/24,gw=10.99.0.1", agent="1"
    )
    status, body = call("GET", "/nodes/pve1/qemu/100/agent/network-get-interfaces")
    assert status == 500 and "not running" in body["message"]
    assert call("POST", "/nodes/pve1/qemu/100/status/start")[0] == 200
    assert ("start", 100) in backend.events
    nics = call("GET", "/nodes/pve1/qemu/100/agent/network-get-interfaces")[1]["data"]["result"]
    addrs = [a["ip-address"] for nic in nics for a in nic["ip-addresses"]]
    assert addrs == ["127.0.0.1", "10.99.0.150"]
    assert call("POST", "/nodes/pve1/qemu/100/status/stop")[0] == 200
    assert ("stop", 100) in backend.events
    call("PUT", "/nodes/pve1/qemu/100/config", agent="0")
    call("POST", "/nodes/pve1/qemu/100/status/start")
    status, body = call("GET", "/nodes/pve1/qemu/100/agent/network-get-interfaces")
    assert status == 500 and "No QEMU guest agent configured" in body["message"]


def test_g7_nic_keeps_its_mac(api: Any) -> None:
    _, _, call = api
    before = call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]["net0"]
    mac = before.split(",")[0].split("=")[1]
    assert (
        call("PUT", "/nodes/pve1/qemu/100/config", net0="model=virtio,bridge=vmbr0,firewall=0")[0]
        == 200
    )
    after = call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]["net0"]
    assert after == f"virtio={mac},bridge=vmbr0,firewall=0"


def test_g8_trailing_slash_reaches_the_real_handler(api: Any) -> None:
    running, backend, call = api
    status, body = call("DELETE", "/nodes/pve1/qemu/100/?destroy-unreferenced-disks=1&purge=1")
    assert status == 200 and ":qmdestroy:" in body["data"]
    assert running.pve.vm(100) is None and ("destroy", 100) in backend.events
    assert "vm-100-disk-0" not in running.pve.storages["local-lvm"]["volumes"]


def test_nodes_report_real_capacity(api: Any) -> None:
    _, _, call = api
    nodes = {n["node"]: n for n in call("GET", "/nodes")[1]["data"]}
    assert set(nodes) == {"pve1", "pve2"}
    assert nodes["pve1"]["maxcpu"] == 32 and nodes["pve1"]["maxmem"] == 128 * GiB
    status = call("GET", "/nodes/pve2/status")[1]["data"]
    assert status["memory"]["total"] == 128 * GiB and status["cpuinfo"]["cpus"] == 32
    template = next(
        v for v in call("GET", "/cluster/resources?type=vm")[1]["data"] if v.get("vmid") == 9000
    )
    assert (
        template["template"] == 1
        and template["name"] == "debian-12-cloudinit"
        and template["node"] == "pve1"
    )


def test_g9_clones_get_a_mac_derived_from_the_vmid(api: Any) -> None:
    _, _, call = api
    template = call("GET", "/nodes/pve1/qemu/9000/config")[1]["data"]["net0"]
    first = call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]["net0"]
    assert first.startswith("virtio=BC:24:11:") and first != template
    assert first.split(",")[1:] == template.split(",")[1:]
    # The same VMID cloned again (after a destroy) gets the same MAC; another VMID another.
    assert call("DELETE", "/nodes/pve1/qemu/100")[0] == 200
    assert call("POST", "/nodes/pve1/qemu/9000/clone", newid=100, name="t100", full=1)[0] == 200
    assert call("POST", "/nodes/pve1/qemu/9000/clone", newid=101, name="t101", full=1)[0] == 200
    again = call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]["net0"]
    other = call("GET", "/nodes/pve1/qemu/101/config")[1]["data"]["net0"]
    assert again == first
    assert other.split(",")[0] != first.split(",")[0]


def test_g10_config_shows_what_the_next_start_uses(api: Any) -> None:
    """A memory change of a running VM waits in its pending config: GET config answers it
    (as PVE does), ``current=1`` the running value, and /pending both."""
    _, _, call = api
    call("PUT", "/nodes/pve1/qemu/100/config", memory="2048")
    assert call("POST", "/nodes/pve1/qemu/100/status/start")[0] == 200
    assert call("PUT", "/nodes/pve1/qemu/100/config", memory="8192")[0] == 200
    pending = call("GET", "/nodes/pve1/qemu/100/pending")[1]["data"]
    memory = next(item for item in pending if item["key"] == "memory")
    assert str(memory["value"]) == "2048" and str(memory["pending"]) == "8192"
    assert call("GET", "/nodes/pve1/qemu/100/config")[1]["data"]["memory"] == "8192"
    current = call("GET", "/nodes/pve1/qemu/100/config?current=1")[1]["data"]
    assert current["memory"] == "2048"
