"""Laporan Drift: one run of ``sop drift``, in Bahasa Indonesia, as Markdown and PDF.

Built as a :class:`~sop_pipeline.reports.document.Document` like every other report, so the
same renderers (escaping every value) make the Markdown and, through HTML, the PDF. The file
goes to ``records/reports/_drift/laporan-drift-<YYYYMMDDTHHMMSS>.{md,pdf}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sop_pipeline.atomic import write_atomically
from sop_pipeline.domain.drift import KIND_LABELS, SOURCE_LABELS, UNOWNED, DriftReport
from sop_pipeline.domain.sop import Role
from sop_pipeline.reports import indonesian as ind
from sop_pipeline.reports.department import Department
from sop_pipeline.reports.document import (
    Block,
    Document,
    Fields,
    Heading,
    Items,
    Paragraph,
    Signatures,
    Table,
)
from sop_pipeline.reports.documents import GENERATOR, letterhead, official_block, place_date
from sop_pipeline.reports.glossary import with_glossary
from sop_pipeline.reports.html import render_html
from sop_pipeline.reports.markdown import render_markdown
from sop_pipeline.reports.pdf import html_to_pdf
from sop_pipeline.reports.readiness import require_department_ready

FOLDER = "_drift"
FILE_STEM = "laporan-drift"
TITLE = "Laporan Drift"

VERDICTS = {
    "ok": "Tidak ada drift: yang berjalan sama dengan yang disetujui.",
    "drift": "Ada drift: yang berjalan berbeda dari yang disetujui.",
    "failed": "Pemeriksaan gagal: tidak ada kesimpulan (bukan berarti tidak ada drift).",
}


@dataclass(frozen=True)
class DriftRun:
    """What the Laporan Drift is about: the run's report, when, and its sequence number."""

    report: DriftReport
    at: datetime
    sequence: int
    environment: str
    only: str | None = None

    @property
    def verdict(self) -> str:
        if self.report.failed:
            return "failed"
        return "drift" if self.report.drifted else "ok"


def _status(text: str) -> str:
    if text == "ok":
        return "berhasil"
    if text.startswith("skipped"):
        return "tidak dijalankan" + text.removeprefix("skipped")
    return text


def drift_document(dept: Department, run: DriftRun) -> Document:
    r = run.report
    issued = run.at.astimezone(dept.tz).date()
    number = dept.numbering.number("drift", run.sequence, issued)
    rows = tuple(
        (
            str(n),
            "tanpa pemilik" if i.owner == UNOWNED else i.owner,
            SOURCE_LABELS[i.source],
            i.resource + (f" ({i.attribute})" if i.attribute else ""),
            i.approved if i.approved is not None else "-",
            i.actual if i.actual is not None else "-",
            KIND_LABELS[i.kind],
        )
        for n, i in enumerate(r.items, start=1)
    )
    check_rows = tuple(
        (str(n), name, _status(status))
        for n, (name, status) in enumerate(sorted(r.checks.items()), 1)
    )
    failed_rows = frozenset(
        n
        for n, (_name, status) in enumerate(sorted(r.checks.items()))
        if status.startswith("gagal")
    )
    blocks: list[Block] = [
        Paragraph(
            (
                "Bersama ini dilaporkan hasil pemeriksaan drift, yaitu perbandingan antara yang "
                "disetujui (permintaan yang ditandatangani dan catatan langkah 8) dengan yang "
                f"berjalan, pada {ind.date_time(run.at, dept.tz)}. Tidak ada yang diubah: "
                "setiap perbaikan diajukan sebagai permintaan perubahan yang ditandatangani.",
            )
        ),
        Heading("A. Ringkasan"),
        Fields(
            (
                ("Lingkungan", run.environment),
                ("Cakupan", f"permintaan {run.only}" if run.only else "seluruh hosting"),
                ("Hosting diperiksa", str(len(r.hostings))),
                ("Temuan drift", str(len(r.items))),
                ("Hosting dengan drift", str(len([o for o in r.owners() if o != UNOWNED]))),
                ("Temuan tanpa pemilik", str(len(r.for_owner(UNOWNED)))),
                ("Kesimpulan", VERDICTS[run.verdict]),
            )
        ),
        Heading("B. Pemeriksaan"),
        Table(("No", "Pemeriksaan", "Hasil"), check_rows, marked=failed_rows, widths=(6, 34, 60)),
        Heading("C. Temuan"),
    ]
    if rows:
        blocks.append(
            Table(
                ("No", "Pemilik", "Sumber", "Sumber daya", "Disetujui", "Berjalan", "Jenis"),
                rows,
                marked=frozenset(range(len(rows))),
                widths=(4, 14, 9, 25, 16, 16, 16),
            )
        )
    else:
        blocks.append(Paragraph(("Tidak ada temuan.",)))
    blocks += [
        Heading("D. Tindak Lanjut"),
        Items(
            (
                "Untuk setiap hosting dengan drift, perintah sop drift --propose menulis "
                "permintaan perubahan (jenis ubah): memulihkan yang disetujui, atau menerima yang "
                "berjalan. Permintaan itu melalui langkah 4 sampai 8 dengan tanda tangan.",
                "Temuan tanpa pemilik diperiksa Tim Teknis: dihapus melalui prosedur, atau "
                "dicatat sebagai milik Dinas.",
                "Pemeriksaan yang gagal diulang setelah penyebabnya diperbaiki.",
            ),
            ordered=False,
        ),
        Signatures(
            ((official_block(dept, Role.TIM_TEKNIS, (place_date(dept, run.at), "Pemeriksa,")),),),
        ),
    ]
    require_department_ready(dept)
    return with_glossary(
        Document(
            letterhead=letterhead(dept),
            title=TITLE.upper(),
            subtitle="Perbandingan yang disetujui dengan yang berjalan",
            number=number,
            blocks=tuple(blocks),
            footer=(
                f"{dept.letterhead.short_name} · {TITLE} Nomor {number} · dibuat oleh {GENERATOR}"
            ),
            meta={
                "author": f"{dept.letterhead.agency}, {dept.letterhead.government}",
                "generator": GENERATOR,
                "description": f"{TITLE} Nomor {number}",
            },
        )
    )


def write_drift_report(
    dept: Department, run: DriftRun, out_dir: Path, *, formats: Iterable[str] = ("md", "pdf")
) -> list[Path]:
    """Write the Laporan Drift of ``run`` under ``out_dir/_drift/`` in each format."""
    doc = drift_document(dept, run)
    stem = out_dir / FOLDER / f"{FILE_STEM}-{run.at.astimezone(dept.tz):%Y%m%dT%H%M%S}"
    if run.only:
        stem = stem.with_name(f"{stem.name}-{run.only}")
    html = render_html(doc)
    written = []
    for fmt in formats:
        content = render_markdown(doc).encode() if fmt == "md" else html_to_pdf(html)
        path = stem.with_name(f"{stem.name}.{fmt}")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, content)
        written.append(path)
    return written
