"""The official SDK clients authorizing themselves against the lab, over real HTTP, recorded by ``FlowRecorder``.

    recorder = recorder_for(lab)
    callback = LoopbackCallback().start()
    async with mcp_session(lab, code_flow_auth(lab, recorder, callback), recorder) as mcp:
        await mcp.list_tools()                     # 401 -> RFC 9728 -> RFC 8414 -> DCR -> code + PKCE -> token
    recorder.rows()

With a client ID metadata document instead of DCR (the SDK's ``client_metadata_url``; the provider fetches the
document over loopback TLS from a lab CA it alone trusts):

    host = ClientMetadataHost().start()
    auth = code_flow_auth(lab, recorder, callback, metadata_host=host)   # ... -> CIMD client_id -> code + PKCE

Each ``*_auth`` function returns the SDK's own ``httpx2.Auth`` (``OAuthClientProvider`` and its extensions);
the lab only supplies what a user or a deployment would: the headless login's approval, the loopback callback,
credentials, and the enterprise IdP's ID-JAG.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx2
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.auth.extensions.client_credentials import (
    ClientCredentialsOAuthProvider,
    PrivateKeyJWTOAuthProvider,
    SignedJWTParameters,
)
from mcp.client.auth.extensions.identity_assertion import IdentityAssertionOAuthProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

from ..provider.cimd import CimdPolicy
from ..servers import ServerThread
from ..tls import LabCA
from .recorder import FlowRecorder

if TYPE_CHECKING:
    from ..lab.runner import Lab

__all__ = [
    "ClientMetadataHost",
    "LoopbackCallback",
    "MemoryTokenStorage",
    "client_credentials_auth",
    "code_flow_auth",
    "identity_assertion_auth",
    "mcp_session",
    "private_key_jwt_auth",
    "recorder_for",
]


def recorder_for(lab: Lab, *, callback: LoopbackCallback | None = None) -> FlowRecorder:
    """A recorder naming the lab's servers: ``AS`` (provider), ``IdP``, ``Agent`` and the client's ``Callback``."""
    names = {lab.provider_url: "AS", lab.agent_url: "Agent"}
    if callback is not None:
        names[callback.url] = "Callback"
    return FlowRecorder(names)


class MemoryTokenStorage:
    """The mcp SDK's ``TokenStorage`` in memory: what a client keeps between requests."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class LoopbackCallback:
    """The native client's redirect target (RFC 8252 §7.3): a real HTTP server on 127.0.0.1, any free port.

    It keeps the last authorization response's ``code``, ``state`` and ``iss`` for the SDK's callback handler.
    """

    def __init__(self) -> None:
        self.received: dict[str, str] = {}
        self._server = ServerThread(Starlette(routes=[Route("/callback", self._receive)]), name="callback")
        self.url = self._server.url
        self.redirect_uri = f"{self.url}/callback"

    async def _receive(self, request: Request) -> PlainTextResponse:
        self.received = {k: v for k, v in request.query_params.items() if k in ("code", "state", "iss", "error")}
        return PlainTextResponse("You may close this window.", headers={"Cache-Control": "no-store"})

    def start(self) -> LoopbackCallback:
        """Start listening."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._server.stop()

    async def result(self) -> AuthorizationCodeResult:
        """The last authorization response; raises ``RuntimeError`` when there was none or it was an error."""
        received, self.received = self.received, {}
        if "code" not in received:
            raise RuntimeError(f"no authorization code on the callback (error: {received.get('error', 'none')})")
        return AuthorizationCodeResult(code=received["code"], state=received.get("state"), iss=received.get("iss"))


class ClientMetadataHost:
    """The client's metadata document (MCP 2025-11-25 CIMD) at an https URL on loopback, under a lab CA.

    ``client_id`` is the document's URL; ``publish()`` sets what it says; ``policy()`` is the provider policy that
    allows this host only and trusts this CA only (``LabCA.ssl_context``). The key files live in a temporary
    directory removed by ``stop()``.
    """

    PATH = "/oauth/client-metadata.json"

    def __init__(self, *, ca: LabCA | None = None) -> None:
        self.ca = ca or LabCA()
        self._files = tempfile.TemporaryDirectory(prefix="labkit-tls-")
        app = Starlette(routes=[Route(self.PATH, self._serve)])
        self._server = ServerThread(app, name="client-metadata", ssl_files=self.ca.write_server_files(self._files.name))
        self.url = self._server.url
        self.client_id = self.url + self.PATH
        self.document: dict[str, Any] = {}
        self.served = 0

    async def _serve(self, request: Request) -> JSONResponse:
        self.served += 1
        return JSONResponse(self.document, headers={"Cache-Control": "max-age=300"})

    def publish(self, *, client_name: str, redirect_uris: list[str], scope: str | None = None) -> dict[str, Any]:
        """Serve a public client's document (code + refresh, ``none`` at the token endpoint); returns it."""
        self.document = {"client_id": self.client_id, "client_name": client_name, "redirect_uris": redirect_uris,
                         "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"],
                         "token_endpoint_auth_method": "none"}
        if scope:
            self.document["scope"] = scope
        return self.document

    def policy(self) -> CimdPolicy:
        """The provider policy for this host: allow-listed exactly, loopback allowed, this CA the only trust."""
        return CimdPolicy(allowed_hosts=(f"127.0.0.1:{self._server.port}",), allow_loopback=True,
                          ssl_context=self.ca.ssl_context())

    def trusted_by(self, lab: Lab, recorder: FlowRecorder | None = None) -> ClientMetadataHost:
        """Make the lab's provider fetch documents from this host only (its trust policy, ``policy()``); with
        ``recorder``, its fetches are recorded as sent by the ``AS``."""
        lab.provider.configure_cimd(self.policy())
        if recorder is not None:
            recorder.participants[self.url] = "Client metadata"  # an origin already
            lab.provider.cimd.on_fetch = lambda request, response, body: recorder.record(request, response, body,
                                                                                         source="AS")
        return self

    def start(self) -> ClientMetadataHost:
        """Start serving over https."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving and delete the key files."""
        self._server.stop()
        self._files.cleanup()


def code_flow_auth(lab: Lab, recorder: FlowRecorder, callback: LoopbackCallback, *, login_hint: str = "alice",
                   storage: MemoryTokenStorage | None = None, client_name: str = "labkit MCP client",
                   metadata_host: ClientMetadataHost | None = None) -> OAuthClientProvider:
    """The mcp SDK's ``OAuthClientProvider`` (discovery, DCR, code + PKCE S256, refresh) for the lab's agent.

    The "browser" is an httpx client that opens the authorization URL as ``login_hint`` (the provider's
    headless login approves) and follows the redirect to ``callback``. With ``metadata_host`` the client's
    ``client_id`` is its metadata document URL (CIMD, no DCR): the document is published there, the lab's
    provider is told to allow that host and trust its CA, and its fetch is recorded (sent by the ``AS``).
    """
    client_metadata_url = None
    if metadata_host is not None:
        metadata_host.publish(client_name=client_name, redirect_uris=[callback.redirect_uri])
        metadata_host.trusted_by(lab, recorder)
        client_metadata_url = metadata_host.client_id

    async def open_browser(url: str) -> None:
        async with httpx2.AsyncClient(event_hooks=recorder.async_hooks(), timeout=10,
                                      follow_redirects=True) as browser:
            await browser.get(url + "&" + urlencode({"login_hint": login_hint}))

    metadata = OAuthClientMetadata(redirect_uris=[AnyUrl(callback.redirect_uri)], client_name=client_name,
                                   grant_types=["authorization_code", "refresh_token"],
                                   token_endpoint_auth_method="none")  # noqa: S106 - a method name
    return OAuthClientProvider(f"{lab.agent_url}/mcp", metadata, storage or MemoryTokenStorage(),
                               redirect_handler=open_browser, callback_handler=callback.result,
                               client_metadata_url=client_metadata_url)


def client_credentials_auth(lab: Lab, *, client_id: str = "lab-client", client_secret: str = "lab-client-secret",  # noqa: S107 - public lab secret
                            scope: str = "api:read") -> ClientCredentialsOAuthProvider:
    """The mcp SDK's ``ClientCredentialsOAuthProvider`` for a lab client (machine to machine)."""
    return ClientCredentialsOAuthProvider(f"{lab.agent_url}/mcp", MemoryTokenStorage(), client_id, client_secret,
                                          scope=scope, issuer=lab.provider_url)


def private_key_jwt_auth(lab: Lab, *, client_id: str, private_key_pem: str, algorithm: str = "ES256",
                         scope: str = "api:read") -> PrivateKeyJWTOAuthProvider:
    """The mcp SDK's ``PrivateKeyJWTOAuthProvider``: client credentials, authenticated by a signed assertion."""
    assertion = SignedJWTParameters(issuer=client_id, subject=client_id, signing_key=private_key_pem,
                                    signing_algorithm=algorithm, lifetime_seconds=120)
    return PrivateKeyJWTOAuthProvider(f"{lab.agent_url}/mcp", MemoryTokenStorage(), client_id,
                                      assertion.create_assertion_provider(), scope=scope, issuer=lab.provider_url)


def identity_assertion_auth(lab: Lab, recorder: FlowRecorder, *, user: str = "alice",
                            client_id: str = "lab-enterprise", client_secret: str = "lab-enterprise-secret",  # noqa: S107 - public lab secret
                            scope: str = "api:read") -> IdentityAssertionOAuthProvider:
    """The mcp SDK's ``IdentityAssertionOAuthProvider`` (SEP-990): an ID-JAG from the lab's enterprise IdP
    (leg 1, over HTTP, recorded), redeemed by the SDK with the JWT-bearer grant (leg 2)."""

    async def id_jag(audience: str, resource: str) -> str:
        form = {"requested_token_type": "urn:ietf:params:oauth:token-type:id-jag", "audience": audience,
                "resource": resource, "scope": scope, "client_id": client_id, "login_hint": user}
        async with httpx2.AsyncClient(event_hooks=recorder.async_hooks(), timeout=10) as http:
            response = await http.post(f"{lab.provider_url}/idp/token", data=form)
        if response.status_code != 200:
            raise RuntimeError(f"the IdP refused: {response.json().get('error')}")
        return str(response.json()["access_token"])

    return IdentityAssertionOAuthProvider(f"{lab.agent_url}/mcp", MemoryTokenStorage(), client_id, client_secret,
                                          lab.provider_url, id_jag, scope=scope)


@asynccontextmanager
async def mcp_session(lab: Lab, auth: httpx2.Auth | None, recorder: FlowRecorder,
                      path: str = "/mcp") -> AsyncIterator[Client]:
    """An mcp SDK ``Client`` on the lab's agent whose every HTTP exchange ``recorder`` records."""
    async with httpx2.AsyncClient(auth=auth, event_hooks=recorder.async_hooks(), timeout=30) as http:
        async with Client(streamable_http_client(f"{lab.agent_url}{path}", http_client=http)) as client:
            yield client

