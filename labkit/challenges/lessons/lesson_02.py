"""Lesson 02's challenge, "Revoked means refused", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import Reason
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """The running agent allowed an opaque token the provider then revoked, and later refused one as inactive."""
    # A refused token has no principal, so its audit event carries no fingerprint: the provider's store says
    # which allowed token was revoked, and the log says a refusal for inactivity came after it.
    revoked = {h[:12] for h, r in mark.new_tokens(lab).items() if r.revoked}
    events = mark.events(lab)
    allowed = [
        i
        for i, e in enumerate(events)
        if e.decision == "allow" and e.strategy == "introspection" and e.fingerprint in revoked
    ]
    if allowed and any(e.reason == Reason.INACTIVE for e in events[allowed[0] + 1 :]):
        return CheckResult(True, "the agent allowed a token, then refused it as inactive after revocation")
    return CheckResult(
        False, "no revoked token in the audit log was allowed by introspection and then refused as inactive"
    )


CHALLENGES = (
    Challenge(
        "02",
        "Revoked means refused",
        "Make the running agent (not a validator in the notebook) allow an opaque "
        "token, then refuse it as `inactive` after you revoke it.",
        (
            "`lab.reload({...})` restarts the agent under an introspection configuration.",
            "With `introspection_cache_ttl: 0` the agent asks the provider every time.",
            "Revoke with `lab.revoke(token)` (RFC 7009, as the opaque persona's client).",
        ),
        check,
    ),
)
