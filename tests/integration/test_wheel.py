"""The wheel, installed as a department installs it: not editable, pinned by sha256.

``python -m build`` makes the wheel; ``pip install --require-hashes`` puts it, with the core
dependencies only, into a fresh virtual environment that sees no other package (and not this
checkout: PYTHONPATH is dropped). That ``sop`` validates, signs and verifies; it says which
extra ``sop analyze`` needs; and its trusted tree (playbooks, roles, Terraform, inventories,
keyring) comes from the requests repository's base commit, not from the package.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from sop_pipeline.demo.officials import Official, keyring_texts
from tests.conftest import REPO, commit_all
from tests.support.nofcntl import blocker
from tests.support.wheel import build_wheel, clean_env, fresh_venv, hashed_requirements

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TASK = "    - name: Wait until the server answers over SSH"


@dataclass(frozen=True)
class Installed:
    bin: Path
    wheel: Path

    def run(self, *argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, cwd=cwd, env=clean_env(PATH=f"{self.bin}:/usr/bin:/bin", **env),
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip

    def sop(self, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
        return self.run(str(self.bin / "sop"), *args, cwd=cwd, **env)

    def python(self, code: str, cwd: Path) -> str:
        done = self.run(str(self.bin / "python"), "-c", code, cwd=cwd)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(root / "build")
    requirements, files = hashed_requirements(wheel, "", root / "lock")
    return Installed(fresh_venv(root / "venv", requirements, files), wheel)


@pytest.fixture
def repo(tmp_path: Path, officials: dict[str, Official]) -> Path:
    """A department's requests repository: main holds every trusted folder; the work tree
    is a merge request that changes a task of playbooks/site.yml."""
    root = tmp_path / "permintaan-hosting"
    for name in ("inventories", "terraform", "playbooks", "roles", "requests"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns(".terraform"))
    (root / "approvers").mkdir()
    for name, text in keyring_texts(officials).items():
        (root / "approvers" / name).write_text(text, encoding="utf-8")
    commit_all(root, "base")
    site = root / "playbooks" / "site.yml"
    assert TASK in site.read_text()
    site.write_text(site.read_text().replace(TASK, "    - name: MR task that must not run"))
    return root


def test_the_wheel_is_installed_not_editable_and_carries_no_trusted_files(
    installed: Installed, tmp_path: Path
) -> None:
    found = json.loads(
        installed.python(
            "import json, sys, sop_pipeline, pathlib, importlib.metadata as m\n"
            "dist = m.distribution('sop-pipeline')\n"
            "print(json.dumps({'file': sop_pipeline.__file__, 'prefix': sys.prefix,\n"
            "  'direct_url': dist.read_text('direct_url.json'),\n"
            "  'files': [str(f) for f in dist.files]}))",
            cwd=tmp_path,
        )
    )
    assert found["file"].startswith(found["prefix"])  # from the venv, not this checkout
    assert json.loads(found["direct_url"]).get("dir_info", {}).get("editable") is not True
    inside = [f for f in found["files"] if not f.startswith("../")]
    outside = [f.rsplit("/", 2)[-2:] for f in found["files"] if f.startswith("../")]
    assert outside == [["bin", "sop"]]  # the console script, nothing else outside the package
    version = installed.wheel.name.split("-")[1]
    assert {f.split("/")[0] for f in inside} == {
        "sop_pipeline",
        f"sop_pipeline-{version}.dist-info",
    }
    for trusted in ("playbooks/", "roles/", "terraform/", "inventories/", "approvers/"):
        assert not [f for f in found["files"] if trusted in f], trusted
    # The core install has none of the [provision] libraries.
    done = installed.run(str(installed.bin / "python"), "-c", "import proxmoxer", cwd=tmp_path)
    assert done.returncode != 0 and "No module named 'proxmoxer'" in done.stderr


def test_the_core_install_validates_signs_and_verifies(
    installed: Installed, repo: Path, officials: dict[str, Official]
) -> None:
    assert installed.sop("--version", cwd=repo).stdout.strip() == "sop, version 0.1.0"
    done = installed.sop("validate", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 berkas diperiksa, 3 sah, 0 ditolak." in done.stdout
    bad = repo / "requests" / "dinkes-simpus.yaml"
    bad.write_text(bad.read_text().replace("vcpu: 2", "vcpu: 010"))
    done = installed.sop("validate", str(bad), cwd=repo)
    assert done.returncode == 2 and "resources.vcpu" in done.stdout, done.stdout + done.stderr
    bad.write_text(bad.read_text().replace("vcpu: 010", "vcpu: 2"))

    kadis = officials["kadis"]
    done = installed.sop(
        "sign", "dinkes-simpus", "--step", "2", "--decision", "approve",
        "--signer", kadis.principal, "--key", str(kadis.key), cwd=repo,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    done = installed.sop("verify", "dinkes-simpus", cwd=repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SAH (valid)") == 1 and kadis.principal in done.stdout

    done = installed.sop("analyze", "dinkes-simpus", cwd=repo)  # step 6 needs [provision]
    assert done.returncode == 3, done.stdout + done.stderr
    assert "pip install 'sop-pipeline[provision]' [extra-missing]" in done.stderr


def test_the_core_install_runs_without_fcntl(
    installed: Installed, repo: Path, officials: dict[str, Official], tmp_path: Path
) -> None:
    """Windows' Python has no fcntl: the installed core validates and verifies without it."""
    hook = str(blocker(tmp_path / "hook"))
    done = installed.run(str(installed.bin / "python"), "-c", "import fcntl", cwd=repo,
                         PYTHONPATH=hook)  # fmt: skip
    assert done.returncode == 1 and "(blocked)" in done.stderr
    done = installed.sop("validate", cwd=repo, PYTHONPATH=hook)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 berkas diperiksa, 3 sah, 0 ditolak." in done.stdout
    kadis = officials["kadis"]
    done = installed.sop(
        "sign", "dinkes-simpus", "--step", "2", "--decision", "approve",
        "--signer", kadis.principal, "--key", str(kadis.key), cwd=repo, PYTHONPATH=hook,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    done = installed.sop("verify", "dinkes-simpus", cwd=repo, PYTHONPATH=hook)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SAH (valid)") == 1


def test_the_installed_sop_takes_playbooks_and_roles_from_the_base_commit(
    installed: Installed, repo: Path
) -> None:
    """What `sop provision` hands Ansible and Terraform (TrustedConfig's tree), from the
    installed package: the base commit's files, not the MR's changed task, not the package."""
    out = installed.python(
        "import hashlib, json, pathlib\n"
        "from sop_pipeline.config import TrustedConfig\n"
        "with TrustedConfig.from_commit(pathlib.Path('.'), 'main') as t:\n"
        "    site = (t.playbooks_dir / 'site.yml').read_bytes()\n"
        "    print(json.dumps({'site': hashlib.sha256(site).hexdigest(),\n"
        "        'roles': sorted(p.name for p in t.roles_dir.iterdir()),\n"
        "        'stack': (t.terraform_dir / 'stacks/request/main.tf').is_file(),\n"
        "        'group_vars': (t.inventories / 'lab/group_vars').is_dir(),\n"
        "        'keyring': t.keyring.source, 'tree': str(t.root)}))",
        cwd=repo,
    )
    got = json.loads(out)
    base = subprocess.run(
        ["git", "-C", str(repo), "show", "main:playbooks/site.yml"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    assert got["site"] == hashlib.sha256(base).hexdigest()
    assert got["site"] != hashlib.sha256((repo / "playbooks" / "site.yml").read_bytes()).hexdigest()
    assert got["roles"] == sorted(p.name for p in (REPO / "roles").iterdir())
    assert got["stack"] and got["group_vars"]
    assert got["keyring"].startswith("main@")
    assert not Path(got["tree"]).exists()  # the temporary tree is gone afterwards
