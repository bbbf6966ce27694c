"""BIND 9 in the lab: the department's primary for its zone and the lab pool's reverse zone.

One :class:`BindInstance` is one ``named`` process with its own folder, address and port
(two ``named`` on one address and port answer at random, so each instance gets its own).
The lab's instance listens at 10.99.0.2:53 inside the lab namespace; DNS-only tests start
theirs on a 127.x address and a free port on the host.

Dynamic updates are signed with the TSIG key ``sop-pipeline`` (hmac-sha256). The
``update-policy`` lets that key change only what the pipeline manages:

- forward zone: A and TXT records of names under the zone, except the reserved names
  (the apex, ``ns1`` and the others in :data:`RESERVED_LABELS`), which are denied first;
- reverse zone: PTR records of the lab pool's addresses (10.99.0.100 - 10.99.0.199) only.

BIND cannot express "exactly one label" in a policy; deeper names under the zone are within
the grant, and the DNS adapter refuses them before sending anything.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sop_pipeline.errors import AdapterError
from sop_pipeline.lab import netns

ZONE = "sumbarprov.go.id"
REVERSE_ZONE = "0.99.10.in-addr.arpa"
KEY_NAME = "sop-pipeline"
KEY_ALGORITHM = "hmac-sha256"
POOL_FIRST = ipaddress.IPv4Address("10.99.0.100")
POOL_LAST = ipaddress.IPv4Address("10.99.0.199")
#: Names in the zone the pipeline must never change (denied before the grant).
RESERVED_LABELS = ("ns1", "ns2", "www", "mail", "mx", "smtp", "pve", "mirror")
#: Fixed lab records: label -> address.
BASE_RECORDS = {"ns1": netns.DNS_ADDRESS, "mirror": netns.MIRROR_ADDRESS, "pve": netns.GATEWAY}


class BindError(AdapterError):
    """Configuring, starting or stopping the lab's BIND failed."""

    def diagnostics(self) -> str:
        return f"{self}\nThe lab's DNS needs Debian's bind9 and bind9-utils (.ci/setup/lab.sh)."


def generate_secret() -> str:
    """A new random TSIG secret (32 bytes, base64), as ``tsig-keygen`` makes."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def free_port(address: str) -> int:
    """A port free for both UDP and TCP on ``address`` (checked at the time of the call)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind((address, 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind((address, port))
                except OSError:
                    continue
                return port
    raise BindError(f"no free port on {address}")


@dataclass(frozen=True)
class BindInstance:
    """One ``named``: its folder, where it listens, its key, the zones' extra records.

    ``extra_records`` maps a zone name to zone-file lines added after the base records
    (tests use it to put other owners' records in place). ``namespace`` None runs on the
    host (DNS-only tests: 127.0.0.1 and a free port; named binds only addresses that an
    interface carries, so other 127.x addresses do not work without adding them to ``lo``).
    """

    directory: Path
    address: str = netns.DNS_ADDRESS
    port: int = 53
    key_secret: str = field(default_factory=generate_secret, repr=False)
    namespace: str | None = netns.NAMESPACE
    zone: str = ZONE
    reverse_zone: str = REVERSE_ZONE
    extra_records: Mapping[str, Sequence[str]] = field(default_factory=dict)

    @property
    def pidfile(self) -> Path:
        """Where the daemon's pid is kept."""
        return self.directory / "named.pid"

    @property
    def key_file(self) -> Path:
        """The TSIG key in named.conf syntax (0600)."""
        return self.directory / f"{KEY_NAME}.key"


def _soa(zone: str) -> list[str]:
    return [
        "$TTL 300",
        f"@ IN SOA ns1.{ZONE}. hostmaster.{ZONE}. 1 3600 600 86400 60",
        f"@ IN NS ns1.{ZONE}.",
    ]


def _forward_zone(inst: BindInstance) -> str:
    lines = _soa(inst.zone)
    lines += [f"{label} IN A {ip}" for label, ip in BASE_RECORDS.items()]
    lines += list(inst.extra_records.get(inst.zone, ()))
    return "\n".join(lines) + "\n"


def _reverse_zone(inst: BindInstance) -> str:
    lines = _soa(inst.reverse_zone)
    for label, ip in BASE_RECORDS.items():
        lines.append(f"{ip.rsplit('.', 1)[1]} IN PTR {label}.{ZONE}.")
    lines += list(inst.extra_records.get(inst.reverse_zone, ()))
    return "\n".join(lines) + "\n"


def _policy_forward(inst: BindInstance) -> list[str]:
    rules = [f"deny {KEY_NAME} name {inst.zone}. ANY;"]
    rules += [f"deny {KEY_NAME} name {label}.{inst.zone}. ANY;" for label in RESERVED_LABELS]
    rules.append(f"grant {KEY_NAME} wildcard *.{inst.zone}. A TXT;")
    return rules


def _policy_reverse(inst: BindInstance) -> list[str]:
    rules = []
    for value in range(int(POOL_FIRST), int(POOL_LAST) + 1):
        ptr = ipaddress.IPv4Address(value).reverse_pointer
        if ptr.endswith("." + inst.reverse_zone):
            rules.append(f"grant {KEY_NAME} name {ptr}. PTR;")
    return rules


def named_conf(inst: BindInstance) -> str:
    """The named.conf of ``inst``: no recursion, transfers only with the TSIG key (``sop
    drift`` reads the zone by AXFR), no rndc, logs in its folder."""
    d = inst.directory
    fwd = "\n".join("    " + r for r in _policy_forward(inst))
    rev = "\n".join("    " + r for r in _policy_reverse(inst))
    return f"""options {{
  directory "{d}";
  pid-file none;
  listen-on port {inst.port} {{ {inst.address}; }};
  listen-on-v6 {{ none; }};
  recursion no;
  allow-transfer {{ key {KEY_NAME}; }};
  notify no;
  dnssec-validation no;
  session-keyfile none;
  managed-keys-directory "{d}";
}};
controls {{ }};
include "{inst.key_file}";
logging {{
  channel main {{ file "{d}/named.log"; severity info; print-time yes; print-category yes; }};
  category default {{ main; }};
  category update {{ main; }};
  category update-security {{ main; }};
  category security {{ main; }};
}};
zone "{inst.zone}" {{
  type primary;
  file "{d}/db.forward";
  update-policy {{
{fwd}
  }};
}};
zone "{inst.reverse_zone}" {{
  type primary;
  file "{d}/db.reverse";
  update-policy {{
{rev}
  }};
}};
"""


def write(inst: BindInstance) -> None:
    """Write the instance's folder: named.conf, key (0600), zone files (fresh, no journals)."""
    inst.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    for journal in inst.directory.glob("db.*.jnl"):
        journal.unlink()
    inst.key_file.touch(mode=0o600)
    inst.key_file.write_text(
        f'key "{KEY_NAME}" {{\n  algorithm {KEY_ALGORITHM};\n  secret "{inst.key_secret}";\n}};\n'
    )
    (inst.directory / "db.forward").write_text(_forward_zone(inst))
    (inst.directory / "db.reverse").write_text(_reverse_zone(inst))
    (inst.directory / "named.conf").write_text(named_conf(inst))
    _check(["named-checkconf", "-z", str(inst.directory / "named.conf")])


def _check(argv: list[str]) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
    except FileNotFoundError as exc:
        raise BindError(f"{argv[0]} is missing (apt-get install bind9 bind9-utils)") from exc
    if proc.returncode != 0:
        raise BindError(f"{argv[0]} refused the configuration: {proc.stdout}{proc.stderr}")


def start(inst: BindInstance, *, timeout: float = 20) -> int:
    """Write the configuration and start ``named``; return its pid once it answers SOA.

    An instance whose ``named`` already runs is left as it is.
    """
    running = netns.pid_alive(inst.pidfile)
    if running is not None:
        return running
    write(inst)
    named = shutil.which("named") or "/usr/sbin/named"
    argv = [named, "-f", "-4", "-c", str(inst.directory / "named.conf"), "-n", "1"]
    pid = netns.spawn(argv, inst.pidfile, inst.directory / "named.out", inst.namespace)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if netns.pid_alive(inst.pidfile) is None:
            log = (inst.directory / "named.out").read_text(errors="replace")[-1500:]
            raise BindError(f"named exited at start:\n{log}")
        if _answers(inst):
            return pid
        time.sleep(0.1)
    stop(inst)
    raise BindError(f"named did not answer at {inst.address}:{inst.port} within {timeout:.0f} s")


_PROBE = (
    "import sys, dns.message, dns.query, dns.rcode\n"
    "q = dns.message.make_query(sys.argv[1], 'SOA')\n"
    "r = dns.query.udp(q, sys.argv[2], port=int(sys.argv[3]), timeout=1)\n"
    "sys.exit(0 if r.rcode() == dns.rcode.NOERROR and r.answer else 1)\n"
)


def _answers(inst: BindInstance) -> bool:
    argv = [sys.executable, "-c", _PROBE, inst.zone, inst.address, str(inst.port)]
    if inst.namespace:
        return netns.run(argv, inst.namespace, timeout=10).returncode == 0
    proc = subprocess.run(argv, capture_output=True, check=False, timeout=10)
    return proc.returncode == 0


def stop(inst: BindInstance) -> None:
    """Stop ``named``. Stopping one that does not run is fine."""
    netns.kill_pidfile(inst.pidfile)
