"""One error base for the whole package.

Every adapter turns its library's exceptions into a subclass of :class:`SopError`, so the
CLI catches one type and prints :meth:`SopError.diagnostics`, a message a person can act on.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """The one exit-code table of ``sop``: ``sop --help`` and README print it from here.

    Every command exits with one of these; CI branches on them (e.g. retry on BUSY only).
    """

    OK = 0  # everything asked for holds
    BUG = 1  # an unexpected error: a bug in sop, never a verdict
    REFUSED = 2  # a request file or a step is refused (invalid, incomplete, out of order)
    CONFIG = 3  # configuration (inventories/, approvers/, lab.json, SOP_*) is wrong
    OUTSIDE = 4  # an outside system failed (git, ssh-keygen, Terraform, Proxmox, Ansible, DNS)
    RECORD = 5  # a record (ledger) does not verify: altered, truncated or reordered
    SIGNATURE = 6  # a signature or statement is invalid
    GATE = 7  # a gate refused: what step N needs does not hold
    UNKNOWN_REQUEST = 8  # no request with this id (no requests/<id>.yaml, no record)
    DRIFT = 9  # sop drift: what runs differs from what was approved (recorded)
    DRIFT_CHECK_FAILED = 10  # sop drift: a check could not run (DNS, Proxmox...): no verdict
    USAGE = 64  # the command line is wrong (unknown option, bad value): EX_USAGE
    BUSY = 75  # another run holds this request; nothing changed; run again later: EX_TEMPFAIL


#: What each code means, as ``sop --help`` and README say it.
EXIT_MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "everything asked for holds",
    ExitCode.BUG: "an unexpected error (a bug: please report it); never a verdict",
    ExitCode.REFUSED: "a request file or a step is refused (invalid, incomplete, out of order)",
    ExitCode.CONFIG: "configuration is wrong (inventories/, approvers/, lab.json, SOP_*)",
    ExitCode.OUTSIDE: "an outside system failed (git, ssh-keygen, Terraform, Proxmox, "
    "Ansible, DNS, WeasyPrint)",
    ExitCode.RECORD: "a record (ledger) does not verify: altered, truncated or reordered",
    ExitCode.SIGNATURE: "a signature or statement is invalid (sop sign, sop verify)",
    ExitCode.GATE: "a gate refused: what step N needs does not hold (sop gate, sop provision)",
    ExitCode.UNKNOWN_REQUEST: "no request with this id (no requests/<id>.yaml, no record)",
    ExitCode.DRIFT: "sop drift: drift found: what runs differs from what was approved "
    "(recorded, nothing fixed)",
    ExitCode.DRIFT_CHECK_FAILED: "sop drift: a check failed (DNS server, Proxmox API, "
    'Terraform...): no verdict, never "no drift"',
    ExitCode.USAGE: "the command line is wrong (unknown command or option, bad value)",
    ExitCode.BUSY: "another run holds this request (its lock or lease); nothing changed; "
    "run again later",
}


class SopError(Exception):
    """Base of every error the pipeline raises on purpose."""

    #: Exit code the CLI uses when this error reaches it (never BUG: that is for the unexpected).
    exit_code: int = ExitCode.REFUSED

    def diagnostics(self) -> str:
        """A message for the person at the terminal: what happened and what to do."""
        return str(self)


class ConfigError(SopError):
    """Configuration under ``inventories/`` or ``approvers/`` is missing or wrong."""

    exit_code: int = ExitCode.CONFIG


class AdapterError(SopError):
    """An outside system (Terraform, Proxmox, Ansible, DNS, ssh-keygen) failed."""

    exit_code: int = ExitCode.OUTSIDE


class Busy(SopError):
    """Another run holds what this one needs (a request's lock or lease): nothing was changed."""

    exit_code: int = ExitCode.BUSY


class LimitExceeded(SopError):
    """Step 8's re-check of a hard limit (quota, node room, name, address) failed before
    anything was created: a refused gate."""

    exit_code: int = ExitCode.GATE


class UnknownRequest(SopError):
    """A command was given a request id the repository does not know."""

    exit_code: int = ExitCode.UNKNOWN_REQUEST

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"{request_id}: tidak ada permintaan dengan nomor ini (tidak ada "
            f"requests/{request_id}.yaml maupun catatannya) [unknown-request]"
        )
        self.request_id = request_id
