"""The lab's network namespace: a bridge, its addresses, one tap per VM.

Everything of the lab lives in one network namespace (``soplab`` by default) that this module
creates. Inside it, ``lo`` is up and a bridge ``soplab0`` carries 10.99.0.1/24 (the lab's
gateway and the fake Proxmox API), 10.99.0.2 (BIND) and 10.99.0.3 (the Debian mirror). Each
lab VM gets a tap ``soptap<vmid>`` enslaved to the bridge. There is no default route and no
veth to the host, so nothing in the lab can leave the namespace.

All functions are idempotent: creating what exists or deleting what is gone is not an error.
Processes that must talk to lab addresses either run through :func:`run` / :func:`popen_argv`
(``ip netns exec``) or call :func:`enter` before they start any thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from sop_pipeline.errors import AdapterError

#: The lab's namespace, bridge and addresses (see the shared lab constants).
NAMESPACE = "soplab"
BRIDGE = "soplab0"
PREFIX_LEN = 24
GATEWAY = "10.99.0.1"
DNS_ADDRESS = "10.99.0.2"
MIRROR_ADDRESS = "10.99.0.3"
HOLDING_ADDRESS = "10.99.0.4"  # the holding host's maintenance page (lab.holding)
BRIDGE_ADDRESSES = (GATEWAY, DNS_ADDRESS, MIRROR_ADDRESS, HOLDING_ADDRESS)

_NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000


class NetnsError(AdapterError):
    """Creating, changing or entering the lab's network namespace failed."""

    def diagnostics(self) -> str:
        return f"{self}\nThe lab needs root (CAP_NET_ADMIN) and the `ip` command (Debian iproute2)."


def tap_name(vmid: int) -> str:
    """The tap device name of a lab VM (``soptap<vmid>``, at most 15 characters)."""
    name = f"soptap{int(vmid)}"
    if len(name) > 15:
        raise NetnsError(f"VMID {vmid} gives a tap name longer than 15 characters")
    return name


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``ip ARGS`` and raise :class:`NetnsError` with its stderr when it fails."""
    argv = ["ip", *args]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except FileNotFoundError as exc:
        raise NetnsError("the `ip` command is missing (apt-get install iproute2)") from exc
    if check and proc.returncode != 0:
        raise NetnsError(f"`{' '.join(argv)}` failed: {proc.stderr.strip()}")
    return proc


def exists(name: str = NAMESPACE) -> bool:
    """Whether the namespace ``name`` exists."""
    return (_NETNS_DIR / name).exists()


def _link_exists(name: str, link: str) -> bool:
    return _ip("-n", name, "link", "show", "dev", link, check=False).returncode == 0


def create(name: str = NAMESPACE) -> None:
    """Create the namespace with ``lo`` up and the bridge with the lab's addresses."""
    if not exists(name):
        _ip("netns", "add", name)
    _ip("-n", name, "link", "set", "lo", "up")
    if not _link_exists(name, BRIDGE):
        _ip("-n", name, "link", "add", BRIDGE, "type", "bridge")
    # No IPv6 on the lab bridge: nothing in the lab uses it, and DAD only slows the start.
    run(["sysctl", "-q", "-w", f"net.ipv6.conf.{BRIDGE}.disable_ipv6=1"], name=name)
    current = _ip("-n", name, "-o", "-4", "addr", "show", "dev", BRIDGE).stdout
    for address in BRIDGE_ADDRESSES:
        if f" {address}/" not in current:
            _ip("-n", name, "addr", "add", f"{address}/{PREFIX_LEN}", "dev", BRIDGE)
    _ip("-n", name, "link", "set", BRIDGE, "up")


def delete(name: str = NAMESPACE) -> None:
    """Delete the namespace and everything in it (bridge, taps). Gone already is fine."""
    if exists(name):
        _ip("netns", "delete", name)


def add_tap(vmid: int, name: str = NAMESPACE) -> str:
    """Create the VM's tap in the namespace, enslaved to the bridge and up; return its name."""
    tap = tap_name(vmid)
    if not _link_exists(name, tap):
        _ip("-n", name, "tuntap", "add", "dev", tap, "mode", "tap")
    _ip("-n", name, "link", "set", tap, "master", BRIDGE)
    _ip("-n", name, "link", "set", tap, "up")
    return tap


def remove_tap(vmid: int, name: str = NAMESPACE) -> None:
    """Remove the VM's tap. A missing tap or namespace is fine."""
    tap = tap_name(vmid)
    if exists(name) and _link_exists(name, tap):
        _ip("-n", name, "link", "delete", tap)


def links(name: str = NAMESPACE) -> list[str]:
    """Names of the network links in the namespace (for checks and tests)."""
    out = _ip("-n", name, "-o", "link", "show").stdout
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@", 1)[0])
    return names


def exec_argv(argv: Sequence[str], name: str = NAMESPACE) -> list[str]:
    """The argv that runs ``argv`` inside the namespace (``ip netns exec NAME ...``)."""
    return ["ip", "netns", "exec", name, *argv]


def run(
    argv: Sequence[str],
    name: str = NAMESPACE,
    *,
    timeout: float | None = 60,
    check: bool = False,
    input_text: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside the namespace and return its completed process (text output)."""
    if not exists(name):
        raise NetnsError(f"network namespace {name!r} does not exist (run `sop lab up`)")
    return subprocess.run(
        exec_argv(argv, name),
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
        input=input_text,
    )


def enter(name: str = NAMESPACE) -> None:
    """Move the calling process into the namespace with setns(2).

    Call it before any thread starts: setns moves only the calling thread, and threads
    started afterwards inherit it. Sockets opened before the call stay in the old namespace.
    """
    path = _NETNS_DIR / name
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise NetnsError(f"network namespace {name!r} does not exist (run `sop lab up`)") from exc
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise NetnsError(f"setns into {name!r} failed: {os.strerror(err)}")
    finally:
        os.close(fd)


def spawn(argv: Sequence[str], pidfile: Path, log: Path, name: str | None = NAMESPACE) -> int:
    """Start ``argv`` as a daemon (inside namespace ``name``, or on the host when None).

    Its output goes to ``log``; its pid is written to ``pidfile`` and returned. The process
    runs in its own session, so it outlives the caller until :func:`kill_pidfile`.
    """
    full = exec_argv(argv, name) if name else list(argv)
    if name and not exists(name):
        raise NetnsError(f"network namespace {name!r} does not exist (run `sop lab up`)")
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        try:
            proc = subprocess.Popen(
                full,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError as exc:
            raise NetnsError(f"{argv[0]} is not installed") from exc
    pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def pid_alive(pidfile: Path) -> int | None:
    """The pid in ``pidfile`` if that process still runs (and is not a zombie), else None."""
    try:
        pid = int(pidfile.read_text().strip())
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ValueError):
        return None
    state = stat.rsplit(")", 1)[-1].split()[0]
    return None if state == "Z" else pid


def kill_pidfile(pidfile: Path, timeout: float = 10.0) -> None:
    """End the process in ``pidfile`` (SIGTERM, then SIGKILL) and remove the file."""
    pid = pid_alive(pidfile)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pidfile) is not None and time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            time.sleep(0.05)
        if pid_alive(pidfile) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
    pidfile.unlink(missing_ok=True)
