"""The drift core: every comparison both ways, and the bpg noise list rule by rule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from sop_pipeline.domain.drift import (
    TERRAFORM_NOISE,
    UNOWNED,
    VM_TYPE,
    ClusterVm,
    DriftItem,
    DriftReport,
    Hosting,
    Lease,
    NoiseRule,
    ZoneRecord,
    approved_tags,
    compare_allocator,
    compare_dns,
    compare_proxmox,
    is_noise,
    leases_of,
    terraform_items,
)
from sop_pipeline.errors import ExitCode
from sop_pipeline.steps.drift import exit_code
from sop_pipeline.steps.drift_proposal import proposal_text

ZONE = "sumbarprov.go.id"
TAGS = approved_tags("dinkes-simpus", "DINKES", "lab", "debian-12-cloudinit")
HOSTING = Hosting(
    request_id="dinkes-simpus",
    vmid=9101,
    node="pve1",
    fqdn=f"simpus.{ZONE}",
    ip_address="10.99.0.20",
    vcpu=2,
    memory_mb=2048,
    tags=TAGS,
    protection=True,
)


def vm(**changes: object) -> ClusterVm:
    base: dict[str, object] = {
        "vmid": 9101,
        "node": "pve1",
        "name": "dinkes-simpus",
        "tags": TAGS,
        "template": False,
        "cores": 2,
        "memory_mb": 2048,
        "protection": True,
    }
    base.update(changes)
    return ClusterVm(**base)  # type: ignore[arg-type]


def zone(*extra: ZoneRecord, address: str | None = "10.99.0.20") -> list[ZoneRecord]:
    records = [
        ZoneRecord(f"{ZONE}.", "SOA", f"ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60"),
        ZoneRecord(f"{ZONE}.", "NS", f"ns1.{ZONE}."),
        ZoneRecord(f"ns1.{ZONE}.", "A", "10.99.0.2"),
        ZoneRecord(f"mirror.{ZONE}.", "A", "10.99.0.3"),
        ZoneRecord(f"simpus.{ZONE}.", "TXT", "sop-pipeline owner=dinkes-simpus"),
    ]
    if address is not None:
        records.append(ZoneRecord(f"simpus.{ZONE}.", "A", address))
    return [*records, *extra]


def test_tags_are_the_modules_lower_case_set() -> None:
    assert {
        "sop-pipeline",
        "sop-req-dinkes-simpus",
        "sop-opd-dinkes",
        "env-lab",
        "tmpl-debian-12-cloudinit",
    } == TAGS


# ---------------------------------------------------------------- DNS


def test_dns_as_approved_is_no_drift() -> None:
    assert compare_dns([HOSTING], zone(), zone=ZONE, known_names=[f"mirror.{ZONE}"]) == []


def test_dns_name_missing() -> None:
    items = compare_dns([HOSTING], zone(address=None), zone=ZONE, known_names=[f"mirror.{ZONE}"])
    assert items == [
        DriftItem(
            "dinkes-simpus", "dns", f"A simpus.{ZONE}.", "address", "10.99.0.20", None, "missing"
        )
    ]


def test_dns_name_pointing_elsewhere() -> None:
    items = compare_dns(
        [HOSTING], zone(address="10.99.0.66"), zone=ZONE, known_names=[f"mirror.{ZONE}"]
    )
    assert [(i.kind, i.approved, i.actual) for i in items] == [
        ("changed", "10.99.0.20", "10.99.0.66")
    ]


def test_dns_foreign_name_is_unowned_and_known_names_are_not() -> None:
    foreign = ZoneRecord(f"judi.{ZONE}.", "A", "203.0.113.9")
    items = compare_dns([HOSTING], zone(foreign), zone=ZONE, known_names=[f"mirror.{ZONE}"])
    assert items == [
        DriftItem(UNOWNED, "dns", f"A judi.{ZONE}.", "", None, "203.0.113.9", "unmanaged")
    ]
    # the department's own name, when not declared known, is reported too: nothing is hidden
    names = {i.resource for i in compare_dns([HOSTING], zone(), zone=ZONE)}
    assert names == {f"A mirror.{ZONE}."}


def test_dns_ownership_record_of_a_gone_hosting_is_unowned() -> None:
    """A name the pipeline published for a hosting that no longer has a record: unowned."""
    items = compare_dns([], zone(), zone=ZONE, known_names=[f"mirror.{ZONE}"])
    assert {(i.resource, i.kind) for i in items} == {
        (f"A simpus.{ZONE}.", "unmanaged"),
        (f"TXT simpus.{ZONE}.", "unmanaged"),
    }


REV = "0.99.10.in-addr.arpa"


def reverse(*extra: ZoneRecord, ptr: str | None = f"simpus.{ZONE}.") -> list[ZoneRecord]:
    records = [
        ZoneRecord(f"{REV}.", "SOA", f"ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60"),
        ZoneRecord(f"{REV}.", "NS", f"ns1.{ZONE}."),
        ZoneRecord(f"2.{REV}.", "PTR", f"ns1.{ZONE}."),
    ]
    if ptr is not None:
        records.append(ZoneRecord(f"20.{REV}.", "PTR", ptr))
    return [*records, *extra]


def ptr_items(rev: list[ZoneRecord], hostings: list[Hosting] | None = None) -> list[DriftItem]:
    every = compare_dns(
        [HOSTING] if hostings is None else hostings,
        zone(),
        zone=ZONE,
        known_names=[f"mirror.{ZONE}"],
        reverse=rev,
    )
    return [i for i in every if i.resource.startswith("PTR ")]


def test_ptr_as_approved_is_no_drift_and_the_name_servers_ptr_is_not_unowned() -> None:
    assert ptr_items(reverse()) == []


def test_ptr_missing_and_pointing_elsewhere() -> None:
    assert ptr_items(reverse(ptr=None)) == [
        DriftItem(
            "dinkes-simpus", "dns", f"PTR 20.{REV}.", "name", f"simpus.{ZONE}.", None, "missing"
        )
    ]
    (item,) = ptr_items(reverse(ptr=f"judi.{ZONE}."))
    assert (item.kind, item.approved, item.actual) == (
        "changed",
        f"simpus.{ZONE}.",
        f"judi.{ZONE}.",
    )


def test_ptr_at_an_address_no_hosting_holds_is_unowned() -> None:
    foreign = ZoneRecord(f"199.{REV}.", "PTR", f"judi.{ZONE}.")
    assert ptr_items(reverse(foreign)) == [
        DriftItem(UNOWNED, "dns", f"PTR 199.{REV}.", "", None, f"judi.{ZONE}.", "unmanaged")
    ]
    # the hosting gone, its PTR is unowned too
    assert [i.resource for i in ptr_items(reverse(), hostings=[])] == [f"PTR 20.{REV}."]


def test_an_address_outside_the_reverse_zone_needs_no_ptr() -> None:
    outside = dataclasses.replace(HOSTING, ip_address="192.0.2.20")
    assert ptr_items(reverse(ptr=None), hostings=[outside]) == []


# ---------------------------------------------------------------- Proxmox


def test_proxmox_as_approved_is_no_drift() -> None:
    template = vm(vmid=9000, name="debian-12-cloudinit", template=True, tags=frozenset())
    assert compare_proxmox([HOSTING], [vm(), template]) == []


@pytest.mark.parametrize(
    ("change", "attribute", "approved", "actual"),
    [
        ({"memory_mb": 4096}, "memory_mb", "2048", "4096"),
        ({"cores": 4}, "vcpu", "2", "4"),
        ({"protection": False}, "protection", "true", "false"),
        ({"node": "pve2"}, "node", "pve1", "pve2"),
        ({"name": "renamed"}, "name", "dinkes-simpus", "renamed"),
    ],
)
def test_proxmox_attribute_changed(
    change: dict[str, object], attribute: str, approved: str, actual: str
) -> None:
    items = compare_proxmox([HOSTING], [vm(**change)])
    assert [(i.attribute, i.approved, i.actual, i.kind) for i in items] == [
        (attribute, approved, actual, "changed")
    ]


def test_proxmox_tag_removed() -> None:
    items = compare_proxmox([HOSTING], [vm(tags=TAGS - {"sop-opd-dinkes"})])
    assert len(items) == 1 and items[0].attribute == "tags"
    assert "sop-opd-dinkes" in str(items[0].approved)
    assert "sop-opd-dinkes" not in str(items[0].actual)


def test_proxmox_vm_gone_and_vm_without_request() -> None:
    outsider = vm(vmid=9150, name="buatan-tangan", tags=frozenset())
    items = compare_proxmox([HOSTING], [outsider])
    assert [(i.owner, i.resource, i.kind) for i in items] == [
        ("dinkes-simpus", "vm/9101", "missing"),
        (UNOWNED, "vm/9150", "unmanaged"),
    ]


def test_proxmox_vm_of_a_request_being_provisioned_is_left_out() -> None:
    building = vm(vmid=9102, name="other", tags=frozenset({"sop-req-other"}))
    assert compare_proxmox([HOSTING], [vm(), building], in_progress=["other"]) == []
    assert len(compare_proxmox([HOSTING], [vm(), building])) == 1


def test_proxmox_unread_protection_is_not_compared() -> None:
    assert compare_proxmox([HOSTING], [vm(protection=None)]) == []


# ---------------------------------------------------------------- allocator


def test_leases_group_rows_per_request() -> None:
    rows = [
        ("ip", "lab", "10.99.0.20", "dinkes-simpus"),
        ("vmid", "lab", "9101", "dinkes-simpus"),
        ("vmid", "lab", "9102", "left"),
    ]
    assert leases_of(rows) == [
        Lease("dinkes-simpus", "lab", 9101, "10.99.0.20"),
        Lease("left", "lab", 9102, None),
    ]


def test_allocator_as_approved_is_no_drift() -> None:
    leases = [Lease("dinkes-simpus", "lab", 9101, "10.99.0.20")]
    assert compare_allocator(leases, [HOSTING], [vm()]) == []


def test_allocator_lease_whose_vm_is_gone() -> None:
    leases = [
        Lease("dinkes-simpus", "lab", 9101, "10.99.0.20"),
        Lease("ghost", "lab", 9107, "10.99.0.27"),
    ]
    items = compare_allocator(leases, [HOSTING], [vm()], known_requests=["ghost"])
    assert items == [
        DriftItem("ghost", "allocator", "lease/lab/ghost", "vmid", "9107", None, "missing")
    ]
    unknown = compare_allocator(leases, [HOSTING], [vm()])
    assert unknown[0].owner == UNOWNED
    assert compare_allocator(leases, [HOSTING], [vm()], in_progress=["ghost"]) == []


def test_allocator_lease_disagreeing_with_step_8_and_hosting_without_lease() -> None:
    moved = compare_allocator(
        [Lease("dinkes-simpus", "lab", 9101, "10.99.0.21")], [HOSTING], [vm()]
    )
    assert [(i.attribute, i.approved, i.actual) for i in moved] == [
        ("ipv4", "10.99.0.20", "10.99.0.21")
    ]
    lost = compare_allocator([], [HOSTING], [vm()])
    assert [(i.owner, i.kind) for i in lost] == [("dinkes-simpus", "missing")]


# ---------------------------------------------------------------- Terraform and its noise


def drift_entry(before: dict[str, object], after: dict[str, object] | None) -> dict[str, object]:
    return {
        "address": "module.vm.proxmox_virtual_environment_vm.this",
        "type": VM_TYPE,
        "change": {"actions": ["update"], "before": before, "after": after},
    }


def test_terraform_attribute_drift_is_one_item_per_leaf() -> None:
    before = {"memory": [{"dedicated": 2048, "floating": 0}], "tags": ["a", "b"]}
    after = {"memory": [{"dedicated": 4096, "floating": 0}], "tags": ["a"]}
    items = terraform_items("dinkes-simpus", [drift_entry(before, after)])
    assert [(i.attribute, i.approved, i.actual) for i in items] == [
        ("memory.0.dedicated", "2048", "4096"),
        ("tags", '["a", "b"]', '["a"]'),
    ]


def test_terraform_resource_deleted_outside() -> None:
    items = terraform_items("dinkes-simpus", [drift_entry({"vm_id": 9101}, None)])
    assert [(i.kind, i.attribute) for i in items] == [("missing", "")]


@pytest.mark.parametrize("rule", TERRAFORM_NOISE, ids=lambda r: r.path)
def test_each_noise_rule_hides_its_attribute_and_nothing_else(rule: NoiseRule) -> None:
    """Every rule filters what it names; the same change on a real attribute still shows."""
    path = rule.path.replace("*", "0")
    assert is_noise(VM_TYPE, path)
    assert not is_noise("proxmox_virtual_environment_file", path)
    assert not is_noise(VM_TYPE, "memory.0.dedicated")
    assert rule.reason


def test_unset_and_empty_are_the_same_but_a_value_is_not() -> None:
    before: dict[str, object] = {"cpu": [{"flags": None, "cores": 2}]}
    assert terraform_items("x", [drift_entry(before, {"cpu": [{"flags": [], "cores": 2}]})]) == []
    items = terraform_items("x", [drift_entry(before, {"cpu": [{"flags": ["+aes"], "cores": 2}]})])
    assert [(i.attribute, i.approved, i.actual) for i in items] == [
        ("cpu.0.flags", None, '["+aes"]')
    ]


def test_noise_is_left_out_of_the_items() -> None:
    before = {"ipv4_addresses": [], "disk": [{"path_in_datastore": None, "size": 20}]}
    after = {
        "ipv4_addresses": [["127.0.0.1"], ["10.99.0.20"]],
        "disk": [{"path_in_datastore": "vm-9101-disk-0", "size": 20}],
    }
    assert terraform_items("dinkes-simpus", [drift_entry(before, after)]) == []
    after["disk"] = [{"path_in_datastore": "vm-9101-disk-0", "size": 40}]
    items = terraform_items("dinkes-simpus", [drift_entry(before, after)])
    assert [i.attribute for i in items] == ["disk.0.size"]


# ---------------------------------------------------------------- verdict and proposal


def test_exit_code_never_says_no_drift_after_a_failed_check() -> None:
    item = DriftItem("x", "dns", "A x.", "address", "1", "2", "changed")
    ok = {"dns": "ok", "proxmox": "ok"}
    failed = {"dns": "gagal: tidak menjawab", "proxmox": "ok"}
    assert exit_code(DriftReport((), ok, ("x",))) == ExitCode.OK
    assert exit_code(DriftReport((item,), ok, ("x",))) == ExitCode.DRIFT
    assert exit_code(DriftReport((), failed, ("x",))) == ExitCode.DRIFT_CHECK_FAILED
    assert exit_code(DriftReport((item,), failed, ("x",))) == ExitCode.DRIFT_CHECK_FAILED
    skipped = {**ok, "ansible:x": "skipped: belum tersedia"}
    assert exit_code(DriftReport((), skipped, ("x",))) == ExitCode.OK


REQUEST = """# a comment
schema_version: 1
hostname: simpus
resources:
  vcpu: 2
  memory_mb: 2048
  disk_gb: 20
  template: debian-12-cloudinit
environment: lab
"""


def test_proposals_restore_and_accept() -> None:
    at = datetime(2026, 12, 4, 2, 0, tzinfo=UTC)
    memory = DriftItem(
        "dinkes-simpus", "proxmox", "vm/9101", "memory_mb", "2048", "4096", "changed"
    )
    hostile = DriftItem(
        UNOWNED, "dns", "A x.", "", None, "1.2.3.4\nkind: baru\r\nopd: {}", "unmanaged"
    )
    restore = proposal_text("dinkes-simpus", REQUEST, [memory, hostile], "restore", at)
    accept = proposal_text("dinkes-simpus", REQUEST, [memory, hostile], "accept", at)
    assert "kind: ubah\n" in restore and "  memory_mb: 2048\n" in restore
    assert "kind: ubah\n" in accept and "  memory_mb: 4096\n" in accept
    for text in (restore, accept):
        code = [line for line in text.splitlines() if not line.startswith("#")]
        assert code == [line for line in code if "baru" not in line and "opd" not in line]
        assert sum(line.startswith("kind:") for line in code) == 1


def test_laporan_kegiatan_counts_the_periods_drift_runs() -> None:
    from datetime import date

    from sop_pipeline.config import load_calendar
    from sop_pipeline.ledger.chain import Record
    from sop_pipeline.steps.reporting import activity_report
    from tests.conftest import REPO

    def run(day: int, verdict: str, drifted: list[str]) -> Record:
        at = datetime(2026, 11, day, 19, 0, tzinfo=UTC).isoformat()
        data = {"verdict": verdict, "drifted": drifted}
        return Record(day, "_drift", "drift", None, "sop-pipeline", at, data=data)

    runs = [
        run(2, "tidak ada drift", []),
        run(3, "drift", ["a", "unowned"]),
        run(4, "drift", ["a", "b"]),
        run(5, "gagal", []),
    ]
    outside = run(2, "drift", ["c"])
    outside = Record(**{**outside.body(), "at": "2026-12-02T19:00:00+00:00", "hash": ""})
    report = activity_report(
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        sequence=11,
        now=datetime(2026, 12, 10, tzinfo=UTC),
        calendar=load_calendar(REPO / "inventories"),
        ledgers={},
        facts={},
        drift=[*runs, outside],
    )
    assert report.drift == (4, 2, 1, 2)
    empty = activity_report(
        period_start=date(2026, 10, 1),
        period_end=date(2026, 10, 31),
        sequence=10,
        now=datetime(2026, 12, 10, tzinfo=UTC),
        calendar=load_calendar(REPO / "inventories"),
        ledgers={},
        facts={},
        drift=runs,
    )
    assert empty.drift is None


def test_sentences_escape_what_outside_values_carry() -> None:
    item = DriftItem(UNOWNED, "dns", "TXT x.", "", None, "a\nkind: baru\x1b[31m", "unmanaged")
    sentence = item.sentence()
    assert "\n" not in sentence and "\x1b" not in sentence
    assert "a\\nkind: baru\\x1b[31m" in sentence
