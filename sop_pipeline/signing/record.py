"""Writing what the signatures prove into the ledgers.

- :func:`record_signed_steps`: for the step the request waits for, when its signed statement
  verifies and the state machine allows it, append a ``"step"`` record (inputs: the request
  digest and the statement hash(es)). Repeats while progress is made. After a step-4
  ``incomplete``, a changed request file is recorded as the OPD's ``resubmit``.
- A NO that comes after the step's YES was recorded (a Kabid withdrawing an approval, Tim
  Teknis withdrawing the analysis) is appended as a ``"withdrawal"`` record: like a recorded
  ``reject``, it refuses gate 8 from then on, whatever the files say.
- :func:`check_gate`: evaluate a gate and append a ``"gate_check"`` record, pass or fail.
- :func:`consume_approvals` / :func:`consumed_hashes`: the pipeline-wide ledger of approvals
  used by a provisioning (step 8), so that none can be replayed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sop_pipeline.domain.sop import ANALYSIS_STEP, DECISION_STEP, VERIFICATION_STEP
from sop_pipeline.domain.state import Outcome, Phase, RequestState, StepEvent, fold
from sop_pipeline.ledger.chain import Ledger, Record
from sop_pipeline.ledger.tracking import (
    ANALYSIS_KIND,
    STEP_KIND,
    cycle_records,
    event_of,
    step_events,
)
from sop_pipeline.signing import gates
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.approvals import Checked
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.signing.subject import Subject

GATE_KIND = "gate_check"
WITHDRAWAL_KIND = "withdrawal"
#: Steps whose NO after a recorded YES is a withdrawal the ledger keeps.
WITHDRAWABLE_STEPS = (ANALYSIS_STEP, DECISION_STEP)
CONSUMED_KIND = "consumed"
CONSUMED_LEDGER = "consumed-approvals"
PIPELINE_ACTOR = "pipeline"


def events(records: Sequence[Record]) -> list[StepEvent]:
    """The state machine's events from a request's ``"step"`` records."""
    return step_events(records)


def state_of(ledger: Ledger) -> RequestState:
    return fold(ledger.request_id, events(ledger.records()))


def recorded_statements(records: Sequence[Record]) -> dict[int, frozenset[str]]:
    """Statement hashes the ledger accepted with a positive outcome, per step."""
    found: dict[int, set[str]] = {}
    for r in records:
        if (
            r.kind == STEP_KIND
            and r.step is not None
            and event_of(r).outcome in (Outcome.DONE, Outcome.COMPLETE, Outcome.APPROVE)
        ):
            hashes = {v for k, v in r.inputs.items() if k.startswith("statement")}
            found.setdefault(r.step, set()).update(hashes)
    return {k: frozenset(v) for k, v in found.items()}


def recorded_analyses(records: Sequence[Record]) -> dict[str, gates.RecordedAnalysis]:
    """The analysis reports ``sop analyze`` recorded in this request's ledger, by digest."""
    found: dict[str, gates.RecordedAnalysis] = {}
    for r in records:
        if r.kind != ANALYSIS_KIND:
            continue
        for name, digest in r.outputs.items():
            found[digest] = gates.RecordedAnalysis(
                digest=digest,
                request_digest=r.inputs.get("request", ""),
                feasible=r.data.get("feasible") is True,
                name=name,
                change_class=str(r.data.get("change_class", "")),
            )
    return found


def recorded_refusals(records: Sequence[Record]) -> list[gates.RecordedRefusal]:
    """Every NO of steps 6 and 7 the ledger holds: recorded rejects and withdrawals."""
    found = []
    for r in records:
        withdrawal = r.kind == WITHDRAWAL_KIND
        rejected = (
            r.kind == STEP_KIND
            and r.step in WITHDRAWABLE_STEPS
            and event_of(r).outcome is Outcome.REJECT
        )
        if withdrawal or rejected:
            found.append(
                gates.RecordedRefusal(
                    step=int(r.step or 0),
                    signer=r.actor,
                    reason=str(r.data.get("reason", "")),
                    statement=r.inputs.get("statement", ""),
                    withdrawal=withdrawal,
                )
            )
    return found


def anchored_statements(
    records: Sequence[Record], covered: int, expiry: Mapping[str, datetime]
) -> frozenset[str]:
    """Statements (hash -> expires_at given) recorded, before they expired, in one of the
    first ``covered`` records (those a valid signed checkpoint covers)."""
    found = set()
    for r in records[:covered]:
        if r.kind != STEP_KIND:
            continue
        for name, digest in r.inputs.items():
            if name.startswith("statement") and digest in expiry and r.time <= expiry[digest]:
                found.add(digest)
    return frozenset(found)


def checkpointed(ledger: Ledger, keyring: Keyring, at: datetime) -> int:
    """How many records of ``ledger`` a valid signed checkpoint covers (0 without any)."""
    from sop_pipeline.signing import checkpoint

    path = checkpoint.path_for(ledger.path.parent, ledger.request_id)
    if not path.exists() or not keyring.pipeline:
        return 0
    faults, covered = checkpoint.audit(
        path=path, request_id=ledger.request_id, records=ledger.records(), keyring=keyring, at=at
    )
    return 0 if faults else covered


def context(
    *,
    step_number: int,
    subject: Subject,
    keyring: Keyring,
    checked: Sequence[Checked],
    ledger: Ledger,
    at: datetime,
    consumed: frozenset[str] = frozenset(),
    history: Sequence[Checked] = (),
) -> gates.GateContext:
    records = ledger.records()
    expiry = {c.sha256: c.statement.expiry for c in (*checked, *history) if c.statement}
    covered = checkpointed(ledger, keyring, at) if expiry else 0
    cycle = cycle_records(records)  # a change's gates see only its own cycle's records
    return gates.GateContext(
        step=step_number,
        subject=subject,
        keyring=keyring,
        checked=tuple(checked),
        state=fold(ledger.request_id, events(records)),
        recorded=recorded_statements(cycle),
        consumed=consumed,
        at=at,
        history=tuple(history),
        analyses=recorded_analyses(cycle),
        refusals=tuple(recorded_refusals(cycle)),
        anchored=anchored_statements(records, covered, expiry),
    )


def _outcome(step_number: int, decision: str) -> Outcome:
    if step_number in (VERIFICATION_STEP, DECISION_STEP):
        return Outcome(decision)
    if step_number == ANALYSIS_STEP and decision == "reject":
        return Outcome.REJECT  # a refusal, never "done"
    return Outcome.DONE


def _append_step(
    ledger: Ledger, subject: Subject, step_number: int, used: Sequence[Checked], at: datetime
) -> Record:
    statements = [c.statement for c in used if c.statement]
    first = statements[0]
    inputs = {"request": subject.digest}
    for index, c in enumerate(used, start=1):
        inputs["statement" if index == 1 else f"statement-{index}"] = c.sha256
    return ledger.append(
        kind=STEP_KIND,
        actor=",".join(s.signer for s in statements),
        at=at,
        step=step_number,
        inputs=inputs,
        data={
            "outcome": str(_outcome(step_number, first.decision)),
            "decision": first.decision,
            "missing": list(first.missing),
            "reason": first.reason,
            "signers": [s.signer for s in statements],
            "keys": [c.fingerprint for c in used],
            "signed_at": [s.signed_at for s in statements],
            "files": [c.path.name for c in used],
            "role": first.role,
            # An override of a BELUM DAPAT DILAKSANAKAN analysis (steps 6 and 7), only when set.
            **({"override": first.override} if first.override else {}),
        },
    )


def record_signed_steps(
    *,
    subject: Subject,
    keyring: Keyring,
    checked: Sequence[Checked],
    ledger: Ledger,
    at: datetime,
    consumed: frozenset[str] = frozenset(),
    history: Sequence[Checked] = (),
) -> list[Record]:
    """Append every signed step that now holds, in SOP order, then every withdrawal (a NO of
    step 6 or 7 after its YES was recorded); return the new records.

    Nothing is recorded under a keyring that fails its lint (``gates.keyring_refusals``):
    what its signatures prove cannot be trusted, refusals included.
    """
    added: list[Record] = []
    if gates.keyring_refusals(keyring, at):
        return added
    while True:
        records = ledger.records()
        state = fold(ledger.request_id, events(records))
        if state.phase is Phase.RETURNED:
            record = _resubmission(ledger, records, subject, at)
            if record is None:
                break
            added.append(record)
            continue
        number = state.next_step
        if number is None or number not in st.SIGNED_STEPS:
            break
        ctx = context(
            step_number=number,
            subject=subject,
            keyring=keyring,
            checked=checked,
            ledger=ledger,
            at=at,
            consumed=consumed,
            history=history,
        )
        selection = gates.select(ctx, number)
        if selection.negative:
            first = min(
                selection.negative, key=lambda c: c.statement.signed_at if c.statement else ""
            )
            added.append(_append_step(ledger, subject, number, [first], at))
            continue
        policies: list[gates.Policy] = [gates.StepSigned(number)]
        if number in st.GATE_STEPS:
            policies.append(gates.GateSignersIdentified((number,)))
        if number == DECISION_STEP:
            policies.append(gates.GateSignersDistinct())
            policies.append(gates.RetirementTwoPeople())
        if gates.AllOf(policies).evaluate(ctx):
            break
        need = keyring.threshold(number)
        added.append(_append_step(ledger, subject, number, selection.positive[:need], at))
    added += _withdrawals(
        ledger, subject, keyring, checked, history=history, consumed=consumed, at=at
    )
    return added


def _withdrawals(
    ledger: Ledger,
    subject: Subject,
    keyring: Keyring,
    checked: Sequence[Checked],
    *,
    history: Sequence[Checked],
    consumed: frozenset[str],
    at: datetime,
) -> list[Record]:
    """A valid NO of a step whose YES the ledger already holds, not yet recorded."""
    added: list[Record] = []
    for number in WITHDRAWABLE_STEPS:
        ctx = context(
            step_number=number,
            subject=subject,
            keyring=keyring,
            checked=checked,
            ledger=ledger,
            at=at,
            consumed=consumed,
            history=history,
        )
        if not any(r.step == number and r.outcome is not Outcome.REJECT for r in ctx.state.runs):
            continue
        known = {r.statement for r in ctx.refusals}
        for c in gates.select(ctx, number).negative:
            if c.statement is None or c.sha256 in known:
                continue
            known.add(c.sha256)
            added.append(
                ledger.append(
                    kind=WITHDRAWAL_KIND,
                    actor=c.statement.signer,
                    at=at,
                    step=number,
                    inputs={"request": subject.digest, "statement": c.sha256},
                    data={
                        "decision": c.statement.decision,
                        "reason": c.statement.reason,
                        "signed_at": c.statement.signed_at,
                        "key": c.fingerprint,
                        "file": c.path.name,
                    },
                )
            )
    return added


def _resubmission(
    ledger: Ledger, records: Sequence[Record], subject: Subject, at: datetime
) -> Record | None:
    """The OPD's resubmission, once the request bytes differ from those found incomplete."""
    returned = [
        r
        for r in records
        if r.kind == STEP_KIND
        and r.step == VERIFICATION_STEP
        and r.data.get("outcome") == Outcome.INCOMPLETE
    ]
    if not returned or returned[-1].inputs.get("request") == subject.digest:
        return None
    return ledger.append(
        kind=STEP_KIND,
        actor=subject.requester_email or "opd",
        at=at,
        step=VERIFICATION_STEP,
        inputs={"request": subject.digest, "previous_request": returned[-1].inputs["request"]},
        data={"outcome": str(Outcome.RESUBMIT), "missing": [], "reason": ""},
    )


def check_gate(
    *,
    step_number: int,
    subject: Subject,
    keyring: Keyring,
    checked: Sequence[Checked],
    ledger: Ledger,
    at: datetime,
    consumed: frozenset[str] = frozenset(),
    actor: str = PIPELINE_ACTOR,
    history: Sequence[Checked] = (),
) -> gates.GateResult:
    """Evaluate the gate of ``step_number`` and record the check in the request's ledger."""
    ctx = context(
        step_number=step_number,
        subject=subject,
        keyring=keyring,
        checked=checked,
        ledger=ledger,
        at=at,
        consumed=consumed,
        history=history,
    )
    result = gates.evaluate(ctx)
    ledger.append(
        kind=GATE_KIND,
        actor=actor,
        at=at,
        step=step_number,
        inputs={"request": subject.digest, **dict(result.statements)},
        data={
            "step": step_number,
            "verdict": "pass" if result.holds else "fail",
            "reasons": list(result.reasons),
            "keyring": keyring.source,
        },
    )
    return result


def consumed_hashes(consumed_ledger: Ledger) -> frozenset[str]:
    return frozenset(
        h for r in consumed_ledger.records() if r.kind == CONSUMED_KIND for h in r.inputs.values()
    )


def consume_approvals(
    consumed_ledger: Ledger,
    *,
    request_id: str,
    statements: Mapping[str, str],
    at: datetime,
    actor: str = PIPELINE_ACTOR,
) -> Record:
    """Mark the approvals used by a provisioning as spent. Call it when step 8 is recorded."""
    return consumed_ledger.append(
        kind=CONSUMED_KIND,
        actor=actor,
        at=at,
        step=8,
        inputs=dict(statements),
        data={"request_id": request_id},
    )
