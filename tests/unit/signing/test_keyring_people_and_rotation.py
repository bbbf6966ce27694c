"""Keyring lint: people (NIP), one key per principal, the rotation marker; and the gate's use
of them. Keyrings built in memory with real OpenSSH public keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sop_pipeline.demo.officials import signer_line
from sop_pipeline.domain.sop import Role
from sop_pipeline.signing import keyring as k
from sop_pipeline.signing.gates import keyring_refusals, person_of
from sop_pipeline.signing.sshkeys import parse_key_text

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
D = "diskominfotik.sumbarprov.go.id"
ROLES = {
    "kadis": Role.KADIS,
    "kabid": Role.KABID,
    "koordinator": Role.KOORDINATOR,
    "helpdesk": Role.HELPDESK,
    "teknis1": Role.TIM_TEKNIS,
    "teknis2": Role.TIM_TEKNIS,
}
NIPS = {
    "kadis": "196801011990031001",
    "kabid": "197202021995032002",
    "koordinator": "198003032005011003",
    "helpdesk": "199004042015032004",
    "teknis1": "198805052012031005",
    "teknis2": "199106062019032006",
}


def pub() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


class Ring:
    """The three files' text, edited by a test, then parsed."""

    def __init__(self) -> None:
        self.keys = {h: pub() for h in ROLES}
        self.lines = [signer_line(f"{h}@{D}", r, self.keys[h]) for h, r in ROLES.items()]
        self.roles: dict[str, list[str]] = {}
        for h, r in ROLES.items():
            self.roles.setdefault(str(r), []).append(f"{h}@{D}")
        self.nips: dict[str, str | None] = {f"{h}@{D}": n for h, n in NIPS.items()}
        self.threshold6 = 1
        self.tail = ""

    def keyring(self) -> k.Keyring:
        toml = "schema_version = 1\n[roles]\n"
        toml += "".join(f"{r} = {p!r}\n".replace("'", '"') for r, p in self.roles.items())
        toml += f"[thresholds]\nstep-06 = {self.threshold6}\n"
        for principal, nip in self.nips.items():
            toml += f'[people."{principal}"]\nname = "x"\n'
            toml += f'nip = "{nip}"\n' if nip is not None else ""
        return k.parse(
            allowed_signers="\n".join(self.lines) + "\n",
            roles_toml=toml + self.tail,
            revoked_keys="",
            source="t/",
        )

    def errors(self, at: datetime = AT) -> set[str]:
        return {f.rule for f in k.errors(k.lint(self.keyring(), at=at))}

    def warnings(self, at: datetime = AT) -> set[str]:
        return {f.rule for f in k.lint(self.keyring(), at=at) if f.severity == "warning"}

    def rotate(self, handle: str, *, old_valid_before: str | None, until: str) -> str:
        """A new key for ``handle``; the old line ends at ``old_valid_before``; the marker."""
        principal = f"{handle}@{D}"
        old = self.keys[handle]
        index = next(i for i, line in enumerate(self.lines) if line.startswith(principal + " "))
        if old_valid_before is None:
            self.lines[index] = signer_line(principal, ROLES[handle], old).replace(
                ',valid-before="20301231Z"', ""
            )
        else:
            self.lines[index] = signer_line(principal, ROLES[handle], old, old_valid_before)
        self.lines.append(signer_line(principal, ROLES[handle], pub()))
        return self.mark(principal, parse_key_text(old).fingerprint, until)

    def mark(self, principal: str, fingerprint: str, until: str) -> str:
        self.tail += (
            f'[[rotations]]\nprincipal = "{principal}"\nold_key = "{fingerprint}"\n'
            f'until = "{until}"\n'
        )
        return fingerprint


def test_the_honest_keyring_passes() -> None:
    assert Ring().errors() == set()


# --- people -----------------------------------------------------------------------------------


@pytest.mark.parametrize("handle", ["kabid", "koordinator"])
@pytest.mark.parametrize("nip", [None, ""])
def test_a_gate_role_principal_needs_a_nip(handle: str, nip: str | None) -> None:
    ring = Ring()
    ring.nips[f"{handle}@{D}"] = nip
    assert ring.errors() == {"gate-role-without-nip"}
    del ring.nips[f"{handle}@{D}"]  # no [people] entry at all
    assert ring.errors() == {"gate-role-without-nip"}


def test_other_roles_need_no_nip_while_their_threshold_is_one() -> None:
    ring = Ring()
    for handle in ("kadis", "helpdesk", "teknis1", "teknis2"):
        del ring.nips[f"{handle}@{D}"]
    assert ring.errors() == set()
    ring.threshold6 = 2  # two of Tim Teknis must be two people: the keyring must say who
    assert ring.errors() == {"threshold-role-without-nip"}


@pytest.mark.parametrize(
    "nip",
    ["19800303 200501 1 003", "19800303.200501.1.003", "１９８００３０３２００５０１１００３"],
)
def test_a_nip_is_18_plain_digits_and_compared_normalised(nip: str) -> None:
    ring = Ring()
    ring.nips[f"kabid@{D}"] = nip  # the Koordinator's NIP, spelt another way
    assert ring.errors() == {"nip-invalid", "shared-nip", "nip-in-two-gate-roles"}
    assert ring.keyring().nip_of(f"kabid@{D}") == NIPS["koordinator"]


@pytest.mark.parametrize("nip", ["1980030320050110", "19800303200501100x", "ABCDEFGHIJKLMNOPQR"])
def test_a_nip_of_the_wrong_shape_is_refused(nip: str) -> None:
    ring = Ring()
    ring.nips[f"helpdesk@{D}"] = nip
    assert ring.errors() == {"nip-invalid"}


def test_a_nip_that_is_not_a_string_is_a_keyring_error() -> None:
    with pytest.raises(k.KeyringError, match="nip"):
        k.parse(
            allowed_signers="",
            roles_toml='schema_version = 1\n[people."a@b"]\nnip = 198003032005011003\n',
            revoked_keys="",
        )


def test_two_principals_sharing_a_nip() -> None:
    ring = Ring()
    ring.nips[f"helpdesk@{D}"] = NIPS["kadis"]
    assert ring.errors() == {"shared-nip"}


def test_one_nip_across_both_gate_roles() -> None:
    ring = Ring()
    ring.nips[f"kabid@{D}"] = NIPS["koordinator"]
    assert ring.errors() == {"shared-nip", "nip-in-two-gate-roles"}


def test_a_second_kabid_principal_with_the_koordinators_nip() -> None:
    ring = Ring()
    alias = f"rina.plt@{D}"
    ring.lines.append(signer_line(alias, Role.KABID, pub()))
    ring.roles["kabid"].append(alias)
    ring.nips[alias] = NIPS["koordinator"]
    assert ring.errors() == {"shared-nip", "nip-in-two-gate-roles"}
    ring.nips[alias] = None
    assert ring.errors() == {"gate-role-without-nip"}


def test_the_gate_compares_people_by_nip() -> None:
    ring = Ring()
    ring.nips[f"helpdesk@{D}"] = "19800303 200501 1 003"
    keyring = ring.keyring()
    assert person_of(keyring, f"koordinator@{D}") == person_of(keyring, f"helpdesk@{D}")
    assert person_of(keyring, f"kabid@{D}") != person_of(keyring, f"koordinator@{D}")
    assert person_of(keyring, f"nobody@{D}") == f"principal:nobody@{D}"


# --- keys per principal ---------------------------------------------------------------------


def test_a_principal_with_two_keys_is_refused() -> None:
    ring = Ring()
    ring.lines.append(signer_line(f"kabid@{D}", Role.KABID, pub()))
    assert ring.errors() == {"principal-multiple-keys"}


def test_one_key_on_two_lines_of_one_principal_is_one_key() -> None:
    ring = Ring()
    ring.lines.append(
        signer_line(f"kabid@{D}", Role.KABID, ring.keys["kabid"], namespaces="sop-x@y")
    )
    assert "principal-multiple-keys" not in ring.errors()


def test_principals_differing_only_in_case() -> None:
    ring = Ring()
    ring.lines.append(signer_line(f"Kabid@{D}", Role.KABID, pub()))
    ring.roles["kabid"].append(f"Kabid@{D}")
    ring.nips[f"Kabid@{D}"] = "197202021995032099"
    assert ring.errors() == {"principal-case-variant"}


# --- the rotation marker --------------------------------------------------------------------

UNTIL = "20260401Z"
BEFORE, AFTER = datetime(2026, 3, 20, tzinfo=UTC), datetime(2026, 4, 2, tzinfo=UTC)


def test_a_rotation_with_its_marker_passes_before_and_after_its_end() -> None:
    ring = Ring()
    ring.rotate("kabid", old_valid_before=UNTIL, until=UNTIL)
    assert ring.errors(BEFORE) == set()
    assert ring.errors(AFTER) == set()  # the old key expired: not an error, a reminder
    assert "rotation-ended" in ring.warnings(AFTER)
    assert "rotation-ended" not in ring.warnings(BEFORE)


def test_the_old_key_may_end_before_the_marker() -> None:
    ring = Ring()
    ring.rotate("kabid", old_valid_before="20260325Z", until=UNTIL)
    assert ring.errors(BEFORE) == set()
    assert ring.errors(datetime(2026, 3, 28, tzinfo=UTC)) == set()


@pytest.mark.parametrize("old_valid_before", [None, "20270101Z"])
def test_the_old_key_must_not_outlive_the_marker(old_valid_before: str | None) -> None:
    ring = Ring()
    ring.rotate("kabid", old_valid_before=old_valid_before, until=UNTIL)
    assert ring.errors(BEFORE) == {"rotation-valid-before"}
    assert ring.errors(AFTER) == {"rotation-valid-before", "rotation-expired"}


def test_a_marker_naming_a_key_the_principal_does_not_have() -> None:
    ring = Ring()
    ring.lines.append(signer_line(f"kabid@{D}", Role.KABID, pub()))
    ring.mark(f"kabid@{D}", parse_key_text(ring.keys["kadis"]).fingerprint, UNTIL)
    assert ring.errors(BEFORE) == {"rotation-invalid", "principal-multiple-keys"}


def test_a_marker_without_a_new_key() -> None:
    ring = Ring()
    ring.mark(f"kabid@{D}", parse_key_text(ring.keys["kabid"]).fingerprint, UNTIL)
    assert "rotation-invalid" in ring.errors(BEFORE)


def test_one_rotation_at_a_time() -> None:
    ring = Ring()
    old = ring.rotate("kabid", old_valid_before=UNTIL, until=UNTIL)
    ring.mark(f"kabid@{D}", old, "20260315Z")
    assert ring.errors(BEFORE) == {"rotation-invalid"}
    ring = Ring()
    ring.rotate("kabid", old_valid_before=UNTIL, until=UNTIL)
    ring.lines.append(signer_line(f"kabid@{D}", Role.KABID, pub()))  # a third key
    assert ring.errors(BEFORE) == {"principal-multiple-keys"}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('principal = "a@b"\nold_key = "SHA256:x"\n', "tepat principal"),
        ('principal = "a@b"\nold_key = "SHA256:x"\nuntil = "20260401"\n', "akhiran Z"),
        ('principal = "a@b"\nold_key = "SHA256:x"\nuntil = "2026-04-01Z"\n', "until"),
        ('principal = "a@b"\nold_key = "MD5:x"\nuntil = "20260401Z"\n', "SHA256"),
        ('principal = "a@b"\nold_key = "SHA256:x"\nuntil = 20260401\n', "string"),
        ('principal = "a@b"\nold_key = "SHA256:x"\nuntil = "20260401Z"\nnote = ""\n', "tepat"),
    ],
)
def test_a_malformed_marker_is_a_keyring_error(entry: str, message: str) -> None:
    with pytest.raises(k.KeyringError, match=message):
        k.parse(
            allowed_signers="",
            roles_toml=f"schema_version = 1\n[[rotations]]\n{entry}",
            revoked_keys="",
        )


# --- the gate refuses a keyring that fails lint ----------------------------------------------


def test_keyring_refusals_carry_the_finding_and_the_rule() -> None:
    assert keyring_refusals(Ring().keyring(), AT) == []
    ring = Ring()
    ring.lines.append(signer_line(f"kabid@{D}", Role.KABID, pub()))
    (refusal,) = keyring_refusals(ring.keyring(), AT)
    assert refusal.endswith("[principal-multiple-keys] [keyring-invalid]")
    assert "t/allowed_signers" in refusal
    assert keyring_refusals(Ring().keyring(), None)[0].endswith("[keyring-invalid]")


def test_warnings_do_not_refuse_the_gate() -> None:
    ring = Ring()
    ring.lines[0] = ring.lines[0].replace(',valid-before="20301231Z"', "")  # no-expiry
    assert "no-expiry" in ring.warnings()
    assert keyring_refusals(ring.keyring(), AT) == []
    assert keyring_refusals(ring.keyring(), AT + timedelta(days=3650)) != []  # expired keys
