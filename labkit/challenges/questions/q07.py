"""Lesson 07's question: what a limit of 3 a minute answers to one caller's fourth call, and to another caller."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS"]

_ITEMS = ("caller A, 3rd call", "caller A, 4th call", "caller B, 1st call (right after A's 4th)")


def _budget(lab: Lab | None) -> dict[str, str]:
    """Four ``write_operation`` calls by a new caller, then one by another new caller, on the running agent."""
    if lab is None:
        raise ValueError("this question runs against the lab: predict('07', 'budget', lab)")
    a, b = (lab.provider.mint(["api:write"], subject=f"predict-07-{time.monotonic_ns()}-{n}") for n in "ab")
    statuses = [lab.execute("write_operation", token=a).status for _ in range(4)]
    other = lab.execute("write_operation", token=b).status
    return dict(zip(_ITEMS, (str(statuses[2]), str(statuses[3]), str(other)), strict=True))


QUESTIONS = (
    Question(
        "budget",
        "`write_operation` is limited to 3 calls a minute. A new caller A calls it four times in a row, then a new "
        "caller B once. What do they get?",
        _ITEMS,
        ("200", "429"),
        _budget,
    ),
)
