"""What several ``sop`` commands share: the ``--base`` and ``--lab-dir`` options, the base
commit's trusted configuration, and reaching the infrastructure they name. One definition, so
every command says it the same way.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from sop_pipeline.config import TrustedConfig
from sop_pipeline.errors import ConfigError

if TYPE_CHECKING:  # the adapters load only for the commands that reach the infrastructure
    from sop_pipeline.adapters.infrastructure import Infrastructure

Command = TypeVar("Command", bound=Callable[..., object])


def base_option(reads: str) -> Callable[[Command], Command]:
    """``--base BRANCH`` ($SOP_BASE_REF, default main): where ``reads`` come from, resolved by
    :func:`sop_pipeline.adapters.git.resolve_base` (full refs; short names only when only
    one branch has them)."""
    return click.option(
        "--base",
        envvar="SOP_BASE_REF",
        default="main",
        show_default=True,
        metavar="BRANCH",
        help=f"Base branch: {reads} are read from it ($SOP_BASE_REF), never from the merge "
        "request's own tree. Give a full ref (refs/remotes/origin/main, refs/heads/main) or "
        "a full commit id; a short name is refused when a tag or another ref shares it.",
    )


def lab_dir_option(action: str) -> Callable[[Command], Command]:
    """``--lab-dir DIR``: the lab `sop lab up` started there, instead of production."""
    return click.option(
        "--lab-dir",
        type=click.Path(exists=True, file_okay=False, path_type=Path),
        help=f"{action} in the lab that `sop lab up` started there (reads its lab.json). "
        "Without it, the SOP_* environment variables say where production is.",
    )


def require_extra(extra: str, module: str) -> None:
    """Import ``module`` (an extra's entry point) or say which extra to install (exit 3)."""
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise ConfigError(
            f"Perintah ini memerlukan paket tambahan yang belum terpasang ({err.name or err}): "
            f"pip install 'sop-pipeline[{extra}]' [extra-missing]"
        ) from err


def trusted_config(repo: Path, base: str) -> TrustedConfig:
    """The base commit's :class:`TrustedConfig`, its tree kept until the command ends."""
    return click.get_current_context().with_resource(TrustedConfig.from_commit(repo, base))


def reach_infrastructure(lab_dir: Path | None, *, err: bool = False) -> Infrastructure:
    """The lab's or production's infrastructure, printed (on stderr with ``err``, when stdout
    is for JSON), with the lab's namespace entered."""
    from sop_pipeline.adapters.infrastructure import (
        Infrastructure,
    )  # every adapter: only commands that reach out

    infra = Infrastructure.from_lab(lab_dir) if lab_dir else Infrastructure.from_env()
    for line in infra.describe():
        click.echo(f"infrastruktur: {line}", err=err)
    infra.enter_netns()  # before any thread starts: the lab answers only inside its namespace
    return infra


def parse_moment(value: str | None) -> datetime:
    """``--now ISO-TIME``: a time with its zone; none given, now."""
    if not value:
        return datetime.now().astimezone()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as err:
        raise click.BadParameter(
            f"'{value}' bukan waktu ISO (contoh 2026-12-01T08:00+07:00)", param_hint="--now"
        ) from err
    if moment.tzinfo is None:
        raise click.BadParameter(
            "sertakan zona waktu, misalnya 2026-12-01T08:00+07:00", param_hint="--now"
        )
    return moment
