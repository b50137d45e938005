"""A FastAPI security dependency on the guard's decision: ``Security(guard, scopes=[...])`` per route.

    guard = BearerGuard(gate_for(cfg), audit=AuditLog())
    @app.get("/items")
    async def items(user: Annotated[GuardUser, Security(guard, scopes=["api:read"])]) -> list[str]: ...

The scopes of every enclosing ``Security(...)`` are required (after the hierarchy), the token is read by
the guard's strict parser (``Bearer`` or ``DPoP``: a DPoP-bound token needs its proof, RFC 9449, checked by the
gate's ``DPoPPolicy`` against ``public_url``), and a refusal is ``HTTPException(status,
headers=decision.headers(...))``: the same 401/403/429, ``WWW-Authenticate`` challenge (``DPoP`` per §7.1) and
``DPoP-Nonce`` as ``OAuth2Guard``. The OpenAPI document declares the
security scheme (``HTTPBearer`` by default; ``client_credentials_scheme(token_url)`` for an OAuth2 one), with
each route's scopes. Requires FastAPI (the ``fastapi`` extra).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

try:  # a partial install names the extra to add (labkit/_extras.py)
    import fastapi  # noqa: F401
except ModuleNotFoundError as missing:
    from .._extras import missing_extra

    raise (missing_extra(missing, "labkit.integrations.fastapi") or missing) from None
from fastapi import HTTPException, Request, Security
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import HTTPBearer, OAuth2, SecurityScopes

from ..audit import AuditLog
from ..auth import Principal
from ..guard import Decision, Gate, GuardUser, Requirement
from ..scopes import EffectiveScopes
from ._common import AUTHENTICATED, audit_decision, phrase, presented

__all__ = ["BearerGuard", "UserFactory", "client_credentials_scheme"]

UserFactory = Callable[[Principal, EffectiveScopes], Any]


def client_credentials_scheme(token_url: str, scopes: Mapping[str, str] | None = None,
                              name: str = "oauth2") -> OAuth2:
    """An OpenAPI OAuth2 scheme with the client-credentials flow (the token is still read by the guard)."""
    flows = OAuthFlows(clientCredentials=OAuthFlowClientCredentials(tokenUrl=token_url, scopes=dict(scopes or {})))
    return OAuth2(flows=flows, scheme_name=name, auto_error=False)


class BearerGuard:
    """A FastAPI dependency: the caller's ``GuardUser`` (principal and effective scopes), or an RFC 6750 refusal.

    ``gate``: tenants' validators and hierarchies (``labkit.integrations.gate_for(cfg)``); ``audit``: where each
    decision is recorded; ``scheme``: the OpenAPI security scheme declared (never used to read the token);
    ``realm``: the RFC 6750 §3 ``realm`` of the challenges (None: none is sent);
    ``tenant_param``: the path parameter naming the tenant, if routes carry one; ``resource_metadata``: the
    RFC 9728 metadata URL sent in challenges; ``public_url``: the app's public origin (plus a path prefix a proxy
    strips unannounced) that DPoP proofs name (default: the ASGI server's address, never the Host header).
    Raises ``HTTPException`` (401, 403, 400 or 429) when refused.
    """

    def __init__(
        self,
        gate: Gate,
        *,
        audit: AuditLog | None = None,
        realm: str | None = None,
        scheme: Callable[..., Any] | None = None,  # a fastapi.security scheme instance: HTTPBearer, OAuth2, ...
        tenant_param: str = "tenant",
        resource_metadata: str | None = None,
        user_factory: UserFactory = GuardUser,
        public_url: str | None = None,
    ) -> None:
        self.gate = gate
        self.public_url = public_url
        self.audit = audit
        self.realm = realm
        self.scheme: Callable[..., Any] = scheme or HTTPBearer(bearerFormat="JWT", scheme_name="bearer",
                                                               auto_error=False)
        self.tenant_param = tenant_param
        self.resource_metadata = resource_metadata
        self.user_factory = user_factory
        # FastAPI reads the dependency's parameters from its signature: the scheme is a sub-dependency so that
        # the OpenAPI document lists it, with the scopes of every enclosing Security(...).
        keyword = inspect.Parameter.KEYWORD_ONLY
        self.__signature__ = inspect.Signature([
            inspect.Parameter("request", keyword, annotation=Request),
            inspect.Parameter("security_scopes", keyword, annotation=SecurityScopes),
            inspect.Parameter("declared", keyword, default=Security(self.scheme), annotation=Any),
        ])

    async def __call__(self, *, request: Request, security_scopes: SecurityScopes, declared: Any = None) -> Any:
        """Decide on this request: authenticate, the route's scopes, admission; audited once."""
        token, presentation = presented(request.scope, self.public_url)
        tenant = request.path_params.get(self.tenant_param)
        # The route's path template, never the client's path: audit strings stay bounded and app-defined.
        label = f"{request.method} {getattr(request.scope.get('route'), 'path', 'unknown route')}"
        requirement = Requirement(tuple(dict.fromkeys(security_scopes.scopes)), label)
        # One authentication per request and gate, however many Security(...) a route declares: a DPoP
        # proof's jti is spent once (RFC 9449 §11.1), so a second check must not see it as a replay.
        done: dict[int, Decision] = request.scope.setdefault(AUTHENTICATED, {})
        found = done.get(id(self.gate))
        if found is None:
            found = done[id(self.gate)] = await self.gate.authenticate(
                token, str(tenant) if tenant is not None else None, fresh=requirement.fresh,
                presentation=presentation)
        decision = await self.gate.decide(token, requirement, found.tenant, authenticated=found,
                                          presentation=presentation)
        audit_decision(self.audit, decision, endpoint=label, method=request.method)
        if not decision.allowed:
            raise HTTPException(decision.status, detail=phrase(decision.status),
                                headers=decision.headers(self.realm, self.resource_metadata))
        assert decision.principal is not None and decision.effective is not None  # noqa: S101 - allowed
        return self.user_factory(decision.principal, decision.effective)
