"""Which processes a dead run left behind, and when Terraform's lock may be forced open."""

from __future__ import annotations

from sop_pipeline.adapters.leftovers import (
    ProcessInfo,
    RunMarker,
    StateLock,
    classify,
    holder_provably_dead,
    parse_state_lock,
    run_alive,
)

ME = RunMarker("web-dinkes", 500, 9000)
DEAD = RunMarker("web-dinkes", 400, 8000)


def sop(marker: RunMarker) -> ProcessInfo:
    """The ``sop`` process of a run (it carries no marker itself)."""
    return ProcessInfo(marker.pid, marker.start, "sop")


def child(pid: int, marker: RunMarker | None, name: str = "terraform") -> ProcessInfo:
    return ProcessInfo(pid, 100 + pid, name, marker)


def test_marker_round_trips_and_rejects_junk() -> None:
    assert RunMarker.parse(ME.text()) == ME
    for junk in ("", "web-dinkes", "web-dinkes:0:1", "Web:1:2", "a:1:2:3", "a;rm:1:2", "a:x:2"):
        assert RunMarker.parse(junk) is None, junk


def test_children_of_a_dead_run_are_leftovers() -> None:
    table = [
        sop(ME),
        child(601, DEAD),
        child(602, DEAD, "terraform-provider-proxmox"),
        child(603, ME),
        child(604, None, "bash"),
    ]
    found = classify("web-dinkes", table, me=ME)
    assert [p.pid for p in found.leftovers] == [601, 602]
    assert found.live_runs == ()


def test_a_live_run_of_another_job_is_never_touched() -> None:
    other = RunMarker("web-dinkes", 450, 8500)
    table = [sop(ME), sop(other), child(701, other, "ansible-playbook")]
    found = classify("web-dinkes", table, me=ME)
    assert found.leftovers == ()
    assert found.live_runs == (other,)


def test_a_reused_pid_does_not_keep_a_dead_run_alive() -> None:
    # pid 400 exists again, but started later: not the run the marker names.
    table = [sop(ME), ProcessInfo(400, 8001, "bash"), child(801, DEAD, "ssh")]
    found = classify("web-dinkes", table, me=ME)
    assert [p.pid for p in found.leftovers] == [801]
    assert not run_alive(DEAD, table)


def test_other_requests_are_not_this_runs_business() -> None:
    stranger = RunMarker("web-bappeda", 400, 8000)  # dead too, but another request
    found = classify("web-dinkes", [sop(ME), child(901, stranger)], me=ME)
    assert found.leftovers == ()
    assert found.live_runs == ()


LOCK_TEXT = """
Error: Error acquiring the state lock

Error message: resource temporarily unavailable
Lock Info:
  ID:        4f1c2a9e-1b2c-4d3e-8f90-a1b2c3d4e5f6
  Path:      terraform.tfstate
  Operation: OperationTypeApply
  Who:       sop@runner-1
  Version:   1.9.8
  Created:   2026-12-03 10:00:00.0 +0000 UTC
"""


def test_lock_info_is_read_from_terraforms_error() -> None:
    lock = parse_state_lock(LOCK_TEXT)
    assert lock == StateLock("4f1c2a9e-1b2c-4d3e-8f90-a1b2c3d4e5f6", "sop@runner-1")
    assert parse_state_lock("Error: something else") is None


def test_lock_of_a_dead_holder_may_be_cleared() -> None:
    lock = StateLock("id-1", "sop@runner-1")
    table = [sop(ME), child(603, ME)]
    assert holder_provably_dead(
        lock,
        host="runner-1",
        request_id="web-dinkes",
        table=table,
        me=ME,
        previous=DEAD,
        workdir="/work/web-dinkes",
    )


def test_lock_of_a_live_or_unseen_holder_is_kept() -> None:
    lock = StateLock("id-1", "sop@runner-1")
    base = {"request_id": "web-dinkes", "me": ME, "workdir": "/work/web-dinkes"}
    # the recorded previous run is alive
    assert not holder_provably_dead(
        lock, host="runner-1", table=[sop(ME), sop(DEAD)], previous=DEAD, **base
    )
    # a process of another run of the request is still there (e.g. its terraform)
    assert not holder_provably_dead(
        lock, host="runner-1", table=[sop(ME), child(601, DEAD)], previous=DEAD, **base
    )
    # taken on another host: its processes cannot be seen from here
    assert not holder_provably_dead(lock, host="runner-2", table=[sop(ME)], previous=DEAD, **base)
    # a Terraform started by hand in the working copy carries no marker
    by_hand = ProcessInfo(990, 1, "terraform", None, "/work/web-dinkes/stacks/request")
    assert not holder_provably_dead(
        lock, host="runner-1", table=[sop(ME), by_hand], previous=DEAD, **base
    )
    # ... but one in a sibling directory does not count
    sibling = ProcessInfo(991, 1, "bash", None, "/work/web-dinkes-2")
    assert holder_provably_dead(
        lock, host="runner-1", table=[sop(ME), sibling], previous=DEAD, **base
    )
