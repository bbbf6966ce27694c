"""OpenSSH public keys: parse the wire blob strictly, compare, fingerprint, verify raw signatures.

Key types: ``ssh-ed25519``, ``ecdsa-sha2-nistp256/384/521``, ``ssh-rsa`` (signatures
``rsa-sha2-256``/``rsa-sha2-512`` only), and the FIDO types ``sk-ssh-ed25519@openssh.com``
and ``sk-ecdsa-sha2-nistp256@openssh.com`` (PROTOCOL.u2f: the authenticator signs
``sha256(application) || flags || counter || sha256(message)``). Certificates and DSA are
refused. Every check mirrors what OpenSSH 9.x does for the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from sop_pipeline.signing import webauthn
from sop_pipeline.signing.sshwire import Reader, WireError, put_mpint, put_string

ED25519 = "ssh-ed25519"
RSA = "ssh-rsa"
SK_ED25519 = "sk-ssh-ed25519@openssh.com"
SK_ECDSA = "sk-ecdsa-sha2-nistp256@openssh.com"
_ECDSA: dict[str, tuple[str, ec.EllipticCurve, hashes.HashAlgorithm]] = {
    "ecdsa-sha2-nistp256": ("nistp256", ec.SECP256R1(), hashes.SHA256()),
    "ecdsa-sha2-nistp384": ("nistp384", ec.SECP384R1(), hashes.SHA384()),
    "ecdsa-sha2-nistp521": ("nistp521", ec.SECP521R1(), hashes.SHA512()),
}
SUPPORTED_TYPES = frozenset({ED25519, RSA, SK_ED25519, SK_ECDSA, *_ECDSA})
RSA_SIG_TYPES = {"rsa-sha2-256": hashes.SHA256(), "rsa-sha2-512": hashes.SHA512()}
RSA_MIN_BITS = 1024  # SSH_RSA_MINIMUM_MODULUS_SIZE
ED25519_SIG_BYTES = 64
SK_USER_PRESENCE = 0x01  # PROTOCOL.u2f flag: the user touched the authenticator
SK_USER_VERIFIED = 0x04  # PROTOCOL.u2f flag: the authenticator verified the user (PIN, biometrics)
WEBAUTHN_SK_ECDSA = webauthn.SIG_TYPE  # a signature type of SK_ECDSA keys, made in a browser


class KeyError_(ValueError):
    """A public key or raw signature that cannot be used."""


@dataclass(frozen=True)
class PublicKey:
    """A parsed OpenSSH public key; ``blob`` is its canonical wire encoding."""

    key_type: str
    blob: bytes
    material: bytes  # ed25519 raw key, or the EC point
    rsa_e: int = 0
    rsa_n: int = 0
    application: str = ""  # FIDO keys only

    @property
    def fingerprint(self) -> str:
        """``SHA256:...`` as ``ssh-keygen -l`` prints it."""
        digest = hashlib.sha256(self.blob).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    @property
    def openssh(self) -> str:
        """``type base64``: the form in ``allowed_signers`` and ``*.pub`` files."""
        return f"{self.key_type} {base64.b64encode(self.blob).decode()}"

    @property
    def is_security_key(self) -> bool:
        return self.key_type in (SK_ED25519, SK_ECDSA)


@dataclass(frozen=True)
class RawVerdict:
    """What a raw signature check learned: FIDO flags and counter when the key is a FIDO key."""

    sig_type: str
    sk_flags: int | None = None
    sk_counter: int | None = None
    webauthn: webauthn.Assertion | None = None  # a browser's signature: origin, clientDataJSON


def parse_key_blob(blob: bytes) -> PublicKey:
    """A public key from its wire blob; KeyError_ for anything OpenSSH would refuse."""
    try:
        reader = Reader(blob)
        key_type = reader.cstring()
        key = _parse_body(key_type, reader)
        reader.end()
    except WireError as err:
        raise KeyError_(f"public key: {err}") from err
    return key


def parse_key_text(text: str) -> PublicKey:
    """A key written as ``type base64 [comment]``; the type must match the blob's."""
    fields = text.split()
    if len(fields) < 2:
        raise KeyError_("public key: expected 'type base64'")
    try:
        blob = base64.b64decode(fields[1], validate=True)
    except ValueError as err:
        raise KeyError_("public key: base64 is invalid") from err
    key = parse_key_blob(blob)
    if key.key_type != fields[0]:
        raise KeyError_(f"public key: type {fields[0]} does not match blob type {key.key_type}")
    return key


def _parse_body(key_type: str, reader: Reader) -> PublicKey:
    if key_type in (ED25519, SK_ED25519):
        pk = reader.string()
        if len(pk) != 32:
            raise KeyError_("ed25519 key is not 32 bytes")
        app = reader.cstring() if key_type == SK_ED25519 else ""
        blob = put_string(key_type) + put_string(pk)
        if key_type == SK_ED25519:
            blob += put_string(app)
        return PublicKey(key_type, blob, pk, application=app)
    if key_type in _ECDSA or key_type == SK_ECDSA:
        curve_name, curve, _ = _ECDSA.get(key_type, _ECDSA["ecdsa-sha2-nistp256"])
        if reader.cstring() != curve_name:
            raise KeyError_("ecdsa curve does not match key type")
        point = reader.string()
        if not point or point[0] != 0x04:
            raise KeyError_("ecdsa point is not uncompressed")
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        except ValueError as err:
            raise KeyError_("ecdsa point is not on the curve") from err
        app = reader.cstring() if key_type == SK_ECDSA else ""
        blob = put_string(key_type) + put_string(curve_name) + put_string(point)
        if key_type == SK_ECDSA:
            blob += put_string(app)
        return PublicKey(key_type, blob, point, application=app)
    if key_type == RSA:
        e = reader.mpint()
        n = reader.mpint()
        if n.bit_length() < RSA_MIN_BITS:
            raise KeyError_("rsa key shorter than 1024 bits")
        blob = put_string(key_type) + put_mpint(e) + put_mpint(n)
        return PublicKey(key_type, blob, b"", rsa_e=e, rsa_n=n)
    raise KeyError_(f"unsupported key type {key_type!r}")


def verify_raw(key: PublicKey, signature: bytes, data: bytes) -> RawVerdict:
    """Check an SSH signature blob over ``data``; KeyError_ when it does not hold."""
    try:
        reader = Reader(signature)
        sig_type = reader.cstring()
        if key.key_type == RSA:
            _verify_rsa(key, sig_type, reader, data)
            return RawVerdict(sig_type)
        if key.key_type == SK_ECDSA and sig_type == WEBAUTHN_SK_ECDSA:
            return _verify_webauthn(key, reader, data)
        if sig_type != key.key_type:
            raise KeyError_(f"signature type {sig_type} does not match key type {key.key_type}")
        if key.key_type == ED25519:
            sig = reader.string()
            reader.end()
            _ed25519(key.material, sig, data)
            return RawVerdict(sig_type)
        if key.key_type in _ECDSA:
            r, s = _ecdsa_rs(reader.string())
            reader.end()
            _, curve, hash_alg = _ECDSA[key.key_type]
            _ecdsa(curve, key.material, r, s, data, hash_alg)
            return RawVerdict(sig_type)
        if key.key_type == SK_ED25519:
            sig = reader.string()
            flags, counter = reader.u8(), reader.u32()
            reader.end()
            _ed25519(key.material, sig, _sk_message(key, flags, counter, data))
            return RawVerdict(sig_type, flags, counter)
        if key.key_type == SK_ECDSA:
            r, s = _ecdsa_rs(reader.string())
            flags, counter = reader.u8(), reader.u32()
            reader.end()
            message = _sk_message(key, flags, counter, data)
            _ecdsa(ec.SECP256R1(), key.material, r, s, message, hashes.SHA256())
            return RawVerdict(sig_type, flags, counter)
    except WireError as err:
        raise KeyError_(f"signature: {err}") from err
    raise KeyError_(f"unsupported key type {key.key_type!r}")


def _verify_webauthn(key: PublicKey, reader: Reader, data: bytes) -> RawVerdict:
    """``webauthn-sk-ecdsa``: the authenticator signed ``authenticatorData ||
    SHA256(clientDataJSON)``; the clientDataJSON must carry ``data`` as its challenge."""
    try:
        assertion = webauthn.decode_after_type(reader)
        webauthn.check_format(assertion, data)
    except webauthn.WebAuthnFormatError as err:
        raise KeyError_(str(err)) from err
    signed = (
        hashlib.sha256(key.application.encode()).digest()
        + bytes([assertion.flags])
        + assertion.counter.to_bytes(4, "big")
        + assertion.extensions
        + hashlib.sha256(assertion.client_data).digest()
    )
    _ecdsa(ec.SECP256R1(), key.material, assertion.r, assertion.s, signed, hashes.SHA256())
    return RawVerdict(WEBAUTHN_SK_ECDSA, assertion.flags, assertion.counter, assertion)


def _sk_message(key: PublicKey, flags: int, counter: int, data: bytes) -> bytes:
    return (
        hashlib.sha256(key.application.encode()).digest()
        + bytes([flags])
        + counter.to_bytes(4, "big")
        + hashlib.sha256(data).digest()
    )


def _ed25519(pk: bytes, sig: bytes, data: bytes) -> None:
    if len(sig) != ED25519_SIG_BYTES:
        raise KeyError_("ed25519 signature has the wrong length")
    try:
        Ed25519PublicKey.from_public_bytes(pk).verify(sig, data)
    except (InvalidSignature, ValueError) as err:
        raise KeyError_("ed25519 signature does not verify") from err


def _ecdsa_rs(inner: bytes) -> tuple[int, int]:
    reader = Reader(inner)
    r, s = reader.mpint(), reader.mpint()
    reader.end()
    return r, s


def _ecdsa(
    curve: ec.EllipticCurve, point: bytes, r: int, s: int, data: bytes, alg: hashes.HashAlgorithm
) -> None:
    try:
        public = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
        public.verify(encode_dss_signature(r, s), data, ec.ECDSA(alg))
    except (InvalidSignature, ValueError) as err:
        raise KeyError_("ecdsa signature does not verify") from err


def _verify_rsa(key: PublicKey, sig_type: str, reader: Reader, data: bytes) -> None:
    if sig_type not in RSA_SIG_TYPES:
        raise KeyError_(f"rsa signature algorithm {sig_type} is not allowed")
    sig = reader.string()
    reader.end()
    modlen = (key.rsa_n.bit_length() + 7) // 8
    if len(sig) > modlen:
        raise KeyError_("rsa signature longer than the modulus")
    sig = sig.rjust(modlen, b"\0")
    try:
        public = rsa.RSAPublicNumbers(key.rsa_e, key.rsa_n).public_key()
        public.verify(sig, data, padding.PKCS1v15(), RSA_SIG_TYPES[sig_type])
    except (InvalidSignature, ValueError) as err:
        raise KeyError_("rsa signature does not verify") from err
