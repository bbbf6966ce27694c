"""Approval attacks: every forged, altered, replayed, misplaced or misattributed approval.

Each case starts from an honest request whose steps 1-6 are signed and recorded, then
attacks one gate. The case is *accepted* if, after the pipeline records what verifies, the
gate under attack holds, with the native verifier or with ssh-keygen (each run on its own
copy of the ledgers). Every statement is also checked by both verifiers at once, and their
signature verdicts must agree. Each case also names the rule that must refuse it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta

import pytest

from sop_pipeline.demo.officials import (
    T0,
    Lab,
    RequestFlow,
    keyring_texts,
    signer_line,
)
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.record import consume_approvals
from sop_pipeline.signing.sshsig import armor, dearmor
from tests.attacks.harness import OTHER, RID, SEVEN, Scene, Target, attempt, m, refused
from tests.support.softkeys import (
    SoftAuthenticator,
    ed25519_sshsig_with_hash_name,
    rsa_sshsig,
)

pytestmark = pytest.mark.integration


# --- the cases ------------------------------------------------------------------------------


def flip(position: float) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        data, sig = s.honest_7()
        blob = bytearray(dearmor(sig))
        index = min(int(len(blob) * position), len(blob) - 1)
        blob[index] ^= 0x01
        s.put(data, armor(bytes(blob)))
        return Target(rule="[bad-signature]")

    return attack


def truncate(keep: float, decoded: bool = False) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        data, sig = s.honest_7()
        if decoded:
            blob = dearmor(sig)
            s.put(data, armor(blob[: int(len(blob) * keep)]))
        else:
            s.put(data, sig[: int(len(sig) * keep)])
        return Target(rule="[bad-signature]")

    return attack


def garbage(content: bytes) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        data, _ = s.honest_7()
        s.put(data, content)
        return Target(rule="[bad-signature]")

    return attack


def unknown_key(type_args: tuple[str, ...]) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        data = s.statement().to_bytes()
        s.put(data, s.sign(data, s.attacker(type_args=type_args)))
        return Target(rule="[not-allowed-signer]")

    return attack


def missing_sig(s: Scene) -> Target:
    s.put(s.statement().to_bytes(), None)
    return Target(rule="[signature-missing]")


def revoked_key(s: Scene) -> Target:
    texts = keyring_texts(s.o, revoked=[s.o["kabid"].public_line])
    s.lab.update_base(texts)
    data, sig = s.honest_7()
    s.put(data, sig)
    return Target(rule="[revoked-key]", lint_rule="revoked-key-listed")


def expired_key(s: Scene) -> Target:
    texts = keyring_texts(s.o)
    kabid = s.o["kabid"]
    texts["allowed_signers"] = texts["allowed_signers"].replace(
        signer_line(kabid.principal, kabid.role, kabid.public_line),
        signer_line(kabid.principal, kabid.role, kabid.public_line, valid_before="20260302093000Z"),
    )
    s.lab.update_base(texts)
    data, sig = s.honest_7()  # statement claims 09:20, before expiry; verified at 10:00
    s.put(data, sig)
    return Target(rule="[not-allowed-signer]", lint_rule="expired-key")


def expired_key_time_from_repo(s: Scene) -> Target:
    """The MR backdates everything it controls: statement time, commit dates. The verifier
    uses its own clock, so the expired key stays expired."""
    expired_key(s)
    data = s.statement(signed_at=T0 - m(600), expires_at=T0 + timedelta(days=5)).to_bytes()
    s.put(data, s.sign(data, "kabid"))
    s.lab.commit("approvals (backdated)")
    subprocess.run(
        [
            "git",
            "-C",
            str(s.lab.repo),
            "-c",
            "user.name=x",
            "-c",
            "user.email=x@x",
            "commit",
            "-q",
            "--amend",
            "--no-edit",
            "--date",
            "2026-01-01T00:00:00Z",
        ],
        check=True,
        env={"GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z", "PATH": "/usr/bin:/bin"},
    )
    return Target(rule="[not-allowed-signer]")


def not_yet_valid_key(s: Scene) -> Target:
    texts = keyring_texts(s.o)
    kabid = s.o["kabid"]
    texts["allowed_signers"] = texts["allowed_signers"].replace(
        signer_line(kabid.principal, kabid.role, kabid.public_line),
        signer_line(kabid.principal, kabid.role, kabid.public_line).replace(
            "namespaces=", 'valid-after="20270101Z",namespaces='
        ),
    )
    s.lab.update_base(texts)
    data, sig = s.honest_7()
    s.put(data, sig)
    return Target(rule="[not-allowed-signer]", lint_rule="not-yet-valid")


def statement_expired(s: Scene) -> Target:
    data = s.statement(signed_at=T0 + m(20), expires_at=T0 + m(30)).to_bytes()
    s.put(data, s.sign(data, "kabid"))
    return Target(rule="[statement-expired]")


def statement_from_future(s: Scene) -> Target:
    data = s.statement(
        signed_at=T0 + timedelta(days=1), expires_at=T0 + timedelta(days=3)
    ).to_bytes()
    s.put(data, s.sign(data, "kabid"))
    return Target(rule="[signed-in-future]")


def statement_too_long(s: Scene) -> Target:
    data = s.statement(expires_at=T0 + timedelta(days=400)).to_bytes()
    s.put(data, s.sign(data, "kabid"))
    return Target(rule="[expiry-too-long]")


def wrong_namespace(namespace: str) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        data = s.statement().to_bytes()
        s.put(data, s.sign(data, "kabid", namespace=namespace))
        return Target(rule="[bad-signature]")

    return attack


def git_commit_signature(s: Scene) -> Target:
    """Kabid signs a commit with his SSH key (gpg.format=ssh); the attacker presents it."""
    data = s.statement().to_bytes()
    s.put(data, None)
    s.lab.git("add", "-A")
    subprocess.run(
        [
            "git",
            "-C",
            str(s.lab.repo),
            "-c",
            "user.name=Kabid",
            "-c",
            "user.email=k@x",
            "-c",
            "gpg.format=ssh",
            "-c",
            f"user.signingkey={s.o['kabid'].key}",
            "commit",
            "-q",
            "-S",
            "-m",
            "Kabid approves",
        ],
        check=True,
        capture_output=True,
    )
    raw = s.lab.git("cat-file", "commit", "HEAD")
    lines = raw.split("\n")
    start = next(i for i, line in enumerate(lines) if line.startswith("gpgsig "))
    sig_lines = [lines[start].removeprefix("gpgsig ")]
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        sig_lines.append(line[1:])
    sig = ("\n".join(sig_lines) + "\n").encode()
    assert b"BEGIN SSH SIGNATURE" in sig
    (s.dir / f"{SEVEN}.sig").write_bytes(sig)
    return Target(rule="[bad-signature]")


def coordinator_as_kabid(s: Scene) -> Target:
    data = s.statement().to_bytes()  # signer: kabid principal
    s.put(data, s.sign(data, "koordinator"))
    return Target(rule="[not-allowed-signer]")


def coordinator_own_name_kabid_step(s: Scene) -> Target:
    data = s.statement(signer=s.o["koordinator"].principal).to_bytes()
    s.put(data, s.sign(data, "koordinator"))
    return Target(rule="[not-allowed-signer]")


def coordinator_sig_reused(s: Scene) -> Target:
    data, _ = s.honest_7()
    s.put(data, (s.dir / "step-04-koordinator.json.sig").read_bytes())
    return Target(rule="[bad-signature]")


def one_key_two_roles(s: Scene) -> Target:
    """The base keyring lists the Koordinator's key for the Kabid too (a second line)."""
    kabid, koor = s.o["kabid"], s.o["koordinator"]
    texts = keyring_texts(
        s.o, extra_lines=[signer_line(kabid.principal, kabid.role, koor.public_line)]
    )
    s.lab.update_base(texts)
    data = s.statement().to_bytes()
    s.put(data, s.sign(data, "koordinator"))
    return Target(rule="[same-signer-both-gates]", lint_rule="key-in-two-gate-roles")


def one_principal_two_roles(s: Scene) -> Target:
    """roles.toml makes the Koordinator a Kabid too; he signs the decision himself."""
    texts = keyring_texts(s.o)
    koor = s.o["koordinator"]
    texts["roles.toml"] = texts["roles.toml"].replace(
        f'kabid = ["{s.o["kabid"].principal}"]',
        f'kabid = ["{s.o["kabid"].principal}", "{koor.principal}"]',
    )
    ns = f"{st.namespace(4)},{st.namespace(7)},{st.namespace(10)}"
    texts["allowed_signers"] = texts["allowed_signers"].replace(
        signer_line(koor.principal, koor.role, koor.public_line),
        signer_line(koor.principal, koor.role, koor.public_line, namespaces=ns),
    )
    s.lab.update_base(texts)
    data = s.statement(signer=koor.principal).to_bytes()
    s.put(data, s.sign(data, "koordinator"))
    return Target(rule="[same-signer-both-gates]", lint_rule="principal-in-two-gate-roles")


def wildcard_principal(pattern: str) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        evil = s.attacker()
        texts = keyring_texts(
            s.o,
            extra_lines=[
                f'{pattern} namespaces="{st.namespace(7)}",valid-before="20301231Z" '
                f"{evil.public_line}"
            ],
        )
        s.lab.update_base(texts)
        data = s.statement().to_bytes()
        s.put(data, s.sign(data, evil))
        return Target(rule="[principal-mismatch]", lint_rule="wildcard-principal")

    return attack


def walk(s: Scene, request_id: str, upto: int, **request: str) -> RequestFlow:
    """Another request, signed honestly up to step ``upto`` (at most 4)."""
    s.lab.write_request(request_id, **request)
    flow = RequestFlow(s.lab, request_id)
    flow.pipeline_step(1, T0)
    for number, who, decision in (
        (2, "kadis", "approve"),
        (3, "kabid", "approve"),
        (4, "koordinator", "complete"),
    ):
        if number <= upto:
            flow.sign(number, who, T0 + m(number), decision=decision)
    flow.record(T0 + m(5), "native")
    if upto >= 4:
        flow.pipeline_step(5, T0 + m(6))
    return flow


def self_approval_email(s: Scene) -> Target:
    """A Tim Teknis member asks for hosting, then signs the analysis of his own request
    (his address written in capitals in the request)."""
    other = walk(s, OTHER, 4, email=s.o["teknis1"].principal.upper())
    other.sign(6, "teknis1", T0 + m(10))
    return Target(step=6, request_id=OTHER, rule="[self-approval]")


def self_approval_nip(s: Scene) -> Target:
    """The requester's NIP is the Kabid's (under another e-mail address); he disposes."""
    other = walk(s, OTHER, 2, nip=s.o["kabid"].nip)
    other.sign(3, "kabid", T0 + m(3))
    return Target(step=3, request_id=OTHER, rule="[self-approval]")


def replay_other_request(s: Scene) -> Target:
    s.lab.write_request(OTHER)
    other = RequestFlow(s.lab, OTHER)
    other.pipeline_step(1, T0)
    for name in (
        "step-02-kadis.json",
        "step-03-kabid.json",
        "step-04-koordinator.json",
        "step-06-tim_teknis.json",
    ):
        for suffix in ("", ".sig"):
            s.put(
                (s.dir / (name + suffix)).read_bytes(), None, name=name + suffix, request_id=OTHER
            )
    data, sig = s.honest_7()
    s.put(data, sig, request_id=OTHER)
    return Target(request_id=OTHER, rule="[other-request]")


def replay_decision_only(s: Scene) -> Target:
    """Honest 2-6 on request B, but the decision copied from request A."""
    s.lab.write_request(OTHER)
    data, sig = s.honest_7()
    s.put(data, sig, request_id=OTHER)
    return Target(request_id=OTHER, step=7, rule="[other-request]")


def replay_after_consumption(s: Scene) -> Target:
    data, sig = s.honest_7()
    s.put(data, sig)
    s.flow.record(T0 + m(21))
    gate = s.flow.gate(8, T0 + m(22))
    assert gate.holds, gate.reasons
    consume_approvals(
        s.flow.consumed_ledger, request_id=RID, statements=gate.statements, at=T0 + m(23)
    )
    # The request's own ledger is wiped (a re-opened MR, a lost records file)...
    s.flow.ledger.path.unlink()
    s.flow.pipeline_step(1, T0 + m(24))
    s.flow.record(T0 + m(25))
    s.flow.pipeline_step(5, T0 + m(26))
    return Target(rule="[replayed-approval]")


def request_changed(change: Callable[[bytes], bytes]) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        data, sig = s.honest_7()
        s.put(data, sig)
        path = s.lab.request_file(RID)
        path.write_bytes(change(path.read_bytes()))
        return Target(rule="[request-changed]")

    return attack


def letter_changed(s: Scene) -> Target:
    data, sig = s.honest_7()
    s.put(data, sig)
    (s.lab.repo / "requests" / RID / "surat-permintaan.pdf").write_bytes(b"%PDF-1.4 lain\n")
    return Target(rule="[attachment-changed]")


def mr_adds_own_key(committed: bool) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        evil = s.attacker()
        path = s.lab.repo / "approvers" / "allowed_signers"
        path.write_text(
            path.read_text()
            + signer_line(s.o["kabid"].principal, s.o["kabid"].role, evil.public_line)
            + "\n"
        )
        if committed:
            s.lab.commit("add kabid's new key")
        data = s.statement().to_bytes()
        s.put(data, s.sign(data, evil))
        return Target(rule="[not-allowed-signer]")

    return attack


def mr_unrevokes(s: Scene) -> Target:
    s.lab.update_base(keyring_texts(s.o, revoked=[s.o["kabid"].public_line]))
    (s.lab.repo / "approvers" / "revoked_keys").write_text("# nothing revoked\n")
    s.lab.commit("unrevoke")
    data, sig = s.honest_7()
    s.put(data, sig)
    return Target(rule="[revoked-key]")


def mr_swaps_roles(s: Scene) -> Target:
    """The MR edits roles.toml so the Koordinator is Kabid."""
    roles = s.lab.repo / "approvers" / "roles.toml"
    roles.write_text(
        roles.read_text().replace(s.o["kabid"].principal, s.o["koordinator"].principal)
    )
    data = s.statement(signer=s.o["koordinator"].principal).to_bytes()
    s.put(data, s.sign(data, "koordinator"))
    return Target(rule="[not-allowed-signer]")


def decision_before_analysis(s: Scene) -> Target:
    """Step 7 signed naming an analysis that does not exist; the real one is then removed."""
    data = s.statement(builds_on={"step-04": s.h[4], "step-06": "0" * 64}).to_bytes()
    s.put(data, s.sign(data, "kabid"))
    return Target(rule="[chain]")


def analysis_before_verification(s: Scene) -> Target:
    """On a fresh request, Tim Teknis signs step 6 while step 4 is not done."""
    s.lab.write_request(OTHER)
    other = RequestFlow(s.lab, OTHER)
    other.pipeline_step(1, T0)
    data = s.statement(
        step=6, request_id=OTHER, signer=s.o["teknis1"].principal, builds_on={"step-04": s.h[4]}
    ).to_bytes()
    s.put(
        data,
        s.sign(data, "teknis1", st.namespace(6)),
        name="step-06-tim_teknis.json",
        request_id=OTHER,
    )
    return Target(step=6, request_id=OTHER, rule="[out-of-order]")


def acknowledgement_before_hosting(s: Scene) -> Target:
    data, sig = s.honest_7()
    s.put(data, sig)
    s.flow.record(T0 + m(21))
    ack = s.statement(
        step=10,
        signer=s.o["koordinator"].principal,
        builds_on={"step-07": hashlib.sha256(data).hexdigest()},
    ).to_bytes()
    s.put(ack, s.sign(ack, "koordinator", st.namespace(10)), name="step-10-koordinator.json")
    return Target(step=10, rule="[not-provisioned]")


def decision_on_incomplete(s: Scene) -> Target:
    """Step 7 names a step-4 'incomplete' statement as its verification."""
    bad4 = s.statement(
        step=4,
        signer=s.o["koordinator"].principal,
        decision="incomplete",
        reason="kurang",
        missing=("letter",),
    ).to_bytes()
    s.put(bad4, s.sign(bad4, "koordinator", st.namespace(4)), name="step-04-koordinator-2.json")
    data = s.statement(
        builds_on={"step-04": hashlib.sha256(bad4).hexdigest(), "step-06": s.h[6]}
    ).to_bytes()
    s.put(data, s.sign(data, "kabid"))
    return Target(rule="[step-04-incomplete]")


def statement_in_wrong_file(s: Scene) -> Target:
    """The verification statement and its valid signature, filed as the decision."""
    for suffix in ("", ".sig"):
        shutil.copy(s.dir / f"step-04-koordinator.json{suffix}", s.dir / f"{SEVEN}{suffix}")
    return Target(rule="[file-name]")


def signatures_swapped(s: Scene) -> Target:
    data, sig = s.honest_7()
    s.put(data, (s.dir / "step-06-tim_teknis.json.sig").read_bytes())
    (s.dir / "step-06-tim_teknis.json.sig").write_bytes(sig)
    return Target(rule="[bad-signature]")


def statement_edited(**over: object) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        signed = s.statement(decision="reject", reason="Kapasitas tidak cukup")
        sig = s.sign(signed.to_bytes(), "kabid")
        edited = dataclasses.replace(signed, **over)  # type: ignore[arg-type]
        s.put(edited.to_bytes(), sig)
        return Target(rule="[bad-signature]")

    return attack


def not_canonical(s: Scene) -> Target:
    import json

    pretty = json.dumps(s.statement().to_json(), indent=2, sort_keys=True).encode()
    s.put(pretty, s.sign(pretty, "kabid"))
    return Target(rule="[not-canonical]")


def duplicate_key(s: Scene) -> Target:
    raw = s.statement(decision="reject", reason="x").to_bytes()
    smuggled = raw.replace(b'"decision":"reject"', b'"decision":"reject","decision":"approve"')
    s.put(smuggled, s.sign(smuggled, "kabid"))
    return Target(rule="[duplicate-key]")


def threshold_same_person(s: Scene) -> Target:
    texts = keyring_texts(s.o)
    texts["roles.toml"] = texts["roles.toml"].replace("step-06 = 1", "step-06 = 2")
    s.lab.update_base(texts)
    again = s.statement(
        step=6,
        signer=s.o["teknis1"].principal,
        builds_on={"step-04": s.h[4]},
        signed_at=T0 + m(12),
        expires_at=T0 + timedelta(days=5),
    ).to_bytes()
    s.put(again, s.sign(again, "teknis1", st.namespace(6)), name="step-06-tim_teknis-2.json")
    data, sig = s.honest_7()
    s.put(data, sig)
    return Target(rule="[step-06-unsigned]")


def fido_without_touch(s: Scene) -> Target:
    token = SoftAuthenticator()
    texts = keyring_texts(s.o)
    kabid = s.o["kabid"]
    texts["allowed_signers"] = texts["allowed_signers"].replace(
        signer_line(kabid.principal, kabid.role, kabid.public_line),
        signer_line(kabid.principal, kabid.role, token.public_line),
    )
    s.lab.update_base(texts)
    data = s.statement().to_bytes()
    s.put(data, token.sign(data, st.namespace(7), flags=0x00))
    return Target(rule="[sk-no-touch]")


def fido_flags_forged(s: Scene) -> Target:
    """The token signed without touch; the attacker sets the presence bit afterwards."""
    token = SoftAuthenticator()
    texts = keyring_texts(s.o)
    kabid = s.o["kabid"]
    texts["allowed_signers"] = texts["allowed_signers"].replace(
        signer_line(kabid.principal, kabid.role, kabid.public_line),
        signer_line(kabid.principal, kabid.role, token.public_line),
    )
    s.lab.update_base(texts)
    data = s.statement().to_bytes()
    blob = bytearray(dearmor(token.sign(data, st.namespace(7), flags=0x00)))
    blob[-5] |= 0x01
    s.put(data, armor(bytes(blob)))
    return Target(rule="[bad-signature]")


def rsa_sha1(s: Scene) -> Target:
    data = s.statement(step=2, signer=s.o["kadis"].principal).to_bytes()
    (s.dir / "step-02-kadis.json").write_bytes(data)
    (s.dir / "step-02-kadis.json.sig").write_bytes(
        rsa_sshsig(s.o["kadis"].key, data, st.namespace(2), "ssh-rsa")
    )
    return Target(step=2, rule="[bad-signature]")


def odd_hash_name(s: Scene) -> Target:
    data = s.statement().to_bytes()
    s.put(
        data, ed25519_sshsig_with_hash_name(s.o["kabid"].key, data, st.namespace(7), "sha1", "sha1")
    )
    return Target(rule="[bad-signature]")


def version_two(s: Scene) -> Target:
    data, sig = s.honest_7()
    blob = bytearray(dearmor(sig))
    blob[9] = 2
    s.put(data, armor(bytes(blob)))
    return Target(rule="[bad-signature]")


def trailing_data(s: Scene) -> Target:
    data, sig = s.honest_7()
    s.put(data, armor(dearmor(sig) + b"\0"))
    return Target(rule="[bad-signature]")


def extra_whitespace_in_statement(s: Scene) -> Target:
    data, sig = s.honest_7()
    s.put(data + b"\n", sig)
    return Target(rule="[not-canonical]")


def random_b64() -> bytes:
    return armor(hashlib.sha512(b"noise").digest() * 4)


ATTACKS: dict[str, Callable[[Scene], Target]] = {
    **{f"forged-flip-{p:.2f}": flip(p) for p in (0.0, 0.02, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.99)},
    **{f"truncated-armor-{k}": truncate(k) for k in (0.1, 0.5, 0.9)},
    **{f"truncated-blob-{k}": truncate(k, decoded=True) for k in (0.5, 0.97)},
    "garbage-empty": garbage(b""),
    "garbage-text": garbage(b"saya setuju\n"),
    "garbage-random-armor": garbage(random_b64()),
    "garbage-pgp-armor": garbage(
        b"-----BEGIN PGP SIGNATURE-----\n\niQEz\n-----END PGP SIGNATURE-----\n"
    ),
    "garbage-bad-base64": garbage(
        b"-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----\n"
    ),
    "garbage-binary": garbage(bytes(range(256))),
    "signature-version-2": version_two,
    "signature-trailing-data": trailing_data,
    "signature-missing": missing_sig,
    "unknown-key-ed25519": unknown_key(("-t", "ed25519")),
    "unknown-key-ecdsa": unknown_key(("-t", "ecdsa", "-b", "256")),
    "unknown-key-rsa": unknown_key(("-t", "rsa", "-b", "2048")),
    "revoked-key": revoked_key,
    "expired-key": expired_key,
    "expired-key-time-from-repo": expired_key_time_from_repo,
    "key-not-yet-valid": not_yet_valid_key,
    "statement-expired": statement_expired,
    "statement-from-the-future": statement_from_future,
    "statement-validity-too-long": statement_too_long,
    "wrong-namespace-step-04": wrong_namespace(st.namespace(4)),
    "wrong-namespace-git": wrong_namespace("git"),
    "wrong-namespace-file": wrong_namespace("file"),
    "wrong-namespace-other-domain": wrong_namespace("sop-hosting-step-07@example.org"),
    "git-commit-signature": git_commit_signature,
    "koordinator-signs-as-kabid": coordinator_as_kabid,
    "koordinator-signs-kabid-step-own-name": coordinator_own_name_kabid_step,
    "koordinator-signature-reused": coordinator_sig_reused,
    "one-key-two-gate-roles": one_key_two_roles,
    "one-principal-two-gate-roles": one_principal_two_roles,
    "wildcard-principal-domain": wildcard_principal("*@diskominfotik.sumbarprov.go.id"),
    "wildcard-principal-star": wildcard_principal("*"),
    "wildcard-principal-question": wildcard_principal("kabi?@diskominfotik.sumbarprov.go.id"),
    "self-approval-email": self_approval_email,
    "self-approval-nip": self_approval_nip,
    "replay-on-other-request": replay_other_request,
    "replay-decision-on-other-request": replay_decision_only,
    "replay-after-consumption": replay_after_consumption,
    "request-changed-byte": request_changed(lambda b: b.replace(b"vcpu: 2", b"vcpu: 8")),
    "request-changed-trailing-space": request_changed(
        lambda b: b.replace(b"\nhostname", b" \nhostname")
    ),
    "request-changed-crlf": request_changed(lambda b: b.replace(b"\n", b"\r\n")),
    "request-changed-final-newline": request_changed(lambda b: b + b"\n"),
    "request-changed-double-space": request_changed(
        lambda b: b.replace(b"name: Andi", b"name:  Andi")
    ),
    "letter-changed": letter_changed,
    "mr-adds-own-key-working-copy": mr_adds_own_key(committed=False),
    "mr-adds-own-key-committed": mr_adds_own_key(committed=True),
    "mr-unrevokes-key": mr_unrevokes,
    "mr-edits-roles": mr_swaps_roles,
    "out-of-order-decision-before-analysis": decision_before_analysis,
    "out-of-order-analysis-before-verification": analysis_before_verification,
    "out-of-order-acknowledgement-before-hosting": acknowledgement_before_hosting,
    "decision-builds-on-incomplete": decision_on_incomplete,
    "statement-in-wrong-file": statement_in_wrong_file,
    "signatures-swapped": signatures_swapped,
    "statement-edited-decision": statement_edited(decision="approve", reason=""),
    "statement-edited-expiry": statement_edited(expires_at="2026-03-20T09:20:00Z"),
    "statement-edited-signer": statement_edited(signer="kadis@diskominfotik.sumbarprov.go.id"),
    "statement-not-canonical": not_canonical,
    "statement-trailing-newline": extra_whitespace_in_statement,
    "statement-duplicate-key": duplicate_key,
    "threshold-two-by-one-person": threshold_same_person,
    "fido-without-touch": fido_without_touch,
    "fido-flags-forged": fido_flags_forged,
    "rsa-sha1-signature": rsa_sha1,
    "hash-name-sha1": odd_hash_name,
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_is_refused(name: str, lab: Lab, tally: dict[str, int]) -> None:
    refused(name, lab, tally, ATTACKS[name])


def test_honest_decision_is_accepted_by_the_same_harness(lab: Lab) -> None:
    """The control: without an attack the harness does see a gate that holds."""
    scene = Scene(lab)
    data, sig = scene.honest_7()
    scene.put(data, sig)
    accepted, reasons, disagreements = attempt(lab, Target())
    assert accepted == {"native": True, "ssh-keygen": True}, reasons
    assert disagreements == 0


def test_zz_attack_summary(tally: dict[str, int]) -> None:
    print(f"attack cases tried: {tally['tried']}, accepted: {tally['accepted']}")
    assert tally["accepted"] == 0


def test_the_suite_has_at_least_60_cases() -> None:
    assert len(ATTACKS) >= 60
