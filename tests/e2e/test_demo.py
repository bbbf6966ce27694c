"""`make demo` as a test: the scenario runs with real keys and says what it must."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e


def test_demo_walks_the_sop_and_catches_the_tampered_record() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sop_pipeline.demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "3 berkas diperiksa, 3 sah, 0 ditolak." in out
    simpus = out.split("== 2.")[1].split("== 3.")[0]
    assert "Gerbang langkah 8: TERPENUHI" in simpus
    assert [f"langkah {n} dicatat" in simpus for n in range(1, 8)] == [True] * 7
    returned = out.split("== 3.")[1].split("== 4.")[0]
    assert "dikembalikan ke OPD" in returned and "masa hosting" in returned
    assert "langkah 4 dicatat (resubmit" in returned
    assert "11:22 koordinator menandatangani langkah 4: 'complete'" in returned
    assert "langkah 5 dicatat, nomor tiket HOST-2026-0002" in returned
    assert "step-04-koordinator.json: langkah 4 (koordinator) 'incomplete'" in returned
    assert "DIGANTIKAN (superseded" in returned and "TIDAK SAH" not in returned
    assert "(kode keluar" not in returned.split("$ sop verify")[1]
    rejected = out.split("== 4.")[1].split("== 5.")[0]
    assert "Gerbang langkah 8: TIDAK TERPENUHI" in rejected and "[rejected]" in rejected
    assert out.count(": SAH (valid)") == 5 + 3  # dinkes-simpus, then disdik after its fix
    assert " 7 Kabid Aptika          2026-11-30 10:20        45 mnt  30 menit  LEWAT" in out
    audits = out.split("== 6.")[1]
    assert "4 buku catatan diperiksa: UTUH." in audits
    assert "dinkes-simpus.jsonl:3: catatan #3 diubah" in audits
    assert "folder demo dihapus" in out
