"""JWT access tokens (RFC 7519, RFC 9068) verified with joserfc under RFC 8725's best practices."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

from ..algorithms import TABLE
from ..errors import AuthError, Reason
from ..tracing import NO_SPAN, span, tracing_on
from .cache import CacheLimits, TTLCache, fingerprint_of, token_key
from .claims import ClaimPolicy
from .jws import CompactJWS, parse_compact, strict_json
from .keys import KeySet, TrustedKey
from .principal import Principal, principal_from
from .signature import verify_signature_bytes

__all__ = [
    "JWTValidator",
    "KeySource",
    "StaticKeys",
    "check_header",
    "decode_payload",
    "jws_keys",
    "verify_jws",
    "verify_signature",
]
# RFC 8725 §3.10 / RFC 7515 §4.1.2-6: never take keys from the token itself.
_KEY_BEARING_HEADERS = ("jku", "x5u", "jwk", "x5c")
_ACCEPTED_TYP = frozenset({"jwt", "at+jwt", "application/jwt", "application/at+jwt"})
# every header name check_header refuses outright: one set test lets the common header skip the name checks
_REFUSED_HEADERS = frozenset({"enc", *_KEY_BEARING_HEADERS, "crit", "b64", "zip"})


class KeySource(Protocol):
    """Where verification keys come from: a static set or a JWKS endpoint."""

    async def keys(self) -> KeySet:
        """The current key set; raises ``AuthError`` when there are none to be had."""
        ...

    async def refresh_for_kid(self, kid: str) -> KeySet:
        """A key set refreshed because a token names an unknown ``kid`` (rate-limited by the source)."""
        ...


class StaticKeys:
    """A key set that never changes (``jwt_secret`` or an inline ``jwks``)."""

    def __init__(self, keyset: KeySet) -> None:
        self.keyset = keyset

    async def keys(self) -> KeySet:
        return self.keyset

    async def refresh_for_kid(self, kid: str) -> KeySet:
        return self.keyset


def check_header(header: Mapping[str, Any], algorithms: Collection[str]) -> str:
    """Apply the header policy and return the pinned algorithm; raises ``AuthError``."""
    refused = not header.keys().isdisjoint(_REFUSED_HEADERS)
    if refused and "enc" in header:
        raise AuthError(Reason.TOKEN_TYPE, "JWE header where a signed JWT was expected")
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise AuthError(Reason.ALGORITHM, "no alg in the header")
    # RFC 8725 §3.1: the algorithm is pinned by configuration; 'none' never passes, whatever the config says.
    if alg not in algorithms or alg not in TABLE:
        raise AuthError(Reason.ALGORITHM, f"alg {alg[:32]!r} is not allowed (allowed: {', '.join(algorithms)})")
    if refused:
        _refuse_header(header)
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise AuthError(Reason.HEADER, "kid is not a string")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYP):
        raise AuthError(Reason.TOKEN_TYPE, f"typ {str(typ)[:32]!r} is not an access token type")
    cty = header.get("cty")
    if isinstance(cty, str) and cty.lower() in ("jwt", "application/jwt"):
        raise AuthError(Reason.TOKEN_TYPE, "nested JWT (cty JWT) is not accepted")
    return alg


def _refuse_header(header: Mapping[str, Any]) -> None:
    """Name the refused header parameter ``header`` carries; raises ``AuthError(HEADER)``."""
    for name in _KEY_BEARING_HEADERS:
        if name in header:
            raise AuthError(Reason.HEADER, f"header carries {name!r}: keys are never taken from the token")
    # RFC 7515 §4.1.11: we understand no extension, so any crit must be refused.
    if "crit" in header:
        raise AuthError(Reason.HEADER, "crit names an extension this validator does not understand")
    if "b64" in header:
        raise AuthError(Reason.HEADER, "b64 (RFC 7797 unencoded payload) is not accepted")
    raise AuthError(Reason.HEADER, "zip is not allowed in a JWS")


def verify_jws(jws: CompactJWS, alg: str, key: TrustedKey) -> None:
    """Verify the signature with the key's cached ``cryptography`` object; raises ``AuthError(SIGNATURE)``."""
    if not jws.signature:
        raise AuthError(Reason.SIGNATURE, "no signature")
    # RFC 8725 §3.1: the key type (and curve) fits the pinned algorithm; KeySet.select checked the rest
    if key.kty != TABLE[alg].kty or (key.curve_algs and alg not in key.curve_algs):
        raise AuthError(Reason.SIGNATURE, f"signature check failed ({alg} with a {key.kty} key)")
    try:
        ok = verify_signature_bytes(alg, key.public, jws.signing_input, jws.signature)
    except (KeyError, ValueError, TypeError) as exc:
        raise AuthError(Reason.SIGNATURE, f"signature check failed ({exc.__class__.__name__})") from None
    if not ok:
        raise AuthError(Reason.SIGNATURE, f"{alg} signature does not verify with key {key.kid or '(no kid)'}")


def decode_payload(jws: CompactJWS) -> dict[str, Any]:
    """The claims set as a JSON object; raises ``AuthError(MALFORMED)``."""
    try:
        claims = strict_json(jws.payload)
    except ValueError as exc:
        raise AuthError(Reason.MALFORMED, f"payload is not strict JSON: {exc}") from None
    if not isinstance(claims, dict):
        raise AuthError(Reason.MALFORMED, "payload is not a JSON object")
    return claims


def verify_signature(
    token: str, jwks: Mapping[str, Any], algorithms: Collection[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JWS step alone: strict parse, header policy, key selection, signature. Returns (header, payload).

    Claims (time, issuer, audience, scopes) are not checked. Raises ``AuthError``.
    """
    jws = parse_compact(token)
    alg = check_header(jws.header, algorithms)
    key = KeySet.from_jwks(jws_keys(jwks)).select(alg, jws.header.get("kid"))
    verify_jws(jws, alg, key)
    return dict(jws.header), decode_payload(jws)


def jws_keys(jwks: Mapping[str, Any]) -> Mapping[str, Any]:
    """Accept a JWK Set or a single JWK."""
    return jwks if "keys" in jwks else {"keys": [dict(jwks)]}


class JWTValidator:
    """Validates JWT access tokens: signature (pinned algorithms, trusted keys), claims and scopes.

    Validated tokens are remembered by hash until ``min(exp, now + jwt_cache_ttl)``, so a repeated
    token skips the signature. Raises ``AuthError``.
    """

    strategy = "jwt"

    def __init__(
        self,
        algorithms: Collection[str],
        keys: KeySource,
        policy: ClaimPolicy,
        *,
        clock: Callable[[], float] = time.time,
        cache: CacheLimits = CacheLimits(),  # noqa: B008 - a frozen value
        tenant: str | None = None,
    ) -> None:
        self.algorithms = tuple(algorithms)
        self.policy = policy
        self.source = keys
        self.clock = clock
        self.tenant = tenant
        self.cache_ttl = cache.ttl
        self.cache: TTLCache[Principal] = TTLCache(cache.max_size, clock)

    def cached(self, token: str) -> Principal | None:
        """The verdict ``validate(token)`` remembered for ``token`` (while it lives), or None; never raises."""
        return self._remembered(token_key(token)) if type(token) is str else None

    def _remembered(self, key: bytes) -> Principal | None:
        return self.cache.get(key) if self.cache_ttl else None

    async def validate(self, token: str, *, fresh: bool = False) -> Principal:
        """Validate ``token`` and return its ``Principal``; ``fresh`` skips the cache. Raises ``AuthError``."""
        cache_key = token_key(token) if type(token) is str else b""
        hit = None if fresh or not cache_key else self._remembered(cache_key)
        if hit is not None:
            return hit
        with span("labkit.validate", strategy=self.strategy, tenant=self.tenant) if tracing_on() else NO_SPAN:
            jws = parse_compact(token)  # refuses a non-string token
            header = jws.header
            alg = check_header(header, self.algorithms)
            kid = header.get("kid")
            source = self.source
            keyset = source.keyset if type(source) is StaticKeys else await source.keys()
            try:
                key = keyset.select(alg, kid)
            except AuthError:
                if kid is None or keyset.has_kid(kid):
                    raise
                # An unknown kid may be a rotation: refetch once (the source rate-limits this).
                key = (await self.source.refresh_for_kid(kid)).select(alg, kid)
            verify_jws(jws, alg, key)
            now = self.clock()
            principal = principal_from(decode_payload(jws), self.policy, now=now, strategy=self.strategy,
                                       fingerprint=fingerprint_of(cache_key), tenant=self.tenant,
                                       required=self.policy.required)
            if self.cache_ttl:
                expires = now + self.cache_ttl
                if principal.expires_at is not None:
                    expires = min(expires, principal.expires_at + self.policy.leeway)
                self.cache.put(cache_key, principal, expires)
            return principal

    async def aclose(self) -> None:
        """Close the key source's HTTP client, if it has one."""
        close = getattr(self.source, "aclose", None)
        if close is not None:
            await close()
