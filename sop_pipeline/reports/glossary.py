"""Plain Indonesian for the technical words a printed document cannot avoid.

An official reads "VMID", "DNS" or "Terraform" in a Laporan Hasil Hosting; the document
ends with "Keterangan Istilah", one line for each such word it uses, and nothing for the
words it does not use. The few English lines the tools write (Terraform's plan summary)
are put into Indonesian. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sop_pipeline.reports.document import (
    Block,
    Document,
    Fields,
    Heading,
    Items,
    Paragraph,
    Signatures,
    Strong,
    Table,
)

HEADING = "Keterangan Istilah"

#: Term -> what it means, in words an official uses. Matched as a whole word, case-sensitive.
GLOSSARY: dict[str, str] = {
    "vCPU": "prosesor virtual, satuan daya olah yang diberikan kepada server",
    "MiB": "mebibita, satuan ukuran memori (1 GiB = 1.024 MiB)",
    "GiB": "gibibita, satuan ukuran memori dan disk (sekitar 1,07 miliar bita)",
    "VM": "mesin virtual: server yang berjalan di dalam server fisik milik dinas",
    "VMID": "nomor mesin virtual di Proxmox",
    "Proxmox": "perangkat lunak virtualisasi tempat mesin virtual dinas berjalan",
    "node": "satu server fisik di dalam klaster Proxmox",
    "DNS": "sistem nama domain, yang menerjemahkan nama situs menjadi alamat IP",
    "PTR": "rekaman DNS balik, dari alamat IP ke nama",
    "IP": "alamat jaringan sebuah server",
    "HTTP": "cara peramban (browser) membuka sebuah situs",
    "SSH": "jalur masuk jarak jauh yang aman ke server, khusus untuk teknisi",
    "Firewall": "penyaring lalu lintas jaringan yang hanya membuka layanan yang perlu",
    "Terraform": "alat yang membuat mesin virtual persis sesuai rencana tertulis",
    "nginx": "server web yang melayani situs dan meneruskan permintaan ke aplikasi",
    "PHP-FPM": "program yang menjalankan aplikasi berbahasa PHP",
    "Node.js": "program yang menjalankan aplikasi berbahasa JavaScript di server",
    "Stack": "susunan perangkat lunak yang menjalankan aplikasi",
    "templat": "salinan sistem operasi siap pakai yang menjadi dasar mesin virtual baru",
    "pool": "rentang alamat IP yang disediakan untuk satu lingkungan",
    "staging": "lingkungan uji coba, terpisah dari layanan yang dipakai masyarakat",
    "SSHSIG": "format tanda tangan elektronik dengan kunci SSH, diperiksa dengan ssh-keygen",
    "sha256": "sidik jari berkas: berubah satu bita saja, sidik jarinya berbeda",
    "drift": "perbedaan antara yang berjalan dan yang disetujui",
    "backup": "cadangan salinan data server untuk dipulihkan bila terjadi kerusakan",
}

_PLAN = re.compile(r"Plan: (\d+) to add, (\d+) to change, (\d+) to destroy\.?(?: (?P<rest>.*))?\Z")
_NO_CHANGES = "No changes. Your infrastructure matches the configuration."


def plain(line: str) -> str:
    """Terraform's plan summary in Indonesian; any other text as it is."""
    found = _PLAN.match(line)
    if found:
        add, change, destroy = found.group(1, 2, 3)
        text = f"Rencana Terraform: {add} dibuat, {change} diubah, {destroy} dihapus."
        return f"{text} {found.group('rest')}" if found.group("rest") else text
    if line.startswith(_NO_CHANGES):
        return "Rencana Terraform: tidak ada perubahan; yang berjalan sudah sesuai rencana."
    return line


def _texts(block: Block) -> Iterable[str]:
    if isinstance(block, Heading):
        yield block.text
    elif isinstance(block, Paragraph):
        yield from (p.text if isinstance(p, Strong) else p for p in block.parts)
    elif isinstance(block, Fields):
        for label, value in block.rows:
            yield label
            yield value
    elif isinstance(block, Table):
        yield from block.header
        yield from (cell for row in block.rows for cell in row)
        yield block.note
    elif isinstance(block, Items):
        yield from block.items
    elif isinstance(block, Signatures):
        for row in block.rows:
            for s in row:
                yield s.electronic


def terms_used(doc: Document) -> list[str]:
    """The glossary's terms the document's text uses, in the glossary's order."""
    text = "\n".join(t for block in doc.blocks for t in _texts(block))
    return [
        term for term in GLOSSARY if re.search(rf"(?<![\w.-]){re.escape(term)}(?![\w-]|\.\w)", text)
    ]


def with_glossary(doc: Document) -> Document:
    """The document with its "Keterangan Istilah" at the end (unchanged if it uses none)."""
    used = terms_used(doc)
    if not used:
        return doc
    glossary = Fields(tuple((term, GLOSSARY[term]) for term in used))
    return Document(
        letterhead=doc.letterhead,
        title=doc.title,
        number=doc.number,
        blocks=(*doc.blocks, Heading(HEADING), glossary),
        footer=doc.footer,
        subtitle=doc.subtitle,
        meta=doc.meta,
    )
