"""Whether the department's configuration is fit to print official documents from.

A year missing from ``inventories/calendar.yaml`` silently counts every holiday of it as a
working day, and a letterhead still saying ``[Nama Kepala Dinas]`` is no letter. Both stop
report generation with a message naming the file, the field and the rule. Pure: the caller
passes the years its documents need.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import fields

from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.errors import ConfigError
from sop_pipeline.reports.department import Department

#: Indonesia has some fifteen national holidays a year plus cuti bersama: fewer than this
#: listed for a year means the year was not filled in yet (its SKB not copied in).
MIN_HOLIDAYS_PER_YEAR = 10
# "[Nama Kepala Dinas]", "[NIP Kepala Bidang]", "Jl. ............ No. .."
_PLACEHOLDER = re.compile(r"\[[^\]]*\]|\.{4,}")


class NotReadyForDocuments(ConfigError):
    """The configuration under inventories/ cannot yet back an official document."""


def calendar_problems(
    calendar: WorkingCalendar, years: Iterable[int], path: str = "inventories/calendar.yaml"
) -> list[str]:
    problems = []
    for year in sorted(set(years)):
        count = sum(1 for day in calendar.holidays if day.year == year)
        if count == 0:
            problems.append(
                f"{path}: holidays: tahun {year} belum diisi, padahal dokumen ini menghitung "
                f"hari kerja tahun {year}; salin hari libur nasional dan cuti bersama dari SKB "
                "tiga menteri tahun itu [calendar-year-missing]"
            )
        elif count < MIN_HOLIDAYS_PER_YEAR:
            problems.append(
                f"{path}: holidays: tahun {year} hanya memuat {count} hari libur (biasanya 15 "
                f"atau lebih, minimal {MIN_HOLIDAYS_PER_YEAR}); lengkapi dari SKB tiga menteri "
                "tahun itu [calendar-year-sparse]"
            )
    return problems


def department_problems(
    department: Department, path: str = "inventories/department.yaml"
) -> list[str]:
    """Every placeholder ("[Nama Kepala Dinas]", "....") still in the letterhead, the place
    of signing and the officials."""
    found = []
    for name in (f.name for f in fields(department.letterhead)):
        found.append((f"letterhead.{name}", getattr(department.letterhead, name)))
    found.append(("place", department.place))
    for role, official in department.officials.items():
        for name in ("name", "nip", "title", "rank"):
            found.append((f"officials.{role}.{name}", getattr(official, name)))
    return [
        f"{path}: {where}: masih berisi isian contoh ({value!r}); tulis data dinas yang "
        "sebenarnya sebelum dokumen resmi dibuat [department-placeholder]"
        for where, value in found
        if _PLACEHOLDER.search(value)
    ]


def require_department_ready(department: Department) -> None:
    """Raise NotReadyForDocuments when a placeholder is left: no document is built then."""
    problems = department_problems(department)
    if problems:
        raise NotReadyForDocuments(
            "\n".join(
                [*problems, "Dokumen tidak dibuat: perbaiki inventories/department.yaml dulu."]
            )
        )


def require_ready(calendar: WorkingCalendar, department: Department, years: Iterable[int]) -> None:
    """Raise NotReadyForDocuments listing every gap at once; nothing is written then."""
    problems = calendar_problems(calendar, years) + department_problems(department)
    if problems:
        raise NotReadyForDocuments(
            "\n".join([*problems, "Tidak ada dokumen dibuat: perbaiki inventories/ dulu."])
        )
