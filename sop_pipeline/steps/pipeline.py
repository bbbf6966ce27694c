"""The SOP's pipeline: one request walked as far as its records and signatures allow.

:meth:`Pipeline.advance` reads as the SOP; each numbered step is one logged call:

 1. ``submit``     a valid request file gets its step-1 record (its digest, its letter's);
 2-4.              dispositions and the completeness verification, from signatures; an
                   incomplete verification sends the request back (clock paused) and a
                   changed file resubmits it for a fresh verification;
 5. ``register``   after a complete verification the Helpdesk's ticket number is recorded;
 6-7.              the technical analysis and the Kabid's decision, from signatures;
 8. ``provision``  only where a :class:`Provisioner` is given (the protected branch with its
                   secrets), under the request's lock, after every gate is checked again;
 9. ``report``     the Laporan Hasil Hosting is written and recorded;
10-12.             acknowledgements up the chain, from signatures.

Keyring, policy, calendar and letterhead come from the base commit (``trusted``, a
:class:`~sop_pipeline.config.TrustedConfig` the caller opened; the provisioner shares it);
signatures are checked by both verifiers, which must agree, as ``sop gate`` does; the
verification time is the pipeline's own clock, passed in. Running it again changes nothing
that is already recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sop_pipeline.config import TrustedConfig
from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.domain.change import CHANGE_KINDS, change_problems
from sop_pipeline.domain.placement import Demand, demand_of
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.retirement import RETIREMENT_KIND
from sop_pipeline.domain.sop import PROVISION_STEP
from sop_pipeline.domain.state import Outcome, Phase, RequestState, StepEvent, outcome_label
from sop_pipeline.ledger import LedgerStore
from sop_pipeline.ledger.tracking import (
    STEP_KIND,
    last_applied,
    override_of,
    record_step,
    state_of,
)
from sop_pipeline.loader import LoadedRequest, RequestInvalid, load_request
from sop_pipeline.reports import write_reports
from sop_pipeline.reports.department import Department
from sop_pipeline.reports.model import HostingResult
from sop_pipeline.reports.retirement import RetirementMinutes, write_minutes
from sop_pipeline.signing.approvals import Checked, Verifier, VerifyMode, check_all
from sop_pipeline.signing.errors import GateRefused
from sop_pipeline.signing.gates import GateResult, keyring_refusals
from sop_pipeline.signing.history import check_history
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.signing.record import (
    CONSUMED_LEDGER,
    check_gate,
    consume_approvals,
    consumed_hashes,
    record_signed_steps,
)
from sop_pipeline.signing.subject import Subject, approvals_dir
from sop_pipeline.steps.reporting import hosting_record, hosting_report, reports_dir
from sop_pipeline.steps.retirement import Hosting
from sop_pipeline.workspace import Workspace

if TYPE_CHECKING:
    from sop_pipeline.ledger import Ledger, Record
    from sop_pipeline.steps.retirement import Hosting as RetiredHosting


class Retirer(Protocol):
    """Step 8 of a retirement cycle (``steps.retirement.InfraRetirer``)."""

    def retire(
        self,
        hosting: RetiredHosting,
        *,
        ledger: Ledger,
        statements: Mapping[str, str],
        log: Callable[[str], None],
    ) -> Mapping[str, Record]: ...


PIPELINE = "pipeline"
SIGNED_STEPS = (2, 3, 4, 6, 7, 10, 11, 12)  # recorded from officials' signatures
TICKETS_LEDGER = "tickets"
#: Kinds whose edited file opens the next cycle (``pensiun``: a retirement, docs/retirement.md).
CYCLE_KINDS = frozenset({"ubah", "perpanjang", "pensiun"})


class Provisioner(Protocol):
    """Step 8's infrastructure: allocate, Terraform, agent, Ansible, DNS, check the site."""

    def provision(
        self,
        request: LoadedRequest,
        *,
        log: Callable[[str], None],
        pending: Sequence[Demand] = (),
        override: str = "",
        applied: Mapping[str, Any] | None = None,
    ) -> HostingResult:
        """Make the request's server answer under its name; raise SopError if it can't.
        ``pending`` are the other requests approved at step 7 and not built yet: the hard
        limits count them as well as what the cluster holds; a signed ``override`` (steps
        6 and 7) waives the OPD quota, nothing else; ``applied`` (a change of the live
        hosting) is what runs, so that the limits count what the change adds."""


@dataclass(frozen=True)
class Context:
    """What one pass over a request needs, read once: trusted config, the request, approvals."""

    request: LoadedRequest
    subject: Subject
    keyring: Keyring
    checked: list[Checked]
    at: datetime
    history: list[Checked] = field(default_factory=list)  # statements the Git history held


@dataclass
class Advance:
    """What one call of :meth:`Pipeline.advance` did to a request."""

    request_id: str
    recorded: list[int] = field(default_factory=list)  # SOP steps newly recorded
    state: RequestState | None = None
    refused: str = ""  # why the request file itself is refused


class Pipeline:
    """The orchestrator over one repository of requests."""

    def __init__(
        self,
        ws: Workspace,
        *,
        trusted: TrustedConfig,
        now: Callable[[], datetime],
        log: Callable[[str], None] = lambda _line: None,
        provisioner: Provisioner | None = None,
        verify_mode: VerifyMode = VerifyMode.BOTH,
        retirer: Retirer | None = None,
    ) -> None:
        self.ws = ws
        self.trusted = trusted
        self.now = now
        self.log = log
        self.provisioner = provisioner
        self.retirer = retirer  # step 8 of a pensiun cycle (steps.retirement.InfraRetirer)
        self.verify_mode = verify_mode  # step 8's gate as `sop gate`: both verifiers agree
        self.ledgers = LedgerStore(ws.records_dir)
        self.policy: Policy = trusted.policy
        self.calendar: WorkingCalendar = trusted.calendar
        self.department: Department = trusted.department
        self.keyring: Keyring = trusted.keyring

    # ------------------------------------------------------------------------------ the walk

    def run(self) -> list[Advance]:
        """Advance every request in the repository; safe to run again at any time."""
        return [self.advance(p.stem) for p in sorted(self.ws.requests_dir.glob("*.yaml"))]

    def advance(self, request_id: str) -> Advance:
        """Walk one request through every step its records and signatures allow now."""
        result = Advance(request_id)
        try:
            ctx = self._context(request_id)
        except RequestInvalid as err:
            result.refused = err.diagnostics()
            result.state = state_of(self.ledgers, request_id)
            self.log(f"{request_id}: berkas ditolak; perbaiki dulu:\n{result.refused}")
            return result
        while True:
            state = state_of(self.ledgers, request_id)
            before = len(result.recorded)
            if state.next_step == 1:
                result.recorded += self.step_1_submit(ctx)
            elif state.phase is Phase.RETURNED or state.next_step in SIGNED_STEPS:
                result.recorded += self.steps_signed(ctx)
            elif state.next_step == 5:
                result.recorded += self.step_5_register(ctx)
            elif state.next_step == PROVISION_STEP and ctx.subject.kind == RETIREMENT_KIND:
                result.recorded += self.step_8_retire(ctx)
            elif state.next_step == 9 and ctx.subject.kind == RETIREMENT_KIND:
                result.recorded += self.step_9_retirement_minutes(ctx)
            elif state.next_step == PROVISION_STEP and self.provisioner is not None:
                result.recorded += self.step_8_provision(ctx)
            elif state.next_step == 9:
                result.recorded += self.step_9_report(ctx)
            elif state.terminal and state.built:
                result.recorded += self.step_1_change(ctx)
            if len(result.recorded) == before:
                result.state = state
                return result

    def _context(self, request_id: str) -> Context:
        request = load_request(self.ws.request_path(request_id), policy=self.policy)
        subject = Subject.from_loaded(request)
        at = self.now()
        verifier = Verifier(self.keyring, at=at, mode=self.verify_mode)
        checked = check_all(approvals_dir(request.path), subject, verifier)
        history = check_history(self.ws.root, request.path, subject, verifier)
        return Context(request, subject, self.keyring, checked, at, history)

    # ----------------------------------------------------------------------------- the steps

    def step_1_submit(self, ctx: Context) -> list[int]:
        """Step 1: the OPD's request letter is received; the request's bytes are recorded."""
        record_step(
            self.ledgers,
            ctx.request.request_id,
            StepEvent(1, Outcome.DONE, ctx.at, actor=ctx.subject.requester_email),
            inputs={"request": ctx.subject.digest, **ctx.subject.attachments},
        )
        self.log(f"{ctx.request.request_id}: langkah 1 dicatat (surat permintaan diterima)")
        return [1]

    def step_1_change(self, ctx: Context) -> list[int]:
        """Step 1 of a change of the live hosting (docs/changes.md): the same file, edited to
        ``kind: ubah`` or ``perpanjang``, opens the next cycle, read against the last applied
        record. The bytes that run, bytes a cycle already ended on, or a change the rules
        refuse (``domain.change``) open nothing."""
        request_id = ctx.request.request_id
        facts = ctx.request.request
        records = self.ledgers.for_request(request_id).records()
        applied = last_applied(records)
        if facts.kind not in CHANGE_KINDS or applied is None:
            return []
        if facts.kind not in CYCLE_KINDS:
            self.log(f"{request_id}: kind '{facts.kind}' belum dilayani pipeline; tidak dicatat")
            return []
        if any(r.kind == STEP_KIND and "retirement" in r.data for r in records):
            self.log(f"{request_id}: hosting sudah dipensiunkan; tidak ada siklus baru [retired]")
            return []
        if ctx.subject.digest == applied.digest:
            return []
        opened = [r for r in records if r.kind == STEP_KIND and r.step == 1]
        if opened and opened[-1].inputs.get("request") == ctx.subject.digest:
            return []  # this change's cycle already ran (and ended): edit the file anew
        problems = change_problems(
            applied.facts,
            applied.digest,
            facts,
            policy=self.policy,
            today=ctx.at.astimezone(self.calendar.tz).date(),
        )
        if problems:
            self.log(
                f"{request_id}: perubahan ditolak, tidak dicatat:\n"
                + "\n".join(f"  - {p.field}: {p.message} [{p.rule}]" for p in problems)
            )
            return []
        record_step(
            self.ledgers,
            request_id,
            StepEvent(1, Outcome.CHANGE, ctx.at, actor=ctx.subject.requester_email),
            inputs={
                "request": ctx.subject.digest,
                **ctx.subject.attachments,
                "applied_request": applied.digest,
            },
            extra={"kind": facts.kind},
        )
        self.log(
            f"{request_id}: langkah 1 dicatat: perubahan ({facts.kind}) diajukan terhadap "
            "hosting yang berjalan"
        )
        return [1]

    def steps_signed(self, ctx: Context) -> list[int]:
        """Steps 2-4, 6, 7, 10-12: record every signed statement that holds, in SOP order."""
        refusals = keyring_refusals(ctx.keyring, ctx.at)
        if refusals:  # record_signed_steps records nothing then; say why
            self.log(
                f"{ctx.request.request_id}: tanda tangan tidak dicatat:\n"
                + "\n".join(f"  - {r}" for r in refusals)
            )
            return []
        added = record_signed_steps(
            subject=ctx.subject,
            keyring=ctx.keyring,
            checked=ctx.checked,
            ledger=self.ledgers.for_request(ctx.request.request_id),
            at=ctx.at,
            consumed=consumed_hashes(self.ledgers.named(CONSUMED_LEDGER)),
            history=ctx.history,
        )
        for record in added:
            self.log(
                f"{ctx.request.request_id}: langkah {record.step} dicatat: "
                f"{outcome_label(str(record.data.get('outcome')))}, oleh {record.actor}"
            )
        return [int(r.step or 0) for r in added]

    def step_5_register(self, ctx: Context) -> list[int]:
        """Step 5: the Helpdesk records the request under a ticket number for Tim Teknis."""
        request_id = ctx.request.request_id
        with self.ledgers.locked(TICKETS_LEDGER):
            tickets = self.ledgers.named(TICKETS_LEDGER)
            year = ctx.at.astimezone(self.calendar.tz).year
            same_year = [r for r in tickets.records() if r.data.get("year") == year]
            ticket = f"HOST-{year}-{len(same_year) + 1:04d}"
            tickets.append(
                kind="ticket",
                actor=PIPELINE,
                at=ctx.at,
                data={"request_id": request_id, "ticket": ticket, "year": year},
            )
        record_step(
            self.ledgers,
            request_id,
            StepEvent(5, Outcome.DONE, ctx.at, actor=PIPELINE),
            inputs={"request": ctx.subject.digest},
            extra={"ticket": ticket},
        )
        self.log(
            f"{request_id}: langkah 5 dicatat, nomor tiket {ticket}; Tim Teknis diminta "
            "menganalisis"
        )
        return [5]

    def gate(self, ctx: Context, step_number: int) -> GateResult:
        """Check (and record) everything ``step_number`` needs, from the base-branch keyring."""
        return check_gate(
            step_number=step_number,
            subject=ctx.subject,
            keyring=ctx.keyring,
            checked=ctx.checked,
            ledger=self.ledgers.for_request(ctx.request.request_id),
            at=ctx.at,
            consumed=consumed_hashes(self.ledgers.named(CONSUMED_LEDGER)),
            history=ctx.history,
        )

    def step_8_provision(self, ctx: Context) -> list[int]:
        """Step 8, under the request's lock: gates again, then the infrastructure, then record."""
        if self.provisioner is None:
            return []
        request_id = ctx.request.request_id
        busy = (  # like the allocator's lease and Terraform's lock: never queue behind a run
            f"{request_id}: langkah 8 sedang dijalankan oleh proses lain pada salinan ini; "
            "tidak ada yang diubah. Jalankan lagi nanti. [busy]"
        )
        with self.ledgers.locked(f"provision-{request_id}", busy=busy):
            fresh = self._context(request_id)  # 1-2: bytes and approvals re-read under the lock
            if fresh.subject.digest != ctx.subject.digest:
                raise GateRefused(
                    f"{request_id}: berkas permintaan berubah selama proses; "
                    "tidak ada yang dibuat [request-changed]"
                )
            gate = self.gate(fresh, PROVISION_STEP)
            if not gate.holds:
                raise GateRefused(gate.summary())
            self.log(f"{request_id}: gerbang langkah 8 terpenuhi; mulai penyediaan")
            pending = self.approved_unbuilt(exclude=request_id)  # 3: the limits count them
            records = self.ledgers.for_request(request_id).records()
            override = override_of(records)
            applied = last_applied(records)
            is_change = state_of(self.ledgers, request_id).cycle > 1 and applied is not None
            hosting = self.provisioner.provision(
                fresh.request,
                log=self.log,
                pending=pending,
                override=override,
                applied=applied.facts if is_change and applied is not None else None,
            )
            at = self.now()
            record_step(  # 9: record, then spend the approvals it used
                self.ledgers,
                request_id,
                StepEvent(8, Outcome.DONE, at, actor=PIPELINE),
                inputs={"request": fresh.subject.digest, **dict(gate.statements)},
                # the last applied record a later change is read against (docs/changes.md)
                extra={
                    "hosting": hosting_record(hosting),
                    "applied": fresh.request.request.as_data(),
                },
            )
            consume_approvals(
                self.ledgers.named(CONSUMED_LEDGER),
                request_id=request_id,
                statements=gate.statements,
                at=at,
            )
        self.log(f"{request_id}: langkah 8 selesai: {hosting.fqdn} ({hosting.ip_address})")
        return [8]

    def step_8_retire(self, ctx: Context) -> list[int]:
        """Step 8 of a retirement (``kind: pensiun``), under the request's lock: every gate
        again (two different people at 4 and 7, ``[retirement-one-person]``), then the
        retirement's phases (``steps.retirement``), each recorded; then step 8 itself."""
        if self.retirer is None:
            return []
        request_id = ctx.request.request_id
        busy = (
            f"{request_id}: langkah 8 sedang dijalankan oleh proses lain pada salinan ini; "
            "tidak ada yang diubah. Jalankan lagi nanti. [busy]"
        )
        with self.ledgers.locked(f"provision-{request_id}", busy=busy):
            fresh = self._context(request_id)
            if fresh.subject.digest != ctx.subject.digest:
                raise GateRefused(
                    f"{request_id}: berkas permintaan berubah selama proses; "
                    "tidak ada yang dihapus [request-changed]"
                )
            gate = self.gate(fresh, PROVISION_STEP)
            if not gate.holds:
                raise GateRefused(gate.summary())
            ledger = self.ledgers.for_request(request_id)
            built = [
                r
                for r in ledger.records()
                if r.kind == STEP_KIND and r.step == PROVISION_STEP and "hosting" in r.data
            ]
            if not built:
                raise GateRefused(f"{request_id}: tidak ada hosting yang dibangun [not-built]")
            h = built[-1].data["hosting"]
            facts = fresh.request.request
            self.log(f"{request_id}: gerbang pensiun terpenuhi; mulai penghentian layanan")
            done = self.retirer.retire(
                Hosting(
                    request_id=request_id,
                    vmid=int(h["vmid"]),
                    node=str(h["node"]),
                    ip_address=str(h["ip_address"]),
                    hostname=facts.hostname,
                    fqdn=facts.fqdn,
                    environment=facts.environment,
                ),
                ledger=ledger,
                statements=dict(gate.statements),
                log=self.log,
            )
            at = self.now()
            record_step(
                self.ledgers,
                request_id,
                StepEvent(8, Outcome.DONE, at, actor=PIPELINE),
                inputs={"request": fresh.subject.digest, **dict(gate.statements)},
                extra={
                    "retirement": {phase: dict(r.data) for phase, r in done.items()},
                    "retired_hosting": dict(h),
                },
            )
            consume_approvals(
                self.ledgers.named(CONSUMED_LEDGER),
                request_id=request_id,
                statements=gate.statements,
                at=at,
            )
        self.log(f"{request_id}: langkah 8 (pensiun) selesai: {facts.fqdn} dihentikan")
        return [8]

    def step_9_retirement_minutes(self, ctx: Context) -> list[int]:
        """Step 9 of a retirement: the Berita Acara Penghentian Layanan."""
        request_id = ctx.request.request_id
        at = self.now()
        records = self.ledgers.for_request(request_id).records()
        eight = next(
            r
            for r in reversed(records)
            if r.kind == STEP_KIND and r.step == PROVISION_STEP and "retirement" in r.data
        )
        h = eight.data["retired_hosting"]
        paths = write_minutes(
            RetirementMinutes(
                request=ctx.request.request,
                sequence=state_of(self.ledgers, request_id).cycle,
                issued=at,
                vmid=int(h["vmid"]),
                node=str(h["node"]),
                ip_address=str(h["ip_address"]),
                phases=eight.data["retirement"],
            ),
            reports_dir(self.ws),
            department=self.department,
        )
        record_step(
            self.ledgers,
            request_id,
            StepEvent(9, Outcome.DONE, at, actor=PIPELINE),
            inputs={"request": ctx.subject.digest},
            outputs={p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths},
        )
        self.log(f"{request_id}: langkah 9 dicatat; Berita Acara Penghentian di {paths[0].parent}")
        return [9]

    def approved_unbuilt(self, *, exclude: str) -> list[Demand]:
        """What every other request whose step 7 is recorded and step 8 is not asks of the
        cluster (read under the caller's lock; a file that no longer loads asks nothing)."""
        found = []
        for path in sorted(self.ws.requests_dir.glob("*.yaml")):
            if (
                path.stem == exclude
                or state_of(self.ledgers, path.stem).next_step != PROVISION_STEP
            ):
                continue
            try:
                other = load_request(path, policy=self.policy, check_attachments=False)
            except RequestInvalid:
                continue
            found.append(demand_of(other.request))
        return found

    def step_9_report(self, ctx: Context) -> list[int]:
        """Step 9: the Helpdesk's Laporan Hasil Hosting, written from step 8's record."""
        request_id = ctx.request.request_id
        at = self.now()  # not ctx.at: step 8 may have been recorded after ctx was read
        facts = ctx.request.request
        records = self.ledgers.for_request(request_id).records()
        paths = write_reports(
            hosting_report(facts, records, at),
            reports_dir(self.ws),
            department=self.department,
        )
        outputs = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}
        record_step(
            self.ledgers,
            request_id,
            StepEvent(9, Outcome.DONE, at, actor=PIPELINE),
            inputs={"request": ctx.subject.digest},
            outputs=outputs,
        )
        self.log(f"{request_id}: langkah 9 dicatat; laporan di {paths[0].parent}")
        return [9]
