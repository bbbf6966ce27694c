"""Statements: canonical bytes, strict parsing, per-step rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sop_pipeline.signing import statement as st
from sop_pipeline.signing.errors import StatementInvalid

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def make(**over: object) -> st.Statement:
    fields: dict[str, object] = dict(
        request_id="dinkes-simpus",
        request_sha256="a" * 64,
        attachments={"x/s.pdf": "b" * 64},
        step_number=4,
        decision="complete",
        signer="rina@diskominfotik.sumbarprov.go.id",
        signed_at=T,
        expires_at=T + timedelta(days=14),
        builds_on={"step-03": "c" * 64},
        nonce="d" * 32,
    )
    fields.update(over)
    return st.new(**fields)  # type: ignore[arg-type]


def test_canonical_bytes_round_trip() -> None:
    s = make(reason="Lengkap ✓")
    data = s.to_bytes()
    assert (
        data
        == json.dumps(
            json.loads(data), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    )
    assert b" " not in data.replace(b"Lengkap \xe2", b"") and "✓".encode() in data
    assert st.parse(data) == s
    assert s.sha256 == st.parse(data).sha256


def test_namespace_per_step() -> None:
    assert st.namespace(4) == "sop-hosting-step-04@diskominfotik.sumbarprov.go.id"
    assert len({st.namespace(n) for n in st.SIGNED_STEPS}) == len(st.SIGNED_STEPS)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d + b"\n",
        lambda d: json.dumps(json.loads(d), indent=1, sort_keys=True).encode(),
        lambda d: json.dumps(json.loads(d)).encode(),
        lambda d: d.replace(b'"step":4', b'"step":4.0'),
        lambda d: d.replace(b'"decision":"complete"', b'"decision":"complete","decision":"x"'),
        lambda d: d.replace(b'"format"', b'"extra":1,"format"'),
        lambda d: b"\xef\xbb\xbf" + d,
        lambda d: d.replace(b'"step":4', b'"step":true'),
    ],
)
def test_non_canonical_or_malformed_is_refused(mutate) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StatementInvalid):
        st.parse(mutate(make().to_bytes()))


@pytest.mark.parametrize(
    "over,rule",
    [
        ({"decision": "approve"}, "[decision]"),
        ({"decision": "incomplete", "missing": ("letter",)}, "[reason-required]"),
        ({"decision": "incomplete", "reason": "kurang"}, "[missing-required]"),
        ({"step_number": 5}, "[unsigned-step]"),
        ({"builds_on": {}}, "[chain]"),
        ({"builds_on": {"step-03": "c" * 64, "step-02": "e" * 64}}, "[chain]"),
        ({"signer": "*@diskominfotik.sumbarprov.go.id"}, "[signer]"),
        ({"expires_at": T}, "[time]"),
        ({"request_sha256": "A" * 64}, "[digest]"),
        ({"request_id": "Dinkes_Simpus"}, "[request-id]"),
    ],
)
def test_rules(over: dict[str, object], rule: str) -> None:
    with pytest.raises(StatementInvalid, match=rule.replace("[", r"\[").replace("]", r"\]")):
        make(**over)


def test_chain_per_step() -> None:
    assert st.CHAIN[7] == (4, 6) and st.CHAIN[6] == (4,) and st.CHAIN[10] == (7,)
    assert set(st.CHAIN) == set(st.SIGNED_STEPS)
    for n in st.SIGNED_STEPS:
        assert all(earlier < n for earlier in st.CHAIN[n])
