"""Shared state behind small protocols: in memory by default, Redis and a SQL database for replicas.

``SharedState(cfg.state, clock=...)`` builds the backends the ``state:`` section names; ``await start()`` creates
the SQL tables and ``await aclose()`` closes them. Inside: ``protocols`` (``Limiter``, ``ReplayCache``,
``ResultStore``, ``Quota``), ``memory``, ``redis`` (rate limits on the ``limits`` library, Lua check-and-take for
quotas) and ``sql`` (the a2a-sdk's own stores). ``verdicts`` is the introspection cache replicas share
(``RedisVerdicts``; None in memory: each validator keeps its own). The verified-JWT cache is not here: it stays per
process (a hit costs about a microsecond, a Redis round trip a hundred times that, and a JWT's verdict never changes
before it expires).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..auth.cache import SharedVerdicts
from ..config import StateConfig
from .memory import MemoryLimiter, MemoryQuota, MemoryReplayCache, MemoryResultStore
from .protocols import Limiter, Quota, ReplayCache, ResultStore, StateUnavailableError
from .sql import SqlStores, StorageError, open_sql_stores

__all__ = [
    "Limiter",
    "MemoryLimiter",
    "MemoryQuota",
    "MemoryReplayCache",
    "MemoryResultStore",
    "Quota",
    "ReplayCache",
    "ResultStore",
    "SharedState",
    "SharedVerdicts",
    "SqlStores",
    "StateUnavailableError",
    "StorageError",
    "open_sql_stores",
]


class SharedState:
    """The backends of one agent process, chosen by ``state:`` (in memory when it is empty)."""

    def __init__(self, config: StateConfig | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self.config = config or StateConfig()
        self.clock = clock
        self.redis: Any = None
        if self.config.redis_url is not None:
            import redis.asyncio as aioredis

            from .redis import RedisQuota, RedisReplayCache
            from .verdicts import RedisVerdicts

            # a blocking pool: a burst beyond max_connections waits for a connection (a plain pool raises
            # MaxConnectionsError at once, and every limit fails closed: 429s and refused tasks under load)
            pool = aioredis.BlockingConnectionPool.from_url(
                self.config.redis_url, max_connections=self.config.redis_max_connections, timeout=5,
                socket_timeout=5, socket_connect_timeout=5)
            self.redis = aioredis.Redis(connection_pool=pool)
            self.quota: Quota = RedisQuota(self.redis, self.config.key_prefix, clock)
            self.replay: ReplayCache = RedisReplayCache(self.redis, self.config.key_prefix, clock)
            self.verdicts: SharedVerdicts | None = RedisVerdicts(self.redis, self.config.key_prefix, clock)
        else:
            self.quota = MemoryQuota()
            self.replay = MemoryReplayCache(clock)
            self.verdicts = None
        self.sql: SqlStores | None = (open_sql_stores(self.config.database_url, self.config.database_pool_size)
                                      if self.config.database_url is not None else None)

    @property
    def shared(self) -> bool:
        """True when limits, caches and quotas live in Redis."""
        return self.redis is not None

    def limiter(self, name: str, requests_per_minute: int, burst: int | None, local: Any) -> Limiter:
        """The rate limit named ``name``: in Redis when shared, else ``local`` (an in-process ``RateLimiter``)."""
        if self.redis is None:
            return MemoryLimiter(local)
        from .redis import RedisLimiter, rate_item

        assert self.config.redis_url is not None  # noqa: S101 - set with self.redis
        return RedisLimiter(self.config.redis_url, rate_item(requests_per_minute, burst),
                            prefix=self.config.key_prefix, name=name, pool=self.redis.connection_pool)

    def results(self, max_size: int) -> ResultStore:
        """A capability result store: in Redis when shared, else a bounded in-process cache."""
        if self.redis is None:
            return MemoryResultStore(self.clock, max_size)
        from .redis import RedisResultStore

        return RedisResultStore(self.redis, self.config.key_prefix)

    async def start(self) -> None:
        """Create the SQL tables when a database is configured."""
        if self.sql is not None:
            await self.sql.initialize()

    async def aclose(self) -> None:
        """Close the Redis connections and the database pool."""
        if self.redis is not None:
            await self.redis.aclose(close_connection_pool=True)  # the pool is ours (the limiters borrow it)
        if self.sql is not None:
            await self.sql.aclose()
