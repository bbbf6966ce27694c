"""Benchmark: one `sop drift` run over 1, 10 and 50 hostings in the lab, no guest booted.

The lab's PVE (fakepve + the compatibility layer) and a BIND on 127.0.0.1. Each hosting is
built as step 8 builds it: allocation, ``terraform apply`` of the request stack on pve1 (a
clone onto pve2 from pve1's template hangs in the lab's PVE: not yet looked into), the DNS
record, step 8's record in a ledger. The VMs are "running" in the fake PVE, but no guest is
booted (stopping them would be real drift: the module says ``started = true``). Building is
not timed. The timed part is the use case of ``sop drift``: Proxmox, DNS (AXFR), the
allocator, one ``terraform plan -refresh-only`` per hosting (at most ``--per-node`` at once
on a node), and the drift records. It prints the seconds per size and per hosting, and
checks that the untouched lab reports no drift.

    python bench/bench_drift.py                     # 1, 10 and 50 hostings
    python bench/bench_drift.py --sizes 1 10 --per-node 2
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sop_pipeline.adapters.infrastructure import Infrastructure  # noqa: E402
from sop_pipeline.config import load_policy, load_pools  # noqa: E402
from sop_pipeline.lab import bind  # noqa: E402
from sop_pipeline.lab import pve as lab_pve  # noqa: E402
from sop_pipeline.ledger.store import LedgerStore  # noqa: E402
from sop_pipeline.ledger.tracking import STEP_KIND  # noqa: E402
from sop_pipeline.loader import read_request_model  # noqa: E402
from sop_pipeline.steps import drift as uc  # noqa: E402
from sop_pipeline.steps.analysis import stack_tfvars  # noqa: E402


def start(lab_dir: Path) -> tuple[lab_pve.RunningPve, bind.BindInstance, Infrastructure]:
    pve = lab_pve.start(
        host="127.0.0.1", port=0, state_dir=lab_dir / "pve", backend=lab_pve.ConfigAgentBackend()
    )
    server = bind.BindInstance(
        directory=lab_dir / "bind",
        address="127.0.0.1",
        port=bind.free_port("127.0.0.1"),
        namespace=None,
    )
    bind.start(server)
    (lab_dir / "lab.json").write_text(
        json.dumps(
            {
                "pve_url": pve.url,
                "pve_token_file": str(lab_dir / "pve" / "pve-token"),
                "pve_cafile": str(pve.cafile),
                "tsig_secret_file": str(server.key_file),
                "tsig_key_name": bind.KEY_NAME,
                "dns_server": server.address,
                "dns_port": server.port,
                "namespace": "",
            }
        )
    )
    return pve, server, Infrastructure.from_lab(lab_dir)


def build(root: Path, infra: Infrastructure, count: int) -> None:
    """``count`` hostings bench-001..., each applied by Terraform, published, recorded."""
    policy = load_policy(REPO / "inventories")
    allocator = infra.allocator(load_pools(REPO / "inventories" / "pools.yaml"))
    template = infra.proxmox().find_template("debian-12-cloudinit")
    example = (REPO / "requests" / "dinkes-simpus.yaml").read_text()
    (root / "requests").mkdir(parents=True, exist_ok=True)
    ledgers = LedgerStore(root / "records")

    def one(n: int) -> None:
        rid, label = f"bench-{n:03d}", f"bench{n:03d}"
        path = root / "requests" / f"{rid}.yaml"
        path.write_text(re.sub(r"(?m)^hostname: .*$", f"hostname: {label}", example))
        facts = read_request_model(path, zone=policy.zone)
        assert facts is not None, path
        allocation = allocator.allocate(rid, "lab")
        node = "pve1"  # a clone onto pve2 from pve1's template hangs in the lab's PVE
        runner = infra.terraform_runner(rid, REPO / "terraform")
        with runner.exclusive():
            runner.prepare(stack_tfvars(facts, infra, template, allocation, node))
            runner.init()
            runner.plan(detailed=False)
            runner.apply()
        infra.dns(policy.zone).publish(label, allocation.ipv4, rid)
        at = datetime.now(UTC)
        hosting = {"vmid": allocation.vmid, "node": node, "ip_address": allocation.ipv4}
        hosting |= {"fqdn": facts.fqdn, "stack": "php", "checks": []}
        hosting |= {"started": at.isoformat(), "finished": at.isoformat(), "url": ""}
        ledgers.for_request(rid).append(
            kind=STEP_KIND, step=8, actor="bench", at=at, data={"hosting": hosting}
        )

    for n in range(1, count + 1):  # one at a time: parallel clones of one template contend
        one(n)


def measure(count: int, per_node: int) -> float:
    with tempfile.TemporaryDirectory(prefix="sop-bench-drift-") as tmp:
        root = Path(tmp)
        pve, server, infra = start(root / "lab")
        try:
            build(root, infra, count)
            policy = load_policy(REPO / "inventories")
            ledgers = LedgerStore(root / "records")
            started = time.monotonic()
            lookup = uc.live_hostings(
                ledgers, root / "requests", zone=policy.zone, environment="lab"
            )
            sources = uc.DriftSources(
                proxmox=infra.proxmox(),
                zone=infra.dns(policy.zone),
                zone_name=policy.zone,
                allocator=infra.allocator(load_pools(REPO / "inventories" / "pools.yaml")),
                terraform=lambda rid: infra.terraform_runner(rid, REPO / "terraform"),
                known_names=[f"{n}.{policy.zone}" for n in bind.RESERVED_LABELS],
                per_node=per_node,
            )
            report = uc.check_drift(lookup, sources)
            uc.record_drift(report, ledgers, at=datetime.now(UTC))
            seconds = time.monotonic() - started
            if report.failed or report.items:
                raise SystemExit(f"untouched lab reported {report.failed or report.items}")
            assert len(report.hostings) == count
            return seconds
        finally:
            bind.stop(server)
            pve.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--per-node", type=int, default=2)
    args = parser.parse_args()
    if shutil.which("named") is None:
        raise SystemExit("named is missing: apt-get install bind9 (.ci/setup/lab.sh)")
    print(
        f"sop drift, lab PVE + BIND, hostings on pve1, {args.per_node} Terraform refreshes at once"
    )
    for count in args.sizes:
        seconds = measure(count, args.per_node)
        print(
            f"  {count:>3} hostings: {seconds:6.1f} s  ({seconds / count:.2f} s per hosting), "
            "no drift"
        )


if __name__ == "__main__":
    main()
