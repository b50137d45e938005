"""The lessons as shipped (the one home of where they are) and the learner's workspace: a copy of them.

The shipped lessons are ``labkit/_lessons`` in an installed wheel, else the checkout's ``notebooks/``; their
reference solutions are ``solutions/<key>.py`` beside them. ``labkit lab`` opens a workspace, never the shipped
folder: a lesson already in the workspace is the learner's and is never overwritten; ``reset_lesson`` puts one
lesson back as shipped and keeps the learner's version beside it (``.bak``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from .._text import safe_text
from ..errors import LabkitError

__all__ = ["DEFAULT_WORKSPACE", "WorkspaceError", "open_workspace", "reset_lesson", "shipped_lessons"]

DEFAULT_WORKSPACE = "labkit-lessons"
_PACKAGE = Path(__file__).resolve().parents[1]  # labkit/
_LESSON = re.compile(r"[0-9]{2}_[A-Za-z0-9_]+\.ipynb")
_EXTRA = ("progress.ipynb",)  # shipped beside the lessons, copied with them
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class WorkspaceError(LabkitError):
    """The workspace cannot be used: the shipped folder itself, not a folder, or an unknown lesson."""


def shipped_lessons() -> Path:
    """The folder of the lessons as shipped: the packaged copy, else the checkout's ``notebooks/``."""
    packaged = _PACKAGE / "_lessons"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "notebooks"


def _shipped_files() -> list[Path]:
    source = shipped_lessons()
    return sorted(p for p in source.iterdir() if _LESSON.fullmatch(p.name) or p.name in _EXTRA)


def _copy_new(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target``, which must not exist (created exclusively: never a planted file or link)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(source.read_bytes())


def open_workspace(folder: str | os.PathLike[str] | None = None) -> Path:
    """The learner's lessons folder (``folder``, default ``./labkit-lessons``), filled with the shipped lessons it
    does not have yet; a lesson already there is kept, edits and all.

    Raises ``WorkspaceError`` for the shipped folder itself (the tracked lessons are never served to be edited)
    or a path that is not a folder.
    """
    target = Path(folder if folder is not None else DEFAULT_WORKSPACE).resolve()
    if target == shipped_lessons().resolve():
        raise WorkspaceError(f"{safe_text(str(target), 256)} holds the shipped lessons: give a folder of your own "
                             f"(--lessons DIR; default ./{DEFAULT_WORKSPACE}), a copy of them is made there")
    if target.exists() and not target.is_dir():
        raise WorkspaceError(f"{safe_text(str(target), 256)} is not a folder")
    target.mkdir(parents=True, exist_ok=True)
    for lesson in _shipped_files():
        if not os.path.lexists(target / lesson.name):
            try:
                _copy_new(lesson, target / lesson.name)
            except FileExistsError:  # made meanwhile: it is the learner's
                pass
    return target


def _backup_name(path: Path) -> Path:
    candidate = path.with_name(path.name + ".bak")
    number = 1
    while os.path.lexists(candidate):
        number += 1
        candidate = path.with_name(f"{path.name}.bak{number}")
    return candidate


def reset_lesson(folder: str | os.PathLike[str], lesson: str) -> tuple[Path, Path | None]:
    """Put lesson ``lesson`` ("03", or its file name) of workspace ``folder`` back as shipped; the learner's
    version, when it differs, is kept as ``<name>.bak`` (``.bak2``, ... when taken). Returns (the lesson, the
    backup or None).

    Raises ``WorkspaceError`` for an unknown lesson (naming the lessons) or the shipped folder itself.
    """
    known = {p.name[:2]: p for p in _shipped_files() if _LESSON.fullmatch(p.name)}
    chosen = lesson.strip()
    source = known.get(chosen) or next((p for p in known.values() if p.name in (chosen, f"{chosen}.ipynb")), None)
    if source is None:
        raise WorkspaceError(f"no lesson {safe_text(chosen, 64)!r}; lessons: {', '.join(sorted(known))}")
    workspace = open_workspace(folder)  # refuses the shipped folder; adds lessons it lacks
    target = workspace / source.name
    backup = None
    if os.path.lexists(target):
        if not target.is_symlink() and target.is_file() and target.read_bytes() == source.read_bytes():
            return target, None  # already as shipped
        backup = _backup_name(target)
        os.replace(target, backup)  # the learner's version (a link stays a link, never followed)
    _copy_new(source, target)
    return target, backup
