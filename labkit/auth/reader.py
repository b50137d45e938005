"""A ``ClaimPolicy``'s claim checks compiled once: ``principal_from`` for the common, well-formed token, faster.

``PrincipalReader`` holds what the policy asks as sets and constants built at construction, so a first-seen
token pays dictionary lookups and comparisons only. It decides nothing alone: whenever a claim is absent where
required, of an unusual type, out of time, foreign, or simply unusual (a token-kind claim, ``claims.KIND_CLAIMS``,
``act``, a float date), it hands the claims to ``principal_from``, the one reference, which accepts or raises
exactly as it always did. ``tests/core/test_perf_equivalence.py`` holds the two to the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .claims import KIND_CLAIMS, ClaimPolicy, authorize_scopes, extract_scopes
from .claims import _space_delimited as _scope_string  # the memoised RFC 6749 §3.3 reader extract_scopes uses
from .principal import Principal, principal_from

__all__ = ["PrincipalReader"]

_ABSENT = object()
# Claims the fast path leaves to principal_from: the token-kind signals (require_access_token) and RFC 8693 act.
_UNUSUAL = KIND_CLAIMS | {"act"}
_CLIENT_CLAIMS = ("client_id", "azp", "cid", "appid")  # claims.client_of's order
_INT_DATE = 2**1000  # an int NumericDate inside +-2**1000 converts to a finite float (float() cannot overflow)
_MEMO_SCOPE_STRING = 1024  # claims.extract_scopes reads longer scope strings without its memo: the same answer


class PrincipalReader:
    """``principal_from(claims, policy, ...)`` for one policy, ``required`` list, strategy and tenant.

    Calling it returns the same ``Principal`` or raises the same ``AuthError`` as ``principal_from``.
    """

    __slots__ = ("_audiences", "_issuers", "_kwargs", "_leeway", "_plain_grant", "_policy", "_required",
                 "_scope_only", "_strategy", "_tenant")

    def __init__(self, policy: ClaimPolicy, *, required: Iterable[str], strategy: str,
                 tenant: str | None = None) -> None:
        required = tuple(required)
        self._policy = policy
        self._kwargs: dict[str, Any] = {"required": required, "strategy": strategy, "tenant": tenant}
        self._required = frozenset(required)
        self._issuers = frozenset(policy.issuers)
        self._audiences = frozenset(policy.audiences)
        self._leeway = policy.leeway
        self._strategy = strategy
        self._tenant = tenant
        # the default scope claims: "scope" alone answers unless "scp" is there too (then extract_scopes reconciles)
        self._scope_only = policy.scope_claims in (("scope", "scp"), ("scope",))
        self._plain_grant = policy.allowed_scopes is None and not policy.required_scopes

    def __call__(self, claims: dict[str, Any], now: float, fingerprint: str) -> Principal:
        """The principal of ``claims`` at ``now``; raises ``AuthError`` as ``principal_from`` does."""
        keys = claims.keys()
        if not (keys >= self._required and keys.isdisjoint(_UNUSUAL)):
            return self._plain(claims, now, fingerprint)
        leeway = self._leeway
        exp = claims.get("exp", _ABSENT)
        if exp is not _ABSENT:
            # RFC 7519 §4.1.4 (the reference raises for anything but a plain int date not yet past)
            if type(exp) is not int or not -_INT_DATE < exp < _INT_DATE:
                return self._plain(claims, now, fingerprint)
            exp = float(exp)
            if now >= exp + leeway:
                return self._plain(claims, now, fingerprint)
        for name in ("nbf", "iat"):
            value = claims.get(name, _ABSENT)
            if value is _ABSENT:
                continue
            # RFC 7519 §4.1.5-6: not before nbf, not issued in the future
            if type(value) is not int or not -_INT_DATE < value < _INT_DATE:
                return self._plain(claims, now, fingerprint)
            if (now + leeway < float(value)) if name == "nbf" else (float(value) > now + leeway):
                return self._plain(claims, now, fingerprint)
        issuer = claims.get("iss")
        # exact issuer comparison (CVE-2024-53861), as check_claims
        if issuer is not None and (type(issuer) is not str or (self._issuers and issuer not in self._issuers)):
            return self._plain(claims, now, fingerprint)
        if "iss" in claims and issuer is None:
            return self._plain(claims, now, fingerprint)
        if self._audiences and "aud" in claims:
            aud = claims["aud"]
            if type(aud) is str:
                matched = aud in self._audiences
            elif type(aud) is list and all(type(v) is str for v in aud):
                matched = any(v in self._audiences for v in aud)
            else:
                matched = False
            if not matched:
                return self._plain(claims, now, fingerprint)
        subject = claims.get("sub")
        if subject is not None and type(subject) is not str:
            return self._plain(claims, now, fingerprint)
        policy = self._policy
        scope = claims.get("scope", _ABSENT)
        if self._scope_only and type(scope) is str and len(scope) <= _MEMO_SCOPE_STRING and "scp" not in claims:
            granted = _scope_string(scope)
            if granted is None:
                return self._plain(claims, now, fingerprint)
        else:
            granted = extract_scopes(claims, policy.scope_claims)  # the last checks: the reference's own errors
        scopes = granted if self._plain_grant else authorize_scopes(granted, policy)
        client = None
        if not keys.isdisjoint(_CLIENT_CLAIMS):
            for name in _CLIENT_CLAIMS:
                value = claims.get(name)
                if isinstance(value, str):
                    client = value
                    break
        principal = object.__new__(Principal)
        object.__setattr__(principal, "__dict__", {
            "subject": subject, "scopes": scopes, "client_id": client, "issuer": issuer, "claims": claims,
            "tenant": self._tenant, "strategy": self._strategy, "fingerprint": fingerprint,
            "expires_at": None if exp is _ABSENT else exp, "notes": (),
        })
        return principal

    def _plain(self, claims: dict[str, Any], now: float, fingerprint: str) -> Principal:
        return principal_from(claims, self._policy, now=now, fingerprint=fingerprint, **self._kwargs)
