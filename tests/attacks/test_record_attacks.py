"""Attacks on the records themselves (issue 17, promise 10), and approvals that outlive
their lifetime.

Whoever can push ``sop-records`` can rewrite ``records/<id>.jsonl`` and recompute every hash.
The pipeline's signed checkpoints (``records/checkpoints/<id>.jsonl``) and the record head
each statement names (``record_head``) make ``sop audit`` catch it, naming the checkpoint or
statement the record contradicts. Every attack counts in the suite's tally.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop_pipeline.cli.main import main
from sop_pipeline.demo.officials import T0, Lab, keygen, keyring_texts
from sop_pipeline.ledger.chain import GENESIS, Record, canonical_json, verify_records
from sop_pipeline.signing import checkpoint
from sop_pipeline.signing.record import consume_approvals
from sop_pipeline.signing.sshsig import SshKeygen
from sop_pipeline.signing.statement import CHECKPOINT_NAMESPACE
from tests.attacks.harness import RID, Scene, m

pytestmark = pytest.mark.integration

PIPE = "pipeline@diskominfotik.sumbarprov.go.id"


def setup(lab: Lab) -> tuple[Scene, Path]:
    """An honest request at the decision, its records in the repository, a pipeline key."""
    key = keygen(lab.root / "id_pipeline", ("-t", "ed25519"), PIPE)
    public = " ".join(key.with_suffix(".pub").read_text().split()[:2])
    lab.records = lab.repo / "records"
    return Scene(lab, base_texts=keyring_texts(lab.officials, pipeline=(PIPE, public))), key


def sop(lab: Lab, *args: str) -> tuple[int, str]:
    done = CliRunner().invoke(main, ["--repo", str(lab.repo), *args])
    return done.exit_code, done.output


def sign_checkpoint(lab: Lab, key: Path, minutes: int) -> None:
    code, out = sop(
        lab,
        "checkpoint",
        "--key",
        str(key),
        "--base",
        "main",
        "--at",
        (T0 + m(minutes)).isoformat(),
    )
    assert code == 0, out


def ledger_path(lab: Lab) -> Path:
    return lab.records / f"{RID}.jsonl"


def rewrite(path: Path, records: list[Record]) -> None:
    """The chain rewritten with fresh hashes, as an attacker with push rights would."""
    prev, lines = GENESIS, []
    for r in records:
        draft = Record(**{**r.body(), "prev": prev, "hash": ""})
        fixed = Record(**{**draft.body(), "hash": draft.computed_hash()})
        lines.append(canonical_json(asdict(fixed)) + b"\n")
        prev = fixed.hash
    path.write_bytes(b"".join(lines))


def read_records(path: Path) -> list[Record]:
    return [Record(**json.loads(line)) for line in path.read_bytes().splitlines() if line]


def step1_week_earlier(lab: Lab) -> None:
    records = read_records(ledger_path(lab))
    first = records[0]
    moved = (first.time - timedelta(days=7)).isoformat()
    rewrite(ledger_path(lab), [Record(**{**first.body(), "at": moved}), *records[1:]])


def judged(tally: dict[str, int], lab: Lab, rule: str) -> str:
    code, out = sop(lab, "audit", "--base", "main")
    tally["tried"] += 1
    tally["accepted"] += code == 0
    assert code == 5, out
    assert f"[{rule}]" in out, out
    return out


def test_honest_records_hold_and_are_checkpointed(lab: Lab) -> None:
    s, key = setup(lab)
    sign_checkpoint(lab, key, 12)
    found, _ = checkpoint.read(checkpoint.path_for(lab.records, RID))
    assert [(c.count, c.signer) for c in found] == [(len(s.flow.ledger.records()), PIPE)]
    code, out = sop(lab, "audit", "--base", "main")
    assert code == 0 and "UTUH" in out, out
    sign_checkpoint(lab, key, 13)  # nothing changed: no second checkpoint
    assert len(checkpoint.read(checkpoint.path_for(lab.records, RID))[0]) == 1


def test_rewritten_chain_with_fresh_hashes_is_caught(lab: Lab, tally: dict[str, int]) -> None:
    setup(lab)
    key = lab.root / "id_pipeline"
    sign_checkpoint(lab, key, 12)
    step1_week_earlier(lab)
    assert not verify_records(ledger_path(lab), read_records(ledger_path(lab)))
    out = judged(tally, lab, "checkpoint-mismatch")
    assert "checkpoint #1" in out
    assert "[statement-head]" in out  # the officials' statements saw the old chain too
    code, out = sop(lab, "checkpoint", "--key", str(key), "--base", "main")
    assert code == 5 and "[checkpoint-mismatch]" in out, out  # never signed over


def test_rewritten_chain_without_checkpoint_is_caught_by_statements(
    lab: Lab, tally: dict[str, int]
) -> None:
    setup(lab)
    step1_week_earlier(lab)
    out = judged(tally, lab, "statement-head")
    assert "step-02" in out or "langkah 2" in out


def test_checkpoint_signed_by_a_key_not_in_the_keyring(lab: Lab, tally: dict[str, int]) -> None:
    s, _ = setup(lab)
    step1_week_earlier(lab)
    intruder = s.attacker("intruder")
    records = read_records(ledger_path(lab))
    forged = checkpoint.Checkpoint(
        RID, records[-1].hash, len(records), "2026-12-01T00:00:00Z", PIPE
    )
    armored = SshKeygen().sign(forged.message(), key=intruder.key, namespace=CHECKPOINT_NAMESPACE)
    path = checkpoint.path_for(lab.records, RID)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        checkpoint.Checkpoint(**(forged.body() | {"signature": armored.decode()})).line()
    )
    judged(tally, lab, "checkpoint-signature")


def test_rollback_to_an_older_signed_head(lab: Lab, tally: dict[str, int]) -> None:
    s, key = setup(lab)
    sign_checkpoint(lab, key, 12)
    older = ledger_path(lab).read_bytes()
    s.flow.sign(7, "kabid", T0 + m(20))
    s.flow.record(T0 + m(21), "native")
    sign_checkpoint(lab, key, 22)
    ledger_path(lab).write_bytes(older)  # a chain that holds, and that checkpoint #1 signed
    out = judged(tally, lab, "checkpoint-rollback")
    assert "checkpoint #2" in out


def test_statement_naming_a_record_that_never_existed(lab: Lab, tally: dict[str, int]) -> None:
    s, key = setup(lab)
    sign_checkpoint(lab, key, 12)
    s.flow.sign(7, "kabid", T0 + m(20), record_head="ab" * 32)
    out = judged(tally, lab, "statement-head")
    assert "step-07-kabid.json" in out


def test_recorded_approval_outlives_its_expiry_under_a_checkpoint(lab: Lab) -> None:
    s, key = setup(lab)
    s.flow.sign(7, "kabid", T0 + m(20))
    s.flow.record(T0 + m(21), "native")
    later = T0 + timedelta(days=45)  # past every statement's expires_at
    assert not s.flow.gate(8, later, "native").holds  # no checkpoint yet: expired
    sign_checkpoint(lab, key, 22)
    result = s.flow.gate(8, later, "native")
    assert result.holds, result.reasons


def test_unrecorded_expired_statement_is_still_refused(lab: Lab) -> None:
    s, key = setup(lab)
    s.flow.sign(7, "kabid", T0 + m(20))
    sign_checkpoint(lab, key, 22)  # covers steps 1-6, not the unrecorded step 7
    later = T0 + timedelta(days=45)
    result = s.flow.gate(8, later, "native")
    assert not result.holds
    assert any("[statement-expired]" in r for r in result.reasons), result.reasons


def test_a_deleted_checkpoint_file_is_caught(lab: Lab, tally: dict[str, int]) -> None:
    _, key = setup(lab)
    sign_checkpoint(lab, key, 12)
    checkpoint.path_for(lab.records, RID).unlink()
    judged(tally, lab, "checkpoint-missing")


def spent(lab: Lab, s: Scene, key: Path) -> Path:
    """Step 7 recorded, gate 8 held and its approvals spent as step 8 spends them, then
    checkpointed: records/_consumed-approvals.jsonl, the ledger that stops their replay."""
    s.flow.sign(7, "kabid", T0 + m(20))
    s.flow.record(T0 + m(21), "native")
    gate = s.flow.gate(8, T0 + m(22), "native")
    assert gate.holds, gate.reasons
    consume_approvals(
        s.flow.consumed_ledger, request_id=RID, statements=gate.statements, at=T0 + m(23)
    )
    sign_checkpoint(lab, key, 24)
    return s.flow.consumed_ledger.path


def test_pipeline_wide_ledgers_are_checkpointed_too(lab: Lab) -> None:
    s, key = setup(lab)
    consumed = spent(lab, s, key)
    found, _ = checkpoint.read(checkpoint.path_for(lab.records, consumed.stem))
    assert [(c.request_id, c.count) for c in found] == [("_consumed-approvals", 1)]
    code, out = sop(lab, "audit", "--base", "main")
    assert code == 0 and "UTUH" in out, out


def test_spent_approvals_rewritten_with_fresh_hashes_are_caught(
    lab: Lab, tally: dict[str, int]
) -> None:
    s, key = setup(lab)
    consumed = spent(lab, s, key)
    records = read_records(consumed)
    forgotten = {name: "00" * 32 for name in records[0].inputs}  # the spent hashes, gone
    rewrite(consumed, [Record(**{**records[0].body(), "inputs": forgotten})])
    assert not verify_records(consumed, read_records(consumed))  # the chain itself holds
    out = judged(tally, lab, "checkpoint-mismatch")
    assert "_consumed-approvals.jsonl" in out


def test_a_deleted_ledger_of_spent_approvals_is_caught(lab: Lab, tally: dict[str, int]) -> None:
    s, key = setup(lab)
    spent(lab, s, key).unlink()  # every approval spendable again
    out = judged(tally, lab, "checkpoint-rollback")
    assert "_consumed-approvals.jsonl: catatan hilang" in out


def test_a_deleted_request_record_is_caught(lab: Lab, tally: dict[str, int]) -> None:
    _, key = setup(lab)
    sign_checkpoint(lab, key, 12)
    ledger_path(lab).unlink()
    out = judged(tally, lab, "checkpoint-rollback")
    assert f"{RID}.jsonl: catatan hilang" in out
