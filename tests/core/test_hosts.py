"""``labkit.hosts``: a request reaches the app only when its Host (and Origin, when present) names this server.

The property drives ``HostCheck`` with ASGI scopes built by hand (duplicates, empty values, raw bytes: what an
HTTP client library would refuse to send) and an oracle written apart from the rule: the value is assembled from
parts, and it names the server only when every part is the plain one (a loopback name in any case, the real port,
nothing else). The lab's real servers are driven over sockets in ``tests/agent/test_rebinding.py``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from labkit.hosts import HostCheck, refusal, served_authorities

from ..helpers import examples

PORT = 43_117
LOOPBACK = ["127.0.0.1", "localhost", "[::1]"]
OTHERS = ["attacker.example", "127.0.0.1.nip.io", "localhost.attacker.example", "0.0.0.0",  # noqa: S104
          "127.1", "2130706433", "[::ffff:127.0.0.1]", "[0:0:0:0:0:0:0:1]", "localtest.me", "evil.localhost", "[::]", "127.0.0.2", ""]


def _case(text: str, flips: list[bool]) -> str:
    return "".join(c.upper() if flip else c for c, flip in zip(text, flips + [False] * len(text), strict=False))


@st.composite
def hosts(draw: st.DrawFn) -> tuple[bytes, bool]:
    """A Host value and whether it names the server (the oracle)."""
    if draw(st.integers(0, 9)) == 0:  # raw bytes now and then: anything at all
        raw = draw(st.binary(max_size=40))
        text = raw.decode("latin-1").lower()
        return raw, any(text == f"{name}:{PORT}" for name in LOOPBACK)
    loopback = draw(st.booleans())
    name = draw(st.sampled_from(LOOPBACK if loopback else OTHERS))
    name = _case(name, draw(st.lists(st.booleans(), max_size=len(name))))
    port = draw(st.sampled_from([str(PORT), "", str(PORT + 1), f"0{PORT}", str(PORT + 65536), "80", "+1", " 1"]))
    dot = draw(st.sampled_from(["", ".", ".."]))
    userinfo = draw(st.sampled_from(["", "user@", f"{LOOPBACK[0]}:{PORT}@", "a:b@"]))
    pad = draw(st.sampled_from(["", " ", "\t", "\r"]))
    value = f"{userinfo}{name}{dot}" + (f":{port}" if port else "") + pad
    plain = loopback and port == str(PORT) and not dot and not userinfo and not pad
    return value.encode("latin-1"), plain


@st.composite
def origins(draw: st.DrawFn) -> tuple[bytes, bool]:
    """An Origin value and whether it is this server's origin."""
    scheme = draw(st.sampled_from(["http", "HTTP", "https", "ws", "null", "file", ""]))
    if scheme in ("null", ""):
        return scheme.encode(), False
    host, plain = draw(hosts())
    slash = draw(st.sampled_from(["", "/", "/path"]))
    return f"{scheme}://".encode() + host + slash.encode(), plain and scheme.lower() == "http" and not slash


def scope(headers: list[tuple[bytes, bytes]], port: int | None = PORT, scheme: str = "http") -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/mcp", "raw_path": b"/mcp", "query_string": b"",
            "headers": headers, "server": ("127.0.0.1", port), "client": ("127.0.0.1", 5555), "scheme": scheme}


def drive(app: Any, request: dict[str, Any]) -> tuple[int, bytes, list[dict[str, Any]]]:
    """Send one request through ``app`` in process: (status, body, the scopes the inner app saw)."""
    reached: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"reached"})

    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(inner)(request, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"), reached


def checked(urls: tuple[str, ...] = ()) -> Any:
    return lambda inner: HostCheck(inner, urls=lambda: urls, name="test")


@settings(max_examples=examples(400), deadline=None)
@given(host_list=st.lists(hosts(), max_size=3), origin_list=st.lists(origins(), max_size=2))
@example(host_list=[(f"localhost:{PORT}".encode(), True)], origin_list=[])
@example(host_list=[(f"LocalHost:{PORT}".encode(), True)], origin_list=[(f"http://127.0.0.1:{PORT}".encode(), True)])
@example(host_list=[(f"127.0.0.1:{PORT}".encode(), True)], origin_list=[(b"http://attacker.example", False)])
@example(host_list=[(f"127.0.0.1:{PORT}".encode(), True)] * 2, origin_list=[])
@example(host_list=[(b"attacker.example", False)], origin_list=[])
@example(host_list=[(f"localhost.:{PORT}".encode(), False)], origin_list=[])
@example(host_list=[(b"", False)], origin_list=[])
def test_only_requests_naming_this_server_reach_the_app(host_list: list[tuple[bytes, bool]],
                                                       origin_list: list[tuple[bytes, bool]]) -> None:
    headers = [(b"host", value) for value, _ in host_list] + [(b"origin", value) for value, _ in origin_list]
    host_ok = len(host_list) == 1 and host_list[0][1]
    origin_ok = not origin_list or (len(origin_list) == 1 and origin_list[0][1])
    status, body, reached = drive(checked(), scope(headers))
    assert bool(reached) == (host_ok and origin_ok), (headers, status)
    if not reached:
        assert status == (421 if not host_ok else 403) and len(body) < 100 and b"<" not in body


def test_public_urls_extend_the_allowed_set() -> None:
    urls = ("https://agent.example.com/base", "http://[2001:db8::1]:8080", "http://user@evil.example", "not a url",
            "http://127.0.0.1:9", None)
    served = served_authorities("http", PORT, urls)
    authorities = {authority for _, authority in served}
    assert {"agent.example.com", "agent.example.com:443", "[2001:db8::1]:8080", f"localhost:{PORT}",
            "localhost:9", "[::1]:9"} <= authorities
    assert not any("evil" in a for a in authorities) and "agent.example.com:80" not in authorities
    admitted = [b"agent.example.com", b"AGENT.example.com:443", b"[2001:db8::1]:8080", b"localhost:9"]
    for host in admitted:
        assert refusal(scope([(b"host", host)]), urls) is None, host
    assert refusal(scope([(b"host", b"agent.example.com"), (b"origin", b"https://agent.example.com")]), urls) is None
    # the scheme is part of an origin: the public site's page over http is another origin
    assert refusal(scope([(b"host", b"agent.example.com"), (b"origin", b"http://agent.example.com")]), urls) == (
        403, "Origin http://agent.example.com is not this server's")
    for host in (b"agent.example.com:80", b"evil.example", b"agent.example.com.", b"[2001:db8::1]"):
        assert refusal(scope([(b"host", host)]), urls) is not None, host


def test_without_a_socket_port_the_default_port_is_meant() -> None:
    """An in-process call (httpx's ASGITransport: no port) names the scheme's default port, as a URL does."""
    assert refusal(scope([(b"host", b"127.0.0.1")], port=None)) is None
    assert refusal(scope([(b"host", b"localhost:443")], port=None, scheme="https")) is None
    assert refusal(scope([(b"host", b"127.0.0.1:8000")], port=None)) is not None


def test_the_log_is_precise_and_safe(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="labkit.hosts")
    status, _, _ = drive(checked(), scope([(b"host", b"attacker.example\x1b[31m:1")]))
    assert status == 421
    line = caplog.records[-1].getMessage()
    assert "test refused 421 /mcp: Host attacker.example\\x1b[31m:1 is not served here" in line and "\x1b" not in line
    drive(checked(), scope([(b"host", f"127.0.0.1:{PORT}".encode()), (b"origin", b"null"), (b"origin", b"null")]))
    assert "Origin x2 is not this server's" in caplog.records[-1].getMessage()


def test_lifespan_passes_and_websockets_are_closed() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def nothing() -> dict[str, Any]:
        return {}

    app = HostCheck(inner)
    asyncio.run(app({"type": "lifespan"}, nothing, send))
    asyncio.run(app({**scope([(b"host", b"attacker.example")]), "type": "websocket"}, nothing, send))
    assert seen == ["lifespan"] and sent == [{"type": "websocket.close", "code": 1008}]
