"""What exists for one hosting in a lab, and whether step 8 would change anything: run inside
the lab's namespace (``ip netns exec NS python hosting_probe.py LAB_DIR REPO REQUEST_ID``).

``... hosting_probe.py LAB_DIR REPO OPD --occupy CORES`` instead creates a stopped VM of that
OPD with that many cores through the lab's Proxmox API, built outside the pipeline (an OPD at
its quota).

The probe prints one JSON object:

- ``vms``: the VMIDs on the cluster tagged for the request;
- ``leases``: the allocator's rows of the request (kind, value);
- ``a``: the addresses its name has in DNS; ``ptr``: the names the address points back to;
- ``plan_empty``: whether Terraform's plan of the request's stack is empty;
- ``backups``: how many backups of its VM the backup storage holds;
- ``ansible_changed``: the tasks a further run of the production provisioner changed (every
  phase of step 8 again, through the same code, without recording anything); None with
  ``--no-further-run``.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import dns.resolver
import dns.reversename

from sop_pipeline.adapters.infrastructure import Infrastructure
from sop_pipeline.config import TrustedConfig, load_pools
from sop_pipeline.loader import load_request
from sop_pipeline.steps.provisioning import provisioner_for
from sop_pipeline.workspace import Workspace


def probe(lab_dir: Path, repo: Path, request_id: str, *, further: bool) -> dict[str, object]:
    infra = Infrastructure.from_lab(lab_dir)
    ws = Workspace(repo)
    with TrustedConfig.from_commit(repo, "main") as trusted:
        policy = trusted.policy
        ports = infra.open(pools=load_pools(trusted.inventories / "pools.yaml"), zone=policy.zone)
        loaded = load_request(ws.request_path(request_id), policy=policy)
        label = loaded.request.hostname
        vms = [vm.vmid for vm in ports.proxmox.vms() if f"sop-req-{request_id}" in vm.tags]
        leases = sorted([row[0], row[2]] for row in ports.allocator.all() if row[3] == request_id)
        a = ports.dns.addresses_of(label)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers, resolver.port = [infra.dns_server], infra.dns_port
        ptr = []
        for address in a:
            try:
                answer = resolver.resolve(dns.reversename.from_address(address), "PTR")
                ptr += [r.to_text() for r in answer]
            except dns.resolver.NXDOMAIN:
                pass
        storage = trusted.backups.storage
        backups = [len(infra.backups().backups(storage, vmid)) for vmid in vms]
        runner = ports.terraform(request_id, trusted.terraform_dir)
        with runner.exclusive():
            runner.init()
            plan_empty = runner.plan().empty
        changed = None
        if further:
            provisioner = provisioner_for(infra, trusted, lambda: datetime.now().astimezone())
            hosting = provisioner.provision(loaded, log=lambda line: print(line, file=sys.stderr))
            ansible = next(c for c in hosting.checks if c.name == "Konfigurasi Ansible")
            changed = int(ansible.detail.split(", ")[1].split()[0])  # "<ok> ok, <n> berubah"
    return {
        "vms": vms,
        "leases": leases,
        "a": a,
        "ptr": ptr,
        "plan_empty": plan_empty,
        "backups": backups,
        "ansible_changed": changed,
    }


def occupy(lab_dir: Path, opd: str, cores: int) -> None:
    proxmox = Infrastructure.from_lab(lab_dir).proxmox()
    proxmox._api.nodes("pve2").qemu.post(
        vmid=1500, name=f"{opd}-lama", cores=cores, memory=2048, tags=f"sop-opd-{opd}",
        scsi0="local-lvm:20",
    )  # fmt: skip


if __name__ == "__main__":
    if sys.argv[4:5] == ["--occupy"]:
        occupy(Path(sys.argv[1]), sys.argv[3], int(sys.argv[5]))
    else:
        further = "--no-further-run" not in sys.argv[4:]
        print(json.dumps(probe(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], further=further)))
