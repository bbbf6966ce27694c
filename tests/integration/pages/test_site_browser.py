"""The static site in a real headless chromium, with Chromium's virtual authenticator as the
officials' security keys: enrol through the enrolment page, sign steps 2 to 7 through the
signing pages, and the pipeline and stock ``ssh-keygen -Y verify`` accept every signature;
a changed statement, another RP ID and a replay on another request are refused."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sop_pipeline.demo.officials import Lab, Official, RequestFlow, keyring_texts, signer_line
from sop_pipeline.signing import statement as st
from sop_pipeline.signing.sshsig import armor, dearmor, parse_armored
from sop_pipeline.signing.sshwire import Reader, put_string, put_u32
from tests.support.browser import Browser, browser, require_browser_tools, serve
from tests.support.sitelab import commit_on_branch, git, sop, with_inventories

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
RID = "dinkes-simpus"
OTHER = "dinkes-lain"
#: Who signs which step through the pages (steps 2-7 of the SOP).
SIGNERS = {2: "kadis", 3: "kabid", 4: "koordinator", 6: "teknis1", 7: "kabid"}
ENROLLED = ("kadis", "kabid", "koordinator", "teknis1")
#: Both verifiers (native and ssh-keygen) must accept every browser signature.
VERIFIER = "both"


def build(lab: Lab, out: Path, *extra: str) -> None:
    done = sop(lab.repo, "site", "build", str(out), "--verifier", VERIFIER, *extra)
    assert done.returncode == 0, done.stderr


def ssh_keygen_verify(
    lab: Lab, statement: Path, signature: Path, principal: str, step: int, base: str = "main"
) -> subprocess.CompletedProcess[str]:
    signers = lab.root / f"allowed_signers.{base}"
    signers.write_text(git(lab.repo, "show", f"{base}:approvers/allowed_signers"))
    with statement.open("rb") as message:
        return subprocess.run(
            [
                "ssh-keygen",
                "-Y",
                "verify",
                "-f",
                str(signers),
                "-I",
                principal,
                "-n",
                st.namespace(step),
                "-s",
                str(signature),
            ],
            stdin=message,
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )


def rewrap(armored: bytes, key_blob: bytes) -> bytes:
    """The SSHSIG with its public key replaced by ``key_blob`` (signature kept)."""
    blob = dearmor(armored)
    reader = Reader(blob)
    magic, version = reader.raw(6), reader.u32()
    reader.string()
    rest = blob[len(blob) - reader.remaining :]
    return armor(magic + put_u32(version) + put_string(key_blob) + rest)


def python_encoding(armored: bytes, rp_id: str) -> bytes:
    """The same signature re-encoded by the pipeline's own WebAuthn code
    (``signing.webauthn.from_browser``) from the fields the page wrote: two encoders, one
    result."""
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from sop_pipeline.signing import webauthn

    parsed = parse_armored(armored)
    sig = Reader(parsed.signature)
    assert sig.cstring() == "webauthn-sk-ecdsa-sha2-nistp256@openssh.com"
    inner = Reader(sig.string())
    r, s_ = inner.mpint(), inner.mpint()
    flags, counter = sig.u8(), sig.u32()
    origin, client_data, extensions = sig.cstring(), sig.string(), sig.string()
    sig.end()
    authenticator_data = (
        hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + put_u32(counter) + extensions
    )
    blob = webauthn.from_browser(
        authenticator_data_bytes=authenticator_data,
        client_data=client_data,
        der_signature=encode_dss_signature(r, s_),
        origin=origin,
    )
    return webauthn.sshsig_armor(parsed.key.blob, parsed.namespace, parsed.hash_algorithm, blob)


class Site:
    """The lab repository, its built site served on loopback, and the browser."""

    def __init__(self, lab: Lab, out: Path, port: int, chrome: Browser, shots: Path) -> None:
        self.lab, self.out, self.port, self.chrome, self.shots = lab, out, port, chrome, shots
        self.flow = RequestFlow(lab, RID, records=lab.repo / "records")

    def url(self, page: str, host: str = "localhost") -> str:
        return f"http://{host}:{self.port}/{page}"

    def shot(self, name: str) -> None:
        self.chrome("screenshot", file=str(self.shots / f"{name}.png"))

    def rebuild(self) -> None:
        build(self.lab, self.out)

    def sign(
        self, step: int, decision: str = "approve", request_id: str = RID, **texts: str
    ) -> dict[str, str]:
        """Sign one step through its page and commit both files to the MR branch (``texts``:
        ``reason``, ``missing`` typed into the form)."""
        who = self.lab.officials[SIGNERS[step]]
        self.rebuild()
        opened = self.chrome("goto", url=self.url(f"sign/{request_id}/step-{step:02d}.html"))
        if opened["status"] != 200:
            verified = sop(self.lab.repo, "verify", request_id, "--verifier", VERIFIER)
            pytest.fail(f"no signing page for step {step}: {verified.stdout}{verified.stderr}")
        shown = self.chrome("prepare", signer=who.principal, decision=decision, **texts)
        name = f"step-{step:02d}-{st.role_of(step)}.json"
        self.shot(f"sign-{request_id}-step-{step:02d}")
        signed = self.chrome("sign", name=name)
        assert "Ditandatangani" in signed["message"], signed
        self.shot(f"signed-{request_id}-step-{step:02d}")
        statement = Path(signed["statement_path"])
        assert statement.read_text(encoding="utf-8") == shown["statement"]
        folder = self.lab.request_file(request_id).with_suffix(".approvals")
        folder.mkdir(exist_ok=True)
        shutil.copyfile(statement, folder / name)
        shutil.copyfile(signed["signature_path"], folder / f"{name}.sig")
        self.lab.commit(f"{request_id}: step {step} signed in the browser")
        return {
            "statement": str(folder / name),
            "signature": str(folder / f"{name}.sig"),
            "principal": who.principal,
        }


@pytest.fixture
def site(
    tmp_path: Path, officials: dict[str, Official], request: pytest.FixtureRequest
) -> Iterator[Site]:
    require_browser_tools()
    lab = Lab(tmp_path / "lab", officials)
    with_inventories(lab)
    lab.write_request(RID)
    lab.write_request(OTHER)
    lab.commit("requests")
    out = tmp_path / "site"
    shots = tmp_path / "screenshots"
    shots.mkdir()
    build(lab, out)
    try:
        with serve(out) as port, browser(tmp_path / "browser") as chrome:
            yield Site(lab, out, port, chrome, shots)
    finally:
        artifacts = os.environ.get("TEST_ARTIFACTS")
        if artifacts:
            target = Path(artifacts) / "site-screenshots" / request.node.name
            target.mkdir(parents=True, exist_ok=True)
            for png in shots.glob("*.png"):
                shutil.copyfile(png, target / png.name)


def enrol_all(site: Site) -> dict[str, str]:
    """Each official enrols a credential through the page; their lines replace their SSH
    keys in the base branch's keyring (same principals, roles and NIPs)."""
    lines = {}
    for handle in ENROLLED:
        o = site.lab.officials[handle]
        assert site.chrome("goto", url=site.url("enrol.html"))["status"] == 200
        answer = site.chrome(
            "enrol", principal=o.principal, name=handle.title(), nip=o.nip, role=str(o.role)
        )
        assert "line" in answer, answer
        site.shot(f"enrol-{handle}")
        lines[handle] = answer["line"]
    texts = keyring_texts(site.lab.officials)
    texts["roles.toml"] = texts["roles.toml"].replace(
        "[policy]\n",
        '[policy]\nwebauthn_rp_id = "localhost"\nrequire_uv = ["koordinator", "kabid"]\n',
    )
    kept = [
        signer_line(o.principal, o.role, o.public_line)
        for h, o in site.lab.officials.items()
        if h not in ENROLLED
    ]
    texts["allowed_signers"] = (
        "\n".join(["# lab keyring: WebAuthn keys", *lines.values(), *kept]) + "\n"
    )
    site.lab.update_base(texts, "keyring: officials enrolled through the site")
    lint = sop(site.lab.repo, "keyring", "lint", "--base", "main")
    assert lint.returncode == 0, lint.stdout + lint.stderr
    return lines


def test_enrol_sign_steps_2_to_7_and_gate_8(site: Site) -> None:
    lines = enrol_all(site)
    for handle, line in lines.items():
        principal, options, key_type, blob, comment = line.split(" ", 4)
        assert principal == site.lab.officials[handle].principal
        assert key_type == "sk-ecdsa-sha2-nistp256@openssh.com"
        assert comment.startswith("webauthn:")
        assert (
            f'namespaces="{st.namespace(min(s for s, w in SIGNERS.items() if w == handle))}'
            in options
        )
        wire = Reader(base64.b64decode(blob))
        assert [wire.cstring(), wire.cstring()] == [key_type, "nistp256"]
        wire.string()
        assert wire.cstring() == "localhost"  # the key's application is the RP ID
    flow = site.flow
    now = datetime.now(UTC)
    flow.pipeline_step(1, now - timedelta(minutes=30))
    signed = {}
    for step in (2, 3, 4):
        signed[step] = site.sign(step, "complete" if step == 4 else "approve")
    gate = sop(site.lab.repo, "gate", RID, "--step", "4", "--verifier", VERIFIER)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    flow.pipeline_step(5, datetime.now(UTC))
    evidence = flow.analyse(datetime.now(UTC))
    signed[6] = site.sign(6)
    assert (
        evidence.items()
        <= {
            k: v
            for k, v in __import__("json")
            .loads(Path(signed[6]["statement"]).read_bytes())["evidence"]
            .items()
        }.items()
    )
    gate = sop(site.lab.repo, "gate", RID, "--step", "6", "--verifier", VERIFIER)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    signed[7] = site.sign(7)

    gate = sop(site.lab.repo, "gate", RID, "--step", "8", "--verifier", VERIFIER)
    assert gate.returncode == 0, gate.stdout + gate.stderr
    verify = sop(site.lab.repo, "verify", RID, "--verifier", VERIFIER)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    for step, files in signed.items():
        done = ssh_keygen_verify(
            site.lab, Path(files["statement"]), Path(files["signature"]), files["principal"], step
        )
        assert done.returncode == 0 and "Good" in done.stdout + done.stderr, (step, done.stderr)
        assert "ECDSA-SK" in done.stdout + done.stderr
        armored = Path(files["signature"]).read_bytes()
        assert python_encoding(armored, "localhost") == armored, step

    site.rebuild()
    assert site.chrome("goto", url=site.url("index.html"))["status"] == 200
    site.shot("dashboard")
    assert site.chrome("goto", url=site.url("sign/index.html"))["status"] == 200
    site.shot("sign-index")
    assert site.chrome("goto", url=site.url("ringkasan.html"))["status"] == 200
    site.shot("summary")

    # A replay: the step-2 files of this request, copied to another request, are refused.
    other = site.lab.request_file(OTHER).with_suffix(".approvals")
    other.mkdir()
    shutil.copyfile(signed[2]["statement"], other / "step-02-kadis.json")
    shutil.copyfile(signed[2]["signature"], other / "step-02-kadis.json.sig")
    replay = sop(site.lab.repo, "verify", OTHER, "--verifier", VERIFIER)
    assert replay.returncode == 6, replay.stdout + replay.stderr
    assert "TIDAK SAH" in replay.stdout


def test_a_statement_edited_in_the_page_is_not_signed(site: Site) -> None:
    enrol_all(site)
    site.flow.pipeline_step(1, datetime.now(UTC) - timedelta(minutes=5))
    site.rebuild()
    kadis = site.lab.officials["kadis"]
    before = {c["credentialId"]: c["signCount"] for c in site.chrome("credentials")["credentials"]}
    site.chrome("goto", url=site.url(f"sign/{RID}/step-02.html"))
    shown = site.chrome("prepare", signer=kadis.principal, decision="approve")["statement"]
    site.chrome("edit_statement", text=shown.replace(RID, OTHER))
    refused = site.chrome("sign", name="step-02-kadis.json")
    site.shot("sign-edited-refused")
    assert "[statement-changed]" in refused["message"]
    assert "signature_path" not in refused
    after = {c["credentialId"]: c["signCount"] for c in site.chrome("credentials")["credentials"]}
    assert after == before  # the authenticator was never asked


def test_a_credential_of_another_rp_id_is_refused(site: Site) -> None:
    """The same private key as the Kabid's, registered for RP ID ``other.localhost``: a site
    built for that RP ID signs with it, and neither ssh-keygen nor the pipeline accepts the
    result against the keyring's key (application ``localhost``), even rewrapped with it."""
    lines = enrol_all(site)
    flow = site.flow
    flow.pipeline_step(1, datetime.now(UTC) - timedelta(minutes=5))
    step_2 = site.sign(2)
    kabid = site.lab.officials["kabid"]
    creds = site.chrome("credentials")["credentials"]
    credential_id = lines["kabid"].rsplit("webauthn:", 1)[1]
    mine = next(
        c
        for c in creds
        if c["credentialId"].rstrip("=")
        == base64.b64encode(base64.urlsafe_b64decode(credential_id + "==")).decode().rstrip("=")
    )
    other_id = base64.b64encode(b"other-rp-credential-0001").decode()
    site.chrome(
        "add_credential",
        credential={
            "credentialId": other_id,
            "isResidentCredential": False,
            "rpId": "other.localhost",
            "privateKey": mine["privateKey"],
            "signCount": 0,
        },
    )
    # The other RP's keyring line: the same EC point, application other.localhost.
    principal, options, key_type, blob, _ = lines["kabid"].split(" ", 4)
    wire = Reader(base64.b64decode(blob))
    parts = [wire.cstring(), wire.cstring(), wire.string(), wire.cstring()]
    other_blob = (
        put_string(parts[0])
        + put_string(parts[1])
        + put_string(parts[2])
        + put_string("other.localhost")
    )
    other_line = (
        f"{principal} {options} {key_type} {base64.b64encode(other_blob).decode()} "
        f"webauthn:{base64.urlsafe_b64encode(base64.b64decode(other_id)).decode().rstrip('=')}"
    )
    texts = {
        "approvers/allowed_signers": git(
            site.lab.repo, "show", "main:approvers/allowed_signers"
        ).replace(lines["kabid"], other_line)
    }
    commit_on_branch(site.lab, "other-rp", texts, "keyring of a site for another RP ID")
    other_out = site.lab.root / "site-other"
    build(site.lab, other_out, "--rp-id", "other.localhost", "--base", "other-rp")
    with serve(other_out) as port:
        site.chrome("goto", url=f"http://other.localhost:{port}/sign/{RID}/step-03.html")
        site.chrome("prepare", signer=kabid.principal, decision="approve")
        signed = site.chrome("sign", name="step-03-kabid.json")
        site.shot("sign-other-rp")
    assert "Ditandatangani" in signed["message"], signed
    statement = Path(signed["statement_path"])
    signature = Path(signed["signature_path"])
    # Against the real keyring, the key is not the Kabid's...
    refused = ssh_keygen_verify(site.lab, statement, signature, kabid.principal, 3)
    assert refused.returncode != 0
    # ...and rewrapped with the Kabid's real key, the RP ID in the signed data does not match.
    rewrapped = signature.with_name("rewrapped.sig")
    rewrapped.write_bytes(rewrap(signature.read_bytes(), base64.b64decode(blob)))
    refused = ssh_keygen_verify(site.lab, statement, rewrapped, kabid.principal, 3)
    assert refused.returncode != 0, refused.stdout
    # The control: the same rewrapping of a good signature with its own key still verifies.
    good = Path(step_2["signature"])
    kadis_blob = base64.b64decode(lines["kadis"].split(" ")[3])
    control = good.with_name("control.sig")
    control.write_bytes(rewrap(good.read_bytes(), kadis_blob))
    kept = ssh_keygen_verify(site.lab, Path(step_2["statement"]), control, step_2["principal"], 2)
    assert kept.returncode == 0, kept.stderr
    folder = site.lab.request_file(RID).with_suffix(".approvals")
    shutil.copyfile(statement, folder / "step-03-kabid.json")
    shutil.copyfile(rewrapped, folder / "step-03-kabid.json.sig")
    verify = sop(site.lab.repo, "verify", RID, "--verifier", VERIFIER)
    assert verify.returncode == 6, verify.stdout
    assert "step-03-kabid.json" in verify.stdout and "TIDAK SAH" in verify.stdout
    gate = sop(site.lab.repo, "gate", RID, "--step", "3", "--verifier", VERIFIER)
    assert gate.returncode == 7, gate.stdout


def test_a_signature_without_user_verification_is_refused_for_a_gate_role(site: Site) -> None:
    """The Kabid's credential on a security key without PIN or biometrics: the page for a
    role under ``policy.require_uv`` refuses to ask it; a page built from a keyring without
    that policy gets a signature with UP only, which stock ssh-keygen accepts and the
    pipeline refuses against the base keyring (``[uv-required]``)."""
    lines = enrol_all(site)
    site.flow.pipeline_step(1, datetime.now(UTC) - timedelta(minutes=5))
    site.sign(2)
    kabid = site.lab.officials["kabid"]
    credential_id = lines["kabid"].rsplit("webauthn:", 1)[1]
    standard_id = base64.b64encode(base64.urlsafe_b64decode(credential_id + "==")).decode()
    mine = next(
        c
        for c in site.chrome("credentials")["credentials"]
        if c["credentialId"].rstrip("=") == standard_id.rstrip("=")
    )
    site.chrome("new_authenticator", hasUserVerification=False, isUserVerified=False)
    site.chrome(
        "add_credential",
        credential={
            "credentialId": mine["credentialId"],
            "isResidentCredential": False,
            "rpId": "localhost",
            "privateKey": mine["privateKey"],
            "signCount": mine["signCount"],
        },
    )
    site.rebuild()
    site.chrome("goto", url=site.url(f"sign/{RID}/step-03.html"))
    site.chrome("prepare", signer=kabid.principal, decision="approve")
    refused = site.chrome("sign", name="step-03-kabid.json")
    site.shot("sign-without-uv-refused")
    assert "gagal" in refused["message"] and "signature_path" not in refused, refused

    roles = git(site.lab.repo, "show", "main:approvers/roles.toml")
    no_uv = roles.replace('require_uv = ["koordinator", "kabid"]\n', "")
    assert no_uv != roles
    commit_on_branch(site.lab, "no-uv", {"approvers/roles.toml": no_uv}, "keyring without UV")
    lax = site.lab.root / "site-no-uv"
    build(site.lab, lax, "--base", "no-uv")
    with serve(lax) as port:
        site.chrome("goto", url=f"http://localhost:{port}/sign/{RID}/step-03.html")
        site.chrome("prepare", signer=kabid.principal, decision="approve")
        signed = site.chrome("sign", name="step-03-kabid.json")
    assert "Ditandatangani" in signed["message"], signed
    statement, signature = Path(signed["statement_path"]), Path(signed["signature_path"])
    stock = ssh_keygen_verify(site.lab, statement, signature, kabid.principal, 3)
    assert stock.returncode == 0, stock.stderr  # OpenSSH alone does not ask for UV
    folder = site.lab.request_file(RID).with_suffix(".approvals")
    shutil.copyfile(statement, folder / "step-03-kabid.json")
    shutil.copyfile(signature, folder / "step-03-kabid.json.sig")
    verify = sop(site.lab.repo, "verify", RID, "--verifier", VERIFIER)
    assert verify.returncode == 6, verify.stdout
    assert "[uv-required]" in verify.stdout


def test_a_return_with_quotes_and_non_ascii_text_is_canonical(site: Site) -> None:
    """The page's canonical JSON equals Python's byte for byte for the texts officials type
    (quotes, backslash, accents, CJK, an emoji): the pipeline refuses any other encoding."""
    enrol_all(site)
    site.flow.pipeline_step(1, datetime.now(UTC) - timedelta(minutes=5))
    site.sign(2)
    site.sign(3)
    reason = 'Surat "belum" ditandatangani \\ Kepala OPD: tanda tangan basah, é, 日本, 🙂'
    returned = site.sign(
        4, "incomplete", reason=reason, missing="letter.signature\nletter.number (nomor surat)"
    )
    data = Path(returned["statement"]).read_bytes()
    parsed = st.parse(data)  # refuses anything but the canonical encoding
    assert parsed.reason == reason
    assert parsed.missing == ("letter.signature", "letter.number (nomor surat)")
    assert st.canonical(parsed.to_json()) == data
    verify = sop(site.lab.repo, "verify", RID, "--verifier", VERIFIER)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    gate = sop(site.lab.repo, "gate", RID, "--step", "4", "--verifier", VERIFIER)
    assert gate.returncode == 7 and "[step-04-incomplete]" in gate.stdout + gate.stderr, gate.stdout
