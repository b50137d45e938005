"""RFC 7662 token introspection, in any dialect (``dialects``: RFC 7662, GitHub's or JupyterHub's token check).

Only a JSON ``true`` in ``active`` is active. Active results are cached by token hash for
``min(cache ttl, exp - now)``; inactive ones never are; concurrent requests for one token make one
call. ``validate(token, fresh=True)`` bypasses the cache (a plugin's ``oauth2_specific.introspection_required``).
With ``shared`` (Redis, for replicas) the active answer's claims are shared too: a process looks in its own
cache, then the shared one, and only then asks the provider — one replica at a time (a lease), so a token costs
one provider call per TTL across all replicas. A shared hit is checked again (``exp``, issuer, audience, scopes)
by the replica that reads it, and a shared answer kept longer than this validator's own TTL is a miss (the TTL
is the revocation delay each replica was configured for).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import httpx

from .._http import HttpHolder, Response, bounded_request
from ..errors import AuthError, Reason
from ..tracing import span
from .cache import CacheLimits, SharedVerdicts, SingleFlight, TTLCache, fingerprint_of, token_key
from .claims import ClaimPolicy
from .dialects import ClientCredentials, Dialect
from .jws import MAX_TOKEN_BYTES
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
        shared: SharedVerdicts | None = None,
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
        self.max_size = cache.max_size
        self.cache: TTLCache[Principal] = TTLCache(cache.max_size, clock)
        self.shared = shared if cache.ttl > 0 else None
        # one namespace per provider, client and tenant: an answer given to one never serves another
        self._namespace = hashlib.sha256("\0".join([endpoint, credentials.client_id, tenant or ""]).encode(
            "utf-8", "surrogatepass")).hexdigest()[:16]
        self._flight: SingleFlight[Principal] = SingleFlight()
        self.call_count = 0

    def cached(self, token: str) -> Principal | None:
        """The verdict ``validate(token)`` remembered in this process for ``token``, or None; never raises."""
        # only tokens validate() would send: a remembered verdict is always of a well-formed token
        return self.cache.get(token_key(token)) if type(token) is str else None

    async def validate(self, token: str, *, fresh: bool = False) -> Principal:
        """The token's ``Principal`` if the provider says it is active and it passes our checks."""
        if not isinstance(token, str) or not token or not token.isprintable() or " " in token:
            raise AuthError(Reason.MALFORMED, "empty token or one with spaces or control characters")
        if len(token) > MAX_TOKEN_BYTES:
            raise AuthError(Reason.SIZE, f"token longer than {MAX_TOKEN_BYTES} bytes")
        hit = None if fresh else self.cached(token)
        if hit is not None:
            return hit
        key = token_key(token)
        shared = self.shared
        if shared is None or fresh:
            return await self._flight.run((key, fresh), lambda: self._introspect(token, key))
        return await self._flight.run((key, fresh), lambda: self._shared_lookup(shared, token, key))

    async def _shared_lookup(self, shared: SharedVerdicts, token: str, key: bytes) -> Principal:
        """The shared cache, else the provider (asked by one replica at a time); raises ``AuthError``."""
        name = f"{self._namespace}:{key.hex()}"
        found = self._within_ttl(await shared.get(name))
        answer = found if found is not None else await self._ask_once(shared, token, key, name)
        if isinstance(answer, Principal):
            return answer
        claims, until = answer
        principal = self._principal(claims, key)
        self.cache.put(key, principal, until)
        return principal

    async def _ask_once(self, shared: SharedVerdicts, token: str, key: bytes,
                        name: str) -> Principal | tuple[dict[str, Any], float]:
        """Our own answer when we win the lease, else the elected replica's shared one (or our own if it got none)."""
        lease = await shared.claim(name, self.timeout + 1)
        if lease is None:
            # another replica is asking right now: take its answer; if it got none (inactive, error), ask ourselves
            found = self._within_ttl(await shared.wait(name, self.timeout + 1))
            return found if found is not None else await self._introspect(token, key)
        try:
            # the replica that held the lease may have shared its answer and let go between our miss and our
            # claim: look again before asking (it puts before it releases, so a lease free means its answer is in)
            found = self._within_ttl(await shared.get(name))
            return found if found is not None else await self._introspect(token, key)
        finally:
            await shared.release(name, lease)

    def _within_ttl(self, found: tuple[dict[str, Any], float] | None) -> tuple[dict[str, Any], float] | None:
        """A shared answer, or None when it is kept longer than this validator's own TTL allows."""
        # the TTL bounds this validator's revocation delay: an answer shared for longer (another replica's TTL)
        # is a miss, and this validator's own answer, with its own TTL, replaces it
        return found if found is not None and found[1] <= self.clock() + self.cache_ttl else None

    def _principal(self, claims: dict[str, Any], key: bytes) -> Principal:
        """Our checks (time, issuer, audience, scopes) on an active answer; raises ``AuthError``."""
        return principal_from(
            claims, self.policy, now=self.clock(), subject=introspection_subject, strategy=self.strategy,
            tenant=self.tenant, fingerprint=fingerprint_of(key),
        )

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
        principal = self._principal(claims, key)
        until = now + self.cache_ttl
        if principal.expires_at is not None:
            until = min(until, principal.expires_at)
        self.cache.put(key, principal, until)
        if self.shared is not None:
            await self.shared.put(f"{self._namespace}:{key.hex()}", claims, until, self.max_size)
        return principal

    async def _send(self, token: str) -> Response:
        """The one introspection request (RFC 7662 §2.1, or the dialect's own); raises ``AuthError``."""
        return await bounded_request(
            self.http, self.dialect.method, self.endpoint, timeout=self.timeout, max_bytes=self.max_bytes,
            what=self.dialect.what, error=Reason.INTROSPECTION_ERROR, **self.dialect.request(token, self.credentials),
        )

    async def aclose(self) -> None:
        """Close the HTTP client this object created (if any)."""
        await self.http.aclose()
