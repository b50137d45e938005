"""OpenID Connect where the provider advertises it: ID tokens (OIDC Core §2, §3.1.3.3) on authlib's ``OpenIDCode``
extension for the authorization-code grant, and on refresh (§12.2: the original ``auth_time``, no ``nonce``).

Signed with the tenant's active ``ID_TOKEN_ALG`` key, JOSE ``typ`` ``JWT`` (an ID token, not an RFC 9068 access
token), dated by the provider's clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from authlib.oidc.core.grants.util import is_openid_scope
from joserfc.jwk import Key

from .models import AuthCode, Client, User
from .request import LabRequest

if TYPE_CHECKING:
    from .server import LabAuthorizationServer

__all__ = ["ID_TOKEN_ALG", "ID_TOKEN_LIFETIME", "LabOpenID", "auth_time_of", "login_time"]

ID_TOKEN_ALG = "RS256"  # noqa: S105 - an algorithm name. OIDC Discovery §3: RS256 MUST be among id_token_signing_alg_values_supported
ID_TOKEN_LIFETIME = 3600


def login_time(value: object) -> int | None:
    """``value`` as an ``auth_time`` (an integer NumericDate), or None when it is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def auth_time_of(request: LabRequest | None) -> int | None:
    """When the user of this token request logged in, as its grant set it (``lab_auth_time``); never this request."""
    return login_time(getattr(request, "lab_auth_time", None))


class LabOpenID(OpenIDCode):  # type: ignore[misc]
    """The ID token of one tenant: iss = its issuer, aud = azp = the client, the nonce of the authorization request."""

    def __init__(self, server: LabAuthorizationServer) -> None:
        super().__init__(require_nonce=False)  # OIDC Core §3.1.2.1: OPTIONAL in the code flow
        self.server = server

    def exists_nonce(self, nonce: str, request: LabRequest) -> bool:
        # OIDC Core §15.5.2: a nonce seen before for this client is a replay (authlib refuses the request)
        client_id = request.payload.client_id
        with self.server.store.lock:
            return any(code.nonce == nonce and code.client_id == client_id for code in self.server.store.codes.values())

    def get_client_algorithm(self, client: Client) -> str:
        return ID_TOKEN_ALG

    def resolve_client_private_key(self, client: Client) -> Key:
        return self.server.keys.active(ID_TOKEN_ALG)

    def get_encode_header(self, client: Client) -> dict[str, Any]:
        return {"typ": "JWT", "alg": ID_TOKEN_ALG, "kid": self.resolve_client_private_key(client).kid}

    def get_compatible_claims(self, request: LabRequest) -> dict[str, Any]:
        now = int(self.server.clock())
        client_id = request.client.client_id
        claims: dict[str, Any] = {"iss": self.server.issuer(), "aud": client_id, "azp": client_id, "iat": now,
                                  "exp": now + ID_TOKEN_LIFETIME}
        auth_time = auth_time_of(request)
        if auth_time is not None:
            claims["auth_time"] = auth_time  # OIDC Core §2 / §12.2: the sign-in's time, kept across refreshes
        return claims

    def get_authorization_code_claims(self, authorization_code: AuthCode) -> dict[str, Any]:
        return {"nonce": authorization_code.nonce} if authorization_code.nonce else {}

    def generate_user_info(self, user: User, scope: str) -> UserInfo:
        info = UserInfo(sub=user.subject)
        scopes = scope.split()
        if "email" in scopes:
            info.update(email=user.email, email_verified=True)
        if "profile" in scopes:
            info["name"] = user.name
        return info

    def on_refresh(self, token: dict[str, Any], request: LabRequest | None, user: User | None) -> None:
        """Add an ID token to a refresh response whose scope has ``openid`` (OIDC Core §12.2: no nonce)."""
        if request is None or user is None or not is_openid_scope(token.get("scope") or ""):
            return
        request.user = user
        token["id_token"] = self.encode_id_token(token, request)  # request.authorization_code is None: no nonce
