"""Making a signed statement: what ``sop sign`` does, as a library call.

The statement names (``builds_on``) the valid statements of the steps it builds on, found
in the approvals folder and checked against the base-branch keyring, so an official cannot
sign step 7 before the verification and the analysis exist.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from sop_pipeline.ledger.store import LedgerStore
from sop_pipeline.safefile import lexists, write_new
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.approvals import (
    Checked,
    Verifier,
    check_all,
    file_name,
    signature_path,
)
from sop_pipeline.signing.errors import StatementInvalid
from sop_pipeline.signing.sshsig import SshKeygen
from sop_pipeline.signing.subject import Subject, approvals_dir

DEFAULT_VALIDITY = timedelta(days=14)


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
) -> Path:
    """Write the statement (and, with ``key``, its signature) next to the request.

    Without ``key`` only the ``.json`` is written: the official signs it with stock OpenSSH
    (``ssh-keygen -Y sign -n <namespace> -f <key> <file>``), which writes the ``.sig``.
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
    return write_statement(directory, statement, signature)
