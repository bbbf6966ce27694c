"""One error base for the whole package.

Every adapter turns its library's exceptions into a subclass of :class:`SopError`, so the
CLI catches one type and prints :meth:`SopError.diagnostics`, a message a person can act on.
"""

from __future__ import annotations


class SopError(Exception):
    """Base of every error the pipeline raises on purpose."""

    #: Exit code the CLI uses when this error reaches it.
    exit_code: int = 1

    def diagnostics(self) -> str:
        """A message for the person at the terminal: what happened and what to do."""
        return str(self)


class ConfigError(SopError):
    """Configuration under ``inventories/`` or ``approvers/`` is missing or wrong."""

    exit_code = 3


class AdapterError(SopError):
    """An outside system (Terraform, Proxmox, Ansible, DNS, ssh-keygen) failed."""

    exit_code = 4
