"""The A2A package's shared parts, in process (no sockets): the task-state reading, the bounded body read,
and the receiver's strict bearer parsing and Content-Length check."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from labkit._json import BodyTooLargeError, read_bounded
from labkit.a2a._tasks import ARTIFACT, task_state
from labkit.a2a.webhook import WebhookReceiver

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
                    max_leaves=20)
KINDS = st.sampled_from(["task", "statusUpdate", "artifactUpdate", "message", "other"])


def test_each_stream_response_kind() -> None:
    status = {"state": "TASK_STATE_WORKING"}
    assert task_state({"task": {"id": "t1", "status": status}}) == ("t1", "TASK_STATE_WORKING")
    assert task_state({"statusUpdate": {"taskId": "t2", "status": status}}) == ("t2", "TASK_STATE_WORKING")
    assert task_state({"artifactUpdate": {"taskId": "t3", "artifact": {}}}) == ("t3", ARTIFACT)
    assert task_state({"message": {"messageId": "m"}}) == (None, None)
    # the id member of another kind is not read: a statusUpdate's task is its taskId, never an "id"
    assert task_state({"statusUpdate": {"id": "t4"}}) == (None, None)
    assert task_state({"task": {"id": 7, "status": {"state": ["x"]}}}) == (None, None)


@given(st.dictionaries(KINDS, JSON, max_size=3) | JSON)
def test_any_json_reads_as_strings_or_none(body: Any) -> None:
    task_id, state = task_state(body)
    assert task_id is None or (isinstance(task_id, str) and task_id)
    assert state is None or (isinstance(state, str) and state)


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def read(*parts: bytes, cap: int = 10, declared: tuple[str | bytes, ...] = ()) -> bytes:
    return asyncio.run(read_bounded(_chunks(*parts), cap, declared=declared))


def test_read_bounded_stops_at_the_cap_and_checks_the_declared_length() -> None:
    assert read(b"12345", b"67890") == b"1234567890"
    assert read(b"abc", declared=("3",)) == b"abc"
    with pytest.raises(BodyTooLargeError):
        read(b"12345", b"678901")
    # RFC 9110 §8.6: one Content-Length of ASCII digits; anything else is refused before reading
    for declared in (("11",), ("1", "1"), ("\u00b2",), ("-1",), (" 3",), ("9" * 30,), (b"\xb2",), ("",)):
        with pytest.raises(BodyTooLargeError):
            read(b"", declared=declared)  # type: ignore[arg-type]


@given(st.lists(st.binary(max_size=8), max_size=6), st.lists(st.text(max_size=4) | st.binary(max_size=4), max_size=2))
def test_read_bounded_never_fails_otherwise(parts: list[bytes], declared: list[str | bytes]) -> None:
    try:
        body = read(*parts, cap=16, declared=tuple(declared))
    except BodyTooLargeError:
        return
    assert body == b"".join(parts) and len(body) <= 16


@pytest.fixture
def receiver() -> WebhookReceiver:
    hooks = WebhookReceiver(clock=lambda: 1_700_000_000)
    hooks.base_url = "http://hooks.test"
    hooks.trust("http://127.0.0.1:9")  # no agent there: a well-formed token is fetched for and refused
    return hooks


def post(hooks: WebhookReceiver, headers: list[tuple[str, str | bytes]], body: bytes = b"{}") -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=hooks.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hooks.test") as client:
            return (await client.post("/hooks/h", content=body, headers=headers)).status_code
    return asyncio.run(go())


@pytest.mark.parametrize("headers", [
    [],
    [("Authorization", "Basic eDp5")],
    [("Authorization", "Bearer")],
    [("Authorization", "Bearer a.b.c"), ("Authorization", "Bearer a.b.c")],  # two headers: which one is checked?
    [("Authorization", "Bearer a.b.c extra")],
    [("Authorization", "Bearer a\u00e9b".encode())],
    [("Authorization", "DPoP a.b.c")],
])
def test_the_receiver_reads_bearer_tokens_strictly(receiver: WebhookReceiver,
                                                   headers: list[tuple[str, str | bytes]]) -> None:
    assert post(receiver, headers) == 401
    assert receiver.notifications[-1].reason == "missing_token: no signed notification token"


@pytest.mark.parametrize("length", [b"\xb2", b"1, 1", b"-1", str(1 << 40).encode()])
def test_a_bad_content_length_is_413_never_500(receiver: WebhookReceiver, length: bytes) -> None:
    assert post(receiver, [("Authorization", "Bearer a.b.c"), ("Content-Length", length)], b"") == 413
    assert not receiver.notifications[-1].accepted


@pytest.mark.parametrize(("headers", "status"), [
    ([("Host", "attacker.example")], 421),
    ([("Host", "hooks.test.")], 421),
    ([("Host", "hooks.test:8080")], 421),
    ([("Origin", "http://attacker.example")], 403),
    ([("Origin", "http://hooks.test")], 401),  # its own origin: on to the receiver's own check
    ([("Host", "HOOKS.test")], 401),
])
def test_the_receiver_checks_host_and_origin_first(receiver: WebhookReceiver,
                                                   headers: list[tuple[str, str | bytes]], status: int) -> None:
    assert post(receiver, [*headers, ("Authorization", "Bearer a.b.c")]) == status
