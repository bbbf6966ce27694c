"""A Kabid who signs in a browser: `sop sign` writes the statement, the WebAuthn credential
signs it (as the signing page will), `sop verify` and stock ssh-keygen accept it."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from sop_pipeline.cli.signing import COMMANDS
from sop_pipeline.demo.officials import T0, Lab, Official, RequestFlow, keyring_texts
from sop_pipeline.signing import statement as st
from tests.support.softkeys import SoftWebAuthn

pytestmark = pytest.mark.integration

RID = "dinkes-simpus"


def cli(lab: Lab, *args: str) -> tuple[int, str]:
    command = {c.name: c for c in COMMANDS}[args[0]]
    result = CliRunner().invoke(command, [*args[1:], "--repo", str(lab.repo)])
    return result.exit_code, result.output


def at(minute: int) -> str:
    return (T0 + timedelta(minutes=minute)).isoformat()


@pytest.fixture
def browser_lab(tmp_path: Path, officials: dict[str, Official]) -> tuple[Lab, SoftWebAuthn]:
    token = SoftWebAuthn("localhost")
    texts = keyring_texts(officials)
    kabid = officials["kabid"]
    texts["allowed_signers"] = texts["allowed_signers"].replace(
        kabid.public_line, token.public_line
    )
    texts["roles.toml"] = texts["roles.toml"].replace(
        "max_statement_days = 30",
        'max_statement_days = 30\nwebauthn_rp_id = "localhost"\nrequire_uv = ["kabid"]',
    )
    lab = Lab(tmp_path / "lab", officials, keyring=texts)
    lab.write_request(RID)
    RequestFlow(lab, RID, records=lab.repo / "records").pipeline_step(1, T0)
    return lab, token


def test_statement_signed_in_the_browser_verifies(browser_lab: tuple[Lab, SoftWebAuthn]) -> None:
    lab, token = browser_lab
    o = lab.officials
    code, out = cli(lab, "keyring", "lint", "--base", "main", "--at", at(0))
    assert code == 0 and "0 kesalahan" in out, out
    code, out = cli(lab, "sign", RID, "--decision", "approve", "--signer", o["kadis"].principal,
                    "--key", str(o["kadis"].key), "--at", at(1))  # fmt: skip
    assert code == 0, out
    # The Kabid's key file is no key of the keyring any more: refused before writing.
    code, out = cli(lab, "sign", RID, "--decision", "approve", "--signer", o["kabid"].principal,
                    "--key", str(o["kabid"].key), "--at", at(2))  # fmt: skip
    assert code == 6 and "[not-allowed-signer]" in out, out
    code, out = cli(lab, "sign", RID, "--decision", "approve", "--signer", o["kabid"].principal,
                    "--at", at(2), "--json")  # fmt: skip
    assert code == 0, out
    statement = Path(json.loads(out)["statement"])
    assert json.loads(out)["step"] == 3 and statement.name == "step-03-kabid.json"
    signature = statement.with_name(statement.name + ".sig")

    signature.write_bytes(token.sign(statement.read_bytes(), st.namespace(3), flags=0x01))
    code, out = cli(lab, "verify", RID, "--at", at(3), "--json")
    assert code == 6, out
    row = next(r for r in json.loads(out)["requests"][0]["statements"] if r["step"] == 3)
    assert (row["user_present"], row["user_verified"]) == (True, False)
    assert any("[uv-required]" in p for p in row["problems"]), row

    signature.write_bytes(token.sign(statement.read_bytes(), st.namespace(3)))  # touch + PIN
    code, out = cli(lab, "verify", RID, "--at", at(3), "--json")
    assert code == 0, out
    row = next(r for r in json.loads(out)["requests"][0]["statements"] if r["step"] == 3)
    assert (row["user_present"], row["user_verified"]) == (True, True)
    assert row["webauthn_origin"] == "https://localhost" and row["problems"] == []

    allowed = lab.root / "allowed_signers"
    allowed.write_text(lab.git("show", "main:approvers/allowed_signers"))
    done = subprocess.run(
        ["ssh-keygen", "-Y", "verify", "-f", str(allowed), "-I", o["kabid"].principal,
         "-n", st.namespace(3), "-s", str(signature)],
        input=statement.read_bytes(), capture_output=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and b"with ECDSA-SK key" in done.stdout, done.stderr
