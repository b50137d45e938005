"""One module per lesson: its challenge (or sub-challenges) and its check, owned with the lesson's notebook."""

from __future__ import annotations

from importlib import import_module

from ..base import Challenge

__all__ = ["LESSONS", "all_challenges"]

LESSONS = ("00", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12", "13", "14", "15", "16",
           "17", "18", "19", "20")


def all_challenges() -> dict[str, Challenge]:
    """Every challenge by key, in lesson order (each lesson module's ``CHALLENGES``)."""
    found: dict[str, Challenge] = {}
    for lesson in LESSONS:
        for challenge in import_module(f"{__name__}.lesson_{lesson}").CHALLENGES:
            found[challenge.lesson] = challenge
    return found
