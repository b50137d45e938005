"""Lesson 00's challenge, "403, then 200", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import Reason
from ..base import Challenge, CheckResult
from ..evidence import result
from ..mark import Mark
from .lesson_03 import least_privilege, shipped_rules

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check"]

_JOB = ("write_operation",)


def check(lab: Lab, mark: Mark) -> CheckResult:
    """Since ``start()``: a 403 (insufficient_scope) and a 200 from ``write_operation``, the 200 from a token whose
    grant reaches no further than the call needs (least privilege: the scope the 403 named, not every scope)."""
    events = mark.events(lab)
    calls = [e for e in events if e.method == "execute:write_operation"]
    missing = []
    if not any(e.reason == Reason.INSUFFICIENT_SCOPE for e in calls):
        missing.append("no 403 (insufficient_scope) from write_operation since start(): a 403 answers a valid token "
                       "that lacks the scope the call needs")
    allowed = [e for e in calls if e.decision == "allow"]
    if not allowed:
        missing.append("no 200 from write_operation since start(): only a token the provider issued with the scope "
                       "the 403 named gets one")
    else:
        hierarchy, needs = shipped_rules(lab)
        broad = [why for e in allowed if (why := least_privilege(set(e.scopes), _JOB, hierarchy, needs))]
        if len(broad) == len(allowed):
            # least privilege: a token asks for the one scope the call needs
            missing.append(f"the 200 came only from tokens broader than the call: {broad[-1]}; least privilege asks "
                           "for the scope the 403 named, not every scope")
    if missing and any(e.status == 401 for e in events):
        # RFC 6750 §3.1: 401 means the token is missing or invalid, 403 that a valid token lacks the scope
        missing.append("the 401s since start() say a token was missing or invalid (a changed token fails its "
                       "signature): that is authentication, not the authorization this challenge is about")
    return result(missing, "the audit log shows write_operation refused for scope, then allowed with just that scope")


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
