"""Backups end to end without booting a guest: the proxmoxer adapter joins a hosting to its
job and backs it up on the lab PVE (a real copy of its disk), ``sop backups`` reports the last
good backup, and a hosting with only a job, or with a backup older than its policy, is a
breach."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import requests
from sop_pipeline.adapters.backups import BackupError, ProxmoxBackups
from sop_pipeline.adapters.proxmox import ProxmoxSettings
from sop_pipeline.config import load_backup_policy
from sop_pipeline.domain.backups import job_for
from sop_pipeline.lab import pve as lab_pve
from sop_pipeline.steps.backups import join_and_back_up
from tests.conftest import REPO, commit_all, require_lab_tools

pytestmark = pytest.mark.integration
REQUEST = "dinkes-simpus"  # data_classification: terbatas -> max_age_hours 26


class Env:
    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.backend = lab_pve.ConfigAgentBackend(disk_dir=tmp_path / "disks")
        self.running = lab_pve.start(
            host="127.0.0.1", port=0, state_dir=tmp_path / "pve", backend=self.backend
        )
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"PVEAPIToken={self.running.token}"
        self.adapter = ProxmoxBackups(
            ProxmoxSettings(
                endpoint=self.running.url, api_token=self.running.token, ca_file=self.running.cafile
            )
        )
        self.policy = load_backup_policy(REPO / "inventories")
        self.lab = self.lab_dir()
        self.repo_dir = self.repo()

    def call(self, method: str, path: str, **form: Any) -> Any:
        reply = self.session.request(
            method,
            f"{self.running.url}/api2/json{path}",
            data=form or None,
            verify=str(self.running.cafile),
            timeout=60,
        )
        assert reply.status_code == 200, (path, reply.text)
        data = reply.json()["data"]
        if isinstance(data, str) and data.startswith("UPID:"):
            for _ in range(600):
                status = self.call("GET", f"/nodes/pve1/tasks/{data}/status")
                if status["status"] == "stopped":
                    assert status["exitstatus"] == "OK", status
                    break
                time.sleep(0.1)
        return data

    def hosting(self, vmid: int, request_id: str, *, start: bool = True) -> None:
        """A VM as Terraform leaves it: cloned, tagged with its request, started."""
        self.call("POST", "/nodes/pve1/qemu/9000/clone", newid=vmid, name=request_id, full=1)
        tags = f"sop-req-{request_id};sop-opd-dinkes"
        self.call("PUT", f"/nodes/pve1/qemu/{vmid}/config", tags=tags)
        if start:
            self.call("POST", f"/nodes/pve1/qemu/{vmid}/status/start")

    def lab_dir(self) -> Path:
        root = self.tmp / "lab"
        (root / "secrets").mkdir(parents=True, exist_ok=True)
        secret = root / "secrets" / "tsig"
        secret.write_text("c29wLXBpcGVsaW5lLWxhYi10ZXN0LW9ubHk=\n")  # never used: no DNS here
        secret.chmod(0o600)
        info = {
            "namespace": "",
            "pve_url": self.running.url,
            "pve_token_file": str(self.tmp / "pve" / "pve-token"),
            "pve_cafile": str(self.running.cafile),
            "dns_server": "127.0.0.1",
            "dns_port": 53,
            "tsig_secret_file": str(secret),
        }
        (root / "lab.json").write_text(json.dumps(info))
        return root

    def repo(self) -> Path:
        repo = self.tmp / "repo"
        shutil.copytree(REPO / "inventories", repo / "inventories")
        commit_all(repo, "kebijakan")
        (repo / "requests").mkdir()
        shutil.copy(REPO / "requests" / f"{REQUEST}.yaml", repo / "requests")
        return repo

    def sop_backups(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sop_pipeline.cli.main", "--repo", str(self.repo_dir),
             "backups", "--lab-dir", str(self.lab), *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=REPO,
        )  # fmt: skip


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    require_lab_tools("qemu-img", "zstd")
    env = Env(tmp_path)
    try:
        yield env
    finally:
        env.running.stop()


def test_step8_joins_the_job_and_its_first_backup_is_the_disk(env: Env) -> None:
    env.hosting(120, REQUEST)
    backup = join_and_back_up(
        env.adapter,
        request_id=REQUEST,
        vmid=120,
        node="pve1",
        classification="terbatas",
        policy=env.policy,
    )
    (job,) = env.adapter.jobs()
    assert job == job_for(REQUEST, 120, "terbatas", env.policy)
    assert job.prune_backups == "keep-daily=14,keep-weekly=8,keep-monthly=6"
    assert backup.vmid == 120 and backup.volid.startswith("backup:backup/vzdump-qemu-120-")
    archive = env.tmp / "pve" / "backup" / "dump" / backup.volid.split("/", 1)[1]
    assert archive.stat().st_size == backup.size > 0
    assert backup.notes == f"{REQUEST} ({REQUEST}, VM 120)"
    # Again: the job is updated, not doubled, and a second archive is made.
    join_and_back_up(
        env.adapter, request_id=REQUEST, vmid=120, node="pve1", classification="terbatas",
        policy=env.policy,
    )  # fmt: skip
    assert len(env.adapter.jobs()) == 1
    assert len(env.adapter.backups("backup", 120)) == 2


def test_a_failed_backup_is_an_error_not_a_backup(env: Env) -> None:
    env.hosting(121, REQUEST, start=False)  # never started: the lab has no disk for it
    with pytest.raises(BackupError) as caught:
        join_and_back_up(
            env.adapter, request_id=REQUEST, vmid=121, node="pve1", classification="terbatas",
            policy=env.policy,
        )  # fmt: skip
    assert "gagal (job errors)" in str(caught.value) and "VM 121" in str(caught.value)
    assert env.adapter.backups("backup", 121) == []


def test_sop_backups_reports_the_last_good_backup_and_breaches(env: Env) -> None:
    env.hosting(130, REQUEST)
    job = job_for(REQUEST, 130, "terbatas", env.policy)
    env.adapter.ensure_job(job)
    only_job = env.sop_backups("--json")
    assert only_job.returncode == 7, only_job.stderr
    (row,) = json.loads(only_job.stdout)
    assert row["has_job"] is True and row["verdict"] == "none" and row["last_backup"] is None
    assert "ada job, tetapi" in row["reason"]

    made = env.adapter.backup_now("pve1", job)
    fresh = env.sop_backups("--json")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    (row,) = json.loads(fresh.stdout)
    assert row["verdict"] == "ok" and row["breach"] is False
    assert row["last_backup"]["volid"] == made.volid
    assert row["last_backup"]["size"] == made.size
    assert row["data_classification"] == "terbatas" and row["max_age_hours"] == 26

    later = (made.ctime + timedelta(hours=27)).astimezone().isoformat()
    stale = env.sop_backups("--json", "--now", later)
    assert stale.returncode == 7
    (row,) = json.loads(stale.stdout)
    assert row["verdict"] == "stale" and "melebihi batas 26 jam" in row["reason"]

    text = env.sop_backups("--now", later)
    assert text.returncode == 7
    assert f"{REQUEST} (VM 130): LANGGAR: cadangan terakhir berumur 27 jam" in text.stdout

    within = (made.ctime + timedelta(hours=25)).astimezone().isoformat()
    assert env.sop_backups("--now", within).returncode == 0
    assert datetime.fromisoformat(within) > made.ctime


def test_the_laporan_kegiatan_lists_each_hostings_backup_and_its_breach(env: Env) -> None:
    env.hosting(140, REQUEST)
    env.adapter.backup_now("pve1", job_for(REQUEST, 140, "terbatas", env.policy))
    env.hosting(141, "disdik-info-sekolah")  # no request file here: the strictest policy
    env.adapter.ensure_job(job_for("disdik-info-sekolah", 141, None, env.policy))
    month = datetime.now().astimezone().strftime("%Y-%m")
    done = subprocess.run(
        [sys.executable, "-m", "sop_pipeline.cli.main", "--repo", str(env.repo_dir), "report",
         "--period", month, "--backups", "--lab-dir", str(env.lab), "--json"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["backup_breaches"] == 1
    (markdown,) = [Path(f) for f in summary["files"] if f.endswith(".md")]
    text = markdown.read_text()
    section = text.split("D. Cadangan (Backup) per Hosting", 1)[1]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    ours = [row for row in rows if REQUEST in row]
    theirs = [row for row in rows if "disdik-info-sekolah" in row]
    assert len(ours) == 1 and "baik:" in ours[0] and "| 140 |" in ours[0]
    assert len(theirs) == 1 and "MELANGGAR: belum ada cadangan yang baik (ada job" in theirs[0]
