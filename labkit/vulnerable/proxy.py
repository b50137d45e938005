"""UNSAFE BY DESIGN: ``PassthroughProxy``, an MCP-style proxy for lesson 17 that forwards its caller's token upstream.

Only ``Lab(proxy=True)`` starts it, on its own loopback port, in front of the lab's downstream agent (the upstream).
As shipped it breaks the MCP authorization spec's rule (2025-11-25, "Access Token Privilege Restriction"): "The MCP
server MUST NOT pass through the token it received from the MCP client" to an upstream API. The token its caller
obtained for the proxy (``aud`` = the proxy's URL, RFC 8707) reaches the upstream unchanged, and an upstream that skips
its audience check (the lab starts it so) serves it: the proxy is a confused deputy, invisible in the upstream's audit.

The fix is a switch, ``configure(passthrough=False, scope=...)``: the proxy then exchanges the caller's token at
the provider as its own client ``lab-proxy`` (RFC 8693) for the upstream's audience, narrowed to ``scope``, and
forwards only that token, whose ``act`` names ``lab-proxy``. Nothing in ``sample_agent``, the guard or the
configuration imports this module, so no ``agentup.yml`` can start it.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from typing import TYPE_CHECKING

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import rpc
from .._json import loads_bounded
from ..config.delegation import DownstreamSpec
from ..delegation import DelegationError, exchange_form, exchanged_token
from ..provider.clients import DOWNSTREAM_AUDIENCE, LAB_SCOPES
from ..provider.models import Client
from ..provider.rfc8693 import TOKEN_EXCHANGE
from ..servers import ServerThread

if TYPE_CHECKING:
    from ..provider import MockProvider

__all__ = ["PROXY_CLIENT", "PassthroughProxy"]

PROXY_CLIENT = ("lab-proxy", "lab-proxy-secret")  # the proxy's own confidential client (PUBLIC, LAB-ONLY secret)
MAX_BODY = 64 * 1024  # a JSON-RPC request the proxy forwards; larger ones are refused (413)
_REMEMBERED = 256  # request ids the proxy remembers, newest kept


class PassthroughProxy:
    """The proxy on its own loopback port, forwarding ``POST /`` to ``upstream_url`` (raises nothing at creation).

    ``passthrough`` (on as shipped): forward the caller's ``Authorization`` header unchanged. Off: exchange it.
    ``forwarded``: the ``X-Request-ID`` of each forwarded request (the upstream's audit names it) and the mode used.
    ``capability``: serve privately (``labkit.capability``).
    """

    def __init__(self, provider: MockProvider, provider_url: str, upstream_url: str, *,
                 capability: str | None = None) -> None:
        self.provider_url = provider_url
        self.upstream_url = upstream_url
        self.passthrough = True
        self.scope: str | None = None
        self._forwarded: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()  # the server's thread writes, the lesson's (a check's) reads
        self._server = ServerThread(Starlette(routes=[Route("/", self._forward, methods=["POST"])]), name="proxy",
                                    capability=capability)
        self.url = self._server.url
        # the proxy IS its URL's audience (RFC 8707 resource); it may exchange tokens issued for it (RFC 8693)
        provider.register_client(Client(*PROXY_CLIENT, grant_types=(TOKEN_EXCHANGE,), scopes=LAB_SCOPES,
                                        audience=DOWNSTREAM_AUDIENCE, serves=(self.url,)))

    def servers(self) -> tuple[ServerThread, ...]:
        """Its one server."""
        return (self._server,)

    def configure(self, *, passthrough: bool, scope: str | None = None) -> PassthroughProxy:
        """Pass tokens through (UNSAFE) or exchange them for the upstream, narrowed to ``scope`` (None: every scope
        the caller's token holds). Raises ``ValueError`` for a scope that is not a space-separated list of words."""
        if scope is not None and (not scope.strip() or any(not s.isprintable() for s in scope.split())):
            raise ValueError(f"scope {scope!r}: a space-separated list of scope names, e.g. 'api:write'")
        self.passthrough, self.scope = passthrough, scope
        return self

    def _spec(self) -> DownstreamSpec:
        return DownstreamSpec(url=self.upstream_url, audience=DOWNSTREAM_AUDIENCE,
                              token_endpoint=f"{self.provider_url}/token", client_id=PROXY_CLIENT[0],
                              client_secret=PROXY_CLIENT[1], scope=self.scope)

    async def _forward(self, request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return JSONResponse(rpc.error(None, -32600, "request too large"), status_code=413)
        authorization = request.headers.get("authorization", "")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return JSONResponse(rpc.error(None, -32001, "the proxy needs a bearer token"), status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="proxy"'})
        request_id = "proxy-" + uuid.uuid4().hex[:16]
        async with httpx.AsyncClient(timeout=10, trust_env=False) as http:
            if self.passthrough:
                mode = "passthrough"  # UNSAFE: MCP Security Best Practices, token passthrough MUST NOT happen
                sent = token.strip()
            else:
                mode = "exchange"  # RFC 8693: a token for the upstream's audience, act = lab-proxy
                spec = self._spec()
                answer = await http.post(spec.token_endpoint, data=exchange_form(spec, token.strip()),
                                         auth=(PROXY_CLIENT[0], PROXY_CLIENT[1]))
                try:
                    sent = exchanged_token(answer.status_code, _json(answer.content))
                except DelegationError as exc:
                    return JSONResponse(rpc.error(None, -32003, f"the proxy could not act for you: {exc}"),
                                        status_code=403)
            self._remember(request_id, mode)
            upstream = await http.post(self.upstream_url + "/", content=body,
                                       headers={"Authorization": f"Bearer {sent}", "X-Request-ID": request_id,
                                                "Content-Type": "application/json"})
        kept = {k: v for k, v in upstream.headers.items() if k.lower() in ("content-type", "www-authenticate")}
        return Response(upstream.content, status_code=upstream.status_code, headers=kept)

    @property
    def forwarded(self) -> dict[str, str]:
        """A copy of what the proxy forwarded lately: request id -> ``passthrough`` or ``exchange``."""
        with self._lock:
            return dict(self._forwarded)

    def _remember(self, request_id: str, mode: str) -> None:
        with self._lock:
            self._forwarded[request_id] = mode
            while len(self._forwarded) > _REMEMBERED:
                self._forwarded.popitem(last=False)

    def start(self) -> PassthroughProxy:
        """Start serving."""
        self._server.start()
        return self

    def close(self) -> None:
        """Stop serving."""
        self._server.stop()


def _json(content: bytes) -> object:
    try:
        return loads_bounded(content, max_depth=32)
    except ValueError:
        return None
