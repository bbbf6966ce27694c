"""Rules a request must meet beyond its JSON Schema: the department's policy, pure.

Each rule yields :class:`Problem` values; the loader adds the file name and line numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from sop_pipeline.domain.placement import Demand, Held, demand_of, quota_excess
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.request import Request

# ASCII letters, digits, hyphen; not starting or ending with a hyphen. Checked on the raw
# text before any IDNA mapping, so full-width or look-alike characters never become ASCII.
LDH_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: where, which rule, and what to do, in Indonesian."""

    field: str  # dotted path, "" for the whole file
    rule: str  # English rule name, stable for tests and tooling
    message: str
    line: int | None = None

    def located(self, line: int | None) -> Problem:
        return Problem(self.field, self.rule, self.message, self.line or line)


def check_label(value: str, field: str, what: str = "nama") -> Iterator[Problem]:
    """An ASCII LDH DNS label, no punycode."""
    if not value.isascii():
        yield Problem(
            field,
            "ascii-ldh",
            f"{what} '{value}' memuat huruf non-ASCII; hanya a-z, 0-9 dan tanda hubung yang boleh",
        )
    elif not LDH_LABEL.match(value):
        yield Problem(
            field,
            "ascii-ldh",
            f"{what} '{value}' bukan label DNS yang sah: huruf "
            "kecil a-z, angka 0-9 dan tanda hubung (tidak di awal/akhir), maks 63",
        )
    elif value[2:4] == "--":
        yield Problem(
            field,
            "ascii-ldh",
            f"{what} '{value}' memakai tanda '--' di posisi 3-4 (dicadangkan untuk IDNA/punycode)",
        )


def real_date(value: str) -> date | None:
    """A schema-valid ``YYYY-MM-DD`` as a date, or None for an impossible one (2026-02-30)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def date_problem(field: str, value: str) -> Problem:
    return Problem(field, "date", f"'{value}' bukan tanggal yang sah (TTTT-BB-HH)")


def check_request(request: Request, policy: Policy, *, today: date | None = None) -> list[Problem]:
    """Policy rules on a request that already passed its schema and has real dates.

    ``today`` is the validation clock's date, passed in; without it a letter's date is not
    compared with today (the domain never reads the clock)."""
    problems: list[Problem] = []
    hostname = request.hostname
    problems += check_label(hostname, "hostname")
    if hostname in policy.reserved_hostnames:
        problems.append(
            Problem(
                "hostname", "reserved-name", f"nama '{hostname}' dicadangkan oleh Diskominfotik"
            )
        )
    fqdn = f"{hostname}.{policy.zone}"
    if len(fqdn) > 253:
        problems.append(Problem("hostname", "fqdn-length", f"'{fqdn}' lebih dari 253 karakter"))

    resources = request.resources
    if resources.template not in policy.templates:
        problems.append(
            Problem(
                "resources.template",
                "allowed-template",
                f"templat '{resources.template}' tidak tersedia; pilih salah "
                f"satu: {', '.join(sorted(policy.templates))}",
            )
        )
    if request.application.stack not in policy.stacks:
        problems.append(
            Problem(
                "application.stack",
                "allowed-stack",
                f"stack '{request.application.stack}' tidak dilayani",
            )
        )
    if request.environment not in policy.environments:
        problems.append(
            Problem(
                "environment",
                "allowed-environment",
                f"lingkungan '{request.environment}' tidak dilayani",
            )
        )
    for name, size in policy.sizes.items():
        value = getattr(resources, name)
        if not size.minimum <= value <= size.maximum:
            problems.append(
                Problem(
                    f"resources.{name}",
                    "size-range",
                    f"{value} di luar batas yang diizinkan ({size.minimum}..{size.maximum})",
                )
            )
        elif value % size.multiple_of:
            problems.append(
                Problem(
                    f"resources.{name}",
                    "size-multiple",
                    f"{value} harus kelipatan {size.multiple_of}",
                )
            )
    code = request.opd.code
    if not policy.knows_opd(code):
        # A fresh code must never get a fresh default quota: that would be a way around it.
        known = ", ".join(sorted(policy.quotas)) or "-"
        problems.append(
            Problem(
                "opd.code",
                "unknown-opd",
                f"kode OPD '{code}' tidak terdaftar di inventories/quotas.yaml; "
                f"tulis kode OPD Anda yang terdaftar ({known}), atau minta Diskominfotik "
                "mendaftarkan OPD baru",
            )
        )
    if policy.knows_opd(code):  # this file alone, as if the OPD held nothing yet
        alone = demand_of(request)
        for excess in quota_excess(code, policy.quota_for(code), Held(), [alone]):
            if excess.field == "max_vms":
                continue  # one file is one VM; the count is the totals' check
            problems.append(
                Problem(
                    f"resources.{excess.field}",
                    "opd-quota",
                    f"{excess.total} melebihi kuota OPD {code} ({excess.limit})",
                )
            )

    dated = request.letter.date
    if today is not None and dated > today:
        problems.append(
            Problem(
                "letter.date",
                "letter-future",
                f"tanggal surat {dated.isoformat()} belum tiba (sesudah hari ini); "
                "tulis tanggal yang tercetak pada surat yang sudah ditandatangani",
            )
        )
    start, end = request.period.start, request.period.end
    if end <= start:
        problems.append(
            Problem("period.end", "period-order", "tanggal akhir harus sesudah tanggal mulai")
        )
    elif (end - start).days > policy.max_period_days and request.kind != "perpanjang":
        # a renewal's length counts from the old end or the approval (domain.change)
        problems.append(
            Problem(
                "period.end",
                "period-length",
                f"masa hosting lebih dari {policy.max_period_days} hari",
            )
        )
    if not request.letter.file.startswith(f"{request.request_id}/"):
        problems.append(
            Problem(
                "letter.file",
                "attachment-folder",
                f"berkas surat harus berada di folder '{request.request_id}/'",
            )
        )
    return problems


def check_opd_totals(demands: Iterable[Demand], policy: Policy) -> dict[str, list[Problem]]:
    """Per-OPD totals over all requests against the quota; problems keyed by request id."""
    by_opd: dict[str, list[Demand]] = {}
    for demand in demands:
        by_opd.setdefault(demand.opd_code, []).append(demand)
    found: dict[str, list[Problem]] = {}
    for opd, items in by_opd.items():
        if not policy.knows_opd(opd):
            continue  # each file is already refused [unknown-opd]
        for excess in quota_excess(opd, policy.quota_for(opd), Held(), items):
            ids = ", ".join(excess.request_ids)
            for demand in items:
                found.setdefault(demand.request_id, []).append(
                    Problem(
                        "resources" if excess.field != "max_vms" else "",
                        "opd-quota-total",
                        f"jumlah {excess.field} semua permintaan OPD {opd} ({ids}) = "
                        f"{excess.total}, melebihi kuota {excess.limit}",
                    )
                )
    return found
