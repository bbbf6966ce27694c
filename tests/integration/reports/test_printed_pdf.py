"""The documents officials print (issue 15, part 4), read back from the real PDFs: the kop's
emblem is an image in every PDF (pdfimages) and in the HTML, the Disposisi is dated above
its signatures, an e-mail address never breaks across lines (pdftotext), "Tentatif" is
written out, technical words are explained, and the e-signature says what it is and is not."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
import report_samples as samples
from report_tools import require, require_weasyprint

from sop_pipeline.reports.model import Report
from sop_pipeline.reports.writer import write_reports

pytestmark = pytest.mark.integration

EMBLEM_SIZE = ("240", "280")  # inventories/lambang-contoh.png, width x height


def _lines(pdf: Path) -> list[str]:
    out = subprocess.run(
        [require("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, check=True
    )
    return out.stdout.decode().splitlines()


def _text(pdf: Path) -> str:
    """The text in reading order (no -layout: a table cell's lines stay together)."""
    out = subprocess.run([require("pdftotext"), str(pdf), "-"], capture_output=True, check=True)
    return " ".join(out.stdout.decode().split())


def _images(pdf: Path) -> list[list[str]]:
    out = subprocess.run([require("pdfimages"), "-list", str(pdf)], capture_output=True, check=True)
    return [line.split() for line in out.stdout.decode().splitlines()[2:] if line.strip()]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Path]]:
    require_weasyprint()
    out = tmp_path_factory.mktemp("print")
    department = samples.department()
    reports: dict[str, Report] = samples.all_reports()  # type: ignore[assignment]
    return {
        kind: write_reports(report, out, department=department, formats=("html", "pdf"))
        for kind, report in reports.items()
    }


@pytest.mark.parametrize(
    "kind", ["disposisi", "analisis", "hasil_hosting", "berita_acara", "kegiatan"]
)
def test_every_document_carries_the_emblem(kind: str, written: dict[str, list[Path]]) -> None:
    html, pdf = written[kind]
    assert html.read_text().count('<img class="emblem" src="data:image/png;base64,') == 1
    images = [row for row in _images(pdf) if row[2] == "image"]
    assert [(row[0], row[3], row[4]) for row in images] == [("1", *EMBLEM_SIZE)], images


def test_the_disposition_is_dated_above_its_signatures(written: dict[str, list[Path]]) -> None:
    _, pdf = written["disposisi"]
    lines = _lines(pdf)
    dated = next(i for i, line in enumerate(lines) if "Padang, 30 November 2026" in line)
    title = next(i for i, line in enumerate(lines) if "Kepala Dinas Komunikasi" in line)
    assert dated < title
    text = _text(pdf)
    assert "Ditandatangani secara elektronik dengan kunci SSH (SSHSIG)" in text
    assert samples.KEYS[samples.KADIS] in text.replace(" ", "")
    assert "bukan tanda tangan elektronik tersertifikasi" in text
    assert "ruang di atas untuk tanda tangan basah" in text


def test_tentative_targets_are_written_out(written: dict[str, list[Path]]) -> None:
    text = _text(written["kegiatan"][1])
    assert "Tentatif (tidak ada batas waktu baku)" in text
    assert "target tentatif, tidak dinilai" in text


def test_technical_words_are_explained(written: dict[str, list[Path]]) -> None:
    text = _text(written["hasil_hosting"][1])
    assert "PHP (PHP-FPM di belakang nginx)" in text  # the sample's stack: php
    assert "Keterangan Istilah" in text
    assert "VMID : nomor mesin virtual di Proxmox" in text
    analysis = _text(written["analisis"][1])
    assert "Rencana Terraform: 1 dibuat, 0 diubah, 0 dihapus." in analysis
    assert "to destroy" not in analysis


def test_an_email_address_never_breaks_across_lines(tmp_path: Path) -> None:
    require_weasyprint()
    email = "penanggung.jawab.sistem.informasi.puskesmas@dinkes.sumbarprov.go.id"
    # the address at eight places along the lines of a justified field, after fillers of
    # growing length: without nowrap at least one of them is cut at a line end
    purpose = " ".join(f"{'kata ' * n}hubungi {email}" for n in range(8))
    facts = samples.facts()
    request = replace(
        facts,
        pic=replace(facts.pic, email=email),
        application=replace(facts.application, purpose=purpose),
    )
    (pdf,) = write_reports(
        samples.analysis_report(request), tmp_path, department=samples.department(),
        formats=["pdf"],
    )  # fmt: skip
    lines = _lines(pdf)
    purpose_lines = [line for line in lines if "hubungi" in line]
    assert len(purpose_lines) >= 4  # the field did wrap, over several lines
    whole = sum(line.count(email) for line in lines)
    assert whole == 9, [line for line in lines if "penanggung" in line or "sumbarprov" in line]
