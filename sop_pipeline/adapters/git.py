"""Git, through the ``git`` command: what changed since a commit, and files as a commit has them.

Reading from a commit (``show``, :func:`read_blob`) is how keyring and policy come from the
base branch, never from the working copy of a merge request. The base itself is resolved
strictly (:func:`resolve_base`): a merge request can push tags and branches, so a short name
such as ``main`` or ``origin/main`` counts only when exactly one branch has that name and no
tag or other ref shares it. Every command runs with ``--no-replace-objects``: a pushed
``refs/replace/<commit>`` would otherwise put another commit's content under the base's id.
Reading every version a folder ever had (:func:`folder_history`, :func:`read_blobs_by_id`) is
how a deleted approval statement stays seen. Trusted folders are extracted from a commit
(:func:`base_tree`), never taken from the work tree.
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sop_pipeline.domain.text import shown
from sop_pipeline.errors import AdapterError, ConfigError

#: The only places a base may live: local and remote-tracking branches.
BRANCH_NAMESPACES = ("refs/heads/", "refs/remotes/")
_FULL_ID = re.compile(r"(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")
# A branch name as `git check-ref-format` allows it, minus everything that makes it an
# expression (~ ^ : ? * [ \ @{ ..) or an option (a leading -).
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._/+-]*\Z")
REGULAR_BLOB_MODES = ("100644", "100755")


class GitError(AdapterError):
    """A git command failed."""


class BaseRefused(GitError):
    """``--base`` names no branch, an ambiguous one, or something that is not a branch."""

    exit_code = 3  # a configuration of the run (or of the repository's refs) is wrong


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "--no-replace-objects", "-C", str(repo), *args],
            capture_output=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired, ValueError) as err:
        raise GitError(f"git {args[0]} gagal dijalankan: {err}") from err


def _git(repo: Path, *args: str, warnings: bool = False) -> bytes:
    """stdout of ``git args``; with ``warnings``, anything git warns about refuses too."""
    done = _run(repo, *args)
    message = done.stderr.decode(errors="replace").strip()
    if done.returncode != 0:
        raise GitError(f"git {' '.join(args)} gagal: {message}")
    if warnings and message:  # e.g. "refname 'main' is ambiguous": never silently dropped
        raise BaseRefused(f"git {' '.join(args)} memberi peringatan: {message} [git-warning]")
    return done.stdout


def changed_paths(repo: Path, since: str) -> list[str]:
    """Paths (relative to the repo) added or changed since ``since``, untracked included.

    git's warnings (an ambiguous ``since``) refuse rather than pick one silently."""
    out = _git(
        repo,
        "diff",
        "--name-only",
        "--no-renames",
        "--diff-filter=ACMR",
        "-z",
        "--end-of-options",
        since,
        "--",
        warnings=True,
    )
    untracked = _git(repo, "ls-files", "--others", "--exclude-standard", "-z")
    names = {n for n in (out + untracked).decode().split("\0") if n}
    return sorted(names)


def show(repo: Path, commit: str, path: str) -> bytes:
    """The bytes of ``path`` at ``commit``."""
    return _git(repo, "show", f"{commit}:{path}")


def read_blobs(repo: Path, commit: str, paths: Iterable[str], *, limit: int) -> dict[str, bytes]:
    """The bytes of each of ``paths`` at ``commit``, only where the commit holds it as a
    regular file (mode 100644 or 100755: never a symlink 120000, a folder or a submodule)
    of at most ``limit`` bytes. FileNotFoundError for a path the commit lacks."""
    wanted = list(paths)
    listing = _git(repo, "ls-tree", "-l", "-z", "--full-tree", commit, "--", *wanted)
    found: dict[str, tuple[str, str, str, int]] = {}
    for entry in (e for e in listing.split(b"\0") if e):
        info, _, name = entry.partition(b"\t")
        mode, kind, oid, size_text = info.decode().split()
        size = int(size_text) if size_text.isdigit() else -1  # "-" for a tree or submodule
        found[name.decode(errors="replace")] = (mode, kind, oid, size)
    for path in wanted:
        if path not in found:
            raise FileNotFoundError(f"{path} tidak ada di {commit[:12]}")
        mode, kind, _oid, size = found[path]
        if kind != "blob" or mode not in REGULAR_BLOB_MODES:
            raise GitError(
                f"{path} di {commit[:12]} bukan berkas biasa (mode {mode}, {kind}) "
                "[not-regular-file]"
            )
        if size > limit:
            raise GitError(
                f"{path} di {commit[:12]}: {size} bita, melebihi batas {limit} [too-large]"
            )
    return _cat_blobs(repo, wanted, [found[p][2] for p in wanted])


def _cat_blobs(repo: Path, paths: list[str], oids: list[str]) -> dict[str, bytes]:
    """Many blobs in one ``git cat-file --batch``, by path."""
    stdout = _git_input(repo, "".join(f"{oid}\n" for oid in oids).encode(), "cat-file", "--batch")
    out, blobs, at = stdout, {}, 0
    for path, oid in zip(paths, oids, strict=True):
        end = out.index(b"\n", at)
        header = out[at:end].decode().split()
        if len(header) != 3 or header[0] != oid or header[1] != "blob":
            raise GitError(f"git cat-file: jawaban tak terduga untuk {path}")
        size = int(header[2])
        blobs[path] = out[end + 1 : end + 1 + size]
        at = end + 1 + size + 1  # the blob is followed by a newline
    return blobs


def read_blob(repo: Path, commit: str, path: str, *, limit: int) -> bytes:
    """One regular file of ``commit`` (see :func:`read_blobs`)."""
    return read_blobs(repo, commit, [path], limit=limit)[path]


# ------------------------------------------------------------------------- the base branch


def base_candidates(name: str, refnames: Iterable[str]) -> list[str]:
    """Every ref a short ``name`` could stand for: what git's own lookup tries (``refs/NAME``,
    ``refs/tags/NAME``, ``refs/heads/NAME``, ``refs/remotes/NAME``, ``refs/remotes/NAME/HEAD``)
    and any other ``refs/<kind>/NAME`` (notes, replace, merge requests...). Pure."""
    found = []
    for ref in refnames:
        kind, slash, rest = ref.removeprefix("refs/").partition("/")
        if ref in (f"refs/{name}", f"refs/remotes/{name}/HEAD") or (
            ref.startswith("refs/") and slash and kind and rest == name
        ):
            found.append(ref)
    return sorted(set(found))


def choose_base(name: str, refnames: Iterable[str]) -> str:
    """The one full ref a short base ``name`` means, or BaseRefused saying why. Pure."""
    candidates = base_candidates(name, refnames)
    branches = [f"{ns}{name}" for ns in BRANCH_NAMESPACES]
    if not candidates:
        raise BaseRefused(
            f"--base '{shown(name)}' tidak ditemukan: tidak ada {' atau '.join(branches)} "
            "[base-not-found]"
        )
    if len(candidates) > 1:
        raise BaseRefused(
            f"--base '{shown(name)}' ambigu: nama itu dipakai oleh {', '.join(candidates)}; "
            "tulis ref lengkap, mis. --base refs/remotes/origin/main atau refs/heads/main "
            "[ambiguous-base]"
        )
    (only,) = candidates
    if only not in branches:
        raise BaseRefused(
            f"--base '{shown(name)}' menunjuk {only}, bukan cabang (refs/heads/ atau "
            "refs/remotes/); tulis ref lengkap cabang basis [base-not-branch]"
        )
    return only


def check_base_syntax(base: str) -> None:
    """A full 40/64-hex commit id, a full branch ref, or a plain short name. Pure."""
    if _FULL_ID.match(base):
        return
    name = base.removeprefix("refs/")
    if (
        not _NAME.match(name)
        or ".." in base
        or "//" in base
        or base.endswith(("/", ".", ".lock"))
        or "/." in base
    ):
        raise BaseRefused(
            f"--base '{shown(base)}' bukan nama cabang atau id commit lengkap (tanpa ~ ^ : @{{ "
            "dan sejenisnya); tulis mis. refs/remotes/origin/main [base-syntax]"
        )
    if base.startswith("refs/") and not base.startswith(BRANCH_NAMESPACES):
        raise BaseRefused(
            f"--base '{shown(base)}' bukan cabang: basis hanya boleh refs/heads/... atau "
            "refs/remotes/... (bukan tag atau ref lain) [base-not-branch]"
        )


def _commit_of(repo: Path, full: str) -> str:
    """The commit a full ref (exactly that name, no lookup rules) points to."""
    listed = _run(repo, "show-ref", "--verify", "--end-of-options", full)
    if listed.returncode != 0:
        raise BaseRefused(f"--base '{shown(full)}' tidak ditemukan di repositori [base-not-found]")
    oid = listed.stdout.split()[0].decode()
    return _peel(repo, oid, full)


def _peel(repo: Path, oid: str, shown_as: str) -> str:
    done = _run(repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{oid}^{{commit}}")
    if done.returncode != 0:
        raise BaseRefused(f"--base '{shown(shown_as)}' bukan commit [base-not-found]")
    if done.stderr.strip():
        warning = done.stderr.decode(errors="replace").strip()
        raise BaseRefused(
            f"--base '{shown(shown_as)}': git memberi peringatan: {warning} [git-warning]"
        )
    return done.stdout.decode().strip()


def resolve_base(repo: Path, base: str) -> str:
    """The commit id of the base branch, resolved without git's guessing.

    Accepted: a full commit id; ``refs/heads/NAME`` or ``refs/remotes/NAME``, exactly; a short
    ``NAME`` that is exactly one of ``refs/heads/NAME`` or ``refs/remotes/NAME`` while no
    tag, note or other ref shares the name, and that git itself resolves to the same commit
    without a warning. Anything else raises :class:`BaseRefused` naming the rule.
    """
    check_base_syntax(base)
    if _FULL_ID.match(base):
        commit = _peel(repo, base, base)
        if commit != base:
            raise BaseRefused(f"--base '{base}' bukan id commit (objek lain) [base-not-branch]")
        return commit
    if base.startswith("refs/"):
        return _commit_of(repo, base)
    listed = _git(repo, "for-each-ref", "--format=%(objectname) %(refname)").decode()
    refs = {ref: oid for oid, _, ref in (line.partition(" ") for line in listed.splitlines())}
    full = choose_base(base, refs)
    commit = refs[full]
    # git's own lookup of the short name must land on the same commit, silently: a pseudo-ref
    # (a top-level .git/NAME) or a rule we do not know of would show up here, and so would a
    # branch that points at something other than a commit.
    if _peel(repo, base, base) != commit:
        raise BaseRefused(
            f"--base '{shown(base)}': git membaca nama ini sebagai commit lain daripada {full}; "
            "tulis ref lengkap [ambiguous-base]"
        )
    return commit


def resolve(repo: Path, ref: str) -> str:
    """The base commit: :func:`resolve_base` (kept under its old name for callers)."""
    return resolve_base(repo, ref)


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


def read_blobs_by_id(repo: Path, blobs: Iterable[str], *, limit: int) -> dict[str, bytes | None]:
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
        found |= _cat_blobs(repo, small, small)  # keyed by the blob ids themselves
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
            ["git", "--no-replace-objects", "-C", str(repo), *args],
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


def top_level_names(repo: Path, commit: str) -> set[str]:
    """The names at the root of ``commit``'s tree (files and folders)."""
    out = _git(repo, "ls-tree", "--name-only", "-z", commit)
    return {n for n in out.decode().split("\0") if n}


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


def current_branch(repo: Path) -> str:
    """The checked-out branch; GitError on a detached HEAD (nothing to push to)."""
    name = _git(repo, "symbolic-ref", "--quiet", "--short", "HEAD").decode().strip()
    if not _NAME.match(name):
        raise GitError(f"nama cabang {shown(name)} tidak dapat dipakai untuk push")
    return name


def commit_files(repo: Path, paths: Sequence[Path], message: str) -> str:
    """Commit exactly ``paths`` (nothing else that is staged) and return the new commit."""
    names = [str(p.resolve().relative_to(repo.resolve())) for p in paths]
    _git(repo, "add", "--", *names)
    _git(repo, "commit", "--quiet", "--only", "-m", message, "--", *names)
    return _git(repo, "rev-parse", "--verify", "HEAD").decode().strip()


def push_target(repo: Path, remote: str) -> str:
    """The branch :func:`push` would push to ``remote``, checked before anything is written:
    GitError for a remote name that is no plain name (never an option) or a detached HEAD."""
    if not _NAME.match(remote):
        raise GitError(f"nama remote {shown(remote)} tidak sah")
    _git(repo, "remote", "get-url", "--", remote)
    return current_branch(repo)


def push(repo: Path, remote: str) -> str:
    """Push the current branch to ``remote``; when someone pushed first, rebase this
    branch's new commits on theirs once and push again (a statement adds new files only,
    so the rebase is clean unless both wrote the same file). Returns the branch."""
    branch = push_target(repo, remote)
    refspec = f"HEAD:refs/heads/{branch}"
    first = _run(repo, "push", "--quiet", remote, refspec)
    if first.returncode == 0:
        return branch
    _git(repo, "fetch", "--quiet", remote, f"refs/heads/{branch}")
    rebased = _run(repo, "rebase", "--quiet", "FETCH_HEAD")
    if rebased.returncode != 0:
        _run(repo, "rebase", "--abort")
        raise GitError(
            f"push ke {remote}/{branch} ditolak dan rebase di atas perubahan orang lain "
            "gagal (berkas yang sama diubah); commit Anda tetap ada di cabang lokal: "
            f"selesaikan dengan git pull --rebase {remote} {branch}, lalu git push"
        )
    _git(repo, "push", "--quiet", remote, refspec)
    return branch
