"""Which processes a killed run left behind, and whether its Terraform lock may be cleared.

Every child that ``sop`` starts for a request (Terraform and its providers, ansible-playbook
and its workers, mitogen's helpers, ssh) carries a *run marker* in its environment,
``SOP_RUN=<request id>:<pid>:<start ticks>``, naming the ``sop`` process that started it by
its pid and its start time (``/proc/<pid>/stat`` field 22, so a reused pid is told apart).
Descendants inherit it, whichever session or process group they move to.

A run is *alive* while a process with that pid and that start time exists. A process is a
*leftover* of a request when its marker names that request and a run that is not alive; a
process whose run is alive belongs to another job and is never touched. This module only
decides; reading ``/proc`` and sending signals is :mod:`sop_pipeline.adapters.processes`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MARKER_VARIABLE = "SOP_RUN"
_MARKER_RE = re.compile(
    r"([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:@([0-9a-f]{12}))?:([1-9][0-9]{0,9}):([0-9]{1,20})"
)


@dataclass(frozen=True)
class RunMarker:
    """One ``sop`` run of one request: the request, the run's pid and its start ticks.

    ``scope`` names the environment's working copies (a hash of their folder): two labs or
    two environments on one machine may hold requests of the same id, and one run must
    never take the other's processes for its own leftovers.
    """

    request_id: str
    pid: int
    start: int
    scope: str = ""

    def text(self) -> str:
        where = f"@{self.scope}" if self.scope else ""
        return f"{self.request_id}{where}:{self.pid}:{self.start}"

    def same_request(self, other: RunMarker) -> bool:
        return (self.request_id, self.scope) == (other.request_id, other.scope)

    @classmethod
    def parse(cls, text: str) -> RunMarker | None:
        """The marker in ``text``, or None when it is not one (never an exception)."""
        match = _MARKER_RE.fullmatch(text.strip())
        if match is None:
            return None
        return cls(match[1], int(match[3]), int(match[4]), match[2] or "")


@dataclass(frozen=True)
class ProcessInfo:
    """One row of the process table: pid, start ticks, short name, and its marker if any."""

    pid: int
    start: int
    name: str = ""
    marker: RunMarker | None = None
    cwd: str = ""  # its working directory, "" when unreadable


@dataclass(frozen=True)
class Sweep:
    """What a run found of its request's processes: to stop, and of live runs to leave be."""

    leftovers: tuple[ProcessInfo, ...]
    live_runs: tuple[RunMarker, ...]


def _alive(table: Iterable[ProcessInfo]) -> frozenset[tuple[int, int]]:
    return frozenset((p.pid, p.start) for p in table)


def classify(request_id: str, table: Sequence[ProcessInfo], *, me: RunMarker) -> Sweep:
    """Split the processes carrying a marker of ``request_id`` into leftovers and live runs.

    ``me`` is the run deciding: its own children are neither. A marker whose run (pid and
    start time) is still in ``table`` names a live run of another job; every other marked
    process of the request is a leftover of a dead run.
    """
    alive = _alive(table)
    leftovers: list[ProcessInfo] = []
    live: dict[RunMarker, None] = {}
    for proc in table:
        mark = proc.marker
        if mark is None or mark.request_id != request_id or not mark.same_request(me):
            continue
        if mark == me:
            continue
        if (mark.pid, mark.start) in alive:
            live[mark] = None
        else:
            leftovers.append(proc)
    return Sweep(tuple(sorted(leftovers, key=lambda p: p.pid)), tuple(live))


def run_alive(record: RunMarker, table: Sequence[ProcessInfo]) -> bool:
    """True while the process the record names (same pid, same start time) exists."""
    return (record.pid, record.start) in _alive(table)


@dataclass(frozen=True)
class StateLock:
    """What Terraform says of the state lock it could not take (its "Lock Info")."""

    lock_id: str
    who: str  # "user@host"


_LOCK_ID_RE = re.compile(r"^\s*ID:\s+(\S+)\s*$", re.M)
_LOCK_WHO_RE = re.compile(r"^\s*Who:\s+(\S+)\s*$", re.M)


def parse_state_lock(text: str) -> StateLock | None:
    """The lock id and holder from Terraform's "Error acquiring the state lock" output."""
    lock_id = _LOCK_ID_RE.search(text)
    who = _LOCK_WHO_RE.search(text)
    if lock_id is None or who is None:
        return None
    return StateLock(lock_id[1], who[1])


def holder_provably_dead(
    lock: StateLock,
    *,
    host: str,
    request_id: str,
    table: Sequence[ProcessInfo],
    me: RunMarker,
    previous: RunMarker | None,
    workdir: str,
) -> bool:
    """True only when nothing that could hold ``lock`` is alive; then force-unlock is safe.

    Asked by a run that holds the request's lock and has swept the leftovers. The holder
    is provably dead when the lock was taken on this host (a process elsewhere cannot be
    seen), the previous run recorded beside the request's lock is dead, and no process on
    this host carries a marker of the request from a run other than ``me`` or works in the
    request's working copy ``workdir`` (a Terraform started by hand carries no marker).
    """
    if lock.who.rpartition("@")[2] != host:
        return False
    if previous is not None and previous != me and run_alive(previous, table):
        return False
    inside = workdir.rstrip("/") + "/"
    return not any(
        (p.marker is not None and p.marker.same_request(me) and p.marker != me)
        or (p.marker != me and (p.cwd + "/").startswith(inside))
        for p in table
    )
