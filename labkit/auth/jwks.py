"""``JWKSClient``: a remote JWK Set (RFC 7517 §5) fetched with httpx, cached, refreshed with care.

- cached for ``Cache-Control: max-age`` clamped to [min_ttl, max_ttl] (``cache_ttl`` when absent);
- an unknown ``kid`` triggers at most one refetch per ``refresh_cooldown`` seconds (no kid-spraying DoS);
- concurrent callers share one fetch (single-flight);
- a failed refresh keeps serving the last good keys for at most ``max_stale`` seconds, then fails closed;
- responses are capped in size and time; redirects are not followed; symmetric keys are never accepted.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx

from .._http import HttpHolder, bounded_request
from ..errors import AuthError, Reason
from ..tracing import span
from .cache import SingleFlight
from .jws import strict_json
from .keys import KeySet

__all__ = ["JWKSClient"]

_log = logging.getLogger(__name__)
_MAX_AGE = re.compile(r"(?:^|[,\s])max-age=(\d{1,10})(?:$|[,\s])")


class JWKSClient:
    """Fetches and caches one JWKS URL. Raises ``AuthError(JWKS_UNAVAILABLE)`` when it never had keys."""

    def __init__(
        self,
        url: str,
        *,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        cache_ttl: float = 300,
        min_ttl: float = 30,
        max_ttl: float = 86_400,
        refresh_cooldown: float = 10,
        max_stale: float = 3_600,
        timeout: float = 5,
        max_bytes: int = 256 * 1024,
    ) -> None:
        self.url = url
        self._host = urlsplit(url).netloc  # for logs and spans
        self.http = HttpHolder(http)
        self.clock = clock
        self.cache_ttl = cache_ttl
        self.min_ttl, self.max_ttl = min_ttl, max_ttl
        self.refresh_cooldown = refresh_cooldown
        self.max_stale = max_stale
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.fetch_count = 0
        self.last_error: str | None = None
        self._keyset: KeySet | None = None
        self._fresh_until = 0.0
        self._stale_until = 0.0
        self._last_attempt = float("-inf")
        self._last_kid_refresh = float("-inf")  # only unknown-kid refetches count against the cooldown
        self._flight: SingleFlight[KeySet] = SingleFlight()

    async def keys(self) -> KeySet:
        """The cached key set, refreshed when its time is up; stale keys on a failed refresh (bounded)."""
        now = self.clock()
        if self._keyset is not None and now < self._fresh_until:
            return self._keyset
        if self._keyset is None and now - self._last_attempt < self.refresh_cooldown and self.last_error:
            # Failed moments ago and never had keys: fail closed without hammering the provider.
            raise AuthError(Reason.JWKS_UNAVAILABLE, f"JWKS unavailable: {self.last_error}")
        return await self._flight.run("refresh", self._refresh)

    async def refresh_for_kid(self, kid: str) -> KeySet:
        """Refetch because ``kid`` is unknown, unless a fetch happened within the cooldown."""
        in_flight = self._flight.busy("refresh")
        now = self.clock()
        if not in_flight and self._keyset is not None and now - self._last_kid_refresh < self.refresh_cooldown:
            return self._keyset
        self._last_kid_refresh = now
        return await self._flight.run("refresh", self._refresh)

    async def _refresh(self) -> KeySet:
        now = self.clock()
        self._last_attempt = now
        try:
            with span("labkit.jwks.fetch", host=self._host):
                keyset, ttl = await self._fetch()
        except AuthError as exc:
            self.last_error = exc.detail
            if self._keyset is not None and now < self._stale_until:
                # Stale-on-error: keep accepting tokens whose keys we hold; retry after the cooldown.
                self._fresh_until = min(now + self.refresh_cooldown, self._stale_until)
                _log.warning("JWKS fetch from %s failed (%s); using cached keys, stale for at most %.0f s more",
                            self._host, exc.detail, self._stale_until - now)
                return self._keyset
            _log.error("JWKS fetch from %s failed and no usable cached keys: %s", self._host, exc.detail)
            detail = f"JWKS unavailable and no usable cached keys: {exc.detail}"
            raise AuthError(Reason.JWKS_UNAVAILABLE, detail) from None
        self.last_error = None
        self._keyset = keyset
        self._fresh_until = now + ttl
        self._stale_until = now + ttl + self.max_stale
        return keyset

    async def _fetch(self) -> tuple[KeySet, float]:
        self.fetch_count += 1
        response = await bounded_request(
            self.http, "GET", self.url, timeout=self.timeout, max_bytes=self.max_bytes,
            what="JWKS", error=Reason.JWKS_UNAVAILABLE, headers={"Accept": "application/json"},
        )
        if response.status != 200:
            raise AuthError(Reason.JWKS_UNAVAILABLE, f"JWKS answered HTTP {response.status}")
        try:
            document = strict_json(response.body)
        except ValueError as exc:
            raise AuthError(Reason.JWKS_UNAVAILABLE, f"JWKS is not strict JSON: {exc}") from None
        keyset = KeySet.from_jwks(document, allow_symmetric=False)
        if keyset.refused or not keyset.keys:
            why = keyset.refused or "no usable signing keys"
            raise AuthError(Reason.JWKS_UNAVAILABLE, f"JWKS refused: {why}")
        return keyset, self._ttl(response.headers.get("cache-control", ""))

    def _ttl(self, cache_control: str) -> float:
        lowered = cache_control.lower()
        if "no-store" in lowered or "no-cache" in lowered:
            return self.min_ttl
        match = _MAX_AGE.search(lowered)
        ttl = float(match.group(1)) if match else self.cache_ttl
        return min(max(ttl, self.min_ttl), self.max_ttl)

    async def aclose(self) -> None:
        """Close the HTTP client this object created (if any)."""
        await self.http.aclose()
