"""``MockProvider``: the lab's strict OAuth 2.0 authorization server as a Starlette app and a Python API.

Endpoints (each also under ``/{tenant}/`` for path tenants, with its own issuer, keys and clients):
``/.well-known/oauth-authorization-server`` (RFC 8414; a tenant's also at ``.../oauth-authorization-server/{tenant}``,
§3.1), ``/.well-known/openid-configuration`` (likewise),
``/jwks``, ``/authorize`` (headless auto-approve, or a consent page for ``prompt=consent``; PKCE S256),
``/token``, ``/introspect`` (RFC 7662),
``/revoke`` (RFC 7009), ``/register`` (RFC 7591), ``/applications/{client_id}/token`` (GitHub-style check),
``/admin/rotate``, ``/admin/mint``, ``/admin/clients`` and ``/admin/faults`` (need the ``X-Lab-Admin`` header).
The token endpoint also takes ``private_key_jwt`` client assertions (RFC 7523 §2.2), the JWT-bearer grant for
ID-JAGs (RFC 7523 §2.1, SEP-990) and token exchange (RFC 8693). A ``client_id`` that is an https URL is a client
ID metadata document (``cimd``), fetched under ``CimdPolicy``. The simulated enterprise IdP lives at ``/idp``
(``/idp/.well-known/openid-configuration``, ``/idp/jwks``, ``/idp/token``). Handlers: ``endpoints``, ``admin``.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..hosts import HostCheck
from . import admin, endpoints, logs
from .cimd import CimdPolicy, CimdResolver
from .client_endpoints import idp_metadata, issue_id_jag
from .clients import DOWNSTREAM_AUDIENCE, LAB_REDIRECTS, LAB_SCOPES, USERS, default_clients
from .consent import check_origin
from .faults import Faults, apply_fault
from .idp import EnterpriseIdP
from .keys import SIGNING_ALGORITHMS
from .models import Client, User
from .responses import error_response
from .server import LabAuthorizationServer
from .trust import TrustPolicy

__all__ = ["DOWNSTREAM_AUDIENCE", "LAB_REDIRECTS", "LAB_SCOPES", "USERS", "MockProvider"]

_RESERVED = {".well-known", "jwks", "authorize", "token", "introspect", "revoke", "applications", "admin", "t",
             "register", "idp"}


class MockProvider:
    """A strict OAuth 2.0 provider for the lab: serve ``provider.app``; mint directly with ``mint()``.

    ``base_url`` is the public root URL (the default issuer); when unset it is taken from each request.
    ``clock`` (seconds since the epoch) dates every token, code and key retirement. ``cimd`` says which hosts
    may serve client ID metadata documents (none by default); ``configure_cimd`` changes it later.
    ``admin_token``: the ``X-Lab-Admin`` secret of the admin API (default: a random one, per provider).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        clock: Callable[[], float] | None = None,
        tenants: tuple[str, ...] = ("acme", "globex"),
        admin_token: str | None = None,
        cimd: CimdPolicy | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/") if base_url else None
        self.clock = clock or time.time
        # the admin API's secret: random per provider unless given, so a page that reaches loopback (DNS rebinding)
        # cannot mint; Lab holds it, ``labkit serve`` writes it to a 0600 file (``admin.write_admin_secret``)
        self.admin_token = admin_token or secrets.token_urlsafe(32)
        self.faults = Faults()
        self.calls: Counter[str] = Counter()  # requests per endpoint ("introspect", "acme/token"): what caches save
        self._seen_base: str | None = None  # the root URL requests arrive at, when base_url is unset
        self._servers: dict[str | None, LabAuthorizationServer] = {}
        self.idp = EnterpriseIdP(issuer=lambda: self._issuer_fn(None)() + "/idp", clock=self.clock)
        self.cimd = CimdResolver(cimd, clock=self.clock)  # one cache for every tenant: a document is not per tenant
        for tenant in (None, *tenants):
            if tenant is not None and (tenant in _RESERVED or not tenant.replace("-", "").isalnum()):
                raise ValueError(f"invalid tenant name {tenant!r}")
            server = LabAuthorizationServer(tenant=tenant, clock=self.clock, issuer=self._issuer_fn(tenant))
            for client in default_clients():
                server.store.clients[client.client_id] = client
            for user in USERS:
                server.store.users[user.subject] = user
            server.idp = self.idp
            server.cimd = self.cimd
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
        self, tenant: str | None = None, algorithms: tuple[str, ...] = SIGNING_ALGORITHMS
    ) -> list[str]:
        """Rotate signing keys (retired keys stay published for the grace period); returns the new kids."""
        return self.server(tenant).keys.rotate(algorithms)

    def configure_cimd(self, policy: CimdPolicy) -> None:
        """Replace the client ID metadata document policy (allow-list, caps, trusted CAs) and empty its cache."""
        self.cimd.configure(policy)

    @property
    def trust(self) -> TrustPolicy:
        """The names and redirect hosts self-described clients may claim (``configure_trust`` sets it)."""
        return self._servers[None].registration.policy.trust

    def configure_trust(self, policy: TrustPolicy) -> None:
        """Apply ``policy`` to every tenant's registration (RFC 7591) and to metadata documents (cached ones are
        forgotten, so each is judged again). Raises ``TypeError`` for anything but a ``TrustPolicy``."""
        if not isinstance(policy, TrustPolicy):
            raise TypeError("configure_trust takes a labkit.provider.TrustPolicy")
        policy = policy.copy()
        for server in self._servers.values():
            server.registration.policy = replace(server.registration.policy, trust=policy)
        self.cimd.registration = replace(self.cimd.registration, trust=policy)
        self.cimd.clear()

    def allow_framing(self, origins: tuple[str, ...]) -> None:
        """Let exactly ``origins`` (``http://127.0.0.1:8888``) frame the consent page; ``()``: nobody (the default).

        Raises ``ValueError`` for anything but exact origins (no wildcard, path or keyword).
        """
        checked = tuple(check_origin(origin) for origin in origins)
        for server in self._servers.values():
            server.frame_ancestors = checked

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
        logs.install()  # no token or secret in any log: authlib's records name tokens and clients by value
        handlers: list[tuple[str, str, Callable[[Request, LabAuthorizationServer], Awaitable[Response]], list[str]]] = [
            ("/.well-known/oauth-authorization-server", "metadata", endpoints.metadata, ["GET"]),
            ("/.well-known/openid-configuration", "metadata", endpoints.metadata, ["GET"]),
            ("/jwks", "jwks", self._jwks, ["GET"]),
            # Keycloak's spelling of the same keys (AgentUp's keycloak template names this path)
            ("/realms/lab/protocol/openid-connect/certs", "jwks", self._jwks, ["GET"]),
            ("/authorize", "authorize", endpoints.authorize, ["GET"]),
            ("/authorize", "authorize", endpoints.decide, ["POST"]),  # the consent page's form
            ("/token", "token", endpoints.token, ["POST"]),
            ("/introspect", "introspect", endpoints.introspect, ["POST"]),
            ("/revoke", "revoke", endpoints.revoke, ["POST"]),
            ("/applications/{client_id}/token", "github", endpoints.github, ["POST"]),
            ("/admin/rotate", "admin", self._admin(admin.admin_rotate), ["POST"]),
            ("/admin/mint", "admin", self._admin(admin.admin_mint), ["POST"]),
            ("/admin/faults", "admin", self._admin(admin.admin_faults), ["GET", "POST", "DELETE"]),
            ("/admin/clients", "admin", self._admin(admin.admin_clients), ["GET"]),
            ("/register", "register", endpoints.register, ["POST"]),
        ]
        # the IdP's routes first: "/{tenant}/token" would match "/idp/token" (and answer 404)
        routes = [Route("/idp/.well-known/openid-configuration", self._idp("metadata"), methods=["GET"]),
                  Route("/idp/jwks", self._idp("jwks"), methods=["GET"]),
                  Route("/idp/token", self._idp("token"), methods=["POST"])]
        for path, name, handler, methods in handlers:
            endpoint = self._endpoint(name, handler)
            routes.append(Route(path, endpoint, methods=methods))
            routes.append(Route("/{tenant}" + path, endpoint, methods=methods))
            if path.startswith("/.well-known/"):
                # RFC 8414 §3.1: the suffix goes between the host and the issuer's path (OIDC Discovery §4 appends
                # it, the route above): both forms are served
                routes.append(Route(path + "/{tenant}", endpoint, methods=methods))
        # DNS rebinding: Host and Origin must name this provider (labkit.hosts) before any route runs
        return Starlette(routes=routes,
                         middleware=[Middleware(HostCheck, urls=lambda: (self.base_url,), name="provider")])

    def _admin(self, handler: Callable[[MockProvider, Request, LabAuthorizationServer], Awaitable[Response]]
               ) -> Callable[[Request, LabAuthorizationServer], Awaitable[Response]]:
        async def endpoint(request: Request, server: LabAuthorizationServer) -> Response:
            return await handler(self, request, server)

        return endpoint

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
                return error_response(error)

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
                early = await apply_fault(fault)
                if early is not None:
                    return early
            try:
                return await handler(request, self._servers[tenant])
            except OAuth2Error as error:
                return error_response(error)
            except ClientDisconnect:  # the client left while its body was read (a slow-provider fault)
                return Response(status_code=400)

        return endpoint

    async def _jwks(self, request: Request, server: LabAuthorizationServer) -> Response:
        fault = self.faults.get("jwks", server.tenant)
        keys = server.keys.jwks(omit_active=bool(fault and fault.missing_key))
        return JSONResponse(keys, headers={"Cache-Control": "public, max-age=300"})
