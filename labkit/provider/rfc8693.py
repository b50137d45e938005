"""RFC 8693 token exchange on authlib's grant base (authlib's ``rfc8693`` package holds no grant yet).

A client exchanges a subject token (and optionally an actor token) for a token for another resource, to act
on the subject's behalf: ``sub`` stays the subject, ``act`` names the actor (nested when the subject token
was itself delegated), the audience is narrowed to what the client may ask for, scopes are never widened,
and the new token expires no later than the subject token.

Policy (RFC 8693 §2.2 leaves it to the server; this is the lab's):
- the subject token is an active access token this server issued, and the exchanging client IS one of its
  audiences (``Client.is_audience``: its client id or a resource identifier it serves, exact strings), or the
  token's ``may_act`` names the actor (§4.4). What a client may *request* (``Client.allows_resource``, with its
  any-loopback-URL rule) never answers who a token was issued *to*. The current actor of a chain (``act.sub``,
  the client the exchanged token was issued to) may also continue it (lesson 13's two-hop chain);
- the actor token, when given, is an active access token whose subject is the exchanging client;
- a subject (or actor) token bound to a key (``cnf.jkt``) is exchanged only with a DPoP proof by that key, and
  the new token is bound to the same key (RFC 9449 §5, §6.1): exchange never turns a sender-constrained token
  into a Bearer token;
- ``auth_time`` is the subject token's own (a user's login), never the exchange's time, and absent when the
  subject logged in nowhere (a client-credentials token).
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import BaseGrant, TokenEndpointMixin
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)

from .._text import safe_text
from .dpop import require_proof_of
from .models import Client, TokenRecord, User
from .rfc7523 import respond_without_refresh
from .rfc8707 import bind_resources, default_resources, requested_resources

__all__ = ["ACCESS_TOKEN_TYPE", "JWT_TOKEN_TYPE", "MAX_ACT_DEPTH", "TOKEN_EXCHANGE", "TokenExchangeGrant", "act_depth"]

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - a URN
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - a URN
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 - a URN
_INPUT_TYPES = (ACCESS_TOKEN_TYPE, JWT_TOKEN_TYPE)
_log = logging.getLogger("labkit.provider")
MAX_ACT_DEPTH = 4  # a delegation chain deeper than this is refused (bounded claims, bounded audits)


def act_depth(act: Any) -> int:
    """How many actors an ``act`` claim nests (0 for none)."""
    depth = 0
    while isinstance(act, dict) and depth <= MAX_ACT_DEPTH:
        depth += 1
        act = act.get("act")
    return depth


class TokenExchangeGrant(BaseGrant, TokenEndpointMixin):  # type: ignore[misc]
    """``grant_type=urn:ietf:params:oauth:grant-type:token-exchange`` (RFC 8693 §2.1)."""

    GRANT_TYPE = TOKEN_EXCHANGE
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["private_key_jwt", "client_secret_basic",
                                                        "client_secret_post"]

    def validate_token_request(self) -> None:
        # authenticate -> grant type -> subject -> actor -> may_act -> scope -> resources; nothing mutated
        client: Client = self.authenticate_token_endpoint_client()
        self.request.client = client
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("the client may not use token exchange")
        data = self.request.payload.data
        requested_type = data.get("requested_token_type")
        # RFC 8693 §2.1: the lab issues access tokens only
        if requested_type and requested_type not in _INPUT_TYPES:
            raise InvalidRequestError("requested_token_type must be an access token or a JWT")
        subject = self._token(data.get("subject_token"), data.get("subject_token_type"), "subject")
        proof = getattr(self.request, "lab_dpop", None)
        # RFC 9449 §5 with RFC 8693 §2.1: a bound subject token needs its key's proof; the new token keeps the key
        require_proof_of(subject.extra, proof, "subject token")
        actor_id = client.client_id
        if data.get("actor_token") or data.get("actor_token_type"):
            actor = self._token(data.get("actor_token"), data.get("actor_token_type"), "actor")
            # the actor token proves the exchanging client's own identity
            if actor.subject != client.client_id:
                raise InvalidGrantError("the actor token is not the client's")
            require_proof_of(actor.extra, proof, "actor token")
        self._check_may_act(client, subject, actor_id)
        previous = subject.extra.get("act")
        if act_depth(previous) >= MAX_ACT_DEPTH:
            raise InvalidGrantError("the delegation chain is too deep")
        self._check_scope(client, subject)
        bind_resources(self, default_resources(self.server, client, requested_resources(self.request)))
        act: dict[str, Any] = {"sub": actor_id}
        if isinstance(previous, dict):
            act["act"] = previous
        # OIDC Core §2: auth_time is when the user logged in: the subject token's, or none (no user logged in)
        self.request.lab_auth_time = subject.extra.get("auth_time") if subject.user is not None else None
        self.request.lab_claims = {"act": act}
        self.request.lab_lifetime = max(1, min(client.lifetime, int(subject.expires_at - self.server.clock())))
        self.request.lab_response = {"issued_token_type": ACCESS_TOKEN_TYPE}
        self.request.user = subject.user or User(str(subject.subject), "", str(subject.subject))

    def _token(self, value: Any, token_type: Any, role: str) -> TokenRecord:
        """The active access token record behind ``value``; raises ``InvalidRequestError``/``InvalidGrantError``."""
        if not value or not token_type:
            raise InvalidRequestError(f"{role}_token and {role}_token_type are required together")
        if token_type not in _INPUT_TYPES:
            raise InvalidRequestError(f"{role}_token_type must be an access token or a JWT")
        record: TokenRecord | None = self.server.store.find_token(value)
        # RFC 8693 §2.2.2: invalid_grant when the token is invalid, expired or revoked
        if record is None or record.kind != "access" or record.is_expired() or record.is_revoked():
            raise InvalidGrantError(f"the {role} token is not active")
        return record

    def _check_may_act(self, client: Client, subject: TokenRecord, actor_id: str) -> None:
        may_act = subject.extra.get("may_act")
        if isinstance(may_act, dict):
            # RFC 8693 §4.4: the subject token names who may act for it
            if may_act.get("sub") != actor_id:
                raise InvalidGrantError("the subject token does not allow this actor")
            return
        audiences = subject.audience if isinstance(subject.audience, list) else [subject.audience]
        act = subject.extra.get("act")
        # RFC 8693 §4.1: the current actor of a chain this server issued may continue it (it holds the token)
        if isinstance(act, dict) and act.get("sub") == actor_id and subject.client_id == actor_id:
            return
        # lab policy: only a resource the subject token was issued TO may exchange it ("is", not "may request")
        if not any(client.is_audience(aud) for aud in audiences):
            _log.warning("token exchange refused: %s is not an audience of the subject token",
                         safe_text(client.client_id))
            raise InvalidGrantError("the client is not an audience of the subject token")

    def _check_scope(self, client: Client, subject: TokenRecord) -> None:
        held = set(subject.scope.split())
        requested = self.request.payload.scope
        wanted = requested.split() if requested else [s for s in subject.scope.split() if s in client.scopes]
        # RFC 8693 §2.1 (scope): never more than the subject token carries
        if not wanted or not set(wanted) <= held:
            raise InvalidScopeError("a requested scope is not held by the subject token")
        self.request.lab_scope = client.get_allowed_scope(" ".join(wanted))

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        return respond_without_refresh(self)
