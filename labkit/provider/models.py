"""The provider's clients, users, tokens and codes (authlib model mixins over plain dataclasses)."""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, InvalidScopeError, TokenMixin

from ..auth.cache import token_key
from ..state.spent import SpentIds
from .responses import SpentIdsUnavailableError

__all__ = ["TOKEN_KEPT", "AuthCode", "Client", "Store", "TokenRecord", "User", "loopback_redirect_key", "token_hash"]


def token_hash(token: str) -> str:
    """How the provider indexes tokens and codes: SHA-256 hex (the store never keys by the raw token)."""
    return token_key(token).hex()


@dataclass(frozen=True)
class User:
    """A lab user the headless login approves as."""

    subject: str
    email: str
    name: str


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """A registered OAuth client."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)  # None: a public client (PKCE, no secret)
    grant_types: tuple[str, ...] = ("client_credentials",)
    scopes: tuple[str, ...] = ()
    redirect_uris: tuple[str, ...] = ()
    persona: str = "default"
    audience: str | None = None
    opaque: bool = False  # issue opaque tokens (introspection lessons) instead of JWTs
    can_introspect: bool = False  # a resource server allowed to introspect any token
    lifetime: int = 3600
    alg: str = "RS256"
    resources: tuple[str, ...] = ()  # RFC 8707: audiences this client may ask for, besides its default
    loopback_resources: bool = False  # may also ask for any http(s) resource on 127.0.0.1, ::1 or localhost
    auth_method: str | None = None  # "private_key_jwt": only a signed assertion authenticates it (RFC 7523 §2.2)
    jwks: dict[str, Any] | None = None  # the client's public keys (private_key_jwt)
    loopback_redirects: bool = False  # RFC 8252 §7.3: a registered loopback redirect matches on any port
    registered_at: float | None = None  # set for clients made by dynamic registration (RFC 7591)
    name: str = ""
    logo_uri: str = ""  # shown on the consent page only when safe (``consent.ConsentView.logo``)
    partial_scopes: bool = False  # RFC 6749 §3.3: grant the allowed part of a request instead of refusing it
    serves: tuple[str, ...] = ()  # the resource identifiers this client IS (a resource server's own audiences)

    def allows_resource(self, resource: str, default_audience: str) -> bool:
        """Whether this client may obtain a token for ``resource`` (RFC 8707 §2): "may request", never "is"."""
        if resource in (self.audience or default_audience, *self.resources):
            return True
        return self.loopback_resources and _is_loopback(resource)

    def is_audience(self, audience: object) -> bool:
        """Whether a token for ``audience`` was issued to this client: its client id or a resource it serves.

        Exact strings only; no pattern (the any-loopback-URL rule of ``allows_resource``) ever answers this.
        """
        return isinstance(audience, str) and audience != "" and audience in (self.client_id, *self.serves)

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return " ".join(self.scopes)
        requested = scope.split()
        outside = [s for s in requested if s not in self.scopes]
        if self.partial_scopes and len(outside) < len(requested):
            # RFC 6749 §3.3: the server may grant less than requested; the token response says what
            return " ".join(dict.fromkeys(s for s in requested if s in self.scopes))
        if outside:
            raise InvalidScopeError("a requested scope is not allowed for this client")
        return " ".join(dict.fromkeys(requested))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        if redirect_uri in self.redirect_uris:  # exact match, no prefix or wildcard
            return True
        # RFC 8252 §7.3: a loopback IP redirect URI may name any port at request time; all else is exact
        return self.loopback_redirects and loopback_redirect_key(redirect_uri) in {
            loopback_redirect_key(uri) for uri in self.redirect_uris} - {None}

    def check_client_secret(self, client_secret: str) -> bool:
        if self.client_secret is None or not isinstance(client_secret, str):
            return False
        return hmac.compare_digest(self.client_secret.encode(), client_secret.encode())

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.auth_method == "private_key_jwt":
            return method == "private_key_jwt" and self.jwks is not None
        if self.client_secret is None:
            return method == "none" and endpoint == "token"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


@dataclass
class AuthCode(AuthorizationCodeMixin):  # type: ignore[misc]
    """A one-time authorization code (stored by hash)."""

    code_hash: str
    client_id: str
    redirect_uri: str
    scope: str
    user: User
    expires_at: float
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    resources: tuple[str, ...] = ()  # RFC 8707: what the grant is for
    used: bool = False
    family: str = ""
    nonce: str | None = None  # OIDC Core §3.1.2.1: echoed in the ID token
    requested_scope: str = ""  # what /authorize was asked for, before the client's scopes bounded it
    auth_time: int | None = None  # when the user logged in (approved at /authorize; OIDC Core §2)

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int | None:
        return self.auth_time


@dataclass
class TokenRecord(TokenMixin):  # type: ignore[misc]
    """What the provider remembers of an issued token (never the token itself)."""

    kind: str  # "access" or "refresh"
    client_id: str
    scope: str
    issued_at: float
    expires_at: float
    clock: Callable[[], float] = field(repr=False)
    user: User | None = None
    subject: str | None = None
    audience: str | list[str] | None = None
    issuer: str | None = None
    jti: str | None = None
    family: str = ""
    resources: tuple[str, ...] = ()  # refresh tokens: every resource of the grant (RFC 8707 §2.2)
    revoked: bool = False
    rotated: bool = False
    revoked_reason: str = ""  # "refresh reuse", "code reuse" (RFC 9700 §4.14.2, RFC 6749 §4.1.2) or "revoked"
    revoked_at: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def check_client(self, client: Client) -> bool:
        return client.client_id == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int(self.expires_at - self.issued_at)

    def is_expired(self) -> bool:
        return self.clock() >= self.expires_at

    def is_revoked(self) -> bool:
        return self.revoked

    def get_user(self) -> User | None:
        return self.user

    def get_client(self) -> Any:
        return None


def _is_loopback(resource: str) -> bool:
    """An http(s) URL on a loopback host (any valid port), with no user info."""
    try:
        parts = urlsplit(resource)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and "@" not in parts.netloc and not parts.fragment
            and parts.hostname in ("127.0.0.1", "::1", "localhost"))


def loopback_redirect_key(uri: str) -> tuple[str, str, str, str] | None:
    """``(scheme, host, path, query)`` of an ``http`` redirect URI on a loopback IP literal, else None.

    RFC 8252 §7.3 names IP literals (``127.0.0.1``, ``[::1]``); §8.3: ``localhost`` is NOT RECOMMENDED.
    """
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        return None
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "::1") or "@" in parts.netloc or parts.fragment:
        return None
    return parts.scheme, parts.hostname, parts.path, parts.query


TOKEN_KEPT = 3600  # seconds a token record is kept after it expires (for the lessons' checks), then swept


class Store:
    """Thread-safe in-memory records of one tenant."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.lock = threading.RLock()
        self.clock = clock
        self.clients: dict[str, Client] = {}
        self.users: dict[str, User] = {}
        self.tokens: dict[str, TokenRecord] = {}
        self.token_sweep_min = 1024  # token records held before spent ones are swept (then twice the live count)
        self.token_sweep_at = self.token_sweep_min
        self.codes: dict[str, AuthCode] = {}
        self.code_sweep_at = 1024  # codes held before expired ones are swept (then twice the live count)
        # RFC 7523 §3: assertion ids seen, each until its assertion expires (bounded by time, never evicted)
        self.used_jtis = SpentIds(clock, what="assertion id", full=SpentIdsUnavailableError)

    def claim_jtis(self, jtis: list[tuple[str, float]], now: float | None = None, owner: str | None = None) -> bool:
        """Record every ``(jti key, expiry)`` unless one was seen before (all or nothing); False on replay.

        Raises ``SpentIdsFullError`` (503) when the store, or ``owner``'s share of it, is full of live ids.
        """
        return self.used_jtis.claim_all(jtis, owner)

    def add_code(self, record: AuthCode, now: float) -> None:
        """Remember a new code; expired codes are swept as codes are added (amortised O(1))."""
        with self.lock:
            # a code lives CODE_LIFETIME, not forever: unauthenticated /authorize requests cannot grow memory
            if len(self.codes) >= self.code_sweep_at:
                self.codes = {h: c for h, c in self.codes.items() if c.expires_at > now}
                self.code_sweep_at = max(1024, 2 * len(self.codes))
            self.codes[record.code_hash] = record

    def add_token(self, token: str, record: TokenRecord) -> None:
        """Remember a new token's record; records past ``expires_at + TOKEN_KEPT`` are swept as tokens are added
        (amortised O(1))."""
        with self.lock:
            # a token record lives its lifetime plus TOKEN_KEPT, not forever: issuing cannot grow memory without
            # bound. Past expiry every protocol path answers as for an unknown token (refresh and exchange refuse,
            # introspection says inactive, revocation is a no-op, reuse of an expired rotated token revokes
            # nothing), so the record is kept on only for the lessons' checks that read the store.
            if len(self.tokens) >= self.token_sweep_at:
                cutoff = self.clock() - TOKEN_KEPT
                self.tokens = {h: r for h, r in self.tokens.items() if r.expires_at > cutoff}
                self.token_sweep_at = max(self.token_sweep_min, 2 * len(self.tokens))
            self.tokens[token_hash(token)] = record

    def find_token(self, token: str) -> TokenRecord | None:
        with self.lock:
            return self.tokens.get(token_hash(token))

    def revoke_family(self, family: str, reason: str = "revoked") -> int:
        """Revoke every token of a grant family, saying why (``refresh reuse``, ``code reuse``, ``revoked``);
        returns how many."""
        count = 0
        with self.lock:
            now = self.clock()
            for record in self.tokens.values():
                if record.family == family and not record.revoked:
                    record.revoked, record.revoked_reason, record.revoked_at = True, reason, now
                    count += 1
        return count
