"""A retirement (``kind: pensiun``) destroys a hosting: its verification (step 4) and its
decision (step 7) need two different people, refused with a rule of its own
(``[retirement-one-person]``) even when the keyring lets one person hold both roles.
Real ssh-keygen signatures, both verifiers."""

from __future__ import annotations

from pathlib import Path

import pytest

from sop_pipeline.demo.officials import Lab, keyring_texts, role_namespaces, signer_line
from sop_pipeline.domain.sop import Role
from tests.attacks.harness import Scene, Target, attempt
from tests.attacks.test_keyring_attacks import join_role

pytestmark = pytest.mark.integration

RULE = "[retirement-one-person]"


def as_retirement(lab: Lab) -> None:
    """Every request this lab writes says ``kind: pensiun`` (the first line of the file)."""
    write = lab.write_request

    def write_pensiun(request_id: str, **options: object) -> Path:
        path = write(request_id, **options)  # type: ignore[arg-type]
        path.write_text("kind: pensiun\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
        return path

    lab.write_request = write_pensiun  # type: ignore[method-assign]


def one_person_at_both_gates(s: Scene) -> None:
    """The Koordinator, who verified (step 4), is also made a Kabid in the keyring and signs
    the decision (step 7) with the same key."""
    k = s.o["koordinator"]
    texts = keyring_texts(s.o)
    old = signer_line(k.principal, k.role, k.public_line)
    both = signer_line(
        k.principal,
        k.role,
        k.public_line,
        namespaces=f"{role_namespaces(Role.KOORDINATOR)},{role_namespaces(Role.KABID)}",
    )
    assert old in texts["allowed_signers"]
    texts["allowed_signers"] = texts["allowed_signers"].replace(old, both)
    join_role(texts, Role.KABID, k.principal)
    s.lab.update_base(texts)
    data = s.statement(signer=k.principal).to_bytes()
    s.put(data, s.sign(data, k))


def test_retirement_signed_by_one_person_at_both_gates_is_refused(
    lab: Lab, tally: dict[str, int]
) -> None:
    as_retirement(lab)
    scene = Scene(lab)
    assert lab.request_file("dinkes-simpus").read_text().startswith("kind: pensiun\n")
    one_person_at_both_gates(scene)
    accepted, reasons, disagreements = attempt(lab, Target(rule=RULE))
    tally["tried"] += 1
    tally["accepted"] += any(accepted.values())
    assert accepted == {"native": False, "ssh-keygen": False}, reasons
    assert disagreements == 0
    assert any(RULE in r for r in reasons), reasons
    print(f"retirement one person at both gates: refused; reasons: {sorted(set(reasons))}")


def test_the_retirement_rule_is_for_retirements_only(lab: Lab) -> None:
    """The same keyring and signatures on a new hosting are refused by the general rules,
    not by the retirement's own."""
    scene = Scene(lab)
    one_person_at_both_gates(scene)
    accepted, reasons, _ = attempt(lab, Target(rule="[same-signer-both-gates]"))
    assert not any(accepted.values())
    assert not any(RULE in r for r in reasons), reasons
