"""``Principal``: who a validated token speaks for, built from checked claims. Never holds the token itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import AuthError, Reason
from .actors import actor_chain, chain_of
from .cache import fingerprint_of, token_key
from .claims import ClaimPolicy, authorize_scopes, check_claims, client_of, extract_scopes

__all__ = ["Principal", "fingerprint", "jwt_subject", "principal_from", "principal_key"]


def fingerprint(token: str) -> str:
    """A short, non-reversible token fingerprint for logs: the first 12 hex digits of its SHA-256."""
    return fingerprint_of(token_key(token))


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: subject, client, issuer and granted scopes (before hierarchy expansion)."""

    subject: str | None
    scopes: frozenset[str]
    client_id: str | None = None
    issuer: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)
    tenant: str | None = None
    strategy: str = "jwt"
    fingerprint: str = ""
    expires_at: float | None = None
    notes: tuple[str, ...] = ()
    key: str = ""  # principal_key's answer, computed once by principal_from ("" for a principal built otherwise)

    @property
    def actors(self) -> tuple[str, ...]:
        """The delegation chain of an RFC 8693 ``act`` claim, current actor first (empty when not delegated).

        ``principal_from`` refused a malformed ``act``; a principal built otherwise shows its well-formed head.
        """
        return chain_of(self.claims) if "act" in self.claims else ()

    @property
    def delegated(self) -> bool:
        """True when someone acts for the subject (the token carries an ``act`` chain, RFC 8693 §4.1)."""
        return bool(self.actors)

    @property
    def identity(self) -> str:
        """A display name: subject, else client id, else ``anonymous``."""
        return _identity(self.subject, self.client_id)


def _identity(subject: str | None, client: str | None) -> str:
    return subject or client or "anonymous"


def _key(tenant: str | None, issuer: str | None, identity: str) -> str:
    return f"{tenant or '-'}|{issuer or '-'}|{identity}"


def principal_key(principal: Principal) -> str:
    """A stable key for per-principal state (owners, quotas, rate limits): tenant, issuer and identity."""
    return principal.key or _key(principal.tenant, principal.issuer, principal.identity)


def jwt_subject(claims: Mapping[str, Any]) -> str | None:
    """A JWT's ``sub``; raises ``AuthError(CLAIMS)`` when it is not a string (RFC 7519 §4.1.2)."""
    subject = claims.get("sub")
    if subject is not None and not isinstance(subject, str):
        raise AuthError(Reason.CLAIMS, "sub is not a string")
    return subject


def principal_from(
    claims: dict[str, Any],
    policy: ClaimPolicy,
    *,
    now: float,
    strategy: str,
    fingerprint: str,
    tenant: str | None = None,
    required: Iterable[str] = (),
    subject: Callable[[Mapping[str, Any]], str | None] = jwt_subject,
) -> Principal:
    """Check ``claims`` (kind, ``required``, time, issuer, audience, scopes) and build the ``Principal``.

    The one home of "claims to principal" for JWTs and introspection answers; raises ``AuthError``.
    """
    check_claims(claims, policy, now, required=required)
    if "act" in claims:
        actor_chain(claims["act"])  # RFC 8693 §4.1: a malformed act is a malformed token (AuthError CLAIMS)
    who = subject(claims)
    scopes = authorize_scopes(extract_scopes(claims, policy.scope_claims), policy)
    client = client_of(claims)
    issuer = claims.get("iss")  # check_claims refused a non-string iss
    exp = claims.get("exp")  # check_claims refused anything but a finite number
    return Principal(who, scopes, client, issuer, claims, tenant, strategy, fingerprint,
                     None if exp is None else float(exp), (), _key(tenant, issuer, _identity(who, client)))
