"""Every exit code `sop --help` documents, produced by the real command on real files.

A Git repository with the department's keyring and policy on main and the example requests
on a merge-request branch; officials sign with real keys (ssh-keygen). Each case runs `sop`
as its own process, so the code is the one a CI job sees, and diagnostics must be on stderr.
The last assertion closes the loop: the codes produced here are exactly the documented ones.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from sop_pipeline.config import TrustedConfig
from sop_pipeline.demo.officials import Lab, RequestFlow
from sop_pipeline.demo.scenario import publish_base
from sop_pipeline.lab import bind
from sop_pipeline.steps.pipeline import Pipeline
from sop_pipeline.workspace import Workspace
from tests.conftest import ASSETS
from tests.integration.drift.test_drift_lab import need, start_lab

pytestmark = pytest.mark.integration

WIB = ZoneInfo("Asia/Jakarta")


def last_weeks_monday() -> datetime:
    """08:00 WIB on the Monday of last week: 7 to 14 days ago. The walks below sign then, so
    their statements (valid 14 days) still hold for the commands that check them at the real
    clock (`sop provision`, `sop gate` without --at), on whatever day the suite runs."""
    today = datetime.now(WIB).date()
    return datetime.combine(today - timedelta(days=today.weekday() + 7), time(8, 0), WIB)


MONDAY = last_weeks_monday()


def documented_codes(help_text: str) -> set[int]:
    """The codes in the "Exit codes:" table of `sop --help`."""
    table = help_text.split("Exit codes:", 1)[1]
    return {int(m) for m in re.findall(r"^\s+(\d+)\s{2}\S", table, re.MULTILINE)}


@dataclass
class Done:
    code: int
    out: str
    err: str


def sop(repo: Path, *args: str, env: dict[str, str] | None = None) -> Done:
    argv = [sys.executable, "-m", "sop_pipeline.cli.main", "--repo", str(repo), *args]
    run = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120, check=False)
    return Done(run.returncode, run.stdout, run.stderr)


def at(minutes: int) -> datetime:
    return MONDAY + timedelta(minutes=minutes)


def walk_to_step_8(
    lab: Lab,
    request_id: str,
    *,
    analysis: Callable[[], dict[str, str]] | None = None,
    override: str = "",
) -> None:
    """Steps 1-7 signed by the officials and recorded by the real pipeline. Step 6 cites the
    ``analysis`` (default: one recorded as `sop analyze` records it, DAPAT DILAKSANAKAN), and
    with ``override`` Tim Teknis signs it over a BELUM and the Kabid names it at step 7."""
    ws = Workspace(lab.repo)
    minutes = [0]
    with TrustedConfig.from_commit(lab.repo, "main") as trusted:
        pipeline = Pipeline(ws, trusted=trusted, now=lambda: at(minutes[0]))
        flow = RequestFlow(lab, request_id, records=ws.records_dir)
        pipeline.advance(request_id)
        for step, who, decision in (
            (2, "kadis", "approve"),
            (3, "kabid", "approve"),
            (4, "koordinator", "complete"),
            (6, "teknis1", "approve"),
            (7, "kabid", "approve"),
        ):
            minutes[0] += 5
            options: dict[str, Any] = {"override": override} if override and step >= 6 else {}
            if step == 6:
                options["evidence"] = (analysis or (lambda: flow.analyse(at(minutes[0] - 1))))()
            flow.sign(step, who, at(minutes[0]), decision, **options)
            pipeline.advance(request_id)
        assert pipeline.advance(request_id).state.next_step == 8  # type: ignore[union-attr]


def production_env(lab: Lab, tmp: Path) -> dict[str, str]:
    """SOP_* settings of a protected job; nothing answers at them, nothing is reached."""
    keys = tmp / "admins.pub"
    keys.write_text(lab.officials["kadis"].public_line + "\n")
    return {
        **os.environ,
        "SOP_PVE_URL": "https://127.0.0.1:9/",
        "SOP_PVE_TOKEN": "sop@pve!ci=00000000-0000-0000-0000-000000000000",
        "SOP_ALLOCATOR_DSN": str(tmp / "allocator.sqlite"),
        "SOP_DNS_SERVER": "127.0.0.1",
        "SOP_SSH_PUBLIC_KEYS_FILE": str(keys),
        "SOP_TF_WORK_DIR": str(tmp / "terraform"),
    }


def test_every_documented_exit_code_is_produced(lab: Lab, tmp_path: Path) -> None:
    publish_base(lab)
    repo = lab.repo
    helped = sop(repo, "-h")
    documented = documented_codes(helped.out)
    produced: dict[int, str] = {}

    def expect(code: int, done: Done, why: str, *, on_stderr: str = "") -> None:
        assert done.code == code, f"{why}: exit {done.code}\n{done.out}\n{done.err}"
        if on_stderr:
            assert on_stderr in done.err, f"{why}: {on_stderr!r} not on stderr: {done.err}"
        produced.setdefault(code, why)

    expect(0, helped, "sop -h")
    valid = str(repo / "requests" / "dinkes-simpus.yaml")  # the lab's, not the checkout's
    expect(0, sop(repo, "validate", valid), "a valid request")

    bad = repo / "requests" / "several-problems.yaml"
    shutil.copy(ASSETS / "requests" / "invalid" / "several-problems.yaml", bad)
    expect(2, sop(repo, "validate", str(bad)), "an invalid request file")
    bad.unlink()

    expect(
        3,
        sop(
            repo,
            "keyring",
            "lint",
            "--repo",
            str(repo),
            "--base",
            "main",
            "--at",
            "2031-01-01T00:00Z",
        ),
        "a keyring whose keys have all expired",
    )
    expect(
        3,
        sop(repo, "validate", "--base", "no-such-branch"),
        "a base that is no branch (a configuration of the run)",
        on_stderr="[base-not-found]",
    )
    expect(
        4,
        sop(repo, "validate", "--since", "refs/heads/no-such-branch"),
        "git cannot diff against a commit it does not have",
        on_stderr="no-such-branch",
    )

    forged = RequestFlow(lab, "disdik-info-sekolah", records=repo / "records")
    forged.sign(2, "kadis", at(1), key=lab.officials["koordinator"].key)  # not kadis's key
    expect(
        6,
        sop(repo, "verify", "disdik-info-sekolah", "--at", at(2).isoformat()),
        "a statement signed with another official's key",
    )

    walk_to_step_8(lab, "dinkes-simpus")
    expect(
        7,
        sop(repo, "gate", "bpbd-peringatan-dini", "--step", "8", "--at", at(40).isoformat()),
        "a gate with nothing signed",
        on_stderr="gerbang langkah 8 tidak terpenuhi",
    )
    expect(
        8,
        sop(repo, "status", "no-such-id"),
        "an unknown request id",
        on_stderr="[unknown-request]",
    )
    expect(64, sop(repo, "status", "--no-such-option"), "a wrong command line")

    lock = repo / "records" / ".provision-dinkes-simpus.lock"
    with open(lock, "a") as held:  # another `sop provision` of the same request is running
        fcntl.flock(held, fcntl.LOCK_EX)
        expect(
            75,
            sop(repo, "provision", "dinkes-simpus", env=production_env(lab, tmp_path)),
            "step 8 of a request another run is provisioning",
            on_stderr="[busy]",
        )

    # sop drift: 10 when a check cannot run (nothing answers at the production settings),
    # 9 once the lab's PVE holds a VM that no request made.
    expect(
        10,
        sop(repo, "drift", env=production_env(lab, tmp_path)),
        "a drift run whose DNS server and Proxmox API do not answer",
        on_stderr="pemeriksaan dns gagal",
    )
    need("named", "apt-get install bind9 (.ci/setup/lab.sh)")
    lab_dir = tmp_path / "labdir"
    pve, server = start_lab(lab_dir)
    try:
        pve.sync(lambda: pve.pve.add_vm(1501, "buatan-tangan", node="pve1", config={"cores": 1}))
        expect(
            9,
            sop(repo, "drift", "--lab-dir", str(lab_dir)),
            "a VM on the cluster that no request made",
        )
    finally:
        bind.stop(server)
        pve.stop()

    ledger = repo / "records" / "dinkes-simpus.jsonl"
    ledger.write_bytes(ledger.read_bytes().replace(b'"kadis', b'"kabid', 1))
    expect(5, sop(repo, "audit"), "a record altered after the fact")

    # No handled error covers a ledger path that is a folder: what a bug looks like.
    lab.write_request("dinkes-baru")
    (repo / "records" / "dinkes-baru.jsonl").mkdir()
    expect(
        1,
        sop(repo, "status", "dinkes-baru"),
        "an error nobody handles",
        on_stderr="kesalahan tak terduga (bug)",
    )

    assert set(produced) == documented, (sorted(produced), sorted(documented))


def test_errors_go_to_stderr_and_help_takes_h(lab: Lab) -> None:
    publish_base(lab)
    done = sop(lab.repo, "status", "no-such-id")
    assert done.code == 8 and done.out == "" and "no-such-id" in done.err
    for command in ("sign", "verify", "gate", "status", "validate", "comment", "keyring"):
        shown = sop(lab.repo, command, "-h")
        assert shown.code == 0 and shown.out.startswith("Usage: "), (command, shown.err)
