"""``sop backups``: every hosting's last good backup, and the hostings in breach of their
backup policy (``inventories/backups.yaml``, by data classification).

Registered lazily by :mod:`sop_pipeline.cli.main` (``LAZY_COMMANDS``).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from sop_pipeline.cli.options import (
    base_option,
    lab_dir_option,
    parse_moment,
    reach_infrastructure,
)
from sop_pipeline.config import TrustedConfig
from sop_pipeline.errors import ExitCode
from sop_pipeline.workspace import Workspace

EPILOG = """\b
Exit codes:
  0  every hosting has a good backup within its policy's age
  3  configuration is wrong (inventories/backups.yaml, lab.json, SOP_* variables)
  4  Proxmox could not be asked
  7  at least one hosting is in breach: no good backup, or the last one is too old
     (a backup job alone is not a backup)
"""


@click.command("backups", epilog=EPILOG)
@lab_dir_option("Read the backups")
@base_option("inventories/backups.yaml and policy.yaml")
@click.option("--json", "as_json", is_flag=True, help="Print the statuses as JSON.")
@click.option(
    "--now",
    "now_text",
    metavar="ISO-TIME",
    help="Judge the ages as of this time, with its zone (default: now).",
)
@click.pass_obj
def backups_cmd(
    ws: Workspace, lab_dir: Path | None, base: str, as_json: bool, now_text: str | None
) -> None:
    """The last good backup of every hosting, against its policy.

    \b
    A hosting is a VM on Proxmox tagged sop-req-<id>; its retention and the largest age of
    its last backup come from its request's data classification (inventories/backups.yaml).
    A good backup is an archive listed on the backup storage; a job that never ran is none.
    """
    now = parse_moment(now_text)
    say = functools.partial(click.echo, err=as_json)
    from sop_pipeline.loader import read_request_model
    from sop_pipeline.steps.backups import backup_status, status_data

    infra = reach_infrastructure(lab_dir, err=as_json)
    with TrustedConfig.from_commit(ws.root, base) as trusted:
        policy, zone = trusted.backups, trusted.policy.zone

    def classification_of(request_id: str) -> str | None:
        request = read_request_model(ws.request_path(request_id), zone=zone)
        return request.data_classification if request is not None else None

    statuses = backup_status(infra.backups(), infra.proxmox().vms(), policy, classification_of, now)
    if as_json:
        click.echo(json.dumps(status_data(statuses), indent=2, ensure_ascii=False))
    else:
        if not statuses:
            say("Tidak ada hosting (VM bertanda sop-req-<id>) di Proxmox.")
        for s in statuses:
            mark = "LANGGAR" if s.breach else "baik"
            last = s.last.volid if s.last is not None else "-"
            say(f"{s.hosting.request_id} (VM {s.hosting.vmid}): {mark}: {s.reason}; {last}")
    sys.exit(ExitCode.GATE if any(s.breach for s in statuses) else ExitCode.OK)
