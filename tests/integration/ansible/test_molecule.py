"""Molecule for every role on a real lab VM: converge, idempotence (changed=0), verify.

Molecule runs inside the lab namespace (``ip netns exec soplab molecule test``) with the
delegated ("default") driver; the shared create/destroy playbooks in ``molecule/`` boot the
VM through the lab's QEMU backend. To stay within CI's time, one VM serves every scenario
(``SOP_MOLECULE_KEEP_VM=1``) and is destroyed once at the end; each role is still converged,
re-run for idempotence and verified on it. ``dns_record`` runs on the controller against a
BIND primary of its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_labvm import REPO, destroy, require, require_lab

from sop_pipeline.adapters import ansible as adapter

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.vm]

#: Order matters only for speed: later roles find packages the earlier ones installed.
ROLES = ["base", "web", "stack_static", "stack_php", "stack_nodejs", "stack_python", "tls"]
VMID = 8990
ADDRESS = "10.99.0.190"
DNS_PORT = 5355


@pytest.fixture(scope="module")
def molecule_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment for the scenarios; destroys the shared VM and the BIND at the end."""
    require_lab()
    require(
        shutil.which("molecule") is not None,
        "molecule",
        "run .ci/setup/ansible.sh (pip install molecule)",
    )
    from sop_pipeline.lab import bind, netns

    folder = tmp_path_factory.mktemp("molecule")
    netns.create()
    dns = bind.BindInstance(directory=folder / "bind", port=DNS_PORT)
    bind.start(dns)
    tuning = adapter.resolve_tuning(adapter.Tuning.AUTO)
    env = dict(os.environ)
    env |= {
        "SOP_MOLECULE_DIR": str(folder),
        "SOP_MOLECULE_VMID": str(VMID),
        "SOP_MOLECULE_ADDRESS": ADDRESS,
        "SOP_MOLECULE_KEEP_VM": "1",
        "SOP_MOLECULE_DNS_PORT": str(DNS_PORT),
        "SOP_MOLECULE_DNS_KEY_FILE": str(dns.key_file),
        "SOP_MITOGEN_STRATEGY_DIR": str(adapter.mitogen_strategy_dir() or folder),
        "SOP_ANSIBLE_STRATEGY": "mitogen_linear" if tuning is adapter.Tuning.MITOGEN else "linear",
        "PY_COLORS": "0",
        "ANSIBLE_FORCE_COLOR": "0",
    }
    destroy(folder, VMID)
    yield env
    destroy(folder, VMID)
    bind.stop(dns)


def run_molecule(role: str, env: dict[str, str], log: Path) -> subprocess.CompletedProcess[str]:
    argv = ["ip", "netns", "exec", "soplab", "molecule", "test", "--scenario-name", "default"]
    started = time.monotonic()
    proc = subprocess.run(
        argv,
        cwd=REPO / "roles" / role,
        env=env,
        stdin=subprocess.DEVNULL,  # Ansible refuses a non-blocking stdin (a CI runner's may be)
        capture_output=True,
        text=True,
        timeout=3000,
    )
    log.write_text(proc.stdout + proc.stderr)
    print(f"molecule {role}: {time.monotonic() - started:.0f} s, exit {proc.returncode}, log {log}")
    return proc


#: SOP_MOLECULE_ROLES="base web" limits a run to some roles (CI runs them all by default).
SELECTED = os.environ.get("SOP_MOLECULE_ROLES", "").split() or [*ROLES, "dns_record"]


@pytest.mark.parametrize("role", [*ROLES, "dns_record"])
def test_role_converges_idempotently_and_verifies(
    role: str, molecule_env: dict[str, str], tmp_path: Path
) -> None:
    if role not in SELECTED:
        pytest.skip(f"not in SOP_MOLECULE_ROLES={os.environ.get('SOP_MOLECULE_ROLES')}")
    proc = run_molecule(role, molecule_env, tmp_path / f"molecule-{role}.log")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    # molecule's idempotence step fails on any changed task; check that each step really ran.
    for step in ("converge", "idempotence", "verify"):
        assert f"{step}] Executed: Successful" in output, output[-3000:]
