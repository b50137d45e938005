"""UNSAFE BY DESIGN: ``VulnerableClient``, a small confidential web app that logs users in with the code flow.

It knows two authorization servers, ``honest`` (lesson 18's vulnerable AS) and ``other`` (one the attacker runs: the
attacker site's ``/as``), and uses PKCE S256 and ``state`` as a correct client does, unless a mistake is on:
``no_state``, ``iss_unchecked``, ``open_redirect`` (``mistakes.MISTAKES``). Sessions are a cookie (``client_session``).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...hosts import HostCheck
from ...servers import ServerThread
from .as_ import origin_of
from .mistakes import FlowLog, Refusal

__all__ = ["CLIENT_ID", "Server", "VulnerableClient"]

CLIENT_ID = "victim-app"
COOKIE = "client_session"


@dataclass(frozen=True)
class Server:
    """An authorization server as the client knows it: its issuer and endpoints, and the client's secret there."""

    issuer: str
    authorize: str
    token: str
    userinfo: str
    secret: str


@dataclass
class Session:
    """One browser's session at the client: a login under way (as, state, verifier), and who is logged in."""

    pending: dict[str, str] | None = None
    user: str | None = None
    history: list[str] = field(default_factory=list)


# (session id, server name, user, access token, mistakes it went through, their keys) -> None
LoginHook = Callable[[str, str, str, str, set[str], dict[str, str]], None]


class VulnerableClient:
    """The client on its own loopback port (``callback`` is its one registered redirect URI)."""

    def __init__(self, on: set[str], log: FlowLog, role: Callable[[str], str], *,
                 capability: str | None = None) -> None:
        self.on, self.log, self.role = on, log, role
        self.servers: dict[str, Server] = {}
        self.sessions: dict[str, Session] = {}
        self.on_login: LoginHook = lambda *args: None
        self.on_redeem: Callable[[str, str, set[str], dict[str, str]], None] = lambda *args: None
        self.on_go: Callable[[str], None] = lambda url: None
        routes = [Route("/login", self._login), Route("/callback", self._callback), Route("/me", self._me),
                  Route("/go", self._go)]
        self._server = ServerThread(HostCheck(Starlette(routes=routes), name="vulnerable client"), name="flow-client",
                                    capability=capability)
        self.url = self._server.url
        self.origin = origin_of(self.url)  # scheme://host:port (url also carries a private lab's prefix)
        self.callback = f"{self.url}/callback"

    def _session(self, request: Request) -> tuple[str, Session]:
        sid = request.cookies.get(COOKIE, "")
        if sid not in self.sessions:
            sid = secrets.token_urlsafe(16)
            self.sessions[sid] = Session()
        return sid, self.sessions[sid]

    @staticmethod
    def _answer(answer: Response, sid: str) -> Response:
        answer.set_cookie(COOKIE, sid, httponly=True)
        return answer

    async def _login(self, request: Request) -> Response:
        sid, session = self._session(request)
        name = request.query_params.get("as", "honest")
        if name not in self.servers:
            return self._answer(JSONResponse({"error": f"no such server {name!r}"}, 400), sid)
        verifier = generate_token(48)
        state = "" if "no_state" in self.on else secrets.token_urlsafe(16)  # UNSAFE when no_state: no CSRF binding
        session.pending = {"as": name, "state": state, "verifier": verifier}
        params = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": self.callback,
                  "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
                  **({"state": state} if state else {})}
        return self._answer(RedirectResponse(f"{self.servers[name].authorize}?{urlencode(params)}", 302), sid)

    def _refuse(self, sid: str, reason: str, key: str, description: str) -> Response:
        self.log.add(Refusal(reason, frozenset(self.on), key, description))
        return self._answer(JSONResponse({"error": "login_failed", "error_description": description}, 400), sid)

    async def _callback(self, request: Request) -> Response:
        sid, session = self._session(request)
        q, pending = request.query_params, session.pending
        through: set[str] = set()
        keys: dict[str, str] = {}
        # RFC 9700 §4.7.1: the callback belongs to the login this browser started (state), or it is a CSRF
        if pending is None or not pending["state"] or q.get("state") != pending["state"]:
            if "no_state" not in self.on:
                return self._refuse(sid, "state", self.role(sid), "state does not match this browser's login")
            through.add("no_state")  # UNSAFE: any code, in whatever session it arrives
            keys["no_state"] = self.role(sid)
        name = pending["as"] if pending else "honest"
        server = self.servers[name]
        # RFC 9207 §2.4: the response names its issuer; it must be the server this login went to
        if q.get("iss") != server.issuer:
            if "iss_unchecked" not in self.on:
                return self._refuse(sid, "iss", name, "iss does not name the server this login went to")
            through.add("iss_unchecked")
            keys["iss_unchecked"] = name
        code = q.get("code", "")
        self.on_redeem(name, code, through, keys)
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.callback,
                **({"code_verifier": pending["verifier"]} if pending else {})}
        session.pending = None
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            answer = await http.post(server.token, data=form, auth=(CLIENT_ID, server.secret))
            body = _json(answer)
            if answer.status_code != 200 or not isinstance(body.get("access_token"), str):
                return self._answer(JSONResponse({"error": "login_failed", "error_description":
                                                  f"the token endpoint said {body.get('error', answer.status_code)}"},
                                                 400), sid)
            token = body["access_token"]
            who = _json(await http.get(server.userinfo, headers={"Authorization": f"Bearer {token}"}))
        user = who.get("sub")
        if not isinstance(user, str):
            return self._answer(JSONResponse({"error": "login_failed"}, 400), sid)
        session.user = user
        session.history.append(user)
        self.on_login(sid, name, user, token, through, keys)
        return self._answer(JSONResponse({"logged_in_as": user}), sid)

    async def _me(self, request: Request) -> Response:
        sid, session = self._session(request)
        return self._answer(JSONResponse({"user": session.user}), sid)

    async def _go(self, request: Request) -> Response:
        sid, _ = self._session(request)
        target = request.query_params.get("to", "/")
        parts = urlsplit(target)
        # RFC 9700 §4.11.1: redirect only within this app (a path), never to a URL handed in a request
        if parts.scheme or parts.netloc or not target.startswith("/"):
            if "open_redirect" not in self.on:
                return self._refuse(sid, "open_redirect", f"{parts.scheme}://{parts.netloc}",
                                    "the client redirects only to its own pages")
            # UNSAFE: anywhere, and the rest of the query goes along (a "return to" that keeps parameters)
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "to"]
            self.on_go(request.query_params.get("code", ""))
            target = add_params_to_uri(target, rest) if rest else target
        return self._answer(RedirectResponse(target, 302), sid)

    def start(self) -> None:
        """Start serving."""
        self._server.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.stop()


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = answer.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
