"""Checking many request files at once: all of them, or only those changed since a commit.

Since a commit, the approvals folders are also checked to be append-only
(:func:`approval_history_problems`): a statement, once on the base branch, is evidence.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sop_pipeline.adapters import git
from sop_pipeline.domain.change import change_problems
from sop_pipeline.domain.placement import Demand, demand_of
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.rules import Problem, check_opd_totals
from sop_pipeline.ledger import LedgerStore
from sop_pipeline.ledger.chain import LedgerError, Record, verify_records
from sop_pipeline.ledger.tracking import Applied, last_applied
from sop_pipeline.loader import LoadedRequest, RequestInvalid, decode, load_request, parse_yaml
from sop_pipeline.safefile import lexists


@dataclass
class FileResult:
    path: Path
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def today_anywhere(now: datetime) -> date:
    """The latest calendar date anywhere on Earth (UTC+14) at ``now``: a letter dated after
    it is dated in the future wherever it was written."""
    return (now.astimezone(UTC) + timedelta(hours=14)).date()


def _is_request_entry(path: Path) -> bool:
    """``<id>.yaml``, ``<id>/`` (attachments) or ``<id>.approvals/``: nothing else belongs.

    A ``*.yaml`` entry counts as a request whatever it is (a link, a FIFO, a folder): the
    loader then refuses it as not a regular file, by name, without following or reading it.
    """
    if path.name.startswith("."):
        return False
    if path.suffix == ".yaml":
        return True
    return path.is_dir() and not path.is_symlink()


def request_files(requests_dir: Path) -> list[Path]:
    return sorted(requests_dir.glob("*.yaml"))


def entries_to_check(requests_dir: Path) -> list[Path]:
    """Every ``requests/*.yaml``, and every other entry there, which is refused [stray-file]:
    what `sop validate` checks, so that a ``x.yml`` is never silently skipped."""
    if not requests_dir.is_dir():
        return []
    return sorted(
        p for p in requests_dir.iterdir() if p.suffix == ".yaml" or not _is_request_entry(p)
    )


def stray_problem(path: Path) -> Problem:
    return Problem(
        "",
        "stray-file",
        f"'{path.name}' tidak dikenal di folder requests/: yang boleh hanya <id>.yaml "
        "(ekstensi .yaml, bukan .yml), folder lampiran <id>/ dan folder <id>.approvals/; "
        "ganti namanya atau hapus berkas ini",
    )


def changed_request_files(repo: Path, requests_dir: Path, since: str) -> list[Path]:
    """Request files changed since ``since``, and those whose attachments changed."""
    relative = requests_dir.resolve().relative_to(repo.resolve())
    wanted = set()
    for name in git.changed_paths(repo, since):
        parts = Path(name).parts
        if parts[: len(relative.parts)] != relative.parts or len(parts) <= len(relative.parts):
            continue
        first = parts[len(relative.parts)]
        if len(parts) == len(relative.parts) + 1:  # a request, or a stray file beside them
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
    today: date | None = None,
    peers: Iterable[Path] = (),
    applied: AppliedLookup | None = None,
) -> list[FileResult]:
    """Every file's problems; with ``check_totals``, per-OPD quota totals over the files given
    and the ``peers`` (so ``--since`` still refuses a file that takes its OPD over quota).

    Two files asking for the same hostname are both refused, naming each other; ``today``
    (the caller's clock) refuses letters dated in the future. ``peers`` are the other request
    files (not checked themselves, as with --since) whose hostnames are taken already.
    ``applied`` gives a request's last applied record: a file that changes a live hosting is
    checked as a change of it (``domain.change``: [disk-shrink], [kind-live], ...)."""
    results = []
    usages = []
    by_hostname: dict[str, list[FileResult]] = {}
    loaded: dict[Path, LoadedRequest] = {}
    for path in paths:
        if not _is_request_entry(path):
            results.append(FileResult(path, [stray_problem(path)]))
            continue
        try:
            request = load_request(
                path, policy=policy, check_attachments=check_attachments, today=today
            )
        except RequestInvalid as err:
            results.append(FileResult(path, err.problems))
            continue
        results.append(FileResult(path, _change_problems(request, applied, policy, today)))
        by_hostname.setdefault(request.request.hostname, []).append(results[-1])
        loaded[path] = request
        usages.append(_demand(request))
    checked = {r.path.resolve() for r in results}  # paths given may be relative
    taken: dict[str, list[str]] = {}
    peer_demands: list[Demand] = []  # with --since: the OPD totals still count every file
    for peer in peers:
        if peer.resolve() in checked or not _is_request_entry(peer):
            continue
        try:  # an invalid peer is its own file's problem, reported when it is checked
            other = load_request(peer, policy=policy, check_attachments=False)
        except RequestInvalid:
            continue
        taken.setdefault(other.request.hostname, []).append(peer.name)
        peer_demands.append(_demand(other))
    for hostname, same in by_hostname.items():
        if len(same) + len(taken.get(hostname, [])) > 1:
            for result in same:
                names = [r.path.name for r in same if r is not result]
                others = ", ".join(names + taken.get(hostname, []))
                result.problems.append(
                    Problem(
                        "hostname",
                        "duplicate-hostname",
                        f"nama '{hostname}' juga diminta oleh {others}; setiap permintaan "
                        "harus memakai nama yang berbeda",
                        _hostname_line(loaded[result.path]),
                    )
                )
    if check_totals:
        over = check_opd_totals(usages + peer_demands, policy)
        for result in results:
            result.problems += over.get(result.path.stem, [])
    return results


#: A request id -> its last applied record (None: step 8 never built it).
AppliedLookup = Callable[[str], Applied | None]


def _change_problems(
    request: LoadedRequest, applied: AppliedLookup | None, policy: Policy, today: date | None
) -> list[Problem]:
    if applied is None:
        return []
    last = applied(request.request_id)
    found = change_problems(
        last.facts if last else None,
        last.digest if last else "",
        request.request,
        policy=policy,
        today=today,
    )
    if not found:
        return []
    text, _ = decode(request.raw, len(request.raw))
    doc = parse_yaml(text)[0] if text is not None else None
    return [p.located(doc.line_of(p.field) if doc else None) for p in found]


def applied_in_store(store: LedgerStore) -> AppliedLookup:
    """The last applied records of a ``records/`` folder (the protected jobs' own, or a local
    one); a ledger that does not verify raises LedgerError (exit 5), never reads as empty."""

    def lookup(request_id: str) -> Applied | None:
        ledger = store.for_request(request_id)
        records = ledger.records()
        faults = verify_records(ledger.path, records)
        if faults:
            raise LedgerError(f"buku catatan tidak utuh: {faults[0]}")
        return last_applied(records)

    return lookup


def applied_at_commit(repo: Path, ref: str, *, limit: int = 64 * 1024 * 1024) -> AppliedLookup:
    """The last applied records as ``records/`` holds them at ``ref`` (the records branch,
    ``sop-records``, docs/ci.md): what a merge request cannot change."""
    commit = git.resolve(repo, ref)

    def lookup(request_id: str) -> Applied | None:
        path = f"records/{request_id}.jsonl"
        try:
            raw = git.read_blob(repo, commit, path, limit=limit)
        except FileNotFoundError:
            return None
        try:
            records = [Record(**json.loads(line)) for line in raw.split(b"\n") if line]
        except (ValueError, TypeError) as err:
            raise LedgerError(f"{path} di {ref}: baris bukan catatan yang sah ({err})") from err
        faults = verify_records(Path(path), records)
        if faults:
            raise LedgerError(f"{path} di {ref}: buku catatan tidak utuh: {faults[0]}")
        return last_applied(records)

    return lookup


def _demand(request: LoadedRequest) -> Demand:
    return demand_of(request.request)


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


def _hostname_line(request: LoadedRequest) -> int | None:
    text, _ = decode(request.raw, len(request.raw))
    doc = parse_yaml(text)[0] if text is not None else None
    return doc.line_of("hostname") if doc is not None else None
