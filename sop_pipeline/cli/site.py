"""``sop site build OUT/``: the static site (dashboard, signing and enrolment pages).

Exit codes (the one table): 0 written; 3 the base branch's keyring or calendar is wrong;
4 git or ssh-keygen failed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from sop_pipeline.cli.options import base_option, trusted_config
from sop_pipeline.workspace import Workspace


@click.group("site")
def site_group() -> None:
    """The static site for officials, OPD staff and the Kadis (GitLab Pages or an artefact)."""


@site_group.command("build")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--rp-id",
    envvar="SOP_SITE_RP_ID",
    default="",
    help="WebAuthn RP ID: the site's host name, its keys' application ($SOP_SITE_RP_ID; "
    "default: policy.webauthn_rp_id of the keyring, else localhost).",
)
@click.option(
    "--gitlab-url",
    envvar="SOP_SITE_GITLAB_URL",
    default="",
    help="The requests project's URL, for the 'upload file' links ($SOP_SITE_GITLAB_URL).",
)
@click.option(
    "--branch",
    default="{request_id}",
    show_default=True,
    help="The merge request branch of a request ({request_id} is replaced).",
)
@click.option(
    "--target-branch",
    default="main",
    show_default=True,
    help="The branch merge requests go to (the request form's GitLab links).",
)
@click.option(
    "--verifier",
    type=click.Choice(["native", "ssh-keygen", "both"]),
    default="both",
    show_default=True,
    help="How earlier statements are checked (their hashes go into builds_on).",
)
@click.option(
    "--backups",
    "backups_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The output of `sop backups --json` (a CI artefact): each hosting's last backup.",
)
@click.option("--now", "now_", metavar="ISO-TIME", help="The data time (default: now).")
@base_option("the keyring and the working calendar")
@click.pass_obj
def build_cmd(
    ws: Workspace,
    out: Path,
    rp_id: str,
    gitlab_url: str,
    branch: str,
    target_branch: str,
    verifier: str,
    backups_file: Path | None,
    now_: str | None,
    base: str,
) -> None:
    """Write the static site under OUT/ from the repository (requests, records, the base
    branch's keyring and calendar). No server: open OUT/index.html over https or localhost."""
    from sop_pipeline.signing.approvals import VerifyMode
    from sop_pipeline.site.build import SiteOptions, build_site

    backups: dict[str, str] = {}
    if backups_file is not None:
        import json

        from sop_pipeline.site.dashboard import last_backups

        try:
            backups = last_backups(json.loads(backups_file.read_text("utf-8")), str(backups_file))
        except (OSError, ValueError) as err:  # JSONDecodeError is a ValueError
            raise click.BadParameter(str(err), param_hint="--backups") from err
    now = datetime.fromisoformat(now_) if now_ else datetime.now(UTC)
    if now.tzinfo is None:
        raise click.BadParameter("--now harus memuat zona waktu (Z atau +07:00)")
    built = build_site(
        ws=ws,
        trusted=trusted_config(ws.root, base),
        out=out,
        now=now,
        options=SiteOptions(
            rp_id=rp_id,
            gitlab_url=gitlab_url,
            branch=branch,
            target_branch=target_branch,
            verifier=VerifyMode(verifier),
            backups=backups,
        ),
    )
    click.echo(
        f"Situs ditulis: {built.out}/index.html ({len(built.pages)} halaman, "
        f"{len(built.signing)} halaman tanda tangan)"
    )


COMMANDS: tuple[click.Command, ...] = (site_group,)
