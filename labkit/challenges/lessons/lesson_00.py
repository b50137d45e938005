"""Lesson 00's challenge, "403, then 200", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import Reason
from ..base import Challenge, CheckResult
from ..evidence import result
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """A 403 and a 200 from ``write_operation``."""
    calls = [e for e in mark.events(lab) if e.method == "execute:write_operation"]
    missing = []
    if not any(e.reason == Reason.INSUFFICIENT_SCOPE for e in calls):
        missing.append("no 403 (insufficient_scope) from write_operation in the audit log")
    if not any(e.decision == "allow" for e in calls):
        missing.append("no 200 from write_operation in the audit log")
    return result(missing, "the audit log shows write_operation refused for scope, then allowed")


CHALLENGES = (
    Challenge(
        "00",
        "403, then 200",
        "Make `write_operation` answer 403 to one token and 200 to another, both from `lab.token(...)`.",
        (
            "The 403's WWW-Authenticate header names the scope it wants.",
            "`lab.token([...])` takes the scopes to ask for.",
            "Two tokens, two calls to `write_operation` (`lab.rpc('execute', {'capability': ...}, token=...)`), both "
            "after `start()`: one token without the scope the 403 named, one with it.",
        ),
        check,
    ),
)
