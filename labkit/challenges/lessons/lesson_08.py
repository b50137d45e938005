"""Lesson 08's challenge, "Write at globex", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """A 200 from ``write_operation`` at ``/t/globex/``."""
    if any(
        e.tenant == "globex" and e.method == "execute:write_operation" and e.decision == "allow"
        for e in mark.events(lab)
    ):
        return CheckResult(True, "globex allowed write_operation")
    return CheckResult(False, "no 200 from write_operation at /t/globex/ in the audit log")


CHALLENGES = (
    Challenge(
        "08",
        "Write at globex",
        "Get a 200 from `write_operation` at `/t/globex/`, where `admin` implies nothing.",
        (
            "globex's hierarchy only knows `api:read`.",
            "A scope granted by name needs no hierarchy.",
            "`lab.token(['api:write'], tenant='globex')`, sent to `path='/t/globex/'`.",
        ),
        check,
    ),
)
