"""Hard retirement (``kind: pensiun``) for real: terraform with the bpg provider, the lab PVE
(fakepve + pve_compat, real vzdump archives), BIND with TSIG, the sqlite allocator.

- a destroy without the retirement's override is refused by ``prevent_destroy`` at plan;
  with the override but the VM still protected, by Proxmox at the API;
- step 8 of a retirement: final backup (protected), restore check of it, protection lifted,
  ``terraform destroy`` with the override, the DNS name removed and gone by a query, the
  lease quarantined, then released only once the quarantine is over;
- kill -9 of the retirement's process at two points, then one re-run converges.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tf_support import CreateVm, RunnerFactory

from sop_pipeline.adapters import dns as sopdns
from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.proxmox import ProxmoxSettings
from sop_pipeline.adapters.retirement import LabRestoreCheck, ProxmoxRetirement
from sop_pipeline.adapters.terraform import TerraformError
from sop_pipeline.config import load_policy
from sop_pipeline.domain.retirement import PHASES, RELEASE
from sop_pipeline.lab import bind
from sop_pipeline.lab import pve as lab_pve
from sop_pipeline.ledger import LedgerStore
from sop_pipeline.ledger.chain import verify_chain
from sop_pipeline.steps.overview import retirement_rows
from sop_pipeline.steps.retirement import (
    Hosting,
    recorded_phases,
    release_after_quarantine,
    retire,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
RID = "dinkes-simpus"
DRIVER = Path(__file__).resolve().parent / "retirement_driver.py"
STATEMENTS = {"step-04": "a" * 64, "step-07": "b" * 64}


def _need(tool: str, how: str) -> None:
    if shutil.which(tool) is None:
        message = f"{tool} is missing: {how}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[lab_pve.RunningPve]:
    """The lab PVE whose started guests have a real (empty) qcow2 disk, so vzdump copies it."""
    _need("qemu-img", "apt-get install qemu-utils (or run .ci/setup/lab.sh)")
    backend = lab_pve.ConfigAgentBackend(disk_dir=tmp_path / "disks")
    running = lab_pve.start(host="127.0.0.1", port=0, state_dir=tmp_path / "pve", backend=backend)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[bind.BindInstance]:
    _need("named", "apt-get install bind9 bind9-utils (or run .ci/setup/lab.sh)")
    inst = bind.BindInstance(
        directory=tmp_path / "bind",
        address="127.0.0.1",
        port=bind.free_port("127.0.0.1"),
        namespace=None,
    )
    bind.start(inst)
    yield inst
    bind.stop(inst)


def dns_adapter(inst: bind.BindInstance) -> sopdns.DnsAdapter:
    return sopdns.DnsAdapter(
        sopdns.DnsSettings(
            server=inst.address,
            port=inst.port,
            zone=bind.ZONE,
            reverse_zone=bind.REVERSE_ZONE,
            key_name=bind.KEY_NAME,
            key_secret=inst.key_secret,
            timeout=3.0,
        )
    )


def cluster_of(lab: lab_pve.RunningPve) -> ProxmoxRetirement:
    return ProxmoxRetirement(
        ProxmoxSettings(endpoint=lab.url, api_token=lab.token, ca_file=lab.cafile)
    )


def hosting_of(vmid: int, node: str, ip: str) -> Hosting:
    return Hosting(
        request_id=RID,
        vmid=vmid,
        node=node,
        ip_address=ip,
        hostname="simpus",
        fqdn=f"simpus.{bind.ZONE}",
        environment="lab",
    )


def test_destroy_without_retirement_is_blocked_by_prevent_destroy_and_protection(
    make_runner: RunnerFactory, create: CreateVm, lab: lab_pve.RunningPve
) -> None:
    runner = make_runner(RID)
    placed = create(RID, runner)
    vmid = placed.allocation.vmid
    vm = lab.pve.vm(vmid)
    assert vm is not None and vm.config.get("protection") == 1  # every hosting is protected

    # 1. Terraform: prevent_destroy is a literal in the module; no override, no destroy plan.
    with pytest.raises(TerraformError) as blocked:
        runner.destroy()
    assert "[prevent-destroy]" in str(blocked.value)
    assert "Instance cannot be destroyed" in blocked.value.detail
    assert lab.pve.vm(vmid) is not None
    deletes = [p for m, p, _ in lab.pve.requests if m == "DELETE" and f"/qemu/{vmid}" in p]
    assert deletes == []  # refused before any call to Proxmox

    # 2. Proxmox: with the override (as only a retirement writes it) but protection still
    # set, PVE refuses the DELETE itself, as real PVE does.
    runner.allow_destroy()
    with pytest.raises(TerraformError) as refused:
        runner.destroy()
    assert "protection mode enabled" in refused.value.detail, refused.value.detail
    assert "[vm-protected]" in str(refused.value)
    assert lab.pve.vm(vmid) is not None
    deletes = [p for m, p, _ in lab.pve.requests if m == "DELETE" and f"/qemu/{vmid}" in p]
    assert deletes, "the provider's DELETE reached the lab PVE"

    # A later ordinary run drops the override: prepare() never keeps it.
    runner.prepare(runner.applied_tfvars())
    assert not (runner.workdir / "modules/proxmox_vm/_sop_retirement_override.tf").exists()
    print(f"retirement guard: plan refused (prevent_destroy), DELETE refused ({len(deletes)}x)")


def test_retirement_phases_backup_restore_destroy_dns_quarantine_release(
    make_runner: RunnerFactory,
    create: CreateVm,
    lab: lab_pve.RunningPve,
    server: bind.BindInstance,
    allocator: Allocator,
    tmp_path: Path,
) -> None:
    runner = make_runner(RID)
    placed = create(RID, runner)
    alloc = placed.allocation
    dns = dns_adapter(server)
    dns.publish("simpus", alloc.ipv4, RID)
    assert dns.resolves_to("simpus", alloc.ipv4)

    ledger = LedgerStore(tmp_path / "records").for_request(RID)
    cluster = cluster_of(lab)
    clock = [datetime(2026, 12, 7, 3, 0, tzinfo=UTC)]
    days = load_policy(ROOT / "inventories").address_quarantine_days
    assert days == 30
    lines: list[str] = []
    done = retire(
        hosting_of(alloc.vmid, placed.node, alloc.ipv4),
        ledger=ledger,
        cluster=cluster,
        restore=LabRestoreCheck(tmp_path / "pve" / "backup"),
        terraform=make_runner(RID),
        dns=dns,
        allocator=allocator,
        backup_storage=lab_pve.BACKUP_STORAGE,
        quarantine_days=days,
        statements=STATEMENTS,
        now=lambda: clock[0],
        log=lines.append,
    )
    assert tuple(done) == PHASES
    # 1. the final backup exists and is protected
    volid = str(done["backup"].data["volid"])
    kept = [b for b in cluster.backups(lab_pve.BACKUP_STORAGE, alloc.vmid) if b.volid == volid]
    assert kept and kept[0].protected and kept[0].size > 0
    assert (tmp_path / "pve" / "backup" / "dump" / volid.split("/", 1)[1]).is_file()
    # 2. its restore check held
    assert done["restore_check"].data["ok"] is True
    # 3-4. the VM is gone from PVE
    assert lab.pve.vm(alloc.vmid) is None
    assert cluster.vm_node(alloc.vmid) is None
    # 5. the name is gone, by a query to BIND
    assert dns.name_is_free("simpus")
    assert dns.addresses_of("simpus") == []
    # 6. the lease is held, quarantined, for 30 days
    held = sorted(r[0] for r in allocator.all() if r[3] == RID)
    assert held == ["ip", "vmid"]
    quarantined = allocator.quarantined()
    assert [(q[1], q[2]) for q in quarantined] == [(RID, clock[0] + timedelta(days=30))]
    # not before the quarantine is over
    store = LedgerStore(tmp_path / "records")
    early = clock[0] + timedelta(days=29)
    assert release_after_quarantine(store.for_request, allocator, now=early) == []
    assert sorted(r[0] for r in allocator.all() if r[3] == RID) == ["ip", "vmid"]
    later = clock[0] + timedelta(days=31)
    assert release_after_quarantine(store.for_request, allocator, now=later) == [RID]
    assert [r for r in allocator.all() if r[3] == RID] == []
    assert allocator.peek("other-request", "lab") is not None
    # every phase is in the hash-chained ledger, which verifies
    records = ledger.records()
    phases = [r.data["phase"] for r in records if r.kind == "retirement"]
    assert phases == [*PHASES, RELEASE]
    assert all(r.inputs == STATEMENTS for r in records if r.data.get("phase") in PHASES)
    assert verify_chain(ledger.path) == []
    # what `sop status ID` shows of the retirement (its rows, in order)
    rows = retirement_rows(ledger.records())
    assert [r["label"] for r in rows][3:] == [
        "VM dihapus (terraform destroy)",
        "nama DNS dihapus dan dipastikan hilang",
        "IP dan VMID dikarantina",
        "IP dan VMID dilepas setelah karantina",
    ]
    # a second run does nothing again: no second backup, nothing destroyed twice
    again = retire(
        hosting_of(alloc.vmid, placed.node, alloc.ipv4),
        ledger=ledger,
        cluster=cluster,
        restore=LabRestoreCheck(tmp_path / "pve" / "backup"),
        terraform=make_runner(RID),
        dns=dns,
        allocator=allocator,
        backup_storage=lab_pve.BACKUP_STORAGE,
        quarantine_days=days,
        statements=STATEMENTS,
        now=lambda: clock[0],
    )
    assert {p: again[p].hash for p in PHASES} == {p: done[p].hash for p in PHASES}
    assert [r.data["phase"] for r in ledger.records() if r.kind == "retirement"][-1] == RELEASE
    assert len(cluster.backups(lab_pve.BACKUP_STORAGE, alloc.vmid)) == 1
    print("retirement: " + "; ".join(line.strip() for line in lines if "->" not in line))


# (name, method, path fragment): kill the retirement's process right after the lab PVE has
# received this call.
KILL_POINTS = [
    ("after-vzdump", "POST", "/vzdump"),
    ("after-unprotect", "PUT", "/qemu/1000/config"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "method", "path"), KILL_POINTS, ids=[k[0] for k in KILL_POINTS])
def test_kill9_during_retirement_then_one_rerun_converges(
    point: str,
    method: str,
    path: str,
    make_runner: RunnerFactory,
    create: CreateVm,
    lab: lab_pve.RunningPve,
    server: bind.BindInstance,
    allocator: Allocator,
    tmp_path: Path,
) -> None:
    runner = make_runner(RID)
    placed = create(RID, runner)
    alloc = placed.allocation
    dns = dns_adapter(server)
    dns.publish("simpus", alloc.ipv4, RID)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "RT_PVE_URL": lab.url,
        "RT_PVE_TOKEN": lab.token,
        "RT_PVE_CA": str(lab.cafile),
        "RT_BIND_PORT": str(server.port),
        "RT_BIND_SECRET": server.key_secret,
        "RT_TMP": str(tmp_path),
        "RT_TF_BIN": runner.settings.binary,
        "RT_NODE": placed.node,
    }
    seen = len(lab.pve.requests)
    run = subprocess.Popen(
        [sys.executable, str(DRIVER)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    killed = False
    deadline = time.monotonic() + 300
    try:
        while run.poll() is None and time.monotonic() < deadline:
            requests = list(lab.pve.requests)
            if any(m == method and path in p for m, p, _ in requests[seen:]):
                os.killpg(run.pid, signal.SIGKILL)
                killed = True
                break
            time.sleep(0.002)
    finally:
        if run.poll() is None and not killed:
            os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert killed, f"the kill point {point} was never reached"
    time.sleep(1.0)  # let a task the killed run started end, as it would on PVE
    ledger = LedgerStore(tmp_path / "records").for_request(RID)
    before = list(recorded_phases(ledger.records()))

    done = retire(
        hosting_of(alloc.vmid, placed.node, alloc.ipv4),
        ledger=ledger,
        cluster=cluster_of(lab),
        restore=LabRestoreCheck(tmp_path / "pve" / "backup"),
        terraform=make_runner(RID),
        dns=dns,
        allocator=allocator,
        backup_storage=lab_pve.BACKUP_STORAGE,
        quarantine_days=30,
        statements=STATEMENTS,
        now=lambda: datetime(2026, 12, 7, 3, 0, tzinfo=UTC),
    )
    assert tuple(done) == PHASES
    backups = cluster_of(lab).backups(lab_pve.BACKUP_STORAGE, alloc.vmid)
    assert [b.volid for b in backups] == [done["backup"].data["volid"]], backups  # kept, once
    assert all(b.protected for b in backups)
    assert lab.pve.vm(alloc.vmid) is None and dns.name_is_free("simpus")
    destroys = [p for m, p, _ in lab.pve.requests if m == "DELETE" and "/qemu/1000" in p]
    assert len(destroys) == 1, destroys  # nothing destroyed twice
    assert [q[1] for q in allocator.quarantined()] == [RID]
    assert verify_chain(ledger.path) == []
    print(f"kill -9 {point}: recorded before re-run {before}; one re-run converged")
