"""Escaping of untrusted text for Markdown and HTML.

Request values are untrusted. In Markdown (files and merge-request comments on GitLab or
GitHub) a value must not open a heading, a list, a table cell, a link, an image, raw HTML,
an autolink, a mention (``@all``) or a reference (``#12``, ``!3``): every ASCII punctuation
character that Markdown gives a meaning is backslash-escaped, and line breaks are folded
into spaces so a value stays on its line. In HTML, :func:`html.escape` with quotes.
"""

from __future__ import annotations

import html
import re
from urllib.parse import quote

# CommonMark allows a backslash before any ASCII punctuation. Escaped everywhere: what has a
# meaning inline in CommonMark, GFM or GitLab Flavored Markdown (emphasis, code, links, raw
# HTML and entities, table cells, strikethrough, mentions, references, math, emoji and
# autolinks, inline diffs); a colon only before a non-space (``:emoji:``, ``http:``), so a
# sentence's "memenuhi:" stays readable. Escaped at the start only: what opens a block there.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]<>&|~@#$!]|:(?=\S))")
_MD_BLOCK_START = re.compile(r"\A(?:(\d+)([.)])|()([-+=]))(?=\s|[-+=]|\Z)")
_WHITESPACE = re.compile(r"\s+")


def md(text: object) -> str:
    """Plain text safe anywhere inline in Markdown, including a table cell."""
    folded = _WHITESPACE.sub(" ", str(text)).strip()
    escaped = _MD_SPECIAL.sub(r"\\\1", folded)
    return _MD_BLOCK_START.sub(lambda m: f"{m[1] or ''}\\{m[2] or m[4]}", escaped)


def md_inline(text: str) -> str:
    """:func:`md` for one part of a paragraph: a space at either end is kept (folded to
    one), so the parts joined keep their word breaks around a bold part."""
    body = md(text)
    if not body:
        return " " if text[:1].isspace() else ""
    lead = " " if text[:1].isspace() else ""
    tail = " " if text[-1:].isspace() else ""
    return f"{lead}{body}{tail}"


def md_code(text: object) -> str:
    """Plain text as an inline code span (used for ids and hashes), backticks made safe."""
    folded = _WHITESPACE.sub(" ", str(text)).strip()
    if not folded:
        return ""
    fence = "`"
    while fence in folded:
        fence += "`"
    pad = " " if folded.startswith("`") or folded.endswith("`") else ""
    return f"{fence}{pad}{folded}{pad}{fence}"


def md_url(url: str) -> str:
    """A link target: spaces, parentheses and angle brackets percent-encoded."""
    return quote(url, safe=":/?#[]@!$&'*+,;=%~-._")


def h(text: object) -> str:
    """Plain text safe as HTML element content or a quoted attribute value."""
    return html.escape(str(text), quote=True)


#: An e-mail address (or an e-mail-like signer principal), which must never break mid-word.
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def h_text(text: object) -> str:
    """:func:`h` for running text: every e-mail address in it is kept on one line
    (``<span class="nobr">``, ``white-space: nowrap``). The address is escaped too."""
    value = str(text)
    out, last = [], 0
    for found in _EMAIL.finditer(value):
        out.append(h(value[last : found.start()]))
        out.append(f'<span class="nobr">{h(found.group(0))}</span>')
        last = found.end()
    out.append(h(value[last:]))
    return "".join(out)
