"""VMID and IPv4 allocation from the pools in ``inventories/pools.yaml``.

The pools are read (strictly) by :func:`sop_pipeline.config.load_pools`, from the base commit.

Each allocation (a request's VMID and address together) is one database transaction: the
pool is serialised (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``pg_advisory_xact_lock`` on the pool), the lowest free value is picked and inserted,
and a unique constraint makes a double allocation impossible even if that serialisation failed.
Asking again for the same request returns what it already holds, so a re-run never allocates
twice. A value is released only with the proof that its VM is gone (the VMID that was checked
absent on Proxmox after ``terraform destroy``).

SQLite (embedded, the default) or PostgreSQL through psycopg 3 when ``dsn`` starts with
``postgresql://``. This adapter wraps the database drivers only.
"""

from __future__ import annotations

import ipaddress
import sqlite3
import time
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sop_pipeline.errors import AdapterError, ConfigError

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sop_allocations ("
    " kind TEXT NOT NULL, pool TEXT NOT NULL, value TEXT NOT NULL, request_id TEXT NOT NULL,"
    " allocated_at TEXT NOT NULL,"
    " PRIMARY KEY (kind, pool, value), UNIQUE (kind, pool, request_id))"
)

#: Leases of retired hostings kept until their quarantine ends (docs/retirement.md).
QUARANTINE_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS sop_quarantine ("
    " pool TEXT NOT NULL, request_id TEXT NOT NULL, until TEXT NOT NULL,"
    " PRIMARY KEY (pool, request_id))"
)


class AllocationError(AdapterError):
    """The pool is full, the database failed, or a release lacked its proof."""


class RequestLeasedError(AllocationError):
    """Another run (on this or another runner) holds the request's lease: nothing was done."""

    exit_code = 75  # EX_TEMPFAIL


@dataclass(frozen=True)
class Pool:
    """One environment's pool: network, range, gateway, resolvers, VLAN and VMIDs."""

    name: str
    network: ipaddress.IPv4Network
    first: ipaddress.IPv4Address
    last: ipaddress.IPv4Address
    gateway: ipaddress.IPv4Address
    resolvers: tuple[str, ...]
    vlan: int | None
    bridge: str
    dns_domain: str
    vmid_first: int
    vmid_last: int

    @property
    def prefix(self) -> int:
        return self.network.prefixlen


@dataclass(frozen=True)
class Allocation:
    """What a request holds: VMID and address, with the pool's settings for Terraform."""

    request_id: str
    pool: Pool
    vmid: int
    ipv4: str


class Allocator:
    """Allocates and releases VMIDs and addresses; safe across threads, processes and runners."""

    def __init__(self, pools: Mapping[str, Pool], dsn: str) -> None:
        self.pools = dict(pools)
        self.dsn = dsn
        self.postgres = dsn.startswith(("postgresql://", "postgres://"))
        with self._transaction() as cur:
            cur.execute(SCHEMA)

    # ------------------------------------------------------------------ transactions

    @contextmanager
    def _transaction(self, lock_key: str | None = None) -> Iterator[Any]:
        if self.postgres:
            import psycopg

            try:
                with psycopg.connect(self.dsn, connect_timeout=10) as conn, conn.cursor() as cur:
                    if lock_key is not None:
                        cur.execute(
                            "SELECT pg_advisory_xact_lock(%s)", (zlib.crc32(lock_key.encode()),)
                        )
                    yield _PgCursor(cur)
            except psycopg.Error as exc:
                raise AllocationError(
                    f"basis data alokasi gagal: {type(exc).__name__}: {exc}"
                ) from exc
            return
        path = (
            self.dsn.removeprefix("sqlite:///") if self.dsn.startswith("sqlite:///") else self.dsn
        )
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        lite = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        try:
            lite.execute("PRAGMA journal_mode=WAL")
            lite.execute("BEGIN IMMEDIATE")
            try:
                yield lite.cursor()
            except BaseException:
                lite.execute("ROLLBACK")
                raise
            lite.execute("COMMIT")
        except sqlite3.Error as exc:
            raise AllocationError(f"basis data alokasi gagal: {exc}") from exc
        finally:
            lite.close()

    # ------------------------------------------------------------------ allocation

    def allocate(self, request_id: str, environment: str) -> Allocation:
        """The request's VMID and address in the environment's pool (the same ones on a re-run)."""
        pool = self._pool(environment)
        for attempt in range(5):
            try:
                with self._transaction(pool.name) as cur:
                    vmid = int(self._take(cur, "vmid", pool, request_id, self._vmids(pool)))
                    ipv4 = self._take(cur, "ip", pool, request_id, self._addresses(pool))
                return Allocation(request_id=request_id, pool=pool, vmid=vmid, ipv4=ipv4)
            except AllocationError as exc:
                if "unique" not in str(exc).lower() or attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AllocationError(f"{request_id}: alokasi gagal setelah beberapa percobaan")

    def held(self, request_id: str, environment: str) -> Allocation | None:
        """What the request holds now, or None."""
        pool = self._pool(environment)
        with self._transaction() as cur:
            cur.execute(
                "SELECT kind, value FROM sop_allocations WHERE pool = ? AND request_id = ?",
                (pool.name, request_id),
            )
            rows = dict(cur.fetchall())
        if "vmid" not in rows or "ip" not in rows:
            return None
        return Allocation(request_id=request_id, pool=pool, vmid=int(rows["vmid"]), ipv4=rows["ip"])

    def peek(self, request_id: str, environment: str) -> Allocation | None:
        """What :meth:`allocate` would hand out now, reserving nothing (for the step-6 analysis).

        The request's own VMID and address when it holds them, else the lowest free ones; None
        when the pool has no free VMID or no free address. Another request may take these
        values before this one is allocated: only :meth:`allocate` promises them.
        """
        pool = self._pool(environment)
        with self._transaction() as cur:
            cur.execute(
                "SELECT kind, value, request_id FROM sop_allocations WHERE pool = ?", (pool.name,)
            )
            rows = [(str(k), str(v), str(r)) for k, v, r in cur.fetchall()]
        held = {kind: value for kind, value, owner in rows if owner == request_id}
        taken = {(kind, value) for kind, value, _owner in rows}
        vmid = held.get("vmid") or next(
            (v for v in self._vmids(pool) if ("vmid", v) not in taken), None
        )
        ipv4 = held.get("ip") or next(
            (a for a in self._addresses(pool) if ("ip", a) not in taken), None
        )
        if vmid is None or ipv4 is None:
            return None
        return Allocation(request_id=request_id, pool=pool, vmid=int(vmid), ipv4=ipv4)

    def release(self, request_id: str, environment: str, *, confirmed_absent_vmid: int) -> bool:
        """Free the request's VMID and address once its VM is confirmed gone.

        ``confirmed_absent_vmid`` is the VMID the caller checked absent on Proxmox after the
        destroy; it must be the one held, or nothing is released. True if anything was freed.
        """
        pool = self._pool(environment)
        with self._transaction(pool.name) as cur:
            cur.execute(
                "SELECT value FROM sop_allocations"
                " WHERE kind = 'vmid' AND pool = ? AND request_id = ?",
                (pool.name, request_id),
            )
            row = cur.fetchone()
            if row is None:
                return False
            if int(row[0]) != confirmed_absent_vmid:
                raise AllocationError(
                    f"{request_id}: VMID {row[0]} belum dipastikan terhapus; alokasi tidak dilepas."
                )
            cur.execute(
                "DELETE FROM sop_allocations WHERE pool = ? AND request_id = ?",
                (pool.name, request_id),
            )
        return True

    @contextmanager
    def lease(self, request_id: str) -> Iterator[None]:
        """Hold the request's lease while provisioning it; a second holder gets RequestLeasedError.

        PostgreSQL: a session advisory lock on a connection kept open (freed if the runner dies).
        SQLite: an exclusive ``flock`` on a file beside the database (freed by the kernel likewise).
        """
        busy = RequestLeasedError(
            f"Permohonan {request_id} sedang diproses oleh runner lain; tidak ada yang diubah."
        )
        key = zlib.crc32(f"lease:{request_id}".encode())
        if self.postgres:
            import psycopg

            try:
                conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
            except psycopg.Error as exc:
                raise AllocationError(f"basis data alokasi gagal: {type(exc).__name__}") from exc
            with conn:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if not row or not row[0]:
                    raise busy
                try:
                    yield
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            return
        from sop_pipeline import locking

        path = Path(self.dsn.removeprefix("sqlite:///")).with_suffix(f".lease-{key:08x}")
        with open(path, "a+") as handle:
            try:
                locking.lock(handle, blocking=False)
            except BlockingIOError:
                raise busy from None
            try:
                yield
            finally:
                locking.unlock(handle)

    # ------------------------------------------------------------------ quarantine (retirement)

    def quarantine(self, request_id: str, environment: str, *, until: datetime) -> bool:
        """Keep a retired hosting's VMID and address held, as quarantined until ``until``
        (its VM is destroyed; nobody else gets them before). True if the request holds any."""
        pool = self._pool(environment)
        with self._transaction(pool.name) as cur:
            cur.execute(QUARANTINE_SCHEMA)
            cur.execute(
                "SELECT COUNT(*) FROM sop_allocations WHERE pool = ? AND request_id = ?",
                (pool.name, request_id),
            )
            row = cur.fetchone()
            if not row or not int(row[0]):
                return False
            cur.execute(
                "DELETE FROM sop_quarantine WHERE pool = ? AND request_id = ?",
                (pool.name, request_id),
            )
            cur.execute(
                "INSERT INTO sop_quarantine (pool, request_id, until) VALUES (?, ?, ?)",
                (pool.name, request_id, until.astimezone(UTC).isoformat()),
            )
        return True

    def quarantined(self) -> list[tuple[str, str, datetime]]:
        """Every quarantined lease as (pool, request_id, until)."""
        with self._transaction() as cur:
            cur.execute(QUARANTINE_SCHEMA)
            cur.execute("SELECT pool, request_id, until FROM sop_quarantine ORDER BY until")
            return [(str(p), str(r), datetime.fromisoformat(str(u))) for p, r, u in cur.fetchall()]

    def release_quarantined(self, now: datetime) -> list[str]:
        """Free every quarantined lease whose quarantine has ended at ``now``; the request
        ids freed (``sop expiry``'s daily run and every later retirement run call it)."""
        freed = []
        with self._transaction() as cur:
            cur.execute(QUARANTINE_SCHEMA)
            cur.execute("SELECT pool, request_id, until FROM sop_quarantine")
            for pool, request_id, until in cur.fetchall():
                if datetime.fromisoformat(str(until)) > now:
                    continue
                cur.execute(
                    "DELETE FROM sop_allocations WHERE pool = ? AND request_id = ?",
                    (pool, request_id),
                )
                cur.execute(
                    "DELETE FROM sop_quarantine WHERE pool = ? AND request_id = ?",
                    (pool, request_id),
                )
                freed.append(str(request_id))
        return freed

    def all(self) -> list[tuple[str, str, str, str]]:
        """Every allocation as (kind, pool, value, request_id), for audits and tests."""
        with self._transaction() as cur:
            cur.execute(
                "SELECT kind, pool, value, request_id FROM sop_allocations"
                " ORDER BY kind, pool, value"
            )
            return [tuple(r) for r in cur.fetchall()]

    # ------------------------------------------------------------------ helpers

    def _pool(self, environment: str) -> Pool:
        try:
            return self.pools[environment]
        except KeyError:
            raise ConfigError(
                f"inventories/pools.yaml: tidak ada pool untuk lingkungan {environment!r}"
            ) from None

    @staticmethod
    def _vmids(pool: Pool) -> Iterator[str]:
        return (str(v) for v in range(pool.vmid_first, pool.vmid_last + 1))

    @staticmethod
    def _addresses(pool: Pool) -> Iterator[str]:
        return (str(ipaddress.IPv4Address(v)) for v in range(int(pool.first), int(pool.last) + 1))

    @staticmethod
    def _take(cur: Any, kind: str, pool: Pool, request_id: str, candidates: Iterator[str]) -> str:
        """Inside the pool's transaction: the value the request holds, or the lowest free one."""
        cur.execute(
            "SELECT value FROM sop_allocations WHERE kind = ? AND pool = ? AND request_id = ?",
            (kind, pool.name, request_id),
        )
        row = cur.fetchone()
        if row is not None:
            return str(row[0])
        cur.execute(
            "SELECT value FROM sop_allocations WHERE kind = ? AND pool = ?", (kind, pool.name)
        )
        taken = {str(r[0]) for r in cur.fetchall()}
        value = next((c for c in candidates if c not in taken), None)
        if value is None:
            raise AllocationError(
                f"pool {pool.name} habis: tidak ada {kind} bebas untuk {request_id}."
            )
        cur.execute(
            "INSERT INTO sop_allocations (kind, pool, value, request_id, allocated_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (kind, pool.name, value, request_id, datetime.now(UTC).isoformat()),
        )
        return value


class _PgCursor:
    """A psycopg cursor that takes SQLite's ``?`` placeholders, so both share one SQL text."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> None:
        self._cur.execute(sql.replace("?", "%s"), args)

    def fetchone(self) -> Any:
        return self._cur.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall())
