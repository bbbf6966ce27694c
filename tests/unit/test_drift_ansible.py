"""``sop drift``'s Ansible part: check-mode events to items.

The events are the shapes ansible-runner hands its ``event_handler`` (``runner_on_ok`` with
``res.diff``; a loop's ``res.results``; a handler after ``playbook_on_handler_task_start``).
The real run on a lab VM is tests/integration/ansible/test_site.py; a failed check
(an unreachable server) is tests/integration/drift/test_ansible_check.py.
"""

from __future__ import annotations

from typing import Any

from sop_pipeline.adapters import ansible
from sop_pipeline.domain.drift import (
    NO_DIFF,
    AnsibleChange,
    ansible_items,
)

HOST = "simpus.sumbarprov.go.id"
VHOST = "/etc/nginx/sites-available/sop-dinkes-simpus.conf"


def ok_event(task: str, res: dict[str, Any], uuid: str = "t1", role: str = "web") -> dict[str, Any]:
    return {
        "event": "runner_on_ok",
        "event_data": {
            "task": task,
            "role": role,
            "task_action": "ansible.builtin.template",
            "task_uuid": uuid,
            "host": "sop_target",
            "res": res,
        },
    }


def collect(*events: dict[str, Any]) -> list[AnsibleChange]:
    log = ansible._EventLog()
    for event in events:
        log.event(event)
    return log.changes


def test_a_file_diff_gives_the_lines_on_each_side() -> None:
    before = "server {\n  listen 443;\n}\n# X-Diubah-Tangan\n"
    after = "server {\n  listen 443;\n}\n"
    changes = collect(
        ok_event(
            "Write the site's virtual host",
            {
                "changed": True,
                "diff": [
                    {
                        "before": before,
                        "after": after,
                        "before_header": VHOST,
                        "after_header": "/root/.ansible/tmp/ansible-local-1/tmpx/vhost.conf.j2",
                    }
                ],
            },
        )
    )
    (item,) = ansible_items("dinkes-simpus", HOST, changes)
    assert item.resource == f"{HOST}/Write the site's virtual host"
    assert item.attribute == VHOST and item.source == "ansible" and item.kind == "changed"
    assert item.actual == "# X-Diubah-Tangan"
    assert item.approved == "(tidak ada)"


def test_a_package_diff_names_the_packages() -> None:
    prepared = (
        "The following NEW packages will be installed:\n  unattended-upgrades\n"
        "0 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.\n"
    )
    changes = collect(
        ok_event("Install the base packages", {"changed": True, "diff": {"prepared": prepared}})
    )
    (item,) = ansible_items("dinkes-simpus", HOST, changes)
    assert item.attribute == "packages"
    assert item.approved == "terpasang: unattended-upgrades"
    assert item.actual == "tidak terpasang"


def test_a_loop_keeps_each_changed_items_diff_and_a_link_state_whole() -> None:
    res = {
        "changed": True,
        "results": [
            {"changed": False, "diff": {"before": {"state": "link"}, "after": {"state": "link"}}},
            {
                "changed": True,
                "diff": {
                    "before": {"path": "/x", "state": "absent"},
                    "after": {"path": "/x", "state": "link"},
                },
            },
        ],
    }
    (item,) = ansible_items("r", HOST, collect(ok_event("Point the key", res)))
    assert item.approved == '{"path": "/x", "state": "link"}'
    assert item.actual == '{"path": "/x", "state": "absent"}'


def test_a_service_without_diff_says_wanted_and_running_state() -> None:
    res = {
        "changed": True,
        "state": "started",
        "status": {"ActiveState": "inactive", "UnitFileState": "enabled"},
    }
    (item,) = ansible_items("r", HOST, collect(ok_event("Enable and start nginx", res)))
    assert (item.attribute, item.approved) == ("state", "started")
    assert item.actual == "ActiveState=inactive, UnitFileState=enabled"


def test_changed_without_a_diff_is_an_item_never_filtered() -> None:
    (item,) = ansible_items("r", HOST, collect(ok_event("Run something", {"changed": True})))
    assert item.approved == NO_DIFF and item.actual == NO_DIFF
    said = {"changed": True, "msg": "Command would have run if not in check mode"}
    (item,) = ansible_items("r", HOST, collect(ok_event("Make the certificate", said)))
    assert item.actual == f"{NO_DIFF}: Command would have run if not in check mode"


def test_no_log_hides_the_content_and_handlers_are_left_out() -> None:
    secret = {"changed": True, "censored": "hidden", "diff": {"before": "pw=1", "after": "pw=2"}}
    changes = collect(
        ok_event("Write the secret", secret, uuid="a"),
        {
            "event": "playbook_on_task_start",
            "event_data": {"task_uuid": "b", "is_conditional": False},
        },
        {
            "event": "playbook_on_task_start",
            "event_data": {"task_uuid": "h", "is_conditional": True},
        },
        ok_event("Restart nginx", {"changed": True}, uuid="h"),
        ok_event("Unchanged", {"changed": False}, uuid="b"),
    )
    items = ansible_items("r", HOST, changes)
    assert [i.resource for i in items] == [f"{HOST}/Write the secret"]
    assert "pw=" not in str(items[0].to_json())


def test_a_long_diff_is_cut() -> None:
    huge = "x" * (ansible.DIFF_LIMIT * 3)
    (change,) = collect(ok_event("Big", {"changed": True, "diff": {"before": huge, "after": ""}}))
    assert len(change.diffs[0]["before"]) == ansible.DIFF_LIMIT
