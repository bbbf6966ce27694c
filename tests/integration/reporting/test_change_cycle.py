"""A change of a live hosting walked through the SOP's 12 steps again: real signatures, the
real pipeline, step 8 by the loopback site, the change report in PDF (docs/changes.md).

The hosting is created and closed (steps 1-12); the OPD edits the same file into a change
(``kind: ubah``, twice the memory, its own letter). ``sop run`` opens the next cycle; the
creation's approvals count for nothing; step 8 waits for the change's own step-7 decision,
which names the class the analysis found; the Laporan Hasil Perubahan Hosting shows the
memory before and after.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from reporting_walk import Walk, pdf_text, sop

from sop_pipeline.domain.state import Phase
from sop_pipeline.ledger.tracking import last_applied, state_of

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"


def _edit_into_change(walk: Walk) -> tuple[int, int]:
    """kind: ubah, memory doubled, a new letter (PDF and its sha256); (old, new) memory."""
    path = walk.lab.request_file(RID)
    text = path.read_text()
    line = next(x for x in text.splitlines() if "memory_mb:" in x)
    old = int(line.split(":")[1])
    letter_dir = walk.lab.repo / "requests" / RID
    old_letter = next(letter_dir.glob("*.pdf"))
    new_letter = letter_dir / "surat-perubahan.pdf"
    new_letter.write_bytes(old_letter.read_bytes() + b"\n% surat perubahan memori\n")
    old_sha = hashlib.sha256(old_letter.read_bytes()).hexdigest()
    new_sha = hashlib.sha256(new_letter.read_bytes()).hexdigest()
    assert old_sha in text.lower()
    text = (
        text.replace(line, line.replace(str(old), str(old * 2)))
        .replace(old_sha, new_sha)
        .replace(old_sha.upper(), new_sha)
        .replace(f"{RID}/{old_letter.name}", f"{RID}/{new_letter.name}")
    )
    path.write_text("kind: ubah\n" + text)
    return old, old * 2


def test_a_change_walks_the_twelve_steps_again(walk: Walk, tmp_path: Path) -> None:
    ledgers = walk.ws.ledgers
    walk.to_step_7(RID)  # the pipeline hosts (8) and reports (9)
    walk.sign(RID, 10, "koordinator", 200)
    walk.sign(RID, 11, "kabid", 202)
    walk.sign(RID, 12, "kadis", 204)
    assert state_of(ledgers, RID).phase is Phase.CLOSED
    created = last_applied(ledgers.for_request(RID).records())
    assert created is not None and created.facts["kind"] == "baru"

    before, after = _edit_into_change(walk)
    assert walk.advance(RID, 300) == [1]  # step 1 of the change: the next cycle
    state = state_of(ledgers, RID)
    assert (state.cycle, state.next_step) == (2, 2)
    shown = sop(walk.lab.repo, "status", RID)
    assert "Siklus 2: perubahan hosting yang berjalan" in shown.output, shown.output
    assert walk.advance(RID, 301) == []  # the creation's statements count for nothing
    assert walk.advance(RID, 302) == []  # and nothing is opened twice

    walk.sign(RID, 2, "kadis", 310)
    walk.sign(RID, 3, "kabid", 312)
    walk.sign(RID, 4, "koordinator", 314, "complete")
    evidence = walk.flow(RID).analyse(walk_at(walk, 320), change_class="reboot")
    assert walk.sign(RID, 6, "teknis1", 330, evidence=evidence) == [6]
    gate = sop(walk.lab.repo, "gate", RID, "--step", "8")
    assert gate.exit_code == 7, gate.output  # no decision for the change yet
    # The Kabid approves without naming the class the analysis found: not a decision.
    walk.flow(RID).sign(7, "kabid", walk_at(walk, 340))
    assert walk.advance(RID, 341) == []
    assert state_of(ledgers, RID).next_step == 7
    gate = sop(walk.lab.repo, "gate", RID, "--step", "8")
    assert "[change-class-unconfirmed]" in gate.output, gate.output
    # Now named: step 7 is recorded, the pipeline applies the change (8) and reports it (9).
    kabid = walk.lab.officials["kabid"]
    signed = sop(
        walk.lab.repo,
        "sign",
        RID,
        "--step",
        "7",
        "--decision",
        "approve",
        "--change-class",
        "reboot",
        "--signer",
        kabid.principal,
        "--key",
        str(kabid.key),
        "--at",
        walk_at(walk, 350).isoformat(),
    )
    assert signed.exit_code == 0, signed.output
    verified = sop(walk.lab.repo, "verify", RID, "--at", walk_at(walk, 351).isoformat())
    assert "kelas perubahan: reboot" in verified.output, verified.output
    assert walk.advance(RID, 352) == [7, 8, 9]

    changed = last_applied(ledgers.for_request(RID).records())
    assert changed is not None and changed.facts["kind"] == "ubah"
    assert changed.facts["resources"]["memory_mb"] == after
    result = sop(walk.lab.repo, "report", RID, "--no-advance")
    assert result.exit_code == 0, result.output
    report = walk.lab.repo / "records" / "reports" / RID / "laporan-hasil-hosting.pdf"
    text = pdf_text(report)
    assert "LAPORAN HASIL PERUBAHAN HOSTING" in text, text[:400]
    assert f"Memori (MiB) {before} {after}" in text, text
    minutes = pdf_text(report.with_name("berita-acara-serah-terima.pdf"))
    assert "BERITA ACARA PERUBAHAN LAYANAN" in minutes and f"{before} {after}" in minutes


def walk_at(walk: Walk, minutes: int):  # type: ignore[no-untyped-def]
    from reporting_walk import at

    walk.clock.minutes = minutes
    return at(minutes)


def test_a_change_that_breaks_the_change_rules_opens_nothing(walk: Walk) -> None:
    """The same letter as the hosting's (a change needs its own), then a smaller disk: `sop
    run` records no step 1 and says why; kind baru on the edited file opens nothing either."""
    ledgers = walk.ws.ledgers
    walk.to_step_7(RID)
    walk.sign(RID, 10, "koordinator", 200)
    walk.sign(RID, 11, "kabid", 202)
    walk.sign(RID, 12, "kadis", 204)
    path = walk.lab.request_file(RID)
    original = path.read_text()
    lines: list[str] = []
    walk.pipeline.log = lines.append
    memory = next(x for x in original.splitlines() if "memory_mb:" in x)
    doubled = memory.replace(memory.split(":")[1].strip(), str(2 * int(memory.split(":")[1])))
    path.write_text("kind: ubah\n" + original.replace(memory, doubled))
    assert walk.advance(RID, 300) == []
    assert any("[change-letter]" in line for line in lines), lines
    path.write_text(original)
    _edit_into_change(walk)
    disk = next(x for x in path.read_text().splitlines() if "disk_gb:" in x)
    path.write_text(path.read_text().replace(disk, "  disk_gb: 10"))
    assert walk.advance(RID, 301) == []
    assert any("[disk-shrink]" in line for line in lines), lines
    path.write_text(path.read_text().removeprefix("kind: ubah\n"))
    assert walk.advance(RID, 302) == []
    assert state_of(ledgers, RID).phase is Phase.CLOSED and state_of(ledgers, RID).cycle == 1
