"""The lab namespace: bridge and addresses, taps, setns, idempotence, and no way out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop_pipeline.lab import bind, netns

pytestmark = pytest.mark.integration

NAME = "soplabnstest"


@pytest.fixture()
def ns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        message = "needs root and iproute2: run the tests as root after .ci/setup/lab.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    netns.delete(NAME)
    netns.create(NAME)
    yield NAME
    netns.delete(NAME)


def test_create_is_idempotent_and_has_the_lab_addresses(ns: str) -> None:
    netns.create(ns)
    netns.create(ns)
    out = netns.run(["ip", "-4", "-o", "addr", "show", "dev", netns.BRIDGE], ns).stdout
    for address in ("10.99.0.1/24", "10.99.0.2/24", "10.99.0.3/24"):
        assert out.count(f" {address} ") == 1
    assert netns.links(ns) == ["lo", netns.BRIDGE]


def test_no_route_out_of_the_namespace(ns: str) -> None:
    routes = netns.run(["ip", "-4", "route", "show"], ns).stdout
    assert "default" not in routes
    assert routes.strip() == "10.99.0.0/24 dev soplab0 proto kernel scope link src 10.99.0.1"
    # 192.0.2.1 is TEST-NET-1: never routed anywhere; here it must fail at once, unsent.
    probe = netns.run(["ip", "route", "get", "192.0.2.1"], ns)
    assert probe.returncode != 0
    assert "unreachable" in probe.stderr.lower()


def test_taps_are_enslaved_and_removed(ns: str) -> None:
    tap = netns.add_tap(1234, ns)
    assert netns.add_tap(1234, ns) == tap == "soptap1234"
    detail = netns.run(["ip", "-o", "link", "show", "dev", tap], ns).stdout
    assert f"master {netns.BRIDGE}" in detail
    netns.remove_tap(1234, ns)
    netns.remove_tap(1234, ns)
    assert tap not in netns.links(ns)


def test_enter_moves_a_process_into_the_namespace(ns: str, tmp_path: Path) -> None:
    """A process that called enter() serves on a lab address; a client in the namespace gets it."""
    code = (
        "import sys, socket\n"
        "from sop_pipeline.lab import netns\n"
        "netns.enter(sys.argv[1])\n"
        "s = socket.create_server(('10.99.0.1', 8099))\n"
        "print('ready', flush=True)\n"
        "c, _ = s.accept(); c.sendall(b'hello from the lab'); c.close()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[3]))
    server = subprocess.Popen(
        [sys.executable, "-c", code, ns], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().strip() == "ready"
        client = netns.run(["curl", "-s", "--max-time", "5", "telnet://10.99.0.1:8099"], ns)
        assert "hello from the lab" in client.stdout
        server.wait(timeout=10)
    finally:
        server.kill()


def test_bind_answers_inside_the_namespace(ns: str, tmp_path: Path) -> None:
    if shutil.which("named") is None:
        message = "named is missing: apt-get install bind9 (or .ci/setup/lab.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    inst = bind.BindInstance(directory=tmp_path / "bind", namespace=ns)
    bind.start(inst)
    try:
        answer = netns.run(["dig", "+short", "@10.99.0.2", "mirror.sumbarprov.go.id"], ns)
        assert answer.stdout.strip() == "10.99.0.3"
        assert (inst.key_file.stat().st_mode & 0o777) == 0o600
    finally:
        bind.stop(inst)
    assert netns.pid_alive(inst.pidfile) is None
