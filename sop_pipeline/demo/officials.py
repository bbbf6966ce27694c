"""Lab and test officials: six keys made with ``ssh-keygen`` and a keyring for them.

Nothing here is used in production; the real keyring is the committed ``approvers/`` with
the officials' public keys. Tests and the demo call :func:`generate_officials` to make
throw-away keys (never committed) and :func:`keyring_texts` to write ``approvers/`` for them.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sop_pipeline.domain.sop import Role, step
from sop_pipeline.signing.errors import SshKeygenError
from sop_pipeline.signing.reversal import NAMESPACE as REVERSAL_NAMESPACE
from sop_pipeline.signing.statement import CHECKPOINT_NAMESPACE, SIGNED_STEPS, namespace

DOMAIN = "diskominfotik.sumbarprov.go.id"
#: A fixed start time for tests and the demo (keys in the lab keyring are valid until 2030).
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
#: (handle, role, key type arguments, NIP). Key types vary so every verifier path is used.
OFFICIALS: tuple[tuple[str, Role, tuple[str, ...], str], ...] = (
    ("kadis", Role.KADIS, ("-t", "rsa", "-b", "3072"), "196801011990031001"),
    ("kabid", Role.KABID, ("-t", "ed25519"), "197202021995032002"),
    ("koordinator", Role.KOORDINATOR, ("-t", "ecdsa", "-b", "256"), "198003032005011003"),
    ("helpdesk", Role.HELPDESK, ("-t", "ed25519"), "199004042015032004"),
    ("teknis1", Role.TIM_TEKNIS, ("-t", "ed25519"), "198805052012031005"),
    ("teknis2", Role.TIM_TEKNIS, ("-t", "ecdsa", "-b", "256"), "199106062019032006"),
)


@dataclass(frozen=True)
class Official:
    handle: str
    role: Role
    principal: str
    key: Path  # private key (throw-away)
    pub: Path
    nip: str

    @property
    def public_line(self) -> str:
        return " ".join(self.pub.read_text().split()[:2])


def keygen(path: Path, type_args: Iterable[str], comment: str) -> Path:
    """A new unencrypted key pair at ``path`` / ``path.pub``."""
    binary = shutil.which("ssh-keygen")
    if binary is None:
        raise SshKeygenError("ssh-keygen tidak ditemukan; apt-get install openssh-client")
    done = subprocess.run(
        [binary, "-q", *type_args, "-N", "", "-C", comment, "-f", str(path)],
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise SshKeygenError(f"ssh-keygen gagal membuat kunci: {done.stderr.decode().strip()}")
    return path


def generate_officials(directory: Path) -> dict[str, Official]:
    """Six officials (Kadis, Kabid, Koordinator, Helpdesk, two of Tim Teknis) with new keys."""
    directory.mkdir(parents=True, exist_ok=True)
    officials = {}
    for handle, role, type_args, nip in OFFICIALS:
        principal = f"{handle}@{DOMAIN}"
        key = keygen(directory / f"id_{handle}", type_args, principal)
        officials[handle] = Official(handle, role, principal, key, key.with_suffix(".pub"), nip)
    return officials


def role_namespaces(role: Role) -> str:
    steps = [namespace(n) for n in SIGNED_STEPS if step(n).actor == role]
    if role is Role.KOORDINATOR:  # the reversal of a soft retirement (signing.reversal)
        steps.append(REVERSAL_NAMESPACE)
    return ",".join(steps)


def signer_line(
    principal: str,
    role: Role,
    public: str,
    valid_before: str = "20301231Z",
    namespaces: str | None = None,
) -> str:
    ns = namespaces if namespaces is not None else role_namespaces(role)
    return f'{principal} namespaces="{ns}",valid-before="{valid_before}" {public}'


def keyring_texts(
    officials: dict[str, Official],
    *,
    valid_before: str = "20301231Z",
    extra_lines: Iterable[str] = (),
    revoked: Iterable[str] = (),
    pipeline: tuple[str, str] | None = None,
) -> dict[str, str]:
    """``allowed_signers``, ``roles.toml`` and ``revoked_keys`` for these officials; with
    ``pipeline`` (principal, public key line), the pipeline's checkpoint key too."""
    lines = ["# Lab keyring: throw-away keys generated for tests and the demo."]
    lines += [
        signer_line(o.principal, o.role, o.public_line, valid_before) for o in officials.values()
    ]
    lines += list(extra_lines)
    if pipeline:
        lines.append(
            f'{pipeline[0]} namespaces="{CHECKPOINT_NAMESPACE}",valid-before="{valid_before}" '
            f"{pipeline[1]}"
        )
    roles: dict[Role, list[str]] = {}
    for o in officials.values():
        roles.setdefault(o.role, []).append(o.principal)
    toml = ["schema_version = 1", "", "[policy]", "max_statement_days = 30", "", "[roles]"]
    toml += [f"{role} = {sorted(p)!r}".replace("'", '"') for role, p in roles.items()]
    toml += [f'pipeline = ["{pipeline[0]}"]'] if pipeline else []
    toml += ["", "[thresholds]", "step-06 = 1", ""]
    for o in officials.values():
        toml += [
            f'[people."{o.principal}"]',
            f'name = "{o.handle.title()}"',
            f'nip = "{o.nip}"',
            "",
        ]
    return {
        "allowed_signers": "\n".join(lines) + "\n",
        "roles.toml": "\n".join(toml),
        "revoked_keys": "".join(f"{line}\n" for line in revoked) or "# no revoked keys\n",
    }


REQUEST_TEMPLATE = """\
schema_version: 1
opd:
  code: {opd}
  name: Dinas Kesehatan Provinsi Sumatera Barat
pic:
  name: Andi Pratama
  nip: "{nip}"
  email: {email}
  phone: "+6281234567890"
letter:
  number: 440/123/Dinkes-2026
  date: "2026-02-27"
  file: {request_id}/surat-permintaan.pdf
  sha256: "{letter_sha256}"
application:
  name: Sistem Informasi Puskesmas
  purpose: Layanan informasi puskesmas untuk masyarakat
  kind: application
  stack: php
hostname: {request_id}
resources:
  vcpu: 2
  memory_mb: 2048
  disk_gb: 20
  template: debian-12-cloudinit
environment: production
period:
  start: "2026-03-01"
  end: "2027-02-28"
data_classification: internal
exposure: public
"""
REQUESTER_EMAIL = "andi.pratama@dinkes.sumbarprov.go.id"
REQUESTER_NIP = "199201012020121001"


class Lab:
    """A real Git repository: ``main`` holds the keyring, the working tree is a merge request.

    Used by the tests, the attack suite, the benchmark and the demo. Git identity is passed
    with ``-c`` so nothing outside the repository is touched.
    """

    def __init__(
        self, root: Path, officials: dict[str, Official], *, keyring: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.repo = root / "repo"
        self.records = root / "records"
        self.officials = officials
        self.repo.mkdir(parents=True)
        self.git("init", "-q", "-b", "main")
        self.write_keyring(keyring or keyring_texts(officials))
        self.commit("keyring: officials of Diskominfotik")
        self.git("checkout", "-q", "-b", "mr/request")

    def git(self, *args: str) -> str:
        done = subprocess.run(
            [
                "git",
                "-c",
                "user.name=Lab",
                "-c",
                "user.email=lab@example.invalid",
                "-c",
                "commit.gpgsign=false",
                "-C",
                str(self.repo),
                *args,
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if done.returncode != 0:
            raise RuntimeError(f"git {args}: {done.stderr.decode()}")
        return done.stdout.decode()

    def commit(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)

    def write_keyring(self, texts: dict[str, str]) -> None:
        directory = self.repo / "approvers"
        directory.mkdir(exist_ok=True)
        for name, text in texts.items():
            (directory / name).write_text(text, encoding="utf-8")

    def update_base(self, texts: dict[str, str], message: str = "keyring: update") -> None:
        """Commit a new keyring on ``main`` (the base branch) and return to the MR branch."""
        branch = self.git("rev-parse", "--abbrev-ref", "HEAD").strip()
        self.git("stash", "push", "-q", "--include-untracked", "--", "approvers")
        self.git("checkout", "-q", "main")
        self.write_keyring(texts)
        self.git("add", "approvers")
        self.git("commit", "-q", "-m", message)
        self.git("checkout", "-q", branch)
        if self.git("stash", "list").strip():
            self.git("stash", "pop", "-q")

    def write_request(
        self,
        request_id: str,
        *,
        email: str = REQUESTER_EMAIL,
        nip: str = REQUESTER_NIP,
        letter: bytes = b"%PDF-1.4 surat\n",
    ) -> Path:
        import hashlib

        requests = self.repo / "requests"
        (requests / request_id).mkdir(parents=True, exist_ok=True)
        (requests / request_id / "surat-permintaan.pdf").write_bytes(letter)
        path = requests / f"{request_id}.yaml"
        path.write_text(
            REQUEST_TEMPLATE.format(
                opd="DINKES",
                nip=nip,
                email=email,
                request_id=request_id,
                letter_sha256=hashlib.sha256(letter).hexdigest(),
            ),
            encoding="utf-8",
        )
        return path

    def request_file(self, request_id: str) -> Path:
        return self.repo / "requests" / f"{request_id}.yaml"


class RequestFlow:
    """One request walked through the signed steps in a :class:`Lab`, as the pipeline would."""

    def __init__(
        self, lab: Lab, request_id: str, *, base: str = "main", records: Path | None = None
    ) -> None:
        from sop_pipeline.ledger.store import LedgerStore

        self.lab = lab
        self.request_id = request_id
        self.base = base
        self.store = LedgerStore(records or lab.records)
        self.ledger = self.store.for_request(request_id)
        self.consumed_ledger = self.store.named("consumed-approvals")

    @property
    def request_file(self) -> Path:
        return self.lab.request_file(self.request_id)

    def subject(self) -> Any:
        from sop_pipeline.signing.subject import load_subject

        return load_subject(self.request_file)

    def keyring(self) -> Any:
        from sop_pipeline.signing.keyring import load_from_git

        return load_from_git(self.lab.repo, self.base)

    def verifier(self, at: datetime, mode: str = "both") -> Any:
        from sop_pipeline.signing.approvals import Verifier, VerifyMode

        return Verifier(self.keyring(), at=at, mode=VerifyMode(mode))

    def checked(self, at: datetime, mode: str = "both") -> list[Any]:
        from sop_pipeline.signing.approvals import check_all
        from sop_pipeline.signing.subject import approvals_dir

        return check_all(approvals_dir(self.request_file), self.subject(), self.verifier(at, mode))

    def history(self, at: datetime, mode: str = "both") -> list[Any]:
        """The statements the branch's Git history held (deleted ones included), checked."""
        from sop_pipeline.signing.history import check_history

        return check_history(
            self.lab.repo, self.request_file, self.subject(), self.verifier(at, mode)
        )

    def analyse(
        self, at: datetime, *, feasible: bool = True, change_class: str = ""
    ) -> dict[str, str]:
        """Step 6's analysis as ``sop analyze`` records it in the ledger (the report's sha256
        and verdict, and for a change the class of its plan), without a cluster and without
        writing the report files; returns the ``evidence`` Tim Teknis cites."""
        import hashlib

        from sop_pipeline.ledger.tracking import record_analysis

        verdict = "DAPAT DILAKSANAKAN" if feasible else "BELUM DAPAT DILAKSANAKAN"
        name = "laporan-analisis-teknis.md"
        text = f"# Laporan Analisis Teknis {self.request_id}\n\n{at.isoformat()}: {verdict}\n"
        digest = hashlib.sha256(text.encode()).hexdigest()
        record_analysis(
            self.store,
            self.request_id,
            report=name,
            digest=digest,
            request_digest=self.subject().digest,
            feasible=feasible,
            at=at,
            change_class=change_class,
        )
        return {name: digest}

    def sign(
        self, step_number: int, who: str, at: datetime, decision: str = "approve", **options: Any
    ) -> Path:
        from sop_pipeline.signing.signer import sign_step

        official = self.lab.officials[who]
        return sign_step(
            request_file=self.request_file,
            subject=self.subject(),
            verifier=self.verifier(at, "native"),
            step_number=step_number,
            decision=decision,
            signer=options.pop("signer", official.principal),
            record_head=options.pop("record_head", self.ledger.head()),
            at=at,
            key=options.pop("key", official.key),
            **options,
        )

    def consumed(self) -> frozenset[str]:
        from sop_pipeline.signing.record import consumed_hashes

        return consumed_hashes(self.consumed_ledger)

    def record(self, at: datetime, mode: str = "both") -> list[Any]:
        from sop_pipeline.signing.record import record_signed_steps

        return record_signed_steps(
            subject=self.subject(),
            keyring=self.keyring(),
            checked=self.checked(at, mode),
            ledger=self.ledger,
            at=at,
            consumed=self.consumed(),
            history=self.history(at, mode),
        )

    def pipeline_step(self, step_number: int, at: datetime) -> Any:
        """An unsigned step (1, 5, 8, 9) as the pipeline records it."""
        return self.ledger.append(
            kind="step",
            actor="pipeline",
            at=at,
            step=step_number,
            inputs={"request": self.subject().digest},
            data={"outcome": "done"},
        )

    def gate(self, step_number: int, at: datetime, mode: str = "both") -> Any:
        from sop_pipeline.signing.record import check_gate

        return check_gate(
            step_number=step_number,
            subject=self.subject(),
            keyring=self.keyring(),
            checked=self.checked(at, mode),
            ledger=self.ledger,
            at=at,
            consumed=self.consumed(),
            history=self.history(at, mode),
        )

    def state(self) -> Any:
        from sop_pipeline.signing.record import state_of

        return state_of(self.ledger)
