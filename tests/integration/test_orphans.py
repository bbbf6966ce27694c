"""A killed run's children: real processes, killed with -9, found and stopped by the next run.

The "Terraform" here is a shell script started through the adapter's own spawn path
(``TerraformRunner.init``): it leaves a grandchild in a session of its own, as Terraform's
provider and mitogen's helpers do, then waits. Nothing of ours is mocked.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop_pipeline.adapters import processes
from sop_pipeline.adapters.leftovers import MARKER_VARIABLE, RunMarker
from sop_pipeline.adapters.terraform import (
    ProxmoxAccess,
    RequestBusyError,
    TerraformRunner,
    TerraformSettings,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RID = "dinkes-simpus"

# Like Terraform starting its provider: a grandchild in a session of its own, then a wait.
# (The adapter passes Terraform a fixed environment, so the pid folder is written in.)
FAKE_TERRAFORM = """#!/bin/sh
setsid sleep 600 </dev/null >/dev/null 2>&1 &
echo $! > {pids}/grandchild.tmp && mv {pids}/grandchild.tmp {pids}/grandchild
echo $$ > {pids}/child.tmp && mv {pids}/child.tmp {pids}/child
exec sleep 600
"""

DRIVER = """
import sys
from pathlib import Path
from sop_pipeline.adapters.terraform import ProxmoxAccess, TerraformRunner, TerraformSettings
work, binary = Path(sys.argv[1]), sys.argv[2]
settings = TerraformSettings(
    source_dir=Path(sys.argv[3]), work_root=work, cli_config=work / "cli.tfrc", binary=binary
)
runner = TerraformRunner(settings, ProxmoxAccess("https://127.0.0.1:1/", "t"), sys.argv[4])
runner.stack_dir.mkdir(parents=True, exist_ok=True)
with runner.exclusive():
    runner.init()
"""


def runner_for(work: Path, binary: str = "terraform") -> TerraformRunner:
    settings = TerraformSettings(
        source_dir=ROOT / "terraform", work_root=work, cli_config=work / "cli.tfrc", binary=binary
    )
    return TerraformRunner(settings, ProxmoxAccess("https://127.0.0.1:1/", "t"), RID)


def alive(pid: int) -> bool:
    return processes.start_ticks(pid) is not None


def wait_until(predicate: object, what: str, bound: float = 60.0) -> None:
    """Poll ``predicate`` up to a generous bound; the bound only stops a hung test."""
    deadline = time.monotonic() + bound
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


@pytest.fixture
def strays() -> Iterator[list[int]]:
    """Pids a test started; killed at the end whatever the test did."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    for pid in pids:  # the test's own children: reap them
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_kill9_of_the_run_leaves_nothing_once_the_next_run_holds_the_lock(
    tmp_path: Path, strays: list[int]
) -> None:
    work, pids = tmp_path / "work", tmp_path / "pids"
    pids.mkdir()
    fake = tmp_path / "terraform"
    fake.write_text(FAKE_TERRAFORM.format(pids=shlex.quote(str(pids))))
    fake.chmod(0o755)
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(work), str(fake), str(ROOT / "terraform"), RID],
        start_new_session=True,  # its own group, as `sop provision` under a CI runner
    )
    strays.append(driver.pid)
    wait_until(lambda: (pids / "grandchild").is_file() and (pids / "child").is_file(), "spawn")
    child = int((pids / "child").read_text())
    grandchild = int((pids / "grandchild").read_text())
    strays += [child, grandchild]
    wait_until(lambda: b"sleep" in Path(f"/proc/{child}/cmdline").read_bytes(), "child exec")

    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()

    # The direct child dies with its parent (PR_SET_PDEATHSIG), though in a session of its own.
    wait_until(lambda: not alive(child), "the direct child got its parent-death signal")
    # The grandchild does not: it carries the dead run's marker.
    environ = Path(f"/proc/{grandchild}/environ").read_bytes().split(b"\0")
    mark = next(e for e in environ if e.startswith(MARKER_VARIABLE.encode() + b"="))
    marker = RunMarker.parse(mark.split(b"=", 1)[1].decode())
    assert marker is not None and marker.request_id == RID and marker.pid == driver.pid
    assert alive(grandchild)

    rerun = runner_for(work)
    with rerun.exclusive():
        assert not alive(grandchild), "the next run went on with the leftover still running"
    assert rerun.stopped == ((grandchild, "sleep"),)
    print(f"orphans: kill -9 of the run; next run stopped {len(rerun.stopped)} leftover(s)")


def test_a_live_run_of_another_job_is_refused_not_killed(tmp_path: Path, strays: list[int]) -> None:
    # "The other run": a live process, and a child carrying its marker.
    other = subprocess.Popen(["sleep", "600"])
    strays.append(other.pid)
    wait_until(lambda: alive(other.pid), "the other run started")
    start = processes.start_ticks(other.pid)
    assert start is not None
    marker = RunMarker(RID, other.pid, start, processes.scope_of(tmp_path / "work"))
    worker = subprocess.Popen(
        ["sleep", "600"], env=dict(os.environ, **{MARKER_VARIABLE: marker.text()})
    )
    strays.append(worker.pid)
    # exec'd, not only forked: until then /proc shows the parent's environment, without marker
    wait_until(lambda: b"sleep" in Path(f"/proc/{worker.pid}/cmdline").read_bytes(), "worker exec")

    rerun = runner_for(tmp_path / "work")
    with pytest.raises(RequestBusyError, match=f"pid {other.pid}"), rerun.exclusive():
        pytest.fail("went on beside a live run")
    assert alive(worker.pid) and alive(other.pid), "a live run's process was touched"


def test_the_same_request_in_another_environment_is_not_ours(
    tmp_path: Path, strays: list[int]
) -> None:
    """Two labs (or a lab and production) on one machine may hold requests of the same id:
    the processes of the other's runs are neither leftovers nor a live run of this one."""
    other_env = subprocess.Popen(["sleep", "600"])  # a live run there
    strays.append(other_env.pid)
    wait_until(lambda: alive(other_env.pid), "the other environment's run started")
    start = processes.start_ticks(other_env.pid)
    assert start is not None
    theirs = RunMarker(RID, other_env.pid, start, processes.scope_of(tmp_path / "elsewhere"))
    dead = RunMarker(RID, 999_999_999, 1, processes.scope_of(tmp_path / "elsewhere"))
    for mark in (theirs, dead):
        worker = subprocess.Popen(
            ["sleep", "600"], env=dict(os.environ, **{MARKER_VARIABLE: mark.text()})
        )
        strays.append(worker.pid)
        wait_until(  # exec'd: its /proc environment holds the marker
            lambda w=worker: b"sleep" in Path(f"/proc/{w.pid}/cmdline").read_bytes(),
            "a worker of the other environment started",
        )
    here = runner_for(tmp_path / "work")
    with here.exclusive():  # neither refused as busy nor sweeping the other's processes
        pass
    assert here.stopped == ()
    assert all(alive(pid) for pid in strays), "another environment's process was touched"


def test_the_busy_message_names_the_holder(tmp_path: Path) -> None:
    holder = runner_for(tmp_path / "work")
    with holder.exclusive():
        second = runner_for(tmp_path / "work")
        with pytest.raises(RequestBusyError) as caught, second.exclusive():
            pytest.fail("two holders of one request's lock")
    message = str(caught.value)
    assert f"pid {os.getpid()}" in message
    assert f"host {socket.gethostname()}" in message
    assert caught.value.exit_code == 75
    print(textwrap.shorten(message, 200))


ANSIBLE_DRIVER = """
import sys
from pathlib import Path
from sop_pipeline.adapters import ansible
root = Path(sys.argv[1])
target = ansible.SshTarget("127.0.0.1", "sop", root / "id", root / "known_hosts")
ansible.run_playbook(
    "wait.yml",
    target=target,
    extravars={"sop_request_id": sys.argv[2]},
    tree=ansible.AnsibleTree.under(root),
    tuning=ansible.Tuning.DEFAULTS,
    run_scope=sys.argv[3],
)
"""

# Runs on the controller (no guest needed): a task that waits, as "Wait until the server
# answers over SSH" does.
WAIT_PLAYBOOK = """- name: Wait
  hosts: all
  connection: local
  gather_facts: false
  tasks:
    - name: Wait a long time
      ansible.builtin.command: sleep 600
      changed_when: false
"""


def test_kill9_during_ansible_leaves_nothing_once_the_next_run_holds_the_lock(
    tmp_path: Path, strays: list[int]
) -> None:
    root = tmp_path / "tree"
    for sub in ("playbooks", "roles", "inventories/lab/group_vars"):
        (root / sub).mkdir(parents=True)
    (root / "playbooks" / "wait.yml").write_text(WAIT_PLAYBOOK)
    (root / "id").write_text("unused\n")
    (root / "known_hosts").write_text("127.0.0.1 ssh-ed25519 AAAAunused\n")
    scope = processes.scope_of(tmp_path / "work")  # the re-run's working copies
    driver = subprocess.Popen(
        [sys.executable, "-c", ANSIBLE_DRIVER, str(root), RID, scope], start_new_session=True
    )
    strays.append(driver.pid)

    def marked() -> list[tuple[int, str]]:
        return [
            (p.pid, p.name)
            for p in processes.process_table()
            if p.marker is not None and p.marker.pid == driver.pid
        ]

    # ansible-playbook, its worker and the task's sleep, all carrying the run's marker
    wait_until(lambda: any(name == "sleep" for _, name in marked()), "the task started", 300)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    left = marked()
    strays.extend(pid for pid, _ in left)
    assert left, "nothing outlived the run: this test would show nothing"

    rerun = runner_for(tmp_path / "work")
    with rerun.exclusive():
        assert marked() == [], "the next run went on with the killed run's Ansible running"
    assert sorted(rerun.stopped) == sorted(left)
    names = ", ".join(sorted({n for _, n in left}))
    print(f"orphans/ansible: kill -9 of the run; next run stopped {len(left)} ({names})")
