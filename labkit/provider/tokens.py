"""Issuing and describing tokens: RFC 9068 JWT access tokens (or opaque ones), refresh tokens, RFC 7662 answers.

``TokenIssuer`` is mixed into ``LabAuthorizationServer``; authlib calls ``_generate`` for every grant.
"""

from __future__ import annotations

import math
import secrets
import warnings
from collections.abc import Callable
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidGrantError
from joserfc import jwt

from .dpop import confirmation
from .keys import KeyRing
from .models import Client, Store, TokenRecord, User
from .oidc import LabOpenID, auth_time_of
from .personas import persona_issuer, persona_typ, shape_claims
from .request import current_request

__all__ = ["REFRESH_LIFETIME", "TokenIssuer"]

REFRESH_LIFETIME = 24 * 3600


class TokenIssuer:
    """Makes and remembers tokens for one tenant (needs ``clock``, ``issuer``, ``store``, ``keys``)."""

    clock: Callable[[], float]
    issuer: Callable[[], str]
    store: Store
    keys: KeyRing
    default_audience: str
    oidc: LabOpenID

    def _generate(
        self,
        grant_type: str,
        client: Client,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        request = current_request()
        # RFC 7523 §3: an assertion id is used once; recorded only now, when every check has passed
        jtis: list[tuple[str, float]] = getattr(request, "lab_jtis", [])
        if jtis and not self.store.claim_jtis(jtis, self.clock(), owner=f"client:{client.client_id}"):
            raise InvalidGrantError("the assertion was used before")
        audience = getattr(request, "lab_audience", None) or client.audience or self.default_audience
        family = getattr(request, "lab_family", None) or secrets.token_hex(8)
        # Every grant passes through here: requested scopes must be within the client's (invalid_scope).
        scopes = client.get_allowed_scope(scope).split()
        proof = getattr(request, "lab_dpop", None)
        jkt = proof.jkt if proof is not None else None
        lifetime: int | None = getattr(request, "lab_lifetime", None)
        # OIDC Core §2: auth_time is when the user logged in, as the grant says; never the time of this request
        auth_time = auth_time_of(request)
        extra = {**(getattr(request, "lab_claims", None) or {}), "auth_time": auth_time, **confirmation(jkt)}
        access = self.issue_access_token(client, user, scopes, audience=audience, family=family, lifetime=lifetime,
                                         extra_claims=extra or None)
        token: dict[str, Any] = {
            "token_type": "DPoP" if jkt else "Bearer",  # RFC 9449 §5
            "access_token": access,
            "expires_in": client.lifetime if lifetime is None else lifetime,
            "scope": " ".join(scopes),
        }
        token.update(getattr(request, "lab_response", {}))
        if include_refresh_token and "refresh_token" in client.grant_types and user is not None:
            refresh = "lab-rt-" + secrets.token_urlsafe(32)
            now = self.clock()
            self.store.add_token(
                refresh,
                TokenRecord(
                    kind="refresh",
                    client_id=client.client_id,
                    scope=" ".join(scopes),
                    issued_at=now,
                    expires_at=now + REFRESH_LIFETIME,
                    clock=self.clock,
                    user=user,
                    subject=user.subject,
                    audience=audience,
                    family=family,
                    resources=tuple(getattr(request, "lab_resources", None) or [audience]),
                    # RFC 9449 §5: bound to the key; the login it was granted on
                    extra={"audience": audience, "auth_time": auth_time, **confirmation(jkt)},
                ),
            )
            token["refresh_token"] = refresh
        if grant_type == "refresh_token":
            self.oidc.on_refresh(token, request, user)  # the code grant's ID token: authlib's OpenIDCode hook
        return token

    def issue_access_token(
        self,
        client: Client,
        user: User | None,
        scopes: list[str],
        *,
        audience: str | list[str],
        family: str = "",
        lifetime: int | None = None,
        alg: str | None = None,
        extra_claims: dict[str, Any] | None = None,
        issued_at: float | None = None,
        not_before: float | None = None,
        kid: str | None = None,
    ) -> str:
        """Make an access token for ``client`` (a JWT per RFC 9068, or opaque) and remember it."""
        now = self.clock() if issued_at is None else issued_at
        life = client.lifetime if lifetime is None else lifetime
        subject = user.subject if user else client.client_id
        issuer = persona_issuer(client.persona, self.issuer())
        jti = secrets.token_hex(12)
        record = TokenRecord(
            kind="access",
            client_id=client.client_id,
            scope=" ".join(scopes),
            issued_at=now,
            expires_at=now + life,
            clock=self.clock,
            user=user,
            subject=subject,
            audience=audience,
            issuer=issuer,
            jti=jti,
            family=family,
        )
        if client.opaque:
            record.extra = dict(extra_claims or {})  # what introspection reports (cnf, act, ...)
            token = "lab-at-" + secrets.token_urlsafe(32)
            self.store.add_token(token, record)
            return token
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": subject,
            "aud": audience,
            "client_id": client.client_id,
            "iat": int(now),
            "exp": math.ceil(now + life),  # rounded up: a 1-second token lives at least 1 second
            "jti": jti,
            "scope": " ".join(scopes),
        }
        if not_before is not None:
            claims["nbf"] = int(not_before)
        if user is not None:
            claims["auth_time"] = int(now)
        claims = shape_claims(client.persona, claims, scopes, user_email=user.email if user else None)
        if client.persona == "google":
            claims["aud"] = client.client_id if audience == self.default_audience else audience
        claims.update(extra_claims or {})
        claims = {k: v for k, v in claims.items() if v is not None}
        algorithm = alg or client.alg
        key = self.keys.active(algorithm)
        header = {"typ": persona_typ(client.persona), "alg": algorithm, "kid": kid if kid is not None else key.kid}
        with warnings.catch_warnings():
            # RFC 9864 deprecates "EdDSA" for "Ed25519"; the lab still issues it, as RFC 8037 providers do.
            warnings.filterwarnings("ignore", message="EdDSA is deprecated")
            token = jwt.encode(header, claims, key, algorithms=[algorithm])
        record.extra = claims
        self.store.add_token(token, record)
        return token

    def introspection_payload(self, record: TokenRecord) -> dict[str, Any]:
        """RFC 7662 §2.2 response members for an active token."""
        payload: dict[str, Any] = {
            "active": True,
            "scope": record.scope,
            "client_id": record.client_id,
            # RFC 7662 §2.2 token_type, truthfully: a refresh token is not a Bearer access token.
            "token_type": "Bearer" if record.kind == "access" else "refresh_token",
            "token_use": record.kind,  # "access" or "refresh": the hint lesson 02 shows
            "exp": math.ceil(record.expires_at),  # as the JWT says (rounded up)
            "iat": int(record.issued_at),
            "sub": record.subject,
            "aud": record.audience,
            "iss": record.issuer or self.issuer(),
        }
        if record.user is not None:
            payload["username"] = record.user.subject
        if record.jti:
            payload["jti"] = record.jti
        cnf = record.extra.get("cnf")
        if record.kind == "access" and isinstance(cnf, dict) and cnf.get("jkt"):
            payload["cnf"] = {"jkt": cnf["jkt"]}  # RFC 9449 §6.2
            payload["token_type"] = "DPoP"  # noqa: S105 - a token type name
        if "act" in record.extra:
            payload["act"] = record.extra["act"]  # RFC 8693 §4.1: who acts for the subject
        return {k: v for k, v in payload.items() if v is not None}
