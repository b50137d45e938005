"""``MockProvider``: the lab's strict OAuth 2.0 authorization server as a Starlette app and a Python API.

Endpoints (each also under ``/{tenant}/`` for path tenants, with its own issuer, keys and clients):
``/.well-known/oauth-authorization-server`` (RFC 8414), ``/.well-known/openid-configuration``,
``/jwks``, ``/authorize`` (headless auto-approve, PKCE S256), ``/token``, ``/introspect`` (RFC 7662),
``/revoke`` (RFC 7009), ``/register`` (RFC 7591), ``/applications/{client_id}/token`` (GitHub-style check),
``/admin/rotate``, ``/admin/mint``, ``/admin/clients`` and ``/admin/faults`` (need the ``X-Lab-Admin`` header).
The token endpoint also takes ``private_key_jwt`` client assertions (RFC 7523 §2.2), the JWT-bearer grant for
ID-JAGs (RFC 7523 §2.1, SEP-990) and token exchange (RFC 8693). The simulated enterprise IdP lives at ``/idp``
(``/idp/.well-known/openid-configuration``, ``/idp/jwks``, ``/idp/token``).
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .client_endpoints import client_listing, idp_metadata, issue_id_jag, register_client
from .faults import Fault, Faults
from .idp import EnterpriseIdP
from .models import Client, User
from .rfc7523 import JWT_BEARER
from .rfc8693 import TOKEN_EXCHANGE
from .server import LabAuthorizationServer
from .wire import basic_credentials, lab_request, read_json, safe_description

__all__ = ["LAB_SCOPES", "MockProvider"]

LAB_SCOPES = (
    "api:read",
    "api:write",
    "api:admin",
    "files:read",
    "files:write",
    "admin",
    "push:read",
    "push:write",
    "openid",
    "email",
    "profile",
)
DOWNSTREAM_AUDIENCE = "api://oauth2-lab-downstream"  # the resource the agent calls on its callers' behalf
LAB_REDIRECTS = ("http://127.0.0.1:8765/callback", "http://localhost:8765/callback")
_RESERVED = {".well-known", "jwks", "authorize", "token", "introspect", "revoke", "applications", "admin", "t",
             "register", "idp"}
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _default_clients() -> list[Client]:
    """The lab's clients. Their secrets are PUBLIC and LAB-ONLY (documented in the README)."""
    user_grants = ("authorization_code", "refresh_token")
    # RFC 8707: lab clients may ask for the agent's default audience or any loopback agent URL (RFC 9728 resource)
    local = True
    clients = [
        Client("lab-client", "lab-client-secret", scopes=LAB_SCOPES, loopback_resources=local),
        Client("lab-limited", "lab-limited-secret", scopes=("api:read",), loopback_resources=local),
        Client("lab-opaque", "lab-opaque-secret", scopes=LAB_SCOPES, opaque=True, loopback_resources=local),
        # the agent's own client: introspects, and exchanges callers' tokens for the downstream API (RFC 8693)
        Client("lab-agent", "lab-agent-secret", grant_types=(TOKEN_EXCHANGE,), can_introspect=True, scopes=LAB_SCOPES,
               audience=DOWNSTREAM_AUDIENCE, resources=("api://oauth2-lab-agent",), loopback_resources=local),
        # an enterprise app redeeming ID-JAGs from the lab's IdP (SEP-990)
        Client("lab-enterprise", "lab-enterprise-secret", grant_types=(JWT_BEARER,), scopes=LAB_SCOPES,
               loopback_resources=local),
        Client("lab-app", None, grant_types=user_grants, scopes=LAB_SCOPES, redirect_uris=LAB_REDIRECTS,
               loopback_resources=local),
        Client("lab-web", "lab-web-secret", grant_types=user_grants, scopes=LAB_SCOPES, redirect_uris=LAB_REDIRECTS,
               loopback_resources=local),
        Client(
            "Iv1.lab-github-app",
            "lab-github-secret",
            scopes=("repo", "read:org", "api:read", "api:write"),
            persona="github",
            opaque=True,
        ),
    ]
    for persona in ("google", "auth0", "azure", "okta", "keycloak"):
        clients.append(
            Client(
                f"{persona}-client",
                f"{persona}-secret",
                grant_types=("client_credentials", *user_grants),
                scopes=LAB_SCOPES,
                redirect_uris=LAB_REDIRECTS,
                persona=persona,
                loopback_resources=local,
            )
        )
    return clients


USERS = (User("alice", "alice@lab.test", "Alice Lab"), User("bob", "bob@lab.test", "Bob Lab"))


class MockProvider:
    """A strict OAuth 2.0 provider for the lab: serve ``provider.app``; mint directly with ``mint()``.

    ``base_url`` is the public root URL (the default issuer); when unset it is taken from each request.
    ``clock`` (seconds since the epoch) dates every token, code and key retirement.
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        clock: Callable[[], float] | None = None,
        tenants: tuple[str, ...] = ("acme", "globex"),
        admin_token: str = "lab-admin-token",  # noqa: S107 - a documented lab-only value
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.clock = clock or time.time
        self.admin_token = admin_token
        self.faults = Faults()
        self.calls: Counter[str] = Counter()  # requests per endpoint ("introspect", "acme/token"): what caches save
        self._seen_base: str | None = None  # the root URL requests arrive at, when base_url is unset
        self._servers: dict[str | None, LabAuthorizationServer] = {}
        self.idp = EnterpriseIdP(issuer=lambda: self._issuer_fn(None)() + "/idp", clock=self.clock)
        for tenant in (None, *tenants):
            if tenant is not None and (tenant in _RESERVED or not tenant.replace("-", "").isalnum()):
                raise ValueError(f"invalid tenant name {tenant!r}")
            server = LabAuthorizationServer(tenant=tenant, clock=self.clock, issuer=self._issuer_fn(tenant))
            for client in _default_clients():
                server.store.clients[client.client_id] = client
            for user in USERS:
                server.store.users[user.subject] = user
            server.idp = self.idp
            self._servers[tenant] = server
        self.app = self._build_app()

    # -- Python API ---------------------------------------------------------------------------
    @property
    def tenants(self) -> tuple[str, ...]:
        """The path tenants (the default tenant is the root)."""
        return tuple(t for t in self._servers if t is not None)

    def server(self, tenant: str | None = None) -> LabAuthorizationServer:
        """The authorization server of ``tenant``; raises ``KeyError`` for an unknown tenant."""
        if tenant not in self._servers:
            raise KeyError(f"unknown tenant {tenant!r}")
        return self._servers[tenant]

    def issuer(self, tenant: str | None = None) -> str:
        """The default issuer of ``tenant`` (``base_url`` or ``base_url/tenant``)."""
        if self.base_url is None:
            raise RuntimeError("base_url is not set: serve the provider first (or pass base_url=...)")
        self.server(tenant)
        return f"{self.base_url}/{tenant}" if tenant else self.base_url

    def jwks(self, tenant: str | None = None) -> dict[str, Any]:
        """The public JWK Set of ``tenant``."""
        return self.server(tenant).keys.jwks()

    def rotate_keys(
        self, tenant: str | None = None, algorithms: tuple[str, ...] = ("RS256", "ES256", "EdDSA")
    ) -> list[str]:
        """Rotate signing keys (retired keys stay published for the grace period); returns the new kids."""
        return self.server(tenant).keys.rotate(algorithms)

    def register_client(self, client: Client, tenant: str | None = None) -> Client:
        """Add or replace a client."""
        self.server(tenant).store.clients[client.client_id] = client
        return client

    def mint(
        self,
        scopes: list[str] | tuple[str, ...] | str = (),
        *,
        subject: str | None = None,
        client_id: str = "lab-client",
        audience: str | list[str] | None = None,
        lifetime: int = 3600,
        issued_at: float | None = None,
        not_before: float | None = None,
        alg: str = "RS256",
        persona: str | None = None,
        tenant: str | None = None,
        claims: dict[str, Any] | None = None,
        opaque: bool = False,
    ) -> str:
        """Mint an access token directly (no HTTP), for lessons and tests; it is introspectable.

        ``lifetime`` may be negative (already expired); ``not_before`` in the future makes it not yet
        valid. Raises ``KeyError`` for an unknown client, tenant or algorithm.
        """
        server = self.server(tenant)
        base = server.store.clients[client_id]
        client = Client(**{**base.__dict__, "persona": persona or base.persona, "opaque": opaque or base.opaque})
        user = server.store.users.get(subject) if subject else None
        if subject and user is None:
            user = User(subject, f"{subject}@lab.test", subject)
        scope_list = scopes.split() if isinstance(scopes, str) else list(scopes)
        return server.issue_access_token(
            client,
            user,
            scope_list,
            audience=audience or base.audience or server.default_audience,
            lifetime=lifetime,
            alg=alg,
            extra_claims=claims,
            issued_at=issued_at,
            not_before=not_before,
        )

    # -- app ----------------------------------------------------------------------------------
    def _issuer_fn(self, tenant: str | None) -> Callable[[], str]:
        def issuer() -> str:
            base = self.base_url or self._seen_base or "http://127.0.0.1"
            return f"{base}/{tenant}" if tenant else base

        return issuer

    def _build_app(self) -> Starlette:
        handlers: list[tuple[str, str, Callable[[Request, LabAuthorizationServer], Awaitable[Response]], list[str]]] = [
            ("/.well-known/oauth-authorization-server", "metadata", self._metadata, ["GET"]),
            ("/.well-known/openid-configuration", "metadata", self._metadata, ["GET"]),
            ("/jwks", "jwks", self._jwks, ["GET"]),
            # Keycloak's spelling of the same keys (AgentUp's keycloak template names this path)
            ("/realms/lab/protocol/openid-connect/certs", "jwks", self._jwks, ["GET"]),
            ("/authorize", "authorize", self._authorize, ["GET"]),
            ("/token", "token", self._token, ["POST"]),
            ("/introspect", "introspect", self._introspect, ["POST"]),
            ("/revoke", "revoke", self._revoke, ["POST"]),
            ("/applications/{client_id}/token", "github", self._github, ["POST"]),
            ("/admin/rotate", "admin", self._admin_rotate, ["POST"]),
            ("/admin/mint", "admin", self._admin_mint, ["POST"]),
            ("/admin/faults", "admin", self._admin_faults, ["GET", "POST", "DELETE"]),
            ("/admin/clients", "admin", self._admin_clients, ["GET"]),
            ("/register", "register", self._register, ["POST"]),
        ]
        # the IdP's routes first: "/{tenant}/token" would match "/idp/token" (and answer 404)
        routes = [Route("/idp/.well-known/openid-configuration", self._idp("metadata"), methods=["GET"]),
                  Route("/idp/jwks", self._idp("jwks"), methods=["GET"]),
                  Route("/idp/token", self._idp("token"), methods=["POST"])]
        for path, name, handler, methods in handlers:
            endpoint = self._endpoint(name, handler)
            routes.append(Route(path, endpoint, methods=methods))
            routes.append(Route("/{tenant}" + path, endpoint, methods=methods))
        return Starlette(routes=routes)

    def _idp(self, name: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            self._seen_base = str(request.base_url).rstrip("/")
            if name == "metadata":
                return JSONResponse(idp_metadata(self.idp))
            if name == "jwks":
                return JSONResponse(self.idp.jwks())
            try:
                return await issue_id_jag(request, self.idp, self._servers)
            except OAuth2Error as error:
                return _error_response(error)

        return endpoint

    def _endpoint(
        self, name: str, handler: Callable[[Request, LabAuthorizationServer], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            tenant = request.path_params.get("tenant")
            if tenant not in self._servers:
                return JSONResponse({"error": "not_found"}, 404)
            self._seen_base = str(request.base_url).rstrip("/")
            self.calls[name if tenant is None else f"{tenant}/{name}"] += 1
            fault = self.faults.get(name, tenant) if name != "admin" else None
            if fault is not None:
                early = await _apply_fault(fault, name)
                if early is not None:
                    return early
            try:
                return await handler(request, self._servers[tenant])
            except OAuth2Error as error:
                return _error_response(error)

        return endpoint

    async def _metadata(self, request: Request, server: LabAuthorizationServer) -> Response:
        issuer = server.issuer()
        auth_methods = ["client_secret_basic", "client_secret_post"]
        document = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "jwks_uri": f"{issuer}/jwks",
            "introspection_endpoint": f"{issuer}/introspect",
            "revocation_endpoint": f"{issuer}/revoke",
            "response_types_supported": ["code"],
            "registration_endpoint": f"{issuer}/register",  # RFC 7591
            "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token", JWT_BEARER,
                                      TOKEN_EXCHANGE],
            "token_endpoint_auth_methods_supported": [*auth_methods, "private_key_jwt", "none"],
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,  # RFC 9207 §3
            "scopes_supported": sorted({s for c in server.store.clients.values() for s in c.scopes}),
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
            "dpop_signing_alg_values_supported": list(server.dpop.algorithms),  # RFC 9449 §5.1
        }
        return JSONResponse(document)

    async def _jwks(self, request: Request, server: LabAuthorizationServer) -> Response:
        fault = self.faults.get("jwks", server.tenant)
        keys = server.keys.jwks(omit_active=bool(fault and fault.missing_key))
        return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})

    async def _authorize(self, request: Request, server: LabAuthorizationServer) -> Response:
        authorization = await lab_request(request, form=False)
        hint = authorization.payload.data.get("login_hint") or "alice"
        user = server.store.users.get(hint)
        if user is None:
            raise InvalidRequestError("unknown login_hint (lab users: alice, bob)")
        try:
            grant = server.run(authorization, lambda r: server.get_consent_grant(request=r, end_user=user))
            status, body, headers = server.run(
                authorization, lambda r: server.create_authorization_response(r, grant_user=user, grant=grant)
            )
        except OAuth2Error as error:
            error.description = safe_description(error.description)
            status, body, headers = error()
        if status == 302:
            # RFC 9207 §2: every authorization response, success or error, names its issuer
            headers = [(k, add_params_to_uri(v, [("iss", server.issuer())]) if k == "Location" else v)
                       for k, v in headers]
        return _response(status, body, headers)

    async def _token(self, request: Request, server: LabAuthorizationServer) -> Response:
        form = await lab_request(request)
        # RFC 9449 §5: a DPoP proof binds the token to the client's key; checked before the grant runs
        form.lab_dpop = server.dpop.check(request.headers, request.headers.getlist("dpop"), f"{server.issuer()}/token")
        status, body, headers = server.run(form, server.create_token_response)
        if status != 200:
            server.dpop.release(form.lab_dpop)
        return _response(status, body, headers)

    async def _introspect(self, request: Request, server: LabAuthorizationServer) -> Response:
        form = await lab_request(request)
        status, body, headers = server.run(form, lambda r: server.create_endpoint_response("introspection", r))
        return _response(status, body, headers)

    async def _revoke(self, request: Request, server: LabAuthorizationServer) -> Response:
        form = await lab_request(request)
        status, body, headers = server.run(form, lambda r: server.create_endpoint_response("revocation", r))
        return _response(status, body, headers)

    async def _github(self, request: Request, server: LabAuthorizationServer) -> Response:
        client = server.store.clients.get(request.path_params["client_id"])
        try:
            client_id, secret = basic_credentials(request.headers)
        except OAuth2Error:
            client_id = secret = None
        authenticated = (client is not None and secret is not None and client_id == client.client_id
                         and client.check_client_secret(secret))
        if client is None or not authenticated:
            challenge = {"WWW-Authenticate": 'Basic realm="GitHub"'}
            return JSONResponse({"message": "Bad credentials"}, 401, headers=challenge)
        try:
            token = (await read_json(request)).get("access_token")
        except (ValueError, AttributeError):
            return JSONResponse({"message": "Problems parsing JSON"}, 400)
        record = server.store.find_token(token) if isinstance(token, str) else None
        if record is None or record.client_id != client.client_id or record.is_revoked() or record.is_expired():
            return JSONResponse({"message": "Not Found"}, 404)
        user = record.subject or client.client_id
        return JSONResponse(
            {
                "id": abs(hash(record.jti)) % 10**8,
                "scopes": record.scope.split(),
                "expires_at": int(record.expires_at),
                "user": {"login": user, "id": abs(hash(user)) % 10**8},
                "app": {"client_id": client.client_id, "name": "oauth2-lab GitHub app (simulated)"},
            }
        )

    def _admin_ok(self, request: Request) -> bool:
        given = request.headers.get("x-lab-admin", "")
        return hmac.compare_digest(given.encode(), self.admin_token.encode())

    async def _admin_rotate(self, request: Request, server: LabAuthorizationServer) -> Response:
        if not self._admin_ok(request):
            return JSONResponse({"error": "unauthorized"}, 401)
        kids = server.keys.rotate()
        return JSONResponse({"rotated": kids})

    async def _admin_mint(self, request: Request, server: LabAuthorizationServer) -> Response:
        """Direct minting over HTTP for ``labkit mint --lifetime`` (lab admin only)."""
        if not self._admin_ok(request):
            return JSONResponse({"error": "unauthorized"}, 401)
        try:
            spec = await read_json(request)
            token = self.mint(
                spec.get("scopes", []), subject=spec.get("subject"), client_id=spec.get("client_id", "lab-client"),
                lifetime=int(spec.get("lifetime", 3600)), alg=spec.get("alg", "RS256"), persona=spec.get("persona"),
                tenant=server.tenant,
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return JSONResponse({"error": "invalid_request", "error_description": safe_description(str(exc))}, 400)
        return JSONResponse({"access_token": token, "token_type": "Bearer"}, headers=_NO_STORE)

    async def _admin_clients(self, request: Request, server: LabAuthorizationServer) -> Response:
        """The tenant's clients, registered ones last (metadata only, never a secret)."""
        if not self._admin_ok(request):
            return JSONResponse({"error": "unauthorized"}, 401)
        return JSONResponse({"clients": client_listing(server)})

    async def _register(self, request: Request, server: LabAuthorizationServer) -> Response:
        status, body, headers = await register_client(request, server)
        return _response(status, body, headers)

    async def _admin_faults(self, request: Request, server: LabAuthorizationServer) -> Response:
        if not self._admin_ok(request):
            return JSONResponse({"error": "unauthorized"}, 401)
        if request.method == "DELETE":
            self.faults.reset()
        elif request.method == "POST":
            try:
                spec = await read_json(request)
                endpoint = spec.pop("endpoint")
                self.faults.set(endpoint, tenant=server.tenant, **spec)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                return JSONResponse({"error": "invalid_request", "error_description": safe_description(str(exc))}, 400)
        return JSONResponse({"faults": self.faults.active()})


def _response(status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
    merged = dict(headers)
    if status == 302:
        return Response(status_code=302, headers={"Location": merged["Location"], **_NO_STORE})
    if isinstance(body, dict) and body.get("error") == "invalid_client":
        status = 401  # RFC 6749 §5.2: say how to authenticate
        merged["WWW-Authenticate"] = 'Basic realm="oauth2-lab", error="invalid_client"'
    merged.pop("Content-Type", None)
    merged.update(_NO_STORE)
    return JSONResponse(body if isinstance(body, dict) else {}, status, headers=merged)


def _error_response(error: OAuth2Error) -> Response:
    error.description = safe_description(error.description)
    status, body, headers = error()
    return _response(status, body, headers)


async def _apply_fault(fault: Fault, name: str) -> Response | None:
    if fault.latency:
        await asyncio.sleep(fault.latency)
    if fault.drop:
        return _DroppedResponse()
    if fault.status is not None:
        return JSONResponse({"error": "server_error", "error_description": "injected fault"}, fault.status)
    if fault.malformed:
        return Response(b'{"keys": [ this is not json', 200, media_type="application/json")
    return None


class _DroppedResponse(Response):
    """Starts a response and never finishes it: the client sees the connection drop."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"trunc', "more_body": True})
        raise ConnectionAbortedError("injected fault: connection dropped")
