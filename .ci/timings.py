#!/usr/bin/env python3
"""The cost table that ends `.ci/run`: time per part, the 15 slowest tests, the totals.

Reads the parts file `.ci/run` writes (one line per part: name, seconds, exit status) and the
JUnit XML each pytest part wrote (`<reports>/<part>.xml`, see the Makefile). A test's time is
pytest's "total" (setup + call + teardown), so the test that boots a module's VM carries it.

    python3 .ci/timings.py REPORTS_DIR

The last line sums what every pytest part counted, in pytest's own words, so a reader (or a
CI that reads the last line) sees the whole suite's result, never just the last part's.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

SLOWEST = 15
OUTCOMES = ("failed", "passed", "skipped", "error")


@dataclass(frozen=True)
class Case:
    part: str
    nodeid: str
    seconds: float
    outcome: str


def read_parts(path: Path) -> list[tuple[str, float, int]]:
    parts = []
    for line in path.read_text().splitlines():
        name, seconds, status = line.split()
        parts.append((name, float(seconds), int(status)))
    return parts


def nodeid(case: ET.Element) -> str:
    """`tests/x/test_y.py::test_z[param]` from JUnit's dotted classname and name."""
    classname, name = case.get("classname", ""), case.get("name", "")
    pieces = classname.split(".")
    # classname is the module path with dots, then any test classes: find the module part.
    for cut in range(len(pieces), 0, -1):
        module = Path(*pieces[:cut]).with_suffix(".py")
        if module.is_file():
            return "::".join([str(module), *pieces[cut:], name])
    return f"{classname}::{name}"


def outcome(case: ET.Element) -> str:
    if case.find("failure") is not None:
        return "failed"
    if case.find("error") is not None:
        return "error"
    if case.find("skipped") is not None:
        return "skipped"
    return "passed"


def read_cases(reports: Path, part: str) -> list[Case] | None:
    """The cases of ``<part>.xml`` and of every ``<part>.<group>.xml`` (the groups of a part
    that runs side by side, such as vm.molecule.xml: tests/vm_groups.py)."""
    files = [
        f for f in [reports / f"{part}.xml", *sorted(reports.glob(f"{part}.*.xml"))] if f.is_file()
    ]
    if not files:
        return None
    cases = []
    for xml in files:
        root = ET.parse(xml).getroot()  # noqa: S314 - our own pytest's JUnit file, not outside input
        cases += [
            Case(part, nodeid(c), float(c.get("time") or 0), outcome(c))
            for c in root.iter("testcase")
        ]
    return cases


def clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes:d}:{rest:02d}"


def main(argv: list[str]) -> int:
    reports = Path(argv[1])
    parts = read_parts(reports / "parts")
    cases: list[Case] = []
    lines = [
        "",
        "ci: time per part",
        f"  {'part':<12} {'m:ss':>6} {'seconds':>8} {'tests':>6}  result",
    ]
    for name, seconds, status in parts:
        found = read_cases(reports, name)
        cases += found or []
        counted = "-" if found is None else str(len(found))
        result = "ok" if status == 0 else f"FAILED (exit {status})"
        lines.append(f"  {name:<12} {clock(seconds):>6} {seconds:8.1f} {counted:>6}  {result}")
    total = sum(seconds for _, seconds, _ in parts)
    lines.append(f"  {'total':<12} {clock(total):>6} {total:8.1f} {len(cases):>6}")
    lines += ["", f"ci: the {SLOWEST} slowest tests (setup + call + teardown)"]
    for case in sorted(cases, key=lambda c: c.seconds, reverse=True)[:SLOWEST]:
        lines.append(f"  {case.seconds:8.1f} s  {case.part:<12} {case.nodeid}")
    counts = {o: sum(c.outcome == o for c in cases) for o in OUTCOMES}
    said = ", ".join(
        f"{n} {o}{'s' if o == 'error' and n != 1 else ''}" for o, n in counts.items() if n
    )
    failed = [name for name, _, status in parts if status != 0]
    runs = sum(
        len(list(reports.glob(f"{name}.xml")) + list(reports.glob(f"{name}.*.xml")))
        for name, _, _ in parts
    )
    note = f"{runs} pytest runs" + (f"; parts failed: {', '.join(failed)}" if failed else "")
    lines += ["", f"{'=' * 10} {said or 'no tests ran'} in {total:.2f}s ({note}) {'=' * 10}"]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
