"""Lesson 10's challenge, "Beyond tokens", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..base import Challenge, CheckResult
from ..evidence import result
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """The two weaknesses that are not about tokens, exploited on the vulnerable agent."""
    agent = lab.vulnerable
    if agent is None:
        return CheckResult(False, "start the lab with Lab(vulnerable=True)")
    missing = []
    if not agent.leaks:
        missing.append("no user has been served another user's cached answer (shared_cache)")
    if not any("weakness path_differential" in e.detail for e in mark.vulnerable_events(lab)):
        missing.append("/admin/status has not been reached without a token (path_differential)")
    return result(
        missing, "bob read alice's note through the shared cache, and the admin page was reached without a token"
    )


CHALLENGES = (
    Challenge(
        "10",
        "Beyond tokens",
        "On the vulnerable agent, read alice's private note with bob's token "
        "(`shared_cache`), and reach `/admin/status` without any token (`path_differential`).",
        (
            "`whoami` answers are cached; what is the cache key?",
            "The guard strips `/t/{tenant}` from the raw path; the router resolves `..` afterwards.",
            "`lab.vulnerable.get(PATH_EXPLOIT)`; alice calls `whoami` first, then bob.",
        ),
        check,
    ),
)
