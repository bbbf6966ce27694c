"""The keyring under ``approvers/``: who may sign which step, read from the base branch only.

Files (see ``approvers/README.md``):

- ``allowed_signers``: OpenSSH format; one line per official's key, with ``namespaces=``
  listing the step namespaces the key may sign and ``valid-before=`` its expiry;
- ``roles.toml``: role -> principals, the threshold per step, the officials' NIP, and the
  key rotations under way (``[[rotations]]``: principal, old key, end date);
- ``revoked_keys``: public keys that must never verify again (ssh-keygen ``-r`` format).

:func:`load_from_git` reads them with ``git show <base-commit>:approvers/...`` so a merge
request can never change who approves it. :func:`lint` refuses a keyring that would let one
person pass both gates, or count twice; the gates refuse to run on a keyring with a lint
error (``gates.KeyringSound``).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import tomllib
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sop_pipeline.adapters import git
from sop_pipeline.domain.sop import Role, step
from sop_pipeline.signing import allowed_signers as signers_file
from sop_pipeline.signing import webauthn
from sop_pipeline.signing.allowed_signers import AllowedSignersError, SignerLine
from sop_pipeline.signing.errors import KeyringError
from sop_pipeline.signing.sshkeys import KeyError_, PublicKey, parse_key_text
from sop_pipeline.signing.statement import (
    CHECKPOINT_NAMESPACE,
    GATE_STEPS,
    SIGNED_STEPS,
    namespace,
)

KEYRING_DIR = "approvers"
ALLOWED_SIGNERS = "allowed_signers"
ROLES = "roles.toml"
REVOKED = "revoked_keys"
DEFAULT_MAX_STATEMENT_DAYS = 30
#: ``roles.pipeline`` in roles.toml: the pipeline's own key(s), for checkpoints only.
PIPELINE_ROLE = "pipeline"
GIT_TIMEOUT_S = 60
#: The application ``ssh-keygen -t ecdsa-sk`` gives a token key; any other is a WebAuthn RP ID.
OPENSSH_SK_APPLICATION = "ssh:"


#: A NIP (Nomor Induk Pegawai) as the keyring must write it: 18 ASCII digits, nothing else.
NIP = re.compile(r"[0-9]{18}\Z")
_NIP_SEPARATORS = re.compile(r"[\s.\-]+")


def normalize_nip(text: str) -> str:
    """The NIP as compared: NFKC (full-width digits), without spaces, dots or hyphens.

    NIPs are often printed grouped (``19800303 200501 1 003``); two spellings of one NIP must
    name one person. Lint refuses any spelling but the plain 18 digits (``nip-invalid``).
    """
    return _NIP_SEPARATORS.sub("", unicodedata.normalize("NFKC", text))


@dataclass(frozen=True)
class Person:
    principal: str
    name: str = ""
    nip: str = ""


@dataclass(frozen=True)
class Rotation:
    """``[[rotations]]``: ``principal`` moves from key ``old_key`` to its other key.

    Both keys verify until ``until``; the old key's ``allowed_signers`` line carries
    ``valid-before`` no later than ``until``, so stock ``ssh-keygen -Y verify`` stops
    accepting it at the same instant as the native verifier.
    """

    principal: str
    old_key: str  # fingerprint, ``SHA256:...`` as ``ssh-keygen -l`` prints it
    until: int  # epoch seconds
    until_text: str


@dataclass(frozen=True)
class Keyring:
    """Signers, roles and revocations, as read from one place (``source``)."""

    signers: tuple[SignerLine, ...]
    roles: Mapping[Role, tuple[str, ...]]
    thresholds: Mapping[int, int]
    revoked: tuple[PublicKey, ...]
    people: Mapping[str, Person] = field(default_factory=dict)
    rotations: tuple[Rotation, ...] = ()
    max_statement_days: int = DEFAULT_MAX_STATEMENT_DAYS
    source: str = ""
    allowed_signers_text: str = ""
    revoked_text: str = ""
    pipeline: tuple[str, ...] = ()  # principals that sign checkpoints (never an SOP step)
    #: ``policy.webauthn_rp_id``: the signing site's WebAuthn RP ID (its host name). A
    #: browser-made key's application must equal it; "" refuses every WebAuthn signature.
    webauthn_rp_id: str = ""
    #: ``policy.require_uv``: roles whose signatures must carry the FIDO UV flag (a PIN or
    #: biometrics on a security key), e.g. the gate roles ``koordinator`` and ``kabid``.
    require_uv: frozenset[Role] = frozenset()

    @property
    def revoked_blobs(self) -> frozenset[bytes]:
        return frozenset(key.blob for key in self.revoked)

    def threshold(self, step_number: int) -> int:
        return self.thresholds.get(step_number, 1)

    def roles_of(self, principal: str) -> set[Role]:
        return {role for role, principals in self.roles.items() if principal in principals}

    def nip_of(self, principal: str) -> str | None:
        """The principal's NIP (normalised, see :func:`normalize_nip`), None when unknown."""
        person = self.people.get(principal)
        nip = normalize_nip(person.nip) if person else ""
        return nip or None

    @contextmanager
    def files(self) -> Iterator[tuple[Path, Path]]:
        """``allowed_signers`` and ``revoked_keys`` as files, for ``ssh-keygen -Y verify``."""
        with tempfile.TemporaryDirectory(prefix="sop-keyring-") as tmp:
            signers = Path(tmp) / ALLOWED_SIGNERS
            revoked = Path(tmp) / REVOKED
            signers.write_text(self.allowed_signers_text, encoding="utf-8")
            revoked.write_text(self.revoked_text, encoding="utf-8")
            yield signers, revoked


def parse(*, allowed_signers: str, roles_toml: str, revoked_keys: str, source: str = "") -> Keyring:
    """A keyring from the three files' text; KeyringError naming the file and line."""
    try:
        signers = tuple(signers_file.parse(allowed_signers))
    except AllowedSignersError as err:
        raise KeyringError(f"{source}{ALLOWED_SIGNERS}: {err}") from err
    revoked: list[PublicKey] = []
    for no, line in enumerate(revoked_keys.split("\n"), start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            try:
                revoked.append(parse_key_text(text))
            except KeyError_ as err:
                raise KeyringError(f"{source}{REVOKED}:{no}: {err}") from err
    try:
        config = tomllib.loads(roles_toml)
    except tomllib.TOMLDecodeError as err:
        raise KeyringError(f"{source}{ROLES}: TOML tidak sah: {err}") from err
    pipeline = _pipeline(config, f"{source}{ROLES}")
    roles, thresholds, people, max_days = _roles(config, f"{source}{ROLES}")
    rp_id, require_uv = _signing_policy(config.get("policy", {}), f"{source}{ROLES}")
    rotations = _rotations(config.get("rotations", []), f"{source}{ROLES}")
    return Keyring(
        signers=signers,
        roles=roles,
        thresholds=thresholds,
        revoked=tuple(revoked),
        people=people,
        rotations=rotations,
        max_statement_days=max_days,
        source=source,
        allowed_signers_text=allowed_signers,
        revoked_text=revoked_keys,
        pipeline=pipeline,
        webauthn_rp_id=rp_id,
        require_uv=require_uv,
    )


def _signing_policy(policy: Any, where: str) -> tuple[str, frozenset[Role]]:
    """``policy.webauthn_rp_id`` and ``policy.require_uv`` (see :class:`Keyring`)."""
    if not isinstance(policy, dict):
        raise KeyringError(f"{where}: policy harus tabel [policy]")
    unknown = set(policy) - {"max_statement_days", "webauthn_rp_id", "require_uv"}
    if unknown:
        raise KeyringError(
            f"{where}: policy hanya mengenal max_statement_days, webauthn_rp_id, require_uv "
            f"(tak dikenal: {sorted(unknown)})"
        )
    rp_id = policy.get("webauthn_rp_id", "")
    if not isinstance(rp_id, str) or (rp_id and not webauthn.RP_ID.match(rp_id)):
        raise KeyringError(
            f"{where}: policy.webauthn_rp_id harus nama host situs penandatanganan "
            '(huruf kecil, mis. "sop.diskominfotik.sumbarprov.go.id" atau "localhost")'
        )
    names = policy.get("require_uv", [])
    officials = {r.value for r in Role} - {Role.OPD.value}
    if not isinstance(names, list) or not all(isinstance(n, str) and n in officials for n in names):
        raise KeyringError(
            f'{where}: policy.require_uv harus daftar peran pejabat, mis. ["koordinator", "kabid"]'
        )
    return rp_id, frozenset(Role(n) for n in names)


def _pipeline(config: dict[str, Any], where: str) -> tuple[str, ...]:
    """``roles.pipeline``, taken out of the table: it is no SOP role (``Role``)."""
    roles = config.get("roles", {})
    if not isinstance(roles, dict) or PIPELINE_ROLE not in roles:
        return ()
    principals = roles.pop(PIPELINE_ROLE)
    if not isinstance(principals, list) or not all(isinstance(p, str) for p in principals):
        raise KeyringError(f"{where}: roles.{PIPELINE_ROLE} harus daftar principal")
    return tuple(principals)


def _roles(
    config: dict[str, Any], where: str
) -> tuple[dict[Role, tuple[str, ...]], dict[int, int], dict[str, Person], int]:
    tables = {"schema_version", "policy", "roles", "thresholds", "people", "rotations"}
    unknown = set(config) - tables
    if unknown or config.get("schema_version") != 1:
        raise KeyringError(
            f"{where}: perlu schema_version = 1 dan hanya tabel policy, roles, "
            f"thresholds, people, rotations (tak dikenal: {sorted(unknown)})"
        )
    roles: dict[Role, tuple[str, ...]] = {}
    for name, principals in config.get("roles", {}).items():
        if name not in {r.value for r in Role} or name == Role.OPD:
            raise KeyringError(f"{where}: peran '{name}' tidak dikenal atau bukan pejabat")
        if not isinstance(principals, list) or not all(isinstance(p, str) for p in principals):
            raise KeyringError(f"{where}: roles.{name} harus daftar principal")
        roles[Role(name)] = tuple(principals)
    thresholds: dict[int, int] = {}
    for key, value in config.get("thresholds", {}).items():
        number = int(key.removeprefix("step-")) if key.removeprefix("step-").isdigit() else -1
        if number not in SIGNED_STEPS or not isinstance(value, int) or isinstance(value, bool):
            raise KeyringError(
                f"{where}: thresholds.{key} harus step-NN (langkah bertanda "
                "tangan) = bilangan bulat"
            )
        thresholds[number] = value
    people: dict[str, Person] = {}
    for principal, info in config.get("people", {}).items():
        if not isinstance(info, dict) or not isinstance(info.get("nip", ""), str):
            raise KeyringError(
                f'{where}: people."{principal}" harus tabel, dengan nip sebagai string '
                '(nip = "18 angka")'
            )
        people[principal] = Person(principal, str(info.get("name", "")), str(info.get("nip", "")))
    policy = config.get("policy", {})
    max_days = policy.get("max_statement_days", DEFAULT_MAX_STATEMENT_DAYS)
    if not isinstance(max_days, int) or max_days < 1:
        raise KeyringError(f"{where}: policy.max_statement_days harus bilangan bulat >= 1")
    return roles, thresholds, people, max_days


def _rotations(entries: Any, where: str) -> tuple[Rotation, ...]:
    """``[[rotations]]`` entries: exactly ``principal``, ``old_key``, ``until`` (UTC, ``Z``)."""
    if not isinstance(entries, list):
        raise KeyringError(f"{where}: rotations harus daftar tabel [[rotations]]")
    rotations: list[Rotation] = []
    for index, entry in enumerate(entries, start=1):
        here = f"{where}: rotations #{index}"
        if not isinstance(entry, dict) or set(entry) != {"principal", "old_key", "until"}:
            raise KeyringError(f"{here}: perlu tepat principal, old_key, until")
        if not all(isinstance(value, str) for value in entry.values()):
            raise KeyringError(f"{here}: principal, old_key dan until harus string")
        if not entry["old_key"].startswith("SHA256:"):
            raise KeyringError(f"{here}: old_key harus sidik jari SHA256:... (ssh-keygen -lf)")
        until = entry["until"]
        if not until.upper().endswith("Z"):
            raise KeyringError(f"{here}: until '{until}' harus UTC dengan akhiran Z")
        try:
            epoch = signers_file.parse_time(until)
        except AllowedSignersError as err:
            raise KeyringError(f"{here}: until: {err}") from err
        rotations.append(Rotation(entry["principal"], entry["old_key"], epoch, until))
    return tuple(rotations)


def load_from_dir(directory: Path, *, source: str | None = None) -> Keyring:
    """From a folder on disk: the trusted tree of the base commit (``source`` names it), a
    proposed keyring for ``sop keyring lint --dir``, or a test's."""

    def read(name: str) -> str:
        try:
            return (directory / name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise KeyringError(f"{directory / name}: tidak dapat dibaca: {err}") from err

    return parse(
        allowed_signers=read(ALLOWED_SIGNERS),
        roles_toml=read(ROLES),
        revoked_keys=read(REVOKED),
        source=source or f"{directory}/",
    )


def _git(repo: Path, *args: str) -> bytes:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise KeyringError(f"git gagal dijalankan: {err}") from err
    if done.returncode != 0:
        raise KeyringError(f"git {' '.join(args)}: {done.stderr.decode(errors='replace').strip()}")
    return done.stdout


def resolve_base(repo: Path, base: str) -> str:
    """The commit id of the base branch, resolved strictly (``adapters.git.resolve_base``:
    a full ref or commit id, or a short name only one branch and no tag or other ref has)."""
    try:
        return git.resolve_base(repo, base)
    except git.GitError as err:
        raise KeyringError(err.diagnostics()) from err


MAX_KEYRING_FILE_BYTES = 1024 * 1024


def load_from_git(repo: Path, base: str) -> Keyring:
    """From the base branch commit, never from the working copy or the merge request."""
    commit = resolve_base(repo, base)
    names = (ALLOWED_SIGNERS, ROLES, REVOKED)
    try:  # regular files of the commit only: a committed symlink is never followed
        blobs = git.read_blobs(
            repo, commit, [f"{KEYRING_DIR}/{n}" for n in names], limit=MAX_KEYRING_FILE_BYTES
        )
    except (git.GitError, FileNotFoundError) as err:
        raise KeyringError(f"{KEYRING_DIR}/ di {base} ({commit[:12]}): {err}") from err

    def text(name: str) -> str:
        try:
            return blobs[f"{KEYRING_DIR}/{name}"].decode("utf-8")
        except UnicodeDecodeError as err:
            raise KeyringError(f"{KEYRING_DIR}/{name} di {base}: bukan UTF-8") from err

    return parse(
        allowed_signers=text(ALLOWED_SIGNERS),
        roles_toml=text(ROLES),
        revoked_keys=text(REVOKED),
        source=f"{base}@{commit[:12]}:{KEYRING_DIR}/",
    )


@dataclass(frozen=True)
class Finding:
    """One lint result. ``severity``: ``error`` refuses the keyring, ``warning`` does not."""

    rule: str
    severity: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.message} [{self.rule}]"


def lint(keyring: Keyring, *, at: datetime) -> list[Finding]:
    """Every problem of the keyring at time ``at`` (chosen by the caller)."""
    findings: list[Finding] = []

    def error(rule: str, message: str) -> None:
        findings.append(Finding(rule, "error", message))

    def warn(rule: str, message: str) -> None:
        findings.append(Finding(rule, "warning", message))

    epoch = int(at.timestamp())
    revoked = keyring.revoked_blobs
    gate_roles = {step(n).actor for n in GATE_STEPS}
    where = f"{keyring.source}{ALLOWED_SIGNERS}"
    finished = _lint_rotations(keyring, epoch, error, warn)
    principals_by_key: dict[bytes, set[str]] = {}
    for line in keyring.signers:
        loc = f"{where}:{line.line_no}"
        if line.cert_authority:
            error(
                "cert-authority",
                f"{loc}: cert-authority tidak didukung; daftarkan kunci pejabat langsung",
            )
        for principal in line.principal_list:
            if signers_file.has_wildcard(principal):
                error(
                    "wildcard-principal",
                    f"{loc}: principal '{principal}' memakai pola "
                    "(*, ?, !); tiap pejabat harus tertulis persis",
                )
            principals_by_key.setdefault(line.key.blob, set()).add(principal)
        if line.namespaces is None:
            error(
                "namespaces-missing",
                f"{loc}: kunci tanpa namespaces= berlaku untuk semua "
                "namespace; batasi ke langkah SOP pejabat itu",
            )
        if line.valid_before is not None and line.valid_before < epoch:
            if line.line_no not in finished:  # a finished rotation's old key: rotation-ended
                error(
                    "expired-key",
                    f"{loc}: kunci {line.key.fingerprint} kedaluwarsa "
                    f"(valid-before {line.valid_before_text})",
                )
        elif line.valid_before is None:
            warn("no-expiry", f"{loc}: kunci tanpa valid-before; tetapkan masa berlaku")
        if line.valid_after is not None and line.valid_after > epoch:
            warn(
                "not-yet-valid", f"{loc}: kunci belum berlaku (valid-after {line.valid_after_text})"
            )
        for text in (line.valid_after_text, line.valid_before_text):
            if text and not text.upper().endswith("Z"):
                warn("time-without-utc", f"{loc}: waktu '{text}' tanpa akhiran Z (UTC)")
        if line.key.blob in revoked:
            warn(
                "revoked-key-listed",
                f"{loc}: kunci {line.key.fingerprint} sudah dicabut; hapus dari allowed_signers",
            )
        for principal in line.principal_list:
            for n in SIGNED_STEPS:
                ns_ok = line.namespaces is None or (
                    signers_file.match_pattern_list(namespace(n), line.namespaces) == 1
                )
                if ns_ok and step(n).actor not in keyring.roles_of(principal):
                    warn(
                        "namespace-beyond-role",
                        f"{loc}: {principal} boleh menandatangani "
                        f"namespace langkah {n} tetapi tidak memegang peran {step(n).actor}",
                    )
    for principals in principals_by_key.values():
        if len(principals) > 1:
            error(
                "shared-key",
                f"{where}: satu kunci dipakai oleh beberapa principal {sorted(principals)}",
            )
        roles = set().union(*(keyring.roles_of(p) for p in principals)) & gate_roles
        if len(roles) > 1:
            error(
                "key-in-two-gate-roles",
                f"{where}: satu kunci melayani dua peran gerbang "
                f"{sorted(roles)} (verifikasi dan keputusan harus dua orang)",
            )
    for role, members in keyring.roles.items():
        for principal in members:
            if signers_file.has_wildcard(principal):
                error(
                    "wildcard-principal",
                    f"{keyring.source}{ROLES}: roles.{role} memuat pola '{principal}'",
                )
    gate_principals = [set(keyring.roles.get(r, ())) for r in gate_roles]
    for principal in set.intersection(*gate_principals) if gate_principals else set():
        error(
            "principal-in-two-gate-roles",
            f"{keyring.source}{ROLES}: {principal} memegang dua peran gerbang {sorted(gate_roles)}",
        )
    known = {p for line in keyring.signers for p in line.principal_list}
    for role, members in keyring.roles.items():
        for principal in members:
            if principal not in known:
                error(
                    "principal-without-key",
                    f"{keyring.source}{ROLES}: {principal} "
                    f"(roles.{role}) tidak punya kunci di allowed_signers",
                )
    _lint_keys_per_principal(keyring, error)
    _lint_security_keys(keyring, error)
    _lint_people(keyring, error)
    _lint_pipeline(keyring, error)
    for n in SIGNED_STEPS:
        threshold = keyring.threshold(n)
        role = step(n).actor
        if threshold < 1:
            error("threshold-invalid", f"{keyring.source}{ROLES}: ambang langkah {n} harus >= 1")
        usable = [
            p
            for p in keyring.roles.get(role, ())
            if not signers_file.has_wildcard(p) and _usable(keyring, p, n, epoch)
        ]
        if len(usable) < max(threshold, 1):
            error(
                "role-below-threshold",
                f"{keyring.source}{ROLES}: peran {role} punya "
                f"{len(usable)} pejabat dengan kunci berlaku untuk langkah {n}, perlu "
                f"{max(threshold, 1)}",
            )
    return findings


Report = Callable[[str, str], None]


def _keys_of(keyring: Keyring) -> dict[str, dict[bytes, list[SignerLine]]]:
    """principal -> key blob -> the lines listing that key for it (literal principals)."""
    keys: dict[str, dict[bytes, list[SignerLine]]] = {}
    for line in keyring.signers:
        for principal in line.principal_list:
            if not signers_file.has_wildcard(principal):
                keys.setdefault(principal, {}).setdefault(line.key.blob, []).append(line)
    return keys


def _lint_rotations(keyring: Keyring, epoch: int, error: Report, warn: Report) -> set[int]:
    """The ``[[rotations]]`` markers; returns the line numbers of old keys whose rotation ended.

    A marker allows a principal a second key for a while: it names the old key and an end
    date, and the old key's line must stop at that date (``valid-before``), so that both
    verifiers drop it at the same instant without reading this file.
    """
    where = f"{keyring.source}{ROLES}"
    keys_of = _keys_of(keyring)
    finished: set[int] = set()
    seen: set[str] = set()
    for r in keyring.rotations:
        here = f"{where}: rotations ({r.principal}, {r.old_key})"
        if r.principal in seen:
            error("rotation-invalid", f"{here}: lebih dari satu rotasi untuk principal ini")
            continue
        seen.add(r.principal)
        keys = keys_of.get(r.principal, {})
        old = [lines for lines in keys.values() if lines[0].key.fingerprint == r.old_key]
        if not old:
            error(
                "rotation-invalid",
                f"{here}: kunci lama tidak terdaftar untuk {r.principal} di allowed_signers",
            )
            continue
        if len(keys) < 2:
            error("rotation-invalid", f"{here}: {r.principal} tidak punya kunci baru")
        lines = old[0]
        if any(line.valid_before is None or line.valid_before > r.until for line in lines):
            error(
                "rotation-valid-before",
                f"{here}: baris kunci lama ({', '.join(str(x.line_no) for x in lines)}) harus "
                f'memuat valid-before="{r.until_text}" (paling lambat akhir rotasi)',
            )
        still_valid = [x for x in lines if x.valid_before is None or x.valid_before >= epoch]
        if epoch > r.until and still_valid:
            error(
                "rotation-expired",
                f"{here}: masa rotasi berakhir {r.until_text}, tetapi kunci lama masih berlaku; "
                "hapus baris kunci lama",
            )
        elif not still_valid:
            finished.update(x.line_no for x in lines)
            warn(
                "rotation-ended",
                f"{here}: rotasi selesai (kunci lama berakhir); hapus baris kunci lama dari "
                "allowed_signers dan penanda ini dari roles.toml",
            )
    return finished


def _lint_keys_per_principal(keyring: Keyring, error: Report) -> None:
    """One key per principal, except the two keys of a marked rotation; one spelling each."""
    where = f"{keyring.source}{ALLOWED_SIGNERS}"
    rotation = {r.principal: r.old_key for r in keyring.rotations}
    for principal, keys in _keys_of(keyring).items():
        if len(keys) < 2:
            continue
        marked = rotation.get(principal)
        if len(keys) == 2 and any(lines[0].key.fingerprint == marked for lines in keys.values()):
            continue
        lines = sorted(x.line_no for group in keys.values() for x in group)
        error(
            "principal-multiple-keys",
            f"{where}: {principal} punya {len(keys)} kunci berbeda (baris "
            f"{', '.join(map(str, lines))}); satu kunci per principal, kecuali rotasi kunci "
            "dengan penanda [[rotations]] di roles.toml (kunci lama dan tanggal akhir)",
        )
    spellings: dict[str, set[str]] = {}
    named = [p for line in keyring.signers for p in line.principal_list]
    named += [p for members in keyring.roles.values() for p in members]
    for principal in named:
        spellings.setdefault(principal.casefold(), set()).add(principal)
    for variants in spellings.values():
        if len(variants) > 1:
            error(
                "principal-case-variant",
                f"{keyring.source}: principal {sorted(variants)} hanya berbeda huruf besar/kecil; "
                "satu pejabat, satu ejaan",
            )


def _lint_security_keys(keyring: Keyring, error: Report) -> None:
    """FIDO keys: one made in a browser (application other than ``ssh:...``) belongs to our
    WebAuthn RP ID; a role under ``policy.require_uv`` signs with security keys only."""
    where = f"{keyring.source}{ALLOWED_SIGNERS}"
    rp_id = keyring.webauthn_rp_id
    for line in keyring.signers:
        key = line.key
        if not key.is_security_key or key.application.startswith(OPENSSH_SK_APPLICATION):
            continue
        if key.application != rp_id:
            expected = f"'{rp_id}'" if rp_id else "policy.webauthn_rp_id (belum ditetapkan)"
            error(
                "sk-application-not-rp-id",
                f"{where}:{line.line_no}: kunci keamanan {key.fingerprint} dibuat untuk situs "
                f"(RP ID) '{key.application}', bukan {expected} di roles.toml; tanda "
                "tangannya dari peramban akan ditolak",
            )
    keys = _keys_of(keyring)
    for role in sorted(keyring.require_uv):
        for principal in keyring.roles.get(role, ()):
            blobs = keys.get(principal, {})
            if blobs and not any(lines[0].key.is_security_key for lines in blobs.values()):
                error(
                    "uv-role-without-security-key",
                    f"{where}: {principal} (roles.{role}) wajib verifikasi pengguna "
                    "(policy.require_uv) tetapi tidak punya kunci keamanan FIDO/WebAuthn; "
                    "daftarkan kuncinya lewat halaman pendaftaran",
                )


def _lint_pipeline(keyring: Keyring, error: Report) -> None:
    """The pipeline's key signs checkpoints and nothing else; no official signs checkpoints."""
    where = f"{keyring.source}{ALLOWED_SIGNERS}"
    pipeline = set(keyring.pipeline)
    for principal in sorted(pipeline):
        if signers_file.has_wildcard(principal):
            error("wildcard-principal", f"{keyring.source}{ROLES}: roles.pipeline memuat pola")
        if keyring.roles_of(principal):
            error(
                "pipeline-in-sop-role",
                f"{keyring.source}{ROLES}: {principal} (roles.pipeline) juga memegang peran "
                f"SOP {sorted(keyring.roles_of(principal))}; kunci pipeline hanya untuk checkpoint",
            )
        if not any(principal in line.principal_list for line in keyring.signers):
            error(
                "principal-without-key",
                f"{keyring.source}{ROLES}: {principal} (roles.pipeline) tidak punya kunci "
                "di allowed_signers",
            )
    for line in keyring.signers:
        loc = f"{where}:{line.line_no}"
        names = set(line.principal_list)
        ns = line.namespaces
        if names & pipeline:
            steps = [
                n
                for n in SIGNED_STEPS
                if ns is None or signers_file.match_pattern_list(namespace(n), ns) == 1
            ]
            if steps:
                error(
                    "pipeline-signs-step",
                    f"{loc}: kunci pipeline boleh menandatangani langkah {steps}; batasi "
                    f'namespaces="{CHECKPOINT_NAMESPACE}"',
                )
        # (no namespaces= at all is already namespaces-missing)
        elif ns is not None and signers_file.match_pattern_list(CHECKPOINT_NAMESPACE, ns) == 1:
            error(
                "checkpoint-beyond-role",
                f"{loc}: {sorted(names)} boleh menandatangani checkpoint catatan tetapi "
                "tidak di roles.pipeline",
            )


def _lint_people(keyring: Keyring, error: Report) -> None:
    """NIPs: well-formed, one principal each, never across both gates, present where needed.

    Two gates mean two people, and a threshold of two means two people: principals and keys
    are not people, so the keyring must say who each gate signer is.
    """
    where = f"{keyring.source}{ROLES}"
    gate_roles = {step(n).actor for n in GATE_STEPS}
    by_nip: dict[str, set[str]] = {}
    for principal, person in keyring.people.items():
        if not person.nip:
            continue
        if not NIP.match(person.nip):
            error(
                "nip-invalid",
                f'{where}: people."{principal}".nip "{person.nip}" harus tepat 18 angka '
                "tanpa spasi atau tanda baca",
            )
        by_nip.setdefault(normalize_nip(person.nip), set()).add(principal)
    for nip, principals in by_nip.items():
        if len(principals) > 1:
            error(
                "shared-nip",
                f"{where}: NIP {nip} tercatat untuk beberapa principal {sorted(principals)}; "
                "satu orang, satu principal",
            )
        roles = set().union(*(keyring.roles_of(p) for p in principals)) & gate_roles
        if len(roles) > 1:
            error(
                "nip-in-two-gate-roles",
                f"{where}: NIP {nip} ({', '.join(sorted(principals))}) memegang dua peran "
                f"gerbang {sorted(roles)} (verifikasi dan keputusan harus dua orang)",
            )
    for role in sorted(gate_roles):
        for principal in keyring.roles.get(role, ()):
            if not signers_file.has_wildcard(principal) and keyring.nip_of(principal) is None:
                error(
                    "gate-role-without-nip",
                    f'{where}: {principal} (roles.{role}, peran gerbang) tanpa NIP di [people."'
                    f'{principal}"]; tanpa NIP dua gerbang tidak dapat dipastikan dua orang',
                )
    for n in SIGNED_STEPS:
        role = step(n).actor
        if keyring.threshold(n) < 2 or role in gate_roles:
            continue
        for principal in keyring.roles.get(role, ()):
            if not signers_file.has_wildcard(principal) and keyring.nip_of(principal) is None:
                error(
                    "threshold-role-without-nip",
                    f'{where}: {principal} (roles.{role}) tanpa NIP di [people."{principal}"], '
                    f"padahal langkah {n} perlu {keyring.threshold(n)} orang berbeda",
                )


def _usable(keyring: Keyring, principal: str, step_number: int, epoch: int) -> bool:
    revoked = keyring.revoked_blobs
    return any(
        line.key.blob not in revoked
        and line.permits(
            principal=principal, key=line.key, namespace=namespace(step_number), at=epoch
        )
        for line in keyring.signers
    )


def errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]
