"""What a statement binds to: the request's id, the digest of its exact bytes, its attachments
and who asked for it (the requester may never approve their own request)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sop_pipeline.domain.text import shown
from sop_pipeline.errors import SopError
from sop_pipeline.safefile import UnsafeFile, read_regular, sha256_regular

if TYPE_CHECKING:
    from sop_pipeline.loader import LoadedRequest

REQUEST_SUFFIX = ".yaml"
APPROVALS_SUFFIX = ".approvals"
MAX_REQUEST_BYTES = 64 * 1024
#: The scanned, signed letter (PDF): generous for a scan, bounded for the gate's memory.
MAX_ATTACHMENT_BYTES = 32 * 1024 * 1024


class SubjectError(SopError):
    """The request file or its attachment cannot be read for signing or verifying."""

    exit_code = 2


@dataclass(frozen=True)
class Subject:
    """The request as approvals see it."""

    request_id: str
    digest: str  # sha256 of the exact bytes of requests/<id>.yaml
    attachments: Mapping[str, str] = field(default_factory=dict)  # relative path -> sha256
    requester_email: str = ""
    requester_nip: str = ""
    # Digests of the same text with other line endings, final newline or BOM: only to name
    # such a difference in [request-changed], never to accept it.
    near_digests: frozenset[str] = frozenset()
    #: The request's ``kind`` (baru, ubah, perpanjang, pensiun): a retirement's gates need
    #: two different people whatever the keyring says (``gates.RetirementTwoPeople``).
    kind: str = ""

    @classmethod
    def from_loaded(cls, loaded: LoadedRequest) -> Subject:
        """From the loader's checked request (``sop_pipeline.loader.load_request``)."""
        email, nip = loaded.requester
        return cls(
            loaded.request_id,
            loaded.digest,
            dict(loaded.attachments),
            email,
            nip,
            near_digests(loaded.raw),
            kind=loaded.request.kind,
        )

    def is_requester(self, principal: str, nip: str | None = None) -> bool:
        same_email = bool(self.requester_email) and (
            principal.casefold() == self.requester_email.casefold()
        )
        same_nip = bool(self.requester_nip) and nip is not None and nip == self.requester_nip
        return same_email or same_nip


def approvals_dir(request_path: Path) -> Path:
    """``requests/<id>.yaml`` -> ``requests/<id>.approvals/``."""
    return request_path.with_name(request_path.name.removesuffix(REQUEST_SUFFIX) + APPROVALS_SUFFIX)


def request_path(requests_dir: Path, request_id: str) -> Path:
    return requests_dir / f"{request_id}{REQUEST_SUFFIX}"


def load_subject(path: Path) -> Subject:
    """Read ``requests/<id>.yaml`` with the strict YAML reader; attachments hashed from their
    actual bytes. Schema and policy are the loader's job (step 1); this needs only the id,
    the bytes, ``pic`` and ``letter.file``."""
    from sop_pipeline.loader import (  # the one YAML reader
        decode,
        format_problem,
        parse_yaml,
        requester_fields,
    )

    try:
        raw = read_regular(path, limit=MAX_REQUEST_BYTES)
    except UnsafeFile as err:
        raise SubjectError(err.diagnostics()) from err
    except OSError as err:
        raise SubjectError(f"{path}: tidak dapat dibaca: {err}") from err
    text, problems = decode(raw, MAX_REQUEST_BYTES)
    doc = parse_yaml(text)[0] if text is not None else None
    if doc is None or problems:
        detail = format_problem(path, problems[0]) if problems else f"{path}: YAML tidak sah"
        raise SubjectError(detail)
    fields = requester_fields(doc.data)
    if fields is None:
        raise SubjectError(f"{path}: kolom pic.email, pic.nip atau letter.file tidak ada")
    email, nip, relative = fields
    return Subject(
        request_id=path.name.removesuffix(REQUEST_SUFFIX),
        digest=hashlib.sha256(raw).hexdigest(),
        attachments={relative: _attachment_digest(path.parent, relative)},
        requester_email=email,
        requester_nip=nip,
        near_digests=near_digests(raw),
        kind=str(doc.data.get("kind") or "") if isinstance(doc.data, dict) else "",
    )


def near_digests(raw: bytes) -> frozenset[str]:
    """sha256 of ``raw`` with CRLF or LF endings, with and without a final newline and a
    leading UTF-8 BOM: what Windows Git (autocrlf) or an editor may have made of the signed
    bytes. ``raw``'s own digest is left out."""
    bom = b"\xef\xbb\xbf"
    body = raw.removeprefix(bom).replace(b"\r\n", b"\n").rstrip(b"\n")
    forms = set()
    for ending in (b"\n", b"\r\n"):
        text = body.replace(b"\n", ending)
        for variant in (text, text + ending):
            forms |= {variant, bom + variant}
    forms.discard(raw)
    return frozenset(hashlib.sha256(form).hexdigest() for form in forms)


def _attachment_digest(requests_dir: Path, relative: str) -> str:
    """sha256 of the letter as a regular file below ``requests/``, never through a link."""
    target = requests_dir / relative
    parts = Path(relative).parts
    if "\0" in relative:
        raise SubjectError(f"lampiran '{shown(relative)}': nama memuat bita NUL")
    if not parts or Path(relative).is_absolute() or ".." in parts:
        raise SubjectError(f"lampiran '{shown(relative)}' berada di luar folder requests/")
    try:
        return sha256_regular(target, limit=MAX_ATTACHMENT_BYTES, within=requests_dir)
    except UnsafeFile as err:
        raise SubjectError(err.diagnostics()) from err
    except OSError as err:
        raise SubjectError(f"lampiran '{shown(relative)}' tidak dapat dibaca: {err}") from err
