"""The signing pages: one per request and signable step, and their index.

What a page needs that only the build knows is computed here and embedded as data: the
statement's fixed fields exactly as ``sop sign`` would fill them (``signing.signer``: the
request digest, the attachments, ``builds_on`` from the valid statements in the approvals
folder, ``evidence`` from the recorded analysis at step 6, ``record_head``), the step's
namespace, the free file name, and the WebAuthn keys of the role's officials from the base
branch's keyring. The page adds the decision, reason, signer, times and nonce, shows the
canonical bytes, and has the authenticator sign their SSHSIG signed data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sop_pipeline.domain.sop import step as sop_step
from sop_pipeline.reports.escape import h
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.allowed_signers import match_pattern_list
from sop_pipeline.signing.keyring import Keyring
from sop_pipeline.signing.sshkeys import SK_ECDSA
from sop_pipeline.site.layout import Page, render, table

#: Comment on an ``allowed_signers`` line the enrolment page writes: the credential's id,
#: so the signing page can ask the authenticator for exactly that credential.
CREDENTIAL_TAG = "webauthn:"

#: The request's fields as the page names them (the form will grow from the same names).
FIELD_LABELS = {
    "schema_version": "Versi format",
    "opd.code": "Kode OPD",
    "opd.name": "Nama OPD",
    "pic.name": "Nama PIC",
    "pic.nip": "NIP PIC",
    "pic.email": "E-mail PIC",
    "pic.phone": "Telepon PIC",
    "letter.number": "Nomor surat",
    "letter.date": "Tanggal surat",
    "letter.file": "Berkas surat (PDF)",
    "letter.sha256": "sha256 surat",
    "application.name": "Nama aplikasi",
    "application.purpose": "Tujuan",
    "application.kind": "Jenis (website / aplikasi)",
    "application.stack": "Teknologi",
    "hostname": "Nama host yang diminta",
    "resources.vcpu": "vCPU",
    "resources.memory_mb": "Memori (MB)",
    "resources.disk_gb": "Disk (GB)",
    "resources.template": "Templat sistem operasi",
    "environment": "Lingkungan",
    "period.start": "Mulai hosting",
    "period.end": "Akhir hosting",
    "data_classification": "Klasifikasi data",
    "exposure": "Akses jaringan",
}

DECISION_LABELS = {
    "approve": "Setuju (approve)",
    "reject": "Tolak (reject)",
    "complete": "Lengkap (complete)",
    "incomplete": "Belum lengkap, kembalikan ke OPD (incomplete)",
}


@dataclass(frozen=True)
class WebAuthnSigner:
    """An official whose keyring line is a WebAuthn key of this site's RP ID."""

    principal: str
    key_blob_b64: str
    credential_id: str  # base64url, "" when the line carries none (discoverable credential)
    name: str = ""


@dataclass(frozen=True)
class SigningContext:
    """One request and step the site offers for signing."""

    request_id: str
    step: int
    statement: Mapping[str, Any]  # the fixed fields, as sop sign fills them
    file_name: str
    facts: Sequence[tuple[str, str]]
    signers: Sequence[WebAuthnSigner]
    analysis: Sequence[tuple[str, str]] = ()  # what the recorded analysis says (steps 6, 7)
    analysis_text: str = ""
    already: Sequence[str] = field(default_factory=tuple)  # who signed this step already
    require_uv: bool = False  # the keyring's policy.require_uv holds the step's role

    @property
    def path(self) -> str:
        return f"sign/{self.request_id}/step-{self.step:02d}.html"


def webauthn_signers(keyring: Keyring, step_number: int, rp_id: str) -> list[WebAuthnSigner]:
    """Principals of the step's role holding an ``sk-ecdsa`` key whose application is the RP ID
    and whose line allows the step's namespace."""
    role = st.role_of(step_number)
    namespace = st.namespace(step_number)
    found = []
    for principal in keyring.roles.get(role, ()):
        for line in keyring.signers:
            key = line.key
            if key.key_type != SK_ECDSA or key.application != rp_id or line.cert_authority:
                continue
            if match_pattern_list(principal, line.principals) != 1:
                continue
            if line.namespaces is not None and match_pattern_list(namespace, line.namespaces) != 1:
                continue
            tag = next((w for w in line.comment.split() if w.startswith(CREDENTIAL_TAG)), "")
            person = keyring.people.get(principal)
            found.append(
                WebAuthnSigner(
                    principal,
                    key.openssh.split()[1],
                    tag.removeprefix(CREDENTIAL_TAG),
                    person.name if person else "",
                )
            )
    return found


def signing_data(ctx: SigningContext, *, rp_id: str, valid_days: int) -> dict[str, Any]:
    return {
        "rp_id": rp_id,
        "namespace": st.namespace(ctx.step),
        "statement": dict(ctx.statement),
        "file_name": ctx.file_name,
        "valid_days": valid_days,
        "require_uv": ctx.require_uv,
        "signers": [
            {"principal": s.principal, "key_blob": s.key_blob_b64, "credential_id": s.credential_id}
            for s in ctx.signers
        ],
    }


def upload_link(gitlab_url: str, branch: str, request_id: str) -> str:
    """The GitLab tree of the approvals folder on the merge request's branch, where "+ >
    Upload file" commits a file; "" without a project URL."""
    if not gitlab_url:
        return ""
    folder = f"requests/{request_id}.approvals"
    return f"{gitlab_url.rstrip('/')}/-/tree/{quote(branch, safe='')}/{quote(folder)}"


def signing_page(
    ctx: SigningContext,
    *,
    agency: str,
    rp_id: str,
    valid_days: int,
    gitlab_url: str = "",
    branch: str = "",
) -> Page:
    the_step = sop_step(ctx.step)
    decisions = sorted(st.DECISIONS[ctx.step], key=lambda d: (d not in st.POSITIVE, d))
    options = "".join(
        f'<option value="{h(d)}">{h(DECISION_LABELS.get(d, d))}</option>' for d in decisions
    )
    signer_options = "".join(
        f'<option value="{h(s.principal)}">{h(s.name or s.principal)} ({h(s.principal)})</option>'
        for s in ctx.signers
    )
    negative = any(d in st.NEGATIVE for d in decisions)
    parts = [
        f"<p>Langkah {ctx.step}: {h(the_step.activity)} "
        f'<span class="muted">(pelaksana: {h(the_step.actor.label)}; namespace '
        f"<code>{h(st.namespace(ctx.step))}</code>)</span></p>",
        "<h2>Yang Anda tandatangani: permintaan</h2>",
        table(["Isian", "Nilai"], [[FIELD_LABELS.get(k, k), v] for k, v in ctx.facts]),
        table(
            ["Terikat pada", "sha256"],
            [["berkas permintaan", str(ctx.statement["request_sha256"])]]
            + [[f"lampiran {name}", d] for name, d in sorted(ctx.statement["attachments"].items())]
            + [[f"pernyataan {k}", v] for k, v in sorted(ctx.statement["builds_on"].items())]
            + [[f"laporan {k}", v] for k, v in sorted(ctx.statement["evidence"].items())],
        ),
    ]
    if ctx.analysis:
        parts += [
            "<h2>Laporan Analisis Teknis (langkah 6)</h2>",
            table(["Butir", "Isi"], list(map(list, ctx.analysis))),
        ]
        if ctx.analysis_text:
            parts.append(f'<pre id="analysis-report">{h(ctx.analysis_text)}</pre>')
    if ctx.already:
        parts.append(
            '<p class="muted">Sudah ditandatangani sah oleh: ' + h(", ".join(ctx.already)) + "</p>"
        )
    if not ctx.signers:
        parts.append(
            '<p class="message error">Belum ada kunci WebAuthn untuk peran ini dengan RP ID '
            f"{h(rp_id)} di keyring cabang dasar; daftarkan kunci dulu.</p>"
        )
    parts += [
        "<h2>Putusan</h2>",
        '<form id="sign-form">',
        '<label for="signer">Penanda tangan</label>',
        f'<select id="signer" name="signer">{signer_options}</select>',
        '<label for="decision">Putusan</label>',
        f'<select id="decision" name="decision">{options}</select>',
    ]
    if negative:
        parts.append(
            '<label for="reason">Alasan (wajib untuk tolak / belum lengkap)</label>'
            '<textarea id="reason" name="reason" rows="2"></textarea>'
        )
    if "incomplete" in decisions:
        parts.append(
            '<label for="missing">Kekurangan (satu per baris)</label>'
            '<textarea id="missing" name="missing" rows="3"></textarea>'
        )
    parts += [
        '<button type="submit" id="prepare-button">Tampilkan pernyataan</button>',
        "</form>",
        '<p id="sign-message" class="message" role="status"></p>',
        '<div id="statement-box" hidden><h2>Pernyataan (JSON kanonis, persis yang ditandatangani)'
        '</h2><pre id="statement"></pre>'
        '<button type="button" id="sign-button" disabled>Tanda tangani dengan kunci keamanan'
        "</button></div>",
        '<div id="result" hidden><h2>Tanda tangan (SSHSIG)</h2><pre id="signature"></pre>',
        '<p class="downloads"><a id="download-statement" hidden>Unduh pernyataan</a>'
        '<a id="download-signature" hidden>Unduh tanda tangan (.sig)</a></p>',
        f"<p>Letakkan kedua berkas di <code>requests/{h(ctx.request_id)}.approvals/</code> "
        "pada cabang merge request.",
    ]
    link = upload_link(gitlab_url, branch, ctx.request_id)
    if link:
        parts.append(
            f' <a id="upload-link" href="{h(link)}" rel="noopener">Buka folder di GitLab</a> '
            "lalu pilih <b>+ &gt; Upload file</b> untuk tiap berkas."
        )
    parts += [
        "</p>",
        '<p class="muted">Siapa pun dapat memeriksa tanda tangan ini dengan OpenSSH: '
        f"<code>ssh-keygen -Y verify -f allowed_signers -I &lt;principal&gt; -n "
        f"{h(st.namespace(ctx.step))} -s {h(ctx.file_name)}.sig &lt; {h(ctx.file_name)}</code>. "
        "Ini tanda tangan elektronik berbasis kunci SSH, bukan tanda tangan elektronik "
        "tersertifikasi.</p></div>",
    ]
    return render(
        ctx.path,
        title=f"Tanda tangan langkah {ctx.step}: {ctx.request_id}",
        body="".join(parts),
        agency=agency,
        data=signing_data(ctx, rp_id=rp_id, valid_days=valid_days),
        script=True,
    )


def signing_index(
    contexts: Sequence[SigningContext], next_steps: Mapping[str, int | None], *, agency: str
) -> Page:
    rows = []
    for ctx in contexts:
        nxt = next_steps.get(ctx.request_id) == ctx.step
        link = f'<a href="{h(ctx.path.removeprefix("sign/"))}">langkah {ctx.step}</a>'
        rows.append(
            [
                h(ctx.request_id),
                link,
                h(sop_step(ctx.step).actor.label),
                "<b>berikutnya</b>" if nxt else "",
            ]
        )
    body = (
        "<p>Halaman tanda tangan tiap permintaan dan langkah yang sudah dapat ditandatangani "
        "(langkah sebelumnya sah).</p>"
        + table(["Permintaan", "Langkah", "Pelaksana", ""], rows, raw=True)
    )
    return render("sign/index.html", title="Tanda tangan", body=body, agency=agency)
