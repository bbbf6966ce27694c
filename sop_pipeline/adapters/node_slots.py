"""How many Terraform applies touch one Proxmox node at once, bounded across processes.

Parallel clones on one node make PVE answer "can't lock file ... got timeout"; step 8 holds
one of the node's ``per_node`` slots around adopt, plan and apply. The slots live where the
allocator's database lives, so every run that shares the allocator shares the bound:

- PostgreSQL (shared runners): a session advisory lock per slot, on a connection kept open
  while the slot is held (PostgreSQL frees it if the runner dies). The two-key form is used,
  whose key space does not overlap the allocator's one-key leases.
- SQLite (one machine): an exclusive ``flock`` on one file per slot, in a folder beside the
  database file (the kernel frees it if the process dies).

This adapter wraps those two locking primitives only.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sop_pipeline import locking
from sop_pipeline.errors import AdapterError

DEFAULT_PER_NODE = 2
_NODE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]{0,62})")


class NodeBusyError(AdapterError):
    """No slot of the node came free in time: nothing was done."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class NodeLimiter:
    """At most ``per_node`` holders of one node's slots at a time, over the allocator's ``dsn``.

    ``dsn`` is the allocator's: ``postgresql://`` (or ``postgres://``) URL, ``sqlite:///path``
    or a bare SQLite path. Holders are threads, processes or (with PostgreSQL) runners alike.
    """

    def __init__(
        self,
        dsn: str,
        per_node: int = DEFAULT_PER_NODE,
        *,
        wait_timeout: float = 3600.0,
        poll: float = 0.2,
    ) -> None:
        if per_node < 1:
            raise ValueError(f"per_node must be at least 1, not {per_node}")
        self.dsn = dsn
        self.per_node = per_node
        self.wait_timeout = wait_timeout
        self.poll = poll
        self.postgres = dsn.startswith(("postgresql://", "postgres://"))

    @property
    def slot_dir(self) -> Path:
        """Where the SQLite variant keeps its slot files."""
        path = Path(self.dsn.removeprefix("sqlite:///"))
        return path.with_name(path.name + ".node-slots")

    @contextlib.contextmanager
    def slot(self, node: str, *, timeout: float | None = None) -> Iterator[int]:
        """Hold one of ``node``'s slots for the duration; yields its number (0-based).

        Waits at most ``timeout`` seconds (the limiter's ``wait_timeout`` if None; 0 tries
        once), then raises :class:`NodeBusyError`.
        """
        if not _NODE.fullmatch(node):
            raise AdapterError(f"nama node Proxmox {node!r} tidak sah")
        limit = self.wait_timeout if timeout is None else timeout
        held = self._pg_slot(node, limit) if self.postgres else self._file_slot(node, limit)
        with held as number:
            yield number

    # ------------------------------------------------------------------ the two backends

    def _busy(self, node: str, waited: float) -> NodeBusyError:
        return NodeBusyError(
            f"Semua {self.per_node} slot Terraform untuk node {node} masih dipakai setelah "
            f"{waited:.0f} detik; tidak ada yang diubah. Jalankan ulang nanti."
        )

    def _pause(self, deadline: float, node: str, limit: float) -> None:
        if time.monotonic() >= deadline:
            raise self._busy(node, limit)
        time.sleep(self.poll * (0.5 + random.random()))  # noqa: S311 - jitter, not crypto

    @contextlib.contextmanager
    def _file_slot(self, node: str, limit: float) -> Iterator[int]:
        folder = self.slot_dir
        folder.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + limit
        while True:
            for number in range(self.per_node):
                path = folder / f"{node}.{number}.lock"
                handle: IO[str] = open(path, "a+")  # noqa: SIM115 - kept open while held
                try:
                    locking.lock(handle, blocking=False)
                except BlockingIOError:
                    handle.close()
                    continue
                try:
                    yield number
                finally:
                    locking.unlock(handle)
                    handle.close()
                return
            self._pause(deadline, node, limit)

    @contextlib.contextmanager
    def _pg_slot(self, node: str, limit: float) -> Iterator[int]:
        import psycopg

        key = zlib.crc32(f"node-slot:{node}".encode()) - 2**31  # an int4
        try:
            conn: Any = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise AdapterError(
                f"basis data alokasi gagal (slot node {node}): {type(exc).__name__}"
            ) from exc
        with conn:
            deadline = time.monotonic() + limit
            while True:
                for number in range(self.per_node):
                    row = conn.execute(
                        "SELECT pg_try_advisory_lock(%s, %s)", (key, number)
                    ).fetchone()
                    if not row or not row[0]:
                        continue
                    try:
                        yield number
                    finally:
                        conn.execute("SELECT pg_advisory_unlock(%s, %s)", (key, number))
                    return
                self._pause(deadline, node, limit)
