"""The change documents (kind ubah) rendered to A4 PDF by WeasyPrint, their text read back by
pdftotext: the change titles and the before/after values are on the page."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
import report_samples as samples
from report_tools import require, require_weasyprint

from sop_pipeline.domain.change import diff
from sop_pipeline.reports.writer import write_reports

pytestmark = pytest.mark.integration


def _text(pdf: Path) -> str:
    out = subprocess.run(
        [require("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, check=True
    )
    return " ".join(out.stdout.decode().split())


def test_change_report_and_minutes_render_to_pdf(tmp_path: Path) -> None:
    require_weasyprint()
    before = samples.facts()
    after = dataclasses.replace(
        before, kind="ubah", resources=dataclasses.replace(before.resources, vcpu=4)
    )
    changes = diff(before.as_data(), after)
    assert [c.field for c in changes] == ["resources.vcpu"]
    dept = samples.department()
    for report, title in (
        (dataclasses.replace(samples.hosting_report(after), changes=changes), "PERUBAHAN HOSTING"),
        (dataclasses.replace(samples.handover(after), changes=changes), "PERUBAHAN LAYANAN"),
        (dataclasses.replace(samples.analysis_report(after), changes=changes), "ANALISIS"),
    ):
        paths = write_reports(report, tmp_path / report.kind, department=dept)
        pdf = next(p for p in paths if p.suffix == ".pdf")
        text = _text(pdf)
        assert title in text, text[:300]
        assert f"Kolom Sebelum Sesudah 1 vCPU {before.resources.vcpu} 4 " in text.replace(
            "Diterapkan Diminta", "Sebelum Sesudah"
        ), text
