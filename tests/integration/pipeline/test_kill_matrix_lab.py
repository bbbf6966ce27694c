"""Kill matrix, every phase of step 8, with a real guest (issue 17, promise 4).

`sop provision` runs as CI runs it, in a process group of its own, against a lab of its own
(namespace, BIND, the lab's Proxmox with a QEMU guest restored from its snapshot, Terraform
with the real provider, Ansible). At each point the whole group gets SIGKILL, as when a runner
dies; then **one** re-run of the same command must converge:

- exactly one VM, one lease (VMID and address), the name answering once, with its PTR;
- an empty Terraform plan, and a further run of step 8's code changes no Ansible task;
- the first backup on the backup storage;
- steps 8 and 9 recorded once each, and `sop audit` holds;
- no Terraform, provider, Ansible or mitogen process of the killed run left.

The points before the guest boots (after allocation, clone, config, resize, start) are the
fakepve matrix's, tests/integration/terraform/test_kill_matrix.py: 5 there and 10 here. The
DNS phase is a read-only check between two points that are here (the dns_record role, the
HTTPS check). Prints the matrix: point, re-runs needed, leftovers found, seconds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop_pipeline.adapters import processes
from sop_pipeline.adapters.ansible import ROLE_PHASES
from sop_pipeline.cli.main import main
from sop_pipeline.demo.officials import Lab, Official
from sop_pipeline.demo.scenario import publish_base
from sop_pipeline.lab import control
from sop_pipeline.lab import image as lab_image
from sop_pipeline.steps.provisioning import PHASE_LABELS
from sop_pipeline.workspace import Workspace
from tests.conftest import require_lab_tools
from tests.integration.test_exit_codes import walk_to_step_8

pytestmark = [pytest.mark.integration, pytest.mark.vm, pytest.mark.slow]

# `make test-vm` runs the matrix in shards side by side, each in a namespace of its own
# (tests/vm_groups.py).
NAMESPACE = os.environ.get("SOP_KILL_MATRIX_NAMESPACE", "sopkill")
RID = "disdik-info-sekolah"  # static: the cheapest full site.yml under TCG
FQDN = "infosekolah.sumbarprov.go.id"
PROBE = Path(__file__).resolve().parent / "hosting_probe.py"


@dataclass(frozen=True)
class Point:
    """Kill the run as soon as it printed a line holding ``line`` (after one holding
    ``after``, when given)."""

    name: str
    line: str
    after: str = ""


POINTS = [
    Point("agent-wait", PHASE_LABELS["agent"]),
    Point("ansible-base", f"[{ROLE_PHASES['base']}]"),
    Point("ansible-stack", f"[{ROLE_PHASES['stack_static']}]"),
    Point("ansible-web", f"[{ROLE_PHASES['web']}]"),
    Point("ansible-tls", f"[{ROLE_PHASES['tls']}]"),
    Point("dns-update", f"[{ROLE_PHASES['dns_record']}]"),  # nsupdate, by the dns_record role
    Point("https-check", PHASE_LABELS["http"]),
    Point("first-backup", PHASE_LABELS["backup"]),
    Point("recording-step-8", "-> selesai", after=PHASE_LABELS["backup"]),  # all done: record
    Point("recording-step-9", ": langkah 8 selesai: "),  # step 8 recorded: step 9's report
]


@pytest.fixture(scope="module")
def ssh_key() -> Path:
    """One pipeline key pair for every point's lab, kept under $SOP_CACHE: the same seed each
    time, so every guest after the first ever restores its snapshot instead of booting. (A
    lab-only key: the guests it opens live in the test's own namespace.)"""
    require_lab_tools("qemu-system-x86_64", "named", "terraform", "ssh-keygen")
    folder = lab_image.cache_dir() / "lab-keys" / "kill-matrix"
    key = folder / "id_ed25519"
    if not key.with_suffix(".pub").exists():
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for stale in (key, key.with_suffix(".pub")):
            stale.unlink(missing_ok=True)  # a half-made pair from a killed run
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "sop-pipeline@lab",
             "-f", str(key)],
            check=True,
        )  # fmt: skip
    return key


@dataclass(frozen=True)
class Scene:
    repo: Lab
    lab_dir: Path

    def sop(self) -> list[str]:
        return [sys.executable, "-m", "sop_pipeline.cli.main", "--repo", str(self.repo.repo)]

    def provision(self) -> list[str]:
        return [*self.sop(), "provision", RID, "--lab-dir", str(self.lab_dir)]


@pytest.fixture
def scene(tmp_path: Path, ssh_key: Path, officials: dict[str, Official]) -> Iterator[Scene]:
    """A lab of its own, and a repository whose request is on its merge request."""
    lab_dir = tmp_path / "lab"
    (lab_dir / "ssh").mkdir(parents=True, mode=0o700)
    for name in (ssh_key.name, ssh_key.name + ".pub"):
        shutil.copy2(ssh_key.parent / name, lab_dir / "ssh" / name)
    repo = Lab(tmp_path / "work", officials)
    publish_base(repo)
    control.up(lab_dir=lab_dir, namespace=NAMESPACE)
    try:
        yield Scene(repo, lab_dir)
    finally:
        control.down(lab_dir=lab_dir, namespace=NAMESPACE)


def kill_at(point: Point, argv: list[str], log: Path) -> int:
    """Run ``argv`` in a process group of its own, SIGKILL the group at ``point``; its pid."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # each line as it is printed
    run = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert run.stdout is not None
    armed, killed = not point.after, False
    with log.open("w") as out:
        for line in run.stdout:
            out.write(line)
            armed = armed or point.after in line
            if armed and point.line in line:
                os.killpg(run.pid, signal.SIGKILL)
                killed = True
                break
    run.wait()
    assert killed, f"{point.name}: the kill point was never reached (exit {run.returncode}); {log}"
    return run.pid


def marked_by(pid: int) -> list[str]:
    """Processes whose run marker names the run with this pid."""
    table = processes.process_table()
    return [f"{p.name}[{p.pid}]" for p in table if p.marker is not None and p.marker.pid == pid]


def in_lab(scene: Scene, *args: str) -> subprocess.CompletedProcess[str]:
    """hosting_probe.py inside the lab's namespace."""
    argv = [sys.executable, str(PROBE), str(scene.lab_dir), str(scene.repo.repo), *args]
    return subprocess.run(
        ["ip", "netns", "exec", NAMESPACE, *argv], capture_output=True, text=True, timeout=1800
    )


def probe(scene: Scene, tmp_path: Path, *, further: bool = True) -> dict[str, object]:
    found = in_lab(scene, RID, *([] if further else ["--no-further-run"]))
    (tmp_path / "probe.log").write_text(found.stderr)
    assert found.returncode == 0, found.stderr[-3000:]
    hosting: dict[str, object] = json.loads(found.stdout)
    return hosting


def steps_recorded(repo: Path) -> list[int]:
    ledger = Workspace(repo).ledgers.for_request(RID)
    return [int(r.step or 0) for r in ledger.records() if r.kind == "step"]


@pytest.mark.parametrize("point", POINTS, ids=[p.name for p in POINTS])
def test_kill9_at_every_phase_of_step_8_then_one_rerun_converges(
    point: Point, scene: Scene, tmp_path: Path
) -> None:
    started = time.monotonic()
    walk_to_step_8(scene.repo, RID)
    killed_pid = kill_at(point, scene.provision(), tmp_path / "killed.log")
    at_kill = marked_by(killed_pid)

    rerun = subprocess.run(scene.provision(), capture_output=True, text=True, timeout=1800)
    (tmp_path / "rerun.log").write_text(rerun.stdout + rerun.stderr)
    assert rerun.returncode == 0, f"{point.name}: the one re-run failed:\n{rerun.stderr[-3000:]}"
    swept = rerun.stdout.count("sisa run sebelumnya yang mati dihentikan")
    left = marked_by(killed_pid)
    assert left == [], f"{point.name}: the killed run's processes are still running: {left}"

    steps = steps_recorded(scene.repo.repo)
    assert steps.count(8) == 1 and steps.count(9) == 1, f"{point.name}: steps recorded {steps}"
    audit = CliRunner().invoke(main, ["--repo", str(scene.repo.repo), "audit"])
    assert audit.exit_code == 0, audit.output

    # A kill after Ansible had finished: the re-run's own Ansible was the further run.
    idempotent = "Ansible: 0 tugas berubah" in rerun.stdout
    hosting = probe(scene, tmp_path, further=not idempotent)
    assert hosting["vms"] == [1000], f"{point.name}: expected exactly one VM: {hosting}"
    (address,) = [value for kind, value in hosting["leases"] if kind == "ip"]
    assert [kind for kind, _ in hosting["leases"]] == ["ip", "vmid"], hosting
    assert hosting["a"] == [address], f"{point.name}: the name answers {hosting['a']}"
    assert hosting["ptr"] == [f"{FQDN}."], hosting
    assert hosting["plan_empty"], f"{point.name}: Terraform's plan after the re-run is not empty"
    assert hosting["backups"] >= [1], f"{point.name}: no backup of the VM: {hosting}"
    assert idempotent or hosting["ansible_changed"] == 0, f"{point.name}: a further run changed"
    print(
        f"kill-matrix/{point.name}: re-runs 1, alive after the kill {len(at_kill)} "
        f"({', '.join(at_kill) or '-'}), swept by the re-run {swept}, "
        f"{time.monotonic() - started:.0f} s"
    )


def test_an_over_quota_request_with_a_signed_override_is_built_and_reported(
    scene: Scene, tmp_path: Path
) -> None:
    """DISDIK at its quota (a 16-core VM built outside the pipeline): `sop analyze` says
    BELUM DAPAT DILAKSANAKAN; with the override signed at steps 6 and 7, step 8 builds the
    server for real (guest, Ansible, DNS, HTTPS) and the reports name the override."""
    occupied = in_lab(scene, "disdik", "--occupy", "16")
    assert occupied.returncode == 0, occupied.stderr
    reason = "Layanan darurat wabah; tambahan kuota sementara (nota dinas 12/2026)"
    walk_with_override(scene, reason)

    built = subprocess.run(scene.provision(), capture_output=True, text=True, timeout=1800)
    (tmp_path / "provision.log").write_text(built.stdout + built.stderr)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-2000:]
    waived = [line for line in built.stdout.splitlines() if "[override]" in line]
    assert len(waived) == 1 and "kuota OPD DISDIK: vCPU 17 melebihi 16" in waived[0], waived
    assert f"langkah 8 selesai: {FQDN}" in built.stdout
    hosting = probe(scene, tmp_path, further=False)
    assert hosting["vms"] == [1000] and hosting["plan_empty"], hosting
    report = scene.repo.repo / "records" / "reports" / RID / "laporan-hasil-hosting.pdf"
    text = " ".join(
        subprocess.run(
            ["pdftotext", str(report), "-"], capture_output=True, text=True, check=True
        ).stdout.split()
    )
    assert "Pengecualian" in text and "nota dinas 12/2026" in text, text[:2000]


def walk_with_override(scene: Scene, reason: str) -> None:
    """Steps 1-7, step 6 citing the real `sop analyze` of the lab (it says BELUM) with an
    override that Tim Teknis signs at step 6 and the Kabid names at step 7."""

    def analyse() -> dict[str, str]:
        analysed = subprocess.run(  # its own process: it enters the lab's namespace
            [*scene.sop(), "analyze", RID, "--lab-dir", str(scene.lab_dir)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert "BELUM DAPAT DILAKSANAKAN" in analysed.stdout, analysed.stdout + analysed.stderr
        report = scene.repo.repo / "records" / "reports" / RID / "laporan-analisis-teknis.md"
        return {report.name: hashlib.sha256(report.read_bytes()).hexdigest()}

    walk_to_step_8(scene.repo, RID, analysis=analyse, override=reason)
