"""``sop sign``, ``sop verify``, ``sop gate``, ``sop keyring lint``: thin click wrappers.

Every command reads the keyring from the base branch (``--base``, default ``$SOP_BASE_REF``
or ``main``) of the repository (``--repo``); the verification time is this machine's clock
unless ``--at`` is given, never anything from the repository.

Exit codes: 0 holds / valid; 1 a statement or the keyring does not hold; 2 bad request
file; 3 keyring unreadable; 4 ssh-keygen or git failed; 6 bad signature or statement
(``sop sign``); 7 gate refused.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from sop_pipeline.command_options import base_option, trusted_config
from sop_pipeline.errors import SopError
from sop_pipeline.ledger.store import LedgerStore
from sop_pipeline.signing import keyring as keyring_mod
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.approvals import Checked, Verifier, VerifyMode, check_all
from sop_pipeline.signing.errors import GateRefused
from sop_pipeline.signing.record import (
    CONSUMED_LEDGER,
    check_gate,
    consumed_hashes,
    record_signed_steps,
)
from sop_pipeline.signing.signer import sign_step
from sop_pipeline.signing.subject import approvals_dir, load_subject, request_path
from sop_pipeline.workspace import Workspace

F = TypeVar("F", bound=Callable[..., Any])


def _handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SopError as err:
            click.echo(err.diagnostics(), err=True)
            sys.exit(err.exit_code)

    return wrapper  # type: ignore[return-value]


def _parse_at(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)  # the verifier's own clock: never a time from the repository
    try:
        at = datetime.fromisoformat(value)
    except ValueError as err:
        raise click.BadParameter(
            "pakai ISO-8601 dengan zona waktu, mis. 2026-03-02T09:00:00Z"
        ) from err
    if at.tzinfo is None:
        raise click.BadParameter("waktu harus memuat zona waktu (Z atau +07:00)")
    return at


def _repo_default(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path:
    if value is not None:
        return value
    parent = ctx.find_object(Workspace)
    return parent.root if parent is not None else Path(".")


def _common(func: F) -> F:
    options = [
        click.option(
            "--repo",
            type=click.Path(exists=True, file_okay=False, path_type=Path),
            default=None,
            callback=_repo_default,
            help="Repository root (default: the one given to `sop --repo`, else .).",
        ),
        base_option("approvers/ (the keyring)"),
        click.option("--at", callback=_parse_at, help="Verification time (ISO-8601); default now."),
        click.option(
            "--verifier",
            type=click.Choice([m.value for m in VerifyMode]),
            default=VerifyMode.BOTH.value,
            show_default=True,
            help="native, ssh-keygen, or both (must agree).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _describe(c: Checked, repo: Path) -> str:
    where = c.path.relative_to(repo) if c.path.is_relative_to(repo) else c.path
    s = c.statement
    if s is None:
        head = f"{where}: pernyataan tidak terbaca"
    else:
        extra = f" (kurang: {', '.join(s.missing)})" if s.missing else ""
        head = (
            f"{where}: langkah {s.step} ({s.role}) '{s.decision}'{extra} oleh {s.signer} "
            f"pada {s.signed_at}" + (f", kunci {c.fingerprint}" if c.fingerprint else "")
        )
    if c.ok:
        return f"{head}: SAH (valid)"
    return f"{head}: TIDAK SAH (invalid)\n" + "\n".join(f"    - {p}" for p in c.problems)


@click.command("sign")
@click.argument("request_id")
@click.option(
    "--step",
    "step_number",
    type=click.Choice([str(n) for n in st.SIGNED_STEPS]),
    required=True,
    help="SOP step being signed.",
)
@click.option(
    "--decision", required=True, type=click.Choice(["approve", "reject", "complete", "incomplete"])
)
@click.option("--signer", required=True, help="Your principal as in approvers/allowed_signers.")
@click.option("--reason", default="", help="Required for reject and incomplete.")
@click.option("--missing", multiple=True, help="What is missing (step 4 incomplete); repeat.")
@click.option(
    "--evidence",
    multiple=True,
    metavar="NAME=SHA256",
    help="Digest of a report you saw (e.g. the analysis report); repeat.",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Private key, FIDO key handle (id_ed25519_sk), or with --agent a .pub.",
)
@click.option("--agent", is_flag=True, help="Sign through ssh-agent ($SSH_AUTH_SOCK).")
@click.option("--valid-days", type=click.IntRange(1, 365), default=14, show_default=True)
@_common
@_handle_errors
def sign_cmd(
    request_id: str,
    step_number: str,
    decision: str,
    signer: str,
    reason: str,
    missing: tuple[str, ...],
    evidence: tuple[str, ...],
    key: Path | None,
    agent: bool,
    valid_days: int,
    repo: Path,
    base: str,
    at: datetime,
    verifier: str,
) -> None:
    """Write the statement for one step (and sign it) next to the request.

    Without --key only the statement is written, and the command to sign it with stock
    OpenSSH is printed.
    """
    path = request_path(repo / "requests", request_id)
    subject = load_subject(path)
    keyring = trusted_config(repo, base).keyring
    proofs = dict(item.split("=", 1) for item in evidence if "=" in item)
    written = sign_step(
        request_file=path,
        subject=subject,
        verifier=Verifier(keyring, at=at, mode=VerifyMode(verifier)),
        step_number=int(step_number),
        decision=decision,
        signer=signer,
        at=at,
        key=key,
        agent_socket=os.environ.get("SSH_AUTH_SOCK") if agent else None,
        reason=reason,
        missing=missing,
        evidence=proofs,
        validity=timedelta(days=valid_days),
    )
    click.echo(f"Pernyataan ditulis: {written}")
    if key is None:
        click.echo(
            "Tandatangani dengan OpenSSH (sign with stock OpenSSH):\n  ssh-keygen -Y sign "
            f"-n {st.namespace(int(step_number))} -f ~/.ssh/id_ed25519 {written}"
        )


def _requests(repo: Path, request_id: str | None) -> list[Path]:
    if request_id:
        return [request_path(repo / "requests", request_id)]
    return sorted((repo / "requests").glob("*.yaml"))


@click.command("verify")
@click.argument("request_id", required=False)
@_common
@_handle_errors
def verify_cmd(request_id: str | None, repo: Path, base: str, at: datetime, verifier: str) -> None:
    """Each signed step of a request (or of all): who signed, when, and whether it holds."""
    keyring = trusted_config(repo, base).keyring
    check = Verifier(keyring, at=at, mode=VerifyMode(verifier))
    click.echo(f"Keyring: {keyring.source}  waktu verifikasi: {at.isoformat()}")
    all_ok = True
    for path in _requests(repo, request_id):
        subject = load_subject(path)
        checked = check_all(approvals_dir(path), subject, check)
        click.echo(f"{path.relative_to(repo)}: {len(checked)} pernyataan")
        for c in checked:
            if superseded(c):
                click.echo(
                    "  "
                    + _describe(c, repo).split(": TIDAK SAH")[0]
                    + ": DIGANTIKAN (superseded: OPD sudah memperbaiki permintaan)"
                )
                continue
            click.echo("  " + _describe(c, repo))
            all_ok &= c.ok
    sys.exit(0 if all_ok else 1)


def superseded(c: Checked) -> bool:
    """A step-4 "incomplete" whose request the OPD has since fixed: history, not a fault.

    Only a NO can be superseded this way, so nothing is approved by ignoring it.
    """
    return (
        not c.ok
        and c.statement is not None
        and c.statement.decision == "incomplete"
        and bool(c.problems)
        and all(p.endswith("[request-changed]") for p in c.problems)
    )


@click.command("gate")
@click.argument("request_id")
@click.option("--step", "step_number", type=click.IntRange(1, 12), required=True)
@click.option(
    "--records",
    type=click.Path(file_okay=False, path_type=Path),
    help="Ledger folder (default: <repo>/records).",
)
@click.option(
    "--record/--no-record",
    default=True,
    show_default=True,
    help="First record the signed steps that verify.",
)
@_common
@_handle_errors
def gate_cmd(
    request_id: str,
    step_number: int,
    records: Path | None,
    record: bool,
    repo: Path,
    base: str,
    at: datetime,
    verifier: str,
) -> None:
    """Exit 0 only if everything needed for step N holds; the check is recorded in the ledger."""
    path = request_path(repo / "requests", request_id)
    subject = load_subject(path)
    keyring = trusted_config(repo, base).keyring
    checked = check_all(
        approvals_dir(path), subject, Verifier(keyring, at=at, mode=VerifyMode(verifier))
    )
    store = LedgerStore(records or repo / "records")
    ledger = store.for_request(request_id)
    consumed = consumed_hashes(store.named(CONSUMED_LEDGER))
    with store.locked(request_id):
        if record:
            for r in record_signed_steps(
                subject=subject,
                keyring=keyring,
                checked=checked,
                ledger=ledger,
                at=at,
                consumed=consumed,
            ):
                click.echo(f"Tercatat: langkah {r.step} '{r.data['outcome']}' oleh {r.actor}")
        result = check_gate(
            step_number=step_number,
            subject=subject,
            keyring=keyring,
            checked=checked,
            ledger=ledger,
            at=at,
            consumed=consumed,
        )
    click.echo(result.summary())
    if not result.holds:
        raise GateRefused(
            f"{path.relative_to(repo)}: gerbang langkah {step_number} tidak terpenuhi"
        )


@click.group("keyring")
def keyring_group() -> None:
    """The approvers keyring (approvers/)."""


@keyring_group.command("lint")
@click.option(
    "--repo",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
)
@click.option(
    "--base",
    envvar="SOP_BASE_REF",
    default=None,
    help="Lint approvers/ at this commit; default: the working copy.",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Lint this folder instead.",
)
@click.option("--at", callback=_parse_at, help="Time to judge expiry (ISO-8601); default now.")
@_handle_errors
def lint_cmd(repo: Path, base: str | None, directory: Path | None, at: datetime) -> None:
    """Refuse a keyring that lets one person pass both gates, or that cannot work."""
    if directory is not None:
        keyring = keyring_mod.load_from_dir(directory)
    elif base is not None:
        keyring = trusted_config(repo, base).keyring
    else:
        keyring = keyring_mod.load_from_dir(repo / keyring_mod.KEYRING_DIR)
    findings = keyring_mod.lint(keyring, at=at)
    for finding in findings:
        click.echo(str(finding))
    errors = keyring_mod.errors(findings)
    click.echo(
        f"{keyring.source}: {len(errors)} kesalahan, {len(findings) - len(errors)} peringatan"
    )
    sys.exit(1 if errors else 0)


#: What the lead registers on the ``sop`` group: ``for c in COMMANDS: cli.add_command(c)``.
COMMANDS: tuple[click.Command, ...] = (sign_cmd, verify_cmd, gate_cmd, keyring_group)
