"""A :class:`~sop_pipeline.reports.document.Document` as a printable A4 HTML page.

Pure. Every string from a block goes through :func:`html.escape` (``escape.h``); the only
markup is ours. The style sheet is inline, so rendering to PDF fetches nothing (``pdf.py``
also refuses every fetch). Layout follows the usual naskah dinas: letterhead with a double
rule, centred underlined title and number, justified text, signature blocks on the right.
"""

from __future__ import annotations

import base64

from sop_pipeline.reports.document import (
    Block,
    Document,
    Fields,
    Heading,
    Image,
    Inline,
    Items,
    Paragraph,
    SignatureBlock,
    Signatures,
    Strong,
    Table,
)
from sop_pipeline.reports.escape import h, h_text

STYLE = """
@page {
  size: A4;
  margin: 1.6cm 2cm 2.4cm 2.5cm;
  @bottom-left { content: element(footer); width: 80%; vertical-align: top; }
  @bottom-right { content: "Halaman " counter(page) " dari " counter(pages);
                  font-size: 7.5pt; color: #444; vertical-align: top; padding-top: 6pt; }
}
html { font-family: Arial, "Liberation Sans", "DejaVu Sans", sans-serif; font-size: 10.5pt;
       line-height: 1.35; color: #000; }
body { margin: 0; }
.footer-text { position: running(footer); font-size: 7.5pt; color: #444;
               border-top: 0.5pt solid #888; padding-top: 3pt; margin-top: 6pt; }
.kop { text-align: center; border-bottom: 3pt solid #000; padding: 0 2.4cm 4pt 2.4cm;
       position: relative; min-height: 2.2cm; }
.kop img.emblem { position: absolute; left: 0; top: 0; height: 2.2cm; width: auto; }
.kop-rule { border-top: 0.8pt solid #000; margin-top: 1.5pt; margin-bottom: 14pt; }
.kop .gov { font-size: 13pt; letter-spacing: 0.5pt; }
.kop .agency { font-size: 15pt; font-weight: bold; letter-spacing: 0.3pt; }
.kop .contact { font-size: 8.5pt; }
h1 { font-size: 12.5pt; text-align: center; text-decoration: underline; margin: 0;
     text-transform: uppercase; }
.subtitle { text-align: center; font-weight: bold; margin: 2pt 0 0 0; }
.number { text-align: center; margin: 2pt 0 12pt 0; }
h2 { font-size: 11pt; margin: 12pt 0 4pt 0; break-after: avoid; }
p { text-align: justify; margin: 0 0 6pt 0; }
table { border-collapse: collapse; width: 100%; }
table.fields { margin: 0 0 6pt 0; }
table.fields td { vertical-align: top; padding: 1pt 3pt 1pt 0; }
table.fields td.label { width: 30%; }
table.fields td.colon { width: 2%; }
table.grid { margin: 2pt 0 6pt 0; font-size: 9pt; table-layout: fixed; }
table.grid th, table.grid td { border: 0.6pt solid #000; padding: 2.5pt 4pt;
                               vertical-align: top; overflow-wrap: break-word; }
table.grid th { background: #e6e6e6; text-align: center; }
table.grid tr.marked td { font-weight: bold; background: #f2f2f2; }
table.grid tr { break-inside: avoid; }
.note { font-size: 8.5pt; font-style: italic; margin: 0 0 6pt 0; }
ol, ul { margin: 0 0 6pt 0; padding-left: 18pt; }
li { text-align: justify; margin-bottom: 2pt; }
table.signatures { margin-top: 12pt; table-layout: fixed; }
table.signatures tbody { break-inside: avoid; }
table.signatures td { width: 50%; text-align: center; padding: 0 6pt; }
table.signatures tr.head td { vertical-align: bottom; padding-top: 10pt; }
table.signatures tr.space td { height: 56pt; }
table.signatures tr.who td { vertical-align: top; }
.sig-name { font-weight: bold; text-decoration: underline; }
.sig-dated { text-align: right; margin: 12pt 0 0 0; padding-right: 6pt; }
.nobr { white-space: nowrap; }
.sig-e { font-size: 7.5pt; font-style: italic; color: #333; margin-top: 3pt;
         overflow-wrap: anywhere; }
"""


def _inline(part: Inline) -> str:
    return f"<strong>{h_text(part.text)}</strong>" if isinstance(part, Strong) else h_text(part)


def _fields(block: Fields) -> str:
    rows = "".join(
        f'<tr><td class="label">{h(label)}</td><td class="colon">:</td>'
        f"<td>{h_text(value)}</td></tr>"
        for label, value in block.rows
    )
    return f'<table class="fields">{rows}</table>'


def _table(block: Table) -> str:
    cols = ""
    if block.widths:
        total = sum(block.widths)
        cols = "".join(f'<col style="width:{100 * w / total:.1f}%">' for w in block.widths)
    head = "".join(f"<th>{h(c)}</th>" for c in block.header)
    body = "".join(
        ('<tr class="marked">' if i in block.marked else "<tr>")
        + "".join(f"<td>{h_text(c)}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(block.rows)
    )
    note = f'<p class="note">{h_text(block.note)}</p>' if block.note else ""
    return (
        f'<table class="grid"><colgroup>{cols}</colgroup><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>{note}"
    )


def _who(block: SignatureBlock) -> str:
    parts = [f'<div class="sig-name">{h(block.name)}</div>']
    if block.rank:
        parts.append(f"<div>{h(block.rank)}</div>")
    if block.nip:
        parts.append(f"<div>NIP. {h(block.nip)}</div>")
    if block.electronic:
        parts.append(f'<div class="sig-e">{h_text(block.electronic)}</div>')
    return "".join(parts)


def _signature_row(row: tuple[SignatureBlock, ...], centered: bool) -> str:
    """Three table rows (heading, space to sign, name) so that names line up across blocks."""
    heads = ["".join(f"<div>{h_text(line)}</div>" for line in s.lines) for s in row]
    whos = [_who(s) for s in row]
    if len(row) == 1 and centered:
        cell = '<td colspan="2">{}</td>'
        heads, whos = [cell.format(heads[0])], [cell.format(whos[0])]
    else:
        pad = ["<td></td>"] * (2 - len(row)) if len(row) < 2 else []
        heads = pad + [f"<td>{x}</td>" for x in heads]
        whos = pad + [f"<td>{x}</td>" for x in whos]
    space = '<td colspan="2"></td>'
    return (
        f'<tbody><tr class="head">{"".join(heads)}</tr><tr class="space">{space}</tr>'
        f'<tr class="who">{"".join(whos)}</tr></tbody>'
    )


def _signatures(block: Signatures) -> str:
    rows = "".join(
        _signature_row(row, i in block.centered_rows) for i, row in enumerate(block.rows)
    )
    dated = f'<p class="sig-dated">{h(block.dated)}</p>' if block.dated else ""
    return f'{dated}<table class="signatures">{rows}</table>'


def _block(block: Block) -> str:
    if isinstance(block, Heading):
        return f"<h2>{h(block.text)}</h2>"
    if isinstance(block, Paragraph):
        return f"<p>{''.join(_inline(p) for p in block.parts)}</p>"
    if isinstance(block, Fields):
        return _fields(block)
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Items):
        tag = "ol" if block.ordered else "ul"
        return f"<{tag}>{''.join(f'<li>{h_text(i)}</li>' for i in block.items)}</{tag}>"
    return _signatures(block)


def _emblem(image: Image) -> str:
    """The emblem embedded as a ``data:`` URL: the page loads nothing (pdf.py decodes it)."""
    data = base64.b64encode(image.data).decode("ascii")
    return (
        f'<img class="emblem" src="data:{h(image.media_type)};base64,{data}" alt="{h(image.alt)}">'
    )


def render_html(doc: Document) -> str:
    """A complete HTML document, UTF-8, ready for a browser or WeasyPrint."""
    head, *rest = doc.letterhead.lines
    kop = [f'<div class="gov">{h(head.upper())}</div>']
    if rest:
        agency, *contact = rest
        kop.append(f'<div class="agency">{h(agency.upper())}</div>')
        kop += [f'<div class="contact">{h_text(c)}</div>' for c in contact]
    if doc.letterhead.emblem is not None:
        kop.insert(0, _emblem(doc.letterhead.emblem))
    meta = "".join(
        f'<meta name="{h(name)}" content="{h(value)}">' for name, value in sorted(doc.meta.items())
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="id"><head><meta charset="utf-8">',
        f"<title>{h(doc.title)}</title>{meta}<style>{STYLE}</style></head><body>",
        f'<div class="footer-text">{h_text(doc.footer)}</div>',
        f'<header class="kop">{"".join(kop)}</header><div class="kop-rule"></div>',
        f"<h1>{h(doc.title)}</h1>",
    ]
    if doc.subtitle:
        parts.append(f'<p class="subtitle">{h(doc.subtitle)}</p>')
    if doc.number:
        parts.append(f'<p class="number">Nomor: {h(doc.number)}</p>')
    parts += [_block(b) for b in doc.blocks]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
