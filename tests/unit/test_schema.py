"""The request schema itself: documented, closed, and the same file other tools read."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from sop_pipeline.loader import request_schema
from tests.conftest import REPO

# The only fields a request may leave out, each with the meaning of its absence in its
# description: ``kind`` (absent means ``baru``, so files written before it stay valid), and
# ``deployers`` and ``database`` (issue 14: not every hosting has a database).
OPTIONAL = {"kind", "deployers", "database", "database.size_gb"}


def properties(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for name, sub in schema.get("properties", {}).items():
        yield f"{path}{name}", sub
        yield from properties(sub, f"{path}{name}.")
        if "items" in sub:  # a list of objects: its items' fields as name.0.field
            yield f"{path}{name}.0", sub["items"]
            yield from properties(sub["items"], f"{path}{name}.0.")


def test_every_field_has_a_description_and_every_object_is_closed() -> None:
    schema = request_schema()
    fields = list(properties(schema))
    assert len(fields) >= 30
    assert [p for p, sub in fields if not sub.get("description")] == []
    objects = [("", schema)] + [(p, sub) for p, sub in fields if sub.get("type") == "object"]
    assert all(obj.get("additionalProperties") is False for _, obj in objects)
    left_out = {
        f"{p}.{name}".lstrip(".")
        for p, obj in objects
        for name in set(obj["properties"]) - set(obj["required"])
    }
    assert left_out == OPTIONAL


@pytest.mark.integration
def test_check_jsonschema_accepts_the_examples_with_the_shipped_schema() -> None:
    tool = shutil.which("check-jsonschema")
    assert tool, "check-jsonschema missing: pip install -e '.[test]' (make setup)"
    schema = REPO / "sop_pipeline" / "schema" / "request.schema.json"
    files = sorted(str(p) for p in (REPO / "requests").glob("*.yaml"))
    files.append(
        str(REPO / "tests" / "assets" / "requests" / "valid" / "deployers-and-database.yaml")
    )
    done = subprocess.run(
        [tool, "--schemafile", str(schema), *files], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
