"""The webhook receiver's edges (issue #20.5): headers before the body, a capped stream, bounded JSON."""

from __future__ import annotations

import socket
import tracemalloc
from collections.abc import Iterator

import httpx
import pytest

from labkit.a2a.webhook import WebhookReceiver
from labkit.servers import ServerThread

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[WebhookReceiver, str]]:
    hooks = WebhookReceiver(clock=lambda: 1_700_000_000)
    server = ServerThread(hooks.app, name="webhooks")
    hooks.base_url = server.url
    hooks.trust("http://127.0.0.1:9")  # an agent that is not running: every token is refused, never a 5xx
    with server:
        yield hooks, server.url


def upload(size: int) -> Iterator[bytes]:
    chunk = b"x" * (1 << 20)
    for _ in range(size >> 20):
        yield chunk


def post(url: str, **kwargs: object) -> int | None:
    """The status, or None when the server closed the connection while the client was still sending."""
    try:
        return httpx.post(url, timeout=30, **kwargs).status_code  # type: ignore[arg-type]
    except httpx.HTTPError:
        return None


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer x.y.z"}, {"Authorization": "Basic eDp5"}])
def test_a_64_mib_upload_costs_constant_memory(receiver: tuple[WebhookReceiver, str], headers: dict[str, str]) -> None:
    hooks, url = receiver
    tracemalloc.start()
    try:
        status = post(f"{url}/hooks/big", content=upload(64 << 20), headers=headers)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status in (None, 401, 413)
    assert peak < 8 << 20, peak  # was > 128 MiB when the whole body was read before any check
    assert not hooks.notifications[-1].accepted


def test_content_length_over_the_cap_is_refused_before_reading(receiver: tuple[WebhookReceiver, str]) -> None:
    _, url = receiver
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:  # headers only: no body is ever sent
        raw.sendall(b"POST /hooks/cl HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer x.y.z\r\n"
                    b"Content-Length: %d\r\n\r\n" % (host.encode(), port.encode(), 1 << 30))
        assert raw.recv(100).startswith(b"HTTP/1.1 413")


@pytest.mark.parametrize("body", [b"[" * 200_000 + b"]" * 200_000, b'{"statusUpdate": ' * 50_000 + b"1" + b"}" * 50_000,
                                  b'{"task": {"id": NaN}}', b"\xff\xfe", b'{"task": {"id": "\x1b[2J"}}'])
def test_hostile_bodies_are_refused_not_5xx(receiver: tuple[WebhookReceiver, str], body: bytes) -> None:
    hooks, url = receiver
    status = post(f"{url}/hooks/%1B%5B2J", content=body, headers={"Authorization": "Bearer x.y.z"})
    assert status in (401, 413)
    last = hooks.notifications[-1]
    assert not last.accepted and "\x1b" not in (last.hook + (last.task_id or "") + (last.reason or ""))
