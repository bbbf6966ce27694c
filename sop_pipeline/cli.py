"""The ``sop`` command: a thin layer over the library.

Messages for OPD staff and officials are in Bahasa Indonesia; ``--help`` texts are in English
with the SOP's own terms, for the department's engineers.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from sop_pipeline import __version__
from sop_pipeline.analysis_command import analyze_cmd
from sop_pipeline.command_options import base_option
from sop_pipeline.comment_command import comment_cmd
from sop_pipeline.config import load_calendar, load_policy
from sop_pipeline.domain.sla import StepTiming, paused_time, timings
from sop_pipeline.domain.sop import STEPS, Role
from sop_pipeline.domain.sop import step as sop_step
from sop_pipeline.domain.state import PHASE_LABELS, Outcome, RequestState, StepEvent
from sop_pipeline.errors import SopError
from sop_pipeline.gitsource import base_tree
from sop_pipeline.loader import format_problem, load_request
from sop_pipeline.pipeline import Pipeline
from sop_pipeline.provision_command import provision_cmd
from sop_pipeline.report_command import report
from sop_pipeline.signing.commands import COMMANDS as SIGNING_COMMANDS
from sop_pipeline.tracking import record_step, state_of
from sop_pipeline.validation import (
    changed_request_files,
    entries_to_check,
    request_files,
    today_anywhere,
    validate_files,
)
from sop_pipeline.workspace import Workspace

EXIT_CODES = """\b
Exit codes:
  0  everything asked for holds
  1  an unexpected error (a bug: please report it)
  2  a request file or a step is refused (invalid, incomplete, out of order)
  3  configuration under inventories/ or approvers/ is wrong
  4  an outside system failed (git, ssh-keygen, Terraform, Proxmox, Ansible, DNS)
  5  a record (ledger) does not verify: it was altered, truncated or reordered
  6  a signature or statement is invalid (sop sign)
  7  a gate refused: what step N needs does not hold (sop gate)
"""


def _now() -> datetime:
    return datetime.now().astimezone()


class SopGroup(click.Group):
    """Turns every SopError into its diagnostics and exit code, with no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SopError as err:
            click.echo(err.diagnostics(), err=True)
            ctx.exit(err.exit_code)


@click.group(cls=SopGroup, epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="sop")
@click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Root of the requests repository (holds requests/, records/, inventories/).",
)
@click.pass_context
def main(ctx: click.Context, repo: Path) -> None:
    """Hosting Website / Aplikasi (SOP 555/129/Dikominfotik-2021) as code.

    An OPD asks for hosting by adding requests/<id>.yaml in a merge request. `sop` checks it,
    walks it through the 12 steps of the SOP and keeps a tamper-evident record of each step
    under records/.

    \b
    Typical use:
      sop validate                  check every request file
      sop validate --since main     only files changed since main
      sop submit dinkes-simpus      record step 1 for a valid request
      sop sign dinkes-simpus --step 4 --decision complete --signer ... --key ~/.ssh/id_ed25519
      sop verify dinkes-simpus      who signed what, and whether it holds
      sop gate dinkes-simpus --step 8   exit 0 only if everything step 8 needs holds
      sop status                    where every request stands, with SLA
      sop audit                     re-verify every record chain
    """
    ctx.obj = Workspace(repo)


# ------------------------------------------------------------------------------- validate


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--since",
    metavar="COMMIT",
    help="Only request files (and their attachments) changed since COMMIT.",
)
@click.option(
    "--base",
    metavar="COMMIT",
    help="Read the policy (inventories/) from COMMIT, as CI must; default: work tree.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def validate(
    ws: Workspace, paths: tuple[Path, ...], since: str | None, base: str | None, as_json: bool
) -> None:
    """Check request files against the schema and the department's policy.

    With no PATHS, every requests/*.yaml is checked, including each OPD's quota over all its
    requests. Every problem in a file is reported at once, as FILE:LINE: FIELD: MESSAGE [RULE].
    In merge-request CI pass --base with the target branch, so a merge request cannot loosen
    the policy it is checked against.
    """
    if base:
        with base_tree(ws.root, base) as trusted:
            policy = load_policy(trusted / "inventories")
    else:
        policy = load_policy(ws.inventories)
    if paths:
        files = list(paths)
    elif since:
        files = changed_request_files(ws.root, ws.requests_dir, since)
    else:
        files = entries_to_check(ws.requests_dir)
    results = validate_files(
        files,
        policy,
        check_totals=not paths and not since,
        today=today_anywhere(_now()),
        peers=request_files(ws.requests_dir) if paths or since else (),
    )
    bad = [r for r in results if not r.ok]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "checked": len(results),
                    "invalid": [
                        {"file": str(r.path), "problems": [asdict(p) for p in r.problems]}
                        for r in bad
                    ],
                },
                indent=2,
            )
        )
    else:
        for result in bad:
            for problem in result.problems:
                click.echo(format_problem(result.path, problem))
        click.echo(
            f"{len(results)} berkas diperiksa, {len(results) - len(bad)} sah, {len(bad)} ditolak."
        )
    sys.exit(2 if bad else 0)


# ------------------------------------------------------------------------- record steps


def _at(value: str | None) -> datetime:
    if not value:
        return _now()
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise click.BadParameter("give a time zone, e.g. 2026-11-30T09:15+07:00")
    return moment


@main.command()
@click.argument("request_id")
@click.option("--at", "at_", metavar="ISO-TIME", help="When it happened (default: now).")
@click.pass_obj
def submit(ws: Workspace, request_id: str, at_: str | None) -> None:
    """Step 1: record that the OPD submitted REQUEST_ID (the file must be valid).

    In CI this runs when the merge request adds requests/<REQUEST_ID>.yaml.
    """
    request = load_request(ws.request_path(request_id), policy=load_policy(ws.inventories))
    record = record_step(
        ws.ledgers,
        request_id,
        StepEvent(1, Outcome.DONE, _at(at_), actor=request.data["pic"]["email"]),
        inputs={"request": request.digest, **request.attachments},
    )
    click.echo(f"{request_id}: langkah 1 dicatat (#{record.seq}, {record.hash[:12]}).")


@main.command()
@click.argument("request_id")
@click.option("--at", "at_", metavar="ISO-TIME", help="When it happened (default: now).")
@click.pass_obj
def resubmit(ws: Workspace, request_id: str, at_: str | None) -> None:
    """Step 4 again: the OPD completed a request that was sent back; its clock resumes.

    The request must be valid again; its new verification must be signed afresh.
    """
    request = load_request(ws.request_path(request_id), policy=load_policy(ws.inventories))
    record_step(
        ws.ledgers,
        request_id,
        StepEvent(4, Outcome.RESUBMIT, _at(at_), actor=request.data["pic"]["email"]),
        inputs={"request": request.digest, **request.attachments},
    )
    click.echo(f"{request_id}: diajukan ulang; menunggu verifikasi kelengkapan (langkah 4).")


# ------------------------------------------------------------------------------------ run


@main.command()
@base_option("keyring and policy")
@click.argument("request_ids", nargs=-1)
@click.pass_obj
def run(ws: Workspace, base: str, request_ids: tuple[str, ...]) -> None:
    """Advance every request (or the given ones) as far as records and signatures allow.

    Records step 1 for valid new requests, every signed step that holds (2-4, 6, 7, 10-12),
    the ticket number of step 5 and the hosting report of step 9. Step 8 (provisioning) is
    `sop provision`, on the protected branch only. Safe to run again at any time.
    """
    pipeline = Pipeline(ws, base=base, now=_now, log=click.echo)
    results = [pipeline.advance(r) for r in request_ids] if request_ids else pipeline.run()
    refused = 0
    for result in results:
        if result.refused:
            refused += 1
            continue
        state = result.state
        waiting = (
            f"menunggu langkah {state.next_step}"
            if state and state.next_step
            else (PHASE_LABELS[state.phase] if state else "-")
        )
        click.echo(f"{result.request_id}: {len(result.recorded)} langkah baru dicatat; {waiting}")
    sys.exit(2 if refused else 0)


# --------------------------------------------------------------------------------- status


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} mnt"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} j {minutes} mnt"


def _timing_row(t: StepTiming) -> dict[str, Any]:
    return {
        "step": t.step,
        "attempt": t.attempt,
        "actor": sop_step(t.step).actor.value,
        "started": t.started.isoformat(),
        "ended": t.ended.isoformat() if t.ended else None,
        "outcome": str(t.outcome) if t.outcome else None,
        "elapsed_working_seconds": int(t.elapsed.total_seconds()),
        "target": t.target_label,
        "deadline": t.deadline.isoformat() if t.deadline else None,
        "breached": t.breached,
    }


def _summary(state: RequestState, rows: list[StepTiming], paused: float) -> dict[str, Any]:
    return {
        "request_id": state.request_id,
        "phase": str(state.phase),
        "phase_label": PHASE_LABELS[state.phase] if state.runs else "belum diajukan",
        "next_step": state.next_step,
        "missing": list(state.missing),
        "reason": state.reason,
        "paused_working_seconds": int(paused),
        "breaches": sum(1 for t in rows if t.breached),
        "steps": [_timing_row(t) for t in rows],
    }


@main.command()
@click.argument("request_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--now", "now_", metavar="ISO-TIME", help="Compute running steps as of this time.")
@click.pass_obj
def status(ws: Workspace, request_id: str | None, as_json: bool, now_: str | None) -> None:
    """Where each request stands in the 12 steps, each step's time against its target.

    Times are working time on the calendar in inventories/calendar.yaml (Asia/Jakarta,
    working days and hours, holidays); "1 hari" is one working day. LEWAT marks a breach.
    """
    calendar = load_calendar(ws.inventories)
    now = _at(now_)
    ids = (
        [request_id]
        if request_id
        else sorted(
            set(ws.ledgers.request_ids()) | {p.stem for p in request_files(ws.requests_dir)}
        )
    )
    summaries = []
    for rid in ids:
        state = state_of(ws.ledgers, rid)
        rows = timings(state, calendar, now)
        rows = [
            replace(
                t,
                started=t.started.astimezone(calendar.tz),
                ended=t.ended.astimezone(calendar.tz) if t.ended else None,
            )
            for t in rows
        ]
        summaries.append(_summary(state, rows, paused_time(state, calendar, now).total_seconds()))
    if as_json:
        click.echo(json.dumps(summaries if not request_id else summaries[0], indent=2))
        return
    if request_id:
        _print_detail(summaries[0])
    else:
        _print_overview(summaries)


def _print_overview(summaries: list[dict[str, Any]]) -> None:
    click.echo(f"{'PERMINTAAN':<28} {'STATUS':<20} {'LANGKAH BERIKUT':<28} {'LEWAT':>5}")
    for s in summaries:
        nxt = s["next_step"]
        following = f"{nxt}. {sop_step(nxt).actor.label}" if nxt else "-"
        click.echo(
            f"{s['request_id']:<28} {s['phase_label']:<20} {following:<28} {s['breaches']:>5}"
        )


def _print_detail(s: dict[str, Any]) -> None:
    click.echo(f"Permintaan {s['request_id']}: {s['phase_label']}")
    if s["missing"]:
        click.echo("Kekurangan yang harus dilengkapi OPD: " + "; ".join(s["missing"]))
    if s["reason"]:
        click.echo(f"Alasan: {s['reason']}")
    click.echo(
        f"{'NO':>2} {'PELAKSANA':<21} {'SELESAI':<17} {'WAKTU KERJA':>12} {'TARGET':>9}  HASIL"
    )
    for row in s["steps"]:
        ended = row["ended"][:16].replace("T", " ") if row["ended"] else "(berjalan)"
        verdict = "LEWAT" if row["breached"] else "ok"
        if row["deadline"] is None:
            verdict = "-"
        attempt = f" (ke-{row['attempt']})" if row["attempt"] > 1 else ""
        click.echo(
            f"{row['step']:>2} {Role(row['actor']).label:<21} {ended:<17} "
            f"{_duration(row['elapsed_working_seconds']):>12} {row['target']:>9}  "
            f"{verdict} {row['outcome'] or ''}{attempt}"
        )
    if s["paused_working_seconds"]:
        click.echo(f"Waktu di OPD (jam berhenti): {_duration(s['paused_working_seconds'])}")


# ---------------------------------------------------------------------------------- audit


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def audit(ws: Workspace, as_json: bool) -> None:
    """Re-verify every record chain under records/ and say where one was altered.

    Also re-checks that each request's steps follow the SOP. Exit 5 when anything fails.
    """
    report = ws.ledgers.audit()
    faults = [str(f) for path_faults in report.values() for f in path_faults]
    for request_id in ws.ledgers.request_ids():
        path = ws.ledgers.for_request(request_id).path
        if report.get(path):
            continue
        try:
            state_of(ws.ledgers, request_id)
        except SopError as err:
            faults.append(f"{path}: {err.diagnostics()}")
    if as_json:
        click.echo(json.dumps({"ledgers": len(report), "faults": faults}, indent=2))
    else:
        for fault in faults:
            click.echo(fault)
        verdict = "UTUH" if not faults else f"{len(faults)} KESALAHAN"
        click.echo(f"{len(report)} buku catatan diperiksa: {verdict}.")
    sys.exit(5 if faults else 0)


@main.group()
def lab() -> None:
    """The local lab: Proxmox API (fakepve), BIND, Debian mirror and QEMU VMs.

    Everything runs inside the network namespace `soplab`; nothing leaves it. Needs root.
    State under $SOP_LAB_DIR (default /var/lib/sop-lab); see docs/lab.md.
    """


_NAMESPACE = click.option(
    "--namespace",
    default="soplab",
    show_default=True,
    help="Network namespace of this lab (a second lab needs its own).",
)
_LAB_DIR = click.option(
    "--lab-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="State folder (default $SOP_LAB_DIR or /var/lib/sop-lab).",
)


@lab.command("up")
@_NAMESPACE
@_LAB_DIR
def lab_up(namespace: str, lab_dir: Path | None) -> None:
    """Start the lab (idempotent) and print where each part answers (no secrets)."""
    from sop_pipeline.lab import control  # the lab's modules load only when asked for

    info = control.up(lab_dir=lab_dir, namespace=namespace)
    for key, value in asdict(info).items():
        click.echo(f"{key}: {value}")
    click.echo("Lab siap.")


@lab.command("down")
@_NAMESPACE
@_LAB_DIR
def lab_down(namespace: str, lab_dir: Path | None) -> None:
    """Stop every lab VM, the API, BIND and the mirror, then delete the namespace."""
    from sop_pipeline.lab import control

    control.down(lab_dir=lab_dir, namespace=namespace)
    click.echo("Lab dihentikan.")


@main.command()
def steps() -> None:
    """Print the SOP's 12 steps, actors and target times."""
    for s in STEPS:
        mark = " (gerbang)" if s.gate else ""
        click.echo(f"{s.number:>2}. [{s.actor.label}] {s.activity}{mark} - target {s.target.label}")


for _command in SIGNING_COMMANDS:  # sign, verify, gate, keyring lint
    main.add_command(_command)
main.add_command(analyze_cmd)  # step 6
main.add_command(provision_cmd)  # step 8 (and 9)
main.add_command(report)  # steps 9-12 documents, Laporan Kegiatan
main.add_command(comment_cmd)  # the merge-request comment


if __name__ == "__main__":  # pragma: no cover
    main()
