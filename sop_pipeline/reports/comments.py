"""Merge-request comments in Bahasa Indonesia: short Markdown for the OPD and the officials.

- :func:`completeness_comment`: the step-4 checklist, one line per requirement, ✅ or ❌;
- :func:`analysis_comment`: the step-6 analysis in a few lines;
- :func:`signatures_comment`: what each official still has to sign.

Each starts with a hidden marker (``<!-- sop-pipeline:<kind>:<id> -->``) so the pipeline
can find and update its own comment instead of adding a new one, and ends with a link to
the full logs: pass ``logs_url`` (e.g. ``$CI_JOB_URL``); without it the link reads
:data:`LOGS_URL_PLACEHOLDER` for the caller to replace. Every request value is escaped.
Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import tzinfo
from zoneinfo import ZoneInfo

from sop_pipeline.domain.rules import Problem
from sop_pipeline.domain.sop import DECISION_STEP, STEPS, VERIFICATION_STEP, Role
from sop_pipeline.domain.sop import step as sop_step
from sop_pipeline.domain.state import PHASE_LABELS, Outcome, Phase, RequestState, StepRun
from sop_pipeline.reports import indonesian as ind
from sop_pipeline.reports.escape import md, md_code, md_url
from sop_pipeline.reports.model import AnalysisReport, Signature, analysis_findings, feasible

LOGS_URL_PLACEHOLDER = "LOGS_URL"
WIB = ZoneInfo("Asia/Jakarta")
SIGNED_STEPS = tuple(s.number for s in STEPS if s.signed)
_MARKER_SAFE = re.compile(r"[^a-z0-9-]")

#: The step-4 checklist: label, and the request fields (dotted prefixes) it covers. The
#: first item also takes problems of the whole file and any field not listed here.
CHECKLIST: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Berkas permintaan dapat dibaca (nama berkas, UTF-8, YAML, format)", ("", "schema_version")),
    ("Identitas OPD (kode dan nama)", ("opd",)),
    ("Penanggung jawab/PIC (nama, NIP, e-mail, telepon)", ("pic",)),
    ("Surat permintaan (nomor dan tanggal)", ("letter",)),
    ("Berkas surat (PDF) terlampir dan sha256-nya cocok", ("letter.file", "letter.sha256")),
    ("Aplikasi (nama, kegunaan, jenis, stack)", ("application",)),
    ("Nama domain (satu label di bawah zona dinas)", ("hostname",)),
    ("Sumber daya VM dan kuota OPD", ("resources",)),
    ("Lingkungan dan masa hosting", ("environment", "period")),
    ("Klasifikasi data dan eksposur jaringan", ("data_classification", "exposure")),
)


def _marker(kind: str, request_id: str) -> str:
    return f"<!-- sop-pipeline:{kind}:{_MARKER_SAFE.sub('_', request_id)} -->"


def _logs_link(logs_url: str | None) -> str:
    return f"[Log lengkap]({md_url(logs_url) if logs_url else LOGS_URL_PLACEHOLDER})"


def _covers(prefix: str, field: str) -> bool:
    return field == prefix or (bool(prefix) and field.startswith(prefix + "."))


def checklist_item(field: str) -> int:
    """Index in :data:`CHECKLIST` of the item a problem of ``field`` belongs to."""
    best, length = 0, -1
    for index, (_label, prefixes) in enumerate(CHECKLIST):
        for prefix in prefixes:
            if _covers(prefix, field) and len(prefix) > length:
                best, length = index, len(prefix)
    return best


def _problem_text(problem: Problem) -> str:
    where = f"baris {problem.line}: " if problem.line else ""
    return f"{where}{problem.message}"


def completeness_comment(
    request_id: str,
    problems: Iterable[Problem],
    *,
    missing: Sequence[str] = (),
    logs_url: str | None = None,
) -> str:
    """The step-4 checklist from the loader's problems plus the attachment check.

    ``missing`` is what the Koordinator listed when returning the request (step 4 NO).
    """
    by_item: dict[int, list[str]] = {}
    for p in problems:
        by_item.setdefault(checklist_item(p.field), []).append(_problem_text(p))
    failed = len(by_item) + (1 if missing else 0)
    lines = [
        _marker("kelengkapan", request_id),
        f"### Pemeriksaan kelengkapan (langkah 4): {md_code(request_id)}",
        "",
    ]
    if failed:
        lines.append(
            f"❌ **Belum lengkap**: {failed} butir perlu dilengkapi OPD. Perbaiki berkas "
            "permintaan di merge request ini; pemeriksaan berjalan lagi dengan sendirinya."
        )
    else:
        lines.append(
            "✅ **Lengkap**: semua butir terpenuhi. Koordinator dapat menandatangani "
            "verifikasi (langkah 4)."
        )
    lines += ["", "| | Butir | Keterangan |", "|---|---|---|"]
    for index, (label, _prefixes) in enumerate(CHECKLIST):
        found = by_item.get(index, [])
        mark = "❌" if found else "✅"
        lines.append(f"| {mark} | {md(label)} | {'<br>'.join(md(t) for t in found)} |")
    if missing:
        notes = "<br>".join(md(m) for m in missing)
        lines.append(f"| ❌ | Catatan Koordinator | {notes} |")
    lines += ["", _logs_link(logs_url), ""]
    return "\n".join(lines)


def analysis_comment(
    report: AnalysisReport,
    *,
    report_url: str | None = None,
    logs_url: str | None = None,
    tz: tzinfo = WIB,
) -> str:
    """The step-6 analysis in a few lines, with the verdict first."""
    r, res = report.request, report.result
    findings = analysis_findings(r, res)
    lines = [
        _marker("analisis", r.request_id),
        f"### Analisis teknis (langkah 6): {md_code(r.request_id)}",
        "",
    ]
    if feasible(r, res):
        where = f" di node {md(res.chosen_node)}" if res.chosen_node else ""
        lines.append(
            f"✅ **Dapat dilaksanakan**{where}, IP {md(res.ip_address or '-')}, nama {md(r.fqdn)}."
        )
    else:
        failed = ", ".join(md(f.label) for f in findings if not f.ok)
        lines.append(f"❌ **Belum dapat dilaksanakan**: {failed}.")
    lines += ["", "| | Aspek | Keterangan |", "|---|---|---|"]
    lines += [f"| {'✅' if f.ok else '❌'} | {md(f.label)} | {md(f.detail)} |" for f in findings]
    lines += [
        "",
        f"Dianalisis {md(ind.date_time(res.analysed_at, tz))}. Tim Teknis menandatangani "
        "langkah 6 setelah membaca laporan; Kabid Aptika memutuskan di langkah 7.",
        "",
    ]
    links = [_logs_link(logs_url)]
    if report_url:
        links.insert(0, f"[Laporan Analisis Teknis]({md_url(report_url)})")
    lines += [" · ".join(links), ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------ signatures


def _latest_run(state: RequestState, step_number: int) -> StepRun | None:
    runs = [r for r in state.runs if r.step == step_number]
    return runs[-1] if runs else None


def _returned_and_resubmitted(state: RequestState) -> bool:
    """Step 4 said NO, and the OPD has since sent the request back (a fresh check is due)."""
    return state.phase is Phase.IN_PROGRESS and state.next_step == VERIFICATION_STEP


def step_status(
    state: RequestState, step_number: int, signatures: Sequence[Signature], tz: tzinfo = WIB
) -> tuple[str, str, bool]:
    """(mark, text, outstanding) for one signed step."""
    run = _latest_run(state, step_number)
    stale = step_number == VERIFICATION_STEP and _returned_and_resubmitted(state)
    if run is not None and not stale:
        when = ind.short_date_time(run.ended, tz) + f" {ind.zone_label(tz)}"
        if run.outcome is Outcome.REJECT:
            return "⛔", f"ditolak oleh {md(run.actor)}, {md(when)}", False
        if run.outcome is Outcome.INCOMPLETE:
            return "↩️", "dikembalikan ke OPD; verifikasi ulang setelah diperbaiki", True
        return "✅", f"ditandatangani {md(run.actor)}, {md(when)}", False
    if state.phase is Phase.REJECTED and step_number > DECISION_STEP:
        return "➖", "tidak diperlukan (permintaan ditolak)", False
    waiting = [s for s in signatures if s.step == step_number]
    if waiting:
        return "🖊️", f"sudah ditandatangani {md(waiting[-1].signer)}, menunggu dicatat", False
    if state.next_step == step_number:
        return "⏳", "**ditunggu sekarang**", True
    return "⬜", "nanti", True


def signatures_comment(
    state: RequestState,
    signatures: Sequence[Signature] = (),
    *,
    logs_url: str | None = None,
    tz: tzinfo = WIB,
) -> str:
    """Per official: the steps signed and the steps still to sign, from the ledger's state
    and the valid statements found (``model.signatures_from_checked``)."""
    phase = PHASE_LABELS[state.phase] if state.runs else "belum diajukan"
    following = (
        f"; langkah berikut: {state.next_step}. {md(sop_step(state.next_step).actor.label)}"
        if state.next_step
        else ""
    )
    rows: list[str] = []
    outstanding: dict[Role, list[str]] = {}
    for number in SIGNED_STEPS:
        actor = sop_step(number).actor
        mark, text, still = step_status(state, number, signatures, tz)
        rows.append(
            f"| {mark} | {number}. {md(sop_step(number).activity)} | {actor.label} | {text} |"
        )
        if still:
            suffix = " (sekarang)" if state.next_step == number else ""
            outstanding.setdefault(actor, []).append(f"{number}{suffix}")
    lines = [
        _marker("tanda-tangan", state.request_id),
        f"### Tanda tangan pejabat: {md_code(state.request_id)}",
        "",
        f"Status: {md(phase)}{following}.",
        "",
    ]
    if state.phase is Phase.RETURNED and state.missing:
        lines += [
            "Kekurangan yang harus dilengkapi OPD: " + "; ".join(md(m) for m in state.missing),
            "",
        ]
    if outstanding:
        lines.append("**Masih harus menandatangani:**")
        lines += [
            f"- {role.label}: langkah {', '.join(steps)}"
            for role, steps in sorted(outstanding.items(), key=lambda kv: _role_order(kv[0]))
        ]
    else:
        lines.append("Tidak ada tanda tangan yang masih ditunggu.")
    lines += ["", "| | Langkah | Pejabat | Keterangan |", "|---|---|---|---|", *rows]
    lines += ["", _logs_link(logs_url), ""]
    return "\n".join(lines)


def _role_order(role: Role) -> int:
    return list(Role).index(role)
