"""Every statement the approvals folder ever held in Git history, checked like the folder's.

Statements are evidence: a refusal committed once stays a refusal after ``git rm``, after its
file is overwritten, or after the folder is renamed. The gate reads these with the folder's
(``GateContext.history``). Only what is reachable from the checked commit counts: a branch
whose history was rewritten before anyone recorded it is caught by the MR check instead
(the approvals folder is append-only relative to the base branch) and, once recorded, by the
ledger (``docs/approvals.md``, "Statements are evidence").
"""

from __future__ import annotations

import dataclasses
import stat
from pathlib import Path

from sop_pipeline.adapters import git
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.approvals import SIG_SUFFIX, Checked, Verifier, signature_path
from sop_pipeline.signing.subject import Subject, approvals_dir

#: A signature file is a few KiB; a larger blob in the folder is refused unread.
SIG_LIMIT = 64 * 1024


def folder_of(repo: Path, request_file: Path) -> str:
    """``requests/<id>.approvals`` relative to the repository root (POSIX form, for git).

    The folder itself is never resolved: a committed link in its place must not move the
    history walk elsewhere (the folder check refuses the link on its own).
    """
    folder = approvals_dir(request_file)
    return (folder.parent.resolve() / folder.name).relative_to(repo.resolve()).as_posix()


def check_history(
    repo: Path, request_file: Path, subject: Subject, verifier: Verifier, rev: str = "HEAD"
) -> list[Checked]:
    """Each distinct (statement, signature) pair the folder held in a commit reachable from
    ``rev`` and does not hold now byte for byte, checked by ``verifier``; empty outside a Git
    repository or before its first commit. Git failing otherwise (a shallow clone
    included) raises :class:`~sop_pipeline.adapters.git.GitError`."""
    if not git.has_commits(repo):
        return []
    root = git.toplevel(repo)
    folder = folder_of(root, request_file)
    entries = git.folder_history(root, folder, rev)
    by_commit: dict[tuple[str, str], str] = {(e.commit, e.path): e.blob for e in entries}
    pairs: dict[tuple[str, str, str | None], str] = {}  # (path, json blob, sig blob) -> commit
    for e in entries:
        if not e.path.endswith(".json"):
            continue
        sig = by_commit.get((e.commit, e.path + SIG_SUFFIX))
        pairs.setdefault((e.path, e.blob, sig), e.commit)
    wanted = [b for _path, blob, sig in pairs for b in (blob, sig) if b is not None]
    blobs = git.read_blobs_by_id(root, wanted, limit=max(st.MAX_BYTES, SIG_LIMIT))
    found: list[Checked] = []
    with verifier.session():
        for (path, blob, sig_blob), commit in pairs.items():
            where = root / path
            data = blobs.get(blob)
            signature = blobs.get(sig_blob) if sig_blob is not None else None
            if data is None or (sig_blob is not None and signature is None):
                found.append(
                    Checked(
                        where,
                        None,
                        blob,
                        problems=("berkas di riwayat Git terlalu besar [size]",),
                        source=commit[:12],
                    )
                )
                continue
            if _in_folder(where) == data and _in_folder(signature_path(where)) == signature:
                continue  # the folder holds these very bytes: checked there already
            checked = verifier.check_bytes(where, data, signature, subject)
            found.append(dataclasses.replace(checked, source=commit[:12]))
    return found


def _in_folder(path: Path) -> bytes | None:
    """The bytes of a plain file of the folder (never a link or a device), else None."""
    try:
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > max(st.MAX_BYTES, SIG_LIMIT):
        return None
    return path.read_bytes()
