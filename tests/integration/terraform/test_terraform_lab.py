"""Real terraform + the real bpg/proxmox provider (offline mirror) against the lab PVE."""

from __future__ import annotations

import shutil
import subprocess
import threading
from pathlib import Path

import pytest
from tf_support import CLI_CONFIG, ROOT, CreateVm, RunnerFactory

from sop_pipeline.adapters.allocator import Allocator, RequestLeasedError
from sop_pipeline.adapters.proxmox import ProxmoxAdapter
from sop_pipeline.adapters.terraform import RequestBusyError, request_tfvars
from sop_pipeline.lab.pve import RunningPve
from sop_pipeline.steps.provisioning import Placement

pytestmark = pytest.mark.integration


def test_fmt_validate_and_terraform_test(tf_bin: str, tmp_path: Path) -> None:
    """CI's static checks on the module and the stack, on a scratch copy of terraform/."""
    env = {
        "TF_CLI_CONFIG_FILE": str(CLI_CONFIG),
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    copy = tmp_path / "terraform"
    shutil.copytree(
        ROOT / "terraform", copy, ignore=shutil.ignore_patterns(".terraform", "*.tfstate*")
    )
    shutil.copy(
        copy / "stacks/request/.terraform.lock.hcl", copy / "modules/proxmox_vm/.terraform.lock.hcl"
    )

    def tf(cwd: Path, *args: str) -> str:
        done = subprocess.run(
            [tf_bin, *args, "-no-color"], cwd=cwd, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, (
            f"terraform {' '.join(args)} in {cwd}:\n{done.stdout}\n{done.stderr}"
        )
        return done.stdout

    tf(copy, "fmt", "-check", "-recursive")
    for sub, runs in (("stacks/request", 9), ("modules/proxmox_vm", 25)):
        tf(copy / sub, "init", "-input=false", "-lockfile=readonly")
        tf(copy / sub, "validate")
        out = tf(copy / sub, "test")
        assert f"{runs} passed, 0 failed" in out, out
    lock = (ROOT / "terraform/stacks/request/.terraform.lock.hcl").read_text()
    assert "h1:ML2D3UUZTM99yrll/EBXj7wBYMb8xmQgomqFNybEoxY=" in lock  # the registry's hash stays


def test_create_replan_empty_then_destroy(
    make_runner: RunnerFactory,
    create: CreateVm,
    lab: RunningPve,
    allocator: Allocator,
    proxmox: ProxmoxAdapter,
) -> None:
    runner = make_runner("dinkes-simpus")
    placed = create("dinkes-simpus", runner)
    assert (placed.allocation.vmid, placed.allocation.ipv4, placed.node) == (
        1000,
        "10.99.0.100",
        "pve1",
    )
    outputs = runner.outputs()
    assert (
        outputs["vmid"] == 1000
        and outputs["address"] == "10.99.0.100"
        and outputs["node"] == "pve1"
    )
    assert outputs["agent_ipv4_addresses"] == ["10.99.0.100"]
    vm = lab.pve.vm(1000)
    assert vm is not None and vm.status == "running"
    assert "sop-req-dinkes-simpus" in vm.config["tags"].split(";")
    assert vm.config["cores"] == 2 and vm.config["ipconfig0"] == "gw=10.99.0.1,ip=10.99.0.100/24"
    assert vm.config["ide2"] == "local-lvm:vm-1000-cloudinit,media=cdrom"
    assert "size=20G" in vm.config["scsi0"]
    assert proxmox.wait_for_address("pve1", 1000, timeout=10) == "10.99.0.100"

    again = runner.plan()
    assert again.empty, again.text
    assert "Tidak ada perubahan" in again.text

    # Every hosting is protected (prevent_destroy, Proxmox protection): only a retirement
    # lifts both, as steps/retirement.py does.
    assert lab.pve.vm(1000).config.get("protection") == 1
    vm.config["protection"] = 0
    runner.allow_destroy()
    runner.destroy()
    assert lab.pve.vm(1000) is None
    assert allocator.release("dinkes-simpus", "lab", confirmed_absent_vmid=1000)
    assert allocator.all() == []
    print(f"terraform/lab: create + empty re-plan + destroy of VM 1000; plan text: {again.text}")


def test_plan_summary_is_indonesian_and_counts(make_runner: RunnerFactory, admin_key: str) -> None:
    runner = make_runner("bappeda-sipd")
    runner.prepare(
        request_tfvars(
            request_id="bappeda-sipd",
            opd_code="DINKES",
            environment="lab",
            vcpu=4,
            memory_mb=4096,
            disk_gb=40,
            os_template={"name": "debian-12-cloudinit", "vm_id": 9000, "node_name": "pve1"},
            vmid=1001,
            node_name="pve1",
            ipv4="10.99.0.101",
            prefix=24,
            gateway="10.99.0.1",
            dns_servers=["10.99.0.2"],
            ssh_public_keys=[admin_key],
        )
    )
    runner.init()
    summary = runner.plan()
    assert (summary.add, summary.change, summary.destroy) == (1, 0, 0)
    assert "1 ditambah, 0 diubah, 0 dihapus" in summary.text
    assert (
        "VM bappeda-sipd (VMID 1001) di node pve1 akan dibuat: 4 vCPU, 4096 MiB memori, disk 40 GiB"
        in summary.text
    )


def test_hostile_request_value_stays_data(
    make_runner: RunnerFactory, admin_key: str, lab: RunningPve
) -> None:
    """A key comment with HCL interpolation reaches the VM config as text, unevaluated."""
    runner = make_runner("diskominfo-web")
    hostile = admin_key.rsplit(" ", 1)[0] + ' ${file("/etc/passwd")}'
    runner.prepare(
        request_tfvars(
            request_id="diskominfo-web",
            opd_code="DINKES",
            environment="lab",
            vcpu=1,
            memory_mb=1024,
            disk_gb=10,
            os_template={"name": "debian-12-cloudinit", "vm_id": 9000, "node_name": "pve1"},
            vmid=1002,
            node_name="pve1",
            ipv4="10.99.0.102",
            prefix=24,
            gateway="10.99.0.1",
            dns_servers=["10.99.0.2"],
            ssh_public_keys=[hostile],
        )
    )
    runner.init()
    runner.plan()
    runner.apply()
    sshkeys = lab.pve.vm(1002).config["sshkeys"]
    assert "%24%7Bfile%28%22%2Fetc%2Fpasswd%22%29%7D" in sshkeys  # url-encoded literal text
    assert "root:x:0:0" not in sshkeys


def test_second_run_of_same_request_is_refused_without_side_effects(
    make_runner: RunnerFactory, lab: RunningPve
) -> None:
    first, second = make_runner("dinkes-simpus"), make_runner("dinkes-simpus")
    before = len(lab.pve.requests)
    with (
        first.exclusive(),
        pytest.raises(RequestBusyError, match="sedang diproses oleh proses lain"),
        second.exclusive(),
    ):
        second.prepare({})
    assert len(lab.pve.requests) == before
    assert not (second.stack_dir / "request.auto.tfvars.json").exists()


def test_two_applies_at_once_one_refused(
    make_runner: RunnerFactory, create: CreateVm, lab: RunningPve
) -> None:
    results: list[object] = []

    def run() -> None:
        try:
            results.append(create("dinkes-simpus", make_runner("dinkes-simpus")))
        except (RequestBusyError, RequestLeasedError) as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [r for r in results if isinstance(r, RequestBusyError | RequestLeasedError)]
    done = [r for r in results if isinstance(r, Placement)]
    # One refused while the other ran, or no overlap and the second was a no-op.
    assert len(done) + len(refused) == 2 and len(done) >= 1
    assert [vm.vmid for vm in lab.pve.vms if not vm.template] == [1000]
    print(f"concurrency/same request: {len(refused)} refused, {len(done)} completed, 1 VM")
