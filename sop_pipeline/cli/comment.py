"""``sop comment ID``: the merge-request comment for one request, in Bahasa Indonesia.

Registered in the ``sop`` group by :mod:`sop_pipeline.cli.main`. The CI templates post what it
prints: the step-4 completeness checklist, what each official still has to sign and, once ``sop
analyze`` has run, the step-6 analysis summary; each part ends with the link to the full logs.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from sop_pipeline.config import TrustedConfig
from sop_pipeline.ledger.tracking import state_of
from sop_pipeline.loader import LoadedRequest, RequestInvalid, load_request
from sop_pipeline.reports.comments import completeness_comment, signatures_comment
from sop_pipeline.reports.model import Signature, signatures_from_checked
from sop_pipeline.signing.approvals import Verifier, check_all
from sop_pipeline.signing.subject import Subject, approvals_dir
from sop_pipeline.workspace import Workspace

#: Written by `sop analyze` (sop_pipeline.steps.analysis.write_analysis).
ANALYSIS_COMMENT = "komentar-analisis.md"
#: Written by `sop expiry` (sop_pipeline.steps.expiry.COMMENT_FILE).
EXPIRY_COMMENT = "komentar-masa-hosting.md"


@click.command("comment")
@click.argument("request_id")
@click.option(
    "--base",
    envvar="SOP_BASE_REF",
    default="main",
    show_default=True,
    metavar="BRANCH",
    help="Cabang dasar: kebijakan dan keyring dibaca darinya ($SOP_BASE_REF), tidak pernah "
    "dari tree merge request sendiri.",
)
@click.option(
    "--logs-url",
    envvar="CI_JOB_URL",
    help="Tautan ke log lengkap di akhir tiap bagian (bawaan $CI_JOB_URL).",
)
@click.pass_obj
def comment_cmd(ws: Workspace, request_id: str, base: str, logs_url: str | None) -> None:
    """Cetak komentar merge request untuk REQUEST_ID (Markdown, Bahasa Indonesia).

    \b
    1. daftar periksa kelengkapan langkah 4: satu baris per syarat, dengan apa yang harus
       diperbaiki OPD (dari berkas permintaan) dan apa yang dicatat Koordinator saat
       mengembalikannya;
    2. tanda tangan para pejabat: siapa menandatangani langkah apa, siapa yang belum;
    3. ringkasan analisis langkah 6, bila `sop analyze` sudah menulisnya.

    Perintah ini tidak mengubah apa pun. Kode keluar: 0 apa pun keadaan permintaan; 3 bila
    cabang dasar tidak dapat dibaca; 8 bila tidak ada permintaan itu.
    """
    click.echo(render(ws, ws.require(request_id), base, logs_url))


def render(ws: Workspace, request_id: str, base: str, logs_url: str | None) -> str:
    with TrustedConfig.from_commit(ws.root, base) as trusted:
        state = state_of(ws.ledgers, request_id)
        try:
            request: LoadedRequest | None = load_request(
                ws.request_path(request_id), policy=trusted.policy
            )
            problems = []
        except RequestInvalid as err:
            request, problems = None, err.problems
        signatures = _signatures(request, trusted)
    parts = [
        completeness_comment(request_id, problems, missing=state.missing, logs_url=logs_url),
        signatures_comment(state, signatures, logs_url=logs_url),
    ]
    analysis = ws.records_dir / "reports" / request_id / ANALYSIS_COMMENT
    if analysis.is_file():
        parts.append(analysis.read_text(encoding="utf-8"))
    expiry = ws.records_dir / "reports" / request_id / EXPIRY_COMMENT
    if expiry.is_file():  # the last notice or retirement of `sop expiry`
        parts.append(expiry.read_text(encoding="utf-8"))
    return "\n".join(parts)


def _signatures(request: LoadedRequest | None, trusted: TrustedConfig) -> tuple[Signature, ...]:
    """The statements that verify now against the base keyring (none for a broken file)."""
    if request is None:
        return ()
    verifier = Verifier(trusted.keyring, at=datetime.now().astimezone())
    checked = check_all(approvals_dir(Path(request.path)), Subject.from_loaded(request), verifier)
    return signatures_from_checked(checked)
