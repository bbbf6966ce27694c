"""Runs step 8 of a retirement (``steps.retirement.retire``) in a process of its own, so
that test_retirement.py can kill it with -9 at a chosen call. Settings come from RT_*."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from tf_support import CLI_CONFIG, ROOT

from sop_pipeline.adapters import dns as sopdns
from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.proxmox import ProxmoxSettings
from sop_pipeline.adapters.retirement import LabRestoreCheck, ProxmoxRetirement
from sop_pipeline.adapters.terraform import ProxmoxAccess, TerraformRunner, TerraformSettings
from sop_pipeline.config import load_pools
from sop_pipeline.lab import bind
from sop_pipeline.ledger import LedgerStore
from sop_pipeline.steps.retirement import Hosting, retire


def main() -> None:
    env = os.environ
    tmp = Path(env["RT_TMP"])
    url, token, ca = env["RT_PVE_URL"], env["RT_PVE_TOKEN"], Path(env["RT_PVE_CA"])
    settings = TerraformSettings(
        source_dir=ROOT / "terraform",
        work_root=tmp / "work",
        cli_config=CLI_CONFIG,
        binary=env["RT_TF_BIN"],
        plugin_timeout_seconds=600,
    )
    runner = TerraformRunner(settings, ProxmoxAccess(url + "/", token, ca), "dinkes-simpus")
    dns = sopdns.DnsAdapter(
        sopdns.DnsSettings(
            server="127.0.0.1",
            port=int(env["RT_BIND_PORT"]),
            zone=bind.ZONE,
            reverse_zone=bind.REVERSE_ZONE,
            key_name=bind.KEY_NAME,
            key_secret=env["RT_BIND_SECRET"],
            timeout=3.0,
        )
    )
    allocator = Allocator(
        load_pools(ROOT / "inventories" / "pools.yaml"), f"sqlite:///{tmp / 'alloc.sqlite'}"
    )
    retire(
        Hosting(
            "dinkes-simpus",
            1000,
            env["RT_NODE"],
            "10.99.0.100",
            "simpus",
            f"simpus.{bind.ZONE}",
            "lab",
        ),
        ledger=LedgerStore(tmp / "records").for_request("dinkes-simpus"),
        cluster=ProxmoxRetirement(ProxmoxSettings(endpoint=url, api_token=token, ca_file=ca)),
        restore=LabRestoreCheck(tmp / "pve" / "backup"),
        terraform=runner,
        dns=dns,
        allocator=allocator,
        backup_storage="backup",
        quarantine_days=30,
        statements={"step-04": "a" * 64, "step-07": "b" * 64},
        now=lambda: datetime(2026, 12, 7, 3, 0, tzinfo=UTC),
    )


if __name__ == "__main__":
    main()
