"""What the reports are made from: small frozen dataclasses, built from the domain objects
and from the results the pipeline hands over (the step-6 analysis, the step-8 hosting).

Every string here may come from a request, so every string is untrusted: the renderers
escape all of it. Times are timezone-aware; the renderers show them in the department's zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, ClassVar

from sop_pipeline.domain.backups import BackupStatus
from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.domain.change import FieldChange
from sop_pipeline.domain.placement import Held, Room, demand_of, fits_quota, node_fits
from sop_pipeline.domain.policy import Quota
from sop_pipeline.domain.request import Request
from sop_pipeline.domain.sla import StepTiming, paused_time, timings
from sop_pipeline.domain.state import Outcome, Phase, RequestState

# ----------------------------------------------------------------------------- step 6


@dataclass(frozen=True)
class NodeCapacity:
    """Free capacity of one Proxmox node at analysis time."""

    node: str
    vcpu_free: int
    memory_mb_free: int
    disk_gb_free: int
    online: bool = True

    def fits(self, request: Request) -> bool:
        room = Room(self.node, self.online, self.vcpu_free, self.memory_mb_free, self.disk_gb_free)
        return node_fits(room, demand_of(request))


@dataclass(frozen=True)
class Usage:
    """What an OPD already holds (over all its hosted requests)."""

    vms: int
    vcpu: int
    memory_mb: int
    disk_gb: int


@dataclass(frozen=True)
class QuotaUse:
    limit: Quota
    used: Usage

    def left(self) -> Usage:
        return Usage(
            vms=self.limit.max_vms - self.used.vms,
            vcpu=self.limit.vcpu - self.used.vcpu,
            memory_mb=self.limit.memory_mb - self.used.memory_mb,
            disk_gb=self.limit.disk_gb - self.used.disk_gb,
        )

    def fits(self, request: Request) -> bool:
        used = Held(self.used.vms, self.used.vcpu, self.used.memory_mb, self.used.disk_gb)
        return fits_quota(self.limit, used, demand_of(request))


@dataclass(frozen=True)
class AnalysisResult:
    """What the step-6 analysis found (the pipeline fills it from Proxmox, IPAM, DNS, Terraform)."""

    analysed_at: datetime
    nodes: tuple[NodeCapacity, ...]
    quota: QuotaUse
    ip_pool: str  # e.g. "production 10.20.130.0/24"
    ip_address: str | None  # a free address found in the pool (not yet allocated)
    dns_name_free: bool
    template_present: bool
    plan_summary: tuple[str, ...]  # e.g. "Plan: 1 to add, 0 to change, 0 to destroy."
    plan_ok: bool = True
    chosen_node: str | None = None  # the node the plan places the VM on
    vm_name_free: bool = True  # no other Proxmox VM already carries the request's VM name
    #: For a change of a live hosting: the class of its plan (domain.change_class: live,
    #: reboot, replace, refused) and the attributes that decided it.
    change_class: str = ""
    change_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Finding:
    """One line of the analysis: what was checked, whether it holds, and the figures."""

    label: str
    ok: bool
    detail: str


def analysis_findings(request: Request, result: AnalysisResult) -> tuple[Finding, ...]:
    """The analysis as checks, in the order the report and the MR comment print them."""
    fitting = [n.node for n in result.nodes if n.fits(request)]
    res = request.resources
    left = result.quota.left()
    return (
        Finding(
            "Kapasitas node Proxmox",
            bool(fitting),
            (f"cukup di {', '.join(fitting)}" if fitting else "tidak ada node yang cukup")
            + f" untuk {res.vcpu} vCPU, {res.memory_mb} MiB, {res.disk_gb} GiB",
        ),
        Finding(
            f"Kuota OPD {request.opd.code}",
            result.quota.fits(request),
            f"sisa {left.vms} VM, {left.vcpu} vCPU, {left.memory_mb} MiB, {left.disk_gb} GiB",
        ),
        Finding(
            "Alamat IP bebas",
            result.ip_address is not None,
            f"{result.ip_address} dari pool {result.ip_pool}"
            if result.ip_address
            else f"pool {result.ip_pool} penuh",
        ),
        Finding(
            "Nama DNS",
            result.dns_name_free and result.vm_name_free,
            f"{request.fqdn} "
            + ("belum dipakai" if result.dns_name_free else "sudah dipakai")
            + (
                ""
                if result.vm_name_free
                else f"; nama VM {request.request_id} sudah dipakai VM lain di Proxmox"
            ),
        ),
        Finding(
            "Templat sistem operasi",
            result.template_present,
            f"{res.template} " + ("tersedia" if result.template_present else "tidak ada"),
        ),
        Finding(
            "Rencana Terraform",
            result.plan_ok,
            result.plan_summary[-1] if result.plan_summary else "tidak ada ringkasan",
        ),
    )


def feasible(request: Request, result: AnalysisResult) -> bool:
    return all(f.ok for f in analysis_findings(request, result))


# ----------------------------------------------------------------------------- step 8

CHECK_HTTP = "Situs menjawab lewat namanya (HTTP)"
CHECK_DNS_A = "Rekaman DNS A"
CHECK_DNS_PTR = "Rekaman DNS PTR"
CHECK_SSH = "Pengerasan SSH"
CHECK_FIREWALL = "Firewall"


@dataclass(frozen=True)
class Check:
    """One check done after hosting, with its outcome and what was seen."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class HostingResult:
    """What step 8 made and verified (the pipeline fills it after the last check)."""

    vmid: int
    node: str
    ip_address: str
    fqdn: str
    stack: str
    started: datetime
    finished: datetime
    checks: tuple[Check, ...] = ()
    url: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)


# -------------------------------------------------------------------------- documents


@dataclass(frozen=True)
class DispositionEntry:
    """One disposition (step 2 or 3): who signed it and when."""

    step: int
    signer: str  # the principal whose signature the ledger recorded
    at: datetime
    key: str = ""  # the signing key's fingerprint (SHA256:...), from the step's record


def disposition_entries(state: RequestState) -> tuple[DispositionEntry, ...]:
    """Steps 2 and 3 as the ledger recorded them (the latest run of each)."""
    latest = {r.step: r for r in state.runs if r.step in (2, 3) and r.outcome is Outcome.DONE}
    return tuple(DispositionEntry(s, latest[s].actor, latest[s].ended) for s in sorted(latest))


def received_at(state: RequestState) -> datetime | None:
    """When step 1 (the letter's submission) was recorded."""
    return next((r.ended for r in state.runs if r.step == 1), None)


@dataclass(frozen=True)
class Disposition:
    """Lembar Disposisi, steps 2 (Kadis to Kabid) and 3 (Kabid to Koordinator)."""

    kind: ClassVar[str] = "disposisi"
    file_stem: ClassVar[str] = "disposisi"

    request: Request
    sequence: int
    issued: datetime
    received: datetime | None
    entries: tuple[DispositionEntry, ...]


@dataclass(frozen=True)
class AnalysisReport:
    """Laporan Analisis Teknis, step 6."""

    kind: ClassVar[str] = "analisis"
    file_stem: ClassVar[str] = "laporan-analisis-teknis"

    request: Request
    sequence: int
    issued: datetime
    result: AnalysisResult
    #: For a change of a live hosting: each field, as last applied and as asked now.
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class HostingReport:
    """Laporan Hasil Hosting, steps 8 (Tim Teknis) and 9 (Helpdesk)."""

    kind: ClassVar[str] = "hasil_hosting"
    file_stem: ClassVar[str] = "laporan-hasil-hosting"

    request: Request
    sequence: int
    issued: datetime
    result: HostingResult
    override: str = ""  # step 6 approved over BELUM DAPAT DILAKSANAKAN, with this reason
    #: For a change (kind ubah): each field before (the previous step 8) and after (this one).
    changes: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class HandoverMinutes:
    """Berita Acara Serah Terima: the department hands the hosted service to the OPD."""

    kind: ClassVar[str] = "berita_acara"
    file_stem: ClassVar[str] = "berita-acara-serah-terima"

    request: Request
    sequence: int
    issued: datetime
    result: HostingResult
    changes: tuple[FieldChange, ...] = ()  # for a change (kind ubah), as in HostingReport


@dataclass(frozen=True)
class ActivityEntry:
    """One request in the Laporan Kegiatan: its steps' working time against the targets."""

    request_id: str
    opd_name: str
    application: str
    phase: Phase
    timings: tuple[StepTiming, ...]
    paused: timedelta
    reason: str = ""
    missing: tuple[str, ...] = ()
    override: str = ""  # step 6 approved over BELUM DAPAT DILAKSANAKAN, with this reason
    #: For a change (kind ubah): each field before (the previous step 8) and after (this one).
    changes: tuple[FieldChange, ...] = ()

    @property
    def breaches(self) -> tuple[StepTiming, ...]:
        return tuple(t for t in self.timings if t.breached)


def activity_entry(
    state: RequestState,
    calendar: WorkingCalendar,
    now: datetime,
    request: Request | None = None,
) -> ActivityEntry:
    """A request's line in the Laporan Kegiatan, with its SLA timings as of ``now``."""
    return ActivityEntry(
        request_id=state.request_id,
        opd_name=request.opd.name if request else "",
        application=request.application.name if request else "",
        phase=state.phase,
        timings=tuple(timings(state, calendar, now)),
        paused=paused_time(state, calendar, now),
        reason=state.reason,
        missing=state.missing,
    )


def touches_period(state: RequestState, start: datetime, end: datetime) -> bool:
    """Whether the request was open at some moment of ``[start, end)``."""
    if not state.runs:
        return False
    first = min(r.started for r in state.runs)
    last = max(r.ended for r in state.runs)
    return first < end and (last >= start or not state.terminal)


@dataclass(frozen=True)
class ActivityReport:
    """Laporan Kegiatan for a period: every request and every breach of an SOP target."""

    kind: ClassVar[str] = "kegiatan"
    file_stem: ClassVar[str] = "laporan-kegiatan"

    period_start: date
    period_end: date  # inclusive
    sequence: int
    issued: datetime
    entries: tuple[ActivityEntry, ...]
    #: Each hosting's last good backup when the report was made; None: not asked.
    backups: tuple[BackupStatus, ...] | None = None
    #: ``sop drift`` runs of the whole cluster in the period: (runs, runs that found drift,
    #: runs whose check failed, hostings found drifted). None: no run in the period.
    drift: tuple[int, int, int, int] | None = None
    #: ``sop expiry``'s lines in the period (records/_expiry.jsonl): (time, request id, what
    #: happened, in Indonesian). None: nothing happened in the period.
    expiry: tuple[tuple[datetime, str, str], ...] | None = None

    @property
    def breaches(self) -> tuple[tuple[ActivityEntry, StepTiming], ...]:
        return tuple((e, t) for e in self.entries for t in e.breaches)


Report = Disposition | AnalysisReport | HostingReport | HandoverMinutes | ActivityReport


# ------------------------------------------------------------------------- signatures


@dataclass(frozen=True)
class Signature:
    """A valid signed statement seen in the request's approvals folder."""

    step: int
    signer: str
    signed_at: datetime
    decision: str


def signatures_from_checked(checked: Iterable[Any]) -> tuple[Signature, ...]:
    """From :func:`sop_pipeline.signing.approvals.check_all` results: only those that hold."""
    found = []
    for c in checked:
        if c.ok and c.statement is not None:
            s = c.statement
            found.append(Signature(s.step, s.signer, s.signed_time, s.decision))
    return tuple(found)
