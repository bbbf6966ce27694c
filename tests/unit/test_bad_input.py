"""Bad input through the real `sop validate` (issue 17, promise 7): whole requests/ folders.

Each folder under tests/assets/requests/trees/ is copied beside the repository's inventories
and checked as CI checks it; the output must equal ``<tree>.expected`` line for line, with
``{requests}`` for the folder. The trees are written by make_fixtures.py; the expectations by
a person.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop_pipeline.cli.main import main
from sop_pipeline.demo.officials import T0, Lab, RequestFlow
from sop_pipeline.domain.policy import Policy
from sop_pipeline.loader import RequestInvalid, load_request
from sop_pipeline.steps.validation import today_anywhere
from tests.conftest import ASSETS, REPO, commit_all

TREES = sorted(p for p in (ASSETS / "requests" / "trees").iterdir() if p.is_dir())


def validate(tmp_path: Path, tree: Path) -> tuple[int, list[str]]:
    shutil.copytree(REPO / "inventories", tmp_path / "inventories")
    shutil.copytree(tree / "requests", tmp_path / "requests")
    commit_all(tmp_path, "base")  # validate reads the policy from the base branch
    result = CliRunner().invoke(main, ["--repo", str(tmp_path), "validate"])
    requests = str(tmp_path / "requests")
    return result.exit_code, [
        line.replace(requests, "{requests}") for line in result.output.splitlines()
    ]


@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_every_bad_tree_is_refused_by_sop_validate_with_its_expected_output(
    tmp_path: Path, tree: Path
) -> None:
    code, lines = validate(tmp_path, tree)
    assert lines == tree.with_suffix(".expected").read_text().splitlines()
    assert code == 2


def test_one_file_with_six_problems_reports_all_six_in_one_run(policy: Policy) -> None:
    path = ASSETS / "requests" / "trees" / "six-problems" / "requests" / "simpus.yaml"
    with pytest.raises(RequestInvalid) as caught:
        load_request(path, policy=policy)  # the loader itself, letter check included
    rules = [p.rule for p in caught.value.problems]
    assert sorted(rules) == sorted(
        [
            "schema-version",
            "nip-spaces",
            "nbsp",
            "attachment-not-pdf",
            "attachment-digest",
            "enum",
        ]
    )


def test_trees_cover_every_refusal_that_needs_the_folder(tmp_path: Path) -> None:
    seen = set()
    for tree in TREES:
        for line in tree.with_suffix(".expected").read_text().splitlines():
            if line.endswith("]"):
                seen.add(line.rsplit("[", 1)[1].rstrip("]"))
    assert seen >= {
        "stray-file",
        "duplicate-hostname",
        "attachment-not-pdf",
        "attachment-digest",
        "letter-future",
        "type",
    }


@pytest.mark.parametrize(
    ("letter", "refused"),
    [("2026-12-03", False), ("2026-12-04", True), ("2027-12-03", True), ("2026-01-02", False)],
)
def test_a_letter_dated_after_the_clock_s_today_is_refused(
    tmp_path: Path, policy: Policy, letter: str, refused: bool
) -> None:
    text = (ASSETS / "requests" / "valid" / "dinkes-simpus.yaml").read_text()
    path = tmp_path / "dinkes-simpus.yaml"
    path.write_text(text.replace('date: "2026-11-02"', f'date: "{letter}"'))
    assert f'"{letter}"' in path.read_text()
    today = date(2026, 12, 3)
    if refused:
        with pytest.raises(RequestInvalid, match=r"letter.date: .*\[letter-future\]"):
            load_request(path, policy=policy, check_attachments=False, today=today)
    else:
        load_request(path, policy=policy, check_attachments=False, today=today)


def test_today_is_the_latest_date_anywhere_so_no_writer_s_today_is_refused() -> None:
    # 10:00 UTC is midnight in Kiribati (UTC+14): a letter dated the 4th may exist there.
    assert today_anywhere(datetime(2026, 12, 3, 9, 59, tzinfo=UTC)) == date(2026, 12, 3)
    assert today_anywhere(datetime(2026, 12, 3, 10, 0, tzinfo=UTC)) == date(2026, 12, 4)


def test_a_bom_and_an_upper_case_digest_are_accepted_and_bound_byte_exactly(
    tmp_path: Path, policy: Policy
) -> None:
    """Decision: Notepad's BOM and PowerShell's Get-FileHash are accepted. The approvals bind
    the exact bytes (BOM and upper-case hex included); attachments are compared lower-cased."""
    shutil.copytree(REPO / "inventories", tmp_path / "inventories")
    shutil.copytree(REPO / "requests", tmp_path / "requests")
    path = tmp_path / "requests" / "dinkes-simpus.yaml"
    text = path.read_text()
    digest = text.split('sha256: "', 1)[1][:64]
    raw = b"\xef\xbb\xbf" + text.replace(digest, digest.upper()).encode()
    path.write_bytes(raw)
    commit_all(tmp_path, "base")  # validate reads the policy from the base branch
    request = load_request(path, policy=policy)
    assert request.raw == raw and request.raw.startswith(b"\xef\xbb\xbf")
    assert request.attachments == {"dinkes-simpus/surat-permintaan.pdf": digest}
    result = CliRunner().invoke(main, ["--repo", str(tmp_path), "validate"])
    assert result.exit_code == 0, result.output
    assert "3 berkas diperiksa, 3 sah, 0 ditolak." in result.output
    # A wrong digest in upper case is still wrong.
    path.write_bytes(raw.replace(digest.upper().encode(), ("0" * 64).encode()))
    with pytest.raises(RequestInvalid, match=r"\[attachment-digest\]"):
        load_request(path, policy=policy)


def test_an_unknown_opd_never_gets_the_default_quota(policy: Policy) -> None:
    assert not policy.knows_opd("DINKESX")
    lines = (ASSETS / "requests" / "invalid" / "unknown-opd.expected").read_text()
    assert "[unknown-opd]" in lines and "[opd-quota]" not in lines


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda b: b.replace(b"\n", b"\r\n"), True),  # Windows Git with autocrlf
        (lambda b: b + b"\n", True),  # an editor's final newline
        (lambda b: b"\xef\xbb\xbf" + b, True),  # Notepad's BOM
        (lambda b: b.replace(b"vcpu: 2", b"vcpu: 4"), False),  # a real change
        (lambda b: b.replace(b"vcpu: 2", b"vcpu: 4").replace(b"\n", b"\r\n"), False),
    ],
    ids=["crlf", "final-newline", "bom", "content", "content-and-crlf"],
)
def test_request_changed_names_line_endings_when_they_are_the_only_difference(
    lab: Lab, change: Callable[[bytes], bytes], named: bool
) -> None:
    path = lab.write_request("dinkes-simpus")
    flow = RequestFlow(lab, "dinkes-simpus")
    flow.pipeline_step(1, T0)
    flow.sign(2, "kadis", T0 + timedelta(minutes=1))
    flow.sign(3, "kabid", T0 + timedelta(minutes=2))
    flow.sign(4, "koordinator", T0 + timedelta(minutes=3), decision="complete")
    path.write_bytes(change(path.read_bytes()))
    four = next(c for c in flow.checked(T0 + timedelta(minutes=4)) if c.step == 4)
    changed = [p for p in four.problems if p.endswith("[request-changed]")]
    assert len(changed) == 1, four.problems
    assert ("akhir baris (CRLF/LF)" in changed[0]) is named


def test_validate_one_file_by_a_relative_path_is_not_its_own_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(REPO / "inventories", tmp_path / "inventories")
    shutil.copytree(REPO / "requests", tmp_path / "requests")
    commit_all(tmp_path, "base")  # validate reads the policy from the base branch
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate", "requests/dinkes-simpus.yaml"])
    assert (result.exit_code, result.output) == (0, "1 berkas diperiksa, 1 sah, 0 ditolak.\n")
    (tmp_path / "requests" / "x.yml").write_text("hostname: simpus\n")
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 2 and "[stray-file]" in result.output
    status = json.loads(CliRunner().invoke(main, ["status", "--json"]).output)
    assert [s["request_id"] for s in status] == [  # `sop status` lists requests only
        "bpbd-peringatan-dini",
        "dinkes-simpus",
        "disdik-info-sekolah",
    ]
