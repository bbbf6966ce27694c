"""``sop drift [ID] [--json] [--propose [--accept]]``: the nightly comparison, or one request's.

Registered lazily by :mod:`sop_pipeline.cli.main`. The work is :mod:`sop_pipeline.steps.drift`;
this module wires the adapters, records, writes the Laporan Drift and picks the exit code.
"""

from __future__ import annotations

import functools
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from sop_pipeline.cli.options import base_option, lab_dir_option, reach_infrastructure
from sop_pipeline.config import TrustedConfig
from sop_pipeline.errors import ExitCode
from sop_pipeline.workspace import Workspace

if TYPE_CHECKING:
    from sop_pipeline.adapters.infrastructure import Infrastructure
    from sop_pipeline.ports import AnsibleDriftPort

EPILOG = """\b
Exit codes:
  0  no drift: every check ran and what runs is what was approved
  2  REQUEST_ID is no live hosting yet (its step 8 is not recorded)
  3  configuration is wrong (inventories/, lab.json, SOP_* variables)
  5  a ledger does not verify (nothing is appended to a broken chain)
  8  there is no such request
  9  drift found: recorded in the ledger, Laporan Drift written; nothing was fixed
 10  a check failed (DNS server, Proxmox API, Terraform...): the message names it; never
     "no drift"

\b
Settings without --lab-dir (the scheduled CI job), as for sop provision (docs/infra.md):
  SOP_PVE_URL  SOP_PVE_TOKEN_FILE | SOP_PVE_TOKEN  SOP_PVE_CA_FILE  SOP_ALLOCATOR_DSN
  SOP_DNS_SERVER  SOP_DNS_PORT  SOP_TSIG_KEY_FILE (the zone transfer is signed with it)
  SOP_DNS_REVERSE_ZONE (PTR records compared too)
  SOP_SSH_KEY_FILE  SOP_ADMIN_USER (site.yml --check --diff on each server)
  SOP_TF_BINARY  SOP_TF_CLI_CONFIG  SOP_TF_WORK_DIR  SOP_TF_PG_CONN_STR
"""


def _now() -> datetime:
    return datetime.now().astimezone()


@click.command("drift", epilog=EPILOG)
@click.argument("request_id", required=False)
@lab_dir_option("Check")
@base_option("policy, pools, department and terraform/")
@click.option("--json", "as_json", is_flag=True, help="Print the items and checks as JSON.")
@click.option(
    "--propose",
    is_flag=True,
    help="For each drifted hosting, write a change request (kind: ubah) under "
    "records/proposals/<id>/: by default one that restores what was approved.",
)
@click.option(
    "--accept",
    is_flag=True,
    help="With --propose: the change request accepts what runs (vCPU, memory) instead.",
)
@click.option(
    "--without-ansible",
    is_flag=True,
    help="Leave out the check of each server (site.yml --check --diff): reported as "
    "skipped, never as no drift of the servers.",
)
@click.option(
    "--issues-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one issue per hosting checked (DIR/<id>.state open|close|keep, .title, "
    ".labels, .md in Indonesian) for the CI job that opens and closes GitLab issues.",
)
@click.pass_obj
def drift_cmd(
    ws: Workspace,
    request_id: str | None,
    lab_dir: Path | None,
    base: str,
    as_json: bool,
    propose: bool,
    accept: bool,
    without_ansible: bool,
    issues_dir: Path | None,
) -> None:
    """Compare what was approved with what runs, for every live hosting or REQUEST_ID.

    \b
    Checks Proxmox (/cluster/resources), DNS (the zone by AXFR with the TSIG key), the
    allocator's leases and Terraform (plan -refresh-only), records a `drift` record in each
    allocator's leases, Terraform (plan -refresh-only) and each server (site.yml --check
    --diff), records a `drift` record in each hosting's ledger (an empty list too) and
    unowned things in records/_drift.jsonl, and writes the Laporan Drift
    (records/reports/_drift/).
    Nothing is ever fixed: --propose writes a change request that goes through steps 4-8.
    """
    sys.exit(
        _run(
            ws,
            request_id,
            lab_dir,
            base,
            as_json=as_json,
            propose=propose,
            accept=accept,
            ansible_check=not without_ansible,
            issues_dir=issues_dir,
        )
    )


def _ansible_check(
    ws: Workspace, infra: Infrastructure, trusted: TrustedConfig, zone: str
) -> AnsibleDriftPort:
    """``site.yml --check --diff`` on each hosting's VM, with step 8's extra vars and the
    host keys its guest agent reports (nothing trusted on first use)."""
    from sop_pipeline.adapters import ansible, processes
    from sop_pipeline.adapters.ansible_drift import CONNECT_TIMEOUT, AnsibleDrift
    from sop_pipeline.domain.drift import Hosting
    from sop_pipeline.errors import ConfigError
    from sop_pipeline.loader import read_request_model
    from sop_pipeline.steps.provisioning import site_extravars

    proxmox = infra.proxmox()

    def extravars(h: Hosting) -> dict[str, Any]:
        facts = read_request_model(ws.requests_dir / f"{h.request_id}.yaml", zone=zone)
        if facts is None:
            raise ConfigError(f"requests/{h.request_id}.yaml tidak dapat dibaca")
        return site_extravars(
            infra, h.request_id, facts.as_data(), h.ip_address, connect_timeout=CONNECT_TIMEOUT
        )

    return AnsibleDrift(
        tree=ansible.AnsibleTree(
            playbooks=trusted.playbooks_dir,
            roles=trusted.roles_dir,
            inventories=trusted.inventories,
        ),
        environment=infra.environment,
        private_key=infra.ssh_private_key,
        admin_user=infra.admin_user,
        host_keys=lambda h: proxmox.host_keys(h.node, h.vmid),
        extravars=extravars,
        run_scope=processes.scope_of(infra.terraform_work_root),
    )


def _run(
    ws: Workspace,
    request_id: str | None,
    lab_dir: Path | None,
    base: str,
    *,
    as_json: bool,
    propose: bool,
    accept: bool,
    ansible_check: bool = True,
    issues_dir: Path | None = None,
) -> int:
    from sop_pipeline.adapters.allocator import Allocator
    from sop_pipeline.lab.bind import RESERVED_LABELS
    from sop_pipeline.reports.drift import DriftRun, write_drift_report
    from sop_pipeline.steps import drift as uc
    from sop_pipeline.steps.drift_proposal import write_proposal
    from sop_pipeline.steps.reporting import reports_dir

    say = functools.partial(click.echo, err=as_json)
    if request_id is not None:
        ws.require(request_id, file=True)
        if uc.step8_record(ws.ledgers.for_request(request_id).records()) is None:
            click.echo(
                f"{request_id}: belum menjadi hosting (langkah 8 belum dicatat); tidak ada yang "
                "dibandingkan. Lihat `sop status`.",
                err=True,
            )
            return ExitCode.REFUSED
    infra = reach_infrastructure(lab_dir, err=as_json)
    at = _now()
    with TrustedConfig.from_commit(ws.root, base) as trusted:
        policy = trusted.policy
        terraform_dir = trusted.terraform_dir
        known = sorted(policy.reserved_hostnames)
        if infra.environment == "lab":
            known = sorted({*known, *RESERVED_LABELS})
        lookup = uc.live_hostings(
            ws.ledgers,
            ws.requests_dir,
            zone=policy.zone,
            environment=infra.environment,
            protection=functools.partial(uc.approved_protection, infra.terraform_work_root),
        )
        sources = uc.DriftSources(
            proxmox=infra.proxmox(),
            zone=infra.dns(policy.zone),
            zone_name=policy.zone,
            allocator=Allocator(trusted.pools, infra.allocator_dsn),
            terraform=lambda rid: infra.terraform_runner(rid, terraform_dir),
            ansible=_ansible_check(ws, infra, trusted, policy.zone) if ansible_check else None,
            known_names=[f"{label}.{policy.zone}" for label in known],
            per_node=infra.terraform_parallel_per_node,
            log=say,
        )
        report = uc.check_drift(lookup, sources, only=request_id)
        uc.record_drift(report, ws.ledgers, at=at, department=request_id is None)
        sequence = len(uc.drift_records(ws.ledgers.named(uc.DEPARTMENT_LEDGER).records()))
        run = DriftRun(report, at, max(sequence, 1), environment=infra.environment, only=request_id)
        paths = write_drift_report(trusted.department, run, reports_dir(ws))
    issues = []
    if issues_dir is not None:
        from sop_pipeline.reports.drift_issues import drift_issues, write_drift_issues

        issues = write_drift_issues(drift_issues(run, paths[0].stem), issues_dir)
    proposals = []
    if propose:
        for owner in report.owners():
            if owner not in report.hostings:
                continue
            proposals.append(
                write_proposal(
                    ws.records_dir,
                    owner,
                    ws.request_path(owner),
                    report.for_owner(owner),
                    "accept" if accept else "restore",
                    at,
                )
            )
    code = uc.exit_code(report)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "exit_code": int(code),
                    "verdict": run.verdict,
                    "hostings": list(report.hostings),
                    "checks": dict(report.checks),
                    "items": [i.to_json() for i in report.items],
                    "reports": [str(p) for p in paths],
                    "proposals": [str(p) for p in proposals],
                    "issues": [str(p) for p in issues if p.suffix == ".state"],
                },
                indent=2,
            )
        )
    for item in report.items:
        say(f"drift: {item.owner}: {item.sentence()}")
    for name, why in report.failed.items():
        click.echo(f"drift: pemeriksaan {name} {why}", err=True)
    verdict = {
        ExitCode.OK: "tidak ada drift",
        ExitCode.DRIFT: f"{len(report.items)} temuan drift",
        ExitCode.DRIFT_CHECK_FAILED: "pemeriksaan gagal: "
        + ", ".join(sorted(report.failed))
        + "; tidak ada kesimpulan (bukan 'tidak ada drift')",
    }[code]
    say(f"drift: {len(report.hostings)} hosting diperiksa; {verdict}; laporan {paths[0]}")
    for path in proposals:
        say(f"drift: usulan perubahan ditulis: {path}")
    return int(code)
