"""The backup policy and verdicts: pure, time passed in. A job is never a backup."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sop_pipeline.adapters.proxmox import ExistingVm
from sop_pipeline.config import load_backup_policy
from sop_pipeline.domain.backups import (
    Backup,
    BackupPolicy,
    Hosting,
    Retention,
    assess,
    job_for,
    last_good,
)
from sop_pipeline.errors import ConfigError
from sop_pipeline.loader import request_schema
from sop_pipeline.steps.backups import hostings_of
from tests.conftest import REPO

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
POLICY = load_backup_policy(REPO / "inventories")


def backup(vmid: int, hours_ago: float, size: int = 4096) -> Backup:
    when = NOW - timedelta(hours=hours_ago)
    return Backup(
        f"backup:backup/vzdump-qemu-{vmid}-{when:%Y_%m_%d-%H_%M_%S}.tar", vmid, when, size
    )


def test_the_policy_covers_every_classification_of_the_schema() -> None:
    classes = request_schema()["properties"]["data_classification"]["enum"]
    assert set(POLICY.retention) == set(classes)
    ages = [POLICY.retention[c].max_age_hours for c in classes]
    assert ages == sorted(ages, reverse=True)  # publik .. rahasia: never looser when stricter
    assert POLICY.storage == "backup"


def test_prune_backups_is_pves_property_string() -> None:
    assert (
        Retention(26, keep_daily=14, keep_weekly=8).prune_backups == "keep-daily=14,keep-weekly=8"
    )
    assert Retention(26, keep_last=3, keep_monthly=1).prune_backups == "keep-last=3,keep-monthly=1"
    assert Retention(26).prune_backups == "keep-all=1"  # nothing said: Proxmox removes nothing


def test_the_job_takes_its_classifications_retention() -> None:
    job = job_for("dinkes-simpus", 1000, "rahasia", POLICY)
    assert job.job_id == "sop-dinkes-simpus" and job.vmid == 1000
    assert job.prune_backups == POLICY.retention["rahasia"].prune_backups
    assert job.storage == "backup" and job.schedule == POLICY.schedule
    assert "{{vmid}}" in job.notes


def test_an_unknown_classification_gets_the_strictest_age() -> None:
    strictest = min(r.max_age_hours for r in POLICY.retention.values())
    assert POLICY.retention_for(None).max_age_hours == strictest
    assert POLICY.retention_for("lain").max_age_hours == strictest


def test_last_good_is_the_newest_archive_with_content_of_that_vm() -> None:
    items = [backup(1000, 30), backup(1000, 2), backup(1000, 1, size=0), backup(1001, 0.5)]
    found = last_good(items, 1000)
    assert found is not None and found.ctime == NOW - timedelta(hours=2)
    assert last_good(items, 1002) is None


@pytest.mark.parametrize(
    ("classification", "hours_ago", "verdict"),
    [
        ("terbatas", 25, "ok"),
        ("terbatas", 27, "stale"),
        ("publik", 27, "ok"),
        ("publik", 49, "stale"),
        (None, 27, "stale"),
    ],
)
def test_a_backup_older_than_its_policy_is_a_breach(
    classification: str | None, hours_ago: float, verdict: str
) -> None:
    hosting = Hosting("x", 1000, "pve1", classification)
    (status,) = assess([hosting], [backup(1000, hours_ago)], [1000], POLICY, NOW)
    assert status.verdict == verdict and status.breach == (verdict != "ok")
    assert f"{int(hours_ago)} jam" in status.reason


def test_a_job_without_an_archive_is_no_backup() -> None:
    hosting = Hosting("x", 1000, "pve1", "publik")
    (with_job,) = assess([hosting], [], [1000], POLICY, NOW)
    (without,) = assess([hosting], [backup(1001, 1)], [], POLICY, NOW)
    assert with_job.verdict == without.verdict == "none" and with_job.breach
    assert "ada job, tetapi" in with_job.reason and "tidak ada job" in without.reason


def test_hostings_are_the_vms_tagged_with_one_request() -> None:
    vms = [
        ExistingVm(9000, "pve1", "debian-12-cloudinit", ("sop-template",), True),
        ExistingVm(
            1000, "pve1", "dinkes-simpus", ("sop-req-dinkes-simpus", "sop-opd-dinkes"), False
        ),
        ExistingVm(1001, "pve2", "lain", ("sop-opd-dinkes",), False),
        ExistingVm(1002, "pve2", "dua", ("sop-req-a", "sop-req-b"), False),
    ]
    found = hostings_of(vms, lambda rid: "terbatas" if rid == "dinkes-simpus" else None)
    assert found == [Hosting("dinkes-simpus", 1000, "pve1", "terbatas")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("storage: b\nschedule: '01:00'\nretention: {}\n", "kosong"),
        ("storage: b\nschedule: '01:00'\nretention: {publik: {keep_daily: 7}}\n", "max_age_hours"),
        ("storage: b\nschedule: '01:00'\nretention: {publik: {max_age_hours: 0}}\n", "max_age"),
        (
            "storage: b\nschedule: '01:00'\nretention: {publik: {max_age_hours: 5, keep: 1}}\n",
            "tidak dikenal",
        ),
        ("schedule: '01:00'\nretention: {publik: {max_age_hours: 5}}\n", "storage"),
    ],
)  # fmt: skip
def test_a_wrong_backups_yaml_is_a_config_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "backups.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_backup_policy(tmp_path)


def test_the_policy_is_plain_data() -> None:
    policy = BackupPolicy("s", "01:00", "snapshot", "zstd", {"publik": Retention(48)})
    assert policy.retention_for("publik").max_age_hours == 48
