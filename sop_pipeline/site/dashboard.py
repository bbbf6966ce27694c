"""The dashboard a Kadis reads: per OPD and per request, the 12 steps with each step's working
time against its target (green, amber, red), who must sign next, the ``sop audit`` result and
"data per <time> WIB". No JavaScript: the charts are SVG drawn here, at build time.

The figures are ``sop status --json``'s (``steps.overview.status_summaries``), written into
the table cells and, unrounded, into ``data-`` attributes, so a test can compare them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sop_pipeline.domain.sop import STEPS, Role
from sop_pipeline.domain.sop import step as sop_step
from sop_pipeline.reports.escape import h
from sop_pipeline.reports.indonesian import working_duration
from sop_pipeline.site.layout import Page, render, table

AMBER_SHARE = 0.75  # a step that used more than this share of its target is amber
EXPIRY_DAYS = 30  # hostings whose period ends within this many days are listed
NOT_MONITORED = "belum dipantau"  # availability, until monitoring exists (issue 14)


@dataclass(frozen=True)
class Hosting:
    """A live hosting (step 8 done): its period's end, from the request file on record."""

    request_id: str
    opd: str
    period_end: date
    last_backup: str = ""  # "" when no backup is recorded where the site is built


def last_backups(data: Any, where: str) -> dict[str, str]:
    """request id -> its last good backup as the dashboard prints it, from the output of
    ``sop backups --json``; ValueError naming ``where`` and the entry on a wrong shape."""
    if not isinstance(data, list):
        raise ValueError(f"{where}: harus daftar JSON keluaran `sop backups --json` [backups-json]")
    found = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or not isinstance(entry.get("request_id"), str):
            raise ValueError(f"{where}: [{i}].request_id: wajib teks [backups-json]")
        last = entry.get("last_backup")
        if last is None:
            found[entry["request_id"]] = "belum ada cadangan"
            continue
        try:
            at = datetime.fromisoformat(str(last["ctime"]))
        except (TypeError, KeyError, ValueError) as err:
            raise ValueError(
                f"{where}: [{i}].last_backup.ctime: wajib waktu ISO 8601 [backups-json]"
            ) from err
        verdict = "MELANGGAR" if entry.get("breach") else "baik"
        found[entry["request_id"]] = f"{at.isoformat(timespec='minutes')} ({verdict})"
    return found


def hostings_section(hostings: Sequence[Hosting], today: date) -> str:
    """Every live hosting: days left, the last backup, availability; those ending within
    EXPIRY_DAYS first, marked."""
    rows = []
    for x in sorted(hostings, key=lambda x: (x.period_end, x.request_id)):
        left = (x.period_end - today).days
        soon = left <= EXPIRY_DAYS
        state = "sudah berakhir" if left < 0 else f"{left} hari lagi"
        rows.append(
            f'<tr class="hosting" data-request="{h(x.request_id)}" data-days-left="{left}" '
            f'data-expiring="{str(soon).lower()}"><td>{h(x.opd)}</td><td>{h(x.request_id)}</td>'
            f"<td>{h(x.period_end.isoformat())}</td>"
            f'<td class="{"red" if soon else "green"}">{h(state)}</td>'
            f"<td>{h(x.last_backup or 'belum dicatat')}</td><td>{h(NOT_MONITORED)}</td></tr>"
        )
    expiring = sum(1 for x in hostings if (x.period_end - today).days <= EXPIRY_DAYS)
    head = (
        "<tr><th>OPD</th><th>Permintaan</th><th>Akhir masa hosting</th><th>Sisa</th>"
        "<th>Cadangan terakhir</th><th>Ketersediaan</th></tr>"
    )
    body = "".join(rows) or '<tr><td colspan="6">Belum ada hosting yang berjalan.</td></tr>'
    return (
        f'<h2 id="hostings">Hosting yang berjalan</h2><p id="expiring" data-count="{expiring}">'
        f"Berakhir dalam {EXPIRY_DAYS} hari: {expiring}.</p>"
        f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"
    )


@dataclass(frozen=True)
class RequestView:
    """What the dashboard shows of one request beyond its status summary."""

    request_id: str
    opd: str
    summary: Mapping[str, Any]  # one object of `sop status --json`
    record_links: Mapping[tuple[int, datetime], tuple[int, str]]  # (step, ended) -> (seq, hash)
    next_signers: Sequence[str] = ()
    signing_page: str = ""  # relative to OUT/, "" when the next step is not signed on the site


def target_seconds(step_number: int, working_day: timedelta) -> int | None:
    target = sop_step(step_number).target
    if target.minutes is not None:
        return target.minutes * 60
    if target.working_days is not None:
        return int(target.working_days * working_day.total_seconds())
    return None  # tentative


def colour(row: Mapping[str, Any], working_day: timedelta) -> str:
    """green, amber, red, or grey for a tentative target."""
    if row["breached"]:
        return "red"
    limit = target_seconds(int(row["step"]), working_day)
    if limit is None:
        return "grey"
    if row["ended"] is None or row["elapsed_working_seconds"] > AMBER_SHARE * limit:
        return "amber"
    return "green"


_FILL = {"green": "#1b7a32", "amber": "#d08800", "red": "#b3261e", "grey": "#888888"}


def chart(rows: Sequence[Mapping[str, Any]], working_day: timedelta) -> str:
    """One horizontal bar per step run: working time as a share of the target (the line)."""
    bar_h, gap, left, width = 14, 4, 70, 360
    height = max(1, len(rows)) * (bar_h + gap) + 20
    scale = width / 1.5  # a bar reaches the right edge at 150 % of its target
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" height="{height}" '
        'role="img" aria-label="Waktu kerja tiap langkah terhadap target">',
        f'<line x1="{left + scale:.0f}" y1="0" x2="{left + scale:.0f}" y2="{height - 16}" '
        'stroke="#000" stroke-dasharray="3,2"/>',
        f'<text x="{left + scale:.0f}" y="{height - 4}" font-size="10" text-anchor="middle">'
        "target</text>",
    ]
    for i, row in enumerate(rows):
        y = i * (bar_h + gap)
        limit = target_seconds(int(row["step"]), working_day)
        share = 0.0 if not limit else row["elapsed_working_seconds"] / limit
        length = max(2.0, min(share, 1.5) * scale) if limit else 2.0
        fill = _FILL[colour(row, working_day)]
        label = f"{row['step']}" + (f" (ke-{row['attempt']})" if row["attempt"] > 1 else "")
        parts.append(
            f'<text x="0" y="{y + bar_h - 3}" font-size="11">Langkah {h(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar_h}" fill="{fill}">'
            f"<title>{h(label)}: {share:.0%} dari target</title></rect>"
        )
        if limit:
            parts.append(
                f'<text x="{left + length + 4:.1f}" y="{y + bar_h - 3}" font-size="10">'
                f"{share:.0%}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _request_section(view: RequestView, working_day: timedelta) -> str:
    s = view.summary
    rows = []
    for row in s["steps"]:
        ended = str(row["ended"] or "")
        at = datetime.fromisoformat(ended) if ended else None
        link = view.record_links.get((int(row["step"]), at)) if at else None
        record = (
            f'<a href="records/{h(view.request_id)}.jsonl">#{link[0]} {h(link[1][:12])}</a>'
            if link
            else "(berjalan)"
            if not row["ended"]
            else ""
        )
        c = colour(row, working_day)
        spent = working_duration(timedelta(seconds=row["elapsed_working_seconds"]), working_day)
        status = {"red": "LEWAT target", "amber": "mendekati target", "green": "sesuai target"}
        if not ended and c == "amber":
            status["amber"] = "sedang berjalan"
        rows.append(
            f'<tr class="step-row" data-step="{int(row["step"])}" '
            f'data-attempt="{int(row["attempt"])}" '
            f'data-elapsed="{int(row["elapsed_working_seconds"])}" '
            f'data-breached="{str(bool(row["breached"])).lower()}" data-colour="{c}">'
            f"<td>{int(row['step'])}</td><td>{h(Role(row['actor']).label)}</td>"
            f"<td>{h(ended[:16].replace('T', ' ') or '-')}</td>"
            f"<td>{h(spent)}</td>"
            f"<td>{h(row['target'])}</td>"
            f'<td class="{c}">{h(status.get(c, "tentatif"))}</td><td>{record}</td></tr>'
        )
    nxt = s["next_step"]
    if nxt:
        who = f"{nxt}. {sop_step(nxt).actor.label}"
        if view.next_signers:
            who += ": " + ", ".join(view.next_signers)
        next_html = h(who)
        if view.signing_page:
            next_html += f' (<a href="{h(view.signing_page)}">halaman tanda tangan</a>)'
    else:
        next_html = "-"
    head = (
        "<tr><th>No</th><th>Pelaksana</th><th>Selesai</th><th>Waktu kerja</th><th>Target</th>"
        "<th>Status</th><th>Catatan (ledger)</th></tr>"
    )
    extra = ""
    if s["missing"]:
        extra += f"<p>Kekurangan: {h('; '.join(s['missing']))}</p>"
    if s["reason"]:
        extra += f"<p>Alasan: {h(s['reason'])}</p>"
    return (
        f'<section class="request" id="req-{h(view.request_id)}" '
        f'data-request="{h(view.request_id)}" data-phase="{h(s["phase"])}" '
        f'data-next-step="{h(nxt or "")}" data-breaches="{int(s["breaches"])}">'
        f"<h3>{h(view.request_id)}: {h(s['phase_label'])}</h3>"
        f'<p>Berikutnya: <span class="next">{next_html}</span>; langkah lewat target: '
        f"{int(s['breaches'])}</p>{extra}"
        f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"
        f"{chart(s['steps'], working_day) if s['steps'] else ''}</section>"
    )


def dashboard_page(
    views: Sequence[RequestView],
    *,
    agency: str,
    now: datetime,
    working_day: timedelta,
    audit: tuple[int, Sequence[str]],
    hostings: Sequence[Hosting] = (),
) -> Page:
    checked, faults = audit
    verdict = (
        f'<p id="audit" class="green" data-faults="0">sop audit: {checked} buku catatan '
        "diperiksa: UTUH.</p>"
        if not faults
        else f'<p id="audit" class="red" data-faults="{len(faults)}">sop audit: {checked} buku '
        f"catatan diperiksa: {len(faults)} KESALAHAN</p>"
        + "<ul>"
        + "".join(f"<li>{h(f)}</li>" for f in faults)
        + "</ul>"
    )
    by_opd: dict[str, list[RequestView]] = {}
    for view in views:
        by_opd.setdefault(view.opd, []).append(view)
    overview = table(
        ["OPD", "Permintaan", "Selesai / ditutup", "Langkah lewat target"],
        [
            [
                opd,
                str(len(vs)),
                str(sum(1 for v in vs if v.summary["phase"] in ("closed", "rejected"))),
                str(sum(int(v.summary["breaches"]) for v in vs)),
            ]
            for opd, vs in sorted(by_opd.items())
        ],
    )
    sections = "".join(
        f'<h2 id="opd-{h(opd)}">OPD {h(opd)}</h2>'
        + "".join(_request_section(v, working_day) for v in vs)
        for opd, vs in sorted(by_opd.items())
    )
    legend = (
        '<p class="muted">Hijau: sesuai target; kuning: berjalan atau memakai lebih dari '
        f"{AMBER_SHARE:.0%} target; merah: lewat target. Waktu kerja menurut kalender kerja "
        f"(1 hari kerja = {working_day.total_seconds() / 3600:g} jam). Langkah SOP: "
        f"{len(STEPS)}.</p>"
    )
    stamp = now.strftime("%d-%m-%Y %H:%M")
    body = (
        f'<p id="data-time">Data per {h(stamp)} WIB</p>{verdict}{legend}'
        f"<h2>Ringkasan per OPD</h2>{overview}{hostings_section(hostings, now.date())}"
        f"{sections}"
    )
    return render("index.html", title="Dasbor layanan hosting", body=body, agency=agency)


def summary_page(
    views: Sequence[RequestView],
    *,
    agency: str,
    now: datetime,
    audit: tuple[int, Sequence[str]],
) -> Page:
    """One printable page in Indonesian: every request's state, next step and breaches."""
    checked, faults = audit
    stamp = now.strftime("%d-%m-%Y %H:%M")
    rows = []
    for v in sorted(views, key=lambda v: (v.opd, v.request_id)):
        s = v.summary
        nxt = s["next_step"]
        rows.append(
            [
                v.opd,
                v.request_id,
                s["phase_label"],
                f"{nxt}. {sop_step(nxt).actor.label}" if nxt else "-",
                str(s["breaches"]),
            ]
        )
    verdict = "UTUH" if not faults else f"{len(faults)} KESALAHAN"
    body = (
        f'<p id="data-time">Data per {h(stamp)} WIB. Catatan (sop audit): {checked} buku '
        f"catatan diperiksa, {h(verdict)}.</p>"
        + table(["OPD", "Permintaan", "Status", "Langkah berikutnya", "Lewat target"], rows)
        + '<p class="muted">Rincian tiap langkah dan tautan ke catatan ada di dasbor.</p>'
    )
    return render("ringkasan.html", title="Ringkasan layanan hosting", body=body, agency=agency)
