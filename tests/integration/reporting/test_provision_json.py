"""`sop provision --json` once step 8 is recorded: the server it recorded, on stdout only."""

from __future__ import annotations

import json

from reporting_walk import Walk, sop

from sop_pipeline.steps.reporting import last_step_record

RID = "dinkes-simpus"


def test_provision_json_names_the_server_step_8_recorded(walk: Walk) -> None:
    walk.to_step_7(RID)  # the pipeline then hosts (a real HTTP server) and records step 8
    step_8 = last_step_record(walk.ws.ledgers.for_request(RID).records(), 8)
    assert step_8 is not None

    done = sop(walk.lab.repo, "provision", RID, "--json")
    assert done.exit_code == 0, done.output
    outcome = json.loads(done.stdout)  # the "already recorded" line went to stderr
    assert outcome["step_8_recorded"] is True and outcome["recorded_now"] == []
    assert outcome["hosting"] == step_8.data["hosting"]
    assert outcome["hosting"]["fqdn"].startswith("simpus.") and outcome["exit_code"] == 0
    assert "langkah 8 sudah dicatat" in done.stderr


def test_a_run_that_died_between_steps_8_and_9_is_finished_by_the_next_provision(
    walk: Walk,
) -> None:
    walk.to_step_7(RID)
    ledger = walk.ws.ledgers.for_request(RID)
    lines = ledger.path.read_bytes().splitlines(keepends=True)
    assert json.loads(lines[-1])["step"] == 9 and json.loads(lines[-2])["step"] == 8
    ledger.path.write_bytes(b"".join(lines[:-1]))  # killed before step 9's append

    done = sop(walk.lab.repo, "provision", RID)
    assert done.exit_code == 0, done.output
    assert "laporan langkah 9 belum: dibuat sekarang" in done.output
    steps = [r.step for r in ledger.records() if r.kind == "step"]
    assert steps.count(8) == 1 and steps.count(9) == 1, steps
    again = sop(walk.lab.repo, "provision", RID)
    assert again.exit_code == 0 and "tidak ada yang dilakukan" in again.output
    assert sop(walk.lab.repo, "audit").exit_code == 0
