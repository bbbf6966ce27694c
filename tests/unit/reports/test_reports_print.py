"""Pure parts of the printed documents: glossary, plain Terraform wording, "Tentatif" written
out, e-mail addresses kept whole in HTML."""

from __future__ import annotations

import report_samples as samples

from sop_pipeline.reports.documents import TENTATIVE, build, target_text
from sop_pipeline.reports.escape import h_text
from sop_pipeline.reports.glossary import GLOSSARY, HEADING, plain, terms_used
from sop_pipeline.reports.html import render_html
from sop_pipeline.reports.markdown import render_markdown

DEPT = samples.department()


def test_the_glossary_lists_only_the_words_a_document_uses() -> None:
    doc = build(DEPT, samples.hosting_report())
    used = terms_used(doc)
    assert {"VMID", "vCPU", "DNS", "Proxmox"} <= set(used)
    assert "drift" not in used and "staging" not in used
    md = render_markdown(doc)
    assert f"## {HEADING}" in md
    assert f"**VMID:** {GLOSSARY['VMID']}" in md
    assert md.index(f"## {HEADING}") > md.index("NIP.")  # after the signatures


def test_terraform_plan_lines_read_in_indonesian() -> None:
    assert plain("Plan: 1 to add, 0 to change, 0 to destroy.") == (
        "Rencana Terraform: 1 dibuat, 0 diubah, 0 dihapus."
    )
    assert plain("No changes. Your infrastructure matches the configuration.").startswith(
        "Rencana Terraform: tidak ada perubahan"
    )
    assert plain("apa adanya") == "apa adanya"


def test_tentative_is_written_out() -> None:
    assert target_text("Tentatif") == TENTATIVE == "Tentatif (tidak ada batas waktu baku)"
    assert target_text("30 menit") == "30 menit"
    md = render_markdown(build(DEPT, samples.activity_report()))
    assert "| Tentatif (tidak ada batas waktu baku) |" in md
    assert "| Tentatif |" not in md


def test_email_addresses_are_kept_on_one_line_in_html() -> None:
    assert h_text("Kontak a.b@x.go.id, <c@d.id>") == (
        'Kontak <span class="nobr">a.b@x.go.id</span>, &lt;<span class="nobr">c@d.id</span>&gt;'
    )
    html = render_html(build(DEPT, samples.disposition()))
    assert '<span class="nobr">kadis@diskominfotik.sumbarprov.go.id</span>' in html
    assert ".nobr { white-space: nowrap; }" in html
