"""``sop site build OUT/``: the static site, from the repository, as a library call.

1. Read the base branch's trusted configuration: keyring (who may sign, their WebAuthn keys)
   and working calendar.
2. For each request: its facts, its signed statements checked against that keyring, and for
   each signed step whose earlier steps hold, the statement fields ``sop sign`` would fill.
3. Where every request stands (``sop status``) and whether the records hold (``sop audit``).
4. Write the pages (dashboard, signing pages and their index, enrolment), the script, and a
   copy of the records the dashboard links to. Nothing is served: any static host will do.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sop_pipeline.config import TrustedConfig
from sop_pipeline.errors import SopError
from sop_pipeline.ledger.chain import Ledger
from sop_pipeline.ledger.tracking import ANALYSIS_KIND
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.approvals import Checked, Verifier, VerifyMode, check_all
from sop_pipeline.signing.errors import StatementInvalid
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.signing.signer import builds_on, free_path
from sop_pipeline.signing.subject import Subject, approvals_dir, load_subject
from sop_pipeline.site.dashboard import Hosting, RequestView, dashboard_page, summary_page
from sop_pipeline.site.enrol import enrol_page
from sop_pipeline.site.form import SCRIPT as FORM_SCRIPT
from sop_pipeline.site.form import form_inputs, form_pages
from sop_pipeline.site.layout import Page
from sop_pipeline.site.signing import (
    SigningContext,
    signing_index,
    signing_page,
    webauthn_signers,
)
from sop_pipeline.steps.overview import audit_faults, known_request_ids, status_summaries
from sop_pipeline.workspace import Workspace

log = logging.getLogger(__name__)

DEFAULT_AGENCY = "Dinas Komunikasi, Informatika dan Statistik Provinsi Sumatera Barat"
DEFAULT_RP_ID = "localhost"
MAX_REPORT_CHARS = 200_000


@dataclass(frozen=True)
class SiteOptions:
    rp_id: str = ""  # default: the keyring's policy.webauthn_rp_id, else "localhost"
    rp_name: str = "SOP Hosting Diskominfotik Sumbar"
    valid_days: int = 14  # as `sop sign --valid-days`
    gitlab_url: str = ""  # the requests project, e.g. https://gitlab.example/dkis/hosting
    branch: str = "{request_id}"  # the merge request's branch of a request
    target_branch: str = "main"  # where merge requests go (the request form's GitLab links)
    verifier: VerifyMode = VerifyMode.BOTH
    #: request id -> last backup as printed (``--backups FILE`` of ``sop backups --json``)
    backups: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Built:
    out: Path
    pages: tuple[str, ...]
    signing: tuple[tuple[str, int], ...]  # (request id, step) pages


def _facts(path: Path) -> list[tuple[str, str]]:
    """The request's fields as (dotted name, value), read with the strict loader."""
    from sop_pipeline.loader import load_yaml_file

    def walk(prefix: str, value: Any) -> list[tuple[str, str]]:
        if isinstance(value, Mapping):
            return [row for k, v in value.items() for row in walk(f"{prefix}{k}.", v)]
        if isinstance(value, list):
            return [row for i, v in enumerate(value) for row in walk(f"{prefix}{i}.", v)]
        return [(prefix.rstrip("."), str(value))]

    try:
        return walk("", load_yaml_file(path).data)
    except SopError as err:
        return [("(berkas tidak terbaca)", err.diagnostics())]


def _analysis(ledger: Ledger, subject: Subject) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The latest ``analysis`` record of the request's current bytes: (evidence, rows)."""
    found = [
        r
        for r in ledger.records()
        if r.kind == ANALYSIS_KIND and r.inputs.get("request") == subject.digest
    ]
    if not found:
        return {}, []
    latest = found[-1]
    rows = [
        ("Putusan analisis", str(latest.data.get("verdict", ""))),
        ("Dicatat", latest.at),
        ("Catatan ledger", f"#{latest.seq} {latest.hash}"),
    ] + [(f"Laporan {name}", digest) for name, digest in sorted(latest.outputs.items())]
    return dict(latest.outputs), rows


def _report_text(repo: Path, request_id: str, evidence: Mapping[str, str]) -> str:
    """The analysis report's Markdown as ``sop analyze`` wrote it, if its digest matches."""
    import hashlib

    for name, digest in sorted(evidence.items()):
        path = repo / "records" / "reports" / request_id / name
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(data).hexdigest() == digest:
            return data.decode("utf-8", errors="replace")[:MAX_REPORT_CHARS]
    return ""


def _contexts(
    ws: Workspace, path: Path, keyring: Keyring, verifier: Verifier, options: SiteOptions
) -> list[SigningContext]:
    subject = load_subject(path)
    checked: list[Checked] = check_all(approvals_dir(path), subject, verifier)
    ledger = ws.ledgers.for_request(subject.request_id)
    head = ledger.head()
    evidence, analysis_rows = _analysis(ledger, subject)
    report = _report_text(ws.root, subject.request_id, evidence)
    facts = _facts(path)
    contexts = []
    for number in st.SIGNED_STEPS:
        try:
            chain = builds_on(number, checked)
        except StatementInvalid:
            continue  # an earlier step does not hold yet: nothing to sign here
        fixed: dict[str, Any] = {
            "format": st.FORMAT,
            "request_id": subject.request_id,
            "request_sha256": subject.digest,
            "attachments": dict(subject.attachments),
            "step": number,
            "role": str(st.role_of(number)),
            "builds_on": chain,
            "evidence": evidence if number == 6 else {},
            "record_head": head,
        }
        already = sorted(
            {c.statement.signer for c in checked if c.ok and c.statement and c.step == number}
        )
        contexts.append(
            SigningContext(
                request_id=subject.request_id,
                step=number,
                statement=fixed,
                file_name=free_path(approvals_dir(path), number).name,
                facts=facts,
                signers=webauthn_signers(keyring, number, options.rp_id),
                analysis=analysis_rows if number in (6, 7) else (),
                analysis_text=report if number in (6, 7) else "",
                already=already,
                require_uv=st.role_of(number) in keyring.require_uv,
            )
        )
    return contexts


def _agency(trusted: TrustedConfig) -> str:
    try:
        return trusted.department.letterhead.agency
    except (SopError, AttributeError):  # no department.yaml on the base: the default
        return DEFAULT_AGENCY


def _record_links(ledger: Ledger) -> dict[tuple[int, datetime], tuple[int, str]]:
    """(step, time) of every step record -> (seq, hash): what a dashboard row links to."""
    links = {}
    for r in ledger.records():
        if r.kind == "step" and r.step is not None:
            links[(r.step, r.time)] = (r.seq, r.hash)
    return links


def _opd(path: Path) -> str:
    facts = dict(_facts(path)) if path.is_file() else {}
    return facts.get("opd.code", "(tidak diketahui)")


def _hostings(ws: Workspace, ids: list[str]) -> list[Hosting]:
    """Live hostings (step 8 recorded): the period's end as the request file says it."""
    from datetime import date

    from sop_pipeline.ledger.tracking import state_of

    found = []
    for rid in ids:
        path = ws.request_path(rid)
        try:
            built = state_of(ws.ledgers, rid).built
        except SopError:
            continue
        facts = dict(_facts(path)) if built and path.is_file() else {}
        try:
            end = date.fromisoformat(facts.get("period.end", ""))
        except ValueError:
            continue
        found.append(Hosting(rid, facts.get("opd.code", "(tidak diketahui)"), end))
    return found


def build_site(
    *, ws: Workspace, trusted: TrustedConfig, out: Path, now: datetime, options: SiteOptions
) -> Built:
    """Write the site under ``out`` (made if absent; files of an earlier build replaced)."""
    keyring = trusted.keyring
    calendar = trusted.calendar
    rp_id = options.rp_id or keyring.webauthn_rp_id or DEFAULT_RP_ID
    # a statement may not outlive the keyring's max_statement_days (sop sign's default: 14)
    valid_days = min(options.valid_days, keyring.max_statement_days)
    options = replace(options, rp_id=rp_id, valid_days=valid_days)
    agency = _agency(trusted)
    verifier = Verifier(keyring, at=now, mode=options.verifier)
    ids = known_request_ids(ws)
    summaries = {s["request_id"]: s for s in status_summaries(ws, calendar, now, ids)}
    contexts: list[SigningContext] = []
    with verifier.session():
        for rid in ids:
            path = ws.request_path(rid)
            if not path.is_file():
                continue
            try:
                contexts += _contexts(ws, path, keyring, verifier, options)
            except SopError as err:  # one unreadable request never stops the site
                log.warning("%s: no signing pages: %s", path, err.diagnostics())
    pages: list[Page] = []
    for ctx in contexts:
        pages.append(
            signing_page(
                ctx,
                agency=agency,
                rp_id=options.rp_id,
                valid_days=options.valid_days,
                gitlab_url=options.gitlab_url,
                branch=options.branch.replace("{request_id}", ctx.request_id),
            )
        )
    signable = {(c.request_id, c.step): c.path for c in contexts}
    views = []
    for rid in ids:
        s = summaries[rid]
        nxt = s["next_step"]
        signers: list[str] = []
        if nxt in st.SIGNED_STEPS:
            signers = list(keyring.roles.get(st.role_of(nxt), ()))
        views.append(
            RequestView(
                request_id=rid,
                opd=_opd(ws.request_path(rid)),
                summary=s,
                record_links=_record_links(ws.ledgers.for_request(rid)),
                next_signers=signers,
                signing_page=signable.get((rid, nxt), "") if nxt else "",
            )
        )
    audit = audit_faults(ws, lambda: keyring, now)
    pages.append(
        dashboard_page(
            views,
            agency=agency,
            now=now.astimezone(calendar.tz),
            working_day=calendar.typical_day(),
            audit=audit,
            hostings=[
                replace(x, last_backup=options.backups.get(x.request_id, ""))
                for x in _hostings(ws, ids)
            ],
        )
    )
    pages.append(summary_page(views, agency=agency, now=now.astimezone(calendar.tz), audit=audit))
    pages.append(
        signing_index(contexts, {rid: summaries[rid]["next_step"] for rid in ids}, agency=agency)
    )
    pages.append(enrol_page(agency=agency, rp_id=options.rp_id, rp_name=options.rp_name, now=now))
    pages += form_pages(
        **form_inputs(ws, ids),
        agency=agency,
        gitlab_url=options.gitlab_url,
        target_branch=options.target_branch,
        branch=options.branch,
    )
    _write(out, pages, ws)
    return Built(out, tuple(p.path for p in pages), tuple((c.request_id, c.step) for c in contexts))


def _write(out: Path, pages: list[Page], ws: Workspace) -> None:
    for sub in ("sign", "static", "records", "formulir"):
        shutil.rmtree(out / sub, ignore_errors=True)
    for page in pages:
        target = out / page.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(page.html, encoding="utf-8")
    static = out / "static"
    static.mkdir(parents=True, exist_ok=True)
    for name in ("sop.js", FORM_SCRIPT):
        script = resources.files("sop_pipeline.site").joinpath(f"static/{name}").read_bytes()
        (static / name).write_bytes(script)
    records = out / "records"
    records.mkdir(parents=True, exist_ok=True)
    for rid in ws.ledgers.request_ids():
        ledger = ws.ledgers.for_request(rid)
        if ledger.path.is_file():
            shutil.copyfile(ledger.path, records / ledger.path.name)
