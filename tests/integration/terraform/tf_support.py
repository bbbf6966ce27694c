"""Paths shared by the Terraform integration tests."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sop_pipeline.adapters.terraform import TerraformRunner

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
