"""Attacks on the history of approvals (issue 18, classes 1 and 8).

Class 1: the requester makes a refusal disappear: ``git rm`` of a step-6 ``reject`` or of a
Kabid's later withdrawal (with or without its ``.sig``), the refusal overwritten in place, the
approvals folder renamed, and the branch's history squashed so no commit holds the refusal
any more. The ledger (a recorded refusal wins), the Git history of the folder (a deleted
statement still counts) and, for what the base branch already holds, the MR check
(``sop validate --since``: the folder is append-only) each stop some of them; every case
names the rule that refuses it.

Class 8: a step-6 ``approve`` whose evidence is no analysis report ``sop analyze`` recorded
for this request, or one that says BELUM DAPAT DILAKSANAKAN.

Every case is played through the shared harness (:func:`tests.attacks.harness.refused`) and
counts in the suite's one tally.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Callable
from datetime import timedelta

import pytest
from click.testing import CliRunner

from sop_pipeline.adapters.git import GitError
from sop_pipeline.cli.main import main
from sop_pipeline.demo.officials import T0, Lab, RequestFlow
from sop_pipeline.demo.scenario import publish_base
from sop_pipeline.ledger.tracking import override_of, record_analysis
from sop_pipeline.signing.history import check_history
from sop_pipeline.signing.subject import approvals_dir
from tests.attacks.harness import AT, OTHER, RID, SEVEN, Scene, Target, attempt, m, refused

pytestmark = pytest.mark.integration

SIX = "step-06-tim_teknis.json"
SIX_2 = "step-06-tim_teknis-2.json"
SEVEN_2 = "step-07-kabid-2.json"


# --- helpers --------------------------------------------------------------------------------


def rel(s: Scene, name: str) -> str:
    """``requests/<id>.approvals/<name>`` as git names it."""
    return (s.dir / name).relative_to(s.lab.repo).as_posix()


def folder(s: Scene) -> str:
    return s.dir.relative_to(s.lab.repo).as_posix()


def git_rm(s: Scene, *names: str) -> None:
    s.lab.git("rm", "-q", "--", *(rel(s, n) for n in names))


def squash(s: Scene, message: str) -> None:
    """The OPD rewrites its branch: one commit on the base, nothing of what went before."""
    s.lab.git("reset", "-q", "--soft", "main")
    s.lab.commit(message)


def from_step_5(s: Scene) -> RequestFlow:
    """The honest scene taken back to before step 6: its step-6 files and records gone."""
    for path in s.dir.glob("step-06-*"):
        path.unlink()
    s.flow.ledger.path.unlink()
    f = s.flow
    f.pipeline_step(1, T0)
    f.record(T0 + m(4), "native")  # 2, 3 and 4 again, from their files
    f.pipeline_step(5, T0 + m(5))
    return f


def analysis_refused(s: Scene, *, recorded: bool) -> RequestFlow:
    """Tim Teknis 1 signs a step-6 ``reject`` (committed, and recorded if ``recorded``); Tim
    Teknis 2 then approves citing a good report, and the Kabid approves."""
    f = from_step_5(s)
    f.sign(6, "teknis1", T0 + m(10), decision="reject", reason="Kuota vCPU OPD DINKES habis")
    if recorded:
        assert [r.data["outcome"] for r in f.record(T0 + m(11), "native")] == ["reject"]
    s.lab.commit("Tim Teknis 1: analisis menolak")
    f.sign(6, "teknis2", T0 + m(12), evidence=f.analyse(T0 + m(12)))
    f.sign(7, "kabid", T0 + m(20))
    if recorded:
        assert [r.data["outcome"] for r in f.record(T0 + m(21), "native")] == ["approve"]
    s.lab.commit("Tim Teknis 2 dan Kabid menyetujui")
    return f


def decision_withdrawn(s: Scene, *, recorded: bool) -> None:
    """The Kabid approves (recorded), then withdraws by signing ``reject`` (committed, and
    recorded if ``recorded``)."""
    data, sig = s.honest_7()
    s.put(data, sig)
    assert [r.data["outcome"] for r in s.flow.record(T0 + m(21), "native")] == ["approve"]
    s.lab.commit("Kabid menyetujui")
    later = s.statement(
        decision="reject",
        reason="Anggaran OPD untuk layanan ini dibatalkan",
        signed_at=T0 + m(30),
        expires_at=T0 + timedelta(days=7),
    ).to_bytes()
    s.put(later, s.sign(later, "kabid"), name=SEVEN_2)
    if recorded:
        assert [r.kind for r in s.flow.record(T0 + m(31), "native")] == ["withdrawal"]
    s.lab.commit("Kabid menarik persetujuan")


# --- class 1: a refusal made to disappear ---------------------------------------------------


def analysis_reject_removed(*, recorded: bool, only_sig: bool = False) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        analysis_refused(s, recorded=recorded)
        git_rm(s, *((f"{SIX}.sig",) if only_sig else (SIX, f"{SIX}.sig")))
        s.lab.commit("OPD: hapus penolakan")
        return Target(rule="[refusal-recorded]" if recorded else "[step-06-reject]")

    return attack


def analysis_reject_left_to_expire(s: Scene) -> Target:
    """The reject stays in the folder, but the OPD waits until its validity has run out."""
    f = from_step_5(s)
    f.sign(
        6,
        "teknis1",
        T0 + m(10),
        decision="reject",
        reason="Kapasitas node tidak cukup",
        validity=timedelta(minutes=20),  # expired at the gate's time, T0 + 60 min
    )
    f.sign(6, "teknis2", T0 + m(31), evidence=f.analyse(T0 + m(31)))
    f.sign(7, "kabid", T0 + m(40))
    s.lab.commit("Tim Teknis 2 dan Kabid menyetujui")
    return Target(rule="[step-06-reject]")


def analysis_reject_squashed(s: Scene) -> Target:
    """Recorded, deleted, and the branch rewritten: only the ledger still knows."""
    analysis_refused(s, recorded=True)
    git_rm(s, SIX, f"{SIX}.sig")
    squash(s, "OPD: permintaan dan persetujuan")
    return Target(rule="[refusal-recorded]")


def analysis_reject_overwritten(s: Scene) -> Target:
    """The reject's own file now holds Tim Teknis 2's approval (and its signature)."""
    analysis_refused(s, recorded=False)
    for suffix in ("", ".sig"):
        shutil.move(s.dir / f"{SIX_2}{suffix}", s.dir / f"{SIX}{suffix}")
    s.lab.commit("OPD: rapikan nama berkas")
    return Target(rule="[step-06-reject]")


def approvals_folder_renamed(s: Scene) -> Target:
    """The folder moves away (kept as an archive outside requests/); a new one holds every
    statement but the reject."""
    analysis_refused(s, recorded=False)
    archive = s.lab.repo / "arsip" / "lama.approvals"
    archive.parent.mkdir()
    s.lab.git("mv", folder(s), archive.relative_to(s.lab.repo).as_posix())
    s.dir.mkdir()
    for path in archive.iterdir():
        if not path.name.startswith(SIX):  # the reject and its .sig stay behind
            shutil.copy(path, s.dir / path.name)
    assert not (s.dir / SIX).exists() and (s.dir / SIX_2).exists()
    s.lab.commit("OPD: susun ulang persetujuan")
    return Target(rule="[step-06-reject]")


def withdrawal_removed(*, recorded: bool, only_sig: bool = False) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        decision_withdrawn(s, recorded=recorded)
        git_rm(s, *((f"{SEVEN_2}.sig",) if only_sig else (SEVEN_2, f"{SEVEN_2}.sig")))
        s.lab.commit("OPD: hapus penarikan")
        return Target(rule="[refusal-recorded]" if recorded else "[step-07-reject]")

    return attack


def withdrawal_squashed(s: Scene) -> Target:
    decision_withdrawn(s, recorded=True)
    git_rm(s, SEVEN_2, f"{SEVEN_2}.sig")
    squash(s, "OPD: permintaan dan persetujuan")
    return Target(rule="[refusal-recorded]")


def withdrawal_overwritten(s: Scene) -> Target:
    """The withdrawal's file now holds a copy of the Kabid's earlier approval."""
    decision_withdrawn(s, recorded=False)
    for suffix in ("", ".sig"):
        shutil.copy(s.dir / f"{SEVEN}{suffix}", s.dir / f"{SEVEN_2}{suffix}")
    s.lab.commit("OPD: perbaiki berkas")
    return Target(rule="[step-07-reject]")


# --- class 8: step 6's evidence -------------------------------------------------------------


def analysis_approved(
    evidence: Callable[[Scene, RequestFlow], dict[str, str]], rule: str
) -> Callable[[Scene], Target]:
    """Step 6 approved citing ``evidence``, then the Kabid approves."""

    def attack(s: Scene) -> Target:
        f = from_step_5(s)
        f.sign(6, "teknis1", T0 + m(10), evidence=evidence(s, f))
        f.record(T0 + m(11), "native")
        f.sign(7, "kabid", T0 + m(20))
        return Target(rule=rule)

    return attack


def no_report(_s: Scene, f: RequestFlow) -> dict[str, str]:
    f.analyse(T0 + m(9))  # a real report exists, but the statement cites none
    return {}


def unknown_report(_s: Scene, f: RequestFlow) -> dict[str, str]:
    f.analyse(T0 + m(9))  # a real report exists, but the statement cites another one
    return {"laporan-analisis-teknis.md": hashlib.sha256(b"laporan buatan OPD").hexdigest()}


def report_not_feasible(_s: Scene, f: RequestFlow) -> dict[str, str]:
    return f.analyse(T0 + m(9), feasible=False)  # e.g. over the OPD's quota


def other_requests_report(s: Scene, f: RequestFlow) -> dict[str, str]:
    f.analyse(T0 + m(8))  # this request's own report exists too
    s.lab.write_request(OTHER)
    return RequestFlow(s.lab, OTHER).analyse(T0 + m(9))


def report_of_older_bytes(s: Scene, f: RequestFlow) -> dict[str, str]:
    """A report recorded for the request before one of its values changed."""
    older = s.lab.request_file(RID).read_bytes().replace(b"vcpu: 2", b"vcpu: 8")
    digest = hashlib.sha256(b"laporan untuk 8 vCPU").hexdigest()
    record_analysis(
        f.store,
        RID,
        report="laporan-analisis-teknis.md",
        digest=digest,
        request_digest=hashlib.sha256(older).hexdigest(),
        feasible=True,
        at=T0 + m(9),
    )
    return {"laporan-analisis-teknis.md": digest}


def mixed_reports(_s: Scene, f: RequestFlow) -> dict[str, str]:
    """A good report and a refusing one cited together."""
    good = f.analyse(T0 + m(8))
    bad = f.analyse(T0 + m(9), feasible=False)
    return {"laporan-1.md": next(iter(good.values())), "laporan-2.md": next(iter(bad.values()))}


def nothing_recorded(_s: Scene, _f: RequestFlow) -> dict[str, str]:
    """No analysis in the ledger at all, and nothing cited."""
    return {}


def invented_report_nothing_recorded(_s: Scene, _f: RequestFlow) -> dict[str, str]:
    """No analysis in the ledger; the OPD cites a report it wrote itself."""
    return {"laporan-analisis-teknis.md": hashlib.sha256(b"DAPAT DILAKSANAKAN").hexdigest()}


def scratch_ledger_report(s: Scene, f: RequestFlow) -> dict[str, str]:
    """A real analysis, but recorded only in an MR pipeline's scratch ledger, never in the
    ledger the gate reads."""
    scratch = RequestFlow(s.lab, RID, records=s.lab.records.parent / "scratch-records")
    return scratch.analyse(T0 + m(9))


OVERRIDE = "Kuota OPD dilampaui 1 vCPU; disetujui Kadis untuk layanan darurat kesehatan"


def overridden(seven: str | None) -> Callable[[Scene], Target]:
    """Step 6 approved with an override over a BELUM DAPAT DILAKSANAKAN report; the Kabid
    approves step 7 with override ``seven`` (None: none)."""

    def attack(s: Scene) -> Target:
        f = from_step_5(s)
        evidence = f.analyse(T0 + m(9), feasible=False)
        f.sign(6, "teknis1", T0 + m(10), evidence=evidence, override=OVERRIDE)
        f.record(T0 + m(11), "native")
        f.sign(7, "kabid", T0 + m(20), **({"override": seven} if seven else {}))
        return Target(rule="[override-not-confirmed]")

    return attack


ATTACKS: dict[str, Callable[[Scene], Target]] = {
    "analysis-reject-recorded-then-git-rm": analysis_reject_removed(recorded=True),
    "analysis-reject-committed-then-git-rm": analysis_reject_removed(recorded=False),
    "analysis-reject-only-sig-deleted": analysis_reject_removed(recorded=False, only_sig=True),
    "analysis-reject-recorded-then-history-squashed": analysis_reject_squashed,
    "analysis-reject-overwritten-in-place": analysis_reject_overwritten,
    "analysis-reject-left-to-expire": analysis_reject_left_to_expire,
    "approvals-folder-renamed": approvals_folder_renamed,
    "kabid-withdrawal-recorded-then-git-rm": withdrawal_removed(recorded=True),
    "kabid-withdrawal-committed-then-git-rm": withdrawal_removed(recorded=False),
    "kabid-withdrawal-only-sig-deleted": withdrawal_removed(recorded=False, only_sig=True),
    "kabid-withdrawal-recorded-then-history-squashed": withdrawal_squashed,
    "kabid-withdrawal-overwritten-in-place": withdrawal_overwritten,
    # No analysis recorded in the request's ledger: fails closed, whatever is cited.
    "analysis-approve-nothing-recorded": analysis_approved(
        nothing_recorded, "[analysis-not-recorded]"
    ),
    "analysis-approve-invented-report-nothing-recorded": analysis_approved(
        invented_report_nothing_recorded, "[analysis-not-recorded]"
    ),
    "analysis-approve-report-of-a-scratch-ledger": analysis_approved(
        scratch_ledger_report, "[analysis-not-recorded]"
    ),
    "analysis-approve-without-evidence": analysis_approved(no_report, "[analysis-not-cited]"),
    "analysis-approve-unknown-digest": analysis_approved(unknown_report, "[analysis-unknown]"),
    "analysis-approve-report-belum-dapat": analysis_approved(
        report_not_feasible, "[analysis-not-feasible]"
    ),
    "analysis-approve-other-requests-report": analysis_approved(
        other_requests_report, "[analysis-unknown]"
    ),
    "analysis-approve-report-of-older-bytes": analysis_approved(
        report_of_older_bytes, "[analysis-stale]"
    ),
    "analysis-approve-override-kabid-silent": overridden(None),
    "analysis-approve-override-kabid-names-another": overridden("Disetujui karena mendesak"),
    "analysis-approve-override-kabid-names-a-prefix": overridden(OVERRIDE[:20]),
    "analysis-approve-good-and-belum-reports": analysis_approved(
        mixed_reports, "[analysis-not-feasible]"
    ),
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_history_attack_is_refused(name: str, lab: Lab, tally: dict[str, int]) -> None:
    refused(name, lab, tally, ATTACKS[name])


def test_each_class_has_at_least_three_variants() -> None:
    class_1 = [n for n in ATTACKS if "reject" in n or "withdrawal" in n or "folder" in n]
    class_8 = [n for n in ATTACKS if n.startswith("analysis-approve")]
    assert len(class_1) >= 3 and len(class_8) >= 3
    assert len(class_1) + len(class_8) == len(ATTACKS)


# --- the controls: what is honest still holds -----------------------------------------------


def test_an_override_named_at_steps_6_and_7_holds(lab: Lab) -> None:
    """BELUM DAPAT DILAKSANAKAN, approved with an override the Kabid names too: gate 8 holds
    with both verifiers."""
    scene = Scene(lab)
    f = from_step_5(scene)
    evidence = f.analyse(T0 + m(9), feasible=False)
    f.sign(6, "teknis1", T0 + m(10), evidence=evidence, override=OVERRIDE)
    f.record(T0 + m(11), "native")
    f.sign(7, "kabid", T0 + m(20), override=OVERRIDE)
    accepted, reasons, _ = attempt(lab, Target())
    assert accepted == {"native": True, "ssh-keygen": True}, reasons
    assert override_of(f.ledger.records()) == OVERRIDE  # recorded, for the reports


def test_honest_history_still_holds(lab: Lab) -> None:
    """Committed statements change nothing for an honest request: gate 8 holds with both
    verifiers."""
    scene = Scene(lab)
    lab.commit("langkah 2 sampai 6")
    data, sig = scene.honest_7()
    scene.put(data, sig)
    lab.commit("Kabid menyetujui")
    accepted, reasons, disagreements = attempt(lab, Target())
    assert accepted == {"native": True, "ssh-keygen": True}, reasons
    assert disagreements == 0
    # Every committed statement is still in the folder byte for byte: history adds nothing.
    assert RequestFlow(lab, RID).history(AT, "native") == []


def test_a_step_6_reject_is_recorded_as_a_refusal_and_the_gate_says_so(lab: Lab) -> None:
    scene = Scene(lab)
    f = analysis_refused(scene, recorded=True)
    steps = [r for r in f.ledger.records() if r.kind == "step" and r.step == 6]
    assert [r.data["outcome"] for r in steps] == ["reject"]
    assert f.state().refusals and not f.state().approved
    gate = f.gate(8, AT, "native")
    assert not gate.holds
    assert any("[refusal-recorded]" in r and "Kuota vCPU" in r for r in gate.reasons)
    assert any("[step-06-reject]" in r for r in gate.reasons)


def test_the_gate_says_why_an_unreadable_decision_does_not_count(lab: Lab) -> None:
    scene = Scene(lab)
    data, sig = scene.honest_7()
    scene.put(data[:-1] + b",", sig)  # no longer JSON
    gate = scene.flow.gate(8, AT, "native")
    assert not gate.holds
    assert any("[step-07-unsigned]" in r for r in gate.reasons)
    assert any(
        r.startswith(f"{SEVEN}: pernyataan tidak sah") and "[json]" in r for r in gate.reasons
    )


# --- the MR check: what the base holds stays ------------------------------------------------


def merged_to_base(lab: Lab) -> Scene:
    """An honest request with steps 2-7 signed and merged into ``main``."""
    publish_base(lab)
    scene = Scene(lab)
    data, sig = scene.honest_7()
    scene.put(data, sig)
    lab.commit("persetujuan")
    lab.git("checkout", "-q", "main")
    lab.git("merge", "-q", "--ff-only", "mr/request")
    lab.git("checkout", "-q", "mr/request")
    return scene


def validate_since(lab: Lab) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--repo", str(lab.repo), "validate", "--since", "main"])
    return result.exit_code, result.output


def test_mr_check_refuses_deleting_a_statement_the_base_holds(lab: Lab) -> None:
    scene = merged_to_base(lab)
    git_rm(scene, SIX, f"{SIX}.sig")
    lab.commit("OPD: hapus analisis")
    code, out = validate_since(lab)
    assert code == 2, out
    for name in (SIX, f"{SIX}.sig"):
        assert (
            f"{rel(scene, name)}: berkas persetujuan yang sudah ada di cabang dasar dihapus" in out
        )
    assert out.count("[approval-removed]") == 2


def test_mr_check_refuses_changing_or_moving_a_statement(lab: Lab) -> None:
    scene = merged_to_base(lab)
    (scene.dir / f"{SEVEN}.sig").write_bytes((scene.dir / f"{SIX}.sig").read_bytes())  # uncommitted
    code, out = validate_since(lab)
    assert code == 2 and f"{rel(scene, SEVEN + '.sig')}: " in out and "[approval-modified]" in out
    lab.git("checkout", "--", rel(scene, f"{SEVEN}.sig"))
    lab.git("mv", folder(scene), "requests/dinkes-simpus.approvals-lama")
    code, out = validate_since(lab)
    assert code == 2 and "[approval-removed]" in out and rel(scene, SEVEN) in out


def test_mr_check_accepts_a_new_statement(lab: Lab) -> None:
    scene = merged_to_base(lab)
    before, _ = validate_since(lab)
    scene.put(b"{}", None, name="step-10-koordinator.json")  # added: not the MR check's concern
    code, out = validate_since(lab)
    assert code == before
    assert "[approval-" not in out


def test_statements_are_read_from_every_branch_merged_into_head(lab: Lab) -> None:
    """A refusal added and deleted on a side branch that was merged leaves the merged folder
    unchanged; history is still walked there (``--full-history``)."""
    scene = Scene(lab)
    lab.commit("langkah 2 sampai 6")
    lab.git("checkout", "-q", "-b", "side")
    no = scene.statement(decision="reject", reason="Tidak layak", signed_at=T0 + m(25)).to_bytes()
    scene.put(no, scene.sign(no, "kabid"), name=SEVEN_2)
    lab.commit("Kabid menolak")
    git_rm(scene, SEVEN_2, f"{SEVEN_2}.sig")
    lab.commit("hapus")
    lab.git("checkout", "-q", "mr/request")
    lab.git("merge", "-q", "--no-ff", "-m", "gabung", "side")
    assert not (approvals_dir(lab.request_file(RID)) / SEVEN_2).exists()
    found = [c for c in RequestFlow(lab, RID).history(AT, "native") if c.path.name == SEVEN_2]
    assert found and found[0].ok and found[0].source


def test_a_shallow_clone_is_refused_rather_than_read_in_part(lab: Lab) -> None:
    """A clone cut at depth 1 cannot show what was deleted before: the gate fails closed."""
    scene = Scene(lab)
    lab.commit("langkah 2 sampai 6")
    lab.commit("lagi")
    shallow = lab.root / "shallow"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "-b",
            "mr/request",
            f"file://{lab.repo}",
            str(shallow),
        ],
        check=True,
        capture_output=True,
    )
    request = shallow / "requests" / f"{RID}.yaml"
    verifier = scene.flow.verifier(AT, "native")
    with pytest.raises(GitError, match=r"\[shallow-history\]"):
        check_history(shallow, request, scene.flow.subject(), verifier)
