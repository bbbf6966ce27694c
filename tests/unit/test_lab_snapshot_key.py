"""The lab snapshot key: everything that makes a guest is in it, the guest's own folder is not."""

from __future__ import annotations

from pathlib import Path

from sop_pipeline.lab import snapshot

ARGV = ["qemu-system-x86_64", "-name", "sop-100", "-m", "1024", "-drive",
        "file=/state/a/vms/100/overlay.qcow2,if=none,id=root", "-netdev",
        "tap,id=n0,ifname=soptap100"]  # fmt: skip
SEED = {"user_data": "#cloud-config\nhostname: a\n", "meta_data": "m", "network_config": "n"}


def _key(**change: object) -> str:
    values: dict[str, object] = {
        "recipe_hash": "r1", "seed_files": SEED, "qemu": "QEMU 7.2", "host": "h1",
        "argv": snapshot.normalised_argv(ARGV, Path("/state/a/vms/100")),
    }  # fmt: skip
    values.update(change)
    return snapshot.key_of(snapshot.key_material(**values))  # type: ignore[arg-type]


def test_the_guests_folder_is_not_part_of_the_key() -> None:
    elsewhere = [a.replace("/state/a/", "/state/b/") for a in ARGV]
    assert snapshot.normalised_argv(
        elsewhere, Path("/state/b/vms/100")
    ) == snapshot.normalised_argv(ARGV, Path("/state/a/vms/100"))
    assert "file=<vm>/overlay.qcow2,if=none,id=root" in snapshot.normalised_argv(
        ARGV, Path("/state/a/vms/100")
    )


def test_everything_that_makes_the_guest_changes_the_key() -> None:
    base = _key()
    assert _key() == base
    changed = [
        _key(recipe_hash="r2"),
        _key(seed_files=dict(SEED, user_data="#cloud-config\nhostname: b\n")),
        _key(seed_files=dict(SEED, network_config="n2")),
        _key(qemu="QEMU 8.2"),
        _key(host="h2"),
        _key(argv=[a.replace("1024", "2048") for a in ARGV]),
        _key(argv=[a.replace("soptap100", "soptap101") for a in ARGV]),
    ]
    assert base not in changed
    assert len(set(changed)) == len(changed)
