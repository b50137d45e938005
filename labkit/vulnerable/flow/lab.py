"""UNSAFE: ``FlowLab``, lesson 18's attack ground: the vulnerable AS and client, the victim's browser, the attacker.

Only ``Lab(vulnerable_as=...)`` builds it; ``proxy`` is lesson 17's MCP proxy, an OAuth client of the same server.
The victim (alice) has a session at the AS and at the client and follows
whatever link she is sent (``victim.visit``). The attacker site records every request it gets (a redirect receiver)
and plays the ``other`` authorization server for the mix-up. The lab, not the learner, judges what counts: a session
at the client bound to the wrong user, a code that reached the attacker (``mistakes.Breach``, in ``log``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...hosts import HostCheck
from ...servers import ServerThread
from .as_ import VulnerableAS, digest, origin_of
from .client import CLIENT_ID, COOKIE, Server, VulnerableClient
from .mcp_proxy import PROXY_CLIENT_ID, ConsentProxy
from .mistakes import MISTAKES, Breach, FlowLog, mistake_names

__all__ = ["Attacker", "FlowLab", "Victim"]

_HOPS = 10


@dataclass(frozen=True)
class Received:
    """One request the attacker site got: its path and query (or form, for ``/as/token``)."""

    path: str
    params: dict[str, str]


class Attacker:
    """The attacker's site: ``/anything`` records its query; ``/as/authorize`` redirects where ``authorize_to`` says
    (a function of the request's parameters, the learner's); ``/as/token`` records the form it is sent."""

    def __init__(self, *, capability: str | None = None) -> None:
        self.received: list[Received] = []
        self.authorize_to: Callable[[dict[str, str]], str] | None = None
        self.on_request: Callable[[dict[str, str]], None] = lambda params: None
        self._lock = threading.Lock()
        routes = [Route("/as/authorize", self._authorize), Route("/as/token", self._token, methods=["POST"]),
                  Route("/{path:path}", self._any)]
        self._server = ServerThread(HostCheck(Starlette(routes=routes), name="attacker site"), name="flow-attacker",
                                    capability=capability)
        self.url = self._server.url
        self.origin = origin_of(self.url)  # scheme://host:port (url also carries a private lab's prefix)
        self.issuer = f"{self.url}/as"

    def _keep(self, path: str, params: dict[str, str]) -> None:
        with self._lock:
            self.received.append(Received(path, params))
        self.on_request(params)

    async def _any(self, request: Request) -> Response:
        self._keep(request.url.path, dict(request.query_params))
        return JSONResponse({"thanks": "received"})

    async def _authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        self._keep("/as/authorize", params)
        if self.authorize_to is None:
            return JSONResponse({"error": "the attacker has not set authorize_to"}, 400)
        return RedirectResponse(self.authorize_to(params), 302)

    async def _token(self, request: Request) -> Response:
        self._keep("/as/token", {k: str(v) for k, v in (await request.form()).items()})
        return JSONResponse({"error": "invalid_grant"}, 400)

    def start(self) -> None:
        """Start serving."""
        self._server.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.stop()


class Victim:
    """alice's browser: logged in at the AS, with a session at the client; follows redirects (at most 10)."""

    def __init__(self, flow: FlowLab) -> None:
        self._flow = flow
        self.http = httpx.Client(timeout=10, trust_env=False, follow_redirects=False)

    def visit(self, url: str) -> list[tuple[int, str]]:
        """Open ``url`` as alice and follow its redirects: the (status, URL) of each hop."""
        hops: list[tuple[int, str]] = []
        for _ in range(_HOPS):
            answer = self.http.get(httpx.URL(url))
            hops.append((answer.status_code, url))
            location = answer.headers.get("location")
            if answer.status_code not in (301, 302, 303, 307, 308) or not location:
                break
            url = str(answer.url.join(location))
        return hops

    @property
    def session(self) -> str:
        """alice's session id at the client."""
        return str(self.http.cookies.get(COOKIE) or "")

    def me(self) -> Any:
        """Who the client says alice's browser is logged in as."""
        return self.http.get(f"{self._flow.client.url}/me").json().get("user")


class FlowLab:
    """The vulnerable AS, the client, the attacker and the victim. ``capability``: serve privately (every server
    under the lab's secret path prefix, ``labkit.capability``). Raises ``ValueError`` for an unknown mistake."""

    def __init__(self, mistakes: Iterable[str] | bool, *, capability: str | None = None) -> None:
        self.on: set[str] = set(mistake_names(mistakes))
        self.log = FlowLog()
        self.as_ = VulnerableAS(self.on, self.log, capability=capability)
        self.attacker = Attacker(capability=capability)
        self.client = VulnerableClient(self.on, self.log, self._role, capability=capability)
        self.victim = Victim(self)
        # lesson 17's MCP proxy, a client of this AS
        self.proxy = ConsentProxy(self.on, self.log, self.as_, capability=capability)
        secret = secrets.token_urlsafe(24)  # the client's secret at the AS: the client's alone
        self.as_.register(CLIENT_ID, secret, (self.client.callback,))
        self.client.servers["honest"] = Server(self.as_.issuer, f"{self.as_.url}/authorize", f"{self.as_.url}/token",
                                               f"{self.as_.url}/userinfo", secret)
        self.client.servers["other"] = Server(self.attacker.issuer, f"{self.attacker.issuer}/authorize",
                                              f"{self.attacker.issuer}/token", f"{self.attacker.issuer}/userinfo",
                                              "victim-app-secret-at-other")
        self.client.on_login, self.client.on_redeem = self._login, self._redeem
        self.client.on_go, self.attacker.on_request = self._go, self._received
        self._went_through_go: set[str] = set()

    # -- switches --------------------------------------------------------------------------------------------
    @property
    def mistakes(self) -> frozenset[str]:
        """The mistakes switched on now."""
        return frozenset(self.on)

    def disable(self, *names: str) -> FlowLab:
        """Switch mistakes off. Raises ``ValueError`` for an unknown name."""
        self.on.difference_update(mistake_names(names))
        return self

    def enable(self, *names: str) -> FlowLab:
        """Switch mistakes on. Raises ``ValueError`` for an unknown name."""
        self.on.update(mistake_names(names))
        return self

    @staticmethod
    def documented() -> dict[str, str]:
        """Every mistake and what it is."""
        return dict(MISTAKES)

    def where(self, url: str) -> tuple[str | None, str]:
        """Which part serves ``url`` (``client``, ``server``, ``proxy``, ``attacker``; None: none of them) and the
        path as that part serves it: without a private lab's prefix, so an open and a private lab show the same."""
        parts = {"client": self.client.url, "server": self.as_.url, "proxy": self.proxy.url,
                 "attacker": self.attacker.url}
        target = urlsplit(url)
        for name, base in parts.items():
            prefix = urlsplit(base).path.rstrip("/")
            if origin_of(url) == origin_of(base) and (target.path == prefix or target.path.startswith(prefix + "/")):
                return name, target.path[len(prefix):] or "/"
        return None, target.path or "/"

    # -- the lab's judgement ---------------------------------------------------------------------------------
    def _role(self, session: str) -> str:
        return "victim" if session and session == self.victim.session else "attacker"

    def _login(self, session: str, server: str, user: str, token: str, through: set[str],
               keys: dict[str, str]) -> None:
        record = self.as_.record_of(token) if server == "honest" else None
        if record is None:
            return
        chain, named = frozenset(through | record.through), {**record.keys, **keys}
        role = self._role(session)
        if role == "attacker" and user == "alice":
            self.log.add(Breach("takeover", user, chain, _keys(named)))
        elif role == "victim" and user != "alice":
            self.log.add(Breach("login_csrf", user, chain, _keys(named)))

    def _redeem(self, server: str, code: str, through: set[str], keys: dict[str, str]) -> None:
        record = self.as_.codes.get(digest(code))
        if server != "honest" and record is not None:  # a code of the honest AS, sent to the attacker's
            self.log.add(Breach("mixup", record.user, frozenset(through), _keys(keys)))

    def _go(self, code: str) -> None:
        if code:
            self._went_through_go.add(digest(code))

    def _received(self, params: dict[str, str]) -> None:
        code = params.get("code", "")
        issued = self.proxy.codes.get(digest(code)) if code else None
        if issued is not None:  # a code the MCP proxy issued, at the attacker's site
            self.log.add(Breach("proxy_code", issued.user, issued.through, issued.keys))
            return
        record = self.as_.codes.get(digest(code)) if code else None
        if record is None or "code_verifier" in params:
            return
        through, named = set(record.through), dict(record.keys)
        if digest(code) in self._went_through_go:
            through.add("open_redirect")
            named["open_redirect"] = self.attacker.origin
        self.log.add(Breach("leak", record.user, frozenset(through), _keys(named)))

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> FlowLab:
        """Start the servers and log alice in (her AS session, her client session)."""
        for part in (self.as_, self.client, self.attacker, self.proxy):
            part.start()
        answer = self.victim.http.post(f"{self.as_.url}/login",
                                       data={"username": "alice", "password": self.as_.users["alice"]})
        answer.raise_for_status()
        # long ago, alice approved the MCP proxy (its one static client id) at the server, which remembers it
        self.victim.http.post(f"{self.as_.url}/consent", data={"client_id": PROXY_CLIENT_ID}).raise_for_status()
        self.victim.http.get(f"{self.client.url}/me")
        return self

    def servers(self) -> tuple[ServerThread, ...]:
        """Every server of the flow: the AS, the client, the attacker's site and the MCP proxy."""
        return tuple(part._server for part in (self.as_, self.client, self.attacker, self.proxy))

    def close(self) -> None:
        """Stop every server and the victim's browser."""
        self.victim.http.close()
        for part in (self.proxy, self.attacker, self.client, self.as_):
            part.close()


def _keys(named: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(named.items()))
