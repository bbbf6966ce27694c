"""Indonesian labels and help of every request field, for the request form (``form.py``).

Kept next to the generator: the schema's descriptions are English (for engineers) and its
``x-petunjuk`` texts speak of quoting YAML, which the form does itself. Every schema field
must have an entry (the build refuses a field without one, and a unit test checks it), so a
new field cannot reach the form unlabelled. Paths are dotted; ``[]`` stands for an item of a
list (``deployers[].nip``). ``options`` names each value of an ``enum``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Label:
    label: str
    help: str = ""
    options: dict[str, str] = field(default_factory=dict)


DATE_HELP = "Pilih tanggal (TTTT-BB-HH)."
NIP_HELP = "NIP 18 angka tanpa spasi (mis. 198203152009012003)."

LABELS: dict[str, Label] = {
    "schema_version": Label("Versi format berkas", "Selalu 1; ditulis oleh formulir."),
    "kind": Label(
        "Jenis permintaan",
        "Baru untuk hosting baru; ubah atau perpanjang untuk hosting yang sudah berjalan.",
        {
            "baru": "Baru",
            "ubah": "Ubah (perubahan hosting berjalan)",
            "perpanjang": "Perpanjang (masa hosting)",
            "pensiun": "Pensiun (hentikan hosting)",
        },
    ),
    "opd": Label("OPD pemohon", "Organisasi Perangkat Daerah yang meminta hosting."),
    "opd.code": Label(
        "Kode OPD", "Kode singkat OPD, huruf besar dan angka, 2-16 karakter (mis. DINKES)."
    ),
    "opd.name": Label(
        "Nama OPD", "Nama lengkap OPD (mis. Dinas Kesehatan Provinsi Sumatera Barat)."
    ),
    "pic": Label("Penanggung jawab (PIC)", "PIC tidak boleh menyetujui permintaannya sendiri."),
    "pic.name": Label("Nama PIC", "Nama lengkap dengan gelar, seperti pada surat."),
    "pic.nip": Label("NIP PIC", NIP_HELP),
    "pic.email": Label(
        "E-mail PIC", "Alamat e-mail dinas, huruf kecil (mis. nama@dinkes.sumbarprov.go.id)."
    ),
    "pic.phone": Label(
        "Telepon PIC", "Tanpa spasi atau tanda hubung: 08... atau +628... (10-16 karakter)."
    ),
    "letter": Label("Surat permintaan", "Surat bertanda tangan yang memulai SOP langkah 1."),
    "letter.number": Label(
        "Nomor surat", "Seperti tertulis pada surat: huruf, angka, '/', '.', '-' dan spasi."
    ),
    "letter.date": Label("Tanggal surat", DATE_HELP),
    "letter.file": Label(
        "Letak PDF surat",
        "Relatif terhadap requests/: <id-permintaan>/surat-permintaan.pdf. "
        "Unggah PDF ke letak ini di merge request.",
    ),
    "letter.sha256": Label(
        "SHA-256 PDF surat",
        "Pilih PDF surat dari komputer Anda: sidik jarinya dihitung di peramban ini, "
        "berkasnya tidak dikirim ke mana pun.",
    ),
    "application": Label("Aplikasi", "Apa yang akan di-hosting."),
    "application.name": Label("Nama aplikasi atau situs", "2-80 karakter."),
    "application.purpose": Label("Kegunaan", "Untuk apa, dalam satu atau dua kalimat."),
    "application.kind": Label(
        "Bentuk",
        "Website (terutama konten) atau aplikasi (layanan dengan logika sendiri).",
        {"website": "Website", "application": "Aplikasi"},
    ),
    "application.stack": Label(
        "Cara berjalan",
        "Semua di belakang nginx.",
        {
            "static": "Berkas statis",
            "php": "PHP (PHP-FPM)",
            "nodejs": "Node.js",
            "python": "Python",
        },
    ),
    "hostname": Label(
        "Nama situs yang diminta",
        "Satu label DNS: huruf kecil a-z, angka 0-9 dan tanda hubung (tidak di awal/akhir), "
        "tanpa titik (mis. simpus untuk simpus.sumbarprov.go.id).",
    ),
    "resources": Label("Sumber daya server", "Ukuran yang diizinkan diatur dalam kebijakan Dinas."),
    "resources.vcpu": Label("Jumlah vCPU", "Bilangan bulat, paling sedikit 1."),
    "resources.memory_mb": Label("Memori (MiB)", "Bilangan bulat, mis. 2048 untuk 2 GiB."),
    "resources.disk_gb": Label("Disk (GiB)", "Bilangan bulat; disk tidak dapat diperkecil nanti."),
    "resources.template": Label(
        "Templat sistem operasi", "Nama templat dari kebijakan Dinas (mis. debian-12-cloudinit)."
    ),
    "deployers": Label(
        "Pengelola (deployer)",
        "Opsional, 1-10 orang; masing-masing masuk dengan kunci SSH-nya sendiri.",
    ),
    "deployers[].name": Label("Nama pengelola", "Nama lengkap."),
    "deployers[].nip": Label("NIP pengelola", NIP_HELP),
    "deployers[].ssh_public_key": Label(
        "Kunci publik SSH", "Satu baris isi berkas .pub: 'jenis base64 [komentar]'."
    ),
    "database": Label("Basis data", "Opsional; hanya dapat dihubungi dari server itu sendiri."),
    "database.engine": Label(
        "Mesin basis data", "", {"mariadb": "MariaDB", "postgresql": "PostgreSQL"}
    ),
    "database.name": Label(
        "Nama basis data",
        "Diawali huruf kecil, lalu huruf kecil, angka atau garis bawah, maks 63 (mis. simpus).",
    ),
    "database.size_gb": Label("Ukuran data (GiB)", "Opsional; 1 bila dikosongkan."),
    "environment": Label(
        "Lingkungan", "", {"production": "Produksi", "staging": "Staging (uji coba)"}
    ),
    "period": Label("Masa hosting", "Hari pertama dan hari terakhir."),
    "period.start": Label("Mulai", DATE_HELP),
    "period.end": Label("Berakhir", DATE_HELP + " Sesudah tanggal mulai."),
    "data_classification": Label(
        "Klasifikasi data",
        "",
        {
            "publik": "Publik",
            "internal": "Internal",
            "terbatas": "Terbatas",
            "rahasia": "Rahasia",
        },
    ),
    "exposure": Label(
        "Akses jaringan",
        "",
        {"public": "Publik (dari internet)", "internal": "Internal (jaringan pemprov saja)"},
    ),
}
