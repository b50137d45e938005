"""``state:`` config checks, the in-memory backends, the push signing key file and the SQLite task store."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from labkit.a2a.push import AgentSigner, load_signing_key
from labkit.config import ConfigError, validate_security_config
from labkit.state import MemoryQuota, MemoryReplayCache, SharedState
from labkit.state.redis import rate_item

BASE: dict[str, Any] = {"security": {"oauth2": {"validation_strategy": "jwt", "jwt_secret": "s" * 40}}}


def errors_of(state: Any) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        validate_security_config({**BASE, "state": state})
    return info.value.errors


@pytest.mark.parametrize(("state", "path", "words"), [
    ({"redis_url": "http://127.0.0.1:6379"}, "state.redis_url", "scheme 'http'"),
    ({"redis_url": "redis://127.0.0.1:99999"}, "state.redis_url", "not a URL"),
    ({"database_url": "postgresql://u@h/db"}, "state.database_url", "postgresql+asyncpg"),
    ({"database_url": "postgresql+asyncpg://u@h"}, "state.database_url", "database name"),
    ({"database_url": "sqlite+aiosqlite://host/x.db"}, "state.database_url", "three slashes"),
    ({"push_signing_key": "/no/such/key.pem"}, "state.push_signing_key", "no such file"),
    ({"push_previous_keys": ["/no/such"]}, "state.push_previous_keys[0]", "no such file"),
    ({"redis_ulr": "redis://x"}, "state.redis_ulr", "did you mean 'redis_url'"),
    ({"key_prefix": "a b"}, "state.key_prefix", ""),
    ("redis://x", "state", "mapping"),
])
def test_state_errors_name_their_path(state: Any, path: str, words: str) -> None:
    errors = errors_of(state)
    assert any(where == path and words in message for where, message in errors), errors


def test_state_defaults_to_memory_and_secrets_stay_out_of_repr() -> None:
    assert not validate_security_config(BASE).state.shared
    cfg = validate_security_config({**BASE, "state": {"redis_url": "redis://:hunter2@127.0.0.1:6379/0",
                                                      "database_url": "sqlite+aiosqlite:///agent.db"}})
    assert cfg.state.shared and cfg.state.stateless_mcp
    assert "hunter2" not in repr(cfg.state)


def test_memory_quota_and_replay_cache() -> None:
    async def scenario() -> None:
        quota = MemoryQuota()
        slots = [await quota.reserve("tasks", "alice", 2) for _ in range(3)]
        assert slots[0] and slots[1] and slots[2] is None
        assert await quota.reserve("tasks", "bob", 2)  # per owner
        await quota.release("tasks", "alice", slots[0] or "")
        assert await quota.claim("tasks", "alice", "t1", 2)
        assert not await quota.claim("tasks", "alice", "t2", 2)  # t1 + one slot
        assert await quota.claim("tasks", "alice", "t1", 2)  # held already
        now = [1000.0]
        replay = MemoryReplayCache(lambda: now[0])
        assert await replay.first_use("jti-1", 1010)
        assert not await replay.first_use("jti-1", 1010)
        now[0] = 1011
        assert await replay.first_use("jti-1", 1020)  # expired: the token is refused by exp anyway

    asyncio.run(scenario())


def test_rate_item_admits_the_burst_per_window() -> None:
    item = rate_item(60, None)
    assert (item.amount, item.get_expiry()) == (60, 60)
    item = rate_item(60, 5)
    assert (item.amount, item.get_expiry()) == (5, 5)


def test_signing_key_files(tmp_path: Path) -> None:
    key = ECKey.generate_key("P-256")
    pem, jwk = tmp_path / "k.pem", tmp_path / "k.json"
    pem.write_bytes(key.as_pem(private=True))
    jwk.write_text(json.dumps(key.as_dict(private=True)))
    a, b = load_signing_key(pem), load_signing_key(jwk)
    assert a.kid == b.kid and a.kid
    public = tmp_path / "pub.pem"
    public.write_bytes(key.as_pem(private=False))
    signer = AgentSigner("https://agent", key=a, previous=(load_signing_key(public, private=False),))
    assert len(signer.jwks()["keys"]) == 2 and all("d" not in k for k in signer.jwks()["keys"])
    for bad, words in ((tmp_path / "none", "cannot read"), (public, "public key")):
        with pytest.raises(ValueError, match=words):
            load_signing_key(bad)
    rsa = tmp_path / "rsa.pem"
    rsa.write_bytes(RSAKey.generate_key(2048).as_pem(private=True))
    garbage = tmp_path / "g.pem"
    garbage.write_bytes(b"\xff\x00 not a key")
    for path in (rsa, garbage):
        with pytest.raises(ValueError, match=r"EC key|P-256"):
            load_signing_key(path)


def test_a_bad_signing_key_is_a_config_error(tmp_path: Path) -> None:
    from sample_agent import create_app

    bad = tmp_path / "bad.pem"
    bad.write_text("nope")
    cfg = validate_security_config({**BASE, "state": {"push_signing_key": str(bad)}})
    with pytest.raises(ConfigError) as info:
        create_app(cfg)
    assert info.value.errors[0][0] == "state.push_signing_key"


def test_sqlite_task_store_keeps_owners_apart(tmp_path: Path) -> None:
    from a2a.server.context import ServerCallContext
    from a2a.types import Task

    from sample_agent.quotas import CountingTaskStore

    def context(name: str) -> ServerCallContext:
        from a2a.auth.user import User

        class Named(User):
            @property
            def is_authenticated(self) -> bool:
                return True

            @property
            def user_name(self) -> str:
                return name

        return ServerCallContext(user=Named())

    async def scenario() -> None:
        state = SharedState(validate_security_config(
            {**BASE, "state": {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"}}).state)
        await state.start()
        assert state.sql is not None
        store = CountingTaskStore(state.sql.tasks, cap=1, quota=state.quota)
        slot = await store.reserve("alice")
        assert slot and await store.reserve("alice") is None
        await store.save(Task(id="t1", context_id="c1"), context("alice"))
        await store.release("alice", slot)
        assert await store.reserve("alice") is None  # one task owned: at the cap
        assert (await store.get("t1", context("alice"))) is not None
        assert await store.get("t1", context("bob")) is None
        await state.aclose()

    asyncio.run(scenario())


# -- the introspection cache in Redis (a real redis-server and the real provider) -------------------------------

class Stage:
    """A redis-server, the provider on loopback, and validators that stand for replicas sharing the Redis."""

    def __init__(self, folder: Path) -> None:
        from labkit.cluster.services import start_redis
        from labkit.provider import MockProvider
        from labkit.servers import ServerThread

        self.now = 1_700_000_000.0
        self.redis = start_redis(folder / "redis")
        self.provider = MockProvider(clock=self.clock)
        self.server = ServerThread(self.provider.app, name="provider")
        self.provider.base_url = self.server.url
        self.server.start()

    def clock(self) -> float:
        return self.now

    def replica(self, *, ttl: int = 60, max_size: int = 100, tenant: str | None = None) -> Any:
        """One replica's validator, with its own Redis client (as a separate process would have)."""
        import redis.asyncio as aioredis

        from labkit.auth import build_validator
        from labkit.state.verdicts import RedisVerdicts

        cfg = validate_security_config({"security": {"oauth2": {
            "validation_strategy": "introspection", "introspection_endpoint": f"{self.server.url}/introspect",
            "client_id": "lab-agent", "client_secret": "lab-agent-secret", "introspection_cache_ttl": ttl,
            "max_cache_size": max_size}}}, env={})
        shared = RedisVerdicts(aioredis.Redis.from_url(f"redis://127.0.0.1:{self.redis.port}/0"), "t", self.clock)
        return build_validator(cfg.oauth2, clock=self.clock, tenant=tenant, shared=shared)

    def token(self, subject: str = "alice", lifetime: int = 3600) -> str:
        return self.provider.mint(["api:read"], subject=subject, opaque=True, lifetime=lifetime)

    def revoke(self, token: str) -> None:
        import httpx

        answer = httpx.post(f"{self.server.url}/revoke", data={"token": token},
                            auth=("lab-client", "lab-client-secret"))
        assert answer.status_code == 200

    @property
    def introspections(self) -> int:
        return self.provider.calls["introspect"]

    def close(self) -> None:
        self.server.stop()
        self.redis.stop()


@pytest.fixture
def stage(tmp_path: Path) -> Any:
    from labkit.cluster.services import MissingServiceError, find_program

    try:
        find_program("redis-server")
    except MissingServiceError as exc:
        pytest.skip(str(exc))
    running = Stage(tmp_path)
    yield running
    running.close()


async def verdict(validator: Any, token: str) -> str:
    from labkit.errors import AuthError

    try:
        return (await validator.validate(token)).subject or ""
    except AuthError as exc:
        return exc.reason.value


async def close_all(*validators: Any) -> None:
    for validator in validators:
        await validator.shared.client.aclose()
        await validator.aclose()


@pytest.mark.integration
def test_an_answer_fetched_by_one_replica_is_a_hit_on_the_others_and_revocation_holds_after_the_ttl(
        stage: Stage) -> None:
    async def scenario() -> None:
        a, b, c = (stage.replica(ttl=30) for _ in range(3))
        token = stage.token()
        assert [await verdict(v, token) for v in (a, b, c, b, a)] == ["alice"] * 5
        assert stage.introspections == 1 and (a.call_count, b.call_count, c.call_count) == (1, 0, 0)
        stage.revoke(token)
        assert await verdict(c, token) == "alice"  # cached: the TTL is the revocation delay
        stage.now += 30
        assert [await verdict(v, token) for v in (a, b, c)] == ["inactive"] * 3  # on every replica
        await close_all(a, b, c)

    asyncio.run(scenario())


@pytest.mark.integration
def test_a_burst_across_replicas_makes_one_provider_call(stage: Stage) -> None:
    async def scenario() -> None:
        replicas = [stage.replica() for _ in range(3)]
        token = stage.token("bob")
        answers = await asyncio.gather(*(verdict(replicas[i % 3], token) for i in range(30)))
        assert answers == ["bob"] * 30
        assert stage.introspections == 1
        # an inactive answer is never cached: each replica asks once, however large the burst
        bogus = "not-a-token-" + "x" * 20
        answers = await asyncio.gather(*(verdict(replicas[i % 3], bogus) for i in range(30)))
        assert answers == ["inactive"] * 30 and stage.introspections == 1 + 3
        await close_all(*replicas)

    asyncio.run(scenario())


@pytest.mark.integration
def test_a_replica_that_wins_the_lease_after_another_shared_its_answer_asks_no_one(stage: Stage) -> None:
    async def scenario() -> None:
        first, late = stage.replica(), stage.replica()
        token = stage.token("dora")
        claim = late.shared.claim

        async def after_first(key: str, seconds: float) -> str | None:
            # the interleaving a burst through nginx produced: `late` missed, then `first` asked, shared and let go
            assert await verdict(first, token) == "dora"
            return await claim(key, seconds)

        late.shared.claim = after_first
        assert await verdict(late, token) == "dora"
        assert stage.introspections == 1 and (first.call_count, late.call_count) == (1, 0)
        await close_all(first, late)

    asyncio.run(scenario())


@pytest.mark.integration
def test_shared_entries_hold_no_token_expire_with_it_and_stay_bounded(stage: Stage) -> None:
    import redis

    tokens = [stage.token(f"user{i}", lifetime=20) for i in range(6)]

    async def scenario() -> None:
        short = stage.replica(ttl=300, max_size=3)
        for token in tokens:
            assert (await verdict(short, token)).startswith("user")
        other_tenant = stage.replica(tenant="acme")
        assert await verdict(other_tenant, tokens[-1]) == "user5"  # its own namespace: asked again
        assert stage.introspections == 7
        await close_all(short, other_tenant)

    asyncio.run(scenario())
    client = redis.Redis(port=stage.redis.port)
    keys = client.keys("t:introspect:*")
    entries = [k for k in keys if not k.endswith((b":index", b":lease"))]
    assert len(entries) == 4  # 3 (bounded) + the other tenant's 1
    dump = b" ".join([*keys, *(client.get(k) or b"" for k in entries)])
    assert not any(t.encode() in dump for t in tokens)  # keyed by the token's hash; the token is nowhere
    # TTL = min(configured 300 s, the token's 20 s left); the provider's clock is frozen, Redis counts real time
    assert all(0 < client.pttl(k) <= 20_000 for k in entries)
    client.close()


@pytest.mark.integration
def test_without_redis_every_replica_asks_the_provider(stage: Stage) -> None:
    async def scenario() -> None:
        a, b = stage.replica(), stage.replica()
        stage.redis.stop()
        token = stage.token("carol")
        assert [await verdict(a, token), await verdict(b, token), await verdict(a, token)] == ["carol"] * 3
        assert stage.introspections == 2  # each process's own cache still works
        await a.aclose()
        await b.aclose()

    asyncio.run(scenario())
