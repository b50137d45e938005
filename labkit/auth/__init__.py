"""Token validation: JWT (secret or JWKS), RFC 7662 introspection and the hybrid strategy.

``build_validator(cfg.oauth2, clock=..., http=...)`` returns an object whose
``await validate(token)`` yields a ``Principal`` or raises ``AuthError(reason)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import httpx

from ..config import HMAC_ALGORITHMS, OAuth2Config
from .hybrid import HybridValidator
from .introspection import IntrospectionValidator
from .jwks import JWKSClient
from .jwt import JWTValidator, KeySource, StaticKeys, verify_signature
from .keys import KeySet
from .principal import Principal, fingerprint

__all__ = [
    "HybridValidator",
    "IntrospectionValidator",
    "JWKSClient",
    "JWTValidator",
    "KeySet",
    "Principal",
    "Validator",
    "build_validator",
    "fingerprint",
    "verify_signature",
]


class Validator(Protocol):
    """What every strategy offers."""

    strategy: str

    async def validate(self, token: str, *, fresh: bool = False) -> Principal:
        """The token's principal (``fresh``: no cached verdict); raises ``AuthError``."""
        ...

    async def aclose(self) -> None:
        """Release HTTP clients the validator created."""
        ...


def build_validator(
    cfg: OAuth2Config,
    *,
    clock: Callable[[], float] | None = None,
    http: httpx.AsyncClient | None = None,
    tenant: str | None = None,
) -> JWTValidator | IntrospectionValidator | HybridValidator:
    """The validator an ``oauth2`` block asks for. ``clock`` returns seconds since the epoch."""
    now = clock or time.time
    jwt: JWTValidator | None = None
    if cfg.validation_strategy in ("jwt", "both"):
        jwt = JWTValidator(cfg, key_source(cfg, clock=now, http=http), clock=now, tenant=tenant)
    if cfg.validation_strategy == "jwt":
        assert jwt is not None  # noqa: S101 - set just above
        return jwt
    introspection = IntrospectionValidator(cfg, clock=now, http=http, tenant=tenant)
    if jwt is None:
        return introspection
    return HybridValidator(jwt, introspection)


def key_source(
    cfg: OAuth2Config, *, clock: Callable[[], float], http: httpx.AsyncClient | None = None
) -> KeySource:
    """Static keys (``jwt_secret`` and/or inline ``jwks``) or a ``JWKSClient`` for ``jwks_url``."""
    if cfg.jwks_url:
        return JWKSClient(
            cfg.jwks_url, http=http, clock=clock, cache_ttl=cfg.jwks_cache_ttl, timeout=cfg.introspection_timeout,
            refresh_cooldown=cfg.jwks_refresh_cooldown,
        )
    uses_hmac = any(alg in HMAC_ALGORITHMS for alg in cfg.algorithms)
    if cfg.jwks is not None:
        return StaticKeys(KeySet.from_jwks(cfg.jwks))
    if cfg.jwt_secret is not None and uses_hmac:
        return StaticKeys(KeySet.from_secret(cfg.jwt_secret.get_secret_value().encode("utf-8")))
    return StaticKeys(KeySet(refused="no verification keys configured"))
