"""Step 6 of the SOP: Tim Teknis' technical analysis of one request against the real cluster.

:func:`analyze` reads, in order, one logged call each:

1. Proxmox's VMs: the OS template exists, and no other VM already carries the request's name;
2. every node's free capacity (CPU by commitment ratio, memory, disk); a node is chosen
   (the template's node if it fits, else the roomiest that fits);
3. the OPD's quota (``inventories/quotas.yaml`` from the base branch) against what its VMs
   on the cluster already hold;
4. a free VMID and IP address, peeked from the allocator: nothing is reserved;
5. the DNS name is free on the department's primary (or already this request's own);
6. ``terraform plan`` of the request stack (the base branch's ``terraform/``, provider from the
   offline mirror) with the peeked values: what it would add, change and destroy.

It changes nothing outside the request's Terraform working copy: no allocation, no VM, no DNS
record, no ledger entry. :func:`write_analysis` writes the Laporan Analisis Teknis (Markdown +
PDF) and the merge-request comment under ``records/reports/<id>/``; ``sop analyze`` then
records the report's sha256 and verdict in the request's ledger
(:func:`sop_pipeline.ledger.tracking.record_analysis`). Step 6 itself is recorded from Tim Teknis'
signature, which must cite that digest.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sop_pipeline.adapters.allocator import Allocation, Pool
from sop_pipeline.adapters.infrastructure import Adapters, Infrastructure
from sop_pipeline.adapters.proxmox import ExistingVm, NodeFit
from sop_pipeline.adapters.terraform import (
    PlanSummary,
    RequestBusyError,
    TerraformError,
    request_tfvars,
)
from sop_pipeline.atomic import write_atomically
from sop_pipeline.domain.change import CHANGE_KINDS, FieldChange
from sop_pipeline.domain.change_class import ChangeClass, Classified, classify
from sop_pipeline.domain.placement import choose_node, demand_of
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.request import Request
from sop_pipeline.errors import AdapterError, SopError
from sop_pipeline.ledger import LedgerStore
from sop_pipeline.loader import LoadedRequest
from sop_pipeline.ports import DnsPort
from sop_pipeline.reports import write_reports
from sop_pipeline.reports.comments import analysis_comment
from sop_pipeline.reports.department import Department
from sop_pipeline.reports.model import (
    AnalysisReport,
    AnalysisResult,
    NodeCapacity,
    QuotaUse,
    Usage,
    feasible,
)

Log = Callable[[str], None]
T = TypeVar("T")
COMMENT_NAME = "komentar-analisis.md"
_VERBS = {
    "create": "dibuat",
    "update": "diubah",
    "delete": "dihapus",
    "delete+create": "diganti (hapus lalu buat)",
    "create+delete": "diganti (buat lalu hapus)",
}


class AnalysisError(AdapterError):
    """The analysis could not finish: says what failed, what was left, and how to continue."""

    def __init__(self, request_id: str, what: str, cause: SopError, hint: str) -> None:
        super().__init__(f"Analisis teknis {request_id} gagal saat {what}: {cause}")
        self.request_id = request_id
        self.what = what
        self.cause = cause
        self.hint = hint

    def diagnostics(self) -> str:
        return "\n".join(
            [
                f"Analisis teknis {self.request_id} gagal saat {self.what}.",
                f"Penyebab: {self.cause.diagnostics()}",
                "Yang tetap seperti semula: tidak ada alamat IP/VMID yang dipesan, tidak ada VM "
                "atau rekaman DNS yang dibuat, buku catatan tidak berubah, dan laporan analisis "
                "sebelumnya (jika ada) tidak ditimpa.",
                f"Cara melanjutkan: {self.hint} Lalu jalankan ulang `sop analyze "
                f"{self.request_id}` (aman diulang).",
            ]
        )


# ------------------------------------------------------------------------ pure helpers


def node_capacities(fits: Sequence[NodeFit]) -> tuple[NodeCapacity, ...]:
    """The adapter's node figures as the report's model."""
    return tuple(
        NodeCapacity(
            node=f.node,
            vcpu_free=f.free_vcpu,
            memory_mb_free=f.free_memory_mb,
            disk_gb_free=f.free_disk_gb,
            online=f.online,
        )
        for f in fits
    )


def vm_name_taken(vms: Sequence[ExistingVm], request_id: str) -> ExistingVm | None:
    """Another VM named like the request's VM (its own VM, tagged ``sop-req-<id>``, is not)."""
    own_tag = f"sop-req-{request_id}"
    return next(
        (vm for vm in vms if vm.name == request_id and not vm.template and own_tag not in vm.tags),
        None,
    )


def plan_lines(summary: PlanSummary) -> tuple[str, ...]:
    """The plan for the report: each resource with its action, the VM, then Terraform's count
    line (the report's finding shows the last line)."""
    lines = [
        f"{address}: akan {_VERBS.get(actions, actions)}" for address, actions in summary.resources
    ]
    lines += summary.details
    if summary.destroy:
        lines.append(
            f"Perhatian: rencana ini menghapus {summary.destroy} sumber daya; periksa sebelum "
            "disetujui."
        )
    lines.append(
        f"Plan: {summary.add} to add, {summary.change} to change, {summary.destroy} to destroy."
    )
    return tuple(lines)


def plan_failure_lines(err: TerraformError) -> tuple[str, ...]:
    """A failed plan for the report: our message, then Terraform's first ``Error:`` line."""
    first = next(
        (ln.strip() for ln in err.detail.splitlines() if ln.strip().startswith("Error:")), ""
    )
    lines = [f"Rencana Terraform gagal: {err.message}"]
    if first:
        lines.insert(0, first[:300])
    return tuple(lines)


def dns_name_free(dns: DnsPort, label: str, owner: str) -> bool:
    """Free, or already published by this request (its ownership TXT names ``owner``)."""
    return dns.name_is_free(label) or dns.owner_of(label) == owner


# ------------------------------------------------------------------------------ analyze


@dataclass
class _Steps:
    """Runs the analysis' numbered steps: logs each with its time, wraps its failure."""

    request_id: str
    log: Log
    total: int = 6
    seconds: float = 0.0

    def run(self, number: int | None, what: str, fn: Callable[[], T], hint: str) -> T:
        step = f"[{number}/{self.total}] " if number else ""
        self.log(f"{self.request_id}: {step}{what} ...")
        started = time.monotonic()
        try:
            value = fn()
        except SopError as err:
            raise AnalysisError(self.request_id, what, err, hint) from err
        self.seconds = time.monotonic() - started
        return value

    def done(self, text: str) -> None:
        seconds = f"{self.seconds:.1f}".replace(".", ",")
        self.log(f"{self.request_id}:   -> {text} ({seconds} dtk)")


PVE_HINT = (
    "Periksa alamat, token dan CA API Proxmox (SOP_PVE_URL, SOP_PVE_TOKEN_FILE, "
    "SOP_PVE_CA_FILE; di lab: `sop lab up`)."
)
ALLOC_HINT = "Periksa basis data alokator (SOP_ALLOCATOR_DSN) dan inventories/pools.yaml."
DNS_HINT = "Periksa server DNS primer (SOP_DNS_SERVER, SOP_DNS_PORT) dan zonanya."
TF_HINT = (
    "Periksa Terraform dan mirror provider-nya (SOP_TF_BINARY, SOP_TF_CLI_CONFIG; "
    "`bash .ci/setup/terraform.sh`) atau tunggu proses lain atas permintaan ini selesai."
)


def analyze(
    request: LoadedRequest,
    infra: Infrastructure,
    *,
    policy: Policy,
    pools: Mapping[str, Pool],
    terraform_dir: Path,
    now: Callable[[], datetime],
    log: Log = lambda _line: None,
    adapters: Adapters | None = None,
) -> AnalysisResult:
    """Analyse ``request`` against ``infra``; reserves nothing (see the module docstring).

    ``policy`` and ``pools`` come from the base branch's ``inventories/``, ``terraform_dir``
    is the base branch's ``terraform/``. Raises :class:`AnalysisError` when a system cannot
    be asked; a request that does not fit is a result, not an error.
    """
    rid = request.request_id
    facts = request.request
    steps = _Steps(rid, log)
    analysed_at = now()
    ad = adapters or steps.run(
        None,
        "membuka alokator dan adapter",
        lambda: infra.open(pools=pools, zone=policy.zone),
        ALLOC_HINT,
    )

    vms = steps.run(1, "membaca VM dan templat di Proxmox", ad.proxmox.vms, PVE_HINT)
    template = next((v for v in vms if v.template and v.name == facts.resources.template), None)
    taken = vm_name_taken(vms, rid)
    found = (
        f"templat {facts.resources.template} ada (VMID {template.vmid}, {template.node})"
        if template
        else f"templat {facts.resources.template} TIDAK ADA"
    )
    steps.done(found + ("" if taken is None else f"; nama {rid} sudah dipakai VM {taken.vmid}"))

    fits = steps.run(
        2,
        "memeriksa kapasitas node",
        lambda: ad.proxmox.capacity(
            vcpu=facts.resources.vcpu,
            memory_mb=facts.resources.memory_mb,
            disk_gb=facts.resources.disk_gb,
        ),
        PVE_HINT,
    )
    chosen = choose_node(fits, template.node if template else None, demand_of(facts))
    steps.done(
        f"{sum(f.fits for f in fits)} dari {len(fits)} node cukup"
        + (f"; dipilih {chosen}" if chosen else "")
    )

    used = steps.run(
        3,
        f"menghitung kuota OPD {facts.opd.code}",
        lambda: ad.proxmox.opd_usage(facts.opd.code),
        PVE_HINT,
    )
    quota = QuotaUse(
        limit=policy.quota_for(facts.opd.code),
        used=Usage(vms=used.vms, vcpu=used.vcpu, memory_mb=used.memory_mb, disk_gb=used.disk_gb),
    )
    verdict = "cukup" if quota.fits(facts) else "MELEBIHI kuota"
    steps.done(f"terpakai {used.vms} VM, {used.vcpu} vCPU; {verdict}")

    pool = ad.allocator.pools[infra.environment]
    peek = steps.run(
        4,
        f"mencari VMID dan IP bebas di pool {pool.name} (tanpa memesan)",
        lambda: ad.allocator.peek(rid, infra.environment),
        ALLOC_HINT,
    )
    steps.done(f"VMID {peek.vmid}, IP {peek.ipv4}" if peek else f"pool {pool.name} habis")

    dns_free = steps.run(
        5,
        f"memeriksa nama {facts.fqdn} di DNS",
        lambda: dns_name_free(ad.dns, facts.hostname, rid),
        DNS_HINT,
    )
    steps.done("belum dipakai" if dns_free else "SUDAH DIPAKAI")

    plan, plan_ok, classified = _plan(
        steps, ad, facts, infra, terraform_dir, template, peek, chosen
    )
    return AnalysisResult(
        analysed_at=analysed_at,
        nodes=node_capacities(fits),
        quota=quota,
        ip_pool=f"{pool.name} {pool.network}",
        ip_address=peek.ipv4 if peek else None,
        dns_name_free=dns_free,
        template_present=template is not None,
        plan_summary=plan,
        plan_ok=plan_ok,
        chosen_node=chosen,
        vm_name_free=taken is None,
        change_class=str(classified.change_class) if classified else "",
        change_reasons=classified.reasons if classified else (),
    )


def stack_tfvars(
    facts: Request,
    infra: Infrastructure,
    template: ExistingVm,
    allocation: Allocation,
    node: str,
) -> dict[str, Any]:
    """The request stack's variables: the same for the step-6 plan and the step-8 apply."""
    return request_tfvars(
        request_id=facts.request_id,
        opd_code=facts.opd.code,
        environment=infra.environment,
        vcpu=facts.resources.vcpu,
        memory_mb=facts.resources.memory_mb,
        disk_gb=facts.resources.disk_gb,
        os_template={"name": template.name, "vm_id": template.vmid, "node_name": template.node},
        vmid=allocation.vmid,
        node_name=node,
        ipv4=allocation.ipv4,
        prefix=allocation.pool.prefix,
        gateway=str(allocation.pool.gateway),
        dns_servers=list(allocation.pool.resolvers),
        ssh_public_keys=list(infra.ssh_public_keys),
        vlan_id=allocation.pool.vlan,
        bridge=allocation.pool.bridge,
        admin_user=infra.admin_user,
    )


def _plan(
    steps: _Steps,
    ad: Adapters,
    facts: Request,
    infra: Infrastructure,
    terraform_dir: Path,
    template: ExistingVm | None,
    peek: Allocation | None,
    chosen: str | None,
) -> tuple[tuple[str, ...], bool, Classified | None]:
    """Step 6: ``terraform plan`` with the peeked values; (lines for the report, ok, and for
    a change of a live hosting the class of its plan, from ``show -json``)."""
    if template is None:
        steps.log(f"{facts.request_id}: [6/6] rencana Terraform dilewati: templat tidak ada")
        return (
            (f"Rencana Terraform tidak dibuat: templat {facts.resources.template} tidak ada.",),
            False,
            None,
        )
    if peek is None:
        steps.log(f"{facts.request_id}: [6/6] rencana Terraform dilewati: pool habis")
        return ("Rencana Terraform tidak dibuat: tidak ada VMID/IP bebas.",), False, None
    tfvars = stack_tfvars(facts, infra, template, peek, chosen or template.node)
    runner = ad.terraform(facts.request_id, terraform_dir)

    def init() -> None:
        with runner.exclusive():
            runner.prepare(tfvars)
            runner.init()

    steps.run(6, "menyiapkan Terraform (init dari mirror lokal)", init, TF_HINT)
    steps.done("siap")

    shown: list[dict[str, Any]] = []

    def plan() -> PlanSummary | TerraformError:
        with runner.exclusive():
            try:
                summary = runner.plan()
                if facts.kind in CHANGE_KINDS:  # what the change does to the running VM
                    shown.append(runner.show_plan())
                return summary
            except TerraformError as err:
                if isinstance(err, RequestBusyError):  # another run holds the request
                    raise
                return err

    outcome = steps.run(6, "menjalankan terraform plan", plan, TF_HINT)
    if isinstance(outcome, TerraformError):
        steps.done(f"GAGAL: {outcome.message}")
        return plan_failure_lines(outcome), False, None
    steps.done(f"{outcome.add} ditambah, {outcome.change} diubah, {outcome.destroy} dihapus")
    if shown:
        classified = classify(shown[0])
        steps.done(f"kelas perubahan: {classified.change_class} ({classified.change_class.label})")
        # a change may replace its VM only when the Kabid names it (gates), never destroy data
        # silently: the plan is acceptable unless it is refused (a smaller disk)
        ok = classified.change_class is not ChangeClass.REFUSED
        return plan_lines(outcome), ok, classified
    return plan_lines(outcome), outcome.destroy == 0, None


# ------------------------------------------------------------------------------- writing


@dataclass(frozen=True)
class AnalysisFiles:
    """What :func:`write_analysis` wrote, and the digest a signer cites."""

    markdown: Path
    pdf: Path
    comment: Path
    digest: str  # sha256 of the Markdown report: cite it in the step-6 statement's evidence

    @property
    def evidence(self) -> str:
        """The ``--evidence`` argument of ``sop sign`` for step 6."""
        return f"{self.markdown.name}={self.digest}"


def ticket_sequence(ledgers: LedgerStore, request_id: str) -> int:
    """The running number of the request's ticket (step 5, ``HOST-2026-0007`` -> 7); 0 if none."""
    steps = [
        r for r in ledgers.for_request(request_id).records() if r.kind == "step" and r.step == 5
    ]
    if not steps:
        return 0
    tail = str(steps[-1].data.get("ticket", "")).rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def write_analysis(
    records_dir: Path,
    facts: Request,
    result: AnalysisResult,
    *,
    department: Department,
    sequence: int,
    logs_url: str | None = None,
    report_url: str | None = None,
    changes: tuple[FieldChange, ...] = (),
) -> AnalysisFiles:
    """The Laporan Analisis Teknis (``.md`` + ``.pdf``) and the MR comment, under
    ``records_dir/reports/<id>/``; each file replaced atomically. ``changes``: for a change of
    a live hosting, its fields against the last applied record (``domain.change.diff``)."""
    report = AnalysisReport(facts, sequence, result.analysed_at, result, changes=changes)
    md, pdf = write_reports(report, records_dir / "reports", department=department)
    comment = md.parent / COMMENT_NAME
    text = analysis_comment(report, report_url=report_url, logs_url=logs_url, tz=department.tz)
    write_atomically(comment, text.encode("utf-8"))
    return AnalysisFiles(
        markdown=md, pdf=pdf, comment=comment, digest=hashlib.sha256(md.read_bytes()).hexdigest()
    )


__all__ = [
    "AnalysisError",
    "AnalysisFiles",
    "analyze",
    "feasible",
    "plan_lines",
    "ticket_sequence",
    "write_analysis",
]
