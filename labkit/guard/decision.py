"""The one decision every integration shares: authenticate, authorize, admit -> ``Decision``.

``Gate.decide(token, requirement, tenant=...)`` validates the token with the tenant's validator, expands
its scopes through the tenant's hierarchy, checks the requirement, and applies the admission check (rate
limits). The ASGI guard, the FastAPI dependency, the Starlette backend and the MCP token verifier all
answer from the ``Decision`` it returns, through the one table in ``rfc6750``. ``authenticate_now`` and
``decide_now`` give the same answers without a coroutine when nothing needs waiting for (a cached verdict for a
request without a DPoP proof, an admission check that answers at once): the ASGI guard's hot path.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from typing import Any

from starlette.authentication import BaseUser

from ..audit import AuditEvent
from ..auth import Principal
from ..auth._compact import b64url_decode, parse_compact, strict_json
from ..auth.actors import check_delegation
from ..auth.cache import TTLCache, token_key
from ..auth.jwt import JWTValidator, Peeked, decode_payload
from ..config.delegation import DelegationSpec
from ..errors import AuthError, Reason
from ..scopes import EffectiveScopes, ScopeHierarchy
from .dpop import DPoPChallenge, DPoPPolicy, Presentation
from .policy import Requirement
from .rfc6750 import challenge, outcome

__all__ = ["Admit", "Decision", "Gate", "GuardUser", "TenantAuth", "principal_key"]

# seconds to wait, or None when admitted; awaitable when the budget is shared (Redis, replicas)
Admit = Callable[[Principal, Requirement], "float | Awaitable[float | None] | None"]
_NO_REQUIREMENT = Requirement()  # authentication alone: the requirement is checked later, by decide()
_FOUND = "_labkit_found"  # where Gate._cached keeps a Bearer request's answer on a cached principal
_KEY = "_labkit_key"  # where principal_key keeps its answer


@dataclass
class TenantAuth:
    """One tenant's validator and hierarchy (the default tenant has name None)."""

    name: str | None
    validator: Any  # a labkit.auth validator: ``await validate(token, fresh=...)``
    hierarchy: ScopeHierarchy
    issuers: tuple[str, ...] = ()
    dpop: DPoPPolicy | None = None  # RFC 9449 rules (None: bound tokens still need their proof, nothing else)


def principal_key(principal: Principal) -> str:
    """A stable key for per-principal state (owners, quotas, rate limits): tenant, issuer and identity.

    Remembered on the principal (immutable; a validator's cache hands out the same object), as the audit log's
    fields are.
    """
    known: str | None = principal.__dict__.get(_KEY)
    if known is None:
        known = principal.__dict__[_KEY] = f"{principal.tenant or '-'}|{principal.issuer or '-'}|{principal.identity}"
    return known


@dataclass(frozen=True)
class Decision:
    """The outcome of one request: allowed (status 200) or refused with a ``Reason``; audited once."""

    requirement: Requirement
    tenant: str | None = None
    principal: Principal | None = None
    effective: EffectiveScopes | None = None
    error: AuthError | None = None
    retry_after: int | None = None
    fresh: bool = False  # validated without a cached verdict
    dpop: DPoPChallenge | None = None  # answer with RFC 9449 §7.1's DPoP challenge (and nonce)

    @property
    def allowed(self) -> bool:
        """True when the request may run."""
        return self.error is None

    @property
    def reason(self) -> Reason | None:
        """Why it was refused (None when allowed)."""
        return self.error.reason if self.error else None

    @property
    def status(self) -> int:
        """The HTTP status: 200 when allowed, else the table's."""
        return 200 if self.error is None else outcome(self.error.reason).status

    def challenge(self, realm: str, resource_metadata: str | None = None) -> str | None:
        """The ``WWW-Authenticate`` value of a refusal (None when allowed or none is sent)."""
        if self.error is None:
            return None
        return challenge(self.error.reason, realm=realm, scopes=self.error.scopes or self.requirement.scopes,
                         resource_metadata=resource_metadata, dpop_algs=self.dpop.algs if self.dpop else None)

    def headers(self, realm: str, resource_metadata: str | None = None) -> dict[str, str]:
        """The response headers of a refusal: the challenge and ``Retry-After``."""
        headers: dict[str, str] = {}
        value = self.challenge(realm, resource_metadata)
        if value:
            headers["WWW-Authenticate"] = value
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.error is not None and self.dpop is not None and self.dpop.nonce is not None:
            headers["DPoP-Nonce"] = self.dpop.nonce  # RFC 9449 §8.1
        return headers

    def audit_event(self, **context: Any) -> AuditEvent:
        """The audit event of this decision (``context``: endpoint, method, status, latency, ...).

        A refusal after authentication still names who was refused (subject, client, scopes, fingerprint).
        """
        if self.error is None:
            assert self.principal is not None  # noqa: S101 - an allowed decision has a principal
            return AuditEvent.allow(self.principal, **context)
        principal = self.principal
        if principal is not None:
            who = AuditEvent.who(principal)
            who.pop("tenant")  # the decision's tenant, from context
            context = {**who, **context}
        return AuditEvent.deny(self.error, **context)

    def refuse(self, error: AuthError, retry_after: int | None = None) -> Decision:
        """This decision, refused with ``error``."""
        return replace(self, error=error, retry_after=retry_after)


def _decision(requirement: Requirement, tenant: str | None, principal: Principal | None,
              effective: EffectiveScopes | None, error: AuthError | None, fresh: bool,
              dpop: DPoPChallenge | None) -> Decision:
    """``Decision(...)`` of these fields, filled in one step: the hot path builds two per request, and a frozen
    dataclass's ``__init__`` sets field by field (``test_perf_equivalence`` checks it equals the constructor's)."""
    decision = object.__new__(Decision)
    object.__setattr__(decision, "__dict__", {
        "requirement": requirement, "tenant": tenant, "principal": principal, "effective": effective,
        "error": error, "retry_after": None, "fresh": fresh, "dpop": dpop})
    return decision


class GuardUser(BaseUser):
    """The Starlette user of a guarded request: the principal and its effective scopes."""

    def __init__(self, principal: Principal, effective: EffectiveScopes) -> None:
        self.principal = principal
        self.effective = effective
        self.key = principal_key(principal)

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.key

    @property
    def identity(self) -> str:
        return self.principal.identity


class Gate:
    """Tenants' validators and hierarchies plus an admission check: the decision, for any integration."""

    def __init__(self, tenants: Mapping[str | None, TenantAuth], *, admit: Admit | None = None,
                 delegation: Mapping[str, DelegationSpec] | None = None) -> None:
        self.tenants = dict(tenants)
        self.admit = admit
        self.delegation = dict(delegation or {})  # plugin id -> its rule for delegated callers (RFC 8693)
        self._issuers: TTLCache[str] = TTLCache(4096, time.monotonic)  # keyed by token_key (SHA-256)
        self._dpop = DPoPPolicy(clock=time.time)  # for tenants built without one: bound tokens still checked

    def tenant_auth(self, tenant: str | None, token: str) -> TenantAuth | None:
        """The tenant that judges ``token``: the routed one, else (several tenants at the root) by issuer."""
        return self._tenant_auth(tenant, token)[0]

    def _tenant_auth(self, tenant: str | None, token: str) -> tuple[TenantAuth | None, Peeked | None]:
        """``tenant_auth``, and what the issuer peek read from the token (for the validator, so it reads once)."""
        if tenant is not None or len(self.tenants) == 1:
            return self.tenants.get(tenant), None
        # Root endpoints with several tenants: pick the validator by the token's issuer, read unverified only
        # for this choice; that tenant's validator then checks everything, signature included.
        peeked = self._peek(token)
        issuer = peeked[0]
        for auth in self.tenants.values():
            if auth.name is not None and issuer is not None and issuer in auth.issuers:
                return auth, peeked[1]
        return self.tenants.get(None), peeked[1]

    def dpop_policy(self, tenant: str | None) -> DPoPPolicy:
        """The DPoP rules of ``tenant`` (the default tenant's for an unknown one)."""
        auth = self.tenants.get(tenant) or self.tenants.get(None)
        return (auth.dpop if auth else None) or self._dpop

    async def authenticate(self, token: str | None, tenant: str | None = None, *, fresh: bool = False,
                           presentation: Presentation | None = None, dpop_checked: bool = False) -> Decision:
        """Step 1: who the token speaks for (the requirement is checked later by ``decide``).

        ``presentation``: the scheme and DPoP proof the request came with (None: Bearer, no proof), held to
        the tenant's ``DPoPPolicy`` unless ``dpop_checked``.
        """
        found = self.authenticate_now(token, tenant, fresh=fresh, presentation=presentation, dpop_checked=dpop_checked)
        return found if isinstance(found, Decision) else await found

    def authenticate_now(self, token: str | None, tenant: str | None = None, *, fresh: bool = False,
                         presentation: Presentation | None = None,
                         dpop_checked: bool = False) -> Decision | Coroutine[Any, Any, Decision]:
        """``authenticate``'s answer at once when it needs no waiting (no token, no tenant, or a JWT validator's
        cached verdict for a request without a DPoP proof to check), else the coroutine that gives it.

        The same steps in the same order either way; ``tests/core/test_perf_equivalence.py`` holds them equal.
        """
        auth, peeked = self._tenant_auth(tenant, token) if token is not None else (None, None)
        if auth is None or token is None:
            base = Decision(_NO_REQUIREMENT, tenant, dpop=self.dpop_policy(tenant).challenge(presentation))
            if token is None:
                return base.refuse(AuthError(Reason.MISSING_TOKEN, "no Bearer credentials in Authorization"))
            return base.refuse(AuthError(Reason.TENANT, f"no tenant {tenant!r} here" if tenant else
                                         "the token's issuer belongs to no tenant here"))
        policy = auth.dpop or self._dpop
        # policy.challenge(None) is None unless DPoP is required: a Bearer request without a proof skips the call
        challenge = None if presentation is None and not policy.required else policy.challenge(presentation)
        validator = auth.validator
        principal: Principal | None = None
        consulted = False  # the validator's cache was asked already (and missed): validate without asking again
        if type(validator) is JWTValidator and type(token) is str:
            key = token_key(token) if peeked is None else peeked.key
            if not fresh and validator.cache_ttl:
                principal = validator.cache.get(key)  # what JWTValidator.validate does first
                consulted = True
            if principal is None:
                peeked = peeked or Peeked(token, key, None, None)  # the validator reuses the hash (and peek's parse)
            else:
                if peeked is not None and peeked.claims is not None:
                    self._remember_issuer(peeked)  # a verified token whose memo entry had gone
                if dpop_checked or presentation is None or presentation.scheme != "dpop":
                    return self._cached(auth, policy, principal, fresh, challenge, dpop_checked)
        return self._authenticate(auth, token, peeked, principal, fresh or consulted, presentation, dpop_checked,
                                  challenge, fresh)

    @staticmethod
    def _cached(auth: TenantAuth, policy: DPoPPolicy, principal: Principal, fresh: bool,
                challenge: DPoPChallenge | None, dpop_checked: bool) -> Decision:
        """``_authenticate``'s answer for a cached ``principal`` presented without the DPoP scheme, at once.

        A Bearer request's answer (no challenge, the bearer check passed) is remembered on the principal (immutable,
        handed out again by the validator's cache) with the tenant, policy and hierarchy it was made with, and used
        while those are the same objects and the policy still does not require DPoP. The memo holds the effective
        scopes, never the decision: a decision names the principal, and that cycle would outlive the cache entry.
        """
        memo: tuple[TenantAuth, DPoPPolicy, ScopeHierarchy, EffectiveScopes] | None = principal.__dict__.get(_FOUND)
        if (memo is not None and memo[0] is auth and memo[1] is policy and memo[2] is auth.hierarchy
                and challenge is None and not fresh and not dpop_checked and not policy.required):
            return _decision(_NO_REQUIREMENT, auth.name, principal, memo[3], None, False, None)
        found = _decision(_NO_REQUIREMENT, auth.name, principal, auth.hierarchy.expand(principal.scopes), None,
                          fresh, challenge)
        if not dpop_checked:
            try:
                policy.check_bearer(principal)  # what policy.check does for a request without the DPoP scheme
            except AuthError as error:
                return found.refuse(error)
            if challenge is None and not fresh:
                principal.__dict__[_FOUND] = (auth, policy, auth.hierarchy, found.effective)
        return found

    async def _authenticate(self, auth: TenantAuth, token: str, peeked: Peeked | None, principal: Principal | None,
                            skip_cache: bool, presentation: Presentation | None, dpop_checked: bool,
                            challenge: DPoPChallenge | None, fresh: bool) -> Decision:
        """``authenticate_now``'s waiting part: validate (unless ``principal`` is the cached verdict), check DPoP.

        ``skip_cache``: ``fresh``, or the cache was just asked and missed (the verdict is still stored).
        """
        if principal is None:
            try:
                validator = auth.validator
                principal = (await validator.validate(token, fresh=skip_cache, peeked=peeked)
                             if peeked is not None and type(validator) is JWTValidator
                             else await validator.validate(token, fresh=skip_cache))
            except AuthError as error:
                return Decision(_NO_REQUIREMENT, auth.name, dpop=challenge, error=error)
            if peeked is not None and peeked.claims is not None:
                self._remember_issuer(peeked)  # the token verified: its issuer may route it from the memo
        found = _decision(_NO_REQUIREMENT, auth.name, principal, auth.hierarchy.expand(principal.scopes), None,
                          fresh, challenge)
        if not dpop_checked:
            try:
                await (auth.dpop or self._dpop).check(principal, token, presentation)
            except AuthError as error:
                return found.refuse(error)
        return found

    async def decide(self, token: str | None, requirement: Requirement, tenant: str | None = None, *,
                     authenticated: Decision | None = None, presentation: Presentation | None = None) -> Decision:
        """Authenticate (unless ``authenticated`` says who already), authorize, admit: one ``Decision``."""
        decision = self.decide_now(token, requirement, tenant, authenticated=authenticated, presentation=presentation)
        return decision if isinstance(decision, Decision) else await decision

    def decide_now(self, token: str | None, requirement: Requirement, tenant: str | None = None, *,
                   authenticated: Decision | None = None,
                   presentation: Presentation | None = None) -> Decision | Coroutine[Any, Any, Decision]:
        """``decide``'s answer at once when nothing needs waiting for (``authenticated`` given and enough, an
        admission check that answers at once), else the coroutine that gives it."""
        found = authenticated
        if found is None or (found.allowed and requirement.fresh and not found.fresh):
            return self._decide(token, requirement, tenant, found, presentation)
        decision, wait = self._authorize(found, requirement)
        if wait is None:
            return decision
        if isinstance(wait, (int, float)):
            return self._admitted(decision, requirement, wait)
        return self._await_admission(decision, requirement, wait)

    async def _decide(self, token: str | None, requirement: Requirement, tenant: str | None,
                      found: Decision | None, presentation: Presentation | None) -> Decision:
        """``decide_now``'s waiting part: authenticate (again, fresh, when the requirement says so), then judge."""
        found = found or await self.authenticate(token, tenant, fresh=requirement.fresh, presentation=presentation)
        if found.allowed and requirement.fresh and not found.fresh:
            # introspection_required: the token again, fresh; its proof was checked (and its jti spent) above
            found = await self.authenticate(token, found.tenant, fresh=True, presentation=presentation,
                                            dpop_checked=True)
        decision, wait = self._authorize(found, requirement)
        if wait is not None and not isinstance(wait, (int, float)):
            wait = await wait  # an awaitable (a shared budget)
        return self._admitted(decision, requirement, wait)

    async def _await_admission(self, decision: Decision, requirement: Requirement,
                               wait: Awaitable[float | None]) -> Decision:
        return self._admitted(decision, requirement, await wait)  # an awaitable (a shared budget)

    def _authorize(self, found: Decision, requirement: Requirement) -> tuple[Decision, Any]:
        """Steps 2 and 3 for an authenticated ``found``: the requirement (scopes, delegation), then the admission
        check's answer (seconds to wait, an awaitable of them, or None) for an allowed decision."""
        decision = _decision(requirement, found.tenant, found.principal, found.effective, found.error, found.fresh,
                             found.dpop)
        if decision.error is not None:
            return decision, None
        if requirement.invalid:
            return decision.refuse(AuthError(Reason.INVALID_REQUEST, requirement.invalid)), None
        effective, principal = decision.effective, decision.principal
        assert effective is not None and principal is not None  # noqa: S101 - allowed above
        missing = [s for s in requirement.scopes if not effective.covers(s)]
        if missing:
            needs = " ".join(requirement.scopes)
            detail = f"{requirement.label or 'request'} needs {needs}; missing {' '.join(missing)}"
            return decision.refuse(AuthError(Reason.INSUFFICIENT_SCOPE, detail, scopes=requirement.scopes)), None
        rule = self.delegation.get(requirement.plugin) if requirement.plugin else None
        if rule is not None:
            try:
                check_delegation(principal.actors, rule, str(requirement.plugin))
            except AuthError as error:
                return decision.refuse(error), None
        return decision, (self.admit(principal, requirement) if self.admit else None)

    @staticmethod
    def _admitted(decision: Decision, requirement: Requirement, wait: float | None) -> Decision:
        """``decision``, refused as rate limited when the admission check said to wait."""
        if wait is None:
            return decision
        limited = AuthError(Reason.RATE_LIMITED, f"{requirement.plugin or requirement.label} rate limit")
        return decision.refuse(limited, retry_after=max(1, math.ceil(min(wait, 86_400.0))))

    async def aclose(self) -> None:
        """Close the HTTP clients of every tenant's validator (JWKS, introspection); call it at shutdown."""
        for auth in self.tenants.values():
            close = getattr(auth.validator, "aclose", None)
            if close is not None:
                await close()

    def _peek(self, token: str) -> tuple[str | None, Peeked | None]:
        """The token's unverified issuer, and what was read to find it: its hash, parse and payload."""
        if type(token) is not str:
            return None, None
        key = token_key(token)  # the one hash of the token, reused by the validator's cache
        cached = self._issuers.get(key)
        if cached is not None:
            return cached, Peeked(token, key, None, None)
        issuer: str | None = None
        jws = claims = None
        try:
            jws = parse_compact(token)
            claims = decode_payload(jws)
        except AuthError:
            issuer = self._lenient_issuer(token)  # the validator refuses this token; its issuer still routes it
        else:
            found = claims.get("iss")
            issuer = found if isinstance(found, str) else None
        # Remembered by _remember_issuer once the token verifies: forged tokens neither fill nor churn the memo.
        return issuer, Peeked(token, key, jws, claims)

    def _remember_issuer(self, peeked: Peeked) -> None:
        """Remember the issuer ``_peek`` read from a token that has since verified (a tenant's issuer only)."""
        issuer = peeked.claims.get("iss") if peeked.claims is not None else None
        # Only a tenant's issuer is remembered: tokens must not fill memory with their strings.
        if isinstance(issuer, str) and any(issuer in auth.issuers for auth in self.tenants.values()):
            self._issuers.put(peeked.key, issuer, time.monotonic() + 300)

    @staticmethod
    def _lenient_issuer(token: str) -> str | None:
        """The payload's ``iss`` of a token the strict parser refuses (the choice of tenant only), or None."""
        with contextlib.suppress(ValueError, IndexError, AttributeError, TypeError):
            found = strict_json(b64url_decode(token.split(".")[1])).get("iss")
            return found if isinstance(found, str) else None
        return None
