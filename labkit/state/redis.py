"""Redis state for replicas: rate limits (the ``limits`` library's moving window), replay and result caches,
per-owner quotas. Every check-and-take is one Redis command or one Lua script, so replicas cannot race past a cap.

Fail closed: when Redis does not answer, a rate limit refuses (429), a replay check refuses, a quota raises
``StateUnavailableError`` (the agent answers -32603 "state unavailable", never "quota reached");
only the result cache degrades to a miss. Raises nothing else to the caller but ``ImportError`` at construction
when the ``redis`` extra is missing.
"""

from __future__ import annotations

import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from limits import RateLimitItemPerSecond
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.exceptions import RedisError

from .protocols import StateUnavailableError

__all__ = ["RedisLimiter", "RedisQuota", "RedisReplayCache", "RedisResultStore", "rate_item"]

_log = logging.getLogger("labkit.state")
_SLOT_LIFETIME = 300.0  # seconds a pending slot lives if its replica dies before releasing it

# KEYS: members, slots. ARGV: now, cap, slot, slot expiry.
_RESERVE = """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('SCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[4]) - tonumber(ARGV[1])) + 1)
return 1
"""
# KEYS: members, slots. ARGV: now, cap, member.
_CLAIM = """
if redis.call('SISMEMBER', KEYS[1], ARGV[3]) == 1 then return 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
if redis.call('SCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[2]) then return 0 end
redis.call('SADD', KEYS[1], ARGV[3])
return 1
"""


def rate_item(requests_per_minute: int, burst: int | None) -> RateLimitItemPerSecond:
    """The moving window that admits exactly ``burst`` (default: the per-minute rate) per ``60*burst/rate`` s."""
    amount = int(burst or requests_per_minute)
    seconds = max(1, math.ceil(60 * amount / requests_per_minute)) if requests_per_minute > 0 else 86_400
    return RateLimitItemPerSecond(amount, seconds)


class RedisLimiter:
    """A moving-window rate limit shared by every replica (exact budget: Redis decides each hit atomically)."""

    def __init__(self, url: str, item: RateLimitItemPerSecond, *, prefix: str, name: str,
                 pool: aioredis.ConnectionPool | None = None) -> None:
        self.item = item
        self.name = name
        options: dict[str, Any] = {} if pool is None else {"connection_pool": pool}  # the replica's one pool
        self.storage = RedisStorage("async+" + url, key_prefix=f"{prefix}:limits", implementation="redispy",
                                    **options)
        self.strategy = MovingWindowRateLimiter(self.storage)

    async def acquire(self, key: str) -> float | None:
        """None when admitted, else seconds until the window admits again.

        Raises ``StateUnavailableError`` when Redis does not answer (fail closed: never admitted).
        """
        try:
            if await self.strategy.hit(self.item, self.name, key):
                return None
            stats = await self.strategy.get_window_stats(self.item, self.name, key)
        except Exception as exc:  # the limits library wraps its driver's errors in its own types
            _log.warning("rate limit %s: Redis unavailable (%s); refusing", self.name, exc.__class__.__name__)
            raise StateUnavailableError(f"the rate limit store did not answer ({exc.__class__.__name__})") from None
        return max(1.0, stats.reset_time - time.time())


class _RedisBase:
    def __init__(self, client: aioredis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix


class RedisReplayCache(_RedisBase):
    """One-time identifiers: ``SET key 1 NX PXAT expiry`` (the first writer wins, on every replica)."""

    def __init__(self, client: aioredis.Redis, prefix: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, prefix)
        self.clock = clock

    async def aclose(self) -> None:
        """Close the Redis client (for a receiver that owns it)."""
        await self.client.aclose()

    async def first_use(self, key: str, expires_at: float) -> bool:
        """True the first time; False for a replay, or when Redis does not answer (fail closed)."""
        ttl_ms = max(1, math.ceil((expires_at - self.clock()) * 1000))
        try:
            return bool(await self.client.set(f"{self.prefix}:replay:{key}", b"1", nx=True, px=ttl_ms))
        except RedisError as exc:
            _log.warning("replay cache: Redis unavailable (%s); refusing", exc.__class__.__name__)
            return False


class RedisResultStore(_RedisBase):
    """Capability results as JSON with a Redis TTL; a Redis failure is a miss (the capability just runs)."""

    async def get(self, key: str) -> Any:
        """The cached value or None."""
        try:
            raw = await self.client.get(f"{self.prefix}:result:{key}")
        except RedisError:
            return None
        return None if raw is None else json.loads(raw)

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Remember ``value`` (JSON) for ``ttl`` seconds."""
        try:
            await self.client.set(f"{self.prefix}:result:{key}", json.dumps(value, default=str),
                                  px=max(1, int(ttl * 1000)))
        except RedisError:
            return


class RedisQuota(_RedisBase):
    """Per-owner member sets and pending slots (a sorted set by expiry, so a dead replica's slots lapse)."""

    def __init__(self, client: aioredis.Redis, prefix: str, clock: Callable[[], float] = time.time) -> None:
        super().__init__(client, prefix)
        self.clock = clock
        self._reserve = client.register_script(_RESERVE)
        self._claim = client.register_script(_CLAIM)

    def _keys(self, space: str, owner: str) -> list[str]:
        base = f"{self.prefix}:quota:{space}:{owner}"
        return [base + ":members", base + ":slots"]

    async def reserve(self, space: str, owner: str, cap: int) -> str | None:
        """A slot id, or None at the cap; raises ``StateUnavailableError`` without Redis (fail closed, said so)."""
        slot, now = secrets.token_hex(8), self.clock()
        try:
            taken = await self._reserve(keys=self._keys(space, owner), args=[now, cap, slot, now + _SLOT_LIFETIME])
        except RedisError as exc:
            _log.warning("quota %s: Redis unavailable (%s); refusing", space, exc.__class__.__name__)
            raise StateUnavailableError from None
        return slot if taken else None

    async def release(self, space: str, owner: str, slot: str) -> None:
        """Give back a slot (it lapses by itself if this fails)."""
        try:
            await self.client.zrem(self._keys(space, owner)[1], slot)
        except RedisError:
            return

    async def claim(self, space: str, owner: str, member: str, cap: int) -> bool:
        """Add ``member`` unless at the cap; raises ``StateUnavailableError`` without Redis."""
        try:
            return bool(await self._claim(keys=self._keys(space, owner), args=[self.clock(), cap, member]))
        except RedisError as exc:
            _log.warning("quota %s: Redis unavailable (%s); refusing", space, exc.__class__.__name__)
            raise StateUnavailableError from None

    async def discard(self, space: str, owner: str, member: str) -> None:
        """Forget ``member``."""
        try:
            await self.client.srem(self._keys(space, owner)[0], member)
        except RedisError:
            return
