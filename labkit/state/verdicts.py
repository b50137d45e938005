"""The introspection cache in Redis: one provider call per token per TTL across every replica.

Keys are ``{prefix}:introspect:{namespace}:{sha256 of the token}`` (never the token); values are the active
answer's claims and their expiry as JSON, with a Redis TTL at that expiry. Each namespace (one validator: its
endpoint, client and tenant) keeps at most ``max_size`` entries: a sorted set by expiry drops the soonest to expire.
A lease (``SET NX PX``) elects the replica that asks the provider while the others poll for its answer.
Redis down: a miss, and every replica asks the provider itself (the provider still decides; nothing fails open).
Redis is trusted like the database: whoever can write to it can admit a token, so give it a password or ACL
(and ``rediss://`` off the machine); a value that does not parse, or has expired by our clock, is a miss.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import secrets
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

__all__ = ["MAX_ENTRY_BYTES", "POLL_SECONDS", "RedisVerdicts"]

_log = logging.getLogger("labkit.state")
MAX_ENTRY_BYTES = 64 * 1024  # a larger answer is not shared (each replica keeps its own per-process copy)
POLL_SECONDS = 0.01  # how often a waiting replica looks for the elected one's answer

# KEYS: entry, index. ARGV: value, ttl ms, expires at, now, max size. The evicted entries are named by the index
# (one Redis, not Redis Cluster: their slots may differ).
_PUT = """
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], KEYS[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  local old = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #old, 2 do redis.call('DEL', old[i]) end
end
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[2], ARGV[2]) end
return 1
"""
# KEYS: lease. ARGV: lease id. Delete only our own lease (one that outlived its PX may be another's now).
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisVerdicts:
    """``labkit.auth.cache.SharedVerdicts`` on Redis; raises nothing (a Redis failure is a miss)."""

    def __init__(self, client: aioredis.Redis, prefix: str, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.prefix = f"{prefix}:introspect"
        self.clock = clock
        self._put = client.register_script(_PUT)
        self._release = client.register_script(_RELEASE)

    def _entry(self, key: str) -> str:
        return f"{self.prefix}:{key}"

    def _index(self, key: str) -> str:
        namespace = key.rsplit(":", 1)[0] if ":" in key else "-"
        return f"{self.prefix}:{namespace}:index"

    def _decode(self, raw: bytes | str | None) -> tuple[dict[str, Any], float] | None:
        """A stored entry, or None when absent, expired by our clock or not ours (a miss, never an error)."""
        if raw is None:
            return None
        try:
            value = json.loads(raw)
            claims, expires_at = value["claims"], float(value["expires_at"])
        except (ValueError, TypeError, KeyError):
            return None
        if not isinstance(claims, dict) or not math.isfinite(expires_at) or expires_at <= self.clock():
            return None
        return claims, expires_at

    async def get(self, key: str) -> tuple[dict[str, Any], float] | None:
        """The cached claims and their expiry, or None (also when Redis does not answer)."""
        try:
            return self._decode(await self.client.get(self._entry(key)))
        except RedisError as exc:
            _log.warning("introspection cache: Redis unavailable (%s); asking the provider", exc.__class__.__name__)
            return None

    async def put(self, key: str, claims: dict[str, Any], expires_at: float, max_size: int) -> None:
        """Share ``claims`` until ``expires_at`` (skipped when too large, already expired or Redis is down)."""
        now = self.clock()
        ttl_ms = math.floor((expires_at - now) * 1000)
        value = json.dumps({"claims": claims, "expires_at": expires_at}, separators=(",", ":"), default=str)
        if ttl_ms <= 0 or max_size <= 0 or len(value) > MAX_ENTRY_BYTES:
            return
        try:
            await self._put(keys=[self._entry(key), self._index(key)], args=[value, ttl_ms, expires_at, now, max_size])
        except RedisError as exc:
            _log.warning("introspection cache: Redis unavailable (%s); not shared", exc.__class__.__name__)

    async def claim(self, key: str, seconds: float) -> str | None:
        """A lease id when no other replica is asking about ``key`` (or Redis is down: ask anyway)."""
        lease = secrets.token_hex(8)
        try:
            taken = await self.client.set(self._entry(key) + ":lease", lease, nx=True,
                                          px=max(1, math.ceil(seconds * 1000)))
        except RedisError:
            return lease
        return lease if taken else None

    async def release(self, key: str, lease: str) -> None:
        """Give back the lease (it lapses by itself if this fails)."""
        try:
            await self._release(keys=[self._entry(key) + ":lease"], args=[lease])
        except RedisError:
            return

    async def wait(self, key: str, seconds: float) -> tuple[dict[str, Any], float] | None:
        """Poll until the elected replica's answer is cached or it gave up (no lease), for at most ``seconds``."""
        entry, lease = self._entry(key), self._entry(key) + ":lease"
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                raw, pending = await self.client.mget(entry, lease)
            except RedisError:
                return None
            found = self._decode(raw)
            if found is not None or pending is None:
                return found
            await asyncio.sleep(POLL_SECONDS)
        return None
