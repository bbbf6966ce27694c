"""The Ansible adapter's pure parts: unsafe extra vars, pinned keys, settings, errors."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from sop_pipeline.adapters import ansible as adapter
from sop_pipeline.errors import AdapterError, ConfigError
from tests.conftest import ASSETS, REPO

#: The checkout's playbooks, roles and inventories (the pipeline passes the base commit's).
TREE = adapter.AnsibleTree.under(REPO)

HOSTILE = "{{ lookup('pipe', 'id') }}; $(id) `id` | rm -rf / && echo '\"x\"' {% raw %}"


def _load_with_ansible(text: str, tmp_path: Path) -> Any:
    """Load YAML the way ansible-playbook loads ``-e @file`` (a file trusted as template)."""
    from ansible.parsing.dataloader import DataLoader

    path = tmp_path / "extravars"
    path.write_text(text)
    return DataLoader().load_from_file(str(path), trusted_as_template=True)


def _strings(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_every_string_in_extravars_is_untrusted_for_templating(tmp_path: Path) -> None:
    from ansible.template import is_trusted_as_template

    values = {
        "sop_request_id": "dinkes-simpus",
        "sop_request": {
            "hostname": "simpus",
            "application": {"name": HOSTILE, "stack": "php"},
            "period": {"start": dt.date(2026, 1, 2)},
            "resources": {"vcpu": 2, "public": True, "note": None},
            "tags": ["a", HOSTILE, "010", "yes", "22:22", "null"],
        },
    }
    loaded = _load_with_ansible(adapter.render_extravars(values), tmp_path)
    strings = _strings(loaded)
    assert len(strings) == 11
    assert not any(is_trusted_as_template(s) for s in strings)
    assert loaded["sop_request"]["application"]["name"] == HOSTILE
    assert loaded["sop_request"]["tags"] == ["a", HOSTILE, "010", "yes", "22:22", "null"]
    assert loaded["sop_request"]["period"]["start"] == "2026-01-02"
    assert loaded["sop_request"]["resources"] == {"vcpu": 2, "public": True, "note": None}


def test_plain_yaml_would_be_trusted_which_is_why_we_mark(tmp_path: Path) -> None:
    """The danger the marking removes: a plain string from an extra-vars file is a template."""
    from ansible.template import is_trusted_as_template

    loaded = _load_with_ansible("name: \"{{ lookup('pipe', 'id') }}\"\n", tmp_path)
    assert is_trusted_as_template(loaded["name"])


@pytest.mark.parametrize("bad", [{"a-b": 1}, {"x": {"not ok": 1}}, {"x": {1: 2}}])
def test_extravars_refuses_keys_that_are_not_identifiers(bad: dict[Any, Any]) -> None:
    with pytest.raises(ConfigError):
        adapter.render_extravars(bad)


def test_extravars_refuses_unknown_types() -> None:
    with pytest.raises(ConfigError, match="type"):
        adapter.render_extravars({"x": object()})


def test_known_hosts_pins_the_given_keys_only() -> None:
    text = adapter.known_hosts_text(
        "10.99.0.150", ["ssh-ed25519 AAAAC3Nza root@vm", "ecdsa-sha2-nistp256 AAAAE2V"]
    )
    assert text == ("10.99.0.150 ssh-ed25519 AAAAC3Nza\n10.99.0.150 ecdsa-sha2-nistp256 AAAAE2V\n")
    assert adapter.known_hosts_text("10.0.0.5", ["ssh-ed25519 AAAA"], port=2222).startswith(
        "[10.0.0.5]:2222 "
    )


@pytest.mark.parametrize("keys", [[], ["not-a-key"], ["ssh-ed25519"]])
def test_known_hosts_refuses_to_trust_on_first_use(keys: list[str]) -> None:
    with pytest.raises(ConfigError):
        adapter.known_hosts_text("10.99.0.150", keys)


@pytest.mark.parametrize(
    ("address", "user", "port"),
    [("vm.example", "sop", 22), ("10.99.0.150", "Root;id", 22), ("10.99.0.150", "sop", 0)],
)
def test_target_is_checked(address: str, user: str, port: int) -> None:
    with pytest.raises(ConfigError):
        adapter.SshTarget(address, user, Path("/k"), Path("/kh"), port)


def test_inventory_pins_host_keys_without_tofu(tmp_path: Path) -> None:
    target = adapter.SshTarget("10.99.0.150", "sop", tmp_path / "id", tmp_path / "known hosts")
    host = adapter._inventory(target)["all"]["children"]["sop_servers"]["hosts"]["sop_target"]
    args = host["ansible_ssh_common_args"]
    assert "-o StrictHostKeyChecking=yes" in args
    assert f"-o UserKnownHostsFile='{tmp_path / 'known hosts'}'" in args
    assert "-o GlobalKnownHostsFile=/dev/null" in args
    assert host["ansible_host"] == "10.99.0.150"


def test_settings_per_tuning() -> None:
    defaults = adapter.ansible_settings(adapter.Tuning.DEFAULTS, TREE.roles)
    tuned = adapter.ansible_settings(adapter.Tuning.TUNED, TREE.roles)
    assert "ANSIBLE_PIPELINING" not in defaults
    assert defaults["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    assert tuned["ANSIBLE_PIPELINING"] == "True"
    assert tuned["ANSIBLE_GATHERING"] == "explicit"
    assert tuned["ANSIBLE_TIMEOUT"] == str(adapter.CONNECT_TIMEOUT_SECONDS) == "60"
    assert "ControlPersist" in tuned["ANSIBLE_SSH_ARGS"]
    assert "ANSIBLE_STRATEGY" not in tuned


def test_mitogen_is_used_when_supported_else_tuned() -> None:
    chosen = adapter.resolve_tuning(adapter.Tuning.AUTO)
    if adapter.mitogen_supported():
        assert chosen is adapter.Tuning.MITOGEN
        env = adapter.ansible_settings(chosen, TREE.roles)
        assert env["ANSIBLE_STRATEGY"] == "mitogen_linear"
        assert (Path(env["ANSIBLE_STRATEGY_PLUGINS"]) / "mitogen_linear.py").is_file()
    else:
        assert chosen is adapter.Tuning.TUNED
    assert adapter.resolve_tuning(adapter.Tuning.DEFAULTS) is adapter.Tuning.DEFAULTS


def test_tuning_settings_are_what_a_run_is_given() -> None:
    """Molecule takes its settings from tuning_settings(): the same as run_playbook's."""
    chosen, env = adapter.tuning_settings(TREE.roles)
    assert chosen is adapter.resolve_tuning(adapter.Tuning.AUTO)
    assert env == adapter.ansible_settings(chosen, TREE.roles)
    assert env["ANSIBLE_PIPELINING"] == "True" and env["ANSIBLE_GATHERING"] == "explicit"
    tuned, tuned_env = adapter.tuning_settings(TREE.roles, adapter.Tuning.TUNED)
    assert tuned is adapter.Tuning.TUNED and "ANSIBLE_STRATEGY" not in tuned_env


def _result(status: str = "successful", rc: int = 0, **kw: Any) -> adapter.PlaybookResult:
    base: dict[str, Any] = {
        "playbook": "site.yml",
        "status": status,
        "rc": rc,
        "tuning": adapter.Tuning.TUNED,
        "seconds": 1.0,
        "stats": {},
        "changed_tasks": (),
        "failures": (),
        "unreachable": (),
    }
    base.update(kw)
    return adapter.PlaybookResult(**base)


TARGET = adapter.SshTarget("10.99.0.150", "sop", Path("/k"), Path("/kh"))
UNREACH = adapter.TaskFailure("sop_target", "Gathering", "Connection refused")
HOSTKEY = adapter.TaskFailure("sop_target", "x", "Host key verification failed.")
FAILED = adapter.TaskFailure("sop_target", "Install nginx", "No package matching", "apt")
WAITED = adapter.TaskFailure(
    "sop_target", "Wait", "timed out waiting for ping", "ansible.builtin.wait_for_connection"
)


@pytest.mark.parametrize(
    ("result", "error"),
    [
        (_result("timeout", 254), adapter.AnsibleTimedOut),
        (_result("failed", 4, unreachable=(UNREACH,)), adapter.AnsibleUnreachable),
        (_result("failed", 4, unreachable=(HOSTKEY,)), adapter.AnsibleHostKeyRejected),
        (_result("failed", 2, failures=(WAITED,)), adapter.AnsibleUnreachable),
        (_result("failed", 2, failures=(FAILED,)), adapter.AnsibleTaskFailed),
        (_result("failed", 1), adapter.AnsibleError),
    ],
)
def test_each_way_of_failing_has_its_own_error(
    result: adapter.PlaybookResult, error: type[adapter.AnsibleError]
) -> None:
    with pytest.raises(error) as caught:
        adapter._raise_for(result, TARGET)
    assert type(caught.value) is error
    assert isinstance(caught.value, AdapterError)
    text = caught.value.diagnostics()
    assert text
    if error is not adapter.AnsibleError:  # Indonesian first, then English
        assert any(w in text for w in ("Server", "Konfigurasi", "Kunci"))


def test_a_successful_run_raises_nothing() -> None:
    adapter._raise_for(_result(), TARGET)


def test_events_are_read_from_the_handlers() -> None:
    log = adapter._EventLog()
    events = [
        {"event": "runner_on_ok", "event_data": {"task": "A", "res": {"changed": True}}},
        {"event": "runner_on_ok", "event_data": {"task": "B", "res": {"changed": False}}},
        {
            "event": "runner_on_failed",
            "event_data": {"task": "C", "host": "h", "ignore_errors": True, "res": {}},
        },
        {
            "event": "runner_on_failed",
            "event_data": {"task": "D", "host": "h", "res": {"censored": "x", "msg": "secret"}},
        },
        {
            "event": "playbook_on_stats",
            "event_data": {"ok": {"h": 5}, "changed": {"h": 1}, "failures": {"h": 1}},
        },
    ]
    for event in events:
        assert log.event(event) is True
    log.status_changed({"status": "failed"})
    assert log.changed_tasks == ["A"]
    assert [f.task for f in log.failures] == ["D"]
    assert "secret" not in log.failures[0].message
    assert log.stats["h"] == adapter.HostStats(ok=5, changed=1, failures=1)
    assert log.status == "failed"


def test_run_refuses_without_pinned_host_keys(tmp_path: Path) -> None:
    target = adapter.SshTarget("10.99.0.150", "sop", tmp_path / "id", tmp_path / "missing")
    with pytest.raises(ConfigError, match="first use"):
        adapter.run_playbook("ping.yml", target=target, extravars={}, tree=TREE)


def test_run_refuses_unknown_playbooks_and_environments(tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("10.99.0.150 ssh-ed25519 AAAA\n")
    target = adapter.SshTarget("10.99.0.150", "sop", tmp_path / "id", known)
    with pytest.raises(ConfigError, match="playbook"):
        adapter.run_playbook("../x.yml", target=target, extravars={}, tree=TREE)
    with pytest.raises(ConfigError, match="environment"):
        adapter.run_playbook(
            "ping.yml", target=target, extravars={}, tree=TREE, environment="../etc"
        )


def test_progress_shows_the_tasks_that_ran_under_indonesian_phases() -> None:
    """Events recorded from a real ansible-runner run (tests/assets/ansible/runner-events.json):
    a pre-task, role ``base`` (one task changed), role ``stack_php`` skipped by its ``when``,
    and a failing task with ``ignore_errors``."""
    recorded = json.loads((ASSETS / "ansible" / "runner-events.json").read_text())
    lines = [ran.line() for e in recorded if (ran := adapter.task_progress(e)) is not None]
    assert lines == [
        "[persiapan] Check the request: ok",
        "[pengamanan dasar server] Write the marker file: berubah",
        "[pengamanan dasar server] Read the marker file: ok",
        "[persiapan] A task that fails but is ignored: gagal (diabaikan)",
    ]
    assert any(e["event"] == "runner_on_skipped" for e in recorded)  # it was there, not shown


def test_every_role_of_the_playbook_has_a_phase_name() -> None:
    roles = {p.name for p in (REPO / "roles").iterdir() if p.is_dir()}
    assert roles <= set(adapter.ROLE_PHASES)
    unreachable = {"event": "runner_on_unreachable", "event_data": {"task": "Gather", "role": "x"}}
    assert adapter.task_progress(unreachable) == adapter.TaskProgress(
        "x", "Gather", "tidak terjangkau"
    )
