"""The one place YAML is parsed: strict, typed, and with every problem reported at once.

PyYAML alone keeps the last of two duplicate keys, expands aliases without limit and reads
``no``, ``on``, ``010``, ``22:22`` and dates as booleans, numbers and timestamps. This loader
refuses all of that. It composes the document with libyaml (fast, C) and then builds plain
Python values itself:

- plain scalars resolve by the YAML 1.2 core rules only: ``true``/``false``, ``null``/``~``,
  decimal integers without leading zeros; anything YAML 1.1 would read as another type
  (``yes``, ``off``, ``010``, ``1:30``, ``2026-01-02``, ``1e3``...) is refused: quote it;
- anchors, aliases, merge keys, explicit tags, duplicate keys and non-string keys are refused;
- exactly one document; a size cap; UTF-8 only (a leading BOM is accepted: Notepad writes
  one); no control, bidi or invisible characters, and a non-breaking space that breaks the
  structure is named on its own line.

Requests then go through their JSON Schema (fast compiled check, then a full pass listing
every error when it fails), become a typed ``domain.request.Request`` (built here only, from
schema-valid data; an impossible calendar date is refused [date] at this layer) and meet the
department's policy (``domain.rules``, on the model). No other module reads a request's fields
from its parsed YAML.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import fastjsonschema
import yaml

from sop_pipeline.domain import text as text_rules
from sop_pipeline.domain.deploy_keys import check_database, deployer_problems
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.request import (
    Application,
    Database,
    Deployer,
    Letter,
    Opd,
    Period,
    Pic,
    Request,
    Resources,
)
from sop_pipeline.domain.rules import (
    Problem,
    check_label,
    check_request,
    date_problem,
    real_date,
)
from sop_pipeline.errors import SopError
from sop_pipeline.safefile import TOO_LARGE, UnsafeFile, read_regular

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
BOM = "\ufeff"
NBSP = "\xa0"


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
    if text.startswith(BOM):
        # Notepad's "UTF-8 with BOM": accepted. The digest is over the exact bytes either way,
        # and a BOM anywhere else is still refused below as an invisible character.
        text = text[1:]
    problems = []
    line, counted = 1, 0  # lines counted as we go: a file full of hidden characters stays fast
    for hidden in text_rules.hidden_chars(text):
        line += text.count("\n", counted, hidden.index)
        counted = hidden.index
        advice = "hapus karakter ini"
        if text[hidden.index] == BOM:  # only a leading BOM is accepted: this one was pasted in
            advice = (
                "tanda BOM di tengah berkas, biasanya ikut tertempel dari berkas lain; "
                "tidak terlihat di editor: hapus lalu ketik ulang baris ini"
            )
        problems.append(
            Problem(
                "",
                hidden.rule,
                f"karakter tersembunyi {hidden.name} tidak diizinkan; {advice}",
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
        return None, [_yaml_error(err, text)]
    if documents == 0 or builder.doc.data is None:
        return None, [Problem("", "empty", "berkas kosong")]
    return builder.doc, builder.problems


def _mark_line(mark: Any) -> int | None:
    return mark.line + 1 if mark is not None else None


# PyYAML's English problems, in words an OPD's staff can act on.
_YAML_PROBLEMS = (
    (
        "mapping values are not allowed",
        "tanda ':' tidak boleh di sini; periksa indentasi baris ini, dan beri tanda kutip "
        "pada nilai yang memuat ': '",
    ),
    (
        "could not find expected ':'",
        "tanda ':' tidak ditemukan; setiap baris harus berbentuk 'kunci: nilai' dengan "
        "indentasi yang sama seperti baris lain di bagiannya",
    ),
    (
        "did not find expected key",
        "indentasi tidak rata, atau tanda kutip/kurung belum ditutup; samakan indentasi "
        "dengan baris lain di bagian ini",
    ),
    ("did not find expected ',' or ']'", "daftar '[' belum ditutup dengan ']'"),
    ("did not find expected ',' or '}'", "pemetaan '{' belum ditutup dengan '}'"),
    (
        "found unexpected end of stream",
        "berkas berakhir sebelum tanda kutip ditutup; tutup tanda kutip nilai ini",
    ),
    (
        "did not find expected '-' indicator",
        "indentasi daftar tidak rata; setiap butir '- ' harus sejajar",
    ),
    (
        "cannot start any token",
        "karakter ini tidak boleh mengawali nilai (misalnya '@', '`' atau '%'); "
        "beri tanda kutip pada nilai",
    ),
)


def _yaml_error(err: yaml.YAMLError, text: str = "") -> Problem:
    mark = getattr(err, "problem_mark", None)
    problem = str(getattr(err, "problem", None) or err)
    index = getattr(mark, "index", None)
    line = _mark_line(mark)
    lines = text.splitlines()
    here = lines[line - 1] if line and line <= len(lines) else ""
    if (index is not None and text[index : index + 1] == "\t") or (
        "cannot start any token" in problem and "\t" in here
    ):
        return Problem(
            "",
            "yaml-tab",
            "karakter tab di baris ini; YAML hanya menerima spasi untuk indentasi. Ganti "
            "setiap tab dengan spasi (di editor: Indent Using Spaces / Insert Spaces)",
            line,
        )
    for english, indonesian in _YAML_PROBLEMS:
        if english in problem:
            return Problem("", "yaml-syntax", f"YAML tidak dapat dibaca: {indonesian}", line)
    return Problem(
        "",
        "yaml-syntax",
        "YAML tidak dapat dibaca: susunan baris ini tidak sah; periksa indentasi (spasi), "
        "tanda ':' dan tanda kutip",
        line,
    )


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
            yield Problem(
                path, rule, f"'{error.instance}' {base}; tulis salah satu: {choices} (tanpa kutip)"
            )
        elif rule == "const" and path == "schema_version":
            yield Problem(
                path,
                "schema-version",
                f"versi format {error.instance!r} tidak didukung; versi yang didukung: "
                f"{error.validator_value}. Tulis 'schema_version: {error.validator_value}'",
            )
        elif rule == "pattern":
            # Indonesian hints only: the schema's English descriptions are for developers.
            hint = str(schema.get("x-petunjuk", ""))
            value = str(error.instance)
            compact = value.replace(" ", "")
            if path.endswith("nip") and compact != value and re.fullmatch(r"[0-9]{18}", compact):
                yield Problem(
                    path,
                    "nip-spaces",
                    f"NIP '{value}' ditulis dengan spasi seperti tercetak; hapus spasinya: "
                    f'tulis "{compact}"',
                )
                continue
            if not value.isascii():
                odd = next(c for c in value if not c.isascii())
                hint = f"Memuat karakter non-ASCII U+{ord(odd):04X} '{odd}'. {hint}"
            yield Problem(path, rule, f"'{value}' {base}. {hint}".strip())
        elif rule in ("minimum", "maximum", "minLength", "maxLength"):
            yield Problem(path, rule, f"{base} (batas {error.validator_value})")
        else:
            yield Problem(path, rule, f"{base} (aturan skema '{rule}')")


@dataclass(frozen=True)
class LoadedRequest:
    """A request that passed every check: its typed model and the exact bytes it was read from
    (the signed identity is those bytes; ``digest`` is their sha256)."""

    path: Path
    raw: bytes
    request: Request

    @property
    def request_id(self) -> str:
        return self.request.request_id

    @property
    def digest(self) -> str:
        return self.request.digest

    @property
    def attachments(self) -> dict[str, str]:
        """Path relative to ``requests/`` -> sha256 declared."""
        return self.request.attachments

    @property
    def requester(self) -> tuple[str, str]:
        """The requester's identities (e-mail, NIP): never an approver of this request."""
        return self.request.requester


def _fold(text: str) -> str:
    return " ".join(text.split())


def request_model(
    request_id: str, data: Any, digest: str, *, zone: str
) -> tuple[Request | None, list[Problem]]:
    """The typed :class:`Request` from schema-valid ``data``, or the [date] problems of dates
    the schema's pattern lets through but the calendar does not have (2026-02-30).

    The one place that knows where each field sits in the file; call it only on data that
    passed :func:`request_schema`."""
    written = {
        "letter.date": data["letter"]["date"],
        "period.start": data["period"]["start"],
        "period.end": data["period"]["end"],
    }
    dates = {name: real_date(value) for name, value in written.items()}
    problems = [date_problem(name, written[name]) for name, day in dates.items() if day is None]
    letter_date, start, end = dates["letter.date"], dates["period.start"], dates["period.end"]
    if letter_date is None or start is None or end is None:
        return None, problems
    opd, pic, letter = data["opd"], data["pic"], data["letter"]
    app, res = data["application"], data["resources"]
    request = Request(
        request_id=request_id,
        digest=digest,
        zone=zone,
        schema_version=int(data["schema_version"]),
        opd=Opd(code=opd["code"], name=opd["name"]),
        pic=Pic(name=pic["name"], nip=pic["nip"], email=pic["email"], phone=pic["phone"]),
        letter=Letter(
            number=letter["number"],
            date=letter_date,
            file=letter["file"],
            sha256=letter["sha256"].lower(),
        ),
        application=Application(
            name=app["name"], purpose=_fold(app["purpose"]), kind=app["kind"], stack=app["stack"]
        ),
        hostname=data["hostname"],
        resources=Resources(
            vcpu=int(res["vcpu"]),
            memory_mb=int(res["memory_mb"]),
            disk_gb=int(res["disk_gb"]),
            template=res["template"],
        ),
        environment=data["environment"],
        period=Period(start=start, end=end),
        data_classification=data["data_classification"],
        exposure=data["exposure"],
        deployers=tuple(
            Deployer(name=d["name"], nip=d["nip"], ssh_public_key=d["ssh_public_key"])
            for d in data.get("deployers", ())
        ),
        database=_database(data.get("database")),
        kind=data.get("kind", "baru"),
    )
    return request, []


def _database(data: Any) -> Database | None:
    if data is None:
        return None
    return Database(engine=data["engine"], name=data["name"], size_gb=int(data.get("size_gb", 1)))


def requester_fields(data: Any) -> tuple[str, str, str] | None:
    """(pic.email, pic.nip, letter.file) of a parsed request that may not pass its schema
    (signing reads only these), or None when one is missing."""
    try:
        pic, letter = data["pic"], data["letter"]
        return str(pic["email"]), str(pic["nip"]), str(letter["file"])
    except (KeyError, TypeError):
        return None


#: The magic is the real check; the size catches a header alone or a truncated file. Real
#: letters are kilobytes, but the labs' and CI's stand-in letters are one line, so keep it low.
MIN_LETTER_BYTES = 12
_LETTER_FILE = re.compile(r"[a-z0-9][a-z0-9-]*/[A-Za-z0-9][A-Za-z0-9._-]*\.pdf\Z")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}\Z")


def attachment_problems(path: Path, data: Any) -> list[Problem]:
    """The letter must exist next to the request, be a PDF and match its declared sha256.

    Runs on schema-invalid data too (README step 4: every problem in one run), so it reads
    ``letter`` defensively and only opens a path of the schema's safe shape."""
    letter = data.get("letter") if isinstance(data, dict) else None
    relative = letter.get("file") if isinstance(letter, dict) else None
    if not isinstance(relative, str) or not _LETTER_FILE.match(relative):
        return []  # no usable path: the schema's problem for letter.file says what to write
    attached = path.parent / relative
    try:
        content = read_regular(attached, limit=MAX_ATTACHMENT_BYTES, within=path.parent)
    except UnsafeFile as err:
        return [Problem("letter.file", err.rule, f"berkas surat '{relative}': {err.message}")]
    except OSError:
        return [
            Problem(
                "letter.file",
                "attachment-missing",
                f"berkas surat '{relative}' tidak ditemukan di samping permintaan",
            )
        ]
    problems = []
    if len(content) < MIN_LETTER_BYTES or not content.startswith(b"%PDF-"):
        if not content:
            what = "kosong"
        elif not content.startswith(b"%PDF-"):
            what = f"{len(content)} bita dan bukan PDF (tidak diawali '%PDF-')"
        else:
            what = f"hanya {len(content)} bita, terlalu kecil untuk sebuah surat"
        problems.append(
            Problem(
                "letter.file",
                "attachment-not-pdf",
                f"berkas surat '{relative}' {what}; lampirkan hasil pindai/ekspor PDF surat "
                "yang sudah ditandatangani",
            )
        )
    declared = letter.get("sha256") if isinstance(letter, dict) else None
    actual = hashlib.sha256(content).hexdigest()
    # Get-FileHash (PowerShell) prints upper case: the same digest, accepted.
    if isinstance(declared, str) and _SHA256.match(declared) and actual != declared.lower():
        problems.append(
            Problem(
                "letter.sha256",
                "attachment-digest",
                f"sha256 berkas surat adalah {actual}, bukan yang tertulis; hitung ulang "
                "dengan 'sha256sum' atau 'Get-FileHash' setelah surat terakhir diubah",
            )
        )
    return problems


def _nbsp_problems(text: str) -> list[Problem]:
    lines = sorted({_line_at(text, m.start()) for m in re.finditer(NBSP, text)})
    return [
        Problem(
            "",
            "nbsp",
            "spasi tak-putus (U+00A0, biasanya tersalin dari Word atau halaman web) di baris "
            "ini; hapus lalu ketik ulang spasinya dengan spasi biasa",
            line,
        )
        for line in lines
    ]


def check_request_bytes(
    path: Path,
    raw: bytes,
    policy: Policy,
    *,
    check_attachments: bool = False,
    today: date | None = None,
) -> tuple[Any, list[Problem]]:
    """Every problem of a request file's bytes, with lines; the data when there are none.

    Each layer runs as far as it can so that one run reports everything: characters, then
    YAML, then the schema, then the typed model (real dates), then (only on a model) the
    department's policy; the letter (exists, is a PDF, matches its sha256) whatever else is
    wrong.
    """
    data, _, problems = _checked(path, raw, policy, check_attachments, today)
    return data, problems


def _checked(
    path: Path, raw: bytes, policy: Policy, check_attachments: bool, today: date | None
) -> tuple[Any, Request | None, list[Problem]]:
    """:func:`check_request_bytes`, with the typed request when the file passed its schema
    and has real dates (the policy rules run only on that)."""
    request_id = path.name.removesuffix(".yaml")
    problems = list(check_label(request_id, "", "nama berkas (ID permintaan)"))
    text, found = decode(raw, policy.max_file_bytes)
    problems += found
    if text is None or any(p.rule == "control-char" for p in found):
        return None, None, problems  # the YAML reader would refuse raw control characters too
    if found:  # bidi or invisible characters: already reported, not again as escapes
        text = _FORBIDDEN_CHARS.sub("", text)
    doc, found = parse_yaml(text)
    if doc is None and NBSP in text:
        # A non-breaking space (pasted from Word or a web page) breaks the YAML structure
        # where it stands; name it on its own line, then read on as if it were a space.
        retry, again = parse_yaml(text.replace(NBSP, " "))
        problems += _nbsp_problems(text)
        if retry is not None:
            doc, found = retry, again
    problems += found
    if doc is None:
        return None, None, problems
    try:
        _fast_validator()(doc.data)
        schema_ok = True
    except fastjsonschema.JsonSchemaException:
        schema_ok = False
        schema_found = list(_schema_problems(doc.data))
        # "quote it" is wrong advice where quoting would not help: the value itself is wrong.
        wrong_value = {p.field for p in schema_found if p.rule in ("enum", "schema-version")}
        problems = [
            p for p in problems if not (p.rule == "yaml11-coercion" and p.field in wrong_value)
        ]
        problems += schema_found
    request = None
    if schema_ok:
        digest = hashlib.sha256(raw).hexdigest()
        request, found = request_model(request_id, doc.data, digest, zone=policy.zone)
        problems += found
    if request is not None:
        problems += check_request(request, policy, today=today)
        problems += check_database(request, policy)
    problems += deployer_problems(doc.data)  # the keys whatever else is wrong
    if check_attachments:
        problems += attachment_problems(path, doc.data)
    located = [p.located(doc.line_of(p.field)) for p in problems]
    return doc.data, request, sorted(located, key=lambda p: p.line or 0)


def load_request(
    path: Path, *, policy: Policy, check_attachments: bool = True, today: date | None = None
) -> LoadedRequest:
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
    _, request, problems = _checked(path, raw, policy, check_attachments, today)
    if problems or request is None:
        raise RequestInvalid(path, problems)
    return LoadedRequest(path=path, raw=raw, request=request)


def read_request_model(path: Path, *, zone: str) -> Request | None:
    """The typed request of a file that passes strict YAML, its schema and the calendar,
    whatever today's policy says of it (a past request in the Laporan Kegiatan); None if not."""
    try:
        raw = read_regular(path, limit=DEFAULT_MAX_BYTES)
    except (UnsafeFile, OSError):
        return None
    text, problems = decode(raw, DEFAULT_MAX_BYTES)
    if text is None or problems:
        return None
    doc, problems = parse_yaml(text)
    if doc is None or problems:
        return None
    try:
        _fast_validator()(doc.data)
    except fastjsonschema.JsonSchemaException:
        return None
    digest = hashlib.sha256(raw).hexdigest()
    return request_model(path.name.removesuffix(".yaml"), doc.data, digest, zone=zone)[0]
