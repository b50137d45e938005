"""Lesson 01's question: which secrets a string test can refuse (and which generator-less one it cannot)."""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..predict import Question

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["QUESTIONS"]

_CANDIDATES: dict[str, Callable[[], str]] = {
    'the alphabet, "abc…XYZ" (52 characters)': lambda: string.ascii_lowercase + string.ascii_uppercase,
    'a keyboard walk, "qwerty…BNM" (52 characters)': lambda: "qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM",
    "secrets.token_hex(16) (32 characters)": lambda: secrets.token_hex(16),
    "secrets.token_urlsafe(32) (43 characters)": lambda: secrets.token_urlsafe(32),
    '"CorrectHorseBatteryStapleOrangeBicycleLampTree" (46 characters)':
        lambda: "CorrectHorseBatteryStapleOrangeBicycleLampTree",
}


def _refused(lab: Lab | None) -> dict[str, str]:
    """Each candidate as an HS256 secret, judged by the rule the check and ``labkit explain`` use."""
    from ...secret_strength import secret_problem

    return {name: "refused" if secret_problem(make(), 32) else "passes" for name, make in _CANDIDATES.items()}


QUESTIONS = (
    Question(
        "secrets",
        "each string below is tried as an HS256 `jwt_secret`. Which does the check refuse, and which pass?",
        tuple(_CANDIDATES),
        ("refused", "passes"),
        _refused,
    ),
)
