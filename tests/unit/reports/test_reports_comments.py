"""Merge-request comments: the step-4 checklist, the step-6 summary, the signatures still due."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import report_samples as samples

from sop_pipeline.config import load_policy
from sop_pipeline.domain.rules import Problem
from sop_pipeline.loader import attachment_problems, check_request_bytes
from sop_pipeline.reports.comments import (
    CHECKLIST,
    LOGS_URL_PLACEHOLDER,
    analysis_comment,
    checklist_item,
    completeness_comment,
    signatures_comment,
)
from sop_pipeline.reports.model import Signature

REPO = samples.REPO
POLICY = load_policy(REPO / "inventories")


def _lines_marked(comment: str, mark: str) -> list[str]:
    return [line for line in comment.splitlines() if line.startswith(f"| {mark} |")]


def _problems_of(path: Path) -> list[Problem]:
    data, problems = check_request_bytes(path, path.read_bytes(), POLICY)
    if not problems:
        problems = attachment_problems(path, data)
    return problems


def test_a_complete_request_ticks_every_item() -> None:
    path = REPO / "requests" / "dinkes-simpus.yaml"
    comment = completeness_comment("dinkes-simpus", _problems_of(path), logs_url="https://ci/j/7")
    assert comment.startswith("<!-- sop-pipeline:kelengkapan:dinkes-simpus -->")
    assert "✅ **Lengkap**" in comment
    assert len(_lines_marked(comment, "✅")) == len(CHECKLIST)
    assert not _lines_marked(comment, "❌")
    assert comment.rstrip().endswith("[Log lengkap](https://ci/j/7)")


def test_problems_of_the_real_loader_land_on_their_items(tmp_path: Path) -> None:
    shutil.copytree(REPO / "requests", tmp_path / "requests")
    path = tmp_path / "requests" / "dinkes-simpus.yaml"
    text = path.read_text().replace("hostname: simpus", "hostname: www")
    text = text.replace("vcpu: 2", "vcpu: 64")
    path.write_text(text)
    comment = completeness_comment("dinkes-simpus", _problems_of(path))
    failed = _lines_marked(comment, "❌")
    assert [line.split(" | ")[1] for line in failed] == [
        "Nama domain (satu label di bawah zona dinas)",
        "Sumber daya VM dan kuota OPD",
    ]
    assert "www" in failed[0] and "baris " in failed[0]
    assert "❌ **Belum lengkap**: 2 butir" in comment
    assert f"[Log lengkap]({LOGS_URL_PLACEHOLDER})" in comment


def test_a_letter_that_does_not_match_its_sha256_fails_the_attachment_item(tmp_path: Path) -> None:
    shutil.copytree(REPO / "requests", tmp_path / "requests")
    letter = tmp_path / "requests" / "dinkes-simpus" / "surat-permintaan.pdf"
    letter.write_bytes(letter.read_bytes() + b"\n% diubah")
    comment = completeness_comment(
        "dinkes-simpus", _problems_of(tmp_path / "requests" / "dinkes-simpus.yaml")
    )
    (failed,) = _lines_marked(comment, "❌")
    assert "Berkas surat (PDF) terlampir dan sha256\\-nya cocok" not in failed  # not escaped so
    assert "Berkas surat (PDF) terlampir dan sha256-nya cocok" in failed
    assert "sha256 berkas surat adalah" in failed


def test_the_koordinators_notes_are_listed_and_values_escaped() -> None:
    hostile = Problem("pic.name", "x", "nama <img src=x onerror=alert(1)> | @all [a](b)", 5)
    comment = completeness_comment(
        "disdik-info-sekolah", [hostile], missing=["masa hosting pada surat permintaan"]
    )
    assert "| ❌ | Catatan Koordinator | masa hosting pada surat permintaan |" in comment
    row = next(line for line in comment.splitlines() if "Penanggung jawab" in line)
    assert "\\<img src=x onerror=alert(1)\\>" in row
    assert "\\| \\@all \\[a\\](b)" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 4  # still three cells


def test_checklist_items_by_field() -> None:
    assert CHECKLIST[checklist_item("letter.sha256")][0].startswith("Berkas surat")
    assert CHECKLIST[checklist_item("letter.number")][0].startswith("Surat permintaan")
    assert CHECKLIST[checklist_item("letter")][0].startswith("Surat permintaan")
    assert CHECKLIST[checklist_item("period.end")][0].startswith("Lingkungan")
    assert checklist_item("") == 0
    assert checklist_item("something_new") == 0


def test_analysis_comment_leads_with_the_verdict() -> None:
    comment = analysis_comment(
        samples.analysis_report(),
        report_url="https://git.example/records/reports/dinkes-simpus/laporan analisis.pdf",
        logs_url="https://ci/j/8",
    )
    assert "✅ **Dapat dilaksanakan** di node pve1, IP 10.20.130.21" in comment
    assert len(_lines_marked(comment, "✅")) == 6
    assert "laporan%20analisis.pdf" in comment
    assert "[Log lengkap](https://ci/j/8)" in comment
    report = samples.analysis_report()
    full = replace(report, result=replace(report.result, template_present=False))
    comment = analysis_comment(full)
    assert "❌ **Belum dapat dilaksanakan**: Templat sistem operasi." in comment


def test_signatures_after_the_decision() -> None:
    comment = signatures_comment(samples.simpus_state(through=7))
    assert "Status: berjalan; langkah berikut: 8. Tim Teknis." in comment
    assert "- Kepala Dinas: langkah 12" in comment
    assert "- Kabid Aptika: langkah 11" in comment
    assert "- Koordinator Helpdesk: langkah 10" in comment
    assert len(_lines_marked(comment, "✅")) == 5  # steps 2, 3, 4, 6, 7


def test_signatures_show_who_is_due_now_and_what_waits_to_be_recorded() -> None:
    state = samples.simpus_state(through=9)
    waiting = Signature(
        10, "koordinator@diskominfotik.sumbarprov.go.id", samples.at(150), "approve"
    )
    comment = signatures_comment(state, [waiting])
    assert "| 🖊️ | 10. Koordinator melaporkan" in comment
    assert "menunggu dicatat" in comment
    comment = signatures_comment(state)
    assert "| ⏳ | 10. Koordinator melaporkan" in comment
    assert "- Koordinator Helpdesk: langkah 10 (sekarang)" in comment


def test_signatures_of_a_returned_request_and_of_a_rejected_one() -> None:
    returned = samples.fold_returned_only()
    comment = signatures_comment(returned)
    assert "| ↩️ | 4. Koordinator memverifikasi" in comment
    assert "Kekurangan yang harus dilengkapi OPD: masa hosting pada surat permintaan" in comment
    comment = signatures_comment(samples.rejected_state())
    assert "| ⛔ | 7. Kabid memutuskan" in comment
    assert len(_lines_marked(comment, "➖")) == 3  # steps 10-12 not needed
    assert "Tidak ada tanda tangan yang masih ditunggu." in comment


def test_signatures_after_a_fix_ask_for_a_fresh_verification() -> None:
    from sop_pipeline.domain.state import Outcome, StepEvent, advance

    state = advance(samples.fold_returned_only(), StepEvent(4, Outcome.RESUBMIT, samples.at(200)))
    comment = signatures_comment(state)
    assert "| ⏳ | 4. Koordinator memverifikasi" in comment
    assert "- Koordinator Helpdesk: langkah 4 (sekarang), 10" in comment
