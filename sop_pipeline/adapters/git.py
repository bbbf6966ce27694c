"""Git, through the ``git`` command: what changed since a commit, and files as a commit has them.

Reading from a commit (``show``) is how keyring and policy come from the base branch, never
from the working copy of a merge request. Reading every version a folder ever had
(:func:`folder_history`, :func:`read_blobs`) is how a deleted approval statement stays seen.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
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


#: Modes of regular files in a Git tree; links, submodules and trees are never read as files.
REGULAR_MODES = frozenset({"100644", "100755"})


@dataclass(frozen=True)
class TreeEntry:
    """One file as one commit holds it."""

    commit: str
    path: str  # relative to the repository root
    mode: str
    blob: str


@dataclass(frozen=True)
class FileChange:
    """A path that differs between a commit and the work tree, with its status letter."""

    status: str  # "D" deleted, "M" modified, "T" type changed, "A" added
    path: str


def has_commits(repo: Path) -> bool:
    """Whether ``repo`` is in a Git work tree with a commit at HEAD (else it has no history)."""
    try:
        _git(repo, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except GitError:
        return False
    return True


def toplevel(repo: Path) -> Path:
    """The root of the work tree ``repo`` is in."""
    return Path(_git(repo, "rev-parse", "--show-toplevel").decode().strip())


def folder_history(repo: Path, folder: str, rev: str = "HEAD") -> list[TreeEntry]:
    """Every regular file under ``folder`` in every commit reachable from ``rev`` that changed
    it, side branches included (``--full-history``: a file added and deleted on a merged
    branch is found, although the merge leaves the folder as it was). A shallow clone is
    refused: its history is cut, and what was cut off cannot be read."""
    if _git(repo, "rev-parse", "--is-shallow-repository").decode().strip() == "true":
        raise GitError(
            f"{repo}: clone Git dangkal (shallow); riwayat persetujuan tidak lengkap, gerbang "
            "tidak dapat diperiksa. Pakai clone penuh (GIT_DEPTH: 0, fetch-depth: 0) "
            "[shallow-history]"
        )
    commits = _git(repo, "rev-list", "--full-history", rev, "--", folder).decode().split()
    entries: list[TreeEntry] = []
    for commit in commits:
        listing = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", f"{folder}/")
        for item in listing.decode("utf-8", errors="surrogateescape").split("\0"):
            if not item:
                continue
            meta, _, path = item.partition("\t")
            mode, kind, blob = meta.split(" ")
            if kind == "blob" and mode in REGULAR_MODES:
                entries.append(TreeEntry(commit, path, mode, blob))
    return entries


def read_blobs(repo: Path, blobs: Iterable[str], *, limit: int) -> dict[str, bytes | None]:
    """The bytes of each blob (one ``git cat-file --batch``); None for one above ``limit``
    bytes, which is never read into memory whole."""
    wanted = sorted(set(blobs))
    if not wanted:
        return {}
    sizes: dict[str, int] = {}
    check = _git_input(repo, "\n".join(wanted).encode() + b"\n", "cat-file", "--batch-check")
    for line in check.decode().splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[1] != "blob":
            raise GitError(f"git cat-file: {line} bukan blob")
        sizes[parts[0]] = int(parts[2])
    small = [b for b in wanted if sizes[b] <= limit]
    found: dict[str, bytes | None] = {b: None for b in wanted}
    if small:
        out = _git_input(repo, "\n".join(small).encode() + b"\n", "cat-file", "--batch")
        offset = 0
        for name in small:
            end = out.index(b"\n", offset)
            length = int(out[offset:end].split(b" ")[2])
            found[name] = out[end + 1 : end + 1 + length]
            offset = end + 1 + length + 1  # the content, then a newline
    return found


def changes_since(repo: Path, since: str, pathspec: str) -> list[FileChange]:
    """Paths under ``pathspec`` that differ between the merge base of ``since`` and HEAD, and
    the work tree (renames shown as a deletion and an addition)."""
    base = _git(repo, "merge-base", since, "HEAD").decode().strip()
    out = _git(repo, "diff", "--name-status", "--no-renames", "-z", base, "--", pathspec)
    fields = [f for f in out.decode("utf-8", errors="surrogateescape").split("\0") if f]
    return [FileChange(fields[i][:1], fields[i + 1]) for i in range(0, len(fields) - 1, 2)]


def _git_input(repo: Path, data: bytes, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            input=data,
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GitError(f"git {args[0]} gagal dijalankan: {err}") from err
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip()
        raise GitError(f"git {' '.join(args)} gagal: {message}")
    return done.stdout
