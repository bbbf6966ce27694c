"""The keyring knows browser-made keys: policy.webauthn_rp_id, policy.require_uv, their lint."""

from __future__ import annotations

import pytest

from sop_pipeline.demo.officials import signer_line
from sop_pipeline.domain.sop import Role
from sop_pipeline.signing import keyring as k
from sop_pipeline.signing import webauthn
from sop_pipeline.signing.errors import KeyringError
from tests.support.softkeys import SoftAuthenticator, SoftWebAuthn
from tests.unit.signing.test_keyring_people_and_rotation import AT, ROLES, D, Ring


def ring(policy: str, **keys: str) -> Ring:
    """The honest ring with ``[policy]`` lines, and some officials' keys replaced."""
    r = Ring()
    for handle, line in keys.items():
        r.lines = [
            signer_line(f"{handle}@{D}", ROLES[handle], line)
            if x.startswith(f"{handle}@{D} ")
            else x
            for x in r.lines
        ]
    r.tail = f"[policy]\n{policy}\n"
    return r


def test_the_policy_is_read() -> None:
    got = ring('webauthn_rp_id = "localhost"\nrequire_uv = ["koordinator", "kabid"]').keyring()
    assert got.webauthn_rp_id == "localhost"
    assert got.require_uv == frozenset({Role.KOORDINATOR, Role.KABID})
    assert ring("max_statement_days = 30").keyring().webauthn_rp_id == ""


@pytest.mark.parametrize(
    "policy",
    [
        'webauthn_rp_id = "https://localhost"',
        'webauthn_rp_id = "Localhost"',
        "webauthn_rp_id = 1",
        'require_uv = ["opd"]',
        'require_uv = ["kabid", "boss"]',
        'require_uv = "kabid"',
        "require_uv_for_gates = true",
    ],
)
def test_a_malformed_policy_is_a_keyring_error_naming_the_field(policy: str) -> None:
    with pytest.raises(KeyringError, match=r"t/roles\.toml: policy"):
        ring(policy).keyring()


def test_a_browser_key_of_our_rp_id_passes_lint() -> None:
    r = ring('webauthn_rp_id = "localhost"', kabid=SoftWebAuthn("localhost").public_line)
    assert r.errors() == set()


@pytest.mark.parametrize(("site", "policy"), [("evil.example", "localhost"), ("localhost", "")])
def test_a_browser_key_of_another_rp_id_is_a_lint_error(site: str, policy: str) -> None:
    r = ring(f'webauthn_rp_id = "{policy}"', kabid=SoftWebAuthn(site).public_line)
    assert r.errors() == {"sk-application-not-rp-id"}
    message = next(str(f) for f in k.lint(r.keyring(), at=AT) if f.rule.startswith("sk-"))
    assert site in message and "t/allowed_signers:" in message


def test_a_token_key_made_by_ssh_keygen_is_no_browser_key() -> None:
    """``ssh-keygen -t ed25519-sk`` keys have application ``ssh:``: no RP ID is needed."""
    r = ring("max_statement_days = 30", kabid=SoftAuthenticator().public_line)
    assert r.errors() == set()


def test_a_role_requiring_uv_needs_a_security_key() -> None:
    r = ring(
        'webauthn_rp_id = "localhost"\nrequire_uv = ["kabid", "koordinator"]',
        kabid=SoftWebAuthn().public_line,
    )
    assert r.errors() == {"uv-role-without-security-key"}
    found = [str(f) for f in k.lint(r.keyring(), at=AT) if f.rule == "uv-role-without-security-key"]
    assert len(found) == 1 and f"koordinator@{D}" in found[0]


def test_origins() -> None:
    allowed = [
        "https://localhost",
        "https://localhost:8443",
        "http://localhost",
        "http://localhost:8080",
    ]
    refused = [
        "http://127.0.0.1:8080",
        "https://localhost.evil.example",
        "https://evil.example",
        "http://localhost:0",
        "https://localhost/",
        "http://localhost:8080/x",
        "",
    ]
    assert all(webauthn.origin_allowed(o, "localhost") for o in allowed)
    assert not any(webauthn.origin_allowed(o, "localhost") for o in refused)
    site = "sop.diskominfotik.sumbarprov.go.id"
    assert webauthn.origin_allowed(f"https://{site}", site)
    assert not webauthn.origin_allowed(f"http://{site}", site)
    assert not webauthn.origin_allowed("https://x.diskominfotik.sumbarprov.go.id", site)
