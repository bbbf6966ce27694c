"""Reports stop, writing nothing, while inventories/ cannot back an official document: a year
missing from calendar.yaml or barely filled in, or placeholders left in department.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest
from reporting_walk import Walk, sop

from sop_pipeline.demo.officials import Lab

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"


def on_main(lab: Lab, name: str, change: tuple[str, str], message: str) -> None:
    """Change inventories/<name> on the base branch, which reports read."""
    lab.git("checkout", "-q", "main")
    path = lab.repo / "inventories" / name
    text = path.read_text()
    assert change[0] in text
    path.write_text(text.replace(change[0], change[1], 1))
    lab.git("commit", "-q", "-m", message, "--", str(path))
    lab.git("checkout", "-q", "mr/request")


def written(lab: Lab) -> list[Path]:
    reports = lab.repo / "records" / "reports"
    return sorted(p for p in reports.rglob("*") if p.is_file()) if reports.exists() else []


def test_a_barely_filled_year_stops_the_laporan_kegiatan(walk: Walk) -> None:
    # The shipped calendar lists only 1 January for 2027: its SKB is not copied in yet.
    result = sop(walk.lab.repo, "report", "--period", "2027-01", "--now", "2027-02-01T08:00+07:00")
    assert result.exit_code == 3, result.output
    assert (
        "inventories/calendar.yaml: holidays: tahun 2027 hanya memuat 1 hari libur (biasanya "
        "15 atau lebih, minimal 10); lengkapi dari SKB tiga menteri tahun itu "
        "[calendar-year-sparse]"
    ) in result.output
    assert "Tidak ada dokumen dibuat" in result.output
    assert written(walk.lab) == []


def test_a_missing_year_stops_the_laporan_kegiatan(walk: Walk) -> None:
    result = sop(walk.lab.repo, "report", "--period", "2028-03", "--now", "2028-04-01T08:00+07:00")
    assert result.exit_code == 3, result.output
    assert "tahun 2028 belum diisi" in result.output
    assert "[calendar-year-missing]" in result.output
    assert written(walk.lab) == []


def test_placeholders_in_department_yaml_stop_every_report(walk: Walk) -> None:
    walk.advance(RID, 0)
    on_main(
        walk.lab,
        "department.yaml",
        ('name: "Drs. Hendra Saputra, M.Si."', 'name: "[Nama Kepala Dinas]"'),
        "kop surat: isian contoh tertinggal",
    )
    result = sop(walk.lab.repo, "report", RID, "--no-advance")
    assert result.exit_code == 3, result.output
    lines = [line for line in result.output.splitlines() if "[department-placeholder]" in line]
    assert (
        "inventories/department.yaml: officials.kadis.name: masih berisi isian contoh "
        "('[Nama Kepala Dinas]'); tulis data dinas yang sebenarnya sebelum dokumen resmi "
        "dibuat [department-placeholder]"
    ) in lines
    assert len(lines) == 1  # only the field left as a placeholder
    assert written(walk.lab) == []
    period = sop(walk.lab.repo, "report", "--period", "2026-11", "--now", "2026-12-07T08:00+07:00")
    assert period.exit_code == 3 and "[department-placeholder]" in period.output
    assert written(walk.lab) == []


def test_the_shipped_example_department_and_a_filled_year_still_report(walk: Walk) -> None:
    """The control: the same harness does write documents when nothing is missing."""
    walk.advance(RID, 0)
    result = sop(walk.lab.repo, "report", "--period", "2026-11", "--now", "2026-12-07T08:00+07:00")
    assert result.exit_code == 0, result.output
    assert [p.suffix for p in written(walk.lab)] == [".md", ".pdf"]
