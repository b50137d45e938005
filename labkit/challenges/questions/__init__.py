"""Predict-then-run questions, one module per lesson, owned with the lesson: ``qNN.py`` defines ``QUESTIONS``, a
tuple of ``labkit.challenges.predict.Question``. A lesson's module is found by its name: adding one edits nothing
here."""

from __future__ import annotations

import re
from functools import cache
from importlib import import_module
from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..predict import Question

__all__ = ["questions_of"]

_LESSON = re.compile(r"[0-9]{2}")


@cache
def questions_of(lesson: str) -> dict[str, Question]:
    """Lesson ``lesson``'s questions by id (empty for a lesson without a question module, or not a lesson number)."""
    if not _LESSON.fullmatch(lesson) or find_spec(f"{__name__}.q{lesson}") is None:
        return {}
    module = import_module(f"{__name__}.q{lesson}")
    return {q.id: q for q in module.QUESTIONS}
