"""``sop sign``, ``sop verify``, ``sop gate``, ``sop keyring lint``: thin click wrappers.

Every command reads the keyring from the base branch (``--base``, default ``$SOP_BASE_REF``
or ``main``) of the repository (``--repo``); the verification time is this machine's clock
unless ``--at`` is given, never anything from the repository.

Exit codes (the one table, :class:`sop_pipeline.errors.ExitCode`): 0 holds / valid; 2 bad
request file; 3 keyring unreadable, or ``keyring lint`` found an error; 4 ssh-keygen or git
failed; 6 a signature or statement does not verify (``sop sign``, ``sop verify``); 7 gate
refused; 8 no such request.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from sop_pipeline.adapters import git
from sop_pipeline.cli.options import trusted_config
from sop_pipeline.domain.state import outcome_label
from sop_pipeline.errors import ConfigError, ExitCode, SopError, UnknownRequest
from sop_pipeline.ledger.store import LedgerStore
from sop_pipeline.signing import keyring as keyring_mod
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.approvals import Checked, Verifier, VerifyMode, check_all
from sop_pipeline.signing.errors import GateRefused
from sop_pipeline.signing.gates import keyring_refusals
from sop_pipeline.signing.history import check_history
from sop_pipeline.signing.record import (
    CONSUMED_LEDGER,
    check_gate,
    consumed_hashes,
    record_signed_steps,
    state_of,
)
from sop_pipeline.signing.signer import next_step, sign_step
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
            help="Akar repositori (bawaan: yang diberikan ke `sop --repo`, atau .).",
        ),
        click.option(
            "--base",
            envvar="SOP_BASE_REF",
            default="main",
            show_default=True,
            metavar="BRANCH",
            help="Cabang dasar: approvers/ (keyring) dibaca darinya ($SOP_BASE_REF), tidak "
            "pernah dari tree merge request sendiri.",
        ),
        click.option(
            "--at", callback=_parse_at, help="Waktu verifikasi (ISO-8601); bawaan: sekarang."
        ),
        click.option(
            "--verifier",
            type=click.Choice([m.value for m in VerifyMode]),
            default=VerifyMode.BOTH.value,
            show_default=True,
            help="native, ssh-keygen, atau both (keduanya harus sepakat).",
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
            f"{where}: langkah {s.step} ({s.role}) '{outcome_label(s.decision)}'{extra} "
            f"oleh {s.signer} "
            f"pada {s.signed_at}" + (f", kunci {c.fingerprint}" if c.fingerprint else "")
        )
        if s.override:  # approved although the analysis said BELUM DAPAT DILAKSANAKAN
            head += f", DENGAN PENGECUALIAN (override): {s.override!r}"
        if s.change_class:  # the Kabid accepts that the change stops or replaces the VM
            head += f", kelas perubahan: {s.change_class}"
    if c.ok:
        return f"{head}: SAH (valid)"
    return f"{head}: TIDAK SAH (invalid)\n" + "\n".join(f"    - {p}" for p in c.problems)


_JSON = click.option("--json", "as_json", is_flag=True, help="Keluaran JSON (machine-readable).")


@click.command("sign")
@click.argument("request_id")
@click.option(
    "--step",
    "step_number",
    type=click.Choice([str(n) for n in st.SIGNED_STEPS]),
    default=None,
    help="Langkah SOP yang ditandatangani; bawaan: langkah berikut peran Anda menurut keyring "
    "dan pernyataan yang sudah sah.",
)
@click.option(
    "--decision",
    required=True,
    type=click.Choice(["approve", "reject", "complete", "incomplete"]),
    help="Putusan: approve (setuju), reject (tolak), complete (lengkap), incomplete (belum "
    "lengkap).",
)
@click.option(
    "--signer", required=True, help="Principal Anda, seperti di approvers/allowed_signers."
)
@click.option("--reason", default="", help="Alasan; wajib untuk reject dan incomplete.")
@click.option(
    "--missing", multiple=True, help="Apa yang kurang (langkah 4 incomplete); boleh berulang."
)
@click.option(
    "--evidence",
    multiple=True,
    metavar="NAME=SHA256",
    help="Digest laporan yang Anda baca (mis. laporan analisis); boleh berulang.",
)
@click.option(
    "--override",
    default="",
    help="Alasan pengecualian: menyetujui langkah 6 walau laporan analisis BELUM DAPAT "
    "DILAKSANAKAN; Kabid menulis teks yang sama di langkah 7. Tampil di dokumen dan Laporan "
    "Kegiatan.",
)
@click.option(
    "--change-class",
    type=click.Choice(["reboot", "replace"]),
    default=None,
    help="Langkah 7 untuk perubahan (kind: ubah): kelas perubahan yang disebut analisis, "
    "reboot (VM dimulai ulang) atau replace (VM dibuat ulang); keputusan tanpa kelas itu "
    "tidak berlaku [change-class-unconfirmed].",
)
@click.option(
    "--key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Kunci privat, handle kunci FIDO (id_ed25519_sk), atau .pub bersama --agent.",
)
@click.option("--agent", is_flag=True, help="Tanda tangani lewat ssh-agent ($SSH_AUTH_SOCK).")
@click.option(
    "--valid-days",
    type=click.IntRange(1, 365),
    default=14,
    show_default=True,
    help="Berapa hari pernyataan berlaku.",
)
@click.option(
    "--commit",
    "do_commit",
    is_flag=True,
    help="Commit pernyataan dan tanda tangannya (hanya dua berkas itu) di cabang ini.",
)
@click.option(
    "--push",
    "do_push",
    is_flag=True,
    help="Commit lalu push cabang ini; bila orang lain push lebih dulu, rebase sekali lalu "
    "push lagi.",
)
@click.option("--remote", default="origin", show_default=True, help="Remote untuk --push.")
@_JSON
@_common
@_handle_errors
def sign_cmd(
    request_id: str,
    step_number: str | None,
    decision: str,
    signer: str,
    reason: str,
    missing: tuple[str, ...],
    evidence: tuple[str, ...],
    override: str,
    change_class: str | None,
    key: Path | None,
    agent: bool,
    valid_days: int,
    do_commit: bool,
    do_push: bool,
    remote: str,
    repo: Path,
    base: str,
    at: datetime,
    verifier: str,
    as_json: bool,
) -> None:
    """Tulis pernyataan untuk satu langkah (dan tanda tangani) di samping permintaan.

    Kunci, principal dan peran diperiksa terhadap keyring cabang dasar SEBELUM apa pun
    ditulis: pernyataan yang tidak akan sah di pipeline tidak pernah ditulis. Tanpa --step,
    langkahnya ditentukan dari peran Anda dan pernyataan yang sudah sah. Tanpa --key hanya
    pernyataan yang ditulis, lalu perintah untuk menandatanganinya dengan OpenSSH biasa
    dicetak. --commit dan --push menyimpan kedua berkas ke Git.

    Kode keluar: 0 ditulis; 2 berkas permintaan ditolak; 3 keyring salah; 4 ssh-keygen atau
    git gagal; 6 tanda tangan atau pernyataan tidak sah, atau tidak ada langkah yang
    menunggu; 8 tidak ada permintaan itu.
    """
    path = _known_request(repo, request_id)
    subject = load_subject(path)
    keyring = trusted_config(repo, base).keyring
    proofs = dict(item.split("=", 1) for item in evidence if "=" in item)
    check = Verifier(keyring, at=at, mode=VerifyMode(verifier))
    if do_push:
        git.push_target(repo, remote)  # a wrong remote or a detached HEAD: before any file
    if step_number is None:
        ledger = LedgerStore(repo / "records").for_request(subject.request_id)
        number = next_step(
            keyring=keyring,
            signer=signer,
            checked=check_all(approvals_dir(path), subject, check),
            state=state_of(ledger),
        )
        if not as_json:
            click.echo(f"Langkah {number} ({st.role_of(number)}) untuk {signer}")
    else:
        number = int(step_number)
    written = sign_step(
        request_file=path,
        subject=subject,
        verifier=check,
        step_number=number,
        decision=decision,
        signer=signer,
        at=at,
        key=key,
        agent_socket=os.environ.get("SSH_AUTH_SOCK") if agent else None,
        reason=reason,
        missing=missing,
        evidence=proofs,
        override=override,
        change_class=change_class or "",
        validity=timedelta(days=valid_days),
        check_first=True,
    )
    namespace = st.namespace(number)
    signature = written.with_name(written.name + ".sig")
    files = [written, signature] if key is not None else [written]
    commit = pushed = ""
    if do_commit or do_push:
        commit = git.commit_files(
            repo,
            files,
            f"sop sign: langkah {number} ({st.role_of(number)}) {subject.request_id}, "
            f"{decision}, oleh {signer}",
        )
    if do_push:
        pushed = f"{remote}/{git.push(repo, remote)}"
    if as_json:
        report: dict[str, Any] = {
            "statement": str(written),
            "step": number,
            "namespace": namespace,
            "signed": key is not None,
        }
        if key is not None:
            report["signature"] = str(signature)
        if commit:
            report["commit"] = commit
        if pushed:
            report["pushed"] = pushed
        click.echo(json.dumps(report, indent=2))
        return
    click.echo(f"Pernyataan ditulis: {written}")
    if key is None:
        click.echo(
            "Tandatangani dengan OpenSSH (sign with stock OpenSSH):\n  ssh-keygen -Y sign "
            f"-n {namespace} -f ~/.ssh/id_ed25519 {written}"
        )
    if commit:
        click.echo(f"Commit {commit[:12]}" + (f", dikirim ke {pushed}" if pushed else ""))


def _known_request(repo: Path, request_id: str) -> Path:
    """``requests/<id>.yaml``, or UnknownRequest when there is no such file."""
    path = request_path(repo / "requests", request_id)
    if "/" in request_id or request_id.startswith(".") or not path.is_file():
        raise UnknownRequest(request_id)
    return path


def _requests(repo: Path, request_id: str | None) -> list[Path]:
    if request_id:
        return [_known_request(repo, request_id)]
    return sorted((repo / "requests").glob("*.yaml"))


def _checked_row(c: Checked, repo: Path, *, superseded_: bool) -> dict[str, Any]:
    s = c.statement
    return {
        "file": str(c.path.relative_to(repo) if c.path.is_relative_to(repo) else c.path),
        "ok": c.ok,
        "superseded": superseded_,
        "step": s.step if s else None,
        "role": s.role if s else None,
        "decision": s.decision if s else None,
        "signer": s.signer if s else None,
        "signed_at": s.signed_at if s else None,
        "override": s.override if s else "",
        "change_class": s.change_class if s else "",
        "fingerprint": c.fingerprint,
        # FIDO flags of the signature (None for keys that are no security key), and the
        # origin of a browser (WebAuthn) signature
        "user_present": c.native.user_present
        if c.native and c.native.sk_flags is not None
        else None,
        "user_verified": c.native.user_verified
        if c.native and c.native.sk_flags is not None
        else None,
        "webauthn_origin": c.native.webauthn.origin if c.native and c.native.webauthn else None,
        "problems": list(c.problems),
    }


@click.command("verify")
@click.argument("request_id", required=False)
@_JSON
@_common
@_handle_errors
def verify_cmd(
    request_id: str | None, as_json: bool, repo: Path, base: str, at: datetime, verifier: str
) -> None:
    """Tiap langkah bertanda tangan dari satu permintaan (atau semua): siapa, kapan, sah atau
    tidak.

    Keyring dibaca dari cabang dasar (--base); waktu verifikasi adalah jam mesin ini kecuali
    --at diberikan, tidak pernah waktu dari repositori.

    Kode keluar: 0 semua sah; 6 ada pernyataan yang tidak sah; 3 keyring salah atau tidak
    lolos `sop keyring lint` (di bawahnya tidak ada yang sah); 4 ssh-keygen
    atau git gagal; 8 tidak ada permintaan itu.
    """
    keyring = trusted_config(repo, base).keyring
    refusals = keyring_refusals(keyring, at)
    if refusals:  # a keyring failing its own lint vouches for nobody: nothing is SAH under it
        raise ConfigError("\n".join(refusals))
    check = Verifier(keyring, at=at, mode=VerifyMode(verifier))
    say = (lambda _line: None) if as_json else click.echo
    say(f"Keyring: {keyring.source}  waktu verifikasi: {at.isoformat()}")
    all_ok = True
    report: list[dict[str, Any]] = []
    for path in _requests(repo, request_id):
        try:
            subject = load_subject(path)
        except SopError as err:  # one unreadable request never stops the others' check
            click.echo(
                f"{path.relative_to(repo)}: TIDAK DAPAT DIPERIKSA\n    - {err.diagnostics()}"
            )
            all_ok = False
            continue
        checked = check_all(approvals_dir(path), subject, check)
        say(f"{path.relative_to(repo)}: {len(checked)} pernyataan")
        rows = []
        for c in checked:
            rows.append(_checked_row(c, repo, superseded_=superseded(c)))
            if superseded(c):
                say(
                    "  "
                    + _describe(c, repo).split(": TIDAK SAH")[0]
                    + ": DIGANTIKAN (superseded: OPD sudah memperbaiki permintaan)"
                )
                continue
            say("  " + _describe(c, repo))
            all_ok &= c.ok
        report.append({"request": str(path.relative_to(repo)), "statements": rows})
    if as_json:
        click.echo(
            json.dumps(
                {
                    "keyring": str(keyring.source),
                    "at": at.isoformat(),
                    "ok": all_ok,
                    "requests": report,
                },
                indent=2,
            )
        )
    sys.exit(ExitCode.OK if all_ok else ExitCode.SIGNATURE)


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
@_JSON
@_common
@_handle_errors
def gate_cmd(
    request_id: str,
    step_number: int,
    records: Path | None,
    record: bool,
    as_json: bool,
    repo: Path,
    base: str,
    at: datetime,
    verifier: str,
) -> None:
    """Exit 0 only if everything needed for step N holds; the check is recorded in the ledger.

    Exit 7 when the gate refuses; 8 when there is no such request.
    """
    path = _known_request(repo, request_id)
    subject = load_subject(path)
    keyring = trusted_config(repo, base).keyring
    check = Verifier(keyring, at=at, mode=VerifyMode(verifier))
    checked = check_all(approvals_dir(path), subject, check)
    history = check_history(repo, path, subject, check)  # a deleted statement still counts
    store = LedgerStore(records or repo / "records")
    ledger = store.for_request(request_id)
    consumed = consumed_hashes(store.named(CONSUMED_LEDGER))
    recorded: list[int] = []
    with store.locked(request_id):
        if record:
            for r in record_signed_steps(
                subject=subject,
                keyring=keyring,
                checked=checked,
                ledger=ledger,
                at=at,
                consumed=consumed,
                history=history,
            ):
                recorded.append(int(r.step or 0))
                if not as_json:
                    click.echo(
                        f"Tercatat: langkah {r.step} "
                        f"'{outcome_label(str(r.data['outcome']))}' oleh {r.actor}"
                    )
        result = check_gate(
            step_number=step_number,
            subject=subject,
            keyring=keyring,
            checked=checked,
            ledger=ledger,
            at=at,
            consumed=consumed,
            history=history,
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "request_id": request_id,
                    "step": step_number,
                    "holds": result.holds,
                    "recorded": recorded,
                    "summary": result.summary(),
                },
                indent=2,
            )
        )
    else:
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
@_JSON
@_handle_errors
def lint_cmd(
    repo: Path, base: str | None, directory: Path | None, at: datetime, as_json: bool
) -> None:
    """Refuse a keyring that lets one person pass both gates, or that cannot work.

    Exit 0 with warnings only; 3 when an error is found (configuration under approvers/).
    """
    if directory is not None:
        keyring = keyring_mod.load_from_dir(directory)
    elif base is not None:
        keyring = trusted_config(repo, base).keyring
    else:
        keyring = keyring_mod.load_from_dir(repo / keyring_mod.KEYRING_DIR)
    findings = keyring_mod.lint(keyring, at=at)
    errors = keyring_mod.errors(findings)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "keyring": str(keyring.source),
                    "errors": [str(f) for f in errors],
                    "warnings": [str(f) for f in findings if f not in errors],
                },
                indent=2,
            )
        )
    else:
        for finding in findings:
            click.echo(str(finding))
        click.echo(
            f"{keyring.source}: {len(errors)} kesalahan, {len(findings) - len(errors)} peringatan"
        )
    sys.exit(ExitCode.CONFIG if errors else ExitCode.OK)


#: The commands of this module; ``sop_pipeline.cli.main`` loads each by name when it is asked for.
COMMANDS: tuple[click.Command, ...] = (sign_cmd, verify_cmd, gate_cmd, keyring_group)
