"""In-memory state for one process: the lab's default (deterministic under an injected clock)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Hashable
from typing import Any

from ..auth.cache import TTLCache
from .protocols import StateUnavailableError
from .spent import SpentIds, SpentIdsFullError

__all__ = ["MemoryLimiter", "MemoryQuota", "MemoryReplayCache", "MemoryResultStore"]


class MemoryLimiter:
    """The awaitable face of a synchronous limiter (``labkit.middleware.RateLimiter``)."""

    def __init__(self, limiter: Any) -> None:
        self.limiter = limiter

    async def acquire(self, key: Hashable) -> float | None:
        """Take one unit; None when admitted, else seconds to wait."""
        wait: float | None = self.limiter.acquire(key)
        return wait


class MemoryReplayCache:
    """One-time identifiers, each kept until its own expiry (``SpentIds``): when ``max_size`` live ones are held a
    new one is refused (``StateUnavailableError``), never a live one forgotten early."""

    def __init__(self, clock: Callable[[], float] = time.time, max_size: int = 100_000) -> None:
        self._seen = SpentIds(clock, capacity=max_size, what="one-time identifier")

    async def first_use(self, key: str, expires_at: float) -> bool:
        """True the first time ``key`` is seen before it expires; raises ``StateUnavailableError`` when full."""
        try:
            return self._seen.claim(key, expires_at)
        except SpentIdsFullError as full:
            # RFC 9449 §11.1 / one-time ids: a full cache refuses, it never evicts a live entry
            raise StateUnavailableError(str(full.description)) from None


class MemoryResultStore:
    """Results in a bounded TTL cache."""

    def __init__(self, clock: Callable[[], float] = time.time, max_size: int = 10_000) -> None:
        self.clock = clock
        self._cache: TTLCache[Any] = TTLCache(max_size, clock)

    async def get(self, key: str) -> Any:
        """The live value or None."""
        return self._cache.get(key)

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Remember ``value`` for ``ttl`` seconds."""
        self._cache.put(key, value, self.clock() + ttl)

    @property
    def hits(self) -> int:
        """How many lookups found a live entry."""
        return self._cache.hits

    def __len__(self) -> int:
        return len(self._cache)


class MemoryQuota:
    """Per-owner member sets and pending slots in this process (a lock makes check-and-take one step)."""

    def __init__(self) -> None:
        self._members: dict[tuple[str, str], set[str]] = {}
        self._slots: dict[tuple[str, str], set[str]] = {}
        self._lock = threading.Lock()

    def count(self, space: str, owner: str) -> int:
        """Members plus pending slots of ``owner``."""
        return len(self._members.get((space, owner), ())) + len(self._slots.get((space, owner), ()))

    async def reserve(self, space: str, owner: str, cap: int) -> str | None:
        """A slot id, or None at the cap."""
        with self._lock:
            if self.count(space, owner) >= cap:
                return None
            slot = secrets.token_hex(8)
            self._slots.setdefault((space, owner), set()).add(slot)
            return slot

    async def release(self, space: str, owner: str, slot: str) -> None:
        """Give back a slot."""
        with self._lock:
            slots = self._slots.get((space, owner))
            if slots is not None:
                slots.discard(slot)
                if not slots:
                    del self._slots[(space, owner)]

    async def claim(self, space: str, owner: str, member: str, cap: int) -> bool:
        """Add ``member`` unless at the cap."""
        with self._lock:
            members = self._members.setdefault((space, owner), set())
            if member in members:
                return True
            if self.count(space, owner) >= cap:
                return False
            members.add(member)
            return True

    async def discard(self, space: str, owner: str, member: str) -> None:
        """Forget ``member``."""
        with self._lock:
            self._members.get((space, owner), set()).discard(member)
