"""`sop report --period`: the Laporan Kegiatan from every request's records, each step's
working time against the SOP target, breaches flagged; real PDF checked with poppler."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from reporting_walk import Walk, pdf_pages, pdf_text, sop

from sop_pipeline.reports.writer import PERIOD_FOLDER

pytestmark = pytest.mark.integration

NOVEMBER = "laporan-kegiatan-2026-11-01_2026-11-30"
DECEMBER = "laporan-kegiatan-2026-12-01_2026-12-31"
AFTER_NOVEMBER = "2026-12-07T08:00+07:00"
#: dinkes-simpus in November: (step, target, verdict) of each row of its table, in order.
SIMPUS_ROWS = [
    ("1", "3 menit", "selesai; sesuai target"),
    ("2", "3 menit", "selesai; sesuai target"),
    ("3", "3 menit", "selesai; sesuai target"),
    ("4", "3 menit", "lengkap; sesuai target"),
    ("5", "3 menit", "selesai; sesuai target"),
    ("6", "Tentatif (tidak ada batas waktu baku)", "selesai; target tentatif, tidak dinilai"),
    ("7", "30 menit", "disetujui; LEWAT target (batas 30-11-2026 10.05)"),
    ("8", "1 hari", "selesai; sesuai target"),
    ("9", "1 hari", "selesai; sesuai target"),
    ("10", "5 menit", "LEWAT target (batas 30-11-2026 10.25)"),  # still waiting on 1 Dec
]


@pytest.fixture
def walked(walk: Walk) -> Walk:
    """November: dinkes-simpus hosted (step 7 late), bpbd rejected. December: disdik arrives."""
    walk.to_step_7("dinkes-simpus")  # 30 Nov, step 7 at 10.20: 45 minutes for a 30-minute target
    rid = "bpbd-peringatan-dini"
    walk.advance(rid, 20)
    walk.sign(rid, 2, "kadis", 21)
    walk.sign(rid, 3, "kabid", 22)
    walk.sign(rid, 4, "koordinator", 24, "complete")
    walk.sign(rid, 6, "teknis2", 60, evidence=walk.analyse(rid, 50))
    walk.sign(rid, 7, "kabid", 75, "reject", reason="Sudah tersedia di server daerah")
    walk.advance("disdik-info-sekolah", 24 * 60 + 60)  # Tuesday 1 December, 09.00
    return walk


def rows(markdown: str, request_id: str) -> list[tuple[str, str, str]]:
    """(step, target, verdict) of each row in a request's step table (bold marks removed)."""
    section = markdown.split("## B.")[1:]
    table = next(s for s in section if s.split("\n", 1)[0].endswith(request_id))
    table = table.split("\n## ", 1)[0]  # up to the next heading
    found = []
    for line in table.splitlines():
        cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and re.fullmatch(r"\d+( \(ke-\d\))?", cells[0]):
            found.append((cells[0], cells[5], cells[6]))
    return found


def test_the_laporan_kegiatan_of_november(walked: Walk, tmp_path: Path) -> None:
    repo = walked.lab.repo
    result = sop(repo, "report", "--period", "2026-11", "--now", AFTER_NOVEMBER)
    assert result.exit_code == 0, result.output
    assert "Laporan Kegiatan 2026-11-01 s.d. 2026-11-30: 2 permintaan, 2 langkah" in result.output
    out = repo / "records" / "reports" / PERIOD_FOLDER
    md, pdf = out / f"{NOVEMBER}.md", out / f"{NOVEMBER}.pdf"
    assert f"records/reports/{PERIOD_FOLDER}/{NOVEMBER}.pdf" in result.output

    markdown = md.read_text()
    assert rows(markdown, "dinkes-simpus") == SIMPUS_ROWS
    assert [r[0] for r in rows(markdown, "bpbd-peringatan-dini")] == [str(n) for n in range(1, 8)]
    assert rows(markdown, "bpbd-peringatan-dini")[-1][2] == "ditolak; sesuai target"
    assert "disdik-info-sekolah" not in markdown  # its first record is in December

    text = pdf_text(pdf)
    for expected in (
        "PEMERINTAH PROVINSI SUMATERA BARAT",
        "LAPORAN KEGIATAN",
        "555.5/011/Aptika-Diskominfotik/XII/2026",  # the period's number, issued 1 December
        "Periode 1 November 2026 s.d. 30 November 2026",
        "Padang, 1 Desember 2026",
        "B.1 dinkes-simpus",
        "B.2 bpbd-peringatan-dini",
        "SIMPUS (Dinas Kesehatan Provinsi Sumatera Barat)",
        "Langkah yang melewati target waktu 2",
        "Ditolak (langkah 7) 1",
        "Alasan : Sudah tersedia di server daerah",
        "LEWAT target (batas 30-11-2026 10.05)",
        "7. Kabid memutuskan apakah hosting dapat dilakukan Kabid Aptika 30 menit",
        "Tentatif",
        "1 hari",
        "Halaman 1 dari",
    ):
        assert expected in text, expected
    pages = pdf_pages(pdf, tmp_path)
    assert 1 <= len(pages) <= 6

    before = (md.read_bytes(), pdf.read_bytes())
    walked.sign("disdik-info-sekolah", 2, "kadis", 24 * 60 + 90)  # December moves on
    again = sop(repo, "report", "--period", "2026-11", "--now", "2027-01-15T10:00+07:00")
    assert again.exit_code == 0, again.output
    assert (md.read_bytes(), pdf.read_bytes()) == before


def test_december_lists_what_was_open_in_december(walked: Walk) -> None:
    repo = walked.lab.repo
    result = sop(
        repo,
        "report",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-31",
        "--now",
        "2026-12-01T10:00+07:00",
    )
    assert result.exit_code == 0, result.output
    markdown = (repo / "records" / "reports" / PERIOD_FOLDER / f"{DECEMBER}.md").read_text()
    assert "dinkes-simpus" in markdown and "disdik-info-sekolah" in markdown
    assert "bpbd-peringatan-dini" not in markdown  # rejected in November: closed before
    # dinkes-simpus in December: only step 10, still waiting, timed up to 1 December 10.00
    assert rows(markdown, "dinkes-simpus") == [
        ("10", "5 menit", "LEWAT target (batas 30-11-2026 10.25)")
    ]
    assert rows(markdown, "disdik-info-sekolah") == [
        ("1", "3 menit", "selesai; sesuai target"),
        ("2", "3 menit", "LEWAT target (batas 01-12-2026 09.03)"),  # still running,
    ]
    assert "Nomor: 555.5/012/Aptika-Diskominfotik/XII/2026" in markdown


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--period", "2026-13"), "bulan harus 01 sampai 12"),
        (("--period", "November"), "bukan bulan TTTT-BB"),
        (("--from", "2026-11-01"), "--from dan --to harus diisi keduanya"),
        (("--from", "2026-11-30", "--to", "2026-11-01"), "--to lebih awal dari --from"),
        (("--period", "2026-11", "--from", "2026-11-01"), "pakai --period atau --from/--to"),
        (("dinkes-simpus", "--period", "2026-11"), "hanya untuk Laporan Kegiatan"),
    ],
)
def test_wrong_options_are_explained(walk: Walk, args: tuple[str, ...], message: str) -> None:
    result = sop(walk.lab.repo, "report", *args)
    assert result.exit_code == 64  # a usage error (EX_USAGE), not a refused request
    assert message in result.output
