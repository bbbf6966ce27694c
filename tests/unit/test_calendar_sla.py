"""The working calendar and the SLA clock."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.domain.sla import paused_time, timings
from sop_pipeline.domain.sop import Target
from sop_pipeline.domain.state import OUTCOME_LABELS, Outcome, StepEvent, fold, outcome_label


def at(cal: WorkingCalendar, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=cal.tz)


def test_working_time_skips_nights_weekends_and_holidays(calendar: WorkingCalendar) -> None:
    # Thu 2026-12-24 is cuti bersama, Fri 25 Christmas: Wed 15:00 -> Mon 08:30 is 1 h + 1 h.
    start, end = at(calendar, "2026-12-23T15:00"), at(calendar, "2026-12-28T08:30")
    assert calendar.working_time(start, end) == timedelta(hours=2)


def test_minutes_count_only_working_minutes(calendar: WorkingCalendar) -> None:
    # Friday closes at 16:30: three minutes asked at 16:29 end on Monday at 07:32.
    due = calendar.deadline(at(calendar, "2026-11-27T16:29"), Target(minutes=3))
    assert due == at(calendar, "2026-11-30T07:32")


def test_one_day_is_one_working_day(calendar: WorkingCalendar) -> None:
    assert calendar.deadline(at(calendar, "2026-11-30T10:00"), Target(working_days=1)) == at(
        calendar, "2026-12-01T10:00"
    )
    # Friday afternoon -> Monday afternoon; a Saturday start counts from Monday's opening.
    assert calendar.deadline(at(calendar, "2026-11-27T14:00"), Target(working_days=1)) == at(
        calendar, "2026-11-30T14:00"
    )
    assert calendar.deadline(at(calendar, "2026-11-28T11:00"), Target(working_days=1)) == at(
        calendar, "2026-12-01T07:30"
    )
    # Friday 16:15 exists, Monday closes at 16:00: clamp to the close.
    assert calendar.deadline(at(calendar, "2026-11-27T16:15"), Target(working_days=1)) == at(
        calendar, "2026-11-30T16:00"
    )


def test_tentative_has_no_deadline(calendar: WorkingCalendar) -> None:
    assert calendar.deadline(at(calendar, "2026-11-30T10:00"), Target()) is None


def test_sla_marks_breaches_and_pauses_the_clock_while_the_opd_completes(
    calendar: WorkingCalendar,
) -> None:
    def e(step: int, outcome: Outcome, when: str, **kw: object) -> StepEvent:
        return StepEvent(step, outcome, at(calendar, when), **kw)  # type: ignore[arg-type]

    state = fold(
        "r",
        [
            e(1, Outcome.DONE, "2026-11-30T09:00"),
            e(2, Outcome.DONE, "2026-11-30T09:02"),
            e(3, Outcome.DONE, "2026-11-30T09:20"),  # 18 min against 3: breach
            e(4, Outcome.INCOMPLETE, "2026-11-30T09:22", missing=("surat",)),
            e(4, Outcome.RESUBMIT, "2026-12-02T10:00"),  # two days with the OPD: paused
            e(4, Outcome.COMPLETE, "2026-12-02T10:02"),
        ],
    )
    rows = timings(state, calendar, now=at(calendar, "2026-12-02T10:30"))
    assert [(t.step, t.attempt, t.breached) for t in rows] == [
        (1, 1, False),
        (2, 1, False),
        (3, 1, True),
        (4, 1, False),
        (4, 2, False),
        (5, 1, True),
    ]
    assert rows[2].elapsed == timedelta(minutes=18)
    assert rows[4].elapsed == timedelta(minutes=2)  # the second verification only
    assert rows[5].running and rows[5].elapsed == timedelta(minutes=28)
    assert paused_time(state, calendar, at(calendar, "2026-12-02T10:30")) == timedelta(
        hours=6, minutes=38
    ) + timedelta(hours=8, minutes=30) + timedelta(hours=2, minutes=30)


def test_returned_request_has_no_running_step(calendar: WorkingCalendar) -> None:
    state = fold(
        "r",
        [
            StepEvent(1, Outcome.DONE, at(calendar, "2026-11-30T09:00")),
            StepEvent(2, Outcome.DONE, at(calendar, "2026-11-30T09:01")),
            StepEvent(3, Outcome.DONE, at(calendar, "2026-11-30T09:02")),
            StepEvent(4, Outcome.INCOMPLETE, at(calendar, "2026-11-30T09:03"), missing=("nip",)),
        ],
    )
    rows = timings(state, calendar, now=at(calendar, "2026-12-10T09:00"))
    assert all(not t.running for t in rows)


def test_a_working_day_is_the_most_common_day(calendar: WorkingCalendar) -> None:
    # Senin-Kamis 07.30-16.00, Jumat 07.30-16.30: four short days against one long one
    assert calendar.typical_day() == timedelta(hours=8, minutes=30)
    even = WorkingCalendar(
        tz=calendar.tz,
        hours={0: (time(8), time(16)), 1: (time(8), time(15))},
    )
    assert even.typical_day() == timedelta(hours=7)  # a tie: the shorter day


def test_every_outcome_has_an_indonesian_word() -> None:
    assert set(OUTCOME_LABELS) == set(Outcome)
    assert outcome_label("approve") == "disetujui"
    assert outcome_label("complete") == "lengkap"
    assert outcome_label("something-else") == "something-else"
