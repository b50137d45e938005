"""Lesson 03's challenge, "One scope for the files", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import Reason
from ..base import Challenge, CheckResult
from ..evidence import fingerprints
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """One token with one scope: 200 from read_file and write_file, 403 from write_operation."""
    for events in fingerprints(mark.events(lab)).values():
        scopes = {s for e in events for s in e.scopes}
        if len(scopes) != 1 or scopes & {"admin", "*"}:
            continue
        allowed = {e.method for e in events if e.decision == "allow"}
        refused = {e.method for e in events if e.reason == Reason.INSUFFICIENT_SCOPE}
        if {"execute:read_file", "execute:write_file"} <= allowed and "execute:write_operation" in refused:
            return CheckResult(True, f"one scope ({scopes.pop()}) reaches both file capabilities and not the API")
    return CheckResult(
        False,
        "no single-scope token (not admin) in the audit log has a 200 from read_file and "
        "write_file and a 403 from write_operation",
    )


CHALLENGES = (
    Challenge(
        "03",
        "One scope for the files",
        "With a token carrying exactly one scope (not `admin`), get a 200 from "
        "`read_file` and from `write_file`, and a 403 from `write_operation`.",
        (
            "Look for a scope whose expansion holds `files:read` too.",
            "`explorer.set(granted={...})` shows what a grant reaches before you ask for a token.",
            "`files:write` implies `files:read`.",
        ),
        check,
    ),
)
