"""When Redis does not answer, the agent says "state unavailable" (-32603 in-band, the one answer it gives for any
shared state down, SQL included), never "quota reached": a storage error is not a cap."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from labkit.config import validate_security_config

from ..helpers import AsgiClient, free_port

pytestmark = pytest.mark.integration  # a Redis client connects to a loopback port nobody serves

SECRET = "s" * 40


def _dead_redis() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"  # a free port: nothing listens, every command fails at once


def test_a_redis_quota_without_redis_raises_state_unavailable() -> None:
    import redis.asyncio as aioredis

    from labkit.state import StateUnavailableError
    from labkit.state.redis import RedisQuota

    async def scenario() -> None:
        client = aioredis.Redis.from_url(_dead_redis(), socket_connect_timeout=1)
        quota = RedisQuota(client, "t")
        with pytest.raises(StateUnavailableError):
            await quota.reserve("tasks", "alice", 10)
        with pytest.raises(StateUnavailableError):
            await quota.claim("push", "alice", "task-1", 10)
        await client.aclose()

    asyncio.run(scenario())


def test_the_agent_answers_state_unavailable_not_quota_reached(tmp_path: Path) -> None:
    from sample_agent.app import create_app

    oauth2 = {"validation_strategy": "jwt", "jwt_secret": SECRET, "jwt_algorithm": "HS256"}
    cfg = validate_security_config({"security": {"oauth2": oauth2}, "state": {"redis_url": _dead_redis()}})
    app = create_app(cfg, sandbox=tmp_path)
    now = int(time.time())
    token = jwt.encode({"alg": "HS256"}, {"sub": "alice", "iat": now, "exp": now + 300,
                                          "scope": "api:read api:write"}, OctKey.import_key(SECRET))
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": "r-1", "method": "message/send", "params": {"message": {
        "role": "user", "messageId": "m-1", "parts": [{"kind": "text", "text": "hello"}]}}}
    with AsgiClient(app, "http://127.0.0.1:8000") as http:
        answer = http.post("/", json=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text  # in-band, like every A2A error (and the SDK's own answers)
    assert answer.json()["error"] == {"code": -32603, "message": "state unavailable; try again shortly"}
    assert answer.json()["id"] == "r-1" and "quota" not in answer.text


def test_mcp_answers_the_same_state_unavailable(tmp_path: Path) -> None:
    from sample_agent.app import create_app

    from ..helpers import LifespanClient

    oauth2 = {"validation_strategy": "jwt", "jwt_secret": SECRET, "jwt_algorithm": "HS256"}
    cfg = validate_security_config({"security": {"oauth2": oauth2}, "state": {"redis_url": _dead_redis()}})
    app = create_app(cfg, sandbox=tmp_path)
    now = int(time.time())
    token = jwt.encode({"alg": "HS256"}, {"sub": "alice", "iat": now, "exp": now + 300,
                                          "scope": "api:read api:write"}, OctKey.import_key(SECRET))
    body = {"jsonrpc": "2.0", "id": "m-1", "method": "tools/list"}
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    with LifespanClient(app, app.starlette, "http://127.0.0.1:8000") as http:
        answer = http.post("/mcp", json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"jsonrpc": "2.0", "id": "m-1",
                             "error": {"code": -32603, "message": "state unavailable; try again shortly"}}
