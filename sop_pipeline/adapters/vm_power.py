"""Power of one hosting's VM through the Proxmox API (proxmoxer): status, shutdown, start.

Beside :class:`sop_pipeline.adapters.proxmox.ProxmoxAdapter`, on its API session and its
error translation, for ``sop expiry``'s soft retirement and its reversal. Each action waits
for its PVE task and confirms the state by ``status/current``.
"""

from __future__ import annotations

import time

from sop_pipeline.adapters.proxmox import ProxmoxAdapter, ProxmoxError


class VmPower:
    def __init__(self, proxmox: ProxmoxAdapter, *, timeout: float = 300.0) -> None:
        self._pve = proxmox
        self._timeout = timeout

    def status(self, node: str, vmid: int) -> str:
        api = self._pve._api
        current = self._pve._call(
            f"status VM {vmid}", lambda: api.nodes(node).qemu(vmid).status.current.get()
        )
        return str(current.get("status", ""))

    def _wait_task(self, node: str, upid: str, what: str) -> None:
        api = self._pve._api
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            task = self._pve._call(what, lambda: api.nodes(node).tasks(upid).status.get())
            if task.get("status") == "stopped":
                if task.get("exitstatus") not in ("OK", None) and not str(
                    task.get("exitstatus", "")
                ).startswith("WARNINGS"):
                    raise ProxmoxError(f"{what}: tugas Proxmox gagal: {task.get('exitstatus')}")
                return
            time.sleep(0.2)
        raise ProxmoxError(f"{what}: tugas Proxmox tidak selesai dalam {self._timeout:.0f} s")

    def _wait_state(self, node: str, vmid: int, wanted: str, what: str) -> None:
        deadline = time.monotonic() + self._timeout
        while time.monotonic() < deadline:
            if self.status(node, vmid) == wanted:
                return
            time.sleep(0.2)
        raise ProxmoxError(f"{what}: VM {vmid} tidak menjadi {wanted}")

    def shutdown(self, node: str, vmid: int) -> bool:
        """Shut the guest down (ACPI, forced at PVE's timeout); False if it was already off."""
        if self.status(node, vmid) == "stopped":
            return False
        api = self._pve._api
        what = f"mematikan VM {vmid}"
        upid = self._pve._call(
            what,
            lambda: api.nodes(node).qemu(vmid).status.shutdown.post(forceStop=1, timeout=180),
        )
        self._wait_task(node, str(upid), what)
        self._wait_state(node, vmid, "stopped", what)
        return True

    def start(self, node: str, vmid: int) -> bool:
        """Start the VM; False if it already ran."""
        if self.status(node, vmid) == "running":
            return False
        api = self._pve._api
        what = f"menyalakan VM {vmid}"
        upid = self._pve._call(what, lambda: api.nodes(node).qemu(vmid).status.start.post())
        self._wait_task(node, str(upid), what)
        self._wait_state(node, vmid, "running", what)
        return True
