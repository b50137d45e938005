"""Findings of the attack pass on the rebuilt guard, each as the test that failed before its fix."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labkit.guard.jsonrpc import BodyError, parse_call
from labkit.lab import Lab
from labkit.servers import ServerThread
from sample_agent import create_app

from ..helpers import Keys, examples, mint
from .guard_app import asgi_request, recording_guard

MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

# -- 1. Strings that are not Unicode: lone surrogate escapes ----------------------------------------------
# "\ud800" is valid JSON syntax to Python's json but no Unicode string: every response that echoes it (the
# guard's own 403 envelope, the seed methods, the a2a-sdk's errors) failed to encode and answered 500.

LONE = st.sampled_from(["\ud800", "\udfff", "a\udc00b", "\udbff\ud800"])


def _body(rpc_id: Any, method: Any, params: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": rpc_id, "method": method, "params": params}).encode()  # \\u escapes


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(where=st.sampled_from(["id", "method", "param", "key"]), lone=LONE,
       method=st.sampled_from(["capabilities", "SendMessage", "tools/call"]), path=st.sampled_from(["/", "/mcp"]))
def test_lone_surrogates_are_parse_errors_never_5xx(keys: Keys, where: str, lone: str, method: str, path: str) -> None:
    guard, recorder, _, _ = recording_guard(keys)
    params: dict[str, Any] = {"name": "admin_status", "arguments": {}}  # a tool api:read may not call: a 403 envelope
    rpc_id: Any = 1
    if where == "id":
        rpc_id = lone
    elif where == "method":
        method = method + lone
    elif where == "param":
        params["text"] = lone
    else:
        params[lone] = 1
    raw = _body(rpc_id, method, params)
    with pytest.raises(BodyError):
        parse_call(raw)
    token = mint(keys.rsa, scope="api:read")
    headers = {"Authorization": f"Bearer {token}", "content-length": str(len(raw)), **MCP_HEADERS}
    answer = asyncio.run(asgi_request(guard, "POST", path, headers=headers, body=raw))
    # the status the SDK behind the route gives a parse error: the a2a-sdk 200, MCP 400 (test_malformed_parity.py)
    assert answer.status_code == (200 if path == "/" else 400) and answer.json()["error"]["code"] == -32700
    assert recorder.calls == []


def test_paired_surrogate_escapes_are_one_character() -> None:
    call = parse_call(b'{"jsonrpc":"2.0","id":"\\ud83d\\ude00","method":"capabilities"}')
    assert call.id == "\U0001f600"



@pytest.mark.integration
@pytest.mark.parametrize(("path", "raw"), [
    ("/", b'{"jsonrpc":"2.0","id":"\\ud800","method":"capabilities"}'),
    ("/", b'{"jsonrpc":"2.0","id":"\\ud800","method":"GetTask","params":{"id":"x"}}'),
    ("/", b'{"jsonrpc":"2.0","id":1,"method":"execute","params":{"capability":"echo","arguments":{"text":"\\ud800"}}}'),
    ("/", b'{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"id":"\\udc00"}}'),
    ("/mcp", b'{"jsonrpc":"2.0","id":"\\ud800","method":"tools/call","params":{"name":"admin_status","arguments":{}}}'),
])
def test_lone_surrogates_at_the_real_agent(lab: Lab, path: str, raw: bytes) -> None:
    response = lab.client(lab.token(["api:read"])).post(path, content=raw, headers=MCP_HEADERS)
    assert response.status_code == (200 if path == "/" else 400) and response.json()["error"]["code"] == -32700


# -- 2. Per-principal quotas under concurrency --------------------------------------------------------------
# The caps were checked, then the state created after an await: N concurrent requests all passed the check.

@pytest.fixture(scope="module")
def tight(lab: Lab) -> Iterator[str]:
    server = ServerThread(name="tight-agent-attacks")
    server.app = create_app(lab.config, public_url=server.url, max_sessions=2, max_tasks=3, max_push_configs=2)
    with server:
        yield server.url


async def _concurrently(url: str, token: str, bodies: list[dict[str, Any]], headers: dict[str, str],
                        path: str = "/") -> list[httpx.Response]:
    async with httpx.AsyncClient(timeout=30, headers={"Authorization": f"Bearer {token}", **headers},
                                 limits=httpx.Limits(max_connections=100)) as http:
        return list(await asyncio.gather(*(http.post(url + path, json=body) for body in bodies)))


@pytest.mark.integration
def test_concurrent_initializes_respect_the_session_cap(lab: Lab, tight: str) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    answers = asyncio.run(_concurrently(tight, lab.token(["api:read"], lifetime=601), [body] * 30, MCP_HEADERS,
                                        "/mcp"))
    sessions = {a.headers.get("mcp-session-id") for a in answers if a.status_code == 200} - {None}
    assert len(sessions) <= 2, len(sessions)
    assert all(a.status_code in (200, 429) for a in answers)


@pytest.mark.integration
def test_concurrent_messages_respect_the_task_cap(lab: Lab, tight: str) -> None:
    bodies = [{"jsonrpc": "2.0", "id": i, "method": "SendMessage", "params": {
        "message": {"messageId": f"race{i}", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}} for i in range(20)]
    answers = asyncio.run(_concurrently(tight, lab.token(["api:read"], lifetime=602), bodies, {"A2A-Version": "1.0"}))
    created = [a for a in answers if "result" in a.json()]
    assert 1 <= len(created) <= 3, len(created)


@pytest.mark.integration
def test_concurrent_push_configs_respect_the_push_cap(lab: Lab, tight: str) -> None:
    token = lab.token(["api:read", "push:write"], lifetime=603)
    headers = {"Authorization": f"Bearer {token}", "A2A-Version": "1.0"}
    message = {"message": {"messageId": "p", "role": "ROLE_USER", "parts": [{"text": "hi"}]}}
    task = httpx.post(tight + "/", json={"jsonrpc": "2.0", "id": 0, "method": "SendMessage", "params": message},
                      headers=headers, timeout=10).json()["result"]["task"]["id"]
    bodies = [{"jsonrpc": "2.0", "id": i, "method": "CreateTaskPushNotificationConfig", "params": {
        "taskId": task, "id": f"c{i}", "url": lab.webhooks.base_url + "/hook", "token": "t"}} for i in range(20)]
    answers = asyncio.run(_concurrently(tight, token, bodies, {"A2A-Version": "1.0"}))
    stored = [a for a in answers if "result" in a.json()]
    assert 1 <= len(stored) <= 2, len(stored)


# -- 3. Unauthenticated requests filled the issuer cache with attacker strings -----------------------------
# At the root with several tenants, the token's unverified issuer picks the validator; every issuer was
# remembered (4096 entries of up to ~6 KB each: ~25 MB of RSS from unauthenticated requests).

def test_only_issuers_of_a_tenant_are_remembered(keys: Keys) -> None:
    _, _, agent, _ = recording_guard(keys)
    gate = agent.gate
    for i in range(50):
        forged = mint(keys.attacker, iss=f"{i}" + "x" * 5000, scope="admin")
        assert gate.tenant_auth(None, forged) is gate.tenants[None]
    assert len(gate._routed._data) == 0
    acme = mint(keys.ec, "ES256", iss=gate.tenants["acme"].issuers[0], scope="api:read")
    assert gate.tenant_auth(None, acme) is gate.tenants["acme"]
    assert len(gate._routed._data) == 0  # read to route it, not verified yet
    # a forged token with a tenant's issuer is routed by it, refused, and not remembered (no churn of the memo)
    forged_acme = mint(keys.attacker, iss=gate.tenants["acme"].issuers[0], scope="api:read")
    assert asyncio.run(gate.authenticate(forged_acme)).error is not None
    assert len(gate._routed._data) == 0
    assert asyncio.run(gate.authenticate(acme)).allowed  # verified: its issuer now routes it from the memo
    assert len(gate._routed._data) == 1
