"""The department's policy for requests: allowed values, sizes and per-OPD quotas.

Plain data, filled from ``inventories/policy.yaml`` and ``inventories/quotas.yaml`` by
``sop_pipeline.config``; nothing here reads a file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sop_pipeline.domain.maintenance import Window


@dataclass(frozen=True)
class Range:
    minimum: int
    maximum: int
    multiple_of: int = 1


@dataclass(frozen=True)
class Quota:
    """What one OPD may hold in total, over all its requests."""

    max_vms: int
    vcpu: int
    memory_mb: int
    disk_gb: int


@dataclass(frozen=True)
class Policy:
    zone: str
    templates: frozenset[str]
    stacks: frozenset[str]
    environments: frozenset[str]
    sizes: Mapping[str, Range]  # vcpu, memory_mb, disk_gb
    default_quota: Quota
    quotas: Mapping[str, Quota] = field(default_factory=dict)  # by OPD code
    reserved_hostnames: frozenset[str] = frozenset()
    max_period_days: int = 1096
    max_file_bytes: int = 64 * 1024
    database_engines: frozenset[str] = frozenset()  # none listed: no database may be asked for
    database_size_gb: Range = Range(1, 1)
    #: When a change that reboots or replaces a VM may be applied (Asia/Jakarta); none: never.
    maintenance_windows: tuple[Window, ...] = ()
    #: Where a renewal's period counts from: the day after the old end, or the approval.
    renewal_counts_from: str = "old_end"
    #: Days a retired hosting's address and VMID stay held (quarantined) after its VM is
    #: destroyed, before another hosting may get them (``retirement.address_quarantine_days``).
    address_quarantine_days: int = 30

    def knows_opd(self, opd_code: str) -> bool:
        """Only OPDs listed in quotas.yaml may ask: the list of OPD codes is that file."""
        return opd_code in self.quotas

    def quota_for(self, opd_code: str) -> Quota:
        return self.quotas.get(opd_code, self.default_quota)
