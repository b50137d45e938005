"""Lesson 14's check (RFC 9449): a DPoP-bound token accepted with its proof, and refused as a stolen Bearer token."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...errors import Reason
from ..base import Challenge, CheckResult
from ..mark import Mark

if TYPE_CHECKING:
    from ...lab import Lab

__all__ = ["CHALLENGES", "check"]


def _bound_fingerprints(lab: Lab, mark: Mark) -> set[str]:
    """The audit fingerprints of the access tokens the provider bound to a key (``cnf.jkt``) since the mark."""
    return {
        h[:12]
        for h, record in mark.new_tokens(lab).items()
        if record.kind == "access" and isinstance(record.extra.get("cnf"), dict) and record.extra["cnf"].get("jkt")
    }


def check(lab: Lab, mark: Mark) -> CheckResult:
    """``write_operation`` allowed for a DPoP-bound token, and that token refused when presented as Bearer."""
    bound = _bound_fingerprints(lab, mark)
    if not bound:
        return CheckResult(False, "the provider has bound no token to a key yet: send a DPoP proof to /token")
    events = [e for e in mark.events(lab) if e.fingerprint in bound]
    missing = []
    if not any(e.method == "execute:write_operation" and e.decision == "allow" for e in events):
        missing.append("no 200 from write_operation with a DPoP-bound token in the audit log")
    if not any(e.reason == Reason.DPOP_REQUIRED for e in events):
        missing.append("no DPoP-bound token refused as a stolen Bearer token (dpop_required) in the audit log")
    if missing:
        return CheckResult(False, "; ".join(missing))
    return CheckResult(True, "a DPoP-bound token wrote with its proof, and was refused without it")


CHALLENGES = (
    Challenge(
        "14",
        "Bound to a key",
        "Get a 200 from `write_operation` with a DPoP-bound token and a proof you "
        "signed, and show the agent refusing that same token when a thief presents it as a Bearer token.",
        (
            "The token endpoint binds the token to the key of the DPoP proof you send it (`cnf.jkt`).",
            "The proof names this request: `htm` POST, `htu` the agent's URL, and `ath` the token's hash.",
            "`make_proof(key, method='POST', url=lab.agent_url + '/', iat=clock(), access_token=token)` with "
            "`Authorization: DPoP <token>`; then the same token as `Authorization: Bearer`.",
        ),
        check,
    ),
)
