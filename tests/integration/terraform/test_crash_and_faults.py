"""fakepve's fault injection and a cancelled run: each ends converged or with nothing left.

kill -9 at each point of the Terraform phase is test_kill_matrix.py's."""

from __future__ import annotations

import threading
import time

import pytest
from tf_support import CreateVm, RunnerFactory, guests

from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.node_slots import NodeLimiter
from sop_pipeline.adapters.proxmox import AgentTimeoutError, ProxmoxAdapter, ProxmoxError
from sop_pipeline.adapters.terraform import CancelledError, TerraformError, TerraformRunner
from sop_pipeline.lab.pve import GiB, RunningPve

pytestmark = pytest.mark.integration


def provision_in_background(
    lab: RunningPve, runner: TerraformRunner, create: CreateVm
) -> tuple[threading.Thread, list[BaseException]]:
    """Provision dinkes-simpus in a thread, with PVE tasks running in real time and a slow
    network, so a test can act while Terraform is in the middle of it."""

    def slow_down() -> None:
        lab.pve.time_scale = 1.0  # tasks run in the background and are polled, as on PVE
        lab.pve.slow_network(0.05)

    lab.sync(slow_down)
    failure: list[BaseException] = []

    def first_run() -> None:
        try:
            create("dinkes-simpus", runner)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=first_run)
    thread.start()
    return thread, failure


def test_failed_clone_task_leaves_nothing(
    make_runner: RunnerFactory, create: CreateVm, lab: RunningPve, allocator: Allocator
) -> None:
    def fill_storage() -> None:
        lab.pve.storages["local-lvm"]["avail"] = 1 * GiB  # the 4 GiB template disk cannot be copied

    lab.sync(fill_storage)
    with pytest.raises(TerraformError) as caught:
        create("dinkes-simpus", make_runner("dinkes-simpus"))
    assert "dinkes-simpus" in caught.value.message
    assert "No space left on device" in caught.value.detail
    assert guests(lab) == []
    assert allocator.all() == []  # released: the VMID was confirmed absent
    print(f"fault/clone task: {caught.value.message!r}; VMs left 0, allocations left 0")


@pytest.mark.slow  # waits out real lock timeouts and back-off (about a minute)
def test_config_lock_timeout_is_retried_with_backoff(
    make_runner: RunnerFactory, create: CreateVm, lab: RunningPve, allocator: Allocator
) -> None:
    lab.sync(
        lambda: lab.pve.fail(
            "POST", "/nodes/pve1/qemu/9000/clone", error="config_lock_timeout", times=4
        )
    )
    lines: list[str] = []
    placed = create(
        "dinkes-simpus",
        make_runner("dinkes-simpus"),
        pauses=[0.5, 1.0, 2.0],
        limiter=NodeLimiter(allocator.dsn, per_node=1),
        log=lines.append,
    )
    assert placed.allocation.vmid == 1000 and guests(lab) == [1000]
    # Some refusals the provider retries itself; the rest the flow retried, in pause order.
    retried = [ln.split(";")[-1].strip() for ln in lines if "Proxmox sibuk" in ln]
    assert (
        retried
        and retried
        == ["ulang 0.5 dtk lagi", "ulang 1 dtk lagi", "ulang 2 dtk lagi"][: len(retried)]
    )
    clones = [r for r in lab.pve.requests if r[0] == "POST" and r[1].endswith("/qemu/9000/clone")]
    assert len(clones) == 5  # four refused with "can't lock file", the fifth went through
    print(f"fault/lock timeout: {len(clones) - 1} lock timeouts, {len(retried)} retried, 1 VM")


@pytest.mark.slow  # waits out real lock timeouts and back-off (about a minute)
def test_lock_timeout_beyond_the_bound_fails_cleanly(
    make_runner: RunnerFactory, create: CreateVm, lab: RunningPve, allocator: Allocator
) -> None:
    lab.sync(
        lambda: lab.pve.fail("POST", "/nodes/pve1/qemu/9000/clone", error="config_lock_timeout")
    )
    with pytest.raises(TerraformError) as caught:
        create("dinkes-simpus", make_runner("dinkes-simpus"), pauses=[0.2])
    assert "Proxmox sedang sibuk" in caught.value.message
    assert guests(lab) == [] and allocator.all() == []


def test_api_unreachable_at_plan_time_allocates_nothing(
    make_runner: RunnerFactory, create: CreateVm, lab: RunningPve, allocator: Allocator
) -> None:
    lab.stop()
    with pytest.raises(ProxmoxError, match="tidak dapat dihubungi"):
        create("dinkes-simpus", make_runner("dinkes-simpus"))
    assert allocator.all() == []
    print("fault/API unreachable: ProxmoxError before allocation; allocations left 0")


def test_terraform_error_when_api_goes_away_is_translated(
    make_runner: RunnerFactory, create: CreateVm, lab: RunningPve
) -> None:
    create("dinkes-simpus", make_runner("dinkes-simpus"))
    lab.stop()
    runner = make_runner("dinkes-simpus")
    with pytest.raises(TerraformError, match="tidak dapat dihubungi"):
        runner.plan()


def test_cancel_forwards_sigint_and_terraform_stops_cleanly(
    make_runner: RunnerFactory, create: CreateVm, lab: RunningPve, allocator: Allocator
) -> None:
    runner = make_runner("dinkes-simpus")
    thread, failure = provision_in_background(lab, runner, create)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
        r[0] == "POST" and r[1].endswith("/qemu/9000/clone") for r in list(lab.pve.requests)
    ):
        time.sleep(0.01)
    runner.cancel()
    thread.join(120)
    assert failure and isinstance(failure[0], CancelledError), failure
    assert "SIGINT" in failure[0].message
    assert "Interrupt received" in failure[0].detail  # Terraform saw SIGINT, not SIGKILL
    assert [a[3] for a in allocator.all() if a[0] == "vmid"] == ["dinkes-simpus"]  # kept
    lab.sync(lambda: setattr(lab.pve, "time_scale", 0.0))
    create("dinkes-simpus", make_runner("dinkes-simpus"))
    assert guests(lab) == [1000]
    final = make_runner("dinkes-simpus")
    final.init()
    assert final.plan().empty
    print("cancel: SIGINT forwarded, Terraform stopped gracefully; re-run -> 1 VM, empty plan")


def test_proxmox_adapter_analysis_checks(lab: RunningPve, proxmox: ProxmoxAdapter) -> None:
    assert proxmox.find_template("debian-12-cloudinit").vmid == 9000
    with pytest.raises(ProxmoxError, match="tidak ada"):
        proxmox.find_template("windows-2022")
    small = {f.node: f for f in proxmox.capacity(vcpu=2, memory_mb=2048, disk_gb=20)}
    assert small["pve1"].fits and small["pve2"].fits
    assert small["pve1"].free_memory_mb == 128 * 1024
    huge = proxmox.capacity(vcpu=2, memory_mb=200 * 1024, disk_gb=20)
    assert not any(f.fits for f in huge)
    lab.sync(lambda: lab.pve.set_node_offline("pve2"))
    assert not {f.node: f for f in proxmox.capacity(vcpu=1, memory_mb=512, disk_gb=10)}["pve2"].fits
    assert proxmox.name_in_use("debian-12-cloudinit") is None  # templates do not count
    started = time.monotonic()
    with pytest.raises(AgentTimeoutError, match="1 detik"):
        proxmox.wait_for_address("pve1", 9000, timeout=1, interval=0.2)
    assert time.monotonic() - started < 10  # bounded
