"""The small protocols every state backend implements: in memory (one process) or in Redis (replicas).

All are awaitable so one call site serves both; none ever holds a token (keys are hashes or owner keys).
"""

from __future__ import annotations

from typing import Any, Protocol

from .. import rpc
from ..errors import LabkitError

__all__ = ["Limiter", "Quota", "ReplayCache", "ResultStore", "StateUnavailableError"]


class StateUnavailableError(LabkitError, RuntimeError):
    """The shared state (Redis quotas, the SQL task and push stores) did not answer: the request is refused as
    "state unavailable", never reported as a quota reached or a limit hit; the cause goes to the log only.

    The client's answer is one JSON-RPC error, ``answer(rpc_id)``: -32603 with a generic message, in-band with
    HTTP 200 like every error the a2a-sdk answers (a failure inside the SDK's stores cannot choose its status).
    """

    CODE = -32603
    MESSAGE = "state unavailable; try again shortly"

    def __init__(self, detail: str | None = None) -> None:
        # ``detail`` (for the log and the audit reason: the guard's callers) is never in ``answer``; stores the
        # a2a-sdk calls raise without one, since the SDK quotes an exception's text to its client
        self.detail = detail
        super().__init__(f"{self.MESSAGE} ({detail})" if detail else self.MESSAGE)

    @classmethod
    def answer(cls, rpc_id: rpc.RpcId) -> dict[str, Any]:
        """The JSON-RPC 2.0 error response for the request ``rpc_id``."""
        return rpc.error(rpc_id, cls.CODE, cls.MESSAGE)


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
