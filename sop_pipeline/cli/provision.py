"""``sop provision ID``: step 8 for real, on the protected branch (or in the lab).

Registered in the ``sop`` group by :mod:`sop_pipeline.cli.main`. The pipeline checks every gate
again from the base branch's keyring and re-reads the request under its lock;
:mod:`sop_pipeline.steps.provisioning` does the infrastructure; then step 9's Laporan Hasil
Hosting is written.
"""

from __future__ import annotations

import functools
import json
import sys
from datetime import datetime
from pathlib import Path

import click

from sop_pipeline.cli.options import (
    base_option,
    lab_dir_option,
    reach_infrastructure,
    require_extra,
)
from sop_pipeline.config import TrustedConfig
from sop_pipeline.domain.sop import PROVISION_STEP, REPORT_STEP
from sop_pipeline.domain.state import PHASE_LABELS
from sop_pipeline.errors import ExitCode
from sop_pipeline.ledger.tracking import STEP_KIND, state_of
from sop_pipeline.steps.pipeline import Pipeline
from sop_pipeline.workspace import Workspace

EPILOG = """\b
Exit codes:
  0  the site answers under its name; steps 8 and 9 recorded (or step 8 was already)
  2  the request is not waiting for step 8 (see `sop status ID`), or its file is refused
  3  configuration is wrong (inventories/, lab.json, SOP_* variables)
  4  a phase failed (the message says which, what was left, how to continue)
  7  a gate does not hold (a signature missing, invalid, spent, or the request changed)
  8  there is no such request
 75  another run holds this request (its lease or Terraform lock): run the job again later

\b
Settings without --lab-dir (the protected CI job), see docs/infra.md:
  SOP_ENVIRONMENT  SOP_PVE_URL  SOP_PVE_TOKEN_FILE | SOP_PVE_TOKEN  SOP_PVE_CA_FILE
  SOP_ALLOCATOR_DSN  SOP_DNS_SERVER  SOP_DNS_PORT  SOP_DNS_REVERSE_ZONE  SOP_TSIG_KEY_FILE
  SOP_SSH_PUBLIC_KEYS_FILE  SOP_SSH_KEY_FILE  SOP_ADMIN_USER
  SOP_TF_BINARY  SOP_TF_CLI_CONFIG  SOP_TF_WORK_DIR  SOP_TF_PG_CONN_STR
"""


def _now() -> datetime:
    return datetime.now().astimezone()


@click.command("provision", epilog=EPILOG)
@click.argument("request_id")
@lab_dir_option("Provision")
@base_option("keyring, policy, pools, terraform/, playbooks/, roles/ and inventories")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the outcome (and the server step 8 recorded) as JSON; progress goes to "
    "stderr, and so does an error, with its exit code.",
)
@click.pass_obj
def provision_cmd(
    ws: Workspace, request_id: str, lab_dir: Path | None, base: str, as_json: bool
) -> None:
    """Step 8: create, configure and publish REQUEST_ID's server, then write step 9's report.

    \b
    In order, under the request's lock:
      1. every gate again, from the base branch's keyring (steps 2-4, 6, 7 signed);
      2. the request's bytes must still be the approved ones;
      3. allocate the VMID and address;      4. Terraform creates the VM;
      5. wait for the guest agent, pin the SSH host keys it reads;
      6. Ansible (playbooks/site.yml);        7. the name in DNS;
      8. the site answers under its name;     9. record steps 8 and 9.

    Progress is printed as it goes. Every phase can be repeated: after a failure, fix the
    cause and run the same command again; it continues where it stopped.
    """
    code, recorded, seconds = _run(ws, request_id, lab_dir, base, as_json=as_json)
    if as_json:
        click.echo(json.dumps(_outcome(ws, request_id, code, recorded, seconds), indent=2))
    sys.exit(code)


def _outcome(
    ws: Workspace, request_id: str, code: int, recorded: list[int], seconds: dict[str, float]
) -> dict[str, object]:
    """What ``--json`` prints: the exit code, what was recorded, and step 8's server."""
    hosting = next(
        (
            r.data.get("hosting")
            for r in reversed(ws.ledgers.for_request(request_id).records())
            if r.kind == STEP_KIND and r.step == PROVISION_STEP
        ),
        None,
    )
    return {
        "request_id": request_id,
        "exit_code": int(code),
        "step_8_recorded": state_of(ws.ledgers, request_id).done(PROVISION_STEP),
        "recorded_now": recorded,
        "seconds": {phase: round(s, 1) for phase, s in seconds.items()},
        "hosting": hosting,
    }


def _run(
    ws: Workspace, request_id: str, lab_dir: Path | None, base: str, *, as_json: bool
) -> tuple[int, list[int], dict[str, float]]:
    """Step 8 (and 9) for ``request_id``: its exit code, the steps recorded, phase times."""
    say = functools.partial(click.echo, err=as_json)  # with --json, stdout holds the JSON only
    state = state_of(ws.ledgers, ws.require(request_id, file=True))
    if state.done(PROVISION_STEP):  # safe to run again: step 8 happens once
        if state.next_step != REPORT_STEP:
            say(f"{request_id}: langkah 8 sudah dicatat; tidak ada yang dilakukan.")
            return ExitCode.OK, [], {}
        # A run that died between recording step 8 and step 9: write step 9's report now.
        say(f"{request_id}: langkah 8 sudah dicatat; laporan langkah 9 belum: dibuat sekarang.")
        with TrustedConfig.from_commit(ws.root, base) as trusted:
            result = Pipeline(ws, trusted=trusted, now=_now, log=say).advance(request_id)
        return ExitCode.OK, list(result.recorded), {}
    if state.next_step != PROVISION_STEP:
        waiting = f"langkah {state.next_step}" if state.next_step else PHASE_LABELS[state.phase]
        click.echo(
            f"{request_id}: tidak menunggu langkah 8 (sekarang: {waiting}); tidak ada yang "
            "dibuat. Lihat `sop status`.",
            err=True,
        )
        return ExitCode.REFUSED, [], {}
    # The adapters (the [provision] extra) load only when this command runs.
    require_extra("provision", "sop_pipeline.steps.provisioning")
    from sop_pipeline.steps.provisioning import PHASES, provisioner_for

    infra = reach_infrastructure(lab_dir, err=as_json)
    with TrustedConfig.from_commit(ws.root, base) as trusted:  # one tree, each file read once
        provisioner = provisioner_for(infra, trusted, _now, handover_dir=ws.records_dir / "reports")
        pipeline = Pipeline(ws, trusted=trusted, now=_now, log=say, provisioner=provisioner)
        result = pipeline.advance(request_id)
    times = dict(provisioner.times.seconds)
    if result.refused:
        return ExitCode.REFUSED, list(result.recorded), times
    if times:
        say(
            "waktu per tahap: " + ", ".join(f"{p} {times[p]:.0f} dtk" for p in PHASES if p in times)
        )
    done = PROVISION_STEP in result.recorded
    say(
        f"{request_id}: langkah 8 {'selesai' if done else 'belum selesai'}; "
        f"dicatat: {', '.join(map(str, result.recorded)) or '-'}"
    )
    return (ExitCode.OK if done else ExitCode.OUTSIDE), list(result.recorded), times
