"""The agent as 3 replicas behind nginx, with Redis and PostgreSQL (``labkit.cluster``): every limit exact.

One cluster for the module (about 15 s to start), on the sample agent's configuration with the ``both`` strategy
(JWTs offline, opaque tokens by introspection) and a short introspection cache TTL. Without redis-server, PostgreSQL or nginx the module is
skipped with what to install; with ``CI`` set it must run.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from labkit.a2a.webhook import WebhookReceiver
from labkit.cluster import Cluster, missing_services
from labkit.servers import ServerThread
from labkit.state.redis import RedisReplayCache

pytestmark = pytest.mark.integration

CACHE_TTL = 4  # seconds an introspection answer is shared: the revocation delay


def cluster_config(folder: Path) -> Path:
    """The sample agent's configuration, validating opaque tokens by introspection (``both``)."""
    from sample_agent import default_config_path

    raw = yaml.safe_load(default_config_path().read_text())
    raw["security"]["oauth2"].update({
        "validation_strategy": "both", "introspection_endpoint": "${LAB_PROVIDER_URL}/introspect",
        "client_id": "lab-agent", "client_secret": "lab-agent-secret", "introspection_cache_ttl": CACHE_TTL})
    path = folder / "agentup.yml"
    path.write_text(yaml.safe_dump(raw))
    return path


class Recorder:
    """An ASGI wrapper that keeps each request's headers and body (to replay one)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.requests: list[tuple[dict[str, str], bytes]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.requests.append(({k.decode(): v.decode() for k, v in scope["headers"]}, body))
        done = False

        async def replay() -> dict[str, Any]:
            nonlocal done
            if done:
                return {"type": "http.disconnect"}
            done = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class World:
    def __init__(self, cluster: Cluster, receivers: list[WebhookReceiver], recorder: Recorder, hook_b: str) -> None:
        self.cluster = cluster
        self.hook_b = hook_b
        self.receivers = receivers
        self.recorder = recorder
        self.http = httpx.Client(timeout=30)

    def rpc(self, method: str, params: dict[str, Any], token: str, base: str | None = None) -> httpx.Response:
        body = {"jsonrpc": "2.0", "id": str(uuid.uuid4()), "method": method, "params": params}
        headers = {"Authorization": f"Bearer {token}"}
        if method[0].isupper():  # the v1.0 names
            headers["A2A-Version"] = "1.0"
        return self.http.post((base or self.cluster.agent_url) + "/", json=body, headers=headers)

    def token(self, subject: str, scopes: str = "api:read api:write push:write push:read") -> str:
        return self.cluster.provider.mint(scopes.split(), subject=subject)


def _wait(predicate: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def message(text: str = "hello", push: str | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"message": {"role": "user", "messageId": str(uuid.uuid4()),
                                          "parts": [{"kind": "text", "text": text}]}}
    if push:
        params["configuration"] = {"pushNotificationConfig": {"url": push, "token": "hook-token"}}
    return params


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    missing = missing_services()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the replica tests: {missing}")
        pytest.skip(missing)
    # two webhook receivers for one URL (receiver replicas), sharing one jti replay cache in Redis
    receivers = [WebhookReceiver(), WebhookReceiver()]
    recorder = Recorder(receivers[0].app)
    servers = [ServerThread(recorder, name="hooks-a"), ServerThread(receivers[1].app, name="hooks-b")]
    for receiver in receivers:
        receiver.base_url = servers[0].url
    config = cluster_config(tmp_path_factory.mktemp("cluster"))
    with Cluster(3, config=config, env={"LAB_WEBHOOK_HOSTPORT": f"127.0.0.1:{servers[0].port}"}) as cluster:
        import redis.asyncio as aioredis

        redis_url = cluster.redis_url or ""
        for receiver in receivers:
            receiver.replay = RedisReplayCache(aioredis.Redis.from_url(redis_url), "hooks")
            receiver.trust(cluster.agent_url)
            receiver.expect_token("orders", "hook-token")
        for server in servers:
            server.start()
        running = World(cluster, receivers, recorder, servers[1].url)
        try:
            yield running
        finally:
            running.http.close()
            for server in servers:
                server.stop()


def test_rate_limit_admits_exactly_its_budget_across_replicas(world: World) -> None:
    token = world.token("rate-limited")  # external_api is a network plugin: 60 per minute per principal
    call = {"capability": "write_operation", "arguments": {"record": {"n": 1}}}
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: world.rpc("execute", call, token), range(75)))
    statuses = [a.status_code for a in answers]
    assert statuses.count(429) == 15 and statuses.count(200) == 60, statuses
    assert len({a.headers["x-upstream"] for a in answers}) == 3  # every replica took its share
    assert all(a.headers.get("retry-after") for a in answers if a.status_code == 429)


def test_a_task_is_found_listed_and_cancelled_through_every_replica_by_its_owner_only(world: World) -> None:
    alice, mallory = world.token("alice"), world.token("mallory")
    replicas = [r.url for r in world.cluster.replicas]
    for round_ in range(10):
        created = world.rpc("message/send", message(f"task {round_}"), alice)
        task_id = created.json()["result"]["id"]
        for base in replicas:
            assert world.rpc("tasks/get", {"id": task_id}, alice, base).json()["result"]["id"] == task_id
            listed = world.rpc("ListTasks", {}, alice, base).json()["result"]
            assert task_id in {t["id"] for t in listed["tasks"]}
            cancelled = world.rpc("tasks/cancel", {"id": task_id}, alice, base).json()["error"]
            assert "cancel" in cancelled["message"].lower()  # found: completed, so not cancelable
            other = world.rpc("tasks/get", {"id": task_id}, mallory, base).json()
            assert "not found" in other["error"]["message"].lower()
            assert "not found" in world.rpc("tasks/cancel", {"id": task_id}, mallory,
                                            base).json()["error"]["message"].lower()
            theirs = world.rpc("ListTasks", {}, mallory, base).json()["result"]
            assert task_id not in {t["id"] for t in theirs.get("tasks", [])}


def test_push_deliveries_from_every_replica_verify_against_one_key_and_a_replay_is_refused(world: World) -> None:
    keys = {tuple(k["kid"] for k in httpx.get(f"{r.url}/.well-known/jwks.json").json()["keys"])
            for r in world.cluster.replicas}
    assert len(keys) == 1  # one published key set
    token = world.token("pusher")
    hook = world.receivers[0].url("orders")
    upstreams = set()
    for i in range(6):
        sent = world.rpc("message/send", message(f"push {i}", push=hook), token)
        assert sent.status_code == 200, sent.text
        upstreams.add(sent.headers["x-upstream"])
    assert len(upstreams) == 3
    _wait(lambda: len({n.task_id for n in world.receivers[0].received("orders")}) == 6)
    assert not world.receivers[0].received("orders", accepted=False)
    headers, body = world.recorder.requests[0]
    replayed = {k: v for k, v in headers.items() if k in ("authorization", "x-a2a-notification-token",
                                                           "content-type")}
    target = world.receivers[1]
    # the same delivery at the other receiver (same URL, shared jti cache): refused
    answer = httpx.post(world.hook_b + "/hooks/orders", content=body, headers=replayed)
    assert answer.status_code == 401
    assert "replayed" in (target.received("orders", accepted=False)[-1].reason or "")


def test_mcp_calls_through_nginx_succeed_ten_of_ten(world: World) -> None:
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    token = world.token("mcp-user", "api:read")

    async def scenario() -> int:
        ok = 0
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=10) as http:
            async with Client(streamable_http_client(f"{world.cluster.agent_url}/mcp", http_client=http)) as client:
                for i in range(10):
                    result = await client.call_tool("echo", {"text": f"call {i}"})
                    ok += result.content[0].text == f"echo: call {i}" and not result.is_error
        return ok

    assert asyncio.run(scenario()) == 10


def test_an_opaque_token_introspected_by_one_replica_is_a_hit_on_the_others_and_revocation_holds_on_all(
        world: World) -> None:
    provider, replicas = world.cluster.provider, [r.url for r in world.cluster.replicas]
    token = provider.mint(["api:read"], subject="opaque-user", opaque=True)
    before = provider.calls["introspect"]
    for base in replicas:
        answer = world.rpc("capabilities", {}, token, base)
        assert answer.status_code == 200, answer.text
    assert provider.calls["introspect"] - before == 1  # asked once; the two other replicas read Redis
    revoked = httpx.post(f"{world.cluster.provider_url}/revoke", data={"token": token},
                         auth=("lab-client", "lab-client-secret"))
    assert revoked.status_code == 200
    # once the shared answer expires (CACHE_TTL), every replica asks again and refuses; poll, never sleep the TTL
    refused: set[str] = set()
    deadline = time.monotonic() + CACHE_TTL + 30
    while len(refused) < len(replicas):
        assert time.monotonic() < deadline, f"revocation not seen by {set(replicas) - refused}"
        for base in set(replicas) - refused:
            if world.rpc("capabilities", {}, token, base).status_code == 401:
                refused.add(base)
        time.sleep(0.1)
    assert [world.rpc("capabilities", {}, token, base).status_code for base in replicas] == [401] * 3


def test_a_burst_of_one_opaque_token_through_nginx_makes_one_introspection(world: World) -> None:
    provider = world.cluster.provider
    token = provider.mint(["api:read"], subject="burst-user", opaque=True)
    before = provider.calls["introspect"]
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: world.rpc("capabilities", {}, token), range(24)))
    assert [a.status_code for a in answers] == [200] * 24
    assert len({a.headers["x-upstream"] for a in answers}) == 3
    assert provider.calls["introspect"] - before == 1


def test_killing_a_replica_mid_load_loses_no_accepted_task(world: World) -> None:
    token = world.token("survivor")
    killed = world.cluster.replicas[2]
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def send(i: int) -> None:
        if i == 40:
            killed.kill()
        answer = world.rpc("message/send", message(f"load {i}"), token)
        with lock:
            answers.append(answer)

    with ThreadPoolExecutor(6) as pool:
        list(pool.map(send, range(120)))
    for answer in answers:
        if answer.status_code >= 500:  # only a request in flight on the killed replica may fail
            assert answer.headers.get("x-upstream", "").endswith(f":{killed.port}"), answer.headers
        else:
            assert answer.status_code == 200
    accepted = [a.json()["result"]["id"] for a in answers if a.status_code == 200]
    assert len(accepted) >= 110
    for task_id in accepted:
        assert world.rpc("tasks/get", {"id": task_id}, token).json()["result"]["id"] == task_id


def test_the_lessons_two_replicas_double_a_limit_in_memory_and_keep_it_exact_in_redis() -> None:
    missing = missing_services(database=False)
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the replica tests: {missing}")
        pytest.skip(missing)
    config = {"security": {"oauth2": {"jwks_url": "${LAB_PROVIDER_URL}/jwks", "jwt_issuer": "${LAB_PROVIDER_URL}"}},
              "middleware": [{"name": "rate_limited", "params": {"requests_per_minute": 3}}]}

    def admitted(cluster: Cluster) -> tuple[int, set[str]]:
        writer = cluster.token(["api:write"], subject="dana")
        answers = [cluster.rpc("execute", {"capability": "write_operation"}, token=writer) for _ in range(12)]
        return sum(a.status_code == 200 for a in answers), {a.headers["x-upstream"] for a in answers}

    with Cluster(2, config=config, shared=False, in_process=True) as cluster:
        assert cluster.redis_url is None and cluster.services == []
        in_memory, upstreams = admitted(cluster)
    with Cluster(2, config=config, database=False, in_process=True) as cluster:
        in_redis, _ = admitted(cluster)
    assert (in_memory, len(upstreams), in_redis) == (6, 2, 3)
