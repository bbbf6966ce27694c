"""TrustedConfig: everything trusted comes from the base commit, in one tree, read once."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from sop_pipeline.adapters.infrastructure import Infrastructure
from sop_pipeline.config import TRUSTED_FOLDERS, TrustedConfig
from sop_pipeline.demo.officials import keyring_texts
from sop_pipeline.errors import ConfigError
from sop_pipeline.signing.approvals import VerifyMode
from sop_pipeline.steps.pipeline import Pipeline
from sop_pipeline.steps.provisioning import provisioner_for
from sop_pipeline.workspace import Workspace
from tests.conftest import REPO, Official, commit_all


@pytest.fixture
def repo(tmp_path: Path, officials: dict[str, Official]) -> Path:
    """A requests repository whose main holds every trusted folder, as a department's does."""
    root = tmp_path / "repo"
    for name in ("inventories", "terraform", "playbooks", "roles", "requests"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns(".terraform"))
    (root / "approvers").mkdir()
    for name, text in keyring_texts(officials).items():
        (root / "approvers" / name).write_text(text, encoding="utf-8")
    commit_all(root, "base")
    return root


def test_every_trusted_folder_is_the_base_commits_not_the_work_trees(repo: Path) -> None:
    site = repo / "playbooks" / "site.yml"
    site.write_text(site.read_text() + "\n# changed by the merge request\n")
    quotas = repo / "inventories" / "quotas.yaml"
    quotas.write_text(quotas.read_text().replace("DINKES: {max_vms: 6", "DINKES: {max_vms: 99"))
    (repo / "roles" / "evil").mkdir()
    with TrustedConfig.from_commit(repo, "main") as trusted:
        assert trusted.source.startswith("main@")
        assert sorted(p.name for p in trusted.root.iterdir()) == sorted(TRUSTED_FOLDERS)
        assert (trusted.playbooks_dir / "site.yml").read_bytes() == (
            REPO / "playbooks" / "site.yml"
        ).read_bytes()
        assert not (trusted.roles_dir / "evil").exists()
        assert (trusted.terraform_dir / "stacks" / "request" / "main.tf").is_file()
        assert (trusted.inventories / "lab" / "group_vars").is_dir()
        assert trusted.policy.quota_for("DINKES").max_vms == 6
        assert trusted.keyring.source.startswith(f"{trusted.source}:approvers/")
        tree = trusted.root
    assert not tree.exists()  # one temporary tree, gone with the block


def test_each_file_is_parsed_once_and_shared_with_the_provisioner(repo: Path) -> None:
    infra = Infrastructure(
        environment="lab",
        pve_url="https://127.0.0.1:8006",
        pve_token="sop@pve!t=not-a-secret",  # noqa: S106 (a test value, never used)
        allocator_dsn="sqlite:///unused",
        dns_server="127.0.0.1",
    )
    with TrustedConfig.from_commit(repo, "main") as trusted:
        pipeline = Pipeline(Workspace(repo), trusted=trusted, now=datetime.now)
        provisioner = provisioner_for(infra, trusted, datetime.now)
        # Step 8 checks the gates and provisions with the very same policy object.
        assert provisioner.policy is pipeline.policy is trusted.policy
        assert pipeline.keyring is trusted.keyring
        assert pipeline.verify_mode is VerifyMode.BOTH  # step 8's gate checks as `sop gate`
        assert trusted.pools["lab"].vmid_first == 1000


def test_a_base_without_a_folder_says_which_and_where(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(REPO / "inventories", root / "inventories")
    commit_all(root, "only the policy")
    with TrustedConfig.from_commit(root, "main") as trusted:
        assert trusted.policy.zone  # validating needs no more than inventories/
        with pytest.raises(
            ConfigError, match=r"main@[0-9a-f]{12}: folder playbooks/ .*\[trusted-tree\]"
        ):
            _ = trusted.playbooks_dir
        with pytest.raises(ConfigError, match=r"approvers/"):
            _ = trusted.keyring


def test_an_unknown_base_is_a_git_error(repo: Path) -> None:
    from sop_pipeline.adapters.git import GitError

    with pytest.raises(GitError), TrustedConfig.from_commit(repo, "no-such-branch"):
        pass
