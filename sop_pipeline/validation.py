"""Checking many request files at once: all of them, or only those changed since a commit.

Since a commit, the approvals folders are also checked to be append-only
(:func:`approval_history_problems`): a statement, once on the base branch, is evidence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sop_pipeline.adapters import git
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.rules import Problem, Usage, check_opd_totals
from sop_pipeline.loader import RequestInvalid, load_request
from sop_pipeline.safefile import lexists


@dataclass
class FileResult:
    path: Path
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def request_files(requests_dir: Path) -> list[Path]:
    return sorted(requests_dir.glob("*.yaml"))


def changed_request_files(repo: Path, requests_dir: Path, since: str) -> list[Path]:
    """Request files changed since ``since``, and those whose attachments changed."""
    relative = requests_dir.resolve().relative_to(repo.resolve())
    wanted = set()
    for name in git.changed_paths(repo, since):
        parts = Path(name).parts
        if parts[: len(relative.parts)] != relative.parts or len(parts) <= len(relative.parts):
            continue
        first = parts[len(relative.parts)]
        if len(parts) == len(relative.parts) + 1 and first.endswith(".yaml"):
            wanted.add(requests_dir / first)
        elif len(parts) > len(relative.parts) + 1:  # an attachment: requests/<id>/...
            candidate = requests_dir / f"{first}.yaml"
            if lexists(candidate):
                wanted.add(candidate)
    # lexists: a request committed as a link is checked (and refused), not silently skipped
    return sorted(p for p in wanted if lexists(p))


def validate_files(
    paths: Iterable[Path],
    policy: Policy,
    *,
    check_attachments: bool = True,
    check_totals: bool = False,
) -> list[FileResult]:
    """Every file's problems; with ``check_totals``, per-OPD quota over all the files given."""
    results = []
    usages = []
    for path in paths:
        try:
            request = load_request(path, policy=policy, check_attachments=check_attachments)
        except RequestInvalid as err:
            results.append(FileResult(path, err.problems))
            continue
        results.append(FileResult(path))
        r = request.data["resources"]
        usages.append(
            Usage(
                request.request_id,
                request.data["opd"]["code"],
                r["vcpu"],
                r["memory_mb"],
                r["disk_gb"],
            )
        )
    if check_totals:
        over = check_opd_totals(usages, policy)
        for result in results:
            result.problems += over.get(result.path.stem, [])
    return results


APPROVALS_SUFFIX = ".approvals"


def approval_history_problems(repo: Path, requests_dir: Path, since: str) -> list[FileResult]:
    """Every file under ``requests/<id>.approvals/`` that the base (the merge base of
    ``since`` and HEAD) holds and this change deletes or alters: statements and signatures
    are evidence, so the folder only grows. Renaming the folder deletes its files."""
    relative = requests_dir.resolve().relative_to(repo.resolve())
    depth = len(relative.parts)
    results = []
    for change in git.changes_since(repo, since, relative.as_posix()):
        parts = Path(change.path).parts
        if len(parts) <= depth + 1 or not parts[depth].endswith(APPROVALS_SUFFIX):
            continue
        if change.status == "D":
            rule = "approval-removed"
            what = "dihapus"
        elif change.status in ("M", "T"):
            rule = "approval-modified"
            what = "diubah"
        else:
            continue
        results.append(
            FileResult(
                repo / change.path,
                [
                    Problem(
                        "",
                        rule,
                        f"berkas persetujuan yang sudah ada di cabang dasar {what}; pernyataan "
                        "dan tanda tangannya adalah bukti, folder .approvals hanya boleh "
                        "ditambah. Kembalikan berkas ini; untuk menarik persetujuan, "
                        "tandatangani pernyataan baru dengan keputusan 'reject'",
                    )
                ],
            )
        )
    return results
