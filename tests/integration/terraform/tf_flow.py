"""Step 8's provisioning order, as the pipeline must run it (pipeline.py can take it over).

1. analysis against the real API first: template exists, a node fits (an unreachable API stops
   here, before anything is allocated);
2. allocate VMID and address (one transaction; a re-run gets the same ones);
3. under the request's lease (database) and lock (runner): working copy, init from the mirror;
4. adopt: if the state lacks the VM but Proxmox has this request's VM (VMID + tag or name),
   import it;
5. plan, apply (with a bounded retry on PVE's config-lock timeout, per-node parallelism bounded);
6. on failure with no VM left at the VMID, release the allocation (deletion confirmed).
"""

from __future__ import annotations

import time
from typing import Any

from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.proxmox import ProxmoxAdapter, ProxmoxError
from sop_pipeline.adapters.terraform import (
    CancelledError,
    NodeLimiter,
    TerraformError,
    TerraformRunner,
    backoff_delays,
    is_lock_timeout,
    request_tfvars,
)
from sop_pipeline.provisioning import adopt

REQUEST = {
    "vcpu": 2,
    "memory_mb": 2048,
    "disk_gb": 20,
    "template": "debian-12-cloudinit",
    "environment": "lab",
    "opd_code": "DINKES",
}


def provision(
    request_id: str,
    *,
    allocator: Allocator,
    proxmox: ProxmoxAdapter,
    runner: TerraformRunner,
    keys: list[str],
    limiter: NodeLimiter | None = None,
    delays: list[float] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    req = dict(REQUEST, **overrides)
    template = proxmox.find_template(req["template"])
    fits = {
        f.node
        for f in proxmox.capacity(
            vcpu=req["vcpu"], memory_mb=req["memory_mb"], disk_gb=req["disk_gb"]
        )
        if f.fits
    }
    if template.node not in fits:
        raise ProxmoxError(f"Node {template.node} tidak cukup kapasitas untuk {request_id}.")
    alloc = allocator.allocate(request_id, req["environment"])
    tfvars = request_tfvars(
        request_id=request_id,
        opd_code=req["opd_code"],
        environment=req["environment"],
        vcpu=req["vcpu"],
        memory_mb=req["memory_mb"],
        disk_gb=req["disk_gb"],
        os_template={"name": template.name, "vm_id": template.vmid, "node_name": template.node},
        vmid=alloc.vmid,
        node_name=template.node,
        ipv4=alloc.ipv4,
        prefix=alloc.pool.prefix,
        gateway=str(alloc.pool.gateway),
        dns_servers=list(alloc.pool.resolvers),
        ssh_public_keys=keys,
        vlan_id=alloc.pool.vlan,
        bridge=alloc.pool.bridge,
    )
    limiter = limiter or NodeLimiter()
    with allocator.lease(request_id), runner.exclusive():
        runner.prepare(tfvars)
        runner.init()
        pauses = list(delays if delays is not None else backoff_delays())
        while True:
            try:
                with limiter.slot(template.node):
                    adopt(runner, proxmox, alloc.vmid, request_id)
                    runner.plan(detailed=False)
                    runner.apply()
                return runner.outputs()
            except CancelledError:
                raise  # cancelled: the next run adopts or converges; nothing is released
            except TerraformError as exc:
                if is_lock_timeout(exc) and pauses:
                    time.sleep(pauses.pop(0))
                    continue
                if (
                    not runner.state_has_vm()
                    and proxmox.find_request_vm(alloc.vmid, request_id) is None
                    and not any(vm.vmid == alloc.vmid for vm in proxmox.vms())
                ):
                    allocator.release(
                        request_id, req["environment"], confirmed_absent_vmid=alloc.vmid
                    )
                raise
