"""Predict-then-run questions, one module per lesson (``qNN.py``, its ``QUESTIONS``), owned with the lesson."""

from __future__ import annotations

from functools import cache
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..predict import Question

__all__ = ["LESSONS", "questions_of"]

LESSONS = ("00", "11", "15")  # the lessons with a question module: a lesson owner adds theirs here


@cache
def questions_of(lesson: str) -> dict[str, Question]:
    """Lesson ``lesson``'s questions by id (empty for a lesson without a module)."""
    if lesson not in LESSONS:
        return {}
    module = import_module(f"{__name__}.q{lesson}")
    return {q.id: q for q in module.QUESTIONS}
