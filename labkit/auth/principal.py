"""``Principal``: who a validated token speaks for, built from checked claims. Never holds the token itself."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import AuthError, Reason
from .actors import actor_chain, chain_of
from .cache import fingerprint_of, token_key
from .claims import ClaimPolicy, authorize_scopes, check_claims, client_of, extract_scopes

__all__ = ["Principal", "fingerprint", "jwt_subject", "principal_from"]


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
        return self.subject or self.client_id or "anonymous"


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
    exp = claims.get("exp")
    # The hot path of every first-seen token: fill the frozen instance in one step rather than field by field
    # (``test_auth_parts`` checks it equals the dataclass constructor's, field for field).
    principal = object.__new__(Principal)
    principal.__dict__.update({
        "subject": who,
        "scopes": scopes,
        "client_id": client_of(claims),
        "issuer": claims.get("iss"),  # check_claims refused a non-string iss
        "claims": claims,
        "tenant": tenant,
        "strategy": strategy,
        "fingerprint": fingerprint,
        "expires_at": float(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None,
        "notes": (),
    })
    return principal
