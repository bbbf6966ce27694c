"""Where a request stands: its ledger's step records folded through the SOP state machine.

The ledger is the truth; the state is derived from it every time, never stored apart.
Recording a step checks the transition first, under the store's lock, so two writers can't
both record the same step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sop_pipeline.domain.sop import ANALYSIS_STEP, PROVISION_STEP
from sop_pipeline.domain.state import Outcome, RequestState, StepEvent, advance, fold
from sop_pipeline.ledger import LedgerStore, Record

STEP_KIND = "step"


def event_of(record: Record) -> StepEvent:
    data = record.data
    started = data.get("started")
    outcome = Outcome(data["outcome"])
    if record.step == ANALYSIS_STEP and data.get("decision") == "reject":
        # Ledgers written before step-6 refusals had their own outcome recorded this NO as
        # "done": it is read as the refusal it was.
        outcome = Outcome.REJECT
    return StepEvent(
        step=int(record.step or 0),
        outcome=outcome,
        at=record.time,
        actor=record.actor,
        missing=tuple(data.get("missing", ())),
        reason=str(data.get("reason", "")),
        started=datetime.fromisoformat(started) if started else None,
    )


def step_events(records: Sequence[Record]) -> list[StepEvent]:
    """The state machine's events from a request's ``"step"`` records, in order."""
    return [event_of(r) for r in records if r.kind == STEP_KIND and r.step is not None]


def state_of(store: LedgerStore, request_id: str) -> RequestState:
    return fold(request_id, step_events(store.for_request(request_id).records()))


def record_step(
    store: LedgerStore,
    request_id: str,
    event: StepEvent,
    *,
    inputs: Mapping[str, str] | None = None,
    outputs: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Record:
    """Append ``event`` if the SOP allows it now; IllegalTransition otherwise."""
    with store.locked(request_id):
        advance(state_of(store, request_id), event)  # raises if not allowed
        data: dict[str, Any] = {"outcome": str(event.outcome), **(extra or {})}
        if event.missing:
            data["missing"] = list(event.missing)
        if event.reason:
            data["reason"] = event.reason
        if event.started is not None:
            data["started"] = event.started.isoformat()
        return store.for_request(request_id).append(
            kind=STEP_KIND,
            step=event.step,
            actor=event.actor,
            at=event.at,
            inputs=inputs,
            outputs=outputs,
            data=data,
        )


def override_of(records: Sequence[Record]) -> str:
    """The override step 6 was approved with (a BELUM DAPAT DILAKSANAKAN analysis approved
    all the same, named again by the Kabid at step 7), from the last step-6 record; "" if none."""
    text = ""
    for r in records:
        if r.kind == STEP_KIND and r.step == ANALYSIS_STEP:
            text = str(r.data.get("override", ""))
    return text


@dataclass(frozen=True)
class Applied:
    """What step 8 last built or changed: the digest of the request bytes it applied and the
    request's facts then (``Request.as_data()``), the "last applied record" a change is read
    against (``domain.change``)."""

    digest: str
    facts: Mapping[str, Any]
    at: datetime


def cycle_records(records: Sequence[Record]) -> Sequence[Record]:
    """The records of the request's current cycle: from its last step-1 ``change`` record
    (a change of the live hosting, ``domain.state``) on; all of them before any change."""
    start = 0
    for index, r in enumerate(records):
        if r.kind == STEP_KIND and r.step == 1 and r.data.get("outcome") == Outcome.CHANGE:
            start = index
    return records[start:]


def applied_history(records: Sequence[Record]) -> list[Applied]:
    """Every step-8 record's applied request, oldest first (see :func:`last_applied`)."""
    return [
        Applied(r.inputs["request"], dict(r.data.get("applied") or {}), r.time)
        for r in records
        if r.kind == STEP_KIND and r.step == PROVISION_STEP and "request" in r.inputs
    ]


def last_applied(records: Sequence[Record]) -> Applied | None:
    """The newest step-8 record's applied request, or None when step 8 never ran. A step-8
    record written before step 8 recorded the facts has only the digest: its facts are empty
    (a change of such a hosting is read against nothing, and every field shows as new)."""
    history = applied_history(records)
    return history[-1] if history else None


ANALYSIS_KIND = "analysis"
ANALYSIS_ACTOR = "sop analyze"


def record_analysis(
    store: LedgerStore,
    request_id: str,
    *,
    report: str,
    digest: str,
    request_digest: str,
    feasible: bool,
    at: datetime,
    actor: str = ANALYSIS_ACTOR,
    change_class: str = "",
) -> Record:
    """Append what ``sop analyze`` wrote: the report's sha256 (what Tim Teknis cites at step 6),
    the request bytes it analysed and its verdict. Not a step: step 6 is recorded from the
    signature, which must cite one of these. ``change_class`` (``reboot`` or ``replace``) is
    what the plan of a change would do to the VM: the Kabid must name it at step 7."""
    with store.locked(request_id):
        return store.for_request(request_id).append(
            kind=ANALYSIS_KIND,
            actor=actor,
            at=at,
            step=6,
            inputs={"request": request_digest},
            outputs={report: digest},
            data={
                "feasible": feasible,
                "verdict": "DAPAT DILAKSANAKAN" if feasible else "BELUM DAPAT DILAKSANAKAN",
                "report": report,
                # the class of a change's Terraform plan (domain.change_class), when not live
                **({"change_class": change_class} if change_class else {}),
            },
        )
