"""The pure parts of the step-6 analysis: node choice, names, plan lines, ticket numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.proxmox import ExistingVm, NodeFit
from sop_pipeline.adapters.terraform import PlanSummary, TerraformError, summarise_plan
from sop_pipeline.config import load_pools
from sop_pipeline.domain.policy import Policy
from sop_pipeline.ledger import LedgerStore
from sop_pipeline.loader import load_request
from sop_pipeline.reports.model import (
    AnalysisResult,
    NodeCapacity,
    QuotaUse,
    Usage,
    analysis_findings,
    feasible,
)
from sop_pipeline.steps.analysis import (
    node_capacities,
    plan_failure_lines,
    plan_lines,
    ticket_sequence,
    vm_name_taken,
)

ROOT = Path(__file__).resolve().parents[2]
POOLS_FILE = ROOT / "inventories" / "pools.yaml"
REQUESTS = ROOT / "requests"


def fit(node: str, ok: bool, memory: int = 1000, online: bool = True) -> NodeFit:
    return NodeFit(node, online, 8, memory, 100, ok)


def test_node_capacities_keep_the_figures_and_the_status() -> None:
    (cap,) = node_capacities([NodeFit("pve3", False, 1, 2, 3, False)])
    assert (cap.node, cap.vcpu_free, cap.memory_mb_free, cap.disk_gb_free, cap.online) == (
        "pve3", 1, 2, 3, False,
    )  # fmt: skip


def test_a_vm_name_is_taken_only_by_another_vm() -> None:
    own = ExistingVm(1000, "pve1", "dinkes-simpus", ("sop-req-dinkes-simpus",), False)
    other = ExistingVm(1500, "pve2", "dinkes-simpus", ("manual",), False)
    template = ExistingVm(9000, "pve1", "dinkes-simpus", (), True)
    assert vm_name_taken([own, template], "dinkes-simpus") is None
    assert vm_name_taken([own, other], "dinkes-simpus") == other


def test_plan_lines_list_each_resource_then_the_count_last() -> None:
    plan = {
        "resource_changes": [
            {
                "address": "module.vm.proxmox_virtual_environment_vm.this",
                "type": "proxmox_virtual_environment_vm",
                "change": {
                    "actions": ["create"],
                    "after": {
                        "name": "dinkes-simpus",
                        "vm_id": 1000,
                        "node_name": "pve1",
                        "cpu": [{"cores": 2}],
                        "memory": [{"dedicated": 4096}],
                        "disk": [{"size": 40}],
                    },
                },
            },
            {"address": "data.x.y", "type": "x", "change": {"actions": ["read"]}},
        ]
    }
    summary = summarise_plan(plan, "dinkes-simpus")
    assert summary.resources == (("module.vm.proxmox_virtual_environment_vm.this", "create"),)
    assert plan_lines(summary) == (
        "module.vm.proxmox_virtual_environment_vm.this: akan dibuat",
        "VM dinkes-simpus (VMID 1000) di node pve1 akan dibuat: "
        "2 vCPU, 4096 MiB memori, disk 40 GiB.",
        "Plan: 1 to add, 0 to change, 0 to destroy.",
    )


def test_a_plan_that_destroys_is_flagged() -> None:
    summary = PlanSummary(1, 0, 1, "", resources=(("module.vm.x.this", "delete+create"),))
    lines = plan_lines(summary)
    assert lines[0] == "module.vm.x.this: akan diganti (hapus lalu buat)"
    assert lines[-2].startswith("Perhatian: rencana ini menghapus 1 sumber daya")
    assert lines[-1] == "Plan: 1 to add, 0 to change, 1 to destroy."


def test_a_failed_plan_shows_terraforms_error_then_ours_last() -> None:
    err = TerraformError(
        "Nilai permohonan x ditolak oleh validasi modul Terraform.",
        detail="\nPlanning failed.\n  Error: Invalid value for variable\n\nmore\n",
    )
    assert plan_failure_lines(err) == (
        "Error: Invalid value for variable",
        "Rencana Terraform gagal: Nilai permohonan x ditolak oleh validasi modul Terraform.",
    )


def test_a_vm_name_taken_on_proxmox_fails_the_name_finding(policy: Policy) -> None:
    loaded = load_request(REQUESTS / "dinkes-simpus.yaml", policy=policy)
    facts = loaded.request
    result = AnalysisResult(
        analysed_at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
        nodes=(NodeCapacity("pve1", 8, 8192, 100),),
        quota=QuotaUse(policy.quota_for("DINKES"), Usage(0, 0, 0, 0)),
        ip_pool="lab 10.99.0.0/24",
        ip_address="10.99.0.100",
        dns_name_free=True,
        template_present=True,
        plan_summary=("Plan: 1 to add, 0 to change, 0 to destroy.",),
        chosen_node="pve1",
    )
    assert feasible(facts, result)
    taken = replace(result, vm_name_free=False)
    name = next(f for f in analysis_findings(facts, taken) if f.label == "Nama DNS")
    assert not name.ok
    assert "nama VM dinkes-simpus sudah dipakai VM lain di Proxmox" in name.detail
    assert not feasible(facts, taken)


def test_ticket_sequence_reads_step_5_and_is_0_before_it(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path)
    assert ticket_sequence(store, "dinkes-simpus") == 0
    store.for_request("dinkes-simpus").append(
        kind="step",
        step=5,
        actor="pipeline",
        at=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
        data={"outcome": "done", "ticket": "HOST-2026-0007"},
    )
    assert ticket_sequence(store, "dinkes-simpus") == 7


def test_peek_reserves_nothing_and_agrees_with_allocate(tmp_path: Path) -> None:
    allocator = Allocator(load_pools(POOLS_FILE), f"sqlite:///{tmp_path / 'a.sqlite'}")
    first = allocator.peek("dinkes-simpus", "lab")
    assert first is not None and (first.vmid, first.ipv4) == (1000, "10.99.0.100")
    assert allocator.all() == []
    allocator.allocate("other", "lab")
    after = allocator.peek("dinkes-simpus", "lab")
    assert after is not None and (after.vmid, after.ipv4) == (1001, "10.99.0.101")
    held = allocator.allocate("dinkes-simpus", "lab")
    again = allocator.peek("dinkes-simpus", "lab")
    assert again is not None and (again.vmid, again.ipv4) == (held.vmid, held.ipv4)
    assert len(allocator.all()) == 4  # two requests, VMID and IP each: peek added none


def test_peek_of_a_full_pool_is_none(tmp_path: Path) -> None:
    pools = load_pools(POOLS_FILE)
    lab = pools["lab"]
    tiny = {"lab": replace(lab, last=lab.first)}
    allocator = Allocator(tiny, f"sqlite:///{tmp_path / 'a.sqlite'}")
    allocator.allocate("first", "lab")
    assert allocator.peek("second", "lab") is None
    assert allocator.peek("first", "lab") is not None  # what it holds
