"""The ``Decision`` every integration answers from, and the judging of an authenticated request against its
``Requirement`` (scopes after the hierarchy, delegation): values and pure functions, no I/O.

``Gate`` (``labkit.guard.gate``) authenticates and admits; the ASGI guard, the FastAPI dependency, the Starlette
backend and the MCP token verifier answer from the ``Decision`` it returns, through the one table in ``rfc6750``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.authentication import BaseUser

from ..audit import AuditEvent
from ..auth import Principal
from ..auth.actors import check_delegation
from ..auth.principal import principal_key
from ..config.delegation import DelegationSpec
from ..errors import AuthError, Reason
from ..scopes import EffectiveScopes
from ..tracing import trace_id
from .dpop import DPoPChallenge
from .policy import Requirement
from .rfc6750 import challenge, outcome

__all__ = ["Decision", "GuardUser", "judge", "principal_key"]


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
    # time.perf_counter() when the gate began to authenticate: every front door's latency is measured from it
    started: float | None = field(default=None, compare=False, repr=False)

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

    def challenge(self, realm: str | None = None, resource_metadata: str | None = None) -> str | None:
        """The ``WWW-Authenticate`` value of a refusal (None when allowed or none is sent)."""
        if self.error is None:
            return None
        return challenge(self.error.reason, realm=realm, scopes=self.error.scopes or self.requirement.scopes,
                         resource_metadata=resource_metadata, dpop_algs=self.dpop.algs if self.dpop else None)

    def headers(self, realm: str | None = None, resource_metadata: str | None = None) -> dict[str, str]:
        """The response headers of a refusal: the challenge and ``Retry-After``."""
        headers: dict[str, str] = {}
        value = self.challenge(realm, resource_metadata)
        if value:
            headers["WWW-Authenticate"] = value
        retry_after = self.retry_after
        if retry_after is None and self.error is not None:
            retry_after = outcome(self.error.reason).retry_after
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if self.error is not None and self.dpop is not None and self.dpop.nonce is not None:
            headers["DPoP-Nonce"] = self.dpop.nonce  # RFC 9449 §8.1
        return headers

    def latency_ms(self) -> float | None:
        """Milliseconds since the gate began to authenticate (None for a decision made without the gate)."""
        return None if self.started is None else (time.perf_counter() - self.started) * 1000

    def audit_event(self, **context: Any) -> AuditEvent:
        """The audit event of this decision (``context``: endpoint, method, status, ...).

        ``latency_ms`` defaults to ``latency_ms()`` and ``request_id`` to the active trace's id (``trace_id()``),
        so every front door's events feed ``labkit_decision_latency_seconds`` and join their traces. A refusal
        after authentication still names who was refused (subject, client, scopes, fingerprint).
        """
        if context.get("latency_ms") is None:
            context["latency_ms"] = self.latency_ms()
        if context.get("request_id") is None:
            context["request_id"] = trace_id()
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


def judge(found: Decision, requirement: Requirement, delegation: Mapping[str, DelegationSpec]) -> Decision:
    """``found`` (an authentication) judged against ``requirement``: its own validity, the scopes it needs after
    the hierarchy, and the plugin's rule for delegated callers (RFC 8693). The admission check comes after."""
    decision = Decision(requirement, found.tenant, found.principal, found.effective, found.error, None,
                        found.fresh, found.dpop, found.started)
    if decision.error is not None:
        return decision
    if requirement.invalid:
        return decision.refuse(AuthError(Reason.INVALID_REQUEST, requirement.invalid))
    effective, principal = decision.effective, decision.principal
    assert effective is not None and principal is not None  # noqa: S101 - allowed above
    # RFC 6750 §3.1: every scope the requirement names, after the hierarchy
    missing = [s for s in requirement.scopes if not effective.covers(s)]
    if missing:
        needs = " ".join(requirement.scopes)
        detail = f"{requirement.label or 'request'} needs {needs}; missing {' '.join(missing)}"
        return decision.refuse(AuthError(Reason.INSUFFICIENT_SCOPE, detail, scopes=requirement.scopes))
    rule = delegation.get(requirement.plugin) if requirement.plugin else None
    if rule is not None:
        try:
            check_delegation(principal.actors, rule, str(requirement.plugin))
        except AuthError as error:
            return decision.refuse(error)
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
