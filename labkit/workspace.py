"""The lessons as shipped (the one home of where they are) and the learner's workspace copy of them.

The shipped lessons are ``labkit/_lessons`` in an installed wheel, else the checkout's ``notebooks/``; their
reference solutions are ``solutions/<key>.py`` beside them.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["shipped_lessons"]

_PACKAGE = Path(__file__).resolve().parent


def shipped_lessons() -> Path:
    """The folder of the lessons as shipped: the packaged copy, else the checkout's ``notebooks/``."""
    packaged = _PACKAGE / "_lessons"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "notebooks"

