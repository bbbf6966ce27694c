"""Molecule for every role on a real lab VM: converge, idempotence (changed=0), verify.

Molecule runs inside the lab namespace (``ip netns exec soplab molecule test``) with the
delegated ("default") driver; the shared create/destroy playbooks in ``molecule/`` boot the
VM through the lab's QEMU backend. To stay within CI's time, one VM serves every scenario
(``SOP_MOLECULE_KEEP_VM=1``) and is destroyed once at the end; each role is still converged,
re-run for idempotence and verified on it. ``dns_record`` runs on the controller against a
BIND primary of its own.

Ansible is tuned as in production: the ``ANSIBLE_*`` settings (mitogen strategy, pipelining,
explicit facts, ControlPersist) come from the adapter's ``tuning_settings()``, the function
``run_playbook`` uses, so the two cannot drift apart.

Why the VM roles can share one guest: ``base`` runs first on the fresh guest, as in
production, where ``site.yml`` always runs it first; every other scenario has a site id, a
document root, a PHP-FPM pool, a systemd unit and a loopback port of its own, so none sees
another's files, and each scenario's idempotence run repeats only its own converge. No role
needs a clean guest of its own.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from ansible_labvm import REPO, backend, destroy, require, require_lab

from sop_pipeline.adapters import ansible as adapter

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.vm]

#: Order matters only for speed: later roles find packages the earlier ones installed.
ROLES = [
    "base", "web", "stack_static", "stack_php", "stack_nodejs", "stack_python", "tls",
    "deploy",  # with the database role (both engines): roles/deploy/molecule/default
]  # fmt: skip
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
    tuning, settings = adapter.tuning_settings(REPO / "roles")  # the roles Molecule tests
    print(f"molecule: Ansible tuned as the adapter tunes it: {tuning}")
    env = dict(os.environ) | settings
    env |= {
        "SOP_MOLECULE_DIR": str(folder),
        "SOP_MOLECULE_VMID": str(VMID),
        "SOP_MOLECULE_ADDRESS": ADDRESS,
        "SOP_MOLECULE_KEEP_VM": "1",
        "SOP_MOLECULE_DNS_PORT": str(DNS_PORT),
        "SOP_MOLECULE_DNS_KEY_FILE": str(dns.key_file),
        "PY_COLORS": "0",
    }
    destroy(folder, VMID)
    yield env
    destroy(folder, VMID)
    bind.stop(dns)


#: Molecule's step lines: "INFO     [default > converge] Executing" ... "Executed: Successful".
_STEP_RE = re.compile(r"\[default > (\w+)\] (Executing|Executed)")


def run_molecule(role: str, env: dict[str, str], log: Path) -> tuple[int, str]:
    """Run ``molecule test`` for ``role``; return its exit status and output.

    Each line of the log starts with the seconds since the start, and the printed line gives
    each step's time, so a slow run shows where its time went.
    """
    argv = ["ip", "netns", "exec", "soplab", "molecule", "test", "--scenario-name", "default"]
    # A fresh state folder per run: Molecule keeps "instance created" under ~/.ansible/tmp,
    # and a run killed before its destroy would make the next one skip create.
    state = log.parent / f"molecule-{role}-state"
    shutil.rmtree(state, ignore_errors=True)
    started = time.monotonic()
    proc = subprocess.Popen(
        argv,
        cwd=REPO / "roles" / role,
        env=env | {"MOLECULE_EPHEMERAL_DIRECTORY": str(state)},
        stdin=subprocess.DEVNULL,  # Ansible refuses a non-blocking stdin (a CI runner's may be)
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    watchdog = threading.Timer(3000, proc.kill)
    watchdog.start()
    lines: list[str] = []
    begun: dict[str, float] = {}
    steps: dict[str, float] = {}
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            now = time.monotonic() - started
            lines.append(f"[{now:7.1f}] {line}")
            if found := _STEP_RE.search(line):
                step, what = found.groups()
                if what == "Executing":
                    begun[step] = now
                elif step in begun:
                    steps[step] = now - begun[step]
        returncode = proc.wait()
    finally:
        watchdog.cancel()
    output = "".join(lines)
    log.write_text(output)
    per_step = ", ".join(f"{step} {seconds:.0f}" for step, seconds in steps.items())
    print(
        f"molecule {role}: {time.monotonic() - started:.0f} s ({per_step}), "
        f"{guest_start(role, env)}exit {returncode}, log {log}"
    )
    return returncode, output


def guest_start(role: str, env: dict[str, str]) -> str:
    """How the shared guest started ("guest restore <key>, " or "guest boot <key>, ").

    A boot costs minutes under TCG where a restore costs seconds: a CI log that shows a boot
    says the snapshot key missed the cache (a new image, seed or QEMU), not that Molecule is
    slow. Empty for dns_record, which has no guest.
    """
    if role == "dns_record":
        return ""
    state = Path(env["SOP_MOLECULE_DIR"])
    facts = backend(state).started(int(env["SOP_MOLECULE_VMID"]))
    if not facts:
        return ""
    return f"guest {facts.get('mode', '?')} {facts.get('snapshot_key', '?')}, "


#: SOP_MOLECULE_ROLES="base web" limits a run to some roles (CI runs them all by default).
SELECTED = os.environ.get("SOP_MOLECULE_ROLES", "").split() or [*ROLES, "dns_record"]


@pytest.mark.parametrize("role", [*ROLES, "dns_record"])
def test_role_converges_idempotently_and_verifies(
    role: str, molecule_env: dict[str, str], tmp_path: Path
) -> None:
    if role not in SELECTED:
        pytest.skip(f"not in SOP_MOLECULE_ROLES={os.environ.get('SOP_MOLECULE_ROLES')}")
    returncode, output = run_molecule(role, molecule_env, tmp_path / f"molecule-{role}.log")
    assert returncode == 0, output[-6000:]
    # molecule's idempotence step fails on any changed task; check that each step really ran.
    for step in ("converge", "idempotence", "verify"):
        assert f"{step}] Executed: Successful" in output, output[-3000:]
