"""`make demo` as the end-to-end test: the whole SOP in a lab of its own, checked at each step.

The demo runs as `make demo` runs it (a subprocess, real keys, the real lab: QEMU VM, BIND,
the lab's Proxmox, Terraform with the offline provider, Ansible), in its own network
namespace and lab folder, kept (``--keep``) so this test can look at what it left: the
ledgers, the reports, the site answering by name, and what exists on the cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

NAMESPACE = "sope2e"
FQDN = "simpus.sumbarprov.go.id"

#: Run inside the lab's namespace: what the cluster, the allocator and DNS hold now.
PROBE = """
import json, sys
from pathlib import Path
from sop_pipeline.config import load_pools
from sop_pipeline.adapters.infrastructure import Infrastructure
infra = Infrastructure.from_lab(Path(sys.argv[1]))
ad = infra.open(pools=load_pools(Path(sys.argv[2]) / "inventories" / "pools.yaml"),
                zone="sumbarprov.go.id")
out = {"vms": {}, "held": {}, "dns": {}, "cert": ""}
for vm in ad.proxmox.vms():
    for tag in vm.tags:
        if tag.startswith("sop-req-"):
            out["vms"][tag[8:]] = [vm.vmid, vm.node]
            if tag == "sop-req-dinkes-simpus":
                out["cert"] = ad.proxmox.read_guest_file(
                    vm.node, vm.vmid, "/etc/ssl/sop/dinkes-simpus.crt")
for rid in ("dinkes-simpus", "disdik-info-sekolah", "bpbd-peringatan-dini"):
    held = ad.allocator.held(rid, "lab")
    out["held"][rid] = held.ipv4 if held else None
for label in ("simpus", "infosekolah", "peringatandini"):
    out["dns"][label] = ad.dns.addresses_of(label)
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Demo:
    output: str
    returncode: int
    repo: Path
    lab_dir: Path
    root: Path

    def section(self, number: int) -> str:
        return self.output.split(f"== {number}.")[1].split("\n== ")[0]

    def in_lab(self, *argv: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", NAMESPACE, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def sop(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "sop_pipeline.cli.main", "--repo", str(self.repo), *args]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


def require_tools() -> None:
    missing = [t for t in ("qemu-system-x86_64", "named", "terraform", "pdftotext", "curl")
               if shutil.which(t) is None]  # fmt: skip
    if missing:
        message = f"the demo needs {missing}: run `make setup` (.ci/setup/*.sh)"
        if "CI" in __import__("os").environ:
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    require_tools()
    root = tmp_path_factory.mktemp("demo")
    lab_dir, work = root / "lab", root / "work"
    from sop_pipeline.lab import control

    try:
        done = subprocess.run(
            [sys.executable, "-m", "sop_pipeline.demo.scenario", "--keep", "--namespace", NAMESPACE,
             "--lab-dir", str(lab_dir), "--workdir", str(work)],
            cwd=REPO, capture_output=True, text=True, timeout=3600, check=False,
        )  # fmt: skip
        (root / "demo.log").write_text(done.stdout + done.stderr)
        print(f"demo exit {done.returncode}; its output: {root / 'demo.log'}")
        # sop_pipeline.demo.officials.Lab keeps its repository under the work dir.
        yield Demo(done.stdout + done.stderr, done.returncode, work / "repo", lab_dir, root)
    finally:
        control.down(lab_dir=lab_dir, namespace=NAMESPACE)


@pytest.fixture(scope="module")
def probe(demo: Demo) -> dict[str, object]:
    got = demo.in_lab(sys.executable, "-c", PROBE, str(demo.lab_dir), str(demo.repo))
    assert got.returncode == 0, got.stderr
    result: dict[str, object] = json.loads(got.stdout)
    return result


def test_the_demo_runs_to_its_end(demo: Demo) -> None:
    assert demo.returncode == 0, demo.output[-4000:]
    assert "3 berkas diperiksa, 3 sah, 0 ditolak." in demo.output


def test_dinkes_simpus_is_recorded_step_by_step_in_order(demo: Demo) -> None:
    simpus = demo.section(2)
    assert [f"langkah {n} dicatat" in simpus for n in range(1, 8)] == [True] * 7
    assert "Gerbang langkah 8: TERPENUHI" in simpus
    ledger = demo.repo / "records" / "dinkes-simpus.jsonl"
    steps = [
        json.loads(line)["step"]
        for line in ledger.read_text().splitlines()
        if json.loads(line).get("kind") == "step"
    ]
    assert steps == list(range(1, 13))
    assert demo.sop("audit").returncode == 0


def test_step_8_ran_every_phase_and_the_site_answers_by_name(
    demo: Demo, probe: dict[str, object]
) -> None:
    provisioned = demo.section(3)
    phases = ("alokasi", "Terraform", "agen", "Ansible", "DNS", "situs", "cadangan")
    for number, phase in enumerate(phases):
        assert f"[{number + 1}/{len(phases)}] " in provisioned and phase in provisioned
    assert "langkah 8 selesai: simpus.sumbarprov.go.id" in provisioned
    assert f"https://{FQDN}/ -> " in provisioned
    assert "HTTP 200; halaman memuat dinkes-simpus: ya" in provisioned
    # Fetched again here, by name, as a visitor inside the lab network would.
    dns = probe["dns"]
    assert isinstance(dns, dict)
    (address,) = dns["simpus"]
    cafile = demo.root / "simpus.crt"
    cafile.write_text(str(probe["cert"]))
    dug = demo.in_lab("dig", "+short", "@10.99.0.2", FQDN)
    assert dug.stdout.split() == [address]
    page = demo.in_lab(
        "curl", "-sS", "--max-time", "60", "--cacert", str(cafile),
        "--resolve", f"{FQDN}:443:{address}", f"https://{FQDN}/",
    )  # fmt: skip
    assert page.returncode == 0, page.stderr
    assert "dinkes-simpus" in page.stdout and "Dinas Kesehatan" in page.stdout
    assert "Stack: php" in page.stdout


def test_the_reports_exist_and_carry_the_requests_facts(
    demo: Demo, probe: dict[str, object]
) -> None:
    folder = demo.repo / "records" / "reports" / "dinkes-simpus"
    held = probe["held"]
    assert isinstance(held, dict)
    address = held["dinkes-simpus"]
    texts = {}
    for pdf in sorted(folder.glob("*.pdf")):
        done = subprocess.run(
            ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
        )
        texts[pdf.stem] = "".join(done.stdout.split())  # table cells wrap: compare unspaced
    assert set(texts) == {
        "disposisi",
        "laporan-analisis-teknis",
        "laporan-hasil-hosting",
        "berita-acara-serah-terima",
    }
    for name, text in texts.items():
        assert "dinkessimpus" in text.replace("-", ""), name  # a footer may hyphenate it
        assert "DinasKesehatan" in text, name
    hosting = texts["laporan-hasil-hosting"]
    assert FQDN in hosting and str(address) in hosting
    assert FQDN in texts["berita-acara-serah-terima"]
    assert any("kegiatan" in p.name for p in (demo.repo / "records" / "reports").rglob("*.pdf"))


def test_a_rejected_request_creates_nothing(demo: Demo, probe: dict[str, object]) -> None:
    rejected = demo.section(5)
    assert "Gerbang langkah 8: TIDAK TERPENUHI" in rejected and "[rejected]" in rejected
    assert "dibuat untuk permintaan ini: tidak ada" in rejected
    assert "bpbd-peringatan-dini" not in probe["vms"]  # type: ignore[operator]
    assert probe["held"]["bpbd-peringatan-dini"] is None  # type: ignore[index]
    assert probe["dns"]["peringatandini"] == []  # type: ignore[index]


def test_an_incomplete_request_goes_back_and_needs_a_fresh_verification(demo: Demo) -> None:
    returned = demo.section(4)
    assert "dikembalikan ke OPD" in returned and "masa hosting" in returned
    assert "langkah 4 dicatat: diajukan ulang" in returned
    assert "koordinator menandatangani langkah 4: 'complete'" in returned
    assert "step-04-koordinator.json: langkah 4 (koordinator) 'belum lengkap'" in returned
    assert "DIGANTIKAN (superseded" in returned


def test_a_request_changed_after_approval_is_refused_at_step_8(
    demo: Demo, probe: dict[str, object]
) -> None:
    changed = demo.section(4).split("mengubah satu bita")[1]
    assert "langkah 8 ditolak: True; dibuat untuk permintaan ini: tidak ada" in changed
    assert "disdik-info-sekolah" not in probe["vms"]  # type: ignore[operator]
    assert probe["held"]["disdik-info-sekolah"] is None  # type: ignore[index]
    assert probe["dns"]["infosekolah"] == []  # type: ignore[index]
    ledger = demo.repo / "records" / "disdik-info-sekolah.jsonl"
    records = [json.loads(line) for line in ledger.read_text().splitlines()]
    steps = [r["step"] for r in records if r["kind"] == "step"]
    assert 7 in steps and 8 not in steps
    refused = [r for r in records if r["kind"] == "gate_check" and r["step"] == 8]
    assert refused and refused[-1]["data"]["verdict"] != "pass"


def test_sla_table_audit_and_the_tampered_record(demo: Demo) -> None:
    row = next(
        line
        for line in demo.output.splitlines()
        if line.startswith(" 7 Kabid Aptika          2026-11-30 10:20 ")
    )
    assert row.split()[5:9] == ["45", "menit", "30", "menit"] and row.endswith("; LEWAT target")
    audits = demo.section(7)
    assert "buku catatan diperiksa: UTUH." in audits
    assert "dinkes-simpus.jsonl:3: catatan #3 diubah" in audits
