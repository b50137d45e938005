"""Turning authlib's answers into Starlette responses: no-store, RFC 6749 §5.2 status and challenge, safe text."""

from __future__ import annotations

import re
from typing import Any

from authlib.oauth2.rfc6749.errors import OAuth2Error
from starlette.responses import JSONResponse, Response

from ..state.spent import SpentIdsFullError
from .wire import safe_description

__all__ = ["NO_STORE", "SpentIdsUnavailableError", "error_response", "oauth_response"]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_VISIBLE = re.compile(r"[\x21-\x7e]+")


class SpentIdsUnavailableError(SpentIdsFullError, OAuth2Error):  # type: ignore[misc]
    """The provider's one-time-id cache is full: 503 ``temporarily_unavailable`` with ``Retry-After``."""

    error = "temporarily_unavailable"
    status_code = 503

    def __init__(self, description: str) -> None:
        OAuth2Error.__init__(self, description=description)

    def get_headers(self) -> list[tuple[str, str]]:
        headers: list[tuple[str, str]] = super().get_headers()
        return [*headers, ("Retry-After", "5")]


def oauth_response(status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
    """An authlib ``(status, body, headers)`` as a response: no-store; RFC 6749 §5.2 401 for ``invalid_client``."""
    merged = dict(headers)
    if status == 302:
        location = merged.get("Location", "")
        # RFC 3986 / RFC 9110 §10.2.2: a Location is a URI of visible ASCII; never raw bytes, never a 500
        if not _VISIBLE.fullmatch(location):
            body = {"error": "invalid_request", "error_description": "the redirect URI is not a valid URI"}
            return JSONResponse(body, 400, headers=NO_STORE)
        return Response(status_code=302, headers={"Location": location, **NO_STORE})
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
