"""Statement files next to the request, and the check of each one.

Layout (``docs/approvals.md``)::

    requests/<id>.yaml
    requests/<id>.approvals/step-04-koordinator.json       canonical statement
    requests/<id>.approvals/step-04-koordinator.json.sig   ssh-keygen -Y sign output
    requests/<id>.approvals/step-06-tim_teknis-2.json      a second signer (threshold 2)

A statement holds only if every check below passes; each failure is reported in Indonesian
with the rule id in brackets. The file name is a label, never trusted: its step and role
must match the statement's, and the principal comes from the keyring (the key that verifies),
compared with the statement's ``signer``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from sop_pipeline.domain.sop import Role
from sop_pipeline.safefile import UnsafeFile, list_folder, read_regular
from sop_pipeline.signing import statement as st
from sop_pipeline.signing import webauthn
from sop_pipeline.signing.errors import SignatureInvalid, StatementInvalid
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.signing.sshkeys import PublicKey
from sop_pipeline.signing.sshsig import (
    SshKeygen,
    Verdict,
    parse_armored,
    principals_for_key,
    verify_native,
)
from sop_pipeline.signing.subject import Subject

FILE_NAME = re.compile(r"step-(\d{2})-([a-z_]+)(?:-([2-9]|[1-9]\d))?\.json\Z")
SIG_SUFFIX = ".sig"
#: An armored SSHSIG is a few kilobytes at most (RSA-8192 or a WebAuthn signature included).
MAX_SIGNATURE_BYTES = 16 * 1024
CLOCK_SKEW = timedelta(minutes=5)
#: Steps whose statements bind the request's exact bytes. Steps 2-3 dispose of the letter:
#: they bind its id and attachments, and stay valid when the OPD fixes the YAML at step 4.
DIGEST_BOUND_FROM_STEP = 4


class VerifyMode(StrEnum):
    NATIVE = "native"
    SSH_KEYGEN = "ssh-keygen"
    BOTH = "both"  # both must agree; a disagreement refuses the statement


def file_name(step_number: int, index: int = 1) -> str:
    role = st.role_of(step_number)
    suffix = "" if index == 1 else f"-{index}"
    return f"step-{step_number:02d}-{role}{suffix}.json"


def signature_path(statement_path: Path) -> Path:
    return statement_path.with_name(statement_path.name + SIG_SUFFIX)


@dataclass(frozen=True)
class Checked:
    """One statement file and what its check found."""

    path: Path
    statement: st.Statement | None
    sha256: str
    principal: str = ""
    fingerprint: str = ""
    problems: tuple[str, ...] = ()
    native: Verdict | None = None
    ssh_keygen: Verdict | None = None
    source: str = ""  # "" for the folder; the commit for a statement read from Git history

    @property
    def ok(self) -> bool:
        return self.statement is not None and not self.problems

    @property
    def step(self) -> int:
        return self.statement.step if self.statement else 0


class Verifier:
    """Checks statements against one keyring at one verification time (chosen by the caller)."""

    def __init__(
        self,
        keyring: Keyring,
        *,
        at: datetime,
        mode: VerifyMode = VerifyMode.BOTH,
        ssh_keygen: SshKeygen | None = None,
    ) -> None:
        if at.tzinfo is None:
            raise ValueError("verification time must carry a time zone")
        self.keyring = keyring
        self.at = at
        self.mode = mode
        self._ssh_keygen = ssh_keygen
        self._files: tuple[Path, Path] | None = None

    @contextmanager
    def session(self) -> Iterator[Verifier]:
        """Keeps the keyring files for ssh-keygen open while checking many statements."""
        if self.mode is VerifyMode.NATIVE:
            yield self
            return
        if self._ssh_keygen is None:
            self._ssh_keygen = SshKeygen()
        with self.keyring.files() as files:
            self._files = files
            try:
                yield self
            finally:
                self._files = None

    def check_file(self, path: Path, subject: Subject) -> Checked:
        """One statement file and its ``.sig``, read as regular files only (never through a
        link, from ``requests/`` down) and with a size limit, then checked."""
        within = path.parent.parent  # requests/: the approvals folder is walked too
        try:
            data = read_regular(path, limit=st.MAX_BYTES, within=within)
        except UnsafeFile as err:
            return Checked(path, None, "", problems=(err.problem,))
        except FileNotFoundError:
            return Checked(path, None, "", problems=(f"{path.name}: tidak ada [unreadable]",))
        sig_problem = None
        try:
            sig: bytes | None = read_regular(
                signature_path(path), limit=MAX_SIGNATURE_BYTES, within=within
            )
        except FileNotFoundError:
            sig = None
        except UnsafeFile as err:
            sig, sig_problem = None, err.problem
        try:
            return self.check_bytes(path, data, sig, subject, sig_problem=sig_problem)
        except (ValueError, RecursionError, OverflowError) as err:
            # Last line of defence: one malformed file is refused, it never stops the others.
            return Checked(
                path,
                None,
                hashlib.sha256(data).hexdigest(),
                problems=(
                    f"pernyataan tidak dapat diperiksa ({type(err).__name__}) "
                    "[malformed-statement]",
                ),
            )

    def check_bytes(
        self,
        path: Path,
        data: bytes,
        sig: bytes | None,
        subject: Subject,
        *,
        sig_problem: str | None = None,
    ) -> Checked:
        digest = hashlib.sha256(data).hexdigest()
        try:
            statement = st.parse(data)
        except StatementInvalid as err:
            problems = [f"pernyataan tidak sah: {err}"]
            if sig_problem:
                problems.append(sig_problem)
            return Checked(path, None, digest, problems=tuple(problems))
        problems = self._binding(path, statement, subject)
        if sig is None:
            problems.append(sig_problem or "berkas tanda tangan .sig tidak ada [signature-missing]")
            return Checked(path, statement, digest, problems=tuple(problems))
        native, keygen, principal, fingerprint = self._signature(data, sig, statement, problems)
        self._policy(statement, subject, problems)
        return Checked(
            path, statement, digest, principal, fingerprint, tuple(problems), native, keygen
        )

    def _binding(self, path: Path, s: st.Statement, subject: Subject) -> list[str]:
        problems: list[str] = []
        m = FILE_NAME.match(path.name)
        if not m or int(m.group(1)) != s.step or m.group(2) != s.role:
            problems.append(
                f"nama berkas {path.name} tidak cocok dengan langkah {s.step} peran "
                f"{s.role} dalam pernyataan [file-name]"
            )
        if s.request_id != subject.request_id:
            problems.append(
                f"pernyataan untuk permintaan '{s.request_id}', bukan "
                f"'{subject.request_id}' [other-request]"
            )
        if s.step >= DIGEST_BOUND_FROM_STEP and s.request_sha256 != subject.digest:
            hint = ""
            if s.request_sha256 in subject.near_digests:
                hint = (
                    "; satu-satunya perbedaan adalah akhir baris (CRLF/LF), baris baru di akhir "
                    "berkas atau BOM: kembalikan bita aslinya (git checkout berkas ini; "
                    ".gitattributes 'requests/** -text' mencegah Git mengubahnya)"
                )
            problems.append(
                "berkas permintaan berubah setelah ditandatangani (sha256 berbeda); "
                f"persetujuan batal{hint} [request-changed]"
            )
        if dict(s.attachments) != dict(subject.attachments):
            problems.append("lampiran berbeda dari yang ditandatangani [attachment-changed]")
        return problems

    def _signature(
        self, data: bytes, sig: bytes, s: st.Statement, problems: list[str]
    ) -> tuple[Verdict, Verdict | None, str, str]:
        keyring = self.keyring
        native = verify_native(
            data,
            sig,
            principal=s.signer,
            namespace=s.namespace,
            signers=keyring.signers,
            revoked=keyring.revoked_blobs,
            at=self.at,
        )
        keygen: Verdict | None = None
        if self.mode is not VerifyMode.NATIVE:
            if self._ssh_keygen is None or self._files is None:
                raise RuntimeError("Verifier.session() must be open for ssh-keygen checks")
            signers, revoked = self._files
            keygen = self._ssh_keygen.verify(
                data,
                sig,
                principal=s.signer,
                namespace=s.namespace,
                allowed_signers=signers,
                revoked=revoked,
                at=self.at,
            )
        if keygen is not None and keygen.ok != native.ok:
            problems.append(
                "verifikasi bawaan dan ssh-keygen tidak sepakat; ditolak [verifier-disagreement]"
            )
        decisive = keygen if self.mode is VerifyMode.SSH_KEYGEN and keygen else native
        if not decisive.ok:
            problems.append(f"{decisive.message} [{decisive.rule}]")
            return native, keygen, "", native.fingerprint
        try:
            key = parse_armored(sig).key
        except SignatureInvalid as err:  # pragma: no cover - verified above
            problems.append(f"{err} [bad-signature]")
            return native, keygen, "", ""
        derived = principals_for_key(keyring.signers, key, namespace=s.namespace, at=self.at)
        if s.signer not in derived:
            problems.append(
                f"kunci {key.fingerprint} milik {derived or 'tidak seorang pun'} "
                f"menurut keyring, bukan {s.signer} [principal-mismatch]"
            )
            return native, keygen, "", key.fingerprint
        if key.is_security_key and not native.user_present:
            problems.append("kunci FIDO menandatangani tanpa sentuhan pengguna [sk-no-touch]")
        problems.extend(self._webauthn(native, key, s))
        return native, keygen, s.signer, key.fingerprint

    def _webauthn(self, native: Verdict, key: PublicKey, s: st.Statement) -> list[str]:
        """What OpenSSH leaves to us: a browser signature's origin and RP ID, and the UV
        flag where the keyring requires it for the role (``policy.require_uv``)."""
        problems: list[str] = []
        rp_id = self.keyring.webauthn_rp_id
        if native.webauthn is not None:
            if not rp_id:
                problems.append(
                    "tanda tangan WebAuthn (dari peramban) ditolak: keyring tidak menetapkan "
                    "policy.webauthn_rp_id di roles.toml [webauthn-rp-id-unset]"
                )
            else:
                problems += [
                    f"{message} [{rule}]"
                    for rule, message in webauthn.policy_problems(
                        native.webauthn, rp_id=rp_id, application=key.application
                    )
                ]
        if s.role in self.keyring.require_uv and not native.user_verified:
            how = (
                "kunci keamanan hanya disentuh, tanpa PIN atau biometrik (flag UV tidak ada)"
                if key.is_security_key
                else "kunci ini bukan kunci keamanan FIDO/WebAuthn sehingga tidak dapat "
                "membuktikannya"
            )
            problems.append(
                f"peran {s.role} wajib verifikasi pengguna (PIN atau biometrik) menurut "
                f"policy.require_uv di keyring; {how} [uv-required]"
            )
        return problems

    def _policy(self, s: st.Statement, subject: Subject, problems: list[str]) -> None:
        keyring = self.keyring
        if s.signer not in keyring.roles.get(Role(s.role), ()):
            problems.append(f"{s.signer} tidak memegang peran {s.role} di keyring [wrong-role]")
        if s.signed_time > self.at + CLOCK_SKEW:
            problems.append(f"waktu tanda tangan {s.signed_at} di masa depan [signed-in-future]")
        if self.at > s.expiry:
            problems.append(f"pernyataan kedaluwarsa sejak {s.expires_at} [statement-expired]")
        if s.expiry - s.signed_time > timedelta(days=keyring.max_statement_days):
            problems.append(
                f"masa berlaku pernyataan melebihi {keyring.max_statement_days} hari "
                "[expiry-too-long]"
            )
        if subject.is_requester(s.signer, keyring.nip_of(s.signer)):
            problems.append(
                f"{s.signer} adalah pemohon (PIC) permintaan ini; tidak boleh "
                "menyetujui sendiri [self-approval]"
            )


def statement_files(directory: Path) -> list[Path]:
    """Every regular ``*.json`` in the approvals folder (names are checked later, not
    trusted); links and other non-regular entries are left to :func:`check_all` to refuse."""
    try:
        files, _refused = list_folder(directory, within=directory.parent)
    except UnsafeFile:
        return []
    return [p for p in files if p.suffix == ".json" and not _reversal(p)]


def _reversal(path: Path) -> bool:
    """A Koordinator's expiry reversal (``signing.reversal``): checked there, not a step."""
    return path.name.startswith("reversal-")


def check_all(directory: Path, subject: Subject, verifier: Verifier) -> list[Checked]:
    """Every statement in the approvals folder, checked; and a refused entry for the folder
    itself if it is a link or not a folder, and for anything in it that is not a regular
    file (a link's target is never read)."""
    try:
        files, refused = list_folder(directory, within=directory.parent)
    except UnsafeFile as err:
        return [Checked(directory, None, "", problems=(err.problem,))]
    statements = [p for p in files if p.suffix == ".json" and not _reversal(p)]
    names = {p.name for p in statements}
    found = [
        Checked(e.path, None, "", problems=(e.problem,))
        for e in refused
        if e.path.name.removesuffix(SIG_SUFFIX) not in names  # reported with its statement
        and not _reversal(e.path)
    ]
    with verifier.session():
        found += [verifier.check_file(path, subject) for path in statements]
    return sorted(found, key=lambda c: c.path.name)
