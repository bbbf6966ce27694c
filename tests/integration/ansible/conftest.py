"""Fixtures for the Ansible tests: a real lab VM under QEMU, the lab mirror, a BIND primary.

Everything is real: QEMU boots the lab image, SSH reaches it inside the lab network
namespace with host keys pinned from the console, BIND takes TSIG-signed updates. A missing
tool fails the test when ``CI`` is set (with how to get it) and skips it on a laptop.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import ansible_labvm  # noqa: E402
from ansible_labvm import ADDRESS, DNS_PORT, FOREIGN_RECORDS, VMID, require_lab  # noqa: E402


@pytest.fixture(scope="session")
def lab_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for this session's VM, key and known_hosts."""
    return tmp_path_factory.mktemp("ansible-lab")


@pytest.fixture(scope="session")
def lab_vm(lab_state: Path) -> Iterator[ansible_labvm.LabVm]:
    """A freshly booted lab VM (destroyed at the end of the session)."""
    require_lab()
    ansible_labvm.ensure_lab(lab_state)
    ansible_labvm.destroy(lab_state, VMID)
    vm = ansible_labvm.boot(lab_state, VMID, ADDRESS)
    yield vm
    ansible_labvm.destroy(lab_state, VMID)


@pytest.fixture(scope="session")
def lab_bind(lab_state: Path) -> Iterator[object]:
    """A BIND primary for the department's zone inside the lab namespace, on its own port."""
    require_lab()
    from sop_pipeline.lab import bind, netns

    netns.create(ansible_labvm.NAMESPACE)
    inst = bind.BindInstance(
        directory=lab_state / "bind",
        namespace=ansible_labvm.NAMESPACE,
        port=DNS_PORT,
        extra_records={bind.ZONE: FOREIGN_RECORDS},
    )
    bind.start(inst)
    yield inst
    bind.stop(inst)
