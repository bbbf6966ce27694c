"""The GitLab component's own jobs, run for real by gitlab-ci-local over a real Git repository.

The repository has a ``main`` branch holding the officials' keyring (throw-away keys made by
ssh-keygen), the department's inventories, terraform/, playbooks/, roles/ and the example
requests, and a bare ``origin`` the jobs fetch the base branch from. The test plays what
GitLab would do:

1. an MR with a broken request: ``sop:validate`` fails with FILE:LINE: FIELD: MESSAGE;
2. an MR with a good request: validate and verify pass, progress says what is unsigned;
3. the officials sign on the branch: ``sop:verify`` passes, progress says the gate holds;
4. merge to main, then the protected pipeline for the request: ``sop:gate`` passes step 8;
5. an MR that adds its own key to approvers/ and signs with it: its approval is refused;
6. the protected jobs provision the merged request in a lab, with an unmerged MR's changed
   playbook task in the job's files: the base branch's playbook runs, not the MR's.

Jobs call the ``sop`` of the wheel built from this checkout, installed (not editable) with
``pip install --require-hashes`` into a fresh virtual environment, as a department's runner
would have it; nothing is mocked.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sop_pipeline.demo.officials import (
    REQUEST_TEMPLATE,
    Official,
    generate_officials,
    keygen,
    keyring_texts,
    signer_line,
)
from sop_pipeline.domain.sop import Role
from sop_pipeline.steps.provisioning import PHASE_LABELS, PHASES
from tests.conftest import REPO
from tests.support.wheel import build_wheel, clean_env, fresh_venv, hashed_requirements

# vm: one test provisions a real VM, and the tests build on each other's pipeline runs.
pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.vm]

COMPONENT = REPO / "templates" / "sop.yml"
#: What the department keeps on the base branch besides approvers/ and requests/.
TRUSTED = ("inventories", "terraform", "playbooks", "roles")
#: A task an MR adds to playbooks/site.yml; were it run, step 8 would fail with its message.
MR_TASK = "MR: tugas yang tidak boleh dijalankan"
GIT_IDENTITY = (
    "-c",
    "user.name=Lab",
    "-c",
    "user.email=lab@example.invalid",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
)
MR = {  # what GitLab sets in a merge request pipeline
    "CI_PIPELINE_SOURCE": "merge_request_event",
    "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main",
    "CI_MERGE_REQUEST_IID": "7",
    "CI_DEFAULT_BRANCH": "main",
}
PROTECTED_MAIN = {  # a pipeline of the protected default branch, run for one request
    "CI_PIPELINE_SOURCE": "web",
    "CI_COMMIT_REF_PROTECTED": "true",
    "CI_DEFAULT_BRANCH": "main",
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass
class Run:
    code: int
    out: str
    logs: dict[str, str]

    def log(self, job: str) -> str:
        return self.logs[safe_name(job)]


def safe_name(job: str) -> str:
    """gitlab-ci-local's file name for a job: runs of other characters base64url-encoded."""
    return re.sub(
        r"[^\w-]+", lambda m: base64.urlsafe_b64encode(m.group().encode()).decode().rstrip("="), job
    )


class Project:
    """A requests repository with an origin, driven like a developer and like GitLab."""

    def __init__(self, root: Path, gcl: str, env: dict[str, str]) -> None:
        self.root = root
        self.work = root / "work"
        self.origin = root / "origin.git"
        self.gcl = gcl
        self.env = env

    def git(self, *args: str) -> str:
        done = subprocess.run(
            ["git", *GIT_IDENTITY, *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, f"git {args}: {done.stderr}"
        return done.stdout

    def commit_all(self, message: str) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)

    def sop(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["sop", *args],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def pipeline(self, variables: dict[str, str], *jobs: str, timeout: int = 600) -> Run:
        """Run the named jobs of .gitlab-ci.yml as GitLab would, each in a fresh copy.

        A run past ``timeout`` is stopped and reported as code -9 with what it printed."""
        state = self.work / ".gitlab-ci-local"
        shutil.rmtree(state, ignore_errors=True)
        argv = [
            self.gcl,
            "--shell-executor-no-image",
            "--shell-isolation",
            "--no-artifacts-to-source",
            "--no-color",
        ]
        if variables.get("CI_PIPELINE_SOURCE") == "merge_request_event":
            argv += ["--unset-variable", "CI_COMMIT_BRANCH"]  # GitLab leaves it unset in MRs
        for key, value in variables.items():
            argv += ["--variable", f"{key}={value}"]
        try:
            done = subprocess.run(
                [*argv, *jobs],
                cwd=self.work,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            code, out = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as late:
            code = -9
            out = f"(stopped after {timeout} s)\n" + "".join(
                part.decode(errors="replace") if isinstance(part, bytes) else part or ""
                for part in (late.stdout, late.stderr)
            )
        logs = {}
        for path in (state / "output").glob("*.log"):
            logs[path.stem] = ANSI.sub("", path.read_text(errors="replace"))
        return Run(code, ANSI.sub("", out), logs)

    def artifact(self, job: str, relative: str) -> Path:
        return self.work / ".gitlab-ci-local" / "artifacts" / safe_name(job) / relative


def request_text(request_id: str, letter: bytes, **changes: str) -> str:
    text = REQUEST_TEMPLATE.format(
        opd="DINKES",
        nip="199201012020121001",
        email="andi.pratama@dinkes.sumbarprov.go.id",
        request_id=request_id,
        letter_sha256=hashlib.sha256(letter).hexdigest(),
    )
    for old, new in changes.items():
        text = text.replace(old, new)
    return text


def add_request(project: Project, request_id: str, **changes: str) -> Path:
    letter = f"%PDF-1.4 surat {request_id}\n".encode()
    folder = project.work / "requests" / request_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "surat-permintaan.pdf").write_bytes(letter)
    path = project.work / "requests" / f"{request_id}.yaml"
    path.write_text(request_text(request_id, letter, **changes), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def officials(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Official]:
    return generate_officials(tmp_path_factory.mktemp("officials"))


@pytest.fixture(scope="module")
def wheel_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``bin/`` of a fresh venv with the wheel of this checkout and the extras step 8 and the
    reports need, every package installed by its sha256 (``--require-hashes``)."""
    root = tmp_path_factory.mktemp("sop-wheel")
    wheel = build_wheel(root / "build")
    requirements, files = hashed_requirements(wheel, "provision,reports", root / "lock")
    return fresh_venv(root / "venv", requirements, files)


@pytest.fixture(scope="module")
def project(
    tmp_path_factory: pytest.TempPathFactory,
    gitlab_ci_local: str,
    officials: dict[str, Official],
    wheel_bin: Path,
) -> Project:
    root = tmp_path_factory.mktemp("gitlab")
    env = clean_env(PATH=f"{wheel_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("SOP_BASE_REF", None)
    assert shutil.which("sop", path=env["PATH"]) == str(wheel_bin / "sop")
    project = Project(root, gitlab_ci_local, env)
    subprocess.run(["git", "init", "-q", "--bare", str(project.origin)], check=True)
    project.work.mkdir()
    project.git("init", "-q", "-b", "main")
    for name in ("requests", *TRUSTED):
        shutil.copytree(
            REPO / name, project.work / name, ignore=shutil.ignore_patterns(".terraform")
        )
    (project.work / "approvers").mkdir()
    for name, text in keyring_texts(officials).items():
        (project.work / "approvers" / name).write_text(text, encoding="utf-8")
    (project.work / "templates").mkdir()
    shutil.copy(COMPONENT, project.work / "templates" / COMPONENT.name)
    (project.work / ".gitlab-ci.yml").write_text(  # the component, with its default inputs
        "include:\n  - local: templates/sop.yml\n", encoding="utf-8"
    )
    (project.work / ".gitignore").write_text(".gitlab-ci-local/\nsop-out/\nrecords/\n")
    project.commit_all("Keyring, inventories, requests and the SOP pipeline")
    project.git("remote", "add", "origin", str(project.origin))
    # gitlab-ci-local derives CI_PROJECT_* from this remote; nothing is fetched from it.
    project.git(
        "remote",
        "add",
        "gcl-origin",
        "https://gitlab.example.invalid/diskominfotik/permintaan-hosting.git",
    )
    project.git("push", "-q", "origin", "main")
    project.git("remote", "set-head", "origin", "main")
    return project


def sign(
    project: Project,
    official: Official,
    request_id: str,
    step: int,
    decision: str,
    base: str = "main",
    *extra: str,
) -> None:
    done = project.sop(
        "sign",
        request_id,
        "--step",
        str(step),
        "--decision",
        decision,
        "--signer",
        official.principal,
        "--key",
        str(official.key),
        "--base",
        base,
        "--verifier",
        "native",
        *extra,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_mr_with_a_broken_request_fails_validation_with_file_and_line(project: Project) -> None:
    project.git("checkout", "-q", "-b", "mr/rusak", "main")
    add_request(project, "dinkes-rusak", **{"vcpu: 2": "vcpu: 0", "stack: php": "stack: cobol"})
    project.commit_all("OPD: permintaan hosting dinkes-rusak")
    project.git("push", "-q", "origin", "mr/rusak")

    run = project.pipeline(MR, "sop:validate")

    assert run.code != 0, run.out
    assert "FAIL" in run.out
    log = run.log("sop:validate")
    assert re.search(r"requests/dinkes-rusak\.yaml:\d+: resources\.vcpu: .*\[", log), log
    assert re.search(r"requests/dinkes-rusak\.yaml:\d+: application\.stack: ", log), log
    assert "1 berkas diperiksa, 0 sah, 1 ditolak." in log  # only what the MR changed


def test_mr_is_signed_merged_and_passes_the_step_8_gate(
    project: Project, officials: dict[str, Official], lab_env: dict[str, str]
) -> None:
    rid = "dinkes-antrian"
    project.git("checkout", "-q", "-b", "mr/antrian", "main")
    add_request(project, rid, **{"Sistem Informasi Puskesmas": "Antrian Online Puskesmas"})
    project.commit_all(f"OPD: permintaan hosting {rid}")
    project.git("push", "-q", "origin", "mr/antrian")

    # 1. Submitted: valid, no statement yet, the progress job says what is awaited.
    run = project.pipeline(MR, "sop:validate", "sop:keyring", "sop:verify", "sop:progress")
    assert run.code == 0, run.out
    assert "1 berkas diperiksa, 1 sah, 0 ditolak." in run.log("sop:validate")
    assert f"requests/{rid}.yaml: 0 pernyataan" in run.log("sop:verify")
    progress = run.log("sop:progress")
    assert f"{rid}: 1 langkah baru dicatat; menunggu langkah 2" in progress
    assert "Gerbang langkah 8: TIDAK TERPENUHI" in progress
    assert "[step-02-unsigned]" in progress
    assert "WARN 7" in run.out  # allowed to fail with 7: a gate that does not hold yet
    comment = project.artifact("sop:progress", "sop-out/comment.md").read_text()
    assert f"#### {rid}: belum lengkap" in comment
    assert f"<!-- sop-pipeline:kelengkapan:{rid} -->" in comment  # `sop comment`
    assert "✅ **Lengkap**" in comment
    assert "- Kepala Dinas: langkah 2 (sekarang), 12" in comment

    # 2. The officials sign, each with their own key, and commit to the branch. Before Tim
    # Teknis signs step 6, the protected sop:analysis job analyses the MR's request file
    # (and only it) and pushes the analysis record to the records branch.
    for step, who, decision in (
        (2, "kadis", "approve"),
        (3, "kabid", "approve"),
        (4, "koordinator", "complete"),
    ):
        sign(project, officials[who], rid, step, decision)
        project.commit_all(f"Langkah {step}: {who}")
    project.git("push", "-q", "origin", "mr/antrian", "mr/antrian:refs/merge-requests/1/head")
    project.git("checkout", "-q", "main")
    analysis = {
        **PROTECTED_MAIN,
        "SOP_REQUEST_ID": rid,
        "SOP_ANALYZE_MR": "1",
        "SOP_RECORDS_PUSH_URL": str(project.origin),
        **lab_env,
    }
    only = project.pipeline(analysis)  # the whole pipeline, as GitLab would create it
    for job in ("sop:gate", "sop:provision", "sop:report"):
        assert safe_name(job) not in only.logs  # an analysis pipeline builds nothing
    log = only.log("sop:analysis")
    assert only.code == 0, only.out[-4000:]
    assert f"{rid}: DAPAT DILAKSANAKAN." in log, log[-3000:]
    digest = re.search(r"sha256 laporan: ([0-9a-f]{64})", log)
    assert digest, log[-3000:]
    kept = subprocess.run(
        ["git", "--git-dir", str(project.origin), "show", f"sop-records:records/{rid}.jsonl"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert [json.loads(line)["kind"] for line in kept.splitlines()] == ["analysis"]
    project.git("checkout", "-q", "mr/antrian")
    evidence = ("--evidence", f"laporan-analisis-teknis.md={digest.group(1)}")
    sign(project, officials["teknis1"], rid, 6, "approve", "main", *evidence)
    project.commit_all("Langkah 6: teknis1")
    sign(project, officials["kabid"], rid, 7, "approve")
    project.commit_all("Langkah 7: kabid")
    project.git("push", "-q", "origin", "mr/antrian")

    run = project.pipeline(MR, "sop:verify", "sop:progress")
    assert run.code == 0, run.out
    verify = run.log("sop:verify")
    assert verify.count(": SAH (valid)") == 5, verify
    assert "TIDAK SAH" not in verify
    assert "Gerbang langkah 8: TERPENUHI" in run.log("sop:progress")
    assert (
        f"#### {rid}: siap untuk hosting (langkah 8)"
        in project.artifact("sop:progress", "sop-out/comment.md").read_text()
    )

    # 3. Merged; the protected pipeline for this request re-checks every gate on main.
    project.git("checkout", "-q", "main")
    project.git("merge", "-q", "--no-ff", "mr/antrian", "-m", f"Merge {rid}")
    project.git("push", "-q", "origin", "main")
    run = project.pipeline({**PROTECTED_MAIN, "SOP_REQUEST_ID": rid}, "sop:main", "sop:gate")
    assert run.code == 0, run.out
    assert "UTUH" in run.log("sop:main")
    gate = run.log("sop:gate")
    assert "Gerbang langkah 8: TERPENUHI" in gate, gate
    assert f"{rid}: langkah 5 dicatat, nomor tiket HOST-" in gate
    assert f"{rid}: 7 langkah baru dicatat; menunggu langkah 8" in gate
    ledger = project.artifact("sop:gate", f"records/{rid}.jsonl")
    steps = [json.loads(line) for line in ledger.read_text().splitlines()]
    done = [r["step"] for r in steps if r["kind"] == "step"]
    assert done == [1, 2, 3, 4, 5, 6, 7], done
    assert steps[-1]["kind"] == "gate_check" and steps[-1]["data"]["verdict"] == "pass"


LAB_NAMESPACE = "sopgcl"


@pytest.fixture(scope="module")
def lab_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A lab of its own (namespace, mirror, BIND, Proxmox with QEMU guests) and the SOP_*
    variables the protected environment ``hosting`` would give the step-8 job for it."""
    require_lab_tools()
    from sop_pipeline.adapters.infrastructure import lab_ssh_public_key
    from sop_pipeline.lab import control

    lab_dir = tmp_path_factory.mktemp("gcl-lab")
    info = control.up(lab_dir=lab_dir, namespace=LAB_NAMESPACE)
    lab_ssh_public_key(lab_dir)  # the pipeline's key pair, made once
    try:
        yield {
            "SOP_ENVIRONMENT": "lab",
            "SOP_NETNS": LAB_NAMESPACE,
            "SOP_PVE_URL": info.pve_url,
            "SOP_PVE_TOKEN_FILE": info.pve_token_file,
            "SOP_PVE_CA_FILE": info.pve_cafile,
            "SOP_ALLOCATOR_DSN": f"sqlite:///{lab_dir / 'allocator.sqlite'}",
            "SOP_DNS_SERVER": info.dns_server,
            "SOP_DNS_REVERSE_ZONE": "0.99.10.in-addr.arpa",
            "SOP_TSIG_KEY_FILE": str(lab_dir / "bind" / "sop-pipeline.key"),
            "SOP_SSH_PUBLIC_KEYS_FILE": str(lab_dir / "ssh" / "id_ed25519.pub"),
            "SOP_SSH_KEY_FILE": str(lab_dir / "ssh" / "id_ed25519"),
            "SOP_TF_WORK_DIR": str(lab_dir / "terraform"),
        }
    finally:
        control.down(lab_dir=lab_dir, namespace=LAB_NAMESPACE)


def require_lab_tools() -> None:
    missing = [t for t in ("qemu-system-x86_64", "named", "terraform") if not shutil.which(t)]
    if missing or os.geteuid() != 0:
        message = f"provisioning in the lab needs root and {missing}: run `make setup`"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def test_merged_request_is_provisioned_and_reported_by_the_protected_jobs(
    project: Project, lab_env: dict[str, str]
) -> None:
    """After the merge above: the protected jobs, in CI's order, gate, provision for real
    (in the lab, through the same SOP_* variables production uses) and report.

    An unmerged MR changes a task of playbooks/site.yml (one that would stop step 8), and the
    job's files hold the MR's version: step 8 runs the base commit's playbook all the same."""
    rid = "dinkes-antrian"
    project.git("checkout", "-q", "-b", "mr/playbook", "main")
    site = project.work / "playbooks" / "site.yml"
    first_task = "  pre_tasks:\n"
    assert first_task in site.read_text()
    site.write_text(
        site.read_text().replace(
            first_task,
            f"{first_task}    - name: {MR_TASK}\n      ansible.builtin.fail:\n"
            f"        msg: {MR_TASK}\n\n",
        )
    )
    project.commit_all("MR: ubah playbook (belum digabung)")
    project.git("push", "-q", "origin", "mr/playbook")
    project.git("checkout", "-q", "main")
    project.git("checkout", "mr/playbook", "--", "playbooks/site.yml")  # in the job's files
    protected = {
        **PROTECTED_MAIN,
        "SOP_REQUEST_ID": rid,
        "SOP_RECORDS_PUSH_URL": str(project.origin),
        **lab_env,
    }
    try:
        # Step 8 boots a VM under TCG: on a loaded runner it takes well over 10 minutes.
        run = project.pipeline(protected, "sop:gate", "sop:provision", "sop:report", timeout=1800)
        job_site = project.work / ".gitlab-ci-local" / "builds" / safe_name("sop:provision")
        assert MR_TASK in (job_site / "playbooks" / "site.yml").read_text()  # the MR's file...
    finally:
        project.git("checkout", "main", "--", "playbooks/site.yml")
    assert run.code == 0, run.out[-6000:]
    provision = run.log("sop:provision")
    assert "Gerbang langkah 8: TERPENUHI" in run.log("sop:gate")
    for phase in ("agent", "ansible", "http", "backup"):
        said = f"[{PHASES.index(phase) + 1}/{len(PHASES)}] {PHASE_LABELS[phase]}"
        assert said in provision, provision[-3000:]
    # ... but the base commit's playbook ran: its first task, and never the MR's.
    assert "[persiapan] Check the request's id, name and stack before anything changes" in (
        provision
    )
    assert MR_TASK not in provision
    assert f"{rid}: langkah 8 selesai: {rid}.sumbarprov.go.id (10.99.0." in provision
    token = Path(lab_env["SOP_PVE_TOKEN_FILE"]).read_text().strip()
    assert token.split("=")[-1] not in run.out
    report = run.log("sop:report")
    assert "berita-acara-serah-terima.pdf" in report, report
    ledger = project.artifact("sop:report", f"records/{rid}.jsonl")
    steps = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [r["step"] for r in steps if r["kind"] == "step"] == list(range(1, 10))

    # The ledger outlives the pipeline: on the records branch, exactly as the report job left
    # it; the next protected pipeline continues it (nothing recorded twice, step 8 not re-run).
    kept = subprocess.run(
        ["git", "--git-dir", str(project.origin), "show", f"sop-records:records/{rid}.jsonl"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert kept == ledger.read_text()
    again = project.pipeline(protected, "sop:gate", "sop:provision")
    assert again.code == 0, again.out[-4000:]
    assert f"{rid}: 0 langkah baru dicatat; menunggu langkah 10" in again.log("sop:gate")
    assert f"{rid}: langkah 8 sudah dicatat; tidak ada yang dilakukan." in again.log(
        "sop:provision"
    )


def test_protected_jobs_refuse_a_request_id_that_is_not_a_label(project: Project) -> None:
    project.git("checkout", "-q", "main")
    evil = {**PROTECTED_MAIN, "SOP_REQUEST_ID": "x$(touch pwned)"}

    run = project.pipeline(evil)  # the whole pipeline, as GitLab would create it
    assert run.code == 0, run.out
    assert "UTUH" in run.log("sop:main")
    assert safe_name("sop:gate") not in run.logs  # rules: the job is never created
    assert safe_name("sop:provision") not in run.logs

    run = project.pipeline(evil, "sop:gate")  # forced by name: the script refuses it too
    assert run.code != 0
    assert "ID permintaan tidak sah" in run.log("sop:gate")
    assert not list(project.root.rglob("pwned"))


def test_mr_that_adds_its_own_key_does_not_get_its_approval_accepted(
    project: Project, officials: dict[str, Official], tmp_path: Path
) -> None:
    rid = "dinkes-jadwal"
    project.git("checkout", "-q", "-b", "mr/jadwal", "main")
    add_request(project, rid, **{"Sistem Informasi Puskesmas": "Jadwal Dokter"})
    # The MR enrols a "kabid" of its own and signs the decision with that key.
    mallory_key = keygen(tmp_path / "id_mallory", ("-t", "ed25519"), "mallory")
    mallory = Official(
        "mallory",
        Role.KABID,
        "mallory@diskominfotik.sumbarprov.go.id",
        mallory_key,
        mallory_key.with_suffix(".pub"),
        "199901012020011001",
    )
    signers = project.work / "approvers" / "allowed_signers"
    signers.write_text(
        signers.read_text() + signer_line(mallory.principal, Role.KABID, mallory.public_line) + "\n"
    )
    roles = project.work / "approvers" / "roles.toml"
    kabid = '"kabid@diskominfotik.sumbarprov.go.id"'
    roles.write_text(
        roles.read_text().replace(f"kabid = [{kabid}]", f'kabid = [{kabid}, "{mallory.principal}"]')
    )
    project.commit_all("OPD: permintaan hosting dinkes-jadwal (dan satu kunci baru)")
    for step, who, decision in (
        (2, "kadis", "approve"),
        (3, "kabid", "approve"),
        (4, "koordinator", "complete"),
        (6, "teknis1", "approve"),
    ):
        sign(project, officials[who], rid, step, decision)
    sign(project, mallory, rid, 7, "approve", base="mr/jadwal")  # signed against its own keyring
    project.commit_all("Langkah 2-7")
    project.git("push", "-q", "origin", "mr/jadwal")

    run = project.pipeline(MR, "sop:keyring", "sop:verify", "sop:progress")

    assert run.code != 0
    assert "DITOLAK: perubahan approvers/ harus diajukan dalam merge request tersendiri" in (
        run.log("sop:keyring")
    )
    verify = run.log("sop:verify")
    assert re.search(r"step-07-kabid\.json: .*mallory@.*TIDAK SAH", verify), verify
    assert verify.count(": SAH (valid)") == 4
    progress = run.log("sop:progress")
    assert "Gerbang langkah 8: TIDAK TERPENUHI" in progress, progress


def test_mr_that_edits_records_is_refused(project: Project) -> None:
    """records/ holds history and consumed approvals: only the protected pipeline writes it."""
    project.git("checkout", "-q", "-b", "mr/catatan", "main")
    add_request(project, "dinkes-catatan", **{"Sistem Informasi Puskesmas": "Catatan"})
    records = project.work / "records"
    records.mkdir(exist_ok=True)
    (records / "_consumed-approvals.jsonl").write_text("")  # "forget" every spent approval
    project.git("add", "-f", "records/_consumed-approvals.jsonl")  # past the .gitignore
    project.commit_all("OPD: permintaan hosting, dan catatan dikosongkan")
    project.git("push", "-q", "origin", "mr/catatan")

    run = project.pipeline(MR, "sop:keyring")

    assert run.code != 0, run.out
    assert "DITOLAK: merge request tidak boleh mengubah records/" in run.log("sop:keyring")
