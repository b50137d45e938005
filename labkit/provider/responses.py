"""Turning authlib's answers into Starlette responses: no-store, RFC 6749 §5.2 status and challenge, safe text."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from starlette.responses import JSONResponse, Response

from .wire import safe_description

__all__ = ["NO_STORE", "error_response", "oauth_response"]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def oauth_response(status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
    """An authlib ``(status, body, headers)`` as a response: no-store; RFC 6749 §5.2 401 for ``invalid_client``."""
    merged = dict(headers)
    if status == 302:
        return Response(status_code=302, headers={"Location": merged["Location"], **NO_STORE})
    if isinstance(body, dict) and body.get("error") == "invalid_client":
        status = 401  # RFC 6749 §5.2: say how to authenticate
        merged["WWW-Authenticate"] = 'Basic realm="oauth2-lab", error="invalid_client"'
    merged.pop("Content-Type", None)
    merged.update(NO_STORE)
    return JSONResponse(body if isinstance(body, dict) else {}, status, headers=merged)


def error_response(error: OAuth2Error) -> Response:
    """An ``OAuth2Error`` as its RFC 6749 §5.2 response, with a safe ``error_description``."""
    error.description = safe_description(error.description)
    status, body, headers = error()
    return oauth_response(status, body, headers)
