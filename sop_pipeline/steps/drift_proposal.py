"""``sop drift --propose``: a change request for a drifted hosting, never a fix.

Two forms, both a copy of the hosting's request file with ``kind: ubah`` (the lifecycle's
change kind) and a header of comments listing the drift it answers:

- ``restore`` ("pulihkan yang disetujui"): the request's values unchanged. Once signed and
  applied through steps 4 to 8, step 8 puts back what was approved (Terraform applies the
  approved sizes, tags and protection; Ansible and DNS publish the approved records).
- ``accept`` ("terima yang berjalan"): the request's values updated to what runs, where the
  request file can say it (``resources.vcpu``, ``resources.memory_mb``). Drift that a request
  file cannot express (tags, protection, DNS, an unmanaged VM) stays listed as to be restored.

The file goes to ``records/proposals/<id>/drift-<form>-<YYYYMMDDTHHMMSS>.yaml``, outside
``requests/``: nothing walks it through the SOP until a person submits it as the change
request the lifecycle defines. :func:`proposal_text` is the one function to align with the
lifecycle's request schema.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Literal

from sop_pipeline.atomic import write_atomically
from sop_pipeline.domain.drift import DriftItem

Form = Literal["restore", "accept"]
CHANGE_KIND = "ubah"
#: Drift attributes an accepted proposal writes into the request file: (section, key).
ACCEPTABLE = {
    ("proxmox", "vcpu"): ("resources", "vcpu"),
    ("proxmox", "memory_mb"): ("resources", "memory_mb"),
}
_KIND_LINE = re.compile(r"^kind:.*$", re.M)


def accepted_values(items: Sequence[DriftItem]) -> dict[tuple[str, str], int]:
    """The request values an "accept" proposal sets: integers read from the drift."""
    values: dict[tuple[str, str], int] = {}
    for item in items:
        target = ACCEPTABLE.get((item.source, item.attribute))
        if target is not None and item.actual is not None and item.actual.isdigit():
            values[target] = int(item.actual)
    return values


def _set_in_section(text: str, section: str, key: str, value: int) -> str:
    """Replace ``key: ...`` inside the top-level mapping ``section:`` (two-space indent)."""
    lines = text.splitlines(keepends=True)
    inside = False
    for n, line in enumerate(lines):
        if re.match(rf"^{re.escape(section)}:\s*$", line):
            inside = True
            continue
        if inside and line.strip() and not line.startswith((" ", "#")):
            break
        if inside and re.match(rf"^  {re.escape(key)}:", line):
            lines[n] = f"  {key}: {value}\n"
            return "".join(lines)
    raise ValueError(f"{section}.{key} not found in the request file")


def proposal_text(
    request_id: str, request_text: str, items: Sequence[DriftItem], form: Form, at: datetime
) -> str:
    """The proposal: the request file with ``kind: ubah`` (and, for ``accept``, what runs)."""
    body = request_text
    accepted = accepted_values(items) if form == "accept" else {}
    for (section, key), value in sorted(accepted.items()):
        body = _set_in_section(body, section, key, value)
    if _KIND_LINE.search(body):
        body = _KIND_LINE.sub(f"kind: {CHANGE_KIND}", body, count=1)
    else:
        body = re.sub(
            r"^(schema_version:.*\n)", rf"\1kind: {CHANGE_KIND}\n", body, count=1, flags=re.M
        )
    title = (
        "terima yang berjalan (accept what runs)"
        if form == "accept"
        else "pulihkan yang disetujui (restore what was approved)"
    )
    header = [
        f"# Usulan perubahan dari sop drift untuk {request_id}: {title}.",
        f"# Dibuat {at.isoformat()}; tidak berlaku sebelum ditandatangani (langkah 4 s.d. 8).",
        "# Drift yang dijawab:",
    ]
    for item in items:
        taken = ACCEPTABLE.get((item.source, item.attribute)) in accepted
        how = "diterima" if taken else "dipulihkan"
        header.append(f"#   - [{how}] {' '.join(item.sentence().split())}")
    return "\n".join(header) + "\n" + body


def write_proposal(
    records_dir: Path,
    request_id: str,
    request_file: Path,
    items: Sequence[DriftItem],
    form: Form,
    at: datetime,
) -> Path:
    """Write the proposal under ``records/proposals/<id>/`` and return its path."""
    text = proposal_text(request_id, request_file.read_text(encoding="utf-8"), items, form, at)
    path = records_dir / "proposals" / request_id / f"drift-{form}-{at:%Y%m%dT%H%M%S}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, text.encode())
    return path
