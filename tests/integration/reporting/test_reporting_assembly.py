"""The pure assembly in sop_pipeline.steps.reporting, on ledgers written by the real ledger code."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from reporting_walk import at

from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.domain.request import (
    Application,
    Letter,
    Opd,
    Period,
    Pic,
    Request,
    Resources,
)
from sop_pipeline.domain.state import Outcome, Phase, StepEvent
from sop_pipeline.ledger import LedgerStore
from sop_pipeline.ledger.tracking import record_step
from sop_pipeline.steps.reporting import (
    DocumentNotReady,
    activity_report,
    disposition,
    month_period,
    state_until,
    ticket_sequence,
)

KADIS = "kadis@diskominfotik.sumbarprov.go.id"
KABID = "kabid@diskominfotik.sumbarprov.go.id"


def facts(request_id: str) -> Request:
    return Request(
        request_id, "ab" * 32, "sumbarprov.go.id", 1, Opd("DINKES", "Dinas Kesehatan"),
        Pic("Rina", "198203152009012003", "rina@dinkes.sumbarprov.go.id", "0812"),
        Letter("440/1/2026", date(2026, 11, 2), f"{request_id}/surat.pdf", "cd" * 32),
        Application("SIMPUS", "Puskesmas", "application", "php"), "simpus",
        Resources(2, 4096, 40, "debian-12-cloudinit"), "production",
        Period(date(2026, 12, 1), date(2027, 11, 30)), "terbatas", "public",
    )  # fmt: skip


def walk(store: LedgerStore, request_id: str, steps: list[tuple[int, Outcome, int]]) -> None:
    for step, outcome, minutes in steps:
        record_step(
            store,
            request_id,
            StepEvent(step, outcome, at(minutes), actor={2: KADIS, 3: KABID}.get(step, "x")),
            extra={"ticket": "HOST-2026-0042"} if step == 5 else None,
        )


def test_month_period_and_ticket_numbers() -> None:
    assert month_period("2026-11") == (date(2026, 11, 1), date(2026, 11, 30))
    assert month_period("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    for bad in ("2026-13", "2026-1", "26-11", "2026-11-01"):
        with pytest.raises(ValueError):
            month_period(bad)
    assert ticket_sequence("HOST-2026-0042") == 42
    assert ticket_sequence("") == 0


def test_disposition_is_dated_by_step_3_and_numbered_by_the_ticket(tmp_path: Path) -> None:
    store = LedgerStore(tmp_path)
    walk(store, "r1", [(1, Outcome.DONE, 0), (2, Outcome.DONE, 2), (3, Outcome.DONE, 4)])
    with pytest.raises(DocumentNotReady) as refused:
        disposition(facts("r1"), store.for_request("r1").records())
    assert refused.value.step == 5 and "[missing-step-5]" in str(refused.value)
    walk(store, "r1", [(4, Outcome.COMPLETE, 6), (5, Outcome.DONE, 8)])
    d = disposition(facts("r1"), store.for_request("r1").records())
    assert (d.sequence, d.issued, d.received) == (42, at(4), at(0))
    assert [(e.step, e.signer) for e in d.entries] == [(2, KADIS), (3, KABID)]


def test_the_period_report_takes_each_request_as_it_stood_at_the_period_end(
    tmp_path: Path, calendar: WorkingCalendar
) -> None:
    store = LedgerStore(tmp_path)
    day = 24 * 60
    walk(store, "early", [(1, Outcome.DONE, 0), (2, Outcome.DONE, 2)])  # 30 Nov
    walk(store, "later", [(1, Outcome.DONE, day + 60)])  # 1 Dec
    walk(store, "early", [(3, Outcome.DONE, day + 120)])  # 1 Dec: not November's business
    records = {rid: store.for_request(rid).records() for rid in ("early", "later")}
    assert state_until("early", records["early"], at(day)).next_step == 3

    november = activity_report(
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        sequence=11,
        now=at(10 * day),
        calendar=calendar,
        ledgers=records,
        facts={"early": facts("early")},
    )
    assert [e.request_id for e in november.entries] == ["early"]
    (entry,) = november.entries
    assert entry.phase is Phase.IN_PROGRESS and entry.opd_name == "Dinas Kesehatan"
    assert [(t.step, t.running) for t in entry.timings] == [(1, False), (2, False), (3, True)]
    assert november.issued == at(day - 8 * 60)  # 1 December 00:00 WIB
    assert [t.step for _, t in november.breaches] == [3]  # due 30 Nov 08.05, open at midnight

    december = activity_report(
        period_start=date(2026, 12, 1),
        period_end=date(2026, 12, 31),
        sequence=12,
        now=at(day + 180),
        calendar=calendar,
        ledgers=records,
        facts={},
    )
    assert [e.request_id for e in december.entries] == ["early", "later"]
    assert [t.step for t in december.entries[0].timings] == [3, 4]
    assert december.issued == at(day + 180)
