"""allowed_signers parsing and OpenSSH pattern matching."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sop_pipeline.signing import allowed_signers as a


def pub() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


@pytest.mark.parametrize(
    "string,patterns,result",
    [
        ("kabid@x", "kabid@x", 1),
        ("kabid@x", "*@x", 1),
        ("kabid@x", "kabi?@x", 1),
        ("kabid@x", "*,!kabid@x", -1),
        ("kabid@x", "KABID@X", 0),
        ("kabid@x", "a@x,b@x", 0),
        ("a.b", "a?b", 1),
        ("a+b", "a+b", 1),
    ],
)
def test_match_pattern_list(string: str, patterns: str, result: int) -> None:
    assert a.match_pattern_list(string, patterns) == result


def test_line_with_options() -> None:
    key = pub()
    line = a.parse_line(
        3,
        f'p@x namespaces="ns1,ns2",valid-after="20260101Z",valid-before="20270101120000Z" {key} c',
    )
    assert line is not None
    assert line.namespaces == "ns1,ns2"
    assert a.format_time(line.valid_before or 0) == "20270101120000Z"
    assert line.permits(
        principal="p@x", key=line.key, namespace="ns2", at=a.parse_time("20260601Z")
    )
    assert not line.permits(
        principal="p@x", key=line.key, namespace="ns3", at=a.parse_time("20260601Z")
    )
    assert not line.permits(
        principal="p@x", key=line.key, namespace="ns1", at=a.parse_time("20250601Z")
    )


@pytest.mark.parametrize(
    "text",
    [
        "p@x",
        "p@x namespaces=ns1 {key}",
        'p@x unknown="1" {key}',
        'p@x namespaces="a",namespaces="b" {key}',
        'p@x valid-before="2026" {key}',
        'p@x valid-after="20270101Z",valid-before="20260101Z" {key}',
        "p@x ssh-ed25519 AAAA",
        "p@x ssh-dss " + base64.b64encode(b"\0\0\0\x07ssh-dss").decode(),
    ],
)
def test_unreadable_lines_refuse_the_file(text: str) -> None:
    with pytest.raises(a.AllowedSignersError):
        a.parse(text.format(key=pub()))


def test_comments_and_blank_lines() -> None:
    assert a.parse("# c\n\n   \n") == []
