"""``sop drift``: compare what was approved with what runs, record every difference.

In order, for every live hosting (a request whose step 8 is recorded), or for one:

1. hostings   what was approved: the request file (vCPU, memory, OPD, template) and step 8's
              record (VMID, node, name, address), with the protection flag Terraform applied;
2. proxmox    every VM of ``/cluster/resources`` against the hostings;
3. dns        the zone and its reverse zone by AXFR (TSIG) against the A and PTR records the
              pipeline made, both ways;
4. allocator  the leases against Proxmox and the ledger;
5. terraform  ``plan -refresh-only`` in each request's working copy, at most the per-node
              bound of runs per Proxmox node at once, the bpg noise filtered;
6. ansible    ``site.yml`` in check and diff mode on each hosting's VM
              (``ports.AnsibleDriftPort``, :mod:`sop_pipeline.adapters.ansible_drift`): every
              task that would change is an item; left out (``--without-ansible``), the
              check is reported as not run ("skipped");
7. record     one ``drift`` record per hosting (an empty list too: "checked, no drift"),
              and unowned things in the department-wide ``_drift`` ledger.

A check that fails (the DNS server or the Proxmox API down) is reported as failed, by name,
and the run's verdict is "failed", never "no drift". Nothing is fixed: ``--propose`` writes a
change request (:mod:`sop_pipeline.steps.drift_proposal`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sop_pipeline.domain.drift import (
    UNOWNED,
    ClusterVm,
    DriftItem,
    DriftReport,
    Hosting,
    ZoneRecord,
    approved_tags,
    compare_allocator,
    compare_dns,
    compare_proxmox,
    leases_of,
    sort_items,
    terraform_items,
)
from sop_pipeline.domain.sop import PROVISION_STEP
from sop_pipeline.errors import ExitCode, SopError
from sop_pipeline.ledger.chain import Record
from sop_pipeline.ledger.store import LedgerStore
from sop_pipeline.ledger.tracking import STEP_KIND
from sop_pipeline.loader import read_request_model
from sop_pipeline.ports import (
    AnsibleDriftPort,
    ClusterPort,
    LeasesPort,
    TerraformDriftPort,
    ZonePort,
)

DRIFT_KIND = "drift"
DEPARTMENT_LEDGER = "drift"  # records/_drift.jsonl
ACTOR = "sop-pipeline"
SKIPPED = "skipped"
ANSIBLE_NOT_BUILT = (
    "skipped: pemeriksaan Ansible (site.yml --check --diff) dilewati (--without-ansible)"
)


# ----------------------------------------------------------------------------- ports


@dataclass
class DriftSources:
    """Where the run reads what runs; ``terraform`` gives the runner of one request."""

    proxmox: ClusterPort
    zone: ZonePort
    zone_name: str
    allocator: LeasesPort
    terraform: Callable[[str], TerraformDriftPort] | None = None
    ansible: AnsibleDriftPort | None = None
    #: Names of the zone that belong to the department (reserved), never "unowned".
    known_names: Sequence[str] = ()
    #: At most this many Terraform refreshes per Proxmox node at once.
    per_node: int = 2
    log: Callable[[str], None] = field(default=lambda _line: None)


class DriftCheckFailed(SopError):
    """One or more checks could not be run: no verdict of "no drift" is given."""

    exit_code: int = ExitCode.DRIFT_CHECK_FAILED


# ----------------------------------------------------------------------------- 1. hostings


@dataclass(frozen=True)
class HostingLookup:
    hostings: tuple[Hosting, ...]
    #: request id -> why its approved values could not be read (a failed check for it).
    problems: Mapping[str, str]
    #: every request id the ledger knows
    known: tuple[str, ...]


def step8_record(records: Sequence[Record]) -> Record | None:
    return next(
        (
            r
            for r in reversed(records)
            if r.kind == STEP_KIND and r.step == PROVISION_STEP and "hosting" in r.data
        ),
        None,
    )


def live_hostings(
    ledgers: LedgerStore,
    requests_dir: Path,
    *,
    zone: str,
    environment: str,
    protection: Callable[[str], bool] = lambda _rid: False,
) -> HostingLookup:
    """Every request with step 8 recorded, as approved (request file + step 8's record)."""
    hostings: list[Hosting] = []
    problems: dict[str, str] = {}
    known = ledgers.request_ids()
    for request_id in known:
        records = ledgers.for_request(request_id).records()
        record = step8_record(records)
        if record is None:
            continue
        facts = read_request_model(requests_dir / f"{request_id}.yaml", zone=zone)
        if facts is None:
            problems[request_id] = (
                f"gagal: requests/{request_id}.yaml tidak ada atau tidak sah; nilai yang "
                "disetujui tidak dapat dibaca"
            )
            continue
        data = record.data["hosting"]
        hostings.append(
            Hosting(
                request_id=request_id,
                vmid=int(data["vmid"]),
                node=str(data["node"]),
                fqdn=str(data["fqdn"]),
                ip_address=str(data["ip_address"]),
                vcpu=facts.resources.vcpu,
                memory_mb=facts.resources.memory_mb,
                tags=approved_tags(
                    request_id, facts.opd.code, environment, facts.resources.template
                ),
                protection=protection(request_id),
                dns_address=_holding_address(records),
            )
        )
    return HostingLookup(tuple(hostings), problems, tuple(known))


def _holding_address(records: Sequence[Record]) -> str:
    """A soft-retired hosting's approved A record: the holding host (``sop expiry``)."""
    from sop_pipeline.domain.expiry import Event, fold

    soft = fold([Event(r.kind, r.hash, r.data) for r in records]).soft
    return soft.holding_address if soft is not None else ""


# ----------------------------------------------------------------------------- 2-6. checks


def _failure(exc: SopError) -> str:
    return "gagal: " + " ".join(exc.diagnostics().split())[:400]


def _in_progress(allocator: LeasesPort, request_ids: Iterable[str]) -> set[str]:
    """The requests whose provisioning lease is held now (being provisioned: not drift)."""
    busy = set()
    for rid in request_ids:
        try:
            with allocator.lease(rid):
                pass
        except SopError:
            busy.add(rid)
    return busy


def check_drift(
    lookup: HostingLookup, sources: DriftSources, *, only: str | None = None
) -> DriftReport:
    """Run every check; a check that fails is named in ``checks``, never read as no drift."""
    say = sources.log
    checks: dict[str, str] = {}
    items: list[DriftItem] = []
    hostings = [h for h in lookup.hostings if only is None or h.request_id == only]
    for rid, why in lookup.problems.items():
        if only is None or rid == only:
            checks[f"permintaan:{rid}"] = why

    leases = None
    busy: set[str] = set()
    try:  # the allocator's leases first: a request being provisioned now is not drift
        leases = leases_of(sources.allocator.all())
        busy = _in_progress(sources.allocator, {lease.request_id for lease in leases})
    except SopError as exc:
        checks["allocator"] = _failure(exc)

    vms: list[ClusterVm] | None = None
    try:  # 2. proxmox
        vms = sources.proxmox.cluster_vms(protection_of={h.vmid for h in hostings})
        items += compare_proxmox(hostings, vms, in_progress=busy)
        checks["proxmox"] = "ok"
    except SopError as exc:
        checks["proxmox"] = _failure(exc)
    say(f"drift: proxmox {checks['proxmox']}")

    try:  # 3. dns
        records = [ZoneRecord(*r) for r in sources.zone.zone_records()]
        reverse = sources.zone.reverse_records()
        items += compare_dns(
            hostings,
            records,
            zone=sources.zone_name,
            known_names=sources.known_names,
            reverse=None if reverse is None else [ZoneRecord(*r) for r in reverse],
        )
        checks["dns"] = "ok"
    except SopError as exc:
        checks["dns"] = _failure(exc)
    say(f"drift: dns {checks['dns']}")

    if leases is not None:  # 4. allocator (against the cluster's VMs)
        if vms is None:
            checks["allocator"] = "gagal: daftar VM Proxmox tidak terbaca"
        else:
            items += compare_allocator(
                leases, hostings, vms, known_requests=lookup.known, in_progress=busy
            )
            checks["allocator"] = "ok"
    say(f"drift: allocator {checks['allocator']}")

    items += _terraform(hostings, sources, checks)  # 5.
    for h in hostings:  # 6.
        name = f"ansible:{h.request_id}"
        if sources.ansible is None:
            checks[name] = ANSIBLE_NOT_BUILT
            continue
        try:
            items += sources.ansible.check(h)
            checks[name] = "ok"
        except SopError as exc:
            checks[name] = _failure(exc)

    if only is not None:
        items = [i for i in items if i.owner == only]
    return DriftReport(
        items=tuple(sort_items(items)),
        checks=checks,
        hostings=tuple(h.request_id for h in hostings),
    )


def _terraform(
    hostings: Sequence[Hosting], sources: DriftSources, checks: dict[str, str]
) -> list[DriftItem]:
    """Refresh-only plans, in parallel, at most ``per_node`` at once on one Proxmox node."""
    factory = sources.terraform
    if factory is None:
        for h in hostings:
            checks[f"terraform:{h.request_id}"] = "skipped: Terraform tidak dikonfigurasi"
        return []
    slots: dict[str, threading.Semaphore] = {
        node: threading.Semaphore(max(sources.per_node, 1)) for node in {h.node for h in hostings}
    }

    def one(h: Hosting) -> tuple[str, list[DriftItem]]:
        with slots[h.node]:
            try:
                runner = factory(h.request_id)
                with runner.exclusive():
                    drift = runner.refresh_drift()
                return "ok", terraform_items(h.request_id, drift)
            except SopError as exc:
                return _failure(exc), []

    found: list[DriftItem] = []
    width = max(1, min(len(hostings), sources.per_node * max(len(slots), 1)))
    with ThreadPoolExecutor(max_workers=width) as pool:
        for h, (status, got) in zip(hostings, pool.map(one, hostings), strict=True):
            checks[f"terraform:{h.request_id}"] = status
            sources.log(f"drift: terraform {h.request_id} {status}")
            found += got
    return found


# ----------------------------------------------------------------------------- 7. record


def _verdict(items: Sequence[DriftItem], statuses: Iterable[str]) -> str:
    if any(s.startswith("gagal") for s in statuses):
        return "gagal"
    return "drift" if items else "tidak ada drift"


def record_drift(
    report: DriftReport, ledgers: LedgerStore, *, at: datetime, department: bool = True
) -> list[Record]:
    """One ``drift`` record per hosting checked, and the department's record of unowned
    things (with every check's status) when the whole cluster was checked."""
    written = []
    for rid in report.hostings:
        mine = report.for_owner(rid)
        checks = {
            k: v for k, v in report.checks.items() if ":" not in k or k.split(":", 1)[1] == rid
        }
        with ledgers.locked(rid):
            written.append(
                ledgers.for_request(rid).append(
                    kind=DRIFT_KIND,
                    actor=ACTOR,
                    at=at,
                    data={
                        "verdict": _verdict(mine, checks.values()),
                        "items": [i.to_json() for i in mine],
                        "checks": checks,
                    },
                )
            )
    owned = set(report.hostings)
    others = [i for i in report.items if i.owner not in owned]
    if department:
        with ledgers.locked(f"_{DEPARTMENT_LEDGER}"):
            written.append(
                ledgers.named(DEPARTMENT_LEDGER).append(
                    kind=DRIFT_KIND,
                    actor=ACTOR,
                    at=at,
                    data={
                        "verdict": _verdict(report.items, report.checks.values()),
                        "items": [i.to_json() for i in others],
                        "checks": dict(report.checks),
                        "hostings": list(report.hostings),
                        "drifted": sorted({i.owner for i in report.items}),
                    },
                )
            )
    return written


def exit_code(report: DriftReport) -> ExitCode:
    """0 no drift; DRIFT_CHECK_FAILED if any check failed (even with items); else DRIFT."""
    if report.failed:
        return ExitCode.DRIFT_CHECK_FAILED
    return ExitCode.DRIFT if report.drifted else ExitCode.OK


def drift_records(records: Iterable[Record]) -> list[Record]:
    """The ``drift`` records of a ledger, in order (the Laporan Kegiatan counts them)."""
    return [r for r in records if r.kind == DRIFT_KIND]


__all__ = [
    "UNOWNED",
    "DriftCheckFailed",
    "DriftSources",
    "HostingLookup",
    "check_drift",
    "exit_code",
    "live_hostings",
    "record_drift",
]


def approved_protection(work_root: Path, request_id: str) -> bool:
    """The protection flag step 8 applied: ``protection`` in the request's working-copy tfvars
    (absent: the module's default, false)."""
    import json

    from sop_pipeline.adapters.terraform import STACK, TFVARS_NAME

    path = work_root / request_id / STACK / TFVARS_NAME
    try:
        return bool(json.loads(path.read_text(encoding="utf-8")).get("protection", False))
    except (OSError, ValueError):
        return False
