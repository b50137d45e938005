"""Lesson 19's scene: the real "GitHub Copilot" (registered by the provider's operator), an impersonator that
registers itself (RFC 7591) under the same name, their consent pages, and the probe registrations the check runs.

    install_copilot(lab)                          # the real app, verified: its redirect is on copilot.github.com
    phish = register(lab, IMPERSONATOR)           # POST /register: what the phisher sends
    show_consent(lab, phish.client_id)            # the provider's real consent page, framed in the notebook
    consent_facts(lab, phish.client_id)           # what that page says, read from its HTML
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

import httpx

from ..provider.models import Client

if TYPE_CHECKING:
    from .runner import Lab

__all__ = ["ATTACKER_RECEIVER", "COPILOT", "COPILOT_REDIRECT", "IMPERSONATOR", "LEGITIMATE", "PHISHES",
           "Registered", "consent_facts", "consent_url", "forget", "install_copilot", "jupyter_origins", "probe",
           "register", "show_consent"]

COPILOT_REDIRECT = "https://copilot.github.com/oauth/callback"
ATTACKER_RECEIVER = "http://127.0.0.1:6789/callback"  # a port the phisher listens on (nothing needs to, here)
SCOPE = "api:read files:read files:write"
# the real app, as the provider's operator registered it (a public client: PKCE, no secret)
COPILOT = Client("github-copilot", None, grant_types=("authorization_code", "refresh_token"),
                 scopes=("api:read", "files:read", "files:write"), redirect_uris=(COPILOT_REDIRECT,),
                 name="GitHub Copilot", loopback_resources=True)
# what the phisher registers: the app's name, its public pages and logo, a redirect URI of its own
IMPERSONATOR: dict[str, Any] = {
    "client_name": "GitHub Copilot",
    "client_uri": "https://github.com/features/copilot",
    "logo_uri": "https://github.githubassets.com/images/modules/logos_page/GitHub-Mark.png",
    "redirect_uris": [ATTACKER_RECEIVER],
    "token_endpoint_auth_method": "none",
    "scope": SCOPE,
}
# the check's registrations: each phish must be refused, each legitimate client must register
PHISHES: dict[str, dict[str, Any]] = {
    "the lesson's impersonator": IMPERSONATOR,
    "a look-alike name (Copi1ot)": {**IMPERSONATOR, "client_name": "GitHub Copi1ot"},
    "a look-alike name (a Cyrillic o)": {**IMPERSONATOR, "client_name": "GitHub C\u043epilot"},
    "the real redirect plus the phisher's": {**IMPERSONATOR, "redirect_uris": [COPILOT_REDIRECT, ATTACKER_RECEIVER]},
    "a look-alike host": {**IMPERSONATOR, "redirect_uris": ["https://copilot.github.com.lab-attacker.example/cb"]},
}
LEGITIMATE: dict[str, dict[str, Any]] = {
    "GitHub Copilot from its own host": {**IMPERSONATOR, "redirect_uris": [COPILOT_REDIRECT]},
    "Acme Notes, a local app": {"client_name": "Acme Notes", "redirect_uris": ["http://127.0.0.1:5000/callback"],
                                "token_endpoint_auth_method": "none", "scope": "api:read"},
}
_VERIFIER = "lesson-19-" + "x" * 40  # the framed page is never redeemed by the lesson; a fixed PKCE pair will do


@dataclass(frozen=True)
class Registered:
    """What ``POST /register`` answered: the status, the new client id or the refusal (error, description)."""

    status: int
    client_id: str | None
    error: str | None
    description: str | None

    def __repr__(self) -> str:
        if self.client_id:
            return f"registered ({self.status}): client_id {self.client_id[:4]}… (a random id the provider gave it)"
        return f"refused ({self.status}): {self.error}: {self.description}"


def install_copilot(lab: Lab) -> Client:
    """Register the real GitHub Copilot in the lab's provider, as its operator would (verified)."""
    return lab.provider.register_client(COPILOT)


def register(lab: Lab, metadata: dict[str, Any]) -> Registered:
    """``POST /register`` (RFC 7591) with ``metadata``, over HTTP."""
    answer = httpx.post(f"{lab.provider_url}/register", json=metadata, timeout=10)
    body = answer.json()
    return Registered(answer.status_code, body.get("client_id"), body.get("error"), body.get("error_description"))


def probe(lab: Lab) -> tuple[dict[str, Registered], dict[str, Registered]]:
    """Register every phish and every legitimate client against the provider's policy now in force."""
    return ({name: register(lab, m) for name, m in PHISHES.items()},
            {name: register(lab, m) for name, m in LEGITIMATE.items()})


def forget(lab: Lab, *answers: dict[str, Registered]) -> None:
    """Remove the clients a probe registered (they are the check's own: they must not use up the quota)."""
    store = lab.provider.server().store
    with store.lock:
        for answer in (a for group in answers for a in group.values()):
            if answer.client_id:
                store.clients.pop(answer.client_id, None)


def consent_url(lab: Lab, client_id: str, redirect_uri: str | None = None, scope: str = SCOPE) -> str:
    """The ``/authorize`` URL that shows ``client_id``'s consent page (``prompt=consent``, PKCE S256)."""
    client = lab.provider.server().store.clients[client_id]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(_VERIFIER.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": client_id, "scope": scope, "state": "lesson-19",
             "redirect_uri": redirect_uri or client.redirect_uris[0], "code_challenge": challenge,
             "code_challenge_method": "S256", "prompt": "consent"}
    return f"{lab.provider_url}/authorize?{urlencode(query)}"


def consent_facts(lab: Lab, client_id: str) -> dict[str, str]:
    """What the consent page of ``client_id`` shows, read from the provider's HTML (a DCR id is shortened)."""
    page = httpx.get(consent_url(lab, client_id), timeout=10, follow_redirects=False)
    page.raise_for_status()
    text = page.text

    def first(pattern: str) -> str:
        found = re.search(pattern, text, re.S)
        return html.unescape(found.group(1)).strip() if found else ""

    shown_id = first(r'class="id">client_id: ([^<]*)<')
    return {
        "name": first(r"<h1>(.*?) <span"),
        "badge": first(r'<span class="badge [a-z]+">([^<]*)</span>'),
        "client_id": shown_id[:4] + "… (random)" if shown_id.startswith("dcr-") else shown_id,
        "logo": "shown" if "<img" in text else "none shown",
        "redirect host": first(r'goes to<br><b>([^<]*)</b>'),
        "scopes": " ".join(html.unescape(s) for s in re.findall(r"<li><code>([^<]*)</code> ", text)),
    }


def jupyter_origins() -> tuple[str, ...]:
    """The origins of the Jupyter servers running as this user (what may frame the consent page), both loopback
    spellings; none outside Jupyter."""
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:  # pragma: no cover - the notebook extra brings it
        return ()
    origins: list[str] = []
    for server in list_running_servers():
        parts = urlsplit(str(server.get("url", "")))
        if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost") and parts.port:
            origins += [f"http://127.0.0.1:{parts.port}", f"http://localhost:{parts.port}"]
    return tuple(dict.fromkeys(origins))


def show_consent(lab: Lab, client_id: str, height: int = 600) -> Any:
    """The consent page of ``client_id`` in the notebook: an iframe of the provider's page, which the provider
    lets exactly this machine's Jupyter servers frame (``MockProvider.allow_framing``)."""
    import ipywidgets as widgets

    lab.provider.allow_framing(jupyter_origins())
    src = html.escape(consent_url(lab, client_id))
    frame = (f'<iframe src="{src}" title="consent page" style="width:100%;max-width:640px;height:{height}px;'
             'border:1px solid #ccc;border-radius:6px"></iframe>')
    return widgets.VBox([widgets.HTML(frame)])
