"""Signed checkpoints of the records: the pipeline's signature over each record's head.

A hash chain only shows accidents: whoever can push ``sop-records`` can rewrite a record and
recompute every hash. After each protected job, ``sop checkpoint`` signs the head of every
record whose head is not yet signed (each request's, and the pipeline-wide ``_<name>``
ledgers: tickets, consumed approvals), with the pipeline's own key (SSHSIG namespace
:data:`~sop_pipeline.signing.statement.CHECKPOINT_NAMESPACE`, principal in ``roles.pipeline``
of ``approvers/roles.toml``). Files: ``records/checkpoints/<request-id>.jsonl``, one JSON
object per line (canonical JSON, keys sorted)::

    {"count": 7, "format": "sop-records-checkpoint/v1", "head": "<sha256>",
     "request_id": "dinkes-simpus", "signature": "-----BEGIN SSH SIGNATURE-----...",
     "signed_at": "2026-12-03T10:00:00Z", "signer": "pipeline@..."}

The signature covers the canonical JSON of every field but ``signature``. ``sop audit``
checks that each checkpoint verifies against the keyring, and that record ``count`` of the
chain has hash ``head``: a rewritten chain (fresh hashes) or a rollback to an older head
contradicts a checkpoint and is named by it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sop_pipeline.atomic import write_atomically
from sop_pipeline.ledger.chain import (
    GENESIS,
    LedgerError,
    Record,
    canonical_json,
    verify_records,
)
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.signing.sshsig import SshKeygen

FORMAT = "sop-records-checkpoint/v1"
FOLDER = "checkpoints"
_FIELDS = frozenset({"format", "request_id", "head", "count", "signed_at", "signer", "signature"})


@dataclass(frozen=True)
class Checkpoint:
    request_id: str
    head: str
    count: int
    signed_at: str
    signer: str
    signature: str = ""
    format: str = FORMAT

    def body(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "request_id": self.request_id,
            "head": self.head,
            "count": self.count,
            "signed_at": self.signed_at,
            "signer": self.signer,
        }

    def message(self) -> bytes:
        """What the signature covers."""
        return canonical_json(self.body())

    def line(self) -> bytes:
        return canonical_json(self.body() | {"signature": self.signature}) + b"\n"


def path_for(records_dir: Path, request_id: str) -> Path:
    return records_dir / FOLDER / f"{request_id}.jsonl"


def read(path: Path) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints in ``path`` and, for lines that are none, a message each."""
    found: list[Checkpoint] = []
    faults: list[str] = []
    if not path.exists():
        return found, faults
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not raw:
            continue
        try:
            content = json.loads(raw)
            if not isinstance(content, dict) or set(content) != _FIELDS:
                raise ValueError("kolom tidak tepat")
            found.append(Checkpoint(**content))
        except (ValueError, TypeError) as err:
            faults.append(f"{path}:{number}: baris bukan checkpoint yang sah ({err}) [checkpoint]")
    return found, faults


def sign(
    *,
    records_dir: Path,
    request_id: str,
    records: Sequence[Record],
    key: Path,
    signer: str,
    at: datetime,
    ssh_keygen: SshKeygen | None = None,
) -> Checkpoint | None:
    """Append a signed checkpoint of the record's head, unless the last one already names it."""
    path = path_for(records_dir, request_id)
    existing, faults = read(path)
    if faults:
        raise LedgerError(f"checkpoint rusak, tidak ditambah: {faults[0]}")
    broken = verify_records(records_dir / f"{request_id}.jsonl", list(records))
    if broken:  # never sign over a chain that does not hold
        raise LedgerError(f"catatan tidak utuh, checkpoint tidak dibuat: {broken[0]}")
    hashes = [r.hash for r in records]
    for index, cp in enumerate(existing, start=1):
        if cp.count > len(hashes) or cp.count < 1 or hashes[cp.count - 1] != cp.head:
            raise LedgerError(
                f"{path}: checkpoint #{index} ({cp.signed_at}) menandatangani head "
                f"{cp.head[:12]} untuk catatan #{cp.count}, yang tidak ada lagi: catatan ditulis "
                "ulang atau dikembalikan; checkpoint tidak dibuat, jalankan `sop audit` "
                "[checkpoint-mismatch]"
            )
    head = records[-1].hash if records else GENESIS
    if not records or (existing and existing[-1].head == head):
        return None
    draft = Checkpoint(
        request_id=request_id,
        head=head,
        count=len(records),
        signed_at=st.format_time(at),
        signer=signer,
    )
    armored = (ssh_keygen or SshKeygen()).sign(
        draft.message(), key=key, namespace=st.CHECKPOINT_NAMESPACE
    )
    checkpoint = Checkpoint(**(draft.body() | {"signature": armored.decode()}))
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, b"".join(c.line() for c in [*existing, checkpoint]))
    return checkpoint


def audit(
    *,
    path: Path,
    request_id: str,
    records: Sequence[Record],
    keyring: Keyring,
    at: datetime,
    ssh_keygen: SshKeygen | None = None,
) -> tuple[list[str], int]:
    """Faults of the checkpoints of one record (Indonesian, rule id in brackets), and the
    number of records the last valid checkpoint covers."""
    checkpoints, faults = read(path)
    covered = 0
    tool = ssh_keygen or SshKeygen()
    hashes = [r.hash for r in records]
    for index, cp in enumerate(checkpoints, start=1):
        name = f"{path.name} checkpoint #{index} ({cp.signed_at}, {cp.signer})"
        if cp.format != FORMAT or cp.request_id != request_id:
            faults.append(f"{path}: {name} bukan checkpoint permintaan ini [checkpoint]")
            continue
        if cp.signer not in keyring.pipeline:
            faults.append(
                f"{path}: {name}: {cp.signer} tidak di roles.pipeline keyring [checkpoint-signer]"
            )
            continue
        with keyring.files() as (signers, revoked):
            verdict = tool.verify(
                cp.message(),
                cp.signature.encode(),
                principal=cp.signer,
                namespace=st.CHECKPOINT_NAMESPACE,
                allowed_signers=signers,
                revoked=revoked,
                at=at,
            )
        if not verdict.ok:
            faults.append(f"{path}: {name}: {verdict.message} [checkpoint-signature]")
            continue
        if cp.count > len(records):
            faults.append(
                f"{path}: {name} menandatangani {cp.count} catatan (head {cp.head[:12]}), "
                f"catatan kini hanya {len(records)}: catatan dipotong atau dikembalikan ke "
                "versi lama [checkpoint-rollback]"
            )
            continue
        if cp.count < 1 or hashes[cp.count - 1] != cp.head:
            found = hashes[cp.count - 1][:12] if cp.count >= 1 else "-"
            faults.append(
                f"{path}: catatan #{cp.count} kini ber-hash {found}, bertentangan dengan {name} "
                f"yang menandatangani head {cp.head[:12]}: riwayat catatan ditulis ulang "
                "[checkpoint-mismatch]"
            )
            continue
        covered = max(covered, cp.count)
    return faults, covered


def without_ledger(records_dir: Path) -> list[str]:
    """Checkpoints whose record is gone: a signed head proves the record existed, so its
    deletion is a rollback to nothing (rule ``checkpoint-rollback``)."""
    folder = records_dir / FOLDER
    faults = []
    for path in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        ledger = records_dir / path.name
        if not ledger.exists():
            faults.append(
                f"{ledger}: catatan hilang, padahal {path} menandatangani head-nya: catatan "
                "dihapus [checkpoint-rollback]"
            )
    return faults


def statement_heads(approvals: Path, records: Sequence[Record]) -> list[str]:
    """Statements whose ``record_head`` names no record this chain ever had: the record was
    rewritten after they were signed, or the head was invented (rule ``statement-head``)."""
    from sop_pipeline.signing.errors import StatementInvalid

    known = {GENESIS, *(r.hash for r in records)}
    faults: list[str] = []
    for path in sorted(approvals.glob("*.json")) if approvals.is_dir() else []:
        try:
            statement = st.parse(path.read_bytes())
        except (OSError, StatementInvalid):
            continue  # unreadable statements are the gates' business, not the record's
        if statement.record_head and statement.record_head not in known:
            faults.append(
                f"{path}: pernyataan langkah {statement.step} oleh {statement.signer} "
                f"({statement.signed_at}) melihat catatan ber-head "
                f"{statement.record_head[:12]}, yang tidak ada dalam catatan ini: catatan "
                "ditulis ulang setelah ditandatangani [statement-head]"
            )
    return faults
