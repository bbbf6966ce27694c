"""Expiry of a hosting: warned at H-30, H-14 and H-7, then soft retirement, then quarantine.

Pure: no I/O, no clock reads. ``today`` is the caller's date in the working calendar's zone
(Asia/Jakarta).

- **H-N** is the N-th working day before ``period.end`` (the calendar of
  ``inventories/calendar.yaml``: weekends, holidays and cuti bersama are not counted). The
  end itself is not counted, working day or not: H-1 of a Monday end is the Friday before.
- **A notice is due** on its H-N day or, when the daily run missed that day (CI down), on the
  next run before the period is over: the most urgent threshold reached and not yet sent is
  sent once; the less urgent ones it passes are recorded as superseded, never sent late.
- **Soft retirement** is due once the period is over: ``period.end`` is inclusive (the
  hosting is paid for to the end of that day), so the first day after it, in Asia/Jakarta.
- **Quarantine** (``expiry.quarantine_days`` of ``inventories/policy.yaml``, default 30
  calendar days) starts on the day of the soft retirement. Hard retirement starts at its end
  (:func:`quarantine_ended`), never before, and never from here: this module only says so.
- Renewal (``perpanjang``) moves ``period.end`` in the last applied record: the notices are
  kept per end date, so a renewed hosting is warned again for its new end.

Events of a hosting's ledger (kind :data:`EXPIRY_KIND`, ``data.event``):
``notice`` (``end``, ``threshold``, ``superseded``), ``soft-retired`` (``end``, ``on``,
``quarantine_until``, ``vm_address``, ``holding_address``), ``reversed`` (``retirement``, the
hash of the soft-retirement record, ``statement``), ``quarantine-ended`` (``retirement``).
:func:`fold` reads them back into an :class:`ExpiryLife`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

from sop_pipeline.domain.calendar import WorkingCalendar

#: The thresholds, in working days before ``period.end``, least urgent first.
THRESHOLDS: tuple[int, ...] = (30, 14, 7)
EXPIRY_KIND = "expiry"
NOTICE = "notice"
SOFT_RETIRED = "soft-retired"
REVERSED = "reversed"
QUARANTINE_ENDED = "quarantine-ended"
DEFAULT_QUARANTINE_DAYS = 30
#: Ledger record kinds that end a hosting for good (hard retirement, issue 13's ``pensiun``):
#: a hosting with one of them is no longer live, and nothing here touches it.
RETIRED_KINDS = frozenset({"retirement", "retired", "pensiun"})
_MAX_SCAN = 3660


@dataclass(frozen=True)
class ExpiryPolicy:
    """``expiry:`` of ``inventories/policy.yaml``."""

    quarantine_days: int = DEFAULT_QUARANTINE_DAYS
    #: environment of the pools (``lab``, ``production``) -> the holding host's address, which
    #: answers a soft-retired hosting's name with the maintenance page.
    holding_addresses: Mapping[str, str] = field(default_factory=dict)


def is_working_day(calendar: WorkingCalendar, day: date) -> bool:
    return calendar.window(day) is not None


def working_days_before(calendar: WorkingCalendar, end: date, n: int) -> date:
    """The ``n``-th working day before ``end`` (``end`` itself not counted); ``n`` >= 1."""
    if n < 1:
        raise ValueError("n must be at least 1")
    day, found = end, 0
    for _ in range(_MAX_SCAN):
        day -= timedelta(days=1)
        if is_working_day(calendar, day):
            found += 1
            if found == n:
                return day
    raise ValueError("the calendar has no working day in ten years")


def warning_days(calendar: WorkingCalendar, end: date) -> dict[int, date]:
    """Threshold -> its H-N day, for this end date."""
    return {n: working_days_before(calendar, end, n) for n in THRESHOLDS}


def retirement_day(end: date) -> date:
    """The first day outside the period (``end`` is inclusive): soft retirement is due."""
    return end + timedelta(days=1)


@dataclass(frozen=True)
class DueNotice:
    threshold: int
    day: date  # its H-N day (the run may be later: a missed day)
    #: less urgent thresholds that were missed and are now passed by this one: never sent
    superseded: tuple[int, ...] = ()
    #: sent after its H-N day (the daily run missed that day)
    late: bool = False


def due_notice(
    calendar: WorkingCalendar, end: date, today: date, sent: Iterable[int]
) -> DueNotice | None:
    """The notice to send today for this end date, or None.

    None when no threshold is reached yet, when the most urgent one reached was sent, or
    when the period is over (soft retirement is due instead). ``sent`` are the thresholds
    already recorded for this end (superseded ones included).
    """
    if today >= retirement_day(end):
        return None
    done = set(sent)
    days = warning_days(calendar, end)
    reached = [n for n in THRESHOLDS if days[n] <= today]
    if not reached:
        return None
    urgent = min(reached)
    if urgent in done or any(n in done for n in THRESHOLDS if n < urgent):
        return None
    passed = tuple(n for n in reached if n != urgent and n not in done)
    return DueNotice(urgent, days[urgent], passed, late=today > days[urgent])


def quarantine_until(retired_on: date, days: int) -> date:
    """The last day of quarantine that starts on ``retired_on``."""
    return retired_on + timedelta(days=days - 1) if days > 0 else retired_on


# --------------------------------------------------------------------------- the life


@dataclass(frozen=True)
class SoftRetirement:
    record_hash: str  # the ``soft-retired`` record: what a reversal statement binds to
    end: date
    on: date
    quarantine_until: date
    vm_address: str
    holding_address: str
    quarantine_ended: bool = False


@dataclass(frozen=True)
class ExpiryLife:
    """A hosting's expiry events, folded."""

    #: end date (ISO) -> thresholds recorded (sent or superseded) for it
    notices: Mapping[str, frozenset[int]] = field(default_factory=dict)
    #: the soft retirement in force (not reversed), if any
    soft: SoftRetirement | None = None
    #: hashes of soft retirements that were reversed, and the statements that did it
    reversed: Mapping[str, str] = field(default_factory=dict)
    retired: bool = False  # hard-retired: not live any more

    def sent_for(self, end: date) -> frozenset[int]:
        return self.notices.get(end.isoformat(), frozenset())

    @property
    def phase(self) -> str:
        if self.retired:
            return "pensiun"
        if self.soft is not None:
            return "karantina berakhir" if self.soft.quarantine_ended else "pensiun lunak"
        return "aktif"


@dataclass(frozen=True)
class Event:
    """One ledger record as :func:`fold` reads it (kind, hash, data)."""

    kind: str
    hash: str
    data: Mapping[str, Any]


def fold(events: Sequence[Event]) -> ExpiryLife:
    notices: dict[str, set[int]] = {}
    soft: SoftRetirement | None = None
    reversed_: dict[str, str] = {}
    retired = False
    for e in events:
        if e.kind in RETIRED_KINDS:
            retired = True
            continue
        if e.kind != EXPIRY_KIND:
            continue
        d = e.data
        event = d.get("event")
        if event == NOTICE:
            got = notices.setdefault(str(d["end"]), set())
            got.add(int(d["threshold"]))
            got.update(int(n) for n in d.get("superseded", ()))
        elif event == SOFT_RETIRED:
            soft = SoftRetirement(
                record_hash=e.hash,
                end=date.fromisoformat(str(d["end"])),
                on=date.fromisoformat(str(d["on"])),
                quarantine_until=date.fromisoformat(str(d["quarantine_until"])),
                vm_address=str(d["vm_address"]),
                holding_address=str(d["holding_address"]),
            )
        elif event == REVERSED and soft is not None and d.get("retirement") == soft.record_hash:
            reversed_[soft.record_hash] = str(d.get("statement", ""))
            soft = None
        elif (
            event == QUARANTINE_ENDED
            and soft is not None
            and d.get("retirement") == soft.record_hash
        ):
            soft = replace(soft, quarantine_ended=True)
    return ExpiryLife(
        notices={k: frozenset(v) for k, v in notices.items()},
        soft=soft,
        reversed=reversed_,
        retired=retired,
    )


# --------------------------------------------------------------------------- decisions


@dataclass(frozen=True)
class Action:
    """What ``sop expiry`` does for one hosting today."""

    kind: str  # "notice", "soft-retire", "quarantine-ended" or "none"
    notice: DueNotice | None = None


def action_for(life: ExpiryLife, calendar: WorkingCalendar, end: date, today: date) -> Action:
    """The one thing due today for a live hosting whose period ends on ``end``."""
    if life.retired:
        return Action("none")
    if life.soft is not None:
        if not life.soft.quarantine_ended and today > life.soft.quarantine_until:
            return Action(QUARANTINE_ENDED)
        return Action("none")
    if today >= retirement_day(end):
        return Action("soft-retire")
    notice = due_notice(calendar, end, today, life.sent_for(end))
    return Action(NOTICE, notice) if notice is not None else Action("none")


def quarantine_ended(lives: Mapping[str, ExpiryLife], today: date) -> list[str]:
    """The hostings whose quarantine is over on ``today``: where hard retirement may start
    (with its own fresh step-4 and step-7 signatures; nothing is destroyed here)."""
    return sorted(
        rid
        for rid, life in lives.items()
        if not life.retired and life.soft is not None and today > life.soft.quarantine_until
    )
