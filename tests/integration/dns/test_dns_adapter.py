"""The DNS adapter against a real BIND 9: publish, remove, and every way an update fails.

Each failure must raise its own error class and leave the zone as it was; none may pass as
success. BIND runs on 127.0.0.1 with a port of its own (a second named on the same port
would answer at random).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sop_pipeline.adapters import dns as sopdns
from sop_pipeline.lab import bind

pytestmark = pytest.mark.integration

FAKETIME_LIB = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")

# Records that belong to others, put in the zones before the tests.
EXTRA = {
    bind.ZONE: [
        "taken IN A 192.0.2.10",  # someone's name without an ownership record
        "other IN A 10.99.0.120",
        'other IN TXT "sop-pipeline owner=REQ-OTHER"',  # another request's name
    ],
    bind.REVERSE_ZONE: [
        # RFC 2317 style: the PTR of .130 lives elsewhere. BIND ignores a PTR added next to
        # a CNAME and still answers NOERROR.
        "130 IN CNAME 130.128-25.0.99.10.in-addr.arpa.",
    ],
}


def _need(tool: str, how: str) -> None:
    if shutil.which(tool) is None and not Path(tool).exists():
        message = f"{tool} is missing: {how}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bind.BindInstance]:
    _need("named", "apt-get install bind9 bind9-utils (or run .ci/setup/lab.sh)")
    inst = bind.BindInstance(
        directory=tmp_path_factory.mktemp("bind"),
        address="127.0.0.1",
        port=bind.free_port("127.0.0.1"),
        namespace=None,
        extra_records=EXTRA,
    )
    bind.start(inst)
    yield inst
    bind.stop(inst)


def settings(inst: bind.BindInstance, **changes: object) -> sopdns.DnsSettings:
    base: dict[str, object] = {
        "server": inst.address,
        "port": inst.port,
        "zone": bind.ZONE,
        "reverse_zone": bind.REVERSE_ZONE,
        "key_name": bind.KEY_NAME,
        "key_secret": inst.key_secret,
        "timeout": 3.0,
    }
    base.update(changes)
    return sopdns.DnsSettings(**base)  # type: ignore[arg-type]


@pytest.fixture()
def dns(server: bind.BindInstance) -> sopdns.DnsAdapter:
    return sopdns.DnsAdapter(settings(server))


def test_publish_confirm_replace_and_remove(dns: sopdns.DnsAdapter) -> None:
    assert dns.name_is_free("portal-dinkes")
    plan = dns.publish("portal-dinkes", "10.99.0.101", "REQ-2026-0001")
    assert (plan.forward, plan.reverse) == ("create", "create")
    assert dns.resolves_to("portal-dinkes", "10.99.0.101")
    assert dns.owner_of("portal-dinkes") == "REQ-2026-0001"
    assert not dns.name_is_free("portal-dinkes")
    # Re-running changes nothing; a new address for the same owner replaces the A record.
    again = dns.publish("portal-dinkes", "10.99.0.101", "REQ-2026-0001")
    assert (again.forward, again.reverse) == ("none", "none")
    moved = dns.publish("portal-dinkes", "10.99.0.102", "REQ-2026-0001")
    assert moved.forward == "replace"
    assert moved.stale_addresses == ("10.99.0.101",)
    assert dns.resolves_to("portal-dinkes", "10.99.0.102")
    assert not dns.resolves_to("portal-dinkes", "10.99.0.101")
    # The old address's PTR went with it: no orphan reverse record.
    assert dns._query("101.0.99.10.in-addr.arpa.", "PTR")[1] == []
    assert dns._query("102.0.99.10.in-addr.arpa.", "PTR")[1] == ["portal-dinkes.sumbarprov.go.id."]
    # Removal deletes exactly what this owner published; a second removal is a no-op.
    dns.remove("portal-dinkes", "10.99.0.102", "REQ-2026-0001")
    dns.remove("portal-dinkes", "10.99.0.102", "REQ-2026-0001")
    assert dns.name_is_free("portal-dinkes")
    assert dns._query("102.0.99.10.in-addr.arpa.", "PTR")[1] == []


def test_wrong_key_secret(server: bind.BindInstance, dns: sopdns.DnsAdapter) -> None:
    bad = sopdns.DnsAdapter(settings(server, key_secret=bind.generate_secret()))
    with pytest.raises(sopdns.TsigSignatureInvalid, match="wrong secret"):
        bad.publish("wrongkey", "10.99.0.103", "REQ-1")
    assert dns.name_is_free("wrongkey")


def test_unknown_key_name(server: bind.BindInstance, dns: sopdns.DnsAdapter) -> None:
    bad = sopdns.DnsAdapter(settings(server, key_name="not-a-key"))
    with pytest.raises(sopdns.TsigKeyUnknown, match="does not know TSIG key 'not-a-key'"):
        bad.publish("unknownkey", "10.99.0.104", "REQ-1")
    assert dns.name_is_free("unknownkey")


CLOCK_SKEW_SCRIPT = """
import sys
from sop_pipeline.adapters import dns as sopdns
s = sopdns.DnsSettings(server=sys.argv[1], port=int(sys.argv[2]), zone=sys.argv[3],
                       key_name=sys.argv[4], key_secret=sys.argv[5], timeout=3.0)
try:
    sopdns.DnsAdapter(s).publish("skewed", "10.99.0.105", "REQ-1")
except sopdns.DnsError as exc:
    print(type(exc).__name__, exc)
    sys.exit(3)
print("published")
"""


def test_clock_skew(server: bind.BindInstance, dns: sopdns.DnsAdapter) -> None:
    """This machine's clock two hours ahead (libfaketime): BIND answers BADTIME."""
    _need(str(FAKETIME_LIB), "apt-get install faketime (or run .ci/setup/lab.sh)")
    env = dict(os.environ, LD_PRELOAD=str(FAKETIME_LIB), FAKETIME="+2h")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    argv = [sys.executable, "-c", CLOCK_SKEW_SCRIPT, server.address, str(server.port),
            bind.ZONE, bind.KEY_NAME, server.key_secret]  # fmt: skip
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert proc.stdout.startswith("TsigClockSkew "), proc.stdout
    assert dns.name_is_free("skewed")


def test_refused_outside_policy(dns: sopdns.DnsAdapter) -> None:
    """`www` is reserved: the update-policy denies it, BIND answers REFUSED."""
    with pytest.raises(sopdns.UpdateRefused, match="REFUSED"):
        dns.publish("www", "10.99.0.106", "REQ-1")
    assert dns.name_is_free("www")


def test_refused_ptr_outside_pool(dns: sopdns.DnsAdapter) -> None:
    """10.99.0.50 is outside the pool: the forward name is published, its PTR is refused."""
    with pytest.raises(sopdns.UpdateRefused):
        dns.publish("outofpool", "10.99.0.50", "REQ-7")
    assert dns._query("50.0.99.10.in-addr.arpa.", "PTR")[1] == []
    dns.remove("outofpool", "10.99.0.50", "REQ-7")
    assert dns.name_is_free("outofpool")


def test_notauth_for_zone_not_served(server: bind.BindInstance) -> None:
    other = sopdns.DnsAdapter(settings(server, zone="kominfo.example.go.id", reverse_zone=None))
    # Reading: the server is not authoritative.
    with pytest.raises(sopdns.ZoneNotServed):
        other.name_is_free("app")
    # Writing: the update itself comes back NOTAUTH.
    plan = sopdns.PublishPlan(
        "app", "app.kominfo.example.go.id.", "10.99.0.107", "REQ-1", "create", "skip"
    )
    with pytest.raises(sopdns.ZoneNotServed, match="NOTAUTH"):
        other.apply(plan)


def test_prerequisite_failure_on_a_race(server: bind.BindInstance, dns: sopdns.DnsAdapter) -> None:
    """Planned while free; someone else takes the name; our update must not overwrite it."""
    plan = dns.plan_publish("race", "10.99.0.108", "REQ-A")
    assert plan.forward == "create"
    dns.publish("race", "10.99.0.109", "REQ-B")
    with pytest.raises(sopdns.PrerequisiteFailed, match="YXDOMAIN"):
        dns.apply(plan)
    assert dns.owner_of("race") == "REQ-B"
    assert dns.resolves_to("race", "10.99.0.109")
    dns.remove("race", "10.99.0.109", "REQ-B")


def test_name_owned_by_someone_else(dns: sopdns.DnsAdapter) -> None:
    with pytest.raises(sopdns.NameOwnedByOther, match="no ownership record"):
        dns.publish("taken", "10.99.0.110", "REQ-1")
    with pytest.raises(sopdns.NameOwnedByOther, match="REQ-OTHER"):
        dns.publish("other", "10.99.0.110", "REQ-1")
    with pytest.raises(sopdns.NameOwnedByOther):
        dns.remove("other", "10.99.0.120", "REQ-1")
    assert dns._query("taken.sumbarprov.go.id.", "A")[1] == ["192.0.2.10"]
    assert dns.resolves_to("other", "10.99.0.120")
    assert dns.owner_of("other") == "REQ-OTHER"


def test_noerror_that_changes_nothing(dns: sopdns.DnsAdapter) -> None:
    """BIND answers NOERROR to a PTR added next to a CNAME and ignores it: caught by the query."""
    with pytest.raises(sopdns.UpdateNotApplied, match="PTR nothing"):
        dns.publish("legacy", "10.99.0.130", "REQ-9")
    assert dns._query("130.0.99.10.in-addr.arpa.", "PTR")[1] == []
    dns.remove("legacy", "10.99.0.130", "REQ-9")
    assert dns.name_is_free("legacy")


def test_server_not_answering(server: bind.BindInstance) -> None:
    dead = sopdns.DnsAdapter(settings(server, port=bind.free_port("127.0.0.1"), timeout=1.0))
    with pytest.raises(sopdns.DnsTransportError):
        dead.name_is_free("anything")


@pytest.mark.parametrize("label", ["", "Upper", "two.labels", "-dash", "a" * 64, "ümlaut"])
def test_bad_labels_are_refused_before_any_query(label: str) -> None:
    adapter = sopdns.DnsAdapter(
        sopdns.DnsSettings(server="127.0.0.1", port=9, zone=bind.ZONE, key_secret="AAAA")  # noqa: S106 - never sent
    )
    with pytest.raises(sopdns.InvalidDnsInput):
        adapter.name_is_free(label)


def test_zone_transfer_needs_the_key_and_reads_every_record(
    server: bind.BindInstance, dns: sopdns.DnsAdapter
) -> None:
    """`sop drift` reads the zone by AXFR signed with the TSIG key; without the right key
    the server refuses, and that is an error, never an empty zone."""
    records = dns.zone_records()
    assert (f"taken.{bind.ZONE}.", "A", "192.0.2.10") in records
    assert (f"other.{bind.ZONE}.", "TXT", '"sop-pipeline owner=REQ-OTHER"') in records
    assert any(rdtype == "SOA" for _name, rdtype, _value in records)
    wrong = sopdns.DnsAdapter(settings(server, key_secret=bind.generate_secret()))
    with pytest.raises(sopdns.DnsError):
        wrong.zone_records()
    unknown = sopdns.DnsAdapter(settings(server, key_name="nobody"))
    with pytest.raises(sopdns.DnsError):
        unknown.zone_records()
    down = sopdns.DnsAdapter(settings(server, port=bind.free_port("127.0.0.1"), timeout=1.0))
    with pytest.raises(sopdns.DnsTransportError):
        down.zone_records()
