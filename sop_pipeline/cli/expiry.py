"""``sop expiry`` (the daily run) and ``sop sign-reversal`` (the Koordinator's reversal).

Registered lazily by :mod:`sop_pipeline.cli.main`. The work is :mod:`sop_pipeline.steps.expiry`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from sop_pipeline.cli.options import base_option, lab_dir_option, parse_moment
from sop_pipeline.config import TrustedConfig, load_expiry_policy
from sop_pipeline.errors import ExitCode, SopError
from sop_pipeline.workspace import Workspace

EPILOG = """\b
Exit codes:
  0  every hosting handled (notices written, retirements and reversals done, or nothing due)
  3  configuration is wrong (inventories/, lab.json, SOP_* variables)
  4  an outside system failed for a hosting (Proxmox, DNS): named; nothing recorded for it
  5  a ledger does not verify
  6  --reverse ID: no valid reversal statement (each refusal names its rule)
  8  no such request
"""


@click.command("expiry", epilog=EPILOG)
@click.option("--now", "now_", metavar="ISO-TIME", help="The run's time (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print every hosting's outcome as JSON.")
@click.option(
    "--reverse",
    "reverse_id",
    metavar="ID",
    help="Only this hosting, now: apply the Koordinator's signed reversal of its soft "
    "retirement (or say why it is refused).",
)
@click.option("--logs-url", envvar="CI_JOB_URL", help="Link at the end of each comment.")
@lab_dir_option("Act")
@base_option("policy, calendar, department and keyring")
@click.pass_obj
def expiry_cmd(
    ws: Workspace,
    now_: str | None,
    as_json: bool,
    reverse_id: str | None,
    logs_url: str | None,
    lab_dir: Path | None,
    base: str,
) -> None:
    """Warn at H-30/H-14/H-7 working days, soft-retire at the end, reverse when signed.

    \b
    Notices: records/notices/<id>/<end>-h<N>.md and .eml (for the department's relay),
    the comment records/reports/<id>/komentar-masa-hosting.md, a record in the hosting's
    ledger and in records/_expiry.jsonl (the Laporan Kegiatan). Soft retirement: the VM shut
    down, the name pointed at the holding host (expiry.holding_addresses in policy.yaml),
    allocation kept, quarantine started. Nothing is ever destroyed here.
    """
    sys.exit(_run(ws, now_, as_json, reverse_id, logs_url, lab_dir, base))


def _run(
    ws: Workspace,
    now_: str | None,
    as_json: bool,
    reverse_id: str | None,
    logs_url: str | None,
    lab_dir: Path | None,
    base: str,
) -> int:
    from sop_pipeline.adapters.vm_power import VmPower
    from sop_pipeline.cli.options import reach_infrastructure
    from sop_pipeline.reports.expiry import Sender
    from sop_pipeline.steps import expiry as uc

    say = functools.partial(click.echo, err=as_json)
    now = parse_moment(now_)
    if reverse_id is not None:
        ws.require(reverse_id, file=True)
    with TrustedConfig.from_commit(ws.root, base) as trusted:
        infra = reach_infrastructure(lab_dir, err=as_json)
        policy = trusted.policy
        letterhead = trusted.department.letterhead
        ctx = uc.ExpiryContext(
            ledgers=ws.ledgers,
            requests_dir=ws.requests_dir,
            records_dir=ws.records_dir,
            calendar=trusted.calendar,
            policy=load_expiry_policy(trusted.inventories),
            environment=infra.environment,
            zone=policy.zone,
            sender=Sender(f"Helpdesk {letterhead.short_name}", letterhead.email, letterhead.agency),
            power=lambda: VmPower(infra.proxmox()),
            names=lambda: infra.dns(policy.zone),
            keyring=lambda: trusted.keyring,
            logs_url=logs_url,
            log=say,
        )
        outcomes = uc.run_expiry(ctx, now, only=reverse_id)
        ended = uc.quarantine_ended_ids(ws.ledgers, now, trusted.calendar)
    code = ExitCode.OK
    if any(o.action == "failed" for o in outcomes):
        code = ExitCode.OUTSIDE
    elif reverse_id is not None and not any(o.action == "reversed" for o in outcomes):
        code = ExitCode.SIGNATURE
    if as_json:
        click.echo(
            json.dumps(
                {
                    "exit_code": int(code),
                    "now": now.isoformat(),
                    "outcomes": [o.to_json() for o in outcomes],
                    "quarantine_ended": ended,
                },
                indent=2,
            )
        )
    for o in outcomes:
        say(f"expiry: {o.request_id}: {o.action}" + (f": {o.detail}" if o.detail else ""))
    if reverse_id is not None and code == ExitCode.SIGNATURE:
        click.echo(
            f"expiry: {reverse_id}: tidak ada pernyataan pembatalan yang sah; tidak ada yang "
            "diubah",
            err=True,
        )
    return int(code)


@click.command("sign-reversal")
@click.argument("request_id")
@click.option("--signer", required=True, help="Principal Anda (Koordinator).")
@click.option("--reason", required=True, help="Alasan pembatalan pensiun lunak.")
@click.option("--key", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--valid-days", type=click.IntRange(1, 30), default=14, show_default=True)
@click.option("--at", "at_", metavar="ISO-TIME", help="Waktu tanda tangan (bawaan: sekarang).")
@click.pass_obj
def sign_reversal_cmd(
    ws: Workspace, request_id: str, signer: str, reason: str, key: Path, valid_days: int,
    at_: str | None,
) -> None:  # fmt: skip
    """Tanda tangani pembatalan pensiun lunak REQUEST_ID (Koordinator).

    Pernyataan terikat pada bita berkas permintaan dan catatan pensiun lunak yang berlaku;
    ditulis ke requests/<id>.approvals/reversal-koordinator.json (+ .sig). Diterapkan pada
    `sop expiry` berikutnya (atau `sop expiry --reverse ID`).
    """
    from sop_pipeline.signing import reversal as rv
    from sop_pipeline.steps.expiry import life_of

    ws.require(request_id, file=True)
    life = life_of(ws.ledgers.for_request(request_id).records())
    if life.soft is None:
        click.echo(f"{request_id}: tidak dalam pensiun lunak; tidak ada yang dibatalkan", err=True)
        sys.exit(ExitCode.REFUSED)
    at = parse_moment(at_) if at_ else datetime.now(UTC)
    digest = hashlib.sha256(ws.request_path(request_id).read_bytes()).hexdigest()
    statement = rv.new(
        request_id=request_id,
        request_sha256=digest,
        retirement=life.soft.record_hash,
        signer=signer,
        reason=reason,
        at=at,
        valid=timedelta(days=valid_days),
    )
    try:
        path = rv.write(
            ws.requests_dir / f"{request_id}.approvals", statement, rv.sign(statement, key)
        )
    except SopError as err:
        click.echo(err.diagnostics(), err=True)
        sys.exit(err.exit_code)
    click.echo(f"ditulis: {path}")
