"""Fixtures for `sop analyze` against real servers on loopback.

- the lab's Proxmox (fakepve with our compatibility layer, ``lab/pve.py``) on 127.0.0.1;
- BIND 9 on 127.0.0.1 with a free port, with one name already taken by someone else;
- the real ``terraform`` CLI with the offline bpg/proxmox mirror (``.ci/setup/terraform.sh``);
- a scratch Git repository whose ``main`` holds the keyring, ``inventories/`` and ``terraform/``
  and whose merge-request branch holds the example requests;
- a lab folder with a ``lab.json`` pointing at those servers, as ``sop lab up`` writes it
  (with no network namespace: everything here is on loopback).

Nothing is mocked. A missing tool fails the test when CI is set and skips it on a laptop.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from analysis_support import TAKEN_LABEL

from sop_pipeline.adapters.infrastructure import default_cli_config, default_terraform_binary
from sop_pipeline.demo.officials import Lab
from sop_pipeline.lab import bind
from sop_pipeline.lab import pve as lab_pve

ROOT = Path(__file__).resolve().parents[3]
MIRROR_PROVIDER = (
    Path("registry.terraform.io") / "bpg" / "proxmox" / "0.111.1" / "linux_amd64"
    / "terraform-provider-proxmox_v0.111.1"
)  # fmt: skip


def need(ok: bool, what: str, how: str) -> None:
    """Fail in CI, skip on a developer's laptop, when a tool is missing."""
    if ok:
        return
    message = f"{what} is missing: {how}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def tools() -> None:
    binary = default_terraform_binary()
    need(
        shutil.which(binary) is not None or Path(binary).exists(),
        "terraform CLI",
        "run `bash .ci/setup/terraform.sh`",
    )
    mirror = default_cli_config().parent / "mirror" / MIRROR_PROVIDER
    need(
        default_cli_config().exists() and mirror.exists(),
        "offline provider mirror",
        "run `bash .ci/setup/terraform.sh` (builds bpg/proxmox 0.111.1 with Go)",
    )
    need(shutil.which("named") is not None, "named", "apt-get install bind9 bind9-utils")
    need(shutil.which("ssh-keygen") is not None, "ssh-keygen", "apt-get install openssh-client")
    need(shutil.which("pdftotext") is not None, "pdftotext", "apt-get install poppler-utils")


@pytest.fixture(scope="module")
def dns_server(
    tmp_path_factory: pytest.TempPathFactory, tools: None
) -> Iterator[bind.BindInstance]:
    inst = bind.BindInstance(
        directory=tmp_path_factory.mktemp("bind"),
        address="127.0.0.1",
        port=bind.free_port("127.0.0.1"),
        namespace=None,
        extra_records={bind.ZONE: [f"{TAKEN_LABEL} IN A 192.0.2.10"]},
    )
    bind.start(inst)
    yield inst
    bind.stop(inst)


@pytest.fixture
def pve(tmp_path: Path, tools: None) -> Iterator[lab_pve.RunningPve]:
    running = lab_pve.start(
        host="127.0.0.1",
        port=0,
        state_dir=tmp_path / "pve",
        backend=lab_pve.ConfigAgentBackend(),
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def lab_dir(tmp_path: Path, pve: lab_pve.RunningPve, dns_server: bind.BindInstance) -> Path:
    """A lab folder as `sop lab up` leaves it, pointing at the loopback servers."""
    root = tmp_path / "lab"
    (root / "secrets").mkdir(parents=True)
    secret = root / "secrets" / "tsig-sop-pipeline"
    secret.write_text(dns_server.key_secret + "\n")
    secret.chmod(0o600)
    info = {
        "namespace": "",
        "lab_dir": str(root),
        "pve_url": pve.url,
        "pve_token_file": str(tmp_path / "pve" / "pve-token"),
        "pve_cafile": str(pve.cafile),
        "dns_server": dns_server.address,
        "dns_port": dns_server.port,
        "tsig_key_name": bind.KEY_NAME,
        "tsig_secret_file": str(secret),
        "mirror_url": "",
        "image_recipe": "",
        "accelerator": "none",
    }
    (root / "lab.json").write_text(json.dumps(info, indent=2) + "\n")
    return root


def _ignore(_dir: str, names: list[str]) -> set[str]:
    return {n for n in names if n == ".terraform" or ".tfstate" in n or n.endswith(".tfvars.json")}


@pytest.fixture
def repo(lab: Lab) -> Lab:
    """main: keyring, inventories/, terraform/; the MR branch: the example requests."""
    lab.git("checkout", "-q", "main")
    shutil.copytree(ROOT / "inventories", lab.repo / "inventories")
    shutil.copytree(ROOT / "terraform", lab.repo / "terraform", ignore=_ignore)
    lab.commit("kebijakan dan terraform")
    lab.git("checkout", "-q", "mr/request")
    lab.git("merge", "-q", "main")
    shutil.copytree(ROOT / "requests", lab.repo / "requests")
    lab.commit("OPD: permintaan hosting")
    return lab
