"""The hash-chained ledger: it verifies, names where it was altered, and survives kill -9."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sop_pipeline.ledger import Ledger, LedgerError, LedgerStore, verify_chain

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=timezone(timedelta(hours=7)))


def filled(tmp_path: Path, count: int = 5) -> Ledger:
    ledger = LedgerStore(tmp_path).for_request("dinkes-simpus")
    for i in range(count):
        ledger.append(
            kind="step",
            step=i + 1,
            actor="helpdesk@diskominfotik",
            at=T0 + timedelta(minutes=i),
            inputs={"request": "ab" * 32},
            data={"outcome": "done"},
        )
    return ledger


def test_a_fresh_chain_verifies_and_links(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    records = ledger.records()
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert all(b.prev == a.hash for a, b in itertools.pairwise(records))
    assert verify_chain(ledger.path) == []


def test_a_changed_byte_is_found_at_its_line(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    lines = ledger.path.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b"09:02", b"09:07")  # backdate nothing, just one digit
    ledger.path.write_bytes(b"\n".join(lines))
    faults = verify_chain(ledger.path)
    assert [(f.line, "diubah" in f.problem) for f in faults] == [(3, True)]
    assert str(faults[0]).startswith(f"{ledger.path}:3:")


def test_a_removed_record_is_found_where_the_gap_is(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    lines = ledger.path.read_bytes().split(b"\n")
    del lines[1]
    ledger.path.write_bytes(b"\n".join(lines))
    faults = verify_chain(ledger.path)
    assert faults and all(f.line == 2 for f in faults)
    assert any("dihapus" in f.problem for f in faults)


def test_reordered_records_are_found(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    lines = ledger.path.read_bytes().split(b"\n")
    lines[1], lines[3] = lines[3], lines[1]
    ledger.path.write_bytes(b"\n".join(lines))
    assert {f.line for f in verify_chain(ledger.path)} == {2, 3, 4, 5}


def test_a_record_rewritten_with_a_fresh_hash_still_breaks_the_next_link(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    records = ledger.records()
    forged = json.loads(ledger.path.read_bytes().split(b"\n")[1])
    forged["actor"] = "someone-else"
    from sop_pipeline.ledger.chain import Record

    forged["hash"] = Record(**forged).computed_hash()
    lines = ledger.path.read_bytes().split(b"\n")
    lines[1] = json.dumps(forged, sort_keys=True, separators=(",", ":")).encode()
    ledger.path.write_bytes(b"\n".join(lines))
    faults = verify_chain(ledger.path)
    assert [f.line for f in faults] == [3] and records[1].hash != forged["hash"]


def test_appending_to_a_broken_chain_is_refused(tmp_path: Path) -> None:
    ledger = filled(tmp_path)
    ledger.path.write_bytes(ledger.path.read_bytes().replace(b"helpdesk", b"hacker12", 1))
    with pytest.raises(LedgerError):
        ledger.append(kind="step", step=6, actor="x", at=T0)


def test_garbage_lines_are_reported(tmp_path: Path) -> None:
    ledger = filled(tmp_path, 2)
    ledger.path.write_bytes(ledger.path.read_bytes() + b"{not json\n")
    faults = verify_chain(ledger.path)
    assert [f.line for f in faults] == [3]


def test_times_without_a_zone_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="time zone"):
        LedgerStore(tmp_path).for_request("r").append(
            kind="step", actor="x", at=datetime(2026, 1, 1)
        )


WRITER = """
import sys
from datetime import datetime, timezone
from pathlib import Path
from sop_pipeline.ledger import LedgerStore
ledger = LedgerStore(Path(sys.argv[1])).for_request("crash")
print("ready", flush=True)
while True:
    ledger.append(kind="step", actor="writer", at=datetime.now(timezone.utc),
                  data={"pad": "x" * 4000})
"""


def test_kill_9_during_appends_never_leaves_a_torn_record(tmp_path: Path) -> None:
    """A writer appending as fast as it can is killed 20 times; the chain always verifies."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    lengths = []
    for round_ in range(20):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path)], stdout=subprocess.PIPE, env=env
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        time.sleep(0.05 + 0.01 * round_)  # kill at a different moment each round
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ledger = LedgerStore(tmp_path).for_request("crash")
        assert verify_chain(ledger.path) == []
        lengths.append(len(ledger.records()))
    assert lengths == sorted(lengths) and lengths[-1] > 20  # it kept growing, nothing lost
    leftovers = [p for p in tmp_path.iterdir() if p.name.startswith(".crash.jsonl.")]
    assert len(leftovers) <= 20  # at most one temp file per kill, never read as the ledger
