"""The seam between the lab's Proxmox API and the lab's real VMs.

The fake Proxmox API (``lab/pve.py``) calls a :class:`GuestBackend` when a guest is started,
stopped or destroyed, and asks it what the guest agent would answer. The QEMU backend
(``lab/vms.py``) boots a real Debian VM for each started guest (or restores a snapshot of the
identical guest); other backends must answer
as faithfully as they can from what they have.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


class GuestBackend(Protocol):
    """What the lab's Proxmox needs from whatever runs its guests."""

    def start(self, vmid: int, config: Mapping[str, Any]) -> None:
        """Boot the guest described by its PVE ``config`` (as ``GET .../config`` returns it)."""

    def stop(self, vmid: int) -> None:
        """Power the guest off. Stopping a guest that is not running is not an error."""

    def destroy(self, vmid: int) -> None:
        """Stop the guest and remove everything the backend made for it (overlay, seed, tap)."""

    def agent_interfaces(self, vmid: int) -> list[dict[str, Any]] | None:
        """The guest agent's ``network-get-interfaces`` result, or None while it does not answer."""

    def agent_file_read(self, vmid: int, path: str) -> str | None:
        """A text file the guest agent reads in the guest, or None if it cannot (yet)."""


@runtime_checkable
class DiskImages(Protocol):
    """A backend whose guests have a disk image on this host: what the lab's ``vzdump`` copies."""

    def disk_image(self, vmid: int) -> Path | None:
        """The guest's boot disk (a qcow2 file), or None while it has none."""
