"""The folders one repository of requests uses, found from its root.

Only what requests and records live in: the trusted configuration (``inventories/``,
``approvers/``, ``terraform/``, ``playbooks/``, ``roles/``) is never read from the work tree
but from the base commit (:class:`sop_pipeline.config.TrustedConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sop_pipeline.ledger import LedgerStore


@dataclass(frozen=True)
class Workspace:
    root: Path

    @property
    def requests_dir(self) -> Path:
        return self.root / "requests"

    @property
    def records_dir(self) -> Path:
        return self.root / "records"

    @property
    def ledgers(self) -> LedgerStore:
        return LedgerStore(self.records_dir)

    def request_path(self, request_id: str) -> Path:
        return self.requests_dir / f"{request_id}.yaml"
