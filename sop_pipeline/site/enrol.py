"""The enrolment page: an official makes a WebAuthn credential for the site's RP ID, and the
page shows the ``allowed_signers`` line of its ``sk-ecdsa-sha2-nistp256@openssh.com`` key
(application = RP ID, the credential id as the line's comment) for the keyring MR."""

from __future__ import annotations

from datetime import datetime, timedelta

from sop_pipeline.domain.sop import Role
from sop_pipeline.reports.escape import h
from sop_pipeline.signing import statement as st
from sop_pipeline.site.layout import Page, render

#: The roles that sign SOP steps, and the namespaces their keyring line allows.
SIGNING_ROLES: tuple[Role, ...] = tuple(
    dict.fromkeys(st.role_of(n) for n in st.SIGNED_STEPS)  # in step order, each once
)


def role_namespaces(role: Role) -> str:
    return ",".join(st.namespace(n) for n in st.SIGNED_STEPS if st.role_of(n) == role)


def enrol_page(*, agency: str, rp_id: str, rp_name: str, now: datetime) -> Page:
    valid_before = (now + timedelta(days=365)).strftime("%Y%m%dZ")
    roles = "".join(f'<option value="{h(r.value)}">{h(r.label)}</option>' for r in SIGNING_ROLES)
    body = (
        f"<p>Buat kunci tanda tangan pada kunci keamanan (security key) atau Windows Hello "
        f"untuk situs <b>{h(rp_id)}</b>. Kunci privat tidak pernah meninggalkan perangkat; "
        "halaman ini hanya menampilkan kunci publik untuk keyring <code>approvers/</code>.</p>"
        '<form id="enrol-form">'
        '<label for="principal">Principal (e-mail dinas)</label>'
        '<input id="principal" name="principal" type="email" required>'
        '<label for="display_name">Nama</label><input id="display_name" name="display_name">'
        '<label for="nip">NIP (18 digit)</label><input id="nip" name="nip" inputmode="numeric">'
        f'<label for="role">Peran</label><select id="role" name="role">{roles}</select>'
        '<label for="valid_before">Berlaku sampai (YYYYMMDDZ)</label>'
        f'<input id="valid_before" name="valid_before" value="{h(valid_before)}">'
        '<button type="submit" id="enrol-button">Daftarkan kunci</button></form>'
        '<p id="enrol-message" class="message" role="status"></p>'
        '<div id="enrol-result" hidden><h2>Baris untuk approvers/allowed_signers</h2>'
        '<pre id="key-line"></pre><h2>Untuk approvers/roles.toml</h2><pre id="roles-snippet">'
        "</pre><p>Engineer menambahkannya lewat merge request keyring; "
        "<code>sop keyring lint</code> harus lolos.</p></div>"
    )
    data = {
        "rp_id": rp_id,
        "rp_name": rp_name,
        "namespaces": {r.value: role_namespaces(r) for r in SIGNING_ROLES},
    }
    return render(
        "enrol.html",
        title="Daftarkan kunci tanda tangan",
        body=body,
        agency=agency,
        data=data,
        script=True,
    )
