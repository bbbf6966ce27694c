"""The one place YAML is parsed: strict, typed, and with every problem reported at once.

PyYAML alone keeps the last of two duplicate keys, expands aliases without limit and reads
``no``, ``on``, ``010``, ``22:22`` and dates as booleans, numbers and timestamps. This loader
refuses all of that. It composes the document with libyaml (fast, C) and then builds plain
Python values itself:

- plain scalars resolve by the YAML 1.2 core rules only: ``true``/``false``, ``null``/``~``,
  decimal integers without leading zeros; anything YAML 1.1 would read as another type
  (``yes``, ``off``, ``010``, ``1:30``, ``2026-01-02``, ``1e3``...) is refused: quote it;
- anchors, aliases, merge keys, explicit tags, duplicate keys and non-string keys are refused;
- exactly one document; a size cap; UTF-8 only; no control, bidi or invisible characters.

Requests then go through their JSON Schema (fast compiled check, then a full pass listing
every error when it fails) and the department's policy (``domain.rules``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema
import yaml

from sop_pipeline.domain import text as text_rules
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.rules import Problem, check_label, check_request
from sop_pipeline.errors import SopError
from sop_pipeline.safefile import TOO_LARGE, UnsafeFile, read_regular, sha256_regular

if TYPE_CHECKING:
    import jsonschema

try:  # libyaml: the C parser; the pure-Python one gives the same results, slower
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - libyaml is in every wheel we install
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

DEFAULT_MAX_BYTES = 64 * 1024
#: The signed letter (PDF) next to a request: generous for a scan, bounded for memory.
MAX_ATTACHMENT_BYTES = 32 * 1024 * 1024

_STR = "tag:yaml.org,2002:str"
# What YAML 1.2's core schema types as other than a string, in the only spellings we accept.
_INT = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
# Plain scalars that some YAML reader (1.1 or 1.2) types as a boolean, null, number, date or
# time: refused unquoted, so a value never changes meaning between tools. This covers every
# implicit type of PyYAML's 1.1 resolver plus 1.2 forms it lacks (leading-zero decimals, y/n).
_AMBIGUOUS = re.compile(
    r"(?:(?i:yes|no|on|off|true|false|y|n|null)|~"
    r"|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?"
    r"|0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|[-+]?\.(?i:inf)|\.(?i:nan)"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?"
    r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9].*)?|=|<<)\Z"
)
# The characters refused are shared with signed statements: one rule, one place.
_FORBIDDEN_CHARS = text_rules.FORBIDDEN


class RequestInvalid(SopError):
    """A file that the loader refuses, with every problem found in it."""

    exit_code = 2

    def __init__(self, path: Path, problems: list[Problem]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(self.diagnostics())

    def diagnostics(self) -> str:
        return "\n".join(format_problem(self.path, p) for p in self.problems)


def format_problem(path: Path | str, problem: Problem) -> str:
    """``file:line: field: message [rule]``: the file first, as every message here starts."""
    where = f"{path}:{problem.line}" if problem.line else f"{path}"
    subject = f" {problem.field}:" if problem.field else ""
    return f"{where}:{subject} {problem.message} [{problem.rule}]"


@dataclass
class Document:
    """Parsed YAML with the line (1-based) of every value, keyed by dotted path."""

    data: Any
    lines: dict[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        while True:
            if path in self.lines:
                return self.lines[path]
            if "." not in path:
                return self.lines.get(path)
            path = path.rsplit(".", 1)[0]


# ---------------------------------------------------------------------------------- bytes


def _line_at(raw: bytes | str, offset: int) -> int:
    if isinstance(raw, str):
        return raw.count("\n", 0, offset) + 1
    return raw.count(b"\n", 0, offset) + 1


def decode(raw: bytes, max_bytes: int) -> tuple[str | None, list[Problem]]:
    """UTF-8 text of ``raw`` (None if it can't be read at all) and the problems found in it."""
    if len(raw) > max_bytes:
        return None, [
            Problem("", "size-cap", f"berkas {len(raw)} bita, melebihi batas {max_bytes} bita")
        ]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return None, [
            Problem(
                "",
                "utf-8",
                f"bita 0x{raw[err.start]:02x} pada posisi "
                f"{err.start} bukan UTF-8 yang sah; simpan berkas sebagai UTF-8",
                _line_at(raw, err.start),
            )
        ]
    problems = []
    line, counted = 1, 0  # lines counted as we go: a file full of hidden characters stays fast
    for hidden in text_rules.hidden_chars(text):
        line += text.count("\n", counted, hidden.index)
        counted = hidden.index
        problems.append(
            Problem(
                "",
                hidden.rule,
                f"karakter tersembunyi {hidden.name} tidak diizinkan; hapus karakter ini",
                line,
            )
        )
    return text, problems


# ---------------------------------------------------------------------------------- YAML


def _line(event: Any) -> int:
    return int(event.start_mark.line) + 1


def _coercion(path: str, value: str, line: int) -> Problem:
    return Problem(
        path,
        "yaml11-coercion",
        f"nilai '{value}' tanpa tanda kutip akan dibaca sebagai bilangan/boolean/tanggal oleh "
        f'sebagian pembaca YAML; tulis "{value}" dengan tanda kutip',
        line,
    )


def _scalar(event: yaml.ScalarEvent, path: str, problems: list[Problem]) -> Any:
    """Our own resolution of one scalar (PyYAML's 1.1 resolver is never consulted)."""
    value: str = event.value
    line = _line(event)
    if event.tag is not None and event.tag not in (_STR, "!"):
        problems.append(Problem(path, "no-tag", f"tag '{event.tag}' tidak diizinkan", line))
        return None
    if event.style == '"' and _FORBIDDEN_CHARS.search(value):  # an escape such as "\x1b"
        problems.append(
            Problem(
                path,
                "control-char",
                "nilai memuat karakter kontrol/tersembunyi "
                "(ditulis sebagai escape); hapus karakter ini",
                line,
            )
        )
    if event.style or event.tag is not None:  # quoted or block (libyaml: plain is "")
        return value
    if value in ("", "~", "null"):
        return None
    if value in ("true", "false"):
        return value == "true"
    if _INT.match(value):
        return int(value)
    if _AMBIGUOUS.match(value):
        problems.append(_coercion(path, value, line))
    return value


class _Builder:
    """Builds plain values from the parser's events, refusing what we don't accept."""

    def __init__(self) -> None:
        self.doc = Document(data=None)
        self.problems: list[Problem] = []

    def refuse_collection_tag(self, event: Any, path: str) -> None:
        if event.tag is not None and event.tag != "!":
            self.problems.append(
                Problem(path, "no-tag", f"tag '{event.tag}' tidak diizinkan", _line(event))
            )

    def value(self, events: Iterator[Any], event: Any, path: str) -> Any:
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                Problem(
                    path,
                    "no-alias",
                    f"alias '*{event.anchor}' tidak diizinkan; tulis nilainya langsung",
                    _line(event),
                )
            )
        if anchor:
            raise _Refused(
                Problem(
                    path,
                    "no-anchor",
                    f"anchor '&{anchor}' tidak diizinkan; tulis nilainya langsung",
                    _line(event),
                )
            )
        self.doc.lines.setdefault(path, _line(event))
        if isinstance(event, yaml.ScalarEvent):
            return _scalar(event, path, self.problems)
        if isinstance(event, yaml.SequenceStartEvent):
            self.refuse_collection_tag(event, path)
            items = []
            for index, item in enumerate(iter(events.__next__, None)):
                if isinstance(item, yaml.SequenceEndEvent):
                    break
                items.append(self.value(events, item, f"{path}.{index}" if path else str(index)))
            return items
        if isinstance(event, yaml.MappingStartEvent):
            self.refuse_collection_tag(event, path)
            return self.mapping(events, path)
        raise _Refused(Problem(path, "yaml-syntax", "struktur YAML tidak dikenal", _line(event)))

    def mapping(self, events: Iterator[Any], path: str) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_event in iter(events.__next__, None):
            if isinstance(key_event, yaml.MappingEndEvent):
                return result
            line = _line(key_event)
            if not isinstance(key_event, yaml.ScalarEvent):
                key_path = path
                self.problems.append(
                    Problem(path, "string-key", "kunci harus berupa teks biasa", line)
                )
                self.value(events, key_event, path)  # consume it (refuses aliases too)
                self.value(events, next(events), path)
                continue
            key = key_event.value
            key_path = f"{path}.{key}" if path else key
            if key_event.anchor:
                raise _Refused(
                    Problem(
                        key_path, "no-anchor", f"anchor '&{key_event.anchor}' tidak diizinkan", line
                    )
                )
            plain = not key_event.style and key_event.tag is None
            if plain and key == "<<":
                self.problems.append(
                    Problem(path, "no-merge-key", "kunci gabungan '<<' tidak diizinkan", line)
                )
                self.value(events, next(events), key_path)
                continue
            if plain and (_INT.match(key) or _AMBIGUOUS.match(key) or key in ("", "null")):
                self.problems.append(
                    Problem(
                        key_path,
                        "string-key",
                        f"kunci '{key}' akan dibaca sebagai bukan teks",
                        line,
                    )
                )
                self.value(events, next(events), key_path)
                continue
            if key in result:
                first = self.doc.lines.get(key_path, "?")
                self.problems.append(
                    Problem(
                        key_path,
                        "duplicate-key",
                        f"kunci '{key}' ditulis dua kali (pertama di baris {first})",
                        line,
                    )
                )
                self.value(events, next(events), f"{key_path}#dup")
                continue
            self.doc.lines[key_path] = line
            result[key] = self.value(events, next(events), key_path)
            self.doc.lines[key_path] = line
        raise _Refused(Problem(path, "yaml-syntax", "pemetaan tidak ditutup", None))


class _Refused(Exception):
    """Stops building at once (aliases, anchors): nothing past them is read."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem


def parse_yaml(text: str) -> tuple[Document | None, list[Problem]]:
    """One strict YAML document from ``text``, built from libyaml's events in one pass."""
    builder = _Builder()
    events = iter(yaml.parse(text, Loader=_BaseLoader))
    documents = 0
    try:
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    return None, [
                        Problem(
                            "",
                            "single-document",
                            "berkas hanya boleh berisi "
                            "satu dokumen YAML (hapus pemisah '---' tambahan)",
                            _line(event),
                        )
                    ]
            elif isinstance(
                event, (yaml.StreamStartEvent, yaml.DocumentEndEvent, yaml.StreamEndEvent)
            ):
                continue
            else:
                builder.doc.data = builder.value(events, event, "")
    except _Refused as refused:
        return None, [refused.problem]
    except yaml.YAMLError as err:
        return None, [_yaml_error(err)]
    if documents == 0 or builder.doc.data is None:
        return None, [Problem("", "empty", "berkas kosong")]
    return builder.doc, builder.problems


def _mark_line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


def _yaml_error(err: yaml.YAMLError) -> Problem:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return Problem("", "yaml-syntax", f"YAML tidak dapat dibaca: {problem}", _mark_line(mark))


def load_yaml_file(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """Configuration and other trusted-format files: strict YAML, errors raised at once."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise RequestInvalid(path, [Problem("", "readable", f"tidak dapat dibaca: {err}")]) from err
    text, problems = decode(raw, max_bytes)
    doc = None
    if text is not None:
        doc, problems = parse_yaml(text)
    if problems or doc is None:
        raise RequestInvalid(path, problems)
    return doc


# ------------------------------------------------------------------------------ requests


@cache
def request_schema() -> dict[str, Any]:
    text = resources.files("sop_pipeline.schema").joinpath("request.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _fast_validator() -> Any:
    return fastjsonschema.compile(request_schema())


@cache
def _full_validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # only for a file the fast validator refused: its messages are better

    return jsonschema.Draft202012Validator(request_schema())


_MESSAGES = {
    "required": "wajib diisi",
    "additionalProperties": "kolom tidak dikenal",
    "type": "jenis nilai salah",
    "enum": "nilai tidak termasuk pilihan",
    "const": "nilai harus tepat",
    "pattern": "format tidak sesuai",
    "minLength": "terlalu pendek",
    "maxLength": "terlalu panjang",
    "minimum": "terlalu kecil",
    "maximum": "terlalu besar",
}
_TYPE_NAMES = {
    "string": "teks (beri tanda kutip)",
    "integer": "bilangan bulat",
    "object": "bagian berisi kolom",
    "array": "daftar",
    "boolean": "true/false",
}


def _schema_problems(data: Any) -> Iterator[Problem]:
    for error in sorted(_full_validator().iter_errors(data), key=lambda e: list(e.path)):
        path = ".".join(str(p) for p in error.absolute_path)
        rule = str(error.validator)
        base = _MESSAGES.get(rule, error.message)
        schema = error.schema if isinstance(error.schema, dict) else {}
        if rule == "required":
            missing = error.message.split("'")[1] if "'" in error.message else "?"
            yield Problem(
                f"{path}.{missing}" if path else missing, rule, f"kolom '{missing}' {base}"
            )
        elif rule == "additionalProperties":
            extras = sorted(set(error.instance) - set(schema.get("properties", {})))
            for extra in extras:
                yield Problem(
                    f"{path}.{extra}" if path else extra,
                    rule,
                    f"kolom '{extra}' tidak dikenal (tidak ada di skema)",
                )
        elif rule == "type":
            wanted = _TYPE_NAMES.get(str(error.validator_value), str(error.validator_value))
            yield Problem(path, rule, f"{base}: harus {wanted}, tertulis {error.instance!r}")
        elif rule == "enum":
            choices = ", ".join(str(c) for c in error.validator_value)
            yield Problem(path, rule, f"'{error.instance}' {base}: {choices}")
        elif rule == "pattern":
            hint = schema.get("description", "")
            value = str(error.instance)
            if not value.isascii():
                odd = next(c for c in value if not c.isascii())
                hint = f"Memuat karakter non-ASCII U+{ord(odd):04X} '{odd}'. {hint}"
            yield Problem(path, rule, f"'{value}' {base}. {hint}".strip())
        elif rule in ("minimum", "maximum", "minLength", "maxLength"):
            yield Problem(path, rule, f"{base} (batas {error.validator_value})")
        else:
            yield Problem(path, rule, f"{base}: {error.message}")


@dataclass(frozen=True)
class LoadedRequest:
    """A request that passed every check, with the digests the approvals bind to."""

    request_id: str
    path: Path
    raw: bytes
    digest: str  # sha256 of the exact bytes
    data: dict[str, Any]
    attachments: dict[str, str]  # path relative to requests/ -> sha256 declared

    @property
    def requester(self) -> tuple[str, str]:
        """The requester's identities (e-mail, NIP): never an approver of this request."""
        return (self.data["pic"]["email"], self.data["pic"]["nip"])

    @property
    def fqdn(self) -> str:
        return str(self.data["hostname"])


def attachment_problems(path: Path, data: dict[str, Any]) -> list[Problem]:
    """The letter must exist next to the request and match its declared sha256."""
    letter = data["letter"]
    attached = path.parent / letter["file"]
    try:
        actual = sha256_regular(attached, limit=MAX_ATTACHMENT_BYTES, within=path.parent)
    except UnsafeFile as err:
        return [Problem("letter.file", err.rule, f"berkas surat '{letter['file']}': {err.message}")]
    except OSError:
        return [
            Problem(
                "letter.file",
                "attachment-missing",
                f"berkas surat '{letter['file']}' tidak ditemukan di samping permintaan",
            )
        ]
    if actual != letter["sha256"]:
        return [
            Problem(
                "letter.sha256",
                "attachment-digest",
                f"sha256 berkas surat adalah {actual}, bukan yang tertulis",
            )
        ]
    return []


def check_request_bytes(
    path: Path, raw: bytes, policy: Policy, *, check_attachments: bool = False
) -> tuple[Any, list[Problem]]:
    """Every problem of a request file's bytes, with lines; the data when there are none.

    Each layer runs as far as it can so that one run reports everything: characters, then
    YAML, then the schema, then (only on schema-valid data) the department's policy.
    """
    request_id = path.name.removesuffix(".yaml")
    problems = list(check_label(request_id, "", "nama berkas (ID permintaan)"))
    text, found = decode(raw, policy.max_file_bytes)
    problems += found
    if text is None or any(p.rule == "control-char" for p in found):
        return None, problems  # the YAML reader would refuse raw control characters too
    if found:  # bidi or invisible characters: already reported, not again as escapes
        text = _FORBIDDEN_CHARS.sub("", text)
    doc, found = parse_yaml(text)
    problems += found
    if doc is None:
        return None, problems
    try:
        _fast_validator()(doc.data)
        schema_ok = True
    except fastjsonschema.JsonSchemaException:
        schema_ok = False
        problems += _schema_problems(doc.data)
    if schema_ok:
        problems += check_request(request_id, doc.data, policy)
        if check_attachments and not problems:
            problems += attachment_problems(path, doc.data)
    located = [p.located(doc.line_of(p.field)) for p in problems]
    return doc.data, sorted(located, key=lambda p: p.line or 0)


def load_request(path: Path, *, policy: Policy, check_attachments: bool = True) -> LoadedRequest:
    """Read and check ``requests/<id>.yaml``; RequestInvalid lists every problem at once."""
    if path.suffix != ".yaml":
        raise RequestInvalid(
            path, [Problem("", "file-name", "berkas permintaan harus berakhiran .yaml")]
        )
    try:  # a regular file only, never through a link, and never more than the policy's cap
        raw = read_regular(path, limit=policy.max_file_bytes)
    except UnsafeFile as err:
        rule = "size-cap" if err.rule == TOO_LARGE else err.rule  # the request files' own id
        raise RequestInvalid(path, [Problem("", rule, err.message)]) from err
    except OSError as err:
        raise RequestInvalid(path, [Problem("", "readable", f"tidak dapat dibaca: {err}")]) from err
    data, problems = check_request_bytes(path, raw, policy, check_attachments=check_attachments)
    if problems:
        raise RequestInvalid(path, problems)
    letter = data["letter"]
    return LoadedRequest(
        request_id=path.stem,
        path=path,
        raw=raw,
        digest=hashlib.sha256(raw).hexdigest(),
        data=data,
        attachments={letter["file"]: letter["sha256"]},
    )
