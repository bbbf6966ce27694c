"""inventories/department.yaml: the letterhead, officials and numbering, read strictly."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from report_samples import REPO

from sop_pipeline.domain.sop import Role
from sop_pipeline.errors import ConfigError
from sop_pipeline.reports.department import load_department

GOOD = (REPO / "inventories" / "department.yaml").read_text()


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "department.yaml").write_text(text)
    shutil.copy(REPO / "inventories" / "lambang-contoh.png", tmp_path)
    return tmp_path


def test_the_repository_file_loads() -> None:
    dept = load_department(REPO / "inventories")
    assert dept.letterhead.government == "Pemerintah Provinsi Sumatera Barat"
    assert dept.letterhead.agency == "Dinas Komunikasi, Informatika dan Statistik"
    assert dept.letterhead.city == "Padang"
    assert dept.place == "Padang"
    assert set(dept.officials) == set(Role) - {Role.OPD}
    assert dept.official(Role.KABID).title == "Kepala Bidang Aplikasi Informatika"


def test_document_numbers_follow_the_pattern() -> None:
    numbering = load_department(REPO / "inventories").numbering
    assert numbering.number("hasil_hosting", 12, date(2026, 11, 30)) == (
        "555.3/012/Aptika-Diskominfotik/XI/2026"
    )
    assert numbering.number("kegiatan", 1234, date(2027, 1, 4)) == (
        "555.5/1234/Aptika-Diskominfotik/I/2027"
    )
    with pytest.raises(ConfigError, match="surat_lain"):
        numbering.number("surat_lain", 1, date(2026, 1, 1))


def test_a_pattern_may_use_only_known_fields(tmp_path: Path) -> None:
    bad = GOOD.replace('"{kode}/{urut}/{unit}/{bulan}/{tahun}"', '"{kode}/{urut}/{x.__class__}"')
    with pytest.raises(ConfigError, match=r"numbering\.pattern: kolom tidak dikenal x\.__class__"):
        load_department(_write(tmp_path, bad))


def test_a_pattern_needs_the_sequence(tmp_path: Path) -> None:
    bad = GOOD.replace('"{kode}/{urut}/{unit}/{bulan}/{tahun}"', '"{kode}/{unit}/{tahun}"')
    with pytest.raises(ConfigError, match=r"wajib memuat \{urut\}"):
        load_department(_write(tmp_path, bad))


def test_every_official_is_required(tmp_path: Path) -> None:
    start = GOOD.index("  helpdesk:")
    end = GOOD.index("  tim_teknis:")
    with pytest.raises(ConfigError, match=r"officials\.helpdesk: wajib diisi"):
        load_department(_write(tmp_path, GOOD[:start] + GOOD[end:]))


def test_the_strict_loader_refuses_yaml_tricks(tmp_path: Path) -> None:
    bad = GOOD.replace('postal_code: "25000"', "postal_code: 25000\n  postal_code: 25001")
    with pytest.raises(ConfigError, match=r"department\.yaml"):
        load_department(_write(tmp_path, bad))


def test_a_number_where_text_is_expected_is_refused(tmp_path: Path) -> None:
    bad = GOOD.replace('postal_code: "25000"', "postal_code: 25000")
    with pytest.raises(ConfigError, match=r"letterhead\.postal_code: harus teks"):
        load_department(_write(tmp_path, bad))


def test_an_unknown_timezone_is_refused(tmp_path: Path) -> None:
    bad = GOOD.replace("timezone: Asia/Jakarta", "timezone: Asia/Bukittinggi")
    with pytest.raises(ConfigError, match="timezone"):
        load_department(_write(tmp_path, bad))


def test_the_emblem_must_be_there_and_inside_inventories(tmp_path: Path) -> None:
    folder = _write(tmp_path, GOOD)
    assert load_department(folder).emblem is not None
    (folder / "lambang-contoh.png").unlink()
    with pytest.raises(
        ConfigError,
        match=r"department\.yaml: letterhead\.emblem: berkas lambang .*\[emblem-missing\]",
    ):
        load_department(folder)
    with pytest.raises(ConfigError, match=r"letterhead\.emblem: .*\[emblem-path\]"):
        load_department(
            _write(tmp_path, GOOD.replace("emblem: lambang-contoh.png", "emblem: ../x.png"))
        )
    with pytest.raises(ConfigError, match=r"letterhead\.emblem: .*\[emblem-type\]"):
        load_department(
            _write(tmp_path, GOOD.replace("emblem: lambang-contoh.png", "emblem: x.gif"))
        )
    with pytest.raises(ConfigError, match=r"letterhead\.emblem: wajib diisi \[required\]"):
        load_department(_write(tmp_path, GOOD.replace("  emblem: lambang-contoh.png\n", "")))
