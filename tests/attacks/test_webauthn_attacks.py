"""WebAuthn attacks: browser signatures (``webauthn-sk-ecdsa``) the gates must refuse.

The Kabid enrols a WebAuthn credential (RP ID ``localhost``) as the new key of a marked
rotation, so the step-3 statement signed before stays valid; the keyring requires UV for the
Kabid (``policy.require_uv``). The honest control (a browser signature after a touch and a
PIN) opens gate 8 with both verifiers; each attack changes one thing a hostile page, another
site or a lazy authenticator could change, and must be refused for its own rule.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sop_pipeline.demo.officials import Lab, keyring_texts, signer_line
from sop_pipeline.signing import statement as st
from sop_pipeline.signing import webauthn
from sop_pipeline.signing.sshkeys import parse_key_text
from tests.attacks.harness import OTHER, Scene, Target, attempt, refused
from tests.support.softkeys import SoftWebAuthn, to_sign

pytestmark = pytest.mark.integration

RP_ID = "localhost"
UP, UV = webauthn.FLAG_UP, webauthn.FLAG_UV


def enrol(
    s: Scene,
    *,
    token_rp_id: str = RP_ID,
    policy_rp_id: str = RP_ID,
    require_uv: tuple[str, ...] = ("kabid",),
) -> SoftWebAuthn:
    """The Kabid's browser credential on the base branch, as the keyring MR would add it."""
    kabid = s.o["kabid"]
    token = SoftWebAuthn(token_rp_id)
    texts = keyring_texts(s.o)
    texts["allowed_signers"] += signer_line(kabid.principal, kabid.role, token.public_line) + "\n"
    policy = f'max_statement_days = 30\nwebauthn_rp_id = "{policy_rp_id}"\n'
    policy += "require_uv = [" + ", ".join(f'"{r}"' for r in require_uv) + "]"
    texts["roles.toml"] = texts["roles.toml"].replace("max_statement_days = 30", policy)
    old = parse_key_text(kabid.public_line).fingerprint
    texts["roles.toml"] += (
        f'\n[[rotations]]\nprincipal = "{kabid.principal}"\nold_key = "{old}"\n'
        'until = "20301231Z"\n'
    )
    s.lab.update_base(texts, "keyring: the Kabid enrols a WebAuthn credential")
    three = s.dir / "step-03-kabid.json"  # the Kabid's earlier statement, now made with UV
    (s.dir / "step-03-kabid.json.sig").write_bytes(token.sign(three.read_bytes(), st.namespace(3)))
    return token


def browser(rule: str, lint_rule: str = "", **sign: object) -> Callable[[Scene], Target]:
    """Step 7 signed in a browser with the given deviations (SoftWebAuthn.sign keywords)."""

    def attack(s: Scene) -> Target:
        token = enrol(s, token_rp_id=str(sign.pop("site", RP_ID)))
        data = s.statement().to_bytes()
        s.put(data, token.sign(data, st.namespace(7), **sign))  # type: ignore[arg-type]
        return Target(rule=rule, lint_rule=lint_rule)

    return attack


def client_data(edit: Callable[[bytes], bytes]) -> Callable[[Scene], Target]:
    def attack(s: Scene) -> Target:
        token = enrol(s)
        data = s.statement().to_bytes()
        signed = to_sign(st.namespace(7), "sha512", data)
        cdj = edit(webauthn.client_data_json(signed, f"https://{RP_ID}"))
        s.put(data, token.sign(data, st.namespace(7), client_data=cdj))
        rule = "[bad-signature]" if b"webauthn.create" in cdj else "[webauthn-cross-origin]"
        return Target(rule=rule)

    return attack


def statement_edited_after_signing(s: Scene) -> Target:
    """The page displayed one statement and a script changed it before the file was written."""
    token = enrol(s)
    shown = s.statement().to_bytes()
    edited = s.statement(reason="Disetujui tanpa syarat").to_bytes()
    s.put(edited, token.sign(shown, st.namespace(7)))
    return Target(rule="[bad-signature]")


def replayed_on_another_request(s: Scene) -> Target:
    """A good browser signature of another request's decision, dropped into this one."""
    token = enrol(s)
    s.lab.write_request(OTHER)
    other = s.statement(request_id=OTHER).to_bytes()
    s.put(other, token.sign(other, st.namespace(7)))
    return Target(rule="[other-request]")


def signed_for_step_6(s: Scene) -> Target:
    """The challenge was built for another step's namespace."""
    token = enrol(s)
    data = s.statement().to_bytes()
    s.put(
        data, token.sign(data, st.namespace(7), challenge=to_sign(st.namespace(6), "sha512", data))
    )
    return Target(rule="[bad-signature]")


def rp_id_unset(s: Scene) -> Target:
    """A keyring that names no RP ID accepts no browser signature (and lint says why)."""
    token = enrol(s, policy_rp_id="")
    data = s.statement().to_bytes()
    s.put(data, token.sign(data, st.namespace(7)))
    return Target(rule="[keyring-invalid]", lint_rule="sk-application-not-rp-id")


ATTACKS: dict[str, Callable[[Scene], Target]] = {
    "credential of another RP ID (enrolled)": browser(
        "[keyring-invalid]",
        lint_rule="sk-application-not-rp-id",
        site="evil.example",
        origin="https://evil.example",
    ),
    "authenticatorData of another RP ID": browser("[bad-signature]", auth_rp_id="evil.example"),
    "UV missing where the keyring requires it": browser("[uv-required]", flags=UP),
    "UP missing": browser("[sk-no-touch]", flags=UV),
    "no flags at all": browser("[sk-no-touch]", flags=0),
    "origin of another site": browser("[webauthn-wrong-origin]", origin="https://evil.example"),
    "origin on a look-alike host": browser(
        "[webauthn-wrong-origin]", origin="http://localhost.evil.example"
    ),
    "challenge of another message": browser(
        "[bad-signature]", challenge=to_sign(st.namespace(7), "sha512", b"{}")
    ),
    "type webauthn.create": client_data(
        lambda cdj: cdj.replace(b"webauthn.get", b"webauthn.create")
    ),
    "crossOrigin true": client_data(lambda cdj: cdj[:-1] + b',"crossOrigin":true}'),
    "statement edited after display": statement_edited_after_signing,
    "replayed on another request": replayed_on_another_request,
    "challenge for the step-6 namespace": signed_for_step_6,
    "keyring without webauthn_rp_id": rp_id_unset,
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_webauthn_attack_is_refused(name: str, lab: Lab, tally: dict[str, int]) -> None:
    refused(name, lab, tally, ATTACKS[name])


def test_honest_browser_signature_opens_the_gate(lab: Lab) -> None:
    """The control: without it every refusal above could be for a reason of the setup."""
    s = Scene(lab)
    token = enrol(s)
    data = s.statement().to_bytes()
    s.put(data, token.sign(data, st.namespace(7), origin="http://localhost:8080"))
    accepted, reasons, disagreements = attempt(lab, Target())
    assert accepted == {"native": True, "ssh-keygen": True}, reasons
    assert disagreements == 0


def test_uv_not_required_accepts_a_touch_only(lab: Lab) -> None:
    """Without policy.require_uv for the role, a touch (UP) is enough."""
    s = Scene(lab)
    token = enrol(s, require_uv=())
    data = s.statement().to_bytes()
    s.put(data, token.sign(data, st.namespace(7), flags=UP))
    accepted, reasons, _ = attempt(lab, Target())
    assert accepted == {"native": True, "ssh-keygen": True}, reasons
