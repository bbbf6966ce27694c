"""Benchmark: converge a fresh lab VM with playbooks/site.yml, then re-run it, per tuning.

For each tuning (Ansible's defaults; tuned: pipelining, SSH ControlPersist, explicit fact
gathering; mitogen: the mitogen_linear strategy on top of tuned), the benchmark boots a fresh
lab VM from the image, converges it with site.yml for one example request (timed), re-runs
the same playbook (timed; it must report changed=0) and destroys the VM. It prints both times
side by side with the ratio to the defaults. Booting is not timed.

Run as root on a machine with the lab image built (``.ci/setup/lab.sh``):

    python bench/bench_ansible.py                 # all three tunings, stack static
    python bench/bench_ansible.py --tunings tuned mitogen --stack php
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests" / "integration" / "ansible"))

import ansible_labvm  # noqa: E402

from sop_pipeline.adapters import ansible as adapter  # noqa: E402
from sop_pipeline.lab import bind, netns  # noqa: E402

TREE = adapter.AnsibleTree.under(REPO)

VMID = 8995
ADDRESS = "10.99.0.195"
DNS_PORT = 5356


def request(stack: str) -> dict[str, object]:
    """The example request's extra vars (without the DNS settings)."""
    return {
        "sop_request_id": f"bench-{stack}",
        "sop_request": {
            "hostname": f"bench-{stack}",
            "opd": {"code": "diskominfo", "name": "Dinas Komunikasi dan Informatika"},
            "application": {"name": "Aplikasi Uji Kecepatan", "kind": "website", "stack": stack},
        },
        "sop_vm_address": ADDRESS,
    }


def measure(
    tuning: adapter.Tuning, stack: str, state: Path, dns: bind.BindInstance
) -> tuple[adapter.Tuning, float, float, int]:
    """Boot a fresh VM, converge and re-run; return (tuning used, converge s, re-run s, changed)."""
    ansible_labvm.destroy(state, VMID)
    vm = ansible_labvm.boot(state, VMID, ADDRESS)
    extra = request(stack) | {"dns_record_port": DNS_PORT, "dns_record_key_file": str(dns.key_file)}
    try:
        first = adapter.run_playbook(
            "site.yml",
            target=vm.target(),
            tree=TREE,
            extravars=extra,
            netns="soplab",
            tuning=tuning,
        )
        again = adapter.run_playbook(
            "site.yml",
            target=vm.target(),
            tree=TREE,
            extravars=extra,
            netns="soplab",
            tuning=tuning,
        )
    finally:
        ansible_labvm.destroy(state, VMID)
        # The next fresh VM publishes the same name: remove this one's records first.
        _forget_name(dns, stack)
    return first.tuning, first.seconds, again.seconds, again.changed


def _forget_name(dns: bind.BindInstance, stack: str) -> None:
    bind.stop(dns)
    bind.start(dns)  # a fresh zone (write() drops the journals)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tunings",
        nargs="+",
        default=["defaults", "tuned", "mitogen"],
        choices=["defaults", "tuned", "mitogen"],
    )
    parser.add_argument("--stack", default="static", choices=["static", "php", "nodejs", "python"])
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="sop-bench-ansible-"))
    ansible_labvm.ensure_lab(state)
    netns.create()
    dns = bind.BindInstance(directory=state / "bind", port=DNS_PORT)
    bind.start(dns)
    rows = []
    try:
        for name in args.tunings:
            used, converge, rerun, changed = measure(adapter.Tuning(name), args.stack, state, dns)
            rows.append((name, str(used), converge, rerun, changed))
            print(f"{name:9} ({used}): converge {converge:7.1f} s, re-run {rerun:7.1f} s, "
                  f"re-run changed={changed}", flush=True)  # fmt: skip
    finally:
        bind.stop(dns)
    base = next((r for r in rows if r[0] == "defaults"), rows[0])
    print()
    print(
        f"site.yml, stack {args.stack}, fresh lab VM ({ansible_labvm.backend(state).accelerator})"
    )
    print(f"{'tuning':10} {'used':9} {'converge s':>11} {'re-run s':>9} {'x converge':>11} "
          f"{'x re-run':>9} {'changed':>8}")  # fmt: skip
    for name, used, converge, rerun, changed in rows:
        print(f"{name:10} {used:9} {converge:11.1f} {rerun:9.1f} {base[2] / converge:11.2f} "
              f"{base[3] / rerun:9.2f} {changed:8d}")  # fmt: skip
    return 0 if all(r[4] == 0 for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
