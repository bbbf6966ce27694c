"""Step 8's infrastructure work: from an approved request to a site answering under its name.

:class:`InfraProvisioner` is the pipeline's :class:`~sop_pipeline.steps.pipeline.Provisioner`. The
pipeline has already checked every gate again from the base branch and re-read the request's
bytes under the request's lock (steps 1-2 of the sequence); this module does the rest:

3. allocate     the request's VMID and address (the same ones on a re-run);
4. terraform    init from the offline mirror, adopt a VM Proxmox already has, plan, apply,
                with at most the configured number of applies per node at once;
5. agent        wait for the guest agent to report the allocated address, and read the SSH
                host keys through it (Ansible's known_hosts is pinned to them);
6. ansible      ``playbooks/site.yml`` (base, the deploy account and the database where the
                request has them, web, the stack, TLS, the DNS record); then the database
                credentials, encrypted with age to the deployers' keys, in the handover
                folder (``records/reports/<id>/``, docs/deploy.md);
7. dns          the department's DNS answers the name with the VM's address;
8. http         the site answers under its name over HTTPS, with the request's own content;
9. backup       the hosting joins its backup job (retention by its data classification,
                ``inventories/backups.yaml``), its first backup runs at once, and the archive
                is confirmed on the backup storage.

Every phase is logged with its time (``PhaseTimes`` keeps them for the lead-time
benchmark). A failure says which phase, what was left as it was, and how to continue: every
phase is idempotent, so running ``sop provision`` again continues where it stopped.

Phases 3 and 4 are :func:`create_vm`, the one Terraform flow: ``sop provision``, the demo and
the fault tests (kill -9 mid-apply, lock timeouts, cancellation, the PostgreSQL backend) all
run it. Every outside system is reached through the Protocols of :mod:`sop_pipeline.ports`.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sop_pipeline.adapters import age, ansible, processes
from sop_pipeline.adapters.allocator import Allocation, Pool
from sop_pipeline.adapters.infrastructure import Infrastructure
from sop_pipeline.adapters.proxmox import ExistingVm, ProxmoxError
from sop_pipeline.adapters.terraform import (
    CancelledError,
    RequestBusyError,
    TerraformError,
    backoff_delays,
    is_lock_timeout,
)
from sop_pipeline.config import TrustedConfig
from sop_pipeline.domain.change import CHANGE_KINDS, growth
from sop_pipeline.domain.change_class import ChangeClass, classify
from sop_pipeline.domain.credentials import (
    CREDENTIALS_FILE,
    credentials_text,
    database_password,
    recipients,
)
from sop_pipeline.domain.maintenance import Window, window_refusal
from sop_pipeline.domain.placement import (
    Demand,
    Held,
    choose_node,
    demand_of,
    place_with_pending,
    quota_excess,
)
from sop_pipeline.domain.policy import Policy, Quota
from sop_pipeline.domain.request import Request
from sop_pipeline.errors import AdapterError, ConfigError, ExitCode, LimitExceeded, SopError
from sop_pipeline.loader import LoadedRequest
from sop_pipeline.ports import (
    AllocatorPort,
    AnsiblePort,
    DnsPort,
    NodeSlots,
    Ports,
    ProxmoxPort,
    TerraformPort,
)
from sop_pipeline.reports.model import Check, HostingResult
from sop_pipeline.signing.errors import GateRefused
from sop_pipeline.steps.analysis import dns_name_free, stack_tfvars, vm_name_taken
from sop_pipeline.steps.backups import join_and_back_up

T = TypeVar("T")
Log = Callable[[str], None]

PHASES = ("allocate", "terraform", "agent", "ansible", "dns", "http", "backup")
PHASE_LABELS = {
    "allocate": "alokasi VMID dan IP",
    "terraform": "Terraform membuat VM",
    "agent": "menunggu agen tamu dan kunci host SSH",
    "ansible": "Ansible mengonfigurasi server",
    "dns": "memeriksa nama di DNS",
    "http": "memeriksa situs menjawab dengan namanya",
    "backup": "job cadangan dan cadangan pertama",
}
#: What is left as it was, and how to continue, when a phase fails.
PHASE_HINTS = {
    "allocate": "Belum ada yang dibuat. Periksa pool di inventories/pools.yaml dan basis data "
    "alokator, lalu jalankan ulang `sop provision`.",
    "terraform": "Bila VM sempat dibuat, VMID dan IP tetap dipesan dan VM itu diadopsi saat "
    "diulang; bila Proxmox memastikan tidak ada VM, VMID dan IP dilepas. Perbaiki penyebabnya "
    "lalu jalankan ulang `sop provision`.",
    "agent": "VM sudah dibuat dan dibiarkan berjalan. Periksa konsol VM dan agen tamu "
    "(qemu-guest-agent), lalu jalankan ulang `sop provision`.",
    "ansible": "VM dibiarkan apa adanya; peran Ansible idempoten. Perbaiki penyebabnya lalu "
    "jalankan ulang `sop provision`: tugas yang sudah selesai tidak berubah.",
    "dns": "VM dan situs dibiarkan; catatan DNS belum terkonfirmasi. Periksa server DNS primer "
    "dan kunci TSIG, lalu jalankan ulang `sop provision`.",
    "http": "VM, situs dan DNS dibiarkan. Periksa nginx dan layanan aplikasi di server, lalu "
    "jalankan ulang `sop provision`.",
    "backup": "VM, situs dan DNS dibiarkan; job cadangan mungkin sudah dibuat, tetapi belum ada "
    "cadangan yang terkonfirmasi. Periksa penyimpanan cadangan Proxmox, lalu jalankan ulang "
    "`sop provision`.",
}


class ProvisionError(SopError):
    """A phase of step 8 failed: which one, why, what is left, how to continue."""

    exit_code: int = ExitCode.OUTSIDE

    def __init__(self, request_id: str, phase: str, cause: str) -> None:
        super().__init__(f"{request_id}: {PHASE_LABELS[phase]} gagal: {cause}")
        self.request_id = request_id
        self.phase = phase
        self.cause = cause

    def diagnostics(self) -> str:
        return (
            f"Langkah 8 untuk {self.request_id} berhenti pada tahap '{PHASE_LABELS[self.phase]}'.\n"
            f"Yang terjadi: {self.cause}\n"
            f"Keadaan: {PHASE_HINTS[self.phase]}\n"
            "Langkah 8 belum dicatat; persetujuan belum terpakai."
        )


@dataclass
class PhaseTimes:
    """Seconds spent in each phase of the last provisioning, in order."""

    seconds: dict[str, float] = field(default_factory=dict)
    #: time.monotonic() when each phase ended (the site answered at ``ended["http"]``).
    ended: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.ended[name] = time.monotonic()
            self.seconds[name] = self.seconds.get(name, 0.0) + self.ended[name] - started


@dataclass(frozen=True)
class SiteAnswer:
    """What the site answered under its name."""

    address: str
    status: int
    body: str


@dataclass
class InfraProvisioner:
    """Step 8 against one environment (:class:`Infrastructure`): the lab or production.

    ``trusted`` is the base commit's configuration: policy, pools, ``terraform/``, and the
    ``playbooks/``, ``roles/`` and ``inventories/`` Ansible runs (the same object the
    pipeline checked the gates with, so each file is read once). The process must already be
    where the infrastructure's addresses answer (``Infrastructure.enter_netns`` for the lab).

    The outside systems default to the infrastructure's own adapters (``ports``: its
    :meth:`~Infrastructure.open`; ``limiter``: its :meth:`~Infrastructure.node_limiter`);
    tests give in-memory fakes of :mod:`sop_pipeline.ports` instead.
    """

    infra: Infrastructure
    trusted: TrustedConfig
    now: Callable[[], datetime]
    agent_timeout: float = 900.0
    ansible_timeout: int = 3600
    http_timeout: float = 60.0
    tuning: ansible.Tuning = ansible.Tuning.AUTO
    times: PhaseTimes = field(default_factory=PhaseTimes)
    ports: Callable[[], Ports] | None = None
    limiter: NodeSlots | None = None
    run_playbook: AnsiblePort = ansible.run_playbook
    fetch: SiteFetch | None = None
    #: Pauses before retrying PVE's config-lock timeout (default :func:`backoff_delays`).
    pauses: Sequence[float] | None = None
    sleep: Callable[[float], None] = time.sleep
    #: The handover folder: the request's credentials land in ``<handover_dir>/<id>/``
    #: (``records/reports``, beside the Berita Acara). None: none are written (no database).
    handover_dir: Path | None = None

    @property
    def policy(self) -> Policy:
        return self.trusted.policy

    @property
    def pools(self) -> Mapping[str, Pool]:
        return self.trusted.pools

    @property
    def terraform_dir(self) -> Path:
        return self.trusted.terraform_dir

    def provision(
        self,
        request: LoadedRequest,
        *,
        log: Log,
        pending: Sequence[Demand] = (),
        override: str = "",
        applied: Mapping[str, Any] | None = None,
    ) -> HostingResult:
        """Make the request's server answer under its name (steps 3-8 of the sequence);
        the hard limits are checked first, counting the ``pending`` requests (approved at
        step 7, not built yet), with the quota waived by a signed ``override``. ``applied``:
        for a change, the last applied facts (what the change adds is counted)."""
        rid = request.request_id
        facts = request.request
        self.times = PhaseTimes()
        started = self.now()
        key = self.infra.ssh_private_key
        if key is None:
            raise ConfigError(
                "Kunci SSH pipeline belum diatur (SOP_SSH_KEY_FILE); tidak ada yang dibuat."
            )
        self.infra.require_tsig()
        ad: Ports = (
            self.ports() if self.ports else self.infra.open(pools=self.pools, zone=self.policy.zone)
        )

        def run(phase: str, fn: Callable[[], T]) -> T:
            log(f"{rid}: [{PHASES.index(phase) + 1}/{len(PHASES)}] {PHASE_LABELS[phase]} ...")
            with self.times.phase(phase):
                try:
                    value = fn()
                except (AdapterError, ConfigError) as err:
                    failure = ProvisionError(rid, phase, _first_line(err))
                    if err.exit_code == ExitCode.BUSY:
                        failure.exit_code = ExitCode.BUSY  # another run holds it: try later
                    raise failure from err
            seconds = f"{self.times.seconds[phase]:.1f}".replace(".", ",")
            log(f"{rid}:   -> selesai ({seconds} dtk)")
            return value

        placed = create_vm(
            facts,
            infra=self.infra,
            proxmox=ad.proxmox,
            allocator=ad.allocator,
            runner=ad.terraform(rid, self.terraform_dir),
            limiter=self.limiter or self.infra.node_limiter(),
            log=log,
            phase=run,
            pauses=self.pauses,
            sleep=self.sleep,
            limits=Limits(
                self.policy.quota_for(facts.opd.code),
                tuple(pending),
                ad.dns,
                override,
                growth=growth(applied, facts) if applied is not None else None,
            ),
            guard=change_guard(
                windows=self.policy.maintenance_windows,
                tz=self.trusted.calendar.tz,
                now=self.now,
                log=log,
            )
            if facts.kind in CHANGE_KINDS
            else None,
        )
        node, alloc = placed.node, placed.allocation
        known_hosts = run("agent", lambda: self._agent(ad.proxmox, node, alloc, log))
        with known_hosts as pinned:
            result, handed = run(
                "ansible",
                lambda: (
                    self._ansible(request, alloc, key, pinned, log),
                    self._handover(facts, key, log),
                ),
            )
        log(f"{rid}:   Ansible: {result.changed} tugas berubah, mode {result.tuning}")
        run("dns", lambda: self._dns(ad, facts, alloc))
        answer = run("http", lambda: self._http(ad.proxmox, node, alloc, facts))
        backup = run(
            "backup",
            lambda: join_and_back_up(
                ad.backups,
                request_id=rid,
                vmid=alloc.vmid,
                node=node,
                classification=facts.data_classification,
                policy=self.trusted.backups,
            ),
        )
        checks = (
            Check("VM dibuat oleh Terraform", True, f"VMID {alloc.vmid} di {node}"),
            Check("Agen tamu melaporkan alamat", True, alloc.ipv4),
            Check("Konfigurasi Ansible", True, f"{tasks_ok(result)} ok, {result.changed} berubah"),
            Check("Nama DNS", True, f"{facts.fqdn} -> {alloc.ipv4}"),
            Check("Situs menjawab (HTTPS)", True, f"HTTP {answer.status}, memuat {rid}"),
            Check("Cadangan pertama", True, f"{backup.volid} ({backup.size} bita)"),
            *handed,
        )
        return HostingResult(
            vmid=alloc.vmid,
            node=node,
            ip_address=alloc.ipv4,
            fqdn=facts.fqdn,
            stack=facts.application.stack,
            started=started,
            finished=self.now(),
            checks=checks,
            url=f"https://{facts.fqdn}/",
        )

    # ------------------------------------------------------------------------- phases

    def _agent(self, proxmox: ProxmoxPort, node: str, alloc: Allocation, log: Log) -> _PinnedHosts:
        """The allocated address reported by the VM itself, then its host keys pinned."""
        address = proxmox.wait_for_address(node, alloc.vmid, timeout=self.agent_timeout)
        if address != alloc.ipv4:
            raise ProxmoxError(
                f"agen VM {alloc.vmid} melaporkan {address}, bukan {alloc.ipv4} yang dialokasikan"
            )
        deadline = time.monotonic() + self.agent_timeout
        while True:  # cloud-init writes the host keys a little after the agent starts
            try:
                keys = proxmox.host_keys(node, alloc.vmid)
                break
            except ProxmoxError:
                if time.monotonic() > deadline:
                    raise
                self.sleep(2)
        log(f"{alloc.request_id}:   {len(keys)} kunci host SSH dipatok dari agen tamu")
        return _PinnedHosts(ansible.known_hosts_text(alloc.ipv4, keys))

    def _ansible(
        self, request: LoadedRequest, alloc: Allocation, key: Path, known_hosts: Path, log: Log
    ) -> ansible.PlaybookResult:
        extravars = site_extravars(
            self.infra,
            request.request_id,
            request.request.as_data(),
            alloc.ipv4,
            connect_timeout=int(self.agent_timeout),
        )
        if request.request.database is not None:  # in the private data dir only, never logged
            extravars["sop_database_password"] = database_password(
                key.read_bytes(), request.request_id, request.request.database
            )
        target = ansible.SshTarget(alloc.ipv4, self.infra.admin_user, key, known_hosts)

        def progress(event: Mapping[str, Any]) -> None:
            ran = ansible.task_progress(event)  # tasks that ran: not other stacks' skipped ones
            if ran is not None:
                log(f"{request.request_id}:     {ran.line()}")

        return self.run_playbook(
            "site.yml",
            target=target,
            extravars=extravars,
            tree=ansible.AnsibleTree(
                playbooks=self.trusted.playbooks_dir,
                roles=self.trusted.roles_dir,
                inventories=self.trusted.inventories,
            ),
            environment=self.infra.environment,
            tuning=self.tuning,
            timeout=self.ansible_timeout,
            on_event=progress,
            # its processes carry the same marker as this run's Terraform (its leftovers sweep)
            run_scope=processes.scope_of(self.infra.terraform_work_root),
        )

    def _handover(self, facts: Request, key: Path, log: Log) -> tuple[Check, ...]:
        """The database credentials, encrypted with age to the deployers' keys, in the
        handover folder; the checks name the file and the recipients' fingerprints only."""
        checks: list[Check] = []
        if facts.deployers:
            people = recipients(facts.deployers)
            listed = "; ".join(f"{r.name} {r.fingerprint}" for r in people)
            checks.append(Check("Akun deploy SFTP", True, f"deploy@{facts.fqdn}, kunci: {listed}"))
        database = facts.database
        if database is None:
            return tuple(checks)
        people = recipients(facts.deployers)
        if not people or self.handover_dir is None:
            raise ConfigError(
                f"{facts.request_id}: kredensial basis data tidak dapat diserahkan: "
                + (
                    "permintaan tanpa deployer"
                    if not people
                    else "folder serah terima tidak diatur"
                )
            )
        password = database_password(key.read_bytes(), facts.request_id, database)
        text = credentials_text(facts.request_id, facts.fqdn, database, password)
        sealed = age.encrypt(text.encode(), [r.key for r in people])
        folder = self.handover_dir / facts.request_id
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / CREDENTIALS_FILE
        scratch = path.with_name(path.name + ".tmp")
        scratch.write_bytes(sealed)
        scratch.replace(path)
        listed = "; ".join(f"{r.name} {r.fingerprint}" for r in people)
        log(f"{facts.request_id}:   kredensial basis data terenkripsi age: {path.name}")
        checks.append(
            Check(
                "Kredensial basis data diserahkan",
                True,
                f"{database.engine} {database.name} di 127.0.0.1; {path.name} terenkripsi age "
                f"untuk: {listed}",
            )
        )
        return tuple(checks)

    def _dns(self, ad: Ports, facts: Request, alloc: Allocation) -> None:
        if not ad.dns.resolves_to(facts.hostname, alloc.ipv4):
            raise _CheckFailed(f"{facts.fqdn} tidak menunjuk ke {alloc.ipv4} di DNS primer")

    def _http(
        self, proxmox: ProxmoxPort, node: str, alloc: Allocation, facts: Request
    ) -> SiteAnswer:
        """GET https://<fqdn>/ at the address DNS gave, TLS checked for the name.

        The lab's certificates are self-signed: the one to trust is read from the VM through
        its guest agent (pinned, like the host keys). Production uses the system's CAs.
        """
        cafile_text = None
        if self.infra.environment == "lab":
            cafile_text = proxmox.read_guest_file(
                node, alloc.vmid, f"/etc/ssl/sop/{facts.request_id}.crt"
            )
        fetch = self.fetch or fetch_https
        answer = fetch(facts.fqdn, alloc.ipv4, cafile_text, timeout=self.http_timeout)
        if answer.status != 200:
            raise _CheckFailed(f"https://{facts.fqdn}/ menjawab HTTP {answer.status}")
        if facts.request_id not in answer.body:
            raise _CheckFailed(f"https://{facts.fqdn}/ tidak memuat halaman permintaan ini")
        return answer


def site_extravars(
    infra: Infrastructure,
    request_id: str,
    request_data: Mapping[str, Any],
    address: str,
    *,
    connect_timeout: int,
) -> dict[str, Any]:
    """The extra vars of ``site.yml`` for one request: step 8's run and ``sop drift``'s
    check-mode run get the same ones (the same play, so the same tasks are compared)."""
    extravars: dict[str, Any] = {
        "sop_request_id": request_id,
        "sop_request": dict(request_data),
        "sop_vm_address": address,
        "sop_connect_timeout": connect_timeout,
        "dns_record_server": infra.dns_server,
        "dns_record_port": infra.dns_port,
    }
    if infra.tsig_key_file is not None:
        extravars["dns_record_key_file"] = str(infra.tsig_key_file)
    return extravars


class SiteFetch(Protocol):
    """GET ``https://<fqdn>/`` from ``address`` (:func:`fetch_https`)."""

    def __call__(
        self, fqdn: str, address: str, cafile_text: str | None, *, timeout: float
    ) -> SiteAnswer: ...


class PhaseRunner(Protocol):
    """Runs one named phase (``InfraProvisioner.provision`` logs and times it)."""

    def __call__(self, phase: str, fn: Callable[[], T]) -> T: ...


def _direct(phase: str, fn: Callable[[], T]) -> T:
    return fn()


def _quiet(_line: str) -> None:
    pass


@dataclass(frozen=True)
class Placement:
    """Where the request's VM is made, from which template, with what it holds."""

    template: ExistingVm
    node: str
    allocation: Allocation


def create_vm(
    facts: Request,
    *,
    infra: Infrastructure,
    proxmox: ProxmoxPort,
    allocator: AllocatorPort,
    runner: TerraformPort,
    limiter: NodeSlots,
    log: Log = _quiet,
    phase: PhaseRunner = _direct,
    pauses: Sequence[float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    limits: Limits | None = None,
    guard: PlanGuard | None = None,
) -> Placement:
    """Step 8's Terraform part: the request's VM exists, in the state and on Proxmox.

    3. allocate   the template and a node with room, asked of the cluster again (it may have
                  changed since the analysis; an API that does not answer stops here, before
                  anything is held), then the request's VMID and address (the same on a re-run);
                  with ``limits``, the hard limits first (:func:`check_limits`): one that
                  fails raises :class:`LimitExceeded` with nothing held or created;
    4. terraform  under the request's lease (allocator) and lock (working copy): tfvars, init
                  from the offline mirror; then, holding one of the node's slots, adopt a VM
                  that Proxmox has and the state lacks (a killed run's), plan, apply.

    ``guard`` sees the saved plan (``show -json``) of a plan that changes something, before
    the apply: a change of a live hosting (``kind: ubah``) is applied only as its class and
    the maintenance windows allow (:func:`change_guard`); it raises to stop the apply.

    PVE's config-lock timeout is retried after each of ``pauses`` (the slot given back while
    waiting). A cancellation or a busy request keeps everything for the re-run; any other
    failure releases the VMID and address only once neither the state nor Proxmox has a VM
    at that VMID, and is raised again.
    """
    rid = facts.request_id
    placed = phase(
        "allocate", lambda: _place(proxmox, allocator, facts, infra.environment, limits, log)
    )
    alloc = placed.allocation
    log(f"{rid}:   VMID {alloc.vmid}, IP {alloc.ipv4}, node {placed.node}")
    tfvars = stack_tfvars(facts, infra, placed.template, alloc, placed.node)
    waits = list(backoff_delays() if pauses is None else pauses)

    def terraform() -> None:
        with allocator.lease(rid), runner.exclusive():
            if runner.stopped:  # what a killed run of this request left running
                names = ", ".join(f"{name} (pid {pid})" for pid, name in runner.stopped)
                log(f"{rid}:   sisa run sebelumnya yang mati dihentikan: {names}")
            runner.prepare(tfvars)
            runner.init()
            while True:
                try:
                    _apply_in_slot(runner, proxmox, limiter, placed, log, guard)
                    return
                except (CancelledError, RequestBusyError):
                    raise  # the next run adopts or converges; nothing is released
                except TerraformError as exc:
                    if is_lock_timeout(exc) and waits:
                        pause = waits.pop(0)
                        log(f"{rid}:   Proxmox sibuk (kunci konfigurasi); ulang {pause:g} dtk lagi")
                        sleep(pause)
                        continue
                    _release_if_absent(runner, proxmox, allocator, alloc, infra.environment, log)
                    raise

    phase("terraform", terraform)
    return placed


def _place(
    proxmox: ProxmoxPort,
    allocator: AllocatorPort,
    facts: Request,
    environment: str,
    limits: Limits | None = None,
    log: Log = _quiet,
) -> Placement:
    vms = proxmox.vms()
    template = next((v for v in vms if v.template and v.name == facts.resources.template), None)
    if template is None:
        raise ProxmoxError(f"templat {facts.resources.template} tidak ada di Proxmox")
    node: str | None
    if limits is not None:
        node = check_limits(proxmox, allocator, facts, environment, limits, vms, template, log)
    else:
        fits = proxmox.capacity(
            vcpu=facts.resources.vcpu,
            memory_mb=facts.resources.memory_mb,
            disk_gb=facts.resources.disk_gb,
        )
        node = choose_node(fits, template.node, demand_of(facts))
    if node is None:
        raise ProxmoxError(
            f"tidak ada node dengan ruang untuk {facts.resources.vcpu} vCPU, "
            f"{facts.resources.memory_mb} MiB"
        )
    return Placement(template, node, allocator.allocate(facts.request_id, environment))


@dataclass(frozen=True)
class Limits:
    """What step 8 re-checks the hard limits against, besides the live cluster: the OPD's
    quota, the requests approved at step 7 and not built yet, and the DNS primary."""

    quota: Quota
    pending: tuple[Demand, ...]
    dns: DnsPort
    #: The override Tim Teknis signed at step 6 and the Kabid named at step 7 (the gates
    #: checked both): it waives the OPD quota, a policy limit, and nothing physical.
    override: str = ""
    #: For a change of the live hosting (its VM exists): what it adds to that VM.
    growth: Demand | None = None


def check_limits(
    proxmox: ProxmoxPort,
    allocator: AllocatorPort,
    facts: Request,
    environment: str,
    limits: Limits,
    vms: Sequence[ExistingVm],
    template: ExistingVm,
    log: Log = _quiet,
) -> str:
    """The node for the VM if every hard limit holds; else :class:`LimitExceeded`, before
    anything is reserved: OPD quota totals, node room, the VM and DNS name free or ours,
    an address free in the pool. A re-run whose VM exists already counts it once.

    A signed override (``limits.override``) waives the OPD quota only, and says so in the
    log; node room, names and addresses cannot be waived."""
    rid = facts.request_id
    own = next((v for v in vms if not v.template and _own_tag(rid) in v.tags), None)
    built = {tag for v in vms for tag in v.tags}
    # a pending request whose VM is on the cluster is counted there, not twice
    pending = [
        d for d in limits.pending if d.request_id != rid and _own_tag(d.request_id) not in built
    ]
    demand = demand_of(facts)
    problems = []

    taken = vm_name_taken(vms, rid)
    if taken is not None:
        problems.append(
            f"nama VM {rid} sudah dipakai VM {taken.vmid} di {taken.node} [vm-name-taken]"
        )
    if not dns_name_free(limits.dns, facts.hostname, rid):
        problems.append(f"nama {facts.fqdn} sudah dipakai di DNS oleh pihak lain [dns-name-taken]")
    if allocator.peek(rid, environment) is None:
        problems.append(f"pool alamat {environment} habis: tidak ada VMID dan IP bebas [ip-free]")

    used = proxmox.opd_usage(facts.opd.code)
    held = Held(used.vms, used.vcpu, used.memory_mb, used.disk_gb)
    grown = limits.growth if own is not None else None
    if grown is not None:  # the running VM counts at its old size: add what the change adds
        held = Held(
            used.vms,
            used.vcpu + grown.vcpu,
            used.memory_mb + grown.memory_mb,
            used.disk_gb + grown.disk_gb,
        )
    asked = pending if own is not None else [*pending, demand]
    for excess in quota_excess(facts.opd.code, limits.quota, held, asked):
        others = [i for i in excess.request_ids if i != rid]
        text = (
            f"{excess.text()} (terpakai di cluster {used.vms} VM, "
            f"{used.vcpu} vCPU, {used.memory_mb} MiB, {used.disk_gb} GiB"
            + (f"; disetujui belum dibangun: {', '.join(others)}" if others else "")
            + ")"
        )
        if limits.override:
            log(
                f"{rid}:   {text}: dilampaui dengan pengecualian yang ditandatangani Tim Teknis "
                f"(langkah 6) dan Kabid (langkah 7): {limits.override} [override]"
            )
        else:
            problems.append(f"{text} [opd-quota-total]")

    node = own.node if own is not None else None
    if own is not None and grown is not None and (grown.vcpu or grown.memory_mb or grown.disk_gb):
        room = proxmox.capacity(vcpu=grown.vcpu, memory_mb=grown.memory_mb, disk_gb=grown.disk_gb)
        if not any(f.node == own.node and f.fits for f in room):
            problems.append(
                f"node {own.node} tidak punya ruang untuk tambahan {grown.vcpu} vCPU, "
                f"{grown.memory_mb} MiB, {grown.disk_gb} GiB dari perubahan ini [node-capacity]"
            )
    if own is None:
        size = facts.resources
        fits = proxmox.capacity(vcpu=size.vcpu, memory_mb=size.memory_mb, disk_gb=size.disk_gb)
        node = place_with_pending(fits, template.node, demand, pending)
        if node is None:
            ids = ", ".join(d.request_id for d in pending) or "-"
            problems.append(
                f"tidak ada node dengan ruang untuk {size.vcpu} vCPU, {size.memory_mb} MiB, "
                f"{size.disk_gb} GiB setelah permintaan yang disetujui belum dibangun ({ids}) "
                "[node-capacity]"
            )
    if problems or node is None:
        raise LimitExceeded(
            f"requests/{rid}.yaml: langkah 8 ditolak, batas tidak terpenuhi; tidak ada yang "
            "dibuat (tanpa VM, alamat, maupun catatan DNS):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
    return node


def _own_tag(request_id: str) -> str:
    return f"sop-req-{request_id}"


def _apply_in_slot(
    runner: TerraformPort,
    proxmox: ProxmoxPort,
    limiter: NodeSlots,
    placed: Placement,
    log: Log,
    guard: PlanGuard | None = None,
) -> None:
    """Adopt, plan and apply while holding one of the node's slots."""
    rid, vmid = placed.allocation.request_id, placed.allocation.vmid
    with limiter.slot(placed.node) as number:
        if adopt(runner, proxmox, vmid, rid):
            log(f"{rid}:   VM {vmid} sudah ada di Proxmox: diadopsi")
        plan = runner.plan(detailed=False)
        log(f"{rid}:   rencana: {plan.add} dibuat, {plan.change} diubah")
        if guard is not None and not plan.empty:
            guard(runner.show_plan())
        # The two lines bracket the apply inside the slot (the per-node bound test reads them).
        log(f"{rid}:   {APPLY_STARTED} di node {placed.node} (slot {number + 1})")
        runner.apply()
        log(f"{rid}:   {APPLY_ENDED}")


#: Sees a saved plan before it is applied; raises to stop the apply (``create_vm``).
PlanGuard = Callable[[Mapping[str, Any]], None]


def change_guard(
    *, windows: Sequence[Window], tz: tzinfo, now: Callable[[], datetime], log: Log = _quiet
) -> PlanGuard:
    """The guard of a change (``kind`` ubah/perpanjang): the plan's class
    (``domain.change_class``); a refused one (a smaller disk) never applies, a reboot or a
    replacement only inside a maintenance window (Asia/Jakarta)."""

    def guard(plan: Mapping[str, Any]) -> None:
        found = classify(plan)
        log(f"kelas perubahan: {found.change_class} ({found.change_class.label})")
        if found.change_class is ChangeClass.REFUSED:
            raise GateRefused(
                f"rencana Terraform mengecilkan disk: ditolak, tidak ada yang diubah "
                f"({'; '.join(found.reasons)}) [disk-shrink]"
            )
        refusal = window_refusal(found.needs_window, found.change_class.label, windows, now(), tz)
        if refusal:
            raise GateRefused(refusal)

    return guard


#: The log words around ``terraform apply`` (said while the node's slot is held).
APPLY_STARTED = "terraform apply dimulai"
APPLY_ENDED = "terraform apply selesai"


def _release_if_absent(
    runner: TerraformPort,
    proxmox: ProxmoxPort,
    allocator: AllocatorPort,
    alloc: Allocation,
    environment: str,
    log: Log,
) -> None:
    """Free the VMID and address after a failed apply, only if no VM holds the VMID."""
    rid, vmid = alloc.request_id, alloc.vmid
    try:
        absent = not runner.state_has_vm() and not any(vm.vmid == vmid for vm in proxmox.vms())
    except (AdapterError, ConfigError) as err:
        why = _first_line(err)
        log(f"{rid}:   VM {vmid} belum pasti tidak ada ({why}); VMID dan IP tetap dipesan")
        return
    if not absent:
        log(f"{rid}:   VM {vmid} ada: VMID dan IP tetap dipesan, VM diadopsi saat diulang")
        return
    allocator.release(rid, environment, confirmed_absent_vmid=vmid)
    log(f"{rid}:   tidak ada VM dengan VMID {vmid}: VMID {vmid} dan IP {alloc.ipv4} dilepas")


def adopt(runner: TerraformPort, proxmox: ProxmoxPort, vmid: int, request_id: str) -> bool:
    """Import the request's VM if Proxmox has it and the state does not. True if imported."""
    if runner.state_has_vm():
        return False
    found = proxmox.find_request_vm(vmid, request_id)
    if found is None:
        return False
    runner.import_vm(found.node, found.vmid)
    return True


class _CheckFailed(AdapterError):
    """A check after configuration did not hold."""


class _PinnedHosts:
    """A known_hosts file for the run, removed afterwards."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> Path:
        self._dir = tempfile.TemporaryDirectory(prefix="sop-known-hosts.")
        path = Path(self._dir.name) / "known_hosts"
        path.write_text(self.text)
        return path

    def __exit__(self, *exc: object) -> None:
        if self._dir is not None:
            self._dir.cleanup()


def provisioner_for(
    infra: Infrastructure,
    trusted: TrustedConfig,
    now: Callable[[], datetime],
    handover_dir: Path | None = None,
) -> InfraProvisioner:
    """The provisioner over the base commit's ``trusted`` configuration; it is used while
    that configuration's tree exists (inside ``TrustedConfig.from_commit``). ``handover_dir``:
    where the credentials go (``records/reports``)."""
    return InfraProvisioner(infra=infra, trusted=trusted, now=now, handover_dir=handover_dir)


def fetch_https(
    fqdn: str, address: str, cafile_text: str | None, *, timeout: float, port: int = 443
) -> SiteAnswer:
    """GET ``/`` over HTTPS from ``address``, with SNI and certificate checked for ``fqdn``."""
    context = ssl.create_default_context()
    if cafile_text is not None:
        context = ssl.create_default_context(cadata=cafile_text)
    conn = http.client.HTTPSConnection(fqdn, port, context=context, timeout=timeout)
    try:
        # Connect to the address DNS gave, but speak TLS (SNI, certificate) for the name.
        with contextlib.ExitStack() as undo:
            raw = socket.create_connection((address, port), timeout=timeout)
            undo.callback(raw.close)
            conn.sock = context.wrap_socket(raw, server_hostname=fqdn)
            undo.pop_all()
        try:
            conn.request("GET", "/", headers={"Host": fqdn, "User-Agent": "sop-pipeline"})
            reply = conn.getresponse()
            body = reply.read(1_000_000).decode("utf-8", errors="replace")
        finally:
            conn.close()
    except (OSError, ssl.SSLError, http.client.HTTPException) as exc:
        raise _CheckFailed(f"https://{fqdn}/ di {address} tidak menjawab: {exc}") from exc
    return SiteAnswer(address, reply.status, body)


def tasks_ok(result: ansible.PlaybookResult) -> int:
    return sum(stats.ok for stats in result.stats.values())


def _first_line(err: SopError | Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
