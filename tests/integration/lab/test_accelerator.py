"""The KVM/TCG probe runs once per lab kernel and host; its answer is kept beside the image."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop_pipeline.lab import vms
from sop_pipeline.lab.image import LabImage

pytestmark = pytest.mark.integration


def image_in(folder: Path) -> LabImage:
    """An image record whose kernel does not exist: a probe of it can only end in TCG."""
    return LabImage(
        directory=folder,
        disk=folder / "root.qcow2",
        kernel=folder / "missing-vmlinuz",
        initrd=folder / "initrd.img",
        mirror_debs=folder / "debs",
        recipe_hash="0123456789abcdef",
    )


def test_the_answer_kept_beside_the_image_is_used_by_every_new_lab(tmp_path: Path) -> None:
    marker = tmp_path / f"accel-{vms.host_fingerprint()}"
    marker.write_text("kvm\n")  # as a host where KVM works would have left it
    for lab in ("lab-a", "lab-b"):
        backend = vms.QemuBackend(state_dir=tmp_path / lab, image=image_in(tmp_path))
        assert backend.accelerator == "kvm"  # read, not probed: the probe would say tcg
    assert not (tmp_path / "lab-a").exists()  # nothing written into a lab's own state


def test_no_answer_or_a_garbled_one_probes_and_keeps_the_result(tmp_path: Path) -> None:
    marker = tmp_path / f"accel-{vms.host_fingerprint()}"
    marker.write_text("maybe\n")
    backend = vms.QemuBackend(state_dir=tmp_path / "lab", image=image_in(tmp_path))
    assert backend.accelerator == "tcg"
    assert marker.read_text() == "tcg\n"


def test_another_host_does_not_reuse_this_hosts_answer(tmp_path: Path) -> None:
    (tmp_path / "accel-0000000000000000").write_text("kvm\n")  # another machine's answer
    backend = vms.QemuBackend(state_dir=tmp_path / "lab", image=image_in(tmp_path))
    assert backend.accelerator == "tcg"
    assert vms.host_fingerprint() != "0000000000000000"
    assert vms.host_fingerprint() == vms.host_fingerprint()
