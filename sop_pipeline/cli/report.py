"""``sop report``: the SOP's documents from the records (steps 9 to 12 and the period report).

The command is a click object; ``sop_pipeline.cli.main`` registers it with
``main.add_command(report)``. The work is done by :mod:`sop_pipeline.steps.reporting`.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from pathlib import Path

import click

from sop_pipeline.cli.options import (
    base_option,
    lab_dir_option,
    parse_moment,
    trusted_config,
)
from sop_pipeline.config import TrustedConfig
from sop_pipeline.domain.backups import BackupStatus
from sop_pipeline.steps.pipeline import Pipeline
from sop_pipeline.steps.reporting import (
    DOCUMENTS,
    KEPT,
    WRITTEN,
    month_period,
    write_period_report,
    write_request_documents,
)
from sop_pipeline.workspace import Workspace

EPILOG = """\b
Documents, under records/reports/:
  <id>/disposisi.{md,pdf}                  Lembar Disposisi: needs steps 2, 3 and 5
  <id>/laporan-hasil-hosting.{md,pdf}      Laporan Hasil Hosting: needs steps 8 and 9
  <id>/berita-acara-serah-terima.{md,pdf}  Berita Acara Serah Terima: needs step 9 and
                                           every step-8 check passed
  _kegiatan/laporan-kegiatan-<from>_<to>.{md,pdf}   Laporan Kegiatan (--period/--from)

\b
Exit codes:
  0  the documents the records allow were written (others are listed as not yet)
  2  nothing could be written yet, or a --document asked for is not yet possible
     (the message names the SOP step still missing)
  3  configuration on the base branch is wrong (inventories/)
  4  a document could not be rendered or written (WeasyPrint, disk)
  5  a record (ledger) does not verify, or the request changed since it was recorded
  8  there is no such request
"""


def _now() -> datetime:
    return datetime.now().astimezone()


def _day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as err:
        raise click.BadParameter(
            f"'{value}' bukan tanggal TTTT-BB-HH (contoh 2026-11-01)", param_hint=option
        ) from err


def _period(period: str | None, from_: str | None, to: str | None) -> tuple[date, date]:
    if period and (from_ or to):
        raise click.UsageError("pakai --period atau --from/--to, tidak keduanya")
    if period:
        try:
            return month_period(period)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--period") from err
    if not (from_ and to):
        raise click.UsageError(
            "--from dan --to harus diisi keduanya (contoh --from 2026-11-01 --to 2026-11-30)"
        )
    start, end = _day(from_, "--from"), _day(to, "--to")
    if end < start:
        raise click.BadParameter("--to lebih awal dari --from", param_hint="--to")
    return start, end


def _show(path: Path, root: Path, note: str = "") -> None:
    try:
        shown = path.relative_to(root)
    except ValueError:
        shown = path
    click.echo(f"  {shown}{note}")


def _backups(
    ws: Workspace, trusted: TrustedConfig, lab_dir: Path | None, now: datetime, err: bool
) -> list[BackupStatus]:
    from sop_pipeline.cli.options import reach_infrastructure
    from sop_pipeline.loader import read_request_model
    from sop_pipeline.steps.backups import backup_status

    infra = reach_infrastructure(lab_dir, err=err)
    zone = trusted.policy.zone

    def classification_of(request_id: str) -> str | None:
        request = read_request_model(ws.request_path(request_id), zone=zone)
        return request.data_classification if request is not None else None

    return backup_status(
        infra.backups(), infra.proxmox().vms(), trusted.backups, classification_of, now
    )


@click.command("report", epilog=EPILOG)
@click.argument("request_id", required=False)
@click.option(
    "--period", metavar="YYYY-MM", help="Laporan Kegiatan for one calendar month (2026-11)."
)
@click.option("--from", "from_", metavar="YYYY-MM-DD", help="Laporan Kegiatan: first day.")
@click.option("--to", "to", metavar="YYYY-MM-DD", help="Laporan Kegiatan: last day (inclusive).")
@click.option(
    "--document",
    "documents",
    multiple=True,
    type=click.Choice(list(DOCUMENTS)),
    help="Only this document (repeatable); an error if the records do not allow it yet.",
)
@click.option(
    "--sequence",
    type=click.IntRange(1, 9999),
    help="Running number of the Laporan Kegiatan (default: the month of its first day).",
)
@click.option(
    "--now",
    "now_",
    metavar="ISO-TIME",
    help="Laporan Kegiatan of a period not yet over: time running steps up to this moment.",
)
@base_option("policy, calendar, letterhead (and keyring)")
@click.option(
    "--json", "as_json", is_flag=True, help="Print what was written as JSON; the rest to stderr."
)
@click.option(
    "--advance/--no-advance",
    default=True,
    show_default=True,
    help="First advance the request as `sop run ID` would (records step 9 once step 8 is "
    "done, and the signed steps 10-12); --no-advance only reads the records.",
)
@click.option(
    "--backups",
    "with_backups",
    is_flag=True,
    help="Laporan Kegiatan: also each hosting's last good backup, asked of Proxmox now (the "
    "lab's with --lab-dir, else the SOP_* variables); a hosting past its policy is a breach.",
)
@lab_dir_option("With --backups, ask")
@click.pass_obj
def report(
    ws: Workspace,
    request_id: str | None,
    period: str | None,
    from_: str | None,
    to: str | None,
    documents: tuple[str, ...],
    sequence: int | None,
    now_: str | None,
    base: str,
    advance: bool,
    as_json: bool,
    with_backups: bool,
    lab_dir: Path | None,
) -> None:
    """Write the SOP's documents (Markdown and PDF) from the records, and print their paths.

    \b
    sop report dinkes-simpus               every document the request's records allow so far
    sop report dinkes-simpus --document berita-acara   just this one, or say what is missing
    sop report --period 2026-11            Laporan Kegiatan for November 2026
    sop report --from 2026-11-01 --to 2026-12-15       Laporan Kegiatan for any period

    For a request, steps 9 to 12 are first advanced as far as the records and signatures
    allow (like `sop run ID`; step 8 itself is `sop provision`). Each document is dated by the
    step that produced it and numbered with the request's ticket from step 5, so running this
    again writes the same files. The Laporan Hasil Hosting is the one recorded at step 9: an
    intact copy is left alone, a missing one is rebuilt only if it comes out byte for byte as
    recorded.

    The Laporan Kegiatan lists every request open during the period as it stood at the
    period's end: each step's working time (calendar in inventories/calendar.yaml) against
    the SOP target, and every step past its target.
    """
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    trusted = trusted_config(ws.root, base)
    if request_id is None:
        if documents or not advance:
            raise click.UsageError("--document dan --no-advance hanya untuk satu permintaan (ID)")
        start, end = _period(period, from_, to)
        moment = parse_moment(now_)
        activity, paths = write_period_report(
            ws,
            trusted,
            period_start=start,
            period_end=end,
            now=moment,
            sequence=sequence,
            backups=_backups(ws, trusted, lab_dir, moment, as_json) if with_backups else None,
        )
        if as_json:
            summary = {
                "from": start.isoformat(),
                "to": end.isoformat(),
                "requests": len(activity.entries),
                "breaches": len(activity.breaches),
                "backup_breaches": sum(1 for b in activity.backups or () if b.breach),
                "files": [str(p) for p in paths],
            }
            click.echo(json.dumps(summary, indent=2))
            return
        click.echo(
            f"Laporan Kegiatan {start.isoformat()} s.d. {end.isoformat()}: "
            f"{len(activity.entries)} permintaan, {len(activity.breaches)} langkah melewati "
            "target."
        )
        for path in paths:
            _show(path, ws.root)
        return
    if period or from_ or to or sequence or now_ or with_backups:
        raise click.UsageError(
            "--period, --from, --to, --sequence, --now dan --backups hanya untuk Laporan "
            "Kegiatan (tanpa ID)"
        )
    ws.require(request_id)
    if advance:
        Pipeline(ws, trusted=trusted, now=_now, log=say).advance(request_id)
    done = write_request_documents(ws, request_id, trusted, wanted=documents or tuple(DOCUMENTS))
    if as_json:
        summary = {
            "request_id": request_id,
            "files": [{"path": str(path), "note": note} for path, note in done.files],
            "pending": [pending.diagnostics() for pending in done.pending],
        }
        click.echo(json.dumps(summary, indent=2))
    elif done.files:
        click.echo(f"Dokumen {request_id}:")
    for path, note in [] if as_json else done.files:
        _show(path, ws.root, "" if note == WRITTEN else f" ({note})")
    for pending in [] if as_json else done.pending:
        click.echo(f"Belum: {pending.diagnostics()}", err=bool(documents))
    if done.pending and (documents or not done.paths(WRITTEN, KEPT)):
        sys.exit(done.pending[0].exit_code)
