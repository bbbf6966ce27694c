"""The process table at the edge: run markers, the run record, parent-death, the sweep.

:mod:`sop_pipeline.adapters.leftovers` decides which processes a dead run left behind; this
module reads ``/proc`` (Linux only), writes the run record beside the request's lock and
stops leftovers with SIGTERM, then SIGKILL, waiting until they are gone.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import signal
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sop_pipeline.adapters.leftovers import MARKER_VARIABLE, ProcessInfo, RunMarker

PROC = Path("/proc")
_PR_SET_PDEATHSIG = 1
#: How long a leftover gets to stop on SIGTERM (Terraform saves its state) before SIGKILL.
TERM_GRACE_SECONDS = 30.0


def start_ticks(pid: int) -> int | None:
    """Field 22 of ``/proc/<pid>/stat`` (start time in clock ticks since boot), or None."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat.rpartition(")")[2].split()
    # fields[0] is field 3 (state); a zombie has exited already and counts as gone.
    if len(fields) < 20 or fields[0] == "Z":
        return None
    return int(fields[19])


def scope_of(work_root: Path) -> str:
    """The scope of the markers of runs whose working copies live under ``work_root``."""
    return hashlib.sha256(str(work_root.resolve()).encode()).hexdigest()[:12]


def own_marker(request_id: str, scope: str = "") -> RunMarker:
    """The marker of this ``sop`` process for ``request_id`` in ``scope``."""
    pid = os.getpid()
    return RunMarker(request_id, pid, start_ticks(pid) or 0, scope)


def _marker_of(pid: str) -> RunMarker | None:
    try:
        environ = (PROC / pid / "environ").read_bytes()
    except OSError:
        return None  # gone, or another user's process: not ours
    prefix = MARKER_VARIABLE.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return RunMarker.parse(entry[len(prefix) :].decode("ascii", "replace"))
    return None


def process_table() -> list[ProcessInfo]:
    """Every live process readable here, with its marker (None for most)."""
    table: list[ProcessInfo] = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        start = start_ticks(pid)
        if start is None:
            continue
        try:
            name = (entry / "comm").read_text().strip()
        except OSError:
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            cwd = ""
        table.append(ProcessInfo(pid, start, name, _marker_of(entry.name), cwd))
    return table


def stop(
    procs: tuple[ProcessInfo, ...],
    *,
    grace: float = TERM_GRACE_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """SIGTERM each, SIGKILL what is left after ``grace``, and return once all are gone."""

    def gone(proc: ProcessInfo) -> bool:
        return start_ticks(proc.pid) != proc.start  # exited, a zombie, or the pid reused

    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        for proc in procs:
            if not gone(proc):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(proc.pid, sig)
        deadline = time.monotonic() + wait
        while not all(gone(p) for p in procs) and time.monotonic() < deadline:
            sleep(0.1)
        if all(gone(p) for p in procs):
            return


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` that asks the kernel to send ``sig`` when the spawning thread exits.

    PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, so the caller must
    stay in that thread until the child is reaped. If the parent died before the call took
    effect, the child exits at once.
    """
    parent = os.getpid()
    # Looked up here, in the parent: the forked child of a threaded process only makes the
    # call (no dlopen, no allocation that could wait on a lock another thread held).
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl: nobody is left to signal us
            raise ChildProcessError("parent gone before exec")  # the child stops here

    return preexec


# ---------------------------------------------------------------------------- run record


def record_path(lock_path: Path) -> Path:
    return lock_path.with_suffix(".run")


def write_record(lock_path: Path, marker: RunMarker) -> None:
    """Write who holds the request's lock now (pid, start ticks, host, wall time)."""
    data = {
        "request_id": marker.request_id,
        "pid": marker.pid,
        "start": marker.start,
        "scope": marker.scope,
        "host": socket.gethostname(),
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = record_path(lock_path)
    tmp = path.with_suffix(".run.tmp")
    tmp.write_text(json.dumps(data) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_record(lock_path: Path) -> tuple[RunMarker | None, str]:
    """The recorded run (None if absent or unreadable) and a short Indonesian description."""
    try:
        data = json.loads(record_path(lock_path).read_text(encoding="utf-8"))
        marker = RunMarker(
            str(data["request_id"]),
            int(data["pid"]),
            int(data["start"]),
            str(data.get("scope", "")),
        )
        who = f"pid {marker.pid}, mulai {data.get('started_at', '?')}, host {data.get('host', '?')}"
    except (OSError, ValueError, KeyError, TypeError):
        return None, "pemegang tidak tercatat"
    return marker, who
