"""The SLA clock: each step's actual working time against the SOP's target.

Pure: the caller passes the calendar and, for the step still running, ``now``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.domain.sop import step as sop_step
from sop_pipeline.domain.state import Outcome, Phase, RequestState


@dataclass(frozen=True)
class StepTiming:
    step: int
    attempt: int
    started: datetime
    ended: datetime | None  # None: still running
    outcome: Outcome | None
    elapsed: timedelta  # working time
    target_label: str
    deadline: datetime | None  # None: tentative target
    breached: bool

    @property
    def running(self) -> bool:
        return self.ended is None


def timings(
    state: RequestState, calendar: WorkingCalendar, now: datetime | None = None
) -> list[StepTiming]:
    """One timing per step run, plus the step now due when ``now`` is given.

    A request returned to the OPD has no running step: its clock is paused.
    """
    result = []
    for run in state.runs:
        target = sop_step(run.step).target
        deadline = calendar.deadline(run.started, target)
        result.append(
            StepTiming(
                step=run.step,
                attempt=run.attempt,
                started=run.started,
                ended=run.ended,
                outcome=run.outcome,
                elapsed=calendar.working_time(run.started, run.ended),
                target_label=target.label,
                deadline=deadline,
                breached=deadline is not None and run.ended > deadline,
            )
        )
    if (
        now is not None
        and state.phase is Phase.IN_PROGRESS
        and state.next_step is not None
        and state.due_since is not None
    ):
        target = sop_step(state.next_step).target
        deadline = calendar.deadline(state.due_since, target)
        attempt = 1 + sum(1 for r in state.runs if r.step == state.next_step)
        result.append(
            StepTiming(
                step=state.next_step,
                attempt=attempt,
                started=state.due_since,
                ended=None,
                outcome=None,
                elapsed=calendar.working_time(state.due_since, now),
                target_label=target.label,
                deadline=deadline,
                breached=deadline is not None and now > deadline,
            )
        )
    return result


def paused_time(state: RequestState, calendar: WorkingCalendar, now: datetime) -> timedelta:
    """Working time spent with the OPD after step-4 returns (not counted against any step)."""
    return sum((calendar.working_time(p.since, p.until or now) for p in state.pauses), timedelta(0))
