"""Reading the department's configuration under ``inventories/`` into domain objects.

Every file goes through the strict loader; a wrong value raises ConfigError naming the file,
the field and the rule. In CI, callers pass the base branch's copy (see ``gitsource``).
"""

from __future__ import annotations

from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.domain.policy import Policy, Quota, Range
from sop_pipeline.errors import ConfigError
from sop_pipeline.loader import RequestInvalid, load_yaml_file

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
    )


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
