"""Paths and values shared by the Terraform integration tests."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

from sop_pipeline.adapters.terraform import TerraformRunner
from sop_pipeline.config import load_policy
from sop_pipeline.domain.request import Request
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
