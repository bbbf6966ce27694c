"""Software signers for tests and the lab: hand-made SSHSIG signatures for cases ssh-keygen
will not produce (SHA-1 RSA, odd hash names) and a software stand-in for a FIDO token.
Real private keys, real signatures; never used to verify anything."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from sop_pipeline.signing import webauthn
from sop_pipeline.signing.sshkeys import SK_ED25519
from sop_pipeline.signing.sshsig import MAGIC, armor
from sop_pipeline.signing.sshwire import put_mpint, put_string, put_u32

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


class SoftWebAuthn:
    """A software stand-in for a browser's WebAuthn credential (P-256, as a security key or
    Windows Hello makes one) whose signatures are ``webauthn-sk-ecdsa-sha2-nistp256`` SSHSIGs.

    The public key is an ``sk-ecdsa-sha2-nistp256@openssh.com`` key whose application is the
    RP ID, as the enrolment page writes it. Every field a browser or a hostile page controls
    is a keyword, so the tests can make each signature a real browser would not make.
    """

    def __init__(self, rp_id: str = "localhost") -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.rp_id = rp_id
        point = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.pub_blob = (
            put_string(webauthn.KEY_TYPE)
            + put_string("nistp256")
            + put_string(point)
            + put_string(rp_id)
        )

    @property
    def public_line(self) -> str:
        import base64

        return f"{webauthn.KEY_TYPE} {base64.b64encode(self.pub_blob).decode()}"

    def sign(
        self,
        message: bytes,
        namespace: str,
        *,
        hash_alg: str = "sha512",
        origin: str | None = None,
        flags: int | None = None,
        counter: int = 1,
        auth_rp_id: str | None = None,
        challenge: bytes | None = None,
        client_data: bytes | None = None,
        extensions: bytes = b"",
    ) -> bytes:
        """An armored SSHSIG over ``message``: by default what a browser on
        ``https://<rp_id>`` makes after a touch and a PIN (flags UP|UV)."""
        w = webauthn
        data = to_sign(namespace, hash_alg, message)
        origin = origin if origin is not None else f"https://{self.rp_id}"
        flags = flags if flags is not None else w.FLAG_UP | w.FLAG_UV
        if client_data is None:
            client_data = w.client_data_json(challenge if challenge is not None else data, origin)
        auth = w.authenticator_data(auth_rp_id or self.rp_id, flags, counter, extensions)
        der = self._key.sign(auth + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        sig = w.encode(
            r,
            s,
            flags=flags,
            counter=counter,
            origin=origin,
            client_data=client_data,
            extensions=extensions,
        )
        return armor(sshsig_blob(self.pub_blob, namespace, hash_alg, sig))

    def sign_plain(
        self, message: bytes, namespace: str, *, flags: int = 0x01, counter: int = 3
    ) -> bytes:
        """The same key signing as ``ssh-keygen -Y sign`` with a FIDO token does (PROTOCOL.u2f,
        signature type ``sk-ecdsa-sha2-nistp256@openssh.com``): no browser involved."""
        data = to_sign(namespace, "sha512", message)
        signed = (
            hashlib.sha256(self.rp_id.encode()).digest()
            + bytes([flags])
            + counter.to_bytes(4, "big")
            + hashlib.sha256(data).digest()
        )
        r, s = decode_dss_signature(self._key.sign(signed, ec.ECDSA(hashes.SHA256())))
        sig = (
            put_string(webauthn.KEY_TYPE)
            + put_string(put_mpint(r) + put_mpint(s))
            + bytes([flags])
            + put_u32(counter)
        )
        return armor(sshsig_blob(self.pub_blob, namespace, "sha512", sig))
