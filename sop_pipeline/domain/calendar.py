"""The working calendar the SLA clock runs on.

Government offices in Sumatera Barat work in Asia/Jakarta time, on working days and hours
set by regulation, minus public holidays and collective leave (cuti bersama). All of that
comes from configuration (``inventories/calendar.yaml``); this module only computes.

A target in minutes counts working minutes. "1 hari" means one working day: a step that
becomes due at 10:00 on a Monday is due by 10:00 on Tuesday, and one that becomes due on a
Friday afternoon is due on Monday afternoon.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from sop_pipeline.domain.sop import Target

_MAX_DAYS_SCANNED = 3660  # ten years: a calendar with no working day is a config error


@dataclass(frozen=True)
class WorkingCalendar:
    tz: tzinfo
    hours: Mapping[int, tuple[time, time]]  # weekday (Monday = 0) -> opening and closing time
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        if not self.hours:
            raise ValueError("a working calendar needs at least one working day")
        for weekday, (opens, closes) in self.hours.items():
            if not 0 <= weekday <= 6 or opens >= closes:
                raise ValueError(f"bad working hours for weekday {weekday}: {opens}-{closes}")

    def typical_day(self) -> timedelta:
        """The length of the most common working day (the shorter on a tie): what "1 hari
        kerja" means when a working time is shown in days (Senin-Kamis 07.30-16.00: 8.5 h)."""
        lengths = [
            datetime.combine(date.min, closes) - datetime.combine(date.min, opens)
            for opens, closes in self.hours.values()
        ]
        return min(lengths, key=lambda length: (-lengths.count(length), length))

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """The working window of ``day`` in local time, or None on a day off."""
        if day in self.holidays or day.weekday() not in self.hours:
            return None
        opens, closes = self.hours[day.weekday()]
        return (
            datetime.combine(day, opens, tzinfo=self.tz),
            datetime.combine(day, closes, tzinfo=self.tz),
        )

    def _windows_from(self, moment: datetime) -> list[tuple[datetime, datetime]]:
        """Working windows from the day of ``moment`` on (bounded scan)."""
        day = moment.astimezone(self.tz).date()
        found = []
        for offset in range(_MAX_DAYS_SCANNED):
            w = self.window(day + timedelta(days=offset))
            if w is not None:
                found.append(w)
                if len(found) > 400:  # enough for any target we compute
                    break
        if not found:
            raise ValueError("the calendar has no working day in ten years")
        return found

    def working_time(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two moments (zero if ``end`` is not after ``start``)."""
        if end <= start:
            return timedelta(0)
        total = timedelta(0)
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            w = self.window(day)
            if w is not None:
                lo, hi = max(w[0], start), min(w[1], end)
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def next_working_moment(self, moment: datetime) -> datetime:
        """``moment`` if it falls in working time, else the next opening."""
        for opens, closes in self._windows_from(moment):
            if moment < closes:
                return max(moment, opens)
        raise ValueError("no working time ahead")  # unreachable with a sane calendar

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        remaining = timedelta(minutes=minutes)
        for opens, closes in self._windows_from(start):
            if start >= closes:
                continue
            lo = max(opens, start)
            if lo + remaining <= closes:
                return lo + remaining
            remaining -= closes - lo
        raise ValueError("target too long for the calendar")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The same working-clock time ``days`` working days later (clamped to that day's hours)."""
        begin = self.next_working_moment(start).astimezone(self.tz)
        windows = [w for w in self._windows_from(begin) if w[0].date() > begin.date()]
        opens, closes = windows[days - 1]
        moment = datetime.combine(opens.date(), begin.timetz())
        return min(max(moment, opens), closes)

    def deadline(self, start: datetime, target: Target) -> datetime | None:
        """When a step that became due at ``start`` is due; None for a tentative target."""
        if target.minutes is not None:
            return self.add_working_minutes(start, target.minutes)
        if target.working_days is not None:
            return self.add_working_days(start, target.working_days)
        return None
