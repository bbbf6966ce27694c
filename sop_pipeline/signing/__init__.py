"""Signed approvals: statements, SSHSIG sign/verify, the base-branch keyring, the SOP gates.

See ``docs/approvals.md``. Entry points: :mod:`.commands` (CLI),
:func:`.record.record_signed_steps`,
:func:`.record.check_gate`, :func:`.record.consume_approvals`.
"""
