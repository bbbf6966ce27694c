"""The request form (``formulir.html``), generated at build time from the request's JSON Schema.

Our own small generator, not react-jsonschema-form or JSON Forms: the site has no build chain
and no server, its CSP runs only its own script files, and it must work offline; the form
needs a few input kinds (text, number, date, choice, an optional group, a list of groups),
Indonesian labels from ``form_labels`` and a YAML writer of its own anyway. Pure: the
schema and the requests' data in, pages out.

1. :func:`form_spec` walks the schema in its order and gives every field its label, help and
   constraints (required, pattern, lengths, minimum, enum). A schema construct the generator
   does not know, or a field without a label, stops the build (:class:`FormSchemaError`).
2. The page's markup is built from the spec here (every text through ``h()``); the spec
   travels to ``static/formulir.js`` as a list, so the schema order survives the JSON.
3. A change of a live hosting gets a page of its own (``formulir/ubah/<id>.html``) prefilled
   from that hosting's request file, embedded as JSON that cannot end its script element.

The browser checks what the schema says and writes YAML with every string double-quoted;
CI's ``sop validate`` checks the file again, trusting nothing the browser did.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from sop_pipeline.domain import text as text_rules
from sop_pipeline.errors import SopError
from sop_pipeline.reports.escape import h
from sop_pipeline.site.form_labels import LABELS
from sop_pipeline.site.layout import Page, render

DATE_PATTERN = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
LONG_TEXT = 500  # maxLength from which a text gets a text area
SCRIPT = "formulir.js"
KNOWN = {
    "description",
    "type",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "enum",
    "const",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "x-petunjuk",
}


class FormSchemaError(SopError):
    """The request schema holds something the form generator cannot show."""

    exit_code = 3


def _field(key: str, schema: Mapping[str, Any], path: str, required: bool) -> dict[str, Any]:
    unknown = set(schema) - KNOWN
    if unknown:
        raise FormSchemaError(f"formulir: kolom {path}: skema memakai {sorted(unknown)}")
    if path not in LABELS:
        raise FormSchemaError(
            f"formulir: kolom {path} tidak punya label di sop_pipeline/site/form_labels.py"
        )
    label = LABELS[path]
    spec: dict[str, Any] = {
        "key": key,
        "path": path,
        "label": label.label,
        "help": label.help,
        "required": required,
    }
    if "const" in schema:
        spec.update(type="const", const=schema["const"])
    elif "enum" in schema:
        values = list(schema["enum"])
        missing = [v for v in values if v not in label.options]
        if missing:
            raise FormSchemaError(f"formulir: kolom {path}: nilai {missing} tanpa label")
        spec.update(type="enum", options=[[v, label.options[v]] for v in values])
    elif schema.get("type") == "object":
        spec.update(type="object", children=_children(schema, path + "."))
    elif schema.get("type") == "array":
        items = schema.get("items", {})
        if items.get("type") != "object":
            raise FormSchemaError(f"formulir: kolom {path}: hanya daftar objek yang didukung")
        spec.update(
            type="array",
            min_items=schema.get("minItems", 0),
            max_items=schema.get("maxItems", 100),
            children=_children(items, path + "[]."),
        )
    elif schema.get("type") == "integer":
        spec.update(type="integer")
        for name, ours in (("minimum", "minimum"), ("maximum", "maximum")):
            if name in schema:
                spec[ours] = schema[name]
    elif schema.get("type") == "string":
        spec.update(type="string")
        for name, ours in (
            ("pattern", "pattern"),
            ("minLength", "min_length"),
            ("maxLength", "max_length"),
        ):
            if name in schema:
                spec[ours] = schema[name]
        if schema.get("pattern") == DATE_PATTERN:
            spec["widget"] = "date"
        elif schema.get("maxLength", 0) >= LONG_TEXT:
            spec["widget"] = "textarea"
    else:
        raise FormSchemaError(f"formulir: kolom {path}: jenis {schema.get('type')!r} tak dikenal")
    if path == "letter.sha256":
        spec["widget"] = "sha256"
    return spec


def _children(schema: Mapping[str, Any], prefix: str) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    return [
        _field(key, sub, prefix + key, key in required)
        for key, sub in schema.get("properties", {}).items()
    ]


def form_spec(schema: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every field of the request schema, in the schema's order, for the page and its script."""
    return _children(schema, "")


def spec_paths(spec: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every path of the spec, nested ones included."""
    paths = []
    for f in spec:
        paths.append(f["path"])
        paths += spec_paths(f.get("children", ()))
    return paths


def js_forbidden() -> str:
    """``domain.text.FORBIDDEN`` as a JavaScript character class (flag ``u``), ASCII only."""
    body = text_rules.FORBIDDEN.pattern
    if not (body.startswith("[") and body.endswith("]")):
        raise FormSchemaError("formulir: domain.text.FORBIDDEN is no longer one character class")
    out = []
    for char in body[1:-1]:
        out.append("-" if char == "-" else f"\\u{{{ord(char):x}}}")
    return "[" + "".join(out) + "]"


# ---------------------------------------------------------------------------------- markup


def _dom_id(path: str) -> str:
    return "f-" + path.replace("[].", "-").replace(".", "-")


def _scalar(f: Mapping[str, Any], in_item: bool) -> str:
    star = ' <span class="req" title="wajib">*</span>' if f["required"] else ""
    ident = "" if in_item else f' id="{h(_dom_id(f["path"]))}"'
    attrs = f'{ident} data-key="{h(f["key"])}" data-path="{h(f["path"])}"'
    widget = f.get("widget", "")
    if f["type"] == "enum":
        options = '<option value="">(pilih)</option>' + "".join(
            f'<option value="{h(v)}">{h(text)} ({h(v)})</option>' for v, text in f["options"]
        )
        control = f"<select{attrs}>{options}</select>"
    elif widget == "textarea":
        control = f'<textarea{attrs} rows="4"></textarea>'
    elif widget == "date":
        control = f'<input type="date"{attrs}>'
    elif widget == "sha256":
        control = (
            '<input type="file" id="letter-pdf" accept="application/pdf,.pdf">'
            f'<input{attrs} readonly placeholder="(dihitung dari PDF)" size="70">'
        )
    elif f["type"] == "integer":
        control = f'<input{attrs} inputmode="numeric">'
    else:
        control = f"<input{attrs}>"
    label_for = (
        "" if in_item else f' for="{h("letter-pdf" if widget == "sha256" else _dom_id(f["path"]))}"'
    )
    return (
        f'<div class="field"><label{label_for}>{h(f["label"])}{star}</label>{control}'
        f'<div class="muted">{h(f["help"])}</div>'
        f'<div class="field-error message error" data-error="{h(f["path"])}"></div></div>'
    )


def _markup(spec: Sequence[Mapping[str, Any]], in_item: bool = False) -> str:
    parts = []
    for f in spec:
        if f["type"] == "const":
            continue  # written by the script (schema_version: 1)
        if f["type"] == "object":
            inner = _markup(f["children"], in_item)
            toggle = ""
            if not f["required"]:
                box = f'type="checkbox" style="min-width: 0" id="{h(_dom_id(f["path"]))}-use"'
                toggle = (
                    f"<label><input {box} "
                    f'data-toggle="{h(f["path"])}"> Sertakan {h(f["label"].lower())}</label>'
                )
                inner = f'<div data-group="{h(f["path"])}" hidden>{inner}</div>'
            parts.append(
                f'<fieldset><legend>{h(f["label"])}</legend><div class="muted">{h(f["help"])}'
                f"</div>{toggle}{inner}</fieldset>"
            )
        elif f["type"] == "array":
            item = _markup(f["children"], in_item=True)
            parts.append(
                f'<fieldset><legend>{h(f["label"])}</legend><div class="muted">{h(f["help"])}'
                f'</div><div data-items="{h(f["path"])}"></div>'
                f'<template data-template="{h(f["path"])}"><div class="item">{item}'
                '<button type="button" data-remove="1">Hapus</button></div></template>'
                f'<button type="button" data-add="{h(f["path"])}">Tambah</button>'
                f'<div class="field-error message error" data-error="{h(f["path"])}"></div>'
                "</fieldset>"
            )
        else:
            parts.append(_scalar(f, in_item))
    return "".join(parts)


def _links(gitlab_url: str, target_branch: str) -> dict[str, str]:
    """GitLab pages the script links to (http/https project URLs only; else none)."""
    if not gitlab_url.startswith(("https://", "http://")):
        return {}
    base = gitlab_url.rstrip("/")
    target = quote(target_branch, safe="")
    return {
        "new_file": f"{base}/-/new/{target}/requests",
        "edit_file": f"{base}/-/edit/{target}/requests/",
        "new_mr": f"{base}/-/merge_requests/new",
        "target_branch": target_branch,
    }


def _page(
    path: str,
    *,
    title: str,
    intro: str,
    spec: list[dict[str, Any]],
    agency: str,
    data: dict[str, Any],
) -> Page:
    body = (
        f"<p>{intro}</p>"
        '<form id="request-form" novalidate>'
        '<div class="field"><label for="request-id">ID permintaan (nama berkas) '
        '<span class="req">*</span></label><input id="request-id">'
        '<div class="muted">Menjadi requests/&lt;id&gt;.yaml: huruf kecil a-z, angka 0-9 dan '
        "tanda hubung, mis. dinkes-simpus.</div>"
        '<div class="field-error message error" data-error="(id)"></div></div>'
        f"{_markup(spec)}"
        '<button type="submit" id="make-yaml">Periksa dan buat YAML</button></form>'
        '<div id="form-errors" class="message error" role="alert"></div>'
        '<p id="form-message" class="message" role="status"></p>'
        '<div id="form-result" hidden><h2>Berkas permintaan</h2><pre id="yaml"></pre>'
        '<p class="downloads"><a id="download-yaml" hidden>Unduh YAML</a>'
        '<a id="gitlab-new-file" hidden rel="noopener">Buat berkas di GitLab</a>'
        '<a id="gitlab-new-mr" hidden rel="noopener">Buka merge request di GitLab</a></p>'
        '<p class="muted">Unggah PDF surat ke <code id="pdf-target"></code> pada cabang yang sama. '
        "Pipeline CI memeriksa ulang berkas ini (<code>sop validate</code>): isian di peramban "
        "tidak dipercaya begitu saja.</p></div>"
    )
    page = render(path, title=title, body=body, agency=agency, data=data, script=True)
    script = f"static/{SCRIPT}"
    html = page.html.replace("static/sop.js", script)
    return Page(page.path, html)


def form_pages(
    *,
    schema: Mapping[str, Any],
    live: Mapping[str, Mapping[str, Any]],
    taken_ids: Sequence[str],
    taken_hostnames: Mapping[str, str],
    agency: str,
    gitlab_url: str = "",
    target_branch: str = "main",
    branch: str = "{request_id}",
) -> list[Page]:
    """``formulir.html`` and one prefilled change page per live hosting (``live``: request id
    -> that hosting's request data, schema-valid)."""
    spec = form_spec(schema)
    common = {
        "spec": spec,
        "forbidden": js_forbidden(),
        "taken_ids": sorted(taken_ids),
        "taken_hostnames": dict(taken_hostnames),
        "links": _links(gitlab_url, target_branch),
        "branch": branch,
    }
    changes = "".join(
        f'<li><a href="formulir/ubah/{h(rid)}.html">{h(rid)}</a> '
        f"({h(str(data.get('application', {}).get('name', '')))})</li>"
        for rid, data in sorted(live.items())
    )
    intro = (
        "Isi permintaan hosting baru. Kolom bertanda * wajib diisi. Formulir memeriksa isian "
        "sesuai skema dan menulis berkas YAML untuk merge request."
    )
    if changes:
        intro += f"</p><p>Untuk mengubah hosting yang sudah berjalan:</p><ul>{changes}</ul><p>"
    pages = [
        _page(
            "formulir.html",
            title="Formulir permintaan hosting",
            intro=intro,
            spec=spec,
            agency=agency,
            data={**common, "mode": "baru", "request_id": "", "prefill": {"kind": "baru"}},
        )
    ]
    for rid, data in sorted(live.items()):
        prefill = dict(data)
        prefill["kind"] = "ubah"
        prefill["letter"] = {"file": f"{rid}/surat-perubahan.pdf"}  # a change brings a new letter
        pages.append(
            _page(
                f"formulir/ubah/{rid}.html",
                title=f"Perubahan hosting {rid}",
                intro=(
                    f"Formulir perubahan hosting <b>{h(rid)}</b>, terisi dari berkas "
                    "permintaannya. Ubah yang perlu, lampirkan surat perubahan yang baru."
                ),
                spec=spec,
                agency=agency,
                data={
                    **common,
                    "mode": "ubah",
                    "request_id": rid,
                    "prefill": prefill,
                    "taken_ids": [i for i in taken_ids if i != rid],
                    "taken_hostnames": {k: v for k, v in taken_hostnames.items() if v != rid},
                },
            )
        )
    return pages


def form_inputs(ws: Any, ids: Sequence[str]) -> dict[str, Any]:
    """What :func:`form_pages` needs from the workspace: the schema, the ids and hostnames
    in use, and each live hosting's request data (a request with a step-8 applied record
    whose file passes the strict loader and the schema). The one reading part of this module."""
    import logging

    import jsonschema

    from sop_pipeline.ledger.tracking import last_applied
    from sop_pipeline.loader import load_yaml_file, request_schema

    schema = request_schema()
    validator = jsonschema.Draft202012Validator(schema)
    live: dict[str, Mapping[str, Any]] = {}
    hostnames: dict[str, str] = {}
    taken = []
    for rid in ids:
        path = ws.request_path(rid)
        if not path.is_file():
            continue
        taken.append(rid)
        try:
            data = load_yaml_file(path).data
        except SopError as err:
            logging.getLogger(__name__).warning("%s: no change form: %s", path, err.diagnostics())
            continue
        if isinstance(data, dict) and isinstance(data.get("hostname"), str):
            hostnames[data["hostname"]] = rid
        if not validator.is_valid(data):
            continue
        if last_applied(ws.ledgers.for_request(rid).records()) is not None:
            live[rid] = data
    return {"schema": schema, "live": live, "taken_ids": taken, "taken_hostnames": hostnames}
