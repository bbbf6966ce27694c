"""A lab repository for the static site's tests: ``sop`` run as a subprocess of this
worktree's code, git on the lab repository, files committed on another branch."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from sop_pipeline.demo.officials import Lab

REPO = Path(__file__).resolve().parents[2]


def sop(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", "from sop_pipeline.cli.main import main; main()", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=300,
    )


def git(repo: Path, *args: str) -> str:
    identity = ["-c", "user.name=Lab", "-c", "user.email=lab@example.invalid"]
    return subprocess.run(
        ["git", *identity, "-c", "commit.gpgsign=false", "-C", str(repo), *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def commit_on_branch(lab: Lab, branch: str, files: Mapping[str, str | bytes], message: str) -> None:
    """Write ``files`` (path -> text or bytes) on ``branch`` (made from main if absent),
    come back."""
    current = git(lab.repo, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(lab.repo, "stash", "push", "-q", "--include-untracked")
    if branch not in git(lab.repo, "branch", "--list", branch):
        git(lab.repo, "branch", branch, "main")
    git(lab.repo, "checkout", "-q", branch)
    for name, content in files.items():
        (lab.repo / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):  # the kop's emblem
            (lab.repo / name).write_bytes(content)
        else:
            (lab.repo / name).write_text(content, encoding="utf-8")
    git(lab.repo, "add", *files)
    git(lab.repo, "commit", "-q", "-m", message)
    git(lab.repo, "checkout", "-q", current)
    if git(lab.repo, "stash", "list").strip():
        git(lab.repo, "stash", "pop", "-q")


def with_inventories(lab: Lab) -> None:
    """The repository's inventories (calendar, policy) on the lab's base branch."""
    files: dict[str, str | bytes] = {
        f"inventories/{p.name}": p.read_bytes() if p.suffix == ".png" else p.read_text("utf-8")
        for p in (REPO / "inventories").iterdir()
        if p.is_file()
    }
    commit_on_branch(lab, "main", files, "base: inventories (calendar, policy)")
