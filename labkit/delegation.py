"""The client side of delegation: exchange a caller's token (RFC 8693) and call a downstream agent with it.

    token = await exchange_token(http, spec, caller_token)     # sub = the caller, act = {"sub": spec.client_id}
    result = await call_downstream(http, spec, token, {"record": {...}})

The agent authenticates as its own confidential client (``spec.client_id``), sends the caller's token as the
``subject_token``, asks for the downstream's audience as RFC 8707 ``resource`` and, with ``spec.scope``, for
less than the caller holds (the provider never grants more). Replies are read within a size cap and a
timeout; every failure is a ``DelegationError`` naming the step, never a token.
"""

from __future__ import annotations

from typing import Any

import httpx

from ._http import HttpHolder, bounded_request
from ._json import loads_bounded
from .config.delegation import DownstreamSpec
from .errors import AuthError, LabkitError, Reason

__all__ = [
    "ACCESS_TOKEN_TYPE", "MAX_REPLY", "TOKEN_EXCHANGE", "DelegationError", "call_downstream", "exchange_form",
    "exchange_token", "exchanged_token"
]

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105 - RFC 8693 §2.1, a URN
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 - RFC 8693 §3, a URN
MAX_REPLY = 64 * 1024  # bytes of a token or downstream answer read at most


class DelegationError(LabkitError):
    """Delegating a call failed: the exchange was refused, or the downstream refused or answered badly."""


async def _post(http: httpx.AsyncClient, url: str, what: str, timeout: float, **kwargs: Any) -> tuple[int, Any]:
    """POST and parse a JSON answer within the caps: ``(status, body or None)``; raises ``DelegationError``."""
    try:
        reply = await bounded_request(HttpHolder(http), "POST", url, timeout=timeout, max_bytes=MAX_REPLY, what=what,
                                      error=Reason.INTROSPECTION_ERROR, **kwargs)
    except AuthError as error:
        raise DelegationError(error.detail) from None
    try:
        return reply.status, loads_bounded(reply.body, max_depth=32)
    except ValueError:
        return reply.status, None


def exchange_form(spec: DownstreamSpec, subject_token: str) -> dict[str, str]:
    """The RFC 8693 §2.1 token request body: the caller's token as subject, the downstream as resource."""
    form = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN_TYPE,
            "requested_token_type": ACCESS_TOKEN_TYPE, "resource": spec.audience}
    if spec.scope:
        form["scope"] = spec.scope  # narrowing: the provider never grants more than the subject token holds
    return form


def exchanged_token(status: int, body: Any) -> str:
    """The access token of a token exchange answer; raises ``DelegationError`` for a refusal or a bad answer."""
    if status != 200:
        code = body.get("error") if isinstance(body, dict) else None
        raise DelegationError(f"token exchange refused ({status}, {str(code or 'no error code')[:64]})")
    token = body.get("access_token") if isinstance(body, dict) else None
    # RFC 8693 §2.2.1: access_token, issued_token_type and token_type are required
    if not isinstance(token, str) or not token or body.get("issued_token_type") != ACCESS_TOKEN_TYPE:
        raise DelegationError("token exchange answered without an access token")
    if str(body.get("token_type", "")).lower() != "bearer":
        raise DelegationError("token exchange answered a token type other than Bearer")
    return token


async def exchange_token(http: httpx.AsyncClient, spec: DownstreamSpec, subject_token: str) -> str:
    """A token for ``spec.audience`` on behalf of ``subject_token``'s subject (RFC 8693 §2.1), as
    ``spec.client_id``. Raises ``DelegationError`` when the provider refuses (with its ``error`` code) or answers
    badly."""
    status, body = await _post(http, spec.token_endpoint, "token exchange", spec.timeout,
                               data=exchange_form(spec, subject_token), auth=(spec.client_id, spec.client_secret or ""))
    return exchanged_token(status, body)


async def call_downstream(http: httpx.AsyncClient, spec: DownstreamSpec, token: str,
                          arguments: dict[str, Any]) -> Any:
    """Run ``spec.capability`` at the downstream agent (the seed's ``execute``) with ``token``; its result.

    Raises ``DelegationError`` when the downstream refuses (its HTTP status) or answers with an error.
    """
    call = {"jsonrpc": "2.0", "id": "delegated-1", "method": "execute",
            "params": {"capability": spec.capability, "arguments": arguments}}
    status, body = await _post(http, spec.url.rstrip("/") + "/", "downstream agent", spec.timeout, json=call,
                               headers={"Authorization": f"Bearer {token}"})
    if status != 200 or not isinstance(body, dict):
        raise DelegationError(f"downstream agent answered {status}")
    if "result" not in body:
        error = body.get("error")
        message = error.get("message") if isinstance(error, dict) else None
        raise DelegationError(f"downstream agent refused the call ({str(message)[:64]})")
    result = body["result"]
    return result.get("result") if isinstance(result, dict) else result
