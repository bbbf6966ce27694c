"""Infrastructure settings: lab.json and SOP_* variables read, secrets never shown."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from sop_pipeline.adapters.infrastructure import Infrastructure, parse_tsig_key, read_public_keys
from sop_pipeline.errors import ConfigError

TOKEN = "root@pam!sop=3f0c1b9e-8d1a-4f61-9b4e-0a2c5d7e9f11"  # noqa: S105 - fake, for the test
SECRET = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I="  # noqa: S105 - fake, for the test
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEi2JptnezdYNyec0JtsKltgffUiJICpRkUS4LHB1m0 admin@sop"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    values = {
        "SOP_PVE_URL": "https://pve.example.invalid:8006",
        "SOP_PVE_TOKEN_FILE": str(write(tmp_path / "token", TOKEN + "\n")),
        "SOP_ALLOCATOR_DSN": "postgresql://sop:hunter2@db.example.invalid:5432/sop",
        "SOP_DNS_SERVER": "192.0.2.53",
        "SOP_SSH_PUBLIC_KEYS_FILE": str(write(tmp_path / "keys", f"# admins\n\n{KEY}\n")),
    }
    values.update(extra)
    return values


def test_from_env_reads_files_and_shows_no_secret(tmp_path: Path) -> None:
    key_file = write(
        tmp_path / "tsig.key",
        f'key "sop-pipeline" {{\n  algorithm hmac-sha512;\n  secret "{SECRET}";\n}};\n',
    )
    infra = Infrastructure.from_env(env(tmp_path, SOP_TSIG_KEY_FILE=str(key_file)))
    assert infra.environment == "production" and infra.pve_token == TOKEN
    assert infra.tsig is not None and infra.tsig.algorithm == "hmac-sha512"
    assert infra.ssh_public_keys == (KEY,)
    assert infra.netns is None and infra.terraform_pg_conn_str is None
    shown = repr(infra) + "\n".join(infra.describe())
    for secret in (TOKEN.split("=")[1], SECRET, "hunter2"):
        assert secret not in shown
    assert "postgresql://sop:***@db.example.invalid:5432/sop" in "\n".join(infra.describe())


def test_from_env_token_from_a_variable_and_no_tsig_for_the_analysis(tmp_path: Path) -> None:
    values = env(tmp_path, SOP_PVE_TOKEN=TOKEN, SOP_ENVIRONMENT="lab", SOP_DNS_PORT="5353")
    del values["SOP_PVE_TOKEN_FILE"]
    infra = Infrastructure.from_env(values)
    assert (infra.environment, infra.dns_port, infra.tsig) == ("lab", 5353, None)
    with pytest.raises(ConfigError, match="SOP_TSIG_KEY_FILE"):
        infra.require_tsig()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"SOP_PVE_URL": ""}, "SOP_PVE_URL belum diatur"),
        ({"SOP_PVE_TOKEN_FILE": ""}, "Token API Proxmox belum diatur"),
        ({"SOP_PVE_TOKEN_FILE": "/nonexistent/token"}, "/nonexistent/token tidak dapat dibaca"),
        ({"SOP_ENVIRONMENT": "staging"}, "tidak dikenal"),
        ({"SOP_PVE_URL": "http://pve:8006"}, "harus https"),
        ({"SOP_DNS_PORT": "dns"}, "bukan angka"),
    ],
)
def test_from_env_says_what_is_missing(
    tmp_path: Path, change: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        Infrastructure.from_env(env(tmp_path, **change))


def test_tsig_keys_in_both_forms() -> None:
    key = parse_tsig_key(f'key "k1" {{ algorithm hmac-sha256; secret "{SECRET}"; }};')
    assert (key.name, key.algorithm, key.secret) == ("k1", "hmac-sha256", SECRET)
    assert parse_tsig_key(SECRET + "\n").secret == SECRET
    assert SECRET not in repr(key)
    with pytest.raises(ConfigError):
        parse_tsig_key("not a key; rm -rf /")
    with pytest.raises(ConfigError, match="secret"):
        parse_tsig_key('key "k1" { algorithm hmac-sha256; };')


def test_public_keys_file_must_hold_a_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tidak memuat satu kunci"):
        read_public_keys(write(tmp_path / "empty", "# nothing\n"))


def test_from_lab_reads_lab_json(tmp_path: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        message = "ssh-keygen is needed to make the lab key: apt-get install openssh-client"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    secret = write(tmp_path / "tsig", SECRET + "\n")
    token = write(tmp_path / "pve-token", TOKEN + "\n")
    info = {
        "namespace": "soplab",
        "pve_url": "https://10.99.0.1:8006",
        "pve_token_file": str(token),
        "pve_cafile": str(tmp_path / "pve.crt"),
        "dns_server": "10.99.0.2",
        "dns_port": 53,
        "tsig_key_name": "sop-pipeline",
        "tsig_secret_file": str(secret),
    }
    write(tmp_path / "lab.json", json.dumps(info))
    infra = Infrastructure.from_lab(tmp_path)
    assert (infra.environment, infra.netns, infra.dns_server) == ("lab", "soplab", "10.99.0.2")
    assert infra.allocator_dsn == f"sqlite:///{tmp_path / 'allocator.sqlite'}"
    assert infra.terraform_work_root == tmp_path / "terraform"
    assert infra.ssh_public_keys[0].startswith("ssh-ed25519 ")
    assert Infrastructure.from_lab(tmp_path).ssh_public_keys == infra.ssh_public_keys  # kept


def test_from_lab_without_a_lab_says_to_start_it(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sop lab up"):
        Infrastructure.from_lab(tmp_path)


def test_the_per_node_terraform_bound_comes_from_the_settings(tmp_path: Path) -> None:
    assert Infrastructure.from_env(env(tmp_path)).terraform_parallel_per_node == 2
    infra = Infrastructure.from_env(env(tmp_path, SOP_TF_PARALLEL_PER_NODE="3"))
    limiter = infra.node_limiter()
    assert (limiter.per_node, limiter.dsn, limiter.postgres) == (3, infra.allocator_dsn, True)
    assert "paling banyak 3 sekaligus per node" in "\n".join(infra.describe())
    with pytest.raises(ConfigError, match="SOP_TF_PARALLEL_PER_NODE"):
        Infrastructure.from_env(env(tmp_path, SOP_TF_PARALLEL_PER_NODE="dua"))
    with pytest.raises(ConfigError, match="paling sedikit 1"):
        Infrastructure.from_env(env(tmp_path, SOP_TF_PARALLEL_PER_NODE="0"))
