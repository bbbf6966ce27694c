"""Expiry documents in Bahasa Indonesia: the notice to the OPD's PIC (Markdown and e-mail),
the merge-request/issue comment, and the holding host's maintenance page.

Pure: no I/O, no clock (the run's time comes in). Every request value is untrusted: in
Markdown it goes through :func:`escape.md`, in HTML through :func:`escape.h`, in mail headers
through :mod:`email.headerregistry` (folded to one line first: no header injection), and the
plain-text body has its control characters folded away.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from sop_pipeline.reports import indonesian as ind
from sop_pipeline.reports.escape import h, md, md_code

COMMENT_KIND = "expiry"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
_SPACES = re.compile(r"\s+")
_MARKER_SAFE = re.compile(r"[^a-z0-9-]")


def plain(text: object) -> str:
    """One line of plain text: control, bidi and invisible characters and line breaks
    folded to one space (what a mail body or header may carry from a request)."""
    return _SPACES.sub(" ", _CONTROL.sub(" ", str(text))).strip()


@dataclass(frozen=True)
class NoticeFacts:
    """What a notice says: the hosting (from its last applied record) and the dates."""

    request_id: str
    fqdn: str
    application: str
    opd_name: str
    pic_name: str
    pic_email: str
    end: date
    threshold: int  # H-N, in working days
    retirement_day: date
    quarantine_days: int
    issued: datetime  # the run's time
    late: bool = False  # sent after its H-N day (the daily run missed it)


@dataclass(frozen=True)
class Sender:
    """The department's mailbox (``letterhead.email`` of ``department.yaml``) and name."""

    name: str
    email: str
    agency: str


def subject(f: NoticeFacts) -> str:
    return (
        f"Pemberitahuan H-{f.threshold}: masa hosting {plain(f.fqdn)} berakhir "
        f"{ind.long_date(f.end)}"
    )


def _sentences(f: NoticeFacts) -> list[str]:
    """The notice's paragraphs, as plain text (each part escaped by the caller's format)."""
    return [
        f"Masa hosting aplikasi {{app}} pada alamat {{fqdn}} (permintaan {{rid}}) berakhir pada "
        f"{ind.weekday_date(f.end)}, {ind.words(f.threshold)} ({f.threshold}) hari kerja lagi.",
        "Bila layanan ini masih diperlukan, ajukan perpanjangan (kind: perpanjang) dengan "
        "merge request yang mengubah berkas permintaan yang sama, beserta surat permintaan "
        "perpanjangan, sebelum tanggal tersebut.",
        f"Tanpa perpanjangan, mulai {ind.weekday_date(f.retirement_day)} layanan dihentikan "
        "sementara (pensiun lunak): server (VM) dimatikan, nama domain menampilkan halaman "
        "pemeliharaan, dan alamat IP serta nomor VM tetap disimpan selama masa karantina "
        f"{f.quarantine_days} hari. Selama karantina, Koordinator dapat memulihkan layanan. "
        "Setelah karantina berakhir, layanan dapat dihentikan permanen melalui SOP dengan "
        "tanda tangan pejabat.",
    ]


def notice_markdown(f: NoticeFacts, sender: Sender, tz: tzinfo) -> str:
    """The notice as Markdown (``records/notices/<id>/...md``)."""
    paras = _sentences(f)
    paras[0] = paras[0].format(
        app=md(f.application), fqdn=md_code(f.fqdn), rid=md_code(f.request_id)
    )
    late = (
        [
            "_Pemberitahuan ini terlambat dikirim karena pemeriksaan harian tidak berjalan pada "
            "hari seharusnya._",
            "",
        ]
        if f.late
        else []
    )
    lines = [
        f"# Pemberitahuan Berakhirnya Masa Hosting (H-{f.threshold})",
        "",
        f"Kepada Yth. {md(f.pic_name)}",
        f"Penanggung jawab, {md(f.opd_name)}",
        f"E-mail: {md(f.pic_email)}",
        "",
        *late,
        *(p for para in paras for p in (para, "")),
        "Hormat kami,",
        "",
        f"{md(sender.name)}, {md(sender.agency)}",
        "",
        f"Dikirim {ind.date_time(f.issued, tz)}.",
        "",
    ]
    return "\n".join(lines)


def notice_text(f: NoticeFacts, sender: Sender) -> str:
    paras = _sentences(f)
    paras[0] = paras[0].format(
        app=plain(f.application), fqdn=plain(f.fqdn), rid=plain(f.request_id)
    )
    late = (
        [
            "Pemberitahuan ini terlambat dikirim karena pemeriksaan harian tidak berjalan pada "
            "hari seharusnya.",
            "",
        ]
        if f.late
        else []
    )
    lines = [
        f"Yth. {plain(f.pic_name)}",
        f"Penanggung jawab, {plain(f.opd_name)}",
        "",
        *late,
        *(p for para in paras for p in (para, "")),
        "Hormat kami,",
        f"{plain(sender.name)}, {plain(sender.agency)}",
        "",
    ]
    return "\n".join(lines)


_NAME_SAFE = re.compile(r"[^\w '-]+")


def _address(name: str, addr: str) -> str:
    """``Name <addr>`` with the display name cut to letters, digits, spaces, ``'`` and ``-``.

    CPython's address folding writes a display name with specials unquoted (and decodes
    encoded words before refolding them), so ``a: b@evil <x>`` in a PIC's name would become
    another recipient: only characters that are never special in a phrase are kept. Non-ASCII
    names go out as RFC 2047 UTF-8 words (policy SMTP)."""
    spec = Address(addr_spec=plain(addr)).addr_spec  # refuses what is no address
    display = " ".join(_NAME_SAFE.sub(" ", plain(name)).split())
    return formataddr((display, spec), charset="utf-8")


def message_id(f: NoticeFacts, sender: Sender) -> str:
    domain = sender.email.rpartition("@")[2] or "localhost"
    rid = _MARKER_SAFE.sub("-", f.request_id)
    return f"<sop-expiry.{rid}.{f.end.isoformat()}.h{f.threshold}@{domain}>"


def notice_email(f: NoticeFacts, sender: Sender) -> bytes:
    """RFC 5322 bytes for the department's relay: UTF-8, From the department, To the PIC."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = _address(sender.name, sender.email)
    msg["To"] = _address(f.pic_name, f.pic_email)
    msg["Subject"] = subject(f)
    msg["Date"] = format_datetime(f.issued)
    msg["Message-ID"] = message_id(f, sender)
    msg["Content-Language"] = "id"
    msg.set_content(notice_text(f, sender), charset="utf-8", cte="quoted-printable")
    return msg.as_bytes()


def _marker(request_id: str) -> str:
    return f"<!-- sop-pipeline:{COMMENT_KIND}:{_MARKER_SAFE.sub('_', request_id)} -->"


def notice_comment(f: NoticeFacts, *, logs_url: str | None = None) -> str:
    """The MR/issue comment (posted by the CI job), Markdown, hidden marker first."""
    link = f"[Log lengkap]({logs_url})" if logs_url else "[Log lengkap](LOGS_URL)"
    return "\n".join(
        [
            _marker(f.request_id),
            f"### Masa hosting berakhir: H-{f.threshold}",
            "",
            f"Masa hosting {md_code(f.fqdn)} (permintaan {md_code(f.request_id)}) berakhir "
            f"pada **{ind.long_date(f.end)}**. Pemberitahuan telah dikirim kepada PIC "
            f"{md(f.pic_name)} ({md(f.pic_email)}). Tanpa perpanjangan (kind: perpanjang), "
            f"layanan dihentikan sementara mulai {ind.long_date(f.retirement_day)}.",
            "",
            link,
            "",
        ]
    )


def retirement_comment(
    request_id: str, fqdn: str, on: date, quarantine_until: date, *, reversed_: bool = False
) -> str:
    if reversed_:
        body = (
            f"Pensiun lunak {md_code(fqdn)} (permintaan {md_code(request_id)}) dibatalkan "
            f"dengan pernyataan bertanda tangan Koordinator: VM dinyalakan kembali dan nama "
            f"domain kembali ke VM pada {ind.long_date(on)}."
        )
        title = "### Pensiun lunak dibatalkan"
    else:
        body = (
            f"Masa hosting {md_code(fqdn)} (permintaan {md_code(request_id)}) telah berakhir: "
            f"pada {ind.long_date(on)} VM dimatikan dan nama domain menampilkan halaman "
            f"pemeliharaan. Alokasi IP dan nomor VM disimpan; karantina sampai "
            f"{ind.long_date(quarantine_until)}."
        )
        title = "### Pensiun lunak"
    return "\n".join([_marker(request_id), title, "", body, ""])


def maintenance_page(name: str) -> str:
    """The holding host's page for any name it answers (the Host header, escaped)."""
    shown = h(plain(name)[:253]) or "layanan ini"
    return f"""<!DOCTYPE html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Layanan Sedang Dihentikan Sementara</title>
</head>
<body>
<main>
<h1>Layanan Sedang Dihentikan Sementara</h1>
<p>Masa hosting <strong>{shown}</strong> telah berakhir dan layanan ini sedang dihentikan
sementara (pemeliharaan).</p>
<p>Bila Anda pengelola layanan ini, hubungi Diskominfotik untuk perpanjangan atau
pemulihan.</p>
</main>
</body>
</html>
"""
