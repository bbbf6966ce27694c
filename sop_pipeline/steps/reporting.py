"""From a request's records to the SOP's documents (``sop report``).

The ledger is the truth: every document is rebuilt from the hash-chained records of the
request, the request file the records name (its sha256 must match), and the department's
configuration from the base branch. Nothing here reads a clock: a document's date is the time
of the step that produced it, so running ``sop report`` again gives the same files.

==========================  ====================================  ==========================
document                    needs (SOP steps recorded)            dated and numbered by
==========================  ====================================  ==========================
Lembar Disposisi            2 and 3 (content), 5 (ticket number)  step 3, ticket of step 5
Laporan Hasil Hosting       8 (what was built), 9 (the report)    step 9, ticket of step 5
Berita Acara Serah Terima   9, and every step-8 check passed      step 9, ticket of step 5
Laporan Kegiatan            any record in the period              end of the period (or now)
==========================  ====================================  ==========================

The Laporan Analisis Teknis (step 6) is not rebuilt here: its figures come from the cluster at
analysis time, not from the ledger (``sop analyze`` writes it).

Pure assembly (records and facts in, report model out): :func:`disposition`,
:func:`hosting_report`, :func:`handover_minutes`, :func:`activity_report`. I/O at the edges:
:func:`request_facts`, :func:`write_request_documents`,
:func:`write_period_report`.
"""

from __future__ import annotations

import calendar as month_calendar
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from sop_pipeline.config import TrustedConfig
from sop_pipeline.domain.backups import BackupStatus
from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.domain.change import FieldChange, diff
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.request import Request
from sop_pipeline.domain.sla import StepTiming
from sop_pipeline.domain.sop import DECISION_STEP
from sop_pipeline.domain.sop import step as sop_step
from sop_pipeline.domain.state import Phase, RequestState, fold
from sop_pipeline.errors import SopError
from sop_pipeline.ledger import Record, verify_chain
from sop_pipeline.ledger.tracking import STEP_KIND, applied_history, override_of, step_events
from sop_pipeline.loader import load_request, read_request_model
from sop_pipeline.reports import render, write_reports
from sop_pipeline.reports.department import Department
from sop_pipeline.reports.model import (
    ActivityEntry,
    ActivityReport,
    Check,
    Disposition,
    HandoverMinutes,
    HostingReport,
    HostingResult,
    Report,
    activity_entry,
    disposition_entries,
    received_at,
    touches_period,
)
from sop_pipeline.reports.readiness import require_ready
from sop_pipeline.reports.writer import report_stem
from sop_pipeline.workspace import Workspace

REPORTS_FOLDER = "reports"
TICKET_STEP = 5
HOSTING_STEP = 8
HOSTING_REPORT_STEP = 9

#: Document keys (as the CLI names them) and their titles, in the order they are written.
DOCUMENTS = {
    "disposisi": "Lembar Disposisi",
    "hasil-hosting": "Laporan Hasil Hosting",
    "berita-acara": "Berita Acara Serah Terima",
}
ANALYSIS_STEM = "laporan-analisis-teknis"


class ReportRefused(SopError):
    """A document cannot be made from what the repository holds now."""

    exit_code = 2


class DocumentNotReady(ReportRefused):
    """The request's records do not (yet) hold what a document needs."""

    def __init__(self, message: str, *, document: str, step: int | None = None) -> None:
        super().__init__(message)
        self.document = document
        self.step = step


class RecordMismatch(SopError):
    """What the ledger recorded and what the files or the request say now differ."""

    exit_code = 5


# ------------------------------------------------------------------------ ledger reading


def last_step_record(records: Sequence[Record], step: int) -> Record | None:
    """The latest ``"step"`` record of SOP step ``step``, or None."""
    found = [r for r in records if r.kind == STEP_KIND and r.step == step]
    return found[-1] if found else None


def ticket_of(records: Sequence[Record]) -> str:
    """The Helpdesk ticket recorded at step 5 (``HOST-2026-0001``), or ``""``."""
    record = last_step_record(records, TICKET_STEP)
    return str(record.data.get("ticket", "")) if record else ""


def ticket_sequence(ticket: str) -> int:
    """The running number of a ticket: ``HOST-2026-0007`` -> 7 (0 when there is none)."""
    tail = ticket.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def recorded_digest(records: Sequence[Record]) -> str:
    """The sha256 of the request bytes named by the latest step record."""
    digests = [
        r.inputs["request"] for r in records if r.kind == STEP_KIND and "request" in r.inputs
    ]
    return digests[-1] if digests else ""


def state_of_records(request_id: str, records: Sequence[Record]) -> RequestState:
    return fold(request_id, step_events(records))


def hosting_record(hosting: HostingResult) -> dict[str, Any]:
    """Step 8's result as the ledger stores it (``data["hosting"]`` of the step-8 record)."""
    return {
        "vmid": hosting.vmid,
        "node": hosting.node,
        "ip_address": hosting.ip_address,
        "fqdn": hosting.fqdn,
        "stack": hosting.stack,
        "started": hosting.started.isoformat(),
        "finished": hosting.finished.isoformat(),
        "url": hosting.url,
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in hosting.checks],
    }


def hosting_from_record(record: Record) -> HostingResult:
    """The :class:`HostingResult` a step-8 record holds."""
    data = record.data["hosting"]
    return HostingResult(
        vmid=data["vmid"],
        node=data["node"],
        ip_address=data["ip_address"],
        fqdn=data["fqdn"],
        stack=data["stack"],
        started=datetime.fromisoformat(data["started"]),
        finished=datetime.fromisoformat(data["finished"]),
        checks=tuple(Check(c["name"], c["ok"], c["detail"]) for c in data["checks"]),
        url=data.get("url", ""),
    )


# ---------------------------------------------------------------- per-request documents


def _not_ready(request_id: str, document: str, state: RequestState, step: int) -> DocumentNotReady:
    title = DOCUMENTS[document]
    if state.phase is Phase.REJECTED and step > DECISION_STEP:
        return DocumentNotReady(
            f"{request_id}: {title} tidak dibuat: permintaan ditolak pada langkah "
            f"{DECISION_STEP} ({state.reason or 'tanpa alasan tertulis'}) [rejected]",
            document=document,
            step=step,
        )
    s = sop_step(step)
    waiting = f"; permintaan kini menunggu langkah {state.next_step}" if state.next_step else ""
    if state.phase is Phase.RETURNED:
        waiting = "; permintaan dikembalikan ke OPD untuk dilengkapi"
    return DocumentNotReady(
        f"{request_id}: {title} belum dapat dibuat: langkah {step} ({s.activity}) "
        f"belum dicatat{waiting} [missing-step-{step}]",
        document=document,
        step=step,
    )


def _require(request_id: str, document: str, state: RequestState, steps: Iterable[int]) -> None:
    for step in steps:
        if not state.done(step):
            raise _not_ready(request_id, document, state, step)


def _step_time(request_id: str, document: str, records: Sequence[Record], step: int) -> datetime:
    """When ``step`` was recorded; DocumentNotReady if it was not."""
    state = state_of_records(request_id, records)
    _require(request_id, document, state, (step,))
    record = last_step_record(records, step)
    if record is None:  # a done step always has its record; kept for the type checker
        raise _not_ready(request_id, document, state, step)
    return record.time


def _signing_key(records: Sequence[Record], step: int) -> str:
    """The fingerprint(s) of the key(s) whose signature the step's record holds."""
    record = last_step_record(records, step)
    keys = record.data.get("keys", []) if record else []
    return ", ".join(str(k) for k in keys if k) if isinstance(keys, list) else ""


def disposition(facts: Request, records: Sequence[Record]) -> Disposition:
    """Lembar Disposisi (steps 2-3), numbered with the step-5 ticket, dated at step 3."""
    state = state_of_records(facts.request_id, records)
    _require(facts.request_id, "disposisi", state, (2, 3, TICKET_STEP))
    entries = tuple(
        replace(e, key=_signing_key(records, e.step)) for e in disposition_entries(state)
    )
    return Disposition(
        request=facts,
        sequence=ticket_sequence(ticket_of(records)),
        issued=max(e.at for e in entries),
        received=received_at(state),
        entries=entries,
    )


def hosting_result(facts: Request, records: Sequence[Record]) -> HostingResult:
    """What step 8 built, from its record; DocumentNotReady before step 8."""
    state = state_of_records(facts.request_id, records)
    _require(facts.request_id, "hasil-hosting", state, (HOSTING_STEP,))
    record = last_step_record(records, HOSTING_STEP)
    if record is None or "hosting" not in record.data:
        raise RecordMismatch(
            f"{facts.request_id}: catatan langkah 8 tidak memuat hasil hosting [no-hosting-data]"
        )
    return hosting_from_record(record)


def hosting_report(
    facts: Request, records: Sequence[Record], issued: datetime | None = None
) -> HostingReport:
    """Laporan Hasil Hosting (steps 8-9).

    The pipeline calls this at step 9 with ``issued`` (the step-9 time it is about to record);
    afterwards it is rebuilt with ``issued`` taken from the step-9 record.
    """
    result = hosting_result(facts, records)
    if issued is None:
        issued = _step_time(facts.request_id, "hasil-hosting", records, HOSTING_REPORT_STEP)
    return HostingReport(
        facts,
        ticket_sequence(ticket_of(records)),
        issued,
        result,
        override=override_of(records),
        changes=applied_changes(facts, records),
    )


def applied_changes(facts: Request, records: Sequence[Record]) -> tuple[FieldChange, ...]:
    """What the last step 8 changed of a live hosting (kind ubah): the applied facts before
    it against ``facts``; nothing for a new hosting or a ledger with one step 8."""
    if facts.kind != "ubah":
        return ()
    history = applied_history(records)
    return diff(history[-2].facts, facts) if len(history) >= 2 else ()


def handover_minutes(facts: Request, records: Sequence[Record]) -> HandoverMinutes:
    """Berita Acara Serah Terima: after step 9, when every check of step 8 passed."""
    state = state_of_records(facts.request_id, records)
    _require(facts.request_id, "berita-acara", state, (HOSTING_STEP, HOSTING_REPORT_STEP))
    result = hosting_result(facts, records)
    if not result.ok:
        failed = ", ".join(c.name for c in result.checks if not c.ok) or "tidak ada pemeriksaan"
        raise DocumentNotReady(
            f"{facts.request_id}: Berita Acara Serah Terima belum dapat dibuat: pemeriksaan "
            f"langkah 8 belum berhasil ({failed}) [checks-failed]",
            document="berita-acara",
            step=HOSTING_STEP,
        )
    issued = _step_time(facts.request_id, "berita-acara", records, HOSTING_REPORT_STEP)
    return HandoverMinutes(
        facts,
        ticket_sequence(ticket_of(records)),
        issued,
        result,
        changes=applied_changes(facts, records),
    )


BUILDERS: dict[str, Callable[[Request, Sequence[Record]], Report]] = {
    "disposisi": disposition,
    "hasil-hosting": hosting_report,
    "berita-acara": handover_minutes,
}


# ----------------------------------------------------------------------- Laporan Kegiatan

_MONTH = re.compile(r"(\d{4})-(\d{2})\Z")


def month_period(text: str) -> tuple[date, date]:
    """``2026-11`` -> (1 November 2026, 30 November 2026); ValueError otherwise."""
    match = _MONTH.match(text)
    if not match:
        raise ValueError(f"'{text}' bukan bulan TTTT-BB (contoh 2026-11)")
    year, month = int(match.group(1)), int(match.group(2))
    if not 1 <= month <= 12:
        raise ValueError(f"'{text}': bulan harus 01 sampai 12")
    return date(year, month, 1), date(year, month, month_calendar.monthrange(year, month)[1])


def period_bounds(start: date, end: date, cal: WorkingCalendar) -> tuple[datetime, datetime]:
    """``[start 00:00, day after end 00:00)`` in the calendar's time zone."""
    if end < start:
        raise ValueError(f"akhir periode {end.isoformat()} sebelum awalnya {start.isoformat()}")
    return (
        datetime.combine(start, time(0), tzinfo=cal.tz),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=cal.tz),
    )


def state_until(request_id: str, records: Sequence[Record], moment: datetime) -> RequestState:
    """The request as it stood at ``moment``: only the step records up to then."""
    return fold(request_id, [e for e in step_events(records) if e.at <= moment])


def _overlaps(t: StepTiming, start: datetime, end: datetime) -> bool:
    return t.started < end and (t.ended is None or t.ended >= start)


def period_entry(
    state: RequestState,
    cal: WorkingCalendar,
    as_of: datetime,
    start: datetime,
    end: datetime,
    facts: Request | None,
) -> ActivityEntry:
    """A request's line: only the step runs that overlap the period, timed as of ``as_of``."""
    entry = activity_entry(state, cal, as_of, facts)
    return replace(entry, timings=tuple(t for t in entry.timings if _overlaps(t, start, end)))


def activity_report(
    *,
    period_start: date,
    period_end: date,
    sequence: int,
    now: datetime,
    calendar: WorkingCalendar,
    ledgers: Mapping[str, Sequence[Record]],
    facts: Mapping[str, Request | None],
    backups: Sequence[BackupStatus] | None = None,
    drift: Sequence[Record] = (),
    expiry: Sequence[Record] = (),
) -> ActivityReport:
    """Laporan Kegiatan: every request open at some moment of the period.

    Each request is taken as it stood at the period's end (or at ``now`` if that comes first),
    so the report of a past period does not change as the requests move on. Its steps that
    overlap the period are listed with their working time, the SOP target and any breach.
    """
    start, end = period_bounds(period_start, period_end, calendar)
    as_of = min(now, end)
    lines = []
    for request_id, records in ledgers.items():
        state = state_until(request_id, records, as_of)
        if not touches_period(state, start, end):
            continue
        entry = period_entry(state, calendar, as_of, start, end, facts.get(request_id))
        until = [r for r in records if r.time <= as_of]
        entry = replace(entry, override=override_of(until))
        first = min(r.started for r in state.runs)
        lines.append((first, request_id, entry))
    lines.sort(key=lambda line: (line[0], line[1]))
    runs = [r for r in drift if r.kind == "drift" and start <= r.time < end and r.time <= as_of]
    return ActivityReport(
        period_start=period_start,
        period_end=period_end,
        sequence=sequence,
        issued=as_of,
        entries=tuple(entry for _, _, entry in lines),
        backups=None if backups is None else tuple(backups),
        drift=(
            len(runs),
            sum(1 for r in runs if r.data.get("verdict") == "drift"),
            sum(1 for r in runs if r.data.get("verdict") == "gagal"),
            len({o for r in runs for o in r.data.get("drifted", ()) if o != "unowned"}),
        )
        if runs
        else None,
        expiry=expiry_lines(expiry, start, end, as_of),
    )


def expiry_lines(
    records: Sequence[Record], start: datetime, end: datetime, as_of: datetime
) -> tuple[tuple[datetime, str, str], ...] | None:
    """The Laporan Kegiatan's lines of ``sop expiry`` in ``[start, end)``; None if none."""
    from sop_pipeline.domain import expiry as ex

    words = {
        ex.NOTICE: "pemberitahuan H-{threshold} masa hosting berakhir {end} dikirim ke PIC",
        ex.SOFT_RETIRED: "pensiun lunak: VM dimatikan, halaman pemeliharaan, karantina s.d. "
        "{quarantine_until}",
        ex.REVERSED: "pensiun lunak dibatalkan oleh Koordinator",
        "reversal-refused": "pembatalan pensiun lunak ditolak",
        ex.QUARANTINE_ENDED: "karantina berakhir: pensiun permanen dapat diajukan",
    }
    lines = []
    for r in records:
        event = str(r.data.get("event", ""))
        if r.kind != ex.EXPIRY_KIND or event not in words or not start <= r.time < end:
            continue
        if r.time > as_of:
            continue
        fields = {k: r.data.get(k, "") for k in ("threshold", "end", "quarantine_until")}
        lines.append((r.time, str(r.data.get("request_id", "")), words[event].format(**fields)))
    return tuple(lines) or None


# ------------------------------------------------------------------------------- I/O edges


def request_records(ws: Workspace, request_id: str) -> list[Record]:
    """The request's ledger, its chain checked first (LedgerError, exit 5, when altered)."""
    ledger = ws.ledgers.for_request(request_id)
    faults = verify_chain(ledger.path)
    if faults:
        raise RecordMismatch(
            f"{request_id}: buku catatan tidak utuh, tidak ada dokumen dibuat: {faults[0]}"
        )
    return ledger.records()


def request_facts(
    ws: Workspace, request_id: str, policy: Policy, records: Sequence[Record]
) -> Request:
    """The request's facts, from the file whose sha256 the ledger recorded last."""
    path = ws.request_path(request_id)
    if not records:
        raise DocumentNotReady(
            f"{request_id}: belum ada catatan untuk permintaan ini; ajukan dulu "
            "(langkah 1: sop run atau sop submit) [missing-step-1]",
            document="disposisi",
            step=1,
        )
    if not path.exists():
        raise ReportRefused(
            f"{path}: berkas permintaan tidak ada; dokumen dibuat dari berkas yang dicatat "
            "[request-missing]"
        )
    loaded = load_request(path, policy=policy)
    expected = recorded_digest(records)
    if expected and loaded.digest != expected:
        raise RecordMismatch(
            f"{path}: berkas permintaan berubah sejak dicatat (sha256 dicatat "
            f"{expected[:12]}, sekarang {loaded.digest[:12]}); dokumen hanya dibuat dari "
            "berkas yang dicatat. Jalankan `sop run` agar perubahan diproses, atau kembalikan "
            "berkasnya [request-changed]"
        )
    return loaded.request


def lenient_facts(ws: Workspace, request_id: str, zone: str) -> Request | None:
    """Facts for the Laporan Kegiatan: a request file that no longer loads gives None."""
    return read_request_model(ws.request_path(request_id), zone=zone)


WRITTEN = "ditulis"
KEPT = "sesuai catatan langkah 9, tidak diubah"
BY_ANALYZE = "dibuat oleh sop analyze"


@dataclass
class Written:
    """What :func:`write_request_documents` did, in document order."""

    files: list[tuple[Path, str]] = field(default_factory=list)  # (path, WRITTEN/KEPT/...)
    pending: list[DocumentNotReady] = field(default_factory=list)

    def paths(self, *notes: str) -> list[Path]:
        return [path for path, note in self.files if not notes or note in notes]


def reports_dir(ws: Workspace) -> Path:
    return ws.records_dir / REPORTS_FOLDER


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_recorded(
    report: Report, out: Path, department: Department, recorded: Mapping[str, str]
) -> tuple[list[Path], list[Path]]:
    """A document whose hashes a step record holds: keep it if intact, else rebuild it only
    if the rebuilt Markdown is byte for byte the one recorded. Returns (written, kept)."""
    stem = out / report_stem(report)
    md, pdf = stem.with_name(stem.name + ".md"), stem.with_name(stem.name + ".pdf")
    if (
        md.exists()
        and pdf.exists()
        and _sha256(md) == recorded.get(md.name)
        and _sha256(pdf) == recorded.get(pdf.name)
    ):
        return [], [md, pdf]
    rebuilt = hashlib.sha256(render(report, department, "md")).hexdigest()
    if recorded.get(md.name) not in (None, rebuilt):
        raise RecordMismatch(
            f"{md}: dibuat ulang, isinya tidak sama dengan yang dicatat pada langkah "
            f"{HOSTING_REPORT_STEP} (sha256 dicatat {str(recorded.get(md.name))[:12]}, kini "
            f"{rebuilt[:12]}); berkas yang ada tidak diubah. Periksa apakah "
            "inventories/department.yaml di cabang dasar berubah sejak itu [report-mismatch]"
        )
    return write_reports(report, out, department=department), []


def write_request_documents(
    ws: Workspace,
    request_id: str,
    trusted: TrustedConfig,
    *,
    wanted: Sequence[str] = tuple(DOCUMENTS),
) -> Written:
    """Write each wanted document the request's records allow; note the others as pending."""
    records = request_records(ws, request_id)
    require_ready(trusted.calendar, trusted.department, _record_years(records))
    facts = request_facts(ws, request_id, trusted.policy, records)
    out = reports_dir(ws)
    done = Written()
    for key in wanted:
        try:
            report = BUILDERS[key](facts, records)
        except DocumentNotReady as err:
            done.pending.append(err)
            continue
        if key == "hasil-hosting":
            step_9 = last_step_record(records, HOSTING_REPORT_STEP)
            recorded = dict(step_9.outputs) if step_9 else {}
            written, kept = _write_recorded(report, out, trusted.department, recorded)
            done.files += [(p, WRITTEN) for p in written] + [(p, KEPT) for p in kept]
        else:
            paths = write_reports(report, out, department=trusted.department)
            done.files += [(p, WRITTEN) for p in paths]
    analysis = out / request_id / f"{ANALYSIS_STEM}.md"
    done.files += [(p, BY_ANALYZE) for p in (analysis, analysis.with_suffix(".pdf")) if p.exists()]
    return done


def write_period_report(
    ws: Workspace,
    trusted: TrustedConfig,
    *,
    period_start: date,
    period_end: date,
    now: datetime,
    sequence: int | None = None,
    backups: Sequence[BackupStatus] | None = None,
) -> tuple[ActivityReport, list[Path]]:
    """The Laporan Kegiatan of ``[period_start, period_end]`` (inclusive), written; with
    ``backups``, each hosting's last good backup and its breaches too."""
    require_ready(
        trusted.calendar, trusted.department, range(period_start.year, period_end.year + 1)
    )
    store = ws.ledgers
    ids = store.request_ids()
    faults = {p: f for p, f in store.audit().items() if f}
    if faults:
        first = next(iter(faults.values()))[0]
        raise RecordMismatch(f"buku catatan tidak utuh, Laporan Kegiatan tidak dibuat: {first}")
    ledgers = {rid: store.for_request(rid).records() for rid in ids}
    facts = {rid: lenient_facts(ws, rid, trusted.policy.zone) for rid in ids}
    report = activity_report(
        period_start=period_start,
        period_end=period_end,
        sequence=period_start.month if sequence is None else sequence,
        now=now,
        calendar=trusted.calendar,
        ledgers=ledgers,
        facts=facts,
        backups=backups,
        drift=store.named("drift").records(),  # the department's sop drift runs
        expiry=store.named("expiry").records(),  # sop expiry: notices, soft retirements
    )
    return report, write_reports(report, reports_dir(ws), department=trusted.department)


def _record_years(records: Sequence[Record]) -> set[int]:
    """The years whose working days the request's documents count (SLA between its steps)."""
    return {datetime.fromisoformat(r.at).year for r in records}
