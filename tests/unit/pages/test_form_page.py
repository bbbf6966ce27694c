"""The request form's generator: every schema field has an Indonesian label (so a new field
cannot go unlabelled), the spec keeps the schema's order and constraints, an unknown schema
construct stops the build, and a live hosting's hostile values cannot end the page's script
element or start markup."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sop_pipeline.domain import text as text_rules
from sop_pipeline.loader import request_schema
from sop_pipeline.site.form import FormSchemaError, form_pages, form_spec, js_forbidden, spec_paths
from sop_pipeline.site.form_labels import LABELS

HOSTILE = 'a "b" </script><script>alert(1)</script> {{ 7*7 }}\nline \u2028 & \\'


def schema_paths(schema: dict[str, Any], prefix: str = "") -> list[str]:
    """Every property path of the schema, read independently of the generator."""
    out = []
    for key, sub in schema.get("properties", {}).items():
        out.append(prefix + key)
        if sub.get("type") == "object":
            out += schema_paths(sub, f"{prefix}{key}.")
        if sub.get("type") == "array":
            out += schema_paths(sub["items"], f"{prefix}{key}[].")
    return out


def test_every_schema_field_has_an_indonesian_label_and_every_enum_value_a_name() -> None:
    schema = request_schema()
    paths = schema_paths(schema)
    assert len(paths) > 30
    assert sorted(set(paths) - set(LABELS)) == []  # a new field needs its label
    assert sorted(set(LABELS) - set(paths)) == []  # no label for a field that left the schema
    for path, label in LABELS.items():
        assert label.label.strip(), path
    spec = form_spec(schema)
    assert spec_paths(spec) == paths  # every field shown, in the schema's order
    for f in _flat(spec):
        if f["type"] == "enum":
            assert [v for v, _ in f["options"]] == _at(schema, f["path"])["enum"]


def _flat(spec: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [g for f in spec for g in [f, *_flat(f.get("children", []))]]


def _at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    node = schema
    for part in path.split("."):
        if part.endswith("[]"):
            node = node["properties"][part[:-2]]["items"]
        else:
            node = node["properties"][part]
    return node


def test_the_spec_carries_what_the_schema_says() -> None:
    by_path = {f["path"]: f for f in _flat(form_spec(request_schema()))}
    nip = by_path["pic.nip"]
    assert nip["required"] and nip["pattern"] == "^[0-9]{18}$" and nip["type"] == "string"
    assert by_path["resources.memory_mb"]["minimum"] == 256
    assert by_path["opd.name"]["min_length"] == 3 and by_path["opd.name"]["max_length"] == 160
    assert by_path["schema_version"] == {**by_path["schema_version"], "type": "const", "const": 1}
    assert not by_path["kind"]["required"] and not by_path["database"]["required"]
    assert by_path["deployers"]["min_items"] == 1 and by_path["deployers"]["max_items"] == 10
    assert by_path["letter.date"]["widget"] == "date"
    assert by_path["letter.sha256"]["widget"] == "sha256"


def test_an_unlabelled_field_or_an_unknown_construct_stops_the_build() -> None:
    schema = json.loads(json.dumps(request_schema()))
    schema["properties"]["opd"]["properties"]["fax"] = {"type": "string"}
    with pytest.raises(FormSchemaError, match=r"opd\.fax tidak punya label"):
        form_spec(schema)
    schema = json.loads(json.dumps(request_schema()))
    schema["properties"]["hostname"]["oneOf"] = [{"type": "string"}]
    with pytest.raises(FormSchemaError, match="oneOf"):
        form_spec(schema)
    schema = json.loads(json.dumps(request_schema()))
    schema["properties"]["environment"]["enum"].append("dr")
    with pytest.raises(FormSchemaError, match="dr"):
        form_spec(schema)


def test_the_script_refuses_the_same_characters_as_the_loader() -> None:
    body = js_forbidden()
    assert body.isascii() and body.startswith("[") and body.endswith("]")
    # decode the JS class back and compare it with the Python one, character by character
    decoded = re.sub(r"\\u\{([0-9a-f]+)\}", lambda m: chr(int(m.group(1), 16)), body)
    assert decoded == text_rules.FORBIDDEN.pattern


def test_live_hosting_values_cannot_end_the_script_or_start_markup() -> None:
    data = {"application": {"name": HOSTILE, "purpose": HOSTILE}, "pic": {"name": HOSTILE}}
    pages = form_pages(
        schema=request_schema(),
        live={"dinkes-x": data},
        taken_ids=["dinkes-x"],
        taken_hostnames={},
        agency="Dinas",
        gitlab_url="javascript:alert(1)",
    )
    assert [p.path for p in pages] == ["formulir.html", "formulir/ubah/dinkes-x.html"]
    for page in pages:
        html = page.html
        assert "<script>alert" not in html and "</script><script>" not in html
        assert len(re.findall(r"<script\b", html)) == 2  # the data and static/formulir.js
        found = re.search(
            r'<script type="application/json" id="sop-data">(.*?)</script>', html, re.S
        )
        assert found is not None
        parsed = json.loads(found.group(1))
        assert parsed["links"] == {}  # only http(s) project URLs become links
        if page.path.startswith("formulir/"):
            assert parsed["prefill"]["application"]["name"] == HOSTILE
            assert parsed["prefill"]["kind"] == "ubah"
            assert parsed["prefill"]["letter"] == {"file": "dinkes-x/surat-perubahan.pdf"}
            assert parsed["taken_ids"] == []
            assert 'src="../../static/formulir.js"' in html
        else:
            assert "&lt;/script&gt;" in html  # the list of live hostings names it, escaped
            assert 'src="static/formulir.js"' in html
