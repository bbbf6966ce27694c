"""Deployers' SSH keys and the database of a request (issue 14): accepted when sound, and every
hostile or malformed value refused by the loader with the file, the field and the rule."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from sop_pipeline.domain.deploy_keys import canonical_key, parse_deploy_key
from sop_pipeline.domain.policy import Policy
from sop_pipeline.loader import RequestInvalid, load_request
from sop_pipeline.signing.sshwire import put_mpint, put_string
from tests.conftest import ASSETS

KEYS = ASSETS / "keys" / "deployers"
BASE = (ASSETS / "requests" / "valid" / "dinkes-simpus.yaml").read_text()
VALID = ASSETS / "requests" / "valid" / "deployers-and-database.yaml"


def key(name: str) -> str:
    return (KEYS / f"{name}.pub").read_text().strip()


def yaml_string(value: str) -> str:
    """``value`` as a YAML double-quoted scalar (escapes kept as YAML escapes)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\r", "\\r").replace("\0", "\\0") + '"'


def request_with(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "dinkes-simpus.yaml"
    path.write_text(BASE + extra)
    return path


def deployer_yaml(public_key: str, nip: str = "199001012015011001") -> str:
    return (
        f'  - name: Andi Pratama\n    nip: "{nip}"\n    ssh_public_key: {yaml_string(public_key)}\n'
    )


def refused(path: Path, policy: Policy) -> list[str]:
    with pytest.raises(RequestInvalid) as caught:
        load_request(path, policy=policy, check_attachments=False)
    return caught.value.diagnostics().splitlines()


def test_deployers_and_database_are_read_into_the_model(policy: Policy) -> None:
    request = load_request(VALID, policy=policy, check_attachments=False).request
    assert [d.nip for d in request.deployers] == ["199001012015011001", "199205142018022002"]
    assert request.deployers[0].ssh_public_key == key("ed25519")
    assert request.database is not None
    assert (request.database.engine, request.database.name) == ("mariadb", "simpus")
    assert request.database.size_gb == 5
    data = request.as_data()
    assert data["database"] == {"engine": "mariadb", "name": "simpus", "size_gb": 5}
    assert len(data["deployers"]) == 2


def test_a_request_without_them_keeps_its_old_shape(policy: Policy) -> None:
    path = ASSETS / "requests" / "valid" / "dinkes-simpus.yaml"
    request = load_request(path, policy=policy, check_attachments=False).request
    assert request.deployers == () and request.database is None
    assert "deployers" not in request.as_data() and "database" not in request.as_data()


@pytest.mark.parametrize("name", ["ed25519", "ecdsa", "rsa3072"])
def test_keys_of_allowed_types_parse_and_lose_their_comment(name: str) -> None:
    parsed, rule, _ = parse_deploy_key(key(name))
    assert parsed is not None and rule == ""
    assert canonical_key(key(name)) == " ".join(key(name).split()[:2])


def _sk_ed25519() -> str:
    blob = put_string("sk-ssh-ed25519@openssh.com") + put_string(b"\x11" * 32)
    blob += put_string("ssh:")
    return "sk-ssh-ed25519@openssh.com " + base64.b64encode(blob).decode()


def test_a_security_key_is_allowed() -> None:
    parsed, rule, _ = parse_deploy_key(_sk_ed25519())
    assert parsed is not None and parsed.is_security_key, rule


def _rsa_text(bits: int) -> str:
    blob = put_string("ssh-rsa") + put_mpint(65537) + put_mpint((1 << (bits - 1)) | 1)
    return "ssh-rsa " + base64.b64encode(blob).decode()


ED = key("ed25519")
ED_TYPE, ED_B64 = ED.split()[:2]

# (value, rule): every one must be refused with that rule.
HOSTILE = {
    "command-option": (f'command="/bin/sh -c id" {ED}', "deploy-key-options"),
    "from-option": (f'from="10.0.0.0/8" {ED}', "deploy-key-options"),
    "restrict-word": (f"restrict {ED}", "deploy-key-options"),
    "no-pty-word": (f"no-pty {ED}", "deploy-key-options"),
    "options-list": (f"no-pty,no-agent-forwarding {ED}", "deploy-key-options"),
    "environment": (f"environment=LD_PRELOAD=/tmp/x.so {ED}", "deploy-key-options"),
    "second-line": (f"{ED}\n{key('ed2')}", "deploy-key-one-line"),
    "newline-then-option": (f'{ED}\ncommand="id" {key("ed2")}', "deploy-key-one-line"),
    "carriage-return": (f"{ED}\r", "deploy-key-one-line"),
    "nul": (f"{ED}\0command=id", "deploy-key-one-line"),
    "tab-separated": (f"{ED_TYPE}\t{ED_B64}", "deploy-key-spacing"),
    "rsa-2048": (key("rsa2048"), "deploy-key-rsa-bits"),
    "rsa-1024-built": (_rsa_text(1024), "deploy-key-rsa-bits"),
    "rsa-1023-built": (_rsa_text(1023), "deploy-key-malformed"),  # under OpenSSH's own floor
    "rsa-3071-built": (_rsa_text(3071), "deploy-key-rsa-bits"),
    "dsa": ("ssh-dss AAAAB3NzaC1kc3MAAACBAP", "deploy-key-type"),
    "certificate": (
        f"ssh-ed25519-cert-v01@openssh.com {ED_B64}",
        "deploy-key-type",
    ),
    "type-mismatch": (f"ecdsa-sha2-nistp256 {ED_B64}", "deploy-key-malformed"),
    "bad-base64": (f"{ED_TYPE} AAAA!!!!", "deploy-key-malformed"),
    "truncated-blob": (f"{ED_TYPE} {ED_B64[:40]}", "deploy-key-malformed"),
    "trailing-data": (
        f"{ED_TYPE} " + base64.b64encode(base64.b64decode(ED_B64) + b"\0\0\0\1x").decode(),
        "deploy-key-malformed",
    ),
    "no-base64": ("ssh-ed25519", "deploy-key-malformed"),
    "comment-non-ascii": (f"{ED} andi@dinkés", "deploy-key-comment"),
    "private-key-pasted": ("-----BEGIN OPENSSH PRIVATE KEY-----", "deploy-key-type"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_or_malformed_key_is_refused_with_its_rule(case: str) -> None:
    value, rule = HOSTILE[case]
    parsed, found, message = parse_deploy_key(value)
    assert parsed is None and found == rule, (found, message)
    assert message and "\n" not in message


@pytest.mark.parametrize("case", ["command-option", "rsa-2048", "second-line", "bad-base64"])
def test_the_loader_names_the_file_the_deployer_and_the_rule(
    tmp_path: Path, policy: Policy, case: str
) -> None:
    value, rule = HOSTILE[case]
    path = request_with(tmp_path, "deployers:\n" + deployer_yaml(value))
    lines = refused(path, policy)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}:")
    assert "deployers.0.ssh_public_key" in lines[0] and lines[0].endswith(f"[{rule}]")


def test_the_rsa_message_says_how_long_it_is_and_what_to_do(tmp_path: Path, policy: Policy) -> None:
    path = request_with(tmp_path, "deployers:\n" + deployer_yaml(key("rsa2048")))
    (line,) = refused(path, policy)
    assert "2048 bit terlalu pendek; minimal 3072 bit" in line and "ssh-keygen -t ed25519" in line


def test_the_same_key_or_nip_twice_is_refused(tmp_path: Path, policy: Policy) -> None:
    twice = deployer_yaml(key("ed25519")) + deployer_yaml(key("ed25519"), "199205142018022002")
    lines = refused(request_with(tmp_path, "deployers:\n" + twice), policy)
    assert [line.rsplit("[", 1)[1] for line in lines] == ["deploy-key-duplicate]"]
    same_nip = deployer_yaml(key("ed25519")) + deployer_yaml(key("ed2"))
    lines = refused(request_with(tmp_path, "deployers:\n" + same_nip), policy)
    assert [line.rsplit("[", 1)[1] for line in lines] == ["deployer-duplicate]"]


def test_an_empty_list_and_a_missing_key_are_schema_errors(tmp_path: Path, policy: Policy) -> None:
    lines = refused(request_with(tmp_path, "deployers: []\n"), policy)
    assert lines and lines[0].endswith("[minItems]") and "deployers" in lines[0]
    lines = refused(
        request_with(tmp_path, 'deployers:\n  - name: Andi\n    nip: "199001012015011001"\n'),
        policy,
    )
    assert any("deployers.0.ssh_public_key" in line and "[required]" in line for line in lines)


@pytest.mark.parametrize(
    ("database", "field", "rule"),
    [
        ("{engine: mysql, name: simpus}", "database.engine", "enum"),
        ("{engine: oracle, name: simpus}", "database.engine", "enum"),
        ('{engine: mariadb, name: "simpus; DROP DATABASE mysql"}', "database.name", "pattern"),
        ("{engine: postgresql, name: \"x' OR '1'='1\"}", "database.name", "pattern"),
        ('{engine: mariadb, name: "simpus`"}', "database.name", "pattern"),
        ('{engine: mariadb, name: "Simpus"}', "database.name", "pattern"),
        ('{engine: mariadb, name: "1simpus"}', "database.name", "pattern"),
        ('{engine: mariadb, name: "simpus-db"}', "database.name", "pattern"),
        ('{engine: mariadb, name: "a' + "b" * 63 + '"}', "database.name", "maxLength"),
        ("{engine: postgresql, name: postgres}", "database.name", "database-reserved"),
        ("{engine: mariadb, name: mysql}", "database.name", "database-reserved"),
        ("{engine: mariadb, name: simpus, size_gb: 500}", "database.size_gb", "database-size"),
        ("{engine: mariadb, name: simpus, user: root}", "database.user", "additionalProperties"),
        ("{engine: mariadb}", "database.name", "required"),
    ],
)
def test_a_bad_database_is_refused_by_field_and_rule(
    tmp_path: Path, policy: Policy, database: str, field: str, rule: str
) -> None:
    path = request_with(tmp_path, f"database: {database}\n")
    lines = refused(path, policy)
    assert any(f" {field}: " in line and line.endswith(f"[{rule}]") for line in lines), lines
    assert all(line.startswith(f"{path}:") for line in lines)


def test_the_sql_message_says_what_a_name_may_hold(tmp_path: Path, policy: Policy) -> None:
    path = request_with(tmp_path, 'database: {engine: mariadb, name: "a; DROP TABLE x"}\n')
    (line,) = refused(path, policy)
    assert "bukan perintah SQL" in line and "huruf kecil a-z" in line


def test_an_engine_the_policy_does_not_list_is_refused(tmp_path: Path, policy: Policy) -> None:
    only_pg = Policy(**{**policy.__dict__, "database_engines": frozenset({"postgresql"})})
    path = request_with(tmp_path, "database: {engine: mariadb, name: simpus}\n")
    (line,) = refused(path, only_pg)
    assert line.endswith("[allowed-database-engine]") and "pilih salah satu: postgresql" in line


def test_the_repositorys_policy_lists_both_engines(policy: Policy) -> None:
    assert policy.database_engines == {"mariadb", "postgresql"}
    assert policy.database_size_gb.minimum >= 1
