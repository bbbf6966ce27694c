"""The pipeline's checkpoint key in the keyring, and the statements' ``record_head``."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sop_pipeline.signing import statement as st
from sop_pipeline.signing.errors import StatementInvalid
from tests.unit.signing.test_gates_and_lint import AT, D, build, pub, rules

PIPE = f"pipeline@{D}"


def pipeline_line(namespaces: str = st.CHECKPOINT_NAMESPACE, principal: str = PIPE) -> str:
    return f'{principal} namespaces="{namespaces}",valid-before="20301231Z" {pub()}\n'


def test_a_pipeline_key_for_checkpoints_only_passes_lint() -> None:
    keyring = build(extra=pipeline_line(), roles_extra={"pipeline": f'["{PIPE}"]'})
    assert keyring.pipeline == (PIPE,)
    assert PIPE not in {p for members in keyring.roles.values() for p in members}
    assert rules(keyring) == set()


@pytest.mark.parametrize("namespaces", [st.namespace(7), f"{st.CHECKPOINT_NAMESPACE},*"])
def test_a_pipeline_key_that_may_sign_a_step_is_refused(namespaces: str) -> None:
    keyring = build(extra=pipeline_line(namespaces), roles_extra={"pipeline": f'["{PIPE}"]'})
    assert "pipeline-signs-step" in rules(keyring)


def test_the_pipeline_holds_no_sop_role() -> None:
    keyring = build(
        extra=pipeline_line(),
        roles_extra={"pipeline": f'["{PIPE}"]', "helpdesk": f'["helpdesk@{D}", "{PIPE}"]'},
    )
    assert "pipeline-in-sop-role" in rules(keyring)


def test_an_official_may_not_sign_checkpoints() -> None:
    keyring = build(extra=pipeline_line(principal=f"kabid@{D}"))
    assert "checkpoint-beyond-role" in rules(keyring)


def test_a_pipeline_principal_needs_a_key() -> None:
    assert "principal-without-key" in rules(build(roles_extra={"pipeline": f'["{PIPE}"]'}))


def statement(record_head: str = "") -> st.Statement:
    return st.new(
        request_id="dinkes-simpus",
        request_sha256="a" * 64,
        attachments={},
        step_number=2,
        decision="approve",
        signer=f"kadis@{D}",
        signed_at=AT,
        expires_at=AT + timedelta(days=14),
        record_head=record_head,
    )


def test_statements_without_record_head_still_read_and_keep_their_bytes() -> None:
    old = statement()
    assert b"record_head" not in old.to_bytes()
    assert st.parse(old.to_bytes()) == old


def test_statements_with_record_head_round_trip() -> None:
    new = statement("b" * 64)
    assert b'"record_head":"' + b"b" * 64 + b'"' in new.to_bytes()
    assert st.parse(new.to_bytes()).record_head == "b" * 64


def test_a_record_head_that_is_no_sha256_is_refused() -> None:
    with pytest.raises(StatementInvalid, match=r"\[record-head\]"):
        statement("xyz")
    data = statement("b" * 64).to_bytes().replace(b"b" * 64, b"B" * 64)
    with pytest.raises(StatementInvalid, match=r"\[record-head\]"):
        st.parse(data)
    with pytest.raises(StatementInvalid, match=r"\[fields\]"):
        st.parse(data.replace(b'"record_head"', b'"record_hexd"'))
