"""Hard retirement of a hosting (``kind: pensiun``, docs/retirement.md): its phases, the
two-people rule of its gates and the address quarantine. Pure: no I/O, no clock reads.

Step 8 of a retirement cycle runs these phases in order, each recorded in the hosting's
ledger once done, so that a run killed anywhere continues at the first phase not recorded:

1. ``backup``        a final backup, protected from pruning;
2. ``restore_check`` a restore check of that backup;
3. ``unprotect``     the VM's ``protection`` lifted through the API;
4. ``destroy``       ``terraform destroy`` with the retirement's override of ``prevent_destroy``;
5. ``dns``           the name removed by a TSIG update, confirmed gone by a query;
6. ``quarantine``    the IP and VMID kept as quarantined until the quarantine ends;

and, later (a next run, or ``sop expiry``'s daily run), ``release``: the lease is freed once
the quarantine is over.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

RETIREMENT_KIND = "pensiun"
#: The ledger record kind of one phase of a retirement.
PHASE_KIND = "retirement"

PHASES = ("backup", "restore_check", "unprotect", "destroy", "dns", "quarantine")
RELEASE = "release"
PHASE_LABELS = {
    "backup": "cadangan akhir (dilindungi dari pemangkasan)",
    "restore_check": "uji pemulihan cadangan akhir",
    "unprotect": "proteksi VM dicabut",
    "destroy": "VM dihapus (terraform destroy)",
    "dns": "nama DNS dihapus dan dipastikan hilang",
    "quarantine": "IP dan VMID dikarantina",
    RELEASE: "IP dan VMID dilepas setelah karantina",
}


def pending_phases(done: Iterable[str]) -> tuple[str, ...]:
    """The phases still to run, in order (a phase runs only after every earlier one)."""
    finished = set(done)
    return tuple(p for p in PHASES if p not in finished)


def quarantine_ends(destroyed_at: datetime, days: int) -> datetime:
    """When the address and VMID of a hosting destroyed at ``destroyed_at`` may be released."""
    return destroyed_at + timedelta(days=days)


def release_due(ends: datetime, now: datetime) -> bool:
    return now >= ends


@dataclass(frozen=True)
class Signer:
    """One signer of a gate, as the keyring knows them."""

    principal: str
    fingerprint: str
    nip: str | None


def one_person_refusals(verification: Sequence[Signer], decision: Sequence[Signer]) -> list[str]:
    """A retirement destroys data: its verification (step 4) and decision (step 7) need two
    different people. The same principal, key or NIP at both gates is refused, whatever roles
    the keyring gives that person (rule ``retirement-one-person``)."""
    for a in verification:
        for b in decision:
            same = (
                "prinsipal yang sama"
                if a.principal == b.principal
                else "kunci yang sama"
                if a.fingerprint == b.fingerprint
                else f"NIP yang sama ({a.nip})"
                if a.nip is not None and a.nip == b.nip
                else ""
            )
            if same:
                return [
                    f"pensiun ditandatangani satu orang di kedua gerbang ({a.principal} di "
                    f"langkah 4, {b.principal} di langkah 7: {same}); penghapusan hosting "
                    "membutuhkan dua orang yang berbeda [retirement-one-person]"
                ]
    return []


def phase_data(records: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Mapping[str, Any]]:
    """Phase name -> what its record says, from (phase, data) pairs of the current cycle."""
    return {phase: data for phase, data in records}
