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
}


def main() -> None:
    out = HERE / "invalid"
    out.mkdir(exist_ok=True)
    for name, content in FIXTURES.items():
        data = content if isinstance(content, bytes) else content.encode()
        (out / f"{name}.yaml").write_bytes(data)


if __name__ == "__main__":
    main()
