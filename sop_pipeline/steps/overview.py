"""Where every request stands, and whether the records hold: what ``sop status`` and
``sop audit`` print, as library calls, so the static site's dashboard shows the same figures.

1. :func:`status_summaries`: per request, its phase, next step and every step's working time
   against its target (the working calendar of the base branch).
2. :func:`audit_faults`: every record chain re-verified, the SOP order re-checked, the signed
   checkpoints and the statements' ``record_head`` checked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sop_pipeline.errors import SopError

if TYPE_CHECKING:
    from sop_pipeline.domain.calendar import WorkingCalendar
    from sop_pipeline.domain.sla import StepTiming
    from sop_pipeline.domain.state import RequestState
    from sop_pipeline.signing.keyring import Keyring
    from sop_pipeline.workspace import Workspace


def _timing_row(t: StepTiming) -> dict[str, Any]:
    from sop_pipeline.domain.sop import step as sop_step

    return {
        "step": t.step,
        "attempt": t.attempt,
        "actor": sop_step(t.step).actor.value,
        "started": t.started.isoformat(),
        "ended": t.ended.isoformat() if t.ended else None,
        "outcome": str(t.outcome) if t.outcome else None,
        "elapsed_working_seconds": int(t.elapsed.total_seconds()),
        "target": t.target_label,
        "deadline": t.deadline.isoformat() if t.deadline else None,
        "breached": t.breached,
    }


def _summary(state: RequestState, rows: list[StepTiming], paused: float) -> dict[str, Any]:
    from sop_pipeline.domain.state import PHASE_LABELS

    return {
        "request_id": state.request_id,
        "phase": str(state.phase),
        "phase_label": PHASE_LABELS[state.phase] if state.runs else "belum diajukan",
        "next_step": state.next_step,
        "missing": list(state.missing),
        "reason": state.reason,
        "paused_working_seconds": int(paused),
        "breaches": sum(1 for t in rows if t.breached),
        "steps": [_timing_row(t) for t in rows],
        "cycle": state.cycle,  # 1: the creation; 2+: a change of the live hosting
        "earlier_steps": len(state.earlier),
    }


def known_request_ids(ws: Workspace) -> list[str]:
    """Every request with a record or a file, sorted."""
    from sop_pipeline.steps.validation import request_files

    return sorted(set(ws.ledgers.request_ids()) | {p.stem for p in request_files(ws.requests_dir)})


def status_summaries(
    ws: Workspace, calendar: WorkingCalendar, now: datetime, ids: Sequence[str]
) -> list[dict[str, Any]]:
    """``sop status --json``'s objects, one per request id, timed as at ``now``."""
    from sop_pipeline.domain.sla import paused_time, timings
    from sop_pipeline.ledger.tracking import state_of
    from sop_pipeline.steps.expiry import expiry_status

    summaries = []
    for rid in ids:
        state = state_of(ws.ledgers, rid)
        rows = [
            replace(
                t,
                started=t.started.astimezone(calendar.tz),
                ended=t.ended.astimezone(calendar.tz) if t.ended else None,
            )
            for t in timings(state, calendar, now)
        ]
        summary = _summary(state, rows, paused_time(state, calendar, now).total_seconds())
        summary["expiry"] = expiry_status(ws.ledgers.for_request(rid).records(), calendar)
        summary["retirement"] = retirement_rows(ws.ledgers.for_request(rid).records())
        summaries.append(summary)
    return summaries


def retirement_rows(records: Sequence[Any]) -> list[dict[str, Any]]:
    """The retirement phases recorded for a hosting (``kind: pensiun``), oldest first:
    phase, its Indonesian label, when, and what the record says (docs/retirement.md)."""
    from sop_pipeline.domain.retirement import PHASE_KIND, PHASE_LABELS

    return [
        {
            "phase": str(r.data.get("phase")),
            "label": PHASE_LABELS.get(str(r.data.get("phase")), str(r.data.get("phase"))),
            "at": r.at,
            "data": {k: v for k, v in r.data.items() if k != "phase"},
        }
        for r in records
        if r.kind == PHASE_KIND
    ]


def audit_faults(
    ws: Workspace, load_keyring: Callable[[], Keyring], at: datetime
) -> tuple[int, list[str]]:
    """``sop audit``: (ledgers checked, faults). ``load_keyring`` reads the base branch's
    keyring the checkpoints are verified with, called only when a record needs it."""
    from sop_pipeline.ledger.tracking import state_of
    from sop_pipeline.signing import checkpoint
    from sop_pipeline.signing.subject import approvals_dir

    report = ws.ledgers.audit()
    faults = [str(f) for path_faults in report.values() for f in path_faults]
    keyring = None
    for ledger_id in ws.ledgers.ledger_ids():
        ledger = ws.ledgers.by_id(ledger_id)
        path = ledger.path
        if report.get(path):
            continue
        records = ledger.records()
        if not ledger_id.startswith("_"):  # a request's record: its steps and statements too
            try:
                state_of(ws.ledgers, ledger_id)
            except SopError as err:
                faults.append(f"{path}: {err.diagnostics()}")
            approvals = approvals_dir(ws.request_path(ledger_id))
            faults += checkpoint.statement_heads(approvals, records)
        cp_path = checkpoint.path_for(ws.records_dir, ledger_id)
        try:
            keyring = keyring or load_keyring()
        except SopError as err:
            if cp_path.exists():  # without checkpoints there is nothing to verify it with
                faults.append(f"{cp_path}: keyring tidak terbaca ({err.diagnostics()}) [keyring]")
            continue
        if not cp_path.exists():
            if keyring.pipeline and records:  # enrolled: every protected job signs every head
                faults.append(
                    f"{path}: tidak ada checkpoint bertanda tangan ({cp_path} hilang), padahal "
                    "keyring memuat roles.pipeline [checkpoint-missing]"
                )
            continue
        found, _ = checkpoint.audit(
            path=cp_path, request_id=ledger_id, records=records, keyring=keyring, at=at
        )
        faults += found
    faults += checkpoint.without_ledger(ws.records_dir)
    return len(report), faults
