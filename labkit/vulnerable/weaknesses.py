"""UNSAFE: the token-checking mistakes of the vulnerable agent, one small function each (lesson 10).

Each ``weak_*`` function re-judges a token the real validator has just refused, the way a common mistake
would: it returns the claims it (wrongly) trusts, or ``None``. Nothing outside ``labkit.vulnerable`` calls
them, and no configuration can reach them: only ``Lab(vulnerable=...)`` starts the agent that uses them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from ..auth.claims import ClaimPolicy, check_claims
from ..errors import AuthError

__all__ = [
    "DEFENCES",
    "TOKEN_WEAKNESSES",
    "WEAKNESSES",
    "WEAK_CHECKS",
    "WeakContext",
    "relaxes",
    "weak_alg_from_header",
    "weak_audience_unchecked",
    "weak_expired_accepted",
    "weak_hmac_public_key",
    "weak_jku_followed",
    "weak_kid_as_path",
    "weak_naive_decode",
]

# name -> the documented mistake (shown by lesson 10 and ``labkit.vulnerable.WEAKNESSES``)
WEAKNESSES: Mapping[str, str] = {
    "alg_from_header": "no algorithm pinning: the token's own alg is believed, and 'none' means no signature",
    "jku_followed": "the jku header is followed: keys are fetched from the URL the token names",
    "kid_as_path": "kid is used as a file path: the file's bytes become the HMAC secret",
    "audience_unchecked": "aud is never compared: a token minted for another service is accepted",
    "expired_accepted": "exp is never compared: an expired token is accepted",
    "hmac_public_key": "HS256 is verified with the RSA public key as the shared secret (key confusion)",
    "naive_decode": "the payload is base64-decoded and trusted: no signature check at all",
    "shared_cache": "answers are cached by request only, not by user: one user's answer is served to another",
    "path_differential": "the guard strips a /t/{tenant} prefix itself and the router re-derives the path (dot "
                         "segments resolved): '/t/acme/.well-known/%2e%2e/admin/status' skips authentication",
}
# weakness -> (the audit reason the real agent gives, the rule behind it). A token weakness re-judges only a token
# the real check refused for ITS reason (naive_decode, which trusts anything, for any): so the audit's "weakness X"
# means the admission depended on X, not on some other check the weak function happens to skip.
DEFENCES: Mapping[str, tuple[str, str]] = {
    "alg_from_header": ("algorithm", "RFC 8725 §3.1: algorithms pinned by config; 'none' never passes"),
    "naive_decode": ("signature", "RFC 7515 §5.2: verify the signature before reading a claim"),
    "hmac_public_key": ("algorithm", "RFC 8725 §3.1: the pinned algorithms hold no HS*: an HS256 token is refused "
                                     "before any key is chosen"),
    "kid_as_path": ("algorithm", "the algorithm pin refuses HS256 first; kid is only a lookup key in the trusted set"),
    "jku_followed": ("header", "RFC 8725 §3.10: jku/x5u/jwk headers are refused, keys come from config only"),
    "audience_unchecked": ("audience", "RFC 9068 §4 / RFC 8725 §3.9: aud must name this agent"),
    "expired_accepted": ("expired", "RFC 7519 §4.1.4: not on or after exp"),
    "shared_cache": ("", "cache keys include the principal: one user's answer is never another's"),
    "path_differential": ("missing_token", "deny by default, one parse: the guard decides on the router's path"),
}
# In the order the vulnerable agent tries them: the most specific first, the naive decode (admits anything) last.
TOKEN_WEAKNESSES = ("alg_from_header", "hmac_public_key", "kid_as_path", "jku_followed", "audience_unchecked",
                    "expired_accepted", "naive_decode")
_FETCH_LIMIT = 65_536
_KID_FILE_LIMIT = 4096


@dataclass(frozen=True)
class WeakContext:
    """What a weak check may use: the trusted JWKS, the real claim policy, the time and the key folder."""

    jwks: Mapping[str, Any]
    policy: ClaimPolicy
    now: float
    algorithms: tuple[str, ...]
    keys_dir: Path


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Header and claims, unverified; ``None`` when the token is not three dot-separated JSON parts."""
    try:
        head, body, _ = token.split(".")
        header, claims = json.loads(_b64(head)), json.loads(_b64(body))
    except (ValueError, UnicodeDecodeError):
        return None
    return (header, claims) if isinstance(header, dict) and isinstance(claims, dict) else None


def _claims_ok(claims: dict[str, Any], ctx: WeakContext, **relaxed: Any) -> dict[str, Any] | None:
    policy = dataclasses.replace(ctx.policy, **relaxed)
    try:
        check_claims(claims, policy, ctx.now, required=policy.required)
    except AuthError:
        return None
    return claims


def _verified(token: str, keys: Mapping[str, Any], algorithms: list[str]) -> dict[str, Any] | None:
    try:
        key_set = KeySet.import_key_set(dict(keys))  # type: ignore[arg-type]
        obj = jws.deserialize_compact(token, key_set, algorithms=algorithms)
        claims = json.loads(obj.payload)
    except (JoseError, ValueError, TypeError):
        return None
    return claims if isinstance(claims, dict) else None


def _hmac_ok(token: str, secret: bytes) -> bool:
    signing_input, _, signature = token.rpartition(".")
    try:
        expected = _b64(signature)
    except ValueError:
        return False
    # The vulnerable agent does its HMAC with the stdlib, as the hand-written validators it imitates do.
    return hmac.compare_digest(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest(), expected)


async def weak_alg_from_header(token: str, ctx: WeakContext) -> dict[str, Any] | None:
    """UNSAFE: believe the header's ``alg``; ``none`` (any case) means there is no signature to check."""
    parts = _parts(token)
    if parts is None or str(parts[0].get("alg", "")).lower() != "none":
        return None
    return _claims_ok(parts[1], ctx)


async def weak_naive_decode(token: str, ctx: WeakContext) -> dict[str, Any] | None:
    """UNSAFE: decode the payload and trust it (no signature, no claim check)."""
    parts = _parts(token)
    return parts[1] if parts is not None else None


async def weak_hmac_public_key(token: str, ctx: WeakContext) -> dict[str, Any] | None:
    """UNSAFE: an HS256 token is checked with the provider's RSA public key (PEM) as the HMAC secret."""
    parts = _parts(token)
    if parts is None or parts[0].get("alg") != "HS256":
        return None
    for jwk in ctx.jwks.get("keys", []):
        if jwk.get("kty") == "RSA":
            pem = RSAKey.import_key(jwk).as_pem(private=False)
            if _hmac_ok(token, pem):
                return _claims_ok(parts[1], ctx)
    return None


async def weak_kid_as_path(token: str, ctx: WeakContext) -> dict[str, Any] | None:
    """UNSAFE: ``kid`` is joined to the key folder without a containment check; the file is the HMAC secret."""
    parts = _parts(token)
    if parts is None or parts[0].get("alg") != "HS256" or not isinstance(parts[0].get("kid"), str):
        return None
    try:
        path = Path(os.path.normpath(ctx.keys_dir / parts[0]["kid"]))
        # The mistake is the path; reading a FIFO or a device other than /dev/null would hang the lab, so not those.
        if str(path) != os.devnull and not path.is_file():
            return None
        with path.open("rb") as handle:
            secret = handle.read(_KID_FILE_LIMIT)
    except (OSError, ValueError):  # a NUL byte, a name too long, a file we may not read: no key, no entry
        return None
    return _claims_ok(parts[1], ctx) if _hmac_ok(token, secret) else None


async def weak_jku_followed(token: str, ctx: WeakContext) -> dict[str, Any] | None:
    """UNSAFE: fetch the JWK Set the ``jku`` header names and verify with it (loopback URLs only, in the lab)."""
    parts = _parts(token)
    url = parts[0].get("jku") if parts else None
    if not isinstance(url, str):
        return None
    try:
        where = urlsplit(url)
        if where.scheme != "http" or where.hostname != "127.0.0.1":
            return None  # the lab never turns into a tool that fetches from the network
    except ValueError:  # not a URL at all
        return None
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            response = await client.get(url)
        if response.status_code != 200 or len(response.content) > _FETCH_LIMIT:
            return None
        keys = response.json()
    except (httpx.HTTPError, ValueError):
        return None
    claims = _verified(token, keys, list(ctx.algorithms)) if isinstance(keys, dict) else None
    return _claims_ok(claims, ctx) if claims is not None else None


async def weak_audience_unchecked(token: str, ctx: WeakContext) -> dict[str, Any] | None:
    """UNSAFE: signature and every other claim checked, ``aud`` never compared."""
    claims = _verified(token, ctx.jwks, list(ctx.algorithms))
    return _claims_ok(claims, ctx, audiences=()) if claims is not None else None


async def weak_expired_accepted(token: str, ctx: WeakContext) -> dict[str, Any] | None:
    """UNSAFE: signature and every other claim checked, ``exp`` never compared."""
    claims = _verified(token, ctx.jwks, list(ctx.algorithms))
    if claims is None:
        return None
    return _claims_ok({k: v for k, v in claims.items() if k != "exp"}, ctx,
                      required=tuple(r for r in ctx.policy.required if r != "exp"))


def relaxes(name: str, refused_for: str) -> bool:
    """Whether the token weakness ``name`` gets a second look at a token the real check refused ``refused_for``."""
    return name == "naive_decode" or DEFENCES[name][0] == refused_for


WEAK_CHECKS: Mapping[str, Callable[[str, WeakContext], Any]] = {
    "alg_from_header": weak_alg_from_header,
    "naive_decode": weak_naive_decode,
    "hmac_public_key": weak_hmac_public_key,
    "kid_as_path": weak_kid_as_path,
    "jku_followed": weak_jku_followed,
    "audience_unchecked": weak_audience_unchecked,
    "expired_accepted": weak_expired_accepted,
}
