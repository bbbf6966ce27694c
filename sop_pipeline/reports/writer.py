"""Writing reports to disk: ``<out_dir>/<request-id>/<name>.md`` and ``.pdf``.

The one function the pipeline calls is :func:`write_reports`. Files are written atomically
(temporary file, fsync, rename), so a crash leaves the old file or the new one, never half.
The Markdown is deterministic for a given model (no clock is read), so its sha256 can be
signed as evidence (the step-6 statement names the analysis report's hash).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sop_pipeline.atomic import write_atomically
from sop_pipeline.reports.department import Department
from sop_pipeline.reports.documents import build
from sop_pipeline.reports.html import render_html
from sop_pipeline.reports.markdown import render_markdown
from sop_pipeline.reports.model import ActivityReport, Report
from sop_pipeline.reports.pdf import ReportError, html_to_pdf

FORMATS = ("md", "html", "pdf")
DEFAULT_FORMATS = ("md", "pdf")
PERIOD_FOLDER = "_kegiatan"


def render(report: Report, department: Department, fmt: str) -> bytes:
    """One report in one format (``md``, ``html`` or ``pdf``), as bytes."""
    doc = build(department, report)
    if fmt == "md":
        return render_markdown(doc).encode()
    if fmt == "html":
        return render_html(doc).encode()
    if fmt == "pdf":
        return html_to_pdf(render_html(doc))
    raise ValueError(f"unknown report format {fmt!r}; known: {', '.join(FORMATS)}")


def report_stem(report: Report) -> Path:
    """Where a report goes under ``out_dir``, without suffix.

    ``dinkes-simpus/laporan-hasil-hosting``; a Laporan Kegiatan goes to
    ``_kegiatan/laporan-kegiatan-2026-11-01_2026-11-30``.
    """
    if isinstance(report, ActivityReport):
        return Path(PERIOD_FOLDER) / (
            f"{report.file_stem}-{report.period_start.isoformat()}_{report.period_end.isoformat()}"
        )
    return Path(report.request.request_id) / report.file_stem


def write_reports(
    report: Report,
    out_dir: Path,
    *,
    department: Department,
    formats: Iterable[str] = DEFAULT_FORMATS,
) -> list[Path]:
    """Write ``report`` in each format under ``out_dir`` and return the paths written.

    ``out_dir`` is normally ``records/reports``. ReportError when a file can't be written
    or the PDF can't be rendered (files already written stay, complete).
    """
    wanted = list(formats)
    unknown = [f for f in wanted if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown report format(s) {unknown}; known: {', '.join(FORMATS)}")
    stem = out_dir / report_stem(report)
    doc = build(department, report)
    html = render_html(doc)
    written = []
    for fmt in wanted:
        content = (
            render_markdown(doc).encode()
            if fmt == "md"
            else html.encode()
            if fmt == "html"
            else html_to_pdf(html)
        )
        path = stem.with_name(f"{stem.name}.{fmt}")
        try:
            write_atomically(path, content)
        except OSError as err:
            raise ReportError(f"{path}: laporan tidak dapat ditulis: {err}") from err
        written.append(path)
    return written
