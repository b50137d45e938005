"""DPoP ``jti`` replay across replicas (RFC 9449 §11.1): with ``state.redis_url`` a proof spent at one replica is
refused at every other; in memory each replica would accept it once. A real ``redis-server`` on a free loopback
port in a temp dir (skipped, saying why, when it is not installed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import ECKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from labkit.audit import AuditLog
from labkit.auth.dpop import make_proof
from labkit.cluster.services import MissingServiceError, Service, start_redis
from labkit.config import validate_security_config
from labkit.guard import OAuth2Guard, gate_for
from labkit.state import SharedState

from ..helpers import NOW, Keys, mint, oauth2

pytestmark = [pytest.mark.integration, pytest.mark.anyio]

KEY = ECKey.generate_key("P-256")
URL = "https://agent.lab.test/items"


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    try:
        service = start_redis(tmp_path_factory.mktemp("redis"))
    except MissingServiceError as missing:
        pytest.skip(f"the shared DPoP replay cache needs a real Redis: {missing}")
    try:
        yield service
    finally:
        service.stop()


def config(keys: Keys, redis_url: str | None) -> Any:
    raw: dict[str, Any] = {"security": {"oauth2": oauth2(jwks=keys.jwks(keys.rsa), jwt_algorithms=["RS256"])}}
    if redis_url is not None:
        raw["state"] = {"redis_url": redis_url, "key_prefix": "dpop-test"}
    return validate_security_config(raw)


def replica(keys: Keys, redis_url: str | None) -> tuple[OAuth2Guard, SharedState]:
    """One agent process: its own gate, the replay cache of its ``state:`` (Redis when configured)."""
    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    cfg = config(keys, redis_url)
    state = SharedState(cfg.state, clock=lambda: NOW)
    gate = gate_for(cfg, clock=lambda: NOW, replay=state.replay if state.shared else None)
    inner = Starlette(routes=[Route("/items", items, name="items")])
    guard = OAuth2Guard(inner, gate=gate, routes=inner.routes, endpoints={}, audit=AuditLog(),
                        public_url="https://agent.lab.test")
    return guard, state


async def call(guard: OAuth2Guard, headers: dict[str, str]) -> int:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(guard), base_url="http://agent") as client:
        return (await client.get("/items", headers=headers)).status_code


def presentation(keys: Keys, jti: str) -> dict[str, str]:
    token = mint(keys.rsa, cnf={"jkt": KEY.thumbprint()})
    return {"Authorization": f"DPoP {token}",
            "DPoP": make_proof(KEY, method="GET", url=URL, iat=NOW, access_token=token, jti=jti)}


async def test_a_proof_spent_at_one_replica_is_refused_at_the_other(keys: Keys, redis: Service) -> None:
    url = f"redis://127.0.0.1:{redis.port}/0"
    (first, first_state), (second, second_state) = replica(keys, url), replica(keys, url)
    try:
        headers = presentation(keys, "shared-once")
        assert await call(first, headers) == 200
        assert await call(second, headers) == 401  # another process, the same Redis: already spent
        assert second.audit.events()[-1].reason == "dpop_proof"
        assert await call(first, headers) == 401
        assert await call(second, presentation(keys, "shared-twice")) == 200  # a fresh proof passes anywhere
        assert len(first.gate.dpop_policy(None).replay) == 0  # nothing kept in the process
        keys_in_redis = [k async for k in first_state.redis.scan_iter("dpop-test:replay:dpop:*")]
        assert len(keys_in_redis) == 2 and all(b"shared" not in k for k in keys_in_redis)  # jti hashed
        ttl = await first_state.redis.pttl(keys_in_redis[0])
        assert 0 < ttl <= 62_000  # forgotten when the proof's iat window ends
    finally:
        await first_state.aclose()
        await second_state.aclose()


async def test_in_memory_each_replica_accepts_the_proof_once(keys: Keys) -> None:
    first, second = replica(keys, None)[0], replica(keys, None)[0]
    headers = presentation(keys, "memory-once")
    assert (await call(first, headers), await call(second, headers)) == (200, 200)  # why replicas need Redis
    assert await call(first, headers) == 401


async def test_without_redis_the_replay_check_fails_closed(keys: Keys) -> None:
    from labkit.cluster.services import free_port

    guard, state = replica(keys, f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    try:
        assert await call(guard, presentation(keys, "no-redis")) == 401
        assert "replay cache" in guard.audit.events()[-1].detail
    finally:
        await state.aclose()


def test_the_sample_agent_spends_jti_in_its_shared_state(keys: Keys, redis: Service, tmp_path: Path) -> None:
    from sample_agent.app import Agent

    agent = Agent(config(keys, f"redis://127.0.0.1:{redis.port}/0"), clock=lambda: NOW, sandbox=tmp_path)
    assert agent.gate.dpop_policy(None).shared is agent.state.replay
    local = Agent(config(keys, None), clock=lambda: NOW, sandbox=tmp_path)
    assert local.gate.dpop_policy(None).shared is None  # in memory: the per-key capped cache of the process
