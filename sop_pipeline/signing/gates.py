"""What step N needs, as policies composed with :class:`AllOf` (an empty one is refused).

"Step N holds" means everything the SOP requires for N is signed, valid now, bound to the
current request bytes, in order, by the right people:

- First: the keyring passes its own lint (``keyring.lint``, no error at the verification
  time); a gate never runs on a keyring that could let one person count twice.
- N <= 8: every signed step up to N (2, 3, 4, 6, 7 as far as they go) has at least its
  threshold of valid positive statements by distinct people (principal, key and NIP), each
  naming in ``builds_on`` the statements it built on; the two gates (4 and 7) are signed by
  different people (principals, keys and NIPs all differ; a gate signer without a NIP in
  the keyring is refused); no signer is the requester; and for N = 8 none of those
  statements was consumed by an earlier provisioning (replay).
- A step-6 approval cites (``evidence``) an analysis report that ``sop analyze`` recorded in
  the request's ledger for these request bytes, and that report says the request can be
  carried out (DAPAT DILAKSANAKAN), or, for a report that says BELUM DAPAT DILAKSANAKAN, it
  carries an ``override`` reason that every counting step-7 approval names too.
- Statements are evidence: those the branch's Git history ever held count with those in the
  folder (``history``), so deleting a refusal hides nothing; and a refusal the ledger recorded
  (a step-6 or step-7 NO, or a later withdrawal) refuses steps up to 8 whatever the files say.
- N >= 9: step 8 is done in the ledger, and the acknowledgements 10..N hold the same way
  (their chain reaches back to the step-7 statement recorded in the ledger).
- Always: the request's state (folded from its ledger) has reached N and did not end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from sop_pipeline.domain.retirement import RETIREMENT_KIND, Signer, one_person_refusals
from sop_pipeline.domain.sop import (
    ANALYSIS_STEP,
    DECISION_STEP,
    PROVISION_STEP,
    VERIFICATION_STEP,
)
from sop_pipeline.domain.state import Phase, RequestState
from sop_pipeline.signing import keyring as keyring_mod
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.approvals import FILE_NAME, Checked
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.signing.subject import Subject


@dataclass(frozen=True)
class RecordedAnalysis:
    """An analysis report ``sop analyze`` wrote and recorded in the request's ledger."""

    digest: str  # sha256 of the report (what a step-6 statement cites)
    request_digest: str  # the request bytes it analysed
    feasible: bool  # DAPAT DILAKSANAKAN (True) or BELUM DAPAT DILAKSANAKAN (False)
    name: str = ""
    #: ``reboot`` or ``replace`` when the analysed change's plan stops or replaces the VM.
    change_class: str = ""


@dataclass(frozen=True)
class RecordedRefusal:
    """A NO the ledger recorded: a step-6/7 ``reject``, or a withdrawal after a YES."""

    step: int
    signer: str
    reason: str
    statement: str = ""  # its hash
    withdrawal: bool = False


@dataclass(frozen=True)
class GateContext:
    """Everything a gate looks at; built by the caller, no I/O here."""

    step: int
    subject: Subject
    keyring: Keyring
    checked: Sequence[Checked]
    state: RequestState
    recorded: Mapping[int, frozenset[str]] = field(default_factory=dict)  # ledger: step -> hashes
    consumed: frozenset[str] = frozenset()
    at: datetime | None = None  # the verification time; the keyring is linted at it
    history: Sequence[Checked] = ()  # statements the Git history held, deleted ones included
    analyses: Mapping[str, RecordedAnalysis] = field(default_factory=dict)  # digest -> record
    refusals: Sequence[RecordedRefusal] = ()
    #: Statement hashes the ledger recorded while they were valid, in records a signed
    #: checkpoint covers: their approval outlives expires_at (like a transparency log).
    anchored: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Selection:
    """The statements of one step that count: positive ones by distinct signers, or a refusal."""

    positive: tuple[Checked, ...]
    negative: tuple[Checked, ...]


class Policy(Protocol):
    def evaluate(self, ctx: GateContext) -> list[str]:
        """Reasons the policy does not hold (Indonesian, rule id in brackets); empty: holds."""
        ...


class EmptyPolicy(ValueError):
    """An AllOf with nothing in it: a gate with no requirement must not exist."""


class AllOf:
    """Holds when every policy holds. Refuses to be built empty, and fails closed if it is."""

    def __init__(self, policies: Sequence[Policy]) -> None:
        if not policies:
            raise EmptyPolicy("AllOf tanpa kebijakan ditolak: gerbang kosong harus gagal")
        self.policies = tuple(policies)

    def evaluate(self, ctx: GateContext) -> list[str]:
        if not self.policies:  # pragma: no cover - refused in __init__
            return ["kebijakan gerbang kosong [empty-policy]"]
        return [reason for policy in self.policies for reason in policy.evaluate(ctx)]


def statements(ctx: GateContext) -> tuple[Checked, ...]:
    """The folder's statements, then every one the history held (a copy counts once: a
    signer counts once, and one refusal is enough)."""
    return (*ctx.checked, *ctx.history)


def known_hashes(ctx: GateContext, step_number: int) -> set[str]:
    """Hashes a later statement may build on: valid positive files, or recorded in the ledger."""
    files = {
        c.sha256
        for c in statements(ctx)
        if c.ok and c.statement and c.statement.step == step_number and c.statement.positive
    }
    return files | set(ctx.recorded.get(step_number, frozenset()))


def chain_problems(ctx: GateContext, checked: Checked) -> list[str]:
    if checked.statement is None:
        return ["pernyataan tidak terbaca [statement]"]
    problems = []
    for key, digest in checked.statement.builds_on.items():
        earlier = int(key.removeprefix("step-"))
        if digest not in known_hashes(ctx, earlier):
            problems.append(
                f"{checked.path.name}: langkah {checked.statement.step} menyebut pernyataan "
                f"langkah {earlier} yang tidak ada atau tidak sah (urutan salah atau "
                "pernyataan ditukar) [chain]"
            )
    return problems


def person_of(keyring: Keyring, principal: str) -> str:
    """Who signed: the NIP where the keyring has one, else only the principal is known."""
    nip = keyring.nip_of(principal)
    return f"nip:{nip}" if nip else f"principal:{principal}"


def distinct(keyring: Keyring, a: Checked, b: Checked) -> bool:
    """Two signatures by two people: principals, keys and NIPs all differ."""
    return (
        a.principal != b.principal
        and a.fingerprint != b.fingerprint
        and person_of(keyring, a.principal) != person_of(keyring, b.principal)
    )


def evidence_problems(ctx: GateContext, checked: Checked) -> list[str]:
    """A step-6 approval must cite a recorded analysis report of these request bytes that
    says the request can be carried out; a refusal needs no report.

    Fails closed: with no analysis recorded in the request's ledger, no step-6 approval
    counts (``[analysis-not-recorded]``). In GitLab the protected job ``sop:analysis``
    records it on the records branch before Tim Teknis signs (docs/ci.md).
    """
    s = checked.statement
    if s is None or s.step != ANALYSIS_STEP or not s.positive:
        return []
    name = checked.path.name
    if not ctx.analyses:
        return [
            f"{name}: belum ada analisis teknis yang tercatat untuk permintaan "
            f"{ctx.subject.request_id}; persetujuan langkah 6 tidak dapat diperiksa. Jalankan "
            "job analisis (`sop analyze`, di GitLab job terlindungi `sop:analysis`), lalu "
            "tandatangani dengan --evidence <laporan>=<sha256> [analysis-not-recorded]"
        ]
    if not s.evidence:
        return [
            f"{name}: persetujuan analisis (langkah 6) tidak menyebut laporan analisis teknis "
            "pada evidence; jalankan `sop analyze`, lalu tandatangani dengan --evidence "
            "<laporan>=<sha256> [analysis-not-cited]"
        ]
    problems = []
    for label, digest in sorted(s.evidence.items()):
        found = ctx.analyses.get(digest)
        if found is None:
            problems.append(
                f"{name}: evidence '{label}' ({digest[:12]}) bukan laporan yang dicatat "
                f"`sop analyze` untuk permintaan {ctx.subject.request_id} [analysis-unknown]"
            )
        elif found.request_digest != ctx.subject.digest:
            problems.append(
                f"{name}: laporan analisis '{label}' ({digest[:12]}) menganalisis versi lain "
                "berkas permintaan; jalankan `sop analyze` lagi [analysis-stale]"
            )
        elif not found.feasible and not s.override:
            problems.append(
                f"{name}: laporan analisis '{label}' ({digest[:12]}) menyatakan BELUM DAPAT "
                "DILAKSANAKAN; langkah 6 tidak dapat disetujui atas dasar itu, kecuali dengan "
                "alasan pengecualian (--override) yang juga dinyatakan Kabid di langkah 7 "
                "[analysis-not-feasible]"
            )
    return problems


def overrides(ctx: GateContext) -> dict[str, Checked]:
    """The overrides step 6 relies on: override text -> the step-6 approval that cites a
    recorded BELUM DAPAT DILAKSANAKAN report with it (and counts)."""
    found: dict[str, Checked] = {}
    for c in select(ctx, ANALYSIS_STEP).positive:
        s = c.statement
        if s is None or not s.override:
            continue
        cited = [ctx.analyses.get(d) for d in s.evidence.values()]
        if any(a is not None and not a.feasible for a in cited):
            found.setdefault(s.override, c)
    return found


@dataclass(frozen=True)
class OverrideConfirmed:
    """A step-6 approval over a BELUM DAPAT DILAKSANAKAN report holds only if every step-7
    approval that counts names the same override."""

    def evaluate(self, ctx: GateContext) -> list[str]:
        sevens = select(ctx, DECISION_STEP).positive
        reasons = []
        for text, six in overrides(ctx).items():
            for seven in sevens:
                if seven.statement is not None and seven.statement.override != text:
                    reasons.append(
                        f"{seven.path.name}: langkah 6 ({six.path.name}) disetujui dengan "
                        f"pengecualian '{text}' atas laporan BELUM DAPAT DILAKSANAKAN, tetapi "
                        "keputusan Kabid tidak menyatakan pengecualian yang sama; tandatangani "
                        "langkah 7 dengan --override berisi teks yang sama "
                        "[override-not-confirmed]"
                    )
        return reasons


def change_classes(ctx: GateContext) -> set[str]:
    """The classes (``reboot``, ``replace``) the analyses of these request bytes found in a
    change's plan, as cited by the step-6 approvals that count."""
    return {
        found.change_class
        for c in select(ctx, ANALYSIS_STEP).positive
        if c.statement is not None
        for digest in c.statement.evidence.values()
        if (found := ctx.analyses.get(digest)) is not None
        and found.request_digest == ctx.subject.digest
        and found.change_class
    }


def class_problems(ctx: GateContext, checked: Checked) -> list[str]:
    """A step-7 approval of a change that reboots or replaces the VM must name that class
    (``change_class``): one that does not is no decision for this change."""
    s = checked.statement
    if s is None or s.step != DECISION_STEP or not s.positive:
        return []
    return [
        f"{checked.path.name}: analisis perubahan ini menyatakan kelas '{wanted}' "
        f"({CHANGE_CLASS_WORDS.get(wanted, wanted)}), tetapi keputusan Kabid tidak "
        f"menyebutnya; tandatangani langkah 7 dengan --change-class {wanted} "
        "[change-class-unconfirmed]"
        for wanted in sorted(change_classes(ctx))
        if s.change_class != wanted
    ]


@dataclass(frozen=True)
class ChangeClassConfirmed:
    """Says why a change has no decision when the Kabid's approvals do not name the class
    the analysis found (they are left out of the selection: :func:`class_problems`)."""

    def evaluate(self, ctx: GateContext) -> list[str]:
        if select(ctx, DECISION_STEP).positive:
            return []
        return [
            reason
            for c in statements(ctx)
            if c.ok and c.statement is not None and c.statement.step == DECISION_STEP
            for reason in class_problems(ctx, c)
        ]


CHANGE_CLASS_WORDS = {
    "reboot": "VM dimulai ulang",
    "replace": "VM dihapus lalu dibuat ulang",
}


def lapsed_refusal(checked: Checked) -> bool:
    """A NO whose only fault is that its validity has run out: it still refuses (a refusal
    is evidence; waiting for it to expire must not turn it into a YES)."""
    s = checked.statement
    return (
        s is not None
        and not s.positive
        and bool(checked.problems)
        and all(p.endswith("[statement-expired]") for p in checked.problems)
    )


def lapsed_but_recorded(ctx: GateContext, checked: Checked) -> bool:
    """A YES whose only fault is its expiry, recorded while valid under a signed checkpoint."""
    return (
        checked.sha256 in ctx.anchored
        and checked.statement is not None
        and bool(checked.problems)
        and all(p.endswith("[statement-expired]") for p in checked.problems)
    )


def select(ctx: GateContext, step_number: int) -> Selection:
    """Valid statements of one step whose chain holds; positive ones by distinct people."""
    valid = [
        c
        for c in statements(ctx)
        if (c.ok or lapsed_refusal(c) or lapsed_but_recorded(ctx, c))
        and c.statement
        and c.statement.step == step_number
        and not chain_problems(ctx, c)
        and not evidence_problems(ctx, c)
        and not class_problems(ctx, c)
    ]
    negative = tuple(c for c in valid if c.statement and not c.statement.positive)
    positive: list[Checked] = []
    for c in sorted(valid, key=lambda c: (c.statement.signed_at if c.statement else "", c.sha256)):
        if (
            c.statement
            and c.statement.positive
            and all(distinct(ctx.keyring, c, p) for p in positive)
        ):
            positive.append(c)
    return Selection(tuple(positive), negative)


@dataclass(frozen=True)
class StepSigned:
    """Step ``number`` has its threshold of valid positive statements, and no refusal."""

    number: int

    def evaluate(self, ctx: GateContext) -> list[str]:
        sel = select(ctx, self.number)
        if sel.negative:
            s = sel.negative[0].statement
            if s is None:  # pragma: no cover - negative statements are parsed ones
                return ["pernyataan tidak terbaca [statement]"]
            what = "tidak lengkap" if s.decision == "incomplete" else "ditolak"
            where = (
                f" (berkas {sel.negative[0].path.name} sudah dihapus dari cabang; dibaca dari "
                f"riwayat Git {sel.negative[0].source})"
                if sel.negative[0].source
                else ""
            )
            return [
                f"langkah {self.number} {what} oleh {s.signer}: {s.reason}{where} "
                f"[step-{self.number:02d}-{s.decision}]"
            ]
        need = ctx.keyring.threshold(self.number)
        if len(sel.positive) >= need:
            return []
        problems = [
            f"langkah {self.number} perlu {need} pernyataan sah dari peran "
            f"{st.role_of(self.number)}, ada {len(sel.positive)} "
            f"[step-{self.number:02d}-unsigned]"
        ]
        for c in ctx.checked:
            if c.statement is None and named_step(c) in (self.number, None):
                problems += [f"{c.path.name}: {p}" for p in c.problems]  # why it is unreadable
            if c.statement and c.statement.step == self.number:
                problems += [f"{c.path.name}: {p}" for p in c.problems]
                if c.ok:
                    problems += chain_problems(ctx, c) + evidence_problems(ctx, c)
        return problems


def keyring_refusals(keyring: Keyring, at: datetime | None) -> list[str]:
    """Why a gate must not run on this keyring: its lint errors at ``at`` (empty: sound)."""
    if at is None:
        return ["waktu verifikasi tidak diketahui; keyring tidak dapat diperiksa [keyring-invalid]"]
    return [
        f"keyring {keyring.source} tidak lolos `sop keyring lint`; gerbang tidak dijalankan: "
        f"{finding.message} [{finding.rule}] [keyring-invalid]"
        for finding in keyring_mod.errors(keyring_mod.lint(keyring, at=at))
    ]


@dataclass(frozen=True)
class KeyringSound:
    """The keyring passes its own lint: the rules that keep two gates two people apply here."""

    def evaluate(self, ctx: GateContext) -> list[str]:
        return keyring_refusals(ctx.keyring, ctx.at)


@dataclass(frozen=True)
class GateSignersIdentified:
    """Every signer of a gate step (4, 7) is a person the keyring knows by NIP."""

    steps: tuple[int, ...]

    def evaluate(self, ctx: GateContext) -> list[str]:
        return [
            f"{c.path.name}: {c.principal} menandatangani gerbang langkah {n} tanpa NIP di "
            f'keyring ([people."{c.principal}"]); dua gerbang tidak dapat dipastikan dua '
            "orang [gate-signer-without-nip]"
            for n in st.GATE_STEPS
            if n in self.steps
            for c in select(ctx, n).positive
            if ctx.keyring.nip_of(c.principal) is None
        ]


def named_step(checked: Checked) -> int | None:
    """The step a file's name claims (only to place its parse error); None if no step."""
    m = FILE_NAME.match(checked.path.name)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class NoRecordedRefusal:
    """No NO recorded in the ledger for a step up to ``number``: files cannot undo one."""

    number: int

    def evaluate(self, ctx: GateContext) -> list[str]:
        reasons = []
        for r in ctx.refusals:
            if r.step > self.number:
                continue
            what = (
                f"persetujuan langkah {r.step} ditarik oleh {r.signer}"
                if r.withdrawal
                else f"langkah {r.step} ditolak oleh {r.signer}"
            )
            reasons.append(
                f"{what}: {r.reason}; penolakan ini tercatat di buku catatan dan tidak hilang "
                "walau berkasnya dihapus atau diubah [refusal-recorded]"
            )
        return reasons


@dataclass(frozen=True)
class GateSignersDistinct:
    """Verification (4) and decision (7): two people (principals, keys and NIPs differ)."""

    def evaluate(self, ctx: GateContext) -> list[str]:
        fours = select(ctx, VERIFICATION_STEP).positive
        sevens = select(ctx, DECISION_STEP).positive
        for a in fours:
            for b in sevens:
                if a.principal == b.principal or a.fingerprint == b.fingerprint:
                    return [
                        f"verifikasi dan keputusan ditandatangani orang/kunci yang sama "
                        f"({a.principal}, {a.fingerprint}); dua gerbang harus dua orang "
                        "[same-signer-both-gates]"
                    ]
                nip = ctx.keyring.nip_of(a.principal)
                if nip is not None and nip == ctx.keyring.nip_of(b.principal):
                    return [
                        f"verifikasi ({a.principal}) dan keputusan ({b.principal}) "
                        f"ditandatangani orang yang sama (NIP {nip}); dua gerbang harus dua "
                        "orang [same-person-both-gates]"
                    ]
        return []


@dataclass(frozen=True)
class RetirementTwoPeople:
    """A retirement (``kind: pensiun``) destroys the hosting: its verification (4) and
    decision (7) are two different people, checked on its own even where the keyring lets
    one person hold both roles (``domain.retirement.one_person_refusals``)."""

    def evaluate(self, ctx: GateContext) -> list[str]:
        if ctx.subject.kind != RETIREMENT_KIND:
            return []

        def signers(step_number: int) -> list[Signer]:
            return [
                Signer(c.principal, c.fingerprint, ctx.keyring.nip_of(c.principal))
                for c in statements(ctx)
                if c.ok and c.statement and c.statement.step == step_number
                and c.statement.positive and not chain_problems(ctx, c)
            ]  # fmt: skip

        return one_person_refusals(signers(VERIFICATION_STEP), signers(DECISION_STEP))


@dataclass(frozen=True)
class NotConsumed:
    """No approval used for this provisioning was consumed before (replay)."""

    steps: tuple[int, ...]

    def evaluate(self, ctx: GateContext) -> list[str]:
        return [
            f"{c.path.name}: persetujuan ini sudah dipakai sebelumnya [replayed-approval]"
            for n in self.steps
            for c in select(ctx, n).positive
            if c.sha256 in ctx.consumed
        ]


@dataclass(frozen=True)
class StateReached:
    """The request's state has reached step ``number`` (or done it) and has not ended."""

    number: int

    def evaluate(self, ctx: GateContext) -> list[str]:
        state = ctx.state
        if state.phase is Phase.REJECTED:
            return [f"permintaan ditolak pada langkah 7: {state.reason} [rejected]"]
        if state.phase is Phase.RETURNED and self.number >= VERIFICATION_STEP:
            return ["permintaan dikembalikan ke OPD; perbaiki dan ajukan ulang [returned-to-opd]"]
        if state.next_step == self.number or state.done(self.number):
            return []
        return [
            f"langkah {self.number} belum boleh: yang ditunggu langkah {state.next_step} "
            "[out-of-order]"
        ]


@dataclass(frozen=True)
class Provisioned:
    def evaluate(self, ctx: GateContext) -> list[str]:
        if ctx.state.done(PROVISION_STEP):
            return []
        return ["hosting (langkah 8) belum tercatat selesai [not-provisioned]"]


def required_steps(number: int) -> tuple[int, ...]:
    if number <= PROVISION_STEP:
        return tuple(n for n in st.SIGNED_STEPS if n <= number)
    return tuple(n for n in st.SIGNED_STEPS if PROVISION_STEP < n <= number)


def policy_for(number: int) -> AllOf:
    """The composed policy of step ``number``."""
    steps = required_steps(number)
    policies: list[Policy] = [
        KeyringSound(),
        StateReached(number),
        *(StepSigned(n) for n in steps),
    ]
    if set(steps) & set(st.GATE_STEPS):
        policies.append(GateSignersIdentified(steps))
    if VERIFICATION_STEP in steps and DECISION_STEP in steps:
        policies.append(GateSignersDistinct())
        policies.append(RetirementTwoPeople())
    if ANALYSIS_STEP in steps and DECISION_STEP in steps:
        policies.append(OverrideConfirmed())
        policies.append(ChangeClassConfirmed())
    if ANALYSIS_STEP <= number <= PROVISION_STEP:
        policies.append(NoRecordedRefusal(number))
    if number == PROVISION_STEP:
        policies.append(NotConsumed(steps))
    if number > PROVISION_STEP:
        policies.append(Provisioned())
    return AllOf(policies)


@dataclass(frozen=True)
class GateResult:
    step: int
    holds: bool
    reasons: tuple[str, ...]
    statements: Mapping[str, str]  # "step-04" (or "step-04-2") -> statement hash used

    def summary(self) -> str:
        if self.holds:
            return f"Gerbang langkah {self.step}: TERPENUHI (gate holds)"
        return f"Gerbang langkah {self.step}: TIDAK TERPENUHI (gate refused)\n" + "\n".join(
            f"  - {r}" for r in self.reasons
        )


def evaluate(ctx: GateContext) -> GateResult:
    """Pure: whether everything needed for ``ctx.step`` holds, and why not."""
    reasons = policy_for(ctx.step).evaluate(ctx)
    used: dict[str, str] = {}
    if not reasons:
        for n in required_steps(ctx.step):
            for index, c in enumerate(select(ctx, n).positive, start=1):
                used[st.step_key(n) + ("" if index == 1 else f"-{index}")] = c.sha256
    return GateResult(ctx.step, not reasons, tuple(dict.fromkeys(reasons)), used)
