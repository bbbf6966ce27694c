"""The lab PVE's vzdump (G10), over real HTTPS: a real copy of the guest's disk, listed as PVE
lists a backup, pruned, protected and deleted as PVE does; backup jobs under /cluster/backup.

No guest boots: the guests run on :class:`ConfigAgentBackend` with a disk folder, so each
started guest has a real qcow2 disk (``qemu-img create``) that the test writes a pattern into
with ``qemu-io`` before it is backed up.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import requests
from sop_pipeline.lab import pve as lab_pve
from tests.conftest import require_lab_tools

pytestmark = pytest.mark.integration
GiB = 1024**3
NAME = re.compile(r"backup:backup/vzdump-qemu-101-\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d\.tar(\.zst)?\Z")


class Lab:
    def __init__(self, tmp_path: Path) -> None:
        self.backend = lab_pve.ConfigAgentBackend(disk_dir=tmp_path / "disks")
        self.running = lab_pve.start(
            host="127.0.0.1", port=0, state_dir=tmp_path / "pve", backend=self.backend
        )
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"PVEAPIToken={self.running.token}"
        self.store = tmp_path / "pve" / "backup" / "dump"

    def call(self, method: str, path: str, **form: Any) -> Any:
        reply = self.session.request(
            method,
            f"{self.running.url}/api2/json{path}",
            data=form or None,
            verify=str(self.running.cafile),
            timeout=60,
        )
        body = reply.json() if reply.content else None
        assert reply.status_code == 200, (method, path, reply.status_code, body)
        return (body or {}).get("data")

    def wait(self, upid: str) -> dict[str, Any]:
        for _ in range(600):
            status: dict[str, Any] = self.call("GET", f"/nodes/pve1/tasks/{upid}/status")
            if status["status"] == "stopped":
                return status
            time.sleep(0.1)
        raise AssertionError(f"task {upid} did not end")

    def log(self, upid: str) -> list[str]:
        return [line["t"] for line in self.call("GET", f"/nodes/pve1/tasks/{upid}/log")]

    def backups(self, **query: Any) -> list[dict[str, Any]]:
        path = "/nodes/pve1/storage/backup/content?content=backup"
        path += "".join(f"&{k}={v}" for k, v in query.items())
        items: list[dict[str, Any]] = self.call("GET", path)
        return items


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    require_lab_tools("qemu-img", "qemu-io", "zstd")
    lab = Lab(tmp_path)
    try:
        lab.wait(lab.call("POST", "/nodes/pve1/qemu/9000/clone", newid=101, name="web", full=1))
        lab.wait(lab.call("PUT", "/nodes/pve1/qemu/101/resize", disk="scsi0", size="8G"))
        lab.wait(lab.call("POST", "/nodes/pve1/qemu/101/status/start"))
        yield lab
    finally:
        lab.running.stop()


def write_pattern(image: Path) -> None:
    subprocess.run(
        ["qemu-io", "-f", "qcow2", "-c", "write -P 0xa5 1M 3M", str(image)],
        check=True,
        capture_output=True,
    )


def extract_disk(archive: Path, into: Path) -> tuple[Path, str]:
    into.mkdir(parents=True, exist_ok=True)
    if archive.name.endswith(".zst"):
        plain = into / archive.name.removesuffix(".zst")
        subprocess.run(["zstd", "-q", "-d", str(archive), "-o", str(plain)], check=True)
        archive = plain
    with tarfile.open(archive) as tar:
        assert sorted(tar.getnames()) == ["disk-drive-scsi0.qcow2", "qemu-server.conf"]
        tar.extractall(into, filter="data")
    return into / "disk-drive-scsi0.qcow2", (into / "qemu-server.conf").read_text()


def virtual_size(image: Path) -> int:
    info = subprocess.run(
        ["qemu-img", "info", "--output=json", str(image)],
        check=True,
        capture_output=True,
        text=True,
    )
    size: int = json.loads(info.stdout)["virtual-size"]
    return size


@pytest.mark.parametrize("compress", ["0", "zstd"])
def test_vzdump_copies_the_disk_and_lists_it_as_pve_does(
    lab: Lab, tmp_path: Path, compress: str
) -> None:
    image = lab.backend.disk_image(101)
    assert image is not None and virtual_size(image) == 8 * GiB
    write_pattern(image)
    assert lab.backups() == []

    upid = lab.call(
        "POST",
        "/nodes/pve1/vzdump",
        vmid="101",
        storage="backup",
        mode="snapshot",
        compress=compress,
        **{"notes-template": "{{guestname}} ({{vmid}})"},
    )
    assert upid.startswith("UPID:pve1:") and ":vzdump:101:root@pam!sop:" in upid
    status = lab.wait(upid)
    assert status["exitstatus"] == "OK", lab.log(upid)
    assert any(line.startswith("INFO: creating vzdump archive") for line in lab.log(upid))

    (item,) = lab.backups()
    assert NAME.match(item["volid"]), item
    archive = lab.store / item["volid"].split("/", 1)[1]
    assert archive.is_file() and item["size"] == archive.stat().st_size
    assert item["vmid"] == 101 and item["content"] == "backup"
    assert item["notes"] == "web (101)" and item["protected"] == 0
    assert abs(item["ctime"] - time.time()) < 3600  # the name's timestamp, not zero
    assert item["format"] == ("tar.zst" if compress == "zstd" else "tar")

    disk, config = extract_disk(archive, tmp_path / "out")
    assert virtual_size(disk) == virtual_size(image) == 8 * GiB
    same = subprocess.run(
        ["qemu-img", "compare", "-U", str(image), str(disk)], capture_output=True, text=True
    )
    assert same.returncode == 0, same.stdout + same.stderr
    assert "name: web" in config and "scsi0: local-lvm:" in config and "lock" not in config
    info = lab.call("GET", f"/nodes/pve1/storage/backup/content/{item['volid']}")
    assert info["size"] == item["size"]


def test_the_copy_is_the_disk_at_backup_time(lab: Lab, tmp_path: Path) -> None:
    image = lab.backend.disk_image(101)
    assert image is not None
    lab.wait(lab.call("POST", "/nodes/pve1/vzdump", vmid="101", storage="backup"))
    write_pattern(image)  # after the backup: the copy must not change
    (item,) = lab.backups()
    disk, _ = extract_disk(lab.store / item["volid"].split("/", 1)[1], tmp_path / "out")
    differ = subprocess.run(
        ["qemu-img", "compare", "-U", str(image), str(disk)], capture_output=True, text=True
    )
    assert differ.returncode == 1, differ.stdout + differ.stderr


def test_a_guest_without_a_disk_fails_the_job(lab: Lab) -> None:
    lab.wait(lab.call("POST", "/nodes/pve1/qemu/9000/clone", newid=102, name="cold", full=1))
    upid = lab.call("POST", "/nodes/pve1/vzdump", vmid="102", storage="backup")
    status = lab.wait(upid)
    assert status["exitstatus"] == "job errors"
    assert any("ERROR: Backup of VM 102 failed" in line for line in lab.log(upid))
    assert lab.backups() == []


def test_a_storage_without_backup_content_is_refused(lab: Lab) -> None:
    reply = lab.session.post(
        f"{lab.running.url}/api2/json/nodes/pve1/vzdump",
        data={"vmid": "101", "storage": "local-lvm"},
        verify=str(lab.running.cafile),
        timeout=30,
    )
    assert reply.status_code == 500 and "does not support backups" in reply.text


def test_prune_protect_and_delete(lab: Lab) -> None:
    for _ in range(3):
        upid = lab.call(
            "POST",
            "/nodes/pve1/vzdump",
            vmid="101",
            storage="backup",
            **{"prune-backups": "keep-last=2"},
        )
        assert lab.wait(upid)["exitstatus"] == "OK"
    items = lab.backups(vmid=101)
    assert len(items) == 2
    assert len(list(lab.store.glob("vzdump-qemu-101-*.tar"))) == 2
    oldest = min(items, key=lambda i: i["ctime"])
    lab.call("PUT", f"/nodes/pve1/storage/backup/content/{oldest['volid']}", protected=1)
    archive = lab.store / oldest["volid"].split("/", 1)[1]
    assert archive.with_name(archive.name + ".protected").exists()
    refused = lab.wait(lab.call("DELETE", f"/nodes/pve1/storage/backup/content/{oldest['volid']}"))
    assert refused["exitstatus"] != "OK" and archive.exists()
    newest = max(items, key=lambda i: i["ctime"])
    lab.wait(lab.call("DELETE", f"/nodes/pve1/storage/backup/content/{newest['volid']}"))
    assert [i["volid"] for i in lab.backups()] == [oldest["volid"]]
    assert not (lab.store / newest["volid"].split("/", 1)[1]).exists()


def test_backups_are_read_back_from_the_folder_after_a_restart(lab: Lab, tmp_path: Path) -> None:
    lab.wait(lab.call("POST", "/nodes/pve1/vzdump", vmid="101", storage="backup"))
    (before,) = lab.backups()
    lab.running.stop()
    again = lab_pve.start(host="127.0.0.1", port=0, state_dir=tmp_path / "pve", backend=None)
    try:
        reply = requests.get(
            f"{again.url}/api2/json/nodes/pve1/storage/backup/content?content=backup",
            headers={"Authorization": f"PVEAPIToken={again.token}"},
            verify=str(again.cafile),
            timeout=30,
        )
        assert reply.json()["data"] == [before]
    finally:
        again.stop()


def test_cluster_backup_jobs(lab: Lab) -> None:
    assert lab.call("GET", "/cluster/backup") == []
    lab.call(
        "POST",
        "/cluster/backup",
        id="sop-dinkes-simpus",
        vmid="101",
        storage="backup",
        schedule="01:30",
        mode="snapshot",
        **{"prune-backups": "keep-daily=14"},
    )
    (job,) = lab.call("GET", "/cluster/backup")
    assert job["id"] == "sop-dinkes-simpus" and job["type"] == "vzdump"
    assert job["schedule"] == "01:30" and job["prune-backups"] == "keep-daily=14"
    assert lab.call("GET", "/cluster/backup/sop-dinkes-simpus")["vmid"] == "101"
    lab.call("PUT", "/cluster/backup/sop-dinkes-simpus", schedule="02:00")
    assert lab.call("GET", "/cluster/backup/sop-dinkes-simpus")["schedule"] == "02:00"
    assert lab.backups() == []  # a job is not a backup
    lab.call("DELETE", "/cluster/backup/sop-dinkes-simpus")
    assert lab.call("GET", "/cluster/backup") == []
    assert shutil.which("qemu-img")
