"""Lesson 02's challenge, "Revoked means refused", and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import Reason
from ..base import Challenge, CheckResult
from ..mark import Mark
from .lesson_05 import widened

if TYPE_CHECKING:
    from ...lab.runner import Lab

__all__ = ["CHALLENGES", "check"]


def check(lab: Lab, mark: Mark) -> CheckResult:
    """The running agent allowed an opaque token the provider then revoked, and later refused one as inactive; and,
    probed live, it refuses a token at once after its revocation (no cached "active" outlives it)."""
    # A refused token has no principal, so its audit event carries no fingerprint: the provider's store says
    # which allowed token was revoked, and the log says a refusal for inactivity came after it.
    revoked = {h[:12] for h, r in mark.new_tokens(lab).items() if r.revoked}
    events = mark.events(lab)
    allowed = [
        i
        for i, e in enumerate(events)
        if e.decision == "allow" and e.strategy == "introspection" and e.fingerprint in revoked
    ]
    if not (allowed and any(e.reason == Reason.INACTIVE for e in events[allowed[0] + 1 :])):
        # RFC 7662 §2.2 / RFC 7009 §2: only asking the provider shows a revocation; a JWT is judged offline until exp
        return CheckResult(
            False, "no revoked token in the audit log was allowed by introspection and then refused as inactive: "
                   "that pair is the proof a revocation reaches the agent; a JWT is checked offline and stays good "
                   "until its exp, only introspection asks the provider whether the token is still active (RFC 7662 "
                   "§2.2, RFC 7009 §2)"
        )
    probe = lab.token(["api:read"], persona="opaque")
    before = lab.call("capabilities", token=probe).status
    lab.revoke(probe)
    after = lab.call("capabilities", token=probe)
    # RFC 7009 §2 / RFC 7662 §4: a revoked token is refused at once; a cached "active" would outlive the revocation
    if before != 200 or after.status != 401 or after.reason != Reason.INACTIVE:
        return CheckResult(False, f"a fresh opaque token answered {before}, then {after.status} right after its "
                                  "revocation, not 200 then 401 (inactive): a cached 'active' answer lets a revoked "
                                  "token pass until it expires (introspection_cache_ttl; RFC 7662 §4, RFC 7009 §2)")
    # least privilege: the new validation must not loosen what any token may do (lesson 05's rule)
    if loosened := widened(lab, None, "how tokens are validated"):
        return CheckResult(False, loosened[0])
    return CheckResult(True, "the agent allowed a token, then refused it as inactive after revocation, and refuses "
                             "any token the moment it is revoked")


CHALLENGES = (
    Challenge(
        "02",
        "Revoked means refused",
        "Make the running agent (not a validator in the notebook) allow an opaque token, then refuse it as "
        "`inactive` after you revoke it, at once: the check revokes a token of its own and retries immediately.",
        (
            "`lab.reload({...})` restarts the agent under an introspection configuration.",
            "A cached 'active' answer outlives the revocation for as long as `introspection_cache_ttl` says.",
            "Revoke with `lab.revoke(token)` (RFC 7009, as the opaque persona's client), then call again.",
        ),
        check,
    ),
)
