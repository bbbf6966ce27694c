"""The department's trusted configuration, read once from the base commit.

:class:`TrustedConfig` is everything a command may trust: the policy (with the OPD quotas),
the working calendar, the letterhead (``department.yaml``), the address pools, the
approvers' keyring, and the ``terraform/``, ``playbooks/`` and ``roles/`` folders and the
Ansible inventories. :meth:`TrustedConfig.from_commit` extracts them, as the base commit has
them, into one temporary tree (``git archive``); each file is parsed at its first use and
kept. Nothing is read from the work tree, the merge request's tree or the installed package:
a merge request that edits any of these changes nothing until it is merged.

Every file goes through the strict loader; a wrong value raises ConfigError naming the file,
the field and the rule.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sop_pipeline.domain.backups import BackupPolicy, Retention
from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.domain.expiry import ExpiryPolicy
from sop_pipeline.domain.maintenance import Window
from sop_pipeline.domain.policy import Policy, Quota, Range
from sop_pipeline.errors import ConfigError
from sop_pipeline.loader import RequestInvalid, load_yaml_file

if TYPE_CHECKING:
    from sop_pipeline.adapters.allocator import Pool
    from sop_pipeline.reports.department import Department
    from sop_pipeline.signing.keyring import Keyring

#: The folders of the base commit that hold trusted configuration and code.
TRUSTED_FOLDERS = ("inventories", "approvers", "terraform", "playbooks", "roles")

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def _load(path: Path) -> dict[str, Any]:
    try:
        doc = load_yaml_file(path)
    except RequestInvalid as err:
        raise ConfigError(err.diagnostics()) from err
    if not isinstance(doc.data, dict):
        raise ConfigError(f"{path}: harus berisi pemetaan kunci: nilai [mapping]")
    return doc.data


def _get(data: dict[str, Any], key: str, kind: type, path: Path) -> Any:
    if key not in data:
        raise ConfigError(f"{path}: {key}: wajib diisi [required]")
    value = data[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: {key}: harus {kind.__name__} [type]")
    return value


def _quota(value: Any, where: str, path: Path) -> Quota:
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: {where}: harus pemetaan [type]")
    try:
        return Quota(
            **{k: _get(value, k, int, path) for k in ("max_vms", "vcpu", "memory_mb", "disk_gb")}
        )
    except TypeError as err:
        raise ConfigError(f"{path}: {where}: {err} [quota]") from err


def load_policy(inventories: Path) -> Policy:
    path = inventories / "policy.yaml"
    data = _load(path)
    quotas_path = inventories / "quotas.yaml"
    quotas = _load(quotas_path)
    sizes = {}
    for name, spec in _get(data, "sizes", dict, path).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: sizes.{name}: harus pemetaan [type]")
        sizes[name] = Range(
            _get(spec, "min", int, path), _get(spec, "max", int, path), spec.get("multiple_of", 1)
        )
    missing = {"vcpu", "memory_mb", "disk_gb"} - sizes.keys()
    if missing:
        raise ConfigError(f"{path}: sizes: kurang {', '.join(sorted(missing))} [required]")
    per_opd = quotas.get("opd") or {}
    databases = data.get("databases") or {}
    if not isinstance(databases, dict):
        raise ConfigError(f"{path}: databases: harus pemetaan [type]")
    db_size = databases.get("size_gb") or {"min": 1, "max": 1}
    if not isinstance(db_size, dict):
        raise ConfigError(f"{path}: databases.size_gb: harus pemetaan [type]")
    return Policy(
        zone=_get(data, "zone", str, path),
        templates=frozenset(_get(data, "templates", list, path)),
        stacks=frozenset(_get(data, "stacks", list, path)),
        environments=frozenset(_get(data, "environments", list, path)),
        sizes=sizes,
        default_quota=_quota(quotas.get("default"), "default", quotas_path),
        quotas={code: _quota(q, f"opd.{code}", quotas_path) for code, q in per_opd.items()},
        reserved_hostnames=frozenset(data.get("reserved_hostnames") or ()),
        max_period_days=data.get("max_period_days", 1096),
        max_file_bytes=data.get("max_file_bytes", 64 * 1024),
        database_engines=frozenset(databases.get("engines") or ()),
        database_size_gb=Range(_get(db_size, "min", int, path), _get(db_size, "max", int, path)),
        **_change_policy(data.get("change") or {}, path),
        address_quarantine_days=_quarantine_days(data.get("retirement") or {}, path),
    )


def _quarantine_days(data: Any, path: Path) -> int:
    """``retirement.address_quarantine_days`` of policy.yaml (default 30)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: retirement: harus pemetaan [type]")
    days = data.get("address_quarantine_days", 30)
    if not isinstance(days, int) or isinstance(days, bool) or days < 0:
        raise ConfigError(
            f"{path}: retirement.address_quarantine_days: bilangan bulat >= 0 [quarantine-days]"
        )
    return days


def load_backup_policy(inventories: Path) -> BackupPolicy:
    path = inventories / "backups.yaml"
    data = _load(path)
    retention = {}
    for name, spec in _get(data, "retention", dict, path).items():
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}: retention.{name}: harus pemetaan [type]")
        unknown = set(spec) - {"max_age_hours", "keep_last", "keep_daily", "keep_weekly",
                               "keep_monthly"}  # fmt: skip
        if unknown:
            raise ConfigError(f"{path}: retention.{name}: kolom {sorted(unknown)} tidak dikenal")
        counts = {k: v for k, v in spec.items() if isinstance(v, int) and v >= 0}
        if len(counts) != len(spec) or spec.get("max_age_hours", 0) < 1:
            raise ConfigError(
                f"{path}: retention.{name}: bilangan bulat >= 0, max_age_hours >= 1 [retention]"
            )
        retention[str(name)] = Retention(**counts)
    if not retention:
        raise ConfigError(f"{path}: retention: kosong [required]")
    return BackupPolicy(
        storage=_get(data, "storage", str, path),
        schedule=_get(data, "schedule", str, path),
        mode=str(data.get("mode", "snapshot")),
        compress=str(data.get("compress", "zstd")),
        retention=retention,
    )


def _change_policy(data: Any, path: Path) -> dict[str, Any]:
    """``change:`` of policy.yaml: the maintenance windows (Asia/Jakarta) and where a renewal
    counts from; absent, no window at all (a reboot or replacement never applies)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: change: harus pemetaan [type]")
    counts_from = data.get("renewal_counts_from", "old_end")
    if counts_from not in ("old_end", "approval"):
        raise ConfigError(
            f"{path}: change.renewal_counts_from: '{counts_from}' harus old_end atau approval "
            "[renewal-counts-from]"
        )
    windows = []
    for index, spec in enumerate(data.get("maintenance_windows") or ()):
        where = f"change.maintenance_windows[{index}]"
        if not isinstance(spec, dict) or spec.get("day") not in WEEKDAYS:
            raise ConfigError(f"{path}: {where}: day harus salah satu {', '.join(WEEKDAYS)} [day]")
        windows.append(
            Window(
                WEEKDAYS.index(spec["day"]),
                _clock(spec.get("start"), f"{where}.start", path),
                _clock(spec.get("end"), f"{where}.end", path),
            )
        )
    return {"maintenance_windows": tuple(windows), "renewal_counts_from": counts_from}


def _clock(value: Any, where: str, path: Path) -> time:
    try:
        return time.fromisoformat(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{path}: {where}: '{value}' bukan jam JJ:MM [time]") from err


def load_calendar(inventories: Path) -> WorkingCalendar:
    path = inventories / "calendar.yaml"
    data = _load(path)
    try:
        tz = ZoneInfo(_get(data, "timezone", str, path))
    except ZoneInfoNotFoundError as err:
        raise ConfigError(f"{path}: timezone: zona waktu tidak dikenal [timezone]") from err
    hours = {}
    for day, span in _get(data, "working_hours", dict, path).items():
        if day not in WEEKDAYS or not isinstance(span, list) or len(span) != 2:
            raise ConfigError(
                f"{path}: working_hours.{day}: tulis nama hari (monday..sunday) "
                'dan ["JJ:MM", "JJ:MM"] [working-hours]'
            )
        hours[WEEKDAYS.index(day)] = (
            _clock(span[0], f"working_hours.{day}", path),
            _clock(span[1], f"working_hours.{day}", path),
        )
    holidays = set()
    for value in data.get("holidays") or ():
        try:
            holidays.add(date.fromisoformat(value))
        except (TypeError, ValueError) as err:
            raise ConfigError(
                f"{path}: holidays: '{value}' bukan tanggal TTTT-BB-HH [date]"
            ) from err
    try:
        return WorkingCalendar(tz=tz, hours=hours, holidays=frozenset(holidays))
    except ValueError as err:
        raise ConfigError(f"{path}: {err} [working-hours]") from err


# ------------------------------------------------------------------------------- pools


def _pool_field(raw: dict[str, Any], key: str, kind: type, where: str, path: Path) -> Any:
    if key not in raw:
        raise ConfigError(f"{path}: {where}.{key}: wajib diisi [required]")
    value = raw[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{path}: {where}.{key}: harus {kind.__name__} [type]")
    return value


def _address(raw: dict[str, Any], key: str, where: str, path: Path) -> ipaddress.IPv4Address:
    text = _pool_field(raw, key, str, where, path)
    try:
        return ipaddress.IPv4Address(text)
    except ValueError as err:
        raise ConfigError(f"{path}: {where}.{key}: '{text}' bukan alamat IPv4 [ipv4]") from err


def load_pools(path: Path) -> dict[str, Pool]:
    """``pools.yaml`` through the strict loader: ``010``, ``yes`` or a quoted number where a
    number belongs are refused, naming the file, the field and the rule."""
    from sop_pipeline.adapters.allocator import Pool

    pools: dict[str, Pool] = {}
    for name, raw in (_get(_load(path), "pools", dict, path) or {}).items():
        where = f"pools.{name}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: {where}: harus pemetaan [type]")
        network_text = _pool_field(raw, "network", str, where, path)
        try:
            network = ipaddress.IPv4Network(network_text)
        except ValueError as err:
            raise ConfigError(
                f"{path}: {where}.network: '{network_text}' bukan jaringan IPv4 [ipv4-network]"
            ) from err
        resolvers = _pool_field(raw, "resolvers", list, where, path)
        vlan = raw.get("vlan")
        if vlan is not None and (not isinstance(vlan, int) or isinstance(vlan, bool)):
            raise ConfigError(f"{path}: {where}.vlan: harus int atau null [type]")
        pool = Pool(
            name=str(name),
            network=network,
            first=_address(raw, "first", where, path),
            last=_address(raw, "last", where, path),
            gateway=_address(raw, "gateway", where, path),
            resolvers=tuple(
                str(_address({"resolvers": r}, "resolvers", where, path)) for r in resolvers
            ),
            vlan=vlan,
            bridge=_pool_field(raw, "bridge", str, where, path) if "bridge" in raw else "vmbr0",
            dns_domain=_pool_field(raw, "dns_domain", str, where, path),
            vmid_first=_pool_field(raw, "vmid_first", int, where, path),
            vmid_last=_pool_field(raw, "vmid_last", int, where, path),
        )
        for field_name in ("first", "last", "gateway"):
            if getattr(pool, field_name) not in pool.network:
                raise ConfigError(
                    f"{path}: {where}.{field_name}: {getattr(pool, field_name)} di luar "
                    f"{pool.network} [pool-range]"
                )
        if pool.first > pool.last or not 100 <= pool.vmid_first <= pool.vmid_last:
            raise ConfigError(f"{path}: {where}: rentang kosong atau terbalik [pool-range]")
        if pool.first <= pool.gateway <= pool.last:
            raise ConfigError(
                f"{path}: {where}.gateway: gateway berada di dalam rentang alokasi [pool-range]"
            )
        pools[pool.name] = pool
    if not pools:
        raise ConfigError(f"{path}: pools: tidak ada pool [required]")
    return pools


# ------------------------------------------------------------------------ the whole of it


class TrustedConfig:
    """Everything trusted, from one tree: the base commit's, or a folder laid out like it.

    Parsed values are read at their first use and kept (one provision reads the policy
    once). Folders are checked when asked for: a base commit without ``playbooks/`` can
    still validate requests, but cannot provision.
    """

    def __init__(self, root: Path, *, source: str | None = None) -> None:
        self.root = root
        #: Where it came from, for messages: ``main@0123456789ab`` or the folder.
        self.source = source or str(root)

    @classmethod
    @contextmanager
    def from_commit(cls, repo: Path, base: str) -> Iterator[TrustedConfig]:
        """The trusted folders exactly as commit ``base`` of ``repo`` has them, in one
        temporary tree that lives as long as the ``with`` block."""
        from sop_pipeline.adapters.git import base_tree, resolve

        commit = resolve(repo, base)
        # Nothing is required here: each folder is checked when it is used (``folder``).
        with base_tree(repo, commit, TRUSTED_FOLDERS, required=()) as tree:
            yield cls(tree, source=f"{base}@{commit[:12]}")

    def folder(self, name: str) -> Path:
        """``<tree>/name``; ConfigError when the trusted tree does not hold it."""
        path = self.root / name
        if not path.is_dir():
            raise ConfigError(
                f"{self.source}: folder {name}/ tidak ada di cabang dasar; tambahkan ke cabang "
                f"dasar repositori permintaan (docs/ci.md) [trusted-tree]"
            )
        return path

    @property
    def inventories(self) -> Path:
        return self.folder("inventories")

    @property
    def terraform_dir(self) -> Path:
        return self.folder("terraform")

    @property
    def playbooks_dir(self) -> Path:
        return self.folder("playbooks")

    @property
    def roles_dir(self) -> Path:
        return self.folder("roles")

    @cached_property
    def policy(self) -> Policy:
        """``policy.yaml`` with ``quotas.yaml``."""
        return load_policy(self.inventories)

    @cached_property
    def backups(self) -> BackupPolicy:
        """``backups.yaml``: backup storage, schedule and retention by classification."""
        return load_backup_policy(self.inventories)

    @cached_property
    def calendar(self) -> WorkingCalendar:
        return load_calendar(self.inventories)

    @cached_property
    def department(self) -> Department:
        from sop_pipeline.reports.department import load_department

        return load_department(self.inventories)

    @cached_property
    def pools(self) -> dict[str, Pool]:
        return load_pools(self.inventories / "pools.yaml")

    @cached_property
    def keyring(self) -> Keyring:
        from sop_pipeline.signing.keyring import KEYRING_DIR, load_from_dir

        return load_from_dir(self.folder(KEYRING_DIR), source=f"{self.source}:{KEYRING_DIR}/")


# ------------------------------------------------------------------------------- expiry


def load_expiry_policy(inventories: Path) -> ExpiryPolicy:
    """``expiry:`` of policy.yaml (docs/expiry.md): quarantine days, holding host per pool
    environment. Absent: 30 days and no holding host (soft retirement then refuses)."""
    from sop_pipeline.domain.expiry import DEFAULT_QUARANTINE_DAYS

    path = inventories / "policy.yaml"
    data = _load(path).get("expiry") or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expiry: harus pemetaan [type]")
    days = data.get("quarantine_days", DEFAULT_QUARANTINE_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3660:
        raise ConfigError(f"{path}: expiry.quarantine_days: bilangan bulat 1-3660 [type]")
    holding = data.get("holding_addresses") or {}
    if not isinstance(holding, dict):
        raise ConfigError(f"{path}: expiry.holding_addresses: harus pemetaan [type]")
    addresses = {}
    for env, value in holding.items():
        try:
            addresses[str(env)] = str(ipaddress.IPv4Address(value))
        except (ipaddress.AddressValueError, ValueError) as err:
            raise ConfigError(
                f"{path}: expiry.holding_addresses.{env}: '{value}' bukan alamat IPv4 [address]"
            ) from err
    return ExpiryPolicy(quarantine_days=days, holding_addresses=addresses)
