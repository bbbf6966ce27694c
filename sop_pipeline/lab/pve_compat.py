"""A thin compatibility layer over fakepve, where PVE answers differently from fakepve 0.5.

fakepve (AGPL-3.0, a dependency, never vendored) fakes the Proxmox VE 9 API. The bpg/proxmox
provider needs a few answers it does not give yet. Each fix below makes the fake behave as PVE
itself does (qemu-server's ``PVE/API2/Qemu.pm``), not as one client would like; each has a test
under ``tests/integration/terraform/test_pve_compat.py``.

G1, G2  ``PUT/POST config`` keeps values typed as the API schema types them: integers and
        booleans come back from ``GET config`` as JSON numbers (PVE's ``1``/``0``), not strings.
G3      ``PUT resize`` grows the disk: the drive's ``size=`` and the volume change; shrinking is
        refused, as PVE does.
G4      a bare disk size is bytes (``size=21474836480``), as PVE's ``parse_size`` reads it, and
        drive sizes are written back in PVE's spelling (``20G``).
G5      ``<storage>:cloudinit`` allocates the volume ``vm-<vmid>-cloudinit`` (PVE's name) and the
        drive reads ``<storage>:vm-<vmid>-cloudinit,media=cdrom``; deleting the drive frees it.
G6      the guest agent answers from a :class:`~sop_pipeline.lab.guests.GuestBackend`: the VM's
        real interfaces and files (``agent/file-read``, e.g. the SSH host keys the pipeline
        pins), or "not running" while it has none. Starting, stopping and destroying a
        guest reach the backend too.
G7      a ``netN`` value written without a MAC keeps the MAC it had (PVE keeps the old one, or
        generates one), so the NIC's MAC does not change on every update.
G8      a path with a trailing slash reaches the same handler as without it, as PVE's router does
        (the provider deletes ``.../qemu/<vmid>/?purge=1``; fakepve answered it with a no-op task).
G9      a clone's NICs get a MAC derived from the new VMID and the NIC index, in PVE's OUI
        (PVE draws a random one): the same guest gets the same MAC in every run, so its
        cloud-init seed, hence its lab snapshot (``lab/snapshot.py``), repeats and it restores.
G10     ``GET config`` answers the pending values merged in (what the next start uses), as
        PVE does unless ``current=1``; fakepve answers the current ones, so a change waiting
        in a running VM's pending config (memory without hotplug) stayed invisible to the
        provider's refresh.

Node capacity figures are also configurable per node (fakepve shows one fixed size for all).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from fakepve import FakePve, PveError
from fakepve import schema as pve_schema
from fakepve.lxc import format_size, parse_size, random_mac, split_props
from fakepve.server import GENERIC, USER, params

from sop_pipeline.lab.guests import GuestBackend

GiB = 1024**3
CONFIG_PATH = "/nodes/{node}/qemu/{vmid}/config"
RESIZE_PATH = "/nodes/{node}/qemu/{vmid}/resize"
NODE_STATUS_PATH = "/nodes/{node}/status"
DRIVE_KEY = re.compile(r"^(ide|sata|scsi|virtio)\d+$")
NET_KEY = re.compile(r"^net\d+$")
GUEST_TASKS = {"qmstart", "qmstop", "qmshutdown", "qmreboot", "qmdestroy"}


@dataclass(frozen=True)
class NodeCapacity:
    """What a node has: CPU threads, memory and local disk, in PVE's units (count, bytes)."""

    maxcpu: int
    maxmem: int
    maxdisk: int


def _schema_properties(template: str, method: str) -> dict[str, Any]:
    info = pve_schema.load().paths[template][method]
    props: dict[str, Any] = (info.get("parameters") or {}).get("properties", {})
    return props


def typed_config(values: Mapping[str, Any], node: str, vmid: int) -> dict[str, Any]:
    """G1/G2: the config update with each value typed as PVE's schema types it.

    Integers become ``int``; booleans become ``1``/``0`` as PVE stores and returns them.
    """
    info = pve_schema.load().paths[CONFIG_PATH]["PUT"]
    checked, errors = pve_schema.validate(
        info.get("parameters"), dict(values, node=node, vmid=vmid)
    )
    if errors:
        raise PveError(400, "Parameter verification failed.", errors)
    props = _schema_properties(CONFIG_PATH, "PUT")
    out: dict[str, Any] = {}
    for key in values:
        value = checked.get(key, values[key])
        kind = (props.get(key) or {}).get("type")
        if kind == "boolean":
            value = 1 if str(value).lower() in ("1", "true", "yes", "on") else 0
        out[key] = value
    return out


def drive_size_bytes(text: str) -> int | None:
    """G4: bytes of a PVE disk size; a bare number is bytes, as in PVE's ``parse_size``."""
    size: int | None = parse_size(text)
    return size


def normalise_drive(value: str) -> str:
    """G4: a drive value as PVE writes it: volume first, options sorted, ``size=`` as ``20G``."""
    first, props = split_props(value)
    volume = first if first is not None else props.pop("file", "")
    props.pop("file", None)
    if "size" in props:
        size = drive_size_bytes(props["size"])
        if size is not None:
            props["size"] = format_size(size)
    return ",".join([str(volume)] + [f"{k}={props[k]}" for k in sorted(props)])


class CompatPve(FakePve):  # type: ignore[misc]  # fakepve ships no type hints
    """fakepve with the fixes G1 to G9 and per-node capacity figures."""

    def __init__(
        self,
        *,
        user: str = "root@pam",
        password: str,
        host: str,
        port: int,
        backend: GuestBackend | None = None,
        capacity: Mapping[str, NodeCapacity] | None = None,
    ) -> None:
        super().__init__(user=user, password=password, host=host, port=port)
        self.backend = backend
        self.capacity: dict[str, NodeCapacity] = dict(capacity or {})

    # ---------------------------------------------------------------- G1, G2, G4, G5, G7

    async def _apply_config(self, vm: Any, user: str, p: Mapping[str, Any]) -> None:
        updates = typed_config(p, vm.node, vm.vmid)
        deletes = [k for k in str(updates.get("delete") or "").split(",") if k]
        freed = [k for k in deletes if self._is_own_cloudinit(vm, vm.config.get(k))]
        for key, value in list(updates.items()):
            if DRIVE_KEY.match(key) and isinstance(value, str):
                first, props = split_props(value)
                volume = str(first if first is not None else props.get("file", ""))
                if volume.endswith(":cloudinit"):
                    value = self._cloudinit_drive(vm, volume.split(":")[0])
                updates[key] = normalise_drive(value)
            elif NET_KEY.match(key) and isinstance(value, str):
                updates[key] = self._keep_mac(vm.config.get(key), value)
        await super()._apply_config(vm, user, updates)
        for key in freed:
            if key not in vm.config:
                self._free_cloudinit(vm, key)

    @staticmethod
    def _is_own_cloudinit(vm: Any, value: Any) -> bool:
        return value is not None and f"vm-{vm.vmid}-cloudinit" in str(value)

    def _cloudinit_drive(self, vm: Any, storage: str) -> str:
        """G5: allocate (or reuse) ``vm-<vmid>-cloudinit`` on the storage, as PVE names it."""
        store = self._store(storage)
        name = f"vm-{vm.vmid}-cloudinit"
        volname, _fmt = self._volume_name(store, vm.vmid, "raw", name)
        volumes = store.setdefault("volumes", {})
        if volname not in volumes:
            size = 4 * 1024**2
            if "avail" in store:
                if store["avail"] < size:
                    raise PveError(
                        500, f"unable to write to storage '{storage}': No space left on device"
                    )
                store["avail"] -= size
            volumes[volname] = {"content": "images", "format": "raw", "size": size, "vmid": vm.vmid}
        return f"{storage}:{volname},media=cdrom"

    def _free_cloudinit(self, vm: Any, key: str) -> None:
        for store in self.storages.values():
            for volname in list(store.get("volumes", {})):
                if (
                    volname.endswith(f"vm-{vm.vmid}-cloudinit")
                    or f"vm-{vm.vmid}-cloudinit." in volname
                ):
                    vol = store["volumes"].pop(volname)
                    if "avail" in store:
                        store["avail"] += int(vol.get("size") or 0)

    @staticmethod
    def _keep_mac(old: Any, new: str) -> str:
        """G7: a NIC written without a MAC keeps its old one (or gets a new one)."""
        first, props = split_props(new)
        models = ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3")
        model = props.pop("model", None)
        mac = props.pop("macaddr", None)
        if first is None:
            for m in models:
                if m in props:
                    model, mac = m, props.pop(m) or mac
        elif "=" not in first:
            model = first
        if model is None:
            return new
        if not mac and old is not None:
            _old_first, old_props = split_props(str(old))
            mac = next(
                (old_props.get(m) for m in models if old_props.get(m)), None
            ) or old_props.get("macaddr")
        mac = mac or random_mac()
        rest = [f"{k}={v}" for k, v in sorted(props.items())]
        return ",".join([f"{model}={mac.upper()}", *rest])

    # ---------------------------------------------------------------- G9

    async def _qm_clone(self, v: Mapping[str, Any], user: str) -> Any:
        """G9: clone as fakepve does, then give the clone's NICs their stable MACs."""
        upid = await super()._qm_clone(v, user)
        vm = self.vm(int(v["newid"]))
        if vm is not None:
            for key in list(vm.config):
                if NET_KEY.match(key):
                    vm.config[key] = self._with_stable_mac(str(vm.config[key]), vm.vmid, key)
        return upid

    @staticmethod
    def _with_stable_mac(value: str, vmid: int, key: str) -> str:
        digest = hashlib.sha256(f"{vmid}/{key[3:]}".encode()).digest()
        mac = "BC:24:11:" + ":".join(f"{b:02X}" for b in digest[:3])
        parts = value.split(",")
        model, sep, _old = parts[0].partition("=")
        if not sep:
            return value
        return ",".join([f"{model}={mac}", *parts[1:]])

    # ---------------------------------------------------------------- G4 (reads)

    @staticmethod
    def _vm_maxdisk(vm: Any) -> int:
        """G4: bytes of the VM's first disk, a bare size read as bytes."""
        for key in sorted(vm.config):
            value = str(vm.config[key])
            if DRIVE_KEY.match(key) and "media=cdrom" not in value:
                for part in value.split(",")[1:]:
                    name, _, size = part.partition("=")
                    if name == "size":
                        return drive_size_bytes(size) or 0
        return 0

    # ---------------------------------------------------------------- G8

    async def _generic(self, request: web.Request) -> web.StreamResponse:
        """G8: ``/path/`` is ``/path``: a modelled route is not bypassed by a trailing slash."""
        match = request[GENERIC]
        if match is not None and request.path.endswith("/"):
            handler = self._modelled().get((request.method, match.template))
            if handler is not None:
                user = request[USER]

                async def call(_match: Any, values: Mapping[str, Any]) -> Any:
                    return await handler(values, user)

                data = await self.answer(request, match, await params(request), user, call)
                return web.json_response({"data": data})
        response: web.StreamResponse = await super()._generic(request)
        return response

    def _modelled(self) -> dict[tuple[str, str], Any]:
        table: dict[tuple[str, str], Any] = {}
        for name in dir(self):
            if name.startswith("_routes_"):
                for method, template, handler in getattr(self, name)():
                    table[(method, template)] = handler
        return table

    # ---------------------------------------------------------------- G10

    async def _config_get(self, request: web.Request) -> web.Response:
        """G10: pending values merged in (a pending deletion removes the key), unless
        ``current=1``, as ``PVE/API2/Qemu.pm`` ``vm_config`` does."""
        response: web.Response = await super()._config_get(request)
        if str(request.query.get("current", "0")).lower() in ("1", "true"):
            return response
        vm = self._vm(request, "VM.Audit")
        if not vm.pending:
            return response
        body = json.loads(response.text or "{}")
        cfg = dict(body.get("data") or {})
        for key, value in vm.pending.items():
            if value is None:
                cfg.pop(key, None)
            else:
                cfg[key] = str(value) if key == "memory" else value
        return web.json_response({**body, "data": cfg})

    # ---------------------------------------------------------------- G3

    def _routes_compat(self) -> list[tuple[str, str, Any]]:
        return [("PUT", RESIZE_PATH, self._qm_resize), ("GET", NODE_STATUS_PATH, self._node_status)]

    async def _qm_resize(self, values: Mapping[str, Any], user: str) -> str:
        """G3: PUT resize, a task that grows the drive (absolute size, or ``+<size>``)."""
        vm = self.find(values["node"], values["vmid"])
        disk = str(values["disk"])
        current = vm.config.get(disk)
        if current is None:
            raise PveError(500, f"disk '{disk}' does not exist")
        first, props = split_props(str(current))
        volume = first if first is not None else props.get("file", "")
        old = drive_size_bytes(props.get("size", "0")) or 0
        text = str(values["size"])
        grow = drive_size_bytes(text.lstrip("+"))
        if grow is None:
            raise PveError(400, "Parameter verification failed.", {"size": "invalid size"})
        new = old + grow if text.startswith("+") else grow
        if new < old:
            raise PveError(
                500, f"shrinking disks is not supported (request {new} bytes, have {old} bytes)"
            )
        self.need_quorum()

        async def body() -> None:
            self._set_volume_size(str(volume), new)
            vm.config[disk] = normalise_drive(f"{current},size={new}")

        upid: str = await self.task(vm.node, "resize", vm.vmid, user, body, vm=vm)
        return upid

    def _set_volume_size(self, volume: str, size: int) -> None:
        storage, _, name = volume.partition(":")
        store = self.storages.get(storage)
        vol = (store or {}).get("volumes", {}).get(name)
        if store is None or vol is None:
            return
        delta = size - int(vol.get("size") or 0)
        if "avail" in store:
            if delta > store["avail"]:
                raise PveError(
                    500, f"unable to write to storage '{storage}': No space left on device"
                )
            store["avail"] -= delta
        vol["size"] = size

    # ---------------------------------------------------------------- G6

    async def task(
        self, node: str, ttype: str, tid: Any, user: str, body: Any, **kwargs: Any
    ) -> str:
        """Every task; the guest's start, stop and destroy also reach the backend once done."""
        if self.backend is None or ttype not in GUEST_TASKS:
            upid: str = await super().task(node, ttype, tid, user, body, **kwargs)
            return upid

        async def with_backend() -> Any:
            note = await body()
            await self._tell_backend(ttype, int(tid))
            return note

        upid = await super().task(node, ttype, tid, user, with_backend, **kwargs)
        return upid

    async def _tell_backend(self, ttype: str, vmid: int) -> None:
        backend = self.backend
        if backend is None:
            return
        loop = asyncio.get_running_loop()
        vm = self.vm(vmid)
        if ttype == "qmdestroy":
            await loop.run_in_executor(None, backend.destroy, vmid)
        elif vm is not None and vm.status == "running" and ttype in ("qmstart", "qmreboot"):
            await loop.run_in_executor(None, backend.start, vmid, dict(vm.config))
        elif vm is not None and vm.status == "stopped":
            await loop.run_in_executor(None, backend.stop, vmid)

    async def _agent_call(self, match: Any, values: Mapping[str, Any]) -> Any:
        """G6: the agent answers from the backend; no answer means the agent is not running."""
        vm = self.find(values["node"], values["vmid"])
        enabled = str(vm.config.get("agent", "0")).split(",")[0].split("=")[-1] in ("1", "true")
        if not enabled:
            raise PveError(500, "No QEMU guest agent configured")
        if self.backend is None or vm.status != "running":
            return await super()._agent_call(match, values)
        loop = asyncio.get_running_loop()
        interfaces = await loop.run_in_executor(None, self.backend.agent_interfaces, vm.vmid)
        if interfaces is None:
            raise PveError(500, "QEMU guest agent is not running")
        vm.agent = dict(vm.agent or {}, interfaces=interfaces)
        if match.template.endswith("/file-read"):
            path = str(values["file"])
            content = await loop.run_in_executor(None, self.backend.agent_file_read, vm.vmid, path)
            if content is None:
                raise PveError(500, f"guest-file-open: failed to open file '{path}'")
            vm.agent["files"] = {path: content}
        return await super()._agent_call(match, values)

    # ---------------------------------------------------------------- node capacity

    def _capacity_fields(self, node: str) -> dict[str, Any]:
        cap = self.capacity.get(node)
        if cap is None or not self.nodes.get(node, {}).get("online", True):
            return {}
        used = [vm for vm in self.vms if vm.node == node and vm.status == "running"]
        mem = 2 * GiB + sum(int(self._vm_usage(vm)["maxmem"]) for vm in used)
        disk = 8 * GiB + sum(self._vm_maxdisk(vm) for vm in self.vms if vm.node == node)
        return {
            "maxcpu": cap.maxcpu,
            "maxmem": cap.maxmem,
            "maxdisk": cap.maxdisk,
            "mem": min(mem, cap.maxmem),
            "disk": min(disk, cap.maxdisk),
        }

    async def _nodes(self, request: web.Request) -> web.Response:
        return self._patch_nodes(await super()._nodes(request))

    async def _resources(self, request: web.Request) -> web.Response:
        return self._patch_nodes(await super()._resources(request))

    def _patch_nodes(self, response: web.Response) -> web.Response:
        body = json.loads(response.text or "{}")
        for item in body.get("data") or []:
            if item.get("type") == "node" or (
                "type" not in item and "node" in item and "vmid" not in item
            ):
                item.update(self._capacity_fields(item["node"]))
        return web.json_response(body)

    async def _node_status(self, values: Mapping[str, Any], user: str) -> dict[str, Any]:
        node = values["node"]
        fields = self._capacity_fields(node)
        if not fields:
            raise PveError(595, "No route to host")
        return {
            "cpu": 0.02,
            "uptime": 3600,
            "cpuinfo": {
                "cpus": fields["maxcpu"],
                "cores": fields["maxcpu"],
                "sockets": 1,
                "model": "fakepve",
            },
            "memory": {
                "total": fields["maxmem"],
                "used": fields["mem"],
                "free": fields["maxmem"] - fields["mem"],
            },
            "rootfs": {
                "total": fields["maxdisk"],
                "used": fields["disk"],
                "avail": fields["maxdisk"] - fields["disk"],
            },
            "pveversion": "pve-manager/" + self.version,
            "kversion": "Linux 6.8",
        }
