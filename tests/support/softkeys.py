"""Software signers for tests and the lab: hand-made SSHSIG signatures for cases ssh-keygen
will not produce (SHA-1 RSA, odd hash names) and a software stand-in for a FIDO token.
Real private keys, real signatures; never used to verify anything."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sop_pipeline.signing.sshkeys import SK_ED25519
from sop_pipeline.signing.sshsig import MAGIC, armor
from sop_pipeline.signing.sshwire import put_string, put_u32

SK_APPLICATION = "ssh:"


def sshsig_blob(
    pub_blob: bytes, namespace: str, hash_alg: str, signature: bytes, version: int = 1
) -> bytes:
    return (
        MAGIC
        + put_u32(version)
        + put_string(pub_blob)
        + put_string(namespace)
        + put_string(b"")
        + put_string(hash_alg)
        + put_string(signature)
    )


def to_sign(namespace: str, hash_alg: str, message: bytes, digest_name: str | None = None) -> bytes:
    digest = hashlib.new(digest_name or hash_alg, message).digest()
    return (
        MAGIC + put_string(namespace) + put_string(b"") + put_string(hash_alg) + put_string(digest)
    )


def rsa_sshsig(private_path: Path, message: bytes, namespace: str, sig_type: str) -> bytes:
    """An RSA SSHSIG with any signature type name (``ssh-rsa`` means SHA-1)."""
    key = serialization.load_ssh_private_key(private_path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("not an RSA key")
    numbers = key.public_key().public_numbers()
    from sop_pipeline.signing.sshwire import put_mpint

    pub = put_string("ssh-rsa") + put_mpint(numbers.e) + put_mpint(numbers.n)
    alg = {
        "ssh-rsa": hashes.SHA1(),  # noqa: S303 - the legacy algorithm verifiers must refuse
        "rsa-sha2-256": hashes.SHA256(),
        "rsa-sha2-512": hashes.SHA512(),
    }[sig_type]
    raw = key.sign(to_sign(namespace, "sha512", message), padding.PKCS1v15(), alg)
    return armor(sshsig_blob(pub, namespace, "sha512", put_string(sig_type) + put_string(raw)))


class SoftAuthenticator:
    """A software stand-in for a FIDO token holding one ``sk-ssh-ed25519`` key (PROTOCOL.u2f)."""

    def __init__(self, application: str = SK_APPLICATION) -> None:
        self._key = Ed25519PrivateKey.generate()
        self.application = application
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.pub_blob = put_string(SK_ED25519) + put_string(raw) + put_string(application)

    @property
    def public_line(self) -> str:
        import base64

        return f"{SK_ED25519} {base64.b64encode(self.pub_blob).decode()}"

    def sign(
        self,
        message: bytes,
        namespace: str,
        *,
        flags: int = 0x01,
        counter: int = 7,
        hash_alg: str = "sha512",
    ) -> bytes:
        data = to_sign(namespace, hash_alg, message)
        signed = (
            hashlib.sha256(self.application.encode()).digest()
            + bytes([flags])
            + counter.to_bytes(4, "big")
            + hashlib.sha256(data).digest()
        )
        sig = self._key.sign(signed)
        blob = put_string(SK_ED25519) + put_string(sig) + bytes([flags]) + put_u32(counter)
        return armor(sshsig_blob(self.pub_blob, namespace, hash_alg, blob))


def ed25519_sshsig_with_hash_name(
    private_path: Path, message: bytes, namespace: str, hash_name: str, digest_name: str
) -> bytes:
    """An Ed25519 SSHSIG whose hash_algorithm field says ``hash_name`` (e.g. ``sha1``)."""
    key = serialization.load_ssh_private_key(private_path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError("not an Ed25519 key")
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pub = put_string("ssh-ed25519") + put_string(raw)
    sig = key.sign(to_sign(namespace, hash_name, message, digest_name))
    return armor(
        sshsig_blob(pub, namespace, hash_name, put_string("ssh-ed25519") + put_string(sig))
    )
