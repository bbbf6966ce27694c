"""One hosting request as a typed value: what ``requests/<id>.yaml`` says, once the loader has
checked it (strict YAML, the JSON Schema, real calendar dates).

Pure: no I/O. Only ``sop_pipeline.loader`` builds it, and only from validated data; the
schema (``schema/request.schema.json``) stays the source of truth for what is accepted, and
the ``Literal`` choices below are kept equal to its enums by a unit test. The signed identity
is the file's exact bytes: ``digest`` is their sha256, never a hash of this model.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Literal

Kind = Literal["website", "application"]
Stack = Literal["static", "php", "nodejs", "python"]
Environment = Literal["production", "staging"]
Classification = Literal["publik", "internal", "terbatas", "rahasia"]
Exposure = Literal["public", "internal"]
DatabaseEngine = Literal["mariadb", "postgresql"]
#: What a request file asks for (its top-level ``kind``); a file without it is ``baru``.
RequestKind = Literal["baru", "ubah", "perpanjang", "pensiun"]


@dataclass(frozen=True)
class Opd:
    """The agency that asks: its code (quotas are kept per code) and full name."""

    code: str
    name: str


@dataclass(frozen=True)
class Pic:
    """The OPD's contact person: never an approver of this request."""

    name: str
    nip: str
    email: str
    phone: str


@dataclass(frozen=True)
class Letter:
    """The signed request letter (step 1)."""

    number: str
    date: date
    file: str  # relative to requests/
    sha256: str  # lower case (the file may write it upper case, as Get-FileHash prints it)


@dataclass(frozen=True)
class Application:
    name: str
    purpose: str  # runs of whitespace folded to one space: a YAML block may break it over lines
    kind: Kind
    stack: Stack


@dataclass(frozen=True)
class Resources:
    vcpu: int
    memory_mb: int
    disk_gb: int
    template: str


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive


@dataclass(frozen=True)
class Deployer:
    """One of the OPD's people who deploy; ``ssh_public_key`` as written (one line, checked by
    :mod:`sop_pipeline.domain.deploy_keys` before the request is accepted)."""

    name: str
    nip: str
    ssh_public_key: str


@dataclass(frozen=True)
class Database:
    engine: DatabaseEngine
    name: str  # a plain identifier (the schema's pattern)
    size_gb: int = 1


@dataclass(frozen=True)
class Request:
    """A request that passed its schema, with the digest of the bytes it was read from."""

    request_id: str  # the file name without .yaml: the request's identity
    digest: str  # sha256 of the file's exact bytes: what approvals bind to
    zone: str  # the department's DNS zone (policy) that ``hostname`` is a label of
    schema_version: int
    opd: Opd
    pic: Pic
    letter: Letter
    application: Application
    hostname: str
    resources: Resources
    environment: Environment
    period: Period
    data_classification: Classification
    exposure: Exposure
    deployers: tuple[Deployer, ...] = ()
    database: Database | None = None
    kind: RequestKind = "baru"  # missing in the file means a new hosting

    @property
    def fqdn(self) -> str:
        return f"{self.hostname}.{self.zone}"

    @property
    def requester(self) -> tuple[str, str]:
        """The requester's identities (e-mail, NIP): never an approver of this request."""
        return (self.pic.email, self.pic.nip)

    @property
    def attachments(self) -> dict[str, str]:
        """Path relative to ``requests/`` -> the sha256 the request declares for it."""
        return {self.letter.file: self.letter.sha256}

    def as_data(self) -> dict[str, Any]:
        """The request's fields in the file's shape (dates as ``YYYY-MM-DD``), without the
        id, digest and zone: what the playbooks read as ``sop_request``."""
        return {
            "schema_version": self.schema_version,
            "kind": self.kind,
            "opd": asdict(self.opd),
            "pic": asdict(self.pic),
            "letter": asdict(self.letter) | {"date": self.letter.date.isoformat()},
            "application": asdict(self.application),
            "hostname": self.hostname,
            "resources": asdict(self.resources),
            "environment": self.environment,
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "data_classification": self.data_classification,
            "exposure": self.exposure,
        } | self._optional_data()

    def _optional_data(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.deployers:
            extra["deployers"] = [asdict(d) for d in self.deployers]
        if self.database is not None:
            extra["database"] = asdict(self.database)
        return extra
