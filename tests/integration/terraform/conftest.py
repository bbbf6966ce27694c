"""Fixtures: real terraform CLI, offline provider mirror, lab PVE on 127.0.0.1, PostgreSQL.

Nothing is mocked. A missing tool fails the test when CI is set (with how to get it) and skips
it on a developer's machine.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from tf_support import CACHE, CLI_CONFIG, MIRROR_BIN, ROOT, CreateVm, RunnerFactory, facts_for

from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.infrastructure import Infrastructure
from sop_pipeline.adapters.node_slots import NodeLimiter
from sop_pipeline.adapters.proxmox import ProxmoxAdapter, ProxmoxSettings
from sop_pipeline.adapters.terraform import ProxmoxAccess, TerraformRunner, TerraformSettings
from sop_pipeline.config import load_pools
from sop_pipeline.lab import pve as lab_pve
from sop_pipeline.ports import AllocatorPort
from sop_pipeline.steps.provisioning import Placement, create_vm


def need(ok: bool, what: str, how: str) -> None:
    """Fail in CI, skip on a laptop, when a tool is missing."""
    if ok:
        return
    message = f"{what} is missing: {how}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def terraform_binary() -> str:
    found = shutil.which("terraform") or str(CACHE / "terraform" / "bin" / "tofu")
    return found


@pytest.fixture(scope="session")
def tf_bin() -> str:
    binary = terraform_binary()
    need(
        Path(binary).exists() or shutil.which(binary) is not None,
        "terraform CLI",
        "run `bash .ci/setup/terraform.sh`",
    )
    need(
        CLI_CONFIG.exists() and MIRROR_BIN.exists(),
        "offline provider mirror",
        "run `bash .ci/setup/terraform.sh` (builds bpg/proxmox 0.111.1 with Go)",
    )
    return binary


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[lab_pve.RunningPve]:
    backend = lab_pve.ConfigAgentBackend()
    running = lab_pve.start(host="127.0.0.1", port=0, state_dir=tmp_path / "pve", backend=backend)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def allocator(tmp_path: Path) -> Allocator:
    return Allocator(
        load_pools(ROOT / "inventories" / "pools.yaml"), f"sqlite:///{tmp_path / 'alloc.sqlite'}"
    )


@pytest.fixture
def proxmox(lab: lab_pve.RunningPve) -> ProxmoxAdapter:
    return ProxmoxAdapter(
        ProxmoxSettings(endpoint=lab.url, api_token=lab.token, ca_file=lab.cafile)
    )


@pytest.fixture
def make_runner(tf_bin: str, tmp_path: Path, lab: lab_pve.RunningPve) -> RunnerFactory:
    def make(
        request_id: str, *, pg: str | None = None, work_root: Path | None = None
    ) -> TerraformRunner:
        settings = TerraformSettings(
            source_dir=ROOT / "terraform",
            work_root=work_root or tmp_path / "work",
            cli_config=CLI_CONFIG,
            binary=tf_bin,
            pg_conn_str=pg,
            plugin_timeout_seconds=600,
        )
        access = ProxmoxAccess(endpoint=lab.url + "/", api_token=lab.token, ca_file=lab.cafile)
        return TerraformRunner(settings, access, request_id)

    return make


@pytest.fixture
def infra(lab: lab_pve.RunningPve, tmp_path: Path, admin_key: str, tf_bin: str) -> Infrastructure:
    """The lab PVE as step 8 sees it (the allocator and working copies under tmp_path)."""
    return Infrastructure(
        environment="lab",
        pve_url=lab.url,
        pve_token=lab.token,
        pve_ca_file=lab.cafile,
        allocator_dsn=f"sqlite:///{tmp_path / 'alloc.sqlite'}",
        dns_server="127.0.0.1",
        terraform_binary=tf_bin,
        terraform_cli_config=CLI_CONFIG,
        terraform_work_root=tmp_path / "work",
        ssh_public_keys=(admin_key,),
    )


@pytest.fixture
def create(infra: Infrastructure, allocator: Allocator, proxmox: ProxmoxAdapter) -> CreateVm:
    """Step 8's Terraform part as ``sop provision`` runs it (:func:`create_vm`), on the lab."""

    def run(
        request_id: str,
        runner: TerraformRunner,
        *,
        allocator_port: AllocatorPort | None = None,
        limiter: NodeLimiter | None = None,
        pauses: Sequence[float] | None = None,
        log: Callable[[str], None] = print,
    ) -> Placement:
        return create_vm(
            facts_for(request_id),
            infra=infra,
            proxmox=proxmox,
            allocator=allocator_port or allocator,
            runner=runner,
            limiter=limiter or infra.node_limiter(),
            log=log,
            pauses=pauses,
        )

    return run


@pytest.fixture(scope="session")
def admin_key(tmp_path_factory: pytest.TempPathFactory) -> str:
    need(shutil.which("ssh-keygen") is not None, "ssh-keygen", "apt-get install openssh-client")
    key = tmp_path_factory.mktemp("keys") / "admin"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "admin@sop", "-f", str(key)],
        check=True,
    )
    return key.with_suffix(".pub").read_text().strip()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway PostgreSQL cluster on 127.0.0.1 (trust auth, gone at the end); yields its DSN."""
    bindir = next(
        (p for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None
    )
    need(
        bindir is not None and (bindir / "initdb").exists(),
        "PostgreSQL server",
        "apt-get install postgresql (or run `bash .ci/setup/terraform.sh`)",
    )
    assert bindir is not None
    # Outside pytest's 0700 root-owned temp tree, so the postgres user can reach it.
    base = Path(tempfile.mkdtemp(prefix="sop-pg-"))
    data = base / "data"
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
    port = _free_port()
    subprocess.run(
        [*run_as, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [
            *run_as,
            str(bindir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(base / "log"),
            "-w",
            "-o",
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base}"
            " -c max_connections=200",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    dsn = f"postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable"
    try:
        deadline = time.monotonic() + 30
        import psycopg

        while True:
            try:
                psycopg.connect(dsn).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield dsn
    finally:
        subprocess.run(
            [*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
        )
        shutil.rmtree(base, ignore_errors=True)
