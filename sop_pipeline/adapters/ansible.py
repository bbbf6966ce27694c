"""Ansible adapter: runs ``playbooks/`` on one request's server through ansible-runner.

Each run gets a private data dir, made fresh and removed afterwards:

- ``env/extravars``: the request's values as YAML, **every string tagged ``!unsafe``**, so
  Ansible never templates them (a hostname or an application name holding
  ``{{ lookup('pipe', 'id') }}`` reaches the server as literal text);
- ``inventory/``: the environment's ``group_vars`` (copied from ``inventories/<env>/``) and a
  ``hosts.yml`` with the one target host in group ``sop_servers``;
- ``project``: a link to the ``playbooks/`` of the trusted tree (:class:`AnsibleTree`).

Playbooks, roles and inventories come only from the :class:`AnsibleTree` the caller gives:
in the pipeline, the base commit's (:class:`sop_pipeline.config.TrustedConfig`), never the
installed package, the work tree or a merge request's branch.

SSH never trusts on first use: the target's host keys come from a ``known_hosts`` file the
caller made from what cloud-init or the guest agent reported, and ssh runs with
``StrictHostKeyChecking=yes`` and ``UserKnownHostsFile=<that file>``.

Progress is read from ansible-runner's ``event_handler`` and ``status_handler``, never by
parsing stdout. A run that ends unreachable, failed or timed out raises
:class:`AnsibleUnreachable` (or :class:`AnsibleHostKeyRejected`), :class:`AnsibleTaskFailed`
or :class:`AnsibleTimedOut`. The roles are idempotent, so after any of these a re-run of the
same playbook with the same values continues where the failed run stopped: tasks already
done report ``ok``, the rest run.

Speed (:class:`Tuning`): ``defaults`` is Ansible as installed; ``tuned`` turns on pipelining,
a longer SSH ControlPersist and explicit fact gathering; ``mitogen`` adds the mitogen
strategy; ``auto`` picks ``mitogen`` when the installed mitogen supports the installed
ansible-core, else ``tuned``.

Lab VMs live in a network namespace: with ``netns="soplab"`` the adapter starts
``ansible-playbook`` through ``ip netns exec soplab``, so SSH to the VM and the DNS updates
the ``dns_record`` role sends from the controller both happen inside the lab network.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import ipaddress
import json
import os
import re
import shlex
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from sop_pipeline.adapters import processes
from sop_pipeline.adapters.leftovers import MARKER_VARIABLE, RunMarker
from sop_pipeline.domain.drift import AnsibleChange
from sop_pipeline.errors import AdapterError, ConfigError

#: Highest ansible-core minor release the pinned mitogen (0.3.54) is known to drive.
MITOGEN_MAX_ANSIBLE = (2, 19)

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NETNS_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
# What ssh (and mitogen) say when a host key is not the pinned one.
_HOST_KEY_RE = re.compile(
    r"Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|mismatching host key"
)
_HOST_GROUP = "sop_servers"
_HOST_ALIAS = "sop_target"


# -- errors --------------------------------------------------------------------------------


class AnsibleError(AdapterError):
    """Ansible could not configure the server."""

    def __init__(self, message: str, *, result: PlaybookResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class AnsibleUnreachable(AnsibleError):
    """The server could not be reached over SSH."""

    def diagnostics(self) -> str:
        return (
            f"Server tidak dapat dihubungi lewat SSH: {self}\n"
            f"The server is unreachable over SSH: {self}\n"
            "Periksa bahwa VM berjalan dan alamatnya benar; jalankan ulang setelah VM siap. / "
            "Check that the VM runs and its address is right; re-run once it is up."
        )


class AnsibleHostKeyRejected(AnsibleUnreachable):
    """The server's SSH host key is not the pinned one (possible impostor)."""

    def diagnostics(self) -> str:
        return (
            f"Kunci host SSH server tidak cocok dengan yang tercatat: {self}\n"
            f"The server's SSH host key does not match the pinned key: {self}\n"
            "Jangan lanjutkan sebelum diperiksa: server bisa jadi bukan VM yang dibuat. / "
            "Do not go on before checking: the server may not be the VM that was created."
        )


class AnsibleTaskFailed(AnsibleError):
    """A task failed on the server."""

    def __init__(
        self, message: str, *, failures: Sequence[TaskFailure], result: PlaybookResult | None
    ) -> None:
        super().__init__(message, result=result)
        self.failures = tuple(failures)

    def diagnostics(self) -> str:
        lines = [
            f"Konfigurasi server gagal: {self}",
            f"Configuring the server failed: {self}",
        ]
        lines += [f"  - [{f.host}] {f.task}: {f.message}" for f in self.failures]
        lines.append(
            "Perbaiki penyebabnya lalu jalankan ulang; langkah yang sudah selesai tidak diulang. / "
            "Fix the cause and re-run; the steps already done are not repeated."
        )
        return "\n".join(lines)


class AnsibleTimedOut(AnsibleError):
    """The run took longer than its timeout and was stopped."""

    def diagnostics(self) -> str:
        return (
            f"Konfigurasi server melewati batas waktu dan dihentikan: {self}\n"
            f"Configuring the server took too long and was stopped: {self}\n"
            "Jalankan ulang: peran Ansible idempoten, pekerjaan dilanjutkan. / "
            "Re-run: the roles are idempotent, the work continues."
        )


# -- values ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnsibleTree:
    """Where the playbooks, roles and inventories of a run are (the trusted tree's)."""

    playbooks: Path
    roles: Path
    inventories: Path

    @classmethod
    def under(cls, root: Path) -> AnsibleTree:
        """``root/playbooks``, ``root/roles`` and ``root/inventories``."""
        return cls(root / "playbooks", root / "roles", root / "inventories")


class Tuning(StrEnum):
    """How the run is tuned for speed."""

    DEFAULTS = "defaults"
    TUNED = "tuned"
    MITOGEN = "mitogen"
    AUTO = "auto"


@dataclass(frozen=True)
class SshTarget:
    """The server to configure and how to reach it without trusting on first use."""

    address: str
    user: str
    private_key: Path
    known_hosts: Path
    port: int = 22

    def __post_init__(self) -> None:
        try:
            ipaddress.ip_address(self.address)
        except ValueError as exc:
            raise ConfigError(f"target address {self.address!r} is not an IP address") from exc
        if not _USER_RE.match(self.user):
            raise ConfigError(f"target user {self.user!r} is not a valid login name")
        if not 0 < self.port < 65536:
            raise ConfigError(f"target port {self.port} is out of range")


@dataclass(frozen=True)
class TaskFailure:
    """One failed task, as the event stream reported it."""

    host: str
    task: str
    message: str
    action: str = ""


@dataclass(frozen=True)
class HostStats:
    """The play recap of one host."""

    ok: int = 0
    changed: int = 0
    failures: int = 0
    unreachable: int = 0
    skipped: int = 0
    rescued: int = 0
    ignored: int = 0


@dataclass(frozen=True)
class PlaybookResult:
    """What a run did, read from ansible-runner's events."""

    playbook: str
    status: str
    rc: int
    tuning: Tuning
    seconds: float
    stats: Mapping[str, HostStats]
    changed_tasks: tuple[str, ...]
    failures: tuple[TaskFailure, ...]
    unreachable: tuple[TaskFailure, ...]
    #: Every task (not handler) that reported changed, with its diff: in check mode, the drift.
    changes: tuple[AnsibleChange, ...] = ()
    check: bool = False

    @property
    def changed(self) -> int:
        """Tasks reported as changed, over all hosts."""
        return sum(s.changed for s in self.stats.values())


# -- unsafe extra vars ------------------------------------------------------------------------


def _plain(value: Any, where: str) -> Any:
    """Copy ``value`` as plain YAML data (dates as ISO strings), checking every key."""
    if isinstance(value, bool) or value is None or isinstance(value, int | float | str):
        return value
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not _NAME_RE.match(key):
                raise ConfigError(f"extra var key {where}.{key!r} is not a plain identifier")
            plain[key] = _plain(item, f"{where}.{key}")
        return plain
    if isinstance(value, list | tuple):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ConfigError(f"extra var {where} has a type Ansible cannot take: {type(value).__name__}")


def render_extravars(values: Mapping[str, Any]) -> str:
    """YAML for ``env/extravars``: one mapping tagged ``!unsafe``, so no value is templated.

    The tag sits on the document's root mapping: Ansible marks everything inside it unsafe,
    while each scalar keeps the type its quoting gives it (``'010'`` stays a string; a tag
    on the scalar itself would make Ansible 2.19 re-read it as the integer 8).
    """
    body = yaml.safe_dump(
        _plain(dict(values), "extravars"), default_flow_style=False, allow_unicode=True
    )
    return "--- !unsafe\n" + body


# -- tuning ---------------------------------------------------------------------------------


def mitogen_strategy_dir() -> Path | None:
    """The folder of mitogen's Ansible strategy plugins, or None when mitogen is missing."""
    spec = importlib.util.find_spec("ansible_mitogen")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "plugins" / "strategy"
    return folder if (folder / "mitogen_linear.py").is_file() else None


def ansible_core_version() -> tuple[int, int]:
    """The installed ansible-core's (major, minor)."""
    from ansible.release import __version__

    major, minor = __version__.split(".")[:2]
    return int(major), int(minor)


def mitogen_supported() -> bool:
    """Whether the installed mitogen can drive the installed ansible-core."""
    if mitogen_strategy_dir() is None:
        return False
    return (2, 10) <= ansible_core_version() <= MITOGEN_MAX_ANSIBLE


def resolve_tuning(tuning: Tuning) -> Tuning:
    """``auto`` becomes ``mitogen`` where supported, else ``tuned``; mitogen falls back too."""
    if tuning in (Tuning.AUTO, Tuning.MITOGEN):
        return Tuning.MITOGEN if mitogen_supported() else Tuning.TUNED
    return tuning


#: Seconds Ansible (and ssh under it) waits for a server's SSH connection to open.
CONNECT_TIMEOUT_SECONDS = 60


def ansible_settings(tuning: Tuning, roles: Path) -> dict[str, str]:
    """Environment settings (``ANSIBLE_*``) for a resolved tuning, roles from ``roles``."""
    env = {
        "ANSIBLE_ROLES_PATH": str(roles),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_PYTHON_INTERPRETER": "/usr/bin/python3",
        "ANSIBLE_LOCALHOST_WARNING": "False",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        # Ansible's default connect timeout is 10 s; a server on a busy node (or a lab guest
        # under TCG beside others) can take longer to finish an SSH handshake, and that is not
        # "unreachable". A server that is really gone still fails within a minute.
        "ANSIBLE_TIMEOUT": str(CONNECT_TIMEOUT_SECONDS),
    }
    if tuning is Tuning.DEFAULTS:
        return env
    env |= {
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=300s",
        "ANSIBLE_GATHERING": "explicit",
    }
    if tuning is Tuning.MITOGEN:
        folder = mitogen_strategy_dir()
        if folder is None:  # resolve_tuning() rules this out
            raise ConfigError("mitogen is not installed (pip install mitogen)")
        env |= {"ANSIBLE_STRATEGY_PLUGINS": str(folder), "ANSIBLE_STRATEGY": "mitogen_linear"}
    return env


def tuning_settings(roles: Path, tuning: Tuning = Tuning.AUTO) -> tuple[Tuning, dict[str, str]]:
    """The tuning a run gets and its ``ANSIBLE_*`` settings (roles from ``roles``), as
    :func:`run_playbook` uses them.

    The one source of the tuning: the adapter hands these to ansible-runner, and whatever else
    runs Ansible on the same servers (Molecule in the tests) takes them from here too.
    """
    chosen = resolve_tuning(tuning)
    return chosen, ansible_settings(chosen, roles)


# -- inventory --------------------------------------------------------------------------------


def known_hosts_text(address: str, host_keys: Sequence[str], port: int = 22) -> str:
    """``known_hosts`` lines pinning ``host_keys`` (``type base64`` each) for ``address``."""
    host = address if port == 22 else f"[{address}]:{port}"
    lines = []
    for key in host_keys:
        parts = key.split()
        if len(parts) < 2 or not re.match(r"^(ssh-|ecdsa-|sk-)[a-z0-9@.-]+$", parts[0]):
            raise ConfigError(f"not an SSH public host key: {key[:40]!r}")
        lines.append(f"{host} {parts[0]} {parts[1]}")
    if not lines:
        raise ConfigError("no host keys to pin: refusing to trust on first use")
    return "\n".join(lines) + "\n"


def _inventory(target: SshTarget) -> dict[str, Any]:
    ssh_args = " ".join(
        [
            "-o StrictHostKeyChecking=yes",
            f"-o UserKnownHostsFile={shlex.quote(str(target.known_hosts))}",
            "-o GlobalKnownHostsFile=/dev/null",
            "-o IdentitiesOnly=yes",
            "-o BatchMode=yes",
            f"-o ConnectTimeout={CONNECT_TIMEOUT_SECONDS}",
        ]
    )
    host = {
        "ansible_host": target.address,
        "ansible_port": target.port,
        "ansible_user": target.user,
        "ansible_ssh_private_key_file": str(target.private_key),
        "ansible_ssh_common_args": ssh_args,
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    return {"all": {"children": {_HOST_GROUP: {"hosts": {_HOST_ALIAS: host}}}}}


# -- progress ---------------------------------------------------------------------------------

#: Step 8's Ansible phases as the progress names them: one per role of playbooks/site.yml.
ROLE_PHASES = {
    "": "persiapan",  # the play's own pre_tasks and tasks
    "base": "pengamanan dasar server",
    "deploy": "akun deploy SFTP",
    "database": "basis data",
    "stack_static": "aplikasi statis",
    "stack_php": "aplikasi PHP-FPM",
    "stack_nodejs": "aplikasi Node.js",
    "stack_python": "aplikasi Python",
    "web": "server web nginx",
    "tls": "sertifikat TLS",
    "dns_record": "nama di DNS",
}
_RAN = {
    "runner_on_ok": "ok",
    "runner_on_failed": "gagal",
    "runner_on_unreachable": "tidak terjangkau",
}


@dataclass(frozen=True)
class TaskProgress:
    """One task that ran, for the progress: its phase, its name, how it ended."""

    phase: str
    task: str
    outcome: str  # ok, berubah, gagal, gagal (diabaikan), tidak terjangkau

    def line(self) -> str:
        return f"[{self.phase}] {self.task[:100]}: {self.outcome}"


def task_progress(event: Mapping[str, Any]) -> TaskProgress | None:
    """The task an ansible-runner event reports as having run, or None.

    Only tasks that ran count: a skipped task (the roles of every other stack are skipped on
    each server) and every other event (task start, items, stats) give None.
    """
    outcome = _RAN.get(str(event.get("event", "")))
    if outcome is None:
        return None
    data = event.get("event_data") or {}
    if outcome == "ok" and (data.get("res") or {}).get("changed"):
        outcome = "berubah"
    elif outcome == "gagal" and data.get("ignore_errors"):
        outcome = "gagal (diabaikan)"
    role = str(data.get("role") or "")
    return TaskProgress(ROLE_PHASES.get(role, role), str(data.get("task", "")), outcome)


# -- the run ----------------------------------------------------------------------------------


@dataclass
class _EventLog:
    """Collects what the event and status handlers report (they run on runner's thread)."""

    on_event: Callable[[Mapping[str, Any]], None] | None = None
    status: str = "unstarted"
    stats: dict[str, HostStats] = field(default_factory=dict)
    changed_tasks: list[str] = field(default_factory=list)
    failures: list[TaskFailure] = field(default_factory=list)
    unreachable: list[TaskFailure] = field(default_factory=list)
    changes: list[AnsibleChange] = field(default_factory=list)
    handlers: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event(self, event: Mapping[str, Any]) -> bool:
        name = event.get("event", "")
        data = event.get("event_data") or {}
        with self.lock:
            # ansible-runner reports a handler's start as a task start with
            # is_conditional (its v1 marking of handlers); a plain task's is false.
            if name == "playbook_on_handler_task_start" or (
                name == "playbook_on_task_start" and data.get("is_conditional")
            ):
                self.handlers.add(str(data.get("task_uuid", "")))
            if name == "runner_on_ok" and (data.get("res") or {}).get("changed"):
                self.changed_tasks.append(str(data.get("task", "")))
                if str(data.get("task_uuid", "")) not in self.handlers:
                    self.changes.append(_change(data))
            elif name == "runner_on_failed" and not data.get("ignore_errors"):
                self.failures.append(_failure(data))
            elif name == "runner_on_unreachable":
                self.unreachable.append(_failure(data))
            elif name == "playbook_on_stats":
                self.stats = _stats(data)
        if self.on_event is not None:
            self.on_event(event)
        return True  # keep the event in the artifacts

    def status_changed(self, data: Mapping[str, Any], runner_config: Any = None) -> None:
        with self.lock:
            self.status = str(data.get("status", self.status))


def _failure(data: Mapping[str, Any]) -> TaskFailure:
    res = data.get("res") or {}
    message = str(res.get("msg") or res.get("stderr") or res.get("reason") or "")
    if res.get("_ansible_no_log") or "censored" in res:
        message = "(output hidden: no_log)"
    return TaskFailure(
        host=str(data.get("host", "")),
        task=str(data.get("task", "")),
        message=message[-1000:],
        action=str(data.get("task_action", "")),
    )


#: At most this much of one diff side is kept (a drift item is a record, not a backup).
DIFF_LIMIT = 4000


def _change(data: Mapping[str, Any]) -> AnsibleChange:
    """One changed task of the event stream, with its diffs (a loop's: each changed item's).

    A result hidden by ``no_log`` keeps no diff: the item says so instead of the content.
    """
    res = data.get("res") or {}
    hidden = bool(res.get("_ansible_no_log")) or "censored" in res
    parts = [r for r in res.get("results") or [] if isinstance(r, Mapping) and r.get("changed")]
    diffs: list[dict[str, str]] = []
    for part in parts or [res]:
        raw = part.get("diff")
        for one in raw if isinstance(raw, list) else [raw] if raw else []:
            if isinstance(one, Mapping):
                diffs.append(_diff_text(one))
    raw_status = res.get("status")
    status: Mapping[str, Any] = raw_status if isinstance(raw_status, Mapping) else {}
    return AnsibleChange(
        task=str(data.get("task", "")),
        role=str(data.get("role") or ""),
        action=str(data.get("task_action", "")),
        diffs=() if hidden else tuple(diffs),
        hidden=hidden,
        wanted_state=str(res.get("state") or "") if "ActiveState" in status else "",
        message="" if hidden else str(res.get("msg") or ""),
        running_state=", ".join(
            f"{k}={status[k]}" for k in ("ActiveState", "UnitFileState") if k in status
        ),
    )


def _diff_text(diff: Mapping[str, Any]) -> dict[str, str]:
    """A diff as text: ``before``/``after`` (file contents, or a state as JSON), headers and
    apt's ``prepared`` text, each cut at :data:`DIFF_LIMIT`."""
    out: dict[str, str] = {}
    for key in ("before", "after", "before_header", "after_header", "prepared"):
        value = diff.get(key)
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        out[key] = text[:DIFF_LIMIT]
    return out


def _stats(data: Mapping[str, Any]) -> dict[str, HostStats]:
    hosts: set[str] = set()
    for key in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored"):
        hosts |= set((data.get(key) or {}).keys())

    def count(key: str, host: str) -> int:
        return int((data.get(key) or {}).get(host, 0))

    return {
        h: HostStats(
            ok=count("ok", h),
            changed=count("changed", h),
            failures=count("failures", h),
            unreachable=count("dark", h),
            skipped=count("skipped", h),
            rescued=count("rescued", h),
            ignored=count("ignored", h),
        )
        for h in sorted(hosts)
    }


def _netns_wrapper(folder: Path, netns: str) -> Path:
    """A launcher that runs ansible-playbook inside the network namespace ``netns``."""
    if not _NETNS_RE.match(netns):
        raise ConfigError(f"network namespace name {netns!r} is not valid")
    playbook_bin = shutil.which("ansible-playbook")
    ip_bin = shutil.which("ip")
    if playbook_bin is None or ip_bin is None:
        raise ConfigError("ansible-playbook or ip not found on PATH (pip install ansible-core)")
    script = folder / "ansible-playbook-in-netns"
    script.write_text(
        "#!/bin/sh\n"
        f"exec {shlex.quote(ip_bin)} netns exec {shlex.quote(netns)} "
        f'{shlex.quote(playbook_bin)} "$@"\n'
    )
    script.chmod(0o700)
    return script


def run_playbook(
    playbook: str,
    *,
    target: SshTarget,
    extravars: Mapping[str, Any],
    tree: AnsibleTree,
    environment: str = "lab",
    tuning: Tuning = Tuning.AUTO,
    timeout: int = 1800,
    netns: str | None = None,
    on_event: Callable[[Mapping[str, Any]], None] | None = None,
    keep_data_dir: Path | None = None,
    run_scope: str = "",
    check: bool = False,
) -> PlaybookResult:
    """Run ``playbooks/<playbook>`` on ``target`` and return what it did.

    ``extravars`` are the request's values (``sop_request_id``, ``sop_request``,
    ``sop_vm_address``, ...): all their strings are marked unsafe. ``tree`` holds the
    playbooks, roles and inventories; ``environment`` picks
    ``inventories/<environment>/group_vars``. Raises :class:`AnsibleUnreachable`,
    :class:`AnsibleHostKeyRejected`, :class:`AnsibleTaskFailed` or :class:`AnsibleTimedOut`;
    the same call again continues where a failed run stopped. ``run_scope`` scopes the run
    marker its processes carry (:func:`sop_pipeline.adapters.processes.scope_of`).

    ``check``: ``--check --diff``: nothing on the server changes; every task that would
    change is in ``changes`` with its diff (``sop drift``'s Ansible check).
    """
    import ansible_runner

    playbooks = tree.playbooks
    if not re.match(r"^[a-z_]+\.yml$", playbook) or not (playbooks / playbook).is_file():
        raise ConfigError(f"no playbook playbooks/{playbook}")
    if not re.match(r"^[a-z0-9_-]+$", environment):
        raise ConfigError(f"environment {environment!r} is not a valid name")
    group_vars = tree.inventories / environment / "group_vars"
    if not group_vars.is_dir():
        raise ConfigError(f"no inventory for environment {environment!r}: {group_vars} is missing")
    if not target.known_hosts.is_file() or target.known_hosts.stat().st_size == 0:
        raise ConfigError(
            f"known_hosts {target.known_hosts} is missing or empty: refusing to trust on first use"
        )
    for name in extravars:
        if not _NAME_RE.match(name):
            raise ConfigError(f"extra var name {name!r} is not a plain identifier")
    chosen, settings = tuning_settings(tree.roles, tuning)
    request_id = extravars.get("sop_request_id")
    if isinstance(request_id, str) and RunMarker.parse(f"{request_id}:1:0") is not None:
        # Inherited by ansible-playbook's workers, mitogen's helpers and ssh: a run killed
        # here is found by the next run's sweep (adapters/terraform.py, exclusive()).
        settings[MARKER_VARIABLE] = processes.own_marker(request_id, run_scope).text()
    log = _EventLog(on_event=on_event)
    started = time.monotonic()

    with contextlib.ExitStack() as stack:
        if keep_data_dir is None:
            data_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sop-ansible-")))
        else:
            data_dir = keep_data_dir
            data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        data_dir.chmod(0o700)
        (data_dir / "env").mkdir(exist_ok=True, mode=0o700)
        (data_dir / "env" / "extravars").write_text(render_extravars(extravars))
        (data_dir / "env" / "extravars").chmod(0o600)
        inventory = data_dir / "inventory"
        if inventory.exists():
            shutil.rmtree(inventory)
        shutil.copytree(group_vars, inventory / "group_vars")
        (inventory / "hosts.yml").write_text(json.dumps(_inventory(target), indent=2))
        project = data_dir / "project"
        if not project.exists():
            project.symlink_to(playbooks, target_is_directory=True)

        kwargs: dict[str, Any] = {
            "private_data_dir": str(data_dir),
            "envvars": settings,
            "timeout": timeout,
            "event_handler": log.event,
            "status_handler": log.status_changed,
            "quiet": True,
            "rotate_artifacts": 1,
        }
        modes = " --check --diff" if check else ""
        if netns is None:
            kwargs["playbook"] = playbook
            if check:
                kwargs["cmdline"] = modes.strip()
        else:
            kwargs["binary"] = str(_netns_wrapper(data_dir, netns))
            kwargs["cmdline"] = shlex.quote(str(project / playbook)) + modes
        runner = ansible_runner.run(**kwargs)
        status, rc = str(runner.status), int(runner.rc if runner.rc is not None else -1)
        _stop_leftovers(data_dir)

    result = PlaybookResult(
        playbook=playbook,
        status=status,
        rc=rc,
        tuning=chosen,
        seconds=time.monotonic() - started,
        stats=dict(log.stats),
        changed_tasks=tuple(log.changed_tasks),
        failures=tuple(log.failures),
        unreachable=tuple(log.unreachable),
        changes=tuple(log.changes),
        check=check,
    )
    _raise_for(result, target)
    return result


def _stop_leftovers(data_dir: Path, *, wait: float = 10.0) -> None:
    """Kill what is left of a run: every process naming its private data dir, until none is
    left (a killed process may still be exiting, and one may have forked meanwhile).

    On a timeout ansible-runner kills the run's process group, but mitogen's helper, forked
    from ansible-playbook into a group of its own, lives on (and keeps its SSH connection to
    the VM) until the VM goes away.
    """
    marker = (str(data_dir) + "/").encode()
    deadline = time.monotonic() + wait
    while True:
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                if marker in (proc / "cmdline").read_bytes():  # a zombie's cmdline is empty
                    os.kill(int(proc.name), signal.SIGKILL)
                    found.append(proc.name)
            except (OSError, ValueError):
                continue  # gone already, or not ours to read
        if not found or time.monotonic() > deadline:
            return
        time.sleep(0.05)


def _raise_for(result: PlaybookResult, target: SshTarget) -> None:
    """Turn a run that did not succeed into the error that says why."""
    if result.status == "timeout":
        raise AnsibleTimedOut(
            f"playbooks/{result.playbook} on {target.address} stopped after {result.seconds:.0f} s",
            result=result,
        )
    # wait_for_connection reports a server it never reached as a failed task.
    unreachable = list(result.unreachable) + [
        f for f in result.failures if f.action.endswith("wait_for_connection")
    ]
    if unreachable:
        text = "; ".join(u.message for u in unreachable)
        cls = AnsibleHostKeyRejected if _HOST_KEY_RE.search(text) else AnsibleUnreachable
        raise cls(f"{target.user}@{target.address}:{target.port}: {text[:500]}", result=result)
    if result.failures:
        first = result.failures[0]
        raise AnsibleTaskFailed(
            f"playbooks/{result.playbook} failed at task {first.task!r} on {target.address}: "
            f"{first.message[:300]}",
            failures=result.failures,
            result=result,
        )
    if result.status != "successful" or result.rc != 0:
        raise AnsibleError(
            f"playbooks/{result.playbook} ended with status {result.status} (rc {result.rc})",
            result=result,
        )
