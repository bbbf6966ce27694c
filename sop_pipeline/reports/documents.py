"""The SOP's documents, each built as a :class:`Document` from its model and the department.

Pure: the time of issue comes in the model; nothing reads a clock or a file. Wording follows
the SOP (555/129/Dikominfotik-2021) and the usual style of naskah dinas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sop_pipeline.domain.change import FieldChange
from sop_pipeline.domain.change_class import CLASS_LABELS, ChangeClass
from sop_pipeline.domain.request import Request
from sop_pipeline.domain.sla import StepTiming
from sop_pipeline.domain.sop import Role
from sop_pipeline.domain.sop import step as sop_step
from sop_pipeline.domain.state import PHASE_LABELS, Outcome, Phase
from sop_pipeline.reports import indonesian as ind
from sop_pipeline.reports.department import Department
from sop_pipeline.reports.document import (
    Block,
    Document,
    Fields,
    Heading,
    Image,
    Items,
    Letterhead,
    Paragraph,
    SignatureBlock,
    Signatures,
    Strong,
    Table,
)
from sop_pipeline.reports.glossary import plain, with_glossary
from sop_pipeline.reports.model import (
    ActivityEntry,
    ActivityReport,
    AnalysisReport,
    AnalysisResult,
    Check,
    Disposition,
    HandoverMinutes,
    HostingReport,
    Report,
    analysis_findings,
    feasible,
)
from sop_pipeline.reports.readiness import require_department_ready

SOP_NAME = "SOP Hosting Website/Aplikasi Nomor 555/129/Dikominfotik-2021"
GENERATOR = "sop-pipeline"

KIND_LABELS = {"website": "Website", "application": "Aplikasi"}
STACK_LABELS = {
    "static": "Situs statis (nginx)",
    "php": "PHP (PHP-FPM di belakang nginx)",
    "nodejs": "Node.js (di belakang nginx)",
    "python": "Python (di belakang nginx)",
}
ENVIRONMENT_LABELS = {"production": "Produksi", "staging": "Uji coba (staging)"}
CLASSIFICATION_LABELS = {
    "publik": "Publik",
    "internal": "Internal",
    "terbatas": "Terbatas",
    "rahasia": "Rahasia",
}
EXPOSURE_LABELS = {
    "public": "Publik (dapat diakses dari internet)",
    "internal": "Internal (hanya jaringan Pemerintah Provinsi)",
}
OUTCOME_LABELS = {
    Outcome.DONE: "selesai",
    Outcome.COMPLETE: "lengkap",
    Outcome.INCOMPLETE: "belum lengkap, dikembalikan ke OPD",
    Outcome.APPROVE: "disetujui",
    Outcome.REJECT: "ditolak",
    Outcome.RESUBMIT: "diajukan ulang",
}
#: The instruction each disposition carries (SOP steps 2 and 3).
DISPOSITION_TEXT = {
    2: "Untuk ditindaklanjuti sesuai SOP Hosting Website/Aplikasi.",
    3: (
        "Periksa kelengkapan dokumen; bila lengkap, catat di Helpdesk dan teruskan ke "
        "Tim Teknis untuk dianalisis."
    ),
}
DISPOSITION_TO = {2: Role.KABID, 3: Role.KOORDINATOR}


# ------------------------------------------------------------------------------ pieces


def label(table: dict[str, str], value: str) -> str:
    return table.get(value, value)


def letterhead(dept: Department) -> Letterhead:
    lh = dept.letterhead
    emblem = dept.emblem
    return Letterhead(
        (
            lh.government,
            lh.agency,
            f"{lh.address}, {lh.city} {lh.postal_code}, Telepon {lh.phone}",
            f"Laman: {lh.website}  Pos-el: {lh.email}",
        ),
        emblem=Image(emblem.media_type, emblem.data, f"Lambang {lh.government}")
        if emblem
        else None,
    )


def target_text(label_: str) -> str:
    """A step's target as the SOP writes it; "Tentatif" written out, never a bare word."""
    return TENTATIVE if label_ == "Tentatif" else label_


#: What the SOP's "Tentatif" (step 6, the technical analysis) means on paper.
TENTATIVE = "Tentatif (tidak ada batas waktu baku)"


def place_date(dept: Department, moment: datetime) -> str:
    return f"{dept.place}, {ind.long_date(moment.astimezone(dept.tz).date())}"


def number(dept: Department, report: Report) -> str:
    return dept.numbering.number(
        report.kind, report.sequence, report.issued.astimezone(dept.tz).date()
    )


def official_block(
    dept: Department, role: Role, lines: Iterable[str], *, electronic: str = ""
) -> SignatureBlock:
    person = dept.official(role)
    return SignatureBlock(
        lines=(*lines, f"{person.title},"),
        name=person.name,
        nip=ind.nip(person.nip),
        rank=person.rank,
        electronic=electronic,
    )


def electronic_note(dept: Department, signer: str, at: datetime, key: str = "") -> str:
    """What the electronic signature is, and is not, beside the space for a wet one."""
    fingerprint = f", sidik jari kunci {key}" if key else ""
    return (
        f"Ditandatangani secara elektronik dengan kunci SSH (SSHSIG) oleh {signer} pada "
        f"{ind.short_date_time(at, dept.tz)} {ind.zone_label(dept.tz)}{fingerprint}. "
        "Siapa pun dapat memeriksanya dengan ssh-keygen -Y verify terhadap daftar kunci dinas "
        "(approvers/). Ini bukan tanda tangan elektronik tersertifikasi (bukan dari PSrE); "
        "ruang di atas untuk tanda tangan basah."
    )


def footer(dept: Department, title: str, doc_number: str, request: Request | None) -> str:
    about = (
        f"permintaan {request.request_id} (sha256 {request.digest[:12]})" if request else SOP_NAME
    )
    return (
        f"{dept.letterhead.short_name} · {title} Nomor {doc_number} · {about} · "
        f"dibuat oleh {GENERATOR}"
    )


def subject_line(r: Request) -> str:
    """Perihal: ``Permohonan hosting Aplikasi SIMPUS``."""
    return f"Permohonan hosting {label(KIND_LABELS, r.application.kind)} {r.application.name}"


def letter_phrase(r: Request) -> str:
    return (
        f"surat {r.opd.name} Nomor {r.letter.number} tanggal {ind.long_date(r.letter.date)} "
        f"perihal permohonan hosting {label(KIND_LABELS, r.application.kind).lower()} "
        f"{r.application.name}"
    )


def request_fields(r: Request) -> Fields:
    return Fields(
        (
            ("OPD pemohon", f"{r.opd.name} ({r.opd.code})"),
            ("Penanggung jawab (PIC)", f"{r.pic.name}, NIP. {ind.nip(r.pic.nip)}"),
            ("Kontak PIC", f"{r.pic.email}, {r.pic.phone}"),
            ("Surat permintaan", f"Nomor {r.letter.number}, {ind.long_date(r.letter.date)}"),
            ("Nama aplikasi", f"{r.application.name} ({label(KIND_LABELS, r.application.kind)})"),
            ("Kegunaan", r.application.purpose),
            ("Nama domain diminta", r.fqdn),
            ("Stack", label(STACK_LABELS, r.application.stack)),
            (
                "Sumber daya",
                f"{r.resources.vcpu} vCPU, memori {r.resources.memory_mb} MiB, disk "
                f"{r.resources.disk_gb} GiB, "
                f"templat {r.resources.template}",
            ),
            ("Lingkungan", label(ENVIRONMENT_LABELS, r.environment)),
            (
                "Masa hosting",
                f"{ind.long_date(r.period.start)} s.d. {ind.long_date(r.period.end)}",
            ),
            ("Klasifikasi data", label(CLASSIFICATION_LABELS, r.data_classification)),
            ("Eksposur jaringan", label(EXPOSURE_LABELS, r.exposure)),
            ("ID permintaan", r.request_id),
        )
    )


def _document(
    dept: Department,
    report: Report,
    title: str,
    subtitle: str,
    blocks: Iterable[Block],
    request: Request | None,
) -> Document:
    doc_number = number(dept, report)
    return Document(
        letterhead=letterhead(dept),
        title=title,
        subtitle=subtitle,
        number=doc_number,
        blocks=tuple(blocks),
        footer=footer(dept, title.title(), doc_number, request),
        meta={
            "author": f"{dept.letterhead.agency}, {dept.letterhead.government}",
            "generator": GENERATOR,
            "description": f"{title.title()} Nomor {doc_number}",
        },
    )


# -------------------------------------------------------------------------- Disposisi


def disposition(dept: Department, d: Disposition) -> Document:
    r = d.request
    by_step = {e.step: e for e in d.entries}
    rows = []
    for step_number in (2, 3):
        entry = by_step.get(step_number)
        rows.append(
            (
                str(step_number),
                sop_step(step_number).actor.label,
                DISPOSITION_TO[step_number].label,
                DISPOSITION_TEXT[step_number],
                ind.short_date_time(entry.at, dept.tz) if entry else "belum",
            )
        )
    blocks: list[Block] = [
        Fields(
            (
                ("Surat dari", r.opd.name),
                ("Nomor surat", r.letter.number),
                ("Tanggal surat", ind.long_date(r.letter.date)),
                ("Perihal", subject_line(r)),
                (
                    "Diterima tanggal",
                    ind.date_time(d.received, dept.tz) if d.received else "-",
                ),
                ("ID permintaan", r.request_id),
                ("Sifat", "Biasa"),
            )
        ),
        Heading("Disposisi"),
        Table(
            ("Langkah", "Dari", "Kepada", "Isi disposisi", "Tanggal"),
            tuple(rows),
            widths=(11, 14, 16, 41, 18),
            note=f"Waktu dalam {ind.zone_label(dept.tz)}. Tanda tangan elektronik diperiksa "
            "terhadap keyring cabang utama; penanda tangan tertulis di bawah tiap tanda tangan.",
        ),
        Heading("Ringkasan Permintaan"),
        Fields(
            (
                (
                    "Nama aplikasi",
                    f"{r.application.name} ({label(KIND_LABELS, r.application.kind)})",
                ),
                ("Nama domain diminta", r.fqdn),
                ("Penanggung jawab (PIC)", r.pic.name),
                (
                    "Sumber daya",
                    f"{r.resources.vcpu} vCPU, memori {r.resources.memory_mb} MiB, disk "
                    f"{r.resources.disk_gb} GiB",
                ),
            )
        ),
    ]
    sig_rows = []
    for step_number, role in ((2, Role.KADIS), (3, Role.KABID)):
        entry = by_step.get(step_number)
        note = electronic_note(dept, entry.signer, entry.at, entry.key) if entry else ""
        sig_rows.append(official_block(dept, role, (), electronic=note))
    blocks.append(Signatures((tuple(sig_rows),), dated=place_date(dept, d.issued)))
    return _document(dept, d, "Lembar Disposisi", subject_line(r), blocks, r)


# --------------------------------------------------------------- Laporan Analisis Teknis


def analysis(dept: Department, a: AnalysisReport) -> Document:
    r, res = a.request, a.result
    findings = analysis_findings(r, res)
    ok = feasible(r, res)
    blocks: list[Block] = [
        Paragraph(
            (
                f"Menindaklanjuti disposisi atas {letter_phrase(r)}, Tim Teknis telah melakukan "
                f"analisis teknis pada {ind.date_time(res.analysed_at, dept.tz)} (langkah 6 "
                f"{SOP_NAME}) dengan hasil sebagai berikut.",
            )
        ),
        Heading("A. Data Permintaan"),
        request_fields(r),
        *change_blocks(a.changes, "diterapkan", "diminta"),
        Heading("B. Hasil Pemeriksaan"),
        Table(
            ("No", "Aspek", "Hasil", "Keterangan"),
            tuple(
                (str(i), f.label, "Memenuhi" if f.ok else "Tidak memenuhi", plain(f.detail))
                for i, f in enumerate(findings, 1)
            ),
            marked=frozenset(i for i, f in enumerate(findings) if not f.ok),
            widths=(5, 28, 17, 50),
        ),
        Heading("C. Kapasitas Node"),
        Table(
            ("Node", "Status", "vCPU bebas", "Memori bebas", "Disk bebas", "Cukup"),
            tuple(
                (
                    n.node,
                    "aktif" if n.online else "tidak aktif",
                    str(n.vcpu_free),
                    f"{n.memory_mb_free} MiB",
                    f"{n.disk_gb_free} GiB",
                    "ya" if n.fits(r) else "tidak",
                )
                for n in res.nodes
            ),
            widths=(20, 14, 14, 18, 18, 16),
            note=f"Diminta: {r.resources.vcpu} vCPU, {r.resources.memory_mb} MiB memori, "
            f"{r.resources.disk_gb} GiB disk."
            + (f" Node yang direncanakan: {res.chosen_node}." if res.chosen_node else ""),
        ),
        Heading(f"D. Kuota OPD {r.opd.code}"),
        _quota_table(a),
        Heading("E. Ringkasan Rencana Terraform"),
        Items(
            tuple(plain(line) for line in res.plan_summary or ("(tidak ada ringkasan rencana)",))
            + change_class_lines(res),
            ordered=False,
        ),
        Heading("F. Kesimpulan"),
        _analysis_conclusion(a, ok, [f.label for f in findings if not f.ok]),
        Signatures(
            (
                (
                    official_block(dept, Role.KOORDINATOR, ("Mengetahui,",)),
                    official_block(dept, Role.TIM_TEKNIS, (place_date(dept, a.issued),)),
                ),
            )
        ),
    ]
    return _document(
        dept,
        a,
        "Laporan Analisis Teknis",
        f"Permintaan Hosting {label(KIND_LABELS, r.application.kind)} {r.application.name}",
        blocks,
        r,
    )


def _quota_table(a: AnalysisReport) -> Table:
    q, r = a.result.quota, a.request
    left = q.left()
    rows = (
        ("Jumlah VM", q.limit.max_vms, q.used.vms, left.vms, 1),
        ("vCPU", q.limit.vcpu, q.used.vcpu, left.vcpu, r.resources.vcpu),
        (
            "Memori (MiB)",
            q.limit.memory_mb,
            q.used.memory_mb,
            left.memory_mb,
            r.resources.memory_mb,
        ),
        ("Disk (GiB)", q.limit.disk_gb, q.used.disk_gb, left.disk_gb, r.resources.disk_gb),
    )
    return Table(
        ("Sumber daya", "Kuota", "Terpakai", "Sisa", "Diminta"),
        tuple((name, *(str(v) for v in values)) for name, *values in rows),
        marked=frozenset(i for i, row in enumerate(rows) if row[3] < row[4]),
        widths=(28, 18, 18, 18, 18),
    )


def _analysis_conclusion(a: AnalysisReport, ok: bool, failed: list[str]) -> Paragraph:
    r, res = a.request, a.result
    if ok:
        where = f" pada node {res.chosen_node}" if res.chosen_node else ""
        return Paragraph(
            (
                "Berdasarkan hasil analisis di atas, permintaan hosting ini ",
                Strong("DAPAT DILAKSANAKAN"),
                f"{where} dengan alamat IP {res.ip_address} dan nama domain {r.fqdn}. "
                "Laporan ini disampaikan kepada Koordinator untuk diteruskan kepada Kabid "
                "Aptika guna diputuskan (langkah 7).",
            )
        )
    return Paragraph(
        (
            "Berdasarkan hasil analisis di atas, permintaan hosting ini ",
            Strong("BELUM DAPAT DILAKSANAKAN"),
            f" karena aspek berikut tidak memenuhi: {', '.join(failed)}. Laporan ini "
            "disampaikan kepada Koordinator untuk diteruskan kepada Kabid Aptika (langkah 7).",
        )
    )


# ------------------------------------------------------------------ Laporan Hasil Hosting


def _check_rows(checks: Iterable[Check]) -> tuple[tuple[str, ...], ...]:
    return tuple(
        (str(i), c.name, "Berhasil" if c.ok else "Gagal", c.detail) for i, c in enumerate(checks, 1)
    )


OVERRIDE_LABEL = "Pengecualian (analisis BELUM DAPAT DILAKSANAKAN)"


#: How a request field reads in a change table (dotted path -> Indonesian label).
FIELD_LABELS = {
    "resources.vcpu": "vCPU",
    "resources.memory_mb": "Memori (MiB)",
    "resources.disk_gb": "Disk (GiB)",
    "resources.template": "Templat sistem operasi",
    "application.stack": "Stack",
    "application.name": "Nama aplikasi",
    "hostname": "Nama (label DNS)",
    "environment": "Lingkungan",
    "period.start": "Awal masa hosting",
    "period.end": "Akhir masa hosting",
    "exposure": "Akses jaringan",
    "data_classification": "Klasifikasi data",
    "letter.number": "Nomor surat",
    "letter.date": "Tanggal surat",
}


def change_class_lines(res: AnalysisResult) -> tuple[str, ...]:
    """The class of a change's plan, for the analysis (and what the Kabid must name)."""
    if not res.change_class:
        return ()
    label = CLASS_LABELS.get(ChangeClass(res.change_class), res.change_class)
    lines = [f"Kelas perubahan: {res.change_class} ({label})."]
    if res.change_class in ("reboot", "replace"):
        lines.append(
            "Keputusan Kabid (langkah 7) wajib menyebut kelas ini (--change-class "
            f"{res.change_class}); perubahan diterapkan hanya di dalam jendela pemeliharaan."
        )
    lines += [f"Atribut: {reason}" for reason in res.change_reasons]
    return tuple(lines)


def change_blocks(changes: Sequence[FieldChange], before: str, after: str) -> list[Block]:
    """A change's fields, before and after, as a table (nothing when there is no change)."""
    if not changes:
        return []
    return [
        Heading(f"Perubahan: {before.capitalize()} dan {after.capitalize()}"),
        Table(
            ("No", "Kolom", before.capitalize(), after.capitalize()),
            tuple(
                (
                    str(i),
                    FIELD_LABELS.get(c.field, c.field),
                    "-" if c.before is None else str(c.before),
                    "-" if c.after is None else str(c.after),
                )
                for i, c in enumerate(changes, 1)
            ),
            widths=(5, 35, 30, 30),
        ),
    ]


def override_paragraph(text: str) -> Paragraph:
    return Paragraph(
        (
            "Pengecualian: laporan analisis teknis (langkah 6) menyatakan BELUM DAPAT "
            "DILAKSANAKAN; Tim Teknis menyetujui langkah 6 dan Kepala Bidang menyetujui "
            f"langkah 7 dengan alasan pengecualian berikut: {text}",
        )
    )


def hosting(dept: Department, report: HostingReport) -> Document:
    r, res = report.request, report.result
    failed = [c.name for c in res.checks if not c.ok]
    elapsed = res.finished - res.started
    blocks: list[Block] = [
        Paragraph(
            (
                "Bersama ini dilaporkan bahwa hosting "
                f"{label(KIND_LABELS, r.application.kind).lower()} "
                f"{r.application.name} milik {r.opd.name}, sesuai {letter_phrase(r)}, telah "
                f"dilaksanakan oleh Tim Teknis (langkah 8) pada "
                f"{ind.date_time(res.finished, dept.tz)}, dengan rincian sebagai berikut.",
            )
        ),
        *([override_paragraph(report.override)] if report.override else []),
        *change_blocks(report.changes, "sebelum", "sesudah"),
        Heading("A. Server dan Alamat"),
        Fields(
            (
                ("Mesin virtual (VMID)", str(res.vmid)),
                ("Node Proxmox", res.node),
                ("Alamat IP", res.ip_address),
                ("Nama domain", res.fqdn),
                ("Alamat situs", res.url or f"http://{res.fqdn}/"),
                ("Stack", label(STACK_LABELS, res.stack)),
                (
                    "Sumber daya",
                    f"{r.resources.vcpu} vCPU, memori {r.resources.memory_mb} MiB, disk "
                    f"{r.resources.disk_gb} GiB, "
                    f"templat {r.resources.template}",
                ),
                ("Lingkungan", label(ENVIRONMENT_LABELS, r.environment)),
                ("Eksposur jaringan", label(EXPOSURE_LABELS, r.exposure)),
            )
        ),
        Heading("B. Pemeriksaan yang Dilakukan"),
        Table(
            ("No", "Pemeriksaan", "Hasil", "Keterangan"),
            _check_rows(res.checks),
            marked=frozenset(i for i, c in enumerate(res.checks) if not c.ok),
            widths=(5, 30, 12, 53),
        ),
        Heading("C. Waktu Pelaksanaan"),
        Fields(
            (
                ("Mulai", ind.date_time(res.started, dept.tz)),
                ("Selesai", ind.date_time(res.finished, dept.tz)),
                (
                    "Lama pelaksanaan",
                    f"{ind.duration(elapsed)} (target SOP langkah 8: "
                    f"{target_text(sop_step(8).target.label)} kerja)",
                ),
            )
        ),
        Heading("D. Data Permintaan"),
        request_fields(r),
        Heading("E. Kesimpulan"),
        Paragraph(
            (
                (
                    f"Layanan telah aktif dan menjawab melalui namanya {res.fqdn}. Laporan ini "
                    "dibuat oleh Helpdesk dan disampaikan kepada Koordinator (langkah 9) untuk "
                    "dilaporkan kepada Kabid Aptika."
                )
                if res.ok
                else (
                    f"Pemeriksaan berikut belum berhasil: {', '.join(failed) or 'tidak ada'}. "
                    "Layanan belum dapat diserahterimakan sampai seluruh pemeriksaan berhasil."
                ),
            )
        ),
        Signatures(
            (
                (
                    official_block(dept, Role.TIM_TEKNIS, ("Pelaksana,",)),
                    official_block(dept, Role.HELPDESK, (place_date(dept, report.issued),)),
                ),
                (official_block(dept, Role.KOORDINATOR, ("Mengetahui,",)),),
            ),
            centered_rows=frozenset({1}),
        ),
    ]
    title = "Laporan Hasil Perubahan Hosting" if r.kind == "ubah" else "Laporan Hasil Hosting"
    return _document(dept, report, title, f"{r.application.name} — {res.fqdn}", blocks, r)


# ------------------------------------------------------------- Berita Acara Serah Terima


#: Step 8's checks that are things handed over (steps/provisioning.py ``_handover``).
HANDED_OVER = frozenset({"Akun deploy SFTP", "Kredensial basis data diserahkan"})


def handover(dept: Department, m: HandoverMinutes) -> Document:
    r, res = m.request, m.result
    first = dept.official(Role.KABID)
    passed = sum(1 for c in res.checks if c.ok)
    agency = f"{dept.letterhead.agency} {dept.letterhead.government.removeprefix('Pemerintah ')}"
    day = m.issued.astimezone(dept.tz).date()
    blocks: list[Block] = [
        Paragraph(
            (
                f"Pada {ind.date_in_words(day)} ({day:%d-%m-%Y}), bertempat di {dept.place}, "
                "kami yang bertanda tangan di bawah ini:",
            )
        ),
        Fields(
            (
                ("1. Nama", first.name),
                ("    NIP", ind.nip(first.nip)),
                ("    Jabatan", first.title),
            )
        ),
        Paragraph(
            (
                f"dalam hal ini bertindak untuk dan atas nama {agency}, selanjutnya disebut ",
                Strong("PIHAK PERTAMA"),
                ".",
            )
        ),
        Fields(
            (
                ("2. Nama", r.pic.name),
                ("    NIP", ind.nip(r.pic.nip)),
                ("    Jabatan", f"Penanggung jawab (PIC) aplikasi {r.application.name}"),
            )
        ),
        Paragraph(
            (
                f"dalam hal ini bertindak untuk dan atas nama {r.opd.name}, selanjutnya disebut ",
                Strong("PIHAK KEDUA"),
                ".",
            )
        ),
        Paragraph(
            (
                "PIHAK PERTAMA menyerahkan kepada PIHAK KEDUA, dan PIHAK KEDUA menerima dari "
                f"PIHAK PERTAMA, layanan hosting berdasarkan {letter_phrase(r)}, dengan "
                "rincian sebagai berikut:",
            )
        ),
        Table(
            ("No", "Uraian", "Keterangan"),
            tuple(
                (str(i), k, v)
                for i, (k, v) in enumerate(
                    (
                        (
                            "Nama aplikasi",
                            f"{r.application.name} ({label(KIND_LABELS, r.application.kind)})",
                        ),
                        ("Nama domain", res.fqdn),
                        ("Alamat situs", res.url or f"http://{res.fqdn}/"),
                        ("Alamat IP", res.ip_address),
                        ("Mesin virtual", f"VMID {res.vmid} pada node {res.node}"),
                        ("Stack", label(STACK_LABELS, res.stack)),
                        (
                            "Sumber daya",
                            f"{r.resources.vcpu} vCPU, memori {r.resources.memory_mb} MiB, disk "
                            f"{r.resources.disk_gb} GiB",
                        ),
                        ("Lingkungan", label(ENVIRONMENT_LABELS, r.environment)),
                        (
                            "Masa hosting",
                            f"{ind.long_date(r.period.start)} s.d. {ind.long_date(r.period.end)}",
                        ),
                        ("Klasifikasi data", label(CLASSIFICATION_LABELS, r.data_classification)),
                        ("Hasil pemeriksaan", f"{passed} dari {len(res.checks)} berhasil"),
                        # what the OPD receives to operate it, by key fingerprint, never a secret
                        *((c.name, c.detail) for c in res.checks if c.name in HANDED_OVER),
                    ),
                    1,
                )
            ),
            widths=(6, 30, 64),
        ),
        *change_blocks(m.changes, "sebelum", "sesudah"),
        Paragraph(("Dengan ketentuan sebagai berikut:",)),
        Items(
            (
                f"PIHAK KEDUA bertanggung jawab atas isi, data dan pengelolaan aplikasi "
                f"{r.application.name}, termasuk keamanan akun dan kata sandi aplikasinya.",
                "PIHAK PERTAMA menyediakan dan memelihara server, jaringan dan nama domain "
                f"selama masa hosting, {ind.long_date(r.period.start)} sampai dengan "
                f"{ind.long_date(r.period.end)}.",
                "Perpanjangan, perubahan sumber daya atau penghentian layanan diajukan kembali "
                f"dengan surat permintaan sesuai {SOP_NAME}.",
            )
        ),
        Paragraph(
            (
                "Demikian Berita Acara Serah Terima ini dibuat dalam rangkap 2 (dua) untuk "
                "dipergunakan sebagaimana mestinya.",
            )
        ),
        Signatures(
            (
                (
                    SignatureBlock(
                        lines=("Yang menerima,", "PIHAK KEDUA", f"PIC {r.opd.name},"),
                        name=r.pic.name,
                        nip=ind.nip(r.pic.nip),
                    ),
                    official_block(dept, Role.KABID, ("Yang menyerahkan,", "PIHAK PERTAMA")),
                ),
                (official_block(dept, Role.KADIS, ("Mengetahui,",)),),
            ),
            centered_rows=frozenset({1}),
        ),
    ]
    return _document(
        dept,
        m,
        "Berita Acara Perubahan Layanan" if r.kind == "ubah" else "Berita Acara Serah Terima",
        f"Layanan Hosting {label(KIND_LABELS, r.application.kind)} {r.application.name}",
        blocks,
        r,
    )


# ---------------------------------------------------------------------- Laporan Kegiatan


def _verdict(t: StepTiming, dept: Department) -> str:
    outcome = OUTCOME_LABELS.get(t.outcome, "") if t.outcome else ""
    if t.running:
        state = "sedang berjalan"
    elif t.deadline is None:
        state = "target tentatif, tidak dinilai"
    else:
        state = "sesuai target"
    if t.breached and t.deadline is not None:
        state = f"LEWAT target (batas {ind.short_date_time(t.deadline, dept.tz)})"
    return "; ".join(x for x in (outcome, state) if x)


def _steps_table(e: ActivityEntry, dept: Department) -> Table:
    rows = tuple(
        (
            f"{t.step}" + (f" (ke-{t.attempt})" if t.attempt > 1 else ""),
            sop_step(t.step).actor.label,
            ind.short_date_time(t.started, dept.tz),
            ind.short_date_time(t.ended, dept.tz) if t.ended else "-",
            ind.duration(t.elapsed),
            target_text(t.target_label),
            _verdict(t, dept),
        )
        for t in e.timings
    )
    return Table(
        ("Langkah", "Pelaksana", "Mulai", "Selesai", "Waktu kerja", "Target", "Keterangan"),
        rows,
        marked=frozenset(i for i, t in enumerate(e.timings) if t.breached),
        widths=(11, 15, 14, 14, 12, 10, 24),
    )


def _entry_fields(e: ActivityEntry) -> Fields:
    rows = [
        ("Aplikasi", f"{e.application} ({e.opd_name})" if e.application else "-"),
        ("Status", PHASE_LABELS[e.phase] if e.timings else "belum diajukan"),
    ]
    if e.missing:
        rows.append(("Kekurangan", "; ".join(e.missing)))
    if e.reason:
        rows.append(("Alasan", e.reason))
    if e.override:
        rows.append((OVERRIDE_LABEL, e.override))
    if e.paused:
        rows.append(("Waktu di OPD (jam berhenti)", ind.duration(e.paused)))
    return Fields(tuple(rows))


def activity(dept: Department, report: ActivityReport) -> Document:
    entries = report.entries
    counts: tuple[tuple[str, int], ...] = (
        ("Permintaan yang diproses", len(entries)),
        ("Selesai (langkah 12)", sum(1 for e in entries if e.phase is Phase.CLOSED)),
        ("Masih berjalan", sum(1 for e in entries if e.phase is Phase.IN_PROGRESS)),
        ("Dikembalikan ke OPD", sum(1 for e in entries if e.phase is Phase.RETURNED)),
        ("Ditolak (langkah 7)", sum(1 for e in entries if e.phase is Phase.REJECTED)),
        ("Langkah yang melewati target waktu", len(report.breaches)),
    )
    if report.drift is not None:  # only when sop drift ran: older reports stay as recorded
        runs, drifted, failed, hostings = report.drift
        counts += (
            ("Pemeriksaan drift (sop drift)", runs),
            ("Pemeriksaan drift yang menemukan perbedaan", drifted),
            ("Pemeriksaan drift yang gagal (tanpa kesimpulan)", failed),
            ("Hosting yang mengalami drift", hostings),
        )
    if report.expiry is not None:
        counts += (
            (
                "Pemberitahuan masa hosting berakhir",
                sum(1 for _, _, t in report.expiry if t.startswith("pemberitahuan")),
            ),
            (
                "Pensiun lunak",
                sum(1 for _, _, t in report.expiry if t.startswith("pensiun lunak:")),
            ),
        )
    period = f"{ind.long_date(report.period_start)} s.d. {ind.long_date(report.period_end)}"
    blocks: list[Block] = [
        Paragraph(
            (
                f"Laporan ini mencatat setiap permintaan hosting yang diproses pada periode "
                f"{period} menurut {SOP_NAME}. Waktu kerja tiap langkah dihitung pada hari "
                f"dan jam kerja ({ind.zone_label(dept.tz)}) dan dibandingkan dengan target "
                "waktu SOP; waktu selama permintaan dikembalikan ke OPD tidak dihitung.",
            )
        ),
        Heading("A. Ringkasan"),
        Table(
            ("Uraian", "Jumlah"),
            tuple((k, str(v)) for k, v in counts),
            marked=frozenset({5}) if report.breaches else frozenset(),
            widths=(75, 25),
        ),
        Heading("B. Rincian per Permintaan"),
    ]
    if not entries:
        blocks.append(Paragraph(("Tidak ada permintaan pada periode ini.",)))
    for i, e in enumerate(entries, 1):
        blocks += [Heading(f"B.{i} {e.request_id}"), _entry_fields(e), _steps_table(e, dept)]
    blocks.append(Heading("C. Daftar Langkah yang Melewati Target Waktu"))
    if report.breaches:
        blocks.append(
            Table(
                ("No", "Permintaan", "Langkah", "Pelaksana", "Target", "Batas", "Waktu kerja"),
                tuple(
                    (
                        str(i),
                        e.request_id,
                        f"{t.step}. {sop_step(t.step).activity}",
                        sop_step(t.step).actor.label,
                        target_text(t.target_label),
                        ind.short_date_time(t.deadline, dept.tz) if t.deadline else "-",
                        ind.duration(t.elapsed) + (" (berjalan)" if t.running else ""),
                    )
                    for i, (e, t) in enumerate(report.breaches, 1)
                ),
                widths=(5, 17, 30, 14, 9, 13, 12),
                note=f"Waktu dalam {ind.zone_label(dept.tz)}.",
            )
        )
    else:
        blocks.append(
            Paragraph(("Tidak ada langkah yang melewati target waktu SOP pada periode ini.",))
        )
    if report.backups is not None:
        blocks += _backups_section(dept, report)
    if report.expiry is not None:  # only when sop expiry acted: older reports stay as recorded
        blocks.append(
            Heading(
                f"{'E' if report.backups is not None else 'D'}. Masa Hosting Berakhir (sop expiry)"
            )
        )
        blocks.append(
            Table(
                ("No", "Waktu", "Permintaan", "Keterangan"),
                tuple(
                    (str(i), ind.short_date_time(at, dept.tz), rid, text)
                    for i, (at, rid, text) in enumerate(report.expiry, 1)
                ),
                widths=(5, 15, 22, 58),
                note=f"Waktu dalam {ind.zone_label(dept.tz)}.",
            )
        )
    blocks.append(
        Signatures(
            (
                (
                    official_block(dept, Role.KABID, ("Mengetahui,",)),
                    official_block(dept, Role.KOORDINATOR, (place_date(dept, report.issued),)),
                ),
            )
        )
    )
    return _document(
        dept,
        report,
        "Laporan Kegiatan",
        f"Layanan Hosting Website/Aplikasi, Periode {period}",
        blocks,
        None,
    )


def _backups_section(dept: Department, report: ActivityReport) -> list[Block]:
    """D: each hosting's last good backup against its policy (a job alone is no backup)."""
    statuses = report.backups or ()
    blocks: list[Block] = [Heading("D. Cadangan (Backup) per Hosting")]
    if not statuses:
        blocks.append(Paragraph(("Tidak ada hosting yang berjalan di Proxmox.",)))
        return blocks
    rows = tuple(
        (
            str(i),
            s.hosting.request_id,
            str(s.hosting.vmid),
            ind.short_date_time(s.last.ctime, dept.tz) if s.last is not None else "-",
            f"{s.retention.max_age_hours} jam",
            ("MELANGGAR: " if s.breach else "baik: ") + s.reason,
        )
        for i, s in enumerate(statuses, 1)
    )
    blocks.append(
        Table(
            ("No", "Permintaan", "VM", "Cadangan terakhir", "Batas umur", "Keadaan"),
            rows,
            marked=frozenset(i for i, s in enumerate(statuses) if s.breach),
            widths=(5, 18, 7, 16, 10, 44),
            note=f"Keadaan cadangan saat laporan ini dibuat; waktu dalam "
            f"{ind.zone_label(dept.tz)}; batas umur menurut klasifikasi data "
            "(inventories/backups.yaml). Job cadangan saja tidak dihitung sebagai cadangan.",
        )
    )
    return blocks


# -------------------------------------------------------------------------- dispatch


def build(dept: Department, report: Report) -> Document:
    """The document for any report model, with its glossary. NotReadyForDocuments (a
    ConfigError naming each field) while department.yaml still holds a placeholder."""
    require_department_ready(dept)
    return with_glossary(_build(dept, report))


def _build(dept: Department, report: Report) -> Document:
    if isinstance(report, Disposition):
        return disposition(dept, report)
    if isinstance(report, AnalysisReport):
        return analysis(dept, report)
    if isinstance(report, HostingReport):
        return hosting(dept, report)
    if isinstance(report, HandoverMinutes):
        return handover(dept, report)
    return activity(dept, report)
