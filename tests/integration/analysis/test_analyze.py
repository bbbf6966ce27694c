"""`sop analyze` for real: lab Proxmox, BIND and terraform + the offline provider on loopback.

Each test runs the real command over a real Git repository (policy and terraform/ from main)
and reads what it wrote: the Laporan Analisis Teknis (Markdown, and the PDF through
pdftotext), the merge-request comment and the digest to sign. The analysis must reserve
nothing, create nothing and record nothing.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

import pytest
from analysis_support import TAKEN_LABEL
from click.testing import CliRunner, Result

from sop_pipeline.adapters.allocator import Allocator
from sop_pipeline.adapters.proxmox import ProxmoxAdapter, ProxmoxSettings
from sop_pipeline.cli.main import main
from sop_pipeline.config import load_pools
from sop_pipeline.demo.officials import Lab
from sop_pipeline.lab.pve import RunningPve
from sop_pipeline.ledger import Record
from sop_pipeline.workspace import Workspace

pytestmark = pytest.mark.integration

REQUEST = "dinkes-simpus"


def sop_analyze(repo: Lab, lab_dir: Path, request_id: str = REQUEST) -> Result:
    started = time.monotonic()
    result = CliRunner().invoke(
        main,
        ["--repo", str(repo.repo), "analyze", request_id, "--lab-dir", str(lab_dir)],
        catch_exceptions=False,
    )
    print(f"sop analyze {request_id}: exit {result.exit_code} in {time.monotonic() - started:.1f}s")
    print(result.output)
    return result


def report_dir(repo: Lab, request_id: str = REQUEST) -> Path:
    return repo.repo / "records" / "reports" / request_id


def report_md(repo: Lab) -> str:
    """The Markdown report without its escapes (``\\:``, ``\\_``), for reading facts."""
    return (report_dir(repo) / "laporan-analisis-teknis.md").read_text().replace("\\", "")


def pdf_text(path: Path) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    )
    return " ".join(done.stdout.split())


def api(pve: RunningPve) -> ProxmoxAdapter:
    return ProxmoxAdapter(
        ProxmoxSettings(endpoint=pve.url, api_token=pve.token, ca_file=pve.cafile)
    )


def guests(pve: RunningPve) -> list[int]:
    return sorted(vm.vmid for vm in api(pve).vms())


def assert_nothing_changed(repo: Lab, lab_dir: Path, pve: RunningPve, before: list[int]) -> None:
    """No allocation, no VM, no step recorded: the analysis only looks (and records its report)."""
    pools = load_pools(repo.repo / "inventories" / "pools.yaml")
    assert Allocator(pools, f"sqlite:///{lab_dir / 'allocator.sqlite'}").all() == []
    assert guests(pve) == before
    ledgers = Workspace(repo.repo).ledgers
    kinds = {r.kind for rid in ledgers.request_ids() for r in ledgers.for_request(rid).records()}
    assert kinds <= {"analysis"}


def last_analysis(repo: Lab) -> Record:
    """The analysis record `sop analyze` appended last: what a step-6 approval must cite."""
    records = Workspace(repo.repo).ledgers.for_request(REQUEST).records()
    found = [r for r in records if r.kind == "analysis"]
    assert found, records
    return found[-1]


def test_a_request_that_fits_is_feasible_and_its_plan_adds_one_vm(
    repo: Lab, lab_dir: Path, pve: RunningPve
) -> None:
    before = guests(pve)
    result = sop_analyze(repo, lab_dir)
    assert result.exit_code == 0, result.output
    assert "[1/6] membaca VM dan templat di Proxmox" in result.output
    assert "[6/6] menjalankan terraform plan" in result.output
    assert f"{REQUEST}: DAPAT DILAKSANAKAN." in result.output
    assert pve.token.split("=", 1)[1] not in result.output  # the token is never shown

    folder = report_dir(repo)
    md = report_md(repo)
    digest = hashlib.sha256((folder / "laporan-analisis-teknis.md").read_bytes()).hexdigest()
    assert f"sha256 laporan: {digest}" in result.output
    assert f"--evidence laporan-analisis-teknis.md={digest}" in result.output
    recorded = last_analysis(repo)
    assert recorded.outputs == {"laporan-analisis-teknis.md": digest}
    assert recorded.data["feasible"] is True
    request_digest = hashlib.sha256(repo.request_file(REQUEST).read_bytes()).hexdigest()
    assert recorded.inputs["request"] == request_digest
    for text in (
        "DAPAT DILAKSANAKAN",
        "10.99.0.100 dari pool lab 10.99.0.0/24",
        "simpus.sumbarprov.go.id belum dipakai",
        "debian-12-cloudinit tersedia",
        "module.vm.proxmox_virtual_environment_vm.this: akan dibuat",
        "Rencana Terraform: 1 dibuat, 0 diubah, 0 dihapus.",
        "| pve1 | aktif |",
    ):
        assert text in md, text
    text = pdf_text(folder / "laporan-analisis-teknis.pdf")
    for fact in (
        "Laporan Analisis Teknis",
        "SIMPUS",
        "10.99.0.100",
        "simpus.sumbarprov.go.id",
        "Rencana Terraform: 1 dibuat, 0 diubah, 0 dihapus.",
        "DAPAT DILAKSANAKAN",
        "pve1",
    ):
        assert fact in text, fact
    comment = (folder / "komentar-analisis.md").read_text()
    assert comment.startswith("<!-- sop-pipeline:analisis:dinkes-simpus -->")
    assert "✅ **Dapat dilaksanakan** di node pve1, IP 10.99.0.100" in comment
    assert_nothing_changed(repo, lab_dir, pve, before)

    # Again: the same answer (the peek reserved nothing), the report replaced.
    again = sop_analyze(repo, lab_dir)
    assert again.exit_code == 0 and "VMID 1000, IP 10.99.0.100" in again.output


def test_a_name_taken_in_dns_is_not_feasible(repo: Lab, lab_dir: Path, pve: RunningPve) -> None:
    path = repo.request_file(REQUEST)
    path.write_text(path.read_text().replace("hostname: simpus", f"hostname: {TAKEN_LABEL}"))
    before = guests(pve)
    result = sop_analyze(repo, lab_dir)
    assert result.exit_code == 2, result.output
    assert "[TIDAK] Nama DNS: terpakai.sumbarprov.go.id sudah dipakai" in result.output
    md = report_md(repo)
    assert (
        "BELUM DAPAT DILAKSANAKAN" in md and "karena aspek berikut tidak memenuhi: Nama DNS" in md
    )
    text = pdf_text(report_dir(repo) / "laporan-analisis-teknis.pdf")
    assert "terpakai.sumbarprov.go.id sudah dipakai" in text
    assert (
        "❌ **Belum dapat dilaksanakan**: Nama DNS."
        in (report_dir(repo) / "komentar-analisis.md").read_text()
    )
    assert_nothing_changed(repo, lab_dir, pve, before)


def test_a_request_over_the_opd_quota_is_not_feasible(
    repo: Lab, lab_dir: Path, pve: RunningPve
) -> None:
    # DINKES may hold 16 vCPU; a VM it already has takes 16 (made as another tool would).
    api(pve)._api.nodes("pve2").qemu.post(
        vmid=1500, name="dinkes-lama", cores=16, memory=4096, tags="sop-opd-dinkes",
        scsi0="local-lvm:50",
    )  # fmt: skip
    before = guests(pve)
    result = sop_analyze(repo, lab_dir)
    assert result.exit_code == 2, result.output
    assert "terpakai 1 VM, 16 vCPU; MELEBIHI kuota" in result.output
    assert "[TIDAK] Kuota OPD DINKES: sisa 5 VM, 0 vCPU" in result.output
    md = report_md(repo)
    assert "tidak memenuhi: Kuota OPD DINKES" in md
    text = pdf_text(report_dir(repo) / "laporan-analisis-teknis.pdf")
    assert "Kuota OPD DINKES" in text and "BELUM DAPAT DILAKSANAKAN" in text
    assert "Rencana Terraform: 1 dibuat" in text  # the plan still shows what would be made
    recorded = last_analysis(repo)
    assert recorded.data["feasible"] is False
    assert recorded.data["verdict"] == "BELUM DAPAT DILAKSANAKAN"
    assert_nothing_changed(repo, lab_dir, pve, before)


def test_a_missing_template_is_not_feasible_and_no_plan_is_made(
    repo: Lab, lab_dir: Path, pve: RunningPve
) -> None:
    api(pve)._api.nodes("pve1").qemu(9000).delete()
    deadline = time.monotonic() + 30
    while 9000 in guests(pve) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert 9000 not in guests(pve)
    result = sop_analyze(repo, lab_dir)
    assert result.exit_code == 2, result.output
    assert "templat debian-12-cloudinit TIDAK ADA" in result.output
    assert "rencana Terraform dilewati" in result.output
    md = report_md(repo)
    assert "debian-12-cloudinit tidak ada" in md
    assert "Rencana Terraform tidak dibuat: templat debian-12-cloudinit tidak ada." in md
    text = pdf_text(report_dir(repo) / "laporan-analisis-teknis.pdf")
    assert "Templat sistem operasi" in text and "debian-12-cloudinit tidak ada" in text
    assert not (lab_dir / "terraform" / REQUEST).exists()  # Terraform never ran
    assert_nothing_changed(repo, lab_dir, pve, guests(pve))


def test_an_unreachable_proxmox_says_what_failed_and_writes_nothing(
    repo: Lab, lab_dir: Path, pve: RunningPve
) -> None:
    pve.stop()
    result = sop_analyze(repo, lab_dir)
    assert result.exit_code == 4
    assert "Analisis teknis dinkes-simpus gagal saat membaca VM dan templat di Proxmox." in (
        result.output
    )
    assert "API Proxmox tidak dapat dihubungi" in result.output
    assert "tidak ada alamat IP/VMID yang dipesan" in result.output
    assert "jalankan ulang `sop analyze dinkes-simpus`" in result.output
    assert not report_dir(repo).exists()
    assert Workspace(repo.repo).ledgers.request_ids() == []  # nothing recorded either
