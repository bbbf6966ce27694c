"""Kill matrix, Terraform phase: kill -9 of the whole run's process group, then one re-run.

This kills the *run*: step 8's Terraform part runs in a process of its own (node_bound_driver.py,
as ``sop provision`` does under a CI runner), in its own process group, and the whole group
gets SIGKILL right after the lab PVE received the call of each point. Terraform and its
provider live in sessions of their own; the re-run must find what is left of them, stop it,
and converge in one go. Prints: point, re-runs needed, leftovers found, seconds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tf_support import CreateVm, RunnerFactory, driver_env, guests

from sop_pipeline.adapters import processes
from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.terraform import RequestBusyError
from sop_pipeline.lab.pve import RunningPve

pytestmark = pytest.mark.integration

DRIVER = Path(__file__).resolve().parent / "node_bound_driver.py"
RID = "dinkes-simpus"

# (name, method, path fragment, body fragment): kill the run's whole process group (as a
# dying CI runner does) right after the lab PVE has received this call; with method "LOG",
# right after the run logged a line holding the fragment.
KILL_POINTS = [
    ("after-allocate", "LOG", "VMID 1000, IP ", b""),  # held; Proxmox not yet asked to clone
    ("after-clone", "POST", "/qemu/9000/clone", b""),
    ("after-config", "PUT", "/qemu/1000/config", b"ciuser"),
    ("after-resize", "PUT", "/qemu/1000/resize", b""),
    ("after-start", "POST", "/qemu/1000/status/start", b""),
]


def marked_by(pid: int) -> list[tuple[int, str]]:
    """Processes whose run marker names the run with this pid."""
    return [
        (p.pid, p.name)
        for p in processes.process_table()
        if p.marker is not None and p.marker.pid == pid
    ]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "method", "path", "body"), KILL_POINTS, ids=[k[0] for k in KILL_POINTS]
)
def test_kill9_of_the_run_then_one_rerun_converges(
    point: str,
    method: str,
    path: str,
    body: bytes,
    tf_bin: str,
    lab: RunningPve,
    admin_key: str,
    tmp_path: Path,
    make_runner: RunnerFactory,
    create: CreateVm,
    allocator: Allocator,
) -> None:
    started = time.monotonic()
    env = driver_env(lab, tf_bin, admin_key, tmp_path)

    def slow_down() -> None:
        lab.pve.time_scale = 1.0
        lab.pve.slow_network(0.05)

    lab.sync(slow_down)
    run = subprocess.Popen(
        [sys.executable, str(DRIVER), RID, str(tmp_path / "events.jsonl")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    killed = False
    seen = 0
    events = tmp_path / "events.jsonl"
    deadline = time.monotonic() + 300
    try:
        while run.poll() is None and time.monotonic() < deadline and not killed:
            if method == "LOG":
                said = events.read_text() if events.exists() else ""
                reached = path in said
            else:
                requests = list(lab.pve.requests)
                reached = any(
                    m == method and path in p and body in b for m, p, b in requests[seen:]
                )
                seen = len(requests)
            if reached:
                os.killpg(run.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.005)
    finally:
        if run.poll() is None and not killed:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert killed, f"the kill point {point} was never reached"
    at_kill = marked_by(run.pid)  # alive right after the kill (providers, Terraform)
    time.sleep(1.5)  # let tasks the killed run started finish, as they would on PVE

    rerun = make_runner(RID)
    placed = create(RID, rerun)
    assert guests(lab) == [1000], f"{point}: expected exactly one VM"
    assert placed.allocation.vmid == 1000
    held = [row for row in allocator.all() if row[3] == RID]
    assert sorted(row[0] for row in held) == ["ip", "vmid"], held
    final = make_runner(RID)
    final.init()
    assert final.plan().empty, f"{point}: the plan after the re-run is not empty"
    vm = lab.pve.vm(1000)
    assert vm.status == "running" and f"sop-req-{RID}" in vm.config["tags"]
    left = marked_by(run.pid)
    assert left == [], f"{point}: the killed run's processes are still running: {left}"
    seconds = time.monotonic() - started
    print(
        f"kill-matrix/{point}: re-runs 1, alive after the kill {len(at_kill)} "
        f"({', '.join(n for _, n in at_kill) or '-'}), stopped by the sweep "
        f"{len(rerun.stopped)}, {seconds:.1f} s"
    )


@pytest.mark.slow
def test_state_lock_of_a_live_holder_is_kept_and_of_a_dead_one_is_no_obstacle(
    make_runner: RunnerFactory, create: CreateVm, lab: RunningPve
) -> None:
    create(RID, make_runner(RID))
    runner = make_runner(RID)
    # A Terraform started by hand in the working copy: it holds the state lock, no marker.
    env = {k: v for k, v in runner.environment().items() if k != "SOP_RUN"}
    holder = subprocess.Popen(
        [runner.settings.binary, "console"],
        cwd=runner.stack_dir,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        lock_info = runner.stack_dir / ".terraform.tfstate.lock.info"
        deadline = time.monotonic() + 120
        while not lock_info.is_file() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lock_info.is_file(), "terraform console never took the state lock"
        with pytest.raises(RequestBusyError, match="masih hidup") as caught, runner.exclusive():
            runner.plan()
        assert holder.poll() is None, "the live holder was touched"
        print(f"state-lock/live: {str(caught.value).splitlines()[0]}")
    finally:
        holder.kill()  # kill -9: the holder dies without unlocking
        holder.wait()
    again = make_runner(RID)
    with again.exclusive():
        again.init()
        assert again.plan().empty  # a dead holder's lock is no obstacle: no "dikunci"
    print("state-lock/dead: the re-run planned (empty) without a lock refusal")
