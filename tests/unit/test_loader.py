"""The strict loader: every invalid fixture refused with its expected message, valid ones kept."""

from __future__ import annotations

import hashlib
import shutil
import tracemalloc
from pathlib import Path

import pytest

from sop_pipeline.domain.policy import Policy
from sop_pipeline.loader import RequestInvalid, load_request, parse_yaml
from tests.conftest import ASSETS, REPO

INVALID = sorted((ASSETS / "requests" / "invalid").glob("*.yaml"))
VALID = sorted((ASSETS / "requests" / "valid").glob("*.yaml"))

# Every class of input the loader must refuse, each with at least one fixture.
REQUIRED_RULES = {
    "no-anchor",
    "no-merge-key",
    "duplicate-key",
    "single-document",
    "size-cap",
    "yaml11-coercion",
    "utf-8",
    "control-char",
    "bidi-char",
    "invisible-char",
    "ascii-ldh",
    "pattern",
    "additionalProperties",
    "required",
    "opd-quota",
    "size-range",
    "no-tag",
    # issue 17: messages that say what to write instead
    "yaml-tab",
    "nbsp",
    "enum",
    "schema-version",
    "nip-spaces",
    "unknown-opd",
    # issue 14: deployers' keys and the database
    "deploy-key-options",
    "deploy-key-rsa-bits",
    "deploy-key-one-line",
    "deploy-key-malformed",
}


def refuse(path: Path, policy: Policy) -> list[str]:
    with pytest.raises(RequestInvalid) as caught:
        load_request(path, policy=policy, check_attachments=False)
    return [
        line.replace(str(path), "{file}", 1) for line in caught.value.diagnostics().splitlines()
    ]


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_fixture_is_refused_with_its_expected_message(path: Path, policy: Policy) -> None:
    expected = path.with_suffix(".expected").read_text().splitlines()
    assert refuse(path, policy) == expected


def test_fixtures_cover_every_class_the_loader_refuses(policy: Policy) -> None:
    seen = set()
    for path in INVALID:
        for line in path.with_suffix(".expected").read_text().splitlines():
            seen.add(line.rsplit("[", 1)[1].rstrip("]"))
    assert seen >= REQUIRED_RULES, REQUIRED_RULES - seen


def test_a_file_with_several_problems_reports_them_all_in_one_run(policy: Policy) -> None:
    lines = refuse(ASSETS / "requests" / "invalid" / "several-problems.yaml", policy)
    rules = {line.rsplit("[", 1)[1] for line in lines}
    assert len(lines) >= 5 and len(rules) >= 4
    assert all(line.startswith("{file}:") for line in lines)


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_fixture_is_accepted(path: Path, policy: Policy) -> None:
    request = load_request(path, policy=policy, check_attachments=False)
    assert request.request.hostname == "simpus"
    assert request.digest == hashlib.sha256(path.read_bytes()).hexdigest()


def test_quoted_values_stay_strings(policy: Policy) -> None:
    request = load_request(
        ASSETS / "requests" / "valid" / "quoted-everything.yaml",
        policy=policy,
        check_attachments=False,
    )
    assert request.request.application.name == "SIMPUS & Co: on/no"
    assert request.request.pic.nip == "198203152009012003"


@pytest.mark.parametrize("path", sorted((REPO / "requests").glob("*.yaml")), ids=lambda p: p.stem)
def test_example_requests_are_valid_with_their_letters(path: Path, policy: Policy) -> None:
    request = load_request(path, policy=policy)
    letter = request.request.letter
    assert (path.parent / letter.file).read_bytes().startswith(b"%PDF-")
    assert request.attachments == {letter.file: letter.sha256}


def test_a_letter_that_does_not_match_its_digest_is_refused(tmp_path: Path, policy: Policy) -> None:
    shutil.copytree(REPO / "requests", tmp_path / "requests")
    letter = tmp_path / "requests" / "dinkes-simpus" / "surat-permintaan.pdf"
    letter.write_bytes(letter.read_bytes() + b"%")
    with pytest.raises(RequestInvalid, match=r"letter.sha256: .*\[attachment-digest\]"):
        load_request(tmp_path / "requests" / "dinkes-simpus.yaml", policy=policy)
    letter.unlink()
    with pytest.raises(RequestInvalid, match=r"\[attachment-missing\]"):
        load_request(tmp_path / "requests" / "dinkes-simpus.yaml", policy=policy)


def test_an_alias_bomb_is_refused_without_expansion() -> None:
    lines = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    tracemalloc.start()
    doc, problems = parse_yaml("\n".join(lines) + "\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert doc is None
    assert [p.rule for p in problems] == ["no-anchor"]
    assert peak < 5 * 1024 * 1024  # 10**9 elements were never built


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("a: yes\n", "yaml11-coercion"),
        ("a: Off\n", "yaml11-coercion"),
        ("a: y\n", "yaml11-coercion"),
        ("a: 0o17\n", "yaml11-coercion"),
        ("a: 0x1F\n", "yaml11-coercion"),
        ("a: 1_000\n", "yaml11-coercion"),
        ("a: 1e3\n", "yaml11-coercion"),
        ("a: .inf\n", "yaml11-coercion"),
        ("a: 12:30:00\n", "yaml11-coercion"),
        ("a: 2026-01-02T10:00:00Z\n", "yaml11-coercion"),
        ("a: 3.5\n", "yaml11-coercion"),
        ("a: !custom x\n", "no-tag"),
        ("? [a, b]\n: 1\n", "string-key"),
        ("1: one\n", "string-key"),
        ("a: 1\nb: {c: 1, c: 2}\n", "duplicate-key"),
    ],
)
def test_scalars_other_yaml_readers_would_type_differently_are_refused(
    text: str, rule: str
) -> None:
    _, problems = parse_yaml(text)
    assert [p.rule for p in problems] == [rule]


def test_yaml_1_2_core_scalars_resolve() -> None:
    doc, problems = parse_yaml('a: 10\nb: -3\nc: true\nd: null\ne: "010"\nf: plain text\n')
    assert not problems and doc is not None
    assert doc.data == {"a": 10, "b": -3, "c": True, "d": None, "e": "010", "f": "plain text"}
    assert doc.lines == {"": 1, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}


def test_the_signing_labs_request_is_a_valid_request(tmp_path: Path, policy: Policy) -> None:
    """The approvals tests sign this request: it must be one the loader accepts."""
    from sop_pipeline.demo.officials import REQUEST_TEMPLATE, REQUESTER_EMAIL, REQUESTER_NIP

    letter = b"%PDF-1.4 surat\n"
    (tmp_path / "dinkes-lab").mkdir()
    (tmp_path / "dinkes-lab" / "surat-permintaan.pdf").write_bytes(letter)
    path = tmp_path / "dinkes-lab.yaml"
    path.write_text(
        REQUEST_TEMPLATE.format(
            opd="DINKES",
            nip=REQUESTER_NIP,
            email=REQUESTER_EMAIL,
            request_id="dinkes-lab",
            letter_sha256=hashlib.sha256(letter).hexdigest(),
        )
    )
    assert load_request(path, policy=policy).request_id == "dinkes-lab"
