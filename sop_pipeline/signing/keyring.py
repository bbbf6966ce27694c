"""The keyring under ``approvers/``: who may sign which step, read from the base branch only.

Files (see ``approvers/README.md``):

- ``allowed_signers``: OpenSSH format; one line per official's key, with ``namespaces=``
  listing the step namespaces the key may sign and ``valid-before=`` its expiry;
- ``roles.toml``: role -> principals, the threshold per step, the officials' NIP;
- ``revoked_keys``: public keys that must never verify again (ssh-keygen ``-r`` format).

:func:`load_from_git` reads them with ``git show <base-commit>:approvers/...`` so a merge
request can never change who approves it. :func:`lint` refuses a keyring that would let one
person pass both gates.
"""

from __future__ import annotations

import subprocess
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sop_pipeline.domain.sop import Role, step
from sop_pipeline.signing import allowed_signers as signers_file
from sop_pipeline.signing.allowed_signers import AllowedSignersError, SignerLine
from sop_pipeline.signing.errors import KeyringError
from sop_pipeline.signing.sshkeys import KeyError_, PublicKey, parse_key_text
from sop_pipeline.signing.statement import GATE_STEPS, SIGNED_STEPS, namespace

KEYRING_DIR = "approvers"
ALLOWED_SIGNERS = "allowed_signers"
ROLES = "roles.toml"
REVOKED = "revoked_keys"
DEFAULT_MAX_STATEMENT_DAYS = 30
GIT_TIMEOUT_S = 60


@dataclass(frozen=True)
class Person:
    principal: str
    name: str = ""
    nip: str = ""


@dataclass(frozen=True)
class Keyring:
    """Signers, roles and revocations, as read from one place (``source``)."""

    signers: tuple[SignerLine, ...]
    roles: Mapping[Role, tuple[str, ...]]
    thresholds: Mapping[int, int]
    revoked: tuple[PublicKey, ...]
    people: Mapping[str, Person] = field(default_factory=dict)
    max_statement_days: int = DEFAULT_MAX_STATEMENT_DAYS
    source: str = ""
    allowed_signers_text: str = ""
    revoked_text: str = ""

    @property
    def revoked_blobs(self) -> frozenset[bytes]:
        return frozenset(key.blob for key in self.revoked)

    def threshold(self, step_number: int) -> int:
        return self.thresholds.get(step_number, 1)

    def roles_of(self, principal: str) -> set[Role]:
        return {role for role, principals in self.roles.items() if principal in principals}

    def nip_of(self, principal: str) -> str | None:
        person = self.people.get(principal)
        return person.nip if person and person.nip else None

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
    roles, thresholds, people, max_days = _roles(config, f"{source}{ROLES}")
    return Keyring(
        signers=signers,
        roles=roles,
        thresholds=thresholds,
        revoked=tuple(revoked),
        people=people,
        max_statement_days=max_days,
        source=source,
        allowed_signers_text=allowed_signers,
        revoked_text=revoked_keys,
    )


def _roles(
    config: dict[str, Any], where: str
) -> tuple[dict[Role, tuple[str, ...]], dict[int, int], dict[str, Person], int]:
    unknown = set(config) - {"schema_version", "policy", "roles", "thresholds", "people"}
    if unknown or config.get("schema_version") != 1:
        raise KeyringError(
            f"{where}: perlu schema_version = 1 dan hanya tabel policy, roles, "
            f"thresholds, people (tak dikenal: {sorted(unknown)})"
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
        if not isinstance(info, dict):
            raise KeyringError(f'{where}: people."{principal}" harus tabel')
        people[principal] = Person(principal, str(info.get("name", "")), str(info.get("nip", "")))
    policy = config.get("policy", {})
    max_days = policy.get("max_statement_days", DEFAULT_MAX_STATEMENT_DAYS)
    if not isinstance(max_days, int) or max_days < 1:
        raise KeyringError(f"{where}: policy.max_statement_days harus bilangan bulat >= 1")
    return roles, thresholds, people, max_days


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
    """The commit id of the base branch (``main``, ``origin/main``...)."""
    return _git(repo, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}").decode().strip()


def load_from_git(repo: Path, base: str) -> Keyring:
    """From the base branch commit, never from the working copy or the merge request."""
    commit = resolve_base(repo, base)

    def show(name: str) -> str:
        try:
            return _git(repo, "show", f"{commit}:{KEYRING_DIR}/{name}").decode("utf-8")
        except UnicodeDecodeError as err:
            raise KeyringError(f"{KEYRING_DIR}/{name} di {base}: bukan UTF-8") from err

    return parse(
        allowed_signers=show(ALLOWED_SIGNERS),
        roles_toml=show(ROLES),
        revoked_keys=show(REVOKED),
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
