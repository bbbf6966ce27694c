"""Guided `sop sign`: checks before it writes, works out the step, commits and pushes.

Real Git repositories throughout: the lab's repository (keyring on `main`, the merge request
checked out), a bare remote for `--push`, and a second clone that pushes first.
"""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from sop_pipeline.cli.signing import COMMANDS
from sop_pipeline.demo.officials import T0, Lab, RequestFlow

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"


@click.group()
def sop() -> None:
    """Stand-in for the package's `sop` group."""


for command in COMMANDS:
    sop.add_command(command)


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


@pytest.fixture
def mr(lab: Lab) -> Lab:
    """The merge request with its request file committed and step 1 recorded."""
    for name, value in (("user.name", "Pejabat"), ("user.email", "p@example.invalid")):
        lab.git("config", name, value)
    lab.git("config", "commit.gpgsign", "false")
    lab.write_request(RID)
    RequestFlow(lab, RID, records=lab.repo / "records").pipeline_step(1, T0)
    lab.commit("request: dinkes-simpus")
    return lab


def sign(lab: Lab, who: str, minute: int, *extra: str, key: str | None = None) -> tuple[int, str]:
    o = lab.officials[who]
    args = [
        "sign",
        RID,
        "--signer",
        o.principal,
        "--at",
        (T0 + timedelta(minutes=minute)).isoformat(),
    ]
    args += ["--key", key if key is not None else str(o.key)] if key != "" else []
    if "--decision" not in extra:
        args += ["--decision", "complete" if who == "koordinator" else "approve"]
    result = CliRunner().invoke(sop, [*args, *extra, "--repo", str(lab.repo)])
    return result.exit_code, result.output


def approvals(lab: Lab) -> list[str]:
    folder = lab.repo / "requests" / f"{RID}.approvals"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_wrong_key_writes_nothing(mr: Lab) -> None:
    """Before: the Kadis's statement signed with the Kabid's key was written, exit 0."""
    code, out = sign(mr, "kadis", 1, "--step", "2", key=str(mr.officials["kabid"].key))
    assert code == 6, out
    assert "tidak ada berkas yang ditulis" in out and "[not-allowed-signer]" in out
    assert approvals(mr) == []


def test_a_wrong_role_or_principal_writes_nothing(mr: Lab) -> None:
    code, out = sign(mr, "kabid", 1, "--step", "2")  # the Kabid's own key, the Kadis's step
    assert code == 6 and "[wrong-role]" in out, out
    o = mr.officials
    # The Kadis's key under the Kabid's name: the key does not belong to that principal.
    code, out = sign(mr, "kadis", 1, "--step", "2", "--signer", o["kabid"].principal)
    assert code == 6 and "[not-allowed-signer]" in out and "[wrong-role]" in out, out
    code, out = sign(mr, "kabid", 1, "--step", "2", key="")  # no key: signed later by hand
    assert code == 6 and "[wrong-role]" in out and "[no-key-for-step]" in out, out
    assert approvals(mr) == []
    code, out = sign(mr, "kadis", 1, "--step", "2", key="")
    assert code == 0 and "ssh-keygen -Y sign" in out, out
    assert approvals(mr) == ["step-02-kadis.json"]


def test_the_step_follows_from_the_role_and_the_state(mr: Lab) -> None:
    code, out = sign(mr, "kabid", 1)
    assert code == 6 and "[no-step-due]" in out, out  # step 3 waits for the Kadis
    for who, step, minute in (("kadis", 2, 2), ("kabid", 3, 3), ("koordinator", 4, 4)):
        code, out = sign(mr, who, minute, "--json")
        assert code == 0, out
        assert json.loads(out)["step"] == step
    code, out = sign(mr, "kabid", 5)
    assert code == 6 and "[no-step-due]" in out, out  # step 7 waits for the analysis (6)
    code, out = sign(mr, "kadis", 5)
    assert code == 6 and "[no-step-due]" in out, out  # step 12 comes after hosting
    assert approvals(mr) == [
        "step-02-kadis.json",
        "step-02-kadis.json.sig",
        "step-03-kabid.json",
        "step-03-kabid.json.sig",
        "step-04-koordinator.json",
        "step-04-koordinator.json.sig",
    ]
    at = (T0 + timedelta(minutes=6)).isoformat()
    verified = CliRunner().invoke(sop, ["verify", RID, "--at", at, "--repo", str(mr.repo)])
    assert verified.exit_code == 0 and verified.output.count("SAH (valid)") == 3, verified.output


def test_commit_takes_the_two_files_only(mr: Lab) -> None:
    (mr.repo / "unrelated.txt").write_text("staged, not part of the signature\n")
    mr.git("add", "unrelated.txt")
    code, out = sign(mr, "kadis", 1, "--commit", "--json")
    assert code == 0, out
    report = json.loads(out)
    shown = git(mr.repo, "show", "--name-only", "--format=%s", report["commit"]).split("\n")
    assert shown[0].startswith("sop sign: langkah 2 (kadis) dinkes-simpus")
    assert sorted(x for x in shown[1:] if x) == [
        f"requests/{RID}.approvals/step-02-kadis.json",
        f"requests/{RID}.approvals/step-02-kadis.json.sig",
    ]
    assert "A  unrelated.txt" in git(mr.repo, "status", "--porcelain")


def test_push_to_a_bare_remote_and_after_someone_else_pushed(mr: Lab, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    mr.git("remote", "add", "origin", str(remote))
    mr.git("push", "-q", "origin", "main", "mr/request")
    code, out = sign(mr, "kadis", 1, "--push")
    assert code == 0, out
    assert "dikirim ke origin/mr/request" in out
    assert git(remote, "rev-parse", "mr/request") == git(mr.repo, "rev-parse", "HEAD")

    other = tmp_path / "other"  # another official pushes to the same branch first
    subprocess.run(["git", "clone", "-q", "-b", "mr/request", str(remote), str(other)], check=True)
    (other / "requests" / f"{RID}" / "catatan.txt").write_text("dari pejabat lain\n")
    git(other, "add", "-A")
    git(
        other, "-c", "user.name=Lain", "-c", "user.email=l@example.invalid", "commit", "-qm", "lain"
    )
    git(other, "push", "-q", "origin", "mr/request")

    code, out = sign(mr, "kabid", 2, "--push")
    assert code == 0, out
    log = git(remote, "log", "--format=%s", "mr/request").splitlines()
    assert log[:3] == [
        "sop sign: langkah 3 (kabid) dinkes-simpus, approve, oleh "
        + mr.officials["kabid"].principal,
        "lain",
        "sop sign: langkah 2 (kadis) dinkes-simpus, approve, oleh "
        + mr.officials["kadis"].principal,
    ]
    assert git(mr.repo, "status", "--porcelain") == ""


def test_push_refuses_a_bad_remote_name(mr: Lab) -> None:
    code, out = sign(mr, "kadis", 1, "--push", "--remote", "--upload-pack=touch /tmp/x")
    assert code == 4 and "nama remote" in out, out
    code, out = sign(mr, "kadis", 1, "--push", "--remote", "nowhere")
    assert code == 4 and "nowhere" in out, out
    mr.git("checkout", "-q", "--detach")
    code, out = sign(mr, "kadis", 1, "--push")
    assert code == 4, out
    assert approvals(mr) == []  # refused before anything was written
    assert mr.git("log", "--format=%s", "-1").strip() == "request: dinkes-simpus"
