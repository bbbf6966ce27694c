"""Git, through the ``git`` command: what changed since a commit, and files as a commit has them.

Reading from a commit (``show``) is how keyring and policy come from the base branch, never
from the working copy of a merge request.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from sop_pipeline.errors import AdapterError


class GitError(AdapterError):
    """A git command failed."""


def _git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], capture_output=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GitError(f"git {args[0]} gagal dijalankan: {err}") from err
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise GitError(f"git {' '.join(args)} gagal: {message}")
    return done.stdout


def changed_paths(repo: Path, since: str) -> list[str]:
    """Paths (relative to the repo) added or changed since ``since``, untracked included."""
    out = _git(repo, "diff", "--name-only", "--no-renames", "--diff-filter=ACMR", "-z", since, "--")
    untracked = _git(repo, "ls-files", "--others", "--exclude-standard", "-z")
    names = {n for n in (out + untracked).decode().split("\0") if n}
    return sorted(names)


def show(repo: Path, commit: str, path: str) -> bytes:
    """The bytes of ``path`` at ``commit``."""
    return _git(repo, "show", f"{commit}:{path}")


def resolve(repo: Path, ref: str) -> str:
    return _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()


def top_level_names(repo: Path, commit: str) -> set[str]:
    """The names at the root of ``commit``'s tree (files and folders)."""
    out = _git(repo, "ls-tree", "--name-only", "-z", commit)
    return {n for n in out.decode().split("\0") if n}
