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
"""

from __future__ import annotations

from collections.abc import Sequence

from mcp.server.auth.provider import AccessToken

from ..audit import AuditLog
from ..auth import Principal
from ..guard import Decision, Gate, bearer_token
from ..scopes import EffectiveScopes
from ._common import audit_decision

__all__ = ["GateTokenVerifier", "access_token"]


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
        decision = await self.gate.authenticate(strict, self.tenant)
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
