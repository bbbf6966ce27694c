"""Step 8 of a retirement cycle (``kind: pensiun``, docs/retirement.md): a hosting destroyed
only after both gates verified, by two different people, and never without a checked backup.

:func:`retire` runs the phases of :mod:`sop_pipeline.domain.retirement` in order; each is
recorded in the hosting's hash-chained ledger (kind ``retirement``) when it is done, and a
run killed anywhere continues at the first phase not recorded (every phase is idempotent):

1. backup         a final vzdump, ``protected`` (a re-run reuses the one it finds with this
                  cycle's notes: the backup is made once and kept);
2. restore_check  the backup checked by the :class:`~sop_pipeline.ports.RestoreCheckPort`;
3. unprotect      the VM's ``protection`` lifted through the API;
4. destroy        ``terraform destroy`` in the request's working copy, with the override
                  that lifts ``prevent_destroy`` (``TerraformRunner.allow_destroy``), then
                  the VM confirmed gone from Proxmox (a VM already gone is not destroyed twice);
5. dns            the name's records removed by a TSIG update and confirmed gone by a query;
6. quarantine     the VMID and address kept held until the quarantine ends.

:func:`release_after_quarantine` frees the lease once the quarantine is over and records it;
``sop expiry``'s daily run and every later retirement run call it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sop_pipeline.domain.backups import Backup
from sop_pipeline.domain.retirement import (
    PHASE_KIND,
    PHASE_LABELS,
    PHASES,
    RELEASE,
    pending_phases,
    quarantine_ends,
    release_due,
)
from sop_pipeline.errors import AdapterError, SopError
from sop_pipeline.ledger import Ledger, Record
from sop_pipeline.ledger.tracking import cycle_records

ACTOR = "pipeline"
Log = Callable[[str], None]


class RetirementCluster(Protocol):
    """Proxmox, as a retirement asks it (``adapters.retirement.ProxmoxRetirement``)."""

    def final_backup(self, node: str, vmid: int, *, storage: str, notes: str) -> Backup: ...

    def backups(self, storage: str, vmid: int | None = None) -> list[Backup]: ...

    def set_protection(self, node: str, vmid: int, *, on: bool) -> None: ...

    def vm_node(self, vmid: int) -> str | None: ...


class RestoreCheckResult(Protocol):
    ok: bool
    method: str
    details: tuple[str, ...]


class RestoreChecker(Protocol):
    """``ports.RestoreCheckPort``: a backup checked as a restore would need it."""

    def check(self, backup: Backup, *, fqdn: str) -> Any: ...


class RetirementTerraform(Protocol):
    """The request's working copy (``adapters.terraform.TerraformRunner``)."""

    def exclusive(self) -> AbstractContextManager[None]: ...

    def applied_tfvars(self) -> Mapping[str, Any]: ...

    def prepare(self, tfvars: Mapping[str, Any]) -> None: ...

    def init(self) -> float: ...

    def allow_destroy(self) -> None: ...

    def destroy(self) -> None: ...


class NameRemover(Protocol):
    """The DNS primary (``adapters.dns.DnsAdapter``)."""

    def remove(self, label: str, ip: str, owner: str) -> None: ...

    def name_is_free(self, label: str) -> bool: ...


class QuarantineAllocator(Protocol):
    """The allocator (``adapters.allocator.Allocator``)."""

    def quarantine(self, request_id: str, environment: str, *, until: datetime) -> bool: ...

    def release_quarantined(self, now: datetime) -> list[str]: ...


class RetirementError(SopError):
    """A phase of a retirement failed: which one, why; the re-run continues there."""

    exit_code = 4

    def __init__(self, request_id: str, phase: str, cause: str) -> None:
        super().__init__(
            f"{request_id}: pensiun berhenti pada tahap '{PHASE_LABELS[phase]}': {cause}. "
            "Tahap sebelumnya tercatat; jalankan ulang untuk melanjutkan dari tahap ini."
        )
        self.phase = phase


@dataclass(frozen=True)
class Hosting:
    """What step 8 built, from its record: where the VM is and its name and address."""

    request_id: str
    vmid: int
    node: str
    ip_address: str
    hostname: str  # the label under the zone
    fqdn: str
    environment: str


def recorded_phases(records: list[Record] | tuple[Record, ...]) -> dict[str, Record]:
    """Phase -> its record, in the current cycle."""
    return {
        str(r.data.get("phase")): r for r in cycle_records(list(records)) if r.kind == PHASE_KIND
    }


def retire(
    hosting: Hosting,
    *,
    ledger: Ledger,
    cluster: RetirementCluster,
    restore: RestoreChecker,
    terraform: RetirementTerraform,
    dns: NameRemover,
    allocator: QuarantineAllocator,
    backup_storage: str,
    quarantine_days: int,
    statements: Mapping[str, str],
    now: Callable[[], datetime],
    log: Log = lambda _line: None,
) -> dict[str, Record]:
    """Run the phases not yet recorded, in order; the phase records (all of this cycle).
    ``statements`` are the gate's statement hashes (steps 4 and 7): each record names them."""
    rid = hosting.request_id
    done = recorded_phases(ledger.records())
    cycle = cycle_records(ledger.records())
    # The same notes on every run of this cycle: a re-run finds the backup it already made.
    anchor = cycle[0].hash[:12] if cycle else "-"
    notes = f"sop-pipeline pensiun {rid}, cadangan akhir, siklus {anchor}"
    for phase in pending_phases(done):
        log(f"{rid}: [{PHASES.index(phase) + 1}/{len(PHASES)}] {PHASE_LABELS[phase]} ...")
        try:
            data = _run_phase(
                phase,
                hosting,
                done=done,
                cluster=cluster,
                restore=restore,
                terraform=terraform,
                dns=dns,
                allocator=allocator,
                storage=backup_storage,
                quarantine_days=quarantine_days,
                notes=notes,
                log=log,
            )
        except (AdapterError, SopError) as err:
            if isinstance(err, RetirementError):
                raise
            raise RetirementError(rid, phase, str(err).strip().splitlines()[0]) from err
        done[phase] = ledger.append(
            kind=PHASE_KIND,
            actor=ACTOR,
            at=now(),
            step=8,
            inputs=dict(statements),
            data={"phase": phase, **data},
        )
        log(f"{rid}:   -> dicatat")
    return done


def _run_phase(
    phase: str,
    h: Hosting,
    *,
    done: Mapping[str, Record],
    cluster: RetirementCluster,
    restore: RestoreChecker,
    terraform: RetirementTerraform,
    dns: NameRemover,
    allocator: QuarantineAllocator,
    storage: str,
    quarantine_days: int,
    notes: str,
    log: Log,
) -> dict[str, Any]:
    if phase == "backup":
        kept = next(
            (b for b in cluster.backups(storage, h.vmid) if b.protected and b.notes == notes),
            None,
        )
        if kept is not None:
            log(
                f"{h.request_id}:   cadangan akhir sudah ada: {kept.volid} (dipakai, tidak diulang)"
            )
        backup = kept or cluster.final_backup(h.node, h.vmid, storage=storage, notes=notes)
        return {
            "volid": backup.volid,
            "size": backup.size,
            "protected": backup.protected,
            "ctime": backup.ctime.isoformat(),
            "storage": storage,
        }
    if phase == "restore_check":
        volid = str(done["backup"].data["volid"])
        listed = next((b for b in cluster.backups(storage, h.vmid) if b.volid == volid), None)
        if listed is None or not listed.protected:
            raise RetirementError(
                h.request_id, phase, f"cadangan akhir {volid} tidak ada atau tidak dilindungi"
            )
        found = restore.check(listed, fqdn=h.fqdn)
        if not found.ok:
            raise RetirementError(
                h.request_id, phase, f"uji pemulihan {volid} gagal: {'; '.join(found.details)}"
            )
        return {"volid": volid, "ok": True, "method": found.method, "details": list(found.details)}
    if phase == "unprotect":
        node = cluster.vm_node(h.vmid)
        if node is not None:
            cluster.set_protection(node, h.vmid, on=False)
        return {"vmid": h.vmid, "present": node is not None}
    if phase == "destroy":
        with terraform.exclusive():
            terraform.prepare(terraform.applied_tfvars())
            terraform.allow_destroy()
            terraform.init()
            terraform.destroy()
        if cluster.vm_node(h.vmid) is not None:
            raise RetirementError(h.request_id, phase, f"VM {h.vmid} masih ada di Proxmox")
        return {"vmid": h.vmid, "absent": True}
    if phase == "dns":
        dns.remove(h.hostname, h.ip_address, h.request_id)
        if not dns.name_is_free(h.hostname):
            raise RetirementError(h.request_id, phase, f"{h.fqdn} masih menjawab di DNS")
        return {"fqdn": h.fqdn, "gone": True}
    if phase == "quarantine":
        until = quarantine_ends(done["destroy"].time, quarantine_days)
        allocator.quarantine(h.request_id, h.environment, until=until)
        return {
            "vmid": h.vmid,
            "ip": h.ip_address,
            "until": until.isoformat(),
            "days": quarantine_days,
        }
    raise AssertionError(phase)  # pragma: no cover - PHASES is closed


def release_after_quarantine(
    ledgers: Callable[[str], Ledger],
    allocator: QuarantineAllocator,
    *,
    now: datetime,
    log: Log = lambda _line: None,
) -> list[str]:
    """Free every lease whose quarantine has ended, and record the release in each
    hosting's ledger (``ledgers(request_id)``). For ``sop expiry``'s daily run."""
    freed = allocator.release_quarantined(now)
    for rid in freed:
        ledger = ledgers(rid)
        quarantined = recorded_phases(ledger.records()).get("quarantine")
        until = str(quarantined.data.get("until")) if quarantined else ""
        if quarantined is not None and not release_due(datetime.fromisoformat(until), now):
            continue  # pragma: no cover - the allocator released by the same date
        ledger.append(
            kind=PHASE_KIND,
            actor=ACTOR,
            at=now,
            step=8,
            data={"phase": RELEASE, "quarantine_until": until},
        )
        log(f"{rid}: karantina berakhir ({until}); VMID dan IP dilepas")
    return freed


@dataclass
class InfraRetirer:
    """The pipeline's retirer (``Pipeline(retirer=...)``): step 8 of a ``pensiun`` cycle
    against one environment, with its own adapters. ``restore`` is the environment's restore
    check (in the lab: ``LabRestoreCheck`` over the lab PVE's backup folder)."""

    infra: Any  # adapters.infrastructure.Infrastructure
    trusted: Any  # config.TrustedConfig
    restore: RestoreChecker
    now: Callable[[], datetime]

    def retire(
        self,
        hosting: Hosting,
        *,
        ledger: Ledger,
        statements: Mapping[str, str],
        log: Log,
    ) -> dict[str, Record]:
        from sop_pipeline.adapters.proxmox import ProxmoxSettings
        from sop_pipeline.adapters.retirement import ProxmoxRetirement

        self.infra.require_tsig()
        cluster = ProxmoxRetirement(
            ProxmoxSettings(
                endpoint=self.infra.pve_url,
                api_token=self.infra.pve_token,
                ca_file=self.infra.pve_ca_file,
            )
        )
        allocator = self.infra.allocator(self.trusted.pools)
        done = retire(
            hosting,
            ledger=ledger,
            cluster=cluster,
            restore=self.restore,
            terraform=self.infra.terraform_runner(hosting.request_id, self.trusted.terraform_dir),
            dns=self.infra.dns(self.trusted.policy.zone),
            allocator=allocator,
            backup_storage=self.trusted.backups.storage,
            quarantine_days=self.trusted.policy.address_quarantine_days,
            statements=statements,
            now=self.now,
            log=log,
        )
        return done
