"""UNSAFE BY DESIGN: ``VulnerableAS``, a small authorization server (code flow only) with switchable mistakes.

Lesson 18 attacks it; it is NOT ``labkit.provider`` (which stays safe and refuses each attack for its RFC 9700
reason). Codes and tokens are opaque random strings kept by hash; PKCE S256 is authlib's helper. Users log in with a
password (``POST /login``): the lab's victim browser holds alice's session, the learner knows mallory's password.
Switched-on mistakes (``mistakes.MISTAKES``): ``redirect_prefix``, ``code_injection``, ``pkce_downgrade``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ...hosts import HostCheck
from ...servers import ServerThread
from .mistakes import FlowLog, Refusal

__all__ = ["MALLORY", "CodeRecord", "VulnerableAS", "digest", "origin_of"]

MALLORY = ("mallory", "mallory-password")  # the attacker's own account at the vulnerable AS (PUBLIC, LAB-ONLY)
_COOKIE = "as_session"
_CONSENT = "as_consent"


def digest(value: str) -> str:
    """The store's key for a code or token (its SHA-256, hex): the value itself is never kept."""
    return hashlib.sha256(value.encode()).hexdigest()


def origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url``: a part's origin, without a private lab's path prefix. Raises nothing."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class CodeRecord:
    """One authorization code: for whom, to which redirect, bound to which challenge, through which mistakes."""

    client_id: str
    user: str
    redirect_uri: str
    challenge: str | None
    method: str | None
    through: set[str] = field(default_factory=set)
    keys: dict[str, str] = field(default_factory=dict)
    used: bool = False


class VulnerableAS:
    """The vulnerable AS on its own loopback port. ``on``: the switched-on mistakes (shared with the lab's switch)."""

    def __init__(self, on: set[str], log: FlowLog, *, name: str = "flow-as", capability: str | None = None) -> None:
        self.on, self.log = on, log
        self.users = {"alice": secrets.token_urlsafe(16), MALLORY[0]: MALLORY[1]}
        self.clients: dict[str, tuple[str, tuple[str, ...]]] = {}  # id -> (secret, registered redirect URIs)
        self.codes: dict[str, CodeRecord] = {}
        self.tokens: dict[str, tuple[str, CodeRecord]] = {}  # token digest -> (user, the code it came from)
        self.sessions: dict[str, str] = {}
        self.consent_required: set[str] = set()  # clients whose users are asked once; the answer kept in a cookie
        self.on_token: Callable[[CodeRecord], None] = lambda record: None  # the lab's bookkeeping
        self._lock = threading.Lock()
        routes = [Route("/login", self._login, methods=["POST"]), Route("/authorize", self._authorize),
                  Route("/consent", self._consent, methods=["POST"]),
                  Route("/token", self._token, methods=["POST"]), Route("/userinfo", self._userinfo)]
        self._server = ServerThread(HostCheck(Starlette(routes=routes), name="vulnerable AS"), name=name,
                                    capability=capability)
        self.url = self.issuer = self._server.url
        self.origin = origin_of(self.url)  # scheme://host:port (url also carries a private lab's prefix)

    def register(self, client_id: str, secret: str, redirect_uris: tuple[str, ...]) -> None:
        """Register a confidential client."""
        self.clients[client_id] = (secret, redirect_uris)

    async def _login(self, request: Request) -> Response:
        form = await request.form()
        user, password = str(form.get("username", "")), str(form.get("password", ""))
        known = self.users.get(user)
        if known is None or not hmac.compare_digest(known.encode(), password.encode()):
            return JSONResponse({"error": "access_denied", "error_description": "wrong user or password"}, 401)
        session = secrets.token_urlsafe(16)
        self.sessions[session] = user
        answer = JSONResponse({"user": user})
        answer.set_cookie(_COOKIE, session, httponly=True)
        return answer

    def _redirect_ok(self, client_id: str, redirect_uri: str, through: set[str], keys: dict[str, str]) -> bool:
        registered = self.clients[client_id][1]
        if redirect_uri in registered:
            return True
        if "redirect_prefix" in self.on:  # UNSAFE: a string prefix (the registered origin) is not a URL check
            for uri in registered:
                if redirect_uri.startswith(origin_of(uri)):
                    through.add("redirect_prefix")
                    keys["redirect_prefix"] = redirect_uri
                    return True
        return False

    def _refuse(self, reason: str, key: str, description: str, status: int = 400) -> Response:
        self.log.add(Refusal(reason, frozenset(self.on), key, description))
        return JSONResponse({"error": "invalid_request" if status == 400 else "invalid_grant",
                             "error_description": description}, status)

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        if client_id not in self.clients or q.get("response_type") != "code":
            return JSONResponse({"error": "invalid_request", "error_description": "unknown client or not "
                                 "response_type=code"}, 400)
        through: set[str] = set()
        keys: dict[str, str] = {}
        # RFC 9700 §4.1.3: exact string match against the registered redirect URIs (unless redirect_prefix)
        if not self._redirect_ok(client_id, redirect_uri, through, keys):
            return self._refuse("redirect_uri", redirect_uri, "redirect_uri is not registered for this client")
        user = self.sessions.get(request.cookies.get(_COOKIE, ""))
        if user is None:
            return JSONResponse({"error": "login_required", "error_description": "log in first: POST /login"}, 401)
        if client_id in self.consent_required and client_id not in _consented(request):
            return HTMLResponse(f"<p>Allow {html.escape(client_id)} to act for {html.escape(user)}?</p>")
        challenge, method = q.get("code_challenge"), q.get("code_challenge_method") or "plain"
        # RFC 9700 §2.1.1: PKCE with S256 for every code (unless pkce_downgrade)
        if not challenge or method != "S256":
            used = "absent" if not challenge else method
            if "pkce_downgrade" not in self.on:
                return self._refuse("pkce", used, "PKCE is required: send code_challenge with "
                                                  "code_challenge_method=S256")
            through.add("pkce_downgrade")
            keys["pkce_downgrade"] = used
        code = generate_token(40)
        with self._lock:
            self.codes[digest(code)] = CodeRecord(client_id, user, redirect_uri, challenge or None,
                                                  method if challenge else None, through, keys)
        params = [("code", code), *([("state", q["state"])] if "state" in q else []), ("iss", self.issuer)]
        return RedirectResponse(add_params_to_uri(redirect_uri, params), 302)

    async def _consent(self, request: Request) -> Response:
        """The user approves a client once; the browser remembers it (a cookie), and is not asked again."""
        if self.sessions.get(request.cookies.get(_COOKIE, "")) is None:
            return JSONResponse({"error": "login_required"}, 401)
        client_id = str((await request.form()).get("client_id", ""))
        if client_id not in self.clients:
            return JSONResponse({"error": "invalid_request", "error_description": "unknown client"}, 400)
        answer = JSONResponse({"consented": client_id})
        answer.set_cookie(_CONSENT, ",".join(sorted(_consented(request) | {client_id})), httponly=True)
        return answer

    def _client(self, request: Request, form: dict[str, str]) -> str | None:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            try:
                client_id, _, secret = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
        known = self.clients.get(client_id)
        return client_id if known and hmac.compare_digest(known[0].encode(), secret.encode()) else None

    async def _token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in (await request.form()).items()}
        client_id = self._client(request, form)
        if client_id is None:
            return JSONResponse({"error": "invalid_client"}, 401)
        with self._lock:
            record = self.codes.get(digest(form.get("code", "")))
            if record is None or record.used or record.client_id != client_id \
                    or form.get("grant_type") != "authorization_code":
                return JSONResponse({"error": "invalid_grant", "error_description": "unknown or used code"}, 400)
            # RFC 6749 §4.1.3: the redirect_uri the code was issued for (unless code_injection)
            if form.get("redirect_uri") != record.redirect_uri:
                if "code_injection" not in self.on:
                    return self._refuse("redirect_uri_mismatch", record.redirect_uri,
                                        "redirect_uri does not match the authorization request", 400)
                record.through.add("code_injection")
                record.keys["code_injection"] = record.redirect_uri
            verifier = form.get("code_verifier")
            if not _pkce_ok(record, verifier, "pkce_downgrade" in self.on):
                return self._refuse("pkce", "verifier", "code_verifier does not match the code_challenge", 400)
            record.used = True
            token = generate_token(40)
            self.tokens[digest(token)] = (record.user, record)
        self.on_token(record)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 600})

    async def _userinfo(self, request: Request) -> Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        found = self.tokens.get(digest(token.strip())) if scheme.lower() == "bearer" else None
        if found is None:
            return JSONResponse({"error": "invalid_token"}, 401, headers={"WWW-Authenticate": "Bearer"})
        return JSONResponse({"sub": found[0], "iss": self.issuer})

    def record_of(self, token: str) -> CodeRecord | None:
        """The code record an access token came from (None: not one this AS issued)."""
        found = self.tokens.get(digest(token))
        return found[1] if found else None

    def start(self) -> None:
        """Start serving."""
        self._server.start()

    def close(self) -> None:
        """Stop serving."""
        self._server.stop()


def _consented(request: Request) -> set[str]:
    return set(filter(None, request.cookies.get(_CONSENT, "").split(",")))


def _pkce_ok(record: CodeRecord, verifier: str | None, downgrade: bool) -> bool:
    """RFC 7636 §4.6, and RFC 9700 §4.8.2: a verifier for a code issued without a challenge is refused."""
    if record.challenge is None:
        return verifier is None or downgrade  # UNSAFE when downgrade: any verifier redeems an unbound code
    if not verifier:
        return False
    if record.method == "S256":
        return hmac.compare_digest(create_s256_code_challenge(verifier), record.challenge)
    return hmac.compare_digest(verifier, record.challenge)  # 'plain', admitted only with pkce_downgrade
