"""What the learner did: solved challenges, hints used, solutions viewed, prediction scores, in a small JSON file
under the working folder (``$LABKIT_PROGRESS`` moves it).

The format extends the first one (``{"solved": [...]}``, still what a file with only solved keys holds): optional
``"hints"`` (key -> hints used before solving), ``"solution_viewed"`` (keys whose solution was shown before they
were solved), ``"predictions"`` ("key/question" -> [right, asked]). An older file reads as it always did.

The file keeps the audit file's rules (``labkit._files``, their one home): never read or written through a symlink,
regular files only (a FIFO never blocks the reader), replaced atomically through a private 0600 temporary file,
one writer at a time (a lock on the folder), so a mark is never lost and a planted file never receives it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._files import UnsafeFileError, folder_lock, read_regular, replace_atomically
from .._json import loads_bounded
from .._text import safe_text
from ..errors import LabkitError

__all__ = ["Progress", "ProgressFileError", "Record", "default_progress_path"]

_MAX_BYTES = 65_536
_MAX_COUNT = 1_000  # a count read from the file above this is not ours


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


@dataclass
class Record:
    """Everything the progress file holds, read leniently (an entry of the wrong shape is skipped)."""

    solved: set[str] = field(default_factory=set)
    hints: dict[str, int] = field(default_factory=dict)
    solution_viewed: set[str] = field(default_factory=set)
    predictions: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The file's document; only ``"solved"`` when nothing else was recorded (the first format, unchanged)."""
        document: dict[str, Any] = {"solved": sorted(self.solved)}
        if self.hints:
            document["hints"] = dict(sorted(self.hints.items()))
        if self.solution_viewed:
            document["solution_viewed"] = sorted(self.solution_viewed)
        if self.predictions:
            document["predictions"] = {k: list(v) for k, v in sorted(self.predictions.items())}
        return document

    @classmethod
    def from_json(cls, document: object) -> Record | None:
        """The record in ``document``; None when it is not a progress file (no ``"solved"`` list)."""
        values = document.get("solved") if isinstance(document, dict) else None
        if not isinstance(document, dict) or not isinstance(values, list):
            return None
        hints, viewed, predictions = document.get("hints"), document.get("solution_viewed"), document.get("predictions")
        return cls(
            solved={v for v in values if isinstance(v, str)},
            hints={k: v for k, v in hints.items() if _count(v)} if isinstance(hints, dict) else {},
            solution_viewed={v for v in viewed if isinstance(v, str)} if isinstance(viewed, list) else set(),
            predictions=({k: (v[0], v[1]) for k, v in predictions.items()
                          if isinstance(v, list) and len(v) == 2 and _count(v[0]) and _count(v[1]) and v[0] <= v[1]}
                         if isinstance(predictions, dict) else {}),
        )


def _count(value: object) -> bool:
    return type(value) is int and 0 <= value <= _MAX_COUNT


class Progress:
    """The progress file (see the module): ``solved()``/``mark()``, and ``record()`` with the hints, solution views
    and prediction scores.

    A missing file reads as nothing recorded, and so does one whose content is not a progress file (oversized,
    not JSON); writing refuses to overwrite such a file. Raises ``ProgressFileError`` for a file that is a
    symlink or not a regular file, or that cannot be written.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_progress_path()

    def solved(self) -> set[str]:
        """The challenge keys solved; raises ``ProgressFileError`` (see the class)."""
        return self.record().solved

    def record(self) -> Record:
        """Everything recorded; raises ``ProgressFileError`` (see the class)."""
        found = self._read()
        return Record() if found is None else found

    def mark(self, key: str) -> None:
        """Record challenge ``key`` as solved; raises ``ProgressFileError`` rather than lose what the file holds."""
        self._update(lambda r: r.solved.add(key))

    def hints_used(self, key: str, count: int) -> None:
        """Record that ``count`` hints of an unsolved ``key`` were shown (the most shown is kept)."""
        def change(r: Record) -> None:
            if key not in r.solved:
                r.hints[key] = max(r.hints.get(key, 0), min(count, _MAX_COUNT))
        self._update(change)

    def solution_viewed(self, key: str) -> None:
        """Record that the solution of ``key`` was shown before it was solved (after solving it does not count)."""
        def change(r: Record) -> None:
            if key not in r.solved:
                r.solution_viewed.add(key)
        self._update(change)

    def predicted(self, key: str, question: str, right: int, asked: int) -> None:
        """Record a prediction's score (``right`` of ``asked``) for ``question`` of ``key``; the latest is kept."""
        self._update(lambda r: r.predictions.__setitem__(f"{key}/{question}", (right, asked)))

    def reset(self) -> None:
        """Forget everything (removes the file, or a link planted in its place, never a link's target)."""
        self.path.unlink(missing_ok=True)

    def _update(self, change: Callable[[Record], None]) -> None:
        """Read, change, replace: one writer at a time, nothing lost. Raises ``ProgressFileError``."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with folder_lock(self.path.parent):
                found = self._read()
                if found is None and self._exists():
                    raise ProgressFileError(self.path, "is not a progress file (not JSON of the form "
                                            '{"solved": [...]}); reset() or delete it')
                record = found or Record()
                change(record)
                replace_atomically(self.path, json.dumps(record.to_json(), indent=1).encode())
        except UnsafeFileError as exc:
            raise ProgressFileError(self.path, exc.problem) from None
        except OSError as exc:
            raise ProgressFileError(self.path, f"cannot be written ({exc.strerror or type(exc).__name__})") from None

    def _exists(self) -> bool:
        return self.path.exists() or self.path.is_symlink()

    def _read(self) -> Record | None:
        """The record; None when the file is missing or is not a progress file."""
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
        return Record.from_json(document)
