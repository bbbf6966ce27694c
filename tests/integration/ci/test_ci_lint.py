"""The CI templates pass their linters: actionlint and zizmor (GitHub), the GitLab CI schema."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.ci.conftest import find_tool

pytestmark = pytest.mark.integration

GITHUB = [REPO / "ci" / "github" / "sop.yml", REPO / ".github" / "workflows" / "sop.yml"]
GITLAB = [REPO / "ci" / "gitlab" / "sop.gitlab-ci.yml", REPO / ".gitlab-ci.yml"]
PINNED = re.compile(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40}\s+# v\d")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def test_actionlint_finds_nothing() -> None:
    done = run(find_tool("actionlint"), *map(str, GITHUB))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_zizmor_pedantic_finds_nothing() -> None:
    done = run(find_tool("zizmor"), "--offline", "--persona", "pedantic", *map(str, GITHUB))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No findings to report" in done.stdout + done.stderr


def test_gitlab_files_match_the_gitlab_ci_schema() -> None:
    done = run(
        find_tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", *map(str, GITLAB)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_workflow_pins_every_action_by_commit_and_avoids_pull_request_target() -> None:
    for path in GITHUB:
        text = path.read_text()
        uses = [line.strip() for line in text.splitlines() if "uses:" in line]
        assert uses and all(PINNED.search(u) for u in uses), uses
        assert "pull_request_target" not in text.replace("never pull_request_target", "")
        assert "permissions: {}" in text


def test_this_repositorys_workflow_is_the_template_with_sop_from_the_checkout() -> None:
    template, ours = (p.read_text() for p in GITHUB)
    assert ours == template.replace('SOP_PIP_SPEC: "sop-pipeline==0.1.0"', 'SOP_PIP_SPEC: "."')


def test_merge_request_jobs_hold_no_secret_names() -> None:
    """The secrets belong to the protected jobs; MR jobs never name them."""
    text = (REPO / "ci" / "gitlab" / "sop.gitlab-ci.yml").read_text()
    mr_part = text.split("# -------------------------------------------------------- protected")[0]
    for name in ("PROXMOX_VE_API_TOKEN", "SOP_TSIG_KEY", "SOP_STATE_DSN", "environment:"):
        assert name not in mr_part, name


def test_pull_request_jobs_get_read_only_secrets_at_most() -> None:
    """On GitHub, only the analysis job of a pull request sees secrets, and only the
    read-only ones of the environment "analysis"; the keys that change things stay with the
    push jobs in "hosting"."""
    workflow = yaml.safe_load(GITHUB[0].read_text())
    jobs = workflow["jobs"]
    write_secrets = ("SOP_TSIG_KEY", "SOP_SSH_KEY", "SOP_TF_PG_CONN_STR", "SOP_RECORDS_PUSH_URL")
    for name in ("check", "analyze", "comment"):
        text = yaml.safe_dump(jobs[name])
        for secret in write_secrets:
            assert secret not in text, (name, secret)
    assert "${{ secrets." not in yaml.safe_dump(jobs["check"]) + yaml.safe_dump(jobs["comment"])
    assert jobs["analyze"]["environment"] == "analysis"
    assert jobs["analyze"]["permissions"] == {"contents": "read"}
    assert "vars.SOP_PVE_URL != ''" in jobs["analyze"]["if"]
    assert jobs["provision"]["environment"] == "hosting"
