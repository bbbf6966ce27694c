"""The database credentials of step 8: age-encrypted to the deployers' keys, and nowhere else.

Real binaries: ``ssh-keygen`` makes the deployers' keys and a stranger's, the ``age`` CLI
encrypts and decrypts. Step 8 runs through the real :class:`InfraProvisioner` with the
in-memory fakes of the outside systems (tests/support), so the run's log lines, its
HostingResult (what the ledger records and the reports are built from) and the extra vars
Ansible gets can all be searched for the password.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from dataclasses import asdict
from pathlib import Path

import pytest

from sop_pipeline.adapters import age
from sop_pipeline.domain.credentials import CREDENTIALS_FILE, database_password
from sop_pipeline.domain.policy import Policy
from sop_pipeline.loader import load_request
from tests.unit.test_provisioning_flow import World

pytestmark = pytest.mark.integration

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "requests"
VALID = ASSETS / "valid"
TREE = ASSETS / "trees" / "deployers-and-database" / "requests"


def _require_age() -> None:
    for tool, package in (("age", "age"), ("ssh-keygen", "openssh-client")):
        if shutil.which(tool) is None:
            message = f"{tool} not found: apt-get install {package} (.ci/setup/base.sh)"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)


def _keygen(folder: Path, name: str, *kind: str) -> Path:
    path = folder / name
    subprocess.run(
        ["ssh-keygen", "-q", "-N", "", "-C", f"{name}@opd", "-f", str(path), *kind], check=True
    )
    return path


@pytest.fixture
def run(tmp_path: Path, policy: Policy) -> dict[str, object]:
    _require_age()
    keys = tmp_path / "keys"
    keys.mkdir()
    andi = _keygen(keys, "andi", "-t", "ed25519")
    sari = _keygen(keys, "sari", "-t", "rsa", "-b", "3072")
    stranger = _keygen(keys, "stranger", "-t", "ed25519")
    folder = tmp_path / "requests"
    shutil.copytree(TREE / "simpus", folder / "simpus")  # the letter
    path = folder / "simpus.yaml"
    letter = (folder / "simpus" / "surat-permintaan.pdf").read_bytes()
    text = (VALID / "deployers-and-database.yaml").read_text()
    text = text.replace(
        "deployers-and-database/surat-permintaan.pdf", "simpus/surat-permintaan.pdf"
    )
    text = re.sub(
        r'sha256: "[0-9a-f]{64}"', f'sha256: "{hashlib.sha256(letter).hexdigest()}"', text
    )
    path.write_text(text)
    lines = path.read_text().splitlines(keepends=True)
    pubs = iter([andi, sari])
    for i, line in enumerate(lines):
        if "ssh_public_key:" in line:
            key = next(pubs).with_suffix(".pub").read_text().strip()
            lines[i] = line.split("ssh_public_key:")[0] + f'ssh_public_key: "{key}"\n'
    path.write_text("".join(lines))
    world = World(tmp_path, policy)
    world.request = load_request(path, policy=policy)
    world.provisioner.infra.ssh_private_key.write_bytes(os.urandom(64))  # type: ignore[union-attr]
    world.provisioner.handover_dir = tmp_path / "records" / "reports"
    result = world.provision()
    secret = world.provisioner.infra.ssh_private_key.read_bytes()  # type: ignore[union-attr]
    assert world.request.request.database is not None
    password = database_password(secret, "simpus", world.request.request.database)
    return {
        "world": world,
        "result": result,
        "password": password,
        "sealed": tmp_path / "records" / "reports" / "simpus" / CREDENTIALS_FILE,
        "andi": andi,
        "sari": sari,
        "stranger": stranger,
    }


def test_each_deployer_opens_the_credentials_and_a_stranger_does_not(
    run: dict[str, object],
) -> None:
    sealed = Path(str(run["sealed"])).read_bytes()
    assert sealed.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    assert str(run["password"]).encode() not in sealed
    for who in ("andi", "sari"):
        text = age.decrypt(sealed, Path(str(run[who]))).decode()
        assert f"password={run['password']}\n" in text
        assert "database=simpus\n" in text and "host=127.0.0.1\n" in text
    with pytest.raises(age.AgeError):
        age.decrypt(sealed, Path(str(run["stranger"])))


def test_the_password_reaches_ansible_only_and_no_log_report_or_record(
    run: dict[str, object],
) -> None:
    world = run["world"]
    assert isinstance(world, World)
    password = str(run["password"])
    (call,) = world.ansible.calls
    assert call["extravars"]["sop_database_password"] == password  # the private data dir's file
    assert not any(password in line for line in world.lines)
    recorded = json.dumps(asdict(run["result"]), default=str)  # type: ignore[call-overload]
    assert password not in recorded
    # what the Berita Acara lists instead: the file and the recipients' fingerprints
    fingerprints = [
        subprocess.run(
            ["ssh-keygen", "-lf", f"{run[w]}.pub"], capture_output=True, text=True, check=True
        ).stdout.split()[1]
        for w in ("andi", "sari")
    ]
    handed = next(c for c in run["result"].checks if c.name.startswith("Kredensial"))  # type: ignore[attr-defined]
    assert CREDENTIALS_FILE in handed.detail
    assert all(fp in handed.detail for fp in fingerprints)


def test_the_password_is_derived_the_same_on_a_rerun_and_differs_elsewhere(
    run: dict[str, object],
) -> None:
    world = run["world"]
    assert isinstance(world, World)
    secret = world.provisioner.infra.ssh_private_key.read_bytes()  # type: ignore[union-attr]
    database = world.request.request.database
    assert database is not None
    again = database_password(secret, "simpus", database)
    assert again == run["password"] and len(again) == 32 and again.isalnum()
    assert database_password(secret, "simpus-2", database) != again
    assert database_password(secret + b"x", "simpus", database) != again
