"""SSHSIG (OpenSSH PROTOCOL.sshsig): sign with ``ssh-keygen -Y sign``, verify two ways.

- :class:`SshKeygen` is the adapter over the ``ssh-keygen`` binary: it signs (with a key
  file, a public key whose private half is in ssh-agent, or a FIDO ``sk-`` key handle; the
  binary itself talks to the agent or the token) and verifies with ``-Y verify`` against an
  ``allowed_signers`` file, a revocation list and a verification time we choose.
- :func:`verify_native` does the same decision in-process with ``cryptography``, parsing the
  armor and the blob itself, about 50 times faster. The tests and the attack suite check that
  the two give the same verdict on every case.

Both answer with a :class:`Verdict`; neither ever takes a time, a principal or a key from
the signature: the caller passes the keyring, the principal and the time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sop_pipeline.signing import allowed_signers as signers_file
from sop_pipeline.signing.allowed_signers import SignerLine
from sop_pipeline.signing.errors import SignatureInvalid, SshKeygenError
from sop_pipeline.signing.sshkeys import (
    SK_USER_PRESENCE,
    SK_USER_VERIFIED,
    KeyError_,
    PublicKey,
    RawVerdict,
    parse_key_blob,
    verify_raw,
)
from sop_pipeline.signing.sshwire import Reader, WireError, put_string
from sop_pipeline.signing.webauthn import Assertion

MAGIC = b"SSHSIG"
SIG_VERSION = 1
BEGIN = b"-----BEGIN SSH SIGNATURE-----\n"
END = b"-----END SSH SIGNATURE-----"
HASH_ALGORITHMS = {"sha256": hashlib.sha256, "sha512": hashlib.sha512}
_B64_WHITESPACE = b" \t\n\r\v\f"
SSH_KEYGEN_TIMEOUT_S = 120  # a FIDO key waits for a touch


@dataclass(frozen=True)
class ParsedSignature:
    """The fields of an SSHSIG blob."""

    version: int
    key: PublicKey
    namespace: str
    reserved: bytes
    hash_algorithm: str
    signature: bytes


@dataclass(frozen=True)
class Verdict:
    """One signature check. ``rule`` is a short English id; ``message`` is for officials."""

    ok: bool
    rule: str
    message: str
    fingerprint: str = ""
    key_type: str = ""
    sk_flags: int | None = None
    sk_counter: int | None = None
    webauthn: Assertion | None = None  # a browser's signature (webauthn-sk-ecdsa) only

    @property
    def user_present(self) -> bool:
        """The FIDO UP flag (a touch); False for keys that are no security key."""
        return bool((self.sk_flags or 0) & SK_USER_PRESENCE)

    @property
    def user_verified(self) -> bool:
        """The FIDO UV flag (PIN or biometrics); False for keys that are no security key."""
        return bool((self.sk_flags or 0) & SK_USER_VERIFIED)


def armor(blob: bytes) -> bytes:
    """The armored form ``ssh-keygen`` writes (76 columns of base64)."""
    b64 = base64.b64encode(blob)
    lines = [b64[i : i + 76] for i in range(0, len(b64), 76)]
    return BEGIN + b"\n".join(lines) + b"\n" + END + b"\n"


def dearmor(armored: bytes) -> bytes:
    """The blob inside the armor, read as ``sshsig_dearmor`` reads it."""
    if not armored.startswith(BEGIN):
        raise SignatureInvalid("tanda tangan tidak diawali '-----BEGIN SSH SIGNATURE-----'")
    body = armored[len(BEGIN) :]
    end = body.find(b"\n" + END)
    if end < 0:
        raise SignatureInvalid("tanda tangan tidak diakhiri '-----END SSH SIGNATURE-----'")
    b64 = bytes(c for c in body[:end] if c not in _B64_WHITESPACE)
    try:
        blob = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as err:
        raise SignatureInvalid("isi tanda tangan bukan base64 yang sah") from err
    if base64.b64encode(blob) != b64:  # b64_pton refuses non-zero padding bits
        raise SignatureInvalid("isi tanda tangan bukan base64 yang sah")
    return blob


def parse_blob(blob: bytes) -> ParsedSignature:
    """The SSHSIG blob's fields; SignatureInvalid for anything ``ssh-keygen`` would refuse."""
    try:
        reader = Reader(blob)
        if reader.raw(len(MAGIC)) != MAGIC:
            raise SignatureInvalid("bukan tanda tangan SSHSIG")
        version = reader.u32()
        if version > SIG_VERSION:
            raise SignatureInvalid(f"versi SSHSIG {version} tidak didukung")
        key_blob = reader.string()
        namespace = reader.cstring()
        reserved = reader.string()
        hash_algorithm = reader.cstring()
        signature = reader.string()
        reader.end()
    except WireError as err:
        raise SignatureInvalid(f"struktur tanda tangan rusak ({err})") from err
    if hash_algorithm not in HASH_ALGORITHMS:
        raise SignatureInvalid(f"algoritme hash {hash_algorithm!r} tidak didukung")
    try:
        key = parse_key_blob(key_blob)
    except KeyError_ as err:
        raise SignatureInvalid(f"kunci dalam tanda tangan tidak dapat dipakai ({err})") from err
    return ParsedSignature(version, key, namespace, reserved, hash_algorithm, signature)


def parse_armored(armored: bytes) -> ParsedSignature:
    return parse_blob(dearmor(armored))


def signed_data(namespace: str, hash_algorithm: str, message: bytes) -> bytes:
    """What the key actually signs (PROTOCOL.sshsig section 3)."""
    digest = HASH_ALGORITHMS[hash_algorithm](message).digest()
    return (
        MAGIC
        + put_string(namespace)
        + put_string(b"")
        + put_string(hash_algorithm)
        + put_string(digest)
    )


def check_signature(message: bytes, armored: bytes, namespace: str) -> tuple[PublicKey, RawVerdict]:
    """Signature math and namespace only (no keyring): which key signed, if it holds."""
    parsed = parse_armored(armored)
    if parsed.namespace != namespace:
        raise SignatureInvalid(
            f"namespace tanda tangan '{parsed.namespace}' bukan '{namespace}' [wrong-namespace]"
        )
    try:
        raw = verify_raw(
            parsed.key, parsed.signature, signed_data(namespace, parsed.hash_algorithm, message)
        )
    except KeyError_ as err:
        raise SignatureInvalid(f"tanda tangan tidak cocok dengan isi berkas ({err})") from err
    return parsed.key, raw


def verify_native(
    message: bytes,
    armored: bytes,
    *,
    principal: str,
    namespace: str,
    signers: Sequence[SignerLine],
    revoked: frozenset[bytes],
    at: datetime,
) -> Verdict:
    """``ssh-keygen -Y verify -I principal -n namespace -r revoked -Overify-time=at``, natively."""
    try:
        key, raw = check_signature(message, armored, namespace)
    except SignatureInvalid as err:
        return Verdict(False, "bad-signature", str(err))

    def verdict(ok: bool, rule: str, message: str) -> Verdict:
        return Verdict(
            ok,
            rule,
            message,
            key.fingerprint,
            key.key_type,
            raw.sk_flags,
            raw.sk_counter,
            raw.webauthn,
        )

    if key.blob in revoked:
        return verdict(False, "revoked-key", f"kunci {key.fingerprint} telah dicabut")
    epoch = _epoch(at)
    if not signers_file.permitted(
        signers, principal=principal, key=key, namespace=namespace, at=epoch
    ):
        return verdict(
            False,
            "not-allowed-signer",
            f"kunci {key.fingerprint} tidak berhak menandatangani sebagai {principal} "
            f"untuk '{namespace}' pada waktu verifikasi (tidak terdaftar, "
            "namespace lain, atau kedaluwarsa)",
        )
    return verdict(True, "ok", f"tanda tangan sah dari {principal}")


def principals_for_key(
    signers: Sequence[SignerLine], key: PublicKey, *, namespace: str, at: datetime
) -> list[str]:
    """Literal principals the keyring gives this key here and now (``-Y find-principals``)."""
    epoch = _epoch(at)
    found: list[str] = []
    for line in signers:
        if line.cert_authority or line.key.blob != key.blob:
            continue
        for principal in line.principal_list:
            if signers_file.has_wildcard(principal):
                continue
            if line.permits(principal=principal, key=key, namespace=namespace, at=epoch):
                found.append(principal)
    return sorted(set(found))


def _epoch(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("verification time must carry a time zone")
    return int(at.timestamp())


def verify_time_option(at: datetime) -> str:
    return "verify-time=" + at.astimezone(UTC).strftime("%Y%m%d%H%M%SZ")


class SshKeygen:
    """The adapter over OpenSSH's ``ssh-keygen`` (``-Y sign`` and ``-Y verify``)."""

    def __init__(self, binary: str | None = None) -> None:
        found = binary or shutil.which("ssh-keygen")
        if not found:
            raise SshKeygenError(
                "ssh-keygen tidak ditemukan; pasang paket openssh-client (apt-get install "
                "openssh-client)"
            )
        self.binary = found

    def _run(
        self, argv: list[str], stdin: bytes, env: dict[str, str]
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            return subprocess.run(
                [self.binary, *argv],
                input=stdin,
                capture_output=True,
                env=env,
                timeout=SSH_KEYGEN_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            raise SshKeygenError(f"ssh-keygen gagal dijalankan: {err}") from err

    @staticmethod
    def _env(agent_socket: str | None = None) -> dict[str, str]:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TZ": "UTC", "LC_ALL": "C"}
        if "HOME" in os.environ:
            env["HOME"] = os.environ["HOME"]
        if agent_socket:
            env["SSH_AUTH_SOCK"] = agent_socket
        for name in ("SSH_SK_PROVIDER",):
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    def sign(
        self,
        message: bytes,
        *,
        key: Path,
        namespace: str,
        agent_socket: str | None = None,
        hash_algorithm: str = "sha512",
    ) -> bytes:
        """Armored SSHSIG over ``message``. ``key``: private key, FIDO key handle, or a ``.pub``
        whose private key is in the agent at ``agent_socket`` (or ``$SSH_AUTH_SOCK``)."""
        if hash_algorithm not in HASH_ALGORITHMS:
            raise SshKeygenError(f"algoritme hash {hash_algorithm} tidak didukung")
        socket = agent_socket or os.environ.get("SSH_AUTH_SOCK")
        argv = [
            "-Y",
            "sign",
            "-q",
            "-f",
            str(key),
            "-n",
            namespace,
            "-O",
            f"hashalg={hash_algorithm}",
        ]
        if agent_socket:
            argv.insert(2, "-U")
        done = self._run(argv, message, self._env(socket))
        if done.returncode != 0 or not done.stdout.startswith(BEGIN):
            detail = done.stderr.decode(errors="replace").strip().splitlines()
            raise SshKeygenError(
                "ssh-keygen -Y sign gagal: " + (detail[-1] if detail else f"kode {done.returncode}")
            )
        return done.stdout

    def verify(
        self,
        message: bytes,
        armored: bytes,
        *,
        principal: str,
        namespace: str,
        allowed_signers: Path,
        revoked: Path,
        at: datetime,
    ) -> Verdict:
        """``ssh-keygen -Y verify`` with the verification time we choose."""
        if "\0" in principal or "\0" in namespace:  # argv cannot carry it: refuse, never crash
            return Verdict(
                False, "ssh-keygen-refused", "principal atau namespace memuat bita NUL; ditolak"
            )
        with tempfile.TemporaryDirectory(prefix="sop-sig-") as tmp:
            sig_path = Path(tmp) / "statement.sig"
            sig_path.write_bytes(armored)
            argv = [
                "-Y",
                "verify",
                "-f",
                str(allowed_signers),
                "-I",
                principal,
                "-n",
                namespace,
                "-s",
                str(sig_path),
                "-r",
                str(revoked),
                "-O",
                verify_time_option(at),
            ]
            done = self._run(argv, message, self._env())
        if done.returncode == 0:
            return Verdict(True, "ok", f"tanda tangan sah dari {principal} (ssh-keygen)")
        reason = done.stderr.decode(errors="replace").strip().splitlines()
        return Verdict(
            False,
            "ssh-keygen-refused",
            "ssh-keygen menolak tanda tangan" + (f": {reason[-1]}" if reason else ""),
        )
