"""``labkit probe`` attacked from outside: URLs a hostile agent writes, and an agent that hides from the probe.

A small hostile agent (``Liar``) serves a card and RFC 9728 metadata the test sets, and answers calls like an agent
that reads token claims WITHOUT checking any signature (401 when expired or garbage, 403 without its scope). A
recording authorization server (``UserAs``, the user's own ``--token-url``) issues unsigned JWT-shaped tokens whose
``aud`` is the requested ``resource`` and refuses one scope. Every run goes through ``labkit.cli.main`` in this
thread: an exception escaping it is a traceback the user would see.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from labkit.cli import main
from labkit.servers import ServerThread

pytestmark = pytest.mark.integration

UNOBTAINABLE = "nope:never"  # the scope the user's authorization server never grants


def _b64(value: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any] | None:
    try:
        segment = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (IndexError, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


@dataclass
class World:
    """The documents the liar serves, and what each server received (resource parameters, paths)."""

    card: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    challenge: str = "Bearer"
    paths: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)
    liar_url: str = ""
    as_url: str = ""


def liar_app(world: World) -> Starlette:
    async def handle(request: Request) -> Response:
        world.paths.append(request.scope["raw_path"].decode("latin-1"))
        path = request.url.path
        if path == "/.well-known/agent-card.json" and world.card is not None:
            return JSONResponse(world.card)
        if path.startswith("/.well-known/oauth-protected-resource") and world.metadata is not None:
            return JSONResponse(world.metadata)
        if path.startswith("/.well-known/"):
            return JSONResponse({}, 404)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        claims = _claims(token) if token else None
        if claims is None:  # no token, or not JWT-shaped
            return JSONResponse({}, 401, headers={"WWW-Authenticate": world.challenge})
        if float(claims.get("exp", time.time() + 60)) < time.time():
            return JSONResponse({}, 401)
        if UNOBTAINABLE not in str(claims.get("scope", "")).split():
            return JSONResponse({}, 403)
        return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {"code": -32001, "message": "no such task"}})

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])


def user_as_app(world: World) -> Starlette:
    async def handle(request: Request) -> Response:
        form = parse_qs((await request.body()).decode())
        resource, scope = form.get("resource", [""])[0], form.get("scope", [""])[0]
        world.resources.append(resource)
        if UNOBTAINABLE in scope.split():
            return JSONResponse({"error": "invalid_scope"}, 400)
        token = f"{_b64({'alg': 'RS256'})}.{_b64({'aud': resource, 'scope': scope})}.c2ln"
        return JSONResponse({"access_token": token, "token_type": "Bearer"})

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "POST"])])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    state = World()
    liar, user_as = ServerThread(liar_app(state), name="liar"), ServerThread(user_as_app(state), name="user-as")
    state.liar_url, state.as_url = liar.url, user_as.url
    with liar, user_as:
        yield state


def reset(world: World, card: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
          challenge: str = "Bearer") -> None:
    world.card, world.metadata, world.challenge = card, metadata, challenge
    world.paths.clear()
    world.resources.clear()


def run(*argv: str) -> tuple[int, dict[str, Any] | None, str]:
    """``labkit probe ARGV --json --timeout 3`` here: (exit code, report, stderr); any exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["probe", *argv, "--json", "--timeout", "3"])
    text = out.getvalue()
    return code, (json.loads(text) if text.strip().startswith("{") else None), err.getvalue()


def why(report: dict[str, Any]) -> str:
    return "\n".join(f"{r['what']}: {r['why']}" for r in report["refused"])


# -- URLs built from what the agent wrote: never a traceback, the raw path kept ------------------------------------

@pytest.mark.parametrize("path", ["/%0a", "/a%20X-Evil:%0d%0a", "/%00", "/a%3Fb"])
def test_a_card_url_with_encoded_controls_is_probed_not_a_traceback(world: World, path: str) -> None:
    reset(world, card={"name": "liar", "url": world.liar_url + path, "protocolVersion": "0.3"})
    code, report, _ = run(world.liar_url)
    assert report is not None and code in (0, 1)
    # the metadata of that endpoint is looked up under the path as written, not a decoded (other) one
    assert f"/.well-known/oauth-protected-resource{path}" in world.paths, world.paths


def test_an_advertised_authorization_server_with_encoded_controls_is_not_a_traceback(world: World,
                                                                                     tmp_path: Any) -> None:
    token = tmp_path / "token"
    token.write_text(f"{_b64({'alg': 'RS256'})}.{_b64({'scope': UNOBTAINABLE})}.c2ln", encoding="utf-8")
    reset(world, metadata={"resource": world.liar_url + "/", "authorization_servers": [world.as_url + "/%0a"]})
    code, report, _ = run(world.liar_url + "/", "--token-file", str(token))
    assert report is not None and code in (0, 1)


def test_an_issuer_with_encoded_controls_is_a_clear_error(world: World) -> None:
    reset(world, metadata={"resource": world.liar_url + "/"})
    code, report, _ = run(world.liar_url + "/", "--client-id", "c", "--client-secret", "s",
                          "--issuer", world.as_url + "/%0a")
    assert code == 1 and report is not None and "credentials not sent" in why(report)


# -- RFC 9728 §3.3: a resource named by a string another parser reads as another origin (or path) gets no token ----

def _variants(world: World) -> dict[str, str]:
    port, other = world.liar_url.rsplit(":", 1)[1], world.as_url.rsplit(":", 1)[1]
    return {
        # RFC 3986 (httpx, urllib): user info "127.0.0.1:OTHER\", host the liar; WHATWG (browsers, Node): host OTHER
        "backslash user info": f"http://127.0.0.1:{other}\\@127.0.0.1:{port}/",
        "user info": f"http://probe@127.0.0.1:{port}/",
        "ideographic dots": f"http://127\u30020\u30020\u30021:{port}/",
        "leading zero port": f"http://127.0.0.1:0{port}/",
        "dot segments": f"{world.liar_url}/x/../",
        "encoded slash": f"{world.liar_url}/%2F",
    }


@pytest.mark.parametrize("variant", ["backslash user info", "user info", "ideographic dots", "leading zero port",
                                     "dot segments", "encoded slash"])
def test_a_resource_written_ambiguously_gets_no_token(world: World, variant: str) -> None:
    resource = _variants(world)[variant]
    reset(world, metadata={"resource": resource, "scopes_supported": ["api:read"]})
    code, report, _ = run(world.liar_url + "/", "--client-id", "c", "--client-secret", "s",
                          "--token-url", world.as_url + "/token")
    assert report is not None
    assert resource not in world.resources  # the user's authorization server was never asked for it
    assert code == 1 and "RFC 9728 §3.3" in why(report)


def test_the_resource_as_the_agent_writes_it_plainly_gets_tokens(world: World) -> None:
    for resource in (world.liar_url + "/", world.liar_url, world.liar_url.upper() + "/"):
        reset(world, metadata={"resource": resource, "scopes_supported": ["api:read"]})
        _code, report, _ = run(world.liar_url + "/", "--client-id", "c", "--client-secret", "s",
                              "--token-url", world.as_url + "/token")
        assert report is not None and not report["refused"], report
        assert resource in world.resources


# -- an agent that hides from the probe: exit 0 must mean the good token was tried ---------------------------------

def test_an_agent_asking_for_an_unobtainable_scope_does_not_pass(world: World) -> None:
    # the liar checks no signature at all; it names a scope the user's client cannot get, so no good token exists
    # to build alg-none and key-confusion tokens from: only none, garbage and missing scope could be tried
    reset(world, metadata={"resource": world.liar_url + "/", "scopes_supported": [UNOBTAINABLE]},
          challenge=f'Bearer scope="{UNOBTAINABLE}"')
    code, report, _ = run(world.liar_url + "/", "--client-id", "c", "--client-secret", "s",
                          "--token-url", world.as_url + "/token")
    assert report is not None
    valid = [r for r in report["results"] if r["kind"] == "valid"]
    assert valid and all(r["ok"] is None for r in valid)  # skipped: the authorization server refused the scope
    assert code == 1 and "no valid token" in why(report), report


class Hangup:
    """A raw agent that answers an anonymous call with a 401 and hangs up on any call that carries a token."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.stop = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                with conn:
                    conn.settimeout(2)
                    head = conn.recv(65536).lower()
                    if b"authorization:" not in head:
                        conn.sendall(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer\r\nContent-Length: 0\r\n"
                                     b"Connection: close\r\n\r\n")

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def test_an_agent_hanging_up_on_tokens_still_gets_a_report(tmp_path: Any) -> None:
    token = tmp_path / "token"
    token.write_text(f"{_b64({'alg': 'RS256'})}.{_b64({'scope': 'x'})}.c2ln", encoding="utf-8")
    agent = Hangup()
    try:
        code, report, _ = run(agent.url + "/mcp", "--token-file", str(token))
    finally:
        agent.close()
    assert code == 1 and report is not None  # the answers so far, and each hang-up as a wrong answer
    hung = [r for r in report["results"] if r["kind"] == "garbage"]
    assert hung and hung[0]["ok"] is False and hung[0]["note"], report
