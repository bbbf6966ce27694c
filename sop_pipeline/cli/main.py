"""The ``sop`` command: a thin layer over the library.

Messages and the ``--help`` of the commands officials and OPD staff use (``sign``,
``status``, ``verify``, ``validate``, ``comment``) are in Bahasa Indonesia; the rest of
``--help`` is in English with the SOP's own terms, for the department's engineers.

Starting ``sop`` must stay cheap (every merge-request job and every OPD's ``sop validate``
pays it): this module imports only click and the error table at the top; each command
imports what it needs in its body, and the commands of other modules are loaded by
:class:`SopGroup` only when they are asked for (``LAZY_COMMANDS``).
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sop_pipeline import __version__
from sop_pipeline.cli.options import base_option, trusted_config
from sop_pipeline.errors import EXIT_MEANINGS, ExitCode, SopError
from sop_pipeline.workspace import Workspace

if TYPE_CHECKING:
    from sop_pipeline.domain.policy import Policy

#: ``-h`` works everywhere: sub-contexts inherit it from the group's context.
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"]}

#: Commands defined in other modules, imported only when one of them runs (or --help lists it).
LAZY_COMMANDS: dict[str, str] = {
    "sign": "sop_pipeline.cli.signing:sign_cmd",
    "verify": "sop_pipeline.cli.signing:verify_cmd",
    "gate": "sop_pipeline.cli.signing:gate_cmd",
    "keyring": "sop_pipeline.cli.signing:keyring_group",
    "analyze": "sop_pipeline.cli.analysis:analyze_cmd",  # step 6
    "provision": "sop_pipeline.cli.provision:provision_cmd",  # step 8 (and 9)
    "report": "sop_pipeline.cli.report:report",  # steps 9-12 documents, Laporan Kegiatan
    "comment": "sop_pipeline.cli.comment:comment_cmd",  # the merge-request comment
    "backups": "sop_pipeline.cli.backups:backups_cmd",  # last good backup per hosting
    "site": "sop_pipeline.cli.site:site_group",  # the static site (pages, dashboard)
    "drift": "sop_pipeline.cli.drift:drift_cmd",  # approved vs running, nightly
    "expiry": "sop_pipeline.cli.expiry:expiry_cmd",  # notices, soft retirement, daily
    "sign-reversal": "sop_pipeline.cli.expiry:sign_reversal_cmd",  # undo a soft retirement
}


def exit_code_table() -> str:
    """The exit codes as ``--help`` prints them, from :class:`ExitCode` (one table)."""
    rows = [f"  {int(code):>2}  {EXIT_MEANINGS[code]}" for code in ExitCode]
    return "\b\nExit codes:\n" + "\n".join(rows) + "\n"


EXIT_CODES = exit_code_table()

BUG_MESSAGE = (
    "sop: kesalahan tak terduga (bug), bukan putusan atas permintaan. Mohon laporkan "
    "beserta keterangan di atas (an unexpected error: please report it with the trace above)."
)


def _now() -> datetime:
    return datetime.now().astimezone()


def _as_usage(err: click.UsageError) -> None:
    # click exits 2 on a usage error; 2 is ours for a refused request, so this one says 64
    setattr(err, "exit_code", ExitCode.USAGE)  # noqa: B010 - click declares it a ClassVar


class SopGroup(click.Group):
    """The one error path, and commands loaded on demand.

    Every SopError becomes its diagnostics on stderr and its exit code, with no traceback;
    a wrong command line exits USAGE (64), not 2, so CI never mistakes a typo in a job for a
    refused request; anything else is a bug (exit 1, with its traceback on stderr).
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and cmd_name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attr)
            if not isinstance(command, click.Command):  # pragma: no cover - a wiring mistake
                raise TypeError(f"{LAZY_COMMANDS[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return command

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as err:
            _as_usage(err)
            raise

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            _as_usage(err)
            raise
        except SopError as err:
            click.echo(err.diagnostics(), err=True)
            ctx.exit(err.exit_code)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception:
            click.echo(traceback.format_exc(), err=True, nl=False)
            click.echo(BUG_MESSAGE, err=True)
            ctx.exit(ExitCode.BUG)


@click.group(cls=SopGroup, epilog=EXIT_CODES, context_settings=CONTEXT_SETTINGS)
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
    under records/. Errors go to stderr; every command that reports takes --json.

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
      sop checkpoint --key K        sign every record head (protected jobs)
    """
    ctx.obj = Workspace(repo)


# ------------------------------------------------------------------------------- validate

_JSON = click.option("--json", "as_json", is_flag=True, help="Keluaran JSON (machine-readable).")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--since",
    metavar="COMMIT",
    help="Hanya berkas permintaan (dan lampirannya) yang berubah sejak COMMIT.",
)
@click.option(
    "--records",
    "records_ref",
    metavar="REF",
    help="Baca catatan penerapan terakhir (records/) dari REF, mis. cabang sop-records, bukan "
    "dari folder records/ salinan kerja.",
)
@base_option("the policy and quotas (inventories/)")
@_JSON
@click.pass_obj
def validate(
    ws: Workspace,
    paths: tuple[Path, ...],
    since: str | None,
    records_ref: str | None,
    base: str,
    as_json: bool,
) -> None:
    """Periksa berkas permintaan terhadap skema dan kebijakan Dinas.

    Tanpa PATHS, semua requests/*.yaml diperiksa. Kuota tiap OPD selalu dihitung atas seluruh
    permintaannya: dengan PATHS atau --since pun, berkas yang membuat OPD-nya melebihi kuota
    ditolak ([opd-quota-total]). Semua masalah dalam satu berkas dilaporkan sekaligus, sebagai
    BERKAS:BARIS: KOLOM: PESAN [ATURAN]. Kebijakan dibaca dari cabang dasar (--base), supaya
    merge request tidak dapat melonggarkan kebijakan yang dipakai memeriksanya.

    Dengan --since, pernyataan atau tanda tangan di requests/<id>.approvals/ yang ada di sisi
    COMMIT lalu dihapus atau diubah juga ditolak ([approval-removed], [approval-modified]):
    persetujuan hanya boleh bertambah.

    Berkas hosting yang sudah berjalan diperiksa sebagai perubahan terhadap catatan penerapan
    terakhir langkah 8 (records/, atau --records REF): disk tidak dapat diperkecil
    ([disk-shrink]), jenis perubahan harus ditulis ([kind-live]), dan seterusnya
    (docs/changes.md).

    Kode keluar: 0 semua sah; 2 ada berkas yang ditolak; 3 kebijakan salah; 5 catatan rusak.
    """
    from dataclasses import asdict

    from sop_pipeline.loader import format_problem
    from sop_pipeline.steps.validation import (
        applied_at_commit,
        applied_in_store,
        approval_history_problems,
        changed_request_files,
        entries_to_check,
        request_files,
        today_anywhere,
        validate_files,
    )

    policy = trusted_config(ws.root, base).policy
    if paths:
        files = list(paths)
    elif since:
        files = changed_request_files(ws.root, ws.requests_dir, since)
    else:
        files = entries_to_check(ws.requests_dir)
    results = validate_files(
        files,
        policy,
        check_totals=True,  # over the peers too: --since still checks the OPDs it touches
        today=today_anywhere(_now()),
        peers=request_files(ws.requests_dir) if paths or since else (),
        applied=applied_at_commit(ws.root, records_ref)
        if records_ref
        else applied_in_store(ws.ledgers),
    )
    if since and not paths:  # the approvals folders only grow
        results += approval_history_problems(ws.root, ws.requests_dir, since)
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
    sys.exit(ExitCode.REFUSED if bad else ExitCode.OK)


# ------------------------------------------------------------------------- record steps


def _at(value: str | None) -> datetime:
    if not value:
        return _now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise click.BadParameter(f"'{value}' bukan waktu ISO-8601") from err
    if moment.tzinfo is None:
        raise click.BadParameter("beri zona waktu, mis. 2026-11-30T09:15+07:00")
    return moment


def _record_request(
    ws: Workspace,
    request_id: str,
    step: int,
    outcome: str,
    at: datetime,
    policy: Policy,
    *,
    as_json: bool = False,
    then: str = "",
) -> None:
    """Record ``step`` for a request that must load valid now under the base branch's
    ``policy``, and say so (one line, plus ``then``; or one JSON object)."""
    from sop_pipeline.domain.state import Outcome, StepEvent
    from sop_pipeline.ledger.tracking import record_step
    from sop_pipeline.loader import load_request

    ws.require(request_id, file=True)
    request = load_request(ws.request_path(request_id), policy=policy)
    record = record_step(
        ws.ledgers,
        request_id,
        StepEvent(step, Outcome(outcome), at, actor=request.request.pic.email),
        inputs={"request": request.digest, **request.attachments},
    )
    if as_json:
        row = {"request_id": request_id, "step": step, "outcome": outcome, "seq": record.seq}
        click.echo(json.dumps({**row, "hash": record.hash, "at": at.isoformat()}, indent=2))
        return
    click.echo(f"{request_id}: langkah {step} dicatat (#{record.seq}, {record.hash[:12]}).")
    if then:
        click.echo(then)


@main.command()
@click.argument("request_id")
@click.option("--at", "at_", metavar="ISO-TIME", help="When it happened (default: now).")
@base_option("the policy")
@_JSON
@click.pass_obj
def submit(ws: Workspace, request_id: str, at_: str | None, base: str, as_json: bool) -> None:
    """Step 1: record that the OPD submitted REQUEST_ID (the file must be valid).

    In CI this runs when the merge request adds requests/<REQUEST_ID>.yaml.
    """
    policy = trusted_config(ws.root, base).policy
    _record_request(ws, request_id, 1, "done", _at(at_), policy, as_json=as_json)


@main.command()
@click.argument("request_id")
@click.option("--at", "at_", metavar="ISO-TIME", help="When it happened (default: now).")
@base_option("the policy")
@_JSON
@click.pass_obj
def resubmit(ws: Workspace, request_id: str, at_: str | None, base: str, as_json: bool) -> None:
    """Step 4 again: the OPD completed a request that was sent back; its clock resumes.

    The request must be valid again; its new verification must be signed afresh.
    """
    policy = trusted_config(ws.root, base).policy
    then = f"{request_id}: diajukan ulang; menunggu verifikasi kelengkapan (langkah 4)."
    _record_request(ws, request_id, 4, "resubmit", _at(at_), policy, as_json=as_json, then=then)


# ------------------------------------------------------------------------------------ run


@main.command()
@base_option("keyring and policy")
@_JSON
@click.argument("request_ids", nargs=-1)
@click.pass_obj
def run(ws: Workspace, base: str, as_json: bool, request_ids: tuple[str, ...]) -> None:
    """Advance every request (or the given ones) as far as records and signatures allow.

    Records step 1 for valid new requests, every signed step that holds (2-4, 6, 7, 10-12),
    the ticket number of step 5 and the hosting report of step 9. Step 8 (provisioning) is
    `sop provision`, on the protected branch only. Safe to run again at any time.
    """
    from sop_pipeline.domain.state import PHASE_LABELS
    from sop_pipeline.steps.pipeline import Pipeline

    for request_id in request_ids:
        ws.require(request_id, file=True)
    log = (lambda _line: None) if as_json else click.echo
    pipeline = Pipeline(ws, trusted=trusted_config(ws.root, base), now=_now, log=log)
    results = [pipeline.advance(r) for r in request_ids] if request_ids else pipeline.run()
    rows = []
    for result in results:
        state = result.state
        waiting = (
            f"menunggu langkah {state.next_step}"
            if state and state.next_step
            else (PHASE_LABELS[state.phase] if state else "-")
        )
        rows.append(
            {
                "request_id": result.request_id,
                "recorded": result.recorded,
                "refused": result.refused or None,
                "next_step": state.next_step if state else None,
                "waiting": waiting,
            }
        )
        if not as_json and not result.refused:
            click.echo(
                f"{result.request_id}: {len(result.recorded)} langkah baru dicatat; {waiting}"
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    sys.exit(ExitCode.REFUSED if any(r.refused for r in results) else ExitCode.OK)


# --------------------------------------------------------------------------------- status


@main.command()
@click.argument("request_id", required=False)
@_JSON
@click.option(
    "--now", "now_", metavar="ISO-TIME", help="Hitung langkah yang berjalan per waktu ini."
)
@base_option("the working calendar")
@click.pass_obj
def status(
    ws: Workspace, request_id: str | None, as_json: bool, now_: str | None, base: str
) -> None:
    """Posisi tiap permintaan dalam 12 langkah SOP, dan waktu tiap langkah terhadap targetnya.

    Waktu dihitung sebagai waktu kerja menurut kalender di inventories/calendar.yaml
    (Asia/Jakarta, hari dan jam kerja, hari libur); "1 hari" adalah satu hari kerja. LEWAT
    menandai langkah yang melewati target. Dengan REQUEST_ID: rincian satu permintaan.

    Kode keluar: 0 berhasil; 8 tidak ada permintaan dengan nomor itu.
    """
    from sop_pipeline.steps.overview import known_request_ids, status_summaries

    calendar = trusted_config(ws.root, base).calendar
    now = _at(now_)
    ids = [ws.require(request_id)] if request_id else known_request_ids(ws)
    summaries = status_summaries(ws, calendar, now, ids)
    if as_json:
        click.echo(json.dumps(summaries if not request_id else summaries[0], indent=2))
        return
    if request_id:
        _print_detail(summaries[0], calendar.typical_day())
    else:
        _print_overview(summaries)


def _print_overview(summaries: list[dict[str, Any]]) -> None:
    from sop_pipeline.domain.sop import step as sop_step

    click.echo(f"{'PERMINTAAN':<28} {'STATUS':<20} {'LANGKAH BERIKUT':<28} {'LEWAT':>5}")
    for s in summaries:
        nxt = s["next_step"]
        following = f"{nxt}. {sop_step(nxt).actor.label}" if nxt else "-"
        click.echo(
            f"{s['request_id']:<28} {s['phase_label']:<20} {following:<28} {s['breaches']:>5}"
        )


def _print_detail(s: dict[str, Any], working_day: timedelta) -> None:
    from sop_pipeline.domain.sop import Role
    from sop_pipeline.domain.state import OUTCOME_LABELS, Outcome
    from sop_pipeline.reports.indonesian import working_duration

    def spent(seconds: int) -> str:
        return working_duration(timedelta(seconds=seconds), working_day)

    click.echo(f"Permintaan {s['request_id']}: {s['phase_label']}")
    if s["cycle"] > 1:
        click.echo(
            f"Siklus {s['cycle']}: perubahan hosting yang berjalan (siklus sebelumnya: "
            f"{s['earlier_steps']} langkah tercatat; docs/changes.md)"
        )
    for row in s.get("retirement") or ():  # kind: pensiun, docs/retirement.md
        click.echo(f"Pensiun: {row['label']} ({row['at'][:16].replace('T', ' ')})")
    if s["missing"]:
        click.echo("Kekurangan yang harus dilengkapi OPD: " + "; ".join(s["missing"]))
    if s["reason"]:
        click.echo(f"Alasan: {s['reason']}")
    click.echo(
        f"{'NO':>2} {'PELAKSANA':<21} {'SELESAI':<17} {'WAKTU KERJA':>20} {'TARGET':>9}  HASIL"
    )
    for row in s["steps"]:
        ended = row["ended"][:16].replace("T", " ") if row["ended"] else "(berjalan)"
        # the words of the Laporan Kegiatan: "disetujui; sesuai target", "LEWAT target"
        outcome = OUTCOME_LABELS[Outcome(row["outcome"])] if row["outcome"] else ""
        if not row["ended"]:
            timing = "sedang berjalan"
        elif row["deadline"] is None:
            timing = "tentatif"
        else:
            timing = "sesuai target"
        if row["breached"] and row["deadline"] is not None:
            timing = "LEWAT target"
        attempt = f" (ke-{row['attempt']})" if row["attempt"] > 1 else ""
        click.echo(
            f"{row['step']:>2} {Role(row['actor']).label:<21} {ended:<17} "
            f"{spent(row['elapsed_working_seconds']):>20} {row['target']:>9}  "
            + "; ".join(x for x in (outcome + attempt, timing) if x)
        )
    if s["paused_working_seconds"]:
        click.echo(f"Waktu di OPD (jam berhenti): {spent(s['paused_working_seconds'])}")
    life = s.get("expiry") or {}
    if life:  # the hosting's expiry (sop expiry): docs/expiry.md
        click.echo(f"Masa hosting: {life['phase']}, berakhir {life.get('end') or '-'}")
        for event in life.get("events", ()):
            click.echo(
                f"  {event['at'][:16].replace('T', ' ')} {event.get('event', '')}"
                + (f" H-{event['threshold']}" if event.get("threshold") else "")
            )
        if life.get("quarantine_until"):
            click.echo(f"  karantina sampai {life['quarantine_until']} (alamat dan VMID disimpan)")


# ---------------------------------------------------------------------------------- audit


@main.command()
@_JSON
@base_option("the keyring that checkpoints are verified with")
@click.pass_obj
def audit(ws: Workspace, as_json: bool, base: str) -> None:
    """Re-verify every record chain under records/ and say where one was altered.

    Also re-checks that each request's steps follow the SOP, that every signed checkpoint
    (records/checkpoints/) verifies and matches its record, and that every statement's
    record_head names a record the chain holds. Exit 5 when anything fails.
    """
    from sop_pipeline.steps.overview import audit_faults

    checked, faults = audit_faults(ws, lambda: trusted_config(ws.root, base).keyring, _now())
    if as_json:
        click.echo(json.dumps({"ledgers": checked, "faults": faults}, indent=2))
    else:
        for fault in faults:
            click.echo(fault)
        verdict = "UTUH" if not faults else f"{len(faults)} KESALAHAN"
        click.echo(f"{checked} buku catatan diperiksa: {verdict}.")
    sys.exit(ExitCode.RECORD if faults else ExitCode.OK)


@main.command("checkpoint")
@click.argument("request_ids", nargs=-1)
@click.option(
    "--key",
    envvar="SOP_CHECKPOINT_KEY",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The pipeline's private checkpoint key ($SOP_CHECKPOINT_KEY, protected environment).",
)
@click.option(
    "--signer",
    envvar="SOP_CHECKPOINT_SIGNER",
    default="",
    help="Its principal in roles.pipeline ($SOP_CHECKPOINT_SIGNER; default: the only one).",
)
@click.option("--at", "at_", metavar="ISO-TIME", help="Signing time (default: now).")
@base_option("the keyring (roles.pipeline)")
@_JSON
@click.pass_obj
def checkpoint_cmd(
    ws: Workspace,
    request_ids: tuple[str, ...],
    key: Path,
    signer: str,
    at_: str | None,
    base: str,
    as_json: bool,
) -> None:
    """Sign the head of every record under records/ (or of REQUEST_IDS) not yet signed.

    Without REQUEST_IDS the pipeline-wide ledgers (records/_*.jsonl: tickets, consumed
    approvals) are signed too: rewriting them would reopen a spent approval.

    Run by the protected jobs after they change records/. Exit 3 without a pipeline
    principal in the keyring; 5 when a record does not hold.
    """
    from sop_pipeline.signing import checkpoint
    from sop_pipeline.signing.errors import KeyringError

    pipeline = trusted_config(ws.root, base).keyring.pipeline
    signer = signer or (pipeline[0] if len(pipeline) == 1 else "")
    if signer not in pipeline:
        raise KeyringError(
            f"approvers/roles.toml: roles.pipeline harus memuat satu principal (atau beri "
            f"--signer salah satunya), kini {list(pipeline)} [pipeline-role]"
        )
    at = _at(at_)
    rows: list[dict[str, object]] = []
    for request_id in request_ids or tuple(ws.ledgers.ledger_ids()):
        if request_ids:
            ws.require(request_id)
        ledger = ws.ledgers.by_id(request_id)
        with ws.ledgers.locked(request_id):
            done = checkpoint.sign(
                records_dir=ws.records_dir,
                request_id=request_id,
                records=ledger.records(),
                key=key,
                signer=signer,
                at=at,
            )
        rows.append(
            {"request_id": request_id, "signed": False}
            if not done
            else {"request_id": request_id, "signed": True, "count": done.count, "head": done.head}
        )
        if as_json:
            continue
        if done:
            click.echo(f"{request_id}: checkpoint #{done.count} {done.head[:12]} ditandatangani.")
        else:
            click.echo(f"{request_id}: head sudah ditandatangani.")
    if as_json:
        click.echo(json.dumps(rows, indent=2))


# ------------------------------------------------------------------------------------ lab


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
    from dataclasses import asdict

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
@_JSON
def steps(as_json: bool) -> None:
    """Print the SOP's 12 steps, actors and target times."""
    from sop_pipeline.domain.sop import STEPS

    if as_json:
        rows = [
            {
                "step": s.number,
                "actor": s.actor.value,
                "actor_label": s.actor.label,
                "activity": s.activity,
                "gate": s.gate,
                "target": s.target.label,
            }
            for s in STEPS
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    for s in STEPS:
        mark = " (gerbang)" if s.gate else ""
        click.echo(f"{s.number:>2}. [{s.actor.label}] {s.activity}{mark} - target {s.target.label}")


if __name__ == "__main__":  # pragma: no cover
    main()
