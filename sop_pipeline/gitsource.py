"""Trusted files from the base branch: extracted from a commit, never taken from the tree.

A merge request can change ``inventories/``, ``approvers/``, ``terraform/``, ``playbooks/`` or
``roles/`` in its own branch; none of that counts until it is merged. The pipeline extracts
those folders as the base commit has them (:class:`sop_pipeline.config.TrustedConfig`).
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sop_pipeline.adapters.git import GitError, resolve, top_level_names
from sop_pipeline.errors import ConfigError


@contextmanager
def base_tree(
    repo: Path,
    base: str,
    folders: Sequence[str] = ("inventories",),
    *,
    required: Sequence[str] | None = None,
) -> Iterator[Path]:
    """A temporary folder holding ``folders`` exactly as commit ``base`` has them.

    Every folder is required unless ``required`` names the ones that are; the others are
    extracted where the commit has them.
    """
    commit = resolve(repo, base)
    present = top_level_names(repo, commit)
    needed = tuple(folders) if required is None else tuple(required)
    missing = [f for f in needed if f not in present]
    if missing:
        raise ConfigError(
            f"{base} ({commit[:12]}) tidak memuat {', '.join(f + '/' for f in missing)} "
            "[trusted-tree]"
        )
    chosen = [f for f in folders if f in present]
    with tempfile.TemporaryDirectory(prefix="sop-base-") as scratch:
        if chosen:  # `git archive` without a path would give the whole commit
            _extract(repo, base, commit, chosen, Path(scratch))
        yield Path(scratch)


def _extract(repo: Path, base: str, commit: str, folders: list[str], into: Path) -> None:
    done = subprocess.run(
        [
            "git",
            "--no-replace-objects",
            "-C",
            str(repo),
            "archive",
            "--format=tar",
            commit,
            "--",
            *folders,
        ],
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise ConfigError(f"{base} ({commit[:12]}) tidak memuat {', '.join(folders)}: {message}")
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        links = [m.name for m in archive.getmembers() if m.issym() or m.islnk()]
        if links:  # a committed symlink (mode 120000) would read another file than its own
            raise ConfigError(
                f"{base} ({commit[:12]}) memuat tautan simbolik {', '.join(links[:5])}; "
                "hanya berkas biasa yang diterima [not-regular-file]"
            )
        archive.extractall(into, filter="data")  # no devices, nothing outside the tree


__all__ = ["GitError", "base_tree", "resolve"]
