"""`sop lab up` / `sop lab down` for real, in a namespace and folder of the test's own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop_pipeline.cli.main import main
from sop_pipeline.lab import netns

pytestmark = [pytest.mark.integration, pytest.mark.vm]

NAMESPACE = "soplabcli"
PROBE = """
import sys, requests
token = open(sys.argv[1]).read().strip()
headers = {"Authorization": "PVEAPIToken=" + token}
base = "https://10.99.0.1:8006/api2/json"
nodes = requests.get(base + "/nodes", headers=headers, verify=sys.argv[2], timeout=20).json()
vms = requests.get(base + "/nodes/pve1/qemu", headers=headers, verify=sys.argv[2], timeout=20)
print(sorted(n["node"] for n in nodes["data"]))
print([(v["vmid"], v["name"]) for v in vms.json()["data"] if v.get("template")])
"""


def test_lab_up_serves_proxmox_and_dns_inside_its_namespace_and_down_leaves_nothing(
    tmp_path: Path,
) -> None:
    lab_dir = tmp_path / "lab"
    args = ["--namespace", NAMESPACE, "--lab-dir", str(lab_dir)]
    try:
        up = CliRunner().invoke(main, ["lab", "up", *args], catch_exceptions=False)
        assert up.exit_code == 0, up.output
        info = dict(line.split(": ", 1) for line in up.output.splitlines() if ": " in line)
        assert info["pve_url"] == "https://10.99.0.1:8006" and info["dns_server"] == "10.99.0.2"
        token = Path(info["pve_token_file"])
        assert token.stat().st_mode & 0o077 == 0  # the token file is private
        assert token.read_text().strip() not in up.output  # and never printed
        probe = subprocess.run(
            netns.exec_argv(
                [sys.executable, "-c", PROBE, str(token), info["pve_cafile"]], NAMESPACE
            ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert probe.returncode == 0, probe.stderr
        assert probe.stdout.splitlines() == ["['pve1', 'pve2']", "[(9000, 'debian-12-cloudinit')]"]
        dig = subprocess.run(
            netns.exec_argv(["dig", "+short", "@10.99.0.2", "ns1.sumbarprov.go.id"], NAMESPACE),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert dig.stdout.strip() == "10.99.0.2"
    finally:
        down = CliRunner().invoke(main, ["lab", "down", *args], catch_exceptions=False)
    assert down.exit_code == 0, down.output
    assert not netns.exists(NAMESPACE)
    assert not list(lab_dir.glob("**/*.pid"))
