"""RFC 7591 dynamic client registration on authlib's ``ClientRegistrationEndpoint``, with the lab's policy.

Policy (``RegistrationPolicy``): redirect URIs are RFC 3986 URIs and ``http`` loopback IP literals, matched
on any port at request time (RFC 8252 §7.3, §8.3), or ``https`` on the hosts of its ``trust`` policy, which also
reserves well-known names to their own hosts (``trust.TrustPolicy``); grant types from an allow-list; scopes capped per
registration, and for a client that may use ``client_credentials`` (no user) capped to
``client_credentials_scopes`` (read-only by default); display fields bounded, without control or bidi
characters; a quota of registrations per tenant per time window (sliding: registrations older than the window
no longer count). Metadata members are type-checked before authlib reads them,
so no JSON shape reaches a 5xx; a refused registration stores nothing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError, OAuth2Error
from authlib.oauth2.rfc7591 import ClientRegistrationEndpoint
from authlib.oauth2.rfc7591.errors import InvalidClientMetadataError, InvalidRedirectURIError
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from .._text import MAX_TEXT, UNSAFE
from .models import Client
from .trust import TrustPolicy
from .uris import MAX_URI, is_uri

__all__ = ["Registration", "RegistrationPolicy", "RegistrationQuotaError", "check_client_metadata"]

_STRINGS = ("client_name", "scope", "token_endpoint_auth_method", "client_uri", "logo_uri", "tos_uri",
            "policy_uri", "software_id", "software_version", "application_type")
_LISTS = ("redirect_uris", "grant_types", "response_types", "contacts")
_MAX_STRING = MAX_URI
_DISPLAY = frozenset({"client_name", "software_id", "software_version"})
_URIS = frozenset({"client_uri", "logo_uri", "tos_uri", "policy_uri"})
_MAX_ITEMS = 8


class RegistrationQuotaError(OAuth2Error):  # type: ignore[misc]
    """The tenant's registration quota for the current window is used up (RFC 6585 §4: 429 Too Many Requests)."""

    error = "invalid_request"
    status_code = 429


@dataclass(frozen=True)
class RegistrationPolicy:
    """What a dynamically registered client may be."""

    grant_types: tuple[str, ...] = ("authorization_code", "refresh_token", "client_credentials")
    scopes: tuple[str, ...] = ("api:read", "api:write", "files:read", "files:write", "openid", "email", "profile")
    # a client that may use client_credentials acts with no user: it may register only these (read-only)
    client_credentials_scopes: tuple[str, ...] = ("api:read", "files:read")
    auth_methods: tuple[str, ...] = ("none", "client_secret_basic", "client_secret_post", "private_key_jwt")
    quota: int = 100  # registrations per tenant within one quota_window
    quota_window: int = 3600  # seconds: a flood is slowed down, never locks registration out for good
    lifetime: int = 3600
    trust: TrustPolicy = field(default_factory=TrustPolicy)  # names and redirect hosts a client may claim


def check_client_metadata(body: Any) -> dict[str, Any]:
    """The known RFC 7591 §2 members of ``body``, each of the right JSON type and bounded; others dropped.

    Raises ``InvalidClientMetadataError`` naming the member.
    """
    if not isinstance(body, dict) or not body:
        raise InvalidRequestError("the registration request must be a non-empty JSON object")
    out: dict[str, Any] = {}
    for name in _STRINGS:
        if name in body:
            value = body[name]
            limit = MAX_TEXT if name in _DISPLAY else _MAX_STRING
            # display text is shown to users: bounded, no control, format or bidi-override characters
            if not isinstance(value, str) or len(value) > limit or UNSAFE.search(value):
                raise InvalidClientMetadataError(f"{name} must be a string of at most {limit} characters, "
                                                 "without control or bidi characters")
            # RFC 7591 §2: the *_uri members are URIs
            if name in _URIS and not is_uri(value):
                raise InvalidClientMetadataError(f"{name} must be an absolute URI (RFC 3986)")
            out[name] = value
    for name in _LISTS:
        if name in body:
            value = body[name]
            if (not isinstance(value, list) or len(value) > _MAX_ITEMS
                    or not all(isinstance(v, str) and 0 < len(v) <= _MAX_STRING and not UNSAFE.search(v)
                               for v in value)):
                raise InvalidClientMetadataError(f"{name} must be a list of at most {_MAX_ITEMS} short strings")
            out[name] = value
    # RFC 3986 syntax, and RFC 6749 §3.1.2: a redirection endpoint URI has no fragment ("#" alone included)
    if not all(is_uri(uri, fragment=False) for uri in out.get("redirect_uris", ())):
        raise InvalidRedirectURIError("redirect_uris must be absolute URIs (RFC 3986) of visible ASCII, "
                                      "without a fragment")
    if "jwks" in body:
        try:
            keys = KeySet.import_key_set(body["jwks"])
        except (JoseError, ValueError, TypeError, KeyError, AttributeError):
            raise InvalidClientMetadataError("jwks must be a JWK Set of public keys") from None
        # RFC 7591 §2: the client's PUBLIC keys; at most a few
        if len(keys.keys) > _MAX_ITEMS or any(k.is_private for k in keys.keys):
            raise InvalidClientMetadataError("jwks must be a JWK Set of public keys")
        out["jwks"] = body["jwks"]
    return out


class Registration(ClientRegistrationEndpoint):  # type: ignore[misc]
    """``POST /register``: open registration under ``RegistrationPolicy`` (no initial access token)."""

    def __init__(self, server: Any, policy: RegistrationPolicy | None = None) -> None:
        super().__init__(server)
        self.policy = policy or RegistrationPolicy()

    def authenticate_token(self, request: Any) -> bool:
        return True  # open registration (RFC 7591 §3): the policy bounds what it can create

    def get_server_metadata(self) -> dict[str, Any]:
        return {
            "scopes_supported": list(self.policy.scopes),
            "grant_types_supported": list(self.policy.grant_types),
            "response_types_supported": ["code"],
            "token_endpoint_auth_methods_supported": list(self.policy.auth_methods),
        }

    def extract_client_metadata(self, request: Any) -> dict[str, Any]:
        checked = check_client_metadata(request.payload.data)
        if "scope" in checked:
            # the registration's scopes are capped by the policy (RFC 7591 §3.2.1: the server may replace them)
            capped = [s for s in dict.fromkeys(checked["scope"].split()) if s in self.policy.scopes]
            if not capped:
                raise InvalidClientMetadataError("none of the requested scopes may be registered")
            checked["scope"] = " ".join(capped)
        request.payload.data = checked
        metadata: dict[str, Any] = super().extract_client_metadata(request)
        grant_types = metadata.get("grant_types") or ["authorization_code"]
        if "client_credentials" in grant_types:
            # lab policy: a user-less grant holds only RegistrationPolicy.client_credentials_scopes (read-only)
            user_less = self.policy.client_credentials_scopes
            wanted = metadata["scope"].split() if metadata.get("scope") else list(self.policy.scopes)
            capped = [s for s in wanted if s in user_less]
            if not capped:
                raise InvalidClientMetadataError("a client_credentials client may register only: "
                                                 + " ".join(user_less))
            metadata["scope"] = " ".join(capped)
        redirects = metadata.get("redirect_uris") or []
        # RFC 8252 §7.3: loopback IP literals over http; https only on the trust policy's hosts (exact)
        refusal = self.policy.trust.redirect_refusal(redirects)
        if refusal:
            raise InvalidRedirectURIError(refusal)
        # anti-phishing: a reserved name only from its own hosts (trust.TrustPolicy)
        refusal = self.policy.trust.name_refusal(str(metadata.get("client_name", "")), redirects)
        if refusal:
            raise InvalidClientMetadataError(refusal)
        if "authorization_code" in grant_types and not redirects:
            raise InvalidRedirectURIError("the authorization code grant needs a redirect URI")
        method = metadata.get("token_endpoint_auth_method")
        if method == "private_key_jwt" and "jwks" not in metadata:
            raise InvalidClientMetadataError("private_key_jwt needs the client's jwks")
        if "client_credentials" in grant_types and method == "none":
            raise InvalidClientMetadataError("client_credentials needs a confidential client")
        request.lab_metadata = metadata
        return metadata

    def generate_client_info(self, request: Any) -> dict[str, Any]:
        method = request.lab_metadata.get("token_endpoint_auth_method", "client_secret_basic")
        info: dict[str, Any] = {"client_id": "dcr-" + secrets.token_urlsafe(12),
                                "client_id_issued_at": int(self.server.clock())}
        if method in ("client_secret_basic", "client_secret_post"):
            info.update(client_secret=secrets.token_urlsafe(32), client_secret_expires_at=0)
        return info

    def save_client(self, client_info: dict[str, Any], client_metadata: dict[str, Any], request: Any) -> Client:
        scope = client_metadata.get("scope")
        scopes = tuple(scope.split()) if scope else self.policy.scopes
        method = client_metadata.get("token_endpoint_auth_method")
        client = Client(
            client_info["client_id"],
            client_info.get("client_secret"),
            grant_types=tuple(client_metadata.get("grant_types") or ["authorization_code"]),
            scopes=scopes,  # checked against scopes_supported by authlib's claims options: capped by the policy
            redirect_uris=tuple(client_metadata.get("redirect_uris") or ()),
            lifetime=self.policy.lifetime,
            loopback_resources=True,
            auth_method="private_key_jwt" if method == "private_key_jwt" else None,
            jwks=client_metadata.get("jwks"),
            loopback_redirects=True,
            registered_at=self.server.clock(),
            partial_scopes=True,
            name=str(client_metadata.get("client_name", "")),
        )
        store = self.server.store
        with store.lock:
            # the quota, checked and spent atomically as the last step: registrations within the sliding window
            since = self.server.clock() - self.policy.quota_window
            if sum(1 for c in store.clients.values()
                   if c.registered_at is not None and c.registered_at > since) >= self.policy.quota:
                raise RegistrationQuotaError("the registration quota is used up; try again later")
            store.clients[client.client_id] = client
        return client

    def generate_client_registration_info(self, client: Client, request: Any) -> dict[str, Any]:
        # RFC 7591 §3.2.1: the response holds every registered member, defaults included
        registered: dict[str, Any] = {"scope": " ".join(client.scopes), "grant_types": list(client.grant_types),
                                      "response_types": ["code"] if "authorization_code" in client.grant_types else []}
        if client.redirect_uris:
            registered["redirect_uris"] = list(client.redirect_uris)
        return registered
