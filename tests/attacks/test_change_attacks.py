"""Change attacks: a live hosting changed (``kind: ubah``) on the strength of approvals that
were not given for the change.

The hosting was created: steps 1-7 signed for the creation's bytes, step 8 recorded (the
applied facts with it) and its approvals consumed. Then the OPD edits ``requests/<id>.yaml``
into a change (docs/changes.md). Each case counts in the suite's one tally.
"""

from __future__ import annotations

import pytest
from harness import RID, SEVEN, T0, Scene, Target, attempt, m, refused

from sop_pipeline.demo.officials import Lab
from sop_pipeline.signing.record import consume_approvals


def _created(s: Scene) -> None:
    """The creation, approved and built: step 7 signed, gate 8 held, step 8 recorded with the
    applied request, the approvals spent."""
    data, sig = s.honest_7()
    s.put(data, sig)
    s.flow.record(T0 + m(21))
    gate = s.flow.gate(8, T0 + m(22))
    assert gate.holds, gate.reasons
    s.flow.ledger.append(
        kind="step",
        actor="pipeline",
        at=T0 + m(23),
        step=8,
        inputs={"request": s.flow.subject().digest, **dict(gate.statements)},
        data={"outcome": "done"},
    )
    consume_approvals(
        s.flow.consumed_ledger, request_id=RID, statements=gate.statements, at=T0 + m(23)
    )


def _edit_into_change(s: Scene) -> None:
    path = s.lab.request_file(RID)
    raw = path.read_bytes()
    assert b"memory_mb: " in raw
    changed = raw.replace(b"memory_mb: ", b"memory_mb: 1", 1)  # e.g. 2048 -> 12048
    path.write_bytes(b"kind: ubah\n" + changed)


def replay_creation_approvals(s: Scene) -> Target:
    """The creation's statements (2-7) left in the folder are offered for the change: they
    name the creation's bytes, and they were spent at step 8."""
    _created(s)
    _edit_into_change(s)
    return Target(rule="[request-changed]")


def _fresh_change(s: Scene, change_class: str = "") -> None:
    """The change walked anew through steps 2-6 for its own bytes; the creation's step-7
    statement still lies in the folder."""
    _created(s)
    _edit_into_change(s)
    for name in ("step-02-kadis.json", "step-03-kabid.json", "step-04-koordinator.json"):
        for suffix in ("", ".sig"):
            (s.dir / (name + suffix)).unlink()
    f = s.flow
    f.sign(2, "kadis", T0 + m(30))
    f.sign(3, "kabid", T0 + m(31))
    f.sign(4, "koordinator", T0 + m(32), decision="complete")
    evidence = f.analyse(T0 + m(33), change_class=change_class)
    for suffix in ("", ".sig"):
        (s.dir / ("step-06-tim_teknis.json" + suffix)).unlink()
    f.sign(6, "teknis1", T0 + m(34), evidence=evidence)
    assert (s.dir / SEVEN).exists()  # the creation's decision, still there


def replay_creation_decision_with_fresh_steps(s: Scene) -> Target:
    """Steps 2-6 signed anew for the change's bytes, but the Kabid's decision is still the
    creation's step-7 statement: it binds to the old bytes."""
    _fresh_change(s)
    return Target(rule="[request-changed]")


def change_applied_before_step_7(s: Scene) -> Target:
    """The change signed through step 6 for its own bytes, and step 8 tried before the
    Kabid signs step 7 for it (the creation's decision removed)."""
    _fresh_change(s)
    for suffix in ("", ".sig"):
        (s.dir / (SEVEN + suffix)).unlink()
    return Target(rule="[step-07-unsigned]")


def _decided(s: Scene, change_class: str, named: str) -> None:
    _fresh_change(s, change_class)
    for suffix in ("", ".sig"):
        (s.dir / (SEVEN + suffix)).unlink()
    options = {"change_class": named} if named else {}
    s.flow.sign(7, "kabid", T0 + m(35), **options)


def reboot_without_the_class_line(s: Scene) -> Target:
    """The analysis found the plan reboots the VM; the Kabid approves without naming it."""
    _decided(s, "reboot", "")
    return Target(rule="[change-class-unconfirmed]")


def replace_approved_as_a_reboot(s: Scene) -> Target:
    """The plan replaces the VM; the Kabid's line names only a reboot."""
    _decided(s, "replace", "reboot")
    return Target(rule="[change-class-unconfirmed]")


ATTACKS = {
    "change-replays-creation-approvals": replay_creation_approvals,
    "change-replays-creation-decision": replay_creation_decision_with_fresh_steps,
    "change-applied-before-step-7": change_applied_before_step_7,
    "change-reboot-without-class-line": reboot_without_the_class_line,
    "change-replace-approved-as-reboot": replace_approved_as_a_reboot,
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_change_attack_is_refused(name: str, lab: Lab, tally: dict[str, int]) -> None:
    refused(name, lab, tally, ATTACKS[name])


@pytest.mark.parametrize("change_class", ["reboot", "replace"])
def test_a_change_whose_decision_names_its_class_holds(lab: Lab, change_class: str) -> None:
    """The control: the same harness accepts the change once the Kabid names the class."""
    scene = Scene(lab)
    _decided(scene, change_class, change_class)
    accepted, reasons, _ = attempt(lab, Target())
    assert accepted == {"native": True, "ssh-keygen": True}, reasons
