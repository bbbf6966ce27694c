"""Whether inventories/ can back an official document: calendar years and placeholders."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import date, time
from pathlib import Path

import pytest
import report_samples as samples

from sop_pipeline.domain.calendar import WorkingCalendar
from sop_pipeline.errors import ConfigError
from sop_pipeline.reports.department import load_department
from sop_pipeline.reports.documents import build
from sop_pipeline.reports.readiness import (
    NotReadyForDocuments,
    calendar_problems,
    department_problems,
    require_ready,
)
from sop_pipeline.reports.writer import render
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


def _with_placeholders(tmp_path: Path) -> Path:
    """The shipped department.yaml with the old placeholders put back, emblem beside it."""
    text = (REPO / "inventories" / "department.yaml").read_text()
    text = text.replace('name: "Drs. Hendra Saputra, M.Si."', 'name: "[Nama Kepala Dinas]"')
    text = text.replace('nip: "197005121995031002"', 'nip: "[NIP Kepala Dinas]"')
    text = text.replace("address: Jl. Jenderal Sudirman No. 51", "address: Jl. ............ No. ..")
    (tmp_path / "department.yaml").write_text(text)
    shutil.copy(REPO / "inventories" / "lambang-contoh.png", tmp_path)
    return tmp_path


def test_the_shipped_examples_are_no_placeholders() -> None:
    assert department_problems(load_department(REPO / "inventories")) == []


def test_placeholders_are_named_by_field_and_value(tmp_path: Path) -> None:
    final = load_department(_with_placeholders(tmp_path))
    problems = department_problems(final)
    assert all(p.endswith("[department-placeholder]") for p in problems)
    fields = {p.split(": ")[1] for p in problems}
    assert fields == {"letterhead.address", "officials.kadis.name", "officials.kadis.nip"}
    assert (
        "inventories/department.yaml: officials.kadis.name: masih berisi isian contoh "
        "('[Nama Kepala Dinas]'); tulis data dinas yang sebenarnya sebelum dokumen resmi "
        "dibuat [department-placeholder]"
    ) in problems
    with pytest.raises(NotReadyForDocuments) as caught:
        require_ready(WorkingCalendar(final.tz, {0: (time(7), time(16))}), final, [2026])
    assert isinstance(caught.value, ConfigError)  # exit 3: configuration
    assert "[calendar-year-missing]" in str(caught.value)
    assert "[department-placeholder]" in str(caught.value)


def test_a_placeholder_stops_the_build_of_every_document(tmp_path: Path) -> None:
    final = load_department(_with_placeholders(tmp_path))
    for report in samples.all_reports().values():
        with pytest.raises(NotReadyForDocuments, match=r"officials\.kadis\.name"):
            render(report, final, "md")  # type: ignore[arg-type]
    with pytest.raises(NotReadyForDocuments, match=r"Dokumen tidak dibuat"):
        build(final, samples.disposition())


def test_draft_no_longer_lets_placeholders_through(tmp_path: Path) -> None:
    folder = _with_placeholders(tmp_path)
    path = folder / "department.yaml"
    path.write_text(
        path.read_text().replace("schema_version: 1\n", "schema_version: 1\ndraft: true\n")
    )
    with pytest.raises(ConfigError, match=r"draft: tidak berlaku lagi.*\[draft-removed\]"):
        load_department(folder)
