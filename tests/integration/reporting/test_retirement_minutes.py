"""The Berita Acara Penghentian Layanan (step 9 of a retirement cycle) renders to Markdown and
PDF (WeasyPrint), and its text, read back with pdftotext, says what the retirement did."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest
from report_tools import require_weasyprint
from reporting_walk import pdf_text

from sop_pipeline.config import load_policy
from sop_pipeline.loader import load_request
from sop_pipeline.reports.department import load_department
from sop_pipeline.reports.retirement import RetirementMinutes, write_minutes

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def test_berita_acara_penghentian_renders_to_pdf(tmp_path: Path) -> None:
    require_weasyprint()
    loaded = load_request(
        ROOT / "requests" / "dinkes-simpus.yaml", policy=load_policy(ROOT / "inventories")
    )
    facts = dataclasses.replace(loaded.request, kind="pensiun")
    minutes = RetirementMinutes(
        request=facts,
        sequence=7,
        issued=datetime(2026, 12, 7, 3, 0, tzinfo=UTC),
        vmid=1000,
        node="pve1",
        ip_address="10.99.0.100",
        phases={
            "backup": {
                "volid": "backup:backup/vzdump-qemu-1000-2026_12_07-10_00_00.tar.zst",
                "size": 123456,
                "protected": True,
            },
            "restore_check": {"ok": True, "method": "arsip dibuka, disk diperiksa"},
            "unprotect": {"present": True},
            "destroy": {"absent": True},
            "dns": {"gone": True},
            "quarantine": {"until": "2027-01-06T03:00:00+00:00", "days": 30},
        },
    )
    paths = write_minutes(minutes, tmp_path, department=load_department(ROOT / "inventories"))
    assert [p.suffix for p in paths] == [".md", ".pdf"]
    text = pdf_text(paths[1])
    assert "BERITA ACARA PENGHENTIAN LAYANAN" in text.upper(), text[:400]
    for wanted in (
        "telah DIHENTIKAN",
        "VMID 1000 pada node pve1",
        "vzdump-qemu-1000-2026_12_07-10_00_00.tar.zst",
        "dilindungi dari pemangkasan",
        "Uji pemulihan berhasil",
        f"{facts.fqdn} dihapus",
        "6 Januari 2027 (30 hari)",
        "dua pejabat yang berbeda",
    ):
        assert wanted in text, (wanted, text)
    assert "Berita Acara Penghentian Layanan" in paths[0].read_text()
    print(f"berita acara penghentian: {paths[1].stat().st_size} bytes PDF, text checked")
