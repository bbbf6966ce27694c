"""``sop drift``'s Ansible check: ``site.yml`` in check and diff mode on one hosting's VM.

:class:`AnsibleDrift` is :class:`sop_pipeline.ports.AnsibleDriftPort`. It runs the same trusted
``playbooks/site.yml`` with the same extra vars step 8 gave it
(:func:`sop_pipeline.steps.provisioning.site_extravars`), through the same runner
(:func:`sop_pipeline.adapters.ansible.run_playbook`: private data dir, unsafe extra vars,
pinned host keys, the mitogen tuning), with ``--check --diff``: nothing on the server changes.
Every task that would change becomes drift items (:func:`sop_pipeline.domain.drift.ansible_items`);
handlers are left out (they run only because a reported task notified them).

A run that cannot finish (the VM unreachable, a wrong host key, a task failing, the time
out) raises: the check failed, which ``sop drift`` reports with exit 10, never "no drift".
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sop_pipeline.adapters import ansible
from sop_pipeline.domain.drift import DriftItem, Hosting, ansible_items
from sop_pipeline.errors import ConfigError

#: How long the check waits for SSH on a VM that should be up (a hosting, not a fresh boot).
CONNECT_TIMEOUT = 120


@dataclass
class AnsibleDrift:
    """Check one hosting's server against the roles, without changing it."""

    tree: ansible.AnsibleTree
    environment: str
    private_key: Path | None
    admin_user: str
    #: The VM's SSH host keys (``type base64``), read through the guest agent as step 8 does.
    host_keys: Callable[[Hosting], Sequence[str]]
    #: ``site.yml``'s extra vars for the hosting (the request's values as step 8 gave them).
    extravars: Callable[[Hosting], Mapping[str, Any]]
    tuning: ansible.Tuning = ansible.Tuning.AUTO
    timeout: int = 1800
    netns: str | None = None
    run_scope: str = ""
    ssh_port: int = 22
    run: Callable[..., ansible.PlaybookResult] = ansible.run_playbook

    def check(self, hosting: Hosting) -> list[DriftItem]:
        """The drift items of ``site.yml --check --diff`` on ``hosting``'s VM."""
        result = self.run_check(hosting)
        return ansible_items(hosting.request_id, hosting.fqdn.rstrip("."), result.changes)

    def run_check(self, hosting: Hosting) -> ansible.PlaybookResult:
        if self.private_key is None:
            raise ConfigError(
                "Kunci SSH pipeline belum diatur (SOP_SSH_KEY_FILE): server tidak dapat diperiksa"
            )
        with tempfile.TemporaryDirectory(prefix="sop-drift-ansible-") as tmp:
            known = Path(tmp) / "known_hosts"
            keys = self.host_keys(hosting)
            known.write_text(ansible.known_hosts_text(hosting.ip_address, keys, self.ssh_port))
            target = ansible.SshTarget(
                hosting.ip_address, self.admin_user, self.private_key, known, self.ssh_port
            )
            return self.run(
                "site.yml",
                target=target,
                extravars=self.extravars(hosting),
                tree=self.tree,
                environment=self.environment,
                tuning=self.tuning,
                timeout=self.timeout,
                netns=self.netns,
                run_scope=self.run_scope,
                check=True,
            )
