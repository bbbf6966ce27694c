"""Proxmox VE adapter (proxmoxer): the checks of the analysis (step 6) and the guest agent wait.

Read-only, except nothing: the VM itself is made by Terraform. Every proxmoxer or transport
exception becomes a :class:`ProxmoxError` with an Indonesian message.
"""

from __future__ import annotations

import ipaddress
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

import requests
from sop_pipeline.domain.drift import ClusterVm
from sop_pipeline.errors import AdapterError

MiB = 1024**2
GiB = 1024**3


#: The SSH host key types read from a new VM, strongest first.
HOST_KEY_KINDS = ("ed25519", "ecdsa", "rsa")


class ProxmoxError(AdapterError):
    """The Proxmox API failed or refused; the message says what to do."""


class GuestFileError(ProxmoxError):
    """The guest agent could not read a file in the VM (not there, or the agent not up)."""


class AgentTimeoutError(ProxmoxError):
    """The guest agent did not report the address within the bound."""


@dataclass(frozen=True)
class NodeFit:
    """A node's free capacity against one request (CPU by commitment ratio, memory and disk)."""

    node: str
    online: bool
    free_vcpu: int
    free_memory_mb: int
    free_disk_gb: int
    fits: bool


@dataclass(frozen=True)
class ExistingVm:
    """A VM found on the cluster."""

    vmid: int
    node: str
    name: str
    tags: tuple[str, ...]
    template: bool


@dataclass(frozen=True)
class OpdUsage:
    """What one OPD holds on the cluster: its VMs tagged ``sop-opd-<code>``, templates left out."""

    vms: int
    vcpu: int
    memory_mb: int
    disk_gb: int


OPD_CODE = re.compile(r"[A-Z][A-Z0-9]{1,15}")


def opd_tag(opd_code: str) -> str:
    """The Proxmox tag of an OPD's VMs, lower case as PVE keeps tags (the module sets it)."""
    if not OPD_CODE.fullmatch(opd_code):
        raise ProxmoxError(f"Kode OPD {opd_code!r} tidak sah (contoh: DINKES).")
    return f"sop-opd-{opd_code.lower()}"


@dataclass(frozen=True)
class ProxmoxSettings:
    """How to reach the API: ``https://host:port``, token ``user@realm!id=secret``, CA file."""

    endpoint: str
    api_token: str = field(repr=False)
    ca_file: Path | None = None
    timeout: float = 15.0
    cpu_overcommit: float = 4.0


class ProxmoxAdapter:
    """The questions the pipeline asks Proxmox."""

    def __init__(self, settings: ProxmoxSettings) -> None:
        url = settings.endpoint.rstrip("/")
        host_port = url.split("://", 1)[-1]
        host, _, port = host_port.rpartition(":")
        user, _, rest = settings.api_token.partition("!")
        token_name, _, secret = rest.partition("=")
        if not (user and token_name and secret):
            raise ProxmoxError("Token API Proxmox harus berbentuk user@realm!nama=rahasia.")
        self.settings = settings
        self._api = ProxmoxAPI(
            host,
            port=int(port or 8006),
            user=user,
            token_name=token_name,
            token_value=secret,
            verify_ssl=str(settings.ca_file) if settings.ca_file else True,
            timeout=settings.timeout,
            service="PVE",
        )

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except ResourceException as exc:
            raise ProxmoxError(
                f"API Proxmox menolak {what}: {exc.status_code} {exc.status_message}"
            ) from exc
        except requests.exceptions.SSLError as exc:
            raise ProxmoxError(
                f"Sertifikat TLS API Proxmox tidak dapat diverifikasi ({what})."
            ) from exc
        except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise ProxmoxError(f"API Proxmox tidak dapat dihubungi ({what}).") from exc
        except requests.exceptions.RequestException as exc:
            raise ProxmoxError(
                f"Permintaan ke API Proxmox gagal ({what}): {type(exc).__name__}"
            ) from exc

    # ------------------------------------------------------------------ inventory

    def vms(self) -> list[ExistingVm]:
        """Every VM (and template) of the cluster."""
        items = self._call("daftar VM", lambda: self._api.cluster.resources.get(type="vm"))
        out = []
        for it in items:
            if it.get("type") != "qemu":
                continue
            tags = tuple(t for t in str(it.get("tags") or "").replace(",", ";").split(";") if t)
            out.append(
                ExistingVm(
                    vmid=int(it["vmid"]),
                    node=str(it["node"]),
                    name=str(it.get("name") or ""),
                    tags=tags,
                    template=bool(it.get("template")),
                )
            )
        return out

    def cluster_vms(self, *, protection_of: Collection[int] = ()) -> list[ClusterVm]:
        """Every VM of ``/cluster/resources`` with its size. For the VMIDs in
        ``protection_of`` the VM's config is read too: the ``protection`` flag (not in the
        resources), and the configured memory and cores (pending changes included)."""
        items = self._call("daftar VM", lambda: self._api.cluster.resources.get(type="vm"))
        out = []
        for it in items:
            if it.get("type") != "qemu":
                continue
            vmid, node = int(it["vmid"]), str(it["node"])
            protection: bool | None = None
            maxmem, maxcpu = it.get("maxmem"), it.get("maxcpu")
            memory_mb = int(maxmem) // MiB if maxmem is not None else None
            cores = int(maxcpu) if maxcpu is not None else None
            if vmid in protection_of and not it.get("template"):
                # The config, pending changes included: the resources show the running
                # size, which lags a change that waits for the next start.
                config = self._vm_config(node, vmid)
                protection = str(config.get("protection") or 0) in ("1", "True", "true")
                if config.get("memory") is not None:
                    memory_mb = int(str(config["memory"]))
                if config.get("cores") is not None:
                    cores = int(str(config["cores"])) * int(str(config.get("sockets") or 1))
            tags = str(it.get("tags") or "").replace(",", ";").replace(" ", ";").split(";")
            out.append(
                ClusterVm(
                    vmid=vmid,
                    node=node,
                    name=str(it.get("name") or ""),
                    tags=frozenset(t for t in tags if t),
                    template=bool(it.get("template")),
                    cores=cores,
                    memory_mb=memory_mb,
                    protection=protection,
                )
            )
        return out

    def _vm_config(self, node: str, vmid: int) -> dict[str, Any]:
        """The VM's settings as they will be after its next start: ``GET .../pending`` gives
        each key's value and its pending change (a memory change on a running VM without
        hotplug waits there); a pending deletion reads as unset."""
        reply = self._call(
            f"konfigurasi VM {vmid}", lambda: self._api.nodes(node).qemu(vmid).pending.get()
        )
        settings: dict[str, Any] = {}
        for item in reply or []:
            if item.get("delete"):
                continue
            value = item.get("pending", item.get("value"))
            if value is not None:
                settings[str(item.get("key"))] = value
        return settings

    def find_template(self, name: str) -> ExistingVm:
        """The template with this name, or ProxmoxError if there is none."""
        for vm in self.vms():
            if vm.template and vm.name == name:
                return vm
        raise ProxmoxError(f"Template OS '{name}' tidak ada di Proxmox.")

    def name_in_use(self, name: str) -> ExistingVm | None:
        """The VM already named ``name``, if any."""
        return next((vm for vm in self.vms() if vm.name == name and not vm.template), None)

    def find_request_vm(self, vmid: int, request_id: str) -> ExistingVm | None:
        """The VM of this request, found by its fixed VMID and its tag (or, for a clone killed
        before its config was written, by its VMID and its name)."""
        tag = f"sop-req-{request_id}"
        for vm in self.vms():
            if vm.vmid == vmid and not vm.template and (tag in vm.tags or vm.name == request_id):
                return vm
        return None

    # ------------------------------------------------------------------ capacity

    def capacity(self, *, vcpu: int, memory_mb: int, disk_gb: int) -> list[NodeFit]:
        """Every node's room for the request: totals from the node, commitments from its VMs."""
        nodes = self._call("daftar node", lambda: self._api.nodes.get())
        items = self._call("daftar VM", lambda: self._api.cluster.resources.get(type="vm"))
        fits = []
        for n in nodes:
            name = str(n["node"])
            online = n.get("status") == "online"
            mine = [
                it
                for it in items
                if it.get("node") == name and it.get("type") == "qemu" and not it.get("template")
            ]
            used_cpu = sum(int(it.get("maxcpu") or 0) for it in mine)
            used_mem = sum(int(it.get("maxmem") or 0) for it in mine)
            used_disk = sum(int(it.get("maxdisk") or 0) for it in mine)
            free_vcpu = int(int(n.get("maxcpu") or 0) * self.settings.cpu_overcommit) - used_cpu
            free_mem = (int(n.get("maxmem") or 0) - used_mem) // MiB
            free_disk = (int(n.get("maxdisk") or 0) - used_disk) // GiB
            fits.append(
                NodeFit(
                    node=name,
                    online=online,
                    free_vcpu=free_vcpu,
                    free_memory_mb=free_mem,
                    free_disk_gb=free_disk,
                    fits=online
                    and free_vcpu >= vcpu
                    and free_mem >= memory_mb
                    and free_disk >= disk_gb,
                )
            )
        return fits

    # ------------------------------------------------------------------ OPD quota

    def opd_usage(self, opd_code: str) -> OpdUsage:
        """Sum of the sizes of every VM carrying the OPD's tag (memory and disk rounded up)."""
        tag = opd_tag(opd_code)
        items = self._call("daftar VM", lambda: self._api.cluster.resources.get(type="vm"))
        count = cpu = mem = disk = 0
        for it in items:
            if it.get("type") != "qemu" or it.get("template"):
                continue
            tags = str(it.get("tags") or "").replace(",", ";").replace(" ", ";").split(";")
            if tag not in tags:
                continue
            count += 1
            cpu += int(it.get("maxcpu") or 0)
            mem += int(it.get("maxmem") or 0)
            disk += int(it.get("maxdisk") or 0)
        return OpdUsage(vms=count, vcpu=cpu, memory_mb=-(-mem // MiB), disk_gb=-(-disk // GiB))

    # ------------------------------------------------------------------ guest agent

    def read_guest_file(self, node: str, vmid: int, path: str) -> str:
        """A small text file inside the VM, read by its guest agent (``agent/file-read``)."""
        try:
            reply = self._api.nodes(node).qemu(vmid).agent("file-read").get(file=path)
        except ResourceException as exc:
            raise GuestFileError(f"Agen tamu VM {vmid} tidak dapat membaca {path}.") from exc
        except requests.exceptions.RequestException as exc:
            raise ProxmoxError(
                f"API Proxmox tidak dapat dihubungi saat membaca {path} di VM {vmid}."
            ) from exc
        return str((reply or {}).get("content", ""))

    def host_keys(self, node: str, vmid: int) -> list[str]:
        """The VM's SSH host public keys (``type base64``), read by its guest agent.

        These are what Ansible's known_hosts is pinned to: nothing trusts on first use.
        """
        keys = []
        for kind in HOST_KEY_KINDS:
            try:
                text = self.read_guest_file(node, vmid, f"/etc/ssh/ssh_host_{kind}_key.pub")
            except GuestFileError:
                continue  # this key type is not on the VM (or not yet)
            fields = text.split()
            if len(fields) >= 2 and fields[0].startswith(("ssh-", "ecdsa-")):
                keys.append(f"{fields[0]} {fields[1]}")
        if not keys:
            raise ProxmoxError(
                f"Agen tamu VM {vmid} tidak memberikan kunci host SSH; koneksi tidak dipercaya "
                "tanpa kunci yang dipatok."
            )
        return keys

    def wait_for_address(
        self, node: str, vmid: int, *, timeout: float = 300.0, interval: float = 2.0
    ) -> str:
        """The first global IPv4 the guest agent reports, waiting at most ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                reply = self._api.nodes(node).qemu(vmid).agent("network-get-interfaces").get()
                for nic in (reply or {}).get("result") or []:
                    for a in nic.get("ip-addresses") or []:
                        if a.get("ip-address-type") != "ipv4":
                            continue
                        ip = ipaddress.IPv4Address(a["ip-address"])
                        if not (ip.is_loopback or ip.is_link_local):
                            return str(ip)
            except ResourceException:
                pass  # the agent is not running yet
            except requests.exceptions.RequestException as exc:
                raise ProxmoxError(
                    f"API Proxmox tidak dapat dihubungi saat menunggu agen VM {vmid}."
                ) from exc
            if time.monotonic() >= deadline:
                raise AgentTimeoutError(
                    f"Agen tamu VM {vmid} tidak melaporkan alamat IP dalam {int(timeout)} detik."
                )
            time.sleep(interval)
