"""Whether inventories/ can back an official document: calendar years and placeholders."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from pathlib import Path

import pytest

from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.errors import ConfigError
from sop_pipeline.reports.department import load_department
from sop_pipeline.reports.readiness import (
    NotReadyForDocuments,
    calendar_problems,
    department_problems,
    require_ready,
)
from tests.conftest import REPO


def test_each_needed_year_must_be_filled_in(calendar: WorkingCalendar) -> None:
    assert calendar_problems(calendar, [2026]) == []
    sparse, missing = calendar_problems(calendar, [2028, 2027, 2027])
    assert sparse.endswith("[calendar-year-sparse]") and "tahun 2027 hanya memuat 1" in sparse
    assert missing.endswith("[calendar-year-missing]") and "tahun 2028 belum diisi" in missing
    nine = replace(calendar, holidays=frozenset(date(2029, 1, d) for d in range(1, 10)))
    assert [p[-22:] for p in calendar_problems(nine, [2029])] == ["[calendar-year-sparse]"]
    ten = replace(calendar, holidays=frozenset(date(2029, 1, d) for d in range(1, 11)))
    assert calendar_problems(ten, [2029]) == []


def test_placeholders_count_only_without_the_draft_marker(tmp_path: Path) -> None:
    shipped = load_department(REPO / "inventories")
    assert shipped.draft and department_problems(shipped) == []
    final = replace(shipped, draft=False)
    problems = department_problems(final)
    assert all(p.endswith("[department-placeholder]") for p in problems)
    fields = {p.split(": ")[1] for p in problems}
    assert {"letterhead.address", "officials.kadis.name", "officials.kadis.nip"} <= fields
    assert "officials.kadis.title" not in fields  # a real title is no placeholder
    with pytest.raises(NotReadyForDocuments) as caught:
        require_ready(WorkingCalendar(shipped.tz, {0: (time(7), time(16))}), final, [2026])
    assert isinstance(caught.value, ConfigError)  # exit 3: configuration
    assert "[calendar-year-missing]" in str(caught.value)
    assert "[department-placeholder]" in str(caught.value)


def test_draft_must_be_a_boolean(tmp_path: Path) -> None:
    text = (REPO / "inventories" / "department.yaml").read_text()
    (tmp_path / "department.yaml").write_text(text.replace("draft: true", 'draft: "ya"'))
    with pytest.raises(ConfigError, match=r"draft: harus true atau false \[type\]"):
        load_department(tmp_path)
