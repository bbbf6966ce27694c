"""The signed steps end to end with real ssh-keygen keys and a real Git base branch."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sop_pipeline.demo.officials import T0, Lab, RequestFlow
from sop_pipeline.domain.state import Phase
from sop_pipeline.signing.record import consume_approvals

pytestmark = pytest.mark.integration


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def walk_to_step_7(flow: RequestFlow) -> None:
    flow.pipeline_step(1, T0)
    flow.sign(2, "kadis", T0 + minutes(1))
    flow.sign(3, "kabid", T0 + minutes(2))
    flow.sign(4, "koordinator", T0 + minutes(3), decision="complete")
    assert [r.step for r in flow.record(T0 + minutes(4))] == [2, 3, 4]
    flow.pipeline_step(5, T0 + minutes(5))
    flow.sign(6, "teknis1", T0 + minutes(10), evidence=flow.analyse(T0 + minutes(9)))
    assert [r.step for r in flow.record(T0 + minutes(11))] == [6]


def test_happy_path_through_every_signed_step(lab: Lab) -> None:
    lab.write_request("dinkes-simpus")
    flow = RequestFlow(lab, "dinkes-simpus")
    walk_to_step_7(flow)
    assert not flow.gate(8, T0 + minutes(11)).holds  # no decision yet
    flow.sign(7, "kabid", T0 + minutes(20))
    assert [r.data["outcome"] for r in flow.record(T0 + minutes(21))] == ["approve"]

    gate = flow.gate(8, T0 + minutes(22))
    assert gate.holds, gate.reasons
    assert set(gate.statements) == {"step-02", "step-03", "step-04", "step-06", "step-07"}
    consume_approvals(
        flow.consumed_ledger,
        request_id="dinkes-simpus",
        statements=gate.statements,
        at=T0 + minutes(30),
    )
    flow.pipeline_step(8, T0 + minutes(30))
    flow.pipeline_step(9, T0 + minutes(40))
    flow.sign(10, "koordinator", T0 + minutes(41))
    flow.sign(11, "kabid", T0 + minutes(42))
    flow.sign(12, "kadis", T0 + minutes(43))
    assert [r.step for r in flow.record(T0 + minutes(44))] == [10, 11, 12]
    assert flow.gate(12, T0 + minutes(45)).holds
    state = flow.state()
    assert state.phase is Phase.CLOSED
    steps = [r for r in flow.ledger.records() if r.kind == "step"]
    assert [r.step for r in steps] == list(range(1, 13))
    four = next(r for r in steps if r.step == 4)
    assert four.inputs["request"] == flow.subject().digest
    assert four.actor == lab.officials["koordinator"].principal
    gate_checks = [r for r in flow.ledger.records() if r.kind == "gate_check"]
    assert [r.data["verdict"] for r in gate_checks] == ["fail", "pass", "pass"]


def test_step_4_incomplete_loop_needs_a_fresh_verification(lab: Lab) -> None:
    path = lab.write_request("dinkes-simpus")
    flow = RequestFlow(lab, "dinkes-simpus")
    flow.pipeline_step(1, T0)
    flow.sign(2, "kadis", T0 + minutes(1))
    flow.sign(3, "kabid", T0 + minutes(2))
    flow.sign(
        4,
        "koordinator",
        T0 + minutes(3),
        decision="incomplete",
        reason="Surat belum ditandatangani kepala OPD",
        missing=["letter.signature"],
    )
    recorded = flow.record(T0 + minutes(4))
    assert [(r.step, r.data["outcome"]) for r in recorded] == [
        (2, "done"),
        (3, "done"),
        (4, "incomplete"),
    ]
    assert flow.state().phase is Phase.RETURNED
    assert not flow.gate(4, T0 + minutes(5)).holds

    # The OPD fixes the request; the old verification no longer binds it.
    path.write_text(path.read_text().replace("Layanan informasi", "Layanan informasi resmi"))
    assert [r.data["outcome"] for r in flow.record(T0 + minutes(60))] == ["resubmit"]
    assert flow.state().next_step == 4
    stale = [c for c in flow.checked(T0 + minutes(60)) if c.step == 4]
    assert stale and not stale[0].ok and "request-changed" in " ".join(stale[0].problems)
    assert not flow.gate(4, T0 + minutes(61)).holds

    flow.sign(4, "koordinator", T0 + minutes(62), decision="complete")
    assert [r.data["outcome"] for r in flow.record(T0 + minutes(63))] == ["complete"]
    assert flow.gate(4, T0 + minutes(64)).holds
    flow.pipeline_step(5, T0 + minutes(65))
    flow.sign(6, "teknis2", T0 + minutes(70), evidence=flow.analyse(T0 + minutes(66)))
    flow.sign(7, "kabid", T0 + minutes(80))
    flow.record(T0 + minutes(81))
    assert flow.gate(8, T0 + minutes(82)).holds
    assert (
        len(list(lab.request_file("dinkes-simpus").parent.glob("*.approvals/step-04-*.json"))) == 2
    )


def test_step_7_rejection_ends_the_request(lab: Lab) -> None:
    lab.write_request("dinkes-simpus")
    flow = RequestFlow(lab, "dinkes-simpus")
    walk_to_step_7(flow)
    flow.sign(
        7, "kabid", T0 + minutes(20), decision="reject", reason="Kapasitas klaster tidak mencukupi"
    )
    assert [r.data["outcome"] for r in flow.record(T0 + minutes(21))] == ["reject"]
    state = flow.state()
    assert state.phase is Phase.REJECTED and state.terminal
    result = flow.gate(8, T0 + minutes(22))
    assert not result.holds
    assert any("[rejected]" in r for r in result.reasons)
    # A later approval cannot revive it.
    flow.sign(7, "kabid", T0 + minutes(30))
    assert flow.record(T0 + minutes(31)) == []
    assert not flow.gate(8, T0 + minutes(32)).holds
