"""Which challenges are solved: a small JSON file under the working folder (``$LABKIT_PROGRESS`` moves it).

The file keeps the audit file's rules (``labkit._files``, their one home): never read or written through a symlink,
regular files only (a FIFO never blocks the reader), replaced atomically through a private 0600 temporary file,
one writer at a time (a lock on the folder), so a mark is never lost and a planted file never receives it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .._files import UnsafeFileError, folder_lock, read_regular, replace_atomically
from .._json import loads_bounded
from .._text import safe_text
from ..errors import LabkitError

__all__ = ["Progress", "ProgressFileError", "default_progress_path"]

_MAX_BYTES = 65_536


class ProgressFileError(LabkitError):
    """The progress file cannot be used safely: a symlink, not a regular file, unwritable, or not a progress file."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"challenge progress file {safe_text(os.fspath(path), 256)}: {problem}")
        self.path = os.fspath(path)
        self.problem = problem


def default_progress_path() -> Path:
    """``$LABKIT_PROGRESS``, else ``.labkit/progress.json`` in the current working folder."""
    configured = os.environ.get("LABKIT_PROGRESS")
    return Path(configured) if configured else Path.cwd() / ".labkit" / "progress.json"


class Progress:
    """Solved lessons, kept in a JSON file (``{"solved": ["00", ...]}``).

    A missing file reads as nothing solved, and so does one whose content is not a progress file (oversized,
    not JSON); ``mark`` refuses to overwrite such a file. Raises ``ProgressFileError`` for a file that is a
    symlink or not a regular file, or that cannot be written.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_progress_path()

    def solved(self) -> set[str]:
        """The lessons whose challenge is solved; raises ``ProgressFileError`` (see the class)."""
        found = self._read()
        return set() if found is None else found

    def mark(self, lesson: str) -> None:
        """Record ``lesson`` as solved; raises ``ProgressFileError`` rather than lose what the file holds."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with folder_lock(self.path.parent):  # read, add, replace: one writer at a time, nothing lost
                found = self._read()
                if found is None and self._exists():
                    raise ProgressFileError(self.path, "is not a progress file (not JSON of the form "
                                            '{"solved": [...]}); reset() or delete it')
                solved = (found or set()) | {lesson}
                replace_atomically(self.path, json.dumps({"solved": sorted(solved)}, indent=1).encode())
        except UnsafeFileError as exc:
            raise ProgressFileError(self.path, exc.problem) from None
        except OSError as exc:
            raise ProgressFileError(self.path, f"cannot be written ({exc.strerror or type(exc).__name__})") from None

    def reset(self) -> None:
        """Forget everything solved (removes the file, or a link planted in its place, never a link's target)."""
        self.path.unlink(missing_ok=True)

    def _exists(self) -> bool:
        return self.path.exists() or self.path.is_symlink()

    def _read(self) -> set[str] | None:
        """The solved lessons; None when the file is missing or is not a progress file."""
        try:
            data = read_regular(self.path, _MAX_BYTES)
        except UnsafeFileError as exc:
            raise ProgressFileError(self.path, exc.problem) from None
        except OSError as exc:
            raise ProgressFileError(self.path, f"cannot be read ({exc.strerror or type(exc).__name__})") from None
        if data is None or len(data) > _MAX_BYTES:
            return None
        try:
            document = loads_bounded(data)  # ValueError for bad UTF-8, syntax or depth (never RecursionError)
        except ValueError:
            return None
        values = document.get("solved") if isinstance(document, dict) else None
        return {v for v in values if isinstance(v, str)} if isinstance(values, list) else None
