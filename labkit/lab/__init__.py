"""The lab's face: ``Lab`` (provider + sample agent on loopback, for lessons and tests), what its calls return, and
the lessons' helpers.

The lab's modules: ``runner`` (``Lab``), ``calls`` (token requests and calls, parsed), ``downstream`` (the second
agent), ``lessons`` (tables and tokens for the notebooks), ``notebooks`` (``python -m labkit.lab.notebooks``
regenerates the lessons' outputs), ``workspace`` (the learner's copy of the lessons), ``capstone`` and ``incident``
(lessons 15 and 11), ``injection`` (lesson 16's summariser, UNSAFE by design). The names load on first use:
``labkit.lab.calls`` alone does not import the runner's SDKs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .calls import AuthChallenge, CallResult, TokenRequestError
    from .lessons import LabClock, audit_table, call_table, inspect_token, lab_jwt, mask, validator, verdict
    from .runner import Lab

__all__ = [
    "AuthChallenge",
    "CallResult",
    "Lab",
    "LabClock",
    "TokenRequestError",
    "audit_table",
    "call_table",
    "inspect_token",
    "lab_jwt",
    "mask",
    "validator",
    "verdict",
]

_HOMES = {
    "AuthChallenge": "calls",
    "CallResult": "calls",
    "Lab": "runner",
    "LabClock": "lessons",
    "TokenRequestError": "calls",
    "audit_table": "lessons",
    "call_table": "lessons",
    "inspect_token": "lessons",
    "lab_jwt": "lessons",
    "mask": "lessons",
    "validator": "lessons",
    "verdict": "lessons",
}


def __getattr__(name: str) -> Any:
    """The face's name ``name``, imported from its module on first use; raises ``AttributeError`` for any other."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
