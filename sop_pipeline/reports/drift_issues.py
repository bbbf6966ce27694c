"""One GitLab issue per drifted hosting: what the ``sop:drift`` job opens, updates or closes.

``sop drift --issues-dir DIR`` writes, for every hosting checked (and for the things no
request owns, on a whole-cluster run), four small files the job's script posts with curl
without parsing anything but a fixed word:

- ``<key>.state``  ``open`` (drift found: open the issue, or update the open one),
  ``close`` (checked, no drift: close the open one) or ``keep`` (a check failed: no
  verdict, the issue is left as it is; a failed check is never "no drift");
- ``<key>.title``  a stable title, ``Drift: <request id>``, made of the id only;
- ``<key>.labels`` ``sop-drift,sop-req-<id>`` (``sop-drift,sop-drift-tanpa-pemilik``): the
  job finds the open issue by these labels, so a hosting never gets two;
- ``<key>.md``     the issue's description in Indonesian (every value read from outside
  escaped for Markdown), or for ``close`` the note left on closing.

The key is the request id (an ASCII LDH label, checked again here) or ``_tanpa-pemilik``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sop_pipeline.domain.drift import SOURCE_LABELS, UNOWNED, DriftItem
from sop_pipeline.reports.drift import DriftRun
from sop_pipeline.reports.escape import md, md_code

LABEL = "sop-drift"
UNOWNED_KEY = "_tanpa-pemilik"
_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
#: At most this much of one value in a table cell (the ledger keeps the whole item).
CELL_LIMIT = 300

State = Literal["open", "close", "keep"]


@dataclass(frozen=True)
class DriftIssue:
    key: str
    state: State
    title: str
    labels: str
    body: str


def _cell(value: str | None) -> str:
    if value is None:
        return "(tidak ada)"
    text = value if len(value) <= CELL_LIMIT else value[:CELL_LIMIT] + " ..."
    return md(text.encode("unicode_escape").decode() if not text.isprintable() else text)


def _table(items: Sequence[DriftItem]) -> list[str]:
    lines = [
        "| Sumber | Sumber daya | Atribut | Disetujui | Berjalan |",
        "|---|---|---|---|---|",
    ]
    for i in items:
        lines.append(
            f"| {SOURCE_LABELS[i.source]} | {_cell(i.resource)} | {_cell(i.attribute or '-')} "
            f"| {_cell(i.approved)} | {_cell(i.actual)} |"
        )
    return lines


def _failed(run: DriftRun, key: str) -> list[str]:
    """The failed checks that concern ``key`` (the cluster-wide ones concern everyone)."""
    return sorted(
        name
        for name in run.report.failed
        if ":" not in name or (key != UNOWNED_KEY and name.split(":", 1)[1] == key)
    )


def drift_issues(run: DriftRun, report_name: str = "") -> list[DriftIssue]:
    """The issue of each hosting checked (and of the unowned things on a whole run)."""
    when = run.at.strftime("%Y-%m-%d %H:%M %z")
    where = f" (Laporan Drift {md_code(report_name)})" if report_name else ""
    issues = []
    keys = [*run.report.hostings] + ([UNOWNED_KEY] if run.only is None else [])
    for key in keys:
        if key != UNOWNED_KEY and not _ID.match(key):
            raise ValueError(f"request id {key!r} is not an ASCII LDH label")
        items = run.report.for_owner(UNOWNED if key == UNOWNED_KEY else key)
        failed = _failed(run, key)
        if key == UNOWNED_KEY:
            title, labels, whose = (
                "Drift: tanpa pemilik",
                f"{LABEL},{LABEL}-tanpa-pemilik",
                "hal yang tidak dimiliki permintaan mana pun",
            )
        else:
            title, labels, whose = (
                f"Drift: {key}",
                f"{LABEL},sop-req-{key}",
                f"hosting {md_code(key)}",
            )
        state: State = "open" if items else ("keep" if failed else "close")
        if state == "close":
            body = [
                f"Pemeriksaan `sop drift` {md(when)}{where}: tidak ada drift lagi pada {whose}; "
                "yang berjalan sama dengan yang disetujui. Isu ditutup oleh pipeline."
            ]
        else:
            body = [
                f"## Drift pada {whose}",
                "",
                f"Pemeriksaan `sop drift` {md(when)}{where} menemukan {len(items)} perbedaan "
                "antara yang disetujui dan yang berjalan.",
                "",
                *(_table(items) if items else []),
                "",
                "Tidak ada yang diperbaiki otomatis. Pemulihan (atau penerimaan yang berjalan) "
                "diajukan sebagai permintaan perubahan (`sop drift --propose`) dan melalui "
                "langkah 4 sampai 8 dengan tanda tangan.",
            ]
            if failed:
                body += [
                    "",
                    "Pemeriksaan yang gagal (tanpa kesimpulan): "
                    + ", ".join(md_code(n) for n in failed)
                    + ".",
                ]
            body += [
                "",
                "Isu ini dibuka, diperbarui dan ditutup oleh job `sop:drift`; catatan lengkap "
                f"ada di `records/{key}.jsonl`."
                if key != UNOWNED_KEY
                else "Isu ini dibuka, diperbarui dan ditutup oleh job `sop:drift`; catatan "
                "lengkap ada di `records/_drift.jsonl`.",
            ]
        issues.append(DriftIssue(key, state, title, labels, "\n".join(body) + "\n"))
    return issues


def write_drift_issues(issues: Sequence[DriftIssue], folder: Path) -> list[Path]:
    """``<key>.state``, ``.title``, ``.labels`` and ``.md`` for each issue, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for issue in issues:
        for suffix, text in (
            ("state", issue.state),
            ("title", issue.title),
            ("labels", issue.labels),
            ("md", issue.body),
        ):
            path = folder / f"{issue.key}.{suffix}"
            path.write_text(text if suffix == "md" else text + "\n", encoding="utf-8")
            written.append(path)
    return written
