"""``sop analyze ID``: the step-6 technical analysis against the real cluster, and its report.

Registered in the ``sop`` group by :mod:`sop_pipeline.cli.main`
(``main.add_command(analyze_cmd)``), whose group turns every SopError into its diagnostics and
exit code.
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
from sop_pipeline.errors import ExitCode
from sop_pipeline.ledger.tracking import record_analysis
from sop_pipeline.loader import load_request
from sop_pipeline.reports.model import analysis_findings, feasible
from sop_pipeline.workspace import Workspace

EPILOG = """\b
Exit codes:
  0  the request can be carried out (layak); report written
  2  the request cannot be carried out as it stands; report written, with the reasons
  3  configuration is wrong (inventories/, lab.json, SOP_* variables)
  4  an outside system could not be asked (Proxmox, allocator, DNS, Terraform); nothing written
  8  there is no such request

\b
Settings without --lab-dir (production, CI), see docs/infra.md:
  SOP_ENVIRONMENT  SOP_PVE_URL  SOP_PVE_TOKEN_FILE | SOP_PVE_TOKEN  SOP_PVE_CA_FILE
  SOP_ALLOCATOR_DSN  SOP_DNS_SERVER  SOP_DNS_PORT  SOP_SSH_PUBLIC_KEYS_FILE
  SOP_TF_BINARY  SOP_TF_CLI_CONFIG  SOP_TF_WORK_DIR  SOP_TF_PG_CONN_STR
"""


def _now() -> datetime:
    return datetime.now().astimezone()


@click.command("analyze", epilog=EPILOG)
@click.argument("request_id")
@lab_dir_option("Analyse against")
@base_option("policy, quotas, pools, letterhead and terraform/")
@click.option(
    "--logs-url",
    envvar="CI_JOB_URL",
    help="Link to the full logs for the MR comment (default $CI_JOB_URL).",
)
@click.option("--report-url", help="Link to the published PDF report, for the MR comment.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the findings as JSON; progress goes to stderr."
)
@click.option(
    "--request-only",
    is_flag=True,
    help="Only the request file is here (the protected sop:analysis job takes nothing else "
    "from the merge request): its letter is not checked; the MR pipeline checks it.",
)
@click.pass_obj
def analyze_cmd(
    ws: Workspace,
    request_id: str,
    lab_dir: Path | None,
    base: str,
    logs_url: str | None,
    report_url: str | None,
    as_json: bool,
    request_only: bool,
) -> None:
    """Step 6: Tim Teknis' technical analysis of REQUEST_ID against the real cluster.

    \b
    Checks, in order, and prints progress as it goes:
      1. the OS template exists on Proxmox, and the VM name is not taken;
      2. free capacity on every node (a node is chosen for the VM);
      3. the OPD's quota (inventories/quotas.yaml) against its VMs on the cluster;
      4. a free VMID and IP address in the pool, only peeked: nothing is reserved;
      5. the DNS name is free on the department's primary;
      6. `terraform plan` of the request stack, provider from the offline mirror.

    Writes records/reports/REQUEST_ID/laporan-analisis-teknis.{md,pdf} and
    komentar-analisis.md (the merge-request comment), records the report's sha256 and verdict
    in the request's ledger (an "analysis" record), and prints the sha256.

    It does NOT record step 6: Tim Teknis reads the report and signs step 6, citing the
    digest printed here; the gates accept a step-6 approval only if it cites a report recorded
    so, for the same request bytes, that says DAPAT DILAKSANAKAN (or, for BELUM DAPAT
    DILAKSANAKAN, carries --override with the same text the Kabid signs at step 7). E.g.

    \b
      sop sign REQUEST_ID --step 6 --decision approve --signer you@... \\
          --evidence laporan-analisis-teknis.md=<sha256> --key ~/.ssh/id_ed25519

    Safe to run again at any time: each run replaces the report with a fresh one.
    """
    sys.exit(_run(ws, request_id, lab_dir, base, logs_url, report_url, as_json, request_only))


def _run(
    ws: Workspace,
    request_id: str,
    lab_dir: Path | None,
    base: str,
    logs_url: str | None,
    report_url: str | None,
    as_json: bool,
    request_only: bool = False,
) -> int:
    ws.require(request_id, file=True)
    say = functools.partial(click.echo, err=as_json)  # with --json, stdout holds only the JSON
    # The adapters (the [provision] extra) load only when this command runs.
    require_extra("provision", "sop_pipeline.steps.analysis")
    from sop_pipeline.steps.analysis import analyze, ticket_sequence, write_analysis

    infra = reach_infrastructure(lab_dir, err=as_json)
    with TrustedConfig.from_commit(ws.root, base) as trusted:
        policy = trusted.policy
        department = trusted.department
        request = load_request(
            ws.request_path(request_id), policy=policy, check_attachments=not request_only
        )
        result = analyze(
            request,
            infra,
            policy=policy,
            pools=trusted.pools,
            terraform_dir=trusted.terraform_dir,  # an MR's own Terraform never runs
            now=_now,
            log=say,
        )
    facts = request.request
    sequence = ticket_sequence(ws.ledgers, request_id)
    if not sequence:
        say(f"{request_id}: catatan: langkah 5 belum dicatat; laporan tanpa nomor tiket.")
    from sop_pipeline.domain.change import CHANGE_KINDS, diff
    from sop_pipeline.ledger.tracking import last_applied

    applied = last_applied(ws.ledgers.for_request(request_id).records())
    changes = (
        diff(applied.facts, facts)
        if applied is not None and facts.kind in CHANGE_KINDS and applied.digest != facts.digest
        else ()
    )
    files = write_analysis(
        ws.records_dir,
        facts,
        result,
        department=department,
        sequence=sequence,
        logs_url=logs_url,
        report_url=report_url,
        changes=changes,
    )
    ok = feasible(facts, result)
    record_analysis(  # what Tim Teknis' step-6 approval must cite, and its verdict
        ws.ledgers,
        request_id,
        report=files.markdown.name,
        digest=files.digest,
        request_digest=request.digest,
        feasible=ok,
        at=result.analysed_at,
        # what the Kabid must name at step 7 (gates.ChangeClassConfirmed)
        change_class=result.change_class if result.change_class in ("reboot", "replace") else "",
    )
    for finding in analysis_findings(facts, result):
        say(f"  [{'ya' if finding.ok else 'TIDAK'}] {finding.label}: {finding.detail}")
    verdict = "DAPAT DILAKSANAKAN" if ok else "BELUM DAPAT DILAKSANAKAN"
    say(f"{request_id}: {verdict}.")
    say(f"Laporan: {files.markdown} dan {files.pdf}")
    say(f"Komentar MR: {files.comment}")
    say(f"sha256 laporan: {files.digest}")
    say(f"Tim Teknis: baca laporan, lalu tandatangani langkah 6 dengan --evidence {files.evidence}")
    if as_json:
        click.echo(
            json.dumps(
                {
                    "request_id": request_id,
                    "feasible": ok,
                    "report": str(files.markdown),
                    "sha256": files.digest,
                    "chosen_node": result.chosen_node,
                    "ip_address": result.ip_address,
                    "findings": [
                        {"label": f.label, "ok": f.ok, "detail": f.detail}
                        for f in analysis_findings(facts, result)
                    ],
                    "plan": list(result.plan_summary),
                },
                indent=2,
            )
        )
    return ExitCode.OK if ok else ExitCode.REFUSED
