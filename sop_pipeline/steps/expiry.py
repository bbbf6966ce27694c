"""``sop expiry``: the daily run that warns, soft-retires and reverses (docs/expiry.md).

For every live hosting (step 8 recorded, not hard-retired), by ``period.end`` of its last
applied record (a renewal moves it), one thing a day (:func:`domain.expiry.action_for`):

1. notice        at H-30, H-14, H-7 working days: ``records/notices/<id>/<end>-h<N>.md`` and
                 ``.eml`` (for the department's relay), the comment
                 ``records/reports/<id>/komentar-masa-hosting.md`` (posted by the CI job),
                 one ``expiry`` record in the hosting's ledger and in ``records/_expiry.jsonl``
                 (the Laporan Kegiatan's lines);
2. soft-retire   the day after ``period.end``: the VM shut down through the Proxmox API, the
                 name pointed at the holding host (TSIG update, confirmed by a query), the
                 lease kept, quarantine started; recorded;
3. reversal      a valid Koordinator reversal (``signing.reversal``) of that soft retirement:
                 the VM started, the name pointed back at the VM; recorded. A refused one is
                 recorded with its rules, once;
4. quarantine    its end recorded (``quarantine-ended``): where hard retirement may start,
                 with its own fresh signatures; nothing is destroyed here.

Every side effect is idempotent (shutdown of a stopped VM, a name already pointed) and the
record comes after it: a run killed in between does the same again and records once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sop_pipeline.atomic import write_atomically
from sop_pipeline.domain import expiry as ex
from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.errors import SopError
from sop_pipeline.ledger.chain import Record
from sop_pipeline.ledger.store import LedgerStore
from sop_pipeline.ledger.tracking import last_applied
from sop_pipeline.loader import read_request_model
from sop_pipeline.ports import NamePort, PowerPort
from sop_pipeline.reports import expiry as rep
from sop_pipeline.signing import reversal as rv
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.steps.drift import step8_record

ACTOR = "sop expiry"
DEPARTMENT_LEDGER = "expiry"  # records/_expiry.jsonl
COMMENT_FILE = "komentar-masa-hosting.md"


@dataclass(frozen=True)
class LiveHosting:
    request_id: str
    vmid: int
    node: str
    fqdn: str
    ip_address: str
    end: date
    facts: Mapping[str, Any]
    records: Sequence[Record]


def _events(records: Sequence[Record]) -> list[ex.Event]:
    return [ex.Event(r.kind, r.hash, r.data) for r in records]


def life_of(records: Sequence[Record]) -> ex.ExpiryLife:
    return ex.fold(_events(records))


def live_hostings(ledgers: LedgerStore, requests_dir: Path, zone: str) -> list[LiveHosting]:
    """Every built, not hard-retired hosting, with its end date from the last applied record
    (or, for a step 8 recorded before the facts were, the file if it holds the same bytes)."""
    found = []
    for rid in ledgers.request_ids():
        records = ledgers.for_request(rid).records()
        built = step8_record(records)
        if built is None or life_of(records).retired:
            continue
        applied = last_applied(records)
        facts: Mapping[str, Any] = dict(applied.facts) if applied else {}
        if not facts.get("period"):
            model = read_request_model(requests_dir / f"{rid}.yaml", zone=zone)
            if model is None or (applied is not None and model.digest != applied.digest):
                continue  # no applied end date to count from: nothing is guessed
            facts = model.as_data()
        h = built.data["hosting"]
        found.append(
            LiveHosting(
                rid,
                int(h["vmid"]),
                str(h["node"]),
                str(h["fqdn"]),
                str(h["ip_address"]),
                date.fromisoformat(str(facts["period"]["end"])),
                facts,
                records,
            )
        )
    return found


@dataclass
class ExpiryContext:
    ledgers: LedgerStore
    requests_dir: Path
    records_dir: Path
    calendar: WorkingCalendar
    policy: ex.ExpiryPolicy
    environment: str
    zone: str
    sender: rep.Sender
    power: Callable[[], PowerPort]
    names: Callable[[], NamePort]
    keyring: Callable[[], Keyring]
    logs_url: str | None = None
    log: Callable[[str], None] = field(default=lambda _line: None)


@dataclass
class Outcome:
    request_id: str
    action: str  # notice, soft-retired, reversed, reversal-refused, quarantine-ended, none, failed
    detail: str = ""
    files: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "action": self.action,
            "detail": self.detail,
            "files": self.files,
            "rules": self.rules,
        }


def _record(ctx: ExpiryContext, rid: str, at: datetime, data: dict[str, Any], **kw: Any) -> Record:
    with ctx.ledgers.locked(rid):
        record = ctx.ledgers.for_request(rid).append(
            kind=ex.EXPIRY_KIND, actor=ACTOR, at=at, data=data, **kw
        )
    with ctx.ledgers.locked(f"_{DEPARTMENT_LEDGER}"):
        ctx.ledgers.named(DEPARTMENT_LEDGER).append(
            kind=ex.EXPIRY_KIND,
            actor=ACTOR,
            at=at,
            data={"request_id": rid, **data},
            inputs={"record": record.hash},
        )
    return record


def _label(h: LiveHosting, zone: str) -> str:
    return h.fqdn.rstrip(".").removesuffix("." + zone)


def _point(ctx: ExpiryContext, h: LiveHosting, address: str, *, ptr: bool) -> None:
    """The name to ``address`` through the step-8 publish path (TSIG, rcode, confirming
    query). The holding host's address gets no PTR: it answers for many names."""
    names = ctx.names()
    plan = names.plan_publish(_label(h, ctx.zone), address, h.request_id)
    if not ptr:
        plan = replace(plan, reverse="skip")
    names.apply(plan)


def notice(ctx: ExpiryContext, h: LiveHosting, due: ex.DueNotice, now: datetime) -> Outcome:
    f = h.facts
    facts = rep.NoticeFacts(
        request_id=h.request_id,
        fqdn=h.fqdn,
        application=str(f.get("application", {}).get("name", "")),
        opd_name=str(f.get("opd", {}).get("name", "")),
        pic_name=str(f.get("pic", {}).get("name", "")),
        pic_email=str(f.get("pic", {}).get("email", "")),
        end=h.end,
        threshold=due.threshold,
        retirement_day=ex.retirement_day(h.end),
        quarantine_days=ctx.policy.quarantine_days,
        issued=now,
        late=due.late,
    )
    folder = ctx.records_dir / "notices" / h.request_id
    stem = f"{h.end.isoformat()}-h{due.threshold}"
    outputs = {
        f"{stem}.md": rep.notice_markdown(facts, ctx.sender, ctx.calendar.tz).encode(),
        f"{stem}.eml": rep.notice_email(facts, ctx.sender),
    }
    comment = rep.notice_comment(facts, logs_url=ctx.logs_url).encode()
    written = []
    for name, data in outputs.items():
        write_atomically(folder / name, data)
        written.append(str(folder / name))
    comment_path = ctx.records_dir / "reports" / h.request_id / COMMENT_FILE
    write_atomically(comment_path, comment)
    written.append(str(comment_path))
    _record(
        ctx,
        h.request_id,
        now,
        {
            "event": ex.NOTICE,
            "end": h.end.isoformat(),
            "threshold": due.threshold,
            "due_day": due.day.isoformat(),
            "superseded": list(due.superseded),
            "to": facts.pic_email,
        },
        outputs={
            name: hashlib.sha256(data).hexdigest()
            for name, data in (*outputs.items(), (COMMENT_FILE, comment))
        },
    )
    return Outcome(h.request_id, ex.NOTICE, f"H-{due.threshold}", written)


def soft_retire(ctx: ExpiryContext, h: LiveHosting, today: date, now: datetime) -> Outcome:
    holding = ctx.policy.holding_addresses.get(ctx.environment)
    if not holding:
        raise SopError(
            f"inventories/policy.yaml: expiry.holding_addresses.{ctx.environment} tidak ada; "
            "pensiun lunak tidak dapat mengarahkan nama [holding-address]"
        )
    ctx.power().shutdown(h.node, h.vmid)
    _point(ctx, h, holding, ptr=False)
    until = ex.quarantine_until(today, ctx.policy.quarantine_days)
    comment = rep.retirement_comment(h.request_id, h.fqdn, today, until).encode()
    comment_path = ctx.records_dir / "reports" / h.request_id / COMMENT_FILE
    write_atomically(comment_path, comment)
    _record(
        ctx,
        h.request_id,
        now,
        {
            "event": ex.SOFT_RETIRED,
            "end": h.end.isoformat(),
            "on": today.isoformat(),
            "quarantine_until": until.isoformat(),
            "vm_address": h.ip_address,
            "holding_address": holding,
            "vmid": h.vmid,
            "node": h.node,
            "lease": "kept",
        },
    )
    return Outcome(
        h.request_id,
        ex.SOFT_RETIRED,
        f"VM {h.vmid} dimatikan, {h.fqdn} -> {holding}, karantina s.d. {until.isoformat()}",
        [str(comment_path)],
    )


def _request_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def try_reversal(
    ctx: ExpiryContext, h: LiveHosting, soft: ex.SoftRetirement, now: datetime
) -> Outcome | None:
    """The first valid reversal statement of this soft retirement, applied; refusals recorded
    (each statement once). None when there is no statement to look at."""
    approvals = ctx.requests_dir / f"{h.request_id}.approvals"
    files = rv.reversal_files(approvals)
    if not files:
        return None
    digest = _request_digest(ctx.requests_dir / f"{h.request_id}.yaml")
    used = {
        str(r.data.get("statement"))
        for r in h.records
        if r.kind == ex.EXPIRY_KIND and r.data.get("event") == ex.REVERSED
    }
    #: refusals recorded already: (statement, rules), so a daily run records each once
    seen = {
        (str(r.data.get("statement")), tuple(r.data.get("rules", ())))
        for r in h.records
        if r.kind == ex.EXPIRY_KIND and r.data.get("event") == "reversal-refused"
    }
    keyring = ctx.keyring()
    refused: Outcome | None = None
    for path in files:
        if hashlib.sha256(path.read_bytes()).hexdigest() in used:
            continue  # applied to an earlier soft retirement: history, not a new request
        checked = rv.check(
            path,
            keyring=keyring,
            request_id=h.request_id,
            request_sha256=digest,
            retirement=soft.record_hash,
            used=frozenset(used),
            at=now,
        )
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        if checked.ok and checked.reversal is not None:
            ctx.power().start(h.node, h.vmid)
            _point(ctx, h, soft.vm_address, ptr=True)
            comment = rep.retirement_comment(
                h.request_id, h.fqdn, now.astimezone(ctx.calendar.tz).date(), soft.quarantine_until,
                reversed_=True,
            ).encode()  # fmt: skip
            write_atomically(ctx.records_dir / "reports" / h.request_id / COMMENT_FILE, comment)
            _record(
                ctx,
                h.request_id,
                now,
                {
                    "event": ex.REVERSED,
                    "retirement": soft.record_hash,
                    "statement": checked.reversal.sha256,
                    "signer": checked.reversal.signer,
                    "reason": checked.reversal.reason,
                },
                inputs={"statement": checked.reversal.sha256, "request": digest},
            )
            return Outcome(
                h.request_id,
                ex.REVERSED,
                f"oleh {checked.reversal.signer}: VM {h.vmid} dinyalakan, {h.fqdn} -> "
                f"{soft.vm_address}",
            )
        refused = Outcome(
            h.request_id, "reversal-refused", "; ".join(checked.problems), [str(path)],
            list(checked.rules),
        )  # fmt: skip
        if (sha, checked.rules) not in seen:
            _record(
                ctx,
                h.request_id,
                now,
                {
                    "event": "reversal-refused",
                    "statement": sha,
                    "rules": list(checked.rules),
                    "problems": list(checked.problems),
                },
            )
            seen.add((sha, checked.rules))
    return refused


def run_expiry(ctx: ExpiryContext, now: datetime, *, only: str | None = None) -> list[Outcome]:
    """One run over every live hosting (or ``only``); a hosting's failure (Proxmox, DNS) is
    reported as ``failed`` by name, never stops the others, and records nothing for it."""
    today = now.astimezone(ctx.calendar.tz).date()
    outcomes = []
    for h in live_hostings(ctx.ledgers, ctx.requests_dir, ctx.zone):
        if only is not None and h.request_id != only:
            continue
        life = life_of(h.records)
        try:
            if life.soft is not None:
                reversed_ = try_reversal(ctx, h, life.soft, now)
                if reversed_ is not None and reversed_.action == ex.REVERSED:
                    outcomes.append(reversed_)
                    continue
                if reversed_ is not None:
                    outcomes.append(reversed_)
            action = ex.action_for(life, ctx.calendar, h.end, today)
            if action.kind == ex.NOTICE and action.notice is not None:
                outcomes.append(notice(ctx, h, action.notice, now))
            elif action.kind == "soft-retire":
                outcomes.append(soft_retire(ctx, h, today, now))
            elif action.kind == ex.QUARANTINE_ENDED and life.soft is not None:
                _record(
                    ctx,
                    h.request_id,
                    now,
                    {"event": ex.QUARANTINE_ENDED, "retirement": life.soft.record_hash,
                     "on": today.isoformat()},
                )  # fmt: skip
                outcomes.append(
                    Outcome(h.request_id, ex.QUARANTINE_ENDED, "pensiun permanen dapat diajukan")
                )
            elif not any(o.request_id == h.request_id for o in outcomes):
                outcomes.append(Outcome(h.request_id, "none", life.phase))
        except SopError as err:
            ctx.log(f"expiry: {h.request_id}: gagal: {err.diagnostics()}")
            outcomes.append(Outcome(h.request_id, "failed", " ".join(err.diagnostics().split())))
    return outcomes


def expiry_status(records: Sequence[Record], calendar: WorkingCalendar) -> dict[str, Any]:
    """What ``sop status ID`` shows of the hosting's expiry (empty: not built)."""
    if step8_record(records) is None:
        return {}
    life = life_of(records)
    applied = last_applied(records)
    end = (applied.facts.get("period") or {}).get("end") if applied else None
    out: dict[str, Any] = {"phase": life.phase, "end": end}
    if end:
        out["warning_days"] = {
            f"H-{n}": d.isoformat()
            for n, d in ex.warning_days(calendar, date.fromisoformat(end)).items()
        }
        out["notices_sent"] = sorted(life.sent_for(date.fromisoformat(end)), reverse=True)
    if life.soft is not None:
        out["soft_retired_on"] = life.soft.on.isoformat()
        out["quarantine_until"] = life.soft.quarantine_until.isoformat()
        out["holding_address"] = life.soft.holding_address
    out["events"] = [
        {"at": r.at, **{k: v for k, v in r.data.items() if k in ("event", "threshold", "end")}}
        for r in records
        if r.kind == ex.EXPIRY_KIND
    ]
    return out


def quarantine_ended_ids(
    ledgers: LedgerStore, now: datetime, calendar: WorkingCalendar
) -> list[str]:
    """The hostings whose quarantine is over (:func:`domain.expiry.quarantine_ended`)."""
    today = now.astimezone(calendar.tz).date()
    lives = {rid: life_of(ledgers.for_request(rid).records()) for rid in ledgers.request_ids()}
    return ex.quarantine_ended(lives, today)
