"""The client side of the lab's wire, in one place: token requests, a call's parsed answer, its challenge.

``request_token`` is the client-credentials grant (RFC 6749 §4.4) that ``Lab.token``, ``labkit mint`` and the
probe use; ``admin_mint`` the lab provider's admin API (tokens with any lifetime, expired ones included);
``parse_challenge`` reads a ``WWW-Authenticate`` value (RFC 9110 §11.6.1); ``CallResult`` is what ``Lab.call``
answers: the status, the JSON body, the challenge, and the audit event of that very call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from .._json import loads_bounded
from .._text import safe_text

if TYPE_CHECKING:
    from ..audit import AuditEvent

__all__ = ["AuthChallenge", "CallResult", "TokenRequestError", "admin_mint", "parse_challenge", "request_token"]

# RFC 6750 §2.1: a bearer token is b64token characters; anything else is not used (nor printed)
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
# RFC 9110 §11.2 auth-param: token "=" ( token / quoted-string ); quoted-pair escapes kept simple (none are sent)
_PARAM = re.compile(r'([A-Za-z0-9_\-]+)\s*=\s*(?:"([^"]*)"|([^\s,"]+))')
_SCHEME = re.compile(r"\s*([A-Za-z0-9_\-]+)(?:\s|$)")
_MAX_HEADER = 8192


class TokenRequestError(RuntimeError):
    """The token endpoint refused (``status``, its OAuth ``error`` code) or answered without a usable token."""

    def __init__(self, endpoint: str, status: int, error: str) -> None:
        self.endpoint, self.status, self.error = endpoint, status, error
        super().__init__(f"token endpoint {safe_text(endpoint, 200)} answered {status}: {safe_text(error, 200)}")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        data = loads_bounded(response.content)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _access_token(endpoint: str, response: httpx.Response) -> str:
    body = _json_object(response)
    if response.status_code != 200:
        error = body.get("error")
        raise TokenRequestError(endpoint, response.status_code, error if isinstance(error, str) else "not JSON")
    token = body.get("access_token")
    # RFC 6750 §2.1: only b64token characters make a bearer token
    if not isinstance(token, str) or not _B64TOKEN.fullmatch(token):
        raise TokenRequestError(endpoint, 200, "no usable access_token in the answer")
    return token


def request_token(endpoint: str, client_id: str, secret: str, scopes: Sequence[str] | str = (), *,
                  resource: str | None = None, http: httpx.Client | None = None, timeout: float = 10) -> str:
    """An access token by the client-credentials grant with ``client_secret_basic`` (RFC 6749 §4.4, §2.3.1).

    ``resource``: RFC 8707's parameter. Raises ``TokenRequestError`` when refused or answered without a token,
    ``httpx.HTTPError`` (or ``httpx.InvalidURL``) when the endpoint cannot be reached.
    """
    scope = scopes if isinstance(scopes, str) else " ".join(scopes)
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    if resource:
        data["resource"] = resource
    if http is None:
        response = httpx.post(endpoint, data=data, auth=(client_id, secret), timeout=timeout)
    else:
        response = http.post(endpoint, data=data, auth=(client_id, secret))
    return _access_token(endpoint, response)


def admin_mint(provider_url: str, scopes: Sequence[str], *, lifetime: float, client_id: str, admin_token: str,
               persona: str | None = None, http: httpx.Client | None = None, timeout: float = 10,
               audience: str | None = None, subject: str | None = None) -> str:
    """A token from the LAB provider's admin API (``POST /admin/mint``): any lifetime, a negative one expired.

    ``admin_token``: the provider's random admin secret (``MockProvider.admin_token``; ``provider.admin``).
    ``audience``: its ``aud`` (default: the client's); ``subject``: its ``sub`` (default: the client id).

    Raises ``TokenRequestError`` or ``httpx.HTTPError`` as ``request_token`` does.
    """
    endpoint = f"{provider_url.rstrip('/')}/admin/mint"
    body = {"scopes": list(scopes), "lifetime": lifetime, "client_id": client_id, "persona": persona}
    if audience is not None:
        body["audience"] = audience
    if subject is not None:
        body["subject"] = subject
    headers = {"X-Lab-Admin": admin_token}
    if http is None:
        response = httpx.post(endpoint, json=body, headers=headers, timeout=timeout)
    else:
        response = http.post(endpoint, json=body, headers=headers)
    return _access_token(endpoint, response)


@dataclass(frozen=True)
class AuthChallenge:
    """A parsed ``WWW-Authenticate`` value: the scheme and its auth-params (``error``, ``scope``, ...)."""

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    def __getitem__(self, name: str) -> str:
        return self.params[name]

    def get(self, name: str, default: str | None = None) -> str | None:
        """An auth-param, or ``default``."""
        return self.params.get(name, default)


def parse_challenge(value: str | None) -> AuthChallenge | None:
    """The first challenge of a ``WWW-Authenticate`` value (RFC 9110 §11.6.1), or None when there is none.

    Oversized values (over 8 KiB) read as none; parameter names are lower-cased (they are case-insensitive).
    """
    if not value or len(value) > _MAX_HEADER:
        return None
    scheme = _SCHEME.match(value)
    if scheme is None:
        return None
    params: dict[str, str] = {}
    for name, quoted, plain in _PARAM.findall(value[scheme.end():]):
        params.setdefault(name.lower(), quoted if quoted or not plain else plain)
    return AuthChallenge(scheme.group(1), params)


@dataclass(frozen=True)
class CallResult:
    """One call to the agent: ``status``, ``body`` (the JSON answer, None if not JSON), ``challenge`` (parsed
    ``WWW-Authenticate``), ``event`` (this call's own audit event, matched by its request id), ``response``."""

    status: int
    body: Any
    challenge: AuthChallenge | None
    event: AuditEvent | None
    response: httpx.Response = field(repr=False)

    @property
    def reason(self) -> str:
        """The audit reason of a refusal ("" when allowed or not audited)."""
        return (self.event.reason or "") if self.event is not None else ""

    @property
    def result(self) -> Any:
        """The JSON-RPC ``result`` (None for an error or a non-RPC answer)."""
        return self.body.get("result") if isinstance(self.body, dict) else None

    @property
    def error(self) -> Any:
        """The JSON-RPC ``error`` object (None when there is none)."""
        return self.body.get("error") if isinstance(self.body, dict) else None
