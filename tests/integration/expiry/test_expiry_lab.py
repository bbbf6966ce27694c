"""`sop expiry` against the lab's Proxmox (fakepve + pve_compat) and a real BIND, no guest boot.

A live hosting is registered as step 8 leaves it: a VM cloned from the lab template and
started through the API, its lease, its name published by the TSIG path, step 8's record
with the applied facts. `sop expiry` then runs as its own process on the H-30, H-14 (one day
late: CI was down) and H-7 dates, and after the end date; the maintenance page is fetched by
name through BIND from the holding host; a wrong-role and an other-bytes reversal are
refused, the Koordinator's is applied.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import dns.message
import dns.query
import pytest
from proxmoxer import ProxmoxAPI

from sop_pipeline.adapters.infrastructure import Infrastructure
from sop_pipeline.config import load_policy, load_pools
from sop_pipeline.demo.officials import Lab
from sop_pipeline.demo.scenario import publish_base
from sop_pipeline.lab import bind, holding
from sop_pipeline.lab import pve as lab_pve
from sop_pipeline.ledger.store import LedgerStore
from sop_pipeline.ledger.tracking import STEP_KIND
from sop_pipeline.loader import read_request_model
from tests.conftest import REPO

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"
END = "2026-12-31"  # a Thursday; H-30 2026-11-17, H-14 2026-12-09, H-7 2026-12-18


def need(tool: str, how: str) -> None:
    if shutil.which(tool):
        return
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is missing: {how}")
    pytest.skip(f"{tool} is missing: {how}")


@dataclass
class ExpiryLab:
    lab: Lab
    lab_dir: Path
    pve: lab_pve.RunningPve
    dns: bind.BindInstance
    holding_port: int
    zone: str
    fqdn: str
    vmid: int
    ip: str

    def api(self) -> Any:
        user, _, rest = self.pve.token.partition("!")
        name, _, secret = rest.partition("=")
        return ProxmoxAPI(
            self.pve.pve.host, port=self.pve.pve.port, user=user, token_name=name,
            token_value=secret, verify_ssl=str(self.pve.cafile), service="PVE",
        )  # fmt: skip

    def vm_status(self) -> str:
        return str(self.api().nodes("pve1").qemu(self.vmid).status.current.get()["status"])

    def a_record(self) -> list[str]:
        query = dns.message.make_query(self.fqdn, "A")
        reply = dns.query.udp(query, self.dns.address, port=self.dns.port, timeout=5)
        return sorted(str(rr) for rrset in reply.answer for rr in rrset)

    def sop(self, *args: str) -> tuple[int, str, str]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-m", "sop_pipeline.cli.main", "--repo", str(self.lab.repo), *args],
            capture_output=True, text=True, env=env, timeout=600, check=False,
        )  # fmt: skip
        return done.returncode, done.stdout, done.stderr

    def expiry(self, now: str, *extra: str) -> tuple[int, dict[str, Any]]:
        code, out, err = self.sop(
            "expiry", "--now", now, "--lab-dir", str(self.lab_dir), "--json", *extra
        )
        try:
            return code, json.loads(out)
        except ValueError:
            pytest.fail(f"no JSON (exit {code}):\n{out}\n{err}")

    def expiry_records(self) -> list[Any]:
        ledger = LedgerStore(self.lab.repo / "records").for_request(RID)
        return [r for r in ledger.records() if r.kind == "expiry"]


@pytest.fixture
def expiry_lab(lab: Lab, tmp_path: Path) -> Iterator[ExpiryLab]:
    need("named", "apt-get install bind9 (.ci/setup/lab.sh)")
    need("ssh-keygen", "apt-get install openssh-client")
    publish_base(lab)
    lab_dir = tmp_path / "labdir"
    holding_port = bind.free_port("127.0.0.1")
    # The department's policy on main: in this lab the holding host is on loopback.
    lab.git("checkout", "-q", "main")
    policy_file = lab.repo / "inventories" / "policy.yaml"
    policy_file.write_text(policy_file.read_text().replace("lab: 10.99.0.4", "lab: 127.0.0.1"))
    lab.commit("kebijakan: holding host lab di loopback")
    lab.git("checkout", "-q", "mr/request")
    lab.git("merge", "-q", "main")
    pve = lab_pve.start(
        host="127.0.0.1", port=0, state_dir=lab_dir / "pve", backend=lab_pve.ConfigAgentBackend()
    )
    server = bind.BindInstance(
        directory=lab_dir / "bind", address="127.0.0.1",
        port=bind.free_port("127.0.0.1"), namespace=None,
    )  # fmt: skip
    started_holding = False
    try:
        bind.start(server)
        holding.start(lab_dir / "holding", namespace=None, address="127.0.0.1", port=holding_port)
        started_holding = True
        (lab_dir / "lab.json").write_text(
            json.dumps(
                {
                    "pve_url": pve.url,
                    "pve_token_file": str(lab_dir / "pve" / "pve-token"),
                    "pve_cafile": str(pve.cafile),
                    "tsig_secret_file": str(server.key_file),
                    "tsig_key_name": bind.KEY_NAME,
                    "dns_server": server.address,
                    "dns_port": server.port,
                    "namespace": "",
                }
            )
        )
        infra = Infrastructure.from_lab(lab_dir)
        policy = load_policy(lab.repo / "inventories")
        request_file = lab.request_file(RID)
        facts = read_request_model(request_file, zone=policy.zone)
        assert facts is not None
        pools = load_pools(lab.repo / "inventories" / "pools.yaml")
        allocation = infra.allocator(pools).allocate(RID, "lab")
        template = infra.proxmox().find_template(facts.resources.template)
        el = ExpiryLab(lab, lab_dir, pve, server, holding_port, policy.zone, facts.fqdn,
                       allocation.vmid, allocation.ipv4)  # fmt: skip
        api = el.api()
        api.nodes("pve1").qemu(template.vmid).clone.post(
            newid=allocation.vmid, name=facts.hostname, full=1
        )
        vm = api.nodes("pve1").qemu(allocation.vmid)
        for _ in range(200):
            if not vm.status.current.get().get("lock"):
                break
            time.sleep(0.05)
        vm.config.put(tags=f"sop-pipeline;sop-req-{RID}")
        vm.status.start.post()
        for _ in range(200):
            if vm.status.current.get()["status"] == "running":
                break
            time.sleep(0.05)
        label = facts.fqdn.removesuffix("." + policy.zone)
        infra.dns(policy.zone).publish(label, allocation.ipv4, RID)
        applied = facts.as_data()
        applied["period"]["end"] = END  # what step 8 applied (a renewal would move it)
        built = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        ledger = LedgerStore(lab.repo / "records").for_request(RID)
        for step, outcome in ((1, "done"), (2, "done"), (3, "done"), (4, "complete"),
                              (5, "done"), (6, "done"), (7, "approve")):  # fmt: skip
            ledger.append(
                kind=STEP_KIND, step=step, actor="lab", at=built - timedelta(days=8 - step),
                data={"outcome": outcome},
            )  # fmt: skip
        ledger.append(
            kind=STEP_KIND, step=8, actor="sop-pipeline", at=built,
            inputs={"request": hashlib.sha256(request_file.read_bytes()).hexdigest()},
            data={
                "outcome": "done",
                "applied": applied,
                "hosting": {
                    "vmid": allocation.vmid, "node": "pve1", "ip_address": allocation.ipv4,
                    "fqdn": facts.fqdn, "stack": facts.application.stack,
                    "started": built.isoformat(), "finished": built.isoformat(),
                    "url": f"https://{facts.fqdn}/", "checks": [],
                },
            },
        )  # fmt: skip
        assert el.vm_status() == "running" and el.a_record() == [allocation.ipv4]
        yield el
    finally:
        if started_holding:
            holding.stop(lab_dir / "holding")
        bind.stop(server)
        pve.stop()


def fetch_by_name(el: ExpiryLab) -> tuple[int, str]:
    """Resolve the name through the lab's BIND, then ask that address for it (Host)."""
    (address,) = el.a_record()
    conn = http.client.HTTPConnection(address, el.holding_port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": el.fqdn})
        reply = conn.getresponse()
        return reply.status, reply.read().decode()
    finally:
        conn.close()


def test_warned_soft_retired_reversed(expiry_lab: ExpiryLab) -> None:
    el = expiry_lab
    notices = el.lab.repo / "records" / "notices" / RID

    code, out = el.expiry("2026-11-16T08:00:00+07:00")  # a day before H-30: nothing
    assert code == 0, out
    assert [o["action"] for o in out["outcomes"]] == ["none"]
    assert not notices.exists()

    code, out = el.expiry("2026-11-17T08:00:00+07:00")  # H-30
    assert code == 0 and [o["action"] for o in out["outcomes"]] == ["notice"], out
    eml = notices / f"{END}-h30.eml"
    msg = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    facts = read_request_model(el.lab.request_file(RID), zone=el.zone)
    assert facts is not None
    assert msg["To"].addresses[0].addr_spec == facts.pic.email  # the PIC of the request
    assert msg["From"].addresses[0].addr_spec == "diskominfotik@sumbarprov.go.id"
    assert "H-30" in msg["Subject"] and "31 Desember 2026" in msg.get_content()
    assert (
        "Pemberitahuan Berakhirnya Masa Hosting (H-30)" in (notices / f"{END}-h30.md").read_text()
    )
    comment = el.lab.repo / "records" / "reports" / RID / "komentar-masa-hosting.md"
    assert comment.read_text().startswith("<!-- sop-pipeline:expiry:dinkes-simpus -->")

    before = sorted(p.name for p in notices.iterdir())
    records_before = len(el.expiry_records())
    code, out = el.expiry("2026-11-17T15:00:00+07:00")  # again the same day: nothing new
    assert code == 0 and [o["action"] for o in out["outcomes"]] == ["none"]
    assert sorted(p.name for p in notices.iterdir()) == before
    assert len(el.expiry_records()) == records_before

    # CI down on H-14 (9 Dec): the next day's run sends it, once
    code, out = el.expiry("2026-12-10T08:00:00+07:00")
    assert [o["action"] for o in out["outcomes"]] == ["notice"] and out["outcomes"][0][
        "detail"
    ] == "H-14"
    assert "terlambat" in (notices / f"{END}-h14.md").read_text()
    assert "terlambat" not in (notices / f"{END}-h30.md").read_text()
    code, out = el.expiry("2026-12-11T08:00:00+07:00")
    assert [o["action"] for o in out["outcomes"]] == ["none"]
    code, out = el.expiry("2026-12-18T08:00:00+07:00")  # H-7
    assert out["outcomes"][0]["detail"] == "H-7"
    assert sorted(p.name for p in notices.iterdir()) == sorted(
        f"{END}-h{n}.{ext}" for n in (30, 14, 7) for ext in ("md", "eml")
    )
    thresholds = [r.data["threshold"] for r in el.expiry_records() if r.data["event"] == "notice"]
    assert thresholds == [30, 14, 7]

    # the Laporan Kegiatan of November and December has a line per notice
    code, stdout, err = el.sop(
        "report", "--from", "2026-11-01", "--to", "2026-12-31", "--now",
        "2026-12-31T17:00:00+07:00", "--json",
    )  # fmt: skip
    assert code == 0, err
    files = json.loads(stdout)["files"]
    md = Path(next(p for p in files if p.endswith(".md"))).read_text()
    assert any(p.endswith(".pdf") for p in files)
    assert "Masa Hosting Berakhir (sop expiry)" in md, stdout
    for n in (30, 14, 7):
        assert f"pemberitahuan H-{n} masa hosting berakhir {END}" in md

    # the end date itself is still inside the period (inclusive): still running
    code, out = el.expiry("2026-12-31T20:00:00+07:00")
    assert [o["action"] for o in out["outcomes"]] == ["none"] and el.vm_status() == "running"

    # the first day after: soft retirement
    code, out = el.expiry("2027-01-01T08:00:00+07:00")
    assert code == 0 and [o["action"] for o in out["outcomes"]] == ["soft-retired"], out
    assert el.vm_status() == "stopped"
    assert el.a_record() == ["127.0.0.1"]  # the holding host, from inventories/policy.yaml
    status, page = fetch_by_name(el)
    assert status == 503 and "Layanan Sedang Dihentikan Sementara" in page and el.fqdn in page
    infra = Infrastructure.from_lab(el.lab_dir)
    lease = infra.allocator(load_pools(el.lab.repo / "inventories" / "pools.yaml")).peek(RID, "lab")
    assert lease is not None and lease.vmid == el.vmid and lease.ipv4 == el.ip  # kept
    soft = [r for r in el.expiry_records() if r.data["event"] == "soft-retired"]
    assert len(soft) == 1 and soft[0].data["quarantine_until"] == "2027-01-30"
    code, out = el.expiry("2027-01-01T12:00:00+07:00")  # idempotent
    assert [o["action"] for o in out["outcomes"]] == ["none"]
    code, stdout, _ = el.sop("status", RID, "--json")
    assert json.loads(stdout)["expiry"]["phase"] == "pensiun lunak"

    # a reversal by the Kabid: refused with its own rule, nothing changes
    kabid = el.lab.officials["kabid"]
    code, stdout, err = el.sop(
        "sign-reversal", RID, "--signer", kabid.principal, "--reason", "diperpanjang",
        "--key", str(kabid.key), "--at", "2027-01-02T01:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    code, out = el.expiry("2027-01-02T09:00:00+07:00", "--reverse", RID)
    assert code == 6, out
    (refused,) = out["outcomes"]
    assert refused["action"] == "reversal-refused" and "reversal-wrong-role" in refused["rules"]
    assert el.vm_status() == "stopped" and el.a_record() == ["127.0.0.1"]
    for path in (el.lab.repo / "requests" / f"{RID}.approvals").glob("reversal-*"):
        path.unlink()

    # the Koordinator's, but the request file changed after signing: refused
    koordinator = el.lab.officials["koordinator"]
    code, _, err = el.sop(
        "sign-reversal", RID, "--signer", koordinator.principal, "--reason",
        "OPD mengajukan perpanjangan", "--key", str(koordinator.key),
        "--at", "2027-01-02T01:00:00Z",
    )  # fmt: skip
    assert code == 0, err
    request = el.lab.request_file(RID)
    original = request.read_bytes()
    request.write_bytes(original + b"\n")
    code, out = el.expiry("2027-01-02T09:00:00+07:00", "--reverse", RID)
    assert code == 6 and "reversal-request-changed" in out["outcomes"][0]["rules"], out
    request.write_bytes(original)

    # the same statement over the original bytes: applied on the next daily run
    code, out = el.expiry("2027-01-02T10:00:00+07:00")
    assert code == 0 and [o["action"] for o in out["outcomes"]] == ["reversed"], out
    assert el.vm_status() == "running"
    assert el.a_record() == [el.ip]
    events = [r.data["event"] for r in el.expiry_records()]
    assert events.count("reversed") == 1 and events.count("reversal-refused") == 2
    # a run killed after the shutdown, before its record: the next run converges (the VM
    # already off is fine, the name is pointed, one record)
    el.api().nodes("pve1").qemu(el.vmid).status.shutdown.post(forceStop=1)
    for _ in range(200):
        if el.vm_status() == "stopped":
            break
        time.sleep(0.05)
    code, out = el.expiry("2027-01-03T10:00:00+07:00")  # the hosting is live, end passed
    # no renewal applied: the next run retires it again (a renewal through the SOP moves END)
    assert [o["action"] for o in out["outcomes"]] == ["soft-retired"]
    assert el.vm_status() == "stopped" and el.a_record() == ["127.0.0.1"]
    assert [r.data["event"] for r in el.expiry_records()].count("soft-retired") == 2

    # the quarantine's end (30 days from 3 January): recorded once, listed, nothing destroyed
    code, out = el.expiry("2027-02-01T10:00:00+07:00")
    assert out["quarantine_ended"] == [] and [o["action"] for o in out["outcomes"]] == ["none"]
    code, out = el.expiry("2027-02-02T10:00:00+07:00")
    assert code == 0 and [o["action"] for o in out["outcomes"]] == ["quarantine-ended"], out
    assert out["quarantine_ended"] == [RID]
    code, out = el.expiry("2027-02-03T10:00:00+07:00")
    assert [o["action"] for o in out["outcomes"]] == ["none"]
    assert el.vm_status() == "stopped"  # the VM is still there: hard retirement is signed
    code, stdout, _ = el.sop("status", RID, "--json")
    assert json.loads(stdout)["expiry"]["phase"] == "karantina berakhir"
    code, stdout, _ = el.sop("audit", "--json")
    assert code == 0, stdout
