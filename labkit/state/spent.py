"""One-time identifiers, the one home of every replay cache in this process: the provider's (client assertion
``jti``s, ID-JAG ``jti``s, DPoP proof ``jti``s at ``/token``) and the guard's (``labkit.auth.dpop.ReplayCache``,
``MemoryReplayCache``: DPoP proofs, webhook notifications).

A replay cache that forgets an identifier before its own lifetime ends lets a captured one be used again, so
``SpentIds`` is bounded by time, not by eviction: each entry is kept until the expiry its caller gives (the
assertion's ``exp``, the end of a proof's ``iat`` window), expired entries are dropped as time passes, and when
``capacity`` live entries are held a new claim is refused (``SpentIdsFullError``: the guard answers 503
``state_unavailable``, the provider's subclass 503 ``temporarily_unavailable``) rather than a live entry evicted.
Keys are stored as SHA-256 digests, never as sent.

One party must not fill the cache for everyone (open registration makes parties cheap): a claim may name its
``owner`` (the client that spent the id), and one owner holds at most ``owner_capacity`` live entries, so a client
flooding the cache with long-lived assertions is refused (503) alone. ``capacity`` stays above what the registration
quota's clients can hold together (100 registrations x 500 < 100,000).
"""

from __future__ import annotations

import hashlib
import heapq
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

__all__ = ["DEFAULT_CAPACITY", "DEFAULT_OWNER_CAPACITY", "SpentIds", "SpentIdsFullError"]

DEFAULT_CAPACITY = 100_000
DEFAULT_OWNER_CAPACITY = 500  # live ids of one owner (a client): 8 requests a second with 60-second assertions


class SpentIdsFullError(Exception):
    """Every slot of a one-time-id cache holds a live entry: refuse (503), never forget one early.

    ``description`` says which share is full. The provider raises its OAuth2 subclass (``SpentIds(full=...)``).
    """

    description: str = ""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class SpentIds:
    """Identifiers used once, each kept until its own expiry; at most ``capacity`` live ones (thread-safe)."""

    def __init__(self, clock: Callable[[], float], *, capacity: int = DEFAULT_CAPACITY,
                 owner_capacity: int = DEFAULT_OWNER_CAPACITY, what: str = "identifier",
                 full: type[SpentIdsFullError] = SpentIdsFullError) -> None:
        self.clock = clock
        self.full = full
        self.capacity = capacity
        self.owner_capacity = owner_capacity
        self.what = what
        self._until: dict[bytes, float] = {}
        self._owner: dict[bytes, str] = {}  # the owner of each owned live entry
        self._owned: Counter[str] = Counter()  # live entries per owner
        self._expiries: list[tuple[float, bytes]] = []  # a min-heap; stale pairs (released, re-claimed) skipped
        self._lock = threading.Lock()

    def _purge(self, now: float) -> None:
        while self._expiries and self._expiries[0][0] <= now:
            until, digest = heapq.heappop(self._expiries)
            if self._until.get(digest) == until:
                self._forget(digest)

    def _forget(self, digest: bytes) -> None:
        self._until.pop(digest, None)
        owner = self._owner.pop(digest, None)
        if owner is not None:
            self._owned[owner] -= 1
            if self._owned[owner] <= 0:
                del self._owned[owner]

    def claim(self, key: str, expires_at: float, owner: str | None = None) -> bool:
        """True the first time ``key`` is claimed before it expires; False for a replay.

        Raises ``SpentIdsFullError`` when ``capacity`` live entries are held, or ``owner_capacity`` of ``owner``'s
        (nothing is evicted).
        """
        return self.claim_all([(key, expires_at)], owner)

    def claim_all(self, items: Iterable[tuple[str, float]], owner: str | None = None) -> bool:
        """Claim every ``(key, expires_at)`` or none: False when one was claimed before and has not expired.

        Raises ``SpentIdsFullError`` when they do not fit beside the live entries, or beside ``owner``'s
        (nothing is evicted).
        """
        pending = [(_digest(key), float(until)) for key, until in items]
        now = self.clock()
        with self._lock:
            self._purge(now)
            if any(self._until.get(digest, now) > now for digest, _ in pending) or len(
                    {digest for digest, _ in pending}) < len(pending):
                return False
            # one owner's share is bounded, so one client flooding the cache is refused alone
            if owner is not None and self._owned[owner] + len(pending) > self.owner_capacity:
                raise self.full(f"this client has too many live {self.what}s; try again shortly")
            if len(self._until) + len(pending) > self.capacity:
                raise self.full(f"too many live {self.what}s are remembered; try again shortly")
            for digest, until in pending:
                if until > now:
                    self._until[digest] = until
                    heapq.heappush(self._expiries, (until, digest))
                    if owner is not None:
                        self._owner[digest] = owner
                        self._owned[owner] += 1
            if len(self._expiries) > 2 * self.capacity:  # released claims leave stale pairs: keep the heap bounded
                self._expiries = [(until, digest) for digest, until in self._until.items()]
                heapq.heapify(self._expiries)
            return True

    def release(self, key: str) -> None:
        """Forget a claim whose request was refused later (no side effect from a refused request)."""
        with self._lock:
            self._forget(_digest(key))

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        now = self.clock()
        with self._lock:
            return self._until.get(_digest(key), now) > now

    def __len__(self) -> int:
        with self._lock:
            self._purge(self.clock())
            return len(self._until)

    def __iter__(self) -> Iterator[bytes]:
        with self._lock:
            self._purge(self.clock())
            return iter(sorted(self._until))
