"""The per-node bound on Terraform runs, held by separate processes on real lock files.

No timing: each holder signals when it holds a slot and waits to be told to let go, so what
is free at each moment is known. The PostgreSQL variant is tested in
tests/integration/terraform/test_pg_backend.py, the bound under real applies in
test_node_bound.py.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from multiprocessing.synchronize import Event
from pathlib import Path

import pytest

from sop_pipeline.adapters.node_slots import NodeBusyError, NodeLimiter
from sop_pipeline.errors import AdapterError

CTX = multiprocessing.get_context("spawn")


def hold(dsn: str, node: str, held: Event, let_go: Event) -> None:
    with NodeLimiter(dsn, per_node=2).slot(node, timeout=60):
        held.set()
        let_go.wait(120)


class Holder:
    def __init__(self, dsn: str, node: str) -> None:
        self.held, self.let_go = CTX.Event(), CTX.Event()
        self.process = CTX.Process(target=hold, args=(dsn, node, self.held, self.let_go))
        self.process.start()
        assert self.held.wait(60), "the holder never got its slot"

    def stop(self) -> None:
        self.let_go.set()
        self.process.join(60)
        assert self.process.exitcode == 0


@pytest.fixture
def dsn(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'allocator.sqlite'}"


def test_two_processes_fill_a_node_of_two_and_a_third_waits(dsn: str) -> None:
    limiter = NodeLimiter(dsn, per_node=2)
    first, second = Holder(dsn, "pve1"), Holder(dsn, "pve1")
    try:
        busy = pytest.raises(NodeBusyError, match="Semua 2 slot Terraform untuk node pve1")
        with busy, limiter.slot("pve1", timeout=0):
            pass
        with limiter.slot("pve2", timeout=0) as number:  # another node has its own slots
            assert number == 0
        first.stop()
        with limiter.slot("pve1", timeout=0) as number:  # the freed slot, at once
            assert number == 0
    finally:
        first.stop()
        second.stop()
    assert sorted(p.name for p in limiter.slot_dir.iterdir()) == [
        "pve1.0.lock", "pve1.1.lock", "pve2.0.lock",
    ]  # fmt: skip


def test_a_killed_holder_frees_its_slot(dsn: str) -> None:
    limiter = NodeLimiter(dsn, per_node=1)
    holder = Holder(dsn, "pve1")
    holder.process.kill()
    holder.process.join(60)
    with limiter.slot("pve1", timeout=5) as number:
        assert number == 0


def test_threads_of_one_process_share_the_bound(dsn: str) -> None:
    limiter = NodeLimiter(dsn, per_node=1)
    # The second holder opens the same file again: flock holds between the two.
    with limiter.slot("pve1"), pytest.raises(NodeBusyError), limiter.slot("pve1", timeout=0):
        pass


def test_bad_bounds_and_node_names_are_refused(dsn: str) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        NodeLimiter(dsn, per_node=0)
    with pytest.raises(AdapterError, match="tidak sah"), NodeLimiter(dsn).slot("../etc/x"):
        pass
