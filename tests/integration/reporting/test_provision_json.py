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
