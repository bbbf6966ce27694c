"""From a started lab guest to a served site: site.yml for each stack on a real VM, by DNS name.

1. a real Debian VM boots under QEMU in the lab namespace (fixture ``lab_vm``);
2. ``playbooks/site.yml`` runs through the adapter for an example request of each stack;
3. the play publishes the name in BIND by a TSIG-signed update (role dns_record);
4. the site is fetched by its DNS name from inside the lab network, over HTTPS checked
   against the server's certificate, and shows the request's own content.

The Python request carries hostile text (a Jinja lookup and shell metacharacters) in its
application name: it must reach the server as literal text.

``sop drift``'s Ansible check rides on the same guest (a guest costs minutes under TCG, a
check-mode run about half a minute): right after each stack's converge, ``site.yml --check
--diff`` through :class:`~sop_pipeline.adapters.ansible_drift.AnsibleDrift` must find
nothing (zero false positives over the four stacks); then, on the first stack, nginx's vhost
is edited by hand, a base package removed and the firewall opened, and the next check finds
each, and the items are recorded in a real hash-chained ledger.
"""

from __future__ import annotations

import html
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ansible_labvm
import pytest
from ansible_labvm import DNS_PORT, FOREIGN_ADDRESS, FOREIGN_LABEL, HERE, ssh_in_lab

from sop_pipeline.adapters import ansible as adapter
from sop_pipeline.adapters.ansible_drift import AnsibleDrift
from sop_pipeline.domain.drift import DriftItem, DriftReport, Hosting
from sop_pipeline.ledger.store import LedgerStore
from sop_pipeline.steps.drift import record_drift
from tests.conftest import REPO

TREE = adapter.AnsibleTree.under(REPO)  # the checkout's playbooks/roles are under test

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.vm]

HOSTILE = "{{ lookup('pipe', 'id') }} $(id) `id`; echo pwned > /tmp/pwned & <b>x</b> '\" \\"

REQUESTS: dict[str, dict[str, Any]] = {
    "static": {
        "id": "diskominfo-portal",
        "hostname": "portal",
        "opd": {"code": "diskominfo", "name": "Dinas Komunikasi dan Informatika"},
        "application": {"name": "Portal Informasi Publik", "kind": "website", "stack": "static"},
    },
    "php": {
        "id": "dinkes-simpus",
        "hostname": "simpus",
        "opd": {"code": "dinkes", "name": "Dinas Kesehatan"},
        "application": {"name": "SIMPUS Puskesmas", "kind": "application", "stack": "php"},
    },
    "nodejs": {
        "id": "bappeda-sipd",
        "hostname": "sipd",
        "opd": {"code": "bappeda", "name": "Badan Perencanaan Pembangunan Daerah"},
        "application": {"name": "Dasbor SIPD", "kind": "application", "stack": "nodejs"},
    },
    "python": {
        "id": "disdik-ppdb",
        "hostname": "ppdb",
        "opd": {"code": "disdik", "name": "Dinas Pendidikan"},
        "application": {"name": HOSTILE, "kind": "application", "stack": "python"},
    },
}


#: SOP_ANSIBLE_STACKS="static python" limits a run to some stacks (CI runs all four).
STACKS = [s for s in os.environ.get("SOP_ANSIBLE_STACKS", "").split() if s in REQUESTS] or list(
    REQUESTS
)


def _extravars(stack: str, address: str, bind: Any) -> dict[str, Any]:
    req = REQUESTS[stack]
    return {
        "sop_request_id": req["id"],
        "sop_request": {k: v for k, v in req.items() if k != "id"},
        "sop_vm_address": address,
        # TCG VMs on a busy 2-core runner can stall for minutes: wait long for SSH.
        "sop_connect_timeout": 900,
        "dns_record_port": DNS_PORT,
        "dns_record_key_file": str(bind.key_file),
    }


def run_site(stack: str, vm: Any, bind: Any, playbook: str = "site.yml") -> adapter.PlaybookResult:
    """Run a playbook for the example request of ``stack`` on the lab VM."""
    return adapter.run_playbook(
        playbook,
        target=vm.target(),
        tree=TREE,
        extravars=_extravars(stack, vm.address, bind),
        environment="lab",
        netns=ansible_labvm.NAMESPACE,
        timeout=3600,
    )


@dataclass
class Served:
    """One stack's example request on the lab VM: its run, what was fetched, its removal."""

    result: adapter.PlaybookResult
    fetched: dict[str, Any]
    app_facts: str
    removed: adapter.PlaybookResult | None = None
    after_removal: dict[str, Any] | None = None
    #: ``sop drift``'s check right after the converge (must find nothing).
    drift: list[DriftItem] | None = None
    #: On the first stack: the check after the three kinds of drift were made by hand.
    drifted: list[DriftItem] | None = None
    #: A check that could not run (its error's diagnostics): a failed test, not "no drift".
    drift_error: str | None = None


def hosting(stack: str, vm: Any) -> Hosting:
    """The stack's request as a live hosting (what ``sop drift`` reads from step 8)."""
    req = REQUESTS[stack]
    return Hosting(req["id"], vm.vmid, "pve1", fqdn(stack), vm.address, 2, 1024, frozenset())


def drift_check(stack: str, vm: Any, bind: Any) -> list[DriftItem]:
    """``sop drift``'s Ansible check (the production adapter) on the lab VM."""
    pinned = [line.split(None, 1)[1] for line in Path(vm.known_hosts).read_text().splitlines()]
    check = AnsibleDrift(
        tree=TREE,
        environment="lab",
        private_key=Path(vm.identity_file),
        admin_user=vm.user,
        host_keys=lambda _h: pinned,
        extravars=lambda _h: _extravars(stack, vm.address, bind),
        netns=ansible_labvm.NAMESPACE,
        timeout=3600,
    )
    started = time.monotonic()
    items = check.check(hosting(stack, vm))
    print(
        f"site.yml --check --diff {stack}: {time.monotonic() - started:.0f} s, {len(items)} items"
    )
    for item in items:
        print(f"  {item.sentence()[:300]}")
    return items


#: Drift made by hand on the server, as an administrator would (first stack only).
HAND_DRIFT = {
    "vhost": "sudo sed -i '$a # X-Diubah-Tangan' /etc/nginx/sites-available/sop-{id}.conf",
    "package": "sudo env DEBIAN_FRONTEND=noninteractive apt-get remove -y -q unattended-upgrades",
    "firewall": "sudo sed -i 's/tcp dport {{ /tcp dport {{ 8080, /' /etc/nftables.conf"
    " && sudo nft -f /etc/nftables.conf",
}


def make_drift(stack: str, vm: Any) -> None:
    for command in HAND_DRIFT.values():
        ssh_in_lab(vm, "sh", "-c", shlex.quote(command.format(id=REQUESTS[stack]["id"])))


def remove_site(stack: str, vm: Any, bind: Any) -> adapter.PlaybookResult:
    """playbooks/remove.yml for ``stack``'s request: its DNS records and its site."""
    extra = _extravars(stack, vm.address, bind) | {"sop_remove_site": True}
    return adapter.run_playbook(
        "remove.yml",
        target=vm.target(),
        tree=TREE,
        extravars=extra,
        netns=ansible_labvm.NAMESPACE,
        timeout=1800,
    )


@pytest.fixture(scope="module")
def served(lab_vm: Any, lab_bind: Any) -> dict[str, Served]:
    """Each stack's request served in turn on one lab VM, as on its own server.

    A VM has one address and its PTR record names one request, so each request is fetched
    right after its run and removed (remove.yml) before the next; the last one stays.
    """
    results: dict[str, Served] = {}
    for stack in STACKS:
        result = run_site(stack, lab_vm, lab_bind)
        print(
            f"site.yml {stack}: {result.seconds:.0f} s, "
            f"changed={result.changed}, tuning={result.tuning}"
        )
        app = f"/srv/sop/{REQUESTS[stack]['id']}/app.json"
        served = Served(result, fetch(lab_vm, stack), ssh_in_lab(lab_vm, "cat", app))
        try:  # a failed check fails the drift tests below, not every test of the module
            served.drift = drift_check(stack, lab_vm, lab_bind)
            if stack == STACKS[0] and stack != STACKS[-1]:
                make_drift(stack, lab_vm)  # site.yml of the next stack puts the base role back
                served.drifted = drift_check(stack, lab_vm, lab_bind)
        except (adapter.AnsibleError, AssertionError) as exc:
            served.drift_error = (
                exc.diagnostics() if isinstance(exc, adapter.AnsibleError) else str(exc)
            )
            print(f"drift check {stack} failed: {served.drift_error}")
        if stack != STACKS[-1]:
            served.removed = remove_site(stack, lab_vm, lab_bind)
            served.after_removal = fetch_name(lab_vm, fqdn(stack))
        results[stack] = served
    return results


def fqdn(stack: str) -> str:
    return f"{REQUESTS[stack]['hostname']}.sumbarprov.go.id"


def fetch(vm: Any, stack: str) -> dict[str, Any]:
    """Resolve and fetch the site by its DNS name from inside the lab namespace."""
    req = REQUESTS[stack]
    cafile = Path(vm.identity_file).parent / f"{req['id']}.crt"
    cafile.write_text(ssh_in_lab(vm, "sudo", "cat", f"/etc/ssl/sop/{req['id']}.crt"))
    return fetch_name(vm, f"{req['hostname']}.sumbarprov.go.id", cafile)


def fetch_name(vm: Any, name: str, cafile: Path | None = None) -> dict[str, Any]:
    """Resolve ``name`` at the suite's BIND and fetch it (checking TLS against ``cafile``)."""
    argv = [
        "ip", "netns", "exec", ansible_labvm.NAMESPACE, sys.executable, str(HERE / "lab_fetch.py"),
        name, "--dns-port", str(DNS_PORT),
    ]  # fmt: skip
    argv += ["--cafile", str(cafile)] if cafile else ["--resolve-only"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


@pytest.mark.parametrize("stack", list(REQUESTS))
def test_site_is_served_by_its_name_with_the_requests_content(
    served: dict[str, Served], lab_vm: Any, stack: str
) -> None:
    if stack not in STACKS:
        pytest.skip(f"stack {stack} not in SOP_ANSIBLE_STACKS")
    assert served[stack].result.status == "successful"
    assert served[stack].result.changed > 0
    got = served[stack].fetched
    req = REQUESTS[stack]
    assert got["address"] == lab_vm.address
    assert got["ptr"] == [fqdn(stack) + "."]
    assert got["http_status"] == 301
    assert got["http_location"] == f"https://{fqdn(stack)}/"
    assert got["https_status"] == 200
    page = html.unescape(got["body"])
    assert req["application"]["name"] in page
    assert req["opd"]["name"] in page
    assert req["id"] in page
    assert f"Stack: {stack}" in page


def test_hostile_request_text_reaches_the_server_literally(
    served: dict[str, Served], lab_vm: Any
) -> None:
    if "python" not in STACKS:
        pytest.skip("the hostile request uses the python stack, not in SOP_ANSIBLE_STACKS")
    facts = json.loads(served["python"].app_facts)
    assert facts["Aplikasi"] == HOSTILE
    body = served["python"].fetched["body"]
    page = html.unescape(body)
    assert HOSTILE in page
    assert "uid=" not in page
    assert "<b>x</b>" not in body  # escaped in the HTML
    assert ssh_in_lab(lab_vm, "ls", "/tmp/pwned", "||", "echo", "absent").strip() == "absent"


def test_drift_check_finds_nothing_on_each_converged_stack(served: dict[str, Served]) -> None:
    """Zero false positives: check mode on a server just converged reports no task changed
    (a "changed" without a diff would be an item too: a defect of the role, not filtered)."""
    for stack in STACKS:
        assert served[stack].drift_error is None, (stack, served[stack].drift_error)
        assert served[stack].drift == [], (stack, served[stack].drift)


def test_drift_made_by_hand_is_found_and_recorded(
    served: dict[str, Served], tmp_path: Path
) -> None:
    stack = STACKS[0]
    if stack == STACKS[-1]:
        pytest.skip("the hand-made drift needs a stack that is not the last one")
    assert served[stack].drift_error is None, served[stack].drift_error
    items = served[stack].drifted
    assert items is not None
    rid = REQUESTS[stack]["id"]
    assert {i.owner for i in items} == {rid} and {i.source for i in items} == {"ansible"}
    by_task = {i.resource.split("/", 1)[1]: i for i in items}
    assert all(i.resource.startswith(fqdn(stack) + "/") for i in items)
    vhost = by_task["Write the site's virtual host"]
    assert vhost.attribute == f"/etc/nginx/sites-available/sop-{rid}.conf"
    assert "X-Diubah-Tangan" in str(vhost.actual)
    assert "X-Diubah-Tangan" not in str(vhost.approved)
    package = by_task["Install the base packages"]
    assert package.attribute == "packages" and "unattended-upgrades" in str(package.approved)
    firewall = by_task["Write the nftables ruleset"]
    assert firewall.attribute == "/etc/nftables.conf"
    assert "8080" in str(firewall.actual) and "8080" not in str(firewall.approved)
    assert not [i for i in items if "tanpa diff" in str(i.approved)], items  # no defect

    ledgers = LedgerStore(tmp_path / "records")
    report = DriftReport(items=tuple(items), checks={"ansible:" + rid: "ok"}, hostings=(rid,))
    (record,) = record_drift(report, ledgers, at=datetime.now(UTC), department=False)
    assert record.data["verdict"] == "drift"
    assert [DriftItem.from_json(i) for i in record.data["items"]] == sorted(items)
    audit = ledgers.audit()
    assert audit and all(faults == [] for faults in audit.values()), audit
    print(f"hand-made drift on {stack}: {len(items)} items recorded")


def test_a_second_run_changes_nothing(
    served: dict[str, Served], lab_vm: Any, lab_bind: Any
) -> None:
    again = run_site(STACKS[-1], lab_vm, lab_bind)
    print(
        f"site.yml {STACKS[-1]} again: {again.seconds:.0f} s, changed tasks: {again.changed_tasks}"
    )
    assert again.changed == 0, again.changed_tasks
    assert again.stats["sop_target"].ok > 20


def test_remove_deletes_exactly_its_own_records(
    served: dict[str, Served], lab_vm: Any, lab_bind: Any
) -> None:
    for stack in STACKS[:-1]:  # removed before the next stack's request was served
        removal = served[stack].removed
        assert removal is not None
        assert removal.changed > 0
        after = served[stack].after_removal
        assert after is not None
        assert after["address"] is None
    last = STACKS[-1]
    removed = remove_site(last, lab_vm, lab_bind)
    assert removed.changed > 0
    assert fetch_name(lab_vm, fqdn(last))["address"] is None
    # The foreign name, owned by another request, is untouched by every removal.
    assert fetch_name(lab_vm, f"{FOREIGN_LABEL}.sumbarprov.go.id")["address"] == FOREIGN_ADDRESS
    assert remove_site(last, lab_vm, lab_bind).changed == 0


def test_another_owners_name_is_refused(
    served: dict[str, Served], lab_vm: Any, lab_bind: Any
) -> None:
    """A request asking for a name another request owns fails at the DNS task."""
    extra = _extravars("static", lab_vm.address, lab_bind)
    extra["sop_request_id"] = "dinsos-bansos"
    extra["sop_request"] = dict(extra["sop_request"], hostname=FOREIGN_LABEL)
    with pytest.raises(adapter.AnsibleTaskFailed) as caught:
        adapter.run_playbook(
            "site.yml",
            target=lab_vm.target(),
            tree=TREE,
            extravars=extra,
            netns=ansible_labvm.NAMESPACE,
            timeout=3600,
        )
    assert any("NameOwnedByOther" in f.message for f in caught.value.failures)
    assert "Konfigurasi server gagal" in caught.value.diagnostics()
    got = fetch_name(lab_vm, f"{FOREIGN_LABEL}.sumbarprov.go.id")
    assert got["address"] == FOREIGN_ADDRESS


def test_a_wrong_host_key_is_refused(lab_vm: Any, lab_state: Path) -> None:
    wrong = lab_state / "wrong_known_hosts"
    # A real key of another host: the VM's own key is never accepted under another one.
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(lab_state / "other")], check=True
    )
    other = (lab_state / "other.pub").read_text().split()
    wrong.write_text(adapter.known_hosts_text(lab_vm.address, [f"{other[0]} {other[1]}"]))
    target = adapter.SshTarget(lab_vm.address, lab_vm.user, Path(lab_vm.identity_file), wrong)
    for tuning in (adapter.Tuning.TUNED, adapter.Tuning.AUTO):
        with pytest.raises(adapter.AnsibleHostKeyRejected):
            adapter.run_playbook(
                "ping.yml",
                target=target,
                tree=TREE,
                extravars={"sop_connect_timeout": 10},
                netns=ansible_labvm.NAMESPACE,
                tuning=tuning,
                timeout=300,
            )


def test_an_unreachable_server_has_its_own_error(lab_vm: Any, lab_state: Path) -> None:
    known = lab_state / "known_hosts_nobody"
    known.write_text(Path(lab_vm.known_hosts).read_text().replace(lab_vm.address, "10.99.0.198"))
    target = adapter.SshTarget("10.99.0.198", lab_vm.user, Path(lab_vm.identity_file), known)
    with pytest.raises(adapter.AnsibleUnreachable) as caught:
        adapter.run_playbook(
            "ping.yml",
            target=target,
            tree=TREE,
            extravars={"sop_connect_timeout": 10},
            netns=ansible_labvm.NAMESPACE,
            timeout=300,
        )
    assert type(caught.value) is adapter.AnsibleUnreachable
    assert "tidak dapat dihubungi" in caught.value.diagnostics()


def test_a_run_over_its_time_is_stopped(lab_vm: Any, lab_bind: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "run"
    with pytest.raises(adapter.AnsibleTimedOut):
        adapter.run_playbook(
            "site.yml",
            target=lab_vm.target(),
            tree=TREE,
            extravars=_extravars("static", lab_vm.address, lab_bind),
            netns=ansible_labvm.NAMESPACE,
            timeout=3,
            keep_data_dir=data_dir,
        )
    # Stopped means stopped: no ansible-playbook (nor mitogen's forked helper) of the run left.
    assert _processes_naming(data_dir) == []


def _processes_naming(path: Path) -> list[str]:
    """Command lines of the processes that name ``path`` in their arguments."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        line = " ".join(a.decode(errors="replace") for a in argv)
        if str(path) + "/" in line:
            found.append(f"{proc.name}: {line}")
    return found
