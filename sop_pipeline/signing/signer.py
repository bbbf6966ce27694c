"""Making a signed statement: what ``sop sign`` does, as a library call.

The statement names (``builds_on``) the valid statements of the steps it builds on, found
in the approvals folder and checked against the base-branch keyring, so an official cannot
sign step 7 before the verification and the analysis exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sop_pipeline.domain.sop import Role
from sop_pipeline.domain.state import RequestState
from sop_pipeline.ledger.store import LedgerStore
from sop_pipeline.safefile import lexists, write_new
from sop_pipeline.signing import allowed_signers as signers_file
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.approvals import (
    Checked,
    Verifier,
    check_all,
    file_name,
    signature_path,
)
from sop_pipeline.signing.errors import StatementInvalid
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.signing.sshsig import SshKeygen
from sop_pipeline.signing.subject import Subject, approvals_dir

DEFAULT_VALIDITY = timedelta(days=14)
#: Reports steps (10-12) follow the hosting report of step 9.
REPORT_STEPS_FROM = 10


class SignRefused(StatementInvalid):
    """``sop sign`` refused before writing anything: the statement would not verify."""


def steps_of(keyring: Keyring, signer: str) -> list[int]:
    """The signed steps whose role the keyring gives ``signer``, in SOP order."""
    roles = keyring.roles_of(signer)
    return [n for n in st.SIGNED_STEPS if st.role_of(n) in roles]


def next_step(
    *, keyring: Keyring, signer: str, checked: Sequence[Checked], state: RequestState
) -> int:
    """The step ``signer`` signs next: the first of their role's steps that still lacks
    signatures (its threshold of valid positive statements, none of them this signer's)
    and whose earlier steps (``statement.CHAIN``) hold; the report steps only once the
    ledger has step 9. StatementInvalid when there is none, naming what is awaited."""
    mine = steps_of(keyring, signer)
    if not mine:
        raise SignRefused(
            f"{signer} tidak memegang peran penanda tangan mana pun di keyring cabang dasar "
            "[wrong-role]"
        )

    def valid(n: int) -> list[Checked]:
        return [
            c
            for c in checked
            if c.ok and c.statement and c.statement.step == n and c.statement.positive
        ]

    for n in mine:
        done = valid(n)
        if len(done) >= keyring.threshold(n) or any(
            c.statement and c.statement.signer == signer for c in done
        ):
            continue
        if all(valid(earlier) for earlier in st.CHAIN[n]) and (
            n < REPORT_STEPS_FROM or state.done(REPORT_STEPS_FROM - 1)
        ):
            return n
        break  # the earliest open step of this role is not due yet: never skip ahead
    raise SignRefused(
        f"tidak ada langkah yang menunggu tanda tangan {signer} (peran "
        f"{', '.join(sorted(r.value for r in keyring.roles_of(signer)))}; langkah "
        f"{', '.join(map(str, mine))}): langkah sebelumnya belum sah atau semuanya sudah "
        "ditandatangani; sebutkan --step bila perlu [no-step-due]"
    )


def _refuse_before_writing(
    *,
    verifier: Verifier,
    statement: st.Statement,
    signature: bytes | None,
    path: Path,
    subject: Subject,
) -> None:
    """The checks the pipeline will make, made now: a wrong key, principal or role stops
    ``sop sign`` before any file exists."""
    keyring = verifier.keyring
    if signature is not None:
        with verifier.session():
            found = verifier.check_bytes(path, statement.to_bytes(), signature, subject)
        problems = list(found.problems)
    else:  # signed later with stock OpenSSH: the signer needs a key for this step, now
        problems = []
        if statement.signer not in keyring.roles.get(Role(statement.role), ()):
            problems.append(
                f"{statement.signer} tidak memegang peran {statement.role} di keyring [wrong-role]"
            )
        epoch = int(verifier.at.timestamp())
        if not any(
            not signers_file.has_wildcard(principal)
            and principal == statement.signer
            and line.key.blob not in keyring.revoked_blobs
            and line.permits(
                principal=principal, key=line.key, namespace=statement.namespace, at=epoch
            )
            for line in keyring.signers
            for principal in line.principal_list
        ):
            problems.append(
                f"{statement.signer} tidak punya kunci berlaku untuk '{statement.namespace}' "
                "di allowed_signers cabang dasar [no-key-for-step]"
            )
    if problems:
        raise SignRefused(
            "sop sign menolak; tidak ada berkas yang ditulis:\n"
            + "\n".join(f"  - {problem}" for problem in problems)
        )


def builds_on(step_number: int, checked: Sequence[Checked]) -> dict[str, str]:
    """For each step this one builds on, the hash of its latest valid positive statement."""
    chosen: dict[str, str] = {}
    for earlier in st.CHAIN[step_number]:
        valid = [
            c
            for c in checked
            if c.ok and c.statement and c.statement.step == earlier and c.statement.positive
        ]
        if not valid:
            raise StatementInvalid(
                f"langkah {earlier} belum punya pernyataan sah; langkah {step_number} belum "
                "dapat ditandatangani [out-of-order]"
            )
        latest = max(valid, key=lambda c: (c.statement.signed_at if c.statement else "", c.sha256))
        chosen[st.step_key(earlier)] = latest.sha256
    return chosen


def free_path(directory: Path, step_number: int) -> Path:
    """``step-NN-<role>.json``, or ``-2``, ``-3``... when that name is taken."""
    index = 1
    while lexists(directory / file_name(step_number, index)):  # a dangling link is taken too
        index += 1
    return directory / file_name(step_number, index)


def write_statement(directory: Path, statement: st.Statement, signature: bytes | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = free_path(directory, statement.step)
    # New files only, reached without following links: a link the merge request planted
    # in the approvals folder never makes an official's `sop sign` write elsewhere.
    write_new(path, statement.to_bytes(), within=directory.parent)
    if signature is not None:
        write_new(signature_path(path), signature, within=directory.parent)
    return path


def sign_step(
    *,
    request_file: Path,
    subject: Subject,
    verifier: Verifier,
    step_number: int,
    decision: str,
    signer: str,
    at: datetime,
    key: Path | None,
    agent_socket: str | None = None,
    reason: str = "",
    missing: Sequence[str] = (),
    evidence: Mapping[str, str] | None = None,
    override: str = "",
    change_class: str = "",
    validity: timedelta = DEFAULT_VALIDITY,
    ssh_keygen: SshKeygen | None = None,
    record_head: str | None = None,
    check_first: bool = False,
) -> Path:
    """Write the statement (and, with ``key``, its signature) next to the request.

    Without ``key`` only the ``.json`` is written: the official signs it with stock OpenSSH
    (``ssh-keygen -Y sign -n <namespace> -f <key> <file>``), which writes the ``.sig``.
    With ``check_first`` (``sop sign``), the statement and signature are checked as the
    pipeline will check them, against the verifier's base-branch keyring, and nothing is
    written unless they hold (:class:`SignRefused`). The attack suite and the demo forge
    statements through this call, so the default stays off.
    """
    directory = approvals_dir(request_file)
    if record_head is None:  # the record beside the request: records/<id>.jsonl
        record_head = (
            LedgerStore(request_file.parent.parent / "records")
            .for_request(subject.request_id)
            .head()
        )
    checked = check_all(directory, subject, verifier)
    statement = st.new(
        request_id=subject.request_id,
        request_sha256=subject.digest,
        attachments=subject.attachments,
        step_number=step_number,
        decision=decision,
        signer=signer,
        signed_at=at,
        expires_at=at + validity,
        reason=reason,
        missing=tuple(missing),
        builds_on=builds_on(step_number, checked),
        evidence=evidence,
        record_head=record_head,
        override=override,
        change_class=change_class,
    )
    signature = None
    if key is not None:
        signature = (ssh_keygen or SshKeygen()).sign(
            statement.to_bytes(),
            key=key,
            namespace=statement.namespace,
            agent_socket=agent_socket,
        )
    if check_first:
        _refuse_before_writing(
            verifier=verifier,
            statement=statement,
            signature=signature,
            path=free_path(directory, step_number),
            subject=subject,
        )
    return write_statement(directory, statement, signature)
