"""Input attacks: what the merge request controls besides the statements' meaning.

Four classes of issue 18, each with several variants; every case counts in the suite's one
tally (``tests/attacks/conftest.py``):

- **base refs** (class 2): a tag, a branch, a note or a replace ref that stands in for the
  base branch, so the gate would read a keyring the attacker wrote. Played through the real
  ``sop gate --step 8 --base ...`` (CliRunner) with each verifier; accepted if it exits 0.
  Each case also proves its forgery real: named by its commit id, the attacker's keyring
  does let the same gate hold, so only the base's resolution stops it.
- **links and special files** (class 3): statements, signatures, the approvals folder, the
  request and its letter as symlinks to valid copies, FIFOs, ``/dev/zero``, folders where a
  file belongs. Judged by the harness (both verifiers, gate 8) or, where the request file
  itself is the link, by ``sop gate``.
- **invisible text** (class 6): a reason, a missing entry, a signer or an evidence name made
  of, or hiding, characters that show nothing. Accepted if either verifier calls the
  statement valid (``sop verify`` says SAH).
- **malformed statements** (class 7): NUL bytes, non-UTF-8, huge, deep, ill-typed. Played
  through ``sop verify`` over every request: accepted if it says SAH for the bad file; a
  traceback or a stop before the other request is checked fails the test.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sop_pipeline.cli.main import main
from sop_pipeline.demo.officials import T0, Lab, RequestFlow, keyring_texts
from sop_pipeline.signing import statement as st
from tests.attacks.harness import AT, OTHER, RID, SEVEN, Scene, Target, m, refused

pytestmark = pytest.mark.integration

FOUR = "step-04-koordinator.json"


# --- running the real command -----------------------------------------------------------


def invoke(lab: Lab, *args: str) -> Result:
    """``sop --repo <lab> ARGS`` in-process; any exception but the exit is a crash."""
    result = CliRunner().invoke(main, ["--repo", str(lab.repo), *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"sop {args[0]} crashed: {result.exception!r}\n{result.output}")
    assert "Traceback" not in result.output, result.output
    return result


def gate(lab: Lab, base: str, mode: str, request_id: str = RID) -> Result:
    """``sop gate ID --step 8 --base BASE --verifier MODE`` on its own copy of the ledgers."""
    index = len(list(lab.root.glob("records-cli-*")))
    records = lab.root / f"records-cli-{index}"
    if lab.records.exists():
        shutil.copytree(lab.records, records)
    return invoke(
        lab,
        "gate",
        request_id,
        "--step",
        "8",
        "--base",
        base,
        "--verifier",
        mode,
        "--at",
        AT.isoformat(),
        "--records",
        str(records),
    )


def verify(lab: Lab, *args: str, mode: str = "both") -> Result:
    """``sop verify``: a refusal is any non-zero exit (its code table is the CLI's business)."""
    return invoke(lab, "verify", *args, "--verifier", mode, "--at", AT.isoformat())


def git(lab: Lab, *args: str, data: bytes | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(lab.repo), *args],
        input=data,
        capture_output=True,
        check=True,
        env={**os.environ, **(env or {})},
    )
    return done.stdout.decode().strip()


# --- class 2: a ref that stands in for the base branch ------------------------------------


@dataclasses.dataclass(frozen=True)
class BaseAttack:
    base: str  # what --base says
    rule: str  # the rule that must refuse it
    evil: str  # the attacker's commit, under whose keyring the forged approval verifies


def evil_base(s: Scene) -> str:
    """A commit beside main whose keyring makes the attacker a Kabid, and the
    attacker's step-7 approval signed with it. main itself is not touched."""
    # The attacker enrolled as a second Kabid, with a NIP of their own: a keyring that
    # passes lint, and under which every honest statement still verifies.
    evil = dataclasses.replace(s.attacker(), nip="199912312020121099")
    texts = keyring_texts({**s.o, "attacker": evil})
    env = {"GIT_INDEX_FILE": str(s.lab.root / "evil-index")}
    git(s.lab, "read-tree", "refs/heads/main", env=env)
    for name, text in texts.items():
        oid = git(s.lab, "hash-object", "-w", "--stdin", data=text.encode())
        git(
            s.lab, "update-index", "--add", "--cacheinfo", f"100644,{oid},approvers/{name}", env=env
        )
    tree = git(s.lab, "write-tree", env=env)
    commit = git(
        s.lab,
        "-c",
        "user.name=x",
        "-c",
        "user.email=x@x",
        "commit-tree",
        tree,
        "-p",
        "refs/heads/main",
        "-m",
        "keyring: kabid's new key",
    )
    data = s.statement(signer=evil.principal).to_bytes()
    s.put(data, s.sign(data, evil))
    return commit


def remote_main(s: Scene) -> None:
    """refs/remotes/origin/main as CI has it: the real base branch, fetched."""
    git(s.lab, "update-ref", "refs/remotes/origin/main", "refs/heads/main")


def shadow(
    ref: str, base: str, *, remote: bool = False, rule: str = "[ambiguous-base]"
) -> Callable[[Scene], BaseAttack]:
    """``ref`` made to point at the attacker's commit while ``--base`` says ``base``."""

    def attack(s: Scene) -> BaseAttack:
        if remote:
            remote_main(s)
        evil = evil_base(s)
        git(s.lab, "update-ref", ref, evil)
        return BaseAttack(base, rule, evil)

    return attack


def replaced_object(s: Scene) -> BaseAttack:
    """refs/replace/<main's commit> -> the attacker's commit: plain git then shows the
    attacker's keyring under main's own commit id, whatever name is given."""
    main_commit = git(s.lab, "rev-parse", "refs/heads/main")
    evil = evil_base(s)
    git(s.lab, "update-ref", f"refs/replace/{main_commit}", evil)
    spec = "refs/heads/main:approvers/allowed_signers"
    assert git(s.lab, "show", spec) != git(s.lab, "--no-replace-objects", "show", spec)
    return BaseAttack("refs/heads/main", "[not-allowed-signer]", evil)


def reflog_expression(s: Scene) -> BaseAttack:
    """main moved to the attacker's commit and back: ``main@{1}`` names the attacker's."""
    main_commit = git(s.lab, "rev-parse", "refs/heads/main")
    evil = evil_base(s)
    git(s.lab, "update-ref", "refs/heads/main", evil)
    git(s.lab, "update-ref", "refs/heads/main", main_commit)
    return BaseAttack("main@{1}", "[base-syntax]", evil)


def abbreviated_id(s: Scene) -> BaseAttack:
    """The attacker's commit by an abbreviated id, which git would happily resolve."""
    evil = evil_base(s)
    git(s.lab, "update-ref", "refs/tags/v1", evil)  # keeps the object reachable, as a push does
    return BaseAttack(evil[:12], "[base-not-found]", evil)


def remote_head(s: Scene) -> BaseAttack:
    """refs/remotes/origin/HEAD (a symref) pointed at the attacker's branch: `--base origin`
    is git's shorthand for it."""
    evil = evil_base(s)
    git(s.lab, "update-ref", "refs/remotes/origin/evil", evil)
    git(s.lab, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/evil")
    return BaseAttack("origin", "[base-not-branch]", evil)


BASE_ATTACKS: dict[str, Callable[[Scene], BaseAttack]] = {
    "base-tag-main": shadow("refs/tags/main", "main"),
    "base-tag-origin-main": shadow("refs/tags/origin/main", "origin/main", remote=True),
    "base-branch-origin-main": shadow("refs/heads/origin/main", "origin/main", remote=True),
    "base-notes-main": shadow("refs/notes/main", "main"),
    "base-replace-named-main": shadow("refs/replace/main", "main"),
    "base-other-namespace-main": shadow("refs/merge-requests/main", "main"),
    "base-tag-only": shadow("refs/tags/release", "release", rule="[base-not-branch]"),
    "base-full-tag-ref": shadow("refs/tags/main", "refs/tags/main", rule="[base-not-branch]"),
    "base-replace-object": replaced_object,
    "base-reflog-expression": reflog_expression,
    "base-abbreviated-id": abbreviated_id,
    "base-remote-head": remote_head,
}


@pytest.mark.parametrize("name", sorted(BASE_ATTACKS))
def test_base_ref_attack_is_refused(name: str, lab: Lab, tally: dict[str, int]) -> None:
    scene = Scene(lab)
    attack = BASE_ATTACKS[name](scene)
    results = {mode: gate(lab, attack.base, mode) for mode in ("native", "ssh-keygen")}
    accepted = {mode: r.exit_code == 0 for mode, r in results.items()}
    outputs = [r.output for r in results.values()]
    tally["tried"] += 1
    tally["accepted"] += any(accepted.values())
    assert accepted == {"native": False, "ssh-keygen": False}, outputs
    assert any(attack.rule in out for out in outputs), (attack.rule, outputs)
    # The control: named exactly, the attacker's keyring does let this forgery through, so
    # what refused it above is the resolution of the base and nothing else.
    held = gate(lab, attack.evil, "native")
    assert held.exit_code == 0, held.output


def test_base_named_in_full_still_works_beside_a_shadowing_tag(lab: Lab) -> None:
    """The honest way through: the full ref reads the real keyring even with refs/tags/main
    present, and an honest decision holds."""
    scene = Scene(lab)
    data, sig = scene.honest_7()
    git(lab, "update-ref", "refs/tags/main", "refs/heads/main")
    scene.put(data, sig)
    remote_main(scene)
    for base in (
        "refs/heads/main",
        "refs/remotes/origin/main",
        git(lab, "rev-parse", "refs/heads/main"),
    ):
        result = gate(lab, base, "both")
        assert result.exit_code == 0, (base, result.output)
    assert gate(lab, "origin/main", "native").exit_code == 0  # unambiguous short name


# --- class 3: links and special files under requests/ --------------------------------------


def elsewhere(s: Scene) -> Path:
    path = s.lab.root / "elsewhere"
    path.mkdir(exist_ok=True)
    return path


def link(path: Path, target: Path | str) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)


def statement_link(committed: bool) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        data, sig = s.honest_7()
        copy = elsewhere(s) / SEVEN
        copy.write_bytes(data)
        s.put(b"placeholder", sig)
        link(s.dir / SEVEN, os.path.relpath(copy, s.dir))
        if committed:
            s.lab.commit("approvals")
            mode = git(s.lab, "ls-files", "-s", f"requests/{RID}.approvals/{SEVEN}").split()[0]
            assert mode == "120000"
        return Target(rule="[not-regular-file]")

    return attack


def signature_link(s: Scene) -> Target:
    data, sig = s.honest_7()
    copy = elsewhere(s) / f"{SEVEN}.sig"
    copy.write_bytes(sig)
    s.put(data, None)
    link(s.dir / f"{SEVEN}.sig", copy)
    return Target(rule="[not-regular-file]")


def folder_link(s: Scene) -> Target:
    data, sig = s.honest_7()
    s.put(data, sig)
    copy = elsewhere(s) / f"{RID}.approvals"
    shutil.copytree(s.dir, copy)
    shutil.rmtree(s.dir)
    link(s.dir, copy)
    return Target(rule="[not-regular-file]")


def statement_to(target: str) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        _, sig = s.honest_7()
        s.put(b"x", sig)
        link(s.dir / SEVEN, target)
        return Target(rule="[not-regular-file]")

    return attack


def fifo(name: str) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        data, sig = s.honest_7()
        s.put(data, sig)
        (s.dir / name).unlink()
        os.mkfifo(s.dir / name)
        return Target(rule="[not-regular-file]")

    return attack


def folder_instead(name: str) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        data, sig = s.honest_7()
        s.put(data, sig)
        (s.dir / name).unlink()
        (s.dir / name).mkdir()
        return Target(rule="[not-regular-file]")

    return attack


def verification_link(s: Scene) -> Target:
    """Step 4's statement, already recorded, swapped for a link to its own copy: the gate
    must not take the ledger's word for a file it can no longer read as a file."""
    data, sig = s.honest_7()
    s.put(data, sig)
    copy = elsewhere(s) / FOUR
    shutil.copy(s.dir / FOUR, copy)
    link(s.dir / FOUR, copy)
    return Target(rule="[not-regular-file]")


LINK_ATTACKS: dict[str, Callable[[Scene], Target]] = {
    "link-statement": statement_link(committed=False),
    "link-statement-committed": statement_link(committed=True),
    "link-signature": signature_link,
    "link-approvals-folder": folder_link,
    "link-statement-dev-zero": statement_to("/dev/zero"),
    "link-statement-dangling": statement_to("/nonexistent/step-07-kabid.json"),
    "link-verification-statement": verification_link,
    "fifo-statement": fifo(SEVEN),
    "fifo-signature": fifo(f"{SEVEN}.sig"),
    "folder-as-statement": folder_instead(SEVEN),
    "folder-as-signature": folder_instead(f"{SEVEN}.sig"),
}


@pytest.mark.parametrize("name", sorted(LINK_ATTACKS))
def test_link_or_special_file_is_refused(name: str, lab: Lab, tally: dict[str, int]) -> None:
    refused(name, lab, tally, LINK_ATTACKS[name])


def request_link(s: Scene) -> str:
    copy = elsewhere(s) / f"{RID}.yaml"
    shutil.copy(s.lab.request_file(RID), copy)
    link(s.lab.request_file(RID), copy)
    return "[not-regular-file]"


def letter_link(s: Scene) -> str:
    letter = s.lab.repo / "requests" / RID / "surat-permintaan.pdf"
    copy = elsewhere(s) / "surat.pdf"
    shutil.copy(letter, copy)
    link(letter, copy)
    return "[not-regular-file]"


def letter_folder_link(s: Scene) -> str:
    folder = s.lab.repo / "requests" / RID
    copy = elsewhere(s) / RID
    shutil.copytree(folder, copy)
    shutil.rmtree(folder)
    link(folder, copy)
    return "[not-regular-file]"


def letter_fifo(s: Scene) -> str:
    letter = s.lab.repo / "requests" / RID / "surat-permintaan.pdf"
    letter.unlink()
    os.mkfifo(letter)
    return "[not-regular-file]"


def letter_too_large(s: Scene) -> str:
    letter = s.lab.repo / "requests" / RID / "surat-permintaan.pdf"
    with letter.open("r+b") as f:
        f.truncate(40 * 1024 * 1024)  # sparse: no disk, but 40 MiB to whoever reads it
    return "[too-large]"


REQUEST_FILE_ATTACKS: dict[str, Callable[[Scene], str]] = {
    "link-request-file": request_link,
    "link-letter": letter_link,
    "link-letter-folder": letter_folder_link,
    "fifo-letter": letter_fifo,
    "letter-too-large": letter_too_large,
}


@pytest.mark.parametrize("name", sorted(REQUEST_FILE_ATTACKS))
def test_request_file_as_link_or_special_file_is_refused(
    name: str, lab: Lab, tally: dict[str, int]
) -> None:
    scene = Scene(lab)
    data, sig = scene.honest_7()
    scene.put(data, sig)
    rule = REQUEST_FILE_ATTACKS[name](scene)
    results = [gate(lab, "main", mode) for mode in ("native", "ssh-keygen")]
    tally["tried"] += 1
    tally["accepted"] += any(r.exit_code == 0 for r in results)
    assert all(r.exit_code != 0 and rule in r.output for r in results), [r.output for r in results]
    checked = verify(lab)
    assert checked.exit_code != 0 and rule in checked.output, checked.output


# --- class 6: invisible text ----------------------------------------------------------------


def text_attack(
    step: int, decision: str, rule: str, **fields: object
) -> Callable[[Scene], tuple[Path, str]]:
    """A statement valid in every other way, whose text fields are then set to ``fields``
    (bypassing ``st.new``, which refuses them), signed by the step's rightful official."""
    who = {4: "koordinator", 6: "teknis1", 7: "kabid"}[step]

    def attack(s: Scene) -> tuple[Path, str]:
        over: dict[str, object] = {"signer": s.o[who].principal, "decision": decision}
        if decision in st.NEGATIVE:
            over["reason"] = "placeholder"
        if decision == "incomplete":
            over["missing"] = ("placeholder",)
        honest = s.statement(step=step, **over)
        bad = dataclasses.replace(honest, **fields)  # type: ignore[arg-type]
        data = bad.to_bytes()
        name = st.role_of(step)
        path = s.put(
            data, s.sign(data, who, st.namespace(step)), name=f"step-{step:02d}-{name}-2.json"
        )
        return path, rule

    return attack


TEXT_ATTACKS: dict[str, Callable[[Scene], tuple[Path, str]]] = {
    "reason-zero-width-and-word-joiner": text_attack(
        7, "reject", "[invisible-char]", reason="\u200b\u2060"
    ),
    "reason-word-joiner": text_attack(7, "reject", "[reason-required]", reason="\u2060"),
    "reason-bidi-override": text_attack(
        7, "reject", "[bidi-char]", reason="Disetujui \u202etidak\u202c"
    ),
    "reason-soft-hyphen": text_attack(7, "reject", "[invisible-char]", reason="\xad\xad"),
    "reason-hangul-filler": text_attack(7, "reject", "[invisible-char]", reason="\u3164"),
    "reason-only-wide-spaces": text_attack(
        7, "reject", "[reason-required]", reason="\u3000\u00a0\u2002"
    ),
    "reason-variation-selector": text_attack(7, "reject", "[invisible-char]", reason="\ufe0f"),
    "reason-tag-characters": text_attack(
        7, "reject", "[invisible-char]", reason="\U000e0074\U000e0069\U000e0064\U000e0061\U000e006b"
    ),
    "missing-zero-width-entry": text_attack(
        4, "incomplete", "[invisible-char]", reason="Kurang", missing=("\u200b",)
    ),
    "missing-entry-hiding-a-joiner": text_attack(
        4, "incomplete", "[invisible-char]", reason="Kurang", missing=("surat\u200dresmi",)
    ),
    "missing-blank-entry": text_attack(
        4, "incomplete", "[missing-required]", reason="Kurang", missing=("\u3000",)
    ),
    "signer-with-zero-width": text_attack(
        7, "approve", "[invisible-char]", signer="kabid@diskominfotik.sumbarprov.go.id\u200b"
    ),
    "evidence-name-bidi": text_attack(
        6, "approve", "[bidi-char]", evidence={"laporan-analisis\u202e": "a" * 64}
    ),
    "evidence-name-invisible": text_attack(
        6, "approve", "[invisible-char]", evidence={"\u2063": "a" * 64}
    ),
}


@pytest.mark.parametrize("name", sorted(TEXT_ATTACKS))
def test_invisible_text_is_refused(name: str, lab: Lab, tally: dict[str, int]) -> None:
    scene = Scene(lab)
    path, rule = TEXT_ATTACKS[name](scene)
    accepted = False
    reasons: list[str] = []
    for mode in ("native", "ssh-keygen"):
        for c in RequestFlow(lab, RID).checked(AT, mode):
            if c.path == path:
                accepted |= c.ok
                reasons += c.problems
    tally["tried"] += 1
    tally["accepted"] += accepted
    assert not accepted and reasons, reasons
    assert any(rule in r for r in reasons), (rule, reasons)
    shown = verify(lab, RID, mode="native")
    assert shown.exit_code != 0 and rule in shown.output, shown.output
    line = next(x for x in shown.output.splitlines() if path.name in x)
    assert "TIDAK SAH" in line or "tidak terbaca" in line, shown.output


def test_sop_sign_refuses_an_invisible_reason(lab: Lab) -> None:
    scene = Scene(lab)
    result = CliRunner().invoke(
        main,
        [
            "--repo",
            str(lab.repo),
            "sign",
            RID,
            "--step",
            "7",
            "--decision",
            "reject",
            "--reason",
            "\u200b\u2060",
            "--signer",
            scene.o["kabid"].principal,
            "--key",
            str(scene.o["kabid"].key),
            "--at",
            (T0 + m(20)).isoformat(),
        ],
    )
    assert result.exit_code == 6, result.output
    assert "[invisible-char]" in result.output and "[reason-required]" in result.output
    assert not (scene.dir / SEVEN).exists()


# --- class 7: one bad file never stops the rest ----------------------------------------------


def raw_attack(make: Callable[[Scene], bytes], rule: str) -> Callable[[Scene], tuple[Path, str]]:
    """The bytes ``make`` returns filed as a second step-7 statement, with a real signature."""

    def attack(s: Scene) -> tuple[Path, str]:
        data = make(s)
        sig = s.sign(data, "kabid") if len(data) < 1 << 20 else b""
        return s.put(data, sig, name="step-07-kabid-2.json"), rule

    return attack


def with_field(field: str, value: object) -> Callable[[Scene], bytes]:
    def make(s: Scene) -> bytes:
        doc = s.statement(decision="reject", reason="Kapasitas tidak cukup").to_json()
        doc[field] = value
        return st.canonical(doc)

    return make


def replaced(old: bytes, new: bytes) -> Callable[[Scene], bytes]:
    def make(s: Scene) -> bytes:
        data = s.statement(decision="reject", reason="Kapasitas tidak cukup").to_bytes()
        assert old in data
        return data.replace(old, new)

    return make


def huge(s: Scene) -> Path:
    path = s.dir / "step-07-kabid-2.json"
    with path.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # 50 MB (sparse): refused on its size, never read
    return path


def huge_attack(s: Scene) -> tuple[Path, str]:
    return huge(s), "[too-large]"


MALFORMED: dict[str, Callable[[Scene], tuple[Path, str]]] = {
    "nul-in-signer": raw_attack(
        with_field("signer", "kabid@diskominfotik.sumbarprov.go.id\x00x"), "[control-char]"
    ),
    "nul-in-reason": raw_attack(with_field("reason", "ditolak\x00"), "[control-char]"),
    "nul-in-evidence-name": raw_attack(
        with_field("evidence", {"a\x00b": "0" * 64}), "[control-char]"
    ),
    "escape-sequence-in-reason": raw_attack(with_field("reason", "\x1b[2Jok"), "[control-char]"),
    "lone-surrogate-in-reason": raw_attack(
        replaced(b'"reason":"Kapasitas tidak cukup"', b'"reason":"\\ud800"'), "[invisible-char]"
    ),
    "non-utf8": raw_attack(replaced(b"Kapasitas", b"Kap\xffsitas"), "[json]"),
    "deep-json": raw_attack(lambda s: b"[" * 30000 + b"]" * 30000, "[json]"),
    "huge-integer-step": raw_attack(replaced(b'"step":7', b'"step":' + b"9" * 5000), "[json]"),
    "step-as-text": raw_attack(with_field("step", "7"), "[type]"),
    "missing-as-object": raw_attack(with_field("missing", {"a": "b"}), "[type]"),
    "reason-as-list": raw_attack(with_field("reason", ["x"]), "[type]"),
    "null-signer": raw_attack(with_field("signer", None), "[type]"),
    "impossible-date": raw_attack(with_field("signed_at", "2026-13-45T99:99:99Z"), "[time]"),
    "statement-50-mb": huge_attack,
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_statement_is_refused_and_the_rest_is_checked(
    name: str, lab: Lab, tally: dict[str, int]
) -> None:
    scene = Scene(lab)
    lab.write_request(OTHER)
    other = RequestFlow(lab, OTHER)
    other.sign(2, "kadis", T0 + m(1))
    other.sign(3, "kabid", T0 + m(2))
    path, rule = MALFORMED[name](scene)
    result = verify(lab)  # every request, both verifiers
    line = next(x for x in result.output.splitlines() if path.name in x)
    accepted = "SAH (valid)" in line and "TIDAK SAH" not in line
    tally["tried"] += 1
    tally["accepted"] += accepted
    assert not accepted and result.exit_code != 0, result.output
    assert rule in result.output, (rule, result.output)
    # The other request was checked all the same, and so were this request's honest files.
    assert section(result.output, OTHER).count("SAH (valid)") == 2, result.output
    assert section(result.output, RID).count("SAH (valid)") == 4, result.output  # 2, 3, 4, 6


def section(output: str, request_id: str) -> str:
    """What ``sop verify`` printed for one request."""
    part = output.split(f"requests/{request_id}.yaml:", 1)[1]
    return part.split("\nrequests/", 1)[0]


def test_an_unreadable_request_file_never_stops_the_others(lab: Lab) -> None:
    """A NUL byte where the letter's path should be: that request is refused, the next one
    is verified."""
    Scene(lab)
    lab.write_request(OTHER)
    RequestFlow(lab, OTHER).sign(2, "kadis", T0 + m(1))
    path = lab.request_file(RID)
    path.write_text(
        path.read_text().replace(f"file: {RID}/surat-permintaan.pdf", 'file: "a\\0b.pdf"')
    )
    result = verify(lab, mode="native")
    assert result.exit_code != 0
    assert f"requests/{RID}.yaml: TIDAK DAPAT DIPERIKSA" in result.output, result.output
    assert "NUL" in result.output
    assert f"requests/{OTHER}.yaml: 1 pernyataan" in result.output, result.output


# --- a little fuzzing: many malformed statements in one folder, one run ------------------------


def mutations(honest: bytes) -> list[bytes]:
    """Deterministic malformed variants of an honest statement's bytes."""
    out: list[bytes] = [b"", b"{}", b"[]", b"null", b"\xff\xfe\x00", honest[:-1], honest + b"x"]
    out += [honest[:cut] for cut in range(1, len(honest), max(1, len(honest) // 12))]
    for offset in range(0, len(honest), max(1, len(honest) // 16)):
        out.append(honest[:offset] + b"\x00" + honest[offset:])
        out.append(honest[:offset] + b"\xc3" + honest[offset + 1 :])
    values: tuple[object, ...] = (0, -1, True, None, [], {}, "\x00", "x" * 60000, "\ud800")
    for field in ("reason", "signer", "request_id", "nonce", "signed_at", "role", "decision"):
        for value in values:
            doc = json.loads(honest)
            doc[field] = value
            text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            out.append(text.encode(errors="surrogatepass"))
    out.append(honest.replace(b'"nonce"', b'"nonce_":1.5,"nonce"'))
    out.append(honest.replace(b'"step":7', b'"step":7.0'))
    out.append(honest.replace(b'"step":7', b'"step":NaN'))
    out += [b"[" * 20000 + b"]" * 20000, b'{"a":' * 5000 + b"1" + b"}" * 5000]
    out += [b'{"step":' + b"1" * 5000 + b"}", b'"\\u0000"', b"\x00" * 1000]
    return out


def test_fuzz_many_malformed_statements_through_sop_verify(lab: Lab) -> None:
    scene = Scene(lab)
    honest = scene.statement(decision="reject", reason="Kapasitas tidak cukup").to_bytes()
    sig = scene.sign(honest, "kabid")
    variants = [v for v in dict.fromkeys(mutations(honest)) if v != honest]
    assert len(variants) >= 100
    for index, data in enumerate(variants, start=2):
        scene.put(data, sig, name=f"step-07-kabid-{index}.json")
    result = verify(lab, RID, mode="native")
    lines = [x for x in result.output.splitlines() if "step-07-kabid-" in x]
    assert result.exit_code != 0
    assert len(lines) == len(variants), result.output[-2000:]
    assert not [x for x in lines if "TIDAK SAH" not in x], result.output[-2000:]
    assert result.output.count("SAH (valid)") == 4  # the honest steps 2, 3, 4 and 6
    # The same folder through both verifiers at once (ssh-keygen sees every parsable one).
    both = verify(lab, RID, mode="both")
    assert both.exit_code != 0 and both.output.count("TIDAK SAH") == len(variants)


# --- committed symlinks read from Git objects ---------------------------------------------


def test_base_keyring_file_committed_as_a_symlink_is_refused(lab: Lab) -> None:
    """Where the pipeline reads from a commit (the keyring), a mode-120000 entry is refused,
    not followed to the file it names."""
    approvers = lab.repo / "approvers"
    lab.git("checkout", "-q", "main")
    shutil.copy(approvers / "allowed_signers", approvers / "signers-real")
    (approvers / "allowed_signers").unlink()
    (approvers / "allowed_signers").symlink_to("signers-real")
    lab.commit("keyring: allowed_signers as a link")
    lab.git("checkout", "-q", "mr/request")
    assert git(lab, "ls-tree", "refs/heads/main", "approvers/allowed_signers").startswith("120000")
    result = CliRunner().invoke(
        main, ["keyring", "lint", "--repo", str(lab.repo), "--base", "refs/heads/main"]
    )
    assert result.exit_code == 3 and "[not-regular-file]" in result.output, result.output


def test_sop_validate_refuses_links_and_fifos_without_blocking(lab: Lab) -> None:
    """`sop validate` over requests/ and with named paths: a request file that is a link,
    a FIFO or a folder is refused by name; nothing is read through it and nothing hangs."""
    branch = git(lab, "rev-parse", "--abbrev-ref", "HEAD").strip()
    lab.git("checkout", "-q", "main")  # the policy validate reads is the base branch's
    shutil.copytree(Path(__file__).resolve().parents[2] / "inventories", lab.repo / "inventories")
    lab.commit("inventories")
    lab.git("checkout", "-q", branch)
    lab.write_request(RID)
    requests = lab.repo / "requests"
    (requests / "lewat-tautan.yaml").symlink_to(f"{RID}.yaml")
    (requests / "ke-perangkat.yaml").symlink_to("/dev/zero")
    os.mkfifo(requests / "pipa.yaml")
    (requests / "folder.yaml").mkdir()
    result = invoke(lab, "validate")
    assert result.exit_code == 2, result.output
    for name in ("lewat-tautan", "ke-perangkat", "pipa", "folder"):
        line = next(x for x in result.output.splitlines() if f"{name}.yaml" in x)
        assert "[not-regular-file]" in line, result.output
    assert result.output.count("[not-regular-file]") == 4, result.output
    assert f"{RID}.yaml:" not in result.output, result.output  # the real file is valid
    named = invoke(lab, "validate", str(requests / "pipa.yaml"))
    assert named.exit_code == 2 and "[not-regular-file]" in named.output, named.output
