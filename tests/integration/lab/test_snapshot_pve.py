"""A lab guest made through the lab's Proxmox API restores from its snapshot the second time.

The API (fakepve with our compatibility layer) runs in this process on 127.0.0.1 with a real
QEMU backend that saves in the background, as ``sop lab up`` runs it: the start task ends when
QEMU runs, and the guest agent answers only once the snapshot is saved, so nothing that waits
for the agent can touch the guest before it is saved. The second clone of the same guest (same
VMID, name, seed) restores; the API cannot tell: the agent reports the address of its config
and reads the same host keys.
"""

from __future__ import annotations

import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import requests
from sop_pipeline.lab import image, netns, vms
from sop_pipeline.lab import pve as lab_pve
from tests.conftest import require_lab_tools

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.vm]

NAMESPACE = "soplabsnapapi"
VMID = 1987
ADDRESS = "10.99.0.187"
WAIT = 900.0


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[vms.QemuBackend, Any, Path]]:
    require_lab_tools("qemu-system-x86_64", "qemu-img", "genisoimage", "ip")
    netns.delete(NAMESPACE)
    netns.create(NAMESPACE)
    backend = vms.QemuBackend(
        state_dir=tmp_path / "vms",
        namespace=NAMESPACE,
        image=image.build(),
        restore=True,
        snapshot_cache=tmp_path / "cache",
        save_in_background=True,
    )
    running = lab_pve.start(host="127.0.0.1", port=0, state_dir=tmp_path / "pve", backend=backend)
    session = requests.Session()
    session.headers["Authorization"] = f"PVEAPIToken={running.token}"

    def call(method: str, path: str, **form: Any) -> tuple[int, Any]:
        reply = session.request(
            method,
            f"{running.url}/api2/json{path}",
            data=(form or None) if method != "GET" else None,
            params=form if method == "GET" else None,
            verify=str(running.cafile),
            timeout=120,
        )
        return reply.status_code, (reply.json() if reply.content else None)

    try:
        yield backend, call, tmp_path
    finally:
        running.stop()
        backend.destroy(VMID)
        netns.delete(NAMESPACE)


def _create_and_start(call: Any, public_key: str) -> None:
    base = f"/nodes/pve1/qemu/{VMID}"
    assert call("POST", "/nodes/pve1/qemu/9000/clone", newid=VMID, name="apivm", full=1)[0] == 200
    status, body = call(
        "PUT", f"{base}/config", agent="1", memory="1024", cores="2", sockets="1",
        ciuser="sop", ciupgrade="0", net0="virtio,bridge=vmbr0",
        ipconfig0=f"ip={ADDRESS}/24,gw={netns.GATEWAY}", nameserver=netns.DNS_ADDRESS,
        sshkeys=urllib.parse.quote(public_key, safe=""),
    )  # fmt: skip
    assert status == 200, body
    assert call("POST", f"{base}/status/start")[0] == 200


def _wait_agent(call: Any) -> list[dict[str, Any]]:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        status, body = call("GET", f"/nodes/pve1/qemu/{VMID}/agent/network-get-interfaces")
        if status == 200:
            return list(body["data"]["result"])
        time.sleep(1)
    raise AssertionError(f"the guest agent of {VMID} did not answer within {WAIT:.0f} s")


def _host_key(call: Any) -> str:
    status, body = call(
        "GET", f"/nodes/pve1/qemu/{VMID}/agent/file-read", file="/etc/ssh/ssh_host_ed25519_key.pub"
    )
    assert status == 200, body
    return " ".join(str(body["data"]["content"]).split()[:2])


def test_second_guest_through_the_api_restores(api: Any) -> None:
    backend, call, work = api
    key = work / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    public = key.with_suffix(".pub").read_text()

    _create_and_start(call, public)
    first = backend.started(VMID)
    assert first["mode"] == "boot"
    interfaces = _wait_agent(call)
    # The agent answered only once the snapshot was saved.
    assert backend.started(VMID).get("saved") == first["snapshot_key"], backend.started(VMID)
    eth0 = next(i for i in interfaces if i["name"] == "eth0")
    assert ADDRESS in [a["ip-address"] for a in eth0["ip-addresses"]]
    booted_key = _host_key(call)
    booted_mac = eth0["hardware-address"]

    assert call("POST", f"/nodes/pve1/qemu/{VMID}/status/stop")[0] == 200
    assert call("DELETE", f"/nodes/pve1/qemu/{VMID}", purge="1")[0] == 200
    assert not backend.vm_dir(VMID).exists()

    _create_and_start(call, public)
    second = backend.started(VMID)
    assert second["mode"] == "restore", second
    assert second["snapshot_key"] == first["snapshot_key"]
    interfaces = _wait_agent(call)
    eth0 = next(i for i in interfaces if i["name"] == "eth0")
    assert ADDRESS in [a["ip-address"] for a in eth0["ip-addresses"]]
    assert eth0["hardware-address"] == booted_mac  # G9: the clone's MAC follows its VMID
    assert _host_key(call) == booted_key
    known = work / "known_hosts"
    known.write_text(f"{ADDRESS} {booted_key}\n")
    argv = ["ssh", "-i", str(key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={known}", "-o", "ConnectTimeout=180",
            f"sop@{ADDRESS}", "hostname"]  # fmt: skip
    login = netns.run(argv, NAMESPACE, timeout=600)
    assert login.returncode == 0, login.stderr
    assert login.stdout.strip() == "apivm"
