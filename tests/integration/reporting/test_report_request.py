"""`sop report ID`: the documents of one request, from its records, with real signatures,
the real pipeline, real WeasyPrint and poppler (pdftotext, pdftoppm)."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from reporting_walk import LocalSite, Walk, at, pdf_pages, pdf_text, sop

from sop_pipeline.cli.main import main
from sop_pipeline.demo.officials import Lab
from sop_pipeline.ledger.tracking import state_of
from sop_pipeline.steps.reporting import last_step_record

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"
LETTERHEAD = (
    "PEMERINTAH PROVINSI SUMATERA BARAT",
    "DINAS KOMUNIKASI, INFORMATIKA DAN STATISTIK",
    "Halaman 1 dari",
)
FACTS = ("dinkes-simpus", "Dinas Kesehatan Provinsi Sumatera Barat", "440/1123/Dinkes-2026")


def docs(lab: Lab) -> Path:
    return lab.repo / "records" / "reports" / RID


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.*"))}


def a4_pages_with_ink(pdf: Path, out: Path) -> int:
    from PIL import Image  # Pillow comes with WeasyPrint

    pages = pdf_pages(pdf, out)
    assert pages, f"pdftoppm made no page from {pdf}"
    for page in pages:
        with Image.open(page) as image:
            assert abs(image.width - 496) <= 2 and abs(image.height - 702) <= 2  # A4 at 60 dpi
            histogram = image.convert("L").histogram()
        assert sum(histogram[:200]) / sum(histogram) > 0.005, f"{page} is blank"
    return len(pages)


def test_each_document_waits_for_the_step_it_needs(walk: Walk, tmp_path: Path) -> None:
    lab = walk.lab
    walk.advance(RID, 0)
    result = sop(lab.repo, "report", RID, "--no-advance")
    assert result.exit_code == 2, result.output
    assert (
        "Lembar Disposisi belum dapat dibuat: langkah 2 (Kadis mendisposisikan surat "
        "permintaan kepada Kabid) belum dicatat; permintaan kini menunggu langkah 2 "
        "[missing-step-2]"
    ) in result.output
    assert not docs(lab).exists()

    walk.sign(RID, 2, "kadis", 2)
    walk.sign(RID, 3, "kabid", 4)
    result = sop(lab.repo, "report", RID, "--no-advance")
    assert result.exit_code == 2 and "langkah 5 (Permintaan dicatat Helpdesk" in result.output

    assert walk.sign(RID, 4, "koordinator", 6, "complete") == [4, 5]
    result = sop(lab.repo, "report", RID, "--no-advance")
    assert result.exit_code == 0, result.output
    assert "records/reports/dinkes-simpus/disposisi.pdf" in result.output
    assert "Laporan Hasil Hosting belum dapat dibuat: langkah 8" in result.output
    assert sorted(snapshot(docs(lab))) == ["disposisi.md", "disposisi.pdf"]

    text = pdf_text(docs(lab) / "disposisi.pdf")
    for expected in (
        *LETTERHEAD,
        *FACTS,
        "LEMBAR DISPOSISI",
        "555.1/001/Aptika-Diskominfotik/XI/2026",  # ticket HOST-2026-0001, month XI
        "Senin, 30 November 2026 pukul 08.00 WIB",  # received: step 1
        "30-11-2026 08.02",  # step 2 by the Kadis
        "kadis@diskominfotik.sumbarprov.go.id",
        "kabid@diskominfotik.sumbarprov.go.id",
    ):
        assert expected in text, expected
    assert a4_pages_with_ink(docs(lab) / "disposisi.pdf", tmp_path) >= 1

    result = sop(lab.repo, "report", RID, "--no-advance", "--document", "berita-acara")
    assert result.exit_code == 2
    assert (
        "Berita Acara Serah Terima belum dapat dibuat: langkah 8 (Tim Teknis melakukan "
        "hosting (VM, domain, server)) belum dicatat; permintaan kini menunggu langkah 6"
    ) in result.output


def test_hosting_and_handover_come_from_the_step_8_and_9_records(
    walk: Walk, site: LocalSite, tmp_path: Path
) -> None:
    lab = walk.lab
    walk.to_step_7(RID)  # step 7 signed at 10.20; the pipeline then hosts and reports
    records = walk.ws.ledgers.for_request(RID).records()
    assert [r.step for r in records if r.kind == "step"] == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    step_9 = last_step_record(records, 9)
    assert step_9 is not None

    first = sop(lab.repo, "report", RID, "--no-advance")
    assert first.exit_code == 0, first.output
    files = snapshot(docs(lab))
    assert sorted(files) == [
        "berita-acara-serah-terima.md",
        "berita-acara-serah-terima.pdf",
        "disposisi.md",
        "disposisi.pdf",
        "laporan-hasil-hosting.md",
        "laporan-hasil-hosting.pdf",
    ]
    # the rebuilt Laporan Hasil Hosting is byte for byte the one step 9 recorded
    md = hashlib.sha256(files["laporan-hasil-hosting.md"]).hexdigest()
    assert md == step_9.outputs["laporan-hasil-hosting.md"]

    hosting = pdf_text(docs(lab) / "laporan-hasil-hosting.pdf")
    for expected in (
        *LETTERHEAD,
        *FACTS,
        "LAPORAN HASIL HOSTING",
        "555.3/001/Aptika-Diskominfotik/XI/2026",
        "Senin, 30 November 2026 pukul 10.20 WIB",
        "simpus.sumbarprov.go.id",
        f"http://127.0.0.1:{site.port}/",
        str(site.process.pid),
        "Situs menjawab lewat namanya",
        f"HTTP 200 dari http://127.0.0.1:{site.port}/ (Host: simpus.sumbarprov.go.id)",
        "target SOP langkah 8: 1 hari kerja",
    ):
        assert expected in hosting, expected
    minutes = pdf_text(docs(lab) / "berita-acara-serah-terima.pdf")
    digest = hashlib.sha256(lab.request_file(RID).read_bytes()).hexdigest()
    for expected in (
        *LETTERHEAD,
        *FACTS[1:],  # the id is in the footer, hyphenated across lines: its sha256 is checked
        f"(sha256 {digest[:12]})",
        "BERITA ACARA SERAH TERIMA",
        "555.4/001/Aptika-Diskominfotik/XI/2026",
        "tiga puluh bulan November tahun dua ribu dua puluh enam",
        "PIHAK PERTAMA",
        "PIHAK KEDUA",
        "dr. Rina Marlina, M.Kes",
        "19820315 200901 2 003",
        "1 Desember 2026 s.d. 30 November 2027",  # hosting period
        "1 dari 1 berhasil",
    ):
        assert expected in minutes, expected
    for pdf in ("disposisi.pdf", "laporan-hasil-hosting.pdf", "berita-acara-serah-terima.pdf"):
        assert a4_pages_with_ink(docs(lab) / pdf, tmp_path) >= 1

    again = sop(lab.repo, "report", RID, "--no-advance")
    assert again.exit_code == 0, again.output
    assert snapshot(docs(lab)) == files  # same records, same bytes (PDF included)
    assert "laporan-hasil-hosting.md (sesuai catatan langkah 9, tidak diubah)" in again.output


def test_a_lost_hosting_report_is_rebuilt_only_as_recorded(walk: Walk) -> None:
    lab = walk.lab
    walk.to_step_7(RID)
    assert sop(lab.repo, "report", RID, "--no-advance").exit_code == 0
    recorded = (docs(lab) / "laporan-hasil-hosting.md").read_bytes()
    (docs(lab) / "laporan-hasil-hosting.md").unlink()
    result = sop(lab.repo, "report", RID, "--no-advance", "--document", "hasil-hosting")
    assert result.exit_code == 0, result.output
    assert (docs(lab) / "laporan-hasil-hosting.md").read_bytes() == recorded

    # the letterhead on main changes: the rebuilt report would differ from the recorded one
    lab.git("checkout", "-q", "main")
    department = lab.repo / "inventories" / "department.yaml"
    department.write_text(department.read_text().replace("phone: (0751) 000000", "phone: (0751) 1"))
    lab.git("commit", "-q", "-m", "kop surat: nomor telepon baru", "--", str(department))
    lab.git("checkout", "-q", "mr/request")
    (docs(lab) / "laporan-hasil-hosting.md").unlink()
    result = sop(lab.repo, "report", RID, "--no-advance", "--document", "hasil-hosting")
    assert result.exit_code == 5
    assert "tidak sama dengan yang dicatat pada langkah 9" in result.output
    assert "[report-mismatch]" in result.output
    assert not (docs(lab) / "laporan-hasil-hosting.md").exists()


def test_a_rejected_request_gets_its_disposition_and_no_hosting_document(walk: Walk) -> None:
    lab = walk.lab
    rid = "bpbd-peringatan-dini"
    walk.advance(rid, 20)
    walk.sign(rid, 2, "kadis", 21)
    walk.sign(rid, 3, "kabid", 22)
    walk.sign(rid, 4, "koordinator", 24, "complete")
    walk.sign(rid, 6, "teknis2", 60, evidence=walk.analyse(rid, 50))
    walk.sign(rid, 7, "kabid", 75, "reject", reason="Sudah tersedia di server daerah")
    result = sop(lab.repo, "report", rid, "--no-advance")
    assert result.exit_code == 0, result.output
    assert "records/reports/bpbd-peringatan-dini/disposisi.md" in result.output
    assert (
        "Laporan Hasil Hosting tidak dibuat: permintaan ditolak pada langkah 7 (Sudah tersedia "
        "di server daerah) [rejected]"
    ) in result.output
    result = sop(lab.repo, "report", rid, "--no-advance", "--document", "berita-acara")
    assert result.exit_code == 2 and "[rejected]" in result.output


def test_an_altered_ledger_or_request_file_writes_nothing(walk: Walk) -> None:
    lab = walk.lab
    walk.to_step_7(RID)
    ledger = lab.repo / "records" / f"{RID}.jsonl"
    original = ledger.read_bytes()
    ledger.write_bytes(original.replace(b"kabid@", b"kadis@", 1))
    result = sop(lab.repo, "report", RID, "--no-advance")
    assert result.exit_code == 5
    assert "buku catatan tidak utuh" in result.output and "diubah" in result.output
    assert not (docs(lab) / "disposisi.md").exists()
    ledger.write_bytes(original)

    request = lab.request_file(RID)
    request.write_text(request.read_text().replace("disk_gb: 40", "disk_gb: 60"))
    result = sop(lab.repo, "report", RID, "--no-advance")
    assert result.exit_code == 5
    assert "berkas permintaan berubah sejak dicatat" in result.output
    assert "[request-changed]" in result.output
    assert not (docs(lab) / "disposisi.md").exists()


def test_report_advances_the_signed_steps_10_to_12_first(lab: Lab, tmp_path: Path) -> None:
    """With --advance (the default) the real pipeline records what is signed, on the real
    clock: the walk happens in the last hours, then the Koordinator signs step 10."""
    start = datetime.now().astimezone() - timedelta(hours=4)
    site = LocalSite(tmp_path / "site", lambda: start)
    try:
        walk = Walk(lab, site)
        walk.clock.minutes = 0
        offset = int((start - at(0)).total_seconds() // 60)  # the walk in minutes from at(0)
        site.clock = walk.clock
        walk.to_step_7(RID, offset, decision_after=20)
    finally:
        site.stop()
    ledgers = walk.ws.ledgers
    assert state_of(ledgers, RID).next_step == 10
    walk.flow(RID).sign(10, "koordinator", datetime.now().astimezone() - timedelta(minutes=1))
    result = sop(lab.repo, "report", RID)
    assert result.exit_code == 0, result.output
    assert "langkah 10 dicatat" in result.output
    assert state_of(ledgers, RID).next_step == 11
    assert "records/reports/dinkes-simpus/berita-acara-serah-terima.pdf" in result.output


def test_json_lists_what_was_written_and_what_waits(walk: Walk) -> None:
    walk.advance(RID, 0)
    walk.sign(RID, 2, "kadis", 2)
    walk.sign(RID, 3, "kabid", 4)
    walk.sign(RID, 4, "koordinator", 6, "complete")
    result = CliRunner().invoke(
        main, ["--repo", str(walk.lab.repo), "report", RID, "--no-advance", "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["request_id"] == RID
    assert {Path(f["path"]).name for f in summary["files"]} == {"disposisi.md", "disposisi.pdf"}
    assert any("[missing-step-8]" in p for p in summary["pending"])
