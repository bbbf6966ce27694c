"""`sop comment ID` over a real Git repository and real signatures: what the MR shows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner

from sop_pipeline.cli.main import main
from sop_pipeline.demo.officials import Lab, RequestFlow
from sop_pipeline.demo.scenario import publish_base

pytestmark = pytest.mark.integration

LOGS = "https://gitlab.example.invalid/job/42"


@pytest.fixture
def lab(lab: Lab) -> Lab:
    publish_base(lab)
    return lab


def comment(lab: Lab, request_id: str) -> str:
    args = ["--repo", str(lab.repo), "comment", request_id, "--logs-url", LOGS]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_new_request_is_complete_and_waits_for_the_kadis(lab: Lab) -> None:
    CliRunner().invoke(main, ["--repo", str(lab.repo), "run", "dinkes-simpus"])
    text = comment(lab, "dinkes-simpus")
    assert "<!-- sop-pipeline:kelengkapan:dinkes-simpus -->" in text
    assert "✅ **Lengkap**" in text
    assert "**Masih harus menandatangani:**" in text
    assert "- Kepala Dinas: langkah 2 (sekarang), 12" in text
    assert text.count(LOGS) == 2  # each part links to the full logs
    assert "Analisis teknis" not in text  # `sop analyze` has not run


def test_a_signature_not_yet_recorded_shows_as_signed(lab: Lab) -> None:
    CliRunner().invoke(main, ["--repo", str(lab.repo), "run", "dinkes-simpus"])
    flow = RequestFlow(lab, "dinkes-simpus", records=lab.repo / "records")
    flow.sign(2, "kadis", datetime.now().astimezone() - timedelta(minutes=1))
    text = comment(lab, "dinkes-simpus")
    assert "🖊️ | 2." in text and "sudah ditandatangani kadis" in text
    assert "menunggu dicatat" in text


def test_a_broken_request_gets_the_checklist_with_what_to_fix(lab: Lab) -> None:
    path = lab.request_file("dinkes-simpus")
    path.write_text(path.read_text().replace("vcpu: 2", "vcpu: 64"))
    text = comment(lab, "dinkes-simpus")
    assert "❌ **Belum lengkap**: 1 butir" in text
    assert "| ❌ | Sumber daya VM dan kuota OPD |" in text
    assert "64" in text
