"""The pure parts of "statements are evidence": step-6 evidence, recorded refusals, statements
from Git history, and why an unreadable statement does not count.

Statements are built in memory and taken as checked (``Checked`` with no problems): the gate
trusts the verifier's verdict, so signatures are not needed to test what it does with them.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sop_pipeline.demo.officials import signer_line
from sop_pipeline.domain.sop import Role
from sop_pipeline.domain.state import Outcome, StepEvent, fold
from sop_pipeline.ledger import Record
from sop_pipeline.ledger.tracking import event_of
from sop_pipeline.signing import keyring as k
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.approvals import Checked
from sop_pipeline.signing.errors import StatementInvalid
from sop_pipeline.signing.gates import (
    GateContext,
    NoRecordedRefusal,
    OverrideConfirmed,
    RecordedAnalysis,
    RecordedRefusal,
    StepSigned,
    evaluate,
    evidence_problems,
    select,
)
from sop_pipeline.signing.record import recorded_analyses, recorded_refusals, recorded_statements
from sop_pipeline.signing.subject import Subject

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
D = "diskominfotik.sumbarprov.go.id"
RID = "dinkes-simpus"
SUBJECT = Subject(RID, "1" * 64, {"dinkes-simpus/surat.pdf": "2" * 64}, "andi@dinkes.go.id")
REPORT = hashlib.sha256(b"laporan: DAPAT DILAKSANAKAN").hexdigest()
PEOPLE = {
    "kadis": Role.KADIS,
    "kabid": Role.KABID,
    "koordinator": Role.KOORDINATOR,
    "helpdesk": Role.HELPDESK,
    "teknis1": Role.TIM_TEKNIS,
    "teknis2": Role.TIM_TEKNIS,
}


def keyring() -> k.Keyring:
    def pub() -> str:
        key = Ed25519PrivateKey.generate().public_key()
        return key.public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
        ).decode()

    lines = [signer_line(f"{h}@{D}", role, pub()) for h, role in PEOPLE.items()]
    roles: dict[str, list[str]] = {}
    for h, role in PEOPLE.items():
        roles.setdefault(str(role), []).append(f'"{h}@{D}"')
    toml = "schema_version = 1\n[roles]\n" + "".join(
        f"{r} = [{', '.join(p)}]\n" for r, p in roles.items()
    )
    return k.parse(allowed_signers="\n".join(lines) + "\n", roles_toml=toml, revoked_keys="")


KEYRING = keyring()


def checked(
    step: int, who: str, minute: int, *, name: str = "", source: str = "", **over: object
) -> Checked:
    fields: dict[str, object] = dict(
        request_id=RID,
        request_sha256=SUBJECT.digest,
        attachments=SUBJECT.attachments,
        step_number=step,
        decision="approve",
        signer=f"{who}@{D}",
        signed_at=T0 + timedelta(minutes=minute),
        expires_at=T0 + timedelta(days=7),
        builds_on={st.step_key(n): "0" * 64 for n in st.CHAIN[step]},
    )
    fields.update(over)
    s = st.new(**fields)  # type: ignore[arg-type]
    path = Path(f"requests/{RID}.approvals") / (name or f"step-{step:02d}-{s.role}.json")
    return Checked(path, s, s.sha256, s.signer, f"SHA256:{who}", source=source)


def ctx(
    step: int,
    files: list[Checked],
    *,
    history: list[Checked] | None = None,
    analyses: dict[str, RecordedAnalysis] | None = None,
    refusals: tuple[RecordedRefusal, ...] = (),
    state_steps: int = 5,
) -> GateContext:
    outcomes = {4: Outcome.COMPLETE, 7: Outcome.APPROVE}
    events = [
        StepEvent(n, outcomes.get(n, Outcome.DONE), T0 + timedelta(minutes=n))
        for n in range(1, state_steps + 1)
    ]
    return GateContext(
        step=step,
        subject=SUBJECT,
        keyring=KEYRING,
        checked=files,
        state=fold(RID, events),
        recorded={4: frozenset({"0" * 64})},  # what every builds_on above names
        history=history or [],
        analyses={REPORT: RecordedAnalysis(REPORT, SUBJECT.digest, True, "laporan.md")}
        if analyses is None
        else analyses,
        refusals=refusals,
    )


# --- step 6 evidence ------------------------------------------------------------------------


def test_an_approval_citing_the_recorded_feasible_report_counts() -> None:
    six = checked(6, "teknis1", 10, evidence={"laporan.md": REPORT})
    assert evidence_problems(ctx(6, [six]), six) == []
    assert select(ctx(6, [six]), 6).positive == (six,)
    assert StepSigned(6).evaluate(ctx(6, [six])) == []


def test_an_approval_without_evidence_does_not_count() -> None:
    six = checked(6, "teknis1", 10)
    reasons = StepSigned(6).evaluate(ctx(6, [six]))
    assert any("[step-06-unsigned]" in r for r in reasons)
    assert any("[analysis-not-cited]" in r and "step-06-tim_teknis.json" in r for r in reasons)


def test_an_unknown_digest_or_another_requests_report_does_not_count() -> None:
    six = checked(6, "teknis1", 10, evidence={"laporan.md": "9" * 64})
    assert not select(ctx(6, [six]), 6).positive
    assert any("[analysis-unknown]" in p for p in evidence_problems(ctx(6, [six]), six))
    # One good report does not carry a second, unknown one.
    both = checked(6, "teknis1", 10, evidence={"laporan.md": REPORT, "lain.md": "9" * 64})
    assert [p for p in evidence_problems(ctx(6, [both]), both) if "[analysis-unknown]" in p]


def test_a_report_saying_belum_dapat_dilaksanakan_does_not_count() -> None:
    refused = RecordedAnalysis(REPORT, SUBJECT.digest, False, "laporan.md")
    six = checked(6, "teknis1", 10, evidence={"laporan.md": REPORT})
    context = ctx(6, [six], analyses={REPORT: refused})
    assert not select(context, 6).positive
    assert any("BELUM DAPAT DILAKSANAKAN" in p for p in evidence_problems(context, six))
    assert any("[analysis-not-feasible]" in r for r in StepSigned(6).evaluate(context))


def test_a_report_of_other_request_bytes_is_stale() -> None:
    old = RecordedAnalysis(REPORT, "3" * 64, True, "laporan.md")
    six = checked(6, "teknis1", 10, evidence={"laporan.md": REPORT})
    assert any(
        "[analysis-stale]" in p
        for p in evidence_problems(ctx(6, [six], analyses={REPORT: old}), six)
    )


def test_a_step_6_refusal_needs_no_report_and_still_refuses() -> None:
    no = checked(6, "teknis1", 10, decision="reject", reason="Kuota habis")
    assert evidence_problems(ctx(6, [no]), no) == []
    assert any("[step-06-reject]" in r for r in StepSigned(6).evaluate(ctx(6, [no], analyses={})))


def test_a_refusal_does_not_lapse_but_an_approval_does() -> None:
    expired = ("pernyataan kedaluwarsa sejak 2026-03-02T09:30:00Z [statement-expired]",)
    no = checked(6, "teknis1", 10, decision="reject", reason="Kapasitas node tidak cukup")
    yes = checked(6, "teknis2", 12, name="step-06-tim_teknis-2.json", evidence={"r": REPORT})
    lapsed_no = dataclasses.replace(no, problems=expired)
    assert select(ctx(6, [yes, lapsed_no]), 6).negative == (lapsed_no,)
    assert select(ctx(6, [dataclasses.replace(yes, problems=expired)]), 6).positive == ()
    forged = dataclasses.replace(no, problems=(*expired, "tanda tangan tidak sah [bad-signature]"))
    assert select(ctx(6, [yes, forged]), 6).negative == ()  # a bad signature proves nothing


# --- statements from history ------------------------------------------------------------------


def test_a_refusal_only_in_history_still_refuses() -> None:
    yes = checked(6, "teknis2", 12, name="step-06-tim_teknis-2.json", evidence={"r": REPORT})
    gone = checked(6, "teknis1", 10, decision="reject", reason="Kuota habis", source="abc123")
    assert StepSigned(6).evaluate(ctx(6, [yes])) == []
    reasons = StepSigned(6).evaluate(ctx(6, [yes], history=[gone]))
    assert len(reasons) == 1 and "[step-06-reject]" in reasons[0]
    assert "riwayat Git abc123" in reasons[0] and "Kuota habis" in reasons[0]


def test_a_copy_in_history_counts_once() -> None:
    yes = checked(6, "teknis1", 10, evidence={"r": REPORT})
    context = ctx(6, [yes], history=[yes])
    assert select(context, 6).positive == (yes,)


# --- recorded refusals ------------------------------------------------------------------------


def test_a_recorded_refusal_refuses_gates_from_its_step_to_8() -> None:
    no = RecordedRefusal(6, f"teknis1@{D}", "Kuota habis", "4" * 64)
    policy = NoRecordedRefusal(8)
    reasons = policy.evaluate(ctx(8, [], refusals=(no,)))
    assert len(reasons) == 1 and "[refusal-recorded]" in reasons[0]
    assert NoRecordedRefusal(6).evaluate(ctx(6, [], refusals=(no,)))
    late = RecordedRefusal(7, f"kabid@{D}", "Dibatalkan", "5" * 64, withdrawal=True)
    assert NoRecordedRefusal(6).evaluate(ctx(6, [], refusals=(late,))) == []
    assert "ditarik oleh kabid@" in NoRecordedRefusal(8).evaluate(ctx(8, [], refusals=(late,)))[0]
    gate = evaluate(ctx(8, [], refusals=(late,), state_steps=7))
    assert not gate.holds and any("[refusal-recorded]" in r for r in gate.reasons)


def record(seq: int, kind: str, step: int, **fields: object) -> Record:
    return Record(seq, RID, kind, step, "teknis1@" + D, T0.isoformat(), **fields)  # type: ignore[arg-type]


def test_the_ledger_yields_refusals_analyses_and_no_negative_hash() -> None:
    records = [
        record(1, "analysis", 6, inputs={"request": SUBJECT.digest}, outputs={"l.md": REPORT},
               data={"feasible": True}),
        record(2, "step", 6, inputs={"statement": "6" * 64},
               data={"outcome": "reject", "decision": "reject", "reason": "Kuota habis"}),
        record(3, "withdrawal", 7, inputs={"statement": "7" * 64},
               data={"decision": "reject", "reason": "Dibatalkan"}),
    ]  # fmt: skip
    assert recorded_analyses(records) == {
        REPORT: RecordedAnalysis(REPORT, SUBJECT.digest, True, "l.md")
    }
    assert [(r.step, r.statement, r.withdrawal) for r in recorded_refusals(records)] == [
        (6, "6" * 64, False),
        (7, "7" * 64, True),
    ]
    assert recorded_statements(records) == {}  # a refusal is nothing to build on


def test_a_step_6_reject_recorded_as_done_by_older_ledgers_is_read_as_a_refusal() -> None:
    old = record(
        1,
        "step",
        6,
        inputs={"statement": "6" * 64},
        data={"outcome": "done", "decision": "reject", "reason": "Kuota habis"},
    )
    assert event_of(old).outcome is Outcome.REJECT
    assert recorded_statements([old]) == {}
    assert [r.statement for r in recorded_refusals([old])] == ["6" * 64]


# --- unreadable statements --------------------------------------------------------------------


def test_the_gate_says_why_a_statement_cannot_be_read() -> None:
    broken = Checked(
        Path(f"requests/{RID}.approvals/step-07-kabid.json"),
        None,
        "8" * 64,
        problems=("pernyataan tidak sah: bukan JSON UTF-8 yang sah (Expecting value) [json]",),
    )
    odd = Checked(Path("catatan.json"), None, "9" * 64, problems=("pernyataan tidak sah [fields]",))
    other = Checked(
        Path(f"requests/{RID}.approvals/step-04-koordinator.json"),
        None,
        "a" * 64,
        problems=("pernyataan tidak sah [not-canonical]",),
    )
    reasons = StepSigned(7).evaluate(ctx(7, [broken, odd, other], state_steps=6))
    assert any("[step-07-unsigned]" in r for r in reasons)
    assert any(r.startswith("step-07-kabid.json: ") and "[json]" in r for r in reasons)
    assert any(r.startswith("catatan.json: ") for r in reasons)  # no step in its name: shown
    assert not any("[not-canonical]" in r for r in reasons)  # step 4's file, not step 7's


def test_with_no_analysis_recorded_an_approval_is_refused() -> None:
    """Fails closed: no analysis in the ledger, no step-6 approval counts, whatever it cites."""
    for evidence in ({}, {"laporan.md": REPORT}):
        six = checked(6, "teknis1", 10, evidence=evidence)
        problems = evidence_problems(ctx(6, [six], analyses={}), six)
        assert len(problems) == 1 and "[analysis-not-recorded]" in problems[0]
        assert "step-06-tim_teknis.json" in problems[0] and "analisis" in problems[0]
        assert not select(ctx(6, [six], analyses={}), 6).positive


# --- the override of a BELUM DAPAT DILAKSANAKAN report --------------------------------------

OVERRIDE = "Kuota dilampaui 1 vCPU; disetujui untuk layanan darurat"
NOT_FEASIBLE = {REPORT: RecordedAnalysis(REPORT, SUBJECT.digest, False, "laporan.md")}


def test_a_statement_without_override_keeps_its_bytes() -> None:
    six = checked(6, "teknis1", 10, evidence={"laporan.md": REPORT})
    assert six.statement is not None
    assert b"override" not in six.statement.to_bytes()
    assert st.parse(six.statement.to_bytes()) == six.statement


def test_an_override_is_signed_and_read_back() -> None:
    six = checked(6, "teknis1", 10, evidence={"laporan.md": REPORT}, override=OVERRIDE)
    assert six.statement is not None
    data = six.statement.to_bytes()
    assert st.parse(data).override == OVERRIDE
    blank = data.replace(f'"override":"{OVERRIDE}",'.encode(), b'"override":"",')
    with pytest.raises(StatementInvalid, match=r"\[not-canonical\]"):
        st.parse(blank)


@pytest.mark.parametrize(
    ("over", "rule"),
    [
        ({"override": "\u200b\u2060"}, "[invisible-char]"),
        ({"override": " "}, "[override]"),
        ({"decision": "reject", "reason": "tidak layak", "override": OVERRIDE}, "[override]"),
    ],
)
def test_an_override_must_be_visible_text_on_an_approval(over: dict[str, str], rule: str) -> None:
    with pytest.raises(StatementInvalid) as err:
        checked(6, "teknis1", 10, **over)
    assert rule in str(err.value)


def test_an_override_lets_a_belum_report_count_once_the_kabid_names_it() -> None:
    six = checked(6, "teknis1", 10, evidence={"laporan.md": REPORT}, override=OVERRIDE)
    assert evidence_problems(ctx(6, [six], analyses=NOT_FEASIBLE), six) == []
    plain = checked(6, "teknis1", 10, evidence={"laporan.md": REPORT})
    assert any(
        "[analysis-not-feasible]" in p
        for p in evidence_problems(ctx(6, [plain], analyses=NOT_FEASIBLE), plain)
    )
    chain = {"step-04": "0" * 64, "step-06": six.sha256}
    silent = checked(7, "kabid", 20, builds_on=chain)
    named = checked(7, "kabid", 20, builds_on=chain, override=OVERRIDE)
    assert select(ctx(8, [six, silent], analyses=NOT_FEASIBLE), 7).positive == (silent,)
    refused = OverrideConfirmed().evaluate(ctx(8, [six, silent], analyses=NOT_FEASIBLE))
    assert refused and all("[override-not-confirmed]" in r for r in refused)
    assert OverrideConfirmed().evaluate(ctx(8, [six, named], analyses=NOT_FEASIBLE)) == []
