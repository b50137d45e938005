"""``Principal``: who a validated token speaks for. Never holds the token itself."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Principal", "fingerprint"]


def fingerprint(token: str) -> str:
    """A short, non-reversible token fingerprint for logs: the first 12 hex digits of its SHA-256."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:12]  # == token_key(token).hex()[:12]


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
    def identity(self) -> str:
        """A display name: subject, else client id, else ``anonymous``."""
        return self.subject or self.client_id or "anonymous"
