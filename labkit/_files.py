"""The one home of the rules for the lab's own files (the audit log, the challenge progress file).

A file is opened never through a symlink (``O_NOFOLLOW``), never blocking on a FIFO or a device (``O_NONBLOCK``,
then ``fstat``: regular files only), created 0600, written in place only when it is ours with one link (no planted
hard link); a whole-file write goes to a private temporary file in the same folder (``mkstemp``: a fresh 0600
name, ``O_EXCL``), is synced, and replaces the file in one ``rename``.
Callers turn ``UnsafeFileError`` into their own error (``AuditFileError``, ``ProgressFileError``).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ._text import safe_text

__all__ = ["UnsafeFileError", "folder_lock", "open_regular", "read_regular", "replace_atomically"]

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


class UnsafeFileError(OSError):
    """A file that cannot be used safely; ``problem`` says what is wrong in the user's words."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(problem)
        self.path = os.fspath(path)
        self.problem = self.strerror = problem  # strerror: what a caller printing an OSError shows


def open_regular(path: str | os.PathLike[str], flags: int, mode: int = 0o600, *, follow: bool = False) -> int:
    """A descriptor of the regular file ``path`` (``flags`` as for ``os.open``), blocking as usual once open.

    ``follow``: a symlink is followed (a file the user names to be read, e.g. a configuration), else refused.
    Raises ``UnsafeFileError`` for a symlink, a FIFO, a socket, a device, a directory or a missing folder (and,
    when writing, for a file with several hard links or of another user), and
    ``FileNotFoundError`` when it is missing and ``flags`` has no ``O_CREAT``.
    """
    where = Path(path)
    try:
        # O_NOFOLLOW: a symlink planted at the path is refused; O_NONBLOCK: a FIFO cannot hang the open
        fd = os.open(where, flags | (0 if follow else _NOFOLLOW) | _NONBLOCK | _CLOEXEC, mode)
    except IsADirectoryError:
        raise UnsafeFileError(where, "is a directory; give a file path") from None
    except FileNotFoundError:
        if flags & os.O_CREAT:
            raise UnsafeFileError(where, f"folder {safe_text(os.fspath(where.parent), 256)} does not exist") from None
        raise
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK):
            raise UnsafeFileError(where, "is a symbolic link; refused (give the real file)") from None
        if exc.errno == errno.ENXIO:
            raise UnsafeFileError(where, "is a FIFO or socket; give a regular file") from None
        raise UnsafeFileError(where, f"cannot be opened ({exc.strerror})") from None
    info = os.fstat(fd)
    kind = info.st_mode
    if not stat.S_ISREG(kind):
        os.close(fd)
        what = ("a directory" if stat.S_ISDIR(kind) else "a FIFO" if stat.S_ISFIFO(kind)
                else "a socket" if stat.S_ISSOCK(kind) else "a device")
        raise UnsafeFileError(where, f"is not a regular file ({what}); give a regular file")
    if flags & (os.O_WRONLY | os.O_RDWR):
        # a file we write is our own: a hard link planted at the path (to another file of the user's) or a file
        # another account made in a shared folder would receive what we write
        problem = ("has more than one hard link; refused (give a file of its own)" if info.st_nlink > 1
                   else "belongs to another user; refused" if hasattr(os, "geteuid") and info.st_uid != os.geteuid()
                   else None)
        if problem is not None:
            os.close(fd)
            raise UnsafeFileError(where, problem)
    os.set_blocking(fd, True)
    return fd


def read_regular(path: str | os.PathLike[str], limit: int, *, follow: bool = False) -> bytes | None:
    """The first ``limit + 1`` bytes at most of the regular file ``path``, or None when it does not exist.

    Raises ``UnsafeFileError`` (see ``open_regular``) or ``OSError`` when it cannot be read.
    """
    try:
        fd = open_regular(path, os.O_RDONLY, follow=follow)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as handle:
        return handle.read(limit + 1)


def replace_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` as the whole of ``path``: a private temporary file beside it, synced, then renamed over it.

    Readers see the old file or the new one, never a part; a planted file or symlink never receives the data (the
    temporary name is fresh and created exclusively; the rename replaces a link, it never writes through one).
    Raises ``UnsafeFileError`` when ``path`` is a directory, ``OSError`` when the folder cannot be written.
    """
    where = Path(path)
    if where.is_dir() and not where.is_symlink():
        raise UnsafeFileError(where, "is a directory; give a file path")
    fd, temporary = tempfile.mkstemp(dir=where.parent, prefix=f".{where.name}.", suffix=".tmp")  # 0600, O_EXCL
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, where)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # the rename itself survives a crash once the folder is synced
        folder = os.open(where.parent, os.O_RDONLY | _CLOEXEC)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (across threads and processes) for a read-modify-write.

    Raises ``UnsafeFileError`` when ``folder`` is a symlink or not a folder, ``OSError`` when it cannot be opened.
    Where ``flock`` does not exist, no lock is taken.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:  # O_NOFOLLOW: a folder planted as a symlink would move the write elsewhere
        fd = os.open(folder, os.O_RDONLY | _CLOEXEC | _NOFOLLOW | getattr(os, "O_DIRECTORY", 0))
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
            link = Path(folder).is_symlink()
            raise UnsafeFileError(folder, "folder is a symbolic link; refused (give the real folder)" if link
                                  else "is not a folder") from None
        raise
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
