"""Where ledgers live: ``records/<request-id>.jsonl``, and ``records/_<name>.jsonl``.

The second kind holds pipeline-wide ledgers such as consumed approvals.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sop_pipeline import locking
from sop_pipeline.errors import Busy
from sop_pipeline.ledger.chain import ChainFault, Ledger, verify_chain


class LedgerStore:
    """The folder of ledgers for one repository."""

    def __init__(self, records_dir: Path) -> None:
        self.records_dir = records_dir

    def for_request(self, request_id: str) -> Ledger:
        return Ledger(self.records_dir / f"{request_id}.jsonl", request_id)

    def named(self, name: str) -> Ledger:
        """A pipeline-wide ledger such as ``consumed-approvals``."""
        return Ledger(self.records_dir / f"_{name}.jsonl", f"_{name}")

    def request_ids(self) -> list[str]:
        return [i for i in self.ledger_ids() if not i.startswith("_")]

    def ledger_ids(self) -> list[str]:
        """Every ledger here: the request ids and the pipeline-wide ``_<name>`` ledgers."""
        return sorted(p.stem for p in self.records_dir.glob("*.jsonl"))

    def by_id(self, ledger_id: str) -> Ledger:
        """A ledger by the id :meth:`ledger_ids` gives it."""
        return Ledger(self.records_dir / f"{ledger_id}.jsonl", ledger_id)

    def audit(self) -> dict[Path, list[ChainFault]]:
        """Every ledger in the folder with its faults (empty list: it holds)."""
        return {p: verify_chain(p) for p in sorted(self.records_dir.glob("*.jsonl"))}

    @contextmanager
    def locked(self, name: str, *, busy: str | None = None) -> Iterator[None]:
        """An exclusive lock among processes on this machine, for read-check-append sequences.

        With ``busy`` (a message), a lock another process holds is not waited for: Busy.
        """
        self.records_dir.mkdir(parents=True, exist_ok=True)
        with open(self.records_dir / f".{name}.lock", "a") as handle:
            try:
                locking.lock(handle, blocking=not busy)
            except BlockingIOError:
                raise Busy(str(busy)) from None
            try:
                yield
            finally:
                locking.unlock(handle)
