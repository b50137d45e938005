"""An mcp SDK ``TokenVerifier`` on the guard's gate: an official-SDK MCP server that validates with labkit.

    resource = "http://127.0.0.1:8000/mcp"
    verifier = GateTokenVerifier(gate_for(cfg, resources=[resource]), resource_server_url=resource)
    server = MCPServer("tools", token_verifier=verifier, auth=AuthSettings(
        issuer_url=issuer, resource_server_url=resource, required_scopes=["api:read"],
        validate_token_resource=False))  # labkit checks the audience itself

The SDK wires it as ``AuthenticationMiddleware(BearerAuthBackend(verifier))`` around its app and
``RequireAuthMiddleware(required_scopes)`` around ``/mcp``, and serves RFC 9728 metadata whose ``resource``
is ``resource_server_url``; ``gate_for(..., resources=[resource])`` makes that value an accepted audience, so
an RFC 8707 client's token is accepted. ``AccessToken.scopes`` are the **effective** scopes (the hierarchy
applied; scopes a ``*`` grant covers are listed by name), because the SDK checks ``required_scopes`` by
exact membership. The SDK, not labkit, answers refusals: 401 ``invalid_token`` (also when no token is sent)
and 403 ``insufficient_scope`` without ``scope=``; see the README.

DPoP (RFC 9449) needs ``DPoPMiddleware(app, verifier)`` around the SDK's app. The SDK's extension point cannot
carry it: ``TokenVerifier.verify_token(token)`` receives the token string alone (not the ``DPoP`` header, the
method or the URL a proof must name), its ``BearerAuthBackend`` reads only ``Authorization: Bearer``, and its
``RequireAuthMiddleware`` always answers with a ``Bearer`` challenge. The middleware reads the request once
(``labkit.guard.dpop.presented``, as the ASGI guard does) and hands it to the verifier in a context variable, shows
the SDK only the one token the strict parser read (several ``Authorization`` headers: none; a ``DPoP`` token as
``Bearer``, while the verifier still knows the scheme and holds the token to its proof), and rewrites the SDK's
401/403 into the ``DPoP`` challenge (``algs``, ``error``, ``DPoP-Nonce``) the gate's decision asks for. Without it,
a DPoP-bound token is refused (presented as Bearer, §7.2) and so is every token under ``require_dpop``: fail
closed (but the SDK alone takes the first of several ``Authorization`` headers).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass

try:  # a partial install names the extra to add (labkit/_extras.py)
    import mcp  # noqa: F401
except ModuleNotFoundError as missing:
    from .._extras import missing_extra

    raise (missing_extra(missing, "labkit.integrations.mcp") or missing) from None
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.routes import build_resource_metadata_url
from pydantic import AnyHttpUrl
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..audit import AuditLog
from ..auth import Principal
from ..errors import AuthError, Reason
from ..guard import Decision, Gate, Requirement, bearer_token
from ..guard.dpop import Presentation
from ..guard.rfc6750 import outcome
from ..scopes import EffectiveScopes
from ._common import audit_decision, presented

__all__ = ["DPoPMiddleware", "GateTokenVerifier", "access_token"]


@dataclass
class _Exchange:
    """One request as ``DPoPMiddleware`` read it, and the verifier's decision on it."""

    presentation: Presentation
    decision: Decision | None = None


_EXCHANGE: ContextVar[_Exchange | None] = ContextVar("labkit_mcp_exchange", default=None)


class GateTokenVerifier:
    """``verify_token(token) -> AccessToken | None`` by ``Gate.authenticate`` (mcp's ``TokenVerifier`` protocol).

    ``resource_server_url``: the MCP server's RFC 9728 resource, reported as ``AccessToken.resource`` when
    the token's audience names it; ``tenant``: the tenant this server serves (None: the default tenant, or
    the one whose issuer signed the token); ``required_scopes``: the scopes the SDK will check, so that a
    ``*`` grant lists them. Refusals are audited; never raises for a bad token.
    """

    def __init__(
        self,
        gate: Gate,
        *,
        resource_server_url: str | None = None,
        tenant: str | None = None,
        required_scopes: Sequence[str] = (),
        audit: AuditLog | None = None,
        endpoint: str = "/mcp",
    ) -> None:
        self.gate = gate
        self.resource_server_url = resource_server_url
        self.tenant = tenant
        self.required_scopes = tuple(required_scopes)
        self.audit = audit
        self.endpoint = endpoint
        self.last: Decision | None = None  # the latest decision, for lessons and tests

    async def verify_token(self, token: str) -> AccessToken | None:
        """The access token's principal as the SDK's ``AccessToken``, or None when it is refused."""
        # RFC 6750 §2.1: the SDK hands over whatever follows "Bearer "; hold it to the guard's strict grammar.
        try:
            strict = bearer_token([b"Bearer " + token.encode("ascii")])
        except UnicodeEncodeError:
            strict = None
        exchange = _EXCHANGE.get()
        # RFC 9449: the presentation DPoPMiddleware read (None without it: Bearer, so a bound token is refused)
        decision = await self.gate.authenticate(strict, self.tenant,
                                                presentation=exchange.presentation if exchange else None)
        if exchange is not None:
            exchange.decision = decision
        self.last = decision
        if not decision.allowed:
            audit_decision(self.audit, decision, endpoint=self.endpoint, method="verify_token")
            return None
        assert decision.principal is not None and decision.effective is not None  # noqa: S101 - allowed
        return access_token(decision.principal, decision.effective, resource=self._resource(decision.principal),
                            required_scopes=self.required_scopes)

    def _resource(self, principal: Principal) -> str | None:
        """``resource_server_url`` when the token's ``aud`` names it (a trailing slash aside), else None."""
        if self.resource_server_url is None:
            return None
        aud = principal.claims.get("aud")
        values = [aud] if isinstance(aud, str) else [v for v in aud if isinstance(v, str)] if isinstance(
            aud, list) else []
        wanted = self.resource_server_url.removesuffix("/")
        return self.resource_server_url if any(v.removesuffix("/") == wanted for v in values) else None


def access_token(principal: Principal, effective: EffectiveScopes, *, resource: str | None = None,
                 required_scopes: Sequence[str] = ()) -> AccessToken:
    """The SDK's ``AccessToken`` for a principal: effective scopes, a fingerprint instead of the token."""
    scopes = set(effective) | {s for s in required_scopes if effective.covers(s)}
    return AccessToken(
        token=principal.fingerprint,  # the SDK compares principals; it never needs the token itself
        client_id=principal.client_id or principal.identity,
        scopes=sorted(scopes),
        expires_at=int(principal.expires_at) if principal.expires_at else None,
        resource=resource,
        subject=principal.subject,
        claims={"iss": principal.issuer} if principal.issuer else None,
    )


class DPoPMiddleware:
    """ASGI middleware around the mcp SDK's app that lets ``verifier`` hold tokens to RFC 9449 (see the module).

    ``public_url``: the app's public origin (plus a path prefix a proxy strips unannounced) that proofs' ``htu``
    names (default: the ASGI server's address, never the Host header); ``realm``: the challenges' RFC 6750
    ``realm`` (None: none is sent).
    """

    def __init__(self, app: ASGIApp, verifier: GateTokenVerifier, *, public_url: str | None = None,
                 realm: str | None = None) -> None:
        self.app = app
        self.verifier = verifier
        self.public_url = public_url
        self.realm = realm
        resource = verifier.resource_server_url
        self.resource_metadata = str(build_resource_metadata_url(AnyHttpUrl(resource))) if resource else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token, presentation = presented(scope, self.public_url)
        exchange = _Exchange(presentation)
        # The SDK sees exactly the token the strict parser read (RFC 6750 §2.1), or none: its BearerAuthBackend
        # would take the first of several Authorization headers, which the guard refuses as ambiguous. A DPoP
        # token is shown as "Bearer " (all the SDK reads); the verifier still sees the DPoP presentation.
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"authorization"]
        if token is not None:
            headers.append((b"authorization", b"Bearer " + token.encode("ascii")))
        scope = {**scope, "headers": headers}

        async def send_challenge(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (401, 403):
                refusal = self._refusal(exchange, message["status"])
                # RFC 9449 §7.1: answered with the DPoP scheme when DPoP is in play (the SDK knows only Bearer)
                if refusal is not None and (refusal.dpop is not None or (refusal.error is not None
                                            and outcome(refusal.error.reason).dpop)):
                    kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"www-authenticate"]
                    added = refusal.headers(self.realm, self.resource_metadata)
                    message = {**message, "headers": [*kept, *((k.lower().encode("latin-1"), v.encode("latin-1"))
                                                                for k, v in added.items())]}
            await send(message)

        reset = _EXCHANGE.set(exchange)
        try:
            await self.app(scope, receive, send_challenge)
        finally:
            _EXCHANGE.reset(reset)

    def _refusal(self, exchange: _Exchange, status: int) -> Decision | None:
        """The gate's refusal behind the SDK's 401/403 (None: the SDK refused for a reason of its own)."""
        decision = exchange.decision
        if decision is None:  # no token reached the verifier: the SDK's "Authentication required"
            policy = self.verifier.gate.dpop_policy(self.verifier.tenant)
            return Decision(Requirement(), self.verifier.tenant, dpop=policy.challenge(exchange.presentation),
                            error=AuthError(Reason.MISSING_TOKEN, "no credentials the SDK accepts"))
        if not decision.allowed:
            return decision
        if status == 403:
            scopes = self.verifier.required_scopes
            return decision.refuse(AuthError(Reason.INSUFFICIENT_SCOPE, "the SDK's required_scopes", scopes=scopes))
        return None
