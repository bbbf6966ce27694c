"""The class of a change, read from Terraform's plan (``terraform show -json tfplan``), pure.

- ``live``: in place, the VM keeps running (tags, description, a larger disk, memory or
  vCPUs the VM's ``hotplug`` setting lets Proxmox plug in while it runs);
- ``reboot``: in place, but Proxmox applies it at the next start (cores, sockets, CPU type,
  memory or vCPUs outside ``hotplug``: bpg #2412, #2534, #2556); the bpg provider reboots the
  VM after the update (``reboot_after_update``, on by default);
- ``replace``: the VM is destroyed and made again (or made, or destroyed): data goes with it;
- ``refused``: what no change may do: a smaller disk (Proxmox cannot shrink one, bpg #1351).

A reboot or a replacement is applied only inside a maintenance window and only when the
Kabid's step-7 statement names the class (docs/changes.md). Anything the classifier does not
know is read as ``reboot``: never guess a change live.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

VM_TYPE = "proxmox_virtual_environment_vm"
#: Proxmox's own default of a VM's ``hotplug`` option (qm.conf(5)) when the VM does not set it.
PVE_DEFAULT_HOTPLUG = frozenset({"network", "disk", "usb"})
# Our module (terraform/modules/proxmox_vm) sets no ``hotplug``: the provider's attribute is
# optional and computed, so the plan carries what Proxmox reports, or nothing.
#: Attributes whose change Proxmox applies to a running VM.
LIVE_ATTRIBUTES = frozenset(
    {"name", "description", "tags", "on_boot", "protection", "started", "reboot"}
)


class ChangeClass(StrEnum):
    NONE = "none"
    LIVE = "live"
    REBOOT = "reboot"
    REPLACE = "replace"
    REFUSED = "refused"

    @property
    def rank(self) -> int:
        return list(ChangeClass).index(self)

    @property
    def label(self) -> str:
        return CLASS_LABELS[self]


CLASS_LABELS = {
    ChangeClass.NONE: "tanpa perubahan",
    ChangeClass.LIVE: "langsung, tanpa henti (VM tetap berjalan)",
    ChangeClass.REBOOT: "perlu mulai ulang VM (di dalam jendela pemeliharaan)",
    ChangeClass.REPLACE: "VM diganti: dihapus lalu dibuat ulang (di dalam jendela pemeliharaan)",
    ChangeClass.REFUSED: "ditolak: disk tidak dapat diperkecil",
}


@dataclass(frozen=True)
class Classified:
    change_class: ChangeClass
    reasons: tuple[str, ...]  # one line per attribute that decided, e.g. "cpu.cores: 2 -> 4"

    @property
    def needs_window(self) -> bool:
        return self.change_class in (ChangeClass.REBOOT, ChangeClass.REPLACE)


def hotplug_of(values: Mapping[str, Any]) -> frozenset[str]:
    """The ``hotplug`` set of a VM as the plan shows it (``"network,disk,usb"``, ``"1"`` for
    all, ``"0"`` for none); Proxmox's default when the plan has no such attribute."""
    raw = values.get("hotplug")
    if raw is None or raw == "":
        return PVE_DEFAULT_HOTPLUG
    text = str(raw)
    if text == "1":
        return frozenset({"network", "disk", "usb", "memory", "cpu"})
    if text == "0":
        return frozenset()
    return frozenset(part.strip() for part in text.split(",") if part.strip())


def _changes(
    before: Any, after: Any, unknown: Any, path: str = ""
) -> Iterator[tuple[str, Any, Any]]:
    """(path, before, after) for every leaf that differs, skipping values known only after
    apply (``after_unknown``). Blocks are lists of one object in the plan: index 0 is dropped
    from the path (``cpu.cores``, not ``cpu.0.cores``)."""
    if unknown is True:
        return
    if isinstance(before, list) and isinstance(after, list):
        unknowns = unknown if isinstance(unknown, list) else []
        if len(before) != len(after) and not all(isinstance(x, Mapping) for x in before + after):
            yield path, before, after
            return
        for index in range(max(len(before), len(after))):
            b = before[index] if index < len(before) else None
            a = after[index] if index < len(after) else None
            u = unknowns[index] if index < len(unknowns) else None
            yield from _changes(b, a, u, path if index == 0 else f"{path}.{index}")
        return
    if isinstance(before, Mapping) or isinstance(after, Mapping):
        b_map = before if isinstance(before, Mapping) else {}
        a_map = after if isinstance(after, Mapping) else {}
        u_map = unknown if isinstance(unknown, Mapping) else {}
        for key in list(a_map) + [k for k in b_map if k not in a_map]:
            yield from _changes(
                b_map.get(key), a_map.get(key), u_map.get(key), f"{path}.{key}" if path else key
            )
        return
    if before != after:
        yield path, before, after


def _update_class(
    path: str, before: Any, after: Any, hotplug: frozenset[str], *, numa: bool
) -> ChangeClass:
    """One changed attribute's class. Memory plugs in live only growing, with ``memory`` in
    ``hotplug`` and NUMA on (the provider's schema: "Memory hotplug requires NUMA")."""
    top = path.split(".", 1)[0]
    if top in LIVE_ATTRIBUTES or top.startswith("timeout_"):  # timeouts are the provider's
        return ChangeClass.LIVE
    if path == "disk.size":
        if isinstance(before, int) and isinstance(after, int) and after < before:
            return ChangeClass.REFUSED
        return ChangeClass.LIVE  # a disk grows online (qm resize)
    if path == "memory.dedicated":
        grows = isinstance(before, int) and isinstance(after, int) and after > before
        return ChangeClass.LIVE if grows and "memory" in hotplug and numa else ChangeClass.REBOOT
    if path == "memory.floating":
        return ChangeClass.LIVE  # the balloon target moves while the VM runs
    if path == "cpu.hotplugged":
        return ChangeClass.LIVE if "cpu" in hotplug else ChangeClass.REBOOT
    return ChangeClass.REBOOT  # cores, sockets, type, numa and anything not known here


def classify(plan: Mapping[str, Any]) -> Classified:
    """The class of the whole plan: the strongest of its VM changes, with the reasons."""
    worst = ChangeClass.NONE
    reasons: list[str] = []
    for rc in plan.get("resource_changes") or []:
        if rc.get("type") != VM_TYPE:
            continue
        change = rc.get("change") or {}
        actions = list(change.get("actions") or [])
        address = str(rc.get("address") or VM_TYPE)
        if actions in ([], ["no-op"], ["read"]):
            continue
        if actions != ["update"]:
            found = ChangeClass.REPLACE
            why = "+".join(actions)
            paths = [".".join(str(p) for p in rp) for rp in change.get("replace_paths") or []]
            reasons.append(f"{address}: {why}" + (f" (karena {', '.join(paths)})" if paths else ""))
            worst = max(worst, found, key=lambda c: c.rank)
            continue
        before, after = change.get("before") or {}, change.get("after") or {}
        # What plugs in live is the running VM's setting (before): a new hotplug or NUMA
        # setting in the same plan itself waits for the restart.
        hotplug = hotplug_of(before)
        numa = bool(((before.get("cpu") or [{}])[0] or {}).get("numa"))
        for path, old, new in _changes(before, after, change.get("after_unknown") or {}):
            found = _update_class(path, old, new, hotplug, numa=numa)
            reasons.append(f"{path}: {old} -> {new} ({found})")
            worst = max(worst, found, key=lambda c: c.rank)
    return Classified(worst, tuple(reasons))
