"""The record of every step: append-only, hash-chained, crash-safe."""

from sop_pipeline.ledger.chain import ChainFault, Ledger, LedgerError, Record, verify_chain
from sop_pipeline.ledger.store import LedgerStore

__all__ = ["ChainFault", "Ledger", "LedgerError", "LedgerStore", "Record", "verify_chain"]
