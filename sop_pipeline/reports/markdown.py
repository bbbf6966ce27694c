"""A :class:`~sop_pipeline.reports.document.Document` as Markdown (GitHub/GitLab flavoured).

Pure. Every string from a block goes through :func:`~sop_pipeline.reports.escape.md`.
"""

from __future__ import annotations

from sop_pipeline.reports.document import (
    Block,
    Document,
    Fields,
    Heading,
    Inline,
    Items,
    Paragraph,
    SignatureBlock,
    Signatures,
    Strong,
    Table,
)
from sop_pipeline.reports.escape import md, md_inline


def _inline(part: Inline) -> str:
    return f"**{md(part.text)}**" if isinstance(part, Strong) else md_inline(part)


def _row(cells: tuple[str, ...], strong: bool = False) -> str:
    cells = tuple(md(c) or " " for c in cells)
    if strong:
        cells = tuple(f"**{c}**" if c.strip() else c for c in cells)
    return "| " + " | ".join(cells) + " |"


def _table(block: Table) -> list[str]:
    lines = [_row(block.header), "|" + "|".join("---" for _ in block.header) + "|"]
    lines += [_row(r, i in block.marked) for i, r in enumerate(block.rows)]
    if block.note:
        lines += ["", f"*{md(block.note)}*"]
    return lines


def _signature(block: SignatureBlock) -> list[str]:
    lines = [md(line) + "  " for line in block.lines]
    lines += ["", "", "", f"**{md(block.name)}**  "]
    if block.rank:
        lines.append(md(block.rank) + "  ")
    if block.nip:
        lines.append(f"NIP. {md(block.nip)}  ")
    if block.electronic:
        lines.append(f"*{md(block.electronic)}*")
    return lines


def _block(block: Block) -> list[str]:
    if isinstance(block, Heading):
        return [f"## {md(block.text)}"]
    if isinstance(block, Paragraph):
        return ["".join(_inline(p) for p in block.parts)]
    if isinstance(block, Fields):
        return [f"- **{md(label)}:** {md(value)}" for label, value in block.rows]
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Items):
        return [
            f"{f'{i}.' if block.ordered else '-'} {md(item)}"
            for i, item in enumerate(block.items, 1)
        ]
    return _signatures(block)


def _signatures(block: Signatures) -> list[str]:
    out: list[str] = [md(block.dated), ""] if block.dated else []
    for row in block.rows:
        for sig in row:
            out += [*_signature(sig), ""]
    return out[:-1]


def render_markdown(doc: Document) -> str:
    """The whole document: letterhead, title, number, blocks, footer."""
    head, *rest = doc.letterhead.lines
    lines = [f"**{md(head.upper())}**  "]
    if rest:
        agency, *contact = rest
        lines.append(f"**{md(agency.upper())}**  ")
        lines += [md(c) + "  " for c in contact]
    lines += ["", "---", "", f"# {md(doc.title)}"]
    if doc.subtitle:
        lines += ["", f"**{md(doc.subtitle)}**"]
    if doc.number:
        lines += ["", f"Nomor: {md(doc.number)}"]
    for block in doc.blocks:
        lines += ["", *_block(block)]
    lines += ["", "---", "", f"*{md(doc.footer)}*", ""]
    return "\n".join(lines)
