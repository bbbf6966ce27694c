"""`make demo`: the whole SOP on the example requests, in a scratch repository and the lab.

1. the lab comes up (`sop lab up`: namespace, Debian mirror, BIND, the lab's Proxmox whose
   guests are real QEMU VMs);
2. six officials get SSH keys (``ssh-keygen``), their keyring is committed on ``main``;
3. the three example requests arrive on a merge-request branch and are validated;
4. ``dinkes-simpus`` walks steps 1-7 with each official signing in turn; the step-6 analysis
   runs against the lab's cluster and Tim Teknis signs citing its report;
5. step 8 for real: allocation, Terraform, the VM boots, Ansible, DNS, the site checked;
   the demo then fetches the site through its DNS name itself;
6. steps 9-12, the documents (`sop report`), and the Laporan Kegiatan for the month;
7. ``disdik-info-sekolah`` is sent back at step 4, fixed and verified afresh; after its
   approval the OPD changes a byte, and step 8 refuses it with nothing created;
8. ``bpbd-peringatan-dini`` is rejected at step 7: nothing is created for it;
9. the SLA table, ``sop audit``, then a tampered record caught by it;
10. the static site (``sop site build``; docs/site.md) and its local URL;
11. the lab goes down, unless ``--keep``.

Times are a simulated working Monday (30 November 2026, WIB) so the SLA table is readable;
step 8 runs on that clock plus the real time it takes.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from sop_pipeline.adapters.infrastructure import Infrastructure
from sop_pipeline.config import TrustedConfig
from sop_pipeline.demo.officials import Lab, RequestFlow, generate_officials
from sop_pipeline.errors import SopError
from sop_pipeline.ledger.tracking import record_analysis
from sop_pipeline.loader import load_request
from sop_pipeline.reports.model import feasible
from sop_pipeline.steps.analysis import analyze, ticket_sequence, write_analysis
from sop_pipeline.steps.pipeline import Pipeline
from sop_pipeline.steps.provisioning import PHASES, fetch_https, provisioner_for
from sop_pipeline.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
WIB = ZoneInfo("Asia/Jakarta")
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=WIB)


SITE_PORT = 8000  # the local URL `make demo` prints for the static site


def say(text: str) -> None:
    print(text, flush=True)


def sop(lab: Lab, *args: str) -> int:
    """Run the real `sop` command on the demo repository and show what it prints."""
    from sop_pipeline.cli.main import main

    say(f"\n$ sop {' '.join(args)}")
    result = CliRunner().invoke(main, ["--repo", str(lab.repo), *args], catch_exceptions=False)
    say(result.output.rstrip())
    if result.exit_code:
        say(f"(kode keluar {result.exit_code})")
    return result.exit_code


def at(minutes: int) -> datetime:
    return MONDAY + timedelta(minutes=minutes)


class Clock:
    """The demo's simulated clock: the pipeline reads it, the scenario moves it.

    While real work runs (step 8), :meth:`running` adds the real time it takes.
    """

    def __init__(self) -> None:
        self.minutes = 0
        self.started: float | None = None

    def __call__(self) -> datetime:
        extra = 0.0 if self.started is None else time.monotonic() - self.started
        return at(self.minutes) + timedelta(seconds=extra)

    def running(self, minutes: int) -> None:
        self.minutes, self.started = minutes, time.monotonic()

    def stop(self) -> int:
        """Back to simulated minutes, rounded up past the real work; the new minute."""
        elapsed = 0.0 if self.started is None else time.monotonic() - self.started
        self.minutes += int(elapsed // 60) + 1
        self.started = None
        return self.minutes


#: What the department keeps on the base branch of its requests repository, beside approvers/.
BASE_FOLDERS = ("inventories", "terraform", "playbooks", "roles")


def publish_base(lab: Lab) -> None:
    """The department's policy, Terraform stack, playbooks and roles live on main, next to
    the keyring; step 8 runs them from there. Requests come by MR."""
    lab.git("checkout", "-q", "main")
    for name in BASE_FOLDERS:
        shutil.copytree(
            REPO / name, lab.repo / name, ignore=shutil.ignore_patterns(".terraform", "*.pyc")
        )
    lab.commit("kebijakan: inventories, terraform, playbooks dan roles")
    lab.git("checkout", "-q", "mr/request")
    lab.git("merge", "-q", "main")
    shutil.copytree(REPO / "requests", lab.repo / "requests")
    lab.commit("OPD: permintaan hosting")


class Scenario:
    def __init__(
        self, lab: Lab, infra: Infrastructure, lab_dir: Path, trusted: TrustedConfig
    ) -> None:
        self.lab = lab
        self.infra = infra
        self.lab_dir = lab_dir
        self.clock = Clock()
        self.ws = Workspace(lab.repo)
        #: The base commit's configuration, for the whole scenario (main does not change).
        self.trusted = trusted
        self.pipeline = Pipeline(self.ws, trusted=trusted, now=self.clock, log=indent)
        self.phase_seconds: dict[str, float] = {}
        self.latest = 0  # the last simulated minute anything happened

    def flow(self, request_id: str) -> RequestFlow:
        return RequestFlow(self.lab, request_id, records=self.lab.repo / "records")

    def advance(self, request_id: str, minutes: int) -> None:
        self.clock.minutes = minutes
        self.latest = max(self.latest, minutes)
        self.pipeline.advance(request_id)

    def sign(
        self,
        flow: RequestFlow,
        step: int,
        who: str,
        minutes: int,
        decision: str = "approve",
        **options: object,
    ) -> None:
        flow.sign(step, who, at(minutes), decision, **options)
        say(f"  {at(minutes):%H:%M} {who} menandatangani langkah {step}: '{decision}'")
        self.advance(flow.request_id, minutes)

    def analyse(self, request_id: str, minutes: int) -> dict[str, str]:
        """Step 6's analysis against the lab's cluster; the evidence Tim Teknis cites."""
        self.clock.minutes = minutes
        say(f"\n$ sop analyze {request_id} --lab-dir {self.lab_dir}")
        policy = self.trusted.policy
        request = load_request(self.ws.request_path(request_id), policy=policy)
        result = analyze(
            request,
            self.infra,
            policy=policy,
            pools=self.trusted.pools,
            terraform_dir=self.trusted.terraform_dir,
            now=self.clock,
            log=indent,
        )
        facts = request.request
        files = write_analysis(
            self.ws.records_dir,
            facts,
            result,
            department=self.trusted.department,
            sequence=ticket_sequence(self.ws.ledgers, request_id),
        )
        record_analysis(
            self.ws.ledgers,
            request_id,
            report=files.markdown.name,
            digest=files.digest,
            request_digest=request.digest,
            feasible=feasible(facts, result),
            at=result.analysed_at,
        )
        say(f"  laporan: {files.markdown.name}, sha256 {files.digest[:16]}...")
        return {files.markdown.name: files.digest}

    def provision(self, request_id: str, minutes: int) -> bool:
        """Step 8 (and 9) through the pipeline with the lab's provisioner; True if done."""
        say(f"\n$ sop provision {request_id} --lab-dir {self.lab_dir}")
        self.clock.running(minutes)
        try:
            provisioner = provisioner_for(self.infra, self.trusted, self.clock)
            pipeline = Pipeline(
                self.ws, trusted=self.trusted, now=self.clock, log=indent, provisioner=provisioner
            )
            recorded = pipeline.advance(request_id).recorded
            self.phase_seconds = dict(provisioner.times.seconds)
        except SopError as err:
            say("  " + err.diagnostics().replace("\n", "\n  "))
            return False
        finally:
            self.clock.stop()
        spent = ", ".join(f"{p} {self.phase_seconds[p]:.0f} dtk" for p in PHASES)
        say(f"  waktu per tahap: {spent}")
        return 8 in recorded

    def created_for(self, request_id: str) -> list[str]:
        """What the lab's cluster and allocator hold for ``request_id`` (should be nothing)."""
        ad = self.infra.open(pools=self.trusted.pools, zone=self.trusted.policy.zone)
        found = [f"VM {vm.vmid}" for vm in ad.proxmox.vms() if f"sop-req-{request_id}" in vm.tags]
        held = ad.allocator.held(request_id, self.infra.environment)
        return found + ([f"alokasi {held.vmid}/{held.ipv4}"] if held else [])


def edit(path: Path, old: str, new: str) -> None:
    """The OPD edits its request file (the demo stops if the text is not there)."""
    text = path.read_text()
    if old not in text:
        raise SystemExit(f"Demo berhenti: {path.name} tidak memuat {old!r}.")
    path.write_text(text.replace(old, new, 1))


def indent(line: str) -> None:
    say(f"  {line}")


@dataclass(frozen=True)
class Fetched:
    fqdn: str
    address: str
    status: int
    shows_request: bool


def fetch_by_name(infra: Infrastructure, fqdn: str, request_id: str) -> Fetched:
    """Resolve ``fqdn`` at the lab's DNS, then GET it over HTTPS, as a visitor would."""
    label = fqdn.split(".", 1)[0]
    dns = infra.dns(fqdn.split(".", 1)[1])
    addresses = dns.addresses_of(label)
    if not addresses:
        raise SystemExit(f"{fqdn} tidak ditemukan di DNS lab")
    address = addresses[0]
    cert = site_certificate(infra, address, request_id)
    answer = fetch_https(fqdn, address, cert, timeout=60)
    shown = request_id in answer.body
    return Fetched(fqdn, address, answer.status, shown)


def site_certificate(infra: Infrastructure, address: str, request_id: str) -> str:
    """The site's self-signed certificate, read through the guest agent as the pipeline does."""
    proxmox = infra.proxmox()
    for vm in proxmox.vms():
        if f"sop-req-{request_id}" in vm.tags:
            return proxmox.read_guest_file(vm.node, vm.vmid, f"/etc/ssl/sop/{request_id}.crt")
    raise SystemExit(f"tidak ada VM untuk {request_id} di {address}")


def scenario(lab: Lab, infra: Infrastructure, lab_dir: Path) -> None:
    say("\n== 1. Permintaan masuk lewat merge request ==")
    publish_base(lab)
    sop(lab, "validate")
    with TrustedConfig.from_commit(lab.repo, "main") as trusted:
        walk(Scenario(lab, infra, lab_dir, trusted))


def walk(run: Scenario) -> None:
    """Steps 2 onwards of the scenario (the module docstring's numbering)."""
    lab = run.lab

    say("\n== 2. dinkes-simpus: langkah 1 sampai 7, ditandatangani bergiliran ==")
    simpus = run.flow("dinkes-simpus")
    run.advance("dinkes-simpus", 0)
    run.sign(simpus, 2, "kadis", 2)
    run.sign(simpus, 3, "kabid", 4)
    run.sign(simpus, 4, "koordinator", 6, "complete")
    evidence = run.analyse("dinkes-simpus", 60)
    run.sign(simpus, 6, "teknis1", 95, evidence=evidence)
    run.sign(simpus, 7, "kabid", 140)  # 45 minutes after the analysis: past its 30
    say("  " + simpus.gate(8, at(141)).summary())

    say("\n== 3. dinkes-simpus: langkah 8 sungguhan di lab, lalu situsnya dibuka lewat DNS ==")
    if not run.provision("dinkes-simpus", 150):
        raise SystemExit("Demo berhenti: langkah 8 dinkes-simpus gagal (lihat di atas).")
    site = fetch_by_name(run.infra, "simpus.sumbarprov.go.id", "dinkes-simpus")
    say(
        f"  https://{site.fqdn}/ -> {site.address}: HTTP {site.status}; halaman memuat "
        f"dinkes-simpus: {'ya' if site.shows_request else 'TIDAK'}"
    )
    after = run.clock.minutes
    run.sign(simpus, 10, "koordinator", after + 4)
    run.sign(simpus, 11, "kabid", after + 7)
    run.sign(simpus, 12, "kadis", after + 10)
    sop(lab, "report", "dinkes-simpus", "--no-advance")

    say("\n== 4. disdik-info-sekolah: belum lengkap (langkah 4), dilengkapi, diverifikasi ulang ==")
    info = run.flow("disdik-info-sekolah")
    run.advance("disdik-info-sekolah", 10)
    run.sign(info, 2, "kadis", 12)
    run.sign(info, 3, "kabid", 13)
    run.sign(
        info,
        4,
        "koordinator",
        15,
        "incomplete",
        reason="Surat belum mencantumkan masa hosting",
        missing=["masa hosting pada surat permintaan"],
    )
    sop(lab, "status", "disdik-info-sekolah", "--now", at(60).isoformat())
    path = info.request_file
    edit(path, 'end: "2027-12-31"', 'end: "2027-06-30"')
    lab.commit("OPD: melengkapi masa hosting")
    say("  11:20 OPD memperbaiki berkas yang sama dan mengajukan ulang")
    run.advance("disdik-info-sekolah", 200)
    run.sign(info, 4, "koordinator", 202, "complete")
    sop(lab, "verify", "disdik-info-sekolah", "--at", at(203).isoformat())
    run.sign(info, 6, "teknis2", 230, evidence=run.analyse("disdik-info-sekolah", 225))
    run.sign(info, 7, "kabid", 240)
    say("  Setelah disetujui, OPD mengubah satu bita berkasnya tanpa verifikasi ulang:")
    edit(path, "jadwal penerimaan", "Jadwal penerimaan")
    lab.commit("OPD: ubah judul setelah persetujuan")
    refused = not run.provision("disdik-info-sekolah", 245)
    say(
        f"  langkah 8 ditolak: {refused}; dibuat untuk permintaan ini: "
        f"{run.created_for('disdik-info-sekolah') or 'tidak ada'}"
    )

    say("\n== 5. bpbd-peringatan-dini: ditolak di langkah 7 ==")
    bpbd = run.flow("bpbd-peringatan-dini")
    run.advance("bpbd-peringatan-dini", 20)
    run.sign(bpbd, 2, "kadis", 21)
    run.sign(bpbd, 3, "kabid", 22)
    run.sign(bpbd, 4, "koordinator", 24, "complete")
    run.sign(bpbd, 6, "teknis2", 60, evidence=run.analyse("bpbd-peringatan-dini", 55))
    run.sign(
        bpbd,
        7,
        "kabid",
        75,
        "reject",
        reason="Layanan internal BPBD sudah tersedia di server daerah; tidak perlu VM baru",
    )
    say("  " + bpbd.gate(8, at(76)).summary())
    say(f"  dibuat untuk permintaan ini: {run.created_for('bpbd-peringatan-dini') or 'tidak ada'}")

    say("\n== 6. Tanda tangan, status, waktu layanan dan laporan ==")
    end = at(run.latest + 1).isoformat()
    sop(lab, "verify", "dinkes-simpus", "--at", end)
    sop(lab, "status", "--now", end)
    sop(lab, "status", "dinkes-simpus", "--now", end)
    sop(lab, "report", "--period", "2026-11", "--now", end)
    reports = lab.repo / "records" / "reports"
    say(f"\nLaporan ada di {reports}:")
    for path in sorted(reports.rglob("*.pdf")):
        say(f"  {path.relative_to(reports)}")

    say("\n== 7. Jejak catatan: utuh, lalu diubah satu bita ==")
    sop(lab, "audit")
    ledger = lab.repo / "records" / "dinkes-simpus.jsonl"
    original = ledger.read_bytes()
    ledger.write_bytes(original.replace(b"kabid@", b"kadis@", 1))
    sop(lab, "audit")
    ledger.write_bytes(original)

    say("\n== 8. Situs statis: dasbor, halaman tanda tangan dan pendaftaran kunci ==")
    pages = lab.root / "site"
    sop(lab, "site", "build", str(pages), "--now", end)
    say(
        f"  Buka dengan: python3 -m http.server -d {pages} -b 127.0.0.1 {SITE_PORT}\n"
        f"  lalu http://localhost:{SITE_PORT}/ (dasbor), "
        f"http://localhost:{SITE_PORT}/sign/index.html (tanda tangan dengan kunci keamanan); "
        "folder tetap ada dengan --keep"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make demo", description=__doc__.split("\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the lab and the scratch repo")
    parser.add_argument("--namespace", default="soplab", help="the lab's network namespace")
    parser.add_argument("--lab-dir", type=Path, help="the lab's state folder")
    parser.add_argument("--workdir", type=Path, help="where the scratch repository goes")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    from sop_pipeline.lab import control, netns, vms

    lab_dir = args.lab_dir or vms.lab_dir()
    root = Path(args.workdir or tempfile.mkdtemp(prefix="sop-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    say(f"Demo SOP Hosting Website/Aplikasi di {root}")
    say(f"\n$ sop lab up --namespace {args.namespace} --lab-dir {lab_dir}")
    started = time.monotonic()
    info = control.up(lab_dir=lab_dir, namespace=args.namespace)
    say(f"  lab siap dalam {time.monotonic() - started:.0f} dtk (akselerator {info.accelerator})")
    try:
        say("Membuat kunci SSH untuk enam pejabat (ssh-keygen)...")
        officials = generate_officials(root / "keys")
        lab = Lab(root, officials)
        infra = Infrastructure.from_lab(lab_dir)
        netns.enter(args.namespace)  # the lab answers only inside its namespace
        scenario(lab, infra, lab_dir)
    finally:
        if args.keep:
            say(f"\nLab tetap berjalan (--keep); repositori demo di {root}")
        else:
            control.down(lab_dir=lab_dir, namespace=args.namespace)
            shutil.rmtree(root, ignore_errors=True)
            say("\nSelesai; lab dihentikan dan folder demo dihapus (--keep menyimpannya).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
