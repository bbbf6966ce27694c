"""Gate composition and keyring lint, on keyrings built in memory."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sop_pipeline.demo.officials import signer_line
from sop_pipeline.domain.sop import Role
from sop_pipeline.signing import keyring as k
from sop_pipeline.signing.gates import AllOf, EmptyPolicy, policy_for, required_steps

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
D = "diskominfotik.sumbarprov.go.id"
PEOPLE = {
    "kadis": Role.KADIS,
    "kabid": Role.KABID,
    "koordinator": Role.KOORDINATOR,
    "helpdesk": Role.HELPDESK,
    "teknis1": Role.TIM_TEKNIS,
}


def pub() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def build(
    lines: dict[str, str] | None = None,
    extra: str = "",
    roles_extra: dict[str, str] | None = None,
    valid_before: str = "20301231Z",
    threshold6: int = 1,
) -> k.Keyring:
    keys = {h: pub() for h in PEOPLE}
    signers = [signer_line(f"{h}@{D}", role, keys[h], valid_before) for h, role in PEOPLE.items()]
    text = "\n".join(signers) + "\n" + extra
    for old, new in (lines or {}).items():
        text = text.replace(old, new)
    roles = {str(role): f'["{h}@{D}"]' for h, role in PEOPLE.items()}
    roles.update(roles_extra or {})
    toml = "schema_version = 1\n[roles]\n" + "".join(f"{r} = {p}\n" for r, p in roles.items())
    toml += f"[thresholds]\nstep-06 = {threshold6}\n"
    toml += "".join(
        f'[people."{h}@{D}"]\nnip = "{19800101 + i:08d}2005011{i:03d}"\n'
        for i, h in enumerate(PEOPLE, start=1)
    )
    return k.parse(allowed_signers=text, roles_toml=toml, revoked_keys="", source="t/")


def rules(keyring: k.Keyring, at: datetime = AT) -> set[str]:
    return {f.rule for f in k.errors(k.lint(keyring, at=at))}


def test_empty_all_of_is_refused() -> None:
    with pytest.raises(EmptyPolicy):
        AllOf([])


def test_every_step_has_a_non_empty_policy() -> None:
    for n in range(1, 13):
        assert policy_for(n).policies
    assert required_steps(8) == (2, 3, 4, 6, 7)
    assert required_steps(11) == (10, 11)


def test_good_keyring_has_no_errors() -> None:
    assert rules(build()) == set()


def test_expired_key() -> None:
    assert "expired-key" in rules(build(valid_before="20260101Z"))


def test_one_principal_in_both_gate_roles() -> None:
    keyring = build(roles_extra={"kabid": f'["kabid@{D}", "koordinator@{D}"]'})
    assert "principal-in-two-gate-roles" in rules(keyring)


def test_one_key_in_both_gate_roles() -> None:
    base = build()
    koor = next(line for line in base.signers if line.principals.startswith("koordinator"))
    text = (
        base.allowed_signers_text + signer_line(f"kabid@{D}", Role.KABID, koor.key.openssh) + "\n"
    )
    shared = k.parse(allowed_signers=text, roles_toml=_roles_text(), revoked_keys="", source="t/")
    assert {"shared-key", "key-in-two-gate-roles"} <= rules(shared)


def _roles_text() -> str:
    roles = "".join(f'{role} = ["{h}@{D}"]\n' for h, role in PEOPLE.items())
    return "schema_version = 1\n[roles]\n" + roles


@pytest.mark.parametrize("pattern", ["*", f"*@{D}", f"kabi?@{D}", f"!x@{D}"])
def test_wildcard_principal(pattern: str) -> None:
    keyring = build(extra=f'{pattern} namespaces="x" {pub()}\n')
    assert "wildcard-principal" in rules(keyring)
    assert "wildcard-principal" in rules(build(roles_extra={"kabid": f'["{pattern}"]'}))


def test_role_below_threshold_and_empty_role() -> None:
    assert "role-below-threshold" in rules(build(threshold6=2))
    assert "role-below-threshold" in rules(build(roles_extra={"helpdesk": "[]", "kadis": "[]"}))


def test_line_without_namespaces() -> None:
    keyring = build(
        lines={
            'namespaces="sop-hosting-step-02@diskominfotik.sumbarprov.go.id,'
            'sop-hosting-step-12@diskominfotik.sumbarprov.go.id",': ""
        }
    )
    assert "namespaces-missing" in rules(keyring)


def test_unknown_role_and_bad_threshold_are_config_errors() -> None:
    with pytest.raises(k.KeyringError):
        k.parse(
            allowed_signers="",
            roles_toml='schema_version = 1\n[roles]\nopd = ["a@b"]\n',
            revoked_keys="",
        )
    with pytest.raises(k.KeyringError):
        k.parse(
            allowed_signers="",
            roles_toml="schema_version = 1\n[thresholds]\nstep-05 = 1\n",
            revoked_keys="",
        )
