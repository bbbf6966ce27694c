"""A printed document as a few plain blocks, rendered to Markdown and to HTML.

Each report is built once as a :class:`Document` (``documents.py``) and rendered by both
``markdown.py`` and ``html.py``. Every string in a block is plain text, never markup: the
renderers escape all of it, so a request value can't become a heading, a link or a tag.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Strong:
    """Bold text inside a paragraph."""

    text: str


Inline = str | Strong


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Paragraph:
    parts: tuple[Inline, ...]


@dataclass(frozen=True)
class Fields:
    """Label-colon-value lines ("Nama : ..."), as forms in naskah dinas print them."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: Rows to stand out (a breached SLA, a failed check), by index.
    marked: frozenset[int] = frozenset()
    #: Relative column widths for print (HTML only); empty: even.
    widths: tuple[int, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]
    ordered: bool = True


@dataclass(frozen=True)
class SignatureBlock:
    """Where an official signs: heading lines, a space for the wet signature, name, NIP."""

    #: e.g. ("Padang, 30 November 2026", "Kepala Bidang Aplikasi Informatika,")
    lines: tuple[str, ...]
    name: str
    nip: str  # printed as "NIP. ..." when not empty
    rank: str = ""
    #: The electronic signature the ledger holds for this step, if any: who, when, the key's
    #: fingerprint, and what kind of signature it is (and is not).
    electronic: str = ""


@dataclass(frozen=True)
class Signatures:
    """Rows of signature blocks; a single block in a row goes to the right-hand side,
    or to the centre for the rows listed in ``centered_rows`` (a "Mengetahui" block)."""

    rows: tuple[tuple[SignatureBlock, ...], ...]
    centered_rows: frozenset[int] = frozenset()
    #: A line above the blocks, right-aligned: "Padang, 30 November 2026".
    dated: str = ""


Block = Heading | Paragraph | Fields | Table | Items | Signatures


@dataclass(frozen=True)
class Image:
    """An image embedded in the document itself (never fetched): the kop's emblem."""

    media_type: str  # image/png, image/jpeg or image/svg+xml
    data: bytes = field(repr=False)
    alt: str = ""


@dataclass(frozen=True)
class Letterhead:
    lines: tuple[str, ...]  # government, agency (large), then contact lines (small)
    emblem: Image | None = None  # at the left of the kop (HTML and PDF only)


@dataclass(frozen=True)
class Document:
    letterhead: Letterhead
    title: str
    number: str  # "Nomor: ..." under the title; empty for none
    blocks: tuple[Block, ...]
    footer: str
    subtitle: str = ""
    meta: dict[str, str] = field(default_factory=dict)  # PDF metadata (title, author)
