"""`make demo`: the SOP on the example requests, in a scratch repository, step by step.

What it shows today (the provisioning of step 8 joins it as the lab grows):

1. six officials get SSH keys (``ssh-keygen``), their keyring is committed on ``main``;
2. the three example requests arrive on a merge-request branch and are validated;
3. ``dinkes-simpus`` walks steps 1-7 with each official signing in turn, then the step-8
   gate is checked and holds;
4. ``disdik-info-sekolah`` is sent back at step 4, fixed by the OPD, and verified afresh;
5. ``bpbd-peringatan-dini`` is rejected at step 7: the step-8 gate refuses it;
6. the SLA table of each request, then ``sop audit``, then a tampered record caught by it.

Times are a simulated working Monday (30 November 2026, WIB) so the SLA table is readable.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from sop_pipeline.pipeline import Pipeline
from sop_pipeline.signing.demo import Lab, RequestFlow, generate_officials
from sop_pipeline.workspace import Workspace

REPO = Path(__file__).resolve().parent.parent
WIB = ZoneInfo("Asia/Jakarta")
MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=WIB)


def say(text: str) -> None:
    print(text, flush=True)


def sop(lab: Lab, *args: str) -> int:
    """Run the real `sop` command on the demo repository and show what it prints."""
    from sop_pipeline.cli import main

    say(f"\n$ sop {' '.join(args)}")
    result = CliRunner().invoke(main, ["--repo", str(lab.repo), *args], catch_exceptions=False)
    say(result.output.rstrip())
    if result.exit_code:
        say(f"(kode keluar {result.exit_code})")
    return result.exit_code


def at(minutes: int) -> datetime:
    return MONDAY + timedelta(minutes=minutes)


class Clock:
    """The demo's simulated clock: the pipeline reads it, the scenario moves it."""

    def __init__(self) -> None:
        self.minutes = 0

    def __call__(self) -> datetime:
        return at(self.minutes)


def publish_base(lab: Lab) -> None:
    """The department's policy lives on main, next to the keyring; requests come by MR."""
    lab.git("checkout", "-q", "main")
    shutil.copytree(REPO / "inventories", lab.repo / "inventories")
    lab.commit("kebijakan: inventories")
    lab.git("checkout", "-q", "mr/request")
    lab.git("merge", "-q", "main")
    shutil.copytree(REPO / "requests", lab.repo / "requests")
    lab.commit("OPD: permintaan hosting")


class Scenario:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.clock = Clock()
        self.pipeline = Pipeline(
            Workspace(lab.repo), base="main", now=self.clock, log=lambda line: say(f"  {line}")
        )

    def flow(self, request_id: str) -> RequestFlow:
        return RequestFlow(self.lab, request_id, records=self.lab.repo / "records")

    def advance(self, request_id: str, minutes: int) -> None:
        self.clock.minutes = minutes
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


def scenario(lab: Lab) -> None:
    say("\n== 1. Permintaan masuk lewat merge request ==")
    publish_base(lab)
    sop(lab, "validate")
    run = Scenario(lab)

    say("\n== 2. dinkes-simpus: langkah 1 sampai 7, ditandatangani bergiliran ==")
    simpus = run.flow("dinkes-simpus")
    run.advance("dinkes-simpus", 0)
    run.sign(simpus, 2, "kadis", 2)
    run.sign(simpus, 3, "kabid", 4)
    run.sign(simpus, 4, "koordinator", 6, "complete")
    run.sign(simpus, 6, "teknis1", 95)
    run.sign(simpus, 7, "kabid", 140)  # 45 minutes after the analysis: past its 30
    say("  " + simpus.gate(8, at(141)).summary())

    say("\n== 3. disdik-info-sekolah: belum lengkap (langkah 4), dilengkapi, diverifikasi ulang ==")
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
    path.write_text(path.read_text().replace('end: "2027-12-31"', 'end: "2027-06-30"'))
    lab.commit("OPD: melengkapi masa hosting")
    say("  11:20 OPD memperbaiki berkas yang sama dan mengajukan ulang")
    run.advance("disdik-info-sekolah", 200)
    run.sign(info, 4, "koordinator", 202, "complete")
    sop(lab, "verify", "disdik-info-sekolah", "--at", at(203).isoformat())

    say("\n== 4. bpbd-peringatan-dini: ditolak di langkah 7 ==")
    bpbd = run.flow("bpbd-peringatan-dini")
    run.advance("bpbd-peringatan-dini", 20)
    run.sign(bpbd, 2, "kadis", 21)
    run.sign(bpbd, 3, "kabid", 22)
    run.sign(bpbd, 4, "koordinator", 24, "complete")
    run.sign(bpbd, 6, "teknis2", 60)
    run.sign(
        bpbd,
        7,
        "kabid",
        75,
        "reject",
        reason="Layanan internal BPBD sudah tersedia di server daerah; tidak perlu VM baru",
    )
    say("  " + bpbd.gate(8, at(76)).summary())

    say("\n== 5. Tanda tangan, status dan waktu layanan ==")
    sop(lab, "verify", "dinkes-simpus", "--at", at(150).isoformat())
    sop(lab, "status", "--now", at(150).isoformat())
    sop(lab, "status", "dinkes-simpus", "--now", at(150).isoformat())

    say("\n== 6. Jejak catatan: utuh, lalu diubah satu bita ==")
    sop(lab, "audit")
    ledger = lab.repo / "records" / "dinkes-simpus.jsonl"
    original = ledger.read_bytes()
    ledger.write_bytes(original.replace(b"kabid@", b"kadis@", 1))
    sop(lab, "audit")
    ledger.write_bytes(original)


def main(argv: list[str] | None = None, *, scratch_factory: Callable[[], str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    keep = "--keep" in args
    root = Path(scratch_factory() if scratch_factory else tempfile.mkdtemp(prefix="sop-demo-"))
    say(f"Demo SOP Hosting Website/Aplikasi di {root}")
    say("Membuat kunci SSH untuk enam pejabat (ssh-keygen)...")
    officials = generate_officials(root / "keys")
    lab = Lab(root, officials)
    scenario(lab)
    if keep:
        say(f"\nRepositori demo disimpan di {lab.repo}")
    else:
        shutil.rmtree(root)
        say("\nSelesai; folder demo dihapus (pakai --keep untuk menyimpannya).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
