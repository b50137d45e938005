"""The small protocols every state backend implements: in memory (one process) or in Redis (replicas).

All are awaitable so one call site serves both; none ever holds a token (keys are hashes or owner keys).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Limiter", "Quota", "ReplayCache", "ResultStore", "StateUnavailableError"]


class StateUnavailableError(RuntimeError):
    """The shared state (Redis) did not answer: the request is refused as "state unavailable" (503), never
    reported as a quota reached or a limit hit."""


class Limiter(Protocol):
    """A rate limit per key; ``acquire`` answers None when admitted, else the seconds to wait."""

    async def acquire(self, key: str) -> float | None:
        """Take one unit of ``key``'s budget."""
        ...


class ReplayCache(Protocol):
    """Remembers one-time identifiers (a webhook ``jti``) until they expire."""

    async def first_use(self, key: str, expires_at: float) -> bool:
        """True the first time ``key`` is seen (and remember it until ``expires_at``); False for a replay."""
        ...


class ResultStore(Protocol):
    """Capability results by key (the key names the principal: never shared between users)."""

    async def get(self, key: str) -> Any:
        """The cached JSON value, or None."""
        ...

    async def put(self, key: str, value: Any, ttl: float) -> None:
        """Remember a JSON value for ``ttl`` seconds."""
        ...


class Quota(Protocol):
    """Per-owner sets with a cap, plus slots held while a request may add to them (check and take in one step)."""

    async def reserve(self, space: str, owner: str, cap: int) -> str | None:
        """A slot id when ``owner`` holds fewer than ``cap`` members and slots in ``space``; else None.

        Raises ``StateUnavailableError`` when the state cannot be read (fail closed, and said so).
        """
        ...

    async def release(self, space: str, owner: str, slot: str) -> None:
        """Give back a slot ``reserve`` took."""
        ...

    async def claim(self, space: str, owner: str, member: str, cap: int) -> bool:
        """Add ``member`` unless ``owner`` is at ``cap`` (a member already held is always True).

        Raises ``StateUnavailableError`` when the state cannot be read (fail closed, and said so).
        """
        ...

    async def discard(self, space: str, owner: str, member: str) -> None:
        """Forget ``member``."""
        ...
