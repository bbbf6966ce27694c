"""An exclusive lock on an open file, among processes of one machine, on every platform.

``fcntl.flock`` on POSIX; ``msvcrt.locking`` on the file's first byte on Windows, where
``fcntl`` does not exist. Either is imported only when a lock is taken, so that
``pip install sop-pipeline`` (the core: ``sop validate``, ``sop sign``, ``sop verify``)
imports on any Python.

Both locks end when the holder's process does, however it ends (kill -9 included), which
is what the ledger, the Terraform phase and the allocator rely on.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

#: How often a blocking lock on Windows asks again (msvcrt's own LK_LOCK gives up after 10 s).
_WINDOWS_RETRY_S = 0.05


def lock(handle: IO[Any], *, blocking: bool = True) -> None:
    """Lock ``handle`` exclusively; BlockingIOError when ``blocking`` is False and another
    process holds it."""
    if sys.platform == "win32":
        import msvcrt

        while True:
            handle.seek(0)
            try:
                msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
                return
            except OSError as err:
                if not blocking:
                    raise BlockingIOError(str(err)) from err
            time.sleep(_WINDOWS_RETRY_S)
    else:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))


def unlock(handle: IO[Any]) -> None:
    if sys.platform == "win32":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(handle, fcntl.LOCK_UN)
