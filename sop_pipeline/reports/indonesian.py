"""Indonesian wording for documents: dates, times, durations, numbers in words, NIPs.

Pure functions; no locale is read from the machine (a CI runner has none for ``id_ID``).
Formats follow the usual naskah dinas style: "Senin, 30 November 2026", "10.20 WIB",
"NIP. 19820315 200901 2 003", and in minutes "tiga puluh" for the date in words.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, tzinfo

MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)
WEEKDAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
ROMAN_MONTHS = ("I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII")

#: Indonesia's three time zones, as documents name them.
ZONE_LABELS = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}

_ONES = (
    "nol",
    "satu",
    "dua",
    "tiga",
    "empat",
    "lima",
    "enam",
    "tujuh",
    "delapan",
    "sembilan",
    "sepuluh",
    "sebelas",
)


def zone_label(tz: tzinfo) -> str:
    """WIB, WITA or WIT for an Indonesian zone; the zone's key otherwise."""
    key = str(getattr(tz, "key", tz))
    return ZONE_LABELS.get(key, key)


def long_date(day: date) -> str:
    """``30 November 2026``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def weekday_date(day: date) -> str:
    """``Senin, 30 November 2026``."""
    return f"{WEEKDAYS[day.weekday()]}, {long_date(day)}"


def clock(moment: datetime, tz: tzinfo) -> str:
    """``10.20 WIB`` (Indonesian style uses a dot between hours and minutes)."""
    local = moment.astimezone(tz)
    return f"{local:%H.%M} {zone_label(tz)}"


def date_time(moment: datetime, tz: tzinfo) -> str:
    """``Senin, 30 November 2026 pukul 10.20 WIB``."""
    local = moment.astimezone(tz)
    return f"{weekday_date(local.date())} pukul {clock(local, tz)}"


def short_date_time(moment: datetime, tz: tzinfo) -> str:
    """``30-11-2026 10.20`` for narrow table cells (the zone is named in the table's note)."""
    local = moment.astimezone(tz)
    return f"{local:%d-%m-%Y %H.%M}"


def duration(span: timedelta) -> str:
    """Working time as ``1 jam 27 menit``, ``45 menit``, ``0 menit`` (whole minutes)."""
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} jam {minutes} menit"
    if hours:
        return f"{hours} jam"
    return f"{minutes} menit"


def working_duration(span: timedelta, working_day: timedelta) -> str:
    """Working time for people: ``45 menit``, ``7 jam 5 menit`` within a working day, and
    beyond one in working days and whole hours, ``16 hari kerja 2 jam`` (``working_day``:
    the calendar's usual day, :meth:`WorkingCalendar.typical_day`)."""
    if working_day <= timedelta(0):
        raise ValueError("a working day must be longer than zero")
    days, rest = divmod(span, working_day)
    if days < 1:
        return duration(span)
    hours = int(rest.total_seconds() // 3600)
    return f"{days} hari kerja" + (f" {hours} jam" if hours else "")


def words(number: int) -> str:
    """A whole number in Indonesian words: 2026 -> "dua ribu dua puluh enam"."""
    if number < 0:
        return "minus " + words(-number)
    if number < 12:
        return _ONES[number]
    if number < 20:
        return f"{_ONES[number - 10]} belas"
    if number < 100:
        tens, rest = divmod(number, 10)
        return f"{_ONES[tens]} puluh" + (f" {_ONES[rest]}" if rest else "")
    for size, name in ((10**12, "triliun"), (10**9, "miliar"), (10**6, "juta")):
        if number >= size:
            head, rest = divmod(number, size)
            return f"{words(head)} {name}" + (f" {words(rest)}" if rest else "")
    if number < 200:
        rest = number - 100
        return "seratus" + (f" {words(rest)}" if rest else "")
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return f"{_ONES[hundreds]} ratus" + (f" {words(rest)}" if rest else "")
    if number < 2000:
        rest = number - 1000
        return "seribu" + (f" {words(rest)}" if rest else "")
    thousands, rest = divmod(number, 1000)
    return f"{words(thousands)} ribu" + (f" {words(rest)}" if rest else "")


def date_in_words(day: date) -> str:
    """The opening of a Berita Acara: ``hari Senin tanggal tiga puluh bulan November tahun
    dua ribu dua puluh enam``."""
    return (
        f"hari {WEEKDAYS[day.weekday()]} tanggal {words(day.day)} bulan "
        f"{MONTHS[day.month - 1]} tahun {words(day.year)}"
    )


def roman_month(day: date) -> str:
    return ROMAN_MONTHS[day.month - 1]


def nip(value: str) -> str:
    """An 18-digit NIP grouped as printed: ``19820315 200901 2 003`` (other text unchanged)."""
    digits = value.replace(" ", "")
    if len(digits) == 18 and digits.isdigit():
        return f"{digits[:8]} {digits[8:14]} {digits[14]} {digits[15:]}"
    return value
