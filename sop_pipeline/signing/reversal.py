"""The Koordinator's signed reversal of a soft retirement (docs/expiry.md).

A statement of its own kind, beside the step statements but never one of them: its own
format and SSHSIG namespace (``sop-hosting-expiry-reversal@...``, which only a Koordinator's
``allowed_signers`` line may list), bound to the request file's exact bytes and to the hash
of the ledger record of the soft retirement it reverses (so it reverses that one only, once).

Files: ``requests/<id>.approvals/reversal-koordinator[-N].json`` and ``.json.sig``
(:func:`sop_pipeline.signing.approvals.statement_files` leaves ``reversal-*`` to this module).
Refusal rules, each its own id: ``[reversal-invalid]`` (not canonical, bad fields),
``[reversal-signature]`` (SSHSIG refused by the keyring, native and ssh-keygen),
``[reversal-wrong-role]`` (the signer is no Koordinator), ``[reversal-request-changed]``
(other bytes), ``[reversal-other-retirement]``, ``[reversal-expired]``, ``[reversal-used]``.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sop_pipeline.domain.sop import Role
from sop_pipeline.domain.text import hidden_chars
from sop_pipeline.safefile import read_regular, write_new
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.signing.sshsig import SshKeygen, parse_armored, principals_for_key, verify_native
from sop_pipeline.signing.statement import NAMESPACE_DOMAIN, canonical, format_time, parse_time

FORMAT = "sop-hosting-expiry-reversal/v1"
NAMESPACE = f"sop-hosting-expiry-reversal@{NAMESPACE_DOMAIN}"
ROLE = Role.KOORDINATOR
PREFIX = "reversal-"
FILE_NAME = re.compile(r"reversal-koordinator(?:-[2-9]|-[1-9]\d)?\.json\Z")
_FIELDS = (
    "format", "request_id", "request_sha256", "retirement", "role", "decision", "reason",
    "signer", "signed_at", "expires_at", "nonce",
)  # fmt: skip
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
MAX_BYTES = 16 * 1024


@dataclass(frozen=True)
class Reversal:
    request_id: str
    request_sha256: str
    retirement: str  # hash of the soft-retired ledger record
    reason: str
    signer: str
    signed_at: str
    expires_at: str
    nonce: str
    role: str = str(ROLE)
    decision: str = "reverse"
    format: str = FORMAT

    def to_bytes(self) -> bytes:
        return canonical({k: getattr(self, k) for k in _FIELDS})

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()


class ReversalRefused(Exception):
    """One reason a reversal statement does not hold; ``rule`` is its id."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{message} [{rule}]")
        self.rule = rule


def parse(data: bytes) -> Reversal:
    if len(data) > MAX_BYTES:
        raise ReversalRefused("reversal-invalid", "pernyataan pembatalan terlalu besar")
    try:
        raw: Any = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise ReversalRefused("reversal-invalid", "bukan JSON UTF-8 yang sah") from err
    if not isinstance(raw, dict) or set(raw) != set(_FIELDS):
        raise ReversalRefused("reversal-invalid", f"harus memuat tepat kolom {list(_FIELDS)}")
    if not all(isinstance(raw[k], str) for k in _FIELDS):
        raise ReversalRefused("reversal-invalid", "setiap kolom harus teks")
    r = Reversal(**{k: raw[k] for k in _FIELDS})
    if r.to_bytes() != data:
        raise ReversalRefused("reversal-invalid", "bukan bentuk JSON kanonis")
    if r.format != FORMAT or r.decision != "reverse":
        raise ReversalRefused("reversal-invalid", "format atau keputusan tidak dikenal")
    if r.role != str(ROLE):
        raise ReversalRefused(
            "reversal-wrong-role", f"peran '{r.role}': hanya Koordinator yang dapat membatalkan"
        )
    if not (_HEX64.match(r.request_sha256) and _HEX64.match(r.retirement)):
        raise ReversalRefused("reversal-invalid", "request_sha256/retirement bukan sha256")
    if any(True for value in (r.reason, r.signer) for _ in hidden_chars(value)):
        raise ReversalRefused("reversal-invalid", "karakter tersembunyi tidak diizinkan")
    try:
        if parse_time(r.expires_at) <= parse_time(r.signed_at):
            raise ReversalRefused("reversal-invalid", "expires_at harus setelah signed_at")
    except ValueError as err:
        raise ReversalRefused("reversal-invalid", "waktu harus YYYY-MM-DDTHH:MM:SSZ") from err
    return r


def new(
    *,
    request_id: str,
    request_sha256: str,
    retirement: str,
    signer: str,
    reason: str,
    at: datetime,
    valid: timedelta = timedelta(days=14),
) -> Reversal:
    return Reversal(
        request_id=request_id,
        request_sha256=request_sha256,
        retirement=retirement,
        reason=reason,
        signer=signer,
        signed_at=format_time(at),
        expires_at=format_time(at + valid),
        nonce=secrets.token_hex(16),
    )


def write(approvals: Path, reversal: Reversal, signature: bytes) -> Path:
    approvals.mkdir(parents=True, exist_ok=True)
    index, path = 1, approvals / "reversal-koordinator.json"
    while path.exists() or path.is_symlink():
        index += 1
        path = approvals / f"reversal-koordinator-{index}.json"
    write_new(path, reversal.to_bytes(), within=approvals.parent)
    write_new(path.with_name(path.name + ".sig"), signature, within=approvals.parent)
    return path


def sign(reversal: Reversal, key: Path, ssh_keygen: SshKeygen | None = None) -> bytes:
    return (ssh_keygen or SshKeygen()).sign(reversal.to_bytes(), key=key, namespace=NAMESPACE)


@dataclass(frozen=True)
class CheckedReversal:
    path: Path
    reversal: Reversal | None
    problems: tuple[str, ...]
    rules: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.reversal is not None and not self.problems


def check(
    path: Path,
    *,
    keyring: Keyring,
    request_id: str,
    request_sha256: str,
    retirement: str,
    used: frozenset[str],
    at: datetime,
) -> CheckedReversal:
    """Every rule, natively and with ``ssh-keygen -Y verify`` (both must accept)."""
    problems: list[ReversalRefused] = []
    within = path.parent.parent
    try:
        data = read_regular(path, limit=MAX_BYTES, within=within)
        sig = read_regular(path.with_name(path.name + ".sig"), limit=MAX_BYTES, within=within)
        r = parse(data)
    except ReversalRefused as err:
        return CheckedReversal(path, None, (str(err),), (err.rule,))
    except (OSError, ValueError) as err:
        refused = ReversalRefused("reversal-invalid", f"{path.name}: tidak terbaca ({err})")
        return CheckedReversal(path, None, (str(refused),), (refused.rule,))
    if r.request_id != request_id or r.request_sha256 != request_sha256:
        problems.append(
            ReversalRefused(
                "reversal-request-changed",
                "pernyataan untuk bita berkas permintaan lain; berkas berubah atau permintaan lain",
            )
        )
    if r.retirement != retirement:
        problems.append(
            ReversalRefused("reversal-other-retirement", "pernyataan untuk pensiun lunak lain")
        )
    if r.sha256 in used:
        problems.append(ReversalRefused("reversal-used", "pernyataan ini sudah dipakai"))
    if at > parse_time(r.expires_at) or parse_time(r.signed_at) > at + timedelta(minutes=5):
        problems.append(ReversalRefused("reversal-expired", "di luar masa berlaku pernyataan"))
    native = verify_native(
        data,
        sig,
        principal=r.signer,
        namespace=NAMESPACE,
        signers=keyring.signers,
        revoked=keyring.revoked_blobs,
        at=at,
    )
    with keyring.files() as (signers, revoked):
        keygen = SshKeygen().verify(
            data,
            sig,
            principal=r.signer,
            namespace=NAMESPACE,
            allowed_signers=signers,
            revoked=revoked,
            at=at,
        )
    if not (native.ok and keygen.ok):
        problems.append(
            ReversalRefused("reversal-signature", f"tanda tangan ditolak: {native.message}")
        )
    else:
        derived = principals_for_key(
            keyring.signers, parse_armored(sig).key, namespace=NAMESPACE, at=at
        )
        if r.signer not in derived:
            problems.append(ReversalRefused("reversal-signature", "kunci bukan milik signer"))
    if r.signer not in keyring.roles.get(ROLE, ()):
        problems.append(
            ReversalRefused(
                "reversal-wrong-role",
                f"{r.signer} tidak memegang peran koordinator di keyring cabang dasar",
            )
        )
    return CheckedReversal(
        path, r, tuple(str(p) for p in problems), tuple(p.rule for p in problems)
    )


def reversal_files(approvals: Path) -> list[Path]:
    if not approvals.is_dir():
        return []
    return sorted(p for p in approvals.iterdir() if FILE_NAME.match(p.name) and p.is_file())
