"""The folders one repository of requests uses, found from its root.

Only what requests and records live in: the trusted configuration (``inventories/``,
``approvers/``, ``terraform/``, ``playbooks/``, ``roles/``) is never read from the work tree
but from the base commit (:class:`sop_pipeline.config.TrustedConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sop_pipeline.errors import UnknownRequest

if TYPE_CHECKING:
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
        from sop_pipeline.ledger import LedgerStore  # not at import: `sop --version` needs none

        return LedgerStore(self.records_dir)

    def request_path(self, request_id: str) -> Path:
        return self.requests_dir / f"{request_id}.yaml"

    def require(self, request_id: str, *, file: bool = False) -> str:
        """``request_id`` if the repository knows it (its file, or with ``file=False`` its
        record), else UnknownRequest; an id that is not a plain file name is never known."""
        plain = request_id and "/" not in request_id and not request_id.startswith(".")
        on_file = bool(plain) and self.request_path(request_id).is_file()
        recorded = bool(plain) and self.ledgers.for_request(request_id).path.is_file()
        if not (on_file or (recorded and not file)):
            raise UnknownRequest(request_id)
        return request_id
