"""Writes the invalid request fixtures from one valid base, one mutation each.

Run it after changing the base or a mutation; then review every ``.expected`` file by eye
(``pytest tests/unit/test_fixtures.py --regen`` is deliberately not offered: expectations
are written by a person). Each fixture is named after the class of input the loader refuses.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
BASE = (HERE / "valid" / "base-template.txt").read_text()


def base(name: str) -> str:
    return BASE.replace("@ID@", name)


def mutate(name: str, old: str, new: str) -> str:
    text = base(name)
    assert old in text, (name, old)
    return text.replace(old, new, 1)


KEYS = HERE.parent / "keys" / "deployers"


def deployers(*keys: str) -> str:
    """A ``deployers:`` list, one deployer per key text (written as a YAML double-quoted
    string, so a newline in it is the escape ``\\n``)."""
    lines = ["deployers:"]
    for index, key in enumerate(keys):
        quoted = key.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines += [
            f"  - name: Deployer {index + 1}",
            f'    nip: "19900101201501100{index + 1}"',
            f'    ssh_public_key: "{quoted}"',
        ]
    return "\n".join(lines) + "\n"


def key(name: str) -> str:
    return (KEYS / f"{name}.pub").read_text().strip()


FIXTURES: dict[str, str | bytes] = {
    "anchor-alias": mutate("anchor-alias", "  vcpu: 2\n", "  vcpu: &cpu 2\n").replace(
        "  disk_gb: 40", "  disk_gb: *cpu"
    ),
    "merge-key": mutate("merge-key", "resources:\n", "resources:\n  <<: {vcpu: 2}\n"),
    "duplicate-key": mutate(
        "duplicate-key", "hostname: simpus\n", "hostname: simpus\nhostname: admin-panel\n"
    ),
    "multi-document": base("multi-document") + "---\nhostname: kedua\n",
    "oversize": base("oversize") + ("# " + "x" * 78 + "\n") * 900,
    "yaml11-bool": mutate("yaml11-bool", "  name: SIMPUS\n", "  name: on\n"),
    "yaml11-octal": mutate("yaml11-octal", '  phone: "081266104532"\n', "  phone: 081266104532\n"),
    "yaml11-sexagesimal": mutate("yaml11-sexagesimal", "  name: SIMPUS\n", "  name: 22:22\n"),
    "yaml11-date": mutate("yaml11-date", '  date: "2026-11-02"\n', "  date: 2026-11-02\n"),
    "explicit-tag": mutate("explicit-tag", "  name: SIMPUS\n", "  name: !!python/name:os.system\n"),
    "non-utf8": mutate("non-utf8", "  name: SIMPUS\n", "  name: SIMPUS \xe9\n").encode("latin-1"),
    "control-char": mutate("control-char", "  name: SIMPUS\n", '  name: "SIMPUS\\x1b[2J"\n'),
    "raw-control-char": mutate("raw-control-char", "  name: SIMPUS\n", "  name: SIMPUS\x07\n"),
    "bidi": mutate("bidi", "  name: SIMPUS\n", "  name: SIMPUS \u202egnp.exe\n"),
    "zero-width": mutate("zero-width", "hostname: simpus\n", "hostname: sim\u200bpus\n"),
    "hostname-fullwidth": mutate(
        "hostname-fullwidth",
        "hostname: simpus\n",
        "hostname: \uff53\uff49\uff4d\uff50\uff55\uff53\n",
    ),
    "hostname-cyrillic": mutate(
        "hostname-cyrillic", "hostname: simpus\n", "hostname: \u0455impus\n"
    ),
    "hostname-not-ldh": mutate("hostname-not-ldh", "hostname: simpus\n", "hostname: simpus_app\n"),
    "hostname-two-labels": mutate(
        "hostname-two-labels", "hostname: simpus\n", "hostname: simpus.dinkes\n"
    ),
    "hostname-punycode": mutate(
        "hostname-punycode", "hostname: simpus\n", "hostname: xn--smpus-dua\n"
    ),
    "hostname-reserved": mutate("hostname-reserved", "hostname: simpus\n", "hostname: admin\n"),
    "unknown-field": mutate(
        "unknown-field", "exposure: public\n", "exposure: public\nroot_password: rahasia\n"
    ),
    "missing-field": mutate("missing-field", "data_classification: terbatas\n", ""),
    "over-quota": mutate("over-quota", "  memory_mb: 4096\n", "  memory_mb: 20480\n").replace(
        "  code: DINKES", "  code: DISKOMINFO"
    ),
    "size-out-of-range": mutate("size-out-of-range", "  vcpu: 2\n", "  vcpu: 64\n"),
    "template-unknown": mutate(
        "template-unknown", "  template: debian-12-cloudinit\n", "  template: windows-2019\n"
    ),
    "period-reversed": mutate("period-reversed", '  end: "2027-11-30"\n', '  end: "2026-01-01"\n'),
    "bad-calendar-date": mutate(
        "bad-calendar-date", '  date: "2026-11-02"\n', '  date: "2026-02-30"\n'
    ),
    "not-a-mapping": "- hostname: simpus\n",
    "empty": "# hanya komentar\n",
    "layered-problems": mutate("layered-problems", "  name: SIMPUS\n", "  name: SIMPUS\u202e\n")
    .replace("  vcpu: 2\n", "  vcpu: yes\n")
    .replace("exposure: public\n", "exposure: public\nextra: 1\n"),
    "syntax-error": mutate("syntax-error", "  vcpu: 2\n", "  vcpu: [2\n"),
    "several-problems": mutate("several-problems", "  vcpu: 2\n", '  vcpu: "dua"\n')
    .replace("  stack: php\n", "  stack: java\n")
    .replace('  nip: "198203152009012003"\n', "")
    .replace("exposure: public\n", "exposure: public\nrequested_by: kepala dinas\n")
    .replace("  email: rina.marlina@dinkes.sumbarprov.go.id\n", "  email: Rina Marlina\n"),
    "Bad_File_Name": base("Bad_File_Name"),
    # Messages that used to confuse (issue 17): each now says what to write instead.
    "yaml-tab": mutate("yaml-tab", "  vcpu: 2\n", "\tvcpu: 2\n"),
    "nbsp": mutate("nbsp", "  vcpu: 2\n", "\u00a0 vcpu: 2\n"),
    "exposure-yes": mutate("exposure-yes", "exposure: public\n", "exposure: yes\n"),
    "schema-version-2": mutate("schema-version-2", "schema_version: 1\n", "schema_version: 2\n"),
    "nip-spaces": mutate(
        "nip-spaces", '  nip: "198203152009012003"\n', '  nip: "19820315 200901 2 003"\n'
    ),
    "bom-inside": mutate("bom-inside", "  name: SIMPUS\n", "  name: SIM\ufeffPUS\n"),
    "unknown-opd": mutate("unknown-opd", "  code: DINKES\n", "  code: DINKESX\n"),
}

# Accepted on purpose (issue 17): Notepad's UTF-8 with BOM, PowerShell's upper-case digest.
VALID_FIXTURES: dict[str, str | bytes] = {
    "utf8-bom": "\ufeff" + base("utf8-bom"),
    "uppercase-sha256": mutate(
        "uppercase-sha256",
        "ccd313b2191ace8d229e7d794feaff03a452ac2ab22ba23aaeeaabae6c20dc1a",
        "CCD313B2191ACE8D229E7D794FEAFF03A452AC2AB22BA23AAEEAABAE6C20DC1A",
    ),
}

LETTER = HERE.parent.parent.parent / "requests" / "dinkes-simpus" / "surat-permintaan.pdf"
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
NOT_PDF = b"Surat permintaan (ketikan, bukan PDF)\n"
NOT_PDF_SHA256 = "e7b63a6ae60f9e3900f7d7d7106c457f42f56a780635b81e191df918635d1b75"


def _six(name: str) -> str:
    text = base(name)
    for old, new in (
        ("schema_version: 1\n", "schema_version: 2\n"),
        ("exposure: public\n", "exposure: yes\n"),
        ('  nip: "198203152009012003"\n', '  nip: "19820315 200901 2 003"\n'),
        (
            "  email: rina.marlina@dinkes.sumbarprov.go.id\n",
            "  email:\u00a0rina.marlina@dinkes.sumbarprov.go.id\n",
        ),
        (
            "ccd313b2191ace8d229e7d794feaff03a452ac2ab22ba23aaeeaabae6c20dc1a",
            "CCD313B2191ACE8D229E7D794FEAFF03A452AC2AB22BA23AAEEAABAE6C20DC1B",
        ),
    ):
        assert old in text, (name, old)
        text = text.replace(old, new, 1)
    return text


# Whole requests/ folders, checked by the real `sop validate` (tests/unit/test_validate_trees.py):
# what only shows with the letter beside the request, several files, or the clock.
# Issue 14: the deployers' keys and the database, each refused with its own rule.
FIXTURES.update(
    {
        "deployer-key-options": base("deployer-key-options")
        + deployers(f'command="/bin/sh -c id",no-pty {key("ed25519")}'),
        "deployer-key-rsa-2048": base("deployer-key-rsa-2048") + deployers(key("rsa2048")),
        "deployer-key-newline": base("deployer-key-newline")
        + deployers(f"{key('ed25519')}\n{key('ed2')}"),
        "deployer-key-malformed": base("deployer-key-malformed")
        + deployers("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMmWAtsk7vjzwVVs6Lao9mDyKNfe"),
        "database-sql-name": base("database-sql-name")
        + 'database: {engine: mariadb, name: "simpus; DROP DATABASE mysql; --"}\n',
        "database-engine-unknown": base("database-engine-unknown")
        + "database: {engine: mongodb, name: simpus}\n",
    }
)

TREES: dict[str, dict[str, str | bytes]] = {
    "stray-file": {
        "x.yml": base("x"),
        "catatan.txt": "draf\n",
    },
    "schema-error-and-letter": {
        "simpus.yaml": base("simpus")
        .replace("  vcpu: 2\n", '  vcpu: "dua"\n')
        .replace("ccd313b2191ace8d229e7d794feaff03a452ac2ab22ba23aaeeaabae6c20dc1a", "0" * 64),
        "simpus/surat-permintaan.pdf": b"@LETTER@",
    },
    "duplicate-hostname": {
        "simpus.yaml": base("simpus"),
        "simpus/surat-permintaan.pdf": b"@LETTER@",
        "simpus-dua.yaml": base("simpus-dua"),
        "simpus-dua/surat-permintaan.pdf": b"@LETTER@",
    },
    "letter-empty": {
        "simpus.yaml": base("simpus").replace(
            "ccd313b2191ace8d229e7d794feaff03a452ac2ab22ba23aaeeaabae6c20dc1a", EMPTY_SHA256
        ),
        "simpus/surat-permintaan.pdf": b"",
    },
    "letter-not-pdf": {
        "simpus.yaml": base("simpus").replace(
            "ccd313b2191ace8d229e7d794feaff03a452ac2ab22ba23aaeeaabae6c20dc1a", NOT_PDF_SHA256
        ),
        "simpus/surat-permintaan.pdf": NOT_PDF,
    },
    "letter-header-only": {
        "simpus.yaml": base("simpus").replace(
            "ccd313b2191ace8d229e7d794feaff03a452ac2ab22ba23aaeeaabae6c20dc1a",
            "e5c62df5dab5c87b6a015ef3d43597074d1eec433b15f51aec63b8582d0e4ab4",
        ),
        "simpus/surat-permintaan.pdf": b"%PDF-1.4\n",
    },
    "letter-future": {
        "simpus.yaml": base("simpus").replace('  date: "2026-11-02"\n', '  date: "2099-11-02"\n'),
        "simpus/surat-permintaan.pdf": b"@LETTER@",
    },
    "deployers-and-database": {  # every problem of the four in one run, through sop validate
        "simpus.yaml": base("simpus")
        + deployers(f"restrict {key('ed25519')}", key("rsa2048"), f"{key('ecdsa')}\nx")
        + "database: {engine: oracle, name: \"x' OR '1'='1\"}\n",
        "simpus/surat-permintaan.pdf": b"@LETTER@",
    },
    "six-problems": {
        "simpus.yaml": _six("simpus"),
        "simpus/surat-permintaan.pdf": NOT_PDF,
    },
}


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content if isinstance(content, bytes) else content.encode()
    path.write_bytes(LETTER.read_bytes() if data == b"@LETTER@" else data)


def main() -> None:
    for name, content in FIXTURES.items():
        _write(HERE / "invalid" / f"{name}.yaml", content)
    for name, content in VALID_FIXTURES.items():
        _write(HERE / "valid" / f"{name}.yaml", content)
    for tree, files in TREES.items():
        for relative, content in files.items():
            _write(HERE / "trees" / tree / "requests" / relative, content)


if __name__ == "__main__":
    main()
