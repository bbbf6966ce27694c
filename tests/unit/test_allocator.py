"""The allocator on SQLite: the real pools file, real transactions, real processes."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest

from sop_pipeline.adapters.allocator import AllocationError, Allocator
from sop_pipeline.config import load_pools
from sop_pipeline.errors import ConfigError

POOLS_FILE = Path(__file__).resolve().parents[2] / "inventories" / "pools.yaml"


@pytest.fixture
def allocator(tmp_path: Path) -> Allocator:
    return Allocator(load_pools(POOLS_FILE), f"sqlite:///{tmp_path / 'alloc.sqlite'}")


def test_pools_file_defines_lab_as_the_lab_constants_say() -> None:
    lab = load_pools(POOLS_FILE)["lab"]
    assert (str(lab.first), str(lab.last), str(lab.gateway)) == (
        "10.99.0.100",
        "10.99.0.199",
        "10.99.0.1",
    )
    assert lab.resolvers == ("10.99.0.2",)
    assert (lab.vmid_first, lab.vmid_last, lab.prefix) == (1000, 8999, 24)
    assert "production" in load_pools(POOLS_FILE)


def test_first_allocation_takes_the_lowest_free_values(allocator: Allocator) -> None:
    a = allocator.allocate("dinkes-simpus", "lab")
    b = allocator.allocate("bappeda-sipd", "lab")
    assert (a.vmid, a.ipv4) == (1000, "10.99.0.100")
    assert (b.vmid, b.ipv4) == (1001, "10.99.0.101")


def test_rerun_returns_what_the_request_already_holds(allocator: Allocator) -> None:
    first = allocator.allocate("dinkes-simpus", "lab")
    again = allocator.allocate("dinkes-simpus", "lab")
    assert again == first
    assert len(allocator.all()) == 2


def test_release_needs_the_confirmed_vmid(allocator: Allocator) -> None:
    held = allocator.allocate("dinkes-simpus", "lab")
    with pytest.raises(AllocationError, match="belum dipastikan terhapus"):
        allocator.release("dinkes-simpus", "lab", confirmed_absent_vmid=held.vmid + 1)
    assert allocator.held("dinkes-simpus", "lab") == held
    assert allocator.release("dinkes-simpus", "lab", confirmed_absent_vmid=held.vmid) is True
    assert allocator.held("dinkes-simpus", "lab") is None
    assert allocator.allocate("bappeda-sipd", "lab").vmid == held.vmid  # freed values are reused


def test_unknown_environment_is_a_config_error(allocator: Allocator) -> None:
    with pytest.raises(ConfigError, match="staging"):
        allocator.allocate("dinkes-simpus", "staging")


def test_full_pool_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    text = POOLS_FILE.read_text().replace("last: 10.99.0.199", "last: 10.99.0.101")
    small = tmp_path / "pools.yaml"
    small.write_text(text)
    alloc = Allocator(load_pools(small), f"sqlite:///{tmp_path / 'a.sqlite'}")
    alloc.allocate("a1", "lab")
    alloc.allocate("a2", "lab")
    with pytest.raises(AllocationError, match="habis"):
        alloc.allocate("a3", "lab")
    assert {r[3] for r in alloc.all()} == {"a1", "a2"}  # the refused request holds nothing


def test_bad_pool_file_names_file_and_pool(tmp_path: Path) -> None:
    bad = tmp_path / "pools.yaml"
    bad.write_text(POOLS_FILE.read_text().replace("gateway: 10.99.0.1\n", "gateway: 10.98.0.1\n"))
    with pytest.raises(ConfigError, match=r"pools\.yaml: pools\.lab\.gateway: .*\[pool-range\]"):
        load_pools(bad)


@pytest.mark.parametrize(
    ("old", "new", "refused"),
    [
        ("vmid_first: 1000\n", "vmid_first: 01000\n", r"pools\.yaml:\d+: pools\.lab\.vmid_first:"),
        ("vlan: null\n", "vlan: yes\n", r"pools\.yaml:\d+: pools\.lab\.vlan:"),
        ("vmid_last: 8999\n", 'vmid_last: "8999"\n', r"pools\.lab\.vmid_last: harus int \[type\]"),
        ("vlan: null\n", "vlan: true\n", r"pools\.lab\.vlan: harus int atau null \[type\]"),
        ("bridge: vmbr0\n", "bridge: vmbr0\n    bridge: vmbr1\n", r"pools\.yaml:\d+: "),
    ],
)
def test_pool_file_goes_through_the_strict_loader(
    tmp_path: Path, old: str, new: str, refused: str
) -> None:
    """`010` and `yes` are refused, not read as 8 and True; a quoted number is not a number;
    a duplicate key is refused, not silently overwritten."""
    text = POOLS_FILE.read_text()
    assert old in text
    bad = tmp_path / "pools.yaml"
    bad.write_text(text.replace(old, new, 1))
    with pytest.raises(ConfigError, match=refused):
        load_pools(bad)


def _worker(args: tuple[str, int]) -> tuple[str, int, str]:
    dsn, n = args
    alloc = Allocator(load_pools(POOLS_FILE), dsn)
    got = alloc.allocate(f"req-{n:02d}", "lab")
    return got.request_id, got.vmid, got.ipv4


def test_twenty_processes_at_once_get_distinct_values(tmp_path: Path) -> None:
    dsn = f"sqlite:///{tmp_path / 'alloc.sqlite'}"
    Allocator(load_pools(POOLS_FILE), dsn)
    with multiprocessing.get_context("spawn").Pool(8) as procs:
        results = procs.map(_worker, [(dsn, n) for n in range(20)] + [(dsn, n) for n in range(20)])
    by_request = {r: (v, ip) for r, v, ip in results}
    assert len(by_request) == 20
    vmids = [v for v, _ in by_request.values()]
    ips = [ip for _, ip in by_request.values()]
    assert len(set(vmids)) == 20 and len(set(ips)) == 20  # 0 duplicates
    assert len(Allocator(load_pools(POOLS_FILE), dsn).all()) == 40  # re-asks allocated nothing new
    print(
        f"allocator/sqlite: 40 asks from 8 processes, 20 requests, {len(set(vmids))} VMIDs, "
        f"{len(set(ips))} IPs, 0 duplicates"
    )
