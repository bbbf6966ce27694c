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

G10     ``POST /nodes/{node}/vzdump`` backs a guest up for real: its disk image (from the guest
        backend: the QEMU VM's overlay) is copied with ``qemu-img convert`` into an archive
        ``vzdump-qemu-<vmid>-<YYYY_MM_DD-HH_MM_SS>.tar[.zst]`` under the backup storage's
        ``dump/`` folder, with ``notes-template``, ``protected`` and ``prune-backups`` as PVE
        applies them; the storage's content lists it as PVE does (volid, ctime from the name,
        size, vmid, notes, protected), and deleting it removes the file. ``/cluster/backup``
        keeps backup jobs (create, list, read, update, delete); the lab runs no scheduler, so a
        job alone makes no backup.

Node capacity figures are also configurable per node (fakepve shows one fixed size for all).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from fakepve import FakePve, PveError
from fakepve import schema as pve_schema
from fakepve.lxc import format_size, parse_size, random_mac, split_props
from fakepve.model import TaskError
from fakepve.server import GENERIC, USER, params

from sop_pipeline.lab.guests import DiskImages, GuestBackend

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
    """fakepve with the fixes G1 to G10 and per-node capacity figures."""

    time_scale: float  # fakepve's: real seconds per PVE second (0: tasks end at once)

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
        self.backup_dirs: dict[str, Path] = {}  # G10: storage -> the folder of its archives
        self.backup_jobs: dict[str, dict[str, Any]] = {}  # G10: /cluster/backup

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

    # ---------------------------------------------------------------- G10: vzdump, for real

    def add_backup_storage(self, name: str, path: Path) -> None:
        """G10: a directory storage for backups whose archives are real files under
        ``<path>/dump``, indexed from that folder (so they outlive the lab's process)."""
        (path / "dump").mkdir(parents=True, exist_ok=True)
        usage = shutil.disk_usage(path)
        self.storages[name] = {
            "type": "dir",
            "active": 1,
            "content": "backup",
            "path": str(path),
            "files": set(),
            "volumes": {},
            "avail": usage.free,
            "total": usage.total,
        }
        self.backup_dirs[name] = path
        for archive in sorted((path / "dump").iterdir()):
            if BACKUP_NAME.match(archive.name):
                self.storages[name]["volumes"][f"backup/{archive.name}"] = _archive_volume(archive)

    def _routes_backup(self) -> list[tuple[str, str, Any]]:
        return [
            ("POST", VZDUMP_PATH, self._vzdump),
            ("GET", JOBS_PATH, self._job_list),
            ("POST", JOBS_PATH, self._job_create),
            ("GET", JOB_PATH, self._job_read),
            ("PUT", JOB_PATH, self._job_update),
            ("DELETE", JOB_PATH, self._job_delete),
        ]

    async def _vzdump(self, values: Mapping[str, Any], user: str) -> str:
        """``POST /nodes/{node}/vzdump``: copy each guest's disk into an archive on the storage.

        The archive is ``vzdump-qemu-<vmid>-<YYYY_MM_DD-HH_MM_SS>.tar`` (``.tar.zst`` with
        ``compress=zstd``): the guest's config as ``qemu-server.conf`` and its disk flattened
        with ``qemu-img convert`` as ``disk-drive-<key>.qcow2``. The task fails ("job errors"),
        as PVE's does, when any guest could not be backed up."""
        node = str(values["node"])
        storage = str(values.get("storage") or "local")
        store = self._store(storage)
        if "backup" not in str(store.get("content", "")).split(","):
            raise PveError(500, f"storage '{storage}' does not support backups")
        folder = self.backup_dirs.get(storage)
        if folder is None:
            raise PveError(500, f"storage '{storage}' keeps no files in the lab; use 'backup'")
        compress = str(values.get("compress") or "0")
        if compress not in ("0", "zstd"):
            raise PveError(400, "Parameter verification failed.", {"compress": "lab: 0 or zstd"})
        if values.get("all"):
            excluded = {int(v) for v in _id_list(values.get("exclude"))}
            wanted = [vm.vmid for vm in self.vms if vm.node == node and vm.vmid not in excluded]
            wanted = [vmid for vmid in wanted if not self.vm(vmid).config.get("template")]
        else:
            wanted = [int(v) for v in _id_list(values.get("vmid"))]
        if not wanted:
            raise PveError(400, "Parameter verification failed.", {"vmid": "no guests given"})
        guests = []
        for vmid in wanted:
            vm = self.vm(vmid)
            if vm is None:
                raise PveError(500, f"unable to find configuration file for VM {vmid}")
            if vm.node != node:
                raise PveError(500, f"VM {vmid} is not on node '{node}'")
            guests.append(vm)
        options = {
            "notes": str(values.get("notes-template") or ""),
            "protected": bool(values.get("protected")),
            "prune": str(values.get("prune-backups") or store.get("prune-backups") or ""),
            "compress": compress,
        }
        argv = " ".join(str(v) for v in wanted) + f" --storage {storage}"

        async def body() -> str:
            record = self.tasks[upid_box[0]]  # set before the body first runs
            failed = 0
            for vm in guests:
                record["log"].append(f"INFO: Starting Backup of VM {vm.vmid} (qemu)")
                try:
                    lines = await self._backup_one(vm, storage, folder, options)
                    record["log"].extend(lines)
                    record["log"].append(f"INFO: Finished Backup of VM {vm.vmid}")
                except (OSError, subprocess.CalledProcessError, PveError) as err:
                    failed += 1
                    reason = _error_text(err)
                    record["log"].append(f"ERROR: Backup of VM {vm.vmid} failed - {reason}")
            if failed:
                raise TaskError("job errors")
            return "INFO: Backup job finished successfully"

        upid_box: list[str] = []
        tid = str(wanted[0]) if len(wanted) == 1 else ""
        # As on PVE, the UPID comes back at once and the copy runs behind it, whatever the
        # time scale: fakepve runs a task in the background only with a time scale, and
        # task() does not yield before it returns, so setting it for this call is enough.
        scale: float = self.time_scale
        self.time_scale = scale or 1e-9
        try:
            upid: str = await self.task(
                node,
                "vzdump",
                tid,
                user,
                body,
                lock=False,
                log=[f"INFO: starting new backup job: vzdump {argv}"],
            )
        finally:
            self.time_scale = scale
        upid_box.append(upid)
        return upid

    async def _backup_one(
        self, vm: Any, storage: str, folder: Path, options: Mapping[str, Any]
    ) -> list[str]:
        backend = self.backend
        image = backend.disk_image(vm.vmid) if isinstance(backend, DiskImages) else None
        if image is None:
            raise PveError(500, f"VM {vm.vmid} has no disk image in the lab (never started?)")
        drive = next(
            (k for k in sorted(vm.config) if DRIVE_KEY.match(k) and "cdrom" not in vm.config[k]),
            "scsi0",
        )
        when = datetime.datetime.now()
        name = f"vzdump-qemu-{vm.vmid}-{when:%Y_%m_%d-%H_%M_%S}.tar"
        dump = folder / "dump"
        while (dump / name).exists() or (dump / f"{name}.zst").exists():
            when += datetime.timedelta(seconds=1)  # PVE refuses a second archive in one second
            name = f"vzdump-qemu-{vm.vmid}-{when:%Y_%m_%d-%H_%M_%S}.tar"
        if options["compress"] == "zstd":
            name += ".zst"
        config = "".join(f"{k}: {v}\n" for k, v in sorted(vm.config.items()) if k != "lock")
        vm.lock = "backup"
        vm.config["lock"] = "backup"
        try:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(
                None, _write_archive, image, config, drive, dump / name, options["compress"]
            )
        finally:
            vm.lock = None
            vm.config.pop("lock", None)
        archive = dump / name
        notes = _expand_notes(str(options["notes"]), vm, self)
        if notes:
            archive.with_name(archive.name + ".notes").write_text(notes + "\n")
        if options["protected"]:
            archive.with_name(archive.name + ".protected").touch()
        store = self.storages[storage]
        store["volumes"][f"backup/{name}"] = _archive_volume(archive)
        store["avail"] = shutil.disk_usage(folder).free
        lines = [
            f"INFO: creating vzdump archive '{archive}'",
            f"INFO: archive file size: {archive.stat().st_size}",
        ]
        if options["prune"]:
            for volname in self._prune(storage, vm.vmid, str(options["prune"])):
                lines.append(f"INFO: removing backup '{storage}:{volname}'")
        return lines

    def _prune(self, storage: str, vmid: int, spec: str) -> list[str]:
        """PVE's prune (``PVE::Storage::prune_mark_backup_group``) over this guest's archives:
        the newest in each of the last N periods is kept; protected ones are never removed."""
        keep = {}
        for part in spec.split(","):
            key, _, value = part.partition("=")
            if key == "keep-all" and value == "1":
                return []
            if key.startswith("keep-") and value.isdigit():
                keep[key] = int(value)
        volumes = self.storages[storage]["volumes"]
        mine = sorted(
            (
                (vol["ctime"], volname)
                for volname, vol in volumes.items()
                if vol.get("vmid") == vmid and not vol.get("protected")
            ),
            reverse=True,
        )
        kept: set[str] = set()
        for option, period in PRUNE_PERIODS:
            count = keep.get(option, 0)
            seen: set[str] = set()
            for ctime, volname in mine:
                if len(seen) >= count:
                    break
                key = period(datetime.datetime.fromtimestamp(ctime))
                if volname in kept or key in seen:
                    continue
                seen.add(key)
                kept.add(volname)
        removed = [volname for _, volname in mine if volname not in kept]
        for volname in removed:
            self._remove_archive(storage, volname)
        return removed

    def _remove_archive(self, storage: str, volname: str) -> None:
        vol = self.storages[storage]["volumes"].pop(volname, None)
        folder = self.backup_dirs.get(storage)
        if vol is None or folder is None:
            return
        archive = folder / "dump" / volname.removeprefix("backup/")
        for path in (archive, archive.with_name(archive.name + ".notes")):
            path.unlink(missing_ok=True)

    async def _content_delete(self, v: Mapping[str, Any], user: str) -> Any:
        """G10: deleting a backup volume removes its archive file too (unless protected)."""
        result = await super()._content_delete(v, user)
        storage, volname = str(v["storage"]), str(v["volume"]).split(":", 1)[-1]
        if storage in self.backup_dirs and volname not in self.storages[storage]["volumes"]:
            self._remove_archive_files(storage, volname)
        return result

    def _remove_archive_files(self, storage: str, volname: str) -> None:
        archive = self.backup_dirs[storage] / "dump" / volname.removeprefix("backup/")
        if not archive.with_name(archive.name + ".protected").exists():
            archive.unlink(missing_ok=True)
            archive.with_name(archive.name + ".notes").unlink(missing_ok=True)

    async def _content_put(self, v: Mapping[str, Any], user: str) -> Any:
        """G10: notes and protection of a backup are files beside it, as on a PVE dir storage."""
        result = await super()._content_put(v, user)
        storage, volname = str(v["storage"]), str(v["volume"]).split(":", 1)[-1]
        vol = self.storages.get(storage, {}).get("volumes", {}).get(volname)
        if storage in self.backup_dirs and vol is not None:
            archive = self.backup_dirs[storage] / "dump" / volname.removeprefix("backup/")
            notes, protected = (
                archive.with_name(archive.name + ".notes"),
                archive.with_name(archive.name + ".protected"),
            )
            if vol.get("notes"):
                notes.write_text(str(vol["notes"]) + "\n")
            else:
                notes.unlink(missing_ok=True)
            if vol.get("protected"):
                protected.touch()
            else:
                protected.unlink(missing_ok=True)
        return result

    # ---------------------------------------------------------------- G10: backup jobs

    async def _job_list(self, values: Mapping[str, Any], user: str) -> list[dict[str, Any]]:
        return [dict(job) for _, job in sorted(self.backup_jobs.items())]

    async def _job_read(self, values: Mapping[str, Any], user: str) -> dict[str, Any]:
        job = self.backup_jobs.get(str(values["id"]))
        if job is None:
            raise PveError(500, f"job '{values['id']}' does not exist")
        return dict(job)

    async def _job_create(self, values: Mapping[str, Any], user: str) -> None:
        job_id = str(values.get("id") or f"backup-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:4]}")
        if job_id in self.backup_jobs:
            raise PveError(500, f"Job '{job_id}' already exists")
        if not values.get("vmid") and not values.get("all") and not values.get("pool"):
            raise PveError(400, "Parameter verification failed.", {"vmid": "no guests selected"})
        storage = str(values.get("storage") or "local")
        store = self._store(storage)
        if "backup" not in str(store.get("content", "")).split(","):
            raise PveError(500, f"storage '{storage}' does not support backups")
        job = {k: v for k, v in values.items() if k not in ("id",)}
        job.setdefault("schedule", str(values.get("starttime") or "00:00"))
        job.setdefault("enabled", 1)
        self.backup_jobs[job_id] = dict(job, id=job_id, type="vzdump", storage=storage)

    async def _job_update(self, values: Mapping[str, Any], user: str) -> None:
        job = self.backup_jobs.get(str(values["id"]))
        if job is None:
            raise PveError(500, f"job '{values['id']}' does not exist")
        for key in str(values.get("delete") or "").split(","):
            job.pop(key, None)
        job.update({k: v for k, v in values.items() if k not in ("id", "delete")})

    async def _job_delete(self, values: Mapping[str, Any], user: str) -> None:
        if self.backup_jobs.pop(str(values["id"]), None) is None:
            raise PveError(500, f"job '{values['id']}' does not exist")


VZDUMP_PATH = "/nodes/{node}/vzdump"
JOBS_PATH = "/cluster/backup"
JOB_PATH = "/cluster/backup/{id}"
BACKUP_NAME = re.compile(
    r"vzdump-(qemu|lxc)-(\d+)-(\d{4}_\d\d_\d\d-\d\d_\d\d_\d\d)\.(tar|vma)(\.zst)?\Z"
)
PRUNE_PERIODS: tuple[tuple[str, Callable[[datetime.datetime], str]], ...] = (
    ("keep-last", lambda t: t.isoformat()),
    ("keep-hourly", lambda t: t.strftime("%Y-%m-%d %H")),
    ("keep-daily", lambda t: t.strftime("%Y-%m-%d")),
    ("keep-weekly", lambda t: "{}-{}".format(*t.isocalendar()[:2])),
    ("keep-monthly", lambda t: t.strftime("%Y-%m")),
    ("keep-yearly", lambda t: t.strftime("%Y")),
)


def _id_list(value: Any) -> list[str]:
    return [v for v in re.split(r"[,;\s]+", str(value or "")) if v]


def _error_text(err: BaseException) -> str:
    if isinstance(err, subprocess.CalledProcessError):
        return (err.stderr or b"").decode(errors="replace").strip() or str(err)
    if isinstance(err, PveError):
        return str(err.args[1] if len(err.args) > 1 else err)
    return str(err)


def _write_archive(image: Path, config: str, drive: str, archive: Path, compress: str) -> None:
    """The archive, written beside its final name and renamed into place once complete."""
    work = archive.with_name(f".{archive.name}.tmp")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        disk = work / f"disk-drive-{drive}.qcow2"
        # -U: the guest may be running (QEMU holds the image's lock), as vzdump's snapshot mode.
        subprocess.run(
            ["qemu-img", "convert", "-U", "-O", "qcow2", str(image), str(disk)],
            check=True,
            capture_output=True,
        )
        (work / "qemu-server.conf").write_text(config)
        tar = work / "archive.tar"
        with tarfile.open(tar, "w", format=tarfile.GNU_FORMAT) as out:
            out.add(work / "qemu-server.conf", arcname="qemu-server.conf")
            out.add(disk, arcname=disk.name)
        if compress == "zstd":
            subprocess.run(
                ["zstd", "-q", "-T1", str(tar), "-o", str(tar) + ".zst"],
                check=True,
                capture_output=True,
            )
            tar = Path(str(tar) + ".zst")
        os.replace(tar, archive)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _archive_volume(archive: Path) -> dict[str, Any]:
    """A backup volume as PVE's ``archive_info`` describes it: ctime from the file's name."""
    found = BACKUP_NAME.match(archive.name)
    assert found is not None  # noqa: S101 - only names that matched reach here
    stamp = datetime.datetime.strptime(found.group(3), "%Y_%m_%d-%H_%M_%S")
    notes = archive.with_name(archive.name + ".notes")
    volume: dict[str, Any] = {
        "content": "backup",
        "format": found.group(4) + (found.group(5) or ""),
        "size": archive.stat().st_size,
        "ctime": int(stamp.timestamp()),
        "vmid": int(found.group(2)),
        "subtype": found.group(1),
        "protected": archive.with_name(archive.name + ".protected").exists(),
    }
    if notes.exists():
        volume["notes"] = notes.read_text().rstrip("\n")
    return volume


def _expand_notes(template: str, vm: Any, pve: CompatPve) -> str:
    """PVE's ``notes-template``: ``{{guestname}}``, ``{{vmid}}``, ``{{node}}``, ``{{cluster}}``."""
    names = {
        "guestname": str(vm.config.get("name", "")),
        "vmid": str(vm.vmid),
        "node": str(vm.node),
        "cluster": "lab",
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: names.get(m.group(1), m.group(0)), template)
