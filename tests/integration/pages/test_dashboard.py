"""The dashboard's figures equal ``sop status --json`` and ``sop audit --json`` for requests in
every state (closed, returned to the OPD, rejected, running), and the page needs no script."""

from __future__ import annotations

import json
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from sop_pipeline.demo.officials import T0, Lab, Official, RequestFlow
from sop_pipeline.signing.record import consume_approvals
from tests.support.sitelab import sop, with_inventories

pytestmark = pytest.mark.integration

NOW = T0 + timedelta(days=3, hours=2)


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


class Figures(HTMLParser):
    """The data- attributes of the dashboard's request sections and step rows."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: dict[str, dict[str, Any]] = {}
        self.current = ""
        self.tags: set[str] = set()
        self.audit: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.add(tag)
        if tag == "section" and "data-request" in a:
            self.current = a["data-request"]
            self.requests[self.current] = {
                "phase": a["data-phase"],
                "next_step": int(a["data-next-step"]) if a["data-next-step"] else None,
                "breaches": int(a["data-breaches"]),
                "steps": [],
                "svg": False,
            }
        elif tag == "tr" and "data-step" in a:
            self.requests[self.current]["steps"].append(
                (
                    int(a["data-step"]),
                    int(a["data-attempt"]),
                    int(a["data-elapsed"]),
                    a["data-breached"] == "true",
                )
            )
        elif tag == "svg" and self.current:
            self.requests[self.current]["svg"] = True
        elif tag == "p" and a.get("id") == "audit":
            self.audit = a


def walk(lab: Lab, rid: str, until: str) -> None:
    flow = RequestFlow(lab, rid, records=lab.repo / "records")
    flow.pipeline_step(1, T0)
    flow.sign(2, "kadis", T0 + minutes(1))
    flow.sign(3, "kabid", T0 + minutes(2))
    if until == "returned":
        flow.sign(
            4,
            "koordinator",
            T0 + minutes(30),
            decision="incomplete",
            reason="Surat belum ditandatangani",
            missing=["letter.signature"],
        )
        flow.record(T0 + minutes(31))
        return
    flow.sign(4, "koordinator", T0 + minutes(3), decision="complete")
    flow.record(T0 + minutes(4))
    flow.pipeline_step(5, T0 + minutes(5))
    flow.sign(6, "teknis1", T0 + timedelta(days=1), evidence=flow.analyse(T0 + minutes(9)))
    flow.record(T0 + timedelta(days=1, minutes=1))
    if until == "rejected":
        flow.sign(7, "kabid", T0 + timedelta(days=1, minutes=5), decision="reject", reason="Tidak")
        flow.record(T0 + timedelta(days=1, minutes=6))
        return
    flow.sign(7, "kabid", T0 + timedelta(days=1, minutes=5))
    flow.record(T0 + timedelta(days=1, minutes=6))
    gate = flow.gate(8, T0 + timedelta(days=1, minutes=7))
    consume_approvals(
        flow.consumed_ledger, request_id=rid, statements=gate.statements, at=T0 + minutes(2000)
    )
    flow.pipeline_step(8, T0 + timedelta(days=1, minutes=40))
    flow.pipeline_step(9, T0 + timedelta(days=2))
    flow.sign(10, "koordinator", T0 + timedelta(days=2, minutes=1))
    flow.sign(11, "kabid", T0 + timedelta(days=2, minutes=2))
    flow.sign(12, "kadis", T0 + timedelta(days=2, minutes=3))
    flow.record(T0 + timedelta(days=2, minutes=4))


@pytest.fixture
def repo(tmp_path: Path, officials: dict[str, Official]) -> Lab:
    lab = Lab(tmp_path / "lab", officials)
    with_inventories(lab)
    for rid in ("dinkes-selesai", "dinkes-kembali", "dinkes-tolak", "dinkes-baru"):
        lab.write_request(rid)
    lab.commit("requests")
    walk(lab, "dinkes-selesai", "closed")
    walk(lab, "dinkes-kembali", "returned")
    walk(lab, "dinkes-tolak", "rejected")
    RequestFlow(lab, "dinkes-baru", records=lab.repo / "records").pipeline_step(1, T0)
    return lab


def figures(lab: Lab, out: Path) -> Figures:
    done = sop(lab.repo, "site", "build", str(out), "--now", NOW.isoformat())
    assert done.returncode == 0, done.stderr
    parser = Figures()
    parser.feed((out / "index.html").read_text(encoding="utf-8"))
    return parser


def test_dashboard_figures_equal_sop_status_json(repo: Lab, tmp_path: Path) -> None:
    status = sop(repo.repo, "status", "--json", "--now", NOW.isoformat())
    assert status.returncode == 0, status.stderr
    expected = {s["request_id"]: s for s in json.loads(status.stdout)}
    assert {s["phase"] for s in expected.values()} == {
        "closed",
        "returned",
        "rejected",
        "in_progress",
    }
    page = figures(repo, tmp_path / "site")
    assert set(page.requests) == set(expected)
    for rid, s in expected.items():
        shown = page.requests[rid]
        assert shown["phase"] == s["phase"], rid
        assert shown["next_step"] == s["next_step"], rid
        assert shown["breaches"] == s["breaches"], rid
        assert shown["steps"] == [
            (t["step"], t["attempt"], t["elapsed_working_seconds"], t["breached"])
            for t in s["steps"]
        ], rid
        assert shown["svg"], rid
    assert len(page.requests["dinkes-selesai"]["steps"]) == 12
    assert "script" not in page.tags  # works without JavaScript
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert "Data per 05-03-2026 " in html and " WIB" in html  # NOW is 18:00 WIB on 5 March
    assert (tmp_path / "site" / "records" / "dinkes-selesai.jsonl").is_file()
    summary = (tmp_path / "site" / "ringkasan.html").read_text(encoding="utf-8")
    for rid, s in expected.items():
        assert f"<td>{rid}</td><td>{s['phase_label']}</td>" in summary
    # every finished step links to its ledger record, by sequence number and hash
    ledger = (repo.repo / "records" / "dinkes-selesai.jsonl").read_text(encoding="utf-8")
    steps = [json.loads(line) for line in ledger.splitlines()]
    for record in (r for r in steps if r["kind"] == "step"):
        assert f">#{record['seq']} {record['hash'][:12]}</a>" in html


def test_dashboard_shows_the_sop_audit_result(repo: Lab, tmp_path: Path) -> None:
    audit = sop(repo.repo, "audit", "--json")
    assert audit.returncode == 0, audit.stdout + audit.stderr
    page = figures(repo, tmp_path / "ok")
    assert page.audit["data-faults"] == "0" and page.audit["class"] == "green"

    ledger = repo.repo / "records" / "dinkes-tolak.jsonl"
    lines = ledger.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('"actor":"', '"actor":"x', 1)  # one record altered
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
    audit = sop(repo.repo, "audit", "--json")
    assert audit.returncode == 5
    faults = json.loads(audit.stdout)["faults"]
    page = figures(repo, tmp_path / "altered")
    assert page.audit["class"] == "red"
    assert int(page.audit["data-faults"]) == len(faults) > 0


def test_signing_pages_link_the_merge_request_branch_on_gitlab(repo: Lab, tmp_path: Path) -> None:
    out = tmp_path / "site"
    done = sop(
        repo.repo,
        "site",
        "build",
        str(out),
        "--gitlab-url",
        "https://gitlab.example/aptika/hosting",
        "--branch",
        "hosting/{request_id}",
    )
    assert done.returncode == 0, done.stderr
    page = (out / "sign" / "dinkes-baru" / "step-02.html").read_text(encoding="utf-8")
    assert (
        'href="https://gitlab.example/aptika/hosting/-/tree/hosting%2Fdinkes-baru/'
        'requests/dinkes-baru.approvals"'
    ) in page
    # no page for a step whose earlier step does not hold: step 10 needs a step-7 approval
    assert not (out / "sign" / "dinkes-tolak" / "step-10.html").exists()  # rejected at 7
