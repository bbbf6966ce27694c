"""Which characters a text written by a person may hold: pure, shared by every reader.

Request files (the loader) and signed statements (``signing.statement``) refuse the same
characters: controls other than tab and line breaks, bidirectional overrides and marks,
and characters that render as nothing (zero-width, word joiner, soft hyphen, fillers,
variation selectors, tags, ...). They can hide a word from the person who reads or signs
the text, or make a blank field look filled in. A field that must say something must
also hold at least one visible character (:func:`has_visible`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

#: Every character refused. Besides C0/C1 controls (tab, LF and CR allowed) it holds all of
#: Unicode's format characters (category Cf, checked by a unit test against unicodedata),
#: line and paragraph separators, Hangul fillers, combining joiners and variation
#: selectors, the tag block, and lone surrogates (JSON can spell them as escapes).
FORBIDDEN = re.compile(
    "["
    "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
    "\xad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff"
    "\ud800-\udfff"
    "]"
)
_NAMES = {
    "\ufeff": "BYTE ORDER MARK",
}
#: Characters of a visible category that still show nothing.
_BLANK = frozenset("\u2800\u3000")


@dataclass(frozen=True)
class HiddenChar:
    """One refused character: where, which, and the rule id it breaks."""

    index: int
    char: str
    rule: str  # "control-char", "bidi-char" or "invisible-char"

    @property
    def name(self) -> str:
        """``ZERO WIDTH SPACE (U+200B)``; controls are called ``kontrol``."""
        control = self.rule == "control-char" or "\ud800" <= self.char <= "\udfff"
        fallback = "kontrol" if control else "tak bernama"
        label = _NAMES.get(self.char) or unicodedata.name(self.char, fallback)
        return f"{label} (U+{ord(self.char):04X})"


def rule_of(char: str) -> str:
    """The rule id a refused character breaks."""
    if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069" or char in "\u200e\u200f\u061c":
        return "bidi-char"
    if char < "\xa0":
        return "control-char"
    return "invisible-char"


def hidden_chars(text: str) -> Iterator[HiddenChar]:
    """Every refused character of ``text``, in order."""
    for match in FORBIDDEN.finditer(text):
        yield HiddenChar(match.start(), match.group(), rule_of(match.group()))


def has_visible(text: str) -> bool:
    """True if ``text`` holds a letter, digit, punctuation mark or symbol that shows."""
    return any(
        unicodedata.category(c)[0] in "LNPS" and c not in _BLANK and not FORBIDDEN.match(c)
        for c in text
    )


def shown(text: str, limit: int = 60) -> str:
    """``text`` safe to echo in a message: refused characters escaped, long text cut."""
    safe = FORBIDDEN.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    safe = safe.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return safe if len(safe) <= limit else safe[:limit] + "..."
