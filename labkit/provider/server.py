"""The provider's OAuth 2.0 logic on authlib's server components (RFC 6749, 7636, 7009, 7662, 9068)."""

from __future__ import annotations

import math
import secrets
import warnings
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any, ClassVar

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import OAuth2Payload, OAuth2Request, grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    OAuth2Error,
    UnsupportedResponseTypeError,
)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from joserfc import jwt

from .dpop import InvalidDPoPProofError, TokenEndpointDPoP, confirmation
from .idp import EnterpriseIdP
from .keys import KeyRing
from .models import AuthCode, Client, Store, TokenRecord, User, token_hash
from .personas import persona_issuer, shape_claims
from .rfc7523 import IdentityAssertionGrant, PrivateKeyJWT
from .rfc7591 import Registration, RegistrationPolicy
from .rfc8693 import TokenExchangeGrant
from .rfc8707 import InvalidTargetError, bind_resources, default_resources, requested_resources

__all__ = ["InvalidTargetError", "LabAuthorizationServer", "LabRequest"]


CODE_LIFETIME = 60
REFRESH_LIFETIME = 24 * 3600
# private_key_jwt first: a client that signs is never asked for a secret (RFC 7523 §2.2)
_CLIENT_AUTH = ["private_key_jwt", "client_secret_basic", "client_secret_post"]
_current: ContextVar[LabRequest | None] = ContextVar("labkit_provider_request", default=None)


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, data: dict[str, str], datalist: dict[str, list[str]]) -> None:
        self._data = data
        self._datalist = datalist

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> dict[str, list[str]]:
        return self._datalist


class LabRequest(OAuth2Request):  # type: ignore[misc]
    """An authlib request built from an already-read Starlette request (query + form)."""

    def __init__(
        self, method: str, uri: str, headers: dict[str, str], query: list[tuple[str, str]], form: list[tuple[str, str]]
    ) -> None:
        super().__init__(method, uri, headers=headers)
        datalist: dict[str, list[str]] = {}
        for key, value in [*query, *form]:
            datalist.setdefault(key, []).append(value)
        # RFC 6749 §3.1, §3.2: parameters MUST NOT be included more than once (RFC 8707 §2: resource may).
        repeated = sorted(k for k, v in datalist.items() if len(v) > 1 and k != "resource")
        if repeated:
            raise InvalidRequestError("a parameter is repeated")
        self._args = dict(query)
        self._form = dict(form)
        self.payload = _Payload({k: v[0] for k, v in datalist.items()}, datalist)

    @property
    def args(self) -> dict[str, str]:
        return self._args

    @property
    def form(self) -> dict[str, str]:
        return self._form


class LabAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """One tenant's authorization server: clients, users, keys, tokens."""

    def __init__(self, *, tenant: str | None, clock: Callable[[], float], issuer: Callable[[], str]) -> None:
        super().__init__(scopes_supported=None)
        self.tenant = tenant
        self.clock = clock
        self.issuer = issuer
        self.store = Store()
        self.keys = KeyRing(tenant or "default", clock)
        self.dpop = TokenEndpointDPoP(clock)  # RFC 9449 at the token endpoint
        self.default_audience = "api://oauth2-lab-agent"
        self.register_token_generator("default", self._generate)
        self.register_grant(_ClientCredentials)
        self.register_grant(_AuthorizationCode, [_StrictPKCE(required=True)])
        self.register_grant(_RefreshToken)
        self.register_endpoint(_Introspection)
        self.register_endpoint(_Revocation)
        self.idp: EnterpriseIdP | None = None  # the trusted enterprise IdP (SEP-990), set by MockProvider
        self.register_client_auth_method("private_key_jwt", PrivateKeyJWT(self))
        self.register_grant(IdentityAssertionGrant)
        self.register_grant(TokenExchangeGrant)
        self.registration = Registration(self, RegistrationPolicy())
        self.register_endpoint(self.registration)

    # -- authlib hooks ------------------------------------------------------------------------
    def query_client(self, client_id: str) -> Client | None:
        return self.store.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        pass  # records are made by the generator, which knows the token's claims

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> tuple[int, Any, list[Any]]:
        return status, body, headers

    def create_oauth2_request(self, request: LabRequest) -> LabRequest:
        return request

    def create_json_request(self, request: LabRequest) -> LabRequest:
        return request

    def handle_error_response(self, request: LabRequest, error: OAuth2Error) -> Any:
        from .wire import safe_description

        error.description = safe_description(error.description)
        return super().handle_error_response(request, error)

    def get_authorization_grant(self, request: LabRequest) -> Any:
        try:
            return super().get_authorization_grant(request)
        except UnsupportedResponseTypeError as error:
            # never repeat the client's value in error_description (RFC 6749 §4.1.2.1)
            raise UnsupportedResponseTypeError(
                "response_type must be code", "code", redirect_uri=error.redirect_uri
            ) from None

    def current_request(self) -> LabRequest | None:
        """The request being handled by ``run`` (None outside it)."""
        return _current.get()

    def run(self, request: LabRequest, call: Callable[[LabRequest], Any]) -> Any:
        """Run an authlib call with ``request`` as the current request (read by the token generator)."""
        reset = _current.set(request)
        try:
            return call(request)
        finally:
            _current.reset(reset)

    # -- tokens -------------------------------------------------------------------------------
    def _generate(
        self,
        grant_type: str,
        client: Client,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        request = _current.get()
        # RFC 7523 §3: an assertion id is used once; recorded only now, when every check has passed
        jtis: list[tuple[str, float]] = getattr(request, "lab_jtis", [])
        if jtis and not self.store.claim_jtis(jtis, self.clock()):
            raise InvalidGrantError("the assertion was used before")
        audience = getattr(request, "lab_audience", None) or client.audience or self.default_audience
        family = getattr(request, "lab_family", None) or secrets.token_hex(8)
        # Every grant passes through here: requested scopes must be within the client's (invalid_scope).
        scopes = client.get_allowed_scope(scope).split()
        proof = getattr(request, "lab_dpop", None)
        jkt = proof.jkt if proof is not None else None
        lifetime: int | None = getattr(request, "lab_lifetime", None)
        extra = {**(getattr(request, "lab_claims", None) or {}), **confirmation(jkt)}
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
                    extra={"audience": audience, **confirmation(jkt)},  # RFC 9449 §5: bound to the key
                ),
            )
            token["refresh_token"] = refresh
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
        header = {"typ": "at+jwt", "alg": algorithm, "kid": kid if kid is not None else key.kid}
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
            "exp": int(record.expires_at),
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


class _StrictPKCE(CodeChallenge):  # type: ignore[misc]
    """PKCE for every client (OAuth 2.1, RFC 9700 §2.1.1), S256 only: ``plain`` offers no protection."""

    SUPPORTED_CODE_CHALLENGE_METHOD: ClassVar[list[str]] = ["S256"]

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge with code_challenge_method=S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("code_challenge_method must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def validate_code_verifier(self, grant: Any, result: Any) -> None:
        if not grant.request.payload.data.get("code_verifier"):
            raise InvalidRequestError("Missing 'code_verifier'")
        super().validate_code_verifier(grant, result)


def _claim_once(server: LabAuthorizationServer, record: AuthCode | TokenRecord, flag: str) -> None:
    """Set ``flag`` (``used``/``rotated``) atomically, as the last step; a second claim revokes the grant family.

    Raises ``InvalidGrantError`` on reuse.
    """
    with server.store.lock:
        reused = bool(getattr(record, flag))
        setattr(record, flag, True)
    if reused:
        server.store.revoke_family(record.family)
        raise InvalidGrantError()


class _ClientCredentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = _CLIENT_AUTH

    def validate_token_request(self) -> None:
        super().validate_token_request()
        server: LabAuthorizationServer = self.server
        bind_resources(self, default_resources(server, self.request.client, requested_resources(self.request)))


class _AuthorizationCode(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*_CLIENT_AUTH, "none"]

    @staticmethod
    def validate_authorization_redirect_uri(request: LabRequest, client: Client) -> str:
        redirect_uri = request.payload.redirect_uri
        # RFC 6749 §3.1.2.3: exact match; never repeat the given URI back (RFC 6749 §4.1.2.1: no redirect)
        if redirect_uri and not client.check_redirect_uri(redirect_uri):
            raise InvalidRequestError("redirect_uri is not registered for this client")
        if not redirect_uri and not client.get_default_redirect_uri():
            raise InvalidRequestError("Missing 'redirect_uri' in request.", state=request.payload.state)
        return str(redirect_uri or client.get_default_redirect_uri())

    def validate_authorization_request(self) -> str:
        redirect_uri: str = super().validate_authorization_request()
        server: LabAuthorizationServer = self.server
        try:
            self.request.lab_resources = default_resources(server, self.request.client,
                                                            requested_resources(self.request))
        except InvalidTargetError as error:
            error.redirect_uri = redirect_uri  # RFC 8707 §2: an authorization error response
            raise
        return redirect_uri

    def save_authorization_code(self, code: str, request: LabRequest) -> AuthCode:
        server: LabAuthorizationServer = self.server
        data = request.payload.data
        record = AuthCode(
            code_hash=token_hash(code),
            client_id=request.client.client_id,
            redirect_uri=data.get("redirect_uri", ""),
            scope=request.scope or "",
            user=request.user,
            expires_at=server.clock() + CODE_LIFETIME,
            code_challenge=data.get("code_challenge"),
            code_challenge_method=data.get("code_challenge_method"),
            resources=tuple(getattr(request, "lab_resources", ())),
            family=secrets.token_hex(8),
        )
        with server.store.lock:
            server.store.codes[record.code_hash] = record
        return record

    def query_authorization_code(self, code: str, client: Client) -> AuthCode | None:
        """The code if it belongs to ``client`` and has not expired (used or not: decided after every check)."""
        server: LabAuthorizationServer = self.server
        with server.store.lock:
            record = server.store.codes.get(token_hash(code))
        if record is None or record.client_id != client.client_id or server.clock() >= record.expires_at:
            return None
        return record

    def validate_token_request(self) -> None:
        # authenticate -> ownership -> redirect_uri -> PKCE (authlib and its hook), then resources; only then mutate
        super().validate_token_request()
        record: AuthCode = self.request.authorization_code
        bind_resources(self, record.resources)
        # RFC 6749 §4.1.2: a code used twice revokes what it was exchanged for.
        _claim_once(self.server, record, "used")
        self.request.lab_family = record.family

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        pass  # claimed in validate_token_request, atomically with the reuse check

    def authenticate_user(self, authorization_code: AuthCode) -> User:
        return authorization_code.user


class _RefreshToken(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*_CLIENT_AUTH, "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation

    def authenticate_refresh_token(self, refresh_token: str) -> TokenRecord | None:
        """The refresh token's record (rotated or not: reuse is judged after ownership and request checks)."""
        server: LabAuthorizationServer = self.server
        record = server.store.find_token(refresh_token)
        if record is None or record.kind != "refresh" or record.is_expired():
            return None
        return record

    def validate_token_request(self) -> None:
        # authenticate -> ownership (authlib: check_client) -> scope -> resources; only then mutate
        super().validate_token_request()
        record: TokenRecord = self.request.refresh_token
        bind_resources(self, record.resources)
        if record.is_revoked():
            raise InvalidGrantError()
        # RFC 9449 §5: a refresh token bound to a key is usable only with a proof by that key
        bound = (record.extra.get("cnf") or {}).get("jkt")
        proof = getattr(self.request, "lab_dpop", None)
        if bound and (proof is None or proof.jkt != bound):
            raise InvalidDPoPProofError("the refresh token is bound to another DPoP key")
        # RFC 9700 §4.14.2: reuse of a rotated refresh token: assume theft, revoke the whole family.
        _claim_once(self.server, record, "rotated")
        self.request.lab_family = record.family

    def authenticate_user(self, refresh_token: TokenRecord) -> User | None:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        pass  # rotated in validate_token_request, atomically with the reuse check


class _Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = _CLIENT_AUTH

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        store: Store = self.server.store
        return store.find_token(token_string)

    def check_permission(self, token: TokenRecord, client: Client, request: LabRequest) -> bool:
        return client.can_introspect or token.client_id == client.client_id

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        server: LabAuthorizationServer = self.server
        return server.introspection_payload(token)


class _Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = _CLIENT_AUTH

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        store: Store = self.server.store
        return store.find_token(token_string)

    def revoke_token(self, token: TokenRecord, request: LabRequest) -> None:
        token.revoked = True
        if token.kind == "refresh":
            self.server.store.revoke_family(token.family)
