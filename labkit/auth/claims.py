"""Claim checks shared by JWT (RFC 7519 §4.1, RFC 9068) and introspection (RFC 7662 §2.2) results."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import AuthError, Reason
from ..scopes import ScopeHierarchy, is_scope_token

__all__ = [
    "ClaimPolicy",
    "authorize_scopes",
    "check_claims",
    "client_of",
    "extract_scopes",
    "require_access_token",
]

_SCOPE_ALIASES = ("scope", "scp")  # one concept, two spellings (RFC 8693 vs Microsoft/Okta)
_CLIENT_CLAIMS = ("client_id", "azp", "cid", "appid")


@dataclass(frozen=True)
class ClaimPolicy:
    """What a token's claims must satisfy (``build`` makes the form validators use: membership sets precomputed)."""

    issuers: tuple[str, ...] | frozenset[str] = ()
    audiences: tuple[str, ...] | frozenset[str] = ()
    leeway: int = 0
    required: tuple[str, ...] = ("exp",)
    scope_claims: tuple[str, ...] = ("scope", "scp")
    required_scopes: tuple[str, ...] = ()
    allowed_scopes: frozenset[str] | None = None
    hierarchy: ScopeHierarchy = field(default_factory=ScopeHierarchy)

    @classmethod
    def build(cls, *, issuers: Iterable[str] = (), audiences: Iterable[str] = (),
              allowed_scopes: Iterable[str] | None = None, **rest: Any) -> ClaimPolicy:
        """A policy whose issuers, audiences and allowed scopes are frozensets, computed once here (ordinary
        fields, nothing written into the frozen object later); the other fields as ``ClaimPolicy``'s."""
        return cls(issuers=frozenset(issuers), audiences=frozenset(audiences),
                   allowed_scopes=None if allowed_scopes is None else frozenset(allowed_scopes), **rest)


_ABSENT = object()


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name, _ABSENT)
    if value is _ABSENT:
        return None
    # RFC 7519 §2 NumericDate: a JSON number; not a string, boolean, null, NaN, infinity or beyond a float.
    kind = type(value)
    if kind is not int and kind is not float:
        raise AuthError(Reason.CLAIMS, f"{name} is not a NumericDate")
    try:
        number = float(value)
    except OverflowError:
        raise AuthError(Reason.CLAIMS, f"{name} is not a NumericDate") from None
    if kind is float and not math.isfinite(number):
        raise AuthError(Reason.CLAIMS, f"{name} is not a NumericDate")
    return number


# Every signal a token (or an introspection answer) gives of its kind, and the values that mean "access token".
# Anything else (a refresh token, an ID token, RFC 8693's N_A, an unknown kind) is refused: deny by default.
_ACCESS_KINDS: Mapping[str, frozenset[str]] = {
    "token_type": frozenset({"bearer", "dpop", "access_token"}),  # RFC 7662 §2.2 (RFC 6749 §7.1 types)
    "token_use": frozenset({"access"}),  # Cognito-style hint, also sent by the lab provider
    "typ": frozenset({"bearer", "at+jwt", "application/at+jwt", "access", "access_token", "jwt"}),  # Keycloak
}


# Claims only an ID token carries (OIDC Core §3.1.3.6 at_hash, §3.3.2.11 c_hash; FAPI 1.0 §5.1 s_hash): an ID token
# says "JWT" in its header and names the client as its audience, so where the API's audience is the client's id
# (Entra-style registrations) nothing else tells it apart from an access token.
_ID_TOKEN_CLAIMS = ("at_hash", "c_hash", "s_hash")


# every claim require_access_token reads: a token holding none of them is an access token as far as claims tell
_KIND_CLAIMS = frozenset(_ACCESS_KINDS) | frozenset(_ID_TOKEN_CLAIMS)


def require_access_token(claims: Mapping[str, Any]) -> None:
    """Refuse claims that say they belong to anything but an access token; raises ``AuthError(TOKEN_TYPE)``."""
    if claims.keys().isdisjoint(_KIND_CLAIMS):
        return  # the common token names no kind: nothing to refuse
    # OIDC Core §2 / RFC 9068 §4: an ID token is not an access token, whatever its audience
    for name in _ID_TOKEN_CLAIMS:
        if name in claims:
            raise AuthError(Reason.TOKEN_TYPE, f"an ID token ({name} claim), not an access token")
    for name, accepted in _ACCESS_KINDS.items():
        if name not in claims:
            continue
        value = claims[name]
        if not isinstance(value, str) or value.lower() not in accepted:
            raise AuthError(Reason.TOKEN_TYPE, f"{name} {str(value)[:32]!r} is not an access token")


def check_claims(claims: Mapping[str, Any], policy: ClaimPolicy, now: float, *, required: Iterable[str] = ()) -> None:
    """Check the token kind, presence, time, issuer and audience claims; raises ``AuthError`` naming the claim.

    ``iss`` and ``aud`` are compared when present; name them in ``required`` to demand them (JWT does
    when an issuer or audience is configured; RFC 7662 responses may omit them). The one home of claim rules:
    every validator's principal passes here (``principal_from``), first seen or not yet cached.
    """
    require_access_token(claims)
    for name in required:
        if name not in claims:
            raise AuthError(Reason.CLAIMS, f"required claim {name!r} is missing")
    leeway = policy.leeway
    exp = _number(claims, "exp")
    # RFC 7519 §4.1.4: the token must not be accepted on or after exp.
    if exp is not None and now >= exp + leeway:
        raise AuthError(Reason.EXPIRED, f"expired at {exp:.0f}, now {now:.0f} (leeway {leeway}s)")
    nbf = _number(claims, "nbf")
    # RFC 7519 §4.1.5: not before nbf.
    if nbf is not None and now + leeway < nbf:
        raise AuthError(Reason.NOT_YET_VALID, f"not valid before {nbf:.0f}, now {now:.0f} (leeway {leeway}s)")
    iat = _number(claims, "iat")
    # RFC 7519 §4.1.6: not issued in the future.
    if iat is not None and iat > now + leeway:
        raise AuthError(Reason.ISSUED_IN_FUTURE, f"issued at {iat:.0f}, in the future of {now:.0f}")
    issuer = claims.get("iss", _ABSENT)
    if issuer is not _ABSENT:
        if type(issuer) is not str:
            raise AuthError(Reason.ISSUER, "iss is not a string")
        # Exact comparison: no prefix, substring or case folding (CVE-2024-53861).
        if policy.issuers and issuer not in policy.issuers:
            raise AuthError(Reason.ISSUER, f"iss {issuer[:120]!r} is not the configured issuer")
    audiences = policy.audiences
    aud = claims.get("aud", _ABSENT) if audiences else _ABSENT
    if aud is not _ABSENT:
        # RFC 7519 §4.1.3: a string or an array of strings, one of which is ours
        if type(aud) is str:
            matched = aud in audiences
        elif type(aud) is list and all(type(v) is str for v in aud):
            matched = any(v in audiences for v in aud)
        else:
            raise AuthError(Reason.AUDIENCE, "aud is not a string or an array of strings")
        if not matched:
            raise AuthError(Reason.AUDIENCE, "aud does not contain the configured audience")


def extract_scopes(claims: Mapping[str, Any], scope_claims: Iterable[str]) -> frozenset[str]:
    """Granted scopes from the configured claims; raises ``AuthError(SCOPE)`` for a malformed claim.

    ``scope`` and ``scp`` are two spellings of one claim: when both are present they must agree.
    Other configured claims (``permissions``, ``roles``) add to the grant.
    """
    found: dict[str, frozenset[str]] = {}
    for name in scope_claims:
        value = claims.get(name, _ABSENT)
        if value is _ABSENT and "." in name:
            value = _nested(claims, name)
        if value is not _ABSENT:
            found[name] = _scope_values(value, name)
    if len(found) == 1:
        return found.popitem()[1]  # the common case: one claim, nothing to reconcile
    aliases = [found[n] for n in _SCOPE_ALIASES if n in found]
    if len(aliases) == 2 and aliases[0] != aliases[1]:
        raise AuthError(Reason.SCOPE, "scope and scp disagree")
    return frozenset().union(*found.values()) if found else frozenset()


def _nested(claims: Mapping[str, Any], name: str) -> Any:
    """A nested claim by dotted path (``realm_access.roles``, Keycloak), or ``_ABSENT``."""
    node: Any = claims
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _ABSENT
        node = node[part]
    return node


_MEMO_SCOPE_STRING = 1024  # longer scope strings are read every time (the memo stays small)


def _scope_values(value: Any, name: str) -> frozenset[str]:
    if isinstance(value, str):
        scopes = _space_delimited(value) if len(value) <= _MEMO_SCOPE_STRING else _read_space_delimited(value)
        if scopes is None:
            raise AuthError(Reason.SCOPE, f"{name} holds a value that is not a scope token")
        return scopes
    if not isinstance(value, list):
        raise AuthError(Reason.SCOPE, f"{name} is neither a string nor an array")
    for item in value:
        if not is_scope_token(item):
            raise AuthError(Reason.SCOPE, f"{name} holds a value that is not a scope token")
    return frozenset(value)


def _read_space_delimited(value: str) -> frozenset[str] | None:
    """RFC 6749 §3.3: space-delimited scope tokens (None when one is not a scope token)."""
    items = [v for v in value.split(" ") if v]
    return frozenset(items) if all(is_scope_token(item) for item in items) else None


# Tokens of one client repeat a few scope strings: remember what each one reads as (bounded, verified data).
_space_delimited = functools.lru_cache(maxsize=256)(_read_space_delimited)


def authorize_scopes(granted: frozenset[str], policy: ClaimPolicy) -> frozenset[str]:
    """Drop scopes outside ``allowed_scopes``, then require ``required_scopes`` (hierarchy applied)."""
    if policy.allowed_scopes is not None:
        granted = granted & policy.allowed_scopes
    if not policy.required_scopes:
        return granted
    missing = policy.hierarchy.missing(granted, policy.required_scopes)
    if missing:
        raise AuthError(Reason.INSUFFICIENT_SCOPE, f"missing required scope(s): {' '.join(missing)}",
                        scopes=tuple(policy.required_scopes))
    return granted


def client_of(claims: Mapping[str, Any]) -> str | None:
    """The OAuth client a token was issued to (``client_id``, ``azp``, ``cid`` or ``appid``)."""
    if claims.keys().isdisjoint(_CLIENT_CLAIMS):
        return None
    for name in _CLIENT_CLAIMS:
        value = claims.get(name)
        if isinstance(value, str):
            return value
    return None
