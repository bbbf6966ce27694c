"""An append-only, hash-chained ledger: one JSON record per line.

Each record carries the hash of the one before it (``prev``) and its own hash over its
canonical JSON without the ``hash`` field, so changing a byte, removing a record or
reordering records breaks the chain at a place :func:`verify_chain` names.

Appends are crash-safe: the whole file is written to a temporary file in the same folder,
fsynced and renamed over the old one, so a crash leaves either the old chain or the new one,
never a torn record. Per-request ledgers hold tens of records, so rewriting is cheap.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sop_pipeline.atomic import write_atomically
from sop_pipeline.errors import SopError

GENESIS = "0" * 64


class LedgerError(SopError):
    """A ledger cannot be read or written."""

    exit_code = 5


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the bytes we hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Record:
    """One entry: what happened at which step, who did it, when, and digests of what it used."""

    seq: int
    request_id: str
    kind: str
    step: int | None
    actor: str
    at: str
    inputs: Mapping[str, str] = field(default_factory=dict)
    outputs: Mapping[str, str] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    prev: str = GENESIS
    hash: str = ""

    def body(self) -> dict[str, Any]:
        """Everything the hash covers."""
        content = asdict(self)
        del content["hash"]
        return content

    def computed_hash(self) -> str:
        return hashlib.sha256(canonical_json(self.body())).hexdigest()

    @property
    def time(self) -> datetime:
        return datetime.fromisoformat(self.at)


@dataclass(frozen=True)
class ChainFault:
    """Where a chain stops holding, and why."""

    path: Path
    line: int  # 1-based line in the ledger file
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


class Ledger:
    """The ledger stored in one JSON-lines file."""

    def __init__(self, path: Path, request_id: str) -> None:
        self.path = path
        self.request_id = request_id

    def records(self) -> list[Record]:
        """Every record in file order. Raises LedgerError on a line that is not a record."""
        records, faults = _parse(self.path)
        if faults:
            raise LedgerError(f"buku catatan rusak: {faults[0]}")
        return records

    def head(self) -> str:
        records = self.records()
        return records[-1].hash if records else GENESIS

    def append(
        self,
        *,
        kind: str,
        actor: str,
        at: datetime,
        step: int | None = None,
        inputs: Mapping[str, str] | None = None,
        outputs: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Record:
        """Add one record at the end, after checking the chain it extends still holds."""
        if at.tzinfo is None:
            raise ValueError("ledger times must carry a time zone")
        existing = self.records()
        faults = verify_records(self.path, existing)
        if faults:
            raise LedgerError(f"buku catatan tidak utuh, tidak ditambah: {faults[0]}")
        draft = Record(
            seq=len(existing) + 1,
            request_id=self.request_id,
            kind=kind,
            step=step,
            actor=actor,
            at=at.isoformat(),
            inputs=dict(inputs or {}),
            outputs=dict(outputs or {}),
            data=dict(data or {}),
            prev=existing[-1].hash if existing else GENESIS,
        )
        record = Record(**{**draft.body(), "hash": draft.computed_hash()})
        lines = [_line(r) for r in [*existing, record]]
        write_atomically(self.path, b"".join(lines))
        return record


def _line(record: Record) -> bytes:
    return canonical_json(asdict(record)) + b"\n"


def _parse(path: Path) -> tuple[list[Record], list[ChainFault]]:
    if not path.exists():
        return [], []
    records: list[Record] = []
    faults: list[ChainFault] = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        if not raw:
            continue
        try:
            content = json.loads(raw)
            records.append(Record(**content))
        except (ValueError, TypeError) as err:
            faults.append(ChainFault(path, number, f"baris bukan catatan yang sah ({err})"))
    return records, faults


def verify_records(path: Path, records: list[Record]) -> list[ChainFault]:
    """Check hashes, links and sequence numbers; one fault per broken place."""
    faults: list[ChainFault] = []
    prev = GENESIS
    expected_seq = 1
    for index, record in enumerate(records):
        line = index + 1
        if record.hash != record.computed_hash():
            faults.append(
                ChainFault(path, line, f"catatan #{record.seq} diubah (hash tidak cocok)")
            )
        if record.seq != expected_seq:
            faults.append(
                ChainFault(
                    path,
                    line,
                    f"urutan putus: diharapkan #{expected_seq}, tertulis "
                    f"#{record.seq} (catatan dihapus atau ditukar)",
                )
            )
        expected_seq = record.seq + 1
        if record.prev != prev:
            faults.append(
                ChainFault(
                    path,
                    line,
                    f"rantai putus sebelum catatan #{record.seq} "
                    "(catatan sebelumnya dihapus, ditukar atau diubah)",
                )
            )
        prev = record.hash
    return faults


def verify_chain(path: Path) -> list[ChainFault]:
    """Every fault in the ledger file at ``path``; an empty list means it holds."""
    records, faults = _parse(path)
    return faults + verify_records(path, records)
