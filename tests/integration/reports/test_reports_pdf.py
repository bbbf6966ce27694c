"""Every report rendered to A4 PDF by WeasyPrint, turned into PNG pages by pdftoppm and into
text by pdftotext: the pages exist at A4 size, carry ink, and the request's facts are there."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import report_samples as samples
from report_tools import require, require_weasyprint

from sop_pipeline.reports.model import Report
from sop_pipeline.reports.pdf import html_to_pdf
from sop_pipeline.reports.writer import write_reports

pytestmark = pytest.mark.integration

DPI = 60
A4_PX = (round(210 / 25.4 * DPI), round(297 / 25.4 * DPI))  # (496, 702)
COMMON = (
    "PEMERINTAH PROVINSI SUMATERA BARAT",
    "DINAS KOMUNIKASI, INFORMATIKA DAN STATISTIK",
    "Padang",
    "Halaman 1 dari",
)
EXPECTED = {
    "disposisi": (
        "LEMBAR DISPOSISI",
        "555.1/012/Aptika-Diskominfotik/XI/2026",
        "Senin, 30 November 2026 pukul 08.00 WIB",
        "440/1123/Dinkes-2026",
        "kadis@diskominfotik.sumbarprov.go.id",
    ),
    "analisis": (
        "LAPORAN ANALISIS TEKNIS",
        "555.2/012/Aptika-Diskominfotik/XI/2026",
        "Senin, 30 November 2026 pukul 09.00 WIB",
        "10.20.130.21",
        "DAPAT DILAKSANAKAN",
    ),
    "hasil_hosting": (
        "LAPORAN HASIL HOSTING",
        "555.3/012/Aptika-Diskominfotik/XI/2026",
        "simpus.sumbarprov.go.id",
        "10001",
        "Rekaman DNS PTR",
    ),
    "berita_acara": (
        "BERITA ACARA SERAH TERIMA",
        "555.4/012/Aptika-Diskominfotik/XI/2026",
        "tiga puluh bulan November tahun dua ribu dua puluh enam",
        "PIHAK PERTAMA",
        "19820315 200901 2 003",
    ),
    "kegiatan": (
        "LAPORAN KEGIATAN",
        "555.5/011/Aptika-Diskominfotik/XI/2026",
        "dinkes-simpus",
        "bpbd-peringatan-dini",
        "LEWAT target",
    ),
}


def _text(pdf: Path) -> str:
    out = subprocess.run(
        [require("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, check=True
    )
    return " ".join(out.stdout.decode().split())  # words joined across line breaks


def _pages(pdf: Path, out_dir: Path) -> list[Path]:
    prefix = out_dir / pdf.stem
    subprocess.run([require("pdftoppm"), "-png", "-r", str(DPI), str(pdf), str(prefix)], check=True)
    return sorted(out_dir.glob(f"{pdf.stem}-*.png"))


def _ink(png: Path) -> float:
    """Share of pixels that are not white (a blank page has none)."""
    from PIL import Image  # Pillow comes with WeasyPrint

    with Image.open(png) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
    return sum(histogram[:200]) / sum(histogram)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    require_weasyprint()
    out = tmp_path_factory.mktemp("reports")
    department = samples.department()
    reports: dict[str, Report] = samples.all_reports()  # type: ignore[assignment]
    return {
        kind: write_reports(report, out, department=department) for kind, report in reports.items()
    }


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_pdf_has_the_text_and_printable_pages(
    kind: str, written: dict[str, list[Path]], tmp_path: Path
) -> None:
    md, pdf = written[kind]
    assert md.suffix == ".md" and pdf.suffix == ".pdf"
    assert pdf.read_bytes().startswith(b"%PDF-")
    text = _text(pdf)
    for expected in (*COMMON, *EXPECTED[kind]):
        assert expected in text, f"{expected!r} not in {pdf.name}"
    pages = _pages(pdf, tmp_path)
    assert 1 <= len(pages) <= 4, pages
    from PIL import Image

    for page in pages:
        with Image.open(page) as image:
            assert abs(image.width - A4_PX[0]) <= 2 and abs(image.height - A4_PX[1]) <= 2
        assert page.stat().st_size > 5_000
    assert _ink(pages[0]) > 0.01  # letterhead, title and text: not a blank page


def test_request_file_names(written: dict[str, list[Path]]) -> None:
    names = {
        kind: [p.relative_to(p.parents[1]).as_posix() for p in paths]
        for kind, paths in written.items()
    }
    assert names["hasil_hosting"] == [
        "dinkes-simpus/laporan-hasil-hosting.md",
        "dinkes-simpus/laporan-hasil-hosting.pdf",
    ]
    assert names["kegiatan"][1] == "_kegiatan/laporan-kegiatan-2026-11-01_2026-11-30.pdf"


def test_a_hostile_value_prints_as_text(tmp_path: Path) -> None:
    require_weasyprint()
    hostile = "<script>alert(1)</script><b>tebal</b>"
    facts = samples.facts()
    request = replace(facts, application=replace(facts.application, name=hostile))
    (pdf,) = write_reports(
        samples.hosting_report(request), tmp_path, department=samples.department(), formats=["pdf"]
    )
    assert "<script>alert(1)</script><b>tebal</b>" in _text(pdf)


def test_the_renderer_loads_no_file_or_url(tmp_path: Path) -> None:
    """A stylesheet or image reference never reaches the disk (nor the network)."""
    require_weasyprint()
    import weasyprint

    css = tmp_path / "leak.css"
    css.write_text('p::after { content: "BOCOR-DARI-BERKAS"; }')
    html = (
        f'<html><head><link rel="stylesheet" href="{css.as_uri()}"></head>'
        "<body><p>isi</p></body></html>"
    )
    default = tmp_path / "default.pdf"
    default.write_bytes(weasyprint.HTML(string=html).write_pdf())
    assert "BOCOR-DARI-BERKAS" in _text(default)  # WeasyPrint alone would load it
    ours = tmp_path / "ours.pdf"
    ours.write_bytes(html_to_pdf(html))
    text = _text(ours)
    assert "isi" in text and "BOCOR-DARI-BERKAS" not in text
