"""The statement an official signs for one SOP step, as canonical JSON.

Canonical form (what is signed, and what the ``.json`` file holds, byte for byte): a JSON
object with every field below present, keys sorted, no whitespace outside strings
(separators ``,`` and ``:``), UTF-8 without escaping non-ASCII, no floats, no trailing newline.
:func:`parse` refuses any file that is not exactly the canonical encoding of a valid statement,
so one statement has one byte string and one hash (sha256 of those bytes).

Fields: ``format``; ``request_id``, ``request_sha256`` (sha256 of the request file's exact
bytes), ``attachments`` (path relative to ``requests/`` -> sha256); ``step``, ``role``,
``decision``, ``missing`` (step 4 ``incomplete`` only), ``reason`` (required for ``reject``
and ``incomplete``); ``signer`` (the principal, checked against the keyring), ``signed_at``,
``expires_at``, ``nonce``; ``builds_on`` (step key -> sha256 of the statements this one
saw, see :data:`CHAIN`); ``evidence`` (name -> sha256 of reports the signer saw, e.g. the
analysis report at step 6); ``record_head`` (the head hash of the request's record,
``records/<id>.jsonl``, when the statement was signed: ``sop sign`` fills it, so the history
before each signature is signed by a person too; optional so that statements signed before it
existed still read, and left out of the canonical form when empty).

Optional field (present only when not empty, so a statement without it keeps its bytes and
hash): ``override``, the reason Tim Teknis approves step 6 although the cited analysis says
BELUM DAPAT DILAKSANAKAN; the Kabid's step-7 ``approve`` must carry the same text
(``gates.OverrideConfirmed``). Same character rules as ``reason``, and visible text.
``change_class``, on the Kabid's step-7 ``approve`` of a change (``kind: ubah``): the class
the analysis found in the Terraform plan, ``reboot`` or ``replace``, which the Kabid accepts
by naming it (``gates.ChangeClassConfirmed``, docs/changes.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sop_pipeline.domain.sop import DECISION_STEP, VERIFICATION_STEP, Role, step
from sop_pipeline.domain.text import has_visible, hidden_chars, shown
from sop_pipeline.signing.errors import StatementInvalid

FORMAT = "sop-hosting-statement/v1"
NAMESPACE_DOMAIN = "diskominfotik.sumbarprov.go.id"
SIGNED_STEPS: tuple[int, ...] = (2, 3, 4, 6, 7, 10, 11, 12)
GATE_STEPS: tuple[int, ...] = (VERIFICATION_STEP, DECISION_STEP)
#: The statements each step's statement names (by hash) in ``builds_on``.
CHAIN: Mapping[int, tuple[int, ...]] = {
    2: (),
    3: (2,),
    4: (3,),
    6: (4,),
    7: (4, 6),
    10: (7,),
    11: (10,),
    12: (11,),
}
#: Decisions allowed per step. Step 6 is the analysis' recommendation (feasible or not).
DECISIONS: Mapping[int, frozenset[str]] = {
    2: frozenset({"approve"}),
    3: frozenset({"approve"}),
    4: frozenset({"complete", "incomplete"}),
    6: frozenset({"approve", "reject"}),
    7: frozenset({"approve", "reject"}),
    10: frozenset({"approve"}),
    11: frozenset({"approve"}),
    12: frozenset({"approve"}),
}
POSITIVE = frozenset({"approve", "complete"})
NEGATIVE = frozenset({"reject", "incomplete"})
MAX_BYTES = 64 * 1024
MAX_NAME = 256  # a principal, an evidence or attachment name
_HEX64 = re.compile(r"[0-9a-f]{64}\Z")
_NONCE = re.compile(r"[0-9a-f]{32,64}\Z")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\Z")
_REQUEST_ID = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_FIELDS = frozenset(
    {
        "format",
        "request_id",
        "request_sha256",
        "attachments",
        "step",
        "role",
        "decision",
        "missing",
        "reason",
        "signer",
        "signed_at",
        "expires_at",
        "nonce",
        "builds_on",
        "evidence",
    }
)
#: Fields a statement carries only when they are not empty (added without a new format).
_OPTIONAL = frozenset({"record_head", "override", "change_class"})
#: What a step-7 ``change_class`` may name: the classes that stop or replace the VM.
CHANGE_CLASSES = frozenset({"reboot", "replace"})
#: Steps whose ``approve`` may carry an ``override``: Tim Teknis names it, the Kabid confirms.
OVERRIDE_STEPS: tuple[int, ...] = (6, DECISION_STEP)


def namespace(step_number: int) -> str:
    """The SSHSIG namespace of one step: ``sop-hosting-step-04@diskominfotik.sumbarprov.go.id``."""
    return f"sop-hosting-step-{step_number:02d}@{NAMESPACE_DOMAIN}"


#: The namespace of the pipeline's signed checkpoints of the records (``signing.checkpoint``);
#: only principals of the keyring's ``pipeline`` role may hold it, and they hold nothing else.
CHECKPOINT_NAMESPACE = f"sop-records-checkpoint@{NAMESPACE_DOMAIN}"


def step_key(step_number: int) -> str:
    return f"step-{step_number:02d}"


def format_time(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("statement times must carry a time zone")
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def canonical(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class Statement:
    """One signed step. Build with :func:`new`; read with :func:`parse`."""

    request_id: str
    request_sha256: str
    attachments: Mapping[str, str]
    step: int
    role: str
    decision: str
    reason: str
    signer: str
    signed_at: str
    expires_at: str
    nonce: str
    missing: tuple[str, ...] = ()
    builds_on: Mapping[str, str] = field(default_factory=dict)
    evidence: Mapping[str, str] = field(default_factory=dict)
    format: str = FORMAT
    record_head: str = ""
    override: str = ""
    change_class: str = ""

    def to_json(self) -> dict[str, Any]:
        optional = {
            k: v
            for k, v in (
                ("record_head", self.record_head),
                ("override", self.override),
                ("change_class", self.change_class),
            )
            if v
        }
        return optional | {
            "format": self.format,
            "request_id": self.request_id,
            "request_sha256": self.request_sha256,
            "attachments": dict(self.attachments),
            "step": self.step,
            "role": self.role,
            "decision": self.decision,
            "missing": list(self.missing),
            "reason": self.reason,
            "signer": self.signer,
            "signed_at": self.signed_at,
            "expires_at": self.expires_at,
            "nonce": self.nonce,
            "builds_on": dict(self.builds_on),
            "evidence": dict(self.evidence),
        }

    def to_bytes(self) -> bytes:
        return canonical(self.to_json())

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @property
    def namespace(self) -> str:
        return namespace(self.step)

    @property
    def positive(self) -> bool:
        return self.decision in POSITIVE

    @property
    def signed_time(self) -> datetime:
        return parse_time(self.signed_at)

    @property
    def expiry(self) -> datetime:
        return parse_time(self.expires_at)


def new(
    *,
    request_id: str,
    request_sha256: str,
    attachments: Mapping[str, str],
    step_number: int,
    decision: str,
    signer: str,
    signed_at: datetime,
    expires_at: datetime,
    reason: str = "",
    missing: tuple[str, ...] = (),
    builds_on: Mapping[str, str] | None = None,
    evidence: Mapping[str, str] | None = None,
    nonce: str | None = None,
    record_head: str = "",
    override: str = "",
    change_class: str = "",
) -> Statement:
    """A checked statement; the role is the SOP actor of the step."""
    if step_number not in SIGNED_STEPS:
        raise StatementInvalid(f"langkah {step_number} tidak ditandatangani [unsigned-step]")
    statement = Statement(
        request_id=request_id,
        request_sha256=request_sha256,
        attachments=dict(attachments),
        step=step_number,
        role=str(step(step_number).actor),
        decision=decision,
        reason=reason,
        signer=signer,
        signed_at=format_time(signed_at),
        expires_at=format_time(expires_at),
        nonce=nonce or secrets.token_hex(16),
        missing=tuple(missing),
        builds_on=dict(builds_on or {}),
        evidence=dict(evidence or {}),
        record_head=record_head,
        override=override,
        change_class=change_class,
    )
    problems = check(statement)
    if problems:
        raise StatementInvalid("; ".join(problems))
    return statement


def _texts(s: Statement) -> list[tuple[str, str]]:
    """Every text of the statement (names in its maps included), with its field name."""
    texts = [(name, value) for name, value in s.to_json().items() if isinstance(value, str)]
    texts += [(f"missing[{i}]", item) for i, item in enumerate(s.missing)]
    for label, mapping in (
        ("attachments", s.attachments),
        ("evidence", s.evidence),
        ("builds_on", s.builds_on),
    ):
        for name, value in mapping.items():
            texts += [(label, name), (f"{label}.{shown(name, 40)}", value)]
    return texts


def text_problems(s: Statement) -> list[str]:
    """The request files' character rules (``domain.text``), applied to every text field:
    no control, bidi or invisible characters; one message per field, rule id in brackets."""
    problems: list[str] = []
    for label, value in _texts(s):
        hidden = list(hidden_chars(value))
        if hidden:
            first = hidden[0]
            more = f" (dan {len(hidden) - 1} lainnya)" if len(hidden) > 1 else ""
            problems.append(
                f"{label}: karakter tersembunyi {first.name} pada posisi {first.index}{more} "
                f"tidak diizinkan; hapus karakter ini [{first.rule}]"
            )
    return problems


def _valid_time(text: str) -> bool:
    if not _TIME.match(text):
        return False
    try:
        parse_time(text)
    except ValueError:  # 2026-13-45T99:99:99Z has the shape but is no time
        return False
    return True


def check(s: Statement) -> list[str]:
    """Every rule the statement breaks (Indonesian, rule id in brackets); empty if none."""
    problems = text_problems(s)
    if s.format != FORMAT:
        problems.append(f"format '{shown(s.format)}' tidak dikenal [format]")
    if not _REQUEST_ID.match(s.request_id):
        problems.append("request_id bukan label DNS huruf kecil [request-id]")
    if not _HEX64.match(s.request_sha256):
        problems.append("request_sha256 bukan sha256 heksadesimal [digest]")
    for name, digest in s.attachments.items():
        if not has_visible(name) or len(name) > MAX_NAME or not _HEX64.match(digest):
            problems.append(f"lampiran '{shown(name)}' tanpa sha256 yang sah [digest]")
    if s.step not in SIGNED_STEPS:
        problems.append(f"langkah {s.step} tidak ditandatangani [unsigned-step]")
        return problems
    if s.role != str(step(s.step).actor):
        problems.append(
            f"peran '{shown(s.role)}' bukan pelaksana langkah {s.step} "
            f"({step(s.step).actor}) [wrong-role]"
        )
    if s.decision not in DECISIONS[s.step]:
        allowed = ", ".join(sorted(DECISIONS[s.step]))
        problems.append(
            f"keputusan '{shown(s.decision)}' tidak berlaku di langkah {s.step} "
            f"(yang berlaku: {allowed}) [decision]"
        )
    if s.decision in NEGATIVE and not has_visible(s.reason):
        problems.append(
            "alasan wajib diisi dengan teks yang terlihat untuk penolakan atau "
            "pengembalian [reason-required]"
        )
    if s.override and (s.step not in OVERRIDE_STEPS or s.decision != "approve"):
        problems.append("override hanya untuk persetujuan (approve) langkah 6 dan 7 [override]")
    if s.override and not has_visible(s.override):
        problems.append("override harus berisi teks yang terlihat [override]")
    if s.change_class and (s.step != DECISION_STEP or s.decision != "approve"):
        problems.append("change_class hanya untuk persetujuan (approve) langkah 7 [change-class]")
    if s.change_class and s.change_class not in CHANGE_CLASSES:
        problems.append(
            f"change_class '{shown(s.change_class)}' harus reboot atau replace [change-class]"
        )
    if s.decision == "incomplete" and not s.missing:
        problems.append("daftar kekurangan wajib diisi bila tidak lengkap [missing-required]")
    if any(not has_visible(item) for item in s.missing):
        problems.append(
            "daftar kekurangan memuat butir tanpa teks yang terlihat [missing-required]"
        )
    if s.decision != "incomplete" and s.missing:
        problems.append("daftar kekurangan hanya untuk keputusan 'incomplete' [missing]")
    if (
        not s.signer
        or len(s.signer) > MAX_NAME
        or any(c in ' ,*?!"' or c.isspace() for c in s.signer)
        or not has_visible(s.signer)
    ):
        problems.append("signer harus satu principal tanpa pola [signer]")
    times_ok = True
    for label, value in (("signed_at", s.signed_at), ("expires_at", s.expires_at)):
        if not _valid_time(value):
            times_ok = False
            problems.append(f"{label} harus berbentuk YYYY-MM-DDTHH:MM:SSZ [time]")
    if times_ok and s.expiry <= s.signed_time:
        problems.append("expires_at harus setelah signed_at [time]")
    if not _NONCE.match(s.nonce):
        problems.append("nonce harus 32-64 digit heksadesimal [nonce]")
    expected = {step_key(n) for n in CHAIN[s.step]}
    if set(s.builds_on) != expected:
        problems.append(f"builds_on harus menyebut tepat {sorted(expected)} [chain]")
    if any(not _HEX64.match(h) for h in s.builds_on.values()):
        problems.append("builds_on berisi hash yang tidak sah [chain]")
    if any(
        not has_visible(name) or len(name) > MAX_NAME or not _HEX64.match(h)
        for name, h in s.evidence.items()
    ):
        problems.append("evidence berisi hash yang tidak sah [evidence]")
    if s.record_head and not _HEX64.match(s.record_head):
        problems.append("record_head bukan sha256 heksadesimal [record-head]")
    return problems


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise StatementInvalid(f"kunci '{shown(key)}' muncul dua kali [duplicate-key]")
        result[key] = value
    return result


def _refuse_number(text: str) -> Any:
    raise StatementInvalid(f"bilangan '{shown(text)}' tidak diizinkan dalam pernyataan [number]")


def _str_map(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise StatementInvalid(f"'{name}' harus objek berisi teks [type]")
    return value


def parse(data: bytes) -> Statement:
    """The statement in ``data``; StatementInvalid unless it is canonical and valid."""
    if len(data) > MAX_BYTES:
        raise StatementInvalid("pernyataan terlalu besar [size]")
    try:
        text = data.decode("utf-8")
        raw = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_float=_refuse_number,
            parse_constant=_refuse_number,
        )
    except (UnicodeDecodeError, ValueError) as err:
        raise StatementInvalid(
            f"bukan JSON UTF-8 yang sah ({shown(str(err), 120)}) [json]"
        ) from err
    except RecursionError as err:  # [[[[... nested deeper than Python's stack
        raise StatementInvalid("JSON bersarang terlalu dalam [json]") from err
    if not isinstance(raw, dict) or not _FIELDS <= set(raw) <= _FIELDS | _OPTIONAL:
        raise StatementInvalid(f"pernyataan harus memuat tepat kolom {sorted(_FIELDS)} [fields]")
    strings = (set(raw) & (_FIELDS | _OPTIONAL)) - {
        "attachments",
        "step",
        "missing",
        "builds_on",
        "evidence",
    }
    if any(not isinstance(raw[k], str) for k in strings):
        raise StatementInvalid("kolom teks berisi nilai bukan teks [type]")
    if not isinstance(raw["step"], int) or isinstance(raw["step"], bool):
        raise StatementInvalid("'step' harus bilangan bulat [type]")
    missing = raw["missing"]
    if not isinstance(missing, list) or not all(isinstance(m, str) for m in missing):
        raise StatementInvalid("'missing' harus daftar teks [type]")
    statement = Statement(
        format=raw["format"],
        request_id=raw["request_id"],
        request_sha256=raw["request_sha256"],
        attachments=_str_map(raw["attachments"], "attachments"),
        step=raw["step"],
        role=raw["role"],
        decision=raw["decision"],
        reason=raw["reason"],
        signer=raw["signer"],
        signed_at=raw["signed_at"],
        expires_at=raw["expires_at"],
        nonce=raw["nonce"],
        missing=tuple(missing),
        builds_on=_str_map(raw["builds_on"], "builds_on"),
        evidence=_str_map(raw["evidence"], "evidence"),
        record_head=raw.get("record_head", ""),
        override=raw.get("override", ""),
        change_class=raw.get("change_class", ""),
    )
    for name in ("override", "change_class"):  # present only when not empty: one encoding
        if name in raw and not raw[name]:
            raise StatementInvalid(f"'{name}' kosong tidak ditulis [not-canonical]")
    if text_problems(statement):  # first: a lone surrogate cannot even be re-encoded
        raise StatementInvalid("; ".join(check(statement)))  # every rule it breaks, at once
    try:
        canonical_bytes = statement.to_bytes()
    except UnicodeEncodeError as err:  # pragma: no cover - refused as a hidden character above
        raise StatementInvalid("teks tidak dapat dikodekan sebagai UTF-8 [json]") from err
    if canonical_bytes != data:
        raise StatementInvalid(
            "berkas bukan bentuk JSON kanonis (kunci urut, tanpa spasi) [not-canonical]"
        )
    problems = check(statement)
    if problems:
        raise StatementInvalid("; ".join(problems))
    return statement


def role_of(step_number: int) -> Role:
    return step(step_number).actor
