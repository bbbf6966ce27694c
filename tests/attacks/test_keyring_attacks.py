"""Keyring attacks: one person at both gates under two principals, and keyrings that break
their own rules (issue 18, classes 4 and 5).

Every case changes the base branch's keyring after an honest request has reached the
decision, then presents the signatures that keyring would let through. Each must be refused
by both verifiers, for the rule it names, and `sop keyring lint` must report the keyring's
fault. The controls at the end show that a legitimate key rotation still works.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop_pipeline.cli.signing import gate_cmd, verify_cmd
from sop_pipeline.demo.officials import (
    DOMAIN,
    T0,
    Lab,
    Official,
    RequestFlow,
    keygen,
    keyring_texts,
    role_namespaces,
    signer_line,
)
from sop_pipeline.domain.sop import Role
from sop_pipeline.signing import keyring as keyring_mod
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.sshkeys import parse_key_text
from tests.attacks.harness import AT, RID, Scene, Target, attempt, m, refused

pytestmark = pytest.mark.integration

FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
NO_ENTRY = "no [people] entry"  # second_kabid: write no [people] table for the principal


# --- editing a keyring ----------------------------------------------------------------------


def official(s: Scene, handle: str, principal: str, role: Role = Role.KABID) -> Official:
    """A new principal with a key of its own (the person behind it is the test's choice)."""
    key = keygen(s.lab.root / f"id_{handle}", ("-t", "ed25519"), principal)
    return Official(handle, role, principal, key, key.with_suffix(".pub"), "")


def join_role(texts: dict[str, str], role: Role, principal: str) -> None:
    head = f"{role} = ["
    assert head in texts["roles.toml"]
    texts["roles.toml"] = texts["roles.toml"].replace(head, f'{head}"{principal}", ', 1)


def person(texts: dict[str, str], principal: str, nip: str | None) -> None:
    """A ``[people]`` entry; ``nip=None`` writes the entry without a NIP."""
    entry = f'\n[people."{principal}"]\nname = "Pejabat"\n'
    texts["roles.toml"] += entry + (f'nip = "{nip}"\n' if nip is not None else "")


def rotation(texts: dict[str, str], principal: str, old: Official | str, until: str) -> None:
    fingerprint = old if isinstance(old, str) else fingerprint_of(old)
    texts["roles.toml"] += (
        f'\n[[rotations]]\nprincipal = "{principal}"\nold_key = "{fingerprint}"\n'
        f'until = "{until}"\n'
    )


def fingerprint_of(o: Official) -> str:
    return parse_key_text(o.public_line).fingerprint


def grouped(nip: str) -> str:
    """A NIP as it is often printed: birth date, appointment, sex, number."""
    return f"{nip[:8]} {nip[8:14]} {nip[14]} {nip[15:]}"


# --- class 4: one person at both gates under two principals ---------------------------------


def second_kabid(
    principal: str,
    nip: Callable[[Scene], str | None],
    *,
    rule: str,
    lint_rule: str,
    also_koordinator: bool = False,
) -> Callable[[Scene], Target]:
    """A second principal with its own key joins kabid; it signs the decision. The NIP the
    keyring gives it (``None``: an entry without ``nip``; ``NO_ENTRY``: no entry) says who
    it is."""

    def attack(s: Scene) -> Target:
        alias = official(s, "alias", principal)
        texts = keyring_texts(s.o)
        namespaces = role_namespaces(Role.KABID)
        if also_koordinator:
            namespaces += "," + role_namespaces(Role.KOORDINATOR)
            join_role(texts, Role.KOORDINATOR, principal)
        texts["allowed_signers"] += (
            signer_line(principal, Role.KABID, alias.public_line, namespaces=namespaces) + "\n"
        )
        join_role(texts, Role.KABID, principal)
        value = nip(s)
        if value != NO_ENTRY:
            person(texts, principal, value)
        s.lab.update_base(texts)
        data = s.statement(signer=principal).to_bytes()
        s.put(data, s.sign(data, alias))
        return Target(rule=rule, lint_rule=lint_rule)

    return attack


def koordinator_nip(s: Scene) -> str:
    return s.o["koordinator"].nip


def koordinator_without_nip(s: Scene) -> Target:
    """The Koordinator's own [people] entry has no NIP: the verification he signed cannot be
    told apart from the decision of a Kabid who might be him."""
    texts = keyring_texts(s.o)
    line = f'nip = "{s.o["koordinator"].nip}"\n'
    assert line in texts["roles.toml"]
    texts["roles.toml"] = texts["roles.toml"].replace(line, "")
    s.lab.update_base(texts)
    data, sig = s.honest_7()
    s.put(data, sig)
    return Target(rule="[gate-signer-without-nip]", lint_rule="gate-role-without-nip")


def threshold_two_by_one_nip(s: Scene) -> Target:
    """Step 6 needs two of Tim Teknis; teknis1 signs again under a second principal."""
    alias = official(s, "teknis1b", f"teknis1.b@{DOMAIN}", Role.TIM_TEKNIS)
    texts = keyring_texts(s.o)
    texts["roles.toml"] = texts["roles.toml"].replace("step-06 = 1", "step-06 = 2")
    texts["allowed_signers"] += signer_line(alias.principal, alias.role, alias.public_line) + "\n"
    join_role(texts, Role.TIM_TEKNIS, alias.principal)
    person(texts, alias.principal, s.o["teknis1"].nip)
    s.lab.update_base(texts)
    second_analysis(s, alias.principal, alias)
    return Target(rule="[step-06-unsigned]", lint_rule="shared-nip")


def second_analysis(s: Scene, signer: str, who: str | Official) -> None:
    six = s.statement(
        step=6,
        signer=signer,
        builds_on={"step-04": s.h[4]},
        signed_at=T0 + m(12),
        expires_at=T0 + timedelta(days=5),
    ).to_bytes()
    s.put(six, s.sign(six, who, st.namespace(6)), name="step-06-tim_teknis-2.json")
    data, sig = s.honest_7()
    s.put(data, sig)


SAME_PERSON = "[same-person-both-gates]"
CLASS_4: dict[str, Callable[[Scene], Target]] = {
    "koordinator-nip-on-second-kabid-principal": second_kabid(
        f"rina.plt@{DOMAIN}", koordinator_nip, rule=SAME_PERSON, lint_rule="nip-in-two-gate-roles"
    ),
    "koordinator-nip-other-email-domain": second_kabid(
        "koordinator@sumbarprov.go.id", koordinator_nip, rule=SAME_PERSON, lint_rule="shared-nip"
    ),
    "koordinator-nip-grouped-with-spaces": second_kabid(
        f"rina.plt@{DOMAIN}",
        lambda s: grouped(s.o["koordinator"].nip),
        rule=SAME_PERSON,
        lint_rule="nip-invalid",
    ),
    "koordinator-nip-full-width-digits": second_kabid(
        f"rina.plt@{DOMAIN}",
        lambda s: s.o["koordinator"].nip.translate(FULL_WIDTH),
        rule=SAME_PERSON,
        lint_rule="nip-invalid",
    ),
    "koordinator-nip-on-principal-in-both-roles": second_kabid(
        f"rina.plt@{DOMAIN}",
        koordinator_nip,
        rule=SAME_PERSON,
        lint_rule="principal-in-two-gate-roles",
        also_koordinator=True,
    ),
    "gate-principal-without-people-entry": second_kabid(
        f"rina.plt@{DOMAIN}",
        lambda s: NO_ENTRY,
        rule="[gate-signer-without-nip]",
        lint_rule="gate-role-without-nip",
    ),
    "gate-principal-people-entry-without-nip": second_kabid(
        f"rina.plt@{DOMAIN}",
        lambda s: None,
        rule="[gate-signer-without-nip]",
        lint_rule="gate-role-without-nip",
    ),
    "gate-principal-empty-nip": second_kabid(
        f"rina.plt@{DOMAIN}",
        lambda s: "",
        rule="[gate-signer-without-nip]",
        lint_rule="gate-role-without-nip",
    ),
    "koordinator-without-nip": koordinator_without_nip,
    "threshold-two-by-one-nip": threshold_two_by_one_nip,
}


# --- class 5: keyrings that break the keyring's own rules -----------------------------------


def kabid_key_shared(one_line: bool) -> Callable[[Scene], Target]:
    """The Kabid's key is also a Tim Teknis member's (step 6 needs two): he signs the
    analysis he then decides on."""

    def attack(s: Scene) -> Target:
        kabid = s.o["kabid"]
        other = f"teknis3@{DOMAIN}"
        texts = keyring_texts(s.o)
        texts["roles.toml"] = texts["roles.toml"].replace("step-06 = 1", "step-06 = 2")
        join_role(texts, Role.TIM_TEKNIS, other)
        person(texts, other, "199307072021031007")
        if one_line:
            old = signer_line(kabid.principal, kabid.role, kabid.public_line)
            both = signer_line(
                f"{kabid.principal},{other}",
                kabid.role,
                kabid.public_line,
                namespaces=f"{role_namespaces(Role.KABID)},{st.namespace(6)}",
            )
            texts["allowed_signers"] = texts["allowed_signers"].replace(old, both)
        else:
            texts["allowed_signers"] += (
                signer_line(other, Role.TIM_TEKNIS, kabid.public_line) + "\n"
            )
        s.lab.update_base(texts)
        second_analysis(s, other, "kabid")
        return Target(rule="[keyring-invalid]", lint_rule="shared-key")

    return attack


def kabid_second_key(
    *, marker: str = "", until: str = "20260301Z", lint_rule: str
) -> Callable[[Scene], Target]:
    """The Kabid's principal is listed again with an outsider's key; the outsider decides.

    ``marker``: no rotation marker (""), or one naming as the old key the outsider's key
    ("outsider"), the Kabid's real key ("kabid"), or a key listed nowhere ("other").
    """

    def attack(s: Scene) -> Target:
        kabid = s.o["kabid"]
        evil = s.attacker()
        texts = keyring_texts(
            s.o, extra_lines=[signer_line(kabid.principal, kabid.role, evil.public_line)]
        )
        if marker:
            old = {
                "outsider": fingerprint_of(evil),
                "kabid": fingerprint_of(kabid),
                "other": fingerprint_of(official(s, "third", "third@example.invalid")),
            }[marker]
            rotation(texts, kabid.principal, old, until)
        s.lab.update_base(texts)
        data = s.statement().to_bytes()
        s.put(data, s.sign(data, evil))
        return Target(rule="[keyring-invalid]", lint_rule=lint_rule)

    return attack


def two_principals_share_nip(s: Scene) -> Target:
    """Two Tim Teknis principals with two keys, but one NIP: one person, counted twice."""
    texts = keyring_texts(s.o)
    texts["roles.toml"] = texts["roles.toml"].replace("step-06 = 1", "step-06 = 2")
    teknis1, teknis2 = s.o["teknis1"], s.o["teknis2"]
    texts["roles.toml"] = texts["roles.toml"].replace(
        f'nip = "{teknis2.nip}"', f'nip = "{teknis1.nip}"'
    )
    s.lab.update_base(texts)
    second_analysis(s, teknis2.principal, "teknis2")
    return Target(rule="[step-06-unsigned]", lint_rule="shared-nip")


def kabid_case_variant(s: Scene) -> Target:
    """``Kabid@...`` beside ``kabid@...``: a look-alike principal with an outsider's key."""
    evil = s.attacker()
    lookalike = s.o["kabid"].principal.capitalize()
    texts = keyring_texts(s.o, extra_lines=[signer_line(lookalike, Role.KABID, evil.public_line)])
    join_role(texts, Role.KABID, lookalike)
    person(texts, lookalike, "197202021995032099")
    s.lab.update_base(texts)
    data = s.statement(signer=lookalike).to_bytes()
    s.put(data, s.sign(data, evil))
    return Target(rule="[keyring-invalid]", lint_rule="principal-case-variant")


CLASS_5: dict[str, Callable[[Scene], Target]] = {
    "kabid-key-shared-second-line": kabid_key_shared(one_line=False),
    "kabid-key-shared-principal-list": kabid_key_shared(one_line=True),
    "kabid-listed-twice-outsider-key": kabid_second_key(lint_rule="principal-multiple-keys"),
    "rotation-marker-expired-outsider-old-key": kabid_second_key(
        marker="outsider", lint_rule="rotation-expired"
    ),
    "rotation-marker-expired-kabid-old-key": kabid_second_key(
        marker="kabid", lint_rule="rotation-expired"
    ),
    "rotation-marker-names-another-key": kabid_second_key(
        marker="other", until="20270101Z", lint_rule="principal-multiple-keys"
    ),
    "rotation-old-key-outlives-marker": kabid_second_key(
        marker="outsider", until="20270101Z", lint_rule="rotation-valid-before"
    ),
    "two-principals-share-nip": two_principals_share_nip,
    "kabid-case-variant-principal": kabid_case_variant,
}

ATTACKS = {**CLASS_4, **CLASS_5}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_keyring_attack_is_refused(name: str, lab: Lab, tally: dict[str, int]) -> None:
    refused(name, lab, tally, ATTACKS[name])


def test_each_class_has_at_least_three_variants() -> None:
    assert len(CLASS_4) >= 3 and len(CLASS_5) >= 3


def test_keyring_invalid_refuses_the_gate_even_where_no_other_rule_would(lab: Lab) -> None:
    """The outsider's signature verifies and every other gate rule holds: only the keyring's
    own lint stands between it and the provisioning."""
    scene = Scene(lab)
    target = kabid_second_key(lint_rule="principal-multiple-keys")(scene)
    accepted, reasons, _ = attempt(lab, target)
    assert accepted == {"native": False, "ssh-keygen": False}
    gate_rules = {r.rsplit("[", 1)[-1] for r in reasons}
    assert gate_rules <= {"keyring-invalid]", "out-of-order]"}, reasons
    assert any("[principal-multiple-keys] [keyring-invalid]" in r for r in reasons)


def test_sop_gate_names_the_lint_findings(lab: Lab) -> None:
    scene = Scene(lab)
    kabid_second_key(lint_rule="principal-multiple-keys")(scene)
    result = CliRunner().invoke(
        gate_cmd,
        [RID, "--step", "8", "--repo", str(lab.repo), "--at", AT.isoformat()],
    )
    assert result.exit_code == 7, result.output
    assert "[principal-multiple-keys] [keyring-invalid]" in result.output
    assert "allowed_signers" in result.output
    assert "Tercatat" not in result.output  # nothing recorded under that keyring


def test_sop_verify_calls_nothing_valid_under_a_keyring_that_fails_lint(lab: Lab) -> None:
    """The outsider's statement verifies cryptographically; `sop verify` must not say SAH."""
    scene = Scene(lab)
    kabid_second_key(lint_rule="principal-multiple-keys")(scene)
    result = CliRunner().invoke(verify_cmd, [RID, "--repo", str(lab.repo), "--at", AT.isoformat()])
    assert result.exit_code == 3, result.output
    assert "[principal-multiple-keys] [keyring-invalid]" in result.output
    assert "SAH" not in result.output.replace("TIDAK SAH", "")


def test_the_pipeline_records_no_signature_under_a_keyring_that_fails_lint(lab: Lab) -> None:
    """`sop run` and `sop provision` walk requests with :class:`Pipeline`: under a keyring
    that fails lint it records no signed step and says why; once fixed, it goes on."""
    from sop_pipeline.config import TrustedConfig
    from sop_pipeline.demo.scenario import publish_base
    from sop_pipeline.steps.pipeline import Pipeline
    from sop_pipeline.workspace import Workspace

    publish_base(lab)
    kabid = lab.officials["kabid"]
    evil = keygen(lab.root / "id_evil", ("-t", "ed25519"), "evil@example.invalid")
    outsider = " ".join(evil.with_suffix(".pub").read_text().split()[:2])
    lab.update_base(
        keyring_texts(
            lab.officials, extra_lines=[signer_line(kabid.principal, kabid.role, outsider)]
        )
    )
    ws = Workspace(lab.repo)
    RequestFlow(lab, RID, records=ws.records_dir).sign(2, "kadis", T0 + m(1))
    lines: list[str] = []

    def walk() -> list[int]:
        with TrustedConfig.from_commit(lab.repo, "main") as trusted:  # the base as it is now
            pipeline = Pipeline(ws, trusted=trusted, now=lambda: T0 + m(2), log=lines.append)
            return pipeline.advance(RID).recorded

    assert walk() == [1]
    log = "\n".join(lines)
    assert "[principal-multiple-keys] [keyring-invalid]" in log, log
    lab.update_base(keyring_texts(lab.officials))
    assert walk() == [2]


# --- the controls: a legitimate key rotation ------------------------------------------------

UNTIL = T0 + timedelta(hours=2)
UNTIL_TEXT = UNTIL.strftime("%Y%m%d%H%M%SZ")
BEFORE, AFTER = T0 + timedelta(hours=1), T0 + timedelta(hours=3)


def rotation_keyring(officials: dict[str, Official], new: Official) -> dict[str, str]:
    """The Kabid moves to a new key: old line ends at UNTIL, new line, and the marker."""
    kabid = officials["kabid"]
    texts = keyring_texts(officials)
    old_line = signer_line(kabid.principal, kabid.role, kabid.public_line)
    texts["allowed_signers"] = texts["allowed_signers"].replace(
        old_line,
        signer_line(kabid.principal, kabid.role, kabid.public_line, valid_before=UNTIL_TEXT)
        + "\n"
        + signer_line(kabid.principal, kabid.role, new.public_line),
    )
    rotation(texts, kabid.principal, kabid, UNTIL_TEXT)
    return texts


def gate_at(lab: Lab, when: datetime, mode: str) -> tuple[bool, list[str]]:
    """Gate 8 at ``when`` with one verifier, on a copy of the ledgers (as the harness does)."""
    records = lab.root / f"records-{mode}-{when:%H%M}"
    shutil.copytree(lab.records, records)
    flow = RequestFlow(lab, RID, records=records)
    flow.record(when, mode)
    result = flow.gate(8, when, mode)
    problems = [p for c in flow.checked(when, mode) for p in c.problems]
    return result.holds, [*result.reasons, *problems]


@pytest.mark.parametrize("signed_with", ["old", "new"])
def test_key_rotation_old_and_new_key_until_the_end_then_only_the_new(
    signed_with: str, tmp_path: Path, officials: dict[str, Official]
) -> None:
    """The Kabid signs steps 3 and 7 with his old or his new key. Until the marker's end date
    both verify, with the native verifier and with ssh-keygen; after it only the new one."""
    kabid = officials["kabid"]
    new_key = keygen(tmp_path / "id_kabid_new", ("-t", "ed25519"), kabid.principal)
    new = dataclasses.replace(kabid, key=new_key, pub=new_key.with_suffix(".pub"))
    texts = rotation_keyring(officials, new)
    signer = kabid if signed_with == "old" else new
    lab = Lab(tmp_path / "lab", {**officials, "kabid": signer}, keyring=texts)
    scene = Scene(lab)
    scene.put(*scene.honest_7())

    keyring = keyring_mod.load_from_git(lab.repo, "main")
    for when in (BEFORE, AFTER):
        assert keyring_mod.errors(keyring_mod.lint(keyring, at=when)) == [], when
    assert "rotation-ended" in {f.rule for f in keyring_mod.lint(keyring, at=AFTER)}

    for mode in ("native", "ssh-keygen"):
        holds, reasons = gate_at(lab, BEFORE, mode)
        assert holds, (mode, reasons)
        holds, reasons = gate_at(lab, AFTER, mode)
        if signed_with == "new":
            assert holds, (mode, reasons)
        else:
            assert not holds
            expired = "[not-allowed-signer]" if mode == "native" else "valid-before"
            assert any(expired in r for r in reasons), reasons
            assert not any("[keyring-invalid]" in r for r in reasons), reasons
    for when in (BEFORE, AFTER):
        for checked in RequestFlow(lab, RID).checked(when, "both"):
            assert checked.native is not None and checked.ssh_keygen is not None
            assert checked.native.ok == checked.ssh_keygen.ok


def test_without_the_marker_the_same_two_keys_are_refused(
    tmp_path: Path, officials: dict[str, Official]
) -> None:
    kabid = officials["kabid"]
    new_key = keygen(tmp_path / "id_kabid_new", ("-t", "ed25519"), kabid.principal)
    new = dataclasses.replace(kabid, key=new_key, pub=new_key.with_suffix(".pub"))
    texts = rotation_keyring(officials, new)
    texts["roles.toml"] = texts["roles.toml"].split("\n[[rotations]]")[0] + "\n"
    keyring = keyring_mod.parse(
        allowed_signers=texts["allowed_signers"],
        roles_toml=texts["roles.toml"],
        revoked_keys=texts["revoked_keys"],
    )
    found = keyring_mod.errors(keyring_mod.lint(keyring, at=BEFORE))
    assert [f.rule for f in found] == ["principal-multiple-keys"]
