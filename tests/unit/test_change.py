"""A change of a live hosting: the diff against the last applied record, the rules of a change,
renewal periods and maintenance windows. Pure."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sop_pipeline.domain.change import FieldChange, change_problems, diff, renewed_period
from sop_pipeline.domain.maintenance import Window, inside, opening, window_refusal
from sop_pipeline.domain.policy import Policy
from sop_pipeline.domain.request import Period, Request
from sop_pipeline.loader import load_request
from tests.conftest import REPO

JAKARTA = ZoneInfo("Asia/Jakarta")


@pytest.fixture
def live(policy: Policy) -> Request:
    return load_request(REPO / "requests" / "dinkes-simpus.yaml", policy=policy).request


def _changed(request: Request, kind: str = "ubah", **resources: int) -> Request:
    """The request as a change: its own bytes and its own letter (a change needs one)."""
    return dataclasses.replace(
        request,
        kind=kind,  # type: ignore[arg-type]
        digest="0" * 64,
        resources=dataclasses.replace(request.resources, **resources),
        letter=dataclasses.replace(request.letter, sha256="1" * 64),
    )


def test_diff_is_against_the_applied_facts_field_by_field(live: Request) -> None:
    applied = live.as_data()
    bigger = _changed(live, memory_mb=live.resources.memory_mb * 2)
    assert diff(applied, bigger) == (
        FieldChange("letter.sha256", live.letter.sha256, "1" * 64),
        FieldChange("resources.memory_mb", live.resources.memory_mb, live.resources.memory_mb * 2),
    )
    # kind and schema_version say what the file is: never a change of the hosting
    assert diff(applied, dataclasses.replace(live, kind="ubah")) == ()


def test_diff_names_a_field_the_applied_record_lacks(live: Request) -> None:
    applied = live.as_data()
    del applied["exposure"]
    assert diff(applied, live) == (FieldChange("exposure", None, live.exposure),)


def test_the_applied_bytes_are_no_change(live: Request) -> None:
    assert change_problems(live.as_data(), live.digest, live) == []


def test_disk_shrink_is_refused_with_its_own_rule(live: Request) -> None:
    smaller = _changed(live, disk_gb=live.resources.disk_gb - 10)
    problems = change_problems(live.as_data(), live.digest, smaller)
    assert [(p.field, p.rule) for p in problems] == [("resources.disk_gb", "disk-shrink")]
    assert "tidak dapat diperkecil" in problems[0].message
    assert f"{live.resources.disk_gb} GiB" in problems[0].message
    grown = _changed(live, disk_gb=live.resources.disk_gb + 10)
    assert change_problems(live.as_data(), live.digest, grown) == []


def test_a_change_brings_a_new_letter(live: Request) -> None:
    same_letter = dataclasses.replace(_changed(live, vcpu=2), letter=live.letter)
    problems = change_problems(live.as_data(), live.digest, same_letter)
    assert [(p.field, p.rule) for p in problems] == [("letter.sha256", "change-letter")]


def test_a_change_must_say_its_kind_and_a_new_request_must_not(live: Request) -> None:
    unsaid = _changed(live, kind="baru", vcpu=live.resources.vcpu + 1)
    rules = [p.rule for p in change_problems(live.as_data(), live.digest, unsaid)]
    assert rules == ["kind-live"]
    early = dataclasses.replace(live, kind="ubah")
    assert [p.rule for p in change_problems(None, "", early)] == ["kind-not-live"]
    assert change_problems(None, "", live) == []


def test_ubah_leaves_the_period_and_perpanjang_only_the_period(live: Request) -> None:
    later = Period(live.period.start, date(live.period.end.year + 1, 1, 1))
    moved = dataclasses.replace(_changed(live), period=later)
    assert [p.rule for p in change_problems(live.as_data(), live.digest, moved)] == [
        "change-period"
    ]
    renewal = dataclasses.replace(_changed(live, kind="perpanjang"), period=later)
    assert change_problems(live.as_data(), live.digest, renewal) == []
    greedy = dataclasses.replace(renewal, resources=dataclasses.replace(live.resources, vcpu=8))
    problems = change_problems(live.as_data(), live.digest, greedy)
    assert [(p.field, p.rule) for p in problems] == [("resources.vcpu", "renewal-only")]


OLD = Period(date(2026, 1, 1), date(2026, 12, 31))


def test_renewal_counts_from_the_old_end() -> None:
    period, problems = renewed_period(
        OLD, date(2027, 12, 31), counts_from="old_end", approved_on=date(2026, 11, 2),
        max_period_days=365,
    )  # fmt: skip
    assert problems == [] and period == Period(date(2027, 1, 1), date(2027, 12, 31))
    _, too_long = renewed_period(
        OLD, date(2028, 1, 2), counts_from="old_end", approved_on=date(2026, 11, 2),
        max_period_days=365,
    )  # fmt: skip
    assert [(p.field, p.rule) for p in too_long] == [("period.end", "renewal-length")]


def test_renewal_counted_from_approval_is_shorter_for_the_same_end() -> None:
    """From approval (2 Nov 2026), 31 Dec 2027 is 424 days away: over a 365-day limit that the
    count from the old end keeps."""
    _, problems = renewed_period(
        OLD, date(2027, 12, 31), counts_from="approval", approved_on=date(2026, 11, 2),
        max_period_days=365,
    )  # fmt: skip
    assert [p.rule for p in problems] == ["renewal-length"]
    assert "tanggal persetujuan (2026-11-02)" in problems[0].message
    period, ok = renewed_period(
        OLD, date(2027, 11, 1), counts_from="approval", approved_on=date(2026, 11, 2),
        max_period_days=365,
    )  # fmt: skip
    assert ok == [] and period == Period(date(2026, 11, 2), date(2027, 11, 1))


def test_renewal_must_end_later() -> None:
    _, problems = renewed_period(
        OLD, OLD.end, counts_from="old_end", approved_on=OLD.end, max_period_days=1096
    )
    assert [p.rule for p in problems] == ["renewal-not-later"]


SATURDAY_NIGHT = Window(5, time(22, 0), time(4, 0))  # Sabtu 22.00 - Minggu 04.00 WIB


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 12, 5, 15, 0, tzinfo=UTC), True),  # Sat 22.00 WIB: opens
        (datetime(2026, 12, 5, 20, 59, tzinfo=UTC), True),  # Sun 03.59 WIB: past midnight
        (datetime(2026, 12, 5, 21, 0, tzinfo=UTC), False),  # Sun 04.00 WIB: closed
        (datetime(2026, 12, 5, 14, 59, tzinfo=UTC), False),  # Sat 21.59 WIB
        (datetime(2026, 12, 4, 16, 0, tzinfo=UTC), False),  # Fri 23.00 WIB: not Saturday
    ],
)
def test_window_is_in_jakarta_time_and_runs_past_midnight(utc: datetime, expected: bool) -> None:
    assert inside([SATURDAY_NIGHT], utc, JAKARTA) is expected


def test_opening_names_the_next_window() -> None:
    friday = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)  # Fri 10.00 WIB
    assert opening([SATURDAY_NIGHT], friday, JAKARTA) == datetime(
        2026, 12, 5, 22, 0, tzinfo=JAKARTA
    )
    assert opening([], friday, JAKARTA) is None
    assert SATURDAY_NIGHT.label() == "Sabtu 22.00-04.00 WIB"


def test_the_repositorys_policy_has_windows_and_a_renewal_rule(policy: Policy) -> None:
    assert policy.maintenance_windows, "inventories/policy.yaml: change.maintenance_windows"
    assert policy.renewal_counts_from in ("old_end", "approval")
    assert Path(REPO / "docs" / "changes.md").exists()


def test_window_refusal_names_the_windows_and_the_next_one() -> None:
    friday = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)  # Fri 10.00 WIB
    assert window_refusal(False, "langsung", [SATURDAY_NIGHT], friday, JAKARTA) == ""
    text = window_refusal(True, "perlu mulai ulang VM", [SATURDAY_NIGHT], friday, JAKARTA)
    assert text.endswith("[outside-maintenance-window]")
    assert "Sabtu 22.00-04.00 WIB" in text and "2026-12-05 22.00 WIB" in text
    saturday = datetime(2026, 12, 5, 16, 0, tzinfo=UTC)  # Sat 23.00 WIB
    assert window_refusal(True, "x", [SATURDAY_NIGHT], saturday, JAKARTA) == ""
    assert "tidak ada" in window_refusal(True, "x", [], saturday, JAKARTA)
