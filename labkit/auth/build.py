"""The validator an ``oauth2`` block asks for: the one auth module that reads the configuration model.

Everything else in ``labkit.auth`` takes small values (algorithms, a key source, a ``ClaimPolicy``, a dialect,
credentials, cache limits), so a validator can be built without a configuration (the webhook receiver does).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

import httpx

from ..algorithms import HMAC
from ..config import OAuth2Config
from .cache import CacheLimits, SharedVerdicts
from .claims import ClaimPolicy
from .dialects import DIALECTS, ClientCredentials
from .hybrid import HybridValidator
from .introspection import IntrospectionValidator
from .jwks import JWKSClient
from .jwt import JWTValidator, KeySource, StaticKeys
from .keys import KeySet
from .principal import Principal

__all__ = ["Validator", "build_validator", "claim_policy", "key_source"]


class Validator(Protocol):
    """What every strategy offers."""

    strategy: str

    async def validate(self, token: str, *, fresh: bool = False) -> Principal:
        """The token's principal (``fresh``: no cached verdict); raises ``AuthError``."""
        ...

    def cached(self, token: str) -> Principal | None:
        """The principal ``validate(token)`` would answer from its remembered verdict, or None (ask ``validate``).

        Synchronous and never raises: the gate looks here first, then runs the same steps on either answer.
        """
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
    shared: SharedVerdicts | None = None,
) -> JWTValidator | IntrospectionValidator | HybridValidator:
    """The validator an ``oauth2`` block asks for. ``clock`` returns seconds since the epoch.

    ``shared``: the introspection cache replicas share (``SharedState.verdicts``); the JWT cache stays per process.

    Raises ``ValueError`` for an introspection strategy without endpoint and credentials (a validated
    config always has them).
    """
    now = clock or time.time
    jwt: JWTValidator | None = None
    if cfg.validation_strategy in ("jwt", "both"):
        jwt = JWTValidator(cfg.algorithms, key_source(cfg, clock=now, http=http), claim_policy(cfg), clock=now,
                           cache=CacheLimits(cfg.jwt_cache_ttl, cfg.max_cache_size), tenant=tenant)
    if cfg.validation_strategy == "jwt":
        assert jwt is not None  # noqa: S101 - set just above
        return jwt
    if not cfg.introspection_endpoint or not cfg.client_id or cfg.client_secret is None:
        raise ValueError("introspection needs introspection_endpoint, client_id and client_secret")
    introspection = IntrospectionValidator(
        cfg.introspection_endpoint,
        ClientCredentials(cfg.client_id, cfg.client_secret.get_secret_value(), cfg.introspection_auth_method),
        DIALECTS[cfg.dialect], claim_policy(cfg), clock=now, timeout=cfg.introspection_timeout,
        max_bytes=cfg.max_response_bytes, cache=CacheLimits(cfg.introspection_cache_ttl, cfg.max_cache_size),
        http=http, tenant=tenant, shared=shared,
    )
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
    uses_hmac = any(alg in HMAC for alg in cfg.algorithms)
    if cfg.jwks is not None:
        return StaticKeys(KeySet.from_jwks(cfg.jwks))
    if cfg.jwt_secret is not None and uses_hmac:
        return StaticKeys(KeySet.from_secret(cfg.jwt_secret.get_secret_value().encode("utf-8")))
    return StaticKeys(KeySet(refused="no verification keys configured"))


def claim_policy(cfg: OAuth2Config) -> ClaimPolicy:
    """The claim policy an ``oauth2`` block asks for."""
    return ClaimPolicy.build(
        issuers=cfg.issuers,
        audiences=cfg.audiences,
        leeway=cfg.leeway,
        required=cfg.claims_required,
        scope_claims=tuple(cfg.scope_claims),
        required_scopes=tuple(cfg.required_scopes),
        allowed_scopes=cfg.allowed_scopes,
        hierarchy=cfg.hierarchy,
    )
