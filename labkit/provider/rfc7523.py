"""RFC 7523 on authlib's parts: ``private_key_jwt`` client authentication (§2.2) and the JWT-bearer grant
(§2.1) redeeming an ID-JAG from the lab's enterprise IdP (SEP-990, identity assertion authorization grant).

Assertions are checked with the provider's clock. A client assertion's ``jti`` is spent when it authenticates
the client, at whichever endpoint (``/token``, ``/introspect``, ``/revoke``: every client-authenticated endpoint
goes through ``PrivateKeyJWT``), so an assertion authenticates once; its ``aud`` must be this server's issuer
identifier, one string (draft-ietf-oauth-rfc7523bis: not the token endpoint, not a list). An ID-JAG's ``jti`` is
spent when its token is issued (``lab_jtis``). Spent ids live in ``Store.used_jtis`` until their ``exp``.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion, JWTBearerGrant
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .._text import safe_text
from ..algorithms import PROVIDER_ALGORITHMS as _ALGORITHMS  # asymmetric only: never client_secret_jwt
from .idp import ID_JAG_TYP
from .rfc8707 import bind_resources, default_resources, requested_resources

__all__ = [
    "JWT_BEARER", "LEEWAY", "MAX_ASSERTION_LIFETIME", "IdentityAssertionGrant", "PrivateKeyJWT",
    "respond_without_refresh", "spent_until",
]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_log = logging.getLogger("labkit.provider")
LEEWAY = 30  # seconds of clock skew allowed on exp/nbf/iat; a spent jti is kept at least this long past exp
MAX_ASSERTION_LIFETIME = 3600  # an assertion valid for longer is refused: the jti cache stays bounded


def spent_until(claims: dict[str, Any]) -> float:
    """How long a spent assertion's ``jti`` is kept: as long as the assertion is accepted (``exp`` + leeway)."""
    return float(claims["exp"]) + LEEWAY + 1


def _validate(claims: dict[str, Any], server: Any, options: dict[str, Any], error: type[Exception]) -> None:
    """Check registered claims with the provider's clock; raise ``error`` (generic description) on failure."""
    registry = jwt.JWTClaimsRegistry(now=lambda: int(server.clock()), leeway=LEEWAY, **options)
    try:
        registry.validate(claims)
    except JoseError:
        raise error("the assertion's claims are not valid") from None
    exp = claims.get("exp")
    # RFC 7523 §3 item 4: the server may refuse assertions valid too far into the future
    if not isinstance(exp, int) or isinstance(exp, bool) or exp - server.clock() > MAX_ASSERTION_LIFETIME:
        raise error("the assertion's lifetime is too long")
    if "jti" in claims and not isinstance(claims["jti"], str):
        raise error("the assertion's jti is not a string")


def _decode(assertion: str, keys: dict[str, Any] | None, error: type[Exception]) -> tuple[dict[str, Any], Any]:
    """Verify ``assertion`` against ``keys`` (a JWK Set); return claims and header, or raise ``error``."""
    if not keys:
        raise error("no keys to verify the assertion")
    try:
        token = jwt.decode(assertion, KeySet.import_key_set(keys), algorithms=_ALGORITHMS)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise error("the assertion could not be verified") from None
    return dict(token.claims), token.header


def respond_without_refresh(grant: Any) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
    """Issue an access token for a validated ``grant`` (scope in ``lab_scope``); no refresh token (RFC 7523 §2.1,
    RFC 8693 §2.2.1: the client can repeat the grant)."""
    token: dict[str, Any] = grant.generate_token(scope=grant.request.lab_scope, user=grant.request.user,
                                                 include_refresh_token=False)
    grant.save_token(token)
    return 200, token, grant.TOKEN_RESPONSE_HEADER


class PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 §2.2 client authentication: a JWT signed with a key the client registered (its ``jwks``)."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, server: Any) -> None:
        super().__init__(validate_jti=True)
        self.server = server

    def get_audiences(self) -> list[str]:
        # draft-ietf-oauth-rfc7523bis §4: the audience is the issuer identifier alone (not the token endpoint)
        return [self.server.issuer()]

    def resolve_client_public_key(self, client: Any) -> KeySet:
        if not client.jwks:
            raise InvalidClientError(description="the client has no registered keys")
        return KeySet.import_key_set(client.jwks)

    def process_assertion_claims(self, assertion: str, resolve_key: Any) -> dict[str, Any]:
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=_ALGORITHMS)
        except (JoseError, ValueError, TypeError, KeyError):
            raise InvalidClientError(description="the client assertion could not be verified") from None
        claims = dict(token.claims)
        self.verify_claims(claims)
        return claims

    def verify_claims(self, claims: dict[str, Any]) -> None:
        options = {"iss": {"essential": True}, "sub": {"essential": True}, "exp": {"essential": True},
                   "jti": {"essential": True}, "aud": {"essential": True, "values": self.get_audiences()}}
        _validate(claims, self.server, options, InvalidClientError)
        # draft-ietf-oauth-rfc7523bis §4: aud is exactly the issuer identifier, a single string (never a list)
        if not isinstance(claims.get("aud"), str) or claims["aud"] != self.server.issuer():
            raise InvalidClientError(description="the client assertion's aud must be the issuer identifier")
        # RFC 7523 §3 items 1-2: iss and sub are both the client_id
        if claims["sub"] != claims["iss"]:
            raise InvalidClientError(description="the client assertion's iss and sub differ")
        self.validate_jti(claims, claims["jti"])

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """Spend ``jti`` now, whatever the endpoint; raises ``InvalidClientError`` on replay, ``SpentIdsFullError``."""
        key = f"client:{claims['sub']}:{jti}"
        # RFC 7523 §3 item 7: a jti is used once: spent by the authentication itself, at every endpoint
        if not self.server.store.used_jtis.claim(key, spent_until(claims), owner=f"client:{claims['sub']}"):
            _log.warning("client %s: a client assertion was replayed (jti seen before)", safe_text(claims["sub"]))
            raise InvalidClientError(description="the client assertion was used before")
        return True


class IdentityAssertionGrant(JWTBearerGrant):  # type: ignore[misc]
    """RFC 7523 §2.1 JWT-bearer grant for ID-JAGs issued by the trusted enterprise IdP (SEP-990 leg 2).

    The client authenticates itself; the ID-JAG must be typed ``oauth-id-jag+jwt``, signed by the IdP,
    addressed to this issuer (``aud``), issued for this client (``client_id``), and name a known user.
    Requested scopes must be within the ID-JAG's and the client's; the ID-JAG's ``resource`` bounds the token's.
    """

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["private_key_jwt", "client_secret_basic",
                                                        "client_secret_post"]

    def resolve_issuer_client(self, issuer: str) -> Any:
        idp = self.server.idp
        return idp if idp is not None and issuer == idp.issuer() else None

    def resolve_client_public_key(self, client: Any) -> KeySet:
        key_set: KeySet = client.key_set()
        return key_set

    def get_audiences(self) -> list[str]:
        return [self.server.issuer()]

    def validate_token_request(self) -> None:
        # authenticate the client -> verify the ID-JAG -> bind it to the client -> user, scopes, resources
        client = self.authenticate_token_endpoint_client()
        self.request.client = client
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("the client may not use the jwt-bearer grant")
        assertion = self.request.form.get("assertion")
        if not assertion:
            raise InvalidRequestError("Missing 'assertion' in request")
        claims, _header = self._verified(assertion)
        # SEP-990 / ID-JAG §4.3: issued for the client that presents it
        if claims.get("client_id") != client.client_id:
            raise InvalidGrantError("the assertion was issued for another client")
        user = self.server.store.users.get(claims.get("sub")) if isinstance(claims.get("sub"), str) else None
        if user is None:
            raise InvalidGrantError("the assertion's subject is not a known user")
        self.request.user = user
        # OIDC Core §2: the IdP says when the user logged in (or nothing); redeeming the grant is no login
        self.request.lab_auth_time = claims.get("auth_time")
        self._check_scope(client, claims)
        granted = claims.get("resource")
        granted_resources = (granted,) if isinstance(granted, str) else ()
        bind_resources(self, default_resources(self.server, client, granted_resources or requested_resources(
            self.request)))
        key = f"idjag:{claims['iss']}:{claims['jti']}"
        self.request.lab_jtis = [*getattr(self.request, "lab_jtis", []), (key, spent_until(claims))]

    def _verified(self, assertion: str) -> tuple[dict[str, Any], Any]:
        _header, unverified = self.extract_assertion(assertion)
        issuer = self.resolve_issuer_client(unverified.get("iss")) if isinstance(unverified.get("iss"), str) else None
        if issuer is None:
            raise InvalidGrantError("the assertion's issuer is not trusted")
        claims, header = _decode(assertion, issuer.jwks(), InvalidGrantError)
        # ID-JAG §3: explicitly typed, so no other JWT of the IdP (an ID token) passes as a grant
        if header.get("typ") != ID_JAG_TYP:
            raise InvalidGrantError("the assertion is not an ID-JAG")
        options = {"iss": {"essential": True}, "sub": {"essential": True}, "exp": {"essential": True},
                   "jti": {"essential": True}, "aud": {"essential": True, "values": self.get_audiences()}}
        _validate(claims, self.server, options, InvalidGrantError)
        # ID-JAG §3: addressed to this issuer alone (one string, as a client assertion's aud)
        if not isinstance(claims.get("aud"), str):
            raise InvalidGrantError("the assertion's aud must be the issuer identifier")
        key = f"idjag:{claims['iss']}:{claims['jti']}"
        if key in self.server.store.used_jtis:
            raise InvalidGrantError("the assertion was used before")
        return claims, header

    def _check_scope(self, client: Any, claims: dict[str, Any]) -> None:
        granted = claims.get("scope")
        granted_scopes = set(granted.split()) if isinstance(granted, str) else set()
        requested = self.request.payload.scope
        wanted = requested.split() if requested else sorted(granted_scopes)
        # the token never carries more than the IdP granted (nor more than the client may have)
        if not wanted or not set(wanted) <= granted_scopes:
            raise InvalidScopeError("a requested scope was not granted by the identity assertion")
        self.request.lab_scope = client.get_allowed_scope(" ".join(wanted))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return respond_without_refresh(self)
