"""The provider's consent page: what a user reads before approving a client, and the form that approves it.

Shown when an authorization request says ``prompt=consent`` (OIDC Core §3.1.2.1); any other request keeps the
lab's headless approval (``login_hint``), which the lab's flows and the SDK interop tests drive. The page names
the client and how far the provider can vouch for that name, the host the code will be sent to, each scope in
words and the resource (RFC 8707). Everything the client chose is HTML-escaped. A logo is shown only from a client
ID metadata document whose ``logo_uri`` is on the document's own allow-listed origin; a self-registered (RFC 7591)
client's logo is never loaded (a phisher copies the logo first, and loading it would tell its host who reads the
page). Approve and Deny post a one-time token bound to the pending authorization (CSRF); the page may be framed
only by the origins the provider was told (``frame_ancestors``: the lab's JupyterLab), else by none (clickjacking).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from html import escape
from urllib.parse import urlsplit

from authlib.oauth2.rfc6749.errors import InvalidRequestError

from .models import Client

__all__ = ["CONSENT_TTL", "MAX_PENDING", "SCOPE_TEXT", "ConsentBook", "ConsentView", "Pending", "check_origin",
           "consent_headers", "render_consent"]

CONSENT_TTL = 300  # seconds a consent page stays answerable
MAX_PENDING = 256  # pending authorizations kept per tenant (oldest dropped first)
SCOPE_TEXT = {
    "api:read": "Read your data through the agent's API",
    "api:write": "Change your data through the agent's API",
    "api:admin": "Administer the agent's API",
    "files:read": "Read your files",
    "files:write": "Create, change and delete your files",
    "admin": "Full administrative access",
    "push:read": "See your push notification subscriptions",
    "push:write": "Subscribe to push notifications for you",
    "openid": "Know who you are (your user id)",
    "email": "See your email address",
    "profile": "See your name",
    "repo": "Read and write your repositories",
    "read:org": "See your organisations",
}
_ORIGIN = re.compile(r"https?://(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::[1-9][0-9]{0,4})?")


def check_origin(value: object) -> str:
    """``value`` if it is one exact lowercase origin (``http://127.0.0.1:8888``); raises ``ValueError``."""
    if not isinstance(value, str) or not _ORIGIN.fullmatch(value):
        raise ValueError("an origin is scheme://host[:port], lowercase, without path or wildcard")
    return value


@dataclass(frozen=True)
class Pending:
    """An authorization request waiting for the user's decision (its query, as sent, and the user asked)."""

    query: tuple[tuple[str, str], ...]
    user: str
    csrf_hash: bytes
    expires_at: float


class ConsentBook:
    """Pending authorizations of one tenant, each answerable once, with its own token, within ``CONSENT_TTL``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._pending: OrderedDict[str, Pending] = OrderedDict()
        self._lock = threading.Lock()

    def open(self, query: list[tuple[str, str]], user: str) -> tuple[str, str]:
        """Record a pending authorization; returns ``(pending id, csrf token)`` for the page's form."""
        pending_id, token = secrets.token_urlsafe(18), secrets.token_urlsafe(32)
        record = Pending(tuple(query), user, _digest(token), self.clock() + CONSENT_TTL)
        with self._lock:
            self._pending[pending_id] = record
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
        return pending_id, token

    def take(self, pending_id: object, token: object) -> Pending:
        """The pending authorization ``pending_id``, spent now whatever the outcome.

        Raises ``InvalidRequestError`` for an unknown, used or expired one, or a token that is not its own.
        """
        with self._lock:
            record = self._pending.pop(pending_id, None) if isinstance(pending_id, str) else None
        # CSRF: the token printed in this authorization's page, once, before it expires
        if (record is None or not isinstance(token, str) or self.clock() >= record.expires_at
                or not hmac.compare_digest(record.csrf_hash, _digest(token))):
            raise InvalidRequestError("this consent form is unknown, expired or already answered; start again")
        return record

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class ConsentView:
    """What the page shows: the client, the redirect URI the code goes to, scopes, resources, the user."""

    client: Client
    redirect_uri: str
    scopes: tuple[str, ...]
    resources: tuple[str, ...]
    user: str
    pending_id: str
    csrf: str
    action: str  # the form's URL (this tenant's /authorize)

    @property
    def redirect_origin(self) -> str:
        """``scheme://host[:port]`` of the redirect URI: the one thing a user must read."""
        parts = urlsplit(self.redirect_uri)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"

    @property
    def logo(self) -> str | None:
        """The logo URL to load: a metadata document's logo on the document's own origin; never another."""
        if not self.client.logo_uri or not self.client.client_id.startswith("https://"):
            return None
        return self.client.logo_uri if _origin(self.client.logo_uri) == _origin(self.client.client_id) else None

    def identity(self) -> tuple[bool, str]:
        """``(verified, sentence)``: how far the provider vouches for the client's name."""
        client = self.client
        if client.client_id.startswith("https://"):
            host = urlsplit(client.client_id).netloc
            return False, (f"Unverified name. Described by a metadata document at {host}: the name and logo are "
                           f"that host's claim, not the provider's.")
        if client.registered_at is not None:
            return False, ("Unverified. This client registered itself (RFC 7591 dynamic registration): anyone can "
                           "register any name.")
        return True, "Verified: registered by this provider's operator."


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def consent_headers(view: ConsentView, frame_ancestors: tuple[str, ...], nonce: str) -> dict[str, str]:
    """The page's headers: no script, styles by nonce, images only from the vetted logo origin, the form posting
    here (and following the redirect to the client), framing only by ``frame_ancestors``; never cached."""
    logo = view.logo
    policy = "; ".join([
        "default-src 'none'",
        f"style-src 'nonce-{nonce}'",
        "img-src " + (_origin(logo) if logo else "'none'"),
        # the form posts here; the answer redirects to the client, which a browser checks against form-action too
        f"form-action 'self' {view.redirect_origin}",
        # clickjacking: only the lab's own notebook page may frame the consent page
        "frame-ancestors " + (" ".join(frame_ancestors) if frame_ancestors else "'none'"),
        "base-uri 'none'",
    ])
    # same-origin, not no-referrer: a browser sends "Origin: null" with a no-referrer page's form, which HostCheck
    # refuses; the redirect to the client still carries no Referer (cross-origin)
    headers = {"Content-Security-Policy": policy, "Referrer-Policy": "same-origin",
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "Pragma": "no-cache"}
    if not frame_ancestors:
        headers["X-Frame-Options"] = "DENY"
    return headers


def render_consent(view: ConsentView, nonce: str) -> str:
    """The consent page as HTML; every value the client or request chose is escaped."""
    client = view.client
    verified, identity = view.identity()
    name = client.name or client.client_id
    logo = view.logo
    mark = (f'<img class="logo" src="{escape(logo)}" alt="" width="48" height="48">' if logo
            else f'<div class="logo mono">{escape(name[:1].upper() or "?")}</div>')
    badge = ('<span class="badge ok">verified</span>' if verified else '<span class="badge warn">unverified</span>')
    unknown = "a scope this provider does not describe"
    scopes = "".join(f"<li><code>{escape(s)}</code> {escape(SCOPE_TEXT.get(s, unknown))}</li>"
                     for s in view.scopes) or "<li>no scope</li>"
    resources = "".join(f"<li><code>{escape(r)}</code></li>" for r in view.resources) or "<li>the default API</li>"
    logo_note = ("Logo: loaded from the client's own metadata document host." if logo else
                 "No logo: this provider never loads a logo a client chose for itself (a phisher copies the logo "
                 "first, and loading it would tell its host who reads this page).")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize {escape(name)}</title>
<style nonce="{nonce}">
body{{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}}
main{{max-width:560px;margin:16px auto;background:#fff;border:1px solid #d8dbe2;border-radius:8px;padding:18px 22px}}
header{{display:flex;gap:12px;align-items:center}}
.logo{{width:48px;height:48px;border-radius:8px;flex:none}}
.mono{{background:#c9ced8;color:#fff;font:bold 26px/48px system-ui;text-align:center}}
h1{{font-size:19px;margin:0}} .id{{color:#5b6372;font-size:12px;word-break:break-all}}
.badge{{font-size:12px;border-radius:10px;padding:1px 8px;margin-left:6px;vertical-align:middle}}
.ok{{background:#d9f2e3;color:#14532d}} .warn{{background:#fde2c8;color:#7c2d12}}
.who{{font-size:13px;color:#5b6372;margin:6px 0 0}}
.redirect{{background:#fff7d6;border:2px solid #e0b400;border-radius:6px;padding:8px 10px;margin:12px 0}}
.redirect b{{font-size:17px;font-family:ui-monospace,monospace}}
.full{{font-size:12px;color:#5b6372;word-break:break-all}}
ul{{margin:4px 0 10px;padding-left:20px}} code{{font-size:13px}}
.buttons{{display:flex;gap:10px;margin-top:12px}}
button{{font-size:15px;padding:7px 18px;border-radius:6px;border:1px solid #8a93a5;background:#fff;cursor:pointer}}
button.approve{{background:#1f6feb;color:#fff;border-color:#1f6feb}}
.note{{font-size:12px;color:#5b6372;margin-top:12px}}
</style></head>
<body><main>
<header>{mark}<div><h1>{escape(name)} {badge}</h1>
<div class="id">client_id: {escape(client.client_id)}</div></div></header>
<p class="who">{escape(identity)}</p>
<p>wants to act as <b>{escape(view.user)}</b> (lab user).</p>
<div class="redirect">If you approve, your authorization code goes to<br><b>{escape(view.redirect_origin)}</b>
<div class="full">{escape(view.redirect_uri)}</div>
Is this where <i>{escape(name)}</i> really lives? If not, deny.</div>
<div>It asks to:</div><ul>{scopes}</ul>
<div>at the resource (RFC 8707):</div><ul>{resources}</ul>
<form method="post" action="{escape(view.action)}">
<input type="hidden" name="pending" value="{escape(view.pending_id)}">
<input type="hidden" name="csrf" value="{escape(view.csrf)}">
<div class="buttons"><button class="approve" name="decision" value="approve">Approve</button>
<button name="decision" value="deny">Deny</button></div>
</form>
<p class="note">{escape(logo_note)} This form works once, for {CONSENT_TTL // 60} minutes.</p>
</main></body></html>
"""
