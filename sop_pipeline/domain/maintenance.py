"""Maintenance windows: when a change that reboots or replaces a VM may be applied.

The windows are the department's (``change.maintenance_windows`` in
``inventories/policy.yaml``), in Asia/Jakarta time: a weekday, a start and an end; an end at or
before the start runs past midnight into the next day. A change the plan classifies as live
applies at any time; a reboot or a replacement only inside a window.

Pure: the time zone and the moment are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HARI = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


@dataclass(frozen=True)
class Window:
    weekday: int  # 0 = Monday, as date.weekday()
    start: time
    end: time  # at or before start: the window ends on the next day

    def label(self) -> str:
        return f"{HARI[self.weekday]} {self.start:%H.%M}-{self.end:%H.%M} WIB"

    def span_on(self, day: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
        begin = datetime.combine(day.date(), self.start, tzinfo=tz)
        end = datetime.combine(day.date(), self.end, tzinfo=tz)
        if end <= begin:
            end += timedelta(days=1)
        return begin, end


def inside(windows: Sequence[Window], moment: datetime, tz: tzinfo) -> bool:
    """Whether ``moment`` (aware) falls inside one of ``windows`` (start inclusive)."""
    return opening(windows, moment, tz) == moment


def opening(windows: Sequence[Window], moment: datetime, tz: tzinfo) -> datetime | None:
    """``moment`` itself when inside a window, else the next window's start (None: no window)."""
    if moment.tzinfo is None:
        raise ValueError("a maintenance window is checked on an aware time")
    local = moment.astimezone(tz)
    best: datetime | None = None
    for offset in range(-1, 8):  # yesterday's window may run past midnight into today
        day = local + timedelta(days=offset)
        for window in windows:
            if window.weekday != day.weekday():
                continue
            begin, end = window.span_on(day, tz)
            if begin <= local < end:
                return moment
            if begin > local and (best is None or begin < best):
                best = begin
    return best


def window_refusal(
    needs_window: bool,
    class_label: str,
    windows: Sequence[Window],
    moment: datetime,
    tz: tzinfo,
) -> str:
    """Why a change of this class may not be applied at ``moment`` ("" when it may): a
    change that reboots or replaces the VM only inside a maintenance window
    [outside-maintenance-window]."""
    if not needs_window or inside(windows, moment, tz):
        return ""
    listed = ", ".join(w.label() for w in windows) or "tidak ada (inventories/policy.yaml)"
    upcoming = opening(windows, moment, tz)
    then = f"; jendela berikutnya {upcoming.astimezone(tz):%Y-%m-%d %H.%M} WIB" if upcoming else ""
    return (
        f"perubahan ini {class_label}: hanya diterapkan di dalam jendela pemeliharaan "
        f"({listed}){then}. Tidak ada yang diubah; jalankan lagi di dalam jendela "
        "[outside-maintenance-window]"
    )
