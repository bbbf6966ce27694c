"""Trusted files from the base branch: policy and keyring come from a commit, not the tree.

A merge request can change ``inventories/`` or ``approvers/`` in its own branch; none of that
counts until it is merged. The pipeline extracts those folders as the base commit has them.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sop_pipeline.adapters.git import GitError, resolve
from sop_pipeline.errors import ConfigError


@contextmanager
def base_tree(repo: Path, base: str, folders: tuple[str, ...] = ("inventories",)) -> Iterator[Path]:
    """A temporary folder holding ``folders`` exactly as commit ``base`` has them."""
    commit = resolve(repo, base)
    done = subprocess.run(
        [
            "git",
            "--no-replace-objects",
            "-C",
            str(repo),
            "archive",
            "--format=tar",
            commit,
            *folders,
        ],
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise ConfigError(f"{base} ({commit[:12]}) tidak memuat {', '.join(folders)}: {message}")
    with tempfile.TemporaryDirectory(prefix="sop-base-") as scratch:
        with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
            links = [m.name for m in archive.getmembers() if m.issym() or m.islnk()]
            if links:  # a committed symlink (mode 120000) would read another file than its own
                raise ConfigError(
                    f"{base} ({commit[:12]}) memuat tautan simbolik {', '.join(links[:5])}; "
                    "hanya berkas biasa yang diterima [not-regular-file]"
                )
            archive.extractall(scratch, filter="data")  # no devices, nothing outside scratch
        yield Path(scratch)


__all__ = ["GitError", "base_tree"]
