"""Action ``sop_dns_record``: RFC 2136 updates with TSIG through the pipeline's DNS adapter.

It runs in the controller's ansible-playbook process and never connects to the managed
host. All DNS logic (prerequisites, reply codes, confirming queries, ownership) lives in
:mod:`sop_pipeline.adapters.dns`; this file only reads the key file, calls the adapter and
turns its errors into a failed task whose message names the error class.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ansible.plugins.action import ActionBase

_SECRET_RE = re.compile(r'secret\s+"([A-Za-z0-9+/=]+)"\s*;')
_ARGS = {
    "name", "address", "owner", "state", "server", "port", "zone", "reverse_zone",
    "key_name", "key_algorithm", "key_file", "ttl", "timeout",
}  # fmt: skip


def read_key_secret(path: str) -> str:
    """The ``secret "..."`` of a TSIG key file in named.conf syntax."""
    match = _SECRET_RE.search(Path(path).read_text())
    if match is None:
        raise ValueError(f"{path} holds no TSIG secret")
    return match.group(1)


def _plan_diff(plan: Any) -> dict[str, str]:
    """``before``/``after`` of the name's A and PTR records for a publish plan."""
    after = [f"{plan.fqdn} A {plan.address}"]
    before = (
        [f"{plan.fqdn} A {a}" for a in plan.stale_addresses] if plan.forward != "create" else []
    )
    if plan.forward == "none":
        before = list(after)
    if plan.reverse != "skip":
        after.append(f"PTR {plan.address} {plan.fqdn}")
        if plan.reverse == "none":
            before.append(f"PTR {plan.address} {plan.fqdn}")
    return {
        "before": "".join(line + "\n" for line in before),
        "after": "".join(line + "\n" for line in after),
        "before_header": f"DNS {plan.fqdn}",
        "after_header": f"DNS {plan.fqdn}",
    }


class ActionModule(ActionBase):
    """Publish or remove one name's A, TXT (owner) and PTR records."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: Any = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = dict(self._task.args)
        unknown = sorted(set(args) - _ARGS)
        if unknown:
            return {**result, "failed": True, "msg": f"unknown arguments: {unknown}"}
        try:
            from sop_pipeline.adapters.dns import DnsAdapter, DnsError, DnsSettings
        except ImportError as exc:
            return {
                **result,
                "failed": True,
                "msg": f"sop_pipeline is not importable on the controller ({exc}); "
                "pip install -e the repository or set PYTHONPATH",
            }
        try:
            secret = read_key_secret(str(args["key_file"]))
        except (OSError, ValueError, KeyError) as exc:
            return {**result, "failed": True, "msg": f"TSIG key file: {exc}"}
        try:
            settings = DnsSettings(
                server=str(args["server"]),
                zone=str(args["zone"]),
                key_secret=secret,
                key_name=str(args.get("key_name", "sop-pipeline")),
                key_algorithm=str(args.get("key_algorithm", "hmac-sha256")),
                reverse_zone=str(args.get("reverse_zone") or "") or None,
                port=int(args.get("port", 53)),
                ttl=int(args.get("ttl", 300)),
                timeout=float(args.get("timeout", 5)),
            )
            adapter = DnsAdapter(settings)
            label, address, owner = str(args["name"]), str(args["address"]), str(args["owner"])
            if args.get("state", "present") == "present":
                plan = adapter.plan_publish(label, address, owner)
                changed = plan.forward != "none" or plan.reverse == "create"
                if not self._task.check_mode:
                    adapter.apply(plan)
                out = {
                    **result,
                    "changed": changed,
                    "fqdn": plan.fqdn,
                    "forward": plan.forward,
                    "reverse": plan.reverse,
                }
                if changed:  # what the zone holds, and what it will hold (check mode's drift)
                    out["diff"] = _plan_diff(plan)
                return out
            owned = adapter.owner_of(label) == owner
            if not self._task.check_mode:
                adapter.remove(label, address, owner)
            return {
                **result,
                "changed": owned,
                "forward": "remove" if owned else "none",
                "reverse": "remove" if owned else "none",
            }
        except DnsError as exc:
            return {
                **result,
                "failed": True,
                "error": type(exc).__name__,
                "msg": f"{type(exc).__name__}: {exc.diagnostics()}",
            }
        except (KeyError, ValueError, TypeError) as exc:
            return {**result, "failed": True, "msg": f"bad arguments: {exc}"}
