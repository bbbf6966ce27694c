"""Static checks of roles/ and playbooks/: argument specs in step with defaults, ansible-lint.

- every role has ``meta/argument_specs.yml`` and its options are exactly the variables of
  ``defaults/main.yml`` plus the required ones (which have no default), with equal defaults;
- every role's ``tasks/main.yml`` starts with the preflight checks;
- ``ansible-lint`` passes with the production profile (``.ansible-lint``);
- ``ansible-playbook --syntax-check`` accepts every playbook.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_labvm import REPO, require

ROLES = sorted(p.name for p in (REPO / "roles").iterdir() if (p / "tasks" / "main.yml").exists())
PLAYBOOKS = sorted(p.name for p in (REPO / "playbooks").glob("*.yml"))


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_there_are_roles_for_every_part_of_the_issue() -> None:
    assert set(ROLES) >= {
        "base",
        "web",
        "tls",
        "dns_record",
        "stack_static",
        "stack_php",
        "stack_nodejs",
        "stack_python",
    }


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_match_defaults(role: str) -> None:
    folder = REPO / "roles" / role
    options = _yaml(folder / "meta" / "argument_specs.yml")["argument_specs"]["main"]["options"]
    defaults = _yaml(folder / "defaults" / "main.yml") or {}
    required = {name for name, spec in options.items() if spec.get("required")}
    assert set(defaults) == set(options) - required, "defaults and argument_specs differ"
    for name in required:
        assert "default" not in options[name], f"{name} is required and has a default"
    for name, value in defaults.items():
        assert name.startswith(role + "_"), f"{name} lacks the role prefix"
        assert options[name].get("default") == value, f"{name}: default differs from the spec"
        assert options[name].get("description"), f"{name} has no description"


@pytest.mark.parametrize("role", ROLES)
def test_tasks_start_with_preflight(role: str) -> None:
    tasks = _yaml(REPO / "roles" / role / "tasks" / "main.yml")
    assert tasks[0]["ansible.builtin.import_tasks"] == "preflight.yml"


def _lint_env() -> dict[str, str]:
    env = dict(os.environ)
    env["ANSIBLE_ROLES_PATH"] = str(REPO / "roles")
    env["PYTHONPATH"] = str(REPO)
    return env


@pytest.mark.integration
@pytest.mark.slow  # ansible-lint over every role and playbook: about a minute
def test_ansible_lint_production_profile_passes() -> None:
    require(
        shutil.which("ansible-lint") is not None,
        "ansible-lint",
        "run .ci/setup/ansible.sh (pip install ansible-lint)",
    )
    proc = subprocess.run(
        ["ansible-lint", "--profile", "production", "roles", "playbooks"],
        cwd=REPO,
        env=_lint_env(),
        stdin=subprocess.DEVNULL,  # Ansible refuses a non-blocking stdin (a CI runner's may be)
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert "Profile 'production' was required, and it passed" in proc.stderr + proc.stdout


@pytest.mark.integration
@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook: str) -> None:
    require(
        shutil.which("ansible-playbook") is not None,
        "ansible-playbook",
        "run .ci/setup/ansible.sh (pip install ansible-core)",
    )
    proc = subprocess.run(
        [
            "ansible-playbook",
            "--syntax-check",
            "-i",
            str(REPO / "inventories" / "lab" / "hosts.yml"),
            str(REPO / "playbooks" / playbook),
        ],
        cwd=REPO,
        env=_lint_env(),
        stdin=subprocess.DEVNULL,  # Ansible refuses a non-blocking stdin (a CI runner's may be)
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
