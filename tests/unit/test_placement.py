"""The one quota check and the node choice (``domain/placement.py``), on plain figures."""

from __future__ import annotations

from sop_pipeline.domain.placement import (
    Demand,
    Excess,
    Held,
    Room,
    choose_node,
    fits_quota,
    node_fits,
    place_with_pending,
    quota_excess,
    quota_left,
)
from sop_pipeline.domain.policy import Quota

QUOTA = Quota(max_vms=4, vcpu=8, memory_mb=16384, disk_gb=200)


def ask(rid: str, vcpu: int = 1, memory: int = 1024, disk: int = 20, opd: str = "DINKES") -> Demand:
    return Demand(rid, opd, vcpu, memory, disk)


def test_a_request_that_fits_exactly_at_the_limit_fits() -> None:
    held = Held(vms=1, vcpu=6, memory_mb=8192, disk_gb=100)
    assert quota_excess("DINKES", QUOTA, held, [ask("a", 2, 8192, 100)]) == []
    assert fits_quota(QUOTA, held, ask("a", 2, 8192, 100))
    assert quota_left(QUOTA, held) == Held(vms=3, vcpu=2, memory_mb=8192, disk_gb=100)


def test_the_issue_case_one_small_vm_over_a_full_opd_is_over_by_one_vcpu() -> None:
    held = Held(vms=1, vcpu=8, memory_mb=8192, disk_gb=100)  # one hosting at the vCPU quota
    over = quota_excess("DINKES", QUOTA, held, [ask("b")])
    assert over == [Excess("DINKES", "vcpu", 9, 8, ("b",))]
    assert over[0].message() == "kuota OPD DINKES: vCPU 9 melebihi 8 [opd-quota]"
    assert not fits_quota(QUOTA, held, ask("b"))


def test_every_field_counts_and_other_opds_demands_are_ignored() -> None:
    demands = [ask(f"r{i}", 3, 6000, 80) for i in range(5)] + [ask("x", 99, 99999, 999, "BPBD")]
    over = quota_excess("DINKES", QUOTA, Held(), demands)
    assert [(e.field, e.total, e.limit) for e in over] == [
        ("max_vms", 5, 4),
        ("vcpu", 15, 8),
        ("memory_mb", 30000, 16384),
        ("disk_gb", 400, 200),
    ]
    assert over[0].request_ids == ("r0", "r1", "r2", "r3", "r4")
    assert over[2].message() == "kuota OPD DINKES: memori 30000 MiB melebihi 16384 MiB [opd-quota]"


def test_the_template_node_is_chosen_when_it_fits() -> None:
    rooms = [Room("pve1", True, 8, 2048, 100), Room("pve2", True, 8, 9000, 100)]
    assert choose_node(rooms, "pve1", ask("a", 2, 2048, 20)) == "pve1"


def test_otherwise_the_roomiest_fitting_node_and_none_when_nothing_fits() -> None:
    rooms = [
        Room("pve1", True, 1, 9000, 100),  # too few vCPU
        Room("pve2", True, 8, 5000, 100),
        Room("pve3", True, 8, 9000, 100),
        Room("pve4", False, 64, 99999, 999),  # offline
    ]
    demand = ask("a", 2, 4096, 50)
    assert choose_node(rooms, "pve1", demand) == "pve3"
    assert choose_node(rooms, None, demand) == "pve3"
    assert choose_node(rooms, "pve4", demand) == "pve3"
    assert choose_node(rooms, None, ask("big", 2, 4096, 101)) is None
    assert choose_node([], "pve1", demand) is None


def test_approved_unbuilt_requests_take_their_room_first() -> None:
    rooms = [Room("pve1", True, 4, 8192, 100), Room("pve2", True, 4, 4096, 100)]
    demand = ask("me", 4, 4096, 50)
    assert place_with_pending(rooms, None, demand, []) == "pve1"
    # one pending takes pve1 (most memory); pve2 still has room for me
    assert place_with_pending(rooms, None, demand, [ask("p1", 4, 8192, 50)]) == "pve2"
    # two pending take both nodes: no room left
    pending = [ask("p1", 4, 8192, 50), ask("p2", 4, 4096, 50)]
    assert place_with_pending(rooms, None, demand, pending) is None
    # the request itself among the pending is not counted twice
    assert place_with_pending(rooms, None, demand, [demand]) == "pve1"


def test_a_node_fits_only_online_and_with_room_for_every_figure() -> None:
    demand = ask("a", 2, 2048, 20)
    assert node_fits(Room("pve1", True, 2, 2048, 20), demand)  # exactly
    assert not node_fits(Room("pve1", False, 64, 99999, 999), demand)
    assert not node_fits(Room("pve1", True, 1, 99999, 999), demand)
    assert not node_fits(Room("pve1", True, 64, 2047, 999), demand)
    assert not node_fits(Room("pve1", True, 64, 99999, 19), demand)
