"""RFC 7662 token introspection, plus GitHub's ``POST /applications/{client_id}/token`` dialect.

Only a JSON ``true`` in ``active`` is active. Active results are cached by token hash for
``min(introspection_cache_ttl, exp - now)``; inactive ones never are; concurrent requests for one
token make one call. ``validate(token, fresh=True)`` bypasses the cache (a plugin's
``oauth2_specific.introspection_required``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from ..config import OAuth2Config
from ..errors import AuthError, Reason
from ..tracing import span
from ._compact import MAX_TOKEN_BYTES, DuplicateMemberError, strict_json
from ._http import HttpHolder, Response, bounded_request
from .cache import SingleFlight, TTLCache, token_key
from .claims import ClaimPolicy, authorize_scopes, check_claims, client_of, extract_scopes
from .jwt import claim_policy
from .principal import Principal, fingerprint

__all__ = ["IntrospectionValidator"]

log = logging.getLogger(__name__)


class IntrospectionValidator:
    """Asks the provider whether a token is active (RFC 7662); raises ``AuthError``."""

    strategy = "introspection"

    def __init__(
        self,
        cfg: OAuth2Config,
        *,
        clock: Callable[[], float] = time.time,
        http: httpx.AsyncClient | None = None,
        tenant: str | None = None,
    ) -> None:
        if not cfg.introspection_endpoint or not cfg.client_id or cfg.client_secret is None:
            raise ValueError("introspection needs introspection_endpoint, client_id and client_secret")
        self.endpoint = cfg.introspection_endpoint
        self._host = urlsplit(self.endpoint).netloc  # for logs and spans
        self.dialect = cfg.dialect
        self.client_id = cfg.client_id
        self._client_secret = cfg.client_secret
        self.auth_method = cfg.introspection_auth_method
        self.timeout = cfg.introspection_timeout
        self.max_bytes = cfg.max_response_bytes
        self.cache_ttl = cfg.introspection_cache_ttl
        self.policy: ClaimPolicy = claim_policy(cfg)
        if self.dialect == "github":
            self.policy = ClaimPolicy(**{**self.policy.__dict__, "scope_claims": ("scopes",)})
        self.clock = clock
        self.tenant = tenant
        self.http = HttpHolder(http)
        self.cache: TTLCache[Principal] = TTLCache(cfg.max_cache_size, clock)
        self._flight: SingleFlight[Principal] = SingleFlight()
        self.call_count = 0

    async def validate(self, token: str, *, fresh: bool = False) -> Principal:
        """The token's ``Principal`` if the provider says it is active and it passes our checks."""
        if not isinstance(token, str) or not token or not token.isprintable() or " " in token:
            raise AuthError(Reason.MALFORMED, "empty token or one with spaces or control characters")
        if len(token) > MAX_TOKEN_BYTES:
            raise AuthError(Reason.SIZE, f"token longer than {MAX_TOKEN_BYTES} bytes")
        key = token_key(token)
        if not fresh:
            hit = self.cache.get(key)
            if hit is not None:
                return hit
        principal = await self._flight.run((key, fresh), lambda: self._introspect(token))
        return principal

    async def _introspect(self, token: str) -> Principal:
        self.call_count += 1
        with span("labkit.introspect", strategy=self.strategy, dialect=self.dialect, host=self._host,
                  tenant=self.tenant):
            try:
                response = await self._send(token)
                claims = self._parse(response)
            except AuthError as exc:
                if exc.reason in (Reason.INTROSPECTION_ERROR, Reason.TIMEOUT):
                    log.warning("introspection at %s failed: %s", self._host, exc.reason.value)
                raise
            return self._principal(token, claims)

    def _principal(self, token: str, claims: dict[str, Any]) -> Principal:
        now = self.clock()
        check_claims(claims, self.policy, now)
        subject = claims.get("sub", claims.get("username"))
        scopes = authorize_scopes(extract_scopes(claims, self.policy.scope_claims), self.policy)
        exp = claims.get("exp")
        expires_at = float(exp) if isinstance(exp, (int, float)) else None
        principal = Principal(
            subject=subject if isinstance(subject, str) else None,
            scopes=scopes,
            client_id=client_of(claims),
            issuer=claims.get("iss") if isinstance(claims.get("iss"), str) else None,
            claims=claims,
            tenant=self.tenant,
            strategy=self.strategy,
            fingerprint=fingerprint(token),
            expires_at=expires_at,
        )
        until = now + self.cache_ttl
        if expires_at is not None:
            until = min(until, expires_at)
        self.cache.put(token_key(token), principal, until)
        return principal

    async def _send(self, token: str) -> Response:
        secret = self._client_secret.get_secret_value()
        common: dict[str, Any] = {
            "timeout": self.timeout, "max_bytes": self.max_bytes, "error": Reason.INTROSPECTION_ERROR,
        }
        if self.dialect == "github":
            return await bounded_request(
                self.http, "POST", self.endpoint, what="GitHub token check", **common,
                json={"access_token": token}, auth=(self.client_id, secret),
                headers={"Accept": "application/vnd.github+json"},
            )
        form = {"token": token, "token_type_hint": "access_token"}
        kwargs: dict[str, Any] = {"data": form, "headers": {"Accept": "application/json"}}
        if self.auth_method == "client_secret_post":
            form.update(client_id=self.client_id, client_secret=secret)
        else:
            # RFC 6749 §2.3.1: form-urlencode id and secret before HTTP Basic.
            kwargs["auth"] = (quote(self.client_id, safe=""), quote(secret, safe=""))
        return await bounded_request(self.http, "POST", self.endpoint, what="introspection", **common, **kwargs)

    def _parse(self, response: Response) -> dict[str, Any]:
        if self.dialect == "github" and response.status == 404:
            raise AuthError(Reason.INACTIVE, "GitHub says the token is not valid for this app")
        if response.status != 200:
            raise AuthError(Reason.INTROSPECTION_ERROR, f"introspection answered HTTP {response.status}")
        try:
            body = strict_json(response.body)
        except DuplicateMemberError as exc:
            if exc.member == "active":
                raise AuthError(Reason.INACTIVE, "'active' appears twice: not unambiguously true") from None
            raise AuthError(Reason.INTROSPECTION_ERROR, f"introspection response: {exc}") from None
        except ValueError as exc:
            raise AuthError(Reason.INTROSPECTION_ERROR, f"introspection response is not JSON: {exc}") from None
        if not isinstance(body, dict):
            raise AuthError(Reason.INTROSPECTION_ERROR, "introspection response is not a JSON object")
        if self.dialect == "github":
            return _github_claims(body)
        # RFC 7662 §2.2: active is a boolean; anything but JSON true is inactive.
        if body.get("active") is not True:
            raise AuthError(Reason.INACTIVE, "the provider says the token is not active")
        return body  # an active refresh or ID token is still refused by check_claims (require_access_token)

    async def aclose(self) -> None:
        """Close the HTTP client this object created (if any)."""
        await self.http.aclose()


def _github_claims(body: dict[str, Any]) -> dict[str, Any]:
    """Map GitHub's token-check answer to introspection-style claims."""
    user = body.get("user")
    app = body.get("app")
    user = user if isinstance(user, dict) else {}
    app = app if isinstance(app, dict) else {}
    claims: dict[str, Any] = {"active": True, "scopes": body.get("scopes", [])}
    if isinstance(user.get("login"), str):
        claims["sub"] = user["login"]
    if isinstance(app.get("client_id"), str):
        claims["client_id"] = app["client_id"]
    return claims
