"""An instructor's browser signs in to the board at the hub: the OAuth 2.0 authorization code flow with PKCE
(RFC 6749 §4.1, RFC 7636), the board being the hub's OAuth client ``service-<name>``.

The token the hub gives is kept in an HttpOnly, SameSite=Lax cookie scoped to the board's prefix; the board judges
it like any other token (the guard, against the hub's token API), and only for reading pages (GET).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

__all__ = ["COOKIE", "HubLogin"]

COOKIE = "labkit-board-token"
_STATE = "labkit-board-state"
_MAX_AGE = 600  # seconds a sign-in may take


@dataclass
class HubLogin:
    """The hub's OAuth endpoints and the board's client there (``JUPYTERHUB_*`` of a managed service)."""

    authorize_url: str  # as the browser reaches it: "/hub/api/oauth2/authorize" behind the hub's proxy
    token_url: str  # as the board reaches it: "{JUPYTERHUB_API_URL}/oauth2/token"
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    prefix: str  # the board's path prefix: the cookies' path
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=10), repr=False)

    def start(self, request: Request) -> Response:
        """Send the browser to the hub's authorize endpoint, with a fresh state and PKCE verifier in a cookie."""
        state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({"client_id": self.client_id, "redirect_uri": self.redirect_uri, "response_type": "code",
                           "state": state, "code_challenge": challenge, "code_challenge_method": "S256"})
        answer = RedirectResponse(f"{self.authorize_url}?{query}", 302)
        answer.set_cookie(_STATE, f"{state}.{verifier}", max_age=_MAX_AGE, path=self.prefix, httponly=True,
                          samesite="lax", secure=request.url.scheme == "https")
        return answer

    async def callback(self, request: Request) -> Response:
        """The hub's redirect back: check the state, exchange the code for a token, keep it in the cookie."""
        kept, _, verifier = request.cookies.get(_STATE, "").partition(".")
        state, code = request.query_params.get("state", ""), request.query_params.get("code", "")
        # RFC 6749 §10.12: the state binds the answer to this browser's own sign-in (compared in constant time)
        if not kept or not code or not hmac.compare_digest(kept.encode(), state.encode()):
            return PlainTextResponse("sign-in expired or not started here: open the board again", 400)
        try:
            answer = await self.http.post(self.token_url, data={
                "client_id": self.client_id, "client_secret": self.client_secret, "grant_type": "authorization_code",
                "code": code, "redirect_uri": self.redirect_uri, "code_verifier": verifier})
            token = answer.json().get("access_token") if answer.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            token = None
        if not isinstance(token, str) or not token:
            return PlainTextResponse("the hub did not give the board a token: open the board again", 502)
        page = RedirectResponse(self.prefix, 302)
        page.delete_cookie(_STATE, path=self.prefix)
        page.set_cookie(COOKIE, token, max_age=8 * 3600, path=self.prefix, httponly=True, samesite="lax",
                        secure=request.url.scheme == "https")
        return page

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.http.aclose()
