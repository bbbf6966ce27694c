"""The SOP itself: six roles, twelve steps, their actors and target times.

Source: SOP 555/129/Dikominfotik-2021 "Hosting Website / Aplikasi" (shared/sop). The Indonesian
wording follows the original; the English is our reading of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The six roles (Pelaksana) of the SOP."""

    OPD = "opd"
    KADIS = "kadis"
    KABID = "kabid"
    KOORDINATOR = "koordinator"
    HELPDESK = "helpdesk"
    TIM_TEKNIS = "tim_teknis"

    @property
    def label(self) -> str:
        """The role as the SOP names it."""
        return _ROLE_TITLES[self]


_ROLE_TITLES = {
    Role.OPD: "PIC/OPD",
    Role.KADIS: "Kepala Dinas",
    Role.KABID: "Kabid Aptika",
    Role.KOORDINATOR: "Koordinator Helpdesk",
    Role.HELPDESK: "Helpdesk",
    Role.TIM_TEKNIS: "Tim Teknis",
}


@dataclass(frozen=True)
class Target:
    """A step's target time (Waktu): minutes of working time, working days, or tentative."""

    minutes: int | None = None
    working_days: int | None = None

    @property
    def tentative(self) -> bool:
        return self.minutes is None and self.working_days is None

    @property
    def label(self) -> str:
        """As the SOP writes it: "3 menit", "1 hari", "Tentatif"."""
        if self.minutes is not None:
            return f"{self.minutes} menit"
        if self.working_days is not None:
            return f"{self.working_days} hari"
        return "Tentatif"


@dataclass(frozen=True)
class Step:
    """One row of the SOP table."""

    number: int
    actor: Role
    activity: str  # Kegiatan, in Indonesian as the SOP words it
    activity_en: str
    requirement: str  # Persyaratan/Kelengkapan
    target: Target
    output: str
    signed: bool  # an official signs a statement for this step (issue: signed approvals)
    gate: bool = False  # a YES/NO branch of the SOP

    @property
    def title(self) -> str:
        return f"Langkah {self.number}: {self.activity}"


STEPS: tuple[Step, ...] = (
    Step(
        1,
        Role.OPD,
        "OPD mengajukan surat permintaan hosting",
        "the OPD submits the hosting request letter",
        "Surat Permintaan",
        Target(minutes=3),
        "Laporan Surat Permintaan",
        signed=False,
    ),
    Step(
        2,
        Role.KADIS,
        "Kadis mendisposisikan surat permintaan kepada Kabid",
        "the Kadis disposes the letter to the Kabid",
        "Surat Permintaan",
        Target(minutes=3),
        "Disposisi",
        signed=True,
    ),
    Step(
        3,
        Role.KABID,
        "Kabid mendisposisikan surat permintaan kepada Koordinator",
        "the Kabid disposes the letter to the Koordinator",
        "Lembaran disposisi",
        Target(minutes=3),
        "Disposisi",
        signed=True,
    ),
    Step(
        4,
        Role.KOORDINATOR,
        "Koordinator memverifikasi kelengkapan dokumen permintaan",
        "the Koordinator verifies that the request is complete",
        "Surat Permintaan",
        Target(minutes=3),
        "Disposisi",
        signed=True,
        gate=True,
    ),
    Step(
        5,
        Role.KOORDINATOR,
        "Permintaan dicatat Helpdesk dan diteruskan ke Tim Teknis",
        "Helpdesk records the request; Tim Teknis is told to analyse it",
        "Surat Permintaan",
        Target(minutes=3),
        "Disposisi",
        signed=False,
    ),
    Step(
        6,
        Role.TIM_TEKNIS,
        "Tim Teknis melakukan analisis teknis permintaan",
        "Tim Teknis analyses the request and reports to the Koordinator and Kabid",
        "Surat Permintaan",
        Target(),
        "Laporan Analisis Teknis",
        signed=True,
    ),
    Step(
        7,
        Role.KABID,
        "Kabid memutuskan apakah hosting dapat dilakukan",
        "the Kabid decides whether the hosting can be done",
        "Laporan Analisis Teknis",
        Target(minutes=30),
        "Laporan Keputusan",
        signed=True,
        gate=True,
    ),
    Step(
        8,
        Role.TIM_TEKNIS,
        "Tim Teknis melakukan hosting (VM, domain, server)",
        "Tim Teknis does the hosting (VM, domain, server)",
        "Toolkit",
        Target(working_days=1),
        "Laporan Hasil Hosting",
        signed=False,
    ),
    Step(
        9,
        Role.HELPDESK,
        "Helpdesk membuat laporan hosting untuk Koordinator",
        "Helpdesk writes the hosting report for the Koordinator",
        "Laporan Hasil Hosting",
        Target(working_days=1),
        "Laporan",
        signed=False,
    ),
    Step(
        10,
        Role.KOORDINATOR,
        "Koordinator melaporkan hasil hosting kepada Kabid",
        "the Koordinator reports the result to the Kabid",
        "Laporan",
        Target(minutes=5),
        "Laporan",
        signed=True,
    ),
    Step(
        11,
        Role.KABID,
        "Kabid menyampaikan laporan hasil hosting kepada Kadis",
        "the Kabid passes the report to the Kadis",
        "Laporan",
        Target(minutes=5),
        "Laporan",
        signed=True,
    ),
    Step(
        12,
        Role.KADIS,
        "Kadis menerima hasil hosting",
        "the Kadis receives the result; the request is closed",
        "Laporan",
        Target(minutes=5),
        "Laporan",
        signed=True,
    ),
)

FIRST_STEP = 1
LAST_STEP = 12
VERIFICATION_STEP = 4  # gate 1: completeness, by the Koordinator
ANALYSIS_STEP = 6  # Tim Teknis' analysis: its NO is a refusal the ledger keeps
DECISION_STEP = 7  # gate 2: yes/no, by the Kabid
PROVISION_STEP = 8
REPORT_STEP = 9  # the Helpdesk's Laporan Hasil Hosting, from step 8's record


def step(number: int) -> Step:
    """The SOP step with this number; ValueError for a number the SOP does not have."""
    if not FIRST_STEP <= number <= LAST_STEP:
        raise ValueError(f"SOP has steps {FIRST_STEP}..{LAST_STEP}, not {number}")
    return STEPS[number - 1]
