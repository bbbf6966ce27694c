"""OpenSSH ``allowed_signers``: parse it, and answer "may this key sign as this principal?".

Mirrors ``sshsig.c`` of OpenSSH 9.x (``check_allowed_keys_line``): a line is
``principals [options] keytype base64 [comment]``; options are ``cert-authority``,
``namespaces="..."``, ``valid-after="..."``, ``valid-before="..."``. Principals and namespaces
are OpenSSH pattern lists (``*``, ``?``, ``!negation``). Where ``ssh-keygen`` silently skips a
line it cannot read, this parser raises: a keyring we cannot read whole is refused whole.
Times without ``Z`` are read as UTC; the ssh-keygen adapter runs with ``TZ=UTC`` so both agree.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sop_pipeline.signing.sshkeys import KeyError_, PublicKey, parse_key_text

_TIME = re.compile(r"(\d{8})(\d{4}(\d{2})?)?(Z?)\Z", re.IGNORECASE)
_OPTION = re.compile(r'(cert-authority)|(namespaces|valid-after|valid-before)="([^"]*)"', re.I)


class AllowedSignersError(ValueError):
    """A line of ``allowed_signers`` that cannot be read (line number in the message)."""


@dataclass(frozen=True)
class SignerLine:
    """One line of ``allowed_signers``."""

    line_no: int
    principals: str  # the raw pattern list
    key: PublicKey
    namespaces: str | None = None  # pattern list; None: any namespace
    valid_after: int | None = None  # epoch seconds
    valid_before: int | None = None
    valid_after_text: str = ""
    valid_before_text: str = ""
    cert_authority: bool = False
    comment: str = ""

    @property
    def principal_list(self) -> list[str]:
        return self.principals.split(",")

    def permits(self, *, principal: str, key: PublicKey, namespace: str, at: int) -> bool:
        """True when this line lets ``key`` sign as ``principal`` in ``namespace`` at ``at``."""
        if self.cert_authority or match_pattern_list(principal, self.principals) != 1:
            return False
        if key.blob != self.key.blob:
            return False
        if self.namespaces is not None and match_pattern_list(namespace, self.namespaces) != 1:
            return False
        if self.valid_after is not None and at < self.valid_after:
            return False
        return not (self.valid_before is not None and at > self.valid_before)


def match_pattern(string: str, pattern: str) -> bool:
    """OpenSSH ``match_pattern``: ``*`` any run, ``?`` one character, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, string, re.DOTALL) is not None


def match_pattern_list(string: str, patterns: str) -> int:
    """OpenSSH ``match_pattern_list``: 1 matched, 0 not matched, -1 matched a ``!`` pattern."""
    got_positive = 0
    for sub in patterns.split(","):
        negated = sub.startswith("!")
        if match_pattern(string, sub[1:] if negated else sub):
            if negated:
                return -1
            got_positive = 1
    return got_positive


def has_wildcard(patterns: str) -> bool:
    return any(c in patterns for c in "*?!")


def parse_time(text: str) -> int:
    """``YYYYMMDD[HHMM[SS]][Z]`` as epoch seconds, read as UTC."""
    m = _TIME.match(text)
    if not m:
        raise AllowedSignersError(f"time {text!r} is not YYYYMMDD[HHMM[SS]][Z]")
    digits = m.group(1) + (m.group(2) or "0000")
    if len(digits) == 12:
        digits += "00"
    try:
        year, month, day = int(digits[0:4]), int(digits[4:6]), int(digits[6:8])
        hour, minute, second = int(digits[8:10]), int(digits[10:12]), int(digits[12:14])
        if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
            raise ValueError(text)
        return calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    except ValueError as err:
        raise AllowedSignersError(f"time {text!r} is not a valid date") from err


def format_time(epoch: int) -> str:
    """Epoch seconds as ``YYYYMMDDHHMMSSZ``, the form ssh-keygen's ``verify-time`` takes."""
    import time

    return time.strftime("%Y%m%d%H%M%SZ", time.gmtime(epoch))


def parse_line(line_no: int, line: str) -> SignerLine | None:
    """One line; None for a blank or comment line; AllowedSignersError when unreadable."""
    text = line.strip(" \t\r\n")
    if not text or text.startswith("#"):
        return None
    principals, _, rest = text.partition(" ")
    rest = rest.lstrip(" \t")
    if "\t" in principals or '"' in principals or not rest:
        raise AllowedSignersError(f"line {line_no}: expected 'principals [options] key'")
    options = ""
    try:
        key = parse_key_text(rest)
        comment = rest.split(None, 2)[2] if len(rest.split(None, 2)) > 2 else ""
    except KeyError_:
        options, _, keytext = _split_options(line_no, rest)
        try:
            key = parse_key_text(keytext)
        except KeyError_ as err:
            raise AllowedSignersError(f"line {line_no}: {err}") from err
        parts = keytext.split(None, 2)
        comment = parts[2] if len(parts) > 2 else ""
    return _with_options(SignerLine(line_no, principals, key, comment=comment), options)


def _split_options(line_no: int, rest: str) -> tuple[str, str, str]:
    in_quote = False
    for index, char in enumerate(rest):
        if char == '"':
            in_quote = not in_quote
        elif char in " \t" and not in_quote:
            return rest[:index], " ", rest[index:].lstrip(" \t")
    raise AllowedSignersError(f"line {line_no}: missing key")


def _with_options(line: SignerLine, options: str) -> SignerLine:
    values: dict[str, str] = {}
    ca = False
    pos = 0
    while options and pos < len(options):
        m = _OPTION.match(options, pos)
        if not m:
            raise AllowedSignersError(f"line {line.line_no}: unknown or malformed option")
        if m.group(1):
            ca = True
        else:
            name = m.group(2).lower()
            if name in values:
                raise AllowedSignersError(f'line {line.line_no}: multiple "{name}" clauses')
            values[name] = m.group(3)
        pos = m.end()
        if pos < len(options):
            if options[pos] != ",":
                raise AllowedSignersError(f"line {line.line_no}: unknown key option")
            pos += 1
            if pos == len(options):
                raise AllowedSignersError(f"line {line.line_no}: unexpected end of options")
    try:
        after = parse_time(values["valid-after"]) if "valid-after" in values else None
        before = parse_time(values["valid-before"]) if "valid-before" in values else None
    except AllowedSignersError as err:
        raise AllowedSignersError(f"line {line.line_no}: {err}") from err
    if after is not None and before is not None and before <= after:
        raise AllowedSignersError(f'line {line.line_no}: "valid-before" is before "valid-after"')
    return SignerLine(
        line.line_no,
        line.principals,
        line.key,
        namespaces=values.get("namespaces"),
        valid_after=after,
        valid_before=before,
        valid_after_text=values.get("valid-after", ""),
        valid_before_text=values.get("valid-before", ""),
        cert_authority=ca,
        comment=line.comment,
    )


def parse(text: str) -> list[SignerLine]:
    """Every line of an ``allowed_signers`` file; AllowedSignersError on the first bad one."""
    lines = (parse_line(no, line) for no, line in enumerate(text.split("\n"), start=1))
    return [line for line in lines if line is not None]


def permitted(
    lines: Iterable[SignerLine], *, principal: str, key: PublicKey, namespace: str, at: int
) -> bool:
    """``ssh-keygen -Y verify``'s allowed-signers decision."""
    return any(
        line.permits(principal=principal, key=key, namespace=namespace, at=at) for line in lines
    )
