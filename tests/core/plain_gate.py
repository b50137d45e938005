"""The gate's authenticate and decide as they were before their fast paths (main bb698ea): the reference that
``test_perf_equivalence`` and ``test_fast_path_attacks`` hold ``Gate.authenticate_now`` / ``decide_now`` to."""

from __future__ import annotations

import math
from typing import Any

from labkit.auth.actors import check_delegation
from labkit.auth.jwt import JWTValidator
from labkit.errors import AuthError, Reason
from labkit.guard.decision import _NO_REQUIREMENT, Decision
from labkit.guard.policy import Requirement


def plain_authenticate(gate: Any, token: str | None, tenant: str | None, fresh: bool, presentation: Any,
                        dpop_checked: bool) -> Any:
    """``Gate.authenticate`` as it was before the fast path (main bb698ea), step by step."""
    async def run() -> Decision:
        auth, peeked = gate._tenant_auth(tenant, token) if token is not None else (None, None)
        if auth is None or token is None:
            base = Decision(_NO_REQUIREMENT, tenant, dpop=gate.dpop_policy(tenant).challenge(presentation))
            if token is None:
                return base.refuse(AuthError(Reason.MISSING_TOKEN, "no Bearer credentials in Authorization"))
            return base.refuse(AuthError(Reason.TENANT, f"no tenant {tenant!r} here" if tenant else
                                         "the token's issuer belongs to no tenant here"))
        policy = auth.dpop or gate._dpop
        challenge = policy.challenge(presentation)
        try:
            validator = auth.validator
            principal = (await validator.validate(token, fresh=fresh, peeked=peeked)
                         if peeked is not None and type(validator) is JWTValidator
                         else await validator.validate(token, fresh=fresh))
        except AuthError as error:
            return Decision(_NO_REQUIREMENT, auth.name, dpop=challenge, error=error)
        found = Decision(_NO_REQUIREMENT, auth.name, principal, auth.hierarchy.expand(principal.scopes),
                         fresh=fresh, dpop=challenge)
        if not dpop_checked:
            try:
                await policy.check(principal, token, presentation)
            except AuthError as error:
                return found.refuse(error)
        return found

    return run()


async def plain_decide(gate: Any, token: str | None, requirement: Requirement, tenant: str | None,
                        authenticated: Decision | None, presentation: Any = None) -> Decision:
    """``Gate.decide`` as it was before the fast path (main bb698ea)."""
    found = authenticated or await plain_authenticate(gate, token, tenant, requirement.fresh, presentation, False)
    if found.allowed and requirement.fresh and not found.fresh:
        found = await plain_authenticate(gate, token, found.tenant, True, presentation, True)
    decision = Decision(requirement, found.tenant, found.principal, found.effective, found.error, fresh=found.fresh,
                        dpop=found.dpop)
    if not decision.allowed:
        return decision
    if requirement.invalid:
        return decision.refuse(AuthError(Reason.INVALID_REQUEST, requirement.invalid))
    assert decision.effective is not None and decision.principal is not None
    missing = [s for s in requirement.scopes if not decision.effective.covers(s)]
    if missing:
        needs = " ".join(requirement.scopes)
        detail = f"{requirement.label or 'request'} needs {needs}; missing {' '.join(missing)}"
        return decision.refuse(AuthError(Reason.INSUFFICIENT_SCOPE, detail, scopes=requirement.scopes))
    rule = gate.delegation.get(requirement.plugin) if requirement.plugin else None
    if rule is not None:
        try:
            check_delegation(decision.principal.actors, rule, str(requirement.plugin))
        except AuthError as error:
            return decision.refuse(error)
    wait = gate.admit(decision.principal, requirement) if gate.admit else None
    if wait is not None and not isinstance(wait, (int, float)):
        wait = await wait
    if wait is not None:
        limited = AuthError(Reason.RATE_LIMITED, f"{requirement.plugin or requirement.label} rate limit")
        return decision.refuse(limited, retry_after=max(1, math.ceil(min(wait, 86_400.0))))
    return decision
