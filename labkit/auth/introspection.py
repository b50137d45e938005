"""RFC 7662 token introspection, in either dialect (``dialects``: RFC 7662 or GitHub's token check).

Only a JSON ``true`` in ``active`` is active. Active results are cached by token hash for
``min(cache ttl, exp - now)``; inactive ones never are; concurrent requests for one token make one
call. ``validate(token, fresh=True)`` bypasses the cache (a plugin's ``oauth2_specific.introspection_required``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..errors import AuthError, Reason
from ..tracing import span
from ._compact import MAX_TOKEN_BYTES
from ._http import HttpHolder, Response, bounded_request
from .cache import CacheLimits, SingleFlight, TTLCache, fingerprint_of, token_key
from .claims import ClaimPolicy
from .dialects import ClientCredentials, Dialect
from .principal import Principal, principal_from

__all__ = ["IntrospectionValidator", "introspection_subject"]


def introspection_subject(claims: Mapping[str, Any]) -> str | None:
    """RFC 7662 §2.2: ``sub``, else the human-readable ``username``; a non-string is no subject."""
    subject = claims.get("sub", claims.get("username"))
    return subject if isinstance(subject, str) else None


_log = logging.getLogger(__name__)


class IntrospectionValidator:
    """Asks the provider whether a token is active (RFC 7662); raises ``AuthError``."""

    strategy = "introspection"

    def __init__(
        self,
        endpoint: str,
        credentials: ClientCredentials,
        dialect: Dialect,
        policy: ClaimPolicy,
        *,
        clock: Callable[[], float] = time.time,
        timeout: float = 5.0,
        max_bytes: int = 1 << 20,
        cache: CacheLimits = CacheLimits(),  # noqa: B008 - a frozen value
        http: httpx.AsyncClient | None = None,
        tenant: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self._host = urlsplit(endpoint).netloc  # for logs and spans
        self.credentials = credentials
        self.dialect = dialect
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.cache_ttl = cache.ttl
        self.policy = policy if dialect.scope_claims is None else replace(policy, scope_claims=dialect.scope_claims)
        self.clock = clock
        self.tenant = tenant
        self.http = HttpHolder(http)
        self.cache: TTLCache[Principal] = TTLCache(cache.max_size, clock)
        self._flight: SingleFlight[Principal] = SingleFlight()
        self.call_count = 0

    async def validate(self, token: str, *, fresh: bool = False) -> Principal:
        """The token's ``Principal`` if the provider says it is active and it passes our checks."""
        if not isinstance(token, str) or not token or not token.isprintable() or " " in token:
            raise AuthError(Reason.MALFORMED, "empty token or one with spaces or control characters")
        if len(token) > MAX_TOKEN_BYTES:
            raise AuthError(Reason.SIZE, f"token longer than {MAX_TOKEN_BYTES} bytes")
        key = token_key(token)
        if not fresh:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        return await self._flight.run((key, fresh), lambda: self._introspect(token, key))

    async def _introspect(self, token: str, key: bytes) -> Principal:
        self.call_count += 1
        with span("labkit.introspect", strategy=self.strategy, dialect=self.dialect.name, host=self._host,
                  tenant=self.tenant):
            try:
                claims = self.dialect.claims(await self._send(token))
            except AuthError as exc:
                if exc.reason in (Reason.INTROSPECTION_ERROR, Reason.TIMEOUT):
                    _log.warning("introspection at %s failed: %s", self._host, exc.reason.value)
                raise
        now = self.clock()
        principal = principal_from(
            claims, self.policy, now=now, subject=introspection_subject, strategy=self.strategy,
            tenant=self.tenant, fingerprint=fingerprint_of(key),
        )
        until = now + self.cache_ttl
        if principal.expires_at is not None:
            until = min(until, principal.expires_at)
        self.cache.put(key, principal, until)
        return principal

    async def _send(self, token: str) -> Response:
        """The one introspection request (RFC 7662 §2.1, or the dialect's own); raises ``AuthError``."""
        return await bounded_request(
            self.http, "POST", self.endpoint, timeout=self.timeout, max_bytes=self.max_bytes,
            what=self.dialect.what, error=Reason.INTROSPECTION_ERROR, **self.dialect.request(token, self.credentials),
        )

    async def aclose(self) -> None:
        """Close the HTTP client this object created (if any)."""
        await self.http.aclose()
