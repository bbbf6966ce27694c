"""Realistic report inputs: the repository's own example requests walked through the SOP.

The times are the demo's (a working Monday, 30 November 2026, WIB); the state comes from the
real state machine, the facts from the real loader, the department from the real file.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sop_pipeline.config import load_calendar, load_policy
from sop_pipeline.domain.policy import Quota
from sop_pipeline.domain.request import Request
from sop_pipeline.domain.state import Outcome, RequestState, StepEvent, fold
from sop_pipeline.loader import load_request
from sop_pipeline.reports.department import Department, load_department
from sop_pipeline.reports.model import (
    CHECK_DNS_A,
    CHECK_DNS_PTR,
    CHECK_FIREWALL,
    CHECK_HTTP,
    CHECK_SSH,
    ActivityReport,
    AnalysisReport,
    AnalysisResult,
    Check,
    Disposition,
    HandoverMinutes,
    HostingReport,
    HostingResult,
    NodeCapacity,
    QuotaUse,
    Usage,
    activity_entry,
    disposition_entries,
    received_at,
)

REPO = Path(__file__).resolve().parents[3]
WIB = ZoneInfo("Asia/Jakarta")
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=WIB)
KADIS = "kadis@diskominfotik.sumbarprov.go.id"
KABID = "kabid@diskominfotik.sumbarprov.go.id"
KOORDINATOR = "koordinator@diskominfotik.sumbarprov.go.id"
#: The fingerprints of the officials' keys, as ssh-keygen -l prints them.
KEYS = {
    KADIS: "SHA256:0Vn1S3bqkW1z2lBqk8gq4m9FJm0xH8cYw7yq3s6Qh4E",
    KABID: "SHA256:Jx2vQ8Lr5nTzq1wP4kHcM7bYd0eF3gS6uA9iR2oV5Xk",
}


def at(minutes: int) -> datetime:
    return MONDAY + timedelta(minutes=minutes)


def department() -> Department:
    return load_department(REPO / "inventories")


def facts(request_id: str = "dinkes-simpus") -> Request:
    policy = load_policy(REPO / "inventories")
    loaded = load_request(REPO / "requests" / f"{request_id}.yaml", policy=policy)
    return loaded.request


def simpus_state(through: int = 12) -> RequestState:
    """dinkes-simpus as in the demo, then hosted and reported on the same day."""
    events = [
        StepEvent(1, Outcome.DONE, at(0), actor="rina.marlina@dinkes.sumbarprov.go.id"),
        StepEvent(2, Outcome.DONE, at(2), actor=KADIS),
        StepEvent(3, Outcome.DONE, at(4), actor=KABID),
        StepEvent(4, Outcome.COMPLETE, at(6), actor=KOORDINATOR),
        StepEvent(5, Outcome.DONE, at(8), actor="pipeline"),
        StepEvent(6, Outcome.DONE, at(95), actor="teknis1@diskominfotik.sumbarprov.go.id"),
        StepEvent(7, Outcome.APPROVE, at(140), actor=KABID),  # 45 min: past its 30
        StepEvent(8, Outcome.DONE, at(143), actor="pipeline"),
        StepEvent(9, Outcome.DONE, at(144), actor="pipeline"),
        StepEvent(10, Outcome.DONE, at(150), actor=KOORDINATOR),
        StepEvent(11, Outcome.DONE, at(153), actor=KABID),
        StepEvent(12, Outcome.DONE, at(156), actor=KADIS),
    ]
    return fold("dinkes-simpus", [e for e in events if e.step <= through])


def returned_state() -> RequestState:
    """disdik-info-sekolah: sent back at step 4, fixed, verified again, waiting at step 5."""
    return fold(
        "disdik-info-sekolah",
        [
            StepEvent(1, Outcome.DONE, at(10), actor="opd"),
            StepEvent(2, Outcome.DONE, at(12), actor=KADIS),
            StepEvent(3, Outcome.DONE, at(13), actor=KABID),
            StepEvent(
                4,
                Outcome.INCOMPLETE,
                at(15),
                actor=KOORDINATOR,
                reason="Surat belum mencantumkan masa hosting",
                missing=("masa hosting pada surat permintaan",),
            ),
            StepEvent(4, Outcome.RESUBMIT, at(200), actor="opd"),
            StepEvent(4, Outcome.COMPLETE, at(202), actor=KOORDINATOR),
        ],
    )


def rejected_state() -> RequestState:
    return fold(
        "bpbd-peringatan-dini",
        [
            StepEvent(1, Outcome.DONE, at(20), actor="opd"),
            StepEvent(2, Outcome.DONE, at(21), actor=KADIS),
            StepEvent(3, Outcome.DONE, at(22), actor=KABID),
            StepEvent(4, Outcome.COMPLETE, at(24), actor=KOORDINATOR),
            StepEvent(5, Outcome.DONE, at(25), actor="pipeline"),
            StepEvent(6, Outcome.DONE, at(60), actor="teknis2"),
            StepEvent(
                7,
                Outcome.REJECT,
                at(75),
                actor=KABID,
                reason="Layanan internal BPBD sudah tersedia di server daerah",
            ),
        ],
    )


def analysis_result() -> AnalysisResult:
    return AnalysisResult(
        analysed_at=at(60),
        nodes=(
            NodeCapacity("pve1", vcpu_free=12, memory_mb_free=49152, disk_gb_free=900),
            NodeCapacity("pve2", vcpu_free=1, memory_mb_free=2048, disk_gb_free=80),
            NodeCapacity("pve3", 0, 0, 0, online=False),
        ),
        quota=QuotaUse(
            limit=Quota(max_vms=5, vcpu=16, memory_mb=32768, disk_gb=500),
            used=Usage(vms=1, vcpu=2, memory_mb=2048, disk_gb=20),
        ),
        ip_pool="production 10.20.130.0/24",
        ip_address="10.20.130.21",
        dns_name_free=True,
        template_present=True,
        plan_summary=(
            "proxmox_virtual_environment_vm.this akan dibuat (vmid 10001, node pve1)",
            "Plan: 1 to add, 0 to change, 0 to destroy.",
        ),
        chosen_node="pve1",
    )


def hosting_result(ok: bool = True) -> HostingResult:
    return HostingResult(
        vmid=10001,
        node="pve1",
        ip_address="10.20.130.21",
        fqdn="simpus.sumbarprov.go.id",
        stack="php",
        started=at(140) + timedelta(seconds=20),
        finished=at(143),
        url="http://simpus.sumbarprov.go.id/",
        checks=(
            Check(CHECK_HTTP, ok, "HTTP 200 dari http://simpus.sumbarprov.go.id/"),
            Check(CHECK_DNS_A, True, "simpus.sumbarprov.go.id A 10.20.130.21"),
            Check(CHECK_DNS_PTR, True, "21.130.20.10.in-addr.arpa PTR simpus.sumbarprov.go.id"),
            Check(CHECK_SSH, True, "PasswordAuthentication no, PermitRootLogin no"),
            Check(CHECK_FIREWALL, True, "nftables: hanya 22/tcp, 80/tcp, 443/tcp"),
        ),
    )


def disposition(request: Request | None = None) -> Disposition:
    state = simpus_state()
    return Disposition(
        request=request or facts(),
        sequence=12,
        issued=at(4),
        received=received_at(state),
        entries=tuple(replace(e, key=KEYS[e.signer]) for e in disposition_entries(state)),
    )


def analysis_report(request: Request | None = None) -> AnalysisReport:
    return AnalysisReport(
        request=request or facts(), sequence=12, issued=at(60), result=analysis_result()
    )


def hosting_report(request: Request | None = None, ok: bool = True) -> HostingReport:
    return HostingReport(
        request=request or facts(), sequence=12, issued=at(144), result=hosting_result(ok)
    )


def handover(request: Request | None = None) -> HandoverMinutes:
    return HandoverMinutes(
        request=request or facts(), sequence=12, issued=at(156), result=hosting_result()
    )


def activity_report() -> ActivityReport:
    calendar = load_calendar(REPO / "inventories")
    now = at(300)
    entries = (
        activity_entry(simpus_state(), calendar, now, facts("dinkes-simpus")),
        activity_entry(returned_state(), calendar, now, facts("disdik-info-sekolah")),
        activity_entry(rejected_state(), calendar, now, facts("bpbd-peringatan-dini")),
    )
    return ActivityReport(
        period_start=MONDAY.date().replace(day=1),
        period_end=MONDAY.date(),
        sequence=11,
        issued=now,
        entries=entries,
    )


def all_reports(request: Request | None = None) -> dict[str, object]:
    return {
        "disposisi": disposition(request),
        "analisis": analysis_report(request),
        "hasil_hosting": hosting_report(request),
        "berita_acara": handover(request),
        "kegiatan": activity_report(),
    }


def fold_returned_only() -> RequestState:
    """disdik-info-sekolah right after step 4 said NO (with the OPD, clock paused)."""
    full = returned_state()
    return fold(
        full.request_id,
        [
            StepEvent(1, Outcome.DONE, at(10), actor="opd"),
            StepEvent(2, Outcome.DONE, at(12), actor=KADIS),
            StepEvent(3, Outcome.DONE, at(13), actor=KABID),
            StepEvent(
                4,
                Outcome.INCOMPLETE,
                at(15),
                actor=KOORDINATOR,
                reason="Surat belum mencantumkan masa hosting",
                missing=("masa hosting pada surat permintaan",),
            ),
        ],
    )
