"""Reading what a merge request put under ``requests/``: regular files only, never too much.

A merge request controls every byte under ``requests/``, file types included. A committed
symlink (Git mode 120000) checks out as a link: followed, it would make the pipeline check a
file other than the one in the commit, or read ``/dev/zero`` or a FIFO until memory runs out
or the gate hangs. So every read here

- walks the path below a trusted folder (``within``) one component at a time with
  ``O_NOFOLLOW``: no symlink is followed, neither the file nor a folder on the way;
- refuses anything that is not a regular file (symlink, FIFO, device, socket, folder)
  before opening it, and again after (``fstat`` of what was opened);
- opens with ``O_NONBLOCK`` (a FIFO that slipped past never blocks) and reads at most
  ``limit`` bytes, refusing a larger file before parsing any of it.

Refusals are :class:`UnsafeFile` with the rule id ``not-regular-file`` or ``too-large`` and
the path, in Indonesian, as every message for officials and OPD staff.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sop_pipeline.domain.text import shown
from sop_pipeline.errors import SopError

NOT_REGULAR = "not-regular-file"
TOO_LARGE = "too-large"
UNREADABLE = "unreadable"

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_CHUNK = 1 << 16


class UnsafeFile(SopError):
    """A file under ``requests/`` that is not a regular file, is too large or unreadable."""

    exit_code = 2

    def __init__(self, path: Path, rule: str, message: str) -> None:
        self.path = path
        self.rule = rule
        self.message = message
        super().__init__(self.diagnostics())

    @property
    def problem(self) -> str:
        """``<file>: <message> [rule]`` without the folders, for a list under a file."""
        return f"{shown(self.path.name, 120)}: {self.message} [{self.rule}]"

    def diagnostics(self) -> str:
        return f"{shown(str(self.path), 300)}: {self.message} [{self.rule}]"


def kind_of(mode: int) -> str:
    """What a file of this mode is, in Indonesian."""
    if stat.S_ISLNK(mode):
        return "tautan simbolik (symlink)"
    if stat.S_ISDIR(mode):
        return "folder"
    if stat.S_ISFIFO(mode):
        return "FIFO (pipa bernama)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "berkas perangkat (device)"
    if stat.S_ISSOCK(mode):
        return "soket"
    return "berkas khusus"


def _not_regular(path: Path, mode: int, wanted: str = "berkas biasa") -> UnsafeFile:
    return UnsafeFile(
        path,
        NOT_REGULAR,
        f"{kind_of(mode)}, bukan {wanted}; di bawah requests/ hanya berkas biasa yang "
        "diterima (tautan dan berkas khusus tidak diikuti)",
    )


def _parts(path: Path, within: Path) -> tuple[str, ...]:
    try:
        parts = path.relative_to(within).parts
    except ValueError as err:
        raise UnsafeFile(path, UNREADABLE, f"berada di luar {within}") from err
    if not parts or any(p in (".", "..") for p in parts):
        raise UnsafeFile(path, UNREADABLE, "jalur memuat '.' atau '..'")
    return parts


def _error(path: Path, err: OSError) -> Exception:
    if isinstance(err, FileNotFoundError):
        return err
    return UnsafeFile(path, UNREADABLE, f"tidak dapat dibaca: {err.strerror or err}")


@contextmanager
def _parent_fd(path: Path, within: Path | None) -> Iterator[tuple[int, str]]:
    """A descriptor of ``path``'s folder, reached from ``within`` without following links,
    and the last component's name. FileNotFoundError if a folder on the way is missing."""
    anchor = within if within is not None else path.parent
    parts = _parts(path, anchor)
    try:
        fd = os.open(anchor, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)  # trusted: followed
    except OSError as err:
        raise _error(anchor, err) from err
    try:
        here = anchor
        for part in parts[:-1]:
            here = here / part
            try:
                info = os.stat(part, dir_fd=fd, follow_symlinks=False)
            except OSError as err:
                raise _error(here, err) from err
            if not stat.S_ISDIR(info.st_mode):
                raise _not_regular(here, info.st_mode, "folder biasa")
            try:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as err:
                raise _error(here, err) from err
            os.close(fd)
            fd = child
        yield fd, parts[-1]
    finally:
        os.close(fd)


@contextmanager
def _open_regular(path: Path, *, limit: int, within: Path | None) -> Iterator[int]:
    try:
        with _parent_fd(path, within) as (parent, name):
            try:
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except OSError as err:
                raise _error(path, err) from err
            if not stat.S_ISREG(info.st_mode):  # refused before it is ever opened
                raise _not_regular(path, info.st_mode)
            try:
                fd = os.open(name, _FILE_FLAGS, dir_fd=parent)
            except OSError as err:
                if err.errno == errno.ELOOP:  # became a link since the check above
                    raise _not_regular(path, stat.S_IFLNK) from err
                raise _error(path, err) from err
    except ValueError as err:  # an embedded NUL byte in the path
        raise UnsafeFile(path, UNREADABLE, "nama berkas memuat bita NUL") from err
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise _not_regular(path, opened.st_mode)
        if opened.st_size > limit:
            raise too_large(path, opened.st_size, limit)
        yield fd
    finally:
        os.close(fd)


def too_large(path: Path, size: int | None, limit: int) -> UnsafeFile:
    what = f"{size} bita" if size is not None else "lebih besar"
    return UnsafeFile(path, TOO_LARGE, f"berkas {what}, melebihi batas {limit} bita")


def read_regular(path: Path, *, limit: int, within: Path | None = None) -> bytes:
    """The bytes of regular file ``path`` (at most ``limit``), reached from ``within``
    (default: its own folder) without following any link.

    FileNotFoundError if it does not exist; UnsafeFile if it is not a regular file, is
    larger than ``limit`` or cannot be read.
    """
    with _open_regular(path, limit=limit, within=within) as fd:
        chunks: list[bytes] = []
        size = 0
        while size <= limit:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - size))
            except OSError as err:
                raise _error(path, err) from err
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            size += len(chunk)
        raise too_large(path, None, limit)  # it grew after fstat


def sha256_regular(path: Path, *, limit: int, within: Path | None = None) -> str:
    """sha256 of regular file ``path``, read in chunks; the same refusals as
    :func:`read_regular`."""
    digest = hashlib.sha256()
    with _open_regular(path, limit=limit, within=within) as fd:
        size = 0
        while True:
            try:
                chunk = os.read(fd, _CHUNK)
            except OSError as err:
                raise _error(path, err) from err
            if not chunk:
                return digest.hexdigest()
            size += len(chunk)
            if size > limit:
                raise too_large(path, None, limit)
            digest.update(chunk)


def list_folder(
    directory: Path, *, within: Path | None = None
) -> tuple[list[Path], list[UnsafeFile]]:
    """The regular files of ``directory`` and a refusal for every other entry in it.

    ``([], [])`` if the folder does not exist; UnsafeFile if it is itself a link or not a
    folder (the folder is reached from ``within`` without following links).
    """
    try:
        with _parent_fd(directory, within) as (parent, name):
            try:
                info = os.stat(name, dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                return [], []
            except OSError as err:
                raise _error(directory, err) from err
            if not stat.S_ISDIR(info.st_mode):
                raise _not_regular(directory, info.st_mode, "folder biasa")
            try:
                fd = os.open(name, _DIR_FLAGS, dir_fd=parent)
            except OSError as err:
                raise _error(directory, err) from err
    except FileNotFoundError:
        return [], []
    except ValueError as err:
        raise UnsafeFile(directory, UNREADABLE, "nama folder memuat bita NUL") from err
    regular: list[Path] = []
    refused: list[UnsafeFile] = []
    try:
        with os.scandir(fd) as entries:
            for entry in entries:
                info = entry.stat(follow_symlinks=False)
                if stat.S_ISREG(info.st_mode):
                    regular.append(directory / entry.name)
                else:
                    refused.append(_not_regular(directory / entry.name, info.st_mode))
    finally:
        os.close(fd)
    return sorted(regular), sorted(refused, key=lambda e: e.path)


def write_new(path: Path, data: bytes, *, within: Path | None = None) -> None:
    """Create ``path`` with ``data``; refuses to follow a link or to replace anything."""
    try:
        with _parent_fd(path, within) as (parent, name):
            try:
                fd = os.open(name, _WRITE_FLAGS, 0o644, dir_fd=parent)
            except FileExistsError as err:
                raise UnsafeFile(path, NOT_REGULAR, "sudah ada; tidak ditimpa") from err
            except OSError as err:
                raise _error(path, err) from err
    except ValueError as err:
        raise UnsafeFile(path, UNREADABLE, "nama berkas memuat bita NUL") from err
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def lexists(path: Path) -> bool:
    """True if anything (a link included, even a dangling one) has this name."""
    return os.path.lexists(path)
