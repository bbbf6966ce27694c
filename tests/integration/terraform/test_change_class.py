"""The change classifier on real plans: the real terraform CLI and bpg/proxmox provider plan
changes of a VM they created on the lab PVE (fakepve + pve_compat; no guest boots), and
``domain.change_class.classify`` reads ``terraform show -json`` of each plan.

The plans are made here, from the live VM's state, never written by hand."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from tf_support import CreateVm, RunnerFactory

from sop_pipeline.adapters.terraform import TFVARS_NAME, TerraformError, TerraformRunner
from sop_pipeline.domain.change_class import VM_TYPE, ChangeClass, classify
from sop_pipeline.domain.maintenance import Window
from sop_pipeline.lab.pve import RunningPve
from sop_pipeline.signing.errors import GateRefused
from sop_pipeline.steps.provisioning import change_guard

pytestmark = pytest.mark.integration

ID = "dinkes-ubah"
JAKARTA = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def planned(
    make_runner: RunnerFactory, create: CreateVm, tmp_path: Path
) -> Callable[..., dict[str, Any]]:
    """``planned(**changes)``: the plan (show -json) of the created VM with the stack's
    variables changed so; the variables go back to the created VM's after each plan."""
    runner: TerraformRunner = make_runner(ID)
    create(ID, runner)  # 2 vCPU, 2 GiB, 20 GB, as tf_support.facts_for sizes it
    created = json.loads((runner.stack_dir / TFVARS_NAME).read_text())

    def plan(allow_destroy: bool = False, **changes: Any) -> dict[str, Any]:
        runner.prepare(created | changes)
        if allow_destroy:  # the override only a signed retirement (or replacement) writes
            runner.allow_destroy()
        try:
            runner.plan()
            shown = runner.show_plan()
        finally:
            runner.prepare(created)
        name = "-".join(f"{k}-{v}" for k, v in changes.items()) or "none"
        (tmp_path / f"plan-{name}.json").write_text(json.dumps(shown, indent=1))
        return shown

    return plan


def test_classes_of_real_plans(planned: Callable[..., dict[str, Any]], lab: RunningPve) -> None:
    unchanged = classify(planned())
    assert unchanged.change_class is ChangeClass.NONE, unchanged.reasons

    disk = classify(planned(disk_gb=30))
    assert disk.change_class is ChangeClass.LIVE, disk.reasons
    assert any(r.startswith("disk.size: 20 -> 30") for r in disk.reasons), disk.reasons

    # Our module sets no hotplug: Proxmox's default (network,disk,usb) leaves memory out.
    memory = classify(planned(memory_mb=4096))
    assert memory.change_class is ChangeClass.REBOOT, memory.reasons
    assert any(r.startswith("memory.dedicated: 2048 -> 4096") for r in memory.reasons)

    # The same real plan, had the running VM memory in hotplug with NUMA on: a live change.
    hot = json.loads(json.dumps(planned(memory_mb=4096)))
    vm = next(rc["change"] for rc in hot["resource_changes"] if rc["type"] == VM_TYPE)
    for side in ("before", "after"):  # set on the VM, and kept by the change
        vm[side]["hotplug"] = "network,disk,usb,memory"
        vm[side]["cpu"][0]["numa"] = True
    assert classify(hot).change_class is ChangeClass.LIVE
    for side in ("before", "after"):
        vm[side]["cpu"][0]["numa"] = False  # memory hotplug needs NUMA
    assert classify(hot).change_class is ChangeClass.REBOOT

    cores = classify(planned(vcpu=4))
    assert cores.change_class is ChangeClass.REBOOT and cores.needs_window, cores.reasons
    assert any(r.startswith("cpu.cores: 2 -> 4") for r in cores.reasons), cores.reasons

    both = classify(planned(vcpu=4, disk_gb=30))
    assert both.change_class is ChangeClass.REBOOT, both.reasons  # the strongest wins

    # prevent_destroy (docs/retirement.md) refuses a plan that replaces the VM...
    with pytest.raises(TerraformError) as refused:
        planned(vmid=1050)
    assert "[prevent-destroy]" in str(refused.value)
    # ...unless the override is written: then the plan shows the replacement.
    moved = classify(planned(allow_destroy=True, vmid=1050))
    assert moved.change_class is ChangeClass.REPLACE and moved.needs_window, moved.reasons
    assert any("delete" in r and "create" in r for r in moved.reasons), moved.reasons

    guest = lab.pve.vm(1000)
    assert guest is not None and guest.config["cores"] == 2  # plans only: nothing was applied
    print(
        "terraform/change-class: none, live (disk), reboot (memory, cores), replace (vmid):",
        {
            "disk": disk.reasons,
            "memory": memory.reasons,
            "cores": cores.reasons,
            "vmid": moved.reasons,
        },
    )


def test_step_8_guard_applies_a_reboot_only_inside_the_window(
    planned: Callable[..., dict[str, Any]],
) -> None:
    """``change_guard`` (what step 8 runs before the apply of a change) on real plans: a
    live change at any time; a reboot outside the window refused, inside it let through."""
    windows = (Window(5, time(22, 0), time(4, 0)),)  # Sabtu 22.00-04.00 WIB
    friday_noon = datetime(2026, 12, 4, 12, 0, tzinfo=JAKARTA)
    saturday_night = datetime(2026, 12, 5, 23, 0, tzinfo=JAKARTA)
    lines: list[str] = []

    def guard(at: datetime) -> Callable[[Mapping[str, Any]], None]:
        return change_guard(windows=windows, tz=JAKARTA, now=lambda: at, log=lines.append)

    guard(friday_noon)(planned(disk_gb=30))  # live: no window needed
    reboot = planned(vcpu=4)
    with pytest.raises(GateRefused) as refused:
        guard(friday_noon)(reboot)
    assert "[outside-maintenance-window]" in str(refused.value)
    assert "2026-12-05 22.00 WIB" in str(refused.value)
    guard(saturday_night)(reboot)
    with pytest.raises(GateRefused, match=r"\[disk-shrink\]"):
        guard(saturday_night)(planned(disk_gb=10))
    assert "kelas perubahan: reboot" in " ".join(lines)


def test_a_disk_shrink_never_plans_as_a_live_change(
    planned: Callable[..., dict[str, Any]],
) -> None:
    """Validation refuses it first ([disk-shrink]); should a plan still show one, it is
    refused (or the provider refuses to plan it at all)."""
    try:
        shrink = classify(planned(disk_gb=10))
    except TerraformError as err:
        print(f"terraform/change-class: the provider refuses to plan a shrink: {err}")
        return
    assert shrink.change_class in (ChangeClass.REFUSED, ChangeClass.REPLACE), shrink.reasons
    print(f"terraform/change-class: shrink planned as {shrink.change_class}: {shrink.reasons}")
