"""The SOP state machine: every legal transition, every illegal one, and both NO branches."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from sop_pipeline.domain.sop import STEPS
from sop_pipeline.domain.state import (
    IllegalTransition,
    Outcome,
    Phase,
    RequestState,
    StepEvent,
    advance,
    fold,
    initial,
)

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=timezone(timedelta(hours=7)))


def ev(step: int, outcome: Outcome = Outcome.DONE, minutes: int = 0, **kw: object) -> StepEvent:
    return StepEvent(step, outcome, T0 + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


def happy_path() -> list[StepEvent]:
    events = []
    for s in STEPS:
        outcome = {4: Outcome.COMPLETE, 7: Outcome.APPROVE}.get(s.number, Outcome.DONE)
        events.append(ev(s.number, outcome, minutes=s.number))
    return events


ALL_EVENTS = [(s.number, o) for s in STEPS for o in Outcome]


def states_on_the_way() -> list[tuple[str, RequestState]]:
    """Every state the SOP can be in: along the happy path, returned, rejected."""
    found = [("new", initial("r"))]
    state = initial("r")
    for event in happy_path():
        state = advance(state, event)
        found.append((f"after-{event.step}", state))
    returned = fold("r", [*happy_path()[:3], ev(4, Outcome.INCOMPLETE, 4, missing=("surat",))])
    found.append(("returned", returned))
    found.append(("resubmitted", advance(returned, ev(4, Outcome.RESUBMIT, 60))))
    rejected = fold("r", [*happy_path()[:6], ev(7, Outcome.REJECT, 7, reason="kapasitas")])
    found.append(("rejected", rejected))
    return found


def expected_legal(state: RequestState, step: int, outcome: Outcome) -> bool:
    if outcome is Outcome.CHANGE:  # a change opens a cycle only once the hosting was built
        return step == 1 and state.terminal and state.built
    if state.terminal:
        return False
    if state.phase is Phase.RETURNED:
        return step == 4 and outcome is Outcome.RESUBMIT
    if outcome is Outcome.RESUBMIT or step != state.next_step:
        return False
    if step == 4:
        return outcome in (Outcome.COMPLETE, Outcome.INCOMPLETE)
    if step == 7:
        return outcome in (Outcome.APPROVE, Outcome.REJECT)
    if step == 6:
        return outcome in (Outcome.DONE, Outcome.REJECT)
    return outcome is Outcome.DONE


@pytest.mark.parametrize(
    ("name", "state"), states_on_the_way(), ids=lambda x: x if isinstance(x, str) else ""
)
@pytest.mark.parametrize(("step", "outcome"), ALL_EVENTS, ids=lambda x: str(x))
def test_every_transition_is_allowed_exactly_when_the_sop_says(
    name: str, state: RequestState, step: int, outcome: Outcome
) -> None:
    event = ev(step, outcome, minutes=600, reason="alasan", missing=("surat",))
    if expected_legal(state, step, outcome):
        after = advance(state, event)
        assert after.runs[-1].step == step or outcome is Outcome.RESUBMIT
    else:
        with pytest.raises(IllegalTransition):
            advance(state, event)


def test_happy_path_closes_the_request() -> None:
    state = fold("r", happy_path())
    assert state.phase is Phase.CLOSED and state.terminal and state.approved
    assert [r.step for r in state.runs] == list(range(1, 13))
    assert state.runs[1].started == state.runs[0].ended  # step 2 became due when 1 ended


def test_step4_incomplete_returns_pauses_and_resumes_with_a_fresh_verification() -> None:
    events = [*happy_path()[:3], ev(4, Outcome.INCOMPLETE, 4, missing=("lampiran surat",))]
    returned = fold("r", events)
    assert returned.phase is Phase.RETURNED
    assert returned.missing == ("lampiran surat",)
    assert returned.next_step is None
    with pytest.raises(IllegalTransition, match="returned-to-opd"):
        advance(returned, ev(5, minutes=5))
    with pytest.raises(IllegalTransition, match="returned-to-opd"):
        advance(returned, ev(4, Outcome.COMPLETE, 5))
    resumed = advance(returned, ev(4, Outcome.RESUBMIT, 240))
    assert resumed.phase is Phase.IN_PROGRESS and resumed.next_step == 4
    assert resumed.pauses[0].since == T0 + timedelta(minutes=4)
    assert resumed.pauses[0].until == T0 + timedelta(minutes=240)
    verified = advance(resumed, ev(4, Outcome.COMPLETE, 242))
    second = verified.runs[-1]
    assert second.attempt == 2 and second.started == T0 + timedelta(minutes=240)
    assert verified.next_step == 5


def test_step7_rejection_ends_the_request_and_nothing_can_follow() -> None:
    state = fold("r", [*happy_path()[:6], ev(7, Outcome.REJECT, 7, reason="kuota habis")])
    assert state.phase is Phase.REJECTED and state.terminal and not state.approved
    assert state.reason == "kuota habis"
    for step in range(1, 13):
        with pytest.raises(IllegalTransition, match="terminal-state"):
            advance(state, ev(step, minutes=8))


@pytest.mark.parametrize(("step", "outcome"), [(4, Outcome.INCOMPLETE), (7, Outcome.REJECT)])
def test_a_no_needs_a_reason(step: int, outcome: Outcome) -> None:
    state = fold("r", happy_path()[: step - 1])
    with pytest.raises(IllegalTransition, match="reason-required"):
        advance(state, ev(step, outcome, step))


def test_time_cannot_run_backwards() -> None:
    state = fold("r", happy_path()[:3])
    with pytest.raises(IllegalTransition, match="time-order"):
        advance(state, ev(4, Outcome.COMPLETE, minutes=-10))


def test_a_step_6_refusal_goes_on_to_the_kabid_but_is_kept_as_a_refusal() -> None:
    refused = fold("r", [*happy_path()[:5], ev(6, Outcome.REJECT, 6, reason="kuota habis")])
    assert refused.phase is Phase.IN_PROGRESS and refused.next_step == 7
    assert [(r.step, r.outcome) for r in refused.refusals] == [(6, Outcome.REJECT)]
    approved = advance(refused, ev(7, Outcome.APPROVE, 7))
    assert not approved.approved  # the Kabid's YES does not undo Tim Teknis' recorded NO
    assert approved.refusals == refused.refusals


def test_a_step_6_refusal_needs_a_reason() -> None:
    with pytest.raises(IllegalTransition, match=r"\[reason-required\]"):
        fold("r", [*happy_path()[:5], ev(6, Outcome.REJECT, 6)])


def test_a_change_opens_the_next_cycle_and_keeps_the_earlier_runs() -> None:
    closed = fold("r", happy_path())
    changed = advance(closed, ev(1, Outcome.CHANGE, 100))
    assert (changed.cycle, changed.next_step, changed.phase) == (2, 2, Phase.IN_PROGRESS)
    assert len(changed.earlier) == 12 and [r.step for r in changed.runs] == [1]
    assert not changed.done(8) and changed.built  # step 8 is this cycle's to do again
    again = fold("r", [*happy_path(), ev(1, Outcome.CHANGE, 100), *[
        ev(e.step, e.outcome, 100 + e.step) for e in happy_path()[1:]
    ]])  # fmt: skip
    assert again.phase is Phase.CLOSED and again.cycle == 2 and len(again.runs) == 12


def test_a_change_of_a_rejected_change_is_allowed_of_a_rejected_creation_not() -> None:
    rejected_creation = fold("r", [*happy_path()[:6], ev(7, Outcome.REJECT, 7, reason="kapasitas")])
    with pytest.raises(IllegalTransition, match=r"\[change-not-live\]"):
        advance(rejected_creation, ev(1, Outcome.CHANGE, 100))
    closed = fold("r", happy_path())
    changed = advance(closed, ev(1, Outcome.CHANGE, 100))
    walked = fold(
        "r",
        [
            *happy_path(),
            ev(1, Outcome.CHANGE, 100),
            *[ev(e.step, e.outcome, 100 + e.step) for e in happy_path()[1:6]],
            ev(7, Outcome.REJECT, 107, reason="tidak perlu"),
        ],
    )
    assert walked.phase is Phase.REJECTED and walked.built and changed.cycle == 2
    assert advance(walked, ev(1, Outcome.CHANGE, 200)).cycle == 3
    with pytest.raises(IllegalTransition, match=r"\[change-not-live\]"):
        advance(changed, ev(1, Outcome.CHANGE, 300))  # a cycle still running
    with pytest.raises(IllegalTransition, match=r"\[change-step\]"):
        advance(closed, ev(2, Outcome.CHANGE, 300))
