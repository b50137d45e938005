"""The official SDK clients authorizing themselves against the lab, over real HTTP, recorded by ``FlowRecorder``.

    recorder = recorder_for(lab)
    callback = LoopbackCallback().start()
    async with mcp_session(lab, code_flow_auth(lab, recorder, callback), recorder) as mcp:
        await mcp.list_tools()                     # 401 -> RFC 9728 -> RFC 8414 -> DCR -> code + PKCE -> token
    recorder.rows()

Each ``*_auth`` function returns the SDK's own ``httpx2.Auth`` (``OAuthClientProvider`` and its extensions);
the lab only supplies what a user or a deployment would: the headless login's approval, the loopback callback,
credentials, and the enterprise IdP's ID-JAG.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
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
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from .flows import FlowRecorder
from .servers import ServerThread

if TYPE_CHECKING:
    from .lab import Lab

__all__ = [
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


def code_flow_auth(lab: Lab, recorder: FlowRecorder, callback: LoopbackCallback, *, login_hint: str = "alice",
                   storage: MemoryTokenStorage | None = None, client_name: str = "labkit MCP client"
                   ) -> OAuthClientProvider:
    """The mcp SDK's ``OAuthClientProvider`` (discovery, DCR, code + PKCE S256, refresh) for the lab's agent.

    The "browser" is an httpx client that opens the authorization URL as ``login_hint`` (the provider's
    headless login approves) and follows the redirect to ``callback``.
    """

    async def open_browser(url: str) -> None:
        async with httpx2.AsyncClient(event_hooks=recorder.async_hooks(), timeout=10,
                                      follow_redirects=True) as browser:
            await browser.get(url + "&" + urlencode({"login_hint": login_hint}))

    metadata = OAuthClientMetadata(redirect_uris=[AnyUrl(callback.redirect_uri)], client_name=client_name,
                                   grant_types=["authorization_code", "refresh_token"],
                                   token_endpoint_auth_method="none")  # noqa: S106 - a method name
    return OAuthClientProvider(f"{lab.agent_url}/mcp", metadata, storage or MemoryTokenStorage(),
                               redirect_handler=open_browser, callback_handler=callback.result)


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

