"""Paths and values shared by the Terraform integration tests."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from sop_pipeline.adapters.terraform import TerraformRunner
from sop_pipeline.config import load_policy
from sop_pipeline.domain.request import Request
from sop_pipeline.lab.pve import RunningPve
from sop_pipeline.loader import load_request
from sop_pipeline.steps.provisioning import Placement

ROOT = Path(__file__).resolve().parents[3]
CACHE = Path(os.environ.get("SOP_CACHE", "/var/cache/sop-pipeline"))
CLI_CONFIG = CACHE / "terraform" / "cli.tfrc"
MIRROR_BIN = (
    CACHE
    / "terraform"
    / "mirror"
    / "registry.terraform.io"
    / "bpg"
    / "proxmox"
    / "0.111.1"
    / "linux_amd64"
    / "terraform-provider-proxmox_v0.111.1"
)


RunnerFactory = Callable[..., TerraformRunner]
#: ``create(request_id, runner, **options)``: step 8's Terraform part (``create_vm``) on the lab.
CreateVm = Callable[..., Placement]


def facts_for(request_id: str) -> Request:
    """The repository's example request under another id, sized small (2 vCPU, 2 GiB, 20 GB)."""
    policy = load_policy(ROOT / "inventories")
    loaded = load_request(ROOT / "requests" / "dinkes-simpus.yaml", policy=policy)
    facts = loaded.request
    small = dataclasses.replace(facts.resources, vcpu=2, memory_mb=2048, disk_gb=20)
    return dataclasses.replace(facts, request_id=request_id, resources=small)


def driver_env(lab: RunningPve, tf_bin: str, admin_key: str, tmp_path: Path) -> dict[str, str]:
    """The SOP_* settings a step-8 driver process reads: the lab's PVE, a sqlite allocator
    and working copies under ``tmp_path``."""
    keys = tmp_path / "admin.pub"
    keys.write_text(admin_key + "\n")
    return {
        **os.environ,
        "SOP_ENVIRONMENT": "lab",
        "SOP_PVE_URL": lab.url,
        "SOP_PVE_TOKEN": lab.token,
        "SOP_PVE_CA_FILE": str(lab.cafile),
        "SOP_ALLOCATOR_DSN": f"sqlite:///{tmp_path / 'alloc.sqlite'}",
        "SOP_DNS_SERVER": "127.0.0.1",
        "SOP_SSH_PUBLIC_KEYS_FILE": str(keys),
        "SOP_TF_BINARY": tf_bin,
        "SOP_TF_CLI_CONFIG": str(CLI_CONFIG),
        "SOP_TF_WORK_DIR": str(tmp_path / "work"),
    }


def guests(lab: RunningPve) -> list[int]:
    """The VMIDs of the lab PVE's guests (not templates), in order."""
    return sorted(vm.vmid for vm in lab.pve.vms if not vm.template)
