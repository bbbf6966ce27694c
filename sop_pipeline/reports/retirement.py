"""Berita Acara Penghentian Layanan: the minutes that close a hosting's retirement
(``kind: pensiun``, step 9 of its cycle). Markdown and PDF, like the other Berita Acara.

Built from the retirement's phase records (``steps.retirement``): the final backup kept and
protected, its restore check, the VM destroyed, the DNS name removed, and the address and
VMID quarantined until the date the policy gives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sop_pipeline.atomic import write_atomically
from sop_pipeline.domain.request import Request
from sop_pipeline.domain.sop import Role
from sop_pipeline.reports import indonesian as ind
from sop_pipeline.reports.department import Department
from sop_pipeline.reports.document import (
    Block,
    Document,
    Fields,
    Items,
    Paragraph,
    SignatureBlock,
    Signatures,
    Strong,
    Table,
)
from sop_pipeline.reports.documents import (
    KIND_LABELS,
    SOP_NAME,
    footer,
    label,
    letter_phrase,
    letterhead,
    official_block,
)
from sop_pipeline.reports.html import render_html
from sop_pipeline.reports.markdown import render_markdown
from sop_pipeline.reports.pdf import html_to_pdf

TITLE = "Berita Acara Penghentian Layanan"
FILE_STEM = "berita-acara-penghentian-layanan"


@dataclass(frozen=True)
class RetirementMinutes:
    """What the minutes say: the request (its ``pensiun`` file), where the hosting ran, and
    the data of each retirement phase record (phase -> data)."""

    kind: ClassVar[str] = "berita_acara"
    file_stem: ClassVar[str] = FILE_STEM

    request: Request
    sequence: int
    issued: datetime
    vmid: int
    node: str
    ip_address: str
    phases: Mapping[str, Mapping[str, Any]]


def _when(text: object, dept: Department) -> str:
    try:
        return ind.long_date(datetime.fromisoformat(str(text)).astimezone(dept.tz).date())
    except ValueError:
        return str(text)


def document(dept: Department, m: RetirementMinutes) -> Document:
    r, p = m.request, m.phases
    first = dept.official(Role.KABID)
    day = m.issued.astimezone(dept.tz).date()
    backup = p.get("backup", {})
    check = p.get("restore_check", {})
    quarantine = p.get("quarantine", {})
    rows: Sequence[tuple[str, str]] = (
        ("Nama aplikasi", f"{r.application.name} ({label(KIND_LABELS, r.application.kind)})"),
        ("Nama domain", r.fqdn),
        ("Mesin virtual", f"VMID {m.vmid} pada node {m.node}"),
        ("Alamat IP", m.ip_address),
        (
            "Cadangan akhir",
            f"{backup.get('volid', '-')} ({backup.get('size', 0)} bita), dilindungi dari "
            "pemangkasan" + ("" if backup.get("protected") else " (TIDAK dilindungi)"),
        ),
        (
            "Uji pemulihan",
            ("berhasil" if check.get("ok") else "tidak berhasil") + f": {check.get('method', '-')}",
        ),
        ("Proteksi VM", "dicabut melalui API Proxmox" if "unprotect" in p else "-"),
        ("Penghapusan VM", "terraform destroy; VM dipastikan tidak ada" if "destroy" in p else "-"),
        ("Nama DNS", f"{r.fqdn} dihapus; dipastikan tidak menjawab" if "dns" in p else "-"),
        (
            "Karantina IP dan VMID",
            f"sampai {_when(quarantine.get('until', '-'), dept)} "
            f"({quarantine.get('days', '-')} hari); baru dilepas sesudahnya"
            if quarantine
            else "-",
        ),
    )
    blocks: list[Block] = [
        Paragraph(
            (
                f"Pada {ind.date_in_words(day)} ({day:%d-%m-%Y}), bertempat di {dept.place}, "
                "kami yang bertanda tangan di bawah ini:",
            )
        ),
        Fields(
            (
                ("1. Nama", first.name),
                ("    NIP", ind.nip(first.nip)),
                ("    Jabatan", first.title),
            )
        ),
        Paragraph(("selanjutnya disebut ", Strong("PIHAK PERTAMA"), ".")),
        Fields(
            (
                ("2. Nama", r.pic.name),
                ("    NIP", ind.nip(r.pic.nip)),
                ("    Jabatan", f"Penanggung jawab (PIC) aplikasi {r.application.name}"),
            )
        ),
        Paragraph((f"atas nama {r.opd.name}, selanjutnya disebut ", Strong("PIHAK KEDUA"), ".")),
        Paragraph(
            (
                "menyatakan bahwa layanan hosting berikut telah DIHENTIKAN berdasarkan "
                f"{letter_phrase(r)}, setelah diverifikasi (langkah 4) dan diputuskan "
                "(langkah 7) oleh dua pejabat yang berbeda, dengan rincian:",
            )
        ),
        Table(
            ("No", "Uraian", "Keterangan"),
            tuple((str(i), k, v) for i, (k, v) in enumerate(rows, 1)),
            widths=(6, 30, 64),
        ),
        Paragraph(("Dengan ketentuan sebagai berikut:",)),
        Items(
            (
                "Cadangan akhir disimpan terlindungi dan dapat dipulihkan atas permintaan "
                "tertulis PIHAK KEDUA.",
                "Alamat IP dan VMID tidak diberikan kepada layanan lain selama masa karantina.",
                f"Layanan baru diajukan kembali dengan surat permintaan sesuai {SOP_NAME}.",
            )
        ),
        Paragraph(
            (
                f"Demikian {TITLE} ini dibuat dalam rangkap 2 (dua) untuk dipergunakan "
                "sebagaimana mestinya.",
            )
        ),
        Signatures(
            (
                (
                    SignatureBlock(
                        lines=("PIHAK KEDUA", f"PIC {r.opd.name},"),
                        name=r.pic.name,
                        nip=ind.nip(r.pic.nip),
                    ),
                    official_block(dept, Role.KABID, ("PIHAK PERTAMA",)),
                ),
                (official_block(dept, Role.KADIS, ("Mengetahui,",)),),
            ),
            centered_rows=frozenset({1}),
        ),
    ]
    doc_number = dept.numbering.number(m.kind, m.sequence, day)
    return Document(
        letterhead=letterhead(dept),
        title=TITLE,
        subtitle=f"Layanan Hosting {label(KIND_LABELS, r.application.kind)} {r.application.name}",
        number=doc_number,
        blocks=tuple(blocks),
        footer=footer(dept, TITLE, doc_number, r),
        meta={
            "author": f"{dept.letterhead.agency}, {dept.letterhead.government}",
            "generator": "sop-pipeline",
            "description": f"{TITLE} Nomor {doc_number}",
        },
    )


def write_minutes(m: RetirementMinutes, out_dir: Path, *, department: Department) -> list[Path]:
    """``<out_dir>/<request id>/berita-acara-penghentian-layanan.md`` and ``.pdf``."""
    doc = document(department, m)
    stem = out_dir / m.request.request_id / FILE_STEM
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for suffix, content in (
        ("md", render_markdown(doc).encode()),
        ("pdf", html_to_pdf(render_html(doc))),
    ):
        path = stem.with_name(f"{stem.name}.{suffix}")
        write_atomically(path, content)
        written.append(path)
    return written
