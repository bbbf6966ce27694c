"""The CI templates pass their linters: actionlint and zizmor (GitHub), the GitLab CI schema."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.ci.conftest import find_tool

pytestmark = pytest.mark.integration

GITHUB = [REPO / "ci" / "github" / "sop.yml", REPO / ".github" / "workflows" / "sop.yml"]
COMPONENT = REPO / "templates" / "sop.yml"  # GitLab's CI/CD component layout
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


def test_gitlab_files_match_the_gitlab_ci_schema(tmp_path: Path) -> None:
    """The component's two documents (the ``spec:`` header, then the jobs) each, and this
    repository's .gitlab-ci.yml (check-jsonschema reads one document per file)."""
    header, jobs = COMPONENT.read_text().split("\n---\n")
    files = [tmp_path / "header.yml", tmp_path / "jobs.yml", REPO / ".gitlab-ci.yml"]
    files[0].write_text(header + "\n")
    files[1].write_text(jobs)
    done = run(
        find_tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", *map(str, files)
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok -- validation done" in done.stdout


def test_the_gitlab_template_is_a_component_with_inputs_and_installs_by_hash() -> None:
    header, jobs = yaml.safe_load_all(COMPONENT.read_text())
    inputs = header["spec"]["inputs"]
    assert set(inputs) == {"requirements", "install", "records_branch"}
    assert inputs["install"] == {**inputs["install"], "default": "hashed"}
    assert inputs["install"]["options"] == ["hashed", "checkout"]
    assert all(spec.get("description") for spec in inputs.values())
    for name in inputs:  # every input is used, through a variable (never spliced into a script)
        assert f"$[[ inputs.{name} ]]" in yaml.safe_dump(jobs["variables"]), name
    setup = "\n".join(jobs[".sop:job"]["before_script"])
    assert "$[[" not in setup
    assert 'pip install --quiet --require-hashes -r "$SOP_REQUIREMENTS"' in setup
    assert "SOP_PIP_SPEC" not in COMPONENT.read_text()
    own = yaml.safe_load((REPO / ".gitlab-ci.yml").read_text())
    assert own["include"] == [{"local": "templates/sop.yml", "inputs": {"install": "checkout"}}]


def test_workflow_pins_every_action_by_commit_and_avoids_pull_request_target() -> None:
    for path in GITHUB:
        text = path.read_text()
        uses = [line.strip() for line in text.splitlines() if "uses:" in line]
        assert uses and all(PINNED.search(u) for u in uses), uses
        assert "pull_request_target" not in text.replace("never pull_request_target", "")
        assert "permissions: {}" in text


def test_this_repositorys_workflow_is_the_template_with_sop_from_the_checkout() -> None:
    template, ours = (p.read_text() for p in GITHUB)
    assert 'SOP_INSTALL: "hashed"' in template
    assert ours == template.replace('SOP_INSTALL: "hashed"', 'SOP_INSTALL: "checkout"')
    assert template.count('pip install --quiet --require-hashes -r "$SOP_REQUIREMENTS"') == 5


def test_merge_request_jobs_hold_no_secret_names() -> None:
    """The secrets belong to the protected jobs; MR jobs never name them."""
    text = COMPONENT.read_text()
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


def test_the_drift_job_runs_only_on_protected_schedules_and_records() -> None:
    """`sop drift` holds the hosting environment's secrets: never in a merge request
    pipeline; drift found (9) is a warning, a failed check (10) fails the job."""
    _header, jobs = yaml.safe_load_all(COMPONENT.read_text())
    job = jobs["sop:drift"]
    (rule,) = job["rules"]
    assert rule["if"].startswith('$CI_PIPELINE_SOURCE == "schedule" && ')
    assert '$CI_COMMIT_REF_PROTECTED == "true"' in rule["if"]
    assert "merge_request" not in yaml.safe_dump(job)
    assert job["allow_failure"] == {"exit_codes": [9]}
    assert job["resource_group"] == "sop-records"
    script = "\n".join(job["script"])
    assert "sop drift" in script and "sop_records_push" in script and 'exit "$rc"' in script
    mr_part = COMPONENT.read_text().split(
        "# -------------------------------------------------------- protected"
    )[0]
    assert "sop drift" not in mr_part


def test_the_expiry_job_runs_only_on_protected_schedules_and_records() -> None:
    """`sop expiry` shuts VMs down with the hosting environment's secrets: never in a merge
    request pipeline; it writes records like the other protected jobs."""
    _header, jobs = yaml.safe_load_all(COMPONENT.read_text())
    job = jobs["sop:expiry"]
    (rule,) = job["rules"]
    assert rule["if"].startswith('$CI_PIPELINE_SOURCE == "schedule" && ')
    assert '$CI_COMMIT_REF_PROTECTED == "true"' in rule["if"]
    assert "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH" in rule["if"]
    assert "merge_request" not in yaml.safe_dump(job)
    assert job["resource_group"] == "sop-records"
    script = "\n".join(job["script"])
    assert "sop expiry" in script and "sop_records_push" in script and 'exit "$rc"' in script
    mr_part = COMPONENT.read_text().split(
        "# -------------------------------------------------------- protected"
    )[0]
    assert "sop expiry" not in mr_part


def test_the_github_expiry_job_runs_only_on_the_schedule() -> None:
    workflow = yaml.safe_load(GITHUB[0].read_text())
    job = workflow["jobs"]["expiry"]
    assert "github.event_name == 'schedule'" in job["if"]
    assert job["environment"] == "hosting" and job["concurrency"]["group"] == "sop-records"
    assert "sop expiry" in yaml.safe_dump(job)


def test_the_github_drift_job_runs_only_on_the_schedule() -> None:
    workflow = yaml.safe_load(GITHUB[0].read_text())
    assert workflow[True]["schedule"]  # PyYAML reads the key `on` as True
    job = workflow["jobs"]["drift"]
    assert job["if"].startswith("github.event_name == 'schedule' &&")
    assert job["environment"] == "hosting" and job["permissions"] == {"contents": "read"}
    assert "sop drift" in yaml.safe_dump(job)
    for name in ("check", "plan"):  # a scheduled run provisions nothing and checks no PR
        assert "schedule" not in workflow["jobs"][name]["if"]


def test_the_drift_issue_job_holds_its_token_on_protected_schedules_only() -> None:
    """The issue job runs after `sop drift` on the protected schedule only, with its own
    token given to curl on stdin, never in argv; it reads only the files `sop drift
    --issues-dir` wrote (a fixed state word, an id-made title, labels, a Markdown file sent
    as a form field); its shell is valid bash."""
    _header, jobs = yaml.safe_load_all(COMPONENT.read_text())
    job = jobs["sop:drift:issues"]
    (rule,) = job["rules"]
    assert rule["if"].startswith('$CI_PIPELINE_SOURCE == "schedule" && ')
    assert '$CI_COMMIT_REF_PROTECTED == "true"' in rule["if"]
    assert rule["if"].endswith("&& $SOP_DRIFT_ISSUE_TOKEN")
    assert job["needs"] == [{"job": "sop:drift", "artifacts": True}]
    assert "merge_request" not in yaml.safe_dump(job)
    drift = "\n".join(jobs["sop:drift"]["script"])
    assert "--issues-dir sop-out/drift-issues" in drift
    script = "\n".join(job["script"])
    token_uses = [line for line in script.splitlines() if "SOP_DRIFT_ISSUE_TOKEN" in line]
    assert token_uses == ["  printf 'PRIVATE-TOKEN: %s\\n' \"$SOP_DRIFT_ISSUE_TOKEN\" |"], (
        token_uses
    )
    assert "--header @-" in script and "CI_JOB_TOKEN" not in script
    assert '"description@$key.md"' in script and '"body@$key.md"' in script
    assert "state_event=close" in script and "labels=$labels" in script
    assert "eval" not in script
    checked = subprocess.run(
        ["bash", "-n"], input=script, capture_output=True, text=True, timeout=30, check=False
    )
    assert checked.returncode == 0, checked.stderr
    mr_part = COMPONENT.read_text().split(
        "# -------------------------------------------------------- protected"
    )[0]
    assert "SOP_DRIFT_ISSUE_TOKEN" not in mr_part
