"""The page shell every page of the static site shares.

Pure. Markup is ours; every value goes through :func:`~sop_pipeline.reports.escape.h`, and
data for the script travels in ``<script type="application/json">`` through :func:`json_data`,
which escapes ``<``, ``>``, ``&`` and the JavaScript line separators so no value can end the
element or start markup. Pages link with relative URLs only, so the site works from any
folder: GitLab Pages under a project path, a CI artefact, or ``http://localhost``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sop_pipeline.reports.escape import h

STYLE = """
:root { --ok: #1b7a32; --warn: #b26a00; --bad: #b3261e; --ink: #1c1c1c; --muted: #555; }
html { font-family: Arial, "Liberation Sans", "DejaVu Sans", sans-serif; color: var(--ink);
       line-height: 1.4; }
body { margin: 0 auto; max-width: 68rem; padding: 0 1rem 3rem 1rem; }
header.site { border-bottom: 3px double #000; padding: 0.6rem 0; margin-bottom: 1rem; }
header.site .agency { font-weight: bold; }
nav a { margin-right: 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 1.6rem; }
table { border-collapse: collapse; width: 100%; margin: 0.4rem 0 1rem 0; }
th, td { border: 1px solid #999; padding: 0.25rem 0.45rem; text-align: left;
         vertical-align: top; overflow-wrap: anywhere; }
th { background: #eee; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6;
      border: 1px solid #ccc; padding: 0.5rem; font-size: 0.85rem; }
.message { font-weight: bold; } .message.error { color: var(--bad); }
.message.ok { color: var(--ok); }
.green { color: var(--ok); } .amber { color: var(--warn); } .red { color: var(--bad); }
.muted { color: var(--muted); font-size: 0.9rem; }
label { display: block; margin: 0.5rem 0 0.2rem 0; font-weight: bold; }
input, select, textarea { font: inherit; padding: 0.25rem; min-width: 20rem; }
button { font: inherit; padding: 0.35rem 1rem; margin: 0.6rem 0.6rem 0 0; }
.downloads a { display: inline-block; margin-right: 1rem; }
@media print { nav, form, button { display: none; } body { max-width: none; }
               @page { size: A4; margin: 1.5cm; } }
"""


#: Scripts only from the site itself (no inline script runs), nothing fetched from elsewhere.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class Page:
    """One page of the site: where it goes under OUT/, and its HTML."""

    path: str  # relative to OUT/, with forward slashes
    html: str


def json_data(value: Any) -> str:
    """``value`` as JSON safe inside ``<script type="application/json">``."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    for char, escape in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escape)
    return text


def root_prefix(path: str) -> str:
    """The relative way from the page at ``path`` back to OUT/ (``""`` or ``"../../"``)."""
    return "../" * path.count("/")


def render(
    path: str,
    *,
    title: str,
    body: str,
    agency: str,
    data: Any = None,
    script: bool = False,
) -> Page:
    """A complete page. ``body`` is markup built by the caller with ``h()``-escaped values;
    ``data`` becomes the page's ``#sop-data`` JSON; ``script`` loads ``static/sop.js``."""
    up = root_prefix(path)
    nav = (
        f'<nav><a href="{up}index.html">Dasbor</a>'
        f'<a href="{up}ringkasan.html">Ringkasan (cetak)</a>'
        f'<a href="{up}sign/index.html">Tanda tangan</a>'
        f'<a href="{up}enrol.html">Daftarkan kunci</a>'
        f'<a href="{up}formulir.html">Formulir permintaan</a></nav>'
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="id"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="referrer" content="no-referrer">',
        f'<meta http-equiv="Content-Security-Policy" content="{h(CSP)}">',
        f"<title>{h(title)}</title><style>{STYLE}</style>",
    ]
    if data is not None:
        parts.append(f'<script type="application/json" id="sop-data">{json_data(data)}</script>')
    if script:
        parts.append(f'<script src="{up}static/sop.js" defer></script>')
    parts += [
        "</head><body>",
        f'<header class="site"><div class="agency">{h(agency)}</div>{nav}</header>',
        f"<main><h1>{h(title)}</h1>{body}</main>",
        "</body></html>",
    ]
    return Page(path, "\n".join(parts) + "\n")


def table(header: list[str], rows: list[list[str]], *, raw: bool = False) -> str:
    """A table; cells are escaped unless ``raw`` (then the caller escaped them)."""
    cell = (lambda c: c) if raw else h
    head = "".join(f"<th>{h(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
