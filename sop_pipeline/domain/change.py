"""A change of a live hosting (``kind: ubah``, ``perpanjang``, ``pensiun``), pure.

A change is the same file, ``requests/<id>.yaml``, edited by merge request (docs/changes.md).
What it changes is read against the **last applied record**, the request's facts that step 8
recorded when it built or changed the hosting (``data["applied"]`` of the step-8 record, the
shape of :meth:`Request.as_data`), never against the previous file: a file edited twice
before anything was applied is still one change from what runs.

No I/O: the caller reads the ledger and passes the applied facts in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from sop_pipeline.domain.placement import Demand
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.request import Period, Request
from sop_pipeline.domain.rules import Problem

#: Kinds that change a hosting step 8 already built.
CHANGE_KINDS = frozenset({"ubah", "perpanjang", "pensiun"})
#: Fields that say what the file is, not what the hosting is: never a change of their own.
NOT_A_CHANGE = frozenset({"kind", "schema_version"})
#: What a renewal may change besides ``period.end``: a renewal has its own letter.
RENEWAL_MAY_CHANGE = frozenset({"period.end", "letter.number", "letter.date", "letter.sha256"})
#: Where a renewed period is counted from (``change.renewal_counts_from`` in policy.yaml).
RenewalBase = Literal["old_end", "approval"]


@dataclass(frozen=True)
class FieldChange:
    """One field of the request, as last applied and as the file asks now."""

    field: str  # dotted path, e.g. resources.memory_mb
    before: Any
    after: Any


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``, in the mapping's order."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def diff(applied: Mapping[str, Any], request: Request) -> tuple[FieldChange, ...]:
    """Field by field, what ``request`` changes of the ``applied`` facts, in the file's order
    (a field the applied facts lack, or the file lacks, counts as changed from or to None)."""
    before = flatten(applied)
    after = flatten(request.as_data())
    names = list(after) + [name for name in before if name not in after]
    return tuple(
        FieldChange(name, before.get(name), after.get(name))
        for name in names
        if name not in NOT_A_CHANGE and before.get(name) != after.get(name)
    )


def change_problems(
    applied: Mapping[str, Any] | None,
    applied_digest: str,
    request: Request,
    *,
    policy: Policy | None = None,
    today: date | None = None,
) -> list[Problem]:
    """What is wrong with ``request`` as a change of the hosting ``applied`` describes.

    ``applied`` is None when nothing was built for the request yet. A file with the digest
    step 8 applied is the hosting as it runs: nothing to check. Rules: ``kind-not-live`` (a
    change of nothing), ``kind-live`` (a new request for a hosting that runs), ``disk-shrink``,
    ``change-period`` (an ``ubah`` that moves the period: that is a renewal), ``renewal-only``
    (a ``perpanjang`` that changes more than the period and its letter); with ``policy`` and
    ``today`` (the approval is at the earliest today), a renewal's period
    (:func:`renewed_period`)."""
    if applied is None:
        if request.kind in CHANGE_KINDS:
            return [
                Problem(
                    "kind",
                    "kind-not-live",
                    f"kind '{request.kind}' hanya untuk hosting yang sudah berjalan; belum ada "
                    "hosting yang diterapkan untuk permintaan ini. Hapus kolom kind (atau tulis "
                    "kind: baru)",
                )
            ]
        return []
    if request.digest == applied_digest:
        return []
    problems: list[Problem] = []
    if request.kind == "baru":
        problems.append(
            Problem(
                "kind",
                "kind-live",
                "hosting ini sudah berjalan: perubahan harus menyebut jenisnya, kind: ubah, "
                "perpanjang atau pensiun",
            )
        )
    problems += shrink_problems(applied, request)
    if (
        request.kind in CHANGE_KINDS
        and request.letter.sha256 == str(applied.get("letter", {}).get("sha256", "")).lower()
    ):
        problems.append(
            Problem(
                "letter.sha256",
                "change-letter",
                "perubahan diajukan dengan surat permintaan baru (SOP langkah 1): surat ini "
                "sama dengan surat hosting yang berjalan; lampirkan surat baru dan tulis "
                "sha256-nya",
            )
        )
    changed = {c.field for c in diff(applied, request)}
    if request.kind == "ubah" and changed & {"period.start", "period.end"}:
        problems.append(
            Problem(
                "period.end",
                "change-period",
                "perubahan (kind: ubah) tidak mengubah masa hosting; ajukan perpanjangan "
                "(kind: perpanjang) tersendiri",
            )
        )
    if request.kind == "perpanjang":
        others = sorted(changed - RENEWAL_MAY_CHANGE)
        if others:
            problems.append(
                Problem(
                    others[0],
                    "renewal-only",
                    "perpanjangan (kind: perpanjang) hanya mengubah period.end dan surat; "
                    f"kolom lain berubah: {', '.join(others)}. Ajukan perubahan (kind: ubah) "
                    "tersendiri",
                )
            )
        old = applied.get("period") or {}
        if policy is not None and today is not None and "end" in old:
            _, renewal = renewed_period(
                Period(date.fromisoformat(old["start"]), date.fromisoformat(old["end"])),
                request.period.end,
                counts_from="approval" if policy.renewal_counts_from == "approval" else "old_end",
                approved_on=today,
                max_period_days=policy.max_period_days,
            )
            problems += renewal
    return problems


def growth(applied: Mapping[str, Any], request: Request) -> Demand:
    """What a change adds to its running VM (never below zero: a smaller memory or vCPU frees
    nothing until applied): what the quota and the node's room must still hold."""
    old = applied.get("resources") or {}
    new = request.resources
    return Demand(
        request.request_id,
        request.opd.code,
        max(0, new.vcpu - int(old.get("vcpu", 0))),
        max(0, new.memory_mb - int(old.get("memory_mb", 0))),
        max(0, new.disk_gb - int(old.get("disk_gb", 0))),
    )


def shrink_problems(applied: Mapping[str, Any], request: Request) -> Iterator[Problem]:
    """A disk never shrinks: Proxmox cannot make a disk smaller (bpg #1351); rule disk-shrink."""
    before = int(applied.get("resources", {}).get("disk_gb", 0))
    after = request.resources.disk_gb
    if after < before:
        yield Problem(
            "resources.disk_gb",
            "disk-shrink",
            f"disk tidak dapat diperkecil: yang berjalan {before} GiB, diminta {after} GiB. "
            f"Tulis disk_gb {before} atau lebih; untuk disk lebih kecil, ajukan hosting baru "
            "dan pindahkan datanya",
        )


def renewed_period(
    old: Period,
    requested_end: date,
    *,
    counts_from: RenewalBase,
    approved_on: date,
    max_period_days: int,
) -> tuple[Period | None, list[Problem]]:
    """The period a renewal gives, or why it can't be given.

    The new period starts the day after the old end (``old_end``) or on the day of the
    Kabid's approval (``approval``), as policy says; it must end after the old end and last
    at most ``max_period_days`` from that start. Rules: ``renewal-not-later``,
    ``renewal-length``."""
    start = old.end + timedelta(days=1) if counts_from == "old_end" else approved_on
    if requested_end <= old.end:
        return None, [
            Problem(
                "period.end",
                "renewal-not-later",
                f"tanggal akhir baru {requested_end.isoformat()} harus sesudah tanggal akhir "
                f"yang berjalan ({old.end.isoformat()})",
            )
        ]
    if (requested_end - start).days > max_period_days:
        base = "hari sesudah akhir masa lama" if counts_from == "old_end" else "tanggal persetujuan"
        return None, [
            Problem(
                "period.end",
                "renewal-length",
                f"perpanjangan lebih dari {max_period_days} hari, dihitung dari {base} "
                f"({start.isoformat()})",
            )
        ]
    return Period(start=start, end=requested_end), []
