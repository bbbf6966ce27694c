"""The deployers' SSH public keys and the database of a request: checked for real, pure.

A key in ``deployers[i].ssh_public_key`` ends up in the deploy account's ``authorized_keys``.
That file's format lets a line start with options (``command=``, ``from=``, ``environment=``,
``no-pty``, ``restrict``...) and holds one key a line, so a value with options or a second line
would hand its author more than a key. Each value is therefore held to one line of
``type base64 [comment]`` and its blob is parsed with the signing code's strict parser
(:mod:`sop_pipeline.signing.sshkeys`, the same checks OpenSSH makes; pure, no I/O); only
the canonical ``type base64`` is ever written out (:func:`canonical_key`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.request import Request
from sop_pipeline.domain.rules import Problem

if TYPE_CHECKING:
    from sop_pipeline.signing.sshkeys import PublicKey

#: The key types a deployer may use; DSA, certificates and anything else are refused.
RSA = "ssh-rsa"
DEPLOY_KEY_TYPES = (
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    RSA,
)
RSA_MIN_BITS = 3072
_ALLOWED = ", ".join(t for t in DEPLOY_KEY_TYPES if t != RSA) + f", ssh-rsa >= {RSA_MIN_BITS} bit"
# A comment after the key: printable ASCII, short. It is never written out.
_COMMENT = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*\Z")
# authorized_keys options without a value (those with one contain '=').
_OPTION_WORDS = frozenset(
    {"restrict", "cert-authority", "no-agent-forwarding", "no-port-forwarding", "no-pty",
     "no-user-rc", "no-X11-forwarding", "agent-forwarding", "port-forwarding", "pty", "user-rc",
     "X11-forwarding", "no-touch-required", "touch-required", "verify-required"}
)  # fmt: skip
# Names the engines keep for themselves; a database may not take one.
RESERVED_DATABASES = frozenset(
    {"mysql", "information_schema", "performance_schema", "sys", "postgres", "template0",
     "template1"}
)  # fmt: skip


def parse_deploy_key(text: str) -> tuple[PublicKey | None, str, str]:
    """(key, rule, message): the parsed key and "" "", or None with the rule that refused it
    and an Indonesian message. Never raises for any text."""
    if any(ch in text for ch in "\r\n\x00") or any(ord(ch) < 0x20 and ch != "\t" for ch in text):
        return (
            None,
            "deploy-key-one-line",
            (
                "kunci SSH harus satu baris tanpa baris baru atau karakter kendali; "
                "satu kunci untuk satu orang"
            ),
        )
    if "\t" in text or "  " in text.strip() or text != text.strip():
        return (
            None,
            "deploy-key-spacing",
            (
                "pisahkan jenis, base64 dan komentar dengan satu spasi, tanpa tab dan "
                "tanpa spasi di awal/akhir"
            ),
        )
    fields = text.split(" ", 2)
    if fields[0] not in DEPLOY_KEY_TYPES:
        first = fields[0]
        if first in _OPTION_WORDS or any(ch in first for ch in '=,"'):
            return (
                None,
                "deploy-key-options",
                (
                    f"kunci SSH diawali opsi authorized_keys '{first[:40]}'; opsi seperti "
                    "command=, from=, environment=, no-pty atau restrict tidak diizinkan: "
                    "tulis hanya 'jenis base64 [komentar]' dari berkas .pub"
                ),
            )
        return (
            None,
            "deploy-key-type",
            (
                f"jenis kunci '{first[:60]}' tidak diizinkan; pakai salah satu: {_ALLOWED} "
                "(bukan DSA, bukan sertifikat)"
            ),
        )
    if len(fields) < 2:
        return None, "deploy-key-malformed", "kunci SSH tanpa bagian base64 sesudah jenisnya"
    if len(fields) == 3 and not _COMMENT.match(fields[2]):
        return (
            None,
            "deploy-key-comment",
            ("komentar sesudah kunci hanya boleh huruf, angka dan tanda baca ASCII"),
        )
    # Parsed by the signing code's strict parser; imported here so that validating a request
    # without deployers does not load ``cryptography``.
    from sop_pipeline.signing.sshkeys import KeyError_, parse_key_text

    try:
        key = parse_key_text(f"{fields[0]} {fields[1]}")
    except KeyError_:
        return (
            None,
            "deploy-key-malformed",
            (
                "kunci SSH tidak dapat dibaca (isi base64 rusak, terpotong, atau tidak cocok "
                f"dengan jenis {fields[0]}); salin utuh isi berkas .pub dari ssh-keygen"
            ),
        )
    if key.key_type == RSA and key.rsa_n.bit_length() < RSA_MIN_BITS:
        return (
            None,
            "deploy-key-rsa-bits",
            (
                f"kunci RSA {key.rsa_n.bit_length()} bit terlalu pendek; "
                f"minimal {RSA_MIN_BITS} bit "
                "(buat dengan 'ssh-keygen -t ed25519', atau 'ssh-keygen -t rsa -b 4096')"
            ),
        )
    return key, "", ""


def canonical_key(text: str) -> str:
    """The ``type base64`` of a key that passed :func:`parse_deploy_key` (no comment)."""
    key, rule, message = parse_deploy_key(text)
    if key is None:
        raise ValueError(f"{rule}: {message}")
    return key.openssh


def deployer_problems(data: Any) -> Iterator[Problem]:
    """Each deployer's key parsed for real, and no key or NIP twice.

    Runs on the file's data whether or not it passed its schema (every problem in one run),
    so it reads ``deployers`` defensively; a value of the wrong type is the schema's."""
    deployers = data.get("deployers") if isinstance(data, dict) else None
    if not isinstance(deployers, list):
        return
    seen_keys: dict[bytes, int] = {}
    seen_nips: dict[str, int] = {}
    for index, deployer in enumerate(deployers):
        if not isinstance(deployer, dict):
            continue
        where = f"deployers.{index}"
        text = deployer.get("ssh_public_key")
        if isinstance(text, str):
            key, rule, message = parse_deploy_key(text)
            if key is None:
                yield Problem(f"{where}.ssh_public_key", rule, message)
            elif key.blob in seen_keys:
                yield Problem(
                    f"{where}.ssh_public_key",
                    "deploy-key-duplicate",
                    f"kunci yang sama sudah dipakai deployer ke-{seen_keys[key.blob] + 1}; "
                    "setiap orang memakai kuncinya sendiri",
                )
            else:
                seen_keys[key.blob] = index
        nip = deployer.get("nip")
        if isinstance(nip, str) and nip in seen_nips:
            yield Problem(
                f"{where}.nip",
                "deployer-duplicate",
                f"NIP {nip} sudah tertulis pada deployer ke-{seen_nips[nip] + 1}",
            )
        elif isinstance(nip, str):
            seen_nips[nip] = index


def check_database(request: Request, policy: Policy) -> Iterator[Problem]:
    """The database against the policy's engines and sizes and the engines' reserved names."""
    database = request.database
    if database is None:
        return
    if database.engine not in policy.database_engines:
        allowed = ", ".join(sorted(policy.database_engines)) or "-"
        yield Problem(
            "database.engine",
            "allowed-database-engine",
            f"mesin basis data '{database.engine}' tidak dilayani; pilih salah satu: {allowed}",
        )
    if database.name in RESERVED_DATABASES:
        yield Problem(
            "database.name",
            "database-reserved",
            f"nama basis data '{database.name}' dipakai oleh mesin basis data itu sendiri; "
            "pilih nama lain (mis. nama aplikasi)",
        )
    size = policy.database_size_gb
    if not size.minimum <= database.size_gb <= size.maximum:
        yield Problem(
            "database.size_gb",
            "database-size",
            f"{database.size_gb} GiB di luar batas yang diizinkan ({size.minimum}..{size.maximum})",
        )
