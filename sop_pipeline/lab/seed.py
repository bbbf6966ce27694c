"""A cloud-init NoCloud seed made from a guest's PVE config, the way Proxmox VE makes one.

PVE turns the ``ci*`` options of a guest (``ipconfig0``, ``nameserver``, ``searchdomain``,
``ciuser``, ``cipassword``, ``sshkeys``, ``ciupgrade``) and its name into three files on a
drive labelled ``cidata``: ``user-data`` (``#cloud-config``), ``meta-data`` (an
``instance-id`` that changes when the configuration changes) and ``network-config``
(version 1, one ``physical`` entry per ``netN`` matched by MAC address, plus one
``nameserver`` entry). :func:`seed_files` is that translation, pure; :func:`write_iso`
writes the files to an ISO 9660 image with ``genisoimage``.

Values go into YAML through the YAML dumper, never by string formatting.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml

from sop_pipeline.errors import AdapterError

#: The OUI Proxmox VE uses for the MAC addresses it generates.
PVE_OUI = "bc:24:11"
_MAC_RE = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_NET_MODELS = ("virtio", "e1000", "e1000e", "rtl8139", "vmxnet3")
_MAX_NICS = 32


class SeedError(AdapterError):
    """The guest's cloud-init configuration cannot be turned into a seed."""


@dataclass(frozen=True)
class SeedFiles:
    """The three NoCloud files, as text."""

    user_data: str
    meta_data: str
    network_config: str


def _options(value: str) -> dict[str, str]:
    """Parse a PVE property string (``a=1,b=2``; a bare first item becomes key ``_``)."""
    result: dict[str, str] = {}
    for item in str(value).split(","):
        if not item:
            continue
        key, sep, val = item.partition("=")
        if sep:
            result[key.strip()] = val.strip()
        else:
            result["_"] = key.strip()
    return result


def mac_address(config: Mapping[str, Any], index: int, vmid: int) -> str | None:
    """The MAC of ``net<index>``: from the config, else a stable one in PVE's OUI.

    PVE generates a MAC when a NIC is added without one; the fake API stores none, so the lab
    derives one from the VMID and the NIC index, stable across restarts. None: no such NIC.
    """
    raw = config.get(f"net{index}")
    if raw is None:
        return None
    opts = _options(str(raw))
    for model in _NET_MODELS:
        mac = opts.get(model, "")
        if _MAC_RE.match(mac):
            return mac.lower()
    mac = opts.get("macaddr", "")
    if _MAC_RE.match(mac):
        return mac.lower()
    digest = hashlib.sha256(f"{vmid}/{index}".encode()).digest()
    return PVE_OUI + "".join(f":{b:02x}" for b in digest[:3])


def hostname_fqdn(config: Mapping[str, Any], vmid: int) -> tuple[str, str | None]:
    """Host name and FQDN as PVE derives them from ``name`` and ``searchdomain``."""
    name = str(config.get("name") or f"VM{vmid}")
    host, _, domain = name.partition(".")
    if not domain:
        search = str(config.get("searchdomain") or "").split()
        domain = search[0] if search else ""
    return host, (f"{host}.{domain}" if domain else None)


def _flag(value: Any, default: bool) -> bool:
    if value is None:
        return default
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def user_data(config: Mapping[str, Any], vmid: int) -> str:
    """The ``#cloud-config`` PVE writes for the guest."""
    host, fqdn = hostname_fqdn(config, vmid)
    data: dict[str, Any] = {"hostname": host, "manage_etc_hosts": True}
    if fqdn:
        data["fqdn"] = fqdn
    if config.get("ciuser"):
        data["user"] = str(config["ciuser"])
    if config.get("cipassword"):
        data["password"] = str(config["cipassword"])
    keys = [k.strip() for k in unquote(str(config.get("sshkeys") or "")).splitlines()]
    keys = [k for k in keys if k]
    if keys:
        data["ssh_authorized_keys"] = keys
    data["chpasswd"] = {"expire": False}
    data["users"] = ["default"]
    # PVE 8: `ciupgrade` defaults to 1 (upgrade packages on first boot).
    data["package_upgrade"] = _flag(config.get("ciupgrade"), default=True)
    return "#cloud-config\n" + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def _static_subnet(cidr: str, gateway: str | None) -> dict[str, Any]:
    try:
        iface = ipaddress.IPv4Interface(cidr)
    except ValueError as exc:
        raise SeedError(f"ipconfig address {cidr!r} is not an IPv4 address with prefix") from exc
    subnet: dict[str, Any] = {
        "type": "static",
        "address": str(iface.ip),
        "netmask": str(iface.network.netmask),
    }
    if gateway:
        try:
            subnet["gateway"] = str(ipaddress.IPv4Address(gateway))
        except ValueError as exc:
            raise SeedError(f"ipconfig gateway {gateway!r} is not an IPv4 address") from exc
    return subnet


def network_config(config: Mapping[str, Any], vmid: int) -> str:
    """Network configuration version 1, one entry per NIC with an ``ipconfigN``."""
    entries: list[dict[str, Any]] = []
    for index in range(_MAX_NICS):
        mac = mac_address(config, index, vmid)
        if mac is None:
            continue
        ipconfig = _options(str(config.get(f"ipconfig{index}") or ""))
        subnets: list[dict[str, Any]] = []
        ip = ipconfig.get("ip")
        if ip == "dhcp":
            subnets.append({"type": "dhcp4"})
        elif ip:
            subnets.append(_static_subnet(ip, ipconfig.get("gw")))
        ip6 = ipconfig.get("ip6")
        if ip6 in ("dhcp", "auto"):
            subnets.append({"type": "dhcp6" if ip6 == "dhcp" else "ipv6_slaac"})
        entry: dict[str, Any] = {"type": "physical", "name": f"eth{index}", "mac_address": mac}
        if subnets:
            entry["subnets"] = subnets
        entries.append(entry)
    nameservers = str(config.get("nameserver") or "").split()
    search = str(config.get("searchdomain") or "").split()
    if nameservers or search:
        ns: dict[str, Any] = {"type": "nameserver", "address": nameservers}
        if search:
            ns["search"] = search
        entries.append(ns)
    return yaml.safe_dump({"version": 1, "config": entries}, sort_keys=False)


def seed_files(config: Mapping[str, Any], vmid: int) -> SeedFiles:
    """The NoCloud files for guest ``vmid`` with PVE config ``config``."""
    user = user_data(config, vmid)
    network = network_config(config, vmid)
    instance = hashlib.sha1(  # noqa: S324 - an instance id, as PVE computes it, not security
        (user + network).encode()
    ).hexdigest()
    meta = yaml.safe_dump({"instance-id": instance}, sort_keys=False)
    return SeedFiles(user_data=user, meta_data=meta, network_config=network)


def write_iso(files: SeedFiles, target: Path) -> Path:
    """Write ``files`` to an ISO 9660 image labelled ``cidata`` at ``target``."""
    with tempfile.TemporaryDirectory(prefix="sop-seed.") as tmp:
        folder = Path(tmp)
        (folder / "user-data").write_text(files.user_data)
        (folder / "meta-data").write_text(files.meta_data)
        (folder / "network-config").write_text(files.network_config)
        argv = [
            "genisoimage", "-quiet", "-output", str(target), "-volid", "cidata",
            "-joliet", "-rock",
            str(folder / "user-data"), str(folder / "meta-data"), str(folder / "network-config"),
        ]  # fmt: skip
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
        except FileNotFoundError as exc:
            raise SeedError("genisoimage is missing (apt-get install genisoimage)") from exc
        if proc.returncode != 0:
            raise SeedError(f"genisoimage failed: {proc.stderr.strip()}")
    target.chmod(0o600)
    return target
