"""The one decision every integration shares: authenticate, judge, admit -> ``Decision``.

``Gate.decide(token, requirement, tenant=...)`` validates the token with the tenant's validator (its remembered
verdict first, the same principal ``validate`` answers), holds the presentation to the tenant's DPoP rules,
expands the scopes through the tenant's hierarchy, judges the requirement (``decision.judge``) and applies the
admission check (rate limits). One path: a cached principal takes every step a first-seen one takes after
validation. The ASGI guard, the FastAPI dependency, the Starlette backend and the MCP token verifier all call it.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from ..auth import Principal, Validator
from ..auth.cache import TTLCache, token_key
from ..auth.jws import b64url_decode, parse_compact, strict_json
from ..auth.jwt import decode_payload
from ..config.delegation import DelegationSpec
from ..errors import AuthError, Reason
from ..scopes import ScopeHierarchy
from ..state.protocols import StateUnavailableError
from ..tracing import active_tracer, mark_decision, span
from .decision import Decision, judge
from .dpop import DPoPPolicy, Presentation
from .policy import Requirement

__all__ = ["Admit", "Gate", "TenantAuth"]

# seconds to wait, or None when admitted; awaitable when the budget is shared (Redis, replicas)
Admit = Callable[[Principal, Requirement], "float | Awaitable[float | None] | None"]
_NO_REQUIREMENT = Requirement()  # authentication alone: the requirement is judged later, by decide()
_ROUTED_TTL = 300.0  # seconds a verified token's issuer is remembered
_ROUTED_SIZE = 4096


@dataclass
class TenantAuth:
    """One tenant's validator and hierarchy (the default tenant has name None)."""

    name: str | None
    validator: Validator
    hierarchy: ScopeHierarchy
    issuers: tuple[str, ...] = ()
    dpop: DPoPPolicy | None = None  # RFC 9449 rules (None: bound tokens still need their proof, nothing else)


class Gate:
    """Tenants' validators and hierarchies plus an admission check: the decision, for any integration."""

    def __init__(self, tenants: Mapping[str | None, TenantAuth], *, admit: Admit | None = None,
                 delegation: Mapping[str, DelegationSpec] | None = None) -> None:
        self.tenants = dict(tenants)
        self.admit = admit
        self.delegation = dict(delegation or {})  # plugin id -> its rule for delegated callers (RFC 8693)
        # token_key -> the verified issuer that routed it (a tenant's issuer; bounded, TTL). The issuer, not the
        # tenant: tenants changed at runtime route it as a fresh read of the token would.
        self._routed: TTLCache[str] = TTLCache(_ROUTED_SIZE, time.monotonic)
        self._dpop = DPoPPolicy(clock=time.time)  # for tenants built without one: bound tokens still checked

    def tenant_auth(self, tenant: str | None, token: str) -> TenantAuth | None:
        """The tenant that judges ``token``: the routed one, else (several tenants at the root) by issuer."""
        return self._route(tenant, token)[0]

    def _route(self, tenant: str | None, token: str) -> tuple[TenantAuth | None, bytes | None]:
        """``tenant_auth``, and the token's key when its issuer was read (remembered once the token verifies)."""
        if tenant is not None or len(self.tenants) == 1:
            return self.tenants.get(tenant), None
        if type(token) is not str:
            return self.tenants.get(None), None
        key: bytes | None = token_key(token)
        issuer = self._routed.get(key)
        if issuer is None:
            # Root endpoints with several tenants: pick the validator by the token's issuer, read unverified only
            # for this choice; that tenant's validator then checks everything, signature included.
            issuer = _issuer_of(token)
        else:
            key = None  # remembered already: nothing to remember again
        for auth in self.tenants.values():
            if auth.name is not None and issuer is not None and issuer in auth.issuers:
                return auth, key
        return self.tenants.get(None), key

    def dpop_policy(self, tenant: str | None) -> DPoPPolicy:
        """The DPoP rules of ``tenant`` (the default tenant's for an unknown one)."""
        auth = self.tenants.get(tenant) or self.tenants.get(None)
        return (auth.dpop if auth else None) or self._dpop

    async def authenticate(self, token: str | None, tenant: str | None = None, *, fresh: bool = False,
                           presentation: Presentation | None = None, dpop_checked: bool = False) -> Decision:
        """Step 1: who the token speaks for (the requirement is judged later by ``decide``).

        ``fresh``: no remembered verdict; ``presentation``: the scheme and DPoP proof the request came with
        (None: Bearer, no proof), held to the tenant's ``DPoPPolicy`` unless ``dpop_checked``.
        """
        started = time.perf_counter()  # the decision's latency, for every front door (Decision.latency_ms)
        auth, routed = self._route(tenant, token) if token is not None else (None, None)
        if auth is None or token is None:
            base = Decision(_NO_REQUIREMENT, tenant, dpop=self.dpop_policy(tenant).challenge(presentation),
                            started=started)
            if token is None:
                return base.refuse(AuthError(Reason.MISSING_TOKEN, "no Bearer credentials in Authorization"))
            return base.refuse(AuthError(Reason.TENANT, f"no tenant {tenant!r} here" if tenant else
                                         "the token's issuer belongs to no tenant here"))
        policy = auth.dpop or self._dpop
        challenge = policy.challenge(presentation)
        validator = auth.validator
        # the validator's remembered verdict, else the validator: the same principal either way
        principal = None if fresh else validator.cached(token)
        if principal is None:
            try:
                principal = await validator.validate(token, fresh=fresh)
            except AuthError as error:
                return Decision(_NO_REQUIREMENT, auth.name, dpop=challenge, error=error, started=started)
        if routed is not None and principal.issuer is not None and principal.issuer in auth.issuers:
            # verified, a tenant's issuer (never a string a token brings): it routes this token from now on
            self._routed.put(routed, principal.issuer, time.monotonic() + _ROUTED_TTL)
        found = Decision(_NO_REQUIREMENT, auth.name, principal, auth.hierarchy.expand(principal.scopes),
                         fresh=fresh, dpop=challenge, started=started)
        if not dpop_checked:
            try:
                # RFC 9449: a bound token needs its proof; Bearer is refused where DPoP is required
                await policy.check(principal, token, presentation)
            except AuthError as error:
                return found.refuse(error)
        return found

    async def decide(self, token: str | None, requirement: Requirement, tenant: str | None = None, *,
                     authenticated: Decision | None = None, presentation: Presentation | None = None) -> Decision:
        """Authenticate (unless ``authenticated`` says who already), judge, admit: one ``Decision``.

        With an SDK tracer provider, the judging and admission run in a ``labkit.authorize`` span that carries
        the outcome (``tracing.mark_decision``): a 403 or 429 shows in traces as well as a 401.
        """
        if active_tracer() is None:
            return await self._decide(token, requirement, tenant, authenticated, presentation)
        with span("labkit.authorize", requirement=requirement.label or None, plugin=requirement.plugin) as current:
            decision = await self._decide(token, requirement, tenant, authenticated, presentation)
            mark_decision(current, decision.status, decision.reason)
            return decision

    async def _decide(self, token: str | None, requirement: Requirement, tenant: str | None,
                      authenticated: Decision | None, presentation: Presentation | None) -> Decision:
        found = authenticated or await self.authenticate(token, tenant, fresh=requirement.fresh,
                                                         presentation=presentation)
        if found.allowed and requirement.fresh and not found.fresh:
            # introspection_required: the token again, fresh; its proof was checked (and its jti spent) above
            again = await self.authenticate(token, found.tenant, fresh=True, presentation=presentation,
                                            dpop_checked=True)
            found = replace(again, started=found.started)  # the latency counts from the first authentication
        decision = judge(found, requirement, self.delegation)
        if decision.error is not None or self.admit is None:
            return decision
        assert decision.principal is not None  # noqa: S101 - allowed
        try:
            wait = self.admit(decision.principal, requirement)
            if wait is not None and not isinstance(wait, (int, float)):
                wait = await wait  # an awaitable (a shared budget)
        except StateUnavailableError as down:
            # fail closed: a limiter whose store cannot answer never admits, and is not reported as a limit hit
            unavailable = AuthError(Reason.STATE_UNAVAILABLE,
                                    f"{requirement.plugin or requirement.label} rate limit: {down}")
            return decision.refuse(unavailable)
        if wait is None:
            return decision
        limited = AuthError(Reason.RATE_LIMITED, f"{requirement.plugin or requirement.label} rate limit")
        return decision.refuse(limited, retry_after=max(1, math.ceil(min(wait, 86_400.0))))

    async def aclose(self) -> None:
        """Close the HTTP clients of every tenant's validator (JWKS, introspection); call it at shutdown."""
        for auth in self.tenants.values():
            await auth.validator.aclose()


def _issuer_of(token: str) -> str | None:
    """The unverified ``iss`` of ``token``, for choosing its tenant only: the strict read, else a lenient one (the
    tenant's validator refuses such a token, and its issuer still chooses which tenant answers), else None."""
    try:
        found = decode_payload(parse_compact(token)).get("iss")
    except AuthError:
        with contextlib.suppress(ValueError, IndexError, AttributeError, TypeError):
            found = strict_json(b64url_decode(token.split(".")[1])).get("iss")
            return found if isinstance(found, str) else None
        return None
    return found if isinstance(found, str) else None
