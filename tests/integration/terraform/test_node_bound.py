"""The per-node bound on Terraform applies, across processes: six requests on one node with a
bound of 2, each provisioned by ``create_vm`` in a process of its own, against the lab PVE
with the real terraform CLI and provider.

Each process records when the code under test says an apply starts and ends (the two log
lines bracket ``terraform apply`` inside the node's slot). Counting overlaps of those
intervals is not a timed assertion: it holds however fast or slow the machine is.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tf_support import driver_env

from sop_pipeline.lab.pve import RunningPve
from sop_pipeline.steps.provisioning import APPLY_ENDED, APPLY_STARTED

pytestmark = pytest.mark.integration

DRIVER = Path(__file__).resolve().parent / "node_bound_driver.py"
REQUESTS = [f"opd{n}-app" for n in range(6)]
BOUND = 2


def most_at_once(intervals: list[tuple[float, float]]) -> int:
    """The largest number of intervals open at one instant (an end sorts before a start)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    now = most = 0
    for _, step in edges:
        now += step
        most = max(most, now)
    return most


def test_most_at_once_counts_overlaps() -> None:
    assert most_at_once([(0, 2), (1, 3), (2, 4)]) == 2  # touching ends do not overlap
    assert most_at_once([(0, 5), (1, 2), (1.5, 3)]) == 3
    assert most_at_once([]) == 0


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.slow
def test_six_requests_on_one_node_never_more_than_two_applies_at_once(
    tf_bin: str, lab: RunningPve, admin_key: str, tmp_path: Path
) -> None:
    env = driver_env(lab, tf_bin, admin_key, tmp_path) | {"SOP_TF_PARALLEL_PER_NODE": str(BOUND)}
    started = time.monotonic()
    runs = {
        rid: subprocess.Popen(
            [sys.executable, str(DRIVER), rid, str(tmp_path / f"{rid}.jsonl")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rid in REQUESTS
    }
    outputs = {rid: proc.communicate(timeout=900)[0] for rid, proc in runs.items()}
    elapsed = time.monotonic() - started
    failed = {rid: outputs[rid][-3000:] for rid, proc in runs.items() if proc.returncode != 0}
    assert not failed, failed

    intervals: list[tuple[float, float]] = []
    slots: set[str] = set()
    results = []
    for rid in REQUESTS:
        events = read(tmp_path / f"{rid}.jsonl")
        lines = [(e["at"], e["line"]) for e in events if "line" in e]
        starts = [at for at, line in lines if APPLY_STARTED in line]
        ends = [at for at, line in lines if APPLY_ENDED in line]
        assert len(starts) == len(ends) == 1, lines  # one apply each, no lock-timeout retry
        intervals.append((starts[0], ends[0]))
        slots |= {line.rsplit("(", 1)[1] for _, line in lines if APPLY_STARTED in line}
        results.append(events[-1])

    most = most_at_once(intervals)
    assert most <= BOUND, f"{most} applies at once on one node, bound {BOUND}: {intervals}"
    assert slots <= {"slot 1)", "slot 2)"}, slots
    assert {r["node"] for r in results} == {"pve1"}  # all six on the template's node
    assert len({r["vmid"] for r in results}) == len({r["ipv4"] for r in results}) == 6
    vms = [vm for vm in lab.pve.vms if not vm.template]
    assert sorted(vm.name for vm in vms) == sorted(REQUESTS)
    assert len({vm.config["ipconfig0"] for vm in vms}) == 6
    assert all(vm.status == "running" for vm in vms)
    span = max(e for _, e in intervals) - min(s for s, _ in intervals)
    applying = sum(e - s for s, e in intervals)
    print(
        f"node bound: 6 requests, 6 processes, bound {BOUND}: at most {most} applies at once; "
        f"applies {applying:.1f} s in all over {span:.1f} s; whole run {elapsed:.1f} s"
    )
