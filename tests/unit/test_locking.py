"""sop_pipeline.locking: one exclusive holder; a non-blocking second taker is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop_pipeline import locking


def test_a_second_holder_is_refused_until_the_first_unlocks(tmp_path: Path) -> None:
    path = tmp_path / ".x.lock"
    with open(path, "a+") as first, open(path, "a+") as second:
        locking.lock(first, blocking=False)
        with pytest.raises(BlockingIOError):
            locking.lock(second, blocking=False)
        locking.unlock(first)
        locking.lock(second, blocking=False)  # free again
        locking.unlock(second)


def test_the_module_imports_no_platform_lock_until_used() -> None:
    source = Path(locking.__file__).read_text()
    top = source.split("\ndef ", 1)[0]
    assert "import fcntl" not in top and "import msvcrt" not in top
