"""Bounded caches and single-flight: what keeps validation fast without growing without bound."""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["CacheLimits", "SharedVerdicts", "SingleFlight", "TTLCache", "fingerprint_of", "token_key"]

_V = TypeVar("_V")


_sha256 = hashlib.sha256


def token_key(token: str) -> bytes:
    """The one hash of a token: its SHA-256 digest (caches, stores and fingerprints never hold the token)."""
    return _sha256(token.encode("utf-8", "surrogatepass")).digest()


def fingerprint_of(key: bytes) -> str:
    """The short fingerprint logs show for a token, from its ``token_key``: the first 12 hex digits."""
    return key.hex()[:12]


@dataclass(frozen=True)
class CacheLimits:
    """How long a validator remembers a verdict (seconds; 0: never) and how many it keeps."""

    ttl: float = 300
    max_size: int = 10_000


class SharedVerdicts(Protocol):
    """Introspection answers shared by replicas (``labkit.state.verdicts.RedisVerdicts``), keyed by a token hash.

    ``claim`` elects the one caller that asks the provider; the others ``wait`` for its answer. Every method
    degrades to "not cached" or "ask yourself" when the store is down, so the provider still decides.
    """

    async def get(self, key: str) -> tuple[dict[str, Any], float] | None:
        """The cached claims and the time they expire at, or None."""
        ...

    async def put(self, key: str, claims: dict[str, Any], expires_at: float, max_size: int) -> None:
        """Remember ``claims`` until ``expires_at`` (at most ``max_size`` entries in ``key``'s namespace)."""
        ...

    async def claim(self, key: str, seconds: float) -> str | None:
        """A lease id when this caller is the one to ask the provider for ``seconds``; None if another is."""
        ...

    async def release(self, key: str, lease: str) -> None:
        """Give back the lease ``claim`` returned."""
        ...

    async def wait(self, key: str, seconds: float) -> tuple[dict[str, Any], float] | None:
        """The answer another caller is fetching, once cached; None when it gave up or ``seconds`` passed."""
        ...


class TTLCache(Generic[_V]):
    """An LRU map whose entries expire at their own time; at most ``max_size`` entries."""

    def __init__(self, max_size: int, clock: Callable[[], float]) -> None:
        self.max_size = max_size
        self._clock = clock
        self._data: OrderedDict[Hashable, tuple[float, _V]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> _V | None:
        """The live value for ``key`` (refreshing its LRU place), or None."""
        entry = self._data.get(key)
        if entry is not None:
            if self._clock() < entry[0]:  # never an expired entry: the clock is read on every hit
                self._data.move_to_end(key)
                self.hits += 1
                return entry[1]
            self._data.pop(key, None)
        self.misses += 1
        return None

    def put(self, key: Hashable, value: _V, expires_at: float) -> None:
        """Remember ``value`` until ``expires_at``; evicts the least recently used beyond ``max_size``."""
        if expires_at <= self._clock() or self.max_size <= 0:
            return
        self._data[key] = (expires_at, value)
        self._data.move_to_end(key)
        while len(self._data) > self.max_size:
            self._data.popitem(last=False)

    def discard(self, key: Hashable) -> None:
        """Forget ``key``."""
        self._data.pop(key, None)

    def clear(self) -> None:
        """Forget everything."""
        self._data.clear()

    def __len__(self) -> int:
        return len(self._data)


class SingleFlight(Generic[_V]):
    """Concurrent callers asking for the same key share one in-flight call (per event loop)."""

    def __init__(self) -> None:
        self._inflight: dict[tuple[int, Hashable], asyncio.Future[_V]] = {}

    def busy(self, key: Hashable) -> bool:
        """True while a call for ``key`` is in flight in the running loop."""
        return (id(asyncio.get_running_loop()), key) in self._inflight

    async def run(self, key: Hashable, call: Callable[[], Awaitable[_V]]) -> _V:
        """Await ``call()`` once for all concurrent callers of ``key``; they all see its result or error."""
        slot = (id(asyncio.get_running_loop()), key)
        pending = self._inflight.get(slot)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_V] = asyncio.get_running_loop().create_future()
        self._inflight[slot] = future
        try:
            result = await call()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: no "exception was never retrieved" warning
            raise
        else:
            future.set_result(result)
            return result
        finally:
            del self._inflight[slot]
