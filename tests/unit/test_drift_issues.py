"""The GitLab issue files of `sop drift --issues-dir`: state per hosting, escaped text."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from sop_pipeline.domain.drift import UNOWNED, DriftItem, DriftReport
from sop_pipeline.reports.drift import DriftRun
from sop_pipeline.reports.drift_issues import drift_issues, write_drift_issues

AT = datetime(2026, 12, 4, 19, 17, tzinfo=UTC)
HOSTILE = "1.2.3.4 | kolom\n## judul <script>alert(1)</script> [x](javascript:1)"


def run(items: list[DriftItem], checks: dict[str, str], only: str | None = None) -> DriftRun:
    report = DriftReport(tuple(items), checks, ("dinkes-simpus", "disdik-ppdb"))
    return DriftRun(report, AT, 3, environment="lab", only=only)


def test_open_close_and_keep_per_hosting(tmp_path: Path) -> None:
    item = DriftItem("dinkes-simpus", "dns", "A simpus.", "address", "10.0.0.1", HOSTILE, "changed")
    foreign = DriftItem(UNOWNED, "proxmox", "vm/1500", "", None, "buatan-tangan", "unmanaged")
    checks = {"dns": "ok", "ansible:dinkes-simpus": "ok", "ansible:disdik-ppdb": "gagal: x"}
    issues = {i.key: i for i in drift_issues(run([item, foreign], checks), "laporan-drift-1")}
    assert {k: i.state for k, i in issues.items()} == {
        "dinkes-simpus": "open",
        "disdik-ppdb": "keep",  # its check failed: no verdict, the issue stays as it is
        "_tanpa-pemilik": "open",
    }
    body = issues["dinkes-simpus"].body
    table = [line for line in body.splitlines() if line.startswith("| DNS")]
    assert len(table) == 1 and table[0].count(" | ") == 4  # one row, the pipe escaped
    assert "<script>" not in body and "\\<script\\>" in body and "\n## judul" not in body
    assert "\\[x\\](javascript\\:1)" in body  # brackets escaped: no link
    assert issues["_tanpa-pemilik"].labels == "sop-drift,sop-drift-tanpa-pemilik"

    fixed = {i.key: i.state for i in drift_issues(run([], {"dns": "ok"}))}
    assert fixed == {"dinkes-simpus": "close", "disdik-ppdb": "close", "_tanpa-pemilik": "close"}
    down = {i.key: i.state for i in drift_issues(run([], {"dns": "gagal: mati"}))}
    assert set(down.values()) == {"keep"}
    one = [i.key for i in drift_issues(run([], {"dns": "ok"}, only="dinkes-simpus"))]
    assert "_tanpa-pemilik" not in one

    paths = write_drift_issues(list(issues.values()), tmp_path / "out")
    assert (tmp_path / "out" / "dinkes-simpus.state").read_text() == "open\n"
    assert (tmp_path / "out" / "dinkes-simpus.title").read_text() == "Drift: dinkes-simpus\n"
    assert len(paths) == 12


def test_an_id_that_is_no_ldh_label_is_refused() -> None:
    report = DriftReport((), {"dns": "ok"}, ("x;rm -rf",))
    with pytest.raises(ValueError, match="LDH"):
        drift_issues(DriftRun(report, AT, 1, environment="lab"))
