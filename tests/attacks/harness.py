"""The attack harness: an honest request at the decision, and one attempt at a gate.

Every attack file builds its cases on :class:`Scene` and judges them with :func:`refused`,
so all of them count in the one tally that the suite prints.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sop_pipeline.demo.officials import (
    T0,
    Lab,
    Official,
    RequestFlow,
    keygen,
)
from sop_pipeline.signing import keyring as keyring_mod
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.sshsig import SshKeygen
from sop_pipeline.signing.subject import approvals_dir

RID = "dinkes-simpus"
OTHER = "bappeda-sakip"
AT = T0 + timedelta(hours=1)
SEVEN = "step-07-kabid.json"


def m(n: int) -> timedelta:
    return timedelta(minutes=n)


@dataclass(frozen=True)
class Target:
    step: int = 8
    rule: str = ""  # the rule id that must appear among the refusal reasons
    request_id: str = RID
    lint_rule: str = ""  # when set, `sop keyring lint` on the base keyring must report it


class Scene:
    """An honest request at the decision (steps 1-6 signed and recorded; step 6 cites the
    analysis report recorded for it)."""

    def __init__(self, lab: Lab, *, base_texts: dict[str, str] | None = None) -> None:
        self.lab = lab
        self.o = lab.officials
        if base_texts is not None:
            lab.update_base(base_texts)
        lab.write_request(RID)
        self.flow = RequestFlow(lab, RID)
        self.dir = approvals_dir(lab.request_file(RID))
        self.keygen = SshKeygen()
        f = self.flow
        f.pipeline_step(1, T0)
        f.sign(2, "kadis", T0 + m(1))
        f.sign(3, "kabid", T0 + m(2))
        f.sign(4, "koordinator", T0 + m(3), decision="complete")
        f.record(T0 + m(4), "native")
        f.pipeline_step(5, T0 + m(5))
        self.evidence = f.analyse(T0 + m(9))  # `sop analyze`'s report, recorded
        f.sign(6, "teknis1", T0 + m(10), evidence=self.evidence)
        f.record(T0 + m(11), "native")
        self.h = {
            n: hashlib.sha256(p.read_bytes()).hexdigest()
            for n, p in (
                (4, self.dir / "step-04-koordinator.json"),
                (6, self.dir / "step-06-tim_teknis.json"),
            )
        }

    def statement(self, step: int = 7, request_id: str = RID, **over: object) -> st.Statement:
        subject = RequestFlow(self.lab, request_id).subject()
        builds = {
            4: {
                "step-03": hashlib.sha256(
                    (self.dir / "step-03-kabid.json").read_bytes()
                ).hexdigest()
            },
            6: {"step-04": self.h[4]},
            7: {"step-04": self.h[4], "step-06": self.h[6]},
        }
        fields: dict[str, object] = dict(
            request_id=request_id,
            request_sha256=subject.digest,
            attachments=subject.attachments,
            step_number=step,
            decision="approve",
            signer=self.o["kabid"].principal,
            signed_at=T0 + m(20),
            expires_at=T0 + m(20) + timedelta(days=14),
            builds_on=builds.get(step, {}),
        )
        fields.update(over)
        return st.new(**fields)  # type: ignore[arg-type]

    def sign(self, data: bytes, who: str | Official, namespace: str = st.namespace(7)) -> bytes:
        key = who.key if isinstance(who, Official) else self.o[who].key
        return self.keygen.sign(data, key=key, namespace=namespace)

    def put(self, data: bytes, sig: bytes | None, name: str = SEVEN, request_id: str = RID) -> Path:
        directory = approvals_dir(self.lab.request_file(request_id))
        directory.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
        if sig is not None:
            (directory / f"{name}.sig").write_bytes(sig)
        return directory / name

    def honest_7(self) -> tuple[bytes, bytes]:
        data = self.statement().to_bytes()
        return data, self.sign(data, "kabid")

    def attacker(
        self, name: str = "attacker", type_args: tuple[str, ...] = ("-t", "ed25519")
    ) -> Official:
        key = keygen(self.lab.root / f"id_{name}", type_args, f"{name}@evil.example")
        from sop_pipeline.domain.sop import Role

        return Official(name, Role.KABID, f"{name}@evil.example", key, key.with_suffix(".pub"), "")


def attempt(lab: Lab, target: Target) -> tuple[dict[str, bool], list[str], int]:
    """Accepted per verifier, the refusal reasons seen, and the number of disagreements."""
    accepted: dict[str, bool] = {}
    reasons: list[str] = []
    for mode in ("native", "ssh-keygen"):
        records = lab.root / f"records-{mode}"
        if lab.records.exists():
            shutil.copytree(lab.records, records)
        flow = RequestFlow(lab, target.request_id, records=records)
        flow.record(AT, mode)
        result = flow.gate(target.step, AT, mode)
        accepted[mode] = result.holds
        reasons += list(result.reasons)
        reasons += [p for c in flow.checked(AT, mode) for p in c.problems]
    disagreements = 0
    for checked in RequestFlow(lab, target.request_id).checked(AT, "both"):
        if checked.native is not None and checked.ssh_keygen is not None:
            disagreements += checked.native.ok != checked.ssh_keygen.ok
    return accepted, reasons, disagreements


def refused(name: str, lab: Lab, tally: dict[str, int], attack: Callable[[Scene], Target]) -> None:
    """Plays one attack and asserts both verifiers refuse it, for the rule it names."""
    scene = Scene(lab)
    target = attack(scene)
    accepted, reasons, disagreements = attempt(lab, target)
    tally["tried"] += 1
    tally["accepted"] += any(accepted.values())
    tally["disagreements"] += disagreements
    assert accepted == {"native": False, "ssh-keygen": False}, (name, reasons)
    assert disagreements == 0
    assert any(target.rule in r for r in reasons), (target.rule, reasons)
    if target.lint_rule:
        base = keyring_mod.load_from_git(lab.repo, "main")
        rules = {f.rule for f in keyring_mod.lint(base, at=AT)}
        assert target.lint_rule in rules, rules
