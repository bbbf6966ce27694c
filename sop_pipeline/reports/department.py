"""The department's letterhead, officials and document numbering (``inventories/department.yaml``).

Read through the strict loader (:func:`sop_pipeline.loader.load_yaml_file`); every wrong value
raises :class:`~sop_pipeline.errors.ConfigError` naming the file, the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sop_pipeline.domain.sop import Role
from sop_pipeline.errors import ConfigError
from sop_pipeline.loader import RequestInvalid, load_yaml_file
from sop_pipeline.reports.indonesian import roman_month

FILE_NAME = "department.yaml"
#: The emblem's file types, by suffix, and how a document embeds them.
EMBLEM_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".svg": "image/svg+xml",
}
MAX_EMBLEM_BYTES = 2_000_000
#: Document kinds that carry a number, and the key of their classification code.
DOCUMENT_KINDS = ("disposisi", "analisis", "hasil_hosting", "berita_acara", "kegiatan")
#: Kinds whose code may be left out (a default is used): the Laporan Drift's.
OPTIONAL_KINDS = {"drift": "555.6"}
PATTERN_FIELDS = frozenset({"kode", "urut", "unit", "bulan", "tahun"})
_FIELD = re.compile(r"\{([^{}]*)\}")


@dataclass(frozen=True)
class Letterhead:
    """The kop surat: who issues the document and how to reach them."""

    government: str
    agency: str
    short_name: str
    division: str
    address: str
    city: str
    postal_code: str
    phone: str
    email: str
    website: str


@dataclass(frozen=True)
class Emblem:
    """The provincial emblem (lambang daerah) at the left of the kop, read from inventories/."""

    path: str  # as department.yaml names it, relative to inventories/
    media_type: str
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Official:
    """A signatory: name, NIP, jabatan (title) and, optionally, pangkat/golongan (rank)."""

    name: str
    nip: str
    title: str
    rank: str = ""


@dataclass(frozen=True)
class Numbering:
    """How document numbers are written: ``555.3/012/Aptika-Diskominfotik/XI/2026``."""

    pattern: str
    unit: str
    codes: Mapping[str, str]

    def number(self, kind: str, sequence: int, issued: date) -> str:
        """The number of the ``sequence``-th document of ``kind`` issued on ``issued``."""
        if kind not in self.codes:
            raise ConfigError(f"numbering.codes: tidak ada kode untuk jenis naskah '{kind}'")
        values = {
            "kode": self.codes[kind],
            "urut": f"{sequence:03d}",
            "unit": self.unit,
            "bulan": roman_month(issued),
            "tahun": str(issued.year),
        }
        return _FIELD.sub(lambda m: values[m.group(1)], self.pattern)


@dataclass(frozen=True)
class Department:
    letterhead: Letterhead
    place: str
    tz: tzinfo
    officials: Mapping[Role, Official]
    numbering: Numbering
    #: None only for a Department built in code; department.yaml must name one.
    emblem: Emblem | None = None

    def official(self, role: Role) -> Official:
        return self.officials[role]


def _text(
    data: Mapping[str, Any], key: str, where: str, path: Path, *, required: bool = True
) -> str:
    value = data.get(key, "" if not required else None)
    if value is None:
        raise ConfigError(f"{path}: {where}{key}: wajib diisi [required]")
    if not isinstance(value, str):
        raise ConfigError(f"{path}: {where}{key}: harus teks (beri tanda kutip) [type]")
    return value


def _mapping(data: Mapping[str, Any], key: str, path: Path) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {key}: wajib berupa pemetaan kunci: nilai [mapping]")
    return value


def _pattern(pattern: str, path: Path) -> str:
    unknown = sorted(set(_FIELD.findall(pattern)) - PATTERN_FIELDS)
    if unknown:
        allowed = ", ".join(f"{{{f}}}" for f in sorted(PATTERN_FIELDS))
        raise ConfigError(
            f"{path}: numbering.pattern: kolom tidak dikenal {', '.join(unknown)}; "
            f"yang boleh: {allowed} [pattern]"
        )
    if "{urut}" not in pattern:
        raise ConfigError(f"{path}: numbering.pattern: wajib memuat {{urut}} [pattern]")
    return pattern


def _emblem(name: str, path: Path) -> Emblem:
    """The emblem file ``letterhead.emblem`` names, inside the folder of department.yaml."""
    where = f"{path}: letterhead.emblem"
    folder = path.parent
    suffix = Path(name).suffix.lower()
    if suffix not in EMBLEM_TYPES:
        raise ConfigError(
            f"{where}: {name!r} harus berkas {', '.join(sorted(EMBLEM_TYPES))} [emblem-type]"
        )
    file = folder / name
    try:
        inside = file.resolve().is_relative_to(folder.resolve())
    except OSError:
        inside = False
    if Path(name).is_absolute() or ".." in Path(name).parts or not inside:
        raise ConfigError(f"{where}: {name!r} harus berada di dalam {folder} [emblem-path]")
    try:
        data = file.read_bytes()
    except OSError as err:
        raise ConfigError(
            f"{where}: berkas lambang {file} tidak dapat dibaca ({err.strerror or err}); "
            "letakkan berkas lambang daerah di sana atau perbaiki nama berkasnya "
            "[emblem-missing]"
        ) from err
    if not data or len(data) > MAX_EMBLEM_BYTES:
        raise ConfigError(
            f"{where}: berkas lambang {file} kosong atau lebih dari "
            f"{MAX_EMBLEM_BYTES // 1_000_000} MB [emblem-size]"
        )
    return Emblem(path=name, media_type=EMBLEM_TYPES[suffix], data=data)


def parse_department(data: Any, path: Path) -> Department:
    """A :class:`Department` from the parsed file; ConfigError on the first wrong value."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: harus berisi pemetaan kunci: nilai [mapping]")
    if data.get("schema_version") != 1:
        raise ConfigError(f"{path}: schema_version: harus 1 [schema-version]")
    head = _mapping(data, "letterhead", path)
    letterhead = Letterhead(
        **{name: _text(head, name, "letterhead.", path) for name in Letterhead.__dataclass_fields__}
    )
    emblem = _emblem(_text(head, "emblem", "letterhead.", path), path)
    try:
        tz = ZoneInfo(_text(data, "timezone", "", path))
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConfigError(f"{path}: timezone: zona waktu tidak dikenal [timezone]") from err
    people = _mapping(data, "officials", path)
    officials: dict[Role, Official] = {}
    for role in Role:
        if role is Role.OPD:
            continue  # the OPD's PIC comes from each request
        entry = people.get(str(role))
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{path}: officials.{role}: wajib diisi (name, nip, title) [required]"
            )
        where = f"officials.{role}."
        officials[role] = Official(
            name=_text(entry, "name", where, path),
            nip=_text(entry, "nip", where, path),
            title=_text(entry, "title", where, path),
            rank=_text(entry, "rank", where, path, required=False),
        )
    numbering = _mapping(data, "numbering", path)
    codes = _mapping(numbering, "codes", path)
    missing = [kind for kind in DOCUMENT_KINDS if not isinstance(codes.get(kind), str)]
    if missing:
        raise ConfigError(
            f"{path}: numbering.codes: wajib ada kode (teks) untuk {', '.join(missing)} [required]"
        )
    if "draft" in data:
        raise ConfigError(
            f"{path}: draft: tidak berlaku lagi; isian contoh seperti [Nama Kepala Dinas] "
            "selalu menghentikan pembuatan dokumen. Hapus baris ini [draft-removed]"
        )
    return Department(
        letterhead=letterhead,
        emblem=emblem,
        place=_text(data, "place", "", path),
        tz=tz,
        officials=officials,
        numbering=Numbering(
            pattern=_pattern(_text(numbering, "pattern", "numbering.", path), path),
            unit=_text(numbering, "unit", "numbering.", path),
            codes={
                **OPTIONAL_KINDS,
                **{k: str(codes[k]) for k in OPTIONAL_KINDS if isinstance(codes.get(k), str)},
                **{kind: str(codes[kind]) for kind in DOCUMENT_KINDS},
            },
        ),
    )


def load_department(inventories: Path) -> Department:
    """Read ``inventories/department.yaml`` (pass the base branch's copy in CI)."""
    path = inventories / FILE_NAME
    try:
        doc = load_yaml_file(path)
    except RequestInvalid as err:
        raise ConfigError(err.diagnostics()) from err
    return parse_department(doc.data, path)
