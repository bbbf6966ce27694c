"""PostgreSQL: allocation and Terraform state (pg backend, workspace per request), concurrently."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import psycopg
import pytest
from tf_support import ROOT, CreateVm, RunnerFactory

from sop_pipeline.adapters.allocator import Allocator, RequestLeasedError
from sop_pipeline.adapters.node_slots import NodeBusyError, NodeLimiter
from sop_pipeline.config import load_pools
from sop_pipeline.lab.pve import RunningPve
from sop_pipeline.steps.provisioning import APPLY_ENDED, APPLY_STARTED

pytestmark = pytest.mark.integration


def fresh_database(dsn: str, name: str) -> str:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')  # name is a fixed test identifier
        conn.execute(f'CREATE DATABASE "{name}"')
    return dsn.replace("/postgres?", f"/{name}?")


def test_allocator_on_postgres_twenty_threads(postgres: str) -> None:
    dsn = fresh_database(postgres, "alloc_threads")
    pools = load_pools(ROOT / "inventories" / "pools.yaml")
    Allocator(pools, dsn)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def ask(n: int) -> None:
        got = Allocator(pools, dsn).allocate(f"req-{n:02d}", "lab")
        with lock:
            results.append((got.vmid, got.ipv4))

    threads = [threading.Thread(target=ask, args=(n % 20,)) for n in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 20  # 40 asks, 20 requests, each request always the same pair
    assert len({v for v, _ in results}) == 20 and len({ip for _, ip in results}) == 20
    print("allocator/postgres: 40 asks from 40 threads, 20 distinct VMIDs and IPs, 0 duplicates")


def test_node_slots_in_postgres_hold_across_connections(postgres: str) -> None:
    """The per-node bound on shared runners: advisory locks in the allocator's database."""
    dsn = fresh_database(postgres, "node_slots")
    limiter = NodeLimiter(dsn, per_node=2)
    with limiter.slot("pve1") as first, NodeLimiter(dsn, per_node=2).slot("pve1") as second:
        assert {first, second} == {0, 1}
        with pytest.raises(NodeBusyError, match="Semua 2 slot"), limiter.slot("pve1", timeout=0):
            pass
        with limiter.slot("pve2", timeout=0) as other:  # another node, its own slots
            assert other == 0
    with limiter.slot("pve1", timeout=0) as again:  # both given back
        assert again == 0


@pytest.mark.slow
def test_twenty_requests_at_once_with_pg_state(
    postgres: str,
    make_runner: RunnerFactory,
    create: CreateVm,
    lab: RunningPve,
    tmp_path: Path,
) -> None:
    dsn = fresh_database(postgres, "sop_state")
    allocator = Allocator(load_pools(ROOT / "inventories" / "pools.yaml"), dsn)
    tf_dsn = dsn.replace("postgresql://", "postgres://")
    ids = [f"opd{n:02d}-app" for n in range(20)]
    # One init first creates the state schema (pg backend's CREATE SCHEMA is not safe to race).
    warm = make_runner(ids[0], pg=tf_dsn)
    warm.prepare({})
    warm.init()
    limiter = NodeLimiter(dsn, per_node=5)  # advisory locks in the allocator's database
    errors: list[BaseException] = []
    applying = [0, 0]  # now, most at once (the log lines bracket each apply inside its slot)
    guard = threading.Lock()
    started = time.monotonic()

    def count(line: str) -> None:
        with guard:
            if APPLY_STARTED in line:
                applying[0] += 1
                applying[1] = max(applying)
            elif APPLY_ENDED in line:
                applying[0] -= 1

    def run(request_id: str) -> None:
        try:
            create(
                request_id,
                make_runner(request_id, pg=tf_dsn),
                allocator_port=allocator,
                limiter=limiter,
                log=count,
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(rid,)) for rid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    assert not errors, [getattr(e, "diagnostics", lambda e=e: str(e))() for e in errors]

    vms = [vm for vm in lab.pve.vms if not vm.template]
    vmids = [vm.vmid for vm in vms]
    names = [vm.name for vm in vms]
    ips = [vm.config["ipconfig0"] for vm in vms]
    assert len(vms) == 20
    assert len(set(vmids)) == 20 and len(set(names)) == 20 and len(set(ips)) == 20  # 0 duplicates
    assert sorted(names) == sorted(ids)
    with psycopg.connect(dsn) as conn:
        workspaces = {r[0] for r in conn.execute("SELECT name FROM terraform_remote_state.states")}
    assert set(ids) <= workspaces
    assert 1 <= applying[1] <= 5, applying

    # The same request on another runner while the first holds it is refused cleanly.
    before = len(lab.pve.requests)
    other = make_runner(ids[3], pg=tf_dsn, work_root=tmp_path / "other-runner")
    with allocator.lease(ids[3]), pytest.raises(RequestLeasedError, match="sedang diproses"):
        create(ids[3], other, allocator_port=Allocator(allocator.pools, dsn))
    assert not other.workdir.exists()
    assert len([r for r in lab.pve.requests[before:] if r[0] != "GET"]) == 0  # no side effect
    print(
        f"concurrency/pg: 20 requests at once in {elapsed:.1f}s: 20 VMs, "
        f"0 duplicate VMIDs, IPs or names; at most {applying[1]} applies at once (bound 5); "
        f"a second run of one request refused cleanly"
    )
