"""The native SSHSIG verifier agrees with `ssh-keygen -Y verify` on every key type and case."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sop_pipeline.demo.officials import keygen
from sop_pipeline.signing import allowed_signers, webauthn
from sop_pipeline.signing.sshsig import SshKeygen, Verdict, armor, dearmor, verify_native
from tests.support.softkeys import SoftAuthenticator, SoftWebAuthn, rsa_sshsig, to_sign

pytestmark = pytest.mark.integration

NS = "sop-hosting-step-07@diskominfotik.sumbarprov.go.id"
AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
KEY_TYPES = {
    "ed25519": ("-t", "ed25519"),
    "ecdsa-p256": ("-t", "ecdsa", "-b", "256"),
    "ecdsa-p384": ("-t", "ecdsa", "-b", "384"),
    "ecdsa-p521": ("-t", "ecdsa", "-b", "521"),
    "rsa-2048": ("-t", "rsa", "-b", "2048"),
}


def both(
    message: bytes,
    sig: bytes,
    tmp: Path,
    line: str,
    principal: str = "p@x",
    namespace: str = NS,
    revoked: str = "",
    at: datetime = AT,
) -> tuple[bool, bool]:
    (tmp / "as").write_text(line + "\n")
    (tmp / "rev").write_text(revoked)
    lines = allowed_signers.parse(line)
    from sop_pipeline.signing.sshkeys import parse_key_text

    revoked_blobs = frozenset(parse_key_text(r).blob for r in revoked.splitlines() if r.strip())
    native = verify_native(
        message,
        sig,
        principal=principal,
        namespace=namespace,
        signers=lines,
        revoked=revoked_blobs,
        at=at,
    )
    keygen_verdict = SshKeygen().verify(
        message,
        sig,
        principal=principal,
        namespace=namespace,
        allowed_signers=tmp / "as",
        revoked=tmp / "rev",
        at=at,
    )
    return native.ok, keygen_verdict.ok


@pytest.mark.parametrize("hash_alg", ["sha256", "sha512"])
@pytest.mark.parametrize("kind", sorted(KEY_TYPES))
def test_key_types_agree(kind: str, hash_alg: str, tmp_path: Path) -> None:
    key = keygen(tmp_path / "k", KEY_TYPES[kind], "p@x")
    pub = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    message = b'{"step":7}'
    sig = SshKeygen().sign(message, key=key, namespace=NS, hash_algorithm=hash_alg)
    line = f'p@x namespaces="{NS}",valid-before="20300101Z" {pub}'
    cases = {
        "good": both(message, sig, tmp_path, line),
        "changed message": both(message + b" ", sig, tmp_path, line),
        "other principal": both(message, sig, tmp_path, line, principal="q@x"),
        "other namespace": both(message, sig, tmp_path, line, namespace="file"),
        "expired": both(message, sig, tmp_path, line, at=datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC)),
        "at expiry": both(message, sig, tmp_path, line, at=datetime(2030, 1, 1, tzinfo=UTC)),
        "revoked": both(message, sig, tmp_path, line, revoked=pub + "\n"),
        "flipped": both(
            message, armor(dearmor(sig)[:-1] + bytes([dearmor(sig)[-1] ^ 1])), tmp_path, line
        ),
    }
    for name, (native, keygen_ok) in cases.items():
        assert native == keygen_ok, name
    assert cases["good"] == (True, True) and cases["at expiry"] == (True, True)
    assert not any(ok for name, (ok, _) in cases.items() if name not in ("good", "at expiry"))


@pytest.mark.parametrize(
    "sig_type,expected", [("rsa-sha2-256", True), ("rsa-sha2-512", True), ("ssh-rsa", False)]
)
def test_rsa_signature_types_agree(sig_type: str, expected: bool, tmp_path: Path) -> None:
    key = keygen(tmp_path / "k", ("-t", "rsa", "-b", "2048"), "p@x")
    pub = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    sig = rsa_sshsig(key, b"m", NS, sig_type)
    assert both(b"m", sig, tmp_path, f'p@x namespaces="{NS}" {pub}') == (expected, expected)


@pytest.mark.parametrize("flags", [0x00, 0x01, 0x05])
def test_fido_sk_ed25519_agrees(flags: int, tmp_path: Path) -> None:
    """sk-ssh-ed25519: ssh-keygen verifies without the token; flags and counter per PROTOCOL.u2f."""
    token = SoftAuthenticator()
    line = f'p@x namespaces="{NS}" {token.public_line}'
    sig = token.sign(b"m", NS, flags=flags, counter=42)
    assert both(b"m", sig, tmp_path, line) == (True, True)
    verdict = verify_native(
        b"m",
        sig,
        principal="p@x",
        namespace=NS,
        signers=allowed_signers.parse(line),
        revoked=frozenset(),
        at=AT,
    )
    assert (verdict.sk_flags, verdict.sk_counter) == (flags, 42)
    tampered = bytearray(dearmor(sig))
    tampered[-1] ^= 1  # the counter is signed too
    assert both(b"m", armor(bytes(tampered)), tmp_path, line) == (False, False)
    other_app = SoftAuthenticator(application="ssh:other")
    assert both(b"m", other_app.sign(b"m", NS), tmp_path, line) == (False, False)


def test_sign_through_ssh_agent(tmp_path: Path) -> None:
    key = keygen(tmp_path / "k", ("-t", "ed25519"), "p@x")
    started = subprocess.run(
        ["ssh-agent", "-s", "-a", str(tmp_path / "agent.sock")],
        capture_output=True,
        check=True,
        text=True,
    )
    pid = next(
        part.split("=")[1].rstrip(";")
        for part in started.stdout.split()
        if part.startswith("SSH_AGENT_PID=")
    )
    try:
        env = {**os.environ, "SSH_AUTH_SOCK": str(tmp_path / "agent.sock")}
        subprocess.run(["ssh-add", "-q", str(key)], env=env, check=True, capture_output=True)
        key.unlink()  # only the agent holds the private key now
        sig = SshKeygen().sign(
            b"m",
            key=key.with_suffix(".pub"),
            namespace=NS,
            agent_socket=str(tmp_path / "agent.sock"),
        )
    finally:
        subprocess.run(["kill", pid], check=False)
    pub = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    assert both(b"m", sig, tmp_path, f'p@x namespaces="{NS}" {pub}') == (True, True)


def test_wildcard_and_negated_principals_agree(tmp_path: Path) -> None:
    key = keygen(tmp_path / "k", ("-t", "ed25519"), "p@x")
    pub = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    sig = SshKeygen().sign(b"m", key=key, namespace=NS)
    for patterns, principal in [
        ("*@x", "p@x"),
        ("p?x", "p@x"),
        ("*,!p@x", "p@x"),
        ("a@x,p@x", "p@x"),
        ("P@X", "p@x"),
    ]:
        line = f'{patterns} namespaces="sop-*" {pub}'
        native, keygen_ok = both(b"m", sig, tmp_path, line, principal=principal)
        assert native == keygen_ok, patterns


def webauthn_cases(token: SoftWebAuthn, message: bytes) -> dict[str, bytes]:
    """One signature per case: what a browser makes, and what a hostile page or another
    site could hand over instead."""
    data = to_sign(NS, "sha512", message)
    up, uv = webauthn.FLAG_UP, webauthn.FLAG_UV
    return {
        "good": token.sign(message, NS),
        "good on http://localhost:8080": token.sign(message, NS, origin="http://localhost:8080"),
        "good with extensions": token.sign(
            message, NS, flags=up | uv | webauthn.FLAG_ED, extensions=b"\xa0"
        ),
        "good with crossOrigin false": token.sign(
            message,
            NS,
            client_data=webauthn.client_data_json(
                data, "https://localhost", extra=',"crossOrigin":false'
            ),
        ),
        "changed message": token.sign(message + b" ", NS),
        "wrong RP ID in authenticatorData": token.sign(message, NS, auth_rp_id="evil.example"),
        "UP missing": token.sign(message, NS, flags=uv),
        "UV missing": token.sign(message, NS, flags=up),
        "wrong challenge": token.sign(message, NS, challenge=to_sign(NS, "sha512", b"other")),
        "wrong type": token.sign(
            message,
            NS,
            client_data=webauthn.client_data_json(data, "https://localhost").replace(
                b"webauthn.get", b"webauthn.create"
            ),
        ),
        "other origin": token.sign(message, NS, origin="https://evil.example"),
        "origin with a quote": token.sign(message, NS, origin='https://localhost"'),
        "crossOrigin true": token.sign(
            message,
            NS,
            client_data=webauthn.client_data_json(
                data, "https://localhost", extra=',"crossOrigin":true'
            ),
        ),
        "AT flag": token.sign(message, NS, flags=up | uv | webauthn.FLAG_AT),
        "ED flag without extensions": token.sign(message, NS, flags=up | uv | webauthn.FLAG_ED),
        "extensions without ED flag": token.sign(message, NS, extensions=b"\xa0"),
        "other namespace": token.sign(message, "file"),
        "plain sk-ecdsa (ssh-keygen with a token)": token.sign_plain(message, NS),
    }


#: Refused by the signature math or OpenSSH's WebAuthn format checks: both verifiers.
WEBAUTHN_REFUSED_BY_BOTH = {
    "changed message",
    "wrong RP ID in authenticatorData",
    "wrong challenge",
    "wrong type",
    "origin with a quote",
    "AT flag",
    "ED flag without extensions",
    "extensions without ED flag",
    "other namespace",
}
#: Valid SSHSIGs that the pipeline's own policy refuses (OpenSSH leaves these to the caller).
WEBAUTHN_REFUSED_BY_POLICY = {
    "other origin": "webauthn-wrong-origin",
    "crossOrigin true": "webauthn-cross-origin",
}


def test_webauthn_signatures_agree(tmp_path: Path) -> None:
    """webauthn-sk-ecdsa: stock ssh-keygen and the native verifier give the same verdict on
    every case; UP and UV are exposed, and origin checks are the pipeline's policy on top."""
    token = SoftWebAuthn("localhost")
    line = f'p@x namespaces="{NS}" {token.public_line}'
    message = b'{"step":7}'
    cases = webauthn_cases(token, message)
    seen: dict[str, tuple[bool, bool]] = {}
    for name, sig in cases.items():
        seen[name] = both(message, sig, tmp_path, line)
        assert seen[name][0] == seen[name][1], name
    refused = {name for name, (ok, _) in seen.items() if not ok}
    assert refused == WEBAUTHN_REFUSED_BY_BOTH
    signers = allowed_signers.parse(line)

    def native(sig: bytes) -> Verdict:
        return verify_native(
            message,
            sig,
            principal="p@x",
            namespace=NS,
            signers=signers,
            revoked=frozenset(),
            at=AT,
        )

    good = native(cases["good"])
    assert good.ok and good.user_present and good.user_verified and good.webauthn is not None
    assert good.webauthn.origin == "https://localhost" and good.sk_counter == 1
    assert not native(cases["UP missing"]).user_present
    no_uv = native(cases["UV missing"])
    assert no_uv.user_present and not no_uv.user_verified
    plain = native(cases["plain sk-ecdsa (ssh-keygen with a token)"])
    assert plain.ok and plain.webauthn is None and plain.user_present
    for name, sig in cases.items():
        verdict = native(sig)
        if not verdict.ok or verdict.webauthn is None:
            continue
        rules = [
            rule
            for rule, _ in webauthn.policy_problems(
                verdict.webauthn, rp_id="localhost", application="localhost"
            )
        ]
        assert rules == (
            [WEBAUTHN_REFUSED_BY_POLICY[name]] if name in WEBAUTHN_REFUSED_BY_POLICY else []
        ), name


def test_webauthn_credential_of_another_site(tmp_path: Path) -> None:
    """A credential made on another site verifies as a signature of that site's key (OpenSSH
    is right), and the pipeline refuses it because the key's application is not our RP ID."""
    token = SoftWebAuthn("evil.example")
    line = f'p@x namespaces="{NS}" {token.public_line}'
    sig = token.sign(b"m", NS, origin="https://evil.example")
    assert both(b"m", sig, tmp_path, line) == (True, True)
    verdict = verify_native(
        b"m",
        sig,
        principal="p@x",
        namespace=NS,
        signers=allowed_signers.parse(line),
        revoked=frozenset(),
        at=AT,
    )
    assert verdict.webauthn is not None
    rules = {
        rule
        for rule, _ in webauthn.policy_problems(
            verdict.webauthn, rp_id="localhost", application="evil.example"
        )
    }
    assert rules == {"webauthn-wrong-rp-id", "webauthn-wrong-origin"}


def test_ssh_keygen_prints_good_ecdsa_sk(tmp_path: Path) -> None:
    """The fact issue 15 rests on, kept as a test: stock `ssh-keygen -Y verify` says Good for
    a browser-form signature, with an ECDSA-SK key, and refuses a changed message."""
    token = SoftWebAuthn("localhost")
    (tmp_path / "as").write_text(f'p@x namespaces="{NS}" {token.public_line}\n')
    (tmp_path / "s.sig").write_bytes(token.sign(b"statement", NS))
    argv = ["ssh-keygen", "-Y", "verify", "-f", str(tmp_path / "as"), "-I", "p@x", "-n", NS]
    argv += ["-s", str(tmp_path / "s.sig")]
    good = subprocess.run(argv, input=b"statement", capture_output=True, check=False)
    assert good.returncode == 0, good.stderr
    assert f'Good "{NS}" signature for p@x with ECDSA-SK key'.encode() in good.stdout
    bad = subprocess.run(argv, input=b"statemenT", capture_output=True, check=False)
    assert bad.returncode != 0 and b"Good" not in bad.stdout


def test_a_browser_assertion_becomes_an_sshsig_ssh_keygen_accepts(tmp_path: Path) -> None:
    """What navigator.credentials.get returns (authenticatorData, clientDataJSON, a DER
    signature), made here with a raw P-256 key, turned into a .sig by webauthn.from_browser."""
    import hashlib

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    line = webauthn.public_key_line(point, "localhost", "kabid@x")
    assert line.startswith("sk-ecdsa-sha2-nistp256@openssh.com ") and line.endswith(" kabid@x")
    message = b'{"step":7}'
    auth = webauthn.authenticator_data("localhost", webauthn.FLAG_UP | webauthn.FLAG_UV, 9)
    cdj = webauthn.client_data_json(to_sign(NS, "sha512", message), "http://localhost:8080")
    der = key.sign(auth + hashlib.sha256(cdj).digest(), ec.ECDSA(hashes.SHA256()))
    blob = webauthn.from_browser(
        authenticator_data_bytes=auth,
        client_data=cdj,
        der_signature=der,
        origin="http://localhost:8080",
    )
    sig = webauthn.sshsig_armor(webauthn.public_key_blob(point, "localhost"), NS, "sha512", blob)
    allowed = f'p@x namespaces="{NS}" {" ".join(line.split()[:2])}'
    assert both(message, sig, tmp_path, allowed) == (True, True)
    assert both(message + b"\n", sig, tmp_path, allowed) == (False, False)
