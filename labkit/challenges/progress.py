"""Which challenges are solved: a small JSON file under the working folder (``$LABKIT_PROGRESS`` moves it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["Progress", "default_progress_path"]

_MAX_BYTES = 65_536


def default_progress_path() -> Path:
    """``$LABKIT_PROGRESS``, else ``.labkit/progress.json`` in the current working folder."""
    configured = os.environ.get("LABKIT_PROGRESS")
    return Path(configured) if configured else Path.cwd() / ".labkit" / "progress.json"


class Progress:
    """Solved lessons, kept in a JSON file (``{"solved": ["00", ...]}``). A missing, oversized or unreadable file
    reads as nothing solved; writing creates the folder. Raises ``OSError`` only when the file cannot be written."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_progress_path()

    def solved(self) -> set[str]:
        """The lessons whose challenge is solved."""
        try:
            if self.path.stat().st_size > _MAX_BYTES:
                return set()
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return set()
        values = data.get("solved") if isinstance(data, dict) else None
        return {v for v in values if isinstance(v, str)} if isinstance(values, list) else set()

    def mark(self, lesson: str) -> None:
        """Record ``lesson`` as solved (written to a temporary file, then moved into place)."""
        solved = self.solved() | {lesson}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"solved": sorted(solved)}, indent=1), encoding="utf-8")
        temporary.replace(self.path)

    def reset(self) -> None:
        """Forget everything solved."""
        self.path.unlink(missing_ok=True)
