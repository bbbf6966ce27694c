"""Step 6's OPD quota check against the lab PVE: VMs tagged ``sop-opd-<code>`` are summed."""

from __future__ import annotations

import pytest
from tf_support import ROOT, CreateVm, RunnerFactory

from sop_pipeline.adapters.proxmox import OpdUsage, ProxmoxAdapter, ProxmoxError
from sop_pipeline.config import load_policy
from sop_pipeline.domain.placement import Demand, Held, quota_excess
from sop_pipeline.domain.policy import Quota
from sop_pipeline.lab.pve import RunningPve

pytestmark = pytest.mark.integration


def create_vm(
    proxmox: ProxmoxAdapter, vmid: int, tags: str, cores: int, memory: int, disk: int
) -> None:
    """A VM made through the PVE API (as another tool or an earlier request would leave it)."""
    proxmox._api.nodes("pve2").qemu.post(
        vmid=vmid,
        name=f"vm{vmid}",
        cores=cores,
        memory=memory,
        tags=tags,
        scsi0=f"local-lvm:{disk}",
    )


def over_quota(
    proxmox: ProxmoxAdapter, opd: str, quota: Quota, vcpu: int, memory: int, disk: int
) -> list[str]:
    """The one quota check (domain/placement.py) over what the cluster says the OPD holds."""
    used = proxmox.opd_usage(opd)
    held = Held(used.vms, used.vcpu, used.memory_mb, used.disk_gb)
    demand = Demand("new", opd, vcpu, memory, disk)
    return [e.message() for e in quota_excess(opd, quota, held, [demand])]


def test_opd_quota_sums_tagged_vms_and_reports_overrun(
    make_runner: RunnerFactory, create: CreateVm, lab: RunningPve, proxmox: ProxmoxAdapter
) -> None:
    quota = load_policy(ROOT / "inventories").quota_for("DINKES")
    assert (quota.max_vms, quota.vcpu, quota.memory_mb, quota.disk_gb) == (6, 16, 32768, 800)
    assert proxmox.opd_usage("DINKES") == OpdUsage(vms=0, vcpu=0, memory_mb=0, disk_gb=0)

    # One VM through Terraform (the module sets the tag), the others through the API.
    create("dinkes-simpus", make_runner("dinkes-simpus"))
    vm = lab.pve.vm(1000)
    assert vm is not None and "sop-opd-dinkes" in vm.config["tags"].split(";")
    create_vm(proxmox, 1100, "sop-pipeline;sop-opd-dinkes", 8, 8192, 100)
    create_vm(proxmox, 1101, "sop-opd-bpbd", 4, 4096, 50)  # another OPD's
    create_vm(proxmox, 1102, "sop-opd-dinkesx", 4, 4096, 50)  # a longer code, not DINKES

    used = proxmox.opd_usage("DINKES")
    assert used == OpdUsage(vms=2, vcpu=2 + 8, memory_mb=2048 + 8192, disk_gb=20 + 100)
    assert proxmox.opd_usage("BPBD") == OpdUsage(vms=1, vcpu=4, memory_mb=4096, disk_gb=50)

    assert over_quota(proxmox, "DINKES", quota, 4, 4096, 40) == []
    assert over_quota(proxmox, "DINKES", quota, 6, 22528, 680) == []  # exactly at the limits
    over = over_quota(proxmox, "DINKES", quota, 8, 4096, 40)
    assert over == ["kuota OPD DINKES: vCPU 18 melebihi 16 [opd-quota]"]
    over = over_quota(proxmox, "DINKES", quota, 8, 32768, 700)
    assert over == [
        "kuota OPD DINKES: vCPU 18 melebihi 16 [opd-quota]",
        "kuota OPD DINKES: memori 43008 MiB melebihi 32768 MiB [opd-quota]",
        "kuota OPD DINKES: disk 820 GiB melebihi 800 GiB [opd-quota]",
    ]
    print(f"opd quota: DINKES uses {used}; over-quota request reported: {over}")


def test_opd_quota_counts_vms_and_refuses_bad_codes(
    lab: RunningPve, proxmox: ProxmoxAdapter
) -> None:
    quota = load_policy(ROOT / "inventories").quota_for("BPBD")
    for n in range(quota.max_vms):
        create_vm(proxmox, 1200 + n, "sop-opd-bpbd", 1, 512, 10)
    assert proxmox.opd_usage("BPBD").vms == quota.max_vms
    assert over_quota(proxmox, "BPBD", quota, 1, 512, 10) == [
        f"kuota OPD BPBD: jumlah VM {quota.max_vms + 1} melebihi {quota.max_vms} [opd-quota]"
    ]
    with pytest.raises(ProxmoxError, match="Kode OPD"):
        proxmox.opd_usage("dinkes;x")


def test_opd_quota_unreachable_api_is_a_proxmox_error(
    lab: RunningPve, proxmox: ProxmoxAdapter
) -> None:
    lab.stop()
    with pytest.raises(ProxmoxError, match="tidak dapat dihubungi"):
        proxmox.opd_usage("DINKES")
