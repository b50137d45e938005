"""UNSAFE BY DESIGN: ``ConsentProxy``, an MCP proxy that is an OAuth client of a third-party server (lesson 17).

MCP clients register with the proxy dynamically (``POST /register``) and run the code flow against it; the proxy
itself logs the user in at the third-party authorization server (lesson 18's vulnerable AS) with ONE static client
id, ``mcp-proxy``, which the user approved once (the server keeps that consent in a cookie). With the mistake
``static_client_consent`` on, the proxy forwards any registered client's request without asking the user about that
client: an attacker registers a client whose redirect URI is theirs, sends the user a link, the server sees the
remembered consent and answers at once, and the proxy sends the user's code to the attacker (the MCP spec's
confused deputy). Off: the proxy asks the user about each client first (a consent page; the browser remembers).
"""

from __future__ import annotations

import html
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...hosts import HostCheck
from ...servers import ServerThread
from .as_ import VulnerableAS, digest, origin_of
from .mistakes import FlowLog, Refusal

__all__ = ["PROXY_CLIENT_ID", "ConsentProxy", "ProxyCode"]

PROXY_CLIENT_ID = "mcp-proxy"  # the proxy's one, static client id at the third-party server
_CONSENT = "proxy_consent"
_MAX_CLIENTS = 256


@dataclass(frozen=True)
class ProxyCode:
    """A code the proxy issued to one of its clients: for whom, and through which mistakes."""

    client_id: str
    user: str
    through: frozenset[str]
    keys: tuple[tuple[str, str], ...]


class ConsentProxy:
    """The proxy on its own loopback port, a confidential client ``mcp-proxy`` of ``server``."""

    def __init__(self, on: set[str], log: FlowLog, server: VulnerableAS, *, capability: str | None = None) -> None:
        self.on, self.log, self.as_ = on, log, server
        self.clients: dict[str, tuple[str, ...]] = {}  # client id -> its redirect URIs (registered with the proxy)
        self.codes: dict[str, ProxyCode] = {}
        self._pending: dict[str, tuple[str, str, str, str, frozenset[str]]] = {}
        routes = [Route("/register", self._register, methods=["POST"]), Route("/authorize", self._authorize),
                  Route("/consent", self._consent, methods=["POST"]), Route("/callback", self._callback)]
        self._server = ServerThread(HostCheck(Starlette(routes=routes), name="MCP proxy"), name="flow-mcp-proxy",
                                    capability=capability)
        self.url = self._server.url
        self.origin = origin_of(self.url)  # scheme://host:port (url also carries a private lab's prefix)
        self.callback = f"{self.url}/callback"
        self._secret = secrets.token_urlsafe(24)
        server.register(PROXY_CLIENT_ID, self._secret, (self.callback,))
        server.consent_required.add(PROXY_CLIENT_ID)

    async def _register(self, request: Request) -> Response:
        """RFC 7591 dynamic registration: anyone may register a client with its redirect URIs."""
        try:
            body = await request.json()
            uris = tuple(str(u) for u in body["redirect_uris"] if str(u).startswith(("http://", "https://")))
        except (ValueError, KeyError, TypeError):
            uris = ()
        if not uris or len(self.clients) >= _MAX_CLIENTS:
            return JSONResponse({"error": "invalid_redirect_uri"}, 400)
        client_id = "mcp-client-" + secrets.token_urlsafe(8)
        self.clients[client_id] = uris
        return JSONResponse({"client_id": client_id, "redirect_uris": list(uris)}, 201)

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if redirect_uri not in self.clients.get(client_id, ()):  # exact match, per client
            return JSONResponse({"error": "invalid_request", "error_description": "unknown client or redirect_uri"},
                                400)
        through: frozenset[str] = frozenset()
        # MCP authorization (Confused Deputy Problem): consent for THIS client before forwarding under the static id
        if client_id not in set(request.cookies.get(_CONSENT, "").split(",")):
            if "static_client_consent" not in self.on:
                self.log.add(Refusal("consent", frozenset(self.on), redirect_uri, "the proxy asks the user about "
                                     "this client first"))
                return HTMLResponse(f"<p>Allow {html.escape(client_id)} (redirects to {html.escape(redirect_uri)}) "
                                    "to use this MCP server for you?</p>")
            through = frozenset({"static_client_consent"})  # UNSAFE: the server's remembered consent is reused
        verifier, state = generate_token(48), secrets.token_urlsafe(16)
        self._pending[state] = (client_id, redirect_uri, q.get("state", ""), verifier, through)
        params = {"response_type": "code", "client_id": PROXY_CLIENT_ID, "redirect_uri": self.callback,
                  "state": state, "code_challenge": create_s256_code_challenge(verifier),
                  "code_challenge_method": "S256"}
        return RedirectResponse(f"{self.as_.url}/authorize?{urlencode(params)}", 302)

    async def _consent(self, request: Request) -> Response:
        """The user approves one client; the browser remembers it."""
        client_id = str((await request.form()).get("client_id", ""))
        if client_id not in self.clients:
            return JSONResponse({"error": "invalid_request"}, 400)
        kept = set(filter(None, request.cookies.get(_CONSENT, "").split(","))) | {client_id}
        answer = JSONResponse({"consented": client_id})
        answer.set_cookie(_CONSENT, ",".join(sorted(kept)), httponly=True)
        return answer

    async def _callback(self, request: Request) -> Response:
        pending = self._pending.pop(request.query_params.get("state", ""), None)
        if pending is None or request.query_params.get("iss") != self.as_.issuer:
            return JSONResponse({"error": "login_failed"}, 400)
        client_id, redirect_uri, state, verifier, through = pending
        form = {"grant_type": "authorization_code", "code": request.query_params.get("code", ""),
                "redirect_uri": self.callback, "code_verifier": verifier}
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            answer = await http.post(f"{self.as_.url}/token", data=form, auth=(PROXY_CLIENT_ID, self._secret))
            token = answer.json().get("access_token") if answer.status_code == 200 else None
            who = (await http.get(f"{self.as_.url}/userinfo", headers={"Authorization": f"Bearer {token}"})).json() \
                if token else {}
        user = who.get("sub")
        if not isinstance(user, str):
            return JSONResponse({"error": "login_failed"}, 400)
        code = generate_token(40)
        keys = (("static_client_consent", redirect_uri),) if through else ()
        self.codes[digest(code)] = ProxyCode(client_id, user, through, keys)
        params = [("code", code), *([("state", state)] if state else [])]
        return RedirectResponse(add_params_to_uri(redirect_uri, params), 302)

    def start(self) -> None:
        """Start serving."""
        self._server.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.stop()
