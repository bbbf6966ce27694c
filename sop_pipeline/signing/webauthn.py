"""WebAuthn signatures in OpenSSH form (``webauthn-sk-ecdsa-sha2-nistp256@openssh.com``).

A browser cannot make a FIDO signature over arbitrary bytes: its authenticator signs
``authenticatorData || SHA256(clientDataJSON)``, where the clientDataJSON holds the challenge
the page chose. OpenSSH (``ssh-ecdsa-sk.c``, ``webauthn_check_prepare_hash``) accepts such a
signature for an ``sk-ecdsa-sha2-nistp256@openssh.com`` key when

- the page used the SSHSIG *signed data* (PROTOCOL.sshsig section 3) as the challenge, so the
  clientDataJSON begins, byte for byte, ``{"type":"webauthn.get","challenge":"<base64url of
  the signed data, unpadded>","origin":"<origin>"`` (the order browsers emit);
- the key's application is the WebAuthn RP ID, so ``authenticatorData`` begins with
  ``SHA256(application)``;
- the flags carry no attested-credential data (AT) and the extension-data flag (ED) is set
  exactly when extensions follow.

The signature blob (the ``signature`` field of an SSHSIG) is::

    string  "webauthn-sk-ecdsa-sha2-nistp256@openssh.com"
    string  ecdsa_signature   (mpint r, mpint s)
    byte    flags
    uint32  counter
    string  origin
    string  clientDataJSON
    string  extensions

This module holds the format, pure and without I/O: building a blob from a browser's
assertion (for the signing page's tests and tools), reading one, and the checks OpenSSH
leaves to the caller (origin against the RP ID, ``type`` and ``crossOrigin`` in the JSON, the
UV flag). The signature math is in :mod:`sop_pipeline.signing.sshkeys`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass

from sop_pipeline.signing.sshwire import Reader, WireError, put_mpint, put_string, put_u32

SIG_TYPE = "webauthn-sk-ecdsa-sha2-nistp256@openssh.com"
KEY_TYPE = "sk-ecdsa-sha2-nistp256@openssh.com"
FLAG_UP = 0x01  # user present (a touch)
FLAG_UV = 0x04  # user verified (PIN, biometrics)
FLAG_AT = 0x40  # attested credential data: never in an assertion, OpenSSH refuses it
FLAG_ED = 0x80  # extension data follows
CLIENT_DATA_TYPE = "webauthn.get"
_PREAMBLE_0 = b'{"type":"webauthn.get","challenge":"'
_PREAMBLE_1 = b'","origin":"'
_PREAMBLE_2 = b'"'
#: An RP ID is a host name (lower-case LDH labels); ``localhost`` for the lab and tests.
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
RP_ID = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(\.{_LABEL})*\Z")
_PORT = r"(:[1-9][0-9]{0,4})?"


class WebAuthnFormatError(ValueError):
    """Bytes that are not a WebAuthn signature OpenSSH would read."""


@dataclass(frozen=True)
class Assertion:
    """The fields of a ``webauthn-sk-ecdsa`` signature blob."""

    r: int
    s: int
    flags: int
    counter: int
    origin: str
    client_data: bytes
    extensions: bytes

    @property
    def user_present(self) -> bool:
        return bool(self.flags & FLAG_UP)

    @property
    def user_verified(self) -> bool:
        return bool(self.flags & FLAG_UV)


def b64url(data: bytes) -> str:
    """Unpadded base64url, as WebAuthn writes the challenge (OpenSSH ``sshbuf_dtourlb64``)."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def client_data_json(signed_data: bytes, origin: str, *, extra: str = "") -> bytes:
    """The clientDataJSON a browser emits for ``navigator.credentials.get`` with this
    challenge (``extra``: further members, e.g. ``,"crossOrigin":false``)."""
    return (
        _PREAMBLE_0
        + b64url(signed_data).encode()
        + _PREAMBLE_1
        + origin.encode()
        + _PREAMBLE_2
        + extra.encode()
        + b"}"
    )


def authenticator_data(rp_id: str, flags: int, counter: int, extensions: bytes = b"") -> bytes:
    """``SHA256(rp_id) || flags || counter || extensions`` (WebAuthn section 6.1)."""
    return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + put_u32(counter) + extensions


def encode(
    r: int, s: int, *, flags: int, counter: int, origin: str, client_data: bytes, extensions: bytes
) -> bytes:
    """The SSH signature blob for one assertion (``r``, ``s`` from its DER signature)."""
    return (
        put_string(SIG_TYPE)
        + put_string(put_mpint(r) + put_mpint(s))
        + bytes([flags])
        + put_u32(counter)
        + put_string(origin)
        + put_string(client_data)
        + put_string(extensions)
    )


def public_key_blob(point: bytes, rp_id: str) -> bytes:
    """The ``sk-ecdsa-sha2-nistp256@openssh.com`` key of a WebAuthn credential: its
    uncompressed P-256 point (``0x04 || x || y``) and the RP ID as the application."""
    if len(point) != 65 or point[0] != 0x04:
        raise WebAuthnFormatError("credential public key is not an uncompressed P-256 point")
    return put_string(KEY_TYPE) + put_string("nistp256") + put_string(point) + put_string(rp_id)


def public_key_line(point: bytes, rp_id: str, comment: str = "") -> str:
    """The line the enrolment page shows, as ``allowed_signers`` takes it."""
    line = f"{KEY_TYPE} {base64.b64encode(public_key_blob(point, rp_id)).decode()}"
    return f"{line} {comment}" if comment else line


def from_browser(
    *, authenticator_data_bytes: bytes, client_data: bytes, der_signature: bytes, origin: str
) -> bytes:
    """The SSH signature blob for what ``navigator.credentials.get`` returned
    (``response.authenticatorData``, ``response.clientDataJSON``, ``response.signature``);
    wrap it with :func:`sshsig_armor`. The RP ID hash stays in the authenticator data and is
    checked by the verifier against the key's application."""
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    if len(authenticator_data_bytes) < 37:
        raise WebAuthnFormatError("authenticatorData is shorter than 37 bytes")
    flags = authenticator_data_bytes[32]
    counter = int.from_bytes(authenticator_data_bytes[33:37], "big")
    try:
        r, s = decode_dss_signature(der_signature)
    except ValueError as err:
        raise WebAuthnFormatError("signature is not a DER ECDSA signature") from err
    return encode(
        r,
        s,
        flags=flags,
        counter=counter,
        origin=origin,
        client_data=client_data,
        extensions=authenticator_data_bytes[37:],
    )


def sshsig_armor(
    public_blob: bytes, namespace: str, hash_algorithm: str, signature: bytes
) -> bytes:
    """The armored SSHSIG (the ``.sig`` file) around one signature blob."""
    from sop_pipeline.signing.sshsig import MAGIC, SIG_VERSION, armor

    return armor(
        MAGIC
        + put_u32(SIG_VERSION)
        + put_string(public_blob)
        + put_string(namespace)
        + put_string(b"")
        + put_string(hash_algorithm)
        + put_string(signature)
    )


def decode_after_type(reader: Reader) -> Assertion:
    """The rest of a blob whose type string was already read; WebAuthnFormatError when
    OpenSSH would refuse its layout."""
    try:
        inner = Reader(reader.string())
        flags, counter = reader.u8(), reader.u32()
        origin = reader.cstring()
        client_data = reader.string()
        extensions = reader.string()
        reader.end()
        r, s = inner.mpint(), inner.mpint()
        inner.end()
    except WireError as err:
        raise WebAuthnFormatError(f"webauthn signature: {err}") from err
    return Assertion(r, s, flags, counter, origin, client_data, extensions)


def expected_preamble(signed_data: bytes, origin: str) -> bytes:
    return _PREAMBLE_0 + b64url(signed_data).encode() + _PREAMBLE_1 + origin.encode() + _PREAMBLE_2


def check_format(assertion: Assertion, signed_data: bytes) -> None:
    """What ``webauthn_check_prepare_hash`` checks before the math; WebAuthnFormatError."""
    if '"' in assertion.origin:
        raise WebAuthnFormatError("webauthn origin contains a quote")
    if assertion.flags & FLAG_AT:
        raise WebAuthnFormatError("webauthn flags carry attested credential data (AT)")
    if bool(assertion.flags & FLAG_ED) != bool(assertion.extensions):
        raise WebAuthnFormatError("webauthn extension flag (ED) does not match the extensions")
    if not assertion.client_data.startswith(expected_preamble(signed_data, assertion.origin)):
        raise WebAuthnFormatError(
            "webauthn clientDataJSON does not begin with type webauthn.get, this challenge "
            "and this origin"
        )


def origin_allowed(origin: str, rp_id: str) -> bool:
    """``https://<rp_id>[:port]``; and ``http://localhost[:port]`` when the RP ID is
    ``localhost`` (browsers allow WebAuthn there without TLS)."""
    if not RP_ID.match(rp_id):
        return False
    if re.fullmatch("https://" + re.escape(rp_id) + _PORT, origin):
        return True
    return rp_id == "localhost" and re.fullmatch("http://localhost" + _PORT, origin) is not None


def policy_problems(assertion: Assertion, *, rp_id: str, application: str) -> list[tuple[str, str]]:
    """What the pipeline checks beyond OpenSSH, as ``(rule, Indonesian message)`` pairs:
    the key belongs to our RP ID, the origin is that RP ID's, and the clientDataJSON is a
    same-origin ``webauthn.get`` whose members say what the blob says."""
    problems: list[tuple[str, str]] = []
    if application != rp_id:
        problems.append(
            (
                "webauthn-wrong-rp-id",
                f"kunci WebAuthn terdaftar untuk RP ID '{application}', bukan '{rp_id}' "
                "(situs penandatanganan departemen)",
            )
        )
    if not origin_allowed(assertion.origin, rp_id):
        problems.append(
            (
                "webauthn-wrong-origin",
                f"tanda tangan WebAuthn dibuat di origin '{assertion.origin}', bukan "
                f"https://{rp_id}",
            )
        )
    try:
        data = json.loads(assertion.client_data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        problems.append(
            ("webauthn-client-data", "clientDataJSON tanda tangan WebAuthn bukan objek JSON")
        )
        return problems
    if data.get("type") != CLIENT_DATA_TYPE or data.get("origin") != assertion.origin:
        problems.append(
            (
                "webauthn-client-data",
                "clientDataJSON tidak menyatakan type webauthn.get dengan origin yang sama",
            )
        )
    if data.get("crossOrigin") not in (None, False):
        problems.append(
            (
                "webauthn-cross-origin",
                "tanda tangan WebAuthn dibuat dari bingkai (iframe) origin lain",
            )
        )
    return problems
