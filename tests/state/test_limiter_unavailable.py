"""A rate limiter whose store cannot answer refuses with 503 "state unavailable" and ``Retry-After``: never
admitted (fail closed), never reported as a limit hit (429). A real ``redis-server`` stopped mid-test, and an
in-process limiter whose store raises."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from labkit.audit import AuditLog
from labkit.auth import Principal
from labkit.cluster.services import MissingServiceError, start_redis
from labkit.config import validate_security_config
from labkit.guard import OAuth2Guard, gate_for
from labkit.guard.gate import Admit
from labkit.guard.policy import Requirement
from labkit.state.protocols import StateUnavailableError
from labkit.state.redis import RedisLimiter, rate_item

from ..helpers import NOW, Keys, mint, oauth2

pytestmark = pytest.mark.anyio


def guarded(keys: Keys, admit: Admit) -> tuple[OAuth2Guard, AuditLog]:
    async def items(request: Request) -> JSONResponse:
        return JSONResponse({"sub": request.user.identity})

    cfg = validate_security_config({"security": {"oauth2": oauth2(jwks=keys.jwks(keys.rsa),
                                                                  jwt_algorithms=["RS256"])}})
    inner = Starlette(routes=[Route("/items", items, name="items")])
    audit = AuditLog()
    gate = gate_for(cfg, clock=lambda: NOW, admit=admit)
    return OAuth2Guard(inner, gate=gate, routes=inner.routes, endpoints={}, audit=audit,
                       public_url="https://agent.lab.test"), audit


async def call(guard: OAuth2Guard, token: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(guard), base_url="http://agent") as client:
        return await client.get("/items", headers={"Authorization": f"Bearer {token}"})


def assert_state_unavailable(response: httpx.Response, audit: AuditLog) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    assert "www-authenticate" not in response.headers  # the credentials are not in question
    event = audit.events()[-1]
    assert event.reason == "state_unavailable" and "rate limit" in (event.detail or ""), event


@pytest.mark.parametrize("awaitable", [False, True])
async def test_a_limiter_whose_store_raises_is_state_unavailable(keys: Keys, awaitable: bool) -> None:
    def down(principal: Principal, requirement: Requirement) -> Any:
        if awaitable:
            async def answer() -> float | None:
                raise StateUnavailableError("the store did not answer")
            return answer()
        raise StateUnavailableError("the store did not answer")

    guard, audit = guarded(keys, down)
    assert_state_unavailable(await call(guard, mint(keys.rsa)), audit)


@pytest.mark.integration
async def test_redis_stopped_mid_test_is_state_unavailable_not_rate_limited(keys: Keys, tmp_path: Path) -> None:
    try:
        redis = start_redis(tmp_path / "redis")
    except MissingServiceError as missing:
        pytest.skip(f"the shared rate limit needs a real Redis: {missing}")
    try:
        limiter = RedisLimiter(f"redis://127.0.0.1:{redis.port}/0", rate_item(600, 100), prefix="lim", name="p")

        def admit(principal: Principal, requirement: Requirement) -> Any:
            return limiter.acquire(principal.subject)

        guard, audit = guarded(keys, admit)
        token = mint(keys.rsa)
        assert (await call(guard, token)).status_code == 200  # Redis answers: admitted
        redis.stop()
        for _ in range(2):
            assert_state_unavailable(await call(guard, token), audit)
    finally:
        redis.stop()
