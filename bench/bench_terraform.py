"""Benchmark: Terraform phases for one request, and throughput of 1, 5 and 20 requests at once.

Runs the real terraform CLI and the real bpg/proxmox provider from the offline mirror against
the lab PVE, served in this process on 127.0.0.1 (agent answered from each guest's ipconfig0).
Needs `bash .ci/setup/terraform.sh` first.

    python bench/bench_terraform.py [--counts 1,5,20] [--per-node 20]

Prints one line per phase and per batch; the figures are wall-clock seconds on this machine.
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sop_pipeline.adapters.node_slots import NodeLimiter  # noqa: E402
from sop_pipeline.adapters.proxmox import ProxmoxAdapter, ProxmoxSettings  # noqa: E402
from sop_pipeline.adapters.terraform import (  # noqa: E402
    ProxmoxAccess,
    TerraformRunner,
    TerraformSettings,
    request_tfvars,
)
from sop_pipeline.lab import pve as lab_pve  # noqa: E402

CACHE = Path(os.environ.get("SOP_CACHE", "/var/cache/sop-pipeline"))


def one(
    runner: TerraformRunner,
    proxmox: ProxmoxAdapter,
    n: int,
    key: str,
    limiter: NodeLimiter,
    phases: dict[str, list[float]] | None = None,
) -> float:
    """Provision request n; returns its wall time. Records phase times when asked."""
    started = time.monotonic()
    marks = [("start", started)]
    runner.prepare(
        request_tfvars(
            request_id=runner.request_id,
            opd_code="DINKES",
            environment="lab",
            vcpu=2,
            memory_mb=2048,
            disk_gb=20,
            os_template={"name": "debian-12-cloudinit", "vm_id": 9000, "node_name": "pve1"},
            vmid=1000 + n,
            node_name="pve1",
            ipv4=f"10.99.0.{100 + n}",
            prefix=24,
            gateway="10.99.0.1",
            dns_servers=["10.99.0.2"],
            ssh_public_keys=[key],
        )
    )
    with limiter.slot("pve1"):
        runner.init()
        marks.append(("init", time.monotonic()))
        runner.plan(detailed=False)
        marks.append(("plan", time.monotonic()))
        runner.apply()
        marks.append(("apply", time.monotonic()))
    proxmox.wait_for_address("pve1", 1000 + n, timeout=60, interval=0.2)
    marks.append(("wait for agent", time.monotonic()))
    if phases is not None:
        for (_, t0), (name, t1) in itertools.pairwise(marks):
            phases.setdefault(name, []).append(t1 - t0)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,5,20")
    parser.add_argument(
        "--per-node", type=int, default=20, help="NodeLimiter bound per Proxmox node"
    )
    args = parser.parse_args()
    binary = shutil.which("terraform") or str(CACHE / "terraform/bin/tofu")
    cli_config = CACHE / "terraform/cli.tfrc"
    if not cli_config.exists():
        print(
            "run `bash .ci/setup/terraform.sh` first (offline provider mirror missing)",
            file=sys.stderr,
        )
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-tf-"))
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / "k")], check=True
    )
    key = (tmp / "k.pub").read_text().strip()
    version = subprocess.run(
        [binary, "version"],
        capture_output=True,
        text=True,
        env={"TF_CLI_CONFIG_FILE": str(cli_config), "PATH": os.environ["PATH"]},
    ).stdout
    print(
        f"terraform: {version.splitlines()[0]}; provider bpg/proxmox 0.111.1 (mirror); "
        f"cores: {os.cpu_count()}"
    )
    lab = lab_pve.start(
        host="127.0.0.1", port=0, state_dir=tmp / "pve", backend=lab_pve.ConfigAgentBackend()
    )
    try:
        proxmox = ProxmoxAdapter(
            ProxmoxSettings(endpoint=lab.url, api_token=lab.token, ca_file=lab.cafile)
        )
        access = ProxmoxAccess(endpoint=lab.url + "/", api_token=lab.token, ca_file=lab.cafile)
        limiter = NodeLimiter(f"sqlite:///{tmp / 'allocator.sqlite'}", per_node=args.per_node)
        batch = 0
        single: float | None = None

        def runner(name: str) -> TerraformRunner:
            settings = TerraformSettings(
                source_dir=ROOT / "terraform",
                work_root=tmp / f"work{batch}",
                cli_config=cli_config,
                binary=binary,
            )
            return TerraformRunner(settings, access, name)

        # Phases of one request (the first init also links the provider from the plugin cache).
        phases: dict[str, list[float]] = {}
        one(runner("bench-first"), proxmox, 0, key, limiter, phases)
        reinit = runner("bench-first")
        t0 = time.monotonic()
        reinit.init()
        phases["init again (same working copy)"] = [time.monotonic() - t0]
        for name, values in phases.items():
            print(f"phase {name:32s} {values[0]:6.2f} s")
        for count in [int(c) for c in args.counts.split(",")]:
            batch += 1
            base = batch * 25
            times: list[float] = []
            lock = threading.Lock()

            def run(
                n: int, base: int = base, times: list[float] = times, lock: threading.Lock = lock
            ) -> None:
                took = one(runner(f"bench{base + n:03d}"), proxmox, base + n, key, limiter)
                with lock:
                    times.append(took)

            started = time.monotonic()
            threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            wall = time.monotonic() - started
            single = single or wall
            print(
                f"batch {count:2d} at once: wall {wall:6.2f} s ({wall / single:4.1f}x one), "
                f"{count / wall:5.2f} requests/s, "
                f"median per request {statistics.median(times):6.2f} s"
                + (f", {len(times)}/{count} done" if len(times) != count else "")
            )
    finally:
        lab.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
