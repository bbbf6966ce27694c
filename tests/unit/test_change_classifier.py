"""The change classifier's rules, on the shape of ``terraform show -json`` (the integration
test tests/integration/terraform/test_change_class.py runs it on real plans)."""

from __future__ import annotations

from typing import Any

import pytest

from sop_pipeline.domain.change_class import (
    PVE_DEFAULT_HOTPLUG,
    VM_TYPE,
    ChangeClass,
    classify,
    hotplug_of,
)

VM: dict[str, Any] = {
    "name": "x",
    "tags": ["a"],
    "cpu": [{"cores": 2, "sockets": 1, "numa": None, "hotplugged": 0}],
    "memory": [{"dedicated": 2048, "floating": 0}],
    "disk": [{"size": 20, "interface": "scsi0"}],
    "ipv4_addresses": [["10.0.0.1"]],
}


def plan(after: dict[str, Any], *, actions: tuple[str, ...] = ("update",)) -> dict[str, Any]:
    before = {**VM, "hotplug": after.get("hotplug")}
    before["cpu"] = [{**VM["cpu"][0], "numa": after["cpu"][0]["numa"]}]
    return {
        "resource_changes": [
            {"type": "null_resource", "address": "x", "change": {"actions": ["delete"]}},
            {
                "type": VM_TYPE,
                "address": "module.vm.this",
                "change": {
                    "actions": list(actions),
                    "before": before,
                    "after": after,
                    "after_unknown": {"ipv4_addresses": True},
                },
            },
        ]
    }


def changed(**parts: Any) -> dict[str, Any]:
    after = {**VM}
    for block, values in parts.items():
        blocky = block in VM and isinstance(values, dict)
        after[block] = [{**VM[block][0], **values}] if blocky else values
    after["ipv4_addresses"] = None  # unknown until applied: never a change
    return after


@pytest.mark.parametrize(
    ("after", "expected"),
    [
        (changed(), ChangeClass.NONE),
        (changed(tags=["a", "b"]), ChangeClass.LIVE),
        (changed(disk={"size": 40}), ChangeClass.LIVE),
        (changed(disk={"size": 10}), ChangeClass.REFUSED),
        (changed(memory={"dedicated": 4096}), ChangeClass.REBOOT),
        (changed(memory={"floating": 1024}), ChangeClass.LIVE),
        (changed(cpu={"cores": 4}), ChangeClass.REBOOT),
        (changed(cpu={"sockets": 2}), ChangeClass.REBOOT),
        (changed(cpu={"hotplugged": 2}), ChangeClass.REBOOT),
        (changed(cpu={"hotplugged": 2}, hotplug="network,disk,cpu"), ChangeClass.LIVE),
        (changed(memory={"dedicated": 4096}, hotplug="memory"), ChangeClass.REBOOT),
        (changed(memory={"dedicated": 4096}, cpu={"numa": True}, hotplug="1"), ChangeClass.LIVE),
        (changed(memory={"dedicated": 1024}, hotplug="1"), ChangeClass.REBOOT),
        (changed(bios="ovmf"), ChangeClass.REBOOT),  # unknown attribute: never guessed live
    ],
)
def test_update_classes(after: dict[str, Any], expected: ChangeClass) -> None:
    assert classify(plan(after)).change_class is expected


def test_a_new_hotplug_setting_waits_for_the_restart() -> None:
    """The running VM's hotplug decides: turning memory hotplug on in the same change does
    not make the memory change live."""
    after = changed(memory={"dedicated": 4096}, cpu={"numa": True}, hotplug="memory")
    p = plan(after)
    p["resource_changes"][1]["change"]["before"] = VM
    result = classify(p)
    assert result.change_class is ChangeClass.REBOOT
    assert "memory.dedicated: 2048 -> 4096 (reboot)" in result.reasons


@pytest.mark.parametrize(
    "actions", [("delete", "create"), ("create", "delete"), ("create",), ("delete",)]
)
def test_anything_but_an_update_replaces_the_vm(actions: tuple[str, ...]) -> None:
    result = classify(plan(changed(), actions=actions))
    assert result.change_class is ChangeClass.REPLACE and result.needs_window
    assert result.reasons == (f"module.vm.this: {'+'.join(actions)}",)


def test_hotplug_values() -> None:
    assert hotplug_of({}) == PVE_DEFAULT_HOTPLUG == hotplug_of({"hotplug": None})
    assert hotplug_of({"hotplug": "0"}) == frozenset()
    assert "memory" in hotplug_of({"hotplug": "1"})
    assert hotplug_of({"hotplug": "disk, cpu"}) == {"disk", "cpu"}
