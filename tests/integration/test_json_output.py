"""`--json` on the commands that report: stdout is one JSON document, the rest on stderr.

Real files, a real Git base with the department's keyring, officials' real keys. Each
command runs as its own process (`sop` as a CI job calls it).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from sop_pipeline.demo.officials import Lab, RequestFlow
from sop_pipeline.demo.scenario import publish_base
from tests.attacks.test_record_attacks import setup as checkpoint_setup
from tests.integration.test_exit_codes import MONDAY, production_env, sop, walk_to_step_8

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"


def at(minutes: int) -> str:
    return (MONDAY + timedelta(minutes=minutes)).isoformat()


def test_submit_and_resubmit_say_what_they_recorded(lab: Lab) -> None:
    publish_base(lab)
    done = sop(lab.repo, "submit", RID, "--json", "--at", at(0))
    assert done.code == 0, done.err
    first = json.loads(done.out)
    assert (first["request_id"], first["step"], first["outcome"], first["seq"]) == (
        RID,
        1,
        "done",
        1,
    )
    assert len(first["hash"]) == 64 and first["at"] == at(0)

    flow = RequestFlow(lab, RID, records=lab.repo / "records")
    flow.sign(2, "kadis", MONDAY + timedelta(minutes=1))
    flow.sign(3, "kabid", MONDAY + timedelta(minutes=2))
    flow.sign(
        4,
        "koordinator",
        MONDAY + timedelta(minutes=3),
        decision="incomplete",
        reason="Surat belum ditandatangani kepala OPD",
        missing=["letter.signature"],
    )
    flow.record(MONDAY + timedelta(minutes=4))
    path = lab.repo / "requests" / f"{RID}.yaml"
    path.write_text(path.read_text().replace("Layanan", "Layanan resmi", 1))

    again = sop(lab.repo, "resubmit", RID, "--json", "--at", at(60))
    assert again.code == 0, again.err
    row = json.loads(again.out)  # nothing but the JSON on stdout
    assert (row["step"], row["outcome"]) == (4, "resubmit") and row["seq"] > first["seq"]
    assert json.loads(sop(lab.repo, "status", RID, "--json").out)["next_step"] == 4


def test_sign_says_which_files_it_wrote(lab: Lab, tmp_path: Path) -> None:
    publish_base(lab)
    kadis = lab.officials["kadis"]
    base = ["sign", RID, "--step", "2", "--decision", "approve", "--signer", kadis.principal]
    unsigned = sop(lab.repo, *base, "--json", "--at", at(1))
    assert unsigned.code == 0, unsigned.err
    wrote = json.loads(unsigned.out)
    assert wrote["signed"] is False and "signature" not in wrote
    assert Path(wrote["statement"]).is_file() and wrote["namespace"].startswith(
        "sop-hosting-step-02@"
    )

    signed = sop(lab.repo, *base, "--key", str(kadis.key), "--json", "--at", at(2))
    assert signed.code == 0, signed.err
    wrote = json.loads(signed.out)
    assert wrote["signed"] is True and Path(wrote["signature"]).is_file()
    assert wrote["signature"] == wrote["statement"] + ".sig"


def test_checkpoint_lists_what_it_signed(lab: Lab) -> None:
    _, key = checkpoint_setup(lab)
    args = ["checkpoint", "--key", str(key), "--base", "main", "--json"]
    first = sop(lab.repo, *args, "--at", at(30))
    assert first.code == 0, first.err
    (row,) = json.loads(first.out)
    assert row["signed"] is True and row["count"] >= 1 and len(row["head"]) == 64
    second = sop(lab.repo, *args, "--at", at(31))
    assert json.loads(second.out) == [{"request_id": row["request_id"], "signed": False}]


def test_provision_refused_prints_the_outcome_as_json(lab: Lab, tmp_path: Path) -> None:
    """Not waiting for step 8: the refusal is on stderr, the outcome on stdout."""
    publish_base(lab)
    done = sop(lab.repo, "provision", RID, "--json", env=production_env(lab, tmp_path))
    assert done.code == 2, done.err
    outcome = json.loads(done.out)
    assert outcome == {
        "request_id": RID,
        "exit_code": 2,
        "step_8_recorded": False,
        "recorded_now": [],
        "seconds": {},
        "hosting": None,
    }
    assert "tidak menunggu langkah 8" in done.err


def test_provision_that_fails_prints_no_half_json(lab: Lab, tmp_path: Path) -> None:
    """Waiting for step 8, no SSH key configured: the error and its code, and stdout empty (a
    job reading stdout as JSON sees nothing rather than a partial document)."""
    publish_base(lab)
    walk_to_step_8(lab, RID)
    done = sop(lab.repo, "provision", RID, "--json", env=production_env(lab, tmp_path))
    assert done.code == 3, (done.code, done.out, done.err)  # no SSH key: config
    assert done.out == ""
    assert RID in done.err  # the progress and the failure, on stderr
