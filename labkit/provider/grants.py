"""The provider's grants and endpoints on authlib (RFC 6749 §4.1, §4.4, §6; RFC 7636 S256; RFC 7662; RFC 7009).

Each grant validates everything first and mutates last: a code or refresh token is claimed atomically as the
final check, so a refused request leaves the store as it was.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, ClassVar

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from .dpop import require_proof_of
from .models import AuthCode, Client, Store, TokenRecord, User, token_hash
from .request import LabRequest
from .rfc8707 import InvalidTargetError, bind_resources, default_resources, requested_resources

if TYPE_CHECKING:
    from .server import LabAuthorizationServer

__all__ = ["CLIENT_AUTH", "CODE_LIFETIME", "AuthorizationCode", "ClientCredentials", "Introspection",
           "RefreshToken", "Revocation", "StrictPKCE"]

CODE_LIFETIME = 60
# private_key_jwt first: a client that signs is never asked for a secret (RFC 7523 §2.2)
CLIENT_AUTH = ["private_key_jwt", "client_secret_basic", "client_secret_post"]


class StrictPKCE(CodeChallenge):  # type: ignore[misc]
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
        server.store.revoke_family(record.family, "code reuse" if flag == "used" else "refresh reuse")
        raise InvalidGrantError()


class ClientCredentials(grants.ClientCredentialsGrant):  # type: ignore[misc]
    """RFC 6749 §4.4, with RFC 8707 resources."""

    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH

    def validate_token_request(self) -> None:
        super().validate_token_request()
        server: LabAuthorizationServer = self.server
        bind_resources(self, default_resources(server, self.request.client, requested_resources(self.request)))


class AuthorizationCode(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """RFC 6749 §4.1 with PKCE: exact redirect URIs, one-time codes (reuse revokes the grant family)."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*CLIENT_AUTH, "none"]

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
            nonce=data.get("nonce"),
            requested_scope=str(data.get("scope") or ""),
            auth_time=int(server.clock()),  # the headless login is this approval
        )
        server.store.add_code(record, server.clock())
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
        self.request.lab_auth_time = record.auth_time

    def delete_authorization_code(self, authorization_code: AuthCode) -> None:
        pass  # claimed in validate_token_request, atomically with the reuse check

    def authenticate_user(self, authorization_code: AuthCode) -> User:
        return authorization_code.user


class RefreshToken(grants.RefreshTokenGrant):  # type: ignore[misc]
    """RFC 6749 §6 with rotation; reuse of a rotated token revokes the family (RFC 9700 §4.14.2)."""

    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = [*CLIENT_AUTH, "none"]
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
        require_proof_of(record.extra, getattr(self.request, "lab_dpop", None), "refresh token")
        # RFC 9700 §4.14.2: reuse of a rotated refresh token: assume theft, revoke the whole family.
        _claim_once(self.server, record, "rotated")
        self.request.lab_family = record.family
        # OIDC Core §2: a refresh is not a login: the grant's auth_time carries over
        self.request.lab_auth_time = record.extra.get("auth_time")

    def authenticate_user(self, refresh_token: TokenRecord) -> User | None:
        return refresh_token.user

    def revoke_old_credential(self, refresh_token: TokenRecord) -> None:
        pass  # rotated in validate_token_request, atomically with the reuse check


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    """RFC 7662: a client introspects its own tokens; a resource server with ``can_introspect`` any."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        store: Store = self.server.store
        return store.find_token(token_string)

    def check_permission(self, token: TokenRecord, client: Client, request: LabRequest) -> bool:
        return client.can_introspect or token.client_id == client.client_id

    def introspect_token(self, token: TokenRecord) -> dict[str, Any]:
        server: LabAuthorizationServer = self.server
        return server.introspection_payload(token)


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    """RFC 7009: revoking a refresh token revokes its whole grant family."""

    CLIENT_AUTH_METHODS = CLIENT_AUTH

    def query_token(self, token_string: str, token_type_hint: str | None) -> TokenRecord | None:
        store: Store = self.server.store
        return store.find_token(token_string)

    def revoke_token(self, token: TokenRecord, request: LabRequest) -> None:
        if not token.revoked:  # a token already revoked keeps the reason it died of
            token.revoked, token.revoked_reason, token.revoked_at = True, "revoked", self.server.clock()
        if token.kind == "refresh":
            self.server.store.revoke_family(token.family)
