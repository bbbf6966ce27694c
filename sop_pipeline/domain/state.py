"""The SOP as a state machine, with its two gates and their NO branches.

A request's state is the fold of its step events, in order. Every event is checked against
the state it meets; anything the SOP does not allow raises :class:`IllegalTransition`.

- Step 4 NO (``incomplete``) sends the request back to the OPD with the list of what is
  missing. Its clock pauses until the OPD resubmits the same request (``resubmit``); then
  step 4 starts again and needs a fresh verification.
- Step 6 NO (``reject``: the analysis advises against it) is recorded as a refusal. The
  request still goes to the Kabid at step 7, as the SOP says, but it can never be hosted:
  :attr:`RequestState.refusals` keeps the refusal, and gate 8 honours it whatever the
  approval files say later.
- Step 7 NO (``reject``) ends the request: nothing may be created for it.
- Step 12 closes it.
- A change of the live hosting (``kind: ubah`` / ``perpanjang`` in the same file,
  docs/changes.md) opens a new cycle with a step-1 ``change`` event: allowed once a cycle
  built the VM (step 8) and ended (closed at 12, or a later change rejected at 7). The new
  cycle walks steps 2-12 again from nothing; :attr:`RequestState.earlier` keeps the runs of
  the cycles before it.

Pure: no I/O, no clock reads. Times come in with the events.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sop_pipeline.domain.sop import (
    ANALYSIS_STEP,
    DECISION_STEP,
    LAST_STEP,
    PROVISION_STEP,
    VERIFICATION_STEP,
)
from sop_pipeline.errors import SopError


class Outcome(StrEnum):
    DONE = "done"  # also step 6 YES
    COMPLETE = "complete"  # step 4 YES
    INCOMPLETE = "incomplete"  # step 4 NO
    APPROVE = "approve"  # step 7 YES
    REJECT = "reject"  # step 6 NO (a refusal) or step 7 NO (ends the request)
    RESUBMIT = "resubmit"  # the OPD sends the fixed request back to step 4
    CHANGE = "change"  # step 1 of a change of the live hosting: a new cycle


class Phase(StrEnum):
    IN_PROGRESS = "in_progress"  # waiting for ``next_step``
    RETURNED = "returned"  # with the OPD to complete (clock paused)
    REJECTED = "rejected"  # step 7 said no: ended
    CLOSED = "closed"  # step 12 done: ended


PHASE_LABELS = {
    Phase.IN_PROGRESS: "berjalan",
    Phase.RETURNED: "dikembalikan ke OPD",
    Phase.REJECTED: "ditolak",
    Phase.CLOSED: "selesai",
}

#: How an outcome reads to officials and OPD staff (``sop status``, ``sop run``, ``sop verify``).
OUTCOME_LABELS = {
    Outcome.DONE: "selesai",
    Outcome.COMPLETE: "lengkap",
    Outcome.INCOMPLETE: "belum lengkap",
    Outcome.APPROVE: "disetujui",
    Outcome.REJECT: "ditolak",
    Outcome.RESUBMIT: "diajukan ulang",
    Outcome.CHANGE: "perubahan diajukan",
}


def outcome_label(value: str) -> str:
    """The Indonesian word for an outcome or decision; an unknown value is shown as it is."""
    try:
        return OUTCOME_LABELS[Outcome(value)]
    except ValueError:
        return value


class IllegalTransition(SopError):
    """An event the SOP does not allow in the request's current state."""

    exit_code = 2


@dataclass(frozen=True)
class StepEvent:
    """Something that happened to a request at one SOP step."""

    step: int
    outcome: Outcome
    at: datetime
    actor: str = ""
    missing: tuple[str, ...] = ()
    reason: str = ""
    started: datetime | None = None  # only step 1: when the OPD began submitting


@dataclass(frozen=True)
class StepRun:
    """One run of one step: when it became due, when it ended, how."""

    step: int
    started: datetime
    ended: datetime
    outcome: Outcome
    actor: str
    attempt: int = 1


@dataclass(frozen=True)
class Pause:
    """Time the request spent with the OPD after a step-4 return: no step's clock runs."""

    since: datetime
    until: datetime | None
    missing: tuple[str, ...]


@dataclass(frozen=True)
class RequestState:
    request_id: str
    phase: Phase = Phase.IN_PROGRESS
    next_step: int | None = 1
    due_since: datetime | None = None  # when the next step became due (None before step 1)
    runs: tuple[StepRun, ...] = ()
    pauses: tuple[Pause, ...] = ()
    missing: tuple[str, ...] = ()  # open list while returned
    reason: str = ""  # of a rejection
    cycle: int = 1  # 1: the creation; each change of the live hosting opens the next
    earlier: tuple[StepRun, ...] = ()  # the runs of the cycles before this one

    @property
    def built(self) -> bool:
        """Step 8 was done in this cycle or an earlier one: the hosting exists."""
        return any(r.step == PROVISION_STEP for r in (*self.earlier, *self.runs))

    @property
    def terminal(self) -> bool:
        return self.phase in (Phase.REJECTED, Phase.CLOSED)

    @property
    def approved(self) -> bool:
        """Step 7 said YES, no step recorded a NO, and nothing has ended the request since."""
        return (
            any(r.step == DECISION_STEP and r.outcome is Outcome.APPROVE for r in self.runs)
            and self.phase is not Phase.REJECTED
            and not self.refusals
        )

    @property
    def refusals(self) -> tuple[StepRun, ...]:
        """Every recorded NO of the analysis (6) or the decision (7): none can be undone."""
        return tuple(r for r in self.runs if r.outcome is Outcome.REJECT)

    def done(self, step: int) -> bool:
        return any(r.step == step for r in self.runs if r.outcome is not Outcome.INCOMPLETE)


def initial(request_id: str) -> RequestState:
    return RequestState(request_id=request_id)


def allowed_outcomes(step: int) -> frozenset[Outcome]:
    if step == VERIFICATION_STEP:
        return frozenset({Outcome.COMPLETE, Outcome.INCOMPLETE})
    if step == DECISION_STEP:
        return frozenset({Outcome.APPROVE, Outcome.REJECT})
    if step == ANALYSIS_STEP:
        return frozenset({Outcome.DONE, Outcome.REJECT})
    return frozenset({Outcome.DONE})


def advance(state: RequestState, event: StepEvent) -> RequestState:
    """The state after ``event``; IllegalTransition if the SOP does not allow it here."""
    if event.outcome is Outcome.CHANGE:
        return _change(state, event)
    if state.terminal:
        raise IllegalTransition(
            f"{state.request_id}: permintaan sudah {PHASE_LABELS[state.phase]}; langkah "
            f"{event.step} tidak dapat dicatat lagi [terminal-state]"
        )
    if state.due_since is not None and event.at < state.due_since:
        raise IllegalTransition(
            f"{state.request_id}: waktu langkah {event.step} ({event.at.isoformat()}) lebih awal "
            f"dari langkah sebelumnya ({state.due_since.isoformat()}) [time-order]"
        )
    if event.outcome is Outcome.RESUBMIT:
        return _resubmit(state, event)
    if state.phase is Phase.RETURNED:
        raise IllegalTransition(
            f"{state.request_id}: permintaan dikembalikan ke OPD; perbaiki dan ajukan ulang "
            f"dulu sebelum langkah {event.step} [returned-to-opd]"
        )
    if event.step != state.next_step:
        raise IllegalTransition(
            f"{state.request_id}: langkah {event.step} tidak boleh sekarang; yang ditunggu "
            f"langkah {state.next_step} [out-of-order]"
        )
    if event.outcome not in allowed_outcomes(event.step):
        allowed = ", ".join(sorted(allowed_outcomes(event.step)))
        raise IllegalTransition(
            f"{state.request_id}: hasil '{event.outcome}' tidak berlaku untuk langkah "
            f"{event.step} (yang berlaku: {allowed}) [outcome]"
        )
    if event.outcome in (Outcome.INCOMPLETE, Outcome.REJECT) and not (
        event.reason.strip() or event.missing
    ):
        raise IllegalTransition(
            f"{state.request_id}: langkah {event.step} '{event.outcome}' wajib memberi alasan "
            "atau daftar kekurangan [reason-required]"
        )
    started = event.started if event.step == 1 and event.started else state.due_since or event.at
    attempt = 1 + sum(1 for r in state.runs if r.step == event.step)
    run = StepRun(event.step, started, event.at, event.outcome, event.actor, attempt)
    runs = (*state.runs, run)
    if event.outcome is Outcome.INCOMPLETE:
        pause = Pause(since=event.at, until=None, missing=event.missing)
        return replace(
            state,
            phase=Phase.RETURNED,
            next_step=None,
            due_since=event.at,
            runs=runs,
            pauses=(*state.pauses, pause),
            missing=event.missing,
        )
    if event.outcome is Outcome.REJECT and event.step == ANALYSIS_STEP:
        return replace(state, next_step=event.step + 1, due_since=event.at, runs=runs)
    if event.outcome is Outcome.REJECT:
        return replace(
            state,
            phase=Phase.REJECTED,
            next_step=None,
            due_since=event.at,
            runs=runs,
            reason=event.reason,
        )
    if event.step == LAST_STEP:
        return replace(state, phase=Phase.CLOSED, next_step=None, due_since=event.at, runs=runs)
    return replace(state, next_step=event.step + 1, due_since=event.at, runs=runs)


def _change(state: RequestState, event: StepEvent) -> RequestState:
    """Step 1 of a change: the next cycle, once the hosting was built and its cycle ended."""
    if event.step != 1:
        raise IllegalTransition(
            f"{state.request_id}: perubahan dimulai di langkah 1, bukan {event.step} [change-step]"
        )
    if not (state.terminal and state.built):
        raise IllegalTransition(
            f"{state.request_id}: perubahan hanya untuk hosting yang sudah dibangun (langkah "
            "8) dan siklusnya selesai (langkah 12, atau perubahan sebelumnya ditolak) "
            "[change-not-live]"
        )
    if state.due_since is not None and event.at < state.due_since:
        raise IllegalTransition(
            f"{state.request_id}: waktu perubahan ({event.at.isoformat()}) lebih awal dari "
            f"langkah sebelumnya ({state.due_since.isoformat()}) [time-order]"
        )
    run = StepRun(1, event.started or event.at, event.at, event.outcome, event.actor)
    return RequestState(
        request_id=state.request_id,
        next_step=2,
        due_since=event.at,
        runs=(run,),
        cycle=state.cycle + 1,
        earlier=(*state.earlier, *state.runs),
    )


def _resubmit(state: RequestState, event: StepEvent) -> RequestState:
    if state.phase is not Phase.RETURNED:
        raise IllegalTransition(
            f"{state.request_id}: pengajuan ulang hanya untuk permintaan yang dikembalikan "
            "pada langkah 4 [resubmit-not-returned]"
        )
    if event.step != VERIFICATION_STEP:
        raise IllegalTransition(
            f"{state.request_id}: pengajuan ulang kembali ke langkah {VERIFICATION_STEP}, "
            f"bukan {event.step} [resubmit-step]"
        )
    *earlier, open_pause = state.pauses
    closed = replace(open_pause, until=event.at)
    return replace(
        state,
        phase=Phase.IN_PROGRESS,
        next_step=VERIFICATION_STEP,
        due_since=event.at,
        pauses=(*earlier, closed),
        missing=(),
    )


def fold(request_id: str, events: list[StepEvent] | tuple[StepEvent, ...]) -> RequestState:
    """The state after all ``events`` in order."""
    state = initial(request_id)
    for event in events:
        state = advance(state, event)
    return state
