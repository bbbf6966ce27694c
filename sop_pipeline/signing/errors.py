"""Errors of the signing package: every one a :class:`~sop_pipeline.errors.SopError`."""

from __future__ import annotations

from sop_pipeline.errors import AdapterError, ConfigError, SopError


class SignatureInvalid(SopError):
    """A signature, or the bytes around it, cannot be read or does not verify."""

    exit_code = 6


class StatementInvalid(SopError):
    """A statement file is not a canonical, complete statement of this format."""

    exit_code = 6


class KeyringError(ConfigError):
    """``approvers/`` cannot be read, or holds something the pipeline refuses."""


class SshKeygenError(AdapterError):
    """``ssh-keygen`` is missing or failed in a way that is not a verdict."""


class GateRefused(SopError):
    """A gate did not hold: the step may not proceed."""

    exit_code = 7
