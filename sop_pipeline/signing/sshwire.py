"""The SSH wire encoding (RFC 4251 section 5): just what SSHSIG and public keys need.

The reader is as strict as OpenSSH's ``sshbuf`` getters, so that the native verifier refuses
exactly what ``ssh-keygen`` refuses: a C string with a NUL inside, a negative or too long
mpint, a length past the end.
"""

from __future__ import annotations

import struct

MAX_BIGNUM_BYTES = 16384 // 8  # SSHBUF_MAX_BIGNUM


class WireError(ValueError):
    """Bytes that are not the SSH encoding they should be."""


class Reader:
    """Reads SSH wire values from a bytes object, front to back."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    @property
    def remaining(self) -> int:
        return len(self._data) - self._pos

    def raw(self, size: int) -> bytes:
        if size < 0 or self._pos + size > len(self._data):
            raise WireError("truncated data")
        value = self._data[self._pos : self._pos + size]
        self._pos += size
        return value

    def u8(self) -> int:
        return self.raw(1)[0]

    def u32(self) -> int:
        value: int = struct.unpack(">I", self.raw(4))[0]
        return value

    def string(self) -> bytes:
        return self.raw(self.u32())

    def cstring(self) -> str:
        """A string that must not contain NUL; decoded as UTF-8 (refused if it is not)."""
        value = self.string()
        if b"\0" in value:
            raise WireError("string contains NUL")
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError as err:
            raise WireError("string is not UTF-8") from err

    def mpint(self) -> int:
        """A non-negative mpint as OpenSSH accepts it (leading zero bytes are trimmed)."""
        value = self.string()
        if value and value[0] & 0x80:
            raise WireError("negative mpint")
        if len(value) > MAX_BIGNUM_BYTES + 1 or (
            len(value) == MAX_BIGNUM_BYTES + 1 and value[0] != 0
        ):
            raise WireError("mpint too large")
        return int.from_bytes(value, "big")

    def end(self) -> None:
        if self.remaining:
            raise WireError("trailing data")


def put_u32(value: int) -> bytes:
    return struct.pack(">I", value)


def put_string(value: bytes | str) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else value
    return put_u32(len(data)) + data


def put_mpint(value: int) -> bytes:
    """Minimal two's-complement encoding of a non-negative integer."""
    if value < 0:
        raise WireError("negative mpint")
    if value == 0:
        return put_string(b"")
    data = value.to_bytes((value.bit_length() + 8) // 8, "big")  # room for a sign bit
    if len(data) > 1 and data[0] == 0 and not data[1] & 0x80:
        data = data[1:]
    return put_string(data)
