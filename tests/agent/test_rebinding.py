"""DNS rebinding against the running lab: the agent, its ``/mcp`` and the webhook receiver check Host and Origin.

Before this, the agent answered 200 to ``Host: attacker.example`` and its ``/mcp`` answered 200 to
``Origin: http://attacker.example`` (the MCP transports spec: a present, invalid Origin MUST get 403).
Requests go over real sockets, so what the HTTP server itself does with odd bytes is part of the test.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labkit.lab import Lab

from ..helpers import examples

pytestmark = pytest.mark.integration

LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
ACCEPT = {"Accept": "application/json, text/event-stream"}


def raw_status(url: str, path: str, headers: list[tuple[bytes, bytes]]) -> int:
    """One GET over a socket with headers exactly as given (duplicates, odd bytes); the status (0: no answer)."""
    parts = urlsplit(url)
    lines = [b"GET " + path.encode() + b" HTTP/1.1", *(k + b": " + v for k, v in headers), b"Connection: close"]
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=10) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n")
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    status = answer.split(b" ", 2)[1] if answer.startswith(b"HTTP/1.1 ") else b"0"
    return int(status)


@pytest.mark.parametrize("path", ["/", "/mcp", "/t/acme/mcp", "/.well-known/agent-card.json",
                                  "/.well-known/oauth-protected-resource", "/stub/external-api/records", "/nowhere"])
def test_a_foreign_host_gets_421_before_the_guard(lab: Lab, path: str) -> None:
    port = urlsplit(lab.agent_url).port
    token = lab.token(["api:read"])
    for host in ("attacker.example", f"attacker.example:{port}", f"127.0.0.1:{(port or 0) + 1}", f"localhost.:{port}"):
        answer = httpx.post(lab.agent_url + path, json=LIST, headers={**ACCEPT, "Host": host,
                                                                      "Authorization": f"Bearer {token}"})
        assert answer.status_code == 421 and "tools" not in answer.text, (host, path)
        assert "www-authenticate" not in answer.headers  # no route and no guard ran


def test_mcp_refuses_a_foreign_origin_with_403_and_serves_its_own(lab: Lab) -> None:
    token = lab.token(["api:read"])
    port = urlsplit(lab.agent_url).port
    auth = {**ACCEPT, "Authorization": f"Bearer {token}"}
    for origin in ("http://attacker.example", f"http://attacker.example:{port}", "null", f"https://127.0.0.1:{port}",
                   f"http://127.0.0.1:{(port or 0) + 1}", f"http://127.0.0.1:{port}.attacker.example"):
        for path in ("/mcp", "/t/acme/mcp", "/"):
            answer = httpx.post(lab.agent_url + path, json=LIST, headers={**auth, "Origin": origin})
            assert answer.status_code == 403 and "tools" not in answer.text, (origin, path)
        # before the guard: no token, the same 403 (not a 401 that tells the page a server is there)
        assert httpx.post(lab.agent_url + "/mcp", json=LIST, headers={**ACCEPT, "Origin": origin}).status_code == 403
    for origin in (None, f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}"):
        headers = auth if origin is None else {**auth, "Origin": origin}
        answer = httpx.post(lab.agent_url + "/mcp", json=LIST, headers=headers)
        assert answer.status_code == 200 and "tools" in answer.text, origin


def test_the_webhook_receiver_checks_host_and_origin(lab: Lab) -> None:
    base = lab.webhooks.base_url or ""
    port = urlsplit(base).port
    assert httpx.post(base + "/hooks/h", json={}).status_code == 401  # served: the receiver's own refusal
    assert httpx.post(base + "/hooks/h", json={}, headers={"Host": f"attacker.example:{port}"}).status_code == 421
    assert httpx.get(base + "/hooks/h/received", headers={"Origin": "http://attacker.example"}).status_code == 403


def test_duplicate_and_missing_host_headers_are_refused(lab: Lab) -> None:
    port = urlsplit(lab.agent_url).port
    good = f"127.0.0.1:{port}".encode()
    card = "/.well-known/agent-card.json"
    assert raw_status(lab.agent_url, card, [(b"Host", good)]) == 200
    for headers in ([], [(b"Host", good), (b"Host", good)], [(b"Host", good), (b"Host", b"attacker.example")],
                    [(b"Host", b"")], [(b"Host", good), (b"Origin", b"null"), (b"Origin", b"null")]):
        assert raw_status(lab.agent_url, card, headers) in (400, 403, 421), headers


@settings(max_examples=examples(120), deadline=None)
@given(value=st.binary(max_size=40).filter(lambda v: b"\r" not in v and b"\n" not in v)
       | st.sampled_from([b"localhost", b"LOCALHOST", b"[::1]", b"127.0.0.1", b"attacker.example", b"a@127.0.0.1"])
       .flatmap(lambda name: st.sampled_from([b"", b":", b".", b"\t", b":PORT", b".:PORT", b":0PORT", b":PORT "])
                .map(lambda tail: name + tail)))
def test_no_host_value_reaches_the_agent_unless_it_names_it(lab: Lab, value: bytes) -> None:
    port = str(urlsplit(lab.agent_url).port).encode()
    value = value.replace(b"PORT", port)
    status = raw_status(lab.agent_url, "/.well-known/agent-card.json", [(b"Host", value)])
    named = value.strip(b" \t").lower() in {b"127.0.0.1:" + port, b"localhost:" + port, b"[::1]:" + port}
    assert status == (200 if named else status) and status in ((200,) if named else (400, 421)), (value, status)


def test_public_url_extends_what_the_agent_serves() -> None:
    with Lab(public_url="https://agent.example.com") as lab:
        token = lab.token(["api:read"])
        auth = {**ACCEPT, "Authorization": f"Bearer {token}"}
        for host in ("agent.example.com", "agent.example.com:443", f"localhost:{urlsplit(lab.agent_url).port}"):
            assert httpx.get(lab.agent_url + "/.well-known/agent-card.json", headers={"Host": host}).status_code \
                == 200, host
        origin = {"Origin": "https://agent.example.com", "Host": "agent.example.com"}
        assert httpx.post(lab.agent_url + "/mcp", json=LIST, headers={**auth, **origin}).status_code == 200
        for host in ("agent.example.com:80", "evil.agent.example.com", "agent.example.com.", "attacker.example"):
            assert httpx.get(lab.agent_url + "/.well-known/agent-card.json", headers={"Host": host}).status_code \
                == 421, host
