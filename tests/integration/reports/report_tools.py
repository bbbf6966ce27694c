"""Finding the real tools the reports' integration tests need."""

from __future__ import annotations

import os
import shutil

import pytest

HOW_TO_GET = "run `bash .ci/setup/reports.sh` (apt: poppler-utils, libpango; pip: weasyprint)"


def require(tool: str) -> str:
    """Path of ``tool``; a failure in CI and a skip on a laptop when it is missing."""
    found = shutil.which(tool)
    if found:
        return found
    message = f"{tool} not found: {HOW_TO_GET}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_weasyprint() -> None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as err:
        message = f"WeasyPrint unusable ({err}): {HOW_TO_GET}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
