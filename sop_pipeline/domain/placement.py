"""Where a request's VM may go: the OPD's quota, the nodes' room, the node chosen.

Pure: the callers bring what the cluster holds and what other requests ask. This is the
one quota check; the per-file rule, ``sop validate``'s totals, the step-6 analysis and
step 8's re-check all ask it, each with the usage it knows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sop_pipeline.domain.policy import Quota
from sop_pipeline.domain.request import Request


@dataclass(frozen=True)
class Demand:
    """What one request asks of the cluster (one VM)."""

    request_id: str
    opd_code: str
    vcpu: int
    memory_mb: int
    disk_gb: int


@dataclass(frozen=True)
class Held:
    """What an OPD holds already (its VMs on the cluster)."""

    vms: int = 0
    vcpu: int = 0
    memory_mb: int = 0
    disk_gb: int = 0


def demand_of(request: Request) -> Demand:
    """What one request asks of the cluster and of its OPD's quota."""
    r = request.resources
    return Demand(request.request_id, request.opd.code, r.vcpu, r.memory_mb, r.disk_gb)


#: The quota's fields, in the order messages name them.
QUOTA_FIELDS = ("max_vms", "vcpu", "memory_mb", "disk_gb")


@dataclass(frozen=True)
class Excess:
    """One quota field the OPD would exceed: ``total`` against ``limit``."""

    opd_code: str
    field: str  # one of QUOTA_FIELDS
    total: int
    limit: int
    request_ids: tuple[str, ...]  # the demands counted

    def text(self) -> str:
        what, unit = _WORDS[self.field]
        return f"kuota OPD {self.opd_code}: {what} {self.total}{unit} melebihi {self.limit}{unit}"

    def message(self) -> str:
        return f"{self.text()} [opd-quota]"


_WORDS = {
    "max_vms": ("jumlah VM", ""),
    "vcpu": ("vCPU", ""),
    "memory_mb": ("memori", " MiB"),
    "disk_gb": ("disk", " GiB"),
}


def quota_excess(
    opd_code: str, quota: Quota, held: Held, demands: Iterable[Demand]
) -> list[Excess]:
    """The quota fields that ``held`` plus the OPD's ``demands`` exceed; [] = it fits.

    Demands of other OPDs are ignored, so a caller may pass every request it knows."""
    mine = [d for d in demands if d.opd_code == opd_code]
    totals = {
        "max_vms": held.vms + len(mine),
        "vcpu": held.vcpu + sum(d.vcpu for d in mine),
        "memory_mb": held.memory_mb + sum(d.memory_mb for d in mine),
        "disk_gb": held.disk_gb + sum(d.disk_gb for d in mine),
    }
    ids = tuple(sorted(d.request_id for d in mine))
    return [
        Excess(opd_code, name, totals[name], getattr(quota, name), ids)
        for name in QUOTA_FIELDS
        if totals[name] > getattr(quota, name)
    ]


def fits_quota(quota: Quota, held: Held, demand: Demand) -> bool:
    return not quota_excess(demand.opd_code, quota, held, [demand])


def quota_left(quota: Quota, held: Held) -> Held:
    return Held(
        vms=quota.max_vms - held.vms,
        vcpu=quota.vcpu - held.vcpu,
        memory_mb=quota.memory_mb - held.memory_mb,
        disk_gb=quota.disk_gb - held.disk_gb,
    )


# ------------------------------------------------------------------------------ nodes


class NodeRoom(Protocol):
    """One node's free room (the Proxmox adapter's ``NodeFit`` has this shape)."""

    @property
    def node(self) -> str: ...
    @property
    def online(self) -> bool: ...
    @property
    def free_vcpu(self) -> int: ...
    @property
    def free_memory_mb(self) -> int: ...
    @property
    def free_disk_gb(self) -> int: ...


def node_fits(room: NodeRoom, demand: Demand) -> bool:
    """Whether the node is online and has room for the demand (the one node check)."""
    return (
        room.online
        and room.free_vcpu >= demand.vcpu
        and room.free_memory_mb >= demand.memory_mb
        and room.free_disk_gb >= demand.disk_gb
    )


def choose_node(rooms: Sequence[NodeRoom], template_node: str | None, demand: Demand) -> str | None:
    """The node for the VM: the template's node if it fits (a clone stays local), else the
    fitting node with the most free memory; None when no node fits."""
    fitting = [r for r in rooms if node_fits(r, demand)]
    if any(r.node == template_node for r in fitting):
        return template_node
    if not fitting:
        return None
    return max(fitting, key=lambda r: (r.free_memory_mb, r.free_vcpu, r.free_disk_gb)).node


def place_with_pending(
    rooms: Sequence[NodeRoom],
    template_node: str | None,
    demand: Demand,
    pending: Sequence[Demand],
) -> str | None:
    """The node for ``demand`` once every ``pending`` request (approved, not built yet, so
    not on the cluster) has had its room: each is placed first, in order, on the node
    :func:`choose_node` gives it, and its size taken off that node. None when ``demand``
    then fits nowhere; a pending request that fits nowhere itself takes no room."""
    free = {
        r.node: Room(r.node, r.online, r.free_vcpu, r.free_memory_mb, r.free_disk_gb) for r in rooms
    }
    for other in pending:
        if other.request_id == demand.request_id:
            continue
        node = choose_node(list(free.values()), template_node, other)
        if node is not None:
            r = free[node]
            free[node] = Room(
                node,
                r.online,
                r.free_vcpu - other.vcpu,
                r.free_memory_mb - other.memory_mb,
                r.free_disk_gb - other.disk_gb,
            )
    return choose_node(list(free.values()), template_node, demand)


@dataclass(frozen=True)
class Room:
    """A node's free room as plain figures."""

    node: str
    online: bool
    free_vcpu: int
    free_memory_mb: int
    free_disk_gb: int
