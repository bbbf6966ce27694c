"""Step 8's hard limits for a change of a live hosting: the running VM counts at its old
size on the cluster, so what the change adds is counted on top (quota and node room); a
resize cannot slip past the OPD's quota. In-memory ports (tests/support/fakes.py)."""

from __future__ import annotations

import dataclasses

import pytest

from sop_pipeline.adapters.proxmox import ExistingVm, OpdUsage
from sop_pipeline.config import load_pools
from sop_pipeline.domain.change import growth
from sop_pipeline.domain.policy import Policy, Quota
from sop_pipeline.domain.request import Request
from sop_pipeline.loader import load_request
from sop_pipeline.steps.provisioning import LimitExceeded, Limits, check_limits
from tests.conftest import REPO
from tests.support.fakes import TEMPLATE, FakeAllocator, FakeDns, FakeProxmox

RID = "dinkes-simpus"


@pytest.fixture
def live(policy: Policy) -> Request:
    return load_request(REPO / "requests" / f"{RID}.yaml", policy=policy).request


def _cluster(live: Request, full: frozenset[str] = frozenset()) -> FakeProxmox:
    journal: list[str] = []
    proxmox = FakeProxmox(journal, full=full)
    own = ExistingVm(1000, "pve1", RID, (f"sop-req-{RID}", "sop-opd-dinkes"), False)
    proxmox.vms_by_id[1000] = own
    r = live.resources
    proxmox.held[live.opd.code] = OpdUsage(1, r.vcpu, r.memory_mb, r.disk_gb)
    return proxmox


def _check(live: Request, change: Request, quota: Quota, proxmox: FakeProxmox) -> str:
    journal: list[str] = []
    allocator = FakeAllocator(journal, load_pools(REPO / "inventories" / "pools.yaml")["lab"])
    limits = Limits(quota, (), FakeDns(journal), growth=growth(live.as_data(), change))
    vms = list(proxmox.vms_by_id.values())
    return check_limits(proxmox, allocator, change, "lab", limits, vms, TEMPLATE)


def test_a_resize_past_the_quota_is_refused(live: Request) -> None:
    r = live.resources
    bigger = dataclasses.replace(
        live, kind="ubah", resources=dataclasses.replace(r, memory_mb=r.memory_mb * 2)
    )
    assert growth(live.as_data(), bigger).memory_mb == r.memory_mb
    roomy = Quota(max_vms=5, vcpu=64, memory_mb=r.memory_mb * 2, disk_gb=1000)
    assert _check(live, bigger, roomy, _cluster(live)) == "pve1"  # fits exactly
    tight = dataclasses.replace(roomy, memory_mb=r.memory_mb * 2 - 1)
    with pytest.raises(LimitExceeded, match=r"\[opd-quota-total\]"):
        _check(live, bigger, tight, _cluster(live))


def test_a_resize_the_node_has_no_room_for_is_refused(live: Request) -> None:
    r = live.resources
    bigger = dataclasses.replace(
        live, kind="ubah", resources=dataclasses.replace(r, vcpu=r.vcpu + 2)
    )
    roomy = Quota(max_vms=5, vcpu=64, memory_mb=10**6, disk_gb=1000)
    with pytest.raises(LimitExceeded, match=r"node pve1 tidak punya ruang.*\[node-capacity\]"):
        _check(live, bigger, roomy, _cluster(live, full=frozenset({"pve1"})))
    smaller = dataclasses.replace(
        live, kind="ubah", resources=dataclasses.replace(r, vcpu=max(1, r.vcpu - 1))
    )
    assert growth(live.as_data(), smaller).vcpu == 0  # frees nothing, asks nothing
    assert _check(live, smaller, roomy, _cluster(live, full=frozenset({"pve1"}))) == "pve1"
