"""Each document in Markdown and HTML: the request's facts, numbering, Indonesian dates,
signature blocks, and escaping of hostile request values."""

from __future__ import annotations

import base64
import os
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
import report_samples as samples

from sop_pipeline.domain.request import Request
from sop_pipeline.reports.document import Document, Heading
from sop_pipeline.reports.documents import build
from sop_pipeline.reports.html import render_html
from sop_pipeline.reports.markdown import render_markdown
from sop_pipeline.reports.model import Report
from sop_pipeline.reports.writer import render, write_reports

DEPT = samples.department()
FACTS = samples.facts()
HOSTILE = (
    "<script>alert(1)</script><img src=file:///etc/passwd> **tebal** [klik](javascript:alert(1))"
    " @all #1 !2 | sel | ~~coret~~ `kode` $x$ :smile: &amp;\n# Judul palsu\n- butir palsu"
)
#: The tags our HTML renderer writes; a request value must never add another.
OUR_TAGS = {
    "html", "head", "meta", "title", "style", "body", "div", "header", "h1", "h2", "p",
    "table", "colgroup", "col", "thead", "tbody", "tr", "th", "td", "strong", "ol", "ul", "li",
}  # fmt: skip


#: The class attributes our HTML renderer writes.
HTML_CLASSES = {
    "footer-text", "kop", "kop-rule", "gov", "agency", "contact", "emblem", "subtitle",
    "number", "fields", "label", "colon", "grid", "marked", "note", "signatures", "head",
    "space", "who", "sig-name", "sig-e", "sig-dated", "nobr",
}  # fmt: skip


def _reports(request: Request = FACTS) -> dict[str, Report]:
    return samples.all_reports(request)  # type: ignore[return-value]


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


@pytest.mark.parametrize("kind", ["disposisi", "analisis", "hasil_hosting", "berita_acara"])
def test_request_documents_carry_the_facts(kind: str) -> None:
    report = _reports()[kind]
    for text in (render_markdown(build(DEPT, report)), render_html(build(DEPT, report))):
        assert "PEMERINTAH PROVINSI SUMATERA BARAT" in text
        assert "DINAS KOMUNIKASI, INFORMATIKA DAN STATISTIK" in text
        assert "SIMPUS" in text
        assert "dinkes-simpus" in text
        assert "Dinas Kesehatan Provinsi Sumatera Barat" in text
        assert "/012/Aptika-Diskominfotik/XI/2026" in text  # sequence 12, November 2026
        assert "30 November 2026" in text or (
            "tanggal tiga puluh bulan November tahun dua ribu dua puluh enam" in text
        )
        # signature blocks, with the officials of department.yaml
        assert "NIP. " in text
        assert re.search(r"(Saputra|Fitriani|Hidayat|Anggraini|Kurniawan)", text)


def test_titles_and_numbers_per_document() -> None:
    expected = {
        "disposisi": ("Lembar Disposisi", "555.1/012/"),
        "analisis": ("Laporan Analisis Teknis", "555.2/012/"),
        "hasil_hosting": ("Laporan Hasil Hosting", "555.3/012/"),
        "berita_acara": ("Berita Acara Serah Terima", "555.4/012/"),
        "kegiatan": ("Laporan Kegiatan", "555.5/011/"),
    }
    for kind, report in _reports().items():
        doc = build(DEPT, report)
        title, prefix = expected[kind]
        assert doc.title == title
        assert doc.number.startswith(prefix)
        md = render_markdown(doc)
        assert f"# {title}" in md
        assert f"Nomor: {doc.number}" in md
        assert doc.number in doc.footer


def test_disposition_shows_both_dispositions_and_their_signers() -> None:
    md = render_markdown(build(DEPT, samples.disposition()))
    assert "Senin, 30 November 2026 pukul 08.00 WIB" in md  # received: step 1
    assert "kadis\\@diskominfotik.sumbarprov.go.id" in md
    assert "kabid\\@diskominfotik.sumbarprov.go.id" in md
    assert "30-11-2026 08.02" in md and "30-11-2026 08.04" in md
    assert "440/1123/Dinkes-2026" in md
    assert "Ditandatangani secara elektronik dengan kunci SSH (SSHSIG)" in md
    assert "sidik jari kunci " + samples.KEYS[samples.KADIS].replace(":", "\\:") in md
    assert "bukan tanda tangan elektronik tersertifikasi" in md
    assert "ruang di atas untuk tanda tangan basah" in md
    # the place and date of signing, above the signatures (issued at step 3, WIB)
    signatures = md.split("## Ringkasan Permintaan")[1]
    assert "\nPadang, 30 November 2026\n" in signatures
    assert signatures.index("Padang, 30 November 2026") < signatures.index("Kepala Dinas")


def test_disposition_before_step_3_says_so() -> None:
    from sop_pipeline.reports.model import disposition_entries

    early = replace(samples.disposition(), entries=disposition_entries(samples.simpus_state(2)))
    md = render_markdown(build(DEPT, early))
    assert "| 3 | Kabid Aptika | Koordinator Helpdesk |" in md
    assert "| belum |" in md


def test_analysis_report_lists_every_check_and_the_conclusion() -> None:
    md = render_markdown(build(DEPT, samples.analysis_report()))
    for text in (
        "Kapasitas node Proxmox",
        "Kuota OPD DINKES",
        "10.20.130.21 dari pool production 10.20.130.0/24",
        "simpus.sumbarprov.go.id belum dipakai",
        "debian-12-cloudinit tersedia",
        "Rencana Terraform: 1 dibuat, 0 diubah, 0 dihapus.",
        "| pve3 | tidak aktif |",
        "DAPAT DILAKSANAKAN",
        "Senin, 30 November 2026 pukul 09.00 WIB",
    ):
        assert text in md


def test_analysis_report_says_why_not_when_a_check_fails() -> None:
    report = samples.analysis_report()
    full = replace(report, result=replace(report.result, dns_name_free=False, ip_address=None))
    md = render_markdown(build(DEPT, full))
    assert "BELUM DAPAT DILAKSANAKAN" in md
    assert "Alamat IP bebas, Nama DNS" in md
    assert "**| 3 | Alamat IP bebas | Tidak memenuhi |" not in md  # marked rows are bold cells
    assert "| **3** | **Alamat IP bebas** | **Tidak memenuhi** |" in md


def test_the_not_yet_conclusion_keeps_its_spaces_and_no_stray_escape() -> None:
    """Issue 17: it rendered as "ini**BELUM DAPAT DILAKSANAKAN**karena ... memenuhi\\:"."""
    report = samples.analysis_report()
    full = replace(report, result=replace(report.result, dns_name_free=False, ip_address=None))
    md = render_markdown(build(DEPT, full))
    assert (
        "Berdasarkan hasil analisis di atas, permintaan hosting ini **BELUM DAPAT "
        "DILAKSANAKAN** karena aspek berikut tidak memenuhi: Alamat IP bebas, Nama DNS. "
        "Laporan ini disampaikan kepada Koordinator"
    ) in md
    html = _markdown_to_html(md)
    assert (
        "permintaan hosting ini <strong>BELUM DAPAT DILAKSANAKAN</strong> karena aspek "
        "berikut tidak memenuhi: Alamat IP bebas, Nama DNS."
    ) in html


def test_hosting_report_has_vm_address_name_stack_and_checks() -> None:
    md = render_markdown(build(DEPT, samples.hosting_report()))
    for text in (
        "Mesin virtual (VMID):** 10001",
        "Node Proxmox:** pve1",
        "Alamat IP:** 10.20.130.21",
        "Nama domain:** simpus.sumbarprov.go.id",
        "PHP (PHP-FPM di belakang nginx)",
        "Situs menjawab lewat namanya (HTTP) | Berhasil",
        "Rekaman DNS PTR | Berhasil",
        "Pengerasan SSH | Berhasil",
        "Firewall | Berhasil",
        "Layanan telah aktif",
    ):
        assert text in md


def test_hosting_report_with_a_failed_check_is_not_handed_over() -> None:
    md = render_markdown(build(DEPT, samples.hosting_report(ok=False)))
    assert "| **1** | **Situs menjawab lewat namanya (HTTP)** | **Gagal** |" in md
    assert "belum dapat diserahterimakan" in md


def test_handover_minutes_open_with_the_date_in_words_and_name_both_parties() -> None:
    md = render_markdown(build(DEPT, samples.handover()))
    assert "hari Senin tanggal tiga puluh bulan November tahun dua ribu dua puluh enam" in md
    assert "PIHAK PERTAMA" in md and "PIHAK KEDUA" in md
    assert "dr. Rina Marlina, M.Kes" in md
    assert "19820315 200901 2 003" in md  # the PIC's NIP, grouped
    assert "Mengetahui," in md
    assert "1 Desember 2026 s.d. 30 November 2027" in md


def test_activity_report_lists_every_request_and_every_breach() -> None:
    report = samples.activity_report()
    md = render_markdown(build(DEPT, report))
    for rid in ("dinkes-simpus", "disdik-info-sekolah", "bpbd-peringatan-dini"):
        assert "## B." in md and rid in md
    assert "Periode 1 November 2026 s.d. 30 November 2026" in md
    # step 7 of dinkes-simpus took 45 working minutes against 30: a breach, listed in C.
    assert "| **7** | **Kabid Aptika** |" in md
    assert "**45 menit** | **30 menit** | **disetujui; LEWAT target" in md
    breaches = md.split("## C.")[1]
    assert "| dinkes-simpus | 7\\. Kabid memutuskan" in breaches
    assert len(report.breaches) >= 1
    assert "Layanan internal BPBD sudah tersedia di server daerah" in md  # rejection reason
    assert "Waktu di OPD (jam berhenti)" in md  # the returned request's paused time
    assert "| 4 (ke-2) |" in md  # the fresh verification after the fix


def test_rendering_is_deterministic() -> None:
    for report in _reports().values():
        doc = build(DEPT, report)
        assert render_markdown(doc) == render_markdown(build(DEPT, report))
        assert render_html(doc) == render_html(build(DEPT, report))


# ---------------------------------------------------------------------------- escaping


def _hostile_request() -> Request:
    return replace(
        FACTS,
        application=replace(FACTS.application, name=HOSTILE, purpose=HOSTILE),
        pic=replace(FACTS.pic, name=HOSTILE),
        opd=replace(FACTS.opd, name=HOSTILE),
        letter=replace(FACTS.letter, number=HOSTILE),
    )


@pytest.mark.parametrize("kind", ["disposisi", "analisis", "hasil_hosting", "berita_acara"])
def test_hostile_values_stay_text_in_html(kind: str) -> None:
    html = render_html(build(DEPT, _reports(_hostile_request())[kind]))
    parsed = _parse(html)
    assert parsed.tags <= OUR_TAGS | {"span", "img"}, parsed.tags - OUR_TAGS
    # the one image is the kop's emblem, embedded; spans only keep e-mail addresses whole
    assert html.count("<img") == 1
    assert [v for name, v in parsed.attrs if name == "src"] == [
        "data:image/png;base64," + base64.b64encode(DEPT.emblem.data).decode()  # type: ignore[union-attr]
    ]
    assert not any(name in ("href", "onerror") for name, _ in parsed.attrs)
    assert {v for name, v in parsed.attrs if name == "class"} <= HTML_CLASSES
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" in "".join(parsed.text)  # shown as text, verbatim


def _markdown_to_html(md: str) -> str:
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("markdown-it-py is missing: pip install markdown-it-py (test extra)")
        pytest.skip("markdown-it-py not installed")
    return str(MarkdownIt("commonmark", {"html": True}).enable("table").render(md))


@pytest.mark.parametrize("kind", ["disposisi", "analisis", "hasil_hosting", "berita_acara"])
def test_hostile_values_stay_text_in_markdown(kind: str) -> None:
    doc: Document = build(DEPT, _reports(_hostile_request())[kind])
    md = render_markdown(doc)
    assert "# Judul palsu" not in md.replace("\\# Judul palsu", "")
    assert not any(line.startswith(("- butir", "# Judul")) for line in md.splitlines())
    html = _markdown_to_html(md)
    parsed = _parse(html)
    # A CommonMark renderer (raw HTML on, as GitLab/GitHub allow some) makes no script,
    # image, link, strikethrough or extra heading out of the value.
    assert not parsed.tags & {"script", "img", "a", "del", "s", "code", "h3"}
    assert html.count("<h1>") == 1  # the title only
    assert html.count("<h2>") == sum(isinstance(b, Heading) for b in doc.blocks)
    assert "<li>butir palsu" not in html
    assert "<script>alert(1)</script>" in "".join(parsed.text)
    assert "**tebal**" in "".join(parsed.text)
    # the table keeps its columns: a "|" in a value does not open a cell
    for table_html in html.split("<table>")[1:]:
        rows = table_html.split("</table>")[0].split("<tr>")[1:]
        widths = {row.count("<td>") + row.count("<th>") for row in rows}
        assert len(widths) == 1, widths


def test_write_reports_writes_markdown_and_html(tmp_path: Path) -> None:
    paths = write_reports(
        samples.hosting_report(), tmp_path, department=DEPT, formats=("md", "html")
    )
    assert paths == [
        tmp_path / "dinkes-simpus" / "laporan-hasil-hosting.md",
        tmp_path / "dinkes-simpus" / "laporan-hasil-hosting.html",
    ]
    assert "LAPORAN HASIL HOSTING" in paths[1].read_text().upper()
    assert paths[0].read_bytes() == render(samples.hosting_report(), DEPT, "md")
    assert not list(tmp_path.rglob("*.tmp"))


def test_write_reports_puts_the_activity_report_under_the_period(tmp_path: Path) -> None:
    (path,) = write_reports(samples.activity_report(), tmp_path, department=DEPT, formats=["md"])
    assert path == tmp_path / "_kegiatan" / "laporan-kegiatan-2026-11-01_2026-11-30.md"


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="docx"):
        write_reports(samples.hosting_report(), tmp_path, department=DEPT, formats=["docx"])


OVERRIDE = "Kuota OPD dilampaui 1 vCPU; disetujui untuk layanan darurat kesehatan"


def test_an_override_is_shown_in_the_hosting_report_and_the_laporan_kegiatan() -> None:
    plain = render_markdown(build(DEPT, samples.hosting_report()))
    assert "Pengecualian" not in plain
    md = render_markdown(build(DEPT, replace(samples.hosting_report(), override=OVERRIDE)))
    assert "BELUM DAPAT DILAKSANAKAN" in md and OVERRIDE.split(";")[0] in md
    report = samples.activity_report()
    entries = (replace(report.entries[0], override=OVERRIDE), *report.entries[1:])
    md = render_markdown(build(DEPT, replace(report, entries=entries)))
    assert "Pengecualian (analisis BELUM DAPAT DILAKSANAKAN)" in md
    assert OVERRIDE.split(";")[0] in md


def test_activity_report_counts_drift_runs_only_when_there_were_some() -> None:
    import dataclasses

    report = samples.activity_report()
    without = render_markdown(build(DEPT, report))
    assert "drift" not in without  # a period with no sop drift run renders as before
    with_drift = render_markdown(build(DEPT, dataclasses.replace(report, drift=(30, 2, 1, 3))))
    assert "Pemeriksaan drift (sop drift) | 30" in with_drift
    assert "Pemeriksaan drift yang menemukan perbedaan | 2" in with_drift
    assert "yang gagal (tanpa kesimpulan) | 1" in with_drift
    assert "Hosting yang mengalami drift | 3" in with_drift


def test_laporan_drift_lists_items_checks_and_never_calls_a_failure_no_drift() -> None:
    from sop_pipeline.domain.drift import DriftItem, DriftReport
    from sop_pipeline.reports.drift import DriftRun, drift_document

    item = DriftItem("dinkes-simpus", "proxmox", "vm/1000", "memory_mb", "4096", "8192", "changed")
    hostile = DriftItem("unowned", "dns", "A x.", "", None, "**<b>x</b>**", "unmanaged")
    ok = DriftReport((item, hostile), {"dns": "ok", "proxmox": "ok"}, ("dinkes-simpus",))
    md = render_markdown(drift_document(DEPT, DriftRun(ok, samples.at(10), 4, "lab")))
    assert "LAPORAN DRIFT" in md and "555.6/004/" in md
    assert "vm/1000 (memory\\_mb)" in md and "8192" in md and "tanpa pemilik" in md
    assert "<b>" not in md  # values are escaped like every report's
    assert "Ada drift" in md
    failed = DriftReport((), {"dns": "gagal: tidak menjawab", "proxmox": "ok"}, ("x",))
    md = render_markdown(drift_document(DEPT, DriftRun(failed, samples.at(10), 5, "lab")))
    assert "Pemeriksaan gagal" in md and "Tidak ada drift" not in md
