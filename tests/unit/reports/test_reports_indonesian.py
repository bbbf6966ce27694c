"""Indonesian dates, numbers in words, NIPs and durations."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from sop_pipeline.reports import indonesian as ind

WIB = ZoneInfo("Asia/Jakarta")


def test_weekday_and_month_names() -> None:
    assert ind.weekday_date(date(2026, 11, 30)) == "Senin, 30 November 2026"
    assert ind.weekday_date(date(2026, 8, 17)) == "Senin, 17 Agustus 2026"
    assert ind.weekday_date(date(2027, 1, 1)) == "Jumat, 1 Januari 2027"
    assert ind.weekday_date(date(2026, 12, 6)) == "Minggu, 6 Desember 2026"
    assert [ind.long_date(date(2026, m, 1)).split()[1] for m in range(1, 13)] == [
        "Januari", "Februari", "Maret", "April", "Mei", "Juni",
        "Juli", "Agustus", "September", "Oktober", "November", "Desember",
    ]  # fmt: skip


def test_times_are_shown_in_the_department_zone() -> None:
    utc = datetime(2026, 11, 30, 3, 20, tzinfo=ZoneInfo("UTC"))
    assert ind.date_time(utc, WIB) == "Senin, 30 November 2026 pukul 10.20 WIB"
    assert ind.clock(utc, ZoneInfo("Asia/Makassar")) == "11.20 WITA"
    assert ind.short_date_time(utc, WIB) == "30-11-2026 10.20"


@pytest.mark.parametrize(
    ("number", "text"),
    [
        (0, "nol"),
        (1, "satu"),
        (10, "sepuluh"),
        (11, "sebelas"),
        (15, "lima belas"),
        (30, "tiga puluh"),
        (31, "tiga puluh satu"),
        (100, "seratus"),
        (115, "seratus lima belas"),
        (250, "dua ratus lima puluh"),
        (1000, "seribu"),
        (1945, "seribu sembilan ratus empat puluh lima"),
        (2026, "dua ribu dua puluh enam"),
        (1_000_000, "satu juta"),
    ],
)
def test_numbers_in_words(number: int, text: str) -> None:
    assert ind.words(number) == text


def test_date_in_words_opens_a_berita_acara() -> None:
    assert ind.date_in_words(date(2026, 11, 30)) == (
        "hari Senin tanggal tiga puluh bulan November tahun dua ribu dua puluh enam"
    )


def test_nip_grouping_and_other_values() -> None:
    assert ind.nip("198203152009012003") == "19820315 200901 2 003"
    assert ind.nip("[NIP Kepala Dinas]") == "[NIP Kepala Dinas]"


def test_durations_and_roman_months() -> None:
    assert ind.duration(timedelta(minutes=87)) == "1 jam 27 menit"
    assert ind.duration(timedelta(minutes=45, seconds=59)) == "45 menit"
    assert ind.duration(timedelta(hours=2)) == "2 jam"
    assert ind.duration(timedelta(0)) == "0 menit"
    assert ind.roman_month(date(2026, 11, 30)) == "XI"
    assert ind.roman_month(date(2026, 4, 1)) == "IV"


def test_long_working_times_read_in_working_days() -> None:
    day = timedelta(hours=8, minutes=30)  # Senin-Kamis 07.30-16.00
    assert ind.working_duration(timedelta(hours=389), day) == "45 hari kerja 6 jam"
    assert ind.working_duration(16 * day + timedelta(hours=2, minutes=59), day) == (
        "16 hari kerja 2 jam"
    )
    assert ind.working_duration(day, day) == "1 hari kerja"
    assert ind.working_duration(day - timedelta(minutes=1), day) == "8 jam 29 menit"
    assert ind.working_duration(timedelta(minutes=45), day) == "45 menit"
    with pytest.raises(ValueError):
        ind.working_duration(timedelta(hours=1), timedelta(0))
