"""`sop drift` against the real lab pieces, no guest booted.

The lab's PVE (fakepve + our compatibility layer) on 127.0.0.1, a real BIND on a port of its
own, the real terraform CLI with the bpg provider, the allocator's SQLite. A hosting is built
the way step 8 builds it (allocation, ``terraform apply`` of the request stack, the DNS
record by a TSIG-signed update, step 8's record in the ledger); then drift is introduced for
real, through the Proxmox API and by DNS updates, and `sop drift` runs as its own process.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.query
import dns.tsig
import dns.update
import pytest
from proxmoxer import ProxmoxAPI

from sop_pipeline.adapters.infrastructure import Infrastructure, default_cli_config
from sop_pipeline.config import load_policy, load_pools
from sop_pipeline.demo.officials import Lab
from sop_pipeline.demo.scenario import publish_base
from sop_pipeline.lab import bind
from sop_pipeline.lab import pve as lab_pve
from sop_pipeline.ledger.store import LedgerStore
from sop_pipeline.ledger.tracking import STEP_KIND
from sop_pipeline.loader import read_request_model
from sop_pipeline.steps.analysis import stack_tfvars
from tests.conftest import REPO

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"


def need(ok: bool | str, what: str, how: str = "") -> None:
    """Fail in CI, skip on a laptop, when a tool is missing (``ok`` a tool's name: on PATH)."""
    if isinstance(ok, str):
        what, how, ok = ok, what, shutil.which(ok) is not None
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing: {how}")
    pytest.skip(f"{what} is missing: {how}")


@dataclass
class DriftLab:
    lab: Lab
    lab_dir: Path
    pve: lab_pve.RunningPve
    dns: bind.BindInstance
    infra: Infrastructure
    zone: str
    fqdn: str
    vmid: int
    ip: str

    def api(self) -> Any:
        user, _, rest = self.pve.token.partition("!")
        name, _, secret = rest.partition("=")
        return ProxmoxAPI(
            self.pve.pve.host,
            port=self.pve.pve.port,
            user=user,
            token_name=name,
            token_value=secret,
            verify_ssl=str(self.pve.cafile),
            service="PVE",
        )

    def dns_update(self, build: Any, zone: str | None = None) -> None:
        key = dns.tsig.Key(bind.KEY_NAME, self.dns.key_secret, bind.KEY_ALGORITHM)
        update = dns.update.UpdateMessage(zone or self.zone, keyring=key)
        build(update)
        reply = dns.query.tcp(update, self.dns.address, port=self.dns.port, timeout=5)
        assert reply.rcode() == 0, reply

    def drift(self, *args: str) -> tuple[int, dict[str, Any], str]:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sop_pipeline.cli.main",
                "--repo",
                str(self.lab.repo),
                "drift",
                *args,
                "--lab-dir",
                str(self.lab_dir),
                "--json",
                # no guest is booted here: the servers' check is test_site.py's (a real VM)
                "--without-ansible",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
            check=False,
        )
        try:
            out = json.loads(done.stdout)
        except ValueError:
            pytest.fail(f"no JSON (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done.returncode, out, done.stderr


def start_lab(lab_dir: Path) -> tuple[lab_pve.RunningPve, bind.BindInstance]:
    """The lab's PVE and a BIND on 127.0.0.1, and the lab.json `sop --lab-dir` reads."""
    pve = lab_pve.start(
        host="127.0.0.1", port=0, state_dir=lab_dir / "pve", backend=lab_pve.ConfigAgentBackend()
    )
    server = bind.BindInstance(
        directory=lab_dir / "bind",
        address="127.0.0.1",
        port=bind.free_port("127.0.0.1"),
        namespace=None,
    )
    try:
        bind.start(server)
    except BaseException:
        pve.stop()
        raise
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
    return pve, server


def tools() -> str:
    need(shutil.which("named") is not None, "named", "apt-get install bind9 (.ci/setup/lab.sh)")
    need(shutil.which("ssh-keygen") is not None, "ssh-keygen", "apt-get install openssh-client")
    cache = Path(os.environ.get("SOP_CACHE", "/var/cache/sop-pipeline"))
    binary = shutil.which("terraform") or str(cache / "terraform" / "bin" / "tofu")
    need(Path(binary).exists(), "terraform CLI", "run `bash .ci/setup/terraform.sh`")
    need(default_cli_config().exists(), "offline provider mirror", "bash .ci/setup/terraform.sh")
    return binary


@pytest.fixture
def drift_lab(lab: Lab, tmp_path: Path) -> Iterator[DriftLab]:
    """A lab with one hosting, built as step 8 builds it, and step 8's record."""
    tools()
    publish_base(lab)
    lab_dir = tmp_path / "labdir"
    pve, server = start_lab(lab_dir)
    try:
        infra = Infrastructure.from_lab(lab_dir)
        policy = load_policy(lab.repo / "inventories")
        facts = read_request_model(lab.request_file(RID), zone=policy.zone)
        assert facts is not None
        allocation = infra.allocator(load_pools(lab.repo / "inventories" / "pools.yaml")).allocate(
            RID, "lab"
        )
        template = infra.proxmox().find_template(facts.resources.template)
        tfvars = {**stack_tfvars(facts, infra, template, allocation, "pve1"), "protection": True}
        runner = infra.terraform_runner(RID, lab.repo / "terraform")
        with runner.exclusive():
            runner.prepare(tfvars)
            runner.init()
            assert not runner.plan().empty
            runner.apply()
        label = facts.fqdn.removesuffix("." + policy.zone)
        infra.dns(policy.zone).publish(label, allocation.ipv4, RID)
        started = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        LedgerStore(lab.repo / "records").for_request(RID).append(
            kind=STEP_KIND,
            step=8,
            actor="sop-pipeline",
            at=started,
            data={
                "outcome": "done",
                "hosting": {
                    "vmid": allocation.vmid,
                    "node": "pve1",
                    "ip_address": allocation.ipv4,
                    "fqdn": facts.fqdn,
                    "stack": facts.application.stack,
                    "started": started.isoformat(),
                    "finished": started.isoformat(),
                    "url": f"https://{facts.fqdn}/",
                    "checks": [],
                },
            },
        )
        yield DriftLab(
            lab,
            lab_dir,
            pve,
            server,
            infra,
            policy.zone,
            facts.fqdn,
            allocation.vmid,
            allocation.ipv4,
        )
    finally:
        bind.stop(server)
        pve.stop()


def found(out: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    return {(i["owner"], i["source"], i["attribute"], i["kind"]) for i in out["items"]}


def drift_records(lab: DriftLab, name: str) -> list[Any]:
    store = LedgerStore(lab.lab.repo / "records")
    ledger = store.named("drift") if name == "_drift" else store.for_request(name)
    return [r for r in ledger.records() if r.kind == "drift"]


def issue(folder: Path, key: str) -> dict[str, str]:
    """What `sop drift --issues-dir` wrote for ``key`` (the files the CI job posts)."""
    return {s: (folder / f"{key}.{s}").read_text() for s in ("state", "title", "labels", "md")}


def test_untouched_lab_then_each_drift_found_recorded_reported(
    drift_lab: DriftLab, tmp_path: Path
) -> None:
    started = time.monotonic()
    code, out, err = drift_lab.drift("--issues-dir", str(tmp_path / "issues-0"))
    assert code == 0, (out, err)
    closed = issue(tmp_path / "issues-0", RID)
    assert closed["state"] == "close\n" and closed["title"] == f"Drift: {RID}\n"
    assert closed["labels"] == f"sop-drift,sop-req-{RID}\n"
    assert "tidak ada drift lagi" in closed["md"]
    assert issue(tmp_path / "issues-0", "_tanpa-pemilik")["state"] == "close\n"
    assert out["verdict"] == "ok" and out["items"] == [] and out["hostings"] == [RID]
    assert out["checks"]["proxmox"] == "ok" and out["checks"]["dns"] == "ok"
    assert out["checks"]["allocator"] == "ok" and out["checks"][f"terraform:{RID}"] == "ok"
    assert out["checks"][f"ansible:{RID}"].startswith("skipped")  # --without-ansible
    (first,) = drift_records(drift_lab, RID)
    assert first.data["verdict"] == "tidak ada drift" and first.data["items"] == []
    md = Path(out["reports"][0]).read_text()
    assert "Tidak ada drift" in md and "LAPORAN DRIFT" in md
    assert Path(out["reports"][1]).read_bytes().startswith(b"%PDF")

    # Drift through the Proxmox API, and the A record pointed elsewhere.
    api = drift_lab.api()
    vm = api.nodes("pve1").qemu(drift_lab.vmid)
    tags = vm.config.get()["tags"]
    vm.config.put(memory=8192)  # approved: 4096
    vm.config.put(tags=";".join(t for t in tags.split(";") if not t.startswith("sop-opd-")))
    vm.config.put(protection=0)
    drift_lab.dns_update(lambda u: u.replace(drift_lab.fqdn + ".", 300, "A", "10.99.0.250"))

    code, out, err = drift_lab.drift("--issues-dir", str(tmp_path / "issues-1"))
    assert code == 9, (out, err)
    assert out["verdict"] == "drift"
    opened = issue(tmp_path / "issues-1", RID)
    assert opened["state"] == "open\n" and opened["title"] == f"Drift: {RID}\n"
    assert "## Drift pada hosting" in opened["md"] and "8192" in opened["md"]
    assert "10.99.0.250" in opened["md"] and "langkah 4 sampai 8" in opened["md"]
    got = found(out)
    assert {
        (RID, "proxmox", "memory_mb", "changed"),
        (RID, "proxmox", "tags", "changed"),
        (RID, "proxmox", "protection", "changed"),
        (RID, "dns", "address", "changed"),
    } <= got, json.dumps(out["items"])
    terraform = {a for (o, s, a, _k) in got if s == "terraform"}
    # The memory change waits in the running VM's pending config, which GET config shows
    # (as PVE does; pve_compat G10): Terraform's refresh finds it too.
    assert {"memory.0.dedicated", "protection", "tags"} <= terraform
    second = drift_records(drift_lab, RID)[-1]
    assert second.data["verdict"] == "drift" and len(second.data["items"]) == len(out["items"])
    md = Path(out["reports"][0]).read_text()
    assert "8192" in md and "10.99.0.250" in md and "sop-opd-dinkes" in md

    # --propose: a change request per drifted hosting, kind ubah.
    code, out, _ = drift_lab.drift("--propose")
    assert code == 9
    (proposal,) = out["proposals"]
    text = Path(proposal).read_text()
    assert "\nkind: ubah\n" in text and "memory_mb: 8192" not in text  # restore the approved
    code, out, _ = drift_lab.drift("--propose", "--accept")
    assert "memory_mb: 8192" in Path(out["proposals"][0]).read_text()

    # Restoring what was approved (what step 8 of the signed change does: the approved
    # Terraform stack applied, the name published) brings the next run back to no drift.
    runner = drift_lab.infra.terraform_runner(RID, drift_lab.lab.repo / "terraform")
    with runner.exclusive():
        assert not runner.plan().empty
        runner.apply()
    label = drift_lab.fqdn.removesuffix("." + drift_lab.zone)
    drift_lab.infra.dns(drift_lab.zone).publish(label, drift_lab.ip, RID)
    code, out, err = drift_lab.drift()
    assert code == 0, (out, err)
    assert out["items"] == []

    # The A record and its PTR deleted, a foreign name and a foreign PTR, a VM outside the
    # pipeline, a lease with no VM.
    drift_lab.dns_update(lambda u: u.delete(drift_lab.fqdn + ".", "A"))
    drift_lab.dns_update(lambda u: u.add(f"judi.{drift_lab.zone}.", 300, "A", "203.0.113.7"))
    ptr = ipaddress.IPv4Address(drift_lab.ip).reverse_pointer + "."
    drift_lab.dns_update(lambda u: u.delete(ptr, "PTR"), zone=bind.REVERSE_ZONE)
    spare = "199" if not drift_lab.ip.endswith(".199") else "198"  # no hosting's address
    foreign_ptr = f"{spare}.{bind.REVERSE_ZONE}."
    drift_lab.dns_update(
        lambda u: u.add(foreign_ptr, 300, "PTR", f"judi.{drift_lab.zone}."), zone=bind.REVERSE_ZONE
    )
    api.nodes("pve1").qemu.post(vmid=1500, name="buatan-tangan", memory=512, cores=1)
    pools = load_pools(drift_lab.lab.repo / "inventories" / "pools.yaml")
    drift_lab.infra.allocator(pools).allocate("sisa-lama", "lab")

    code, out, err = drift_lab.drift()
    assert code == 9, (out, err)
    got = found(out)
    assert (RID, "dns", "address", "missing") in got
    assert (RID, "dns", "name", "missing") in got  # the PTR
    assert ("unowned", "dns", "", "unmanaged") in got
    assert ("unowned", "proxmox", "", "unmanaged") in got
    assert ("unowned", "allocator", "vmid", "missing") in got
    resources = {i["resource"] for i in out["items"] if i["owner"] == "unowned"}
    assert {
        f"A judi.{drift_lab.zone}.",
        f"PTR {foreign_ptr}",
        "vm/1500",
        "lease/lab/sisa-lama",
    } <= resources
    department = drift_records(drift_lab, "_drift")[-1]
    assert {i["resource"] for i in department.data["items"]} == resources
    assert department.data["drifted"] == ["dinkes-simpus", "unowned"]
    md = Path(out["reports"][0]).read_text()
    assert "judi" in md and "buatan-tangan" in md and "sisa-lama" in md

    # One request only: its items, its record, no department record.
    before = len(drift_records(drift_lab, "_drift"))
    code, out, _ = drift_lab.drift(RID)
    assert code == 9 and {i["owner"] for i in out["items"]} == {RID}
    assert len(drift_records(drift_lab, "_drift")) == before
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    other = subprocess.run(
        [
            *(sys.executable, "-m", "sop_pipeline.cli.main", "--repo", str(drift_lab.lab.repo)),
            *("drift", "disdik-info-sekolah", "--lab-dir", str(drift_lab.lab_dir)),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert other.returncode == 2 and "belum menjadi hosting" in other.stderr
    print(f"drift/lab: 7 runs of sop drift in {time.monotonic() - started:.1f} s")


def test_a_check_that_fails_is_never_no_drift(drift_lab: DriftLab, tmp_path: Path) -> None:
    code, out, _ = drift_lab.drift()
    assert code == 0, out

    bind.stop(drift_lab.dns)
    code, out, err = drift_lab.drift("--issues-dir", str(tmp_path / "issues"))
    assert code == 10, (out, err)
    # No verdict: the hosting's issue is neither opened nor closed.
    assert (tmp_path / "issues" / f"{RID}.state").read_text() == "keep\n"
    assert out["verdict"] == "failed" and out["checks"]["dns"].startswith("gagal")
    assert "pemeriksaan dns gagal" in err and "tidak ada drift" not in err.replace(
        "bukan 'tidak ada drift'", ""
    )
    last = drift_records(drift_lab, RID)[-1]
    assert last.data["verdict"] == "gagal"
    assert "Pemeriksaan gagal" in Path(out["reports"][0]).read_text()
    bind.start(drift_lab.dns)

    drift_lab.pve.stop()
    code, out, err = drift_lab.drift()
    assert code == 10, (out, err)
    assert out["checks"]["proxmox"].startswith("gagal")
    assert out["checks"][f"terraform:{RID}"].startswith("gagal")
    assert out["checks"]["dns"] == "ok"
    assert "pemeriksaan proxmox gagal" in err
    assert drift_records(drift_lab, RID)[-1].data["verdict"] == "gagal"
