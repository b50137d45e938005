"""A hostile agent for ``labkit probe``: a Starlette app on loopback that lies in every way the probe must survive,
and an attacker's server on another origin that records everything it receives.

``Lies`` says how the agent lies; ``Hostile`` holds the current lies and both servers' records (a test swaps the
lies between examples instead of restarting servers). The agent answers:

- its card (``/.well-known/agent-card.json``): ``Lies.card`` is a JSON object (served as is) or one of the
  behaviours in ``BEHAVIOURS`` (drip, huge, redirects);
- its RFC 9728 metadata (``/.well-known/oauth-protected-resource...``): ``Lies.metadata`` likewise;
- every other path: the endpoint. An anonymous call gets a 401 whose challenge carries ``Lies.challenge``; a call
  with a token gets ``Lies.answer`` (a JSON-RPC answer, a drip, a redirect to the attacker).

Bytes the huge and dripping bodies hand to the server while the client is connected are counted in
``Hostile.sent``.
"""

from __future__ import annotations

import asyncio
import functools
import threading
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

HUGE = 200 << 20  # a 200 MiB document
CHUNK = 64 << 10
DRIP_SECONDS = 60.0  # a drip lasts at most this long (the probe must stop long before)
BEHAVIOURS = ("drip", "huge", "huge declared", "redirect same", "redirect cross", "gzip", "missing")


@dataclass
class Lies:
    """How the hostile agent lies: documents (a dict) or behaviours (a name in ``BEHAVIOURS``)."""

    card: dict[str, Any] | str = "missing"
    metadata: dict[str, Any] | str = "missing"
    challenge: dict[str, str] = field(default_factory=dict)  # auth-params of the 401 challenge
    answer: str = "json"  # "json", "drip", "redirect cross"
    moved: dict[str, dict[str, Any]] = field(default_factory=dict)  # path -> what "redirect same" leads to


@dataclass(frozen=True)
class Record:
    """One request a server received: which server, method, path and query, headers and body."""

    server: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def text(self) -> str:
        """Everything received, as one string to search."""
        lines = [self.method, self.url, *(f"{k}: {v}" for k, v in self.headers)]
        return "\n".join(lines) + "\n" + self.body.decode("utf-8", "replace")


class Hostile:
    """The lies in force, the URLs of both servers, and what each received."""

    def __init__(self) -> None:
        self.lies = Lies()
        self.agent_url = ""
        self.attacker_url = ""
        self.records: list[Record] = []
        self.sent = 0  # body bytes the huge and dripping answers handed to the server
        self.lock = threading.Lock()

    def reset(self, lies: Lies) -> None:
        """New lies, empty records."""
        with self.lock:
            self.lies, self.records, self.sent = lies, [], 0

    def received(self, server: str) -> list[Record]:
        """What ``server`` ("agent" or "attacker") received."""
        with self.lock:
            return [r for r in self.records if r.server == server]

    async def record(self, server: str, request: Request) -> None:
        body = await request.body()
        with self.lock:
            self.records.append(Record(server, request.method, str(request.url), tuple(request.headers.items()),
                                       body))

    def count(self, size: int) -> None:
        with self.lock:
            self.sent += size


async def _drip(hostile: Hostile, request: Request) -> AsyncIterator[bytes]:
    yield b'{"name": "'
    loop = asyncio.get_running_loop()
    ends = loop.time() + DRIP_SECONDS
    while loop.time() < ends and not await request.is_disconnected():
        hostile.count(1)
        yield b"x"
        await asyncio.sleep(0.05)


async def _huge(hostile: Hostile, request: Request) -> AsyncIterator[bytes]:
    yield b'{"name": "'
    chunk = b"x" * CHUNK
    for _ in range(HUGE // CHUNK):
        if await request.is_disconnected():  # uvicorn drops what is sent after a disconnect: count only real sends
            return
        hostile.count(CHUNK)
        yield chunk
    yield b'"}'


@functools.cache
def gzip_bomb() -> bytes:
    """100 MiB of JSON as about 100 KiB of gzip, compressed in pieces (the server's own memory stays small)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"x" * (1 << 20)
    parts = [packer.compress(b'{"name": "'), *(packer.compress(block) for _ in range(100)), packer.compress(b'"}')]
    return b"".join([*parts, packer.flush()])


def _serve(hostile: Hostile, what: dict[str, Any] | str, request: Request) -> Response:
    """A document, or the behaviour named."""
    if isinstance(what, dict):
        return JSONResponse(what)
    if what == "drip":
        return StreamingResponse(_drip(hostile, request), media_type="application/json")
    if what == "huge":
        return StreamingResponse(_huge(hostile, request), media_type="application/json")
    if what == "huge declared":
        return StreamingResponse(_huge(hostile, request), media_type="application/json",
                                 headers={"Content-Length": str(HUGE + 12)})
    if what == "redirect same":
        return RedirectResponse(f"{hostile.agent_url}/moved{request.url.path}", 307)
    if what == "redirect cross":
        return RedirectResponse(f"{hostile.attacker_url}{request.url.path}", 307)
    if what == "gzip":
        return Response(gzip_bomb(), media_type="application/json", headers={"Content-Encoding": "gzip"})
    return JSONResponse({"error": "not found"}, 404)


def agent_app(hostile: Hostile) -> Starlette:
    """The hostile agent (on the origin the user names)."""

    async def handle(request: Request) -> Response:
        await hostile.record("agent", request)
        lies, path = hostile.lies, request.url.path
        if path.startswith("/moved/"):  # where "redirect same" leads: the document in lies.moved
            document = lies.moved.get(path.removeprefix("/moved"))
            return JSONResponse(document) if document is not None else JSONResponse({}, 404)
        if path == "/.well-known/agent-card.json":
            return _serve(hostile, lies.card, request)
        if path.startswith("/.well-known/oauth-protected-resource"):
            return _serve(hostile, lies.metadata, request)
        if path.startswith("/.well-known/"):
            return JSONResponse({"error": "not found"}, 404)
        if "authorization" not in request.headers:
            params = ", ".join(f'{k}="{v}"' for k, v in lies.challenge.items())
            return JSONResponse({"error": "unauthorized"}, 401,
                                headers={"WWW-Authenticate": f"Bearer {params}".strip()})
        if lies.answer == "drip":
            return StreamingResponse(_drip(hostile, request), media_type="application/json")
        if lies.answer == "redirect cross":
            return RedirectResponse(f"{hostile.attacker_url}{request.url.path}", 307)
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": "no such task"}})

    return Starlette(routes=[Route("/{path:path}", _with_cookie(handle, "agent"), methods=["GET", "POST"])])


def _with_cookie(handle: Any, server: str) -> Any:
    """Every answer sets a cookie: a client that keeps cookies sends it to every port of the host (RFC 6265 §8.5)."""

    async def wrapped(request: Request) -> Response:
        response: Response = await handle(request)
        response.set_cookie(f"labkit-{server}", "set-by-" + server)
        return response

    return wrapped


def attacker_app(hostile: Hostile) -> Starlette:
    """The attacker's server on another origin: records everything, plays an authorization server and an agent."""

    async def handle(request: Request) -> Response:
        await hostile.record("attacker", request)
        me, path = hostile.attacker_url, request.url.path
        if "oauth-authorization-server" in path or "openid-configuration" in path:
            return JSONResponse({"issuer": me, "token_endpoint": f"{me}/token", "jwks_uri": f"{me}/jwks"})
        if path == "/jwks":
            return JSONResponse({"keys": []})
        if path == "/token":
            return JSONResponse({"access_token": "attacker-issued", "token_type": "Bearer"})
        if path.startswith("/.well-known/oauth-protected-resource"):  # claims to describe the hostile agent
            return JSONResponse({"resource": hostile.agent_url, "authorization_servers": [me]})
        if path == "/.well-known/agent-card.json":
            return JSONResponse({"name": "attacker", "url": f"{me}/a2a", "protocolVersion": "0.3"})
        if "authorization" not in request.headers and request.method == "POST":
            return JSONResponse({"error": "unauthorized"}, 401, headers={"WWW-Authenticate": "Bearer"})
        return JSONResponse({"jsonrpc": "2.0", "id": None, "result": {}})

    return Starlette(routes=[Route("/{path:path}", _with_cookie(handle, "attacker"), methods=["GET", "POST"])])
