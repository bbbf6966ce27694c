"""What ships: extras, licence, changelog, and the setup `make demo` runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib

import pytest

from tests.conftest import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def test_the_core_install_is_what_validating_signing_and_verifying_need() -> None:
    project = PYPROJECT["project"]
    names = {re.split(r"[<>=\[ ;]", d)[0] for d in project["dependencies"]}
    assert names == {"pyyaml", "jsonschema", "fastjsonschema", "click", "cryptography"}
    extras = project["optional-dependencies"]
    provision = {re.split(r"[<>=\[ ;]", d)[0] for d in extras["provision"]}
    assert provision == {
        "ansible-core", "ansible-runner", "mitogen", "python-terraform", "proxmoxer",
        "psycopg", "dnspython", "requests",
    }  # fmt: skip
    assert [d.split(">")[0] for d in extras["reports"]] == ["weasyprint"]
    assert any(d.startswith("fakepve") for d in extras["lab"])
    assert "sop-pipeline[provision,reports,lab]" in extras["test"]
    assert any(d.startswith("build") for d in extras["test"])


def test_nothing_reads_yaml_or_the_repository_root_outside_the_loader() -> None:
    """The issue's check: `grep -rn "yaml.safe_load\\|REPO_ROOT" sop_pipeline`."""
    hits = [
        f"{path.relative_to(REPO)}:{n}"
        for path in sorted((REPO / "sop_pipeline").rglob("*.py"))
        if path.name != "loader.py"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "yaml.safe_load" in line or "REPO_ROOT" in line
    ]
    assert hits == []


def test_licence_and_changelog() -> None:
    licence = (REPO / "LICENSE").read_text()
    assert "Apache License" in licence and "Version 2.0, January 2004" in licence
    assert "END OF TERMS AND CONDITIONS" in licence
    assert PYPROJECT["project"]["license"] == {"text": "Apache-2.0"}
    changelog = (REPO / "CHANGELOG.md").read_text()
    version = PYPROJECT["project"]["version"]
    assert "## [Unreleased]" in changelog
    assert re.search(rf"^## \[{re.escape(version)}\] - \d{{4}}-\d{{2}}-\d{{2}}$", changelog, re.M)
    assert f"[{version}]: " in changelog


def test_make_demo_sets_up_only_what_the_demo_needs() -> None:
    make = shutil.which("make")
    if make is None:  # CI runs through make, so only a laptop can lack it
        if os.environ.get("CI"):
            pytest.fail("make not found: apt-get install make")
        pytest.skip("make not found: apt-get install make")
    demo = subprocess.run(
        [make, "-n", "demo"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert "ci-tools.sh" not in demo  # gitlab-ci-local, actionlint, zizmor: tests only
    for script in ("base.sh", "reports.sh", "lab.sh", "terraform.sh"):
        assert f".ci/setup/{script}" in demo
    setup = subprocess.run(
        [make, "-n", "setup"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    assert ".ci/setup/ci-tools.sh" in setup
