"""A change of a live hosting in the documents: step 6's analysis shows the diff against the
last applied record; for kind ubah the Laporan Hasil Hosting and the Berita Acara become a
change report, before and after per field. Rendered to Markdown and HTML."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import report_samples as samples

from sop_pipeline.domain.change import FieldChange, diff
from sop_pipeline.ledger.chain import Record
from sop_pipeline.ledger.tracking import STEP_KIND
from sop_pipeline.reports.model import Report
from sop_pipeline.reports.writer import render as render_bytes
from sop_pipeline.steps.reporting import applied_changes

DEPT = samples.department()
BEFORE = samples.facts()
AFTER = dataclasses.replace(
    BEFORE,
    kind="ubah",
    resources=dataclasses.replace(BEFORE.resources, memory_mb=BEFORE.resources.memory_mb * 2),
)
CHANGES = (
    FieldChange("resources.memory_mb", BEFORE.resources.memory_mb, AFTER.resources.memory_mb),
)


def render(report: Report, dept: object, fmt: str) -> str:
    return render_bytes(report, DEPT, fmt).decode()


def _step_8(seq: int, facts_data: dict[str, object]) -> Record:
    return Record(
        seq=seq,
        request_id=BEFORE.request_id,
        kind=STEP_KIND,
        step=8,
        actor="pipeline",
        at=datetime(2026, 12, seq, tzinfo=UTC).isoformat(),
        inputs={"request": str(seq) * 64},
        data={"outcome": "done", "applied": facts_data},
    )


def test_analysis_of_a_change_shows_before_and_after() -> None:
    report = dataclasses.replace(samples.analysis_report(AFTER), changes=CHANGES)
    markdown, html = render(report, DEPT, "md"), render(report, DEPT, "html")
    for text in (markdown, html):
        assert "Perubahan: Diterapkan dan Diminta" in text
        assert "Memori (MiB)" in text
        assert str(BEFORE.resources.memory_mb) in text and str(AFTER.resources.memory_mb) in text
    plain = render(samples.analysis_report(BEFORE), DEPT, "md")
    assert "Perubahan:" not in plain


def test_hosting_report_and_minutes_of_ubah_are_change_reports() -> None:
    records = [_step_8(1, BEFORE.as_data()), _step_8(2, AFTER.as_data())]
    changes = applied_changes(AFTER, records)
    assert changes == CHANGES == diff(BEFORE.as_data(), AFTER)
    hosting = dataclasses.replace(samples.hosting_report(AFTER), changes=changes)
    minutes = dataclasses.replace(samples.handover(AFTER), changes=changes)
    text = render(hosting, DEPT, "md")
    assert "Laporan Hasil Perubahan Hosting".upper() in text.upper()
    assert "Perubahan: Sebelum dan Sesudah" in text and "Memori (MiB)" in text
    minutes_text = render(minutes, DEPT, "html")
    assert "Berita Acara Perubahan Layanan".upper() in minutes_text.upper()
    assert f"<td>{AFTER.resources.memory_mb}</td>" in minutes_text
    # a new hosting keeps its titles and has no change table
    assert "Perubahan:" not in render(samples.hosting_report(BEFORE), DEPT, "md")
    assert "Serah Terima".upper() in render(samples.handover(BEFORE), DEPT, "md").upper()


def test_only_a_second_step_8_of_an_ubah_is_a_change() -> None:
    assert applied_changes(AFTER, [_step_8(1, AFTER.as_data())]) == ()
    records = [_step_8(1, BEFORE.as_data()), _step_8(2, AFTER.as_data())]
    assert applied_changes(BEFORE, records) == ()  # kind baru: no change report


def test_analysis_names_the_change_class_and_what_the_kabid_must_sign() -> None:
    result = dataclasses.replace(
        samples.analysis_result(),
        change_class="reboot",
        change_reasons=("cpu.cores: 2 -> 4 (reboot)",),
    )
    report = dataclasses.replace(samples.analysis_report(AFTER), result=result, changes=CHANGES)
    text = render(report, DEPT, "md")
    assert "Kelas perubahan: reboot (perlu mulai ulang VM" in text
    assert "--change-class reboot" in text and "Atribut: cpu.cores: 2 -\\> 4 (reboot)" in text
    live = dataclasses.replace(result, change_class="live", change_reasons=())
    text = render(dataclasses.replace(report, result=live), DEPT, "md")
    assert "Kelas perubahan: live" in text and "--change-class" not in text
