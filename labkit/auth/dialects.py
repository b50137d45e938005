"""Introspection dialects: RFC 7662 (form POST, ``active``), GitHub's ``POST /applications/{client_id}/token`` and
JupyterHub's ``GET /hub/api/user`` (the token's own owner and scopes).

A dialect says how to ask (the request) and how to read the answer (claims in RFC 7662's shape); the
``IntrospectionValidator`` does the rest the same for both. Reading raises ``AuthError``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import quote

from .._http import Response
from ..errors import AuthError, Reason
from .jws import DuplicateMemberError, strict_json

__all__ = ["DIALECTS", "RFC7662", "ClientCredentials", "Dialect", "GitHub", "JupyterHub"]


@dataclass(frozen=True)
class ClientCredentials:
    """The resource server's own client at the provider (RFC 7662 §2.1: the caller authenticates)."""

    client_id: str
    secret: str = field(repr=False)
    method: Literal["client_secret_basic", "client_secret_post"] = "client_secret_basic"


class Dialect(Protocol):
    """How one kind of introspection endpoint is asked and answers."""

    name: str
    what: str  # how messages name the call
    method: str  # the HTTP method of the call
    scope_claims: tuple[str, ...] | None  # where this dialect's answers carry scopes (None: the configured ones)

    def request(self, token: str, credentials: ClientCredentials) -> dict[str, Any]:
        """The httpx request arguments (body, auth, headers) that ask about ``token``."""
        ...

    def claims(self, response: Response) -> dict[str, Any]:
        """The answer as RFC 7662 claims of an active token; raises ``AuthError`` (INACTIVE and others)."""
        ...


def _json_object(response: Response) -> dict[str, Any]:
    """A 200 answer's strict JSON object; raises ``AuthError``."""
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
    return body


class RFC7662:
    """RFC 7662: a form POST with ``token``; only a JSON ``true`` in ``active`` is active."""

    name = "rfc7662"
    what = "introspection"
    method = "POST"
    scope_claims: tuple[str, ...] | None = None

    def request(self, token: str, credentials: ClientCredentials) -> dict[str, Any]:
        """RFC 7662 §2.1: ``token`` and ``token_type_hint`` form-encoded, the client authenticated."""
        form = {"token": token, "token_type_hint": "access_token"}
        kwargs: dict[str, Any] = {"data": form, "headers": {"Accept": "application/json"}}
        if credentials.method == "client_secret_post":
            form.update(client_id=credentials.client_id, client_secret=credentials.secret)
        else:
            # RFC 6749 §2.3.1: form-urlencode id and secret before HTTP Basic.
            kwargs["auth"] = (quote(credentials.client_id, safe=""), quote(credentials.secret, safe=""))
        return kwargs

    def claims(self, response: Response) -> dict[str, Any]:
        """The answer when active; raises ``AuthError``."""
        body = _json_object(response)
        # RFC 7662 §2.2: active is a boolean; anything but JSON true is inactive.
        if body.get("active") is not True:
            raise AuthError(Reason.INACTIVE, "the provider says the token is not active")
        return body  # an active refresh or ID token is still refused by check_claims (require_access_token)


class GitHub:
    """GitHub's token check: JSON ``access_token``, Basic auth with the app's credentials, 404 when not valid."""

    name = "github"
    what = "GitHub token check"
    method = "POST"
    scope_claims: tuple[str, ...] | None = ("scopes",)

    def request(self, token: str, credentials: ClientCredentials) -> dict[str, Any]:
        """``POST /applications/{client_id}/token`` with ``{"access_token": token}``."""
        return {"json": {"access_token": token}, "auth": (credentials.client_id, credentials.secret),
                "headers": {"Accept": "application/vnd.github+json"}}

    def claims(self, response: Response) -> dict[str, Any]:
        """GitHub's answer mapped to introspection-style claims; raises ``AuthError``."""
        if response.status == 404:
            raise AuthError(Reason.INACTIVE, "GitHub says the token is not valid for this app")
        body = _json_object(response)
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


class JupyterHub:
    """JupyterHub's token API: ``GET /hub/api/user`` with the token itself says whose it is and its scopes.

    The hub authenticates the token (no client credentials are sent: ``/hub/api/user`` answers any valid token
    about itself); 403 (or 401) means the token is not valid. Only a user's token has a subject (a service's token
    is refused); a scope with a filter (``read:users!user=ada``) is left out, so only unfiltered grants count.
    """

    name = "jupyterhub"
    what = "JupyterHub token check"
    method = "GET"
    scope_claims: tuple[str, ...] | None = ("scope",)

    def request(self, token: str, credentials: ClientCredentials) -> dict[str, Any]:
        """``GET /hub/api/user`` with ``Authorization: token ...`` (the hub's own scheme)."""
        return {"headers": {"Authorization": f"token {token}", "Accept": "application/json"}}

    def claims(self, response: Response) -> dict[str, Any]:
        """The hub's user model mapped to introspection-style claims; raises ``AuthError``."""
        if response.status in (401, 403):
            raise AuthError(Reason.INACTIVE, "JupyterHub says the token is not valid")
        body = _json_object(response)
        name, scopes, groups = body.get("name"), body.get("scopes"), body.get("groups")
        # only a user's token names a learner: a service's token (kind "service") is no one's progress
        if body.get("kind") != "user" or not isinstance(name, str) or not name:
            raise AuthError(Reason.INACTIVE, "the token is not a JupyterHub user's")
        granted = [s for s in scopes if isinstance(s, str) and "!" not in s] if isinstance(scopes, list) else []
        claims: dict[str, Any] = {"active": True, "sub": name, "scope": " ".join(granted)}
        if isinstance(groups, list):
            claims["groups"] = [g for g in groups if isinstance(g, str)]
        return claims


DIALECTS: dict[str, Dialect] = {"rfc7662": RFC7662(), "github": GitHub(), "jupyterhub": JupyterHub()}
