"""The pure parts of the input gates: character rules, base-ref choice, statement parsing,
and the regular-file reader on real files (links, FIFOs, folders, sizes)."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sop_pipeline.adapters.git import (
    BaseRefused,
    base_candidates,
    check_base_syntax,
    choose_base,
)
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.text import FORBIDDEN, has_visible, hidden_chars, rule_of, shown
from sop_pipeline.loader import RequestInvalid, load_request
from sop_pipeline.safefile import (
    UnsafeFile,
    list_folder,
    read_regular,
    sha256_regular,
    write_new,
)
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.errors import StatementInvalid
from tests.conftest import ASSETS

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

# --- characters ---------------------------------------------------------------------------


def test_every_format_separator_and_surrogate_character_is_refused() -> None:
    """The hand-written table covers every Cf, Zl, Zp and Cs code point Python knows."""
    missing = [
        f"U+{c:04X}"
        for c in range(sys.maxunicode + 1)
        if unicodedata.category(chr(c)) in ("Cf", "Zl", "Zp", "Cs") and not FORBIDDEN.match(chr(c))
    ]
    assert missing == []


def test_controls_are_refused_except_tab_and_line_breaks() -> None:
    controls = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cc"]
    assert [c for c in controls if not FORBIDDEN.match(c)] == ["\t", "\n", "\r"]
    assert all(rule_of(c) == "control-char" for c in controls if FORBIDDEN.match(c))


@pytest.mark.parametrize(
    "char,rule",
    [
        ("\u202e", "bidi-char"),
        ("\u2067", "bidi-char"),
        ("\u200f", "bidi-char"),
        ("\u061c", "bidi-char"),
        ("\u200b", "invisible-char"),
        ("\u2060", "invisible-char"),
        ("\xad", "invisible-char"),
        ("\u3164", "invisible-char"),
        ("\ufe0f", "invisible-char"),
        ("\U000e0041", "invisible-char"),
        ("\ud800", "invisible-char"),
        ("\x00", "control-char"),
        ("\x9b", "control-char"),
    ],
)
def test_each_hidden_character_has_its_rule(char: str, rule: str) -> None:
    (found,) = hidden_chars(f"ab{char}c")
    assert (found.index, found.rule) == (2, rule)
    assert f"(U+{ord(char):04X})" in found.name


@pytest.mark.parametrize(
    "text,visible",
    [
        ("", False),
        ("   \t\n", False),
        ("\u200b\u2060", False),
        ("\u3000\xa0\u2002", False),
        ("\u3164\u2800", False),
        ("\u0301", False),  # a combining accent on nothing
        ("\xad", False),
        ("a", True),
        ("7", True),
        ("✓", True),
        (" .", True),
        ("Kapasitas tidak cukup", True),
    ],
)
def test_visible_content(text: str, visible: bool) -> None:
    assert has_visible(text) is visible


def test_shown_escapes_hidden_characters_and_cuts_long_text() -> None:
    assert shown("a\u202eb\x00\n") == "a\\u202eb\\u0000\\n"
    assert shown("x" * 100, 10) == "x" * 10 + "..."


def test_the_loader_uses_the_same_rules() -> None:
    from sop_pipeline.loader import decode

    text, problems = decode("name: a\u2060b\nx: \xad\n".encode(), 1000)
    assert text is not None
    assert [(p.rule, p.line) for p in problems] == [("invisible-char", 1), ("invisible-char", 2)]
    assert "WORD JOINER (U+2060)" in problems[0].message


# --- the base ref -------------------------------------------------------------------------

REFS = [
    "refs/heads/main",
    "refs/heads/mr/request",
    "refs/remotes/origin/main",
    "refs/remotes/origin/HEAD",
    "refs/tags/v1",
]


def test_a_short_name_means_exactly_the_refs_git_could_take_for_it() -> None:
    refs = [*REFS, "refs/tags/main", "refs/notes/main", "refs/main", "refs/heads/x/main"]
    assert base_candidates("main", refs) == [
        "refs/heads/main",
        "refs/main",
        "refs/notes/main",
        "refs/tags/main",
    ]
    assert base_candidates("origin/main", refs) == ["refs/remotes/origin/main"]
    assert base_candidates("origin", refs) == ["refs/remotes/origin/HEAD"]


@pytest.mark.parametrize(
    "name,extra,full_or_rule",
    [
        ("main", [], "refs/heads/main"),
        ("origin/main", [], "refs/remotes/origin/main"),
        ("mr/request", [], "refs/heads/mr/request"),
        ("main", ["refs/tags/main"], "[ambiguous-base]"),
        ("main", ["refs/notes/main"], "[ambiguous-base]"),
        ("main", ["refs/replace/main"], "[ambiguous-base]"),
        ("origin/main", ["refs/tags/origin/main"], "[ambiguous-base]"),
        ("origin/main", ["refs/heads/origin/main"], "[ambiguous-base]"),
        ("v1", [], "[base-not-branch]"),
        ("origin", [], "[base-not-branch]"),
        ("nope", [], "[base-not-found]"),
    ],
)
def test_choose_base(name: str, extra: list[str], full_or_rule: str) -> None:
    if full_or_rule.startswith("["):
        with pytest.raises(BaseRefused) as refused:
            choose_base(name, [*REFS, *extra])
        assert full_or_rule in str(refused.value)
        assert shown(name) in str(refused.value)
    else:
        assert choose_base(name, [*REFS, *extra]) == full_or_rule


def test_an_ambiguous_name_lists_its_candidates() -> None:
    with pytest.raises(BaseRefused, match="refs/heads/main, refs/tags/main"):
        choose_base("main", [*REFS, "refs/tags/main"])


@pytest.mark.parametrize(
    "base",
    ["main", "origin/main", "refs/heads/main", "refs/remotes/origin/main", "a" * 40, "b" * 64],
)
def test_base_syntax_accepted(base: str) -> None:
    check_base_syntax(base)


@pytest.mark.parametrize(
    "base,rule",
    [
        ("main~1", "[base-syntax]"),
        ("main^{commit}", "[base-syntax]"),
        ("main@{1}", "[base-syntax]"),
        ("HEAD:approvers", "[base-syntax]"),
        ("-main", "[base-syntax]"),
        ("--output=/tmp/x", "[base-syntax]"),
        ("main..evil", "[base-syntax]"),
        ("main/", "[base-syntax]"),
        ("main.lock", "[base-syntax]"),
        ("ma in", "[base-syntax]"),
        ("main\x00", "[base-syntax]"),
        ("", "[base-syntax]"),
        ("refs/tags/main", "[base-not-branch]"),
        ("refs/notes/main", "[base-not-branch]"),
        ("refs/replace/" + "a" * 40, "[base-not-branch]"),
    ],
)
def test_base_syntax_refused(base: str, rule: str) -> None:
    with pytest.raises(BaseRefused, match=rule.replace("[", r"\[").replace("]", r"\]")):
        check_base_syntax(base)


# --- statements ---------------------------------------------------------------------------


def make(**over: object) -> st.Statement:
    fields: dict[str, object] = dict(
        request_id="dinkes-simpus",
        request_sha256="a" * 64,
        attachments={"x/s.pdf": "b" * 64},
        step_number=7,
        decision="reject",
        reason="Kapasitas tidak cukup",
        signer="kabid@diskominfotik.sumbarprov.go.id",
        signed_at=T,
        expires_at=T + timedelta(days=14),
        builds_on={"step-04": "c" * 64, "step-06": "e" * 64},
        nonce="d" * 32,
    )
    fields.update(over)
    return st.new(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "field,value,rule",
    [
        ("reason", "\u200b\u2060", "[invisible-char]"),
        ("reason", "\u2060", "[reason-required]"),
        ("reason", "Disetujui \u202etidak", "[bidi-char]"),
        ("reason", "\u3000", "[reason-required]"),
        ("reason", "ok\x00", "[control-char]"),
        ("signer", "kabid@diskominfotik.sumbarprov.go.id\u200b", "[invisible-char]"),
        ("signer", "kabid@diskominfotik.sumbarprov.go.id\x00", "[control-char]"),
        ("signer", "kabid@diskominfotik.sumbarprov.go.id\u3000", "[signer]"),
        ("signer", "k" * 300, "[signer]"),
        ("evidence", {"laporan\u202e": "f" * 64}, "[bidi-char]"),
        ("evidence", {"\u2063": "f" * 64}, "[invisible-char]"),
        ("attachments", {"x/s\u200d.pdf": "b" * 64}, "[invisible-char]"),
    ],
)
def test_statement_text_fields_get_the_character_rules(
    field: str, value: object, rule: str
) -> None:
    bad = dataclasses.replace(make(), **{field: value})
    data = bad.to_bytes()
    with pytest.raises(StatementInvalid) as refused:
        st.parse(data)
    assert rule in str(refused.value)
    assert rule in "; ".join(st.check(bad))


def test_missing_entries_get_the_character_rules() -> None:
    honest = make(
        step_number=4, decision="incomplete", missing=("letter",), builds_on={"step-03": "c" * 64}
    )
    for missing, rule in (
        (("\u200b",), "[invisible-char]"),
        (("surat\u200dresmi",), "[invisible-char]"),
        (("\u3000",), "[missing-required]"),
    ):
        with pytest.raises(StatementInvalid, match=rule.replace("[", r"\[").replace("]", r"\]")):
            st.parse(dataclasses.replace(honest, missing=missing).to_bytes())


def test_sign_refuses_what_parse_refuses() -> None:
    with pytest.raises(StatementInvalid, match=r"\[invisible-char\].*\[reason-required\]"):
        make(reason="\u200b\u2060")


def test_a_message_never_echoes_a_hidden_character() -> None:
    data = make().to_bytes().replace(b'"decision":"reject"', b'"decision":"re\\u202eject"')
    with pytest.raises(StatementInvalid) as refused:
        st.parse(data)
    assert not FORBIDDEN.search(str(refused.value))


def corpus(honest: bytes) -> list[bytes]:
    out = [b"", b"\x00", b"\xff", b"[]", b"{}", b'"x"', b"1e999", b"[" * 40000, b"{" * 30000]
    out += [honest[:n] for n in range(0, len(honest), 7)]
    out += [honest[:n] + b"\x00" + honest[n:] for n in range(0, len(honest), 11)]
    out += [honest[:n] + b"\\ud800" + honest[n:] for n in range(1, len(honest), 13)]
    for key in json.loads(honest):
        for value in (
            None,
            True,
            1,
            -1,
            10**4000,
            [],
            {},
            [[]],
            {"a": None},
            "\ud800",
            "x" * 70000,
        ):
            if value == {} and key in ("attachments", "evidence"):
                continue  # no attachments or evidence: a valid statement
            doc = json.loads(honest)
            doc[key] = value
            text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            out.append(text.encode(errors="surrogatepass"))
    out.append(honest.replace(b'"2026-03-02T09:00:00Z"', b'"2026-02-30T25:61:61Z"'))
    return out


def test_parse_refuses_every_malformed_statement_with_statement_invalid_only() -> None:
    honest = make().to_bytes()
    refused = 0
    for data in corpus(honest):
        if data == honest:
            continue
        with pytest.raises(StatementInvalid) as caught:
            st.parse(data)
        assert "[" in str(caught.value) and "]" in str(caught.value)
        refused += 1
    assert refused > 250


# --- the regular-file reader ----------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """requests/ with a real file, a link to it, a FIFO, a folder and a linked folder."""
    root = tmp_path / "requests"
    (root / "a.approvals").mkdir(parents=True)
    (root / "a.approvals" / "ok.json").write_bytes(b"ok")
    (root / "elsewhere").mkdir()
    (root / "elsewhere" / "real.json").write_bytes(b"real")
    (root / "a.approvals" / "link.json").symlink_to("../elsewhere/real.json")
    os.mkfifo(root / "a.approvals" / "fifo.json")
    (root / "a.approvals" / "dir.json").mkdir()
    (root / "b.approvals").symlink_to("elsewhere")
    return root


def test_a_regular_file_is_read(tree: Path) -> None:
    assert read_regular(tree / "a.approvals" / "ok.json", limit=10, within=tree) == b"ok"


@pytest.mark.parametrize(
    "path,kind",
    [
        ("a.approvals/link.json", "symlink"),
        ("a.approvals/fifo.json", "FIFO"),
        ("a.approvals/dir.json", "folder"),
        ("b.approvals/real.json", "symlink"),  # a linked folder on the way
    ],
)
def test_anything_else_is_refused_without_being_opened(tree: Path, path: str, kind: str) -> None:
    with pytest.raises(UnsafeFile) as refused:
        read_regular(tree / path, limit=1000, within=tree)
    assert refused.value.rule == "not-regular-file" and kind in refused.value.message
    assert "[not-regular-file]" in refused.value.diagnostics()


def test_a_link_to_a_device_or_a_fifo_never_blocks(tree: Path) -> None:
    (tree / "zero.json").symlink_to("/dev/zero")
    (tree / "pipe.json").symlink_to(tree / "a.approvals" / "fifo.json")
    for name in ("zero.json", "pipe.json"):
        with pytest.raises(UnsafeFile, match="symlink"):
            read_regular(tree / name, limit=1 << 30, within=tree)


def test_size_is_checked_before_reading(tree: Path) -> None:
    big = tree / "big.json"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)
    with pytest.raises(UnsafeFile) as refused:
        read_regular(big, limit=64 * 1024)
    assert refused.value.rule == "too-large" and "52428800 bita" in refused.value.message
    with pytest.raises(UnsafeFile, match="melebihi"):
        sha256_regular(big, limit=1024)
    assert sha256_regular(tree / "a.approvals" / "ok.json", limit=2) == (
        "2689367b205c16ce32ed4200942b8b8b1e262dfc70d9bc9fbc77c49699a4f1df"
    )


def test_missing_files_and_odd_paths(tree: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_regular(tree / "a.approvals" / "none.json", limit=10, within=tree)
    with pytest.raises(FileNotFoundError):
        read_regular(tree / "none" / "x.json", limit=10, within=tree)
    for odd in (tree / "a.approvals" / "x\x00.json", tree / ".." / "x", tree.parent / "x"):
        with pytest.raises(UnsafeFile):
            read_regular(odd, limit=10, within=tree)


def test_a_folder_lists_regular_files_and_refuses_the_rest(tree: Path) -> None:
    files, refused = list_folder(tree / "a.approvals", within=tree)
    assert [p.name for p in files] == ["ok.json"]
    assert sorted(e.path.name for e in refused) == ["dir.json", "fifo.json", "link.json"]
    with pytest.raises(UnsafeFile, match="symlink"):
        list_folder(tree / "b.approvals", within=tree)
    assert list_folder(tree / "none.approvals", within=tree) == ([], [])


def test_writing_never_follows_or_replaces(tree: Path) -> None:
    target = tree / "elsewhere" / "victim"
    (tree / "a.approvals" / "planted.json").symlink_to(target)  # dangling: nothing there yet
    with pytest.raises(UnsafeFile):
        write_new(tree / "a.approvals" / "planted.json", b"statement", within=tree)
    assert not target.exists()
    with pytest.raises(UnsafeFile):
        write_new(tree / "b.approvals" / "new.json", b"statement", within=tree)
    assert not (tree / "elsewhere" / "new.json").exists()
    write_new(tree / "a.approvals" / "new.json", b"statement", within=tree)
    assert (tree / "a.approvals" / "new.json").read_bytes() == b"statement"


def test_the_loader_refuses_a_request_file_that_is_a_link(tmp_path: Path, policy: Policy) -> None:
    valid = sorted((ASSETS / "requests" / "valid").glob("*.yaml"))[0]
    (tmp_path / "simpus.yaml").symlink_to(valid)
    with pytest.raises(RequestInvalid) as refused:
        load_request(tmp_path / "simpus.yaml", policy=policy, check_attachments=False)
    assert [p.rule for p in refused.value.problems] == ["not-regular-file"]
